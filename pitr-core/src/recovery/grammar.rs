//! The grammar of recovery: which messages of the server's own processes mean what.
//!
//! Only records [`Sources`](super::Sources) accepted get here. A marker counts only at the
//! start of the primary message (PostgreSQL runs with `lc_messages=C` during recovery, so the
//! messages are English), never anywhere else in a record.

use crate::error::RecoveryFailure;
use crate::names::{Lsn, TargetTime, TimelineId};

use super::outcome::StopRecord;

/// What one message means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogEvent {
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
    /// A FATAL that may explain a later failure.
    Problem(String),
}

/// FATALs that recovery itself raises when it cannot go on, by the start of the message, and
/// what each means.
pub(crate) const RECOVERY_FATALS: &[(&str, RecoveryFailure)] = &[
    (
        "recovery ended before configured recovery target was reached",
        RecoveryFailure::TargetNotReached,
    ),
    (
        "requested recovery stop point is before consistent recovery point",
        RecoveryFailure::BeforeConsistent,
    ),
    ("requested timeline", RecoveryFailure::TimelineNotChild),
    (
        "could not locate required checkpoint record",
        RecoveryFailure::InvalidCheckpoint,
    ),
    (
        "could not locate a valid checkpoint record",
        RecoveryFailure::InvalidCheckpoint,
    ),
    (
        "WAL ends before end of online backup",
        RecoveryFailure::MissingWal,
    ),
    (
        "WAL ends before consistent recovery point",
        RecoveryFailure::MissingWal,
    ),
    ("recovery target timeline", RecoveryFailure::TimelineMissing),
];

/// What a recovery FATAL of the server's startup process means.
pub(crate) fn failure(message: &str) -> Option<RecoveryFailure> {
    RECOVERY_FATALS
        .iter()
        .find(|(m, _)| message.starts_with(m))
        .map(|(_, f)| *f)
}

fn parse_time(s: &str) -> Option<TargetTime> {
    s.trim().parse().ok()
}

fn quoted(s: &str) -> Option<&str> {
    let s = s.strip_prefix('"')?;
    let end = s.rfind('"')?;
    Some(&s[..end])
}

/// What a message of severity `severity` from the postmaster or the startup process means.
pub(crate) fn event(severity: &str, message: &str) -> Option<LogEvent> {
    let m = message.trim_end();
    match severity {
        "PANIC" => return Some(LogEvent::Fatal(m.to_owned())),
        "FATAL" => {
            return Some(if failure(m).is_some() {
                LogEvent::Fatal(m.to_owned())
            } else {
                LogEvent::Problem(m.to_owned())
            });
        }
        "LOG" => {}
        _ => return None,
    }
    if let Some(rest) = m.strip_prefix("recovery stopping ") {
        return parse_stop(rest).map(LogEvent::Stop);
    }
    if let Some(rest) = m.strip_prefix("consistent recovery state reached at ") {
        return rest.trim().parse().ok().map(LogEvent::Consistent);
    }
    if let Some(rest) = m.strip_prefix("last completed transaction was at log time ") {
        return parse_time(rest).map(LogEvent::LastCommit);
    }
    if let Some(rest) = m.strip_prefix("selected new timeline ID: ") {
        let n: u32 = rest.trim().parse().ok()?;
        return TimelineId::new(n).ok().map(LogEvent::NewTimeline);
    }
    if m.starts_with("pausing at the end of recovery") {
        return Some(LogEvent::Paused);
    }
    if m.starts_with("archive recovery complete") {
        return Some(LogEvent::Promoted);
    }
    if m.starts_with("shutdown at recovery target") {
        return Some(LogEvent::ShutDown);
    }
    if m.starts_with("database system is ready to accept") {
        return Some(LogEvent::Accepting);
    }
    if m.starts_with("startup process (PID ")
        && (m.contains(") exited with exit code") || m.contains(") was terminated by signal"))
    {
        return Some(LogEvent::Fatal(m.to_owned()));
    }
    None
}

pub(crate) fn parse_stop(rest: &str) -> Option<StopRecord> {
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
