//! Prometheus metrics: what pgBackRest knows about a stanza, and whether it could be restored.
//!
//! [`render`] turns [`Sources`] — an [`InfoReport`] (`pgbackrest info --output=json`), the
//! recoverable windows and archive facts pitr derives from it ([`StanzaExtras`]), the last
//! `pitr check` report and a `now` — into the Prometheus text exposition format (version
//! 0.0.4). [`render_from_info_text`] does the same from the JSON text alone (windows then come
//! from `info` alone). Both are pure; `pitr exporter` serves their output over HTTP, with its
//! own refresh bookkeeping from [`exporter::ExporterState`].
//!
//! Two kinds of families come out (the full table is in [`defs`] and in
//! `docs/observability.md`):
//!
//! * `pgbackrest_*`: the names, types (all gauges), label names and meaning of
//!   `pgbackrest_exporter` v0.23.0, so its dashboards and alerts work unchanged. Where the
//!   exporter renamed a metric both names are emitted (`pgbackrest_stanza_backup_lock_status`
//!   and `pgbackrest_stanza_lock_status`, `pgbackrest_stanza_backup_complete_bytes` and
//!   `pgbackrest_stanza_backup_compete_bytes`).
//! * `pitr_*`: the recoverable window per stanza, repo and timeline (start and end, as a time
//!   and as an LSN), the age of the newest archived WAL, the WAL missing along the cluster's
//!   history, the last `pitr check`, and the exporter's own freshness.
//!
//! The text is produced by the `prometheus` crate's `TextEncoder` from a registry built for
//! each render: families sorted by name, series by label values, label values escaped.
//! The output depends only on the inputs, so it is snapshot-tested. Label values are names,
//! labels, versions, LSNs, WAL segment names and codes; no message text and nothing secret.
//!
//! ```
//! let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"),
//!     "/tests/fixtures/pgbackrest-2.45/info-local-full-incr.json")).unwrap();
//! let now = jiff::Timestamp::from_second(1_795_470_000).unwrap();
//! let metrics = pitr_core::metrics::render_from_info_text(&text, Some(now))?;
//! assert!(metrics.contains("# TYPE pgbackrest_backup_since_last_completion_seconds gauge"));
//! assert!(metrics.contains("pitr_window_start_lsn{"));
//! # Ok::<(), pitr_core::Error>(())
//! ```

pub(crate) mod defs;
mod drill;
pub mod exporter;
mod pgbackrest;
mod pitr;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use prometheus::{CounterVec, Encoder as _, GaugeVec, Opts, Registry, TextEncoder};

use crate::archive::ArchiveListing;
use crate::check::CheckReport;
use crate::error::{Error, Result};
use crate::history::TimelineHistories;
use crate::info::{self, InfoReport, StanzaInfo};
use crate::names::{ArchiveFile, RepoIndex};
use crate::version::Version;
use crate::window::{self, RecoverableWindow};
use defs::{Def, Kind};
pub use drill::DrillSummary;

/// The `Content-Type` of the rendered text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What pitr derives for one stanza beyond `pgbackrest info`, computed when info is gathered
/// (not at every scrape).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StanzaExtras {
    /// Recoverable windows, by repo key and timeline.
    pub windows: Vec<RecoverableWindow>,
    /// Newest archived WAL file time (Unix seconds) per repo key, from archive listings.
    pub newest_wal: BTreeMap<RepoIndex, u64>,
    /// Repos whose archive was listed.
    pub listed: BTreeSet<RepoIndex>,
    /// WAL segments missing along the cluster's history per listed repo
    /// ([`crate::continuity`]); repos whose figure is unknown are absent.
    pub missing: BTreeMap<RepoIndex, u64>,
    /// Repos that could not be read at the last refresh and whose data is carried over from an
    /// earlier one (set by the exporter).
    pub stale: BTreeSet<RepoIndex>,
}

impl StanzaExtras {
    /// From `pgbackrest info` alone: windows judged without listings.
    pub fn from_info(stanza: &StanzaInfo) -> StanzaExtras {
        StanzaExtras {
            windows: window::windows(stanza, &TimelineHistories::new(), &BTreeMap::new()),
            ..StanzaExtras::default()
        }
    }

    /// From info, timeline histories and archive listings (`PgBackRest::snapshot`).
    pub fn from_listings(
        stanza: &StanzaInfo,
        histories: &TimelineHistories,
        listings: &BTreeMap<RepoIndex, ArchiveListing>,
    ) -> StanzaExtras {
        let newest_wal = listings
            .iter()
            .filter_map(|(key, listing)| {
                listing
                    .files
                    .iter()
                    .filter(|f| matches!(f.file, ArchiveFile::Segment(_) | ArchiveFile::Partial(_)))
                    .map(|f| f.time)
                    .max()
                    .map(|t| (*key, t))
            })
            .collect();
        let missing = crate::continuity::continuity(stanza, histories, listings)
            .into_iter()
            .filter_map(|c| Some((c.repo_key, c.missing?)))
            .collect();
        StanzaExtras {
            windows: window::windows(stanza, histories, listings),
            newest_wal,
            listed: listings.keys().copied().collect(),
            missing,
            stale: BTreeSet::new(),
        }
    }
}

/// Everything one render reads.
#[derive(Debug)]
pub struct Sources<'a> {
    /// `pgbackrest info --output=json`, every stanza in it.
    pub info: &'a InfoReport,
    /// Extras by stanza name; stanzas without an entry get [`StanzaExtras::from_info`].
    pub extras: &'a BTreeMap<String, StanzaExtras>,
    /// The last `pitr check` report, if any.
    pub check: Option<&'a CheckReport>,
    /// The last `pitr drill` record, if any.
    pub drill: Option<&'a DrillSummary>,
    /// The installed pgBackRest's version, if known (`pgbackrest_version_info`).
    pub pgbackrest_version: Option<Version>,
    /// The time ages are measured at.
    pub now: Timestamp,
    /// The zone `start_time` / `stop_time` labels are written in (`pgbackrest_exporter` uses
    /// the exporter's local zone).
    pub time_zone: TimeZone,
}

/// One metric family pitr can export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Family {
    /// The metric name.
    pub name: &'static str,
    /// `gauge` or `counter`.
    pub kind: &'static str,
    /// Label names, alphabetical.
    pub labels: &'static [&'static str],
    /// The `# HELP` text.
    pub help: &'static str,
}

/// Every family pitr can export, `pgbackrest_*` first; a render emits those it has data for.
pub fn families() -> impl Iterator<Item = Family> {
    defs::ALL.iter().map(|d| Family {
        name: d.name,
        kind: match d.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        },
        labels: d.labels,
        help: d.help,
    })
}

/// Renders metrics for `sources`.
pub fn render(sources: &Sources<'_>) -> Result<String> {
    let mut out = Out::new();
    collect(sources, &mut out);
    out.finish()
}

/// Renders metrics from the text of `pgbackrest info --output=json` alone, with ages measured
/// at `now` (the current time when `None`) and times in labels in UTC.
pub fn render_from_info_text(text: &str, now: Option<Timestamp>) -> Result<String> {
    let report = info::parse(text)?;
    render(&Sources {
        info: &report,
        extras: &BTreeMap::new(),
        check: None,
        drill: None,
        pgbackrest_version: None,
        now: now.unwrap_or_else(Timestamp::now),
        time_zone: TimeZone::UTC,
    })
}

/// Adds every family `sources` give to `out`.
pub(crate) fn collect(sources: &Sources<'_>, out: &mut Out) {
    pgbackrest::version(sources.pgbackrest_version, out);
    for stanza in &sources.info.stanzas {
        let derived;
        let extras = if let Some(e) = sources.extras.get(&stanza.name) {
            e
        } else {
            derived = StanzaExtras::from_info(stanza);
            &derived
        };
        pgbackrest::stanza(stanza, sources, out);
        pitr::stanza(stanza, extras, sources.now, out);
    }
    if let Some(check) = sources.check {
        pitr::check(check, out);
    }
    if let Some(d) = sources.drill {
        drill::drill(d, out);
    }
}

/// Unix seconds of `t`, as a sample value (milliseconds kept).
#[allow(clippy::cast_precision_loss)] // exact for any time within 285,000 years of 1970
pub(crate) fn epoch(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

/// A `u64` as a sample value (exact below 2^53, which covers sizes, times and LSNs in use).
#[allow(clippy::cast_precision_loss)]
pub(crate) fn num(n: u64) -> f64 {
    n as f64
}

/// The families of one render, registered on first use.
pub(crate) struct Out {
    registry: Registry,
    gauges: HashMap<&'static str, GaugeVec>,
    counters: HashMap<&'static str, CounterVec>,
    error: Option<Error>,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Out")
            .field("families", &(self.gauges.len() + self.counters.len()))
            .finish_non_exhaustive()
    }
}

fn metrics_error(def: &Def, e: &prometheus::Error) -> Error {
    Error::Metrics {
        message: format!("{}: {e}", def.name),
    }
}

impl Out {
    pub(crate) fn new() -> Out {
        Out {
            registry: Registry::new(),
            gauges: HashMap::new(),
            counters: HashMap::new(),
            error: None,
        }
    }

    fn fail(&mut self, e: Error) {
        self.error.get_or_insert(e);
    }

    fn label_map<'v>(def: &Def, labels: &'v [(&'static str, String)]) -> HashMap<&'v str, &'v str> {
        debug_assert_eq!(labels.len(), def.labels.len(), "{}", def.name);
        labels.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// Sets a gauge sample.
    pub(crate) fn set(&mut self, def: &'static Def, labels: &[(&'static str, String)], value: f64) {
        debug_assert_eq!(def.kind, Kind::Gauge, "{}", def.name);
        let vec = match self.gauges.get(def.name) {
            Some(v) => v.clone(),
            None => match GaugeVec::new(Opts::new(def.name, def.help), def.labels)
                .and_then(|v| self.registry.register(Box::new(v.clone())).map(|()| v))
            {
                Ok(v) => {
                    self.gauges.insert(def.name, v.clone());
                    v
                }
                Err(e) => return self.fail(metrics_error(def, &e)),
            },
        };
        match vec.get_metric_with(&Self::label_map(def, labels)) {
            Ok(g) => g.set(value),
            Err(e) => self.fail(metrics_error(def, &e)),
        }
    }

    /// Sets a counter sample to `value`.
    pub(crate) fn count(
        &mut self,
        def: &'static Def,
        labels: &[(&'static str, String)],
        value: u64,
    ) {
        debug_assert_eq!(def.kind, Kind::Counter, "{}", def.name);
        let vec = match self.counters.get(def.name) {
            Some(v) => v.clone(),
            None => match CounterVec::new(Opts::new(def.name, def.help), def.labels)
                .and_then(|v| self.registry.register(Box::new(v.clone())).map(|()| v))
            {
                Ok(v) => {
                    self.counters.insert(def.name, v.clone());
                    v
                }
                Err(e) => return self.fail(metrics_error(def, &e)),
            },
        };
        match vec.get_metric_with(&Self::label_map(def, labels)) {
            Ok(c) => {
                c.reset();
                c.inc_by(num(value));
            }
            Err(e) => self.fail(metrics_error(def, &e)),
        }
    }

    /// The text of every family set so far.
    pub(crate) fn finish(self) -> Result<String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .map_err(|e| Error::Metrics {
                message: e.to_string(),
            })?;
        String::from_utf8(buf).map_err(|e| Error::Metrics {
            message: e.to_string(),
        })
    }
}
