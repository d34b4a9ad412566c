//! `pitr sandbox`: the demo `make demo` runs, and with `--ha` the one `make demo-ha` runs (see
//! `pitr_core::ops::sandbox`).

use std::process::ExitCode;

use pitr_core::ops::sandbox::{SandboxOptions, sandbox};
use pitr_core::run::log::RunLog;

use crate::cli::{GlobalArgs, SandboxArgs};

pub(crate) fn run(_global: &GlobalArgs, args: &SandboxArgs) -> anyhow::Result<ExitCode> {
    let options = SandboxOptions {
        dir: args.dir.clone(),
        keep: args.keep,
        port: args.port,
        ha: args.ha,
        pitr_bin: if args.ha {
            Some(std::env::current_exe()?.canonicalize()?)
        } else {
            None
        },
    };
    sandbox(&options, &RunLog::terminal(true).echo_output(false))?;
    Ok(ExitCode::SUCCESS)
}
