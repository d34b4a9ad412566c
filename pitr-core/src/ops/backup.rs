//! A backup from cron on every node: only the primary backs up ([`prepare_backup`],
//! [`run_backup`]).

use serde::Serialize;

use crate::error::Result;
use crate::info::StatusCode;
use crate::names::{BackupType, RepoIndex};
use crate::node::Node;
use crate::plan::Plan;
use crate::plan::backup::{BackupFacts, plan_backup};
use crate::plan::summary::{Role, Summary};
use crate::run::log::RunLog;
use crate::run::pgbackrest::PgBackRest;
use crate::run::probe::Endpoint;
use crate::run::runner::{self, RunReport};
use crate::run::tools;

/// Plans a backup on `node`: asks PostgreSQL for its role unless `role` is given, and
/// pgBackRest whether the stanza exists.
pub fn prepare_backup(
    node: &Node,
    kind: Option<BackupType>,
    repo: Option<RepoIndex>,
    role: Option<Role>,
) -> Result<Plan> {
    let bin = tools::pgbackrest()?;
    let role = match role {
        Some(r) => r,
        None if Endpoint::of(node).is_in_recovery()? => Role::Replica,
        None => Role::Primary,
    };
    let stanza_exists = role == Role::Replica || {
        let info = PgBackRest::of(node, &bin)?.info()?;
        info.stanza(node.stanza.as_str()).is_ok_and(|s| {
            !matches!(
                s.status.code,
                StatusCode::MissingStanzaPath | StatusCode::MissingStanzaData
            )
        })
    };
    Ok(plan_backup(
        &node.backup_site(&bin),
        kind,
        repo,
        BackupFacts {
            role,
            stanza_exists,
        },
    ))
}

/// What a backup did; the document `pitr backup --json` prints and Python's `Plan.run()`
/// returns for a backup plan.
#[derive(Debug, Clone, Serialize)]
pub struct BackupOutcome {
    /// Whether the backup was skipped (the instance is a replica).
    pub skipped: bool,
    /// The plan.
    pub plan: Plan,
    /// The run's report (absent when skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<RunReport>,
}

/// Whether a backup plan skips (the instance is a replica).
pub fn skips(plan: &Plan) -> bool {
    matches!(&plan.summary, Summary::Backup(b) if b.skipped)
}

/// Runs a backup plan unless it skips.
pub fn run_backup(plan: Plan, log: &RunLog) -> Result<BackupOutcome> {
    if skips(&plan) {
        return Ok(BackupOutcome {
            skipped: true,
            plan,
            report: None,
        });
    }
    let report = runner::run_plan(&plan, log)?;
    Ok(BackupOutcome {
        skipped: false,
        plan,
        report: Some(report),
    })
}
