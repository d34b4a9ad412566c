//! The recovery watcher: follows PostgreSQL's log and queries the server until recovery ends,
//! then judges whether it ended at the target.
//!
//! `pg_ctl start` returns long before recovery is done, and "consistent recovery state
//! reached" says nothing about the target. The watcher reads the server log every 50 ms
//! (lines pitr asked PostgreSQL to write in English, see `RECOVERY_SERVER_OPTIONS`), and while
//! the server answers it asks `pg_is_in_recovery()`, the pause state and the replay position.
//! Recovery has ended when PostgreSQL says so: paused at the end of recovery, promoted (archive
//! recovery complete), shut down at the target, or failed (`FATAL`, or the postmaster gone).
//! [`verify`] then compares where it stopped with what was asked: a `FATAL: recovery ended
//! before configured recovery target was reached`, a stop before the set was consistent, or a
//! time target that PostgreSQL 15 silently overshot are failures.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::probe::{Endpoint, ReplayState};
use crate::error::{Error, Result};
use crate::names::{Lsn, TargetTime, TimelineId};
use crate::plan::RecoveryWatch;
use crate::target::{RecoveryTarget, TargetAction};

/// How often the log is read.
const LOG_POLL: Duration = Duration::from_millis(50);
/// How often the server is queried while it runs.
const SQL_POLL: Duration = Duration::from_millis(500);

/// The record recovery stopped at, as PostgreSQL logged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopRecord {
    /// `recovery stopping before|after commit|abort of transaction N, time T`.
    Transaction {
        /// Stopped before the record (else after it).
        before: bool,
        /// A commit (else an abort).
        commit: bool,
        /// The transaction.
        xid: u32,
        /// Its commit/abort time.
        time: Option<TargetTime>,
    },
    /// `recovery stopping at restore point "N", time T`.
    RestorePoint {
        /// Its name.
        name: String,
        /// Its time.
        time: Option<TargetTime>,
    },
    /// `recovery stopping before|after WAL location (LSN) "X/X"`.
    Lsn {
        /// Stopped before the location (else after it).
        before: bool,
        /// The location.
        lsn: Lsn,
    },
    /// `recovery stopping after reaching consistency`.
    Consistency,
}

impl std::fmt::Display for StopRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |before: bool| if before { "before" } else { "after" };
        let at =
            |time: &Option<TargetTime>| time.map(|t| format!(", time {t}")).unwrap_or_default();
        match self {
            StopRecord::Transaction {
                before,
                commit,
                xid,
                time,
            } => write!(
                f,
                "{} {} of transaction {xid}{}",
                side(*before),
                if *commit { "commit" } else { "abort" },
                at(time)
            ),
            StopRecord::RestorePoint { name, time } => {
                write!(f, "at restore point \"{name}\"{}", at(time))
            }
            StopRecord::Lsn { before, lsn } => write!(f, "{} WAL location {lsn}", side(*before)),
            StopRecord::Consistency => f.write_str("after reaching consistency"),
        }
    }
}

/// How recovery ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Paused at the end of recovery (still a standby).
    Paused,
    /// Promoted: recovery complete, open for writes.
    Promoted,
    /// Shut down at the recovery target.
    ShutDown,
    /// Recovery failed.
    Failed {
        /// PostgreSQL's words.
        reason: String,
    },
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Paused => f.write_str("paused"),
            Ending::Promoted => f.write_str("promoted"),
            Ending::ShutDown => f.write_str("shut down"),
            Ending::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

/// Everything the watcher learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryOutcome {
    /// How it ended.
    pub ending: Ending,
    /// Where it stopped, if PostgreSQL said.
    pub stop: Option<StopRecord>,
    /// Where recovery became consistent.
    pub consistent_at: Option<Lsn>,
    /// `last completed transaction was at log time T`, when logged.
    pub last_commit: Option<TargetTime>,
    /// New timeline after promotion.
    pub new_timeline: Option<TimelineId>,
    /// The server's own view at the end, when it answered.
    pub replay: Option<ReplayState>,
    /// Milliseconds between the log line that ended recovery (its own time stamp) and pitr
    /// noticing it, when the log line carries a time stamp.
    pub noticed_after_ms: Option<i64>,
    /// The relevant log lines, in order.
    pub log: Vec<String>,
}

/// What one log line means.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LogEvent {
    Stop(StopRecord),
    Consistent(Lsn),
    LastCommit(TargetTime),
    NewTimeline(TimelineId),
    Paused,
    Promoted,
    ShutDown,
    /// The server accepts (read-only) connections.
    Accepting,
    /// Recovery failed: a recovery FATAL, a PANIC, or the startup process died.
    Fatal(String),
    /// A FATAL that may explain a later failure (not a client's connection error).
    Problem(String),
}

/// FATALs that recovery itself raises when it cannot reach the target.
const RECOVERY_FATALS: &[&str] = &[
    "recovery ended before configured recovery target was reached",
    "requested recovery stop point is before consistent recovery point",
    "requested timeline",
    "could not locate required checkpoint record",
];

/// FATALs that only concern one client connection (including pitr's own polling).
const CONNECTION_FATALS: &[&str] = &[
    "not yet accepting connections",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "terminating connection",
    "authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "sorry, too many clients",
];

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

fn quoted(s: &str) -> Option<&str> {
    let s = s.strip_prefix('"')?;
    let end = s.rfind('"')?;
    Some(&s[..end])
}

fn parse_time(s: &str) -> Option<TargetTime> {
    s.trim().parse().ok()
}

/// Reads one server log line.
fn parse_line(line: &str) -> Option<LogEvent> {
    if let Some(rest) = after(line, "recovery stopping ") {
        return parse_stop(rest).map(LogEvent::Stop);
    }
    if let Some(rest) = after(line, "consistent recovery state reached at ") {
        return rest.trim().parse().ok().map(LogEvent::Consistent);
    }
    if let Some(rest) = after(line, "last completed transaction was at log time ") {
        return parse_time(rest).map(LogEvent::LastCommit);
    }
    if let Some(rest) = after(line, "selected new timeline ID: ") {
        let n: u32 = rest.trim().parse().ok()?;
        return TimelineId::new(n).ok().map(LogEvent::NewTimeline);
    }
    if line.contains("pausing at the end of recovery") {
        return Some(LogEvent::Paused);
    }
    if line.contains("archive recovery complete") {
        return Some(LogEvent::Promoted);
    }
    if line.contains("shutdown at recovery target") {
        return Some(LogEvent::ShutDown);
    }
    if line.contains("database system is ready to accept") {
        return Some(LogEvent::Accepting);
    }
    if let Some(rest) = after(line, "PANIC:") {
        return Some(LogEvent::Fatal(rest.trim().to_owned()));
    }
    if line.contains("startup process")
        && (line.contains("exited with exit code") || line.contains("was terminated by signal"))
    {
        return Some(LogEvent::Fatal(
            after(line, "LOG:").unwrap_or(line).trim().to_owned(),
        ));
    }
    if let Some(rest) = after(line, "FATAL:") {
        let rest = rest.trim().to_owned();
        if RECOVERY_FATALS.iter().any(|f| rest.contains(f)) {
            return Some(LogEvent::Fatal(rest));
        }
        if !CONNECTION_FATALS.iter().any(|f| rest.contains(f)) {
            return Some(LogEvent::Problem(rest));
        }
    }
    None
}

fn parse_stop(rest: &str) -> Option<StopRecord> {
    if rest.starts_with("after reaching consistency") {
        return Some(StopRecord::Consistency);
    }
    if let Some(r) = rest.strip_prefix("at restore point ") {
        let (name, time) = match r.rsplit_once(", time ") {
            Some((n, t)) => (n, parse_time(t)),
            None => (r, None),
        };
        return Some(StopRecord::RestorePoint {
            name: quoted(name.trim())?.to_owned(),
            time,
        });
    }
    let (before, r) = if let Some(r) = rest.strip_prefix("before ") {
        (true, r)
    } else {
        (false, rest.strip_prefix("after ")?)
    };
    if let Some(r) = r.strip_prefix("WAL location (LSN) ") {
        return Some(StopRecord::Lsn {
            before,
            lsn: quoted(r.trim())?.parse().ok()?,
        });
    }
    let (commit, r) = if let Some(r) = r.strip_prefix("commit of transaction ") {
        (true, r)
    } else {
        (false, r.strip_prefix("abort of transaction ")?)
    };
    let (xid, time) = match r.split_once(", time ") {
        Some((x, t)) => (x, parse_time(t)),
        None => (r, None),
    };
    Some(StopRecord::Transaction {
        before,
        commit,
        xid: xid.trim().parse().ok()?,
        time,
    })
}

/// The time stamp PostgreSQL's default `log_line_prefix` (`%m`) puts first, if there is one.
fn line_time(line: &str) -> Option<jiff::Timestamp> {
    // "2026-11-23 20:27:46.688 UTC [123] LOG: ..."
    let stamp = line.get(..23)?;
    let zone = line.get(24..)?.split_whitespace().next()?;
    let offset = match zone {
        "UTC" | "GMT" => "+00",
        z if z.starts_with(['+', '-']) => z,
        _ => return None,
    };
    format!("{stamp}{offset}")
        .parse::<TargetTime>()
        .ok()
        .map(TargetTime::timestamp)
}

/// Follows a log file from an offset, yielding complete lines.
#[derive(Debug)]
struct LogTail<'a> {
    path: &'a Path,
    offset: u64,
    partial: String,
}

impl LogTail<'_> {
    fn read_lines(&mut self) -> Vec<String> {
        let Ok(mut file) = std::fs::File::open(self.path) else {
            return Vec::new();
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut buf = Vec::new();
        if file.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        self.offset += buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_owned).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines
    }
}

fn postmaster_alive(data: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(data.join("postmaster.pid")) else {
        return false;
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok())
    else {
        return false;
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Follows recovery until it ends or `watch.timeout_secs` pass. `log_offset` is where the log
/// file ended before the server was started, so older runs' lines are not read.
pub fn await_recovery(
    watch: &RecoveryWatch,
    log_offset: u64,
    echo: &dyn Fn(&str),
) -> Result<RecoveryOutcome> {
    super::probe::block_on(follow(watch, log_offset, echo))
}

/// Applies log lines to what is known about recovery.
#[derive(Debug)]
struct Tracker {
    outcome: RecoveryOutcome,
    ended: Option<Ending>,
    last_line: String,
    /// The last FATAL that was not a client's: the likely reason if the server dies.
    problem: Option<String>,
    /// The server said it accepts connections.
    accepting: bool,
}

impl Tracker {
    fn new() -> Self {
        Tracker {
            outcome: RecoveryOutcome {
                ending: Ending::Failed {
                    reason: "recovery has not ended".into(),
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
            last_line: String::new(),
            problem: None,
            accepting: false,
        }
    }

    /// Reads one log line; returns it when it mattered.
    fn apply(&mut self, line: &str) -> bool {
        if !line.trim().is_empty() {
            line.trim().clone_into(&mut self.last_line);
        }
        let Some(event) = parse_line(line) else {
            return false;
        };
        self.outcome.log.push(line.trim_end().to_owned());
        let terminal = match event {
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
                self.outcome.noticed_after_ms = line_time(line)
                    .map(|t| jiff::Timestamp::now().as_millisecond() - t.as_millisecond());
                self.ended = Some(end);
            }
        }
        true
    }

    fn finish(mut self) -> RecoveryOutcome {
        if let Some(end) = self.ended {
            self.outcome.ending = end;
        }
        self.outcome
    }
}

async fn follow(
    watch: &RecoveryWatch,
    log_offset: u64,
    echo: &dyn Fn(&str),
) -> Result<RecoveryOutcome> {
    let endpoint = Endpoint {
        socket_dir: watch.socket_dir.clone(),
        port: watch.port,
        user: watch.user.clone(),
    };
    let mut tail = LogTail {
        path: &watch.log_file,
        offset: log_offset,
        partial: String::new(),
    };
    let mut tracker = Tracker::new();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(watch.timeout_secs);
    let mut client: Option<tokio_postgres::Client> = None;
    let mut next_sql = Instant::now();
    let mut seen_server = false;
    loop {
        for line in tail.read_lines() {
            if tracker.apply(&line) {
                echo(&format!("  postgres: {}", line.trim()));
            }
        }
        let alive = postmaster_alive(&watch.data);
        seen_server |= alive;
        match &tracker.ended {
            Some(Ending::Failed { .. } | Ending::ShutDown) => break,
            Some(end @ (Ending::Paused | Ending::Promoted)) => {
                // The log line comes first; wait until the server shows the same state.
                let end = end.clone();
                if let Some(state) = query(&endpoint, &mut client).await {
                    let done = match end {
                        Ending::Paused => state.pause_state.as_deref() == Some("paused"),
                        _ => !state.in_recovery,
                    };
                    tracker.outcome.replay = Some(state);
                    if done {
                        break;
                    }
                }
            }
            None => {
                // Connecting before the server accepts connections only adds FATAL lines.
                if alive && tracker.accepting && Instant::now() >= next_sql {
                    next_sql = Instant::now() + SQL_POLL;
                    if let Some(state) = query(&endpoint, &mut client).await {
                        tracker.outcome.replay = Some(state);
                    }
                }
            }
        }
        if tracker.ended.is_none() && !seen_server && started.elapsed() > Duration::from_secs(60) {
            tracker.ended = Some(Ending::Failed {
                reason: format!(
                    "no server came up in {} within 60 s; last log line: {}",
                    watch.data.display(),
                    tracker.last_line
                ),
            });
            break;
        }
        if tracker.ended.is_none() && seen_server && !alive {
            // The postmaster is gone: read what it wrote last, then judge.
            tokio::time::sleep(LOG_POLL).await;
            for line in tail.read_lines() {
                tracker.apply(&line);
            }
            if tracker.ended.is_none() {
                tracker.ended = Some(Ending::Failed {
                    reason: match &tracker.problem {
                        Some(p) => format!("the server stopped: {p}"),
                        None => format!(
                            "the server stopped without ending recovery; last log line: {}",
                            tracker.last_line
                        ),
                    },
                });
            }
            break;
        }
        if Instant::now() >= deadline {
            return Err(Error::RecoveryTimeout {
                seconds: watch.timeout_secs,
                last_line: tracker.last_line.clone(),
            });
        }
        tokio::time::sleep(LOG_POLL).await;
    }
    Ok(tracker.finish())
}

async fn query(
    endpoint: &Endpoint,
    client: &mut Option<tokio_postgres::Client>,
) -> Option<ReplayState> {
    if client
        .as_ref()
        .is_none_or(tokio_postgres::Client::is_closed)
    {
        *client = endpoint.connect(Duration::from_millis(500)).await.ok();
    }
    let c = client.as_ref()?;
    let state = endpoint.replay_state(c).await.ok();
    if state.is_none() {
        *client = None;
    }
    state
}

/// The verified result of a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedStop {
    /// The target asked for.
    pub target: String,
    /// How recovery ended.
    pub ending: Ending,
    /// Where it stopped.
    pub stop: Option<StopRecord>,
    /// The last replayed WAL location the server reported.
    pub replay_lsn: Option<Lsn>,
    /// Commit time of the last transaction recovery applied.
    pub last_commit: Option<jiff::Timestamp>,
    /// The timeline the server is on (after promotion).
    pub timeline: Option<TimelineId>,
    /// Milliseconds between PostgreSQL logging the end and pitr noticing.
    pub noticed_after_ms: Option<i64>,
}

fn failed(target: &RecoveryTarget, reason: impl Into<String>) -> Error {
    Error::RecoveryFailed {
        target: target.to_string(),
        reason: reason.into(),
    }
}

/// Judges whether recovery ended where it was asked to.
pub fn verify(watch: &RecoveryWatch, outcome: &RecoveryOutcome) -> Result<VerifiedStop> {
    let target = &watch.target;
    if let Ending::Failed { reason } = &outcome.ending {
        return Err(failed(target, format!("PostgreSQL reported: {reason}")));
    }
    let expected = match watch.action {
        TargetAction::Pause => Ending::Paused,
        TargetAction::Promote => Ending::Promoted,
        TargetAction::Shutdown => Ending::ShutDown,
    };
    if outcome.ending != expected {
        return Err(failed(
            target,
            format!(
                "expected recovery to end {expected}, it ended {}",
                outcome.ending
            ),
        ));
    }
    let last_commit = outcome
        .replay
        .as_ref()
        .and_then(|r| r.last_replayed_commit)
        .or(outcome.last_commit.map(TargetTime::timestamp));
    let stop = outcome.stop.clone();
    let stop_text = || {
        stop.as_ref().map_or_else(
            || "no stop record".to_owned(),
            |s| format!("\"recovery stopping {s}\""),
        )
    };
    match target {
        RecoveryTarget::Latest => {}
        RecoveryTarget::Immediate => {
            if stop != Some(StopRecord::Consistency) {
                return Err(failed(target, format!("PostgreSQL logged {}", stop_text())));
            }
        }
        RecoveryTarget::Time(t) => {
            let target_ts = t.timestamp();
            let set_stop = jiff::Timestamp::from_second(
                i64::try_from(watch.set_stop_time).unwrap_or(i64::MAX),
            )
            .unwrap_or(jiff::Timestamp::MAX);
            if set_stop > target_ts {
                return Err(failed(
                    target,
                    format!(
                        "the restored set was consistent only at {set_stop}, after the target: \
                         PostgreSQL stops at the first commit after consistency instead"
                    ),
                ));
            }
            match &stop {
                Some(StopRecord::Transaction {
                    time: Some(st),
                    before,
                    ..
                }) => {
                    // Inclusive: stop before the first commit after the target, or after one
                    // exactly at it. Exclusive: stop before the first commit at or after it.
                    let st = st.timestamp();
                    let ok = if watch.exclusive {
                        *before && st >= target_ts
                    } else {
                        (*before && st > target_ts) || (!*before && st <= target_ts)
                    };
                    if !ok {
                        return Err(failed(target, format!("PostgreSQL logged {}", stop_text())));
                    }
                }
                _ => return Err(failed(target, format!("PostgreSQL logged {}", stop_text()))),
            }
            if let Some(lc) = last_commit {
                let late = if watch.exclusive {
                    lc >= target_ts
                } else {
                    lc > target_ts
                };
                if late {
                    return Err(failed(
                        target,
                        format!("the last applied transaction committed at {lc}, after the target"),
                    ));
                }
            }
        }
        RecoveryTarget::Name(n) => match &stop {
            Some(StopRecord::RestorePoint { name, .. }) if name == n.as_str() => {}
            _ => return Err(failed(target, format!("PostgreSQL logged {}", stop_text()))),
        },
        RecoveryTarget::Lsn(l) => match &stop {
            Some(StopRecord::Lsn { before, lsn }) if lsn == l && *before == watch.exclusive => {}
            _ => return Err(failed(target, format!("PostgreSQL logged {}", stop_text()))),
        },
        RecoveryTarget::Xid(x) => match &stop {
            Some(StopRecord::Transaction { xid, before, .. })
                if *xid == x.get() && *before == watch.exclusive => {}
            _ => return Err(failed(target, format!("PostgreSQL logged {}", stop_text()))),
        },
    }
    if let (Some(set_lsn), Some(consistent)) = (watch.set_stop_lsn, outcome.consistent_at) {
        if consistent < set_lsn {
            return Err(failed(
                target,
                format!(
                    "recovery was consistent at {consistent}, before the set stopped at {set_lsn}"
                ),
            ));
        }
    }
    Ok(VerifiedStop {
        target: target.to_string(),
        ending: outcome.ending.clone(),
        stop,
        replay_lsn: outcome.replay.as_ref().and_then(|r| r.replay_lsn),
        last_commit,
        timeline: outcome
            .new_timeline
            .or(outcome.replay.as_ref().and_then(|r| r.timeline)),
        noticed_after_ms: outcome.noticed_after_ms,
    })
}

#[cfg(test)]
mod tests;
