//! The exporter's background refresh: gathers pgBackRest data on an interval into a shared
//! [`ExporterState`], on its own thread, so that serving `/metrics` never waits for pgBackRest.
//!
//! A refresh runs `pgbackrest info`, lists each readable repo's archive and reads its
//! timeline histories ([`PgBackRest::snapshot`]), asks `pgbackrest version`, and reads the
//! last `pitr check` record. Its outcome goes into the state with
//! [`ExporterState::record`]; a failure (even a panic inside the refresh) keeps the last good
//! data, which is then served marked stale. The state's lock is held only to record an outcome
//! and to render, never while pgBackRest runs.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::check::{load_record, record_path};
use super::pgbackrest::{PgBackRest, installed_version};
use super::tools;
use crate::error::{Error, Result};
use crate::metrics::exporter::{ExporterState, Gathered};
use crate::node::Node;

/// What one refresh did, for the exporter's log.
#[derive(Debug)]
pub struct RefreshReport {
    /// The error's code and message when the refresh failed.
    pub error: Option<(&'static str, String)>,
    /// Things that could not be gathered although the refresh succeeded.
    pub warnings: Vec<String>,
}

/// Gathers pgBackRest data for one node's stanza.
#[derive(Debug, Clone)]
pub struct Collector {
    pgbackrest: PgBackRest,
    check_record: PathBuf,
    drill_record: PathBuf,
}

impl Collector {
    /// A collector for `node`, with `pgbackrest` from `PATH`.
    pub fn new(node: &Node) -> Result<Collector> {
        Ok(Collector {
            pgbackrest: crate::run::pgbackrest::PgBackRest::of(node, &tools::pgbackrest()?)?,
            check_record: record_path(node),
            drill_record: crate::ops::drill::record_path(node),
        })
    }

    /// The stanza.
    pub fn stanza(&self) -> &str {
        self.pgbackrest.stanza.as_str()
    }

    /// One snapshot of the stanza, with the installed pgBackRest's version.
    pub fn gather(&self) -> Result<Gathered> {
        let snapshot = self.pgbackrest.snapshot()?;
        let version = installed_version(&self.pgbackrest.bin).ok();
        Ok(Gathered::from_snapshot(snapshot, version))
    }

    /// Refreshes `state` once: gathers (without holding the lock), then records the outcome
    /// and the last `pitr check` record.
    pub fn refresh(&self, state: &Mutex<ExporterState>) -> RefreshReport {
        let started = jiff::Timestamp::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.gather()))
            .unwrap_or_else(|_| {
                Err(Error::Metrics {
                    message: "the refresh panicked; the last good data is served".into(),
                })
            });
        let finished = jiff::Timestamp::now();
        let mut warnings = match &outcome {
            Ok(g) => g.warnings.clone(),
            Err(_) => Vec::new(),
        };
        let error = outcome.as_ref().err().map(|e| (e.code(), e.to_string()));
        let check =
            load_record(&self.check_record, Some(&self.pgbackrest.user)).unwrap_or_else(|e| {
                warnings.push(format!("ignoring the pitr check record: {e}"));
                None
            });
        let drill = super::check::load_json(
            &self.drill_record,
            Some(&self.pgbackrest.user),
            "drill record",
        )
        .unwrap_or_else(|e| {
            warnings.push(format!("ignoring the pitr drill record: {e}"));
            None
        });
        let mut guard = state.lock().unwrap_or_else(PoisonError::into_inner);
        guard.record(outcome, started, finished);
        guard.set_check(check);
        guard.set_drill(drill);
        RefreshReport { error, warnings }
    }

    /// Refreshes `state` now and then every `interval` on a new thread, calling `report`
    /// after each refresh, until the returned handle is stopped or dropped.
    pub fn spawn<F>(
        self,
        state: Arc<Mutex<ExporterState>>,
        interval: Duration,
        report: F,
    ) -> Result<RefreshHandle>
    where
        F: Fn(RefreshReport) + Send + 'static,
    {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("pitr-refresh".into())
            .spawn(move || {
                loop {
                    report(self.refresh(&state));
                    match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .map_err(|source| Error::Spawn {
                program: "the refresh thread".into(),
                source,
            })?;
        Ok(RefreshHandle {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// Stops the refresh thread when stopped or dropped.
#[derive(Debug)]
pub struct RefreshHandle {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RefreshHandle {
    /// Asks the thread to stop after the refresh in progress, without waiting for it.
    pub fn stop(mut self) {
        self.signal();
    }

    fn signal(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Not joined: a refresh may be waiting on pgBackRest; the thread ends after it.
        drop(self.thread.take());
    }
}

impl Drop for RefreshHandle {
    fn drop(&mut self) {
        self.signal();
    }
}
