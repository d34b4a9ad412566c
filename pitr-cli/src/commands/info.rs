//! `pitr info`: backup sets and recoverable windows.

use std::process::ExitCode;

use crate::cli::{GlobalArgs, NodeArgs};
use crate::{output, text};

pub(crate) fn run(global: &GlobalArgs, args: &NodeArgs) -> anyhow::Result<ExitCode> {
    let node = super::node(global, args)?;
    let doc = pitr_core::ops::info(&node)?;
    for w in &doc.warnings {
        eprintln!("warning: {w}");
    }
    if global.json {
        output::print_json(&doc)?;
    } else {
        output::print(&text::info(&doc))?;
    }
    Ok(ExitCode::SUCCESS)
}
