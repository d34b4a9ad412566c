//! Running programs: argv only, output streamed line by line into the run log.
//!
//! Every child is tied to pitr's lifetime ([`tie_to_pitr`]): it runs in a process group of its
//! own (a Ctrl+C at the terminal reaches pitr, not the child behind its back) and gets
//! `SIGTERM` from the kernel when pitr dies, `kill -9` included (`PR_SET_PDEATHSIG`, armed
//! after the user switch, which would clear it). `SIGTERM` rather than `SIGKILL`: pgBackRest
//! then ends the worker processes it started (`restore:local`), which `SIGKILL` of their parent
//! would leave running. So no `pgbackrest restore` runs on unobserved
//! while a re-run starts. When a streamed command fails, what is left of its group is killed at
//! once ([`end_helpers_of_a_failure`]): a worker stuck on a dead repo would otherwise delay the
//! failure, and its rollback, until the worker's own timeout. A process the child itself forks is not covered: PostgreSQL's
//! postmaster, which `pg_ctl start` leaves running in a session of its own, survives pitr on
//! purpose — a re-run finds it recovering, follows it and verifies where it stopped (see
//! [`super::journal`]).

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

/// Ties `cmd`'s child to pitr's lifetime: own process group, `SIGTERM` when pitr dies.
pub fn tie_to_pitr(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::getpid();
    cmd.process_group(0);
    // SAFETY: the closure runs in the child between fork and exec; it makes two system calls
    // (prctl, getppid), allocates nothing and takes no lock, as `pre_exec` requires. std runs it
    // after switching the user, so the switch does not clear the parent-death signal.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)?;
            if nix::unistd::getppid() != parent {
                // pitr died before the signal was armed: do not run on alone.
                return Err(nix::errno::Errno::ESRCH.into());
            }
            Ok(())
        });
    }
}

/// A small process forked from pitr that kills a child's whole process group when pitr dies:
/// the kernel sends it `SIGTERM` then (`PR_SET_PDEATHSIG`), and it answers with `SIGKILL` to the
/// group — the child and whatever the child started in it (pgBackRest's `restore:local`
/// workers, which outlive their parent otherwise). Killed quietly once the child is done.
#[derive(Debug)]
struct Guardian(nix::unistd::Pid);

impl Guardian {
    /// Watches the process group `group` (a child started by [`tie_to_pitr`]: its pid).
    fn watch(group: u32) -> Option<Guardian> {
        use nix::sys::signal::{SigSet, Signal};
        let group = nix::unistd::Pid::from_raw(i32::try_from(group).ok()?);
        let parent = nix::unistd::getpid();
        let mut term = SigSet::empty();
        term.add(Signal::SIGTERM);
        // SAFETY: pitr may have other threads; between fork and _exit the child makes only
        // system calls (sigprocmask, prctl, getppid, sigwait, kill, _exit), allocates nothing
        // and takes no lock.
        #[allow(unsafe_code)]
        let forked = unsafe { nix::unistd::fork() };
        match forked {
            Ok(nix::unistd::ForkResult::Child) => {
                let _ = term.thread_block();
                let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
                if nix::unistd::getppid() == parent {
                    let _ = term.wait();
                }
                let _ = nix::sys::signal::killpg(group, Signal::SIGKILL);
                // SAFETY: ends the forked child without running the parent's exit handlers.
                #[allow(unsafe_code)]
                unsafe {
                    nix::libc::_exit(0)
                }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => Some(Guardian(child)),
            Err(_) => None,
        }
    }
}

impl Drop for Guardian {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.0, None);
    }
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
    tie_to_pitr(&mut cmd);
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
    let _guardian = Guardian::watch(child.id());
    let accepted = if ok.is_empty() { &[0][..] } else { ok };
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
        end_helpers_of_a_failure(child.id(), accepted);
    });
    let status = child.wait().map_err(|source| Error::Spawn {
        program: program_name(&cmd),
        source,
    })?;
    let code = status.code();
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

/// Waits until the child `pid` (a process group leader, see [`tie_to_pitr`]) has exited, without
/// reaping it; when its exit status is not `accepted`, `SIGKILL`s what is left of its process
/// group. Those are helpers of a command that failed — pgBackRest's `restore:local` workers
/// still waiting on a dead repo, say — which would hold the output pipes open (so the failure
/// would show only when they time out, a minute or more later) and could write on while a
/// rollback runs. The leader stays a zombie until [`std::process::Child::wait`] reaps it, so
/// the group id cannot be taken by another process meanwhile. Helpers of a command that
/// succeeded are left alone.
fn end_helpers_of_a_failure(pid: u32, accepted: &[i32]) {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    let Ok(raw) = i32::try_from(pid) else { return };
    let leader = nix::unistd::Pid::from_raw(raw);
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    let failed = loop {
        match waitid(Id::Pid(leader), flags) {
            Ok(WaitStatus::Exited(_, code)) => break !accepted.contains(&code),
            Ok(WaitStatus::Signaled(..)) => break true,
            Err(nix::errno::Errno::EINTR) | Ok(_) => {}
            Err(_) => return,
        }
    };
    if failed {
        let _ = nix::sys::signal::killpg(leader, nix::sys::signal::Signal::SIGKILL);
    }
}

/// Runs `cmd` and returns its output; a non-zero exit status is an error quoting stderr.
pub fn run_capture(mut cmd: Command, what: &str) -> Result<Output> {
    tie_to_pitr(&mut cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = program_name(&cmd);
    let spawn_error = |source| Error::Spawn {
        program: program.clone(),
        source,
    };
    let child = cmd.spawn().map_err(spawn_error)?;
    let guardian = Guardian::watch(child.id());
    let output = child.wait_with_output().map_err(spawn_error)?;
    drop(guardian);
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

    #[test]
    fn helpers_a_failed_command_leaves_behind_are_ended() {
        // A program that fails and leaves a helper holding its output open, as pgBackRest does
        // with a worker stuck on a dead repo.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 3600 & echo helper $!; exit 3"]);
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let log = RunLog::terminal(false);
            let _ = sender.send(run_streaming(cmd, "failing", &log, &[]));
        });
        // Without ending the helper, the output pipes stay open for the helper's hour.
        let e = receiver
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("run_streaming still waits for the helper of a failed command")
            .unwrap_err();
        let text = e.to_string();
        let helper: i32 = text
            .split_once("helper ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("no helper pid in: {text}"));
        let gone = (0..100).any(|_| {
            let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(helper), None).is_ok()
                && !std::fs::read_to_string(format!("/proc/{helper}/stat"))
                    .is_ok_and(|stat| stat.contains(") Z "));
            if alive {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            !alive
        });
        assert!(gone, "the helper {helper} of a failed command still runs");
    }

    #[test]
    fn children_run_in_a_process_group_of_their_own() {
        // /proc/self/stat of `cat` itself: pid, (comm), state, ppid, pgrp, ...
        let mut cmd = Command::new("cat");
        cmd.arg("/proc/self/stat");
        let out = run_capture(cmd, "stat").unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let after_comm = text.rsplit_once(") ").unwrap().1;
        let fields: Vec<&str> = text
            .split_whitespace()
            .take(1)
            .chain(after_comm.split_whitespace())
            .collect();
        let (own, parent, group) = (fields[0], fields[2], fields[3]);
        assert_eq!(own, group, "{text}");
        assert_eq!(parent, std::process::id().to_string(), "{text}");
        assert_ne!(group, nix::unistd::getpgrp().to_string());
    }
}
