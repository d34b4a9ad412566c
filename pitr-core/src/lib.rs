//! pitr-core: PostgreSQL point-in-time recovery with pgBackRest, as a library.
//!
//! Data flows left to right; everything before a [`plan`] is pure:
//!
//! ```text
//! ClusterSpec ──render──► pgbackrest.conf / restore config / archive settings / crontab
//! pgbackrest.conf ──conf::parse──► NodeView (stanzas, pg1-path, repos)
//! `pgbackrest info --output=json` ──info::parse──► InfoReport ──window──► recoverable windows
//! ```
//!
//! * [`names`] — validated values (`StanzaName`, `BackupLabel`, `Lsn`, `WalSegment`, ...).
//! * [`spec`] — the cluster spec, compatible with Pigsty's variables.
//! * [`catalog`] — pgBackRest's option catalogue: names, repo types, versions, beta, secure.
//! * [`render`] — handlebars templates for every file pitr writes.
//! * [`conf`] — reads an existing `pgbackrest.conf` into a node view.
//! * [`info`] — typed `pgbackrest info --output=json`.
//! * [`history`] — timeline history files.
//! * [`archive`] — repo archive listings (`pgbackrest repo-ls`) and WAL continuity.
//! * [`window`] — the recoverable window per repo and timeline.
//! * [`target`] — recovery targets and the restore request (Pigsty's `pg_pitr`).
//! * [`check`] — the health checks of `pitr check`, with a stable code each.
//! * [`metrics`] — Prometheus metrics (pgbackrest_exporter-compatible, plus pitr's own).
//! * [`error`] — the one error type, with stable codes.

// Unit tests write their fixtures into private temporary directories.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod api;
pub mod archive;
pub mod catalog;
pub mod check;
pub mod conf;
pub mod error;
pub mod fmt;
pub mod history;
pub mod info;
pub mod marks;
pub mod metrics;
pub mod names;
pub mod node;
pub mod ops;
pub mod plan;
pub mod recovery;
pub mod render;
pub mod run;
pub mod select;
pub mod snapshot;
pub mod spec;
pub mod target;
pub mod version;
pub mod window;

pub use error::{Error, Result};
