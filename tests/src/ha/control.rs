//! How a cluster restore starts and stops a harness member's Patroni: a stand-in for the
//! systemd unit of a real node (`systemctl start|stop patroni`), run by `pitr` as an argv from
//! the member's cluster spec (`patroni_start_command`, `patroni_stop_command`).
//!
//! The program is `patroni-control start|stop <member directory>` (`tests/src/bin`):
//!
//! - `start` starts the member's Patroni as `postgres` in a process group of its own, output
//!   appended to `log/patroni.log`, standard streams detached from the caller (pitr reads the
//!   command's output until it closes), and returns at once; nothing happens when it runs.
//! - `stop` sends `SIGTERM` to the member's Patroni (found by its command line, which names the
//!   member's `patroni.yml`) and waits until it exits (at most a minute; exit status 1 then).
//!   With Patroni paused, PostgreSQL keeps running, as with a systemd unit.
//!
//! [`write_cluster_spec`] writes the member's spec for a cluster restore: its usual spec plus
//! `pg_seq`, `patroni_config` and the two commands.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Member, ha_tool, poll_until};
use crate::user::cmd_as_postgres;

/// How long `stop` waits for Patroni to exit.
const STOP_WAIT: Duration = Duration::from_secs(60);

/// Pids of the Patroni processes of the member in `root`: their command line runs `patroni`
/// with the member's `patroni.yml`.
pub fn patroni_pids(root: &Path) -> Vec<i32> {
    let yml = root.join("patroni.yml");
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let runs_patroni = args.iter().any(|a| {
                Path::new(std::ffi::OsStr::from_bytes(a))
                    .file_name()
                    .is_some_and(|n| n == "patroni")
            });
            runs_patroni
                && args
                    .iter()
                    .any(|a| *a == yml.as_os_str().as_encoded_bytes())
        })
        .collect()
}

/// The `patroni-control` program: `start` or `stop` the Patroni of the member in `root`.
/// Returns the exit status.
pub fn control_main(args: &[String]) -> i32 {
    let (Some(verb), Some(root), None) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: patroni-control start|stop MEMBER_DIRECTORY");
        return 2;
    };
    let root = PathBuf::from(root);
    if !root.join("patroni.yml").is_file() {
        eprintln!("patroni-control: {} has no patroni.yml", root.display());
        return 2;
    }
    match verb.as_str() {
        "start" => start(&root),
        "stop" => stop(&root),
        other => {
            eprintln!("patroni-control: unknown command {other:?}; expected start or stop");
            2
        }
    }
}

fn start(root: &Path) -> i32 {
    if !patroni_pids(root).is_empty() {
        println!(
            "patroni-control: Patroni of {} runs already",
            root.display()
        );
        return 0;
    }
    let log_path = root.join("log").join("patroni.log");
    let open = || {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
    };
    let (Ok(out), Ok(err)) = (open(), open()) else {
        eprintln!("patroni-control: cannot open {}", log_path.display());
        return 1;
    };
    let mut cmd = cmd_as_postgres(ha_tool("patroni", "patroni"));
    cmd.arg(root.join("patroni.yml"))
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0);
    match cmd.spawn() {
        Ok(child) => {
            println!(
                "patroni-control: started Patroni of {} (pid {})",
                root.display(),
                child.id()
            );
            0
        }
        Err(e) => {
            eprintln!("patroni-control: cannot start Patroni: {e}");
            1
        }
    }
}

fn stop(root: &Path) -> i32 {
    for pid in patroni_pids(root) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    if poll_until(STOP_WAIT, || patroni_pids(root).is_empty().then_some(())).is_some() {
        println!("patroni-control: Patroni of {} stopped", root.display());
        0
    } else {
        eprintln!(
            "patroni-control: Patroni of {} still runs after {STOP_WAIT:?}: {:?}",
            root.display(),
            patroni_pids(root)
        );
        1
    }
}

/// Writes `<member>/cluster-spec.yml`: the member's spec plus `pg_seq` (from its name
/// `<scope>-<seq>`), `patroni_config` and `control` (the `patroni-control` program) as its
/// `patroni_start_command` and `patroni_stop_command`. Returns the path.
///
/// # Panics
///
/// When the file cannot be written or the member's name has no sequence number.
pub fn write_cluster_spec(member: &Member, control: &Path) -> PathBuf {
    let seq: u32 = member
        .name()
        .rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("member name {} ends in no number", member.name()));
    let root = member.root().display().to_string();
    let control = control.display().to_string();
    let text = format!(
        "{}pg_seq: {seq}\npatroni_config: {}\npatroni_start_command: [{control:?}, start, {root:?}]\n\
         patroni_stop_command: [{control:?}, stop, {root:?}]\n",
        member.spec_yaml(),
        member.patroni_yml().display()
    );
    let path = member.root().join("cluster-spec.yml");
    crate::user::write_file_as_postgres(&path, text, 0o600);
    path
}
