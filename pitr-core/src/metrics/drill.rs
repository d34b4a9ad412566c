//! The families of the last `pitr drill` record: when a drill last passed, how the last one
//! ended (with its code), and how long its phases took.

use serde::{Deserialize, Serialize};

use super::defs;
use super::{Out, num};
use crate::names::TargetTime;

/// What the metrics and `pitr info` read from a drill record
/// (`<log-path>/pitr-<stanza>-drill.json`, written by `ops::drill`); other fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillSummary {
    /// The stanza.
    pub stanza: String,
    /// When the drill finished.
    pub finished: TargetTime,
    /// Whether it passed.
    pub ok: bool,
    /// Its error code when it failed.
    pub code: Option<String>,
    /// When a drill last passed (this one or an earlier one).
    pub last_success: Option<TargetTime>,
    /// Seconds of `pgbackrest restore`.
    pub restore_secs: Option<f64>,
    /// Seconds of WAL replay up to the verified stop.
    pub replay_secs: Option<f64>,
    /// Seconds of the whole restore.
    pub total_secs: Option<f64>,
    /// Seconds of the clone's checks.
    pub check_secs: Option<f64>,
}

fn seconds(t: TargetTime) -> f64 {
    num(u64::try_from(t.unix_seconds()).unwrap_or(0))
}

/// The drill families.
pub(super) fn drill(d: &DrillSummary, out: &mut Out) {
    let stanza = || ("stanza", d.stanza.clone());
    out.set(
        &defs::DRILL_LAST_SUCCESS,
        &[
            ("code", d.code.clone().unwrap_or_else(|| "ok".into())),
            stanza(),
        ],
        f64::from(u8::from(d.ok)),
    );
    out.set(&defs::DRILL_LAST_RUN, &[stanza()], seconds(d.finished));
    if let Some(t) = d.last_success {
        out.set(&defs::DRILL_LAST_SUCCESS_TIME, &[stanza()], seconds(t));
    }
    for (phase, value) in [
        ("restore", d.restore_secs),
        ("replay", d.replay_secs),
        ("total", d.total_secs),
        ("checks", d.check_secs),
    ] {
        if let Some(v) = value {
            out.set(
                &defs::DRILL_DURATION,
                &[("phase", phase.to_owned()), stanza()],
                v,
            );
        }
    }
}
