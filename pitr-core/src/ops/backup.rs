//! A backup from cron on every node: only the primary backs up ([`prepare_backup`],
//! [`run_backup`]).
//!
//! The role comes from Patroni when the node has it ([`Node::patroni`]: ask its REST API, then
//! `pg_is_in_recovery()`, and let [`crate::role::from_patroni`] decide), else from
//! `pg_is_in_recovery()` alone; a member that cannot tell gets [`Error::RoleUnknown`] and
//! nothing runs. See [`role_of`].

use serde::Serialize;

use crate::error::{Error, Result};
use crate::info::StatusCode;
use crate::names::{BackupType, RepoIndex};
use crate::node::Node;
use crate::plan::Plan;
use crate::plan::backup::{BackupFacts, plan_backup};
use crate::plan::summary::Summary;
use crate::role::{self, PatroniFacts, Role, RoleFinding};
use crate::run::log::RunLog;
use crate::run::pgbackrest::PgBackRest;
use crate::run::probe::Endpoint;
use crate::run::runner::RunReport;
use crate::run::tools;

/// The role of `node`'s instance: from Patroni when the node has it configured, checked
/// against `pg_is_in_recovery()`; else from `pg_is_in_recovery()`.
///
/// With Patroni, every way of not knowing — the REST API unreachable, no leader lock, Patroni
/// and PostgreSQL disagreeing, PostgreSQL not running or not answering — is
/// [`Error::RoleUnknown`]; without it, a PostgreSQL that does not answer is
/// [`Error::Database`], as ever.
pub fn role_of(node: &Node) -> Result<RoleFinding> {
    let Some(api) = &node.patroni else {
        return Ok(RoleFinding::from_recovery(
            Endpoint::of(node).is_in_recovery()?,
        ));
    };
    let answer = crate::run::patroni::ask_primary(api);
    let in_recovery = if answer.is_ok() {
        Endpoint::of(node).is_in_recovery().map_err(|e| match e {
            Error::Database { message, .. } => message,
            other => other.to_string(),
        })
    } else {
        Err("not asked".to_owned())
    };
    role::from_patroni(&PatroniFacts {
        url: &api.url,
        stanza: &node.stanza,
        answer,
        in_recovery,
        now: jiff::Timestamp::now().as_second(),
    })
}

/// Plans a backup on `node`: decides its role ([`role_of`]) unless `role` is given, and asks
/// pgBackRest whether the stanza exists.
pub fn prepare_backup(
    node: &Node,
    kind: Option<BackupType>,
    repo: Option<RepoIndex>,
    role: Option<Role>,
) -> Result<Plan> {
    let bin = tools::pgbackrest()?;
    let role = match role {
        Some(r) => RoleFinding::given(r),
        None => role_of(node)?,
    };
    let stanza_exists = role.role == Role::Replica || {
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
        &BackupFacts {
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

/// Runs a backup plan unless it skips, under the stanza's lock.
pub fn run_backup(plan: Plan, log: &RunLog, locked: &super::Locked) -> Result<BackupOutcome> {
    if skips(&plan) {
        return Ok(BackupOutcome {
            skipped: true,
            plan,
            report: None,
        });
    }
    let report = locked.run_plan(&plan, log)?;
    Ok(BackupOutcome {
        skipped: false,
        plan,
        report: Some(report),
    })
}
