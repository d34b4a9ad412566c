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
//! * [`drill`] — restore a clone beside the cluster, check it, time it, remove it;
//! * [`log`] — the run log, secrets masked;
//! * [`sandbox`] — the demos `make demo` and `make demo-ha` run, on a throwaway cluster (with
//!   `--ha` a Patroni cluster on etcd);
//! * [`exporter`] — the metrics refresh `pitr exporter` serves.
//!
//! Whatever acts on a stanza — restore, backup, mark, continuity — first takes the stanza's
//! lock on this node ([`lock_stanza`], see [`crate::run::lock`]) and hands the [`Locked`] proof
//! to the operation; a second one fails at once with `stanza_locked` (or queues, asked to
//! wait). Under the lock, an interrupted restore recorded in the run journal
//! ([`crate::run::journal`]) stops every other command with `run_interrupted` until it is
//! completed, undone or abandoned ([`restore`]).

pub mod backup;
pub mod check;
pub mod cluster;
pub mod continuity;
pub mod drill;
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
    ClusterOptions, ClusterOutcome, PHASES, PhaseArgs, PhaseOutcome, PhaseRun,
    PreparedClusterRestore, abandon_cluster_restore, abandon_new_cluster, prepare_cluster_or_new,
    prepare_cluster_restore, prepare_new_cluster, run_cluster_phase, run_cluster_restore,
    undo_cluster_restore, undo_new_cluster,
};
pub use continuity::{ContinuityOutcome, continuity, patroni_callback};
pub use info::{InfoDoc, info};
pub use log::run_log;
pub use mark::{MarkResult, mark};
pub use render::{RenderWhat, render};
pub use restore::{
    PreparedRestore, RestoreOptions, RestoreOutcome, explain_failure, prepare_restore, run_restore,
};
pub use service::prepare_service;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::node::Node;
use crate::run::journal::{self, RunRecord};
use crate::run::lock::{self, StanzaLock, Wait};
use crate::run::user::OsUser;
use crate::spec::ClusterSpec;
use crate::version::Version;

/// The stanza's lock on this node, held: what every operation that acts takes as proof. It
/// also knows where the stanza's run journal is.
#[derive(Debug)]
pub struct Locked {
    lock: StanzaLock,
    journal: PathBuf,
    cluster_journal: PathBuf,
    owner: Option<OsUser>,
}

/// The lock's command of a whole-cluster restore.
pub const CLUSTER_COMMAND: &str = "restore --cluster";

impl Locked {
    /// The lock file.
    pub fn path(&self) -> &Path {
        self.lock.path()
    }

    /// The run journal of the stanza.
    pub fn journal_path(&self) -> &Path {
        &self.journal
    }

    /// The run journal of the stanza's whole-cluster restores.
    pub fn cluster_journal_path(&self) -> &Path {
        &self.cluster_journal
    }

    /// The journal's record of the stanza's last whole-cluster restore on this node, if any.
    pub fn last_cluster_run(&self) -> Result<Option<RunRecord>> {
        journal::load(&self.cluster_journal, self.owner.as_ref())
    }

    /// Who owns the directories of the lock and the journal besides root (the database
    /// superuser).
    pub fn owner(&self) -> Option<&OsUser> {
        self.owner.as_ref()
    }

    /// Refuses a plan for another stanza than the one locked.
    pub fn check(&self, stanza: &str) -> Result<()> {
        if self.lock.stanza() == stanza {
            Ok(())
        } else {
            Err(Error::PlanNotRunnable {
                reason: format!(
                    "the plan is for stanza '{stanza}' but the lock held is stanza '{}''s",
                    self.lock.stanza()
                ),
            })
        }
    }

    /// The journal's record of the stanza's last run, if any.
    pub fn last_run(&self) -> Result<Option<RunRecord>> {
        journal::load(&self.journal, self.owner.as_ref())
    }

    /// Runs `plan` recorded in the stanza's run journal, as a new run of its kind whose request
    /// is the plan's summary (for plans whose re-run is simply another run: backups, pushes).
    pub fn run_plan(
        &self,
        plan: &crate::plan::Plan,
        log: &crate::run::log::RunLog,
    ) -> Result<crate::run::runner::RunReport> {
        self.check(&plan.stanza)?;
        let request = serde_json::to_value(&plan.summary).unwrap_or_default();
        let mut record = RunRecord::new(plan.kind().as_str(), &plan.stanza, request);
        record.set_plan(plan);
        record.log_offsets = crate::run::runner::log_offsets(plan);
        let mut journal = journal::Journal::begin(&self.journal, self.owner.clone(), record)?;
        crate::run::runner::run_journaled(plan, log, Some(&mut journal))
    }

    /// Refuses while a restore of the stanza is interrupted: nothing may run against a
    /// half-restored data directory.
    pub fn check_no_interrupted_restore(&self) -> Result<()> {
        self.check_no_interrupted_node_restore()?;
        self.check_no_interrupted_cluster_restore()
    }

    /// Refuses while a restore of the stanza's data directory on this node is interrupted.
    fn check_no_interrupted_node_restore(&self) -> Result<()> {
        match self.last_run()? {
            Some(r) if r.is_interrupted() && r.kind == "restore" => Err(interrupted(&r)),
            _ => Ok(()),
        }
    }

    /// Refuses while a whole-cluster restore of the stanza is interrupted on this node.
    pub fn check_no_interrupted_cluster_restore(&self) -> Result<()> {
        match self.last_cluster_run()? {
            Some(r) if r.is_interrupted() && r.kind == crate::plan::cluster::CLUSTER_RESTORE => {
                Err(interrupted(&r))
            }
            _ => Ok(()),
        }
    }
}

/// The error for an interrupted run that blocks what was asked.
pub fn interrupted(r: &RunRecord) -> Error {
    Error::RunInterrupted {
        run_id: r.run_id.clone(),
        stanza: r.stanza.clone(),
        what: format!("pitr {} started {} by pid {}", r.kind, r.started, r.pid),
        step: r
            .current_step()
            .unwrap_or("before its first step")
            .to_owned(),
        hint: if r.kind == crate::plan::cluster::CLUSTER_RESTORE
            && r.plan.as_ref().is_some_and(|p| !p["new_cluster"].is_null())
        {
            "nothing was done. Re-run the same `pitr restore --cluster --new-cluster` to remove \
             what the run created of the new cluster and restore again, or add --undo to only \
             remove it, or --abandon to leave everything as it is and forget the run (see \
             docs/cluster-pitr.md)"
        } else if r.kind == crate::plan::cluster::CLUSTER_RESTORE {
            "nothing was done. Re-run the same `pitr restore --cluster` to bring the cluster back \
             as it was (or, past the point of no return, to complete it), or `pitr restore \
             --cluster --abandon` to leave everything as it is and forget the run (see \
             docs/cluster-pitr.md)"
        } else {
            "nothing was done. Re-run the same restore to complete it (or, when it cannot be \
             completed, put its safety copy back), or run `pitr restore --undo` to put the \
             safety copy back now, or `pitr restore --abandon` to leave everything as it is \
             and forget the run (see docs/restore.md)"
        }
        .into(),
    }
}

/// The error for a plan that continues run `run_id`, found no longer interrupted under the lock.
pub(crate) fn no_longer_interrupted(run_id: &str) -> Error {
    Error::PlanNotRunnable {
        reason: format!(
            "the plan continues run {run_id}, which is no longer interrupted (another pitr \
             completed or undid it): plan again"
        ),
    }
}

/// Takes the lock of `node`'s stanza on this node for `command` (see [`crate::run::lock`]):
/// fails with `stanza_locked` when another pitr holds it, unless `wait`, when `on_wait` is told
/// who holds it and the call blocks until it is free. Commands other than `restore` are then
/// refused while a restore of the stanza is interrupted (`run_interrupted`); commands other
/// than [`CLUSTER_COMMAND`] while a whole-cluster restore is.
pub fn lock_stanza(
    node: &Node,
    command: &str,
    wait: bool,
    on_wait: &dyn Fn(&str),
) -> Result<Locked> {
    let owner = OsUser::lookup(&node.dbsu).ok();
    let dir = node
        .lock_dir
        .as_deref()
        .map_or_else(|| PathBuf::from(lock::DEFAULT_LOCK_DIR), Path::to_path_buf);
    let lock = StanzaLock::acquire(
        &dir,
        node.stanza.as_str(),
        command,
        if wait { Wait::Yes } else { Wait::No },
        owner.as_ref(),
        on_wait,
    )?;
    let locked = Locked {
        lock,
        journal: journal::journal_path(&node.log_dir, node.stanza.as_str()),
        cluster_journal: journal::cluster_journal_path(&node.log_dir, node.stanza.as_str()),
        owner,
    };
    match command {
        // A restore finds its own interrupted run, to complete or undo it.
        "restore" => locked.check_no_interrupted_cluster_restore()?,
        // A cluster restore finds its own interrupted run.
        CLUSTER_COMMAND => locked.check_no_interrupted_node_restore()?,
        _ => locked.check_no_interrupted_restore()?,
    }
    Ok(locked)
}

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
