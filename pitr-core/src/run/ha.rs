//! Processes of a throwaway high-availability stack on one machine: a one-member etcd 3.4 (the
//! DCS of Patroni's `etcd3`), Patroni members, the loopback ports they listen on, and killing
//! what they leave behind.
//!
//! Shared by `pitr sandbox --ha` ([`crate::ops::sandbox::ha`]) and the end-to-end test harness
//! (`tests/src/ha`): one way to find the tools, pick ports, build etcd's and Patroni's command
//! lines (argv only, variables that would change them removed), tell that etcd is healthy, and
//! find every process of a directory — whose working directory is in it or whose command line
//! names a path in it (PostgreSQL's postmaster and children, pgBackRest, Patroni, etcd).
//!
//! Each server runs in its own process group, so a `SIGKILL` to the group reaches the helpers
//! it started (`runuser`-like wrappers, Patroni's children) and a Ctrl-C at the terminal does
//! not: whoever started them kills them ([`kill_group`], [`kill_processes_of`]).

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::log::RunLog;
use crate::error::{Error, Result};

/// The programs of the stack: `(program, Debian package)`.
pub const HA_TOOLS: [(&str, &str); 4] = [
    ("etcd", "etcd-server"),
    ("etcdctl", "etcd-client"),
    ("patroni", "patroni"),
    ("patronictl", "patroni"),
];

/// A program of the stack: on `PATH`, else in `/usr/bin` (Debian installs etcd there, and
/// root's `PATH` under cron or sudo may lack it). `package` names the Debian package to install.
pub fn ha_tool(name: &str, package: &str) -> Result<PathBuf> {
    which::which(name)
        .ok()
        .or_else(|| Some(Path::new("/usr/bin").join(name)).filter(|p| p.is_file()))
        .ok_or_else(|| Error::ToolNotFound {
            tool: name.to_owned(),
            hint: format!(
                "install the Debian package {package} (`make setup` does), or put {name} on PATH"
            ),
        })
}

/// A loopback TCP port the kernel hands out, nothing listens on right now, never handed out
/// before by this process, not 5432 and not the port of a PostgreSQL socket in `/tmp` or
/// `/var/run/postgresql`. Another process may still take it before it is used: callers that
/// can, start again on other ports when a server says its address is in use.
pub fn free_port() -> Result<u16> {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    for _ in 0..200 {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::io("cannot bind a loopback port", Path::new("127.0.0.1:0"), e))?
            .port();
        let socket = format!(".s.PGSQL.{port}");
        let socket_busy = ["/tmp", "/var/run/postgresql"]
            .iter()
            .any(|dir| Path::new(dir).join(&socket).exists());
        let mut handed = HANDED_OUT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if port != 5432 && !socket_busy && handed.insert(port) {
            return Ok(port);
        }
    }
    Err(Error::io(
        "no free loopback port in 200 attempts",
        Path::new("127.0.0.1"),
        std::io::Error::from(std::io::ErrorKind::AddrInUse),
    ))
}

/// Removes the variables a program of the stack reads its settings from (`ETCD*` for etcd and
/// etcdctl, `PATRONI*` for Patroni), so the caller's environment cannot change it.
fn clear_env(cmd: &mut Command, prefix: &str) {
    for (key, _) in std::env::vars_os() {
        if key.as_encoded_bytes().starts_with(prefix.as_bytes()) {
            cmd.env_remove(key);
        }
    }
}

/// `http://127.0.0.1:<port>`.
fn loopback_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// etcd as a one-member cluster `e1` on loopback: data in `data_dir`, clients on
/// `client_port`, peers on `peer_port`, logging to stderr; in its own process group, stdin
/// closed. The caller sets where the output goes and spawns it.
pub fn etcd_command(etcd: &Path, data_dir: &Path, client_port: u16, peer_port: u16) -> Command {
    let client = loopback_url(client_port);
    let peer = loopback_url(peer_port);
    let mut cmd = Command::new(etcd);
    cmd.arg("--name")
        .arg("e1")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen-client-urls", &client])
        .args(["--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &format!("e1={peer}")])
        .args(["--logger", "zap", "--log-outputs", "stderr"])
        .stdin(Stdio::null())
        .process_group(0);
    clear_env(&mut cmd, "ETCD");
    cmd
}

/// `etcdctl --endpoints=<endpoint>` with API v3 (the caller adds the command), stdin closed.
pub fn etcdctl_command(etcdctl: &Path, endpoint: &str) -> Command {
    let mut cmd = Command::new(etcdctl);
    clear_env(&mut cmd, "ETCD");
    cmd.env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"))
        .stdin(Stdio::null());
    cmd
}

/// Whether `etcdctl endpoint health` passes for `endpoint` (`127.0.0.1:<port>`) within 2 s.
pub fn etcd_is_healthy(etcdctl: &Path, endpoint: &str) -> bool {
    let mut cmd = etcdctl_command(etcdctl, endpoint);
    cmd.args(["--command-timeout=2s", "endpoint", "health"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.status().is_ok_and(|s| s.success())
}

/// Turns `cmd` — Patroni's executable, run as the database superuser (see
/// [`crate::run::user::OsUser::command`]) — into `patroni <yml>` in its own process group,
/// with unbuffered output and no `PATRONI_*` variables from the caller.
pub fn patroni_command(mut cmd: Command, yml: &Path) -> Command {
    clear_env(&mut cmd, "PATRONI");
    cmd.arg(yml)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .process_group(0);
    cmd
}

/// `SIGKILL` to the process group `pid` leads.
pub fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// The pid in `<data>/postmaster.pid`, if the file exists and starts with one.
pub fn postmaster_pid(data: &Path) -> Option<i32> {
    fs::read_to_string(data.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
        .filter(|&pid: &i32| pid > 0)
}

/// Processes (other than this one) whose working directory is inside `dir` or whose command
/// line has an argument naming something inside it (`<dir>/...`).
pub fn processes_of(dir: &Path) -> Vec<i32> {
    let own = std::process::id();
    let needle = format!("{}/", dir.display());
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            let proc_dir = Path::new("/proc").join(pid.to_string());
            let cwd_inside =
                fs::read_link(proc_dir.join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir));
            cwd_inside
                || fs::read(proc_dir.join("cmdline")).is_ok_and(|cmdline| {
                    cmdline
                        .split(|&b| b == 0)
                        .any(|arg| arg.windows(needle.len()).any(|w| w == needle.as_bytes()))
                })
        })
        .filter_map(|pid| i32::try_from(pid).ok())
        .collect()
}

/// `SIGKILL` to every process of [`processes_of`] `dir`, until none is left (for at most 5 s);
/// returns the survivors.
pub fn kill_processes_of(dir: &Path) -> Vec<i32> {
    for _ in 0..100 {
        let pids = processes_of(dir);
        if pids.is_empty() {
            return pids;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    processes_of(dir)
}

/// Calls `probe` every 200 ms until it returns `Some`, for at most `timeout`; `None` when time
/// ran out.
pub fn poll_until<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `SIGKILL` to process `pid`.
pub fn kill_pid(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

/// Removes a directory tree, retrying for a few seconds: pgBackRest's asynchronous
/// archive-push may still write into a spool directory for a moment after a kill.
pub fn remove_dir_patiently(path: &Path) -> std::io::Result<()> {
    let mut result = fs::remove_dir_all(path);
    for _ in 0..20 {
        if result.is_ok() || !path.exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
        result = fs::remove_dir_all(path);
    }
    result
}

/// The last `lines` lines of a text file (read from at most its last 256 KiB), or a note that
/// it cannot be read.
pub fn tail(path: &Path, lines: usize) -> String {
    const MAX: u64 = 256 * 1024;
    let read = || -> std::io::Result<String> {
        let mut file = fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Runs `cleanup` (given a log to the terminal) and exits with status 130 when this process gets `SIGINT` (Ctrl-C) or
/// `SIGTERM`, from a thread that waits for them for the rest of the process's life. The
/// servers a throwaway stack starts run in their own process groups and do not see the
/// terminal's Ctrl-C: this is where they are killed then. Programs started later get the
/// default handling back when they `exec`.
pub fn on_interrupt(cleanup: impl FnOnce(&RunLog) + Send + 'static) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let got = runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return false;
            };
            tokio::select! {
                _ = int.recv() => true,
                _ = term.recv() => true,
            }
        });
        if got {
            INTERRUPTED.store(true, Ordering::SeqCst);
            let log = RunLog::terminal(true);
            log.line("interrupted: stopping and removing what was started");
            cleanup(&log);
            std::process::exit(130);
        }
    });
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether [`on_interrupt`] is cleaning up: the process exits with status 130 as soon as it is
/// done, and other threads should wait for that rather than report the failures the kills
/// caused.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_never_handed_out_twice() {
        let ports: BTreeSet<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        assert_eq!(ports.len(), 50);
    }

    #[test]
    fn a_missing_tool_names_its_package() {
        let e = ha_tool("pitr-no-such-tool", "pitr-no-such-package").unwrap_err();
        assert_eq!(e.code(), "tool_not_found");
        assert!(e.to_string().contains("pitr-no-such-package"), "{e}");
    }

    #[test]
    fn etcd_runs_as_a_one_member_cluster_on_loopback() {
        let cmd = etcd_command(Path::new("/usr/bin/etcd"), Path::new("/d/data"), 2379, 2380);
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "--name e1 --data-dir /d/data --listen-client-urls http://127.0.0.1:2379 \
             --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls \
             http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
             --initial-cluster e1=http://127.0.0.1:2380 --logger zap --log-outputs stderr"
        );
    }

    #[test]
    fn a_process_is_found_by_its_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("sleep")
            .arg("30")
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        assert!(processes_of(dir.path()).contains(&pid));
        assert!(kill_processes_of(dir.path()).is_empty());
        let _ = child.wait();
        assert!(!processes_of(dir.path()).contains(&pid));
    }
}
