//! `pitr sandbox --ha`, the binary, on this machine's real etcd 3.4, Patroni 3.0, PostgreSQL 15
//! and pgBackRest 2.45: the demo holds every claim it prints, and leaves no process and no
//! directory behind — after a run to the end and after Ctrl-C in the middle. A bad `--dir` is
//! refused before anything starts.
//!
//! The two demo runs take turns (one Patroni cluster at a time on a loaded 2-core machine);
//! each prints its wall time (`-- --nocapture`).

// A test starts `pitr` itself to interrupt it, and writes its own fixture file.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pitr_core::run::ha::processes_of;
use pitr_tests::{output_text, pitr, pitr_bin};

/// One demo at a time.
static ONE_DEMO: Mutex<()> = Mutex::new(());

/// A directory for a sandbox that does not exist yet (the sandbox makes it).
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pitr-sbha-{name}-{}", std::process::id()));
    assert!(!dir.exists(), "{} exists already", dir.display());
    dir
}

/// Asserts that nothing of the sandbox in `dir` is left: no directory, no process whose
/// working directory or command line is in it (etcd, Patroni, PostgreSQL, pgBackRest).
fn assert_nothing_left(dir: &Path, output: &str) {
    let procs = processes_of(dir);
    let described: Vec<String> = procs
        .iter()
        .map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            )
        })
        .collect();
    for pid in &procs {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    assert!(
        procs.is_empty(),
        "processes of {} survive the sandbox: {described:#?}\n{output}",
        dir.display()
    );
    assert!(
        !dir.exists(),
        "{} survives the sandbox\n{output}",
        dir.display()
    );
}

#[test]
fn the_ha_demo_holds_every_claim_and_leaves_nothing_behind() {
    let _turn = ONE_DEMO
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = fresh_dir("full");
    let since = Instant::now();
    let out = pitr(&["sandbox", "--ha", "--dir", dir.to_str().unwrap()]);
    eprintln!("sandbox --ha: {:.1} s", since.elapsed().as_secs_f64());
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    // Each phase printed its outcome; the demo checked it (a false claim fails the run).
    for expected in [
        "sandbox-ha-1 bootstrapped and leads",
        "sandbox-ha-2 cloned itself and streams",
        "=> backed up: primary (role source patroni)",
        "=> skipped: replica (role source patroni): this instance is a standby: Patroni at",
        "POST /switchover {leader: sandbox-ha-1, candidate: sandbox-ha-2}",
        "sandbox-ha-2 killed",
        "sandbox-ha-1 leads on timeline 3",
        "Patroni ran the on_role_change callback",
        "repo1: 0 segment(s) missing along timeline 3's history",
        "timeline 3 <- 2 at",
        "pass archive_continuity",
        "recovery follows timeline 3: timeline 1 was live at the target time",
        "=> 100 rows, batches 1 to 1 (expected 100 rows, batches 1 to 1)",
        "=> 500 rows, batches 1 to 5 (expected 500 rows, batches 1 to 5)",
        "the repo's archive lists the same files before and after the restores",
        "s] every claim held",
    ] {
        assert!(text.contains(expected), "missing {expected:?}:\n{text}");
    }
    assert_eq!(
        text.matches("=> backed up:").count(),
        2,
        "one backup per round:\n{text}"
    );
    assert_nothing_left(&dir, &text);
}

#[test]
fn ctrl_c_in_the_middle_kills_everything_and_removes_the_directory() {
    let _turn = ONE_DEMO
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = fresh_dir("int");
    let since = Instant::now();
    let mut child = Command::new(pitr_bin())
        .args(["sandbox", "--ha", "--dir", dir.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pitr starts");
    // The narration goes to stderr.
    let stderr = child.stderr.take().expect("piped stderr");
    let (lines, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    // Interrupt once both members run: etcd, two Patroni and two PostgreSQL.
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(line) => {
                let streams = line.contains("cloned itself and streams");
                printed.push(line);
                if streams {
                    break;
                }
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no streaming replica within 180 s ({e}):\n{}",
                    printed.join("\n")
                );
            }
        }
    }
    assert!(
        !processes_of(&dir).is_empty(),
        "the sandbox runs no process in {}",
        dir.display()
    );
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    kill(pid, Signal::SIGINT).expect("SIGINT to pitr");
    let status = child.wait().expect("pitr ends");
    eprintln!(
        "sandbox --ha until Ctrl-C: {:.1} s",
        since.elapsed().as_secs_f64()
    );
    // The rest of the narration, to the end of stderr.
    while let Ok(line) = seen.recv_timeout(Duration::from_secs(10)) {
        printed.push(line);
    }
    let text = format!("status: {status}\n{}", printed.join("\n"));
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("interrupted"), "{text}");
    assert_nothing_left(&dir, &text);
}

#[test]
fn an_existing_dir_or_a_port_is_refused_before_anything_starts() {
    let existing = tempfile::tempdir().expect("temporary directory");
    std::fs::write(existing.path().join("precious"), "keep me").expect("write");
    let out = pitr(&[
        "sandbox",
        "--ha",
        "--dir",
        existing.path().to_str().unwrap(),
    ]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("error[invalid_setting]") && text.contains("exists"),
        "{text}"
    );
    assert!(existing.path().join("precious").is_file(), "{text}");
    assert!(processes_of(existing.path()).is_empty());

    let out = pitr(&["sandbox", "--ha", "--port", "6600"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("--port") && text.contains("--ha"), "{text}");
}
