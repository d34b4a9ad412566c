//! `pitr backup`: back up the primary, skip on a replica.

use std::process::ExitCode;

use pitr_core::names::BackupType;
use pitr_core::run::log::RunLog;
use pitr_core::run::runner::run_plan;
use pitr_core::run::user::OsUser;

use crate::cli::{BackupArgs, BackupKind, GlobalArgs};
use crate::output;

pub(crate) fn run(global: &GlobalArgs, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let node = super::node(global, &args.node)?;
    let kind = args.kind.map(|k| match k {
        BackupKind::Full => BackupType::Full,
        BackupKind::Diff => BackupType::Diff,
        BackupKind::Incr => BackupType::Incr,
    });
    let plan = pitr_core::ops::prepare_backup(&node, kind, args.repo, None)?;
    let skipped = plan.summary["skipped"] == true;
    if args.dry_run {
        if global.json {
            output::print(&(plan.to_json() + "\n"))?;
        } else {
            output::print(&pitr_core::plan::shell::to_shell(&plan))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if skipped {
        eprintln!(
            "pitr backup: skipped, this instance of {} is a replica; backups run on the primary",
            node.stanza
        );
        if global.json {
            output::print_json(&serde_json::json!({"skipped": true, "plan": plan}))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let owner = OsUser::lookup(&node.dbsu)?;
    let log = RunLog::open(
        &node.log_dir,
        &format!("{}-pitr-backup", node.stanza),
        true,
        Some(&owner),
    )
    .unwrap_or_else(|_| RunLog::terminal(true));
    let report = run_plan(&plan, &log)?;
    if global.json {
        output::print_json(&serde_json::json!({"skipped": false, "plan": plan, "report": report}))?;
    }
    Ok(ExitCode::SUCCESS)
}
