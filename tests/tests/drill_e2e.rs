//! `pitr drill` on real PostgreSQL 15 and pgBackRest 2.45: drills to the end of the archive, to
//! a random time and to a restore point pass beside the running cluster, which keeps serving
//! writes and whose archive is left as it was; each clone is gone afterwards and the record
//! shows the phases' seconds. A spec's SQL assertion the data does not meet, and a repo with a
//! deleted WAL segment, fail with their codes and clean up. A drill killed with SIGKILL leaves a
//! clone that `pitr drill --cleanup`, or the next drill, removes, recording the killed drill
//! as failed (`drill_interrupted`).

// Helpers of tests: a panic is a failed test with its location. The killed drill is a child
// process of the test, spawned directly to be killed.
#![allow(clippy::unwrap_used, clippy::disallowed_types)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pitr_tests::{
    Stanza, cmd_as_postgres, files_under, output_text, pg_bin, pitr_bin, psql_at,
    write_file_as_postgres,
};

/// The files of the stanza's archive in the local repo, relative to it.
fn archive_listing(h: &Stanza) -> BTreeSet<String> {
    let root = h.cluster.path(format!("repo/archive/{}", h.name));
    let mut files = Vec::new();
    files_under(&root, &mut files);
    files
        .into_iter()
        .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
        .collect()
}

fn scratch(h: &Stanza) -> PathBuf {
    PathBuf::from(format!("{}-drill", h.cluster.data_dir().display()))
}

fn record(h: &Stanza) -> serde_json::Value {
    let path = h
        .cluster
        .path(format!("pgbackrest-log/pitr-{}-drill.json", h.name));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn drill(h: &Stanza, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let mut all = vec!["--json", "drill"];
    all.extend_from_slice(args);
    let out = h.pitr(&all);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}:\n{}", output_text(&out)));
    (out, doc)
}

/// Inserts a row into `w` every 50 ms until stopped; counts the rows written.
struct Writer {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU32>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Writer {
    fn start(h: &Stanza) -> Writer {
        let (sock, port) = (h.cluster.socket_dir(), h.cluster.port());
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU32::new(0));
        let (s, w) = (stop.clone(), written.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                psql_at(&sock, port, "postgres", "INSERT INTO w VALUES (1)")?;
                w.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(())
        });
        Writer {
            stop,
            written,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u32 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap().unwrap();
        self.written.load(Ordering::Relaxed)
    }
}

fn assert_passed(h: &Stanza, args: &[&str], out: &std::process::Output, doc: &serde_json::Value) {
    assert_passed_with(h, args, out, doc, false);
}

fn assert_passed_with(
    h: &Stanza,
    args: &[&str],
    out: &std::process::Output,
    doc: &serde_json::Value,
    checksums: bool,
) {
    assert!(out.status.success(), "{args:?}:\n{}", output_text(out));
    assert_eq!(doc["ok"], true, "{doc}");
    for phase in ["restore_secs", "replay_secs", "total_secs", "check_secs"] {
        assert!(
            doc[phase].as_f64().unwrap() > 0.0,
            "{args:?}: {phase}: {doc}"
        );
    }
    assert!(doc["bytes_restored"].as_u64().unwrap() > 0, "{doc}");
    assert!(doc["wal_replayed_bytes"].as_u64().unwrap() > 0, "{doc}");
    let checks = doc["checks"].to_string();
    assert!(
        checks.contains("stop point") && checks.contains("amcheck: "),
        "{checks}"
    );
    // pg_checksums runs only when the source has data checksums.
    assert_eq!(checks.contains("\"checksums\""), checksums, "{checks}");
    assert!(!scratch(h).exists(), "{args:?}: the clone is still there");
    let port = doc["port"].as_u64().unwrap();
    assert!(
        !h.cluster.path(format!("spool/pitr-clone-{port}")).exists(),
        "{args:?}: the clone's spool path is still there"
    );
    assert_eq!(&record(h), doc, "the record is what was printed");
}

#[test]
fn drills_pass_beside_a_running_cluster_and_leave_nothing_behind() {
    let h = Stanza::local("drill");
    h.cluster
        .psql("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE w (x int)");
    h.cluster
        .psql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
    h.pitr_ok(&["backup", "full"]);
    h.cluster
        .psql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(5001, 6000) g");
    pitr_tests::tick();
    h.pitr_ok(&["mark", "drill-point"]);
    h.cluster
        .psql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(6001, 7000) g");
    h.archive_now();
    let listing = archive_listing(&h);

    // The spec declares what the restored data must answer.
    let spec = h.cluster.path("drill-spec.yml");
    let assertions = |sql: &str| {
        format!(
            "{}\npitr_drill_assertions:\n  - {{name: rows, sql: \"{sql}\"}}\n",
            std::fs::read_to_string(&h.spec).unwrap()
        )
    };
    write_file_as_postgres(&spec, assertions("SELECT count(*) = 6000 FROM t"), 0o600);
    let spec_arg = spec.display().to_string();

    let writer = Writer::start(&h);
    for args in [
        vec![],
        vec!["--random", "--seed", "42"],
        vec!["-n", "drill-point", "--spec", &spec_arg],
    ] {
        let (out, doc) = drill(&h, &args);
        assert_passed(&h, &args, &out, &doc);
        match args.first().copied() {
            None => assert_eq!(doc["target"], "latest"),
            Some("--random") => {
                assert_eq!(doc["seed"], 42);
                assert!(
                    doc["target"].as_str().unwrap().starts_with("time "),
                    "{doc}"
                );
                assert!(doc["target_lag_secs"].as_i64().unwrap() >= 0, "{doc}");
            }
            Some(_) => {
                assert_eq!(doc["target"], "name drill-point");
                assert!(doc["checks"].to_string().contains("assertions: 1"), "{doc}");
            }
        }
    }
    let metrics = h.pitr_ok(&["exporter", "--once"]);
    for needle in [
        "pitr_drill_last_success{code=\"ok\",stanza=\"drill\"} 1",
        "pitr_drill_duration_seconds{phase=\"restore\",stanza=\"drill\"} ",
        "pitr_drill_duration_seconds{phase=\"replay\",stanza=\"drill\"} ",
        "pitr_drill_duration_seconds{phase=\"total\",stanza=\"drill\"} ",
        "pitr_drill_last_success_timestamp_seconds{stanza=\"drill\"} ",
    ] {
        assert!(metrics.contains(needle), "{needle}:\n{metrics}");
    }
    let written = writer.finish();
    assert!(
        written > 10,
        "the source served {written} writes during the drills"
    );
    assert!(h.cluster.is_running());
    // The drills added nothing to the source's archive and changed nothing in it (the writes
    // filled no segment).
    assert_eq!(archive_listing(&h), listing);

    // An assertion the restored data does not meet: the drill fails with its code and cleans up.
    write_file_as_postgres(&spec, assertions("SELECT count(*) > 1000000 FROM t"), 0o600);
    let (out, doc) = drill(&h, &["--spec", &spec_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert_eq!(doc["code"], "drill_assertion_failed", "{doc}");
    assert!(
        doc["error"].as_str().unwrap().contains("assertion 'rows'"),
        "{doc}"
    );
    assert!(!scratch(&h).exists(), "the failed drill left its clone");
    let metrics = h.pitr_ok(&["exporter", "--once"]);
    assert!(
        metrics.contains(
            "pitr_drill_last_success{code=\"drill_assertion_failed\",stanza=\"drill\"} 0"
        ),
        "{metrics}"
    );

    // A WAL segment deleted from the repo: the drill fails with its code and cleans up.
    let segment = h
        .cluster
        .psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
        .trim()
        .to_owned();
    h.cluster
        .psql("INSERT INTO t VALUES (7001, 'x'); SELECT pg_switch_wal()");
    h.archive_now();
    for f in h.archived_segment_files("repo", &segment) {
        std::fs::remove_file(f).unwrap();
    }
    let (out, doc) = drill(&h, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("error[wal_gap]"),
        "{}",
        output_text(&out)
    );
    assert_eq!(
        (doc["ok"].clone(), doc["code"].clone()),
        (false.into(), "wal_gap".into())
    );
    assert!(!scratch(&h).exists(), "the failed drill left its clone");
    assert_eq!(record(&h)["code"], "wal_gap");
    // The failure shows in the metrics; the last success stays.
    let metrics = h.pitr_ok(&["exporter", "--once"]);
    assert!(
        metrics.contains("pitr_drill_last_success{code=\"wal_gap\",stanza=\"drill\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pitr_drill_last_success_timestamp_seconds{stanza=\"drill\"} "),
        "{metrics}"
    );
    // `pitr info` shows the last drill, and when one last passed.
    let info = h.pitr_ok(&["info"]);
    assert!(info.contains("last drill: FAILED (wal_gap) at "), "{info}");
    assert!(!info.contains("last passed never"), "{info}");
    let doc: serde_json::Value = serde_json::from_str(&h.pitr_ok(&["--json", "info"])).unwrap();
    assert_eq!(doc["drill"]["code"], "wal_gap", "{doc}");
}

/// Whether process `pid` has ended (gone, or a zombie waiting for its parent), within 10 s.
fn gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // `pid (comm) S ...`: the state follows the command's closing parenthesis.
        let zombie = state
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'));
        if state.is_empty() || zombie {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pid of the server in the drill's clone, when its `postmaster.pid` reads.
fn clone_postmaster(h: &Stanza) -> Option<i32> {
    std::fs::read_to_string(scratch(h).join("data/postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .parse()
        .ok()
}

/// Starts `pitr ARGS` (stdout piped) and waits until a drill's clone's server runs, another
/// than `old`.
fn drill_with_running_clone(h: &Stanza, args: &[&str], old: Option<i32>) -> std::process::Child {
    let config = h.config.display().to_string();
    let mut child = std::process::Command::new(pitr_bin())
        .args(["--config", &config])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while clone_postmaster(h).is_none_or(|pid| Some(pid) == old) {
        assert!(
            Instant::now() < deadline,
            "the drill never started its clone"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the drill ended before its clone ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Kills a drill whose clone runs with SIGKILL; returns its pid and its clone's postmaster's.
fn kill_drill(h: &Stanza) -> (u32, i32) {
    let mut child = drill_with_running_clone(h, &["drill"], None);
    child.kill().unwrap();
    child.wait().unwrap();
    (child.id(), clone_postmaster(h).unwrap())
}

/// Asserts that the record says the drill of pid `killed` was interrupted, found by `by`.
fn assert_interrupted(h: &Stanza, rec: &serde_json::Value, killed: u32, by: &str) {
    assert_eq!(
        (&rec["ok"], &rec["code"]),
        (&false.into(), &"drill_interrupted".into()),
        "{rec}"
    );
    let error = rec["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(" by pid {killed} did not finish")) && error.contains(by),
        "{error}"
    );
    let scratch = scratch(h).display().to_string();
    assert_eq!(rec["cleaned_up"][0], scratch.as_str(), "{rec}");
    assert!(rec["port"].as_u64().is_some(), "{rec}");
}

#[test]
fn a_killed_drill_is_cleaned_up_and_recorded_as_interrupted() {
    let mut h = Stanza::local("drillkill");
    // With data checksums, so the drill checks them on the stopped clone.
    h.cluster.stop();
    let out = cmd_as_postgres(pg_bin("pg_checksums"))
        .arg("--enable")
        .arg("-D")
        .arg(h.cluster.data_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    h.cluster.start_server();
    h.cluster.psql("CREATE TABLE t (id int PRIMARY KEY)");
    h.cluster
        .psql("INSERT INTO t SELECT g FROM generate_series(1, 1000) g");
    h.pitr_ok(&["backup", "full"]);
    h.archive_now();

    // `pitr drill --cleanup` removes what the killed drill left and records it as failed.
    let (killed, postmaster) = kill_drill(&h);
    let out = h.pitr(&["drill", "--cleanup"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed "),
        "{}",
        output_text(&out)
    );
    assert!(!scratch(&h).exists(), "--cleanup left the clone");
    assert!(gone(postmaster), "the clone's server still runs");
    let rec = record(&h);
    assert_interrupted(&h, &rec, killed, "pitr drill --cleanup removed");
    let metrics = h.pitr_ok(&["exporter", "--once"]);
    assert!(
        metrics
            .contains("pitr_drill_last_success{code=\"drill_interrupted\",stanza=\"drillkill\"} 0"),
        "{metrics}"
    );
    let info = h.pitr_ok(&["info"]);
    assert!(
        info.contains("last drill: FAILED (drill_interrupted) at "),
        "{info}"
    );
    // Nothing left: a second cleanup has nothing to do, and records nothing.
    assert!(
        h.pitr_ok(&["drill", "--cleanup"])
            .contains("nothing to clean up")
    );
    assert_eq!(record(&h), rec);

    // Killed again: the next drill records it before it restores, then passes and records
    // its own result, checksums checked.
    let (killed, postmaster) = kill_drill(&h);
    let next = drill_with_running_clone(&h, &["--json", "drill"], Some(postmaster));
    assert!(gone(postmaster), "the killed drill's clone still runs");
    let rec = record(&h);
    assert_interrupted(&h, &rec, killed, "the next drill removed");
    let out = next.wait_with_output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}:\n{}", output_text(&out)));
    assert_passed_with(&h, &[], &out, &doc, true);
    assert_eq!(doc["cleaned_up"], rec["cleaned_up"], "{doc}");
}
