//! `pitr render`: print or write a rendered file.

use std::process::ExitCode;

use pitr_core::ops::{self, render::write};
use pitr_core::spec::ClusterSpec;

use crate::cli::{GlobalArgs, RenderArgs};
use crate::output;

pub(crate) fn run(global: &GlobalArgs, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let spec = ops::complete_spec(ClusterSpec::from_file(&args.spec)?);
    let file = ops::render(&spec, args.what, args.templates.as_deref())?;
    match &args.output {
        Some(path) => {
            let owner = args
                .owner
                .as_deref()
                .unwrap_or_else(|| args.what.default_owner(&spec));
            write(path, &file, owner, 0o600)?;
        }
        None if global.json => output::print_json(&serde_json::json!({
            "template": file.id(),
            "contents": file.redacted(),
            "has_secrets": file.has_secrets(),
        }))?,
        None => output::print(file.redacted())?,
    }
    Ok(ExitCode::SUCCESS)
}
