//! Crashes and concurrency on real PostgreSQL 15 and pgBackRest 2.45 (issue 14).
//!
//! The fault matrix: an in-place restore with a safety copy is killed (`SIGKILL`, through the
//! runner's `PITR_TEST_KILL_AT` hook) at each of its steps; no `pgbackrest restore` survives
//! it; the same command run again finishes on exactly the expected rows, with the safety copy
//! the original byte for byte; `pitr restore --undo` puts the original back byte for byte.
//! Concurrency: of two restores started together one runs and the other exits with
//! `stanza_locked`; a backup during a restore exits with that code, or with `--wait` runs once
//! the restore is done.

// Helpers of tests: a panic is a failed test with its location.
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pitr_tests::{Stanza, dir_fingerprint, output_text, pitr_bin, tick};

/// A stanza with 100 rows at `target` and 200 after it, archived; the cluster running.
fn history(name: &str) -> (Stanza, String) {
    let cluster = pitr_tests::TestCluster::start(name);
    cluster.psql("CREATE TABLE t (id int)");
    let spec = Stanza::spec_yaml(
        &cluster,
        name,
        "local",
        &Stanza::local_repo_yaml(&cluster),
        "",
    );
    let stanza = Stanza::from_spec(cluster, name, &spec);
    tick();
    stanza
        .cluster
        .psql("INSERT INTO t SELECT generate_series(1, 100)");
    tick();
    let target = stanza.utc_now();
    tick();
    stanza
        .cluster
        .psql("INSERT INTO t SELECT generate_series(101, 200)");
    stanza.archive_now();
    (stanza, target)
}

/// `pitr --config <config> <args>` with extra environment variables.
fn pitr_env(stanza: &Stanza, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(pitr_bin());
    cmd.arg("--config")
        .arg(&stanza.config)
        .args(args)
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PITR_TEST_KILL_AT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("pitr runs")
}

fn backup_dir(stanza: &Stanza) -> PathBuf {
    PathBuf::from(format!("{}-backup", stanza.cluster.data_dir().display()))
}

fn journal(stanza: &Stanza) -> serde_json::Value {
    let path = stanza
        .cluster
        .path(format!("pgbackrest-log/{}-pitr-journal.json", stanza.name));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Processes whose command line mentions `root` and runs a pgBackRest restore (the main
/// process or its workers).
fn restore_processes(root: &Path) -> Vec<String> {
    let root = root.display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let restore = args
            .iter()
            .any(|a| a == "restore" || a.starts_with("restore:"));
        if restore && args.iter().any(|a| a.contains(&root)) {
            found.push(args.join(" "));
        }
    }
    found
}

fn assert_no_orphan(stanza: &Stanza, what: &str) {
    // The kernel delivers the parent-death signal at once; give a loaded machine a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = restore_processes(stanza.cluster.root());
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: orphaned restore processes: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn killed_at_each_step_the_same_restore_completes_and_the_safety_copy_is_the_original() {
    let started = Instant::now();
    let (mut stanza, target) = history("fault-matrix");
    let restore = [
        "--json",
        "restore",
        "-y",
        "-t",
        target.as_str(),
        "--action",
        "promote",
        "--safety-copy",
    ];
    // (step, delay in ms after entering it, what the re-run decides)
    let cases = [
        ("stop", 0, "redo"),
        ("safety-copy", 0, "redo"),
        ("write-restore-config", 0, "redo"),
        ("restore", 300, "redo"),
        ("start", 0, "complete"),
        ("await-recovery", 0, "complete"),
        ("verify", 0, "complete"),
        ("promoted", 0, "complete"),
    ];
    for (step, delay, decision) in cases {
        let case_started = Instant::now();
        let data = stanza.cluster.data_dir();
        let copy = backup_dir(&stanza);
        if copy.exists() {
            std::fs::remove_dir_all(&copy).unwrap();
        }
        // The `stop` case kills a restore of a running cluster; the others start from a
        // stopped one, whose data directory the safety copy must equal byte for byte.
        let original = if step == "stop" {
            if !stanza.cluster.is_running() {
                stanza.cluster.start_server();
            }
            None
        } else {
            stanza.cluster.stop();
            Some(dir_fingerprint(&data))
        };
        let hook = format!("{step}@{delay}");
        let out = pitr_env(&stanza, &restore, &[("PITR_TEST_KILL_AT", &hook)]);
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{step}: not killed:\n{}",
            output_text(&out)
        );
        assert_no_orphan(&stanza, step);
        let j = journal(&stanza);
        assert_eq!(j["phase"], "running", "{step}: {j}");
        let current = j["steps"][j["current"].as_u64().unwrap() as usize].clone();
        assert_eq!(current, step, "{step}: {j}");

        if step == "restore" {
            // Another request is refused with the way out, and changes nothing.
            let other = pitr_env(
                &stanza,
                &["restore", "-y", "-t", &target, "--action", "pause"],
                &[],
            );
            let text = output_text(&other);
            assert_eq!(other.status.code(), Some(1), "{text}");
            assert!(text.contains("error[run_interrupted]"), "{text}");
            assert!(text.contains("pitr restore --undo"), "{text}");
            // So is a backup: it would run against a half-restored directory.
            let backup = pitr_env(&stanza, &["backup"], &[]);
            let text = output_text(&backup);
            assert!(text.contains("error[run_interrupted]"), "{text}");
        }

        let out = pitr_env(&stanza, &restore, &[]);
        let text = output_text(&out);
        assert!(out.status.success(), "{step}: re-run failed:\n{text}");
        assert!(
            text.contains("continuing interrupted run"),
            "{step}:\n{text}"
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            doc["resumed"]["decision"], decision,
            "{step}: {}",
            doc["resumed"]
        );
        assert_eq!(doc["resumed"]["interrupted_at"], step);
        assert_eq!(doc["report"]["verified"]["ending"], "promoted", "{step}");
        assert_eq!(stanza.count("t"), 100, "{step}:\n{text}");
        assert_eq!(journal(&stanza)["phase"], "done", "{step}");
        // The safety copy is kept, and is the original.
        assert!(
            copy.join("PG_VERSION").is_file(),
            "{step}: safety copy lost"
        );
        if let Some(original) = original {
            assert_eq!(
                dir_fingerprint(&copy),
                original,
                "{step}: the safety copy is not the original"
            );
        }
        assert_no_orphan(&stanza, step);
        eprintln!(
            "fault matrix: killed at {step}, re-run {decision}: {:.1} s",
            case_started.elapsed().as_secs_f64()
        );
    }

    // `--undo` puts the original back byte for byte and ends the run.
    std::fs::remove_dir_all(backup_dir(&stanza)).unwrap();
    stanza.cluster.stop();
    let data = stanza.cluster.data_dir();
    let original = dir_fingerprint(&data);
    let out = pitr_env(&stanza, &restore, &[("PITR_TEST_KILL_AT", "restore@300")]);
    assert_eq!(out.status.signal(), Some(9), "{}", output_text(&out));
    assert_no_orphan(&stanza, "undo");
    let out = pitr_env(&stanza, &["restore", "--undo"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(dir_fingerprint(&data), original, "--undo: not the original");
    assert!(!backup_dir(&stanza).exists());
    assert_eq!(journal(&stanza)["phase"], "undone");
    let out = pitr_env(&stanza, &["restore", "--abandon"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(output_text(&out).contains("nothing to undo or abandon"));
    // And the cluster works as it was.
    stanza.cluster.start_server();
    assert!(stanza.count("t") >= 100);
    eprintln!(
        "fault matrix: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn two_restores_at_once_one_runs_and_a_backup_during_a_restore_exits_or_waits() {
    let (stanza, target) = history("fault-lock");
    let args = [
        "--config".to_owned(),
        stanza.config.display().to_string(),
        "restore".into(),
        "-y".into(),
        "-t".into(),
        target.clone(),
        "--action".into(),
        "promote".into(),
    ];
    let spawn = || {
        Command::new(pitr_bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ok, locked): (Vec<&Output>, Vec<&Output>) =
        [&a, &b].into_iter().partition(|o| o.status.success());
    assert_eq!(
        (ok.len(), locked.len()),
        (1, 1),
        "a:\n{}\nb:\n{}",
        output_text(&a),
        output_text(&b)
    );
    let text = output_text(locked[0]);
    assert_eq!(locked[0].status.code(), Some(1), "{text}");
    assert!(text.contains("error[stanza_locked]"), "{text}");
    assert!(text.contains("pitr restore (pid "), "{text}");
    assert_eq!(stanza.count("t"), 100);

    // A backup from cron while a restore runs: exits with the code, or waits with --wait.
    let restore = spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let path = stanza
            .cluster
            .path(format!("pgbackrest-log/{}-pitr-journal.json", stanza.name));
        let running = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|j| j["phase"] == "running");
        if running {
            break;
        }
        assert!(Instant::now() < deadline, "the restore never began");
        std::thread::sleep(Duration::from_millis(20));
    }
    let backup = pitr_env(&stanza, &["backup"], &[]);
    let text = output_text(&backup);
    assert_eq!(backup.status.code(), Some(1), "{text}");
    assert!(text.contains("error[stanza_locked]"), "{text}");
    assert!(text.contains("pitr restore (pid "), "{text}");
    let waiting = pitr_env(&stanza, &["--json", "backup", "--wait"], &[]);
    let restored = restore.wait_with_output().unwrap();
    assert!(restored.status.success(), "{}", output_text(&restored));
    let text = output_text(&waiting);
    assert!(waiting.status.success(), "{text}");
    assert!(text.contains("waiting for pitr restore"), "{text}");
    let doc: serde_json::Value = serde_json::from_slice(&waiting.stdout).unwrap();
    assert_eq!(doc["skipped"], false, "{doc}");
    assert_eq!(stanza.count("t"), 100);
}
