//! `pitr backup`: back up the primary, skip on a replica.

use std::process::ExitCode;

use pitr_core::names::BackupType;
use pitr_core::ops::{self, backup::skips};

use crate::cli::{BackupArgs, BackupKind, GlobalArgs};
use crate::output;

pub(crate) fn run(global: &GlobalArgs, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let node = super::node(global, &args.node)?;
    let kind = args.kind.map(|k| match k {
        BackupKind::Full => BackupType::Full,
        BackupKind::Diff => BackupType::Diff,
        BackupKind::Incr => BackupType::Incr,
    });
    let plan = ops::prepare_backup(&node, kind, args.repo, None)?;
    if args.dry_run {
        output::print_plan(&plan, global.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if skips(&plan) {
        eprintln!(
            "pitr backup: skipped, this instance of {} is a replica; backups run on the primary",
            node.stanza
        );
    }
    let outcome = ops::run_backup(plan, &ops::run_log(&node, "backup", true, false))?;
    if global.json {
        output::print_json(&outcome)?;
    }
    Ok(ExitCode::SUCCESS)
}
