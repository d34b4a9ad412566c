//! The `pitr` command: point-in-time recovery with pgBackRest for operators, cron and scripts.
//!
//! `main` parses arguments ([`cli`]), runs one subcommand from [`commands`], and turns the
//! outcome into a documented exit status:
//!
//! | status | meaning |
//! |---|---|
//! | 0 | done, or skipped on purpose (e.g. `pitr backup` on a replica) |
//! | 1 | failed (pgBackRest or PostgreSQL failed, recovery missed its target, ...) |
//! | 2 | bad usage or bad input; nothing was changed |
//!
//! Errors print as `error[<code>]: <message>` followed by their causes; `<code>` is the
//! core's stable error code.

mod cli;
mod commands;
mod output;
mod text;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match commands::run(&args) {
        Ok(code) => code,
        Err(err) => output::report_error(&err),
    }
}
