//! `pitr check`: could this node be restored right now?

use std::process::ExitCode;

use pitr_core::ops::check::{AgeLimits, CheckOptions, check, rendered_archive_command};
use pitr_core::spec::ClusterSpec;

use crate::cli::{CheckArgs, GlobalArgs};
use crate::{output, text};

pub(crate) fn run(global: &GlobalArgs, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let node = super::node(global, &args.node)?;
    let rendered_archive_command = match &args.spec {
        Some(path) => Some(rendered_archive_command(&ClusterSpec::from_file(path)?)?),
        None => None,
    };
    let options = CheckOptions {
        limits: AgeLimits {
            max_full_age: args.max_full_age,
            max_backup_age: args.max_backup_age,
        },
        rendered_archive_command,
    };
    let (report, record_failed) = check(&node, &options, !args.no_record);
    if let Some(e) = record_failed {
        eprintln!(
            "warning: pitr exporter will not see this result: error[{}]: {e}",
            e.code()
        );
    }
    if global.json {
        output::print_json(&report)?;
    } else {
        output::print(&text::check(&report))?;
    }
    report.into_result()?;
    Ok(ExitCode::SUCCESS)
}
