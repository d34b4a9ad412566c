//! One module per subcommand; each takes parsed arguments and returns an exit status.

mod render;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand.
pub(crate) fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Render(args) => render::run(&cli.global, args),
    }
}
