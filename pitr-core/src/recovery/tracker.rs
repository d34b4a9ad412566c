//! Folding the server's recovery messages into what is known about recovery so far.

use super::grammar::{LogEvent, event};
use super::outcome::{Ending, RecoveryOutcome};
use super::records::LogRecord;

/// What the recovery messages read so far say.
#[derive(Debug)]
pub struct Tracker {
    outcome: RecoveryOutcome,
    ended: Option<Ending>,
    /// The last message of the server's own processes.
    last_message: String,
    /// The last FATAL that was not terminal by itself: the likely reason if the server dies.
    problem: Option<String>,
    /// The server said it accepts connections.
    accepting: bool,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracker {
    /// Nothing known yet.
    pub fn new() -> Self {
        Tracker {
            outcome: RecoveryOutcome {
                ending: Ending::Failed {
                    reason: "recovery has not ended".into(),
                    cause: None,
                },
                stop: None,
                consistent_at: None,
                last_commit: None,
                new_timeline: None,
                replay: None,
                noticed_after_ms: None,
                log: Vec::new(),
            },
            ended: None,
            last_message: String::new(),
            problem: None,
            accepting: false,
        }
    }

    /// Applies one record of the server's own processes (see [`super::Sources`]); returns
    /// the line to show when it mattered. `now` stamps how late the end was noticed.
    pub fn apply(&mut self, record: &LogRecord, now: jiff::Timestamp) -> Option<String> {
        let line = format!("{}:  {}", record.severity, record.message.trim_end());
        line.clone_into(&mut self.last_message);
        let e = event(&record.severity, &record.message)?;
        self.outcome.log.push(line.clone());
        let terminal = match e {
            LogEvent::Stop(s) => {
                self.outcome.stop = Some(s);
                None
            }
            LogEvent::Consistent(l) => {
                self.outcome.consistent_at = Some(l);
                None
            }
            LogEvent::LastCommit(t) => {
                self.outcome.last_commit = Some(t);
                None
            }
            LogEvent::NewTimeline(t) => {
                self.outcome.new_timeline = Some(t);
                None
            }
            LogEvent::Paused => Some(Ending::Paused),
            LogEvent::Promoted => Some(Ending::Promoted),
            LogEvent::ShutDown => Some(Ending::ShutDown),
            LogEvent::Accepting => {
                self.accepting = true;
                None
            }
            LogEvent::Fatal(reason) => Some(Ending::Failed {
                cause: super::grammar::failure(&reason),
                reason: match &self.problem {
                    Some(p) if !reason.contains(p.as_str()) => format!("{p}; {reason}"),
                    _ => reason,
                },
            }),
            LogEvent::Problem(p) => {
                self.problem = Some(p);
                None
            }
        };
        if let Some(end) = terminal {
            // A failure wins over a success logged before it; otherwise the first ending counts.
            let failed_already = matches!(self.ended, Some(Ending::Failed { .. }));
            if self.ended.is_none() || (matches!(end, Ending::Failed { .. }) && !failed_already) {
                self.outcome.noticed_after_ms = record
                    .time
                    .map(|t| now.as_millisecond() - t.as_millisecond());
                self.ended = Some(end);
            }
        }
        Some(line)
    }

    /// How recovery ended, once it did.
    pub fn ended(&self) -> Option<&Ending> {
        self.ended.as_ref()
    }

    /// Records an ending found outside the log (the server gone, nothing came up).
    pub fn end(&mut self, ending: Ending) {
        if self.ended.is_none() {
            self.ended = Some(ending);
        }
    }

    /// Whether the server said it accepts connections.
    pub fn accepting(&self) -> bool {
        self.accepting
    }

    /// The last message of the server's own processes.
    pub fn last_message(&self) -> &str {
        &self.last_message
    }

    /// The last FATAL that did not end recovery by itself.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// Records what the server answered about its replay.
    pub fn set_replay(&mut self, state: super::ReplayState) {
        self.outcome.replay = Some(state);
    }

    /// Everything known, with the ending.
    pub fn finish(mut self) -> RecoveryOutcome {
        if let Some(end) = self.ended {
            self.outcome.ending = end;
        }
        self.outcome
    }
}
