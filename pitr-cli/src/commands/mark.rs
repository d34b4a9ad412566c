//! `pitr mark NAME`: a restore point a later restore can place.

use std::process::ExitCode;

use pitr_core::names::RestorePointName;

use crate::cli::{GlobalArgs, MarkArgs};
use crate::output;

pub(crate) fn run(global: &GlobalArgs, args: &MarkArgs) -> anyhow::Result<ExitCode> {
    let name: RestorePointName = args.name.parse()?;
    let node = super::node(global, &args.node)?;
    let result = pitr_core::ops::mark(&node, &name)?;
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    if global.json {
        output::print_json(&result)?;
    } else {
        output::print(&format!(
            "restore point '{}' at {} on timeline {} ({}); recorded on {}\n",
            result.mark.name,
            result.mark.lsn,
            result.mark.timeline,
            result.mark.time,
            if result.recorded_on.is_empty() {
                "no backup set".to_owned()
            } else {
                result.recorded_on.join(", ")
            }
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
