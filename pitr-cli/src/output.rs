//! How the command reports: data to stdout (JSON with `--json`), errors to stderr.

use std::io::Write;
use std::process::ExitCode;

/// Exit status for a failed command.
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit status for bad usage or input.
pub(crate) const EXIT_USAGE: u8 = 2;

/// Prints an error with its stable code and cause chain, and picks the exit status.
pub(crate) fn report_error(err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    let core_error = err
        .chain()
        .find_map(|e| e.downcast_ref::<pitr_core::Error>());
    let code = core_error.map_or("failed", pitr_core::Error::code);
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error[{code}]: {err}");
    let mut shown = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        // Messages often quote their cause already; print each fact once.
        if !shown.contains(&text) {
            let _ = writeln!(stderr, "  caused by: {text}");
        }
        shown = text;
    }
    let usage = core_error.is_some_and(pitr_core::Error::is_input_error);
    ExitCode::from(if usage { EXIT_USAGE } else { EXIT_FAILED })
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes text to stdout; a closed pipe ends the command quietly.
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Prints a plan for a dry run: as a shell script for people, or its JSON with `--json`.
pub(crate) fn print_plan(plan: &pitr_core::plan::Plan, json: bool) -> anyhow::Result<()> {
    if json {
        print_json(plan)
    } else {
        print(&pitr_core::plan::shell::to_shell(plan))
    }
}

/// Writes a value as pretty JSON with a trailing newline.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    print(&text)
}
