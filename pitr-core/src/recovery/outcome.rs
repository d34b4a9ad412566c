//! What recovery did: where it stopped, how it ended, what the server said at the end.

use serde::Serialize;

use crate::names::{Lsn, TargetTime, TimelineId};

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
        /// What the startup process's FATAL means, when it is one pitr knows.
        #[serde(skip_serializing_if = "Option::is_none")]
        cause: Option<crate::error::RecoveryFailure>,
    },
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Paused => f.write_str("paused"),
            Ending::Promoted => f.write_str("promoted"),
            Ending::ShutDown => f.write_str("shut down"),
            Ending::Failed { reason, .. } => write!(f, "failed: {reason}"),
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
    /// The relevant log messages of the server's own processes, in order.
    pub log: Vec<String>,
}

/// What `pg_is_in_recovery()` and friends say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayState {
    /// Still in recovery (paused or replaying).
    pub in_recovery: bool,
    /// `not paused`, `pause requested` or `paused` while in recovery.
    pub pause_state: Option<String>,
    /// Last replayed WAL location.
    pub replay_lsn: Option<Lsn>,
    /// Commit time of the last replayed transaction.
    pub last_replayed_commit: Option<jiff::Timestamp>,
    /// Current timeline once out of recovery.
    pub timeline: Option<TimelineId>,
}
