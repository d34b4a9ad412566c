//! One module per subcommand; each takes parsed arguments and returns an exit status.

mod backup;
mod check;
mod continuity;
mod drill;
mod exporter;
mod info;
mod mark;
mod patroni_callback;
mod render;
mod restore;
mod sandbox;

use std::process::ExitCode;

use pitr_core::names::SafePath;
use pitr_core::node::Node;
use pitr_core::ops;
use pitr_core::patroni::PatroniApi;

use crate::cli::{Cli, Command, GlobalArgs, NodeArgs};

/// Runs the chosen subcommand.
pub(crate) fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Render(args) => render::run(&cli.global, args),
        Command::Info(args) => info::run(&cli.global, args),
        Command::Backup(args) => backup::run(&cli.global, args),
        Command::Mark(args) => mark::run(&cli.global, args),
        Command::Restore(args) => restore::run(&cli.global, args),
        Command::Sandbox(args) => sandbox::run(&cli.global, args),
        Command::Check(args) => check::run(&cli.global, args),
        Command::Drill(args) => drill::run(&cli.global, args),
        Command::Exporter(args) => exporter::run(&cli.global, args),
        Command::Continuity(args) => continuity::run(&cli.global, args),
        Command::PatroniCallback(args) => patroni_callback::run(&cli.global, args),
    }
}

/// The node as the global `--config`/`--stanza`/`--patroni` options describe it. The Patroni
/// options are checked first: bad arguments are reported before any file is read.
pub(crate) fn node(global: &GlobalArgs, args: &NodeArgs) -> anyhow::Result<Node> {
    let patroni = match &global.patroni {
        Some(url) => {
            let ca_file = global
                .patroni_ca_file
                .as_deref()
                .map(|p| SafePath::from_path("--patroni-ca-file", "pitr's arguments", p))
                .transpose()?;
            Some(PatroniApi::new(
                url.clone(),
                ca_file,
                "--patroni-ca-file",
                "pitr's arguments",
            )?)
        }
        None => None,
    };
    let mut node = Node::from_conf(&global.config, global.stanza.as_deref(), &args.dbsu)?;
    node.patroni = patroni;
    Ok(node)
}

/// The stanza's lock on this node for `command` (see `pitr_core::run::lock`); with `wait`,
/// says on stderr whom it waits for.
pub(crate) fn lock(node: &Node, command: &str, wait: bool) -> anyhow::Result<ops::Locked> {
    Ok(ops::lock_stanza(node, command, wait, &|m| {
        eprintln!("pitr {command}: {m}");
    })?)
}
