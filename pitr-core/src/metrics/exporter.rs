//! The exporter's memory: the last good data, how refreshes went, and how stale it all is.
//!
//! `pitr exporter` refreshes in the background and renders at each scrape from an
//! [`ExporterState`]; a scrape never waits for pgBackRest. The state is pure bookkeeping:
//!
//! * [`ExporterState::record`] takes the outcome of one refresh. A failed refresh (pgBackRest
//!   could not run, its output did not parse) keeps the last good data, which is then served
//!   marked stale. A successful refresh in which a repo could not be read (`pgbackrest info`
//!   reports repo status 99, e.g. the S3 endpoint is down) replaces the data, but that repo's
//!   backup sets, archive ranges and windows are carried over from the last refresh that could
//!   read it, and the repo is marked stale (`pitr_repo_stale`); its status metric shows the
//!   error.
//! * [`ExporterState::render`] renders the data at the scrape's `now`, so ages keep growing
//!   between refreshes, plus the exporter's own families (`pitr_exporter_*`,
//!   `pgbackrest_exporter_status`, `pgbackrest_exporter_build_info`).
//!
//! ```
//! use pitr_core::metrics::exporter::{ExporterState, Gathered};
//!
//! let mut state = ExporterState::new("demo", 60);
//! let t0 = jiff::Timestamp::from_second(1_800_000_000).unwrap();
//! let info = pitr_core::info::parse(r#"[{"name":"demo","status":{"code":2,"message":"no valid backups"}}]"#)?;
//! state.record(Ok(Gathered::from_info(info, None)), t0, t0);
//! let text = state.render(t0, jiff::tz::TimeZone::UTC)?;
//! assert!(text.contains("pgbackrest_stanza_status{stanza=\"demo\"} 2"));
//! assert!(text.contains("pitr_exporter_stale{stanza=\"demo\"} 0"));
//! # Ok::<(), pitr_core::Error>(())
//! ```

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::defs;
use super::{Out, Sources, StanzaExtras, collect, epoch, num};
use crate::check::CheckReport;
use crate::error::Result;
use crate::info::{InfoReport, StanzaInfo, StatusCode};
use crate::names::RepoIndex;
use crate::snapshot::RepoSnapshot;
use crate::version::Version;

/// Seconds added to two refresh intervals before data without a newer refresh counts as stale.
pub const STALE_GRACE_SECS: u64 = 30;

/// What one successful refresh gathered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gathered {
    /// `pgbackrest info --output=json`.
    pub info: InfoReport,
    /// What pitr derived per stanza.
    pub extras: BTreeMap<String, StanzaExtras>,
    /// The installed pgBackRest's version.
    pub pgbackrest_version: Option<Version>,
    /// What could not be gathered (e.g. an archive that could not be listed).
    pub warnings: Vec<String>,
}

impl Gathered {
    /// From an info report alone.
    pub fn from_info(info: InfoReport, pgbackrest_version: Option<Version>) -> Gathered {
        let extras = info
            .stanzas
            .iter()
            .map(|s| (s.name.clone(), StanzaExtras::from_info(s)))
            .collect();
        Gathered {
            info,
            extras,
            pgbackrest_version,
            warnings: Vec::new(),
        }
    }

    /// From a snapshot of one stanza (info, listings and histories).
    pub fn from_snapshot(snapshot: RepoSnapshot, pgbackrest_version: Option<Version>) -> Gathered {
        let extras = snapshot
            .info
            .stanzas
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    StanzaExtras::from_listings(s, &snapshot.histories, &snapshot.listings),
                )
            })
            .collect();
        Gathered {
            info: snapshot.info,
            extras,
            pgbackrest_version,
            warnings: snapshot.warnings,
        }
    }

    /// Carries over, from `old`, the data of every repo that `self` could not read (status
    /// 99) but `old` had data for, and marks those repos stale.
    fn carry_over(&mut self, old: &Gathered) {
        for stanza in &mut self.info.stanzas {
            let Some(prev) = old.info.stanzas.iter().find(|s| s.name == stanza.name) else {
                continue;
            };
            let prev_extras = old.extras.get(&stanza.name);
            let extras = self.extras.entry(stanza.name.clone()).or_default();
            let unreadable: Vec<RepoIndex> = stanza
                .repo
                .iter()
                .filter(|r| r.status.code == StatusCode::Other)
                .map(|r| r.key)
                .collect();
            for key in unreadable {
                if !has_data(prev, key) {
                    continue;
                }
                take_repo(stanza, prev, key);
                extras.windows.retain(|w| w.repo_key != key);
                extras.newest_wal.remove(&key);
                extras.listed.remove(&key);
                extras.missing.remove(&key);
                if let Some(p) = prev_extras {
                    extras
                        .windows
                        .extend(p.windows.iter().filter(|w| w.repo_key == key).cloned());
                    if let Some(t) = p.newest_wal.get(&key) {
                        extras.newest_wal.insert(key, *t);
                    }
                    if p.listed.contains(&key) {
                        extras.listed.insert(key);
                    }
                    if let Some(m) = p.missing.get(&key) {
                        extras.missing.insert(key, *m);
                    }
                }
                extras.windows.sort_by_key(|w| (w.repo_key, w.timeline));
                extras.stale.insert(key);
            }
        }
    }
}

fn has_data(stanza: &StanzaInfo, key: RepoIndex) -> bool {
    stanza.backups_in_repo(key).next().is_some()
        || stanza.archive.iter().any(|a| a.database.repo_key() == key)
}

/// Replaces repo `key`'s backups, archive ranges and clusters in `stanza` with `prev`'s.
fn take_repo(stanza: &mut StanzaInfo, prev: &StanzaInfo, key: RepoIndex) {
    stanza.backup.retain(|b| b.repo_key() != key);
    stanza.backup.extend(prev.backups_in_repo(key).cloned());
    stanza.backup.sort_by_key(|b| b.timestamp.stop);
    stanza.archive.retain(|a| a.database.repo_key() != key);
    stanza.archive.extend(
        prev.archive
            .iter()
            .filter(|a| a.database.repo_key() == key)
            .cloned(),
    );
    stanza.db.retain(|d| d.repo_key() != key);
    stanza
        .db
        .extend(prev.db.iter().filter(|d| d.repo_key() == key).cloned());
}

/// How the last refresh went.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Attempt {
    finished: Timestamp,
    duration_ms: i64,
    ok: bool,
}

/// The exporter's data and refresh history for one stanza.
#[derive(Clone, Debug)]
pub struct ExporterState {
    stanza: String,
    interval_secs: u64,
    data: Option<Gathered>,
    gathered_at: Option<Timestamp>,
    last: Option<Attempt>,
    last_success: Option<Timestamp>,
    refreshes_ok: u64,
    refreshes_failed: u64,
    check: Option<CheckReport>,
    drill: Option<super::DrillSummary>,
}

impl ExporterState {
    /// An exporter for `stanza` refreshing every `interval_secs`, with no data yet.
    pub fn new(stanza: impl Into<String>, interval_secs: u64) -> ExporterState {
        ExporterState {
            stanza: stanza.into(),
            interval_secs,
            data: None,
            gathered_at: None,
            last: None,
            last_success: None,
            refreshes_ok: 0,
            refreshes_failed: 0,
            check: None,
            drill: None,
        }
    }

    /// Records the outcome of a refresh that ran from `started` to `finished`. Returns the
    /// error's stable code for a failed refresh.
    pub fn record(
        &mut self,
        outcome: Result<Gathered>,
        started: Timestamp,
        finished: Timestamp,
    ) -> Option<&'static str> {
        let duration_ms = finished
            .duration_since(started)
            .as_millis()
            .try_into()
            .unwrap_or(i64::MAX)
            .max(0);
        let (ok, code) = match outcome {
            Ok(mut gathered) => {
                if let Some(old) = &self.data {
                    gathered.carry_over(old);
                }
                self.data = Some(gathered);
                self.gathered_at = Some(finished);
                self.last_success = Some(finished);
                self.refreshes_ok += 1;
                (true, None)
            }
            Err(e) => {
                self.refreshes_failed += 1;
                (false, Some(e.code()))
            }
        };
        self.last = Some(Attempt {
            finished,
            duration_ms,
            ok,
        });
        code
    }

    /// Sets the last `pitr check` report (read at each refresh).
    pub fn set_check(&mut self, report: Option<CheckReport>) {
        self.check = report;
    }

    /// Sets the last `pitr drill` record (read at each refresh).
    pub fn set_drill(&mut self, record: Option<super::DrillSummary>) {
        self.drill = record;
    }

    /// The data being served, if any refresh succeeded.
    pub fn data(&self) -> Option<&Gathered> {
        self.data.as_ref()
    }

    /// Whether the data served at `now` is stale: there is none, the last refresh failed, no
    /// refresh succeeded for two intervals (plus [`STALE_GRACE_SECS`]), or a repo's data is
    /// carried over from an earlier refresh.
    pub fn is_stale(&self, now: Timestamp) -> bool {
        let Some(at) = self.gathered_at else {
            return true;
        };
        let age = u64::try_from(now.duration_since(at).as_secs()).unwrap_or(0);
        self.last.as_ref().is_some_and(|l| !l.ok)
            || age > self.interval_secs.saturating_mul(2) + STALE_GRACE_SECS
            || self
                .data
                .as_ref()
                .is_some_and(|d| d.extras.values().any(|e| !e.stale.is_empty()))
    }

    /// The metrics to serve at `now`; `time_zone` is used for time labels.
    pub fn render(&self, now: Timestamp, time_zone: TimeZone) -> Result<String> {
        let empty = InfoReport {
            stanzas: Vec::new(),
        };
        let no_extras = BTreeMap::new();
        let sources = Sources {
            info: self.data.as_ref().map_or(&empty, |d| &d.info),
            extras: self.data.as_ref().map_or(&no_extras, |d| &d.extras),
            check: self.check.as_ref(),
            drill: self.drill.as_ref(),
            pgbackrest_version: self.data.as_ref().and_then(|d| d.pgbackrest_version),
            now,
            time_zone,
        };
        let mut out = Out::new();
        collect(&sources, &mut out);
        self.own_metrics(now, &mut out);
        out.finish()
    }

    fn own_metrics(&self, now: Timestamp, out: &mut Out) {
        let s = || [("stanza", self.stanza.clone())];
        let up = self.last.as_ref().is_some_and(|l| l.ok);
        out.set(&defs::EXPORTER_STATUS, &s(), f64::from(u8::from(up)));
        out.set(&defs::EXPORTER_UP, &s(), f64::from(u8::from(up)));
        out.set(
            &defs::EXPORTER_STALE,
            &s(),
            f64::from(u8::from(self.is_stale(now))),
        );
        if let Some(at) = self.gathered_at {
            let age = now.duration_since(at).as_secs().max(0);
            out.set(
                &defs::EXPORTER_INFO_AGE,
                &s(),
                num(u64::try_from(age).unwrap_or(0)),
            );
        }
        if let Some(last) = &self.last {
            out.set(&defs::EXPORTER_LAST_REFRESH, &s(), epoch(last.finished));
            #[allow(clippy::cast_precision_loss)]
            out.set(
                &defs::EXPORTER_REFRESH_DURATION,
                &s(),
                last.duration_ms as f64 / 1000.0,
            );
        }
        if let Some(t) = self.last_success {
            out.set(&defs::EXPORTER_LAST_SUCCESS, &s(), epoch(t));
        }
        for (result, n) in [("ok", self.refreshes_ok), ("error", self.refreshes_failed)] {
            out.count(
                &defs::EXPORTER_REFRESHES,
                &[
                    ("result", result.to_owned()),
                    ("stanza", self.stanza.clone()),
                ],
                n,
            );
        }
        out.set(
            &defs::EXPORTER_BUILD_INFO,
            &[
                ("branch", String::new()),
                ("goarch", go_arch().to_owned()),
                ("goos", std::env::consts::OS.to_owned()),
                ("goversion", String::new()),
                ("revision", String::new()),
                ("tags", "pitr".to_owned()),
                ("version", env!("CARGO_PKG_VERSION").to_owned()),
            ],
            1.0,
        );
    }
}

/// The machine architecture as Go names it (the label `pgbackrest_exporter`'s dashboards show).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}
