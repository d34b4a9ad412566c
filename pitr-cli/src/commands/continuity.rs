//! `pitr continuity`: push from the primary's `pg_wal` what the archive lacks.

use std::process::ExitCode;

use pitr_core::ops::continuity::{ContinuityOutcome, prepare_continuity, run_continuity, skips};
use pitr_core::ops::run_log;

use crate::cli::{ContinuityArgs, GlobalArgs};
use crate::{output, text};

pub(crate) fn run(global: &GlobalArgs, args: &ContinuityArgs) -> anyhow::Result<ExitCode> {
    let node = super::node(global, &args.node)?;
    // Dry runs too: pg_wal and the archive of a stanza being restored say nothing true.
    let locked = super::lock(&node, "continuity", args.wait)?;
    let plan = prepare_continuity(&node)?;
    if args.dry_run {
        if global.json {
            output::print_json(&ContinuityOutcome {
                skipped: skips(&plan),
                dry_run: true,
                plan,
                report: None,
            })?;
        } else {
            output::print_plan(&plan, false)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if skips(&plan) {
        eprintln!(
            "pitr continuity: skipped, this instance of {} is a replica; the primary pushes",
            node.stanza
        );
    }
    let outcome = run_continuity(plan, &run_log(&node, "continuity", true, false), &locked)?;
    if global.json {
        output::print_json(&outcome)?;
    } else if !outcome.skipped {
        output::print(&text::continuity(&outcome))?;
    }
    Ok(ExitCode::SUCCESS)
}
