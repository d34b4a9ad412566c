//! `pitr drill`: prove that the backups restore, and measure how long it takes.
//!
//! A drill restores a clone into a scratch directory (`<data>-drill` unless given) on a free
//! port with archiving off, beside the running cluster — never touching it, its archive or its
//! spool (the clone has a spool path of its own, see `plan::restore::restore_config_for`) —
//! with pgBackRest and the clone's server at reduced CPU and IO priority. It restores to the
//! end of the archive, a given time, restore point or LSN, or a random time inside the
//! recoverable window (seeded; the seed is recorded), promotes, verifies the stop point as
//! every restore does, runs `amcheck` on the clone's B-tree indexes and, when the cluster has
//! data checksums, `pg_checksums --check` on the stopped clone. Then it removes the clone, on
//! success and on failure alike; a drill that crashed is cleaned up by the next one (or
//! `pitr drill --cleanup`). The outcome is recorded beside `pitr check`'s record.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::restore::{self, RestoreOptions};
use crate::error::{Error, Result};
use crate::names::{Lsn, RepoIndex, RestorePointName, SafePath, TargetTime};
use crate::node::Node;
use crate::plan::Action;
use crate::recovery::VerifiedStop;
use crate::run::drill as effects;
use crate::run::files;
use crate::run::log::RunLog;
use crate::run::probe::Endpoint;
use crate::run::tools::Tools;
use crate::run::user::OsUser;
use crate::run::walscan;
use crate::snapshot::RepoSnapshot;
use crate::target::RestoreRequest;

/// Where a drill restores to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrillTarget {
    /// The end of the archive (the default).
    End,
    /// A time.
    Time(TargetTime),
    /// A restore point.
    Name(RestorePointName),
    /// An LSN.
    Lsn(Lsn),
    /// A random time inside the recoverable window, from the seed (one from the clock when
    /// `None`).
    Random(Option<u64>),
}

/// What a drill does besides its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillOptions {
    /// The target.
    pub target: DrillTarget,
    /// The scratch directory (`<data>-drill` when `None`); removed afterwards.
    pub scratch: Option<SafePath>,
    /// Seconds to wait for recovery (one hour when 0).
    pub timeout_secs: u64,
    /// Run `amcheck` on the clone's indexes.
    pub amcheck: bool,
    /// SQL the clone must answer with true (the spec's `pitr_drill_assertions`).
    pub assertions: Vec<crate::spec::DrillAssertion>,
}

/// What a drill did: the record `pitr drill --json` prints and the file beside `pitr check`'s
/// record holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillRecord {
    /// The stanza.
    pub stanza: String,
    /// When the drill started.
    pub started: TargetTime,
    /// When it finished.
    pub finished: TargetTime,
    /// When a drill last passed on this node: this one, or the one an earlier record names.
    pub last_success: Option<TargetTime>,
    /// Whether every step and check passed.
    pub ok: bool,
    /// The error code when it failed.
    pub code: Option<String>,
    /// The error when it failed.
    pub error: Option<String>,
    /// The target restored to (`latest`, `time ...`, ...).
    pub target: Option<String>,
    /// The seed of a random target.
    pub seed: Option<u64>,
    /// How far the target lay behind the drill's start, seconds (a time target).
    pub target_lag_secs: Option<i64>,
    /// The repo restored from.
    pub repo: Option<RepoIndex>,
    /// The backup set restored.
    pub set: Option<String>,
    /// Seconds of `pgbackrest restore`.
    pub restore_secs: Option<f64>,
    /// Seconds from starting the clone to recovery's verified end (WAL replay).
    pub replay_secs: Option<f64>,
    /// Seconds of the restore from first to last step: the recovery time this repo and
    /// machine give today.
    pub total_secs: Option<f64>,
    /// Seconds of the checks of the clone.
    pub check_secs: Option<f64>,
    /// Size of the restored set, bytes.
    pub bytes_restored: Option<u64>,
    /// WAL replayed, bytes (from the set's start to where recovery stopped).
    pub wal_replayed_bytes: Option<u64>,
    /// The checks that passed (`stop point`, `amcheck: N indexes`, `checksums`).
    pub checks: Vec<String>,
    /// Where recovery stopped.
    pub verified: Option<VerifiedStop>,
    /// The clone's data directory (removed).
    pub clone_data: PathBuf,
    /// The clone's port.
    pub port: Option<u16>,
    /// What an earlier, crashed drill left and this one removed.
    pub cleaned_up: Vec<PathBuf>,
    /// Why the drill did not run here (the Patroni leader leaves drills to a replica).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl DrillRecord {
    /// A record of a drill of `node` in `scratch` that started at `started` and has done
    /// nothing yet.
    fn new(node: &Node, scratch: &std::path::Path, started: TargetTime) -> DrillRecord {
        DrillRecord {
            stanza: node.stanza.to_string(),
            started,
            finished: started,
            last_success: None,
            ok: false,
            code: None,
            error: None,
            target: None,
            seed: None,
            target_lag_secs: None,
            repo: None,
            set: None,
            restore_secs: None,
            replay_secs: None,
            total_secs: None,
            check_secs: None,
            bytes_restored: None,
            wal_replayed_bytes: None,
            checks: Vec::new(),
            verified: None,
            clone_data: scratch.join("data"),
            port: None,
            cleaned_up: Vec::new(),
            skipped: None,
        }
    }
}

/// Where a drill's record lies: `<log-path>/pitr-<stanza>-drill.json`.
pub fn record_path(node: &Node) -> PathBuf {
    node.log_dir
        .join(format!("pitr-{}-drill.json", node.stanza))
}

/// The drill's scratch directory.
pub fn scratch_dir(node: &Node, scratch: Option<&SafePath>) -> PathBuf {
    scratch.map_or_else(
        || PathBuf::from(format!("{}-drill", node.data.display())),
        |s| s.to_path_buf(),
    )
}

/// Stops and removes what a crashed drill left in the scratch directory, under the stanza's
/// lock: a drill that still runs holds it, so its clone is never taken away (`stanza_locked`).
/// The crashed drill is recorded as failed (`drill_interrupted`) when `record`.
pub fn cleanup(node: &Node, scratch: Option<&SafePath>, record: bool) -> Result<Vec<PathBuf>> {
    let _locked = super::lock_stanza(node, "drill --cleanup", false, &|_| {})?;
    let tools = Tools::locate(node.pg_bin_dir.as_deref(), Some(&node.data))?;
    let user = OsUser::lookup(&node.dbsu)?;
    clear_interrupted(
        node,
        &scratch_dir(node, scratch),
        &tools,
        &user,
        record.then_some("pitr drill --cleanup"),
    )
}

/// Removes what an interrupted drill left in `scratch` (under the stanza's lock) and, with
/// `record_as` (who found it), records that drill as failed with `drill_interrupted`, so that
/// the record and the metrics show it — unless it recorded its own end (it finished, but its
/// clone could not be removed). What a killed WAL scan left ([`walscan::remove_leftovers`]) is
/// removed too. Returns what was removed.
fn clear_interrupted(
    node: &Node,
    scratch: &std::path::Path,
    tools: &Tools,
    user: &OsUser,
    record_as: Option<&str>,
) -> Result<Vec<PathBuf>> {
    let mut removed = clear_scratch(node, scratch, tools, user, record_as)?;
    removed.extend(walscan::remove_leftovers(
        &node.log_dir,
        node.stanza.as_str(),
        user,
    ));
    Ok(removed)
}

fn clear_scratch(
    node: &Node,
    scratch: &std::path::Path,
    tools: &Tools,
    user: &OsUser,
    record_as: Option<&str>,
) -> Result<Vec<PathBuf>> {
    let marker = effects::read_marker(scratch, user);
    let removed = effects::remove_scratch(scratch, &node.spool_dir, &tools.pg_bin_dir, user)?;
    let Some(by) = record_as.filter(|_| !removed.is_empty()) else {
        return Ok(removed);
    };
    if recorded_its_end(marker.as_ref(), last_record(node).as_ref()) {
        return Ok(removed);
    }
    let started = marker.as_ref().map(|m| m.started);
    let now = TargetTime::from_timestamp(jiff::Timestamp::now());
    let mut rec = DrillRecord::new(node, scratch, started.unwrap_or(now));
    let error = Error::DrillInterrupted {
        drill: marker.as_ref().map_or_else(
            || "that made it (no record of its start)".to_owned(),
            |m| format!("started {} by pid {}", m.started, m.pid),
        ),
        by: by.to_owned(),
        left: removed
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    rec.finished = now;
    rec.code = Some(error.code().to_owned());
    rec.error = Some(error.to_string());
    rec.port = marker.map(|m| m.port);
    rec.last_success =
        last_record::<crate::metrics::DrillSummary>(node).and_then(|d| d.last_success);
    rec.cleaned_up.clone_from(&removed);
    save_record(node, &rec)?;
    Ok(removed)
}

/// Whether the drill that left `marker` recorded its end (the last record is its own: it
/// finished, but its clone could not be removed). Without a marker, nobody can tell: no.
fn recorded_its_end(
    marker: Option<&effects::DrillMarker>,
    last: Option<&serde_json::Value>,
) -> bool {
    match (marker, last.and_then(|l| l.get("started"))) {
        (Some(m), Some(started)) => serde_json::to_value(m.started).ok().as_ref() == Some(started),
        _ => false,
    }
}

/// The last drill record, read as `T`, when there is one that reads.
fn last_record<T: serde::de::DeserializeOwned>(node: &Node) -> Option<T> {
    let user = OsUser::lookup(&node.dbsu).ok()?;
    crate::run::check::load_json::<T>(&record_path(node), Some(&user), "drill record")
        .ok()
        .flatten()
}

fn secs(ms: u64) -> f64 {
    // Milliseconds of a drill fit an f64 exactly.
    #[allow(clippy::cast_precision_loss)]
    let s = ms as f64 / 1000.0;
    s
}

/// splitmix64: a small, well-known generator; enough to spread drill targets.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random time (whole seconds) inside the newest recoverable window that ends with archived
/// WAL: after its set stopped, at or before `before`.
fn random_time(
    snapshot: &RepoSnapshot,
    node: &Node,
    state: &mut u64,
    before: u64,
) -> Result<TargetTime> {
    let stanza = snapshot.stanza(&node.stanza)?;
    let windows = crate::window::windows(stanza, &snapshot.histories, &snapshot.listings);
    let (lo, hi) = windows
        .iter()
        .filter_map(|w| Some((w.start.time + 1, w.end.as_ref()?.time?.min(before))))
        .filter(|(lo, hi)| lo <= hi)
        .max_by_key(|(_, hi)| *hi)
        .ok_or_else(|| Error::NoBackupSet {
            target: "a random time".into(),
            reason: format!(
                "no recoverable window with archived WAL; recoverable: {}",
                crate::window::describe(&windows)
            ),
        })?;
    let t = lo + next_random(state) % (hi - lo + 1);
    let ts = jiff::Timestamp::from_second(i64::try_from(t).unwrap_or(i64::MAX))
        .map_err(|e| Error::invalid("random target time", t.to_string(), e.to_string()))?;
    Ok(TargetTime::from_timestamp(ts))
}

fn request(
    target: &DrillTarget,
    time: Option<TargetTime>,
    data: &std::path::Path,
    port: u16,
) -> Result<RestoreRequest> {
    let mut v = serde_json::json!({
        "action": "promote",
        "archive": "off",
        "data": data.display().to_string(),
        "port": port,
    });
    match (target, time) {
        (_, Some(t)) => v["time"] = t.to_string().into(),
        (DrillTarget::Name(n), _) => v["name"] = n.as_str().into(),
        (DrillTarget::Lsn(l), _) => v["lsn"] = l.to_string().into(),
        _ => v["type"] = "default".into(),
    }
    RestoreRequest::from_pg_pitr(v, None)
}

/// Runs a drill and records it (when `record`). The record says what happened either way; the
/// error, when the drill failed, is returned beside it.
pub fn drill(
    node: &Node,
    options: &DrillOptions,
    log: &RunLog,
    record: bool,
) -> (DrillRecord, Option<Error>) {
    let started = TargetTime::from_timestamp(jiff::Timestamp::now());
    let scratch = scratch_dir(node, options.scratch.as_ref());
    let mut rec = DrillRecord::new(node, &scratch, started);
    // With Patroni, a replica's host runs the drill: restore and replay load its disks, not the
    // leader's. The leader skips (without a record, so the last real drill stays visible).
    if node.patroni.is_some() {
        match super::backup::role_of(node) {
            Ok(r) if r.role == crate::role::Role::Primary => {
                rec.ok = true;
                rec.skipped = Some(format!(
                    "this member is the primary ({}); a replica runs the drill",
                    r.why
                ));
                return (rec, None);
            }
            Ok(_) => {}
            Err(e) => {
                rec.code = Some(e.code().to_owned());
                rec.error = Some(e.to_string());
                return (rec, Some(e));
            }
        }
    }
    let result = run(node, options, log, &scratch, &mut rec, record);
    // Whatever happened, the clone goes.
    let removed = Tools::locate(node.pg_bin_dir.as_deref(), Some(&node.data)).and_then(|t| {
        let user = OsUser::lookup(&node.dbsu)?;
        effects::remove_scratch(&scratch, &node.spool_dir, &t.pg_bin_dir, &user)
    });
    let error = match (result, removed) {
        (Err(e), _) | (Ok(()), Err(e)) => Some(e),
        (Ok(()), Ok(_)) => None,
    };
    rec.ok = error.is_none();
    rec.code = error.as_ref().map(|e| e.code().to_owned());
    rec.error = error.as_ref().map(ToString::to_string);
    rec.finished = TargetTime::from_timestamp(jiff::Timestamp::now());
    rec.last_success = if rec.ok {
        Some(rec.finished)
    } else {
        last_record::<crate::metrics::DrillSummary>(node).and_then(|d| d.last_success)
    };
    let saved = if record {
        save_record(node, &rec).err()
    } else {
        None
    };
    (rec, error.or(saved))
}

fn run(
    node: &Node,
    options: &DrillOptions,
    log: &RunLog,
    scratch: &std::path::Path,
    rec: &mut DrillRecord,
    record: bool,
) -> Result<()> {
    // One pitr run per stanza at a time: a drill queues behind a backup or restore.
    let _locked = super::lock_stanza(node, "drill", true, &|holder| {
        log.line(&format!("waiting for the stanza lock ({holder})"));
    })?;
    let tools = Tools::locate(node.pg_bin_dir.as_deref(), Some(&node.data))?;
    let user = OsUser::lookup(&node.dbsu)?;
    rec.cleaned_up = clear_interrupted(
        node,
        scratch,
        &tools,
        &user,
        record.then_some("the next drill"),
    )?;
    if !rec.cleaned_up.is_empty() {
        log.line(&format!(
            "removed what an earlier drill left: {}",
            rec.cleaned_up
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    files::ensure_dir(scratch, 0o700, Some(&user))?;
    let port = effects::free_port(&node.socket_dir)?;
    rec.port = Some(port);
    let marker = effects::DrillMarker {
        port,
        pid: std::process::id(),
        started: rec.started,
    };
    effects::note_start(scratch, &marker, &user)?;
    let data = scratch.join("data");
    let snapshot = restore::snapshot(node)?;
    let restore_options = RestoreOptions {
        restore_config_path: Some(SafePath::from_path(
            "drill restore config",
            "pitr drill",
            &scratch.join("restore.conf"),
        )?),
        timeout_secs: options.timeout_secs,
        under_patroni: false,
    };
    let now = u64::try_from(started_secs(rec)).unwrap_or(0);
    let mut state = match options.target {
        DrillTarget::Random(seed) => {
            let seed = seed.unwrap_or_else(|| {
                u64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(0)
            });
            rec.seed = Some(seed);
            Some(seed)
        }
        _ => None,
    };
    let mut before = now;
    let prepared = loop {
        let time = match (&options.target, state.as_mut()) {
            (DrillTarget::Random(_), Some(s)) => Some(random_time(&snapshot, node, s, before)?),
            (DrillTarget::Time(t), _) => Some(*t),
            _ => None,
        };
        let req = request(&options.target, time, &data, port)?;
        rec.target = Some(req.target.to_string());
        rec.target_lag_secs = time.map(|t| started_secs(rec) - t.unix_seconds());
        match restore::prepare_restore(node, &req, &restore_options, Some(snapshot.clone())) {
            // A random time the archive does not reach yet: draw again, earlier.
            Err(Error::TargetNotArchived { .. }) if state.is_some() && before > 0 => {
                before = time.map_or(0, |t| u64::try_from(t.unix_seconds() - 1).unwrap_or(0));
            }
            other => break other?,
        }
    };
    rec.repo = Some(prepared.selection.repo);
    rec.set = Some(prepared.selection.set.to_string());
    rec.bytes_restored = Some(prepared.selection.restore_size);
    let mut prepared = prepared;
    for step in &mut prepared.plan.steps {
        if let (true, Action::Exec { argv, .. }) = (
            matches!(step.id.as_str(), "restore" | "start"),
            &mut step.action,
        ) {
            *argv = effects::niced(std::mem::take(argv));
        }
    }
    let set_start = prepared.selection.set_start_lsn;
    let outcome = restore::run_unjournaled(prepared, log)?;
    let ms = |ids: &[&str]| -> u64 {
        outcome
            .report
            .step_ms
            .iter()
            .filter(|(id, _)| ids.contains(&id.as_str()))
            .map(|(_, ms)| ms)
            .sum()
    };
    rec.restore_secs = Some(secs(ms(&["restore"])));
    rec.replay_secs = Some(secs(ms(&["start", "await-recovery", "verify"])));
    rec.total_secs = Some(secs(outcome.report.step_ms.iter().map(|(_, m)| m).sum()));
    rec.wal_replayed_bytes = outcome
        .report
        .verified
        .as_ref()
        .and_then(|v| v.replay_lsn)
        .map(|l| set_start.distance(l));
    rec.verified.clone_from(&outcome.report.verified);
    rec.checks.push("stop point".into());

    let checks = Instant::now();
    let endpoint = Endpoint {
        socket_dir: node.socket_dir.to_path_buf(),
        port,
        user: node.dbsu.clone(),
    };
    let checksums = endpoint.query_value("SHOW data_checksums")? == "on";
    if !options.assertions.is_empty() {
        effects::assertions(&endpoint, &options.assertions)?;
        rec.checks
            .push(format!("assertions: {}", options.assertions.len()));
    }
    if options.amcheck {
        let n = effects::amcheck(&endpoint)?;
        rec.checks.push(format!("amcheck: {n} indexes"));
    }
    effects::stop_server(&tools.pg_bin_dir, &data, &user)?;
    if checksums {
        effects::check_checksums(&tools.pg_bin_dir, &data, &user)?;
        rec.checks.push("checksums".into());
    }
    rec.check_secs = Some(secs(
        u64::try_from(checks.elapsed().as_millis()).unwrap_or(u64::MAX),
    ));
    Ok(())
}

fn started_secs(rec: &DrillRecord) -> i64 {
    rec.started.unix_seconds()
}

/// Writes the record to [`record_path`] (mode 0644, owned by the database superuser), safely.
pub fn save_record(node: &Node, rec: &DrillRecord) -> Result<PathBuf> {
    crate::run::check::write_record(node, record_path(node), rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(t: &str) -> TargetTime {
        t.parse().unwrap()
    }

    /// A drill whose scratch directory is found again was interrupted, unless the last record
    /// is its own (it recorded its end, but its clone could not be removed).
    #[test]
    fn a_leftover_is_an_interrupted_drill_unless_it_recorded_its_end() {
        let marker = effects::DrillMarker {
            port: 5433,
            pid: 42,
            started: time("2026-12-01 03:30:00.5+00"),
        };
        let record = |started: &str| serde_json::json!({"started": time(started), "ok": false});
        assert!(recorded_its_end(
            Some(&marker),
            Some(&record("2026-12-01 03:30:00.5+00"))
        ));
        // The last record is an earlier drill's, or there is none, or no marker says which
        // drill it was: interrupted.
        assert!(!recorded_its_end(
            Some(&marker),
            Some(&record("2026-11-30 03:30:00.5+00"))
        ));
        assert!(!recorded_its_end(Some(&marker), None));
        assert!(!recorded_its_end(
            None,
            Some(&record("2026-12-01 03:30:00.5+00"))
        ));
        assert!(!recorded_its_end(
            Some(&marker),
            Some(&serde_json::json!({}))
        ));
    }
}
