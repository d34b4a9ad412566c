//! The verdict: did recovery end where it was asked to?
//!
//! A `FATAL: recovery ended before configured recovery target was reached`, a stop before the
//! set was consistent, an ending other than the requested action, or a time target that
//! PostgreSQL 15 silently overshot (it stops at the first commit after consistency when the
//! target lies before it) are failures.

use serde::Serialize;

use super::outcome::{Ending, RecoveryOutcome, StopRecord};
use crate::error::{Error, Result};
use crate::names::{Lsn, TargetTime, TimelineId};
use crate::quiet::QuietLanding;
use crate::target::{RecoveryTarget, TargetAction};

/// What the restore asked of recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The recovery target.
    pub target: &'a RecoveryTarget,
    /// Whether the target is exclusive.
    pub exclusive: bool,
    /// What PostgreSQL does at the target.
    pub action: TargetAction,
    /// Stop time of the restored set (epoch seconds): recovery cannot stop before it.
    pub set_stop_time: u64,
    /// Stop LSN of the restored set, when known.
    pub set_stop_lsn: Option<Lsn>,
    /// A time target after the last commit, landed at `target` (an LSN) instead.
    pub landing: Option<&'a QuietLanding>,
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
    /// A time target after the last commit: where it landed and the proof.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landing: Option<QuietLanding>,
}

fn failed(target: &RecoveryTarget, reason: impl Into<String>) -> Error {
    Error::RecoveryFailed {
        target: target.to_string(),
        reason: reason.into(),
    }
}

/// Judges whether recovery ended where it was asked to.
pub fn verify(watch: &Expected<'_>, outcome: &RecoveryOutcome) -> Result<VerifiedStop> {
    let target = watch.target;
    if let Ending::Failed { reason, cause } = &outcome.ending {
        let shown = watch.landing.map_or_else(
            || target.to_string(),
            |q| RecoveryTarget::Time(q.target).to_string(),
        );
        return Err(match cause {
            Some(cause) => Error::RecoveryFatal {
                target: shown,
                cause: *cause,
                message: reason.clone(),
            },
            None => failed(target, format!("PostgreSQL reported: {reason}")),
        });
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
    if let Some(q) = watch.landing {
        // The stop LSN stands for the time asked for only if no transaction after that time
        // was applied.
        if let Some(lc) = last_commit.filter(|lc| *lc > q.target.timestamp()) {
            return Err(failed(
                &RecoveryTarget::Time(q.target),
                format!(
                    "recovery stopped at {} for a target after the last commit, but the last \
                     applied transaction committed at {lc}, after the target",
                    q.stop_lsn
                ),
            ));
        }
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
        target: watch.landing.map_or_else(
            || target.to_string(),
            |q| RecoveryTarget::Time(q.target).to_string(),
        ),
        ending: outcome.ending.clone(),
        stop,
        replay_lsn: outcome.replay.as_ref().and_then(|r| r.replay_lsn),
        last_commit,
        timeline: outcome
            .new_timeline
            .or(outcome.replay.as_ref().and_then(|r| r.timeline)),
        noticed_after_ms: outcome.noticed_after_ms,
        landing: watch.landing.cloned(),
    })
}
