//! `pitr restore` (alias `pitr pitr`): Pigsty's pg-pitr, with selection, pre-flight and
//! verification.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use indexmap::IndexMap;
use pitr_core::names::SafePath;
use pitr_core::ops::{self, RestoreOptions};
use pitr_core::patroni::{PATRONI_PASSWORD_ENV, PatroniAuth};
use pitr_core::plan::Summary;
use pitr_core::target::{RawRequest, time_zone};

use crate::cli::{ActionArg, ArchiveArg, GlobalArgs, RestoreArgs};
use crate::{output, text};

/// Seconds of countdown on a terminal before data is destroyed.
const COUNTDOWN: u64 = 5;

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
        repo: args.repo.map(|r| serde_json::Value::from(r.get())),
        backup: Some(args.safety_copy),
        data: args.data.clone(),
        port: args.port,
        before: args.before.clone(),
        extra: Some(args.extra.clone()),
        cluster: None,
    };
    let zone = args.zone.as_deref().map(time_zone).transpose()?;
    Ok(raw.validate(zone.as_ref())?)
}

fn countdown(data: &str) {
    eprintln!("WARNING: this overwrites the data directory {data}. Press Ctrl+C to abort.");
    for left in (1..=COUNTDOWN).rev() {
        eprint!("\rstarting in {left} s ... ");
        std::thread::sleep(Duration::from_secs(1));
    }
    eprintln!();
}

/// `--undo` and `--abandon`: what to do with an interrupted restore.
fn interrupted(global: &GlobalArgs, args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let outcome = if let Some(new_spec) = new_cluster_spec(args)? {
        let specs = cluster_specs(args)?;
        if args.undo {
            let node = pitr_core::node::Node::from_spec(&new_spec);
            let log = open_log(
                &node,
                "cluster-restore-undo",
                "pitr restore --cluster --new-cluster --undo",
                args.verbose,
            );
            ops::undo_new_cluster(&specs, &new_spec, &log)?
        } else {
            ops::abandon_new_cluster(&specs, &new_spec)?
        }
    } else if args.cluster {
        let specs = cluster_specs(args)?;
        if args.undo {
            let node = pitr_core::node::Node::from_spec(&specs[0]);
            let log = open_log(
                &node,
                "cluster-restore-undo",
                "pitr restore --cluster --undo",
                args.verbose,
            );
            ops::undo_cluster_restore(&specs, &log)?
        } else {
            ops::abandon_cluster_restore(&specs)?
        }
    } else {
        let node = super::node(global, &args.node)?;
        let locked = super::lock(&node, "restore", args.wait)?;
        if args.undo {
            let log = open_log(&node, "restore-undo", "pitr restore --undo", args.verbose);
            ops::restore::undo_restore(&node, &log, &locked)?
        } else {
            ops::restore::abandon_restore(&locked)?
        }
    };
    if global.json {
        output::print_json(&outcome)?;
    } else {
        output::print(&format!(
            "run {} (interrupted at step '{}'): {}: {}\n",
            outcome.run_id,
            outcome.interrupted_at,
            if args.undo { "undone" } else { "abandoned" },
            outcome.message
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The run log `name` of `node`, with progress on a terminal; says where it is.
fn open_log(
    node: &pitr_core::node::Node,
    name: &str,
    command: &str,
    verbose: bool,
) -> pitr_core::run::log::RunLog {
    let log =
        ops::run_log(node, name, true, verbose).show_progress(std::io::stderr().is_terminal());
    if let Some(path) = log.path() {
        eprintln!("{command}: logging to {}", path.display());
    }
    log
}

/// The `--spec` files of a cluster restore, with the Patroni credentials of the arguments
/// (`--patroni-username`, `PITR_PATRONI_PASSWORD`) when given.
fn cluster_specs(args: &RestoreArgs) -> anyhow::Result<Vec<pitr_core::spec::ClusterSpec>> {
    args.specs.iter().map(|p| cluster_spec(args, p)).collect()
}

/// The `--new-cluster` spec, likewise.
fn new_cluster_spec(args: &RestoreArgs) -> anyhow::Result<Option<pitr_core::spec::ClusterSpec>> {
    args.new_cluster
        .as_deref()
        .map(|p| cluster_spec(args, p))
        .transpose()
}

/// The cluster spec at `path`, with the Patroni credentials of the arguments when given.
fn cluster_spec(
    args: &RestoreArgs,
    path: &std::path::Path,
) -> anyhow::Result<pitr_core::spec::ClusterSpec> {
    let auth = patroni_auth(args)?;
    Ok(
        ops::complete_spec(pitr_core::spec::ClusterSpec::from_file(path)?)
            .with_patroni_auth(auth.as_ref()),
    )
}

/// The Patroni credentials of the arguments: both `--patroni-username` and
/// `PITR_PATRONI_PASSWORD`, or neither.
fn patroni_auth(args: &RestoreArgs) -> anyhow::Result<Option<PatroniAuth>> {
    Ok(PatroniAuth::from_arguments(
        args.patroni_username.as_deref(),
        std::env::var(PATRONI_PASSWORD_ENV).ok(),
    )?)
}

/// `pitr restore --cluster`: the whole Patroni cluster of the `--spec` members.
fn run_cluster(
    global: &GlobalArgs,
    args: &RestoreArgs,
    request: &pitr_core::target::RestoreRequest,
    restore: RestoreOptions,
) -> anyhow::Result<ExitCode> {
    let specs = cluster_specs(args)?;
    let options = ops::ClusterOptions {
        member: args.member.clone(),
        force: args.force,
        drain_timeout_secs: args.drain_timeout,
        no_backup: args.no_backup,
        go_on: args.go_on,
        restore,
    };
    let new_spec = new_cluster_spec(args)?;
    let prepared = ops::prepare_cluster_or_new(&specs, new_spec.as_ref(), request, &options)?;
    if args.dry_run {
        if global.json {
            output::print_json(&prepared.plan)?;
        } else {
            output::print(&prepared.plan.to_text())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("pitr restore --cluster: {}", prepared.selection.reason);

    for w in &prepared.plan.warnings {
        eprintln!("warning: {w}");
    }
    if !args.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        countdown(&match &prepared.plan.new_cluster {
            Some(new) => format!("{} of the new cluster {}", new.data.display(), new.scope),
            None => format!("of cluster {} (every member)", prepared.plan.scope),
        });
    }
    let node = pitr_core::node::Node::from_spec(new_spec.as_ref().unwrap_or(&specs[0]));
    let log = open_log(
        &node,
        "cluster-restore",
        "pitr restore --cluster",
        args.verbose,
    );
    let outcome = ops::run_cluster_restore(prepared, &log)?;
    if global.json {
        output::print_json(&outcome)?;
    } else {
        output::print(&text::cluster_restored(&outcome))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(global: &GlobalArgs, args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    if args.undo || args.abandon {
        return interrupted(global, args);
    }
    let request = request(args)?;
    let options = RestoreOptions {
        restore_config_path: args
            .restore_config
            .as_deref()
            .map(|p| SafePath::from_path("--restore-config", "pitr's arguments", p))
            .transpose()?,
        timeout_secs: args.timeout,
        under_patroni: false,
    };
    if args.cluster {
        return run_cluster(global, args, &request, options);
    }
    let node = super::node(global, &args.node)?;
    // A real run locks the stanza before it looks at anything, so what it plans from stays
    // true while it runs.
    let locked = if args.dry_run {
        None
    } else {
        Some(super::lock(&node, "restore", args.wait)?)
    };
    let prepared = ops::prepare_restore(&node, &request, &options, None)?;
    let Some(locked) = locked else {
        output::print_plan(&prepared.plan, global.json)?;
        return Ok(ExitCode::SUCCESS);
    };
    eprintln!("pitr restore: {}", prepared.selection.reason);
    for w in &prepared.plan.warnings {
        eprintln!("warning: {w}");
    }
    if prepared.plan.is_destructive()
        && !args.yes
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
    {
        if let Summary::Restore(r) = &prepared.plan.summary {
            countdown(&r.data.display().to_string());
        }
    }
    let log = open_log(&node, "restore", "pitr restore", args.verbose);
    let outcome = ops::run_restore(prepared, &log, &locked)?;
    if global.json {
        output::print_json(&outcome)?;
    } else {
        output::print(&text::restored(&outcome))?;
    }
    Ok(ExitCode::SUCCESS)
}
