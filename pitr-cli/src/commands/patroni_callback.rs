//! `pitr patroni-callback ACTION ROLE SCOPE`: what Patroni's `on_role_change` runs.
//!
//! Patroni must never be hurt by its callback: every problem is logged (the run log and
//! stderr, which is Patroni's log) and the command exits 0, except a file whose copy in a repo
//! differs from `pg_wal`'s (`archive_conflict`), which exits 1.

use std::process::ExitCode;
use std::time::Duration;

use pitr_core::ops::continuity::{CallbackOutcome, patroni_callback};
use pitr_core::ops::run_log;

use crate::cli::{GlobalArgs, PatroniCallbackArgs};
use crate::{output, text};

pub(crate) fn run(global: &GlobalArgs, args: &PatroniCallbackArgs) -> anyhow::Result<ExitCode> {
    let node = match super::node(global, &args.node) {
        Ok(node) => node,
        Err(e) => {
            eprintln!(
                "pitr patroni-callback {} {} {}: cannot read the node's configuration, nothing \
                 done: {e:#}",
                args.action, args.role, args.scope
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    let log = run_log(&node, "patroni-callback", true, false);
    let wait = Duration::from_secs(args.wait);
    match patroni_callback(&node, &args.action, &args.role, &args.scope, wait, &log) {
        Ok(outcome) => {
            if let CallbackOutcome::Ran(ran) = &outcome {
                for line in text::continuity(ran).lines() {
                    log.line(&format!("  {line}"));
                }
            }
            if global.json {
                output::print_json(&outcome)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.code() == "archive_conflict" => {
            log.line(&format!("error[{}]: {e}", e.code()));
            Ok(ExitCode::from(output::EXIT_FAILED))
        }
        Err(e) => {
            log.line(&format!(
                "error[{}]: {e}; the callback exits 0 so that Patroni carries on: run pitr \
                 continuity on this node by hand",
                e.code()
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}
