//! The operations the CLI and the Python module offer, end to end: gather what is needed,
//! plan, and (when asked) run. Front ends only parse their input and print or return results.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::info::StatusCode;
use crate::marks::MarkRecord;
use crate::names::{BackupType, RestorePointName, SafePath};
use crate::node::Node;
use crate::plan::Plan;
use crate::plan::backup::{BackupFacts, plan_backup};
use crate::render::Renderer;
use crate::run::facts;
use crate::run::pgbackrest::RepoSnapshot;
use crate::run::tools::{self, Tools};
use crate::select::{RepoState, Selection, select};
use crate::target::{RepoChoice, RestoreRequest};

/// Knobs of a restore that are not part of the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestoreOptions {
    /// Where to write the restore config (beside pgbackrest.conf when `None`).
    pub restore_config_path: Option<SafePath>,
    /// Seconds to wait for recovery (one hour when 0).
    pub timeout_secs: u64,
}

/// A planned restore with the facts behind it.
#[derive(Debug, Clone)]
pub struct PreparedRestore {
    /// The plan.
    pub plan: Plan,
    /// The chosen set and why.
    pub selection: Selection,
}

/// The node to restore with, after the request's `cluster` and `repo` are applied.
fn node_for(node: &Node, request: &RestoreRequest) -> Result<(Node, Option<Vec<u32>>)> {
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
            Some(vec![u32::from(*i)])
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
            Some(vec![u32::from(found.index)])
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
    node.pgbackrest(&tools::pgbackrest()?)?.snapshot()
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
        node.version = crate::run::pgbackrest::installed_version(&tools.pgbackrest).ok();
    }
    let snapshot = match snapshot {
        Some(s) => s,
        None => node.pgbackrest(&tools.pgbackrest)?.snapshot()?,
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
    let facts = facts::gather(&data);
    let timeout = if options.timeout_secs == 0 {
        3600
    } else {
        options.timeout_secs
    };
    let site = node.restore_site(
        &tools.pg_bin_dir,
        &tools.pgbackrest,
        options.restore_config_path.clone(),
        timeout,
    );
    let mut plan =
        crate::plan::restore::plan_restore(&site, request, &selection, &facts, &Renderer::new())?;
    crate::run::runner::check_paths(&plan)?;
    // E.g. a repo whose archive could not be listed: holes in it would go unnoticed.
    plan.warnings
        .splice(0..0, snapshot.warnings.iter().cloned());
    Ok(PreparedRestore { plan, selection })
}

/// The role of the local instance, as `pitr backup` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Accepts writes.
    Primary,
    /// In recovery (streaming replica or standby).
    Replica,
}

/// Plans a backup on `node`: asks PostgreSQL for its role unless `role` is given, and
/// pgBackRest whether the stanza exists.
pub fn prepare_backup(
    node: &Node,
    kind: Option<BackupType>,
    repo: Option<u32>,
    role: Option<Role>,
) -> Result<Plan> {
    let tools_bin = tools::pgbackrest()?;
    let role = match role {
        Some(r) => r,
        None if node.endpoint().is_in_recovery()? => Role::Replica,
        None => Role::Primary,
    };
    let stanza_exists = if role == Role::Replica {
        true
    } else {
        let info = node.pgbackrest(&tools_bin)?.info()?;
        info.stanza(node.stanza.as_str()).is_ok_and(|s| {
            !matches!(
                s.status.code,
                StatusCode::MissingStanzaPath | StatusCode::MissingStanzaData
            )
        })
    };
    Ok(plan_backup(
        &node.backup_site(&tools_bin),
        kind,
        repo,
        BackupFacts {
            in_recovery: role == Role::Replica,
            stanza_exists,
        },
    ))
}

/// What `pitr mark` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkResult {
    /// The restore point.
    pub mark: MarkRecord,
    /// `repoN: label` of each backup set the mark was recorded on.
    pub recorded_on: Vec<String>,
    /// Why it could not be recorded somewhere.
    pub warnings: Vec<String>,
}

/// Creates a restore point, records it on the newest backup set of every repo, and waits until
/// its WAL is archived (`pgbackrest check`).
pub fn mark(node: &Node, name: &RestorePointName) -> Result<MarkResult> {
    let bin = tools::pgbackrest()?;
    let record = node.endpoint().create_restore_point(name)?;
    let pgb = node.pgbackrest(&bin)?;
    let info = pgb.info()?;
    let stanza = info.stanza(node.stanza.as_str())?;
    let mut recorded_on = Vec::new();
    let mut warnings = Vec::new();
    for repo in stanza.repo.iter().filter(|r| r.status.code.is_ok()) {
        let newest = stanza
            .backups_in_repo(repo.key)
            .max_by_key(|b| (b.timestamp.stop, b.label.clone()));
        match newest {
            Some(b) => match pgb.annotate(repo.key, b.label.as_str(), &record.annotation()) {
                Ok(()) => recorded_on.push(format!("repo{}: {}", repo.key, b.label)),
                Err(e) => warnings.push(format!("repo{}: {e}", repo.key)),
            },
            None => warnings.push(format!(
                "repo{} has no backup set to record the mark on; a restore to it will need \
                 --set or --before",
                repo.key
            )),
        }
    }
    // Wait until the restore point's WAL is archived, so a restore can reach it right away.
    if let Err(e) = pgb.check() {
        warnings.push(format!(
            "the WAL holding the restore point may not be archived yet ({e}); a restore to it \
             is refused until it is"
        ));
    }
    Ok(MarkResult {
        mark: record,
        recorded_on,
        warnings,
    })
}
