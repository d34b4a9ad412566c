//! Effects: running programs as the database superuser ([`exec`], [`user`], [`tools`],
//! [`pgbackrest`]), writing files safely as root ([`files`]), the run log ([`log`]), facts about
//! a data directory ([`facts`]), reading `pg_wal` without following links ([`pgwal`]), asking
//! PostgreSQL ([`probe`]) and Patroni ([`patroni`]), executing plans ([`runner`]) behind the
//! guards on destructive steps ([`guard`]), one run per stanza at a time ([`lock`]), each
//! recorded step by step ([`journal`]), following recovery ([`watch`]), gathering `pitr check`
//! ([`check`]), the exporter's refresh ([`exporter`]), serving its HTTP endpoints to untrusted
//! clients ([`serve`]), and the processes of a throwaway etcd + Patroni stack ([`ha`]).
//!
//! The rest of the library decides; this module acts. Outside it, only the parsers read the
//! files they are given (a spec, a config, templates), and [`crate::ops`] composes these
//! functions for the front ends.

// The one place that starts programs (see clippy.toml).
#![allow(clippy::disallowed_types)]

pub mod check;
pub mod cluster;
pub mod drill;
pub mod exec;
pub mod exporter;
pub mod facts;
pub mod files;
pub mod guard;
pub mod ha;
pub mod journal;
pub mod lock;
pub mod log;
pub mod patroni;
pub mod pgbackrest;
pub mod pgwal;
pub mod probe;
pub mod runner;
pub mod serve;
pub mod tools;
pub mod user;
pub mod walscan;
pub mod watch;
