//! pitr-core: PostgreSQL point-in-time recovery with pgBackRest, as a library.
//!
//! Data flows left to right; everything before a [`plan`] is pure, effects live in [`run`],
//! and [`ops`] composes them for the front ends (the `pitr` CLI, the Python module):
//!
//! ```text
//! ClusterSpec ──render──► pgbackrest.conf / restore config / archive settings / crontab
//! pgbackrest.conf ──conf::parse──► Node (stanza, pg1-path, repos)
//! `pgbackrest info --output=json` ──info::parse──► InfoReport ──window──► recoverable windows
//! RestoreRequest + RepoSnapshot ──select──► Selection ──plan──► Plan ──run──► RunReport
//! server log records ──recovery──► RecoveryOutcome ──verify──► VerifiedStop
//! Patroni `GET /primary` + pg_is_in_recovery() ──role──► Role (or role_unknown) ──► backup Plan
//! ```
//!
//! Modules by layer, each using only those above it in this list:
//!
//! * values — [`error`] (the one error type, with stable codes), [`names`] (validated values:
//!   `StanzaName`, `SafePath`, `Lsn`, `WalSegment`, `Secret`, ...), [`version`] (pgBackRest
//!   versions), [`catalog`] (pgBackRest's options: names, repo types, versions, beta, secure),
//!   [`fmt`] (times and sizes for people).
//! * model and parsers — [`spec`] (the cluster spec, Pigsty's variables), [`target`] (recovery
//!   targets and the restore request, Pigsty's `pg_pitr`), [`conf`] (an existing
//!   `pgbackrest.conf`), [`node`] (one node's stanza, paths and repos, from a spec or a conf),
//!   [`info`] (typed `pgbackrest info --output=json`), [`history`] (timeline history files),
//!   [`archive`] (repo archive listings and WAL continuity), [`marks`] (restore points recorded
//!   by `pitr mark`), [`snapshot`] (what pgBackRest knows about a stanza, gathered once),
//!   [`patroni`] (where a member's Patroni REST API is, and what it answered).
//! * judgement — [`window`] (the recoverable window per repo and timeline), [`continuity`]
//!   (WAL missing from a repo along the cluster's history, and what a primary's `pg_wal` can
//!   still close), [`select`] (the
//!   backup set for a target), [`check`] (the verdicts of `pitr check`), [`recovery`] (server
//!   log records, what they mean, whether recovery stopped at the target), [`render`]
//!   (handlebars templates for every file pitr writes), [`progress`] (a restore's progress from
//!   pgBackRest's output), [`metrics`] (Prometheus exposition), [`role`] (primary or replica,
//!   from Patroni checked against PostgreSQL, or from PostgreSQL alone).
//! * plans — [`plan`] (restore, backup and service plans as data; their shell rendering).
//! * effects — [`run`] (programs as the database superuser, safe file writes, the run log,
//!   pgBackRest, PostgreSQL and Patroni probes, the runner, the recovery watcher, the
//!   exporter's refresh).
//! * operations and adapters — [`ops`] (what a front end asks for, end to end), [`api`] (JSON
//!   values in and out, for the Python module).
//!
//! Reading input files (a spec, a config, user templates) happens where they are parsed; every
//! other effect is in [`run`].

// Unit tests write their fixtures into private temporary directories and run programs.
#![cfg_attr(test, allow(clippy::disallowed_methods, clippy::disallowed_types))]
// The library reports through its return values and the run log, never by printing.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod api;
pub mod archive;
pub mod catalog;
pub mod check;
pub mod conf;
pub mod continuity;
pub mod error;
pub mod fmt;
#[doc(hidden)]
pub mod fuzz;
pub mod history;
pub mod info;
pub mod marks;
pub mod metrics;
pub mod names;
pub mod node;
pub mod ops;
pub mod patroni;
pub mod plan;
pub mod progress;
pub mod quiet;
pub mod recovery;
pub mod render;
pub mod role;
pub mod run;
pub mod select;
pub mod snapshot;
pub mod spec;
pub mod target;
pub mod version;
pub mod window;

pub use error::{Error, Result};
