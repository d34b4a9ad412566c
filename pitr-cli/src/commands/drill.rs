//! `pitr drill`: restore a clone beside the cluster, check it, time it, remove it.

use std::process::ExitCode;

use pitr_core::names::SafePath;
use pitr_core::ops::drill::{self, DrillOptions, DrillTarget};
use pitr_core::spec::ClusterSpec;

use crate::cli::{DrillArgs, GlobalArgs};
use crate::{output, text};

fn target(args: &DrillArgs) -> anyhow::Result<DrillTarget> {
    Ok(if let Some(t) = &args.time {
        DrillTarget::Time(t.parse()?)
    } else if let Some(n) = &args.name {
        DrillTarget::Name(n.parse()?)
    } else if let Some(l) = &args.lsn {
        DrillTarget::Lsn(l.parse()?)
    } else if args.random {
        DrillTarget::Random(args.seed)
    } else {
        DrillTarget::End
    })
}

pub(crate) fn run(global: &GlobalArgs, args: &DrillArgs) -> anyhow::Result<ExitCode> {
    let scratch = args
        .scratch
        .as_deref()
        .map(|p| SafePath::from_path("--scratch", "pitr's arguments", p))
        .transpose()?;
    let options = DrillOptions {
        target: target(args)?,
        scratch,
        timeout_secs: args.timeout,
        amcheck: !args.no_amcheck,
        assertions: match &args.spec {
            Some(path) => ClusterSpec::from_file(path)?.drill_assertions,
            None => Vec::new(),
        },
    };
    let node = super::node(global, &args.node)?;
    if args.cleanup {
        let removed = drill::cleanup(&node, options.scratch.as_ref(), !args.no_record)?;
        if global.json {
            output::print_json(&removed)?;
        } else {
            output::print(&text::drill_cleanup(&removed))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let log = pitr_core::ops::run_log(&node, "drill", !global.json, false);
    let (record, error) = drill::drill(&node, &options, &log, !args.no_record);
    if global.json {
        output::print_json(&record)?;
    } else {
        output::print(&text::drill(&record))?;
    }
    match error {
        Some(e) => Err(e.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
