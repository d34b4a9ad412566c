//! Running programs: argv only, output streamed line by line into the run log.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use super::log::RunLog;
use crate::error::{Error, Result};

/// How many trailing output lines an error message quotes.
const TAIL_LINES: usize = 20;

fn program_name(cmd: &Command) -> String {
    cmd.get_program().to_string_lossy().into_owned()
}

/// Runs `cmd`, streaming its stdout and stderr into `log`; succeeds when the exit status is in
/// `ok` (`[0]` when empty). `what` names the command in errors.
pub fn run_streaming(cmd: Command, what: &str, log: &RunLog, ok: &[i32]) -> Result<()> {
    run_streaming_input(cmd, None, what, log, ok)
}

/// Like [`run_streaming`], with `input` written to the program's standard input (then closed)
/// when given; a null stdin otherwise.
pub fn run_streaming_input(
    mut cmd: Command,
    input: Option<&str>,
    what: &str,
    log: &RunLog,
    ok: &[i32],
) -> Result<()> {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: program_name(&cmd),
        source,
    })?;
    let tail = Mutex::new(VecDeque::with_capacity(TAIL_LINES));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let stdin = child.stdin.take();
    std::thread::scope(|scope| {
        if let (Some(mut pipe), Some(text)) = (stdin, input) {
            scope.spawn(move || {
                // A program that exits without reading all of it closes the pipe: not an error.
                let _ = std::io::Write::write_all(&mut pipe, text.as_bytes());
            });
        }
        let pump = |stream: Box<dyn Read + Send>| {
            let tail = &tail;
            scope.spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    log.output(&format!("  | {line}"));
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == TAIL_LINES {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                }
            });
        };
        if let Some(out) = stdout {
            pump(Box::new(out));
        }
        if let Some(err) = stderr {
            pump(Box::new(err));
        }
    });
    let status = child.wait().map_err(|source| Error::Spawn {
        program: program_name(&cmd),
        source,
    })?;
    let code = status.code();
    let accepted = if ok.is_empty() { &[0][..] } else { ok };
    if code.is_some_and(|c| accepted.contains(&c)) {
        return Ok(());
    }
    let output = tail
        .into_inner()
        .map(|t| t.into_iter().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default();
    Err(Error::CommandFailed {
        what: what.to_owned(),
        status: status.to_string(),
        output,
    })
}

/// Runs `cmd` and returns its output; a non-zero exit status is an error quoting stderr.
pub fn run_capture(mut cmd: Command, what: &str) -> Result<Output> {
    cmd.stdin(Stdio::null());
    let output = cmd.output().map_err(|source| Error::Spawn {
        program: program_name(&cmd),
        source,
    })?;
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    Err(Error::CommandFailed {
        what: what.to_owned(),
        status: output.status.to_string(),
        output: lines[start..].join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_reports_failures_with_output() {
        let log = RunLog::terminal(false);
        let mut ok = Command::new("echo");
        ok.arg("hello");
        run_streaming(ok, "echo", &log, &[]).unwrap();
        let mut fail = Command::new("ls");
        fail.arg("/no/such/dir/pitr");
        let e = run_streaming(fail, "listing", &log, &[]).unwrap_err();
        assert_eq!(e.code(), "command_failed");
        assert!(e.to_string().contains("listing failed"), "{e}");
        assert!(e.to_string().contains("/no/such/dir/pitr"), "{e}");
        let mut two = Command::new("ls");
        two.arg("/no/such/dir/pitr");
        run_streaming(two, "ls", &log, &[2]).unwrap();
        let e = run_capture(Command::new("/no/such/program"), "x").unwrap_err();
        assert_eq!(e.code(), "spawn_failed");
    }
}
