//! A point-in-time restore: gather what pgBackRest and the node say, select, check, plan
//! ([`prepare_restore`]); then run the plan and prove the target ([`run_restore`]).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::info::StatusCode;
use crate::names::{RepoIndex, SafePath};
use crate::node::Node;
use crate::plan::Plan;
use crate::render::Renderer;
use crate::run::facts;
use crate::run::log::RunLog;
use crate::run::pgbackrest::PgBackRest;
use crate::run::runner::{self, RunReport};
use crate::run::tools::{self, Tools};
use crate::select::{RepoState, Selection, select};
use crate::snapshot::RepoSnapshot;
use crate::target::{RepoChoice, RestoreRequest};

/// Knobs of a restore that are not part of the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestoreOptions {
    /// Where to write the restore config (beside pgbackrest.conf when `None`).
    pub restore_config_path: Option<SafePath>,
    /// Seconds to wait for recovery (one hour when 0).
    pub timeout_secs: u64,
    /// The data directory is a Patroni member's, planned as part of a cluster restore
    /// ([`crate::ops::cluster`]): PostgreSQL is stopped by the cluster plan before this plan
    /// runs (so no stop step), and its port is passed on the command line as Patroni does.
    pub under_patroni: bool,
}

/// A planned restore with the facts behind it.
#[derive(Debug, Clone, Serialize)]
pub struct PreparedRestore {
    /// The plan.
    pub plan: Plan,
    /// The chosen set and why.
    pub selection: Selection,
}

/// The node to restore with, after the request's `cluster` and `repo` are applied.
fn node_for(node: &Node, request: &RestoreRequest) -> Result<(Node, Option<Vec<RepoIndex>>)> {
    let mut node = node.clone();
    if let Some(c) = &request.cluster {
        node.stanza = c.clone();
    }
    let repos = match &request.repo {
        None => None,
        Some(RepoChoice::Index(i)) => {
            if !node.repos.iter().any(|r| r.index == *i) {
                return Err(Error::InvalidSetting {
                    key: "repo".into(),
                    context: "restore request".into(),
                    message: format!(
                        "repo{i} is not configured on this node; configured: {}",
                        node.repos
                            .iter()
                            .map(|r| format!("repo{}", r.index))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            Some(vec![*i])
        }
        Some(RepoChoice::Name(name)) => {
            let found = node.repos.iter().find(|r| &r.name == name).ok_or_else(|| {
                Error::InvalidSetting {
                    key: "repo".into(),
                    context: "restore request".into(),
                    message: format!(
                        "no repo named '{name}' is in use; in use: {}",
                        node.repos
                            .iter()
                            .map(|r| r.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            })?;
            Some(vec![found.index])
        }
        Some(RepoChoice::Definition(_)) => {
            return Err(Error::InvalidSetting {
                key: "repo".into(),
                context: "restore request".into(),
                message: "an inline repo definition needs a spec that defines it in \
                          pgbackrest_repo; name it there and pass its name"
                    .into(),
            });
        }
    };
    Ok((node, repos))
}

/// Gathers what pgBackRest knows about the node's stanza.
pub fn snapshot(node: &Node) -> Result<RepoSnapshot> {
    PgBackRest::of(node, &tools::pgbackrest()?)?.snapshot()
}

/// Plans a restore on `node`. `snapshot` is gathered with pgBackRest when `None`.
pub fn prepare_restore(
    node: &Node,
    request: &RestoreRequest,
    options: &RestoreOptions,
    snapshot: Option<RepoSnapshot>,
) -> Result<PreparedRestore> {
    let (mut node, repos) = node_for(node, request)?;
    let data = request.data.clone().unwrap_or_else(|| node.data.clone());
    // The binaries must match the data: the node's own directory tells the major version.
    let version_dir = if data.join("PG_VERSION").is_file() {
        &data
    } else {
        &node.data
    };
    let tools = Tools::locate(node.pg_bin_dir.as_deref(), Some(version_dir))?;
    if node.version.is_none() {
        // The restore config depends on it (`repo-block` needs `beta=y` on 2.45); a node read
        // from pgbackrest.conf does not know it.
        node.version = super::pgbackrest_version(&tools.pgbackrest);
    }
    let snapshot = match snapshot {
        Some(s) => s,
        None => PgBackRest::of(&node, &tools.pgbackrest)?.snapshot()?,
    };
    let stanza = snapshot.stanza(&node.stanza)?;
    if matches!(
        stanza.status.code,
        StatusCode::MissingStanzaPath | StatusCode::MissingStanzaData
    ) {
        stanza.ensure_ok()?;
    }
    let selection = select(
        RepoState {
            stanza,
            histories: &snapshot.histories,
            listings: &snapshot.listings,
            marks: &snapshot.marks,
        },
        request,
        repos.as_deref(),
    )?;
    let mut facts = facts::gather(&data);
    if options.under_patroni {
        facts.postmaster_pid = None;
    }
    let timeout = if options.timeout_secs == 0 {
        3600
    } else {
        options.timeout_secs
    };
    let mut site = node.restore_site(
        &tools.pg_bin_dir,
        &tools.pgbackrest,
        options.restore_config_path.clone(),
        timeout,
    );
    site.patroni_member = options.under_patroni;
    let mut plan =
        crate::plan::restore::plan_restore(&site, request, &selection, &facts, &Renderer::new())?;
    runner::check_paths(&plan)?;
    // E.g. a repo whose archive could not be listed: holes in it would go unnoticed.
    plan.warnings
        .splice(0..0, snapshot.warnings.iter().cloned());
    Ok(PreparedRestore { plan, selection })
}

/// What a restore did; the document `pitr restore --json` prints and Python's `Plan.run()`
/// returns.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    /// The plan that ran (secrets redacted when serialized).
    pub plan: Plan,
    /// The chosen set and why.
    pub selection: Selection,
    /// The steps that ran and the verified stop point.
    pub report: RunReport,
}

/// Runs a prepared restore, logging into `log`.
pub fn run_restore(prepared: PreparedRestore, log: &RunLog) -> Result<RestoreOutcome> {
    let report = runner::run_plan(&prepared.plan, log)?;
    Ok(RestoreOutcome {
        plan: prepared.plan,
        selection: prepared.selection,
        report,
    })
}
