//! `pitr mark NAME`: a restore point a later restore can place.

use std::process::ExitCode;

use pitr_core::names::RestorePointName;

use crate::cli::{GlobalArgs, MarkArgs};
use crate::{output, text};

pub(crate) fn run(global: &GlobalArgs, args: &MarkArgs) -> anyhow::Result<ExitCode> {
    let name: RestorePointName = args.name.parse()?;
    let node = super::node(global, &args.node)?;
    let locked = super::lock(&node, "mark", args.wait)?;
    let result = pitr_core::ops::mark(&node, &name, &locked)?;
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    if global.json {
        output::print_json(&result)?;
    } else {
        output::print(&text::mark(&result))?;
    }
    Ok(ExitCode::SUCCESS)
}
