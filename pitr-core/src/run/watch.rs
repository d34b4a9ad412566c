//! The recovery watcher's effects: follow the structured log of the server this run started,
//! and ask that server about its replay, until recovery ends or time runs out.
//!
//! The log is read every 20 ms from where it ended before the start step (a record written
//! earlier is never read), without following a link at its name ([`files::open_read`]). Each
//! record goes through [`Sources`] — only the postmaster whose pid is in the data directory's
//! `postmaster.pid`, and its startup process, speak for recovery — and then the
//! [`Tracker`](crate::recovery::Tracker). While the server accepts connections, pitr also asks
//! `pg_is_in_recovery()`, the pause state and the replay position (every 500 ms, and once more
//! at the end: the log says "paused" or "promoted" a moment before the server shows it).
//! Judging the outcome is [`crate::recovery::verify`]'s job.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use super::facts::postmaster_pid;
use super::files;
use super::probe::Endpoint;
use super::user::OsUser;
use crate::error::{Error, Result};
use crate::plan::RecoveryWatch;
use crate::recovery::{
    Ending, LogFormat, LogRecord, RecoveryOutcome, ReplayState, Sources, Tracker,
};

/// How often the log is read.
const LOG_POLL: Duration = Duration::from_millis(20);
/// How often the server is queried while it runs.
const SQL_POLL: Duration = Duration::from_millis(500);
/// How long a server may take to appear at all.
const START_GRACE: Duration = Duration::from_secs(60);
/// How long a server may stay unreachable after its log said recovery paused or promoted.
const ANSWER_GRACE: Duration = Duration::from_secs(60);

/// Follows a structured log file from an offset, yielding complete records.
#[derive(Debug)]
struct LogTail<'a> {
    path: &'a Path,
    format: LogFormat,
    owner: &'a OsUser,
    offset: u64,
    file: Option<File>,
    pending: Vec<u8>,
}

impl LogTail<'_> {
    fn read_records(&mut self) -> Vec<LogRecord> {
        if self.file.is_none() {
            // The logging collector creates the file once the server starts.
            let Ok(mut f) = files::open_read(self.path, Some(self.owner)) else {
                return Vec::new();
            };
            if f.seek(SeekFrom::Start(self.offset)).is_err() {
                return Vec::new();
            }
            self.file = Some(f);
        }
        let Some(file) = self.file.as_mut() else {
            return Vec::new();
        };
        if file.read_to_end(&mut self.pending).is_err() {
            return Vec::new();
        }
        // Complete records end with a newline; the rest waits for the next read.
        let Some(end) = self
            .pending
            .iter()
            .rposition(|b| *b == b'\n')
            .map(|i| i + 1)
        else {
            return Vec::new();
        };
        let (records, consumed) = match self.format {
            LogFormat::Json => (
                self.pending[..end]
                    .split(|b| *b == b'\n')
                    .filter_map(|line| std::str::from_utf8(line).ok())
                    .filter_map(LogRecord::from_json_line)
                    .collect(),
                end,
            ),
            LogFormat::Csv => LogRecord::from_csv(&self.pending[..end]),
        };
        self.pending.drain(..consumed);
        records
    }
}

/// The parent pid of a running process, from `/proc/<pid>/stat`.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "<pid> (<comm>) <state> <ppid> ..."; comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The last line the server wrote before its logging collector ran, for messages only.
fn last_start_line(path: &Path, owner: &OsUser) -> Option<String> {
    let mut text = String::new();
    files::open_read(path, Some(owner))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().chars().take(300).collect())
}

/// Follows recovery until it ends or `watch.timeout_secs` pass. `log_offset` is where the log
/// file ended before the server was started, so older runs' records are not read.
pub fn await_recovery(
    watch: &RecoveryWatch,
    log_offset: u64,
    echo: &dyn Fn(&str),
) -> Result<RecoveryOutcome> {
    super::probe::block_on(follow(watch, log_offset, echo))
}

async fn follow(
    watch: &RecoveryWatch,
    log_offset: u64,
    echo: &dyn Fn(&str),
) -> Result<RecoveryOutcome> {
    let owner = OsUser::lookup(&watch.user)?;
    let endpoint = Endpoint {
        socket_dir: watch.socket_dir.clone(),
        port: watch.port,
        user: watch.user.clone(),
    };
    let mut tail = LogTail {
        path: &watch.log_file,
        format: watch.log_format,
        owner: &owner,
        offset: log_offset,
        file: None,
        pending: Vec::new(),
    };
    let mut sources = Sources::default();
    let mut tracker = Tracker::new();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(watch.timeout_secs);
    let mut client: Option<tokio_postgres::Client> = None;
    let mut next_sql = Instant::now();
    let mut seen_server = false;
    let mut unanswered_since: Option<Instant> = None;
    let mut read = |tracker: &mut Tracker, sources: &mut Sources, echo: &dyn Fn(&str)| {
        for record in tail.read_records() {
            if sources.postmaster.is_none() {
                sources.postmaster = postmaster_pid(&watch.data);
            }
            if sources.accept(&record, parent_of) {
                if let Some(line) = tracker.apply(&record, jiff::Timestamp::now()) {
                    echo(&format!("  postgres: {line}"));
                }
            }
        }
    };
    loop {
        read(&mut tracker, &mut sources, echo);
        let alive = postmaster_pid(&watch.data).is_some();
        seen_server |= alive;
        match tracker.ended().cloned() {
            Some(Ending::Failed { .. } | Ending::ShutDown) => break,
            Some(end @ (Ending::Paused | Ending::Promoted)) => {
                // The log comes first; wait until the server shows the same state.
                match query(&endpoint, &mut client).await {
                    Ok(state) => {
                        unanswered_since = None;
                        let done = match end {
                            Ending::Paused => state.pause_state.as_deref() == Some("paused"),
                            _ => !state.in_recovery,
                        };
                        tracker.set_replay(state);
                        if done {
                            break;
                        }
                    }
                    Err(e) => {
                        let since = *unanswered_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > ANSWER_GRACE {
                            return Err(unanswered(&endpoint, &end, &e));
                        }
                    }
                }
            }
            None => {
                // Connecting before the server accepts connections only adds FATAL lines.
                if alive && tracker.accepting() && Instant::now() >= next_sql {
                    next_sql = Instant::now() + SQL_POLL;
                    if let Ok(state) = query(&endpoint, &mut client).await {
                        tracker.set_replay(state);
                    }
                }
            }
        }
        if tracker.ended().is_none() && !seen_server && started.elapsed() > START_GRACE {
            tracker.end(Ending::Failed {
                cause: None,
                reason: format!(
                    "no server came up in {} within {} s; {}",
                    watch.data.display(),
                    START_GRACE.as_secs(),
                    start_problem(watch, &owner)
                ),
            });
            break;
        }
        if tracker.ended().is_none() && seen_server && !alive {
            // The postmaster is gone: read what it wrote last, then judge.
            tokio::time::sleep(LOG_POLL).await;
            read(&mut tracker, &mut sources, echo);
            if tracker.ended().is_none() {
                let reason = match tracker.problem() {
                    Some(p) => format!("the server stopped: {p}"),
                    None if tracker.last_message().is_empty() => {
                        format!("the server stopped; {}", start_problem(watch, &owner))
                    }
                    None => format!(
                        "the server stopped without ending recovery; its last message: {}",
                        tracker.last_message()
                    ),
                };
                tracker.end(Ending::Failed {
                    reason,
                    cause: None,
                });
            }
            break;
        }
        if Instant::now() >= deadline {
            return Err(Error::RecoveryTimeout {
                seconds: watch.timeout_secs,
                last_line: tracker.last_message().to_owned(),
            });
        }
        tokio::time::sleep(LOG_POLL).await;
    }
    Ok(tracker.finish())
}

/// Why a server may not have come up: the end of what `pg_ctl` captured.
fn start_problem(watch: &RecoveryWatch, owner: &OsUser) -> String {
    match last_start_line(&watch.start_log, owner) {
        Some(line) => format!("{} ends with: {line}", watch.start_log.display()),
        None => format!("nothing in {}", watch.start_log.display()),
    }
}

/// The server's log said recovery ended but the server does not answer where the plan expects
/// it (a `postgresql.conf` that came with the backup may move its port or socket directory).
fn unanswered(endpoint: &Endpoint, end: &Ending, error: &Error) -> Error {
    let said = match end {
        Ending::Paused => "paused at the target",
        _ => "ended (promoted)",
    };
    Error::Database {
        endpoint: endpoint.describe(),
        message: format!(
            "the server log says recovery {said}, but the server has not answered for {} s \
             (last: {error}); check that its port and unix_socket_directories are the plan's",
            ANSWER_GRACE.as_secs()
        ),
    }
}

async fn query(
    endpoint: &Endpoint,
    client: &mut Option<tokio_postgres::Client>,
) -> Result<ReplayState> {
    let c = match client.take().filter(|c| !c.is_closed()) {
        Some(c) => c,
        None => endpoint.connect(Duration::from_millis(500)).await?,
    };
    let state = endpoint.replay_state(&c).await?;
    *client = Some(c);
    Ok(state)
}
