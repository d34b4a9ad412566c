//! Effects: running programs as the database superuser ([`exec`], [`user`], [`tools`],
//! [`pgbackrest`]), writing files safely as root ([`files`]), the run log ([`log`]), facts about
//! a data directory ([`facts`]), reading `pg_wal` without following links ([`pgwal`]), asking
//! PostgreSQL ([`probe`]) and Patroni ([`patroni`]), executing plans ([`runner`]), following
//! recovery ([`watch`]), gathering `pitr check` ([`check`]) and the exporter's refresh
//! ([`exporter`]).
//!
//! The rest of the library decides; this module acts. Outside it, only the parsers read the
//! files they are given (a spec, a config, templates), and [`crate::ops`] composes these
//! functions for the front ends.

// The one place that starts programs (see clippy.toml).
#![allow(clippy::disallowed_types)]

pub mod check;
pub mod cluster;
pub mod exec;
pub mod exporter;
pub mod facts;
pub mod files;
pub mod log;
pub mod patroni;
pub mod pgbackrest;
pub mod pgwal;
pub mod probe;
pub mod runner;
pub mod tools;
pub mod user;
pub mod watch;
