//! `pitr check`: could this node be restored right now?

use std::fmt::Write as _;
use std::process::ExitCode;

use pitr_core::check::{AgeLimits, CheckReport, Status};
use pitr_core::run::check::{CheckOptions, run_checks, save_record};
use pitr_core::spec::ClusterSpec;

use crate::cli::{CheckArgs, GlobalArgs};
use crate::output;

pub(crate) fn run(global: &GlobalArgs, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let node = super::node(global, &args.node)?;
    let rendered_archive_command = match &args.spec {
        Some(path) => Some(pitr_core::check::rendered_archive_command(
            &ClusterSpec::from_file(path)?,
        )?),
        None => None,
    };
    let options = CheckOptions {
        limits: AgeLimits {
            max_full_age: args.max_full_age,
            max_backup_age: args.max_backup_age,
        },
        rendered_archive_command,
    };
    let report = run_checks(&node, &options);
    if !args.no_record {
        if let Err(e) = save_record(&node, &report) {
            eprintln!(
                "warning: pitr exporter will not see this result: error[{}]: {e}",
                e.code()
            );
        }
    }
    if global.json {
        output::print_json(&report)?;
    } else {
        output::print(&human(&report))?;
    }
    report.into_result()?;
    Ok(ExitCode::SUCCESS)
}

fn human(report: &CheckReport) -> String {
    let mut out = String::new();
    for c in &report.checks {
        let mark = match c.status {
            Status::Pass => "ok  ",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        let _ = writeln!(out, "{mark} {:<17} {}", c.check.name(), c.message);
    }
    let _ = match report.first_failure() {
        None => writeln!(
            out,
            "\nstanza {}: every check passed; a point-in-time restore is possible",
            report.stanza
        ),
        Some(f) => writeln!(
            out,
            "\nstanza {}: check {} failed ({})",
            report.stanza,
            f.check.name(),
            f.code
        ),
    };
    out
}
