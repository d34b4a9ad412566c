//! Operations: what a front end asks for, end to end — the one layer the CLI, the Python module
//! and through it the Ansible modules call for anything that touches the world.
//!
//! A front end parses its input into core values (a [`Node`](crate::node::Node) from a spec or
//! from `pgbackrest.conf`, a [`RestoreRequest`](crate::target::RestoreRequest), ...), calls one
//! function here, and prints or returns the outcome; the outcome types serialise to the same
//! JSON document in both (`pitr restore --json` and Python's `Plan.run()`, for instance).
//!
//! * [`render`](mod@render) — a spec's files, and writing one safely;
//! * [`restore`] — select, check, plan ([`prepare_restore`]) and run ([`run_restore`]);
//! * [`cluster`] — the same for a whole Patroni cluster: pre-flight of every member and the
//!   DCS, the phases as data ([`prepare_cluster_restore`]), run ([`run_cluster_restore`]);
//! * [`backup`] — plan and run a backup on the primary, skip on a replica;
//! * [`continuity`](mod@continuity) — push from a new primary's `pg_wal` what the archive
//!   lacks, by hand or from Patroni's `on_role_change` callback;
//! * [`service`] — start or stop PostgreSQL around a restore;
//! * [`mark`](mod@mark) — a restore point a restore can place;
//! * [`info`](mod@info) — backup sets, windows and marks of a stanza;
//! * [`check`] — could this node be restored now;
//! * [`log`] — the run log, secrets masked;
//! * [`sandbox`] — the demo `make demo` runs, on a throwaway cluster;
//! * [`exporter`] — the metrics refresh `pitr exporter` serves.

pub mod backup;
pub mod check;
pub mod cluster;
pub mod continuity;
pub mod exporter;
pub mod info;
pub mod log;
pub mod mark;
pub mod render;
pub mod restore;
pub mod sandbox;
pub mod service;

pub use backup::{BackupOutcome, prepare_backup, run_backup};
pub use cluster::{
    ClusterOptions, ClusterOutcome, PreparedClusterRestore, prepare_cluster_restore,
    run_cluster_restore,
};
pub use continuity::{ContinuityOutcome, continuity, patroni_callback};
pub use info::{InfoDoc, info};
pub use log::run_log;
pub use mark::{MarkResult, mark};
pub use render::{RenderWhat, render};
pub use restore::{PreparedRestore, RestoreOptions, RestoreOutcome, prepare_restore, run_restore};
pub use service::prepare_service;

use std::path::Path;

use crate::spec::ClusterSpec;
use crate::version::Version;

/// The version of the pgBackRest executable `bin`, when it answers.
pub fn pgbackrest_version(bin: &Path) -> Option<Version> {
    crate::run::pgbackrest::installed_version(bin).ok()
}

/// The installed pgBackRest's version, when `pgbackrest` is on `PATH` and answers.
pub fn installed_pgbackrest_version() -> Option<Version> {
    pgbackrest_version(&crate::run::tools::pgbackrest().ok()?)
}

/// A spec completed from the node: when it does not say which pgBackRest it is for, the
/// installed one's version (as `pitr render` and every front end does).
pub fn complete_spec(mut spec: ClusterSpec) -> ClusterSpec {
    if spec.pgbackrest_version.is_none() {
        spec.pgbackrest_version = installed_pgbackrest_version();
    }
    spec
}
