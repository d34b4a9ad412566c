//! `pitr restore` (alias `pitr pitr`): Pigsty's pg-pitr, with selection, pre-flight and
//! verification.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use indexmap::IndexMap;
use jiff::tz::TimeZone;
use pitr_core::names::SafePath;
use pitr_core::ops::{RestoreOptions, prepare_restore};
use pitr_core::run::log::RunLog;
use pitr_core::run::runner::run_plan;
use pitr_core::run::user::OsUser;
use pitr_core::target::RawRequest;

use crate::cli::{ActionArg, ArchiveArg, GlobalArgs, RestoreArgs};
use crate::output;

/// Seconds of countdown on a terminal before data is destroyed.
const COUNTDOWN: u64 = 5;

fn zone(name: Option<&str>) -> anyhow::Result<Option<TimeZone>> {
    Ok(match name {
        None => None,
        Some("local") => Some(TimeZone::system()),
        Some(z) => Some(TimeZone::get(z).map_err(|_| {
            pitr_core::Error::invalid(
                "time zone",
                z,
                "expected an IANA zone name such as 'Asia/Shanghai' or 'UTC', or 'local'",
            )
        })?),
    })
}

/// The request the flags describe, validated like Pigsty's `pg_pitr` dict.
fn request(args: &RestoreArgs) -> anyhow::Result<pitr_core::target::RestoreRequest> {
    let kind = match (args.latest, args.immediate) {
        (true, true) => {
            return Err(pitr_core::Error::InvalidSetting {
                key: "--default".into(),
                context: "pitr restore".into(),
                message: "give one recovery target only, got --default and --immediate".into(),
            }
            .into());
        }
        (true, false) => Some("default".to_owned()),
        (false, true) => Some("immediate".to_owned()),
        (false, false) => None,
    };
    let action = if args.promote {
        Some("promote".to_owned())
    } else {
        args.action.map(|a| {
            match a {
                ActionArg::Pause => "pause",
                ActionArg::Promote => "promote",
                ActionArg::Shutdown => "shutdown",
            }
            .to_owned()
        })
    };
    let mut link_map = IndexMap::new();
    for item in &args.link_map {
        let (link, dest) = item.split_once('=').ok_or_else(|| {
            pitr_core::Error::invalid(
                "--link-map",
                item.as_str(),
                "expected LINK=DESTINATION, e.g. pg_wal=/pg/wal",
            )
        })?;
        link_map.insert(link.to_owned(), dest.to_owned());
    }
    let raw = RawRequest {
        kind,
        time: args.time.clone(),
        name: args.name.clone(),
        xid: args.xid.clone().map(serde_json::Value::String),
        lsn: args.lsn.clone(),
        set: args.set.clone(),
        timeline: args.timeline.clone().map(serde_json::Value::String),
        exclusive: Some(args.exclusive),
        action,
        archive: args.archive.map(|a| {
            serde_json::Value::from(match a {
                ArchiveArg::Preserve => "preserve",
                ArchiveArg::Off => "off",
            })
        }),
        db_include: Some(args.db_include.clone()),
        db_exclude: Some(args.db_exclude.clone()),
        link_map: Some(link_map),
        process: args.process,
        repo: args.repo.map(serde_json::Value::from),
        backup: Some(args.safety_copy),
        data: args.data.clone(),
        port: args.port,
        before: args.before.clone(),
        extra: Some(args.extra.clone()),
        cluster: None,
    };
    Ok(raw.validate(zone(args.zone.as_deref())?.as_ref())?)
}

fn countdown(data: &str) {
    eprintln!("WARNING: this overwrites the data directory {data}. Press Ctrl+C to abort.");
    for left in (1..=COUNTDOWN).rev() {
        eprint!("\rstarting in {left} s ... ");
        std::thread::sleep(Duration::from_secs(1));
    }
    eprintln!();
}

pub(crate) fn run(global: &GlobalArgs, args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let request = request(args)?;
    let options = RestoreOptions {
        restore_config_path: args
            .restore_config
            .as_deref()
            .map(|p| SafePath::from_path("--restore-config", "pitr restore", p))
            .transpose()?,
        timeout_secs: args.timeout,
    };
    let node = super::node(global, &args.node)?;
    let prepared = prepare_restore(&node, &request, &options, None)?;
    let plan = &prepared.plan;
    if args.dry_run {
        if global.json {
            output::print(&(plan.to_json() + "\n"))?;
        } else {
            output::print(&pitr_core::plan::shell::to_shell(plan))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("pitr restore: {}", prepared.selection.reason);
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let data = plan.summary["data"].as_str().unwrap_or_default().to_owned();
    if plan.is_destructive()
        && !args.yes
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
    {
        countdown(&data);
    }
    let owner = OsUser::lookup(&node.dbsu)?;
    let log = RunLog::open(
        &node.log_dir,
        &format!("{}-pitr-restore", node.stanza),
        true,
        Some(&owner),
    )?
    .echo_output(args.verbose);
    if let Some(path) = log.path() {
        eprintln!("pitr restore: logging to {}", path.display());
    }
    let report = run_plan(plan, &log)?;
    if global.json {
        output::print_json(&serde_json::json!({"plan": plan, "report": report}))?;
    } else if let Some(v) = &report.verified {
        output::print(&format!(
            "restored {} from repo{} and verified {}: recovery stopped {}, {}\n",
            prepared.selection.set,
            prepared.selection.repo,
            v.target,
            v.stop.as_ref().map_or_else(
                || "at the end of the archive".to_owned(),
                ToString::to_string
            ),
            v.ending
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
