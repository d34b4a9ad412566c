//! `pitr backup`: back up the primary, skip on a replica; with `--patroni`, the primary is
//! the member that holds Patroni's leader lock, and a member that cannot tell fails with
//! `role_unknown` (exit 1) without running anything.

use std::process::ExitCode;

use pitr_core::names::BackupType;
use pitr_core::ops::{self, backup::skips};
use pitr_core::plan::summary::Summary;

use crate::cli::{BackupArgs, BackupKind, GlobalArgs};
use crate::output;

pub(crate) fn run(global: &GlobalArgs, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let node = super::node(global, &args.node)?;
    let kind = args.kind.map(|k| match k {
        BackupKind::Full => BackupType::Full,
        BackupKind::Diff => BackupType::Diff,
        BackupKind::Incr => BackupType::Incr,
    });
    if args.dry_run {
        let plan = ops::prepare_backup(&node, kind, args.repo, None)?;
        output::print_plan(&plan, global.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Before anything is asked: a restore in progress makes the role meaningless.
    let locked = super::lock(&node, "backup", args.wait)?;
    let plan = ops::prepare_backup(&node, kind, args.repo, None)?;
    if skips(&plan) {
        let reason = match &plan.summary {
            Summary::Backup(b) => b.reason.clone(),
            _ => None,
        };
        eprintln!(
            "pitr backup: skipped stanza {}: {}",
            node.stanza,
            reason.as_deref().unwrap_or("this instance is a replica")
        );
    }
    let outcome = ops::run_backup(plan, &ops::run_log(&node, "backup", true, false), &locked)?;
    if global.json {
        output::print_json(&outcome)?;
    }
    Ok(ExitCode::SUCCESS)
}
