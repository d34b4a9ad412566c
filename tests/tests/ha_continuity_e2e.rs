//! WAL continuity across Patroni failovers, end to end on a real Patroni 3.0 cluster on etcd
//! 3.4 with PostgreSQL 15 and pgBackRest 2.45 (`pitr_tests::ha`).
//!
//! The hole: the leader cannot archive (its `archive_command` is blocked), a finished segment
//! streams to the replica, which marks it done on receipt; the leader dies (`kill -9`) and the
//! replica takes over. No node will ever archive that segment, yet the new leader still has it
//! in `pg_wal`. `pitr check` on the new leader names it (`check_wal_missing`), and the
//! continuity step closes it — once by hand (`pitr continuity`), once by itself through the
//! `on_role_change` callback that `pitr render --what patroni-callback` configures. Each time
//! the missing-WAL figure is back to 0 in `pitr check`, `pitr info --json` and
//! `pitr exporter --once`.
//!
//! Each phase prints its wall time (`-- --nocapture`).

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::process::Output;
use std::time::{Duration, Instant};

use pitr_tests::ha::poll_until;
use pitr_tests::{PatroniCluster, output_text};
use serde_json::Value;

/// Prints how long a phase took.
fn timed(phase: &str, since: Instant) {
    eprintln!(
        "ha continuity timing: {phase}: {:.1} s",
        since.elapsed().as_secs_f64()
    );
}

/// `pitr --json ARGS` on member `name`, parsed; panics with both streams unless it exits 0.
fn pitr_json(ha: &PatroniCluster, name: &str, args: &[&str]) -> Value {
    let out = pitr_on(ha, name, args);
    assert!(
        out.status.success(),
        "pitr {args:?} on {name}: {}",
        output_text(&out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("pitr {args:?} printed no JSON ({e}): {}", output_text(&out)))
}

/// `pitr --json ARGS` on member `name` (its pgbackrest.conf).
fn pitr_on(ha: &PatroniCluster, name: &str, args: &[&str]) -> Output {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    ha.member(name).pitr(&all)
}

/// `pitr check --spec <member spec>` (the `archive_command` is the member's gate, rendered from
/// its spec), as JSON, with its exit status.
fn check(ha: &PatroniCluster, name: &str) -> (bool, Value, String) {
    let spec = ha.member(name).spec_path();
    let out = pitr_on(ha, name, &["check", "--spec", spec.to_str().unwrap()]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("pitr check printed no JSON ({e}): {}", output_text(&out)));
    (
        out.status.success(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `archive_continuity` entry of a check report.
fn continuity_check(report: &Value) -> &Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "archive_continuity"))
        .unwrap_or_else(|| panic!("no archive_continuity check: {report:#}"))
}

/// Blocks `leader`'s archiving, writes and switches WAL, and waits until the finished segment
/// failed to archive on the leader and `replica` holds it marked done (received by
/// streaming). Returns the segment.
fn segment_only_the_replica_has(ha: &PatroniCluster, leader: &str, replica: &str) -> String {
    let primary = ha.member(leader);
    // With archive-async, block only once PostgreSQL has seen everything so far archived.
    primary.wait_postgres_archived(&primary.switch_wal());
    ha.block_archiving(leader);
    primary.psql("CREATE TABLE IF NOT EXISTS t (id int); INSERT INTO t VALUES (1)");
    let segment = primary.switch_wal();
    let failed = poll_until(Duration::from_secs(60), || {
        (primary.psql("SELECT last_failed_wal FROM pg_stat_archiver") == segment).then_some(())
    });
    assert!(
        failed.is_some(),
        "{leader} did not fail to archive {segment}\n{}",
        primary.log_tails()
    );
    ha.wait_streaming(replica);
    let done = ha
        .member(replica)
        .data_dir()
        .join(format!("pg_wal/archive_status/{segment}.done"));
    assert!(
        poll_until(Duration::from_secs(30), || done.exists().then_some(())).is_some(),
        "{replica} did not mark {segment} done on receipt"
    );
    segment
}

/// Kills `leader` and waits until `successor` leads on `timeline`; `segment` is then in no
/// repo.
fn fail_over(ha: &mut PatroniCluster, leader: &str, successor: &str, timeline: u32) {
    ha.failover_kill(leader);
    ha.wait_leader_is(successor);
    ha.wait_timeline(timeline);
}

/// On member `name`: `pitr check` passes (its continuity check too), `pitr info --json` shows
/// the repo whole, and `pitr exporter --once` exports 0 missing segments.
fn assert_whole(ha: &PatroniCluster, name: &str) {
    let (ok, report, stderr) = check(ha, name);
    assert!(ok, "pitr check on {name} failed: {stderr}\n{report:#}");
    assert_eq!(continuity_check(&report)["status"], "pass", "{report:#}");
    let info = pitr_json(ha, name, &["info"]);
    let repo1 = &info["continuity"][0];
    assert_eq!(
        (repo1["status"].as_str(), repo1["missing"].as_u64()),
        (Some("whole"), Some(0)),
        "{info:#}"
    );
    assert!(
        !info["timelines"].as_array().unwrap().is_empty(),
        "{info:#}"
    );
    let out = ha.member(name).pitr(&["exporter", "--once"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let metrics = String::from_utf8_lossy(&out.stdout);
    let series = format!(
        "pitr_archive_missing_segments{{repo_key=\"1\",stanza=\"{}\"}} 0\n",
        ha.scope()
    );
    assert!(metrics.contains(&series), "no {series:?} in:\n{metrics}");
}

/// The `summary.push` file names of a continuity document.
fn pushed(doc: &Value) -> Vec<String> {
    doc["plan"]["summary"]["push"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The run logs of `pitr patroni-callback` on member `name`, concatenated.
fn callback_logs(ha: &PatroniCluster, name: &str) -> String {
    let dir = ha.member(name).root().join("pgbackrest-log");
    let mut text = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file.contains("-pitr-patroni-callback-") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    text
}

#[test]
fn the_new_leader_pushes_what_the_dead_leader_could_not_archive_by_hand_and_by_callback() {
    let start = Instant::now();
    let mut ha = PatroniCluster::builder("ha-cont").start();
    let (a, b) = (ha.name_of(0), ha.name_of(1));
    ha.stanza_create();
    pitr_json(&ha, &a, &["backup", "full"]);
    timed("cluster start, stanza-create, full backup", start);

    // 1. By hand: a dies with a segment only b has; b leads on timeline 2.
    let since = Instant::now();
    let first = segment_only_the_replica_has(&ha, &a, &b);
    fail_over(&mut ha, &a, &b, 2);
    assert!(!ha.archived_wal().contains(&first), "{first} is archived");
    timed("hole and failover to timeline 2", since);

    let since = Instant::now();
    let (ok, report, stderr) = check(&ha, &b);
    assert!(!ok, "pitr check passed with a hole: {report:#}");
    assert_eq!(report["code"], "check_wal_missing", "{report:#}");
    assert!(stderr.contains("error[check_wal_missing]"), "{stderr}");
    let verdict = continuity_check(&report);
    assert_eq!(verdict["status"], "fail");
    let message = verdict["message"].as_str().unwrap();
    assert!(
        message.contains("1 segment(s) missing") && message.contains(&first),
        "{message}"
    );
    let info = pitr_json(&ha, &b, &["info"]);
    assert_eq!(info["continuity"][0]["missing"], 1, "{info:#}");
    assert_eq!(info["continuity"][0]["first_missing"][0], first.as_str());

    let dry = pitr_json(&ha, &b, &["continuity", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert!(pushed(&dry).contains(&first), "{dry:#}");
    assert!(
        !ha.archived_wal().contains(&first),
        "a dry run pushed {first}"
    );
    let done = pitr_json(&ha, &b, &["continuity"]);
    assert!(pushed(&done).contains(&first), "{done:#}");
    let completed = done["report"]["completed"].as_array().unwrap();
    assert!(
        completed.contains(&Value::from(format!("push-{first}"))),
        "{done:#}"
    );
    assert!(ha.archived_wal().contains(&first));
    // Again: nothing left to push, the segment is in place.
    let again = pitr_json(&ha, &b, &["continuity"]);
    assert!(pushed(&again).is_empty(), "{again:#}");
    let present = again["plan"]["summary"]["present"].as_array().unwrap();
    assert!(present.contains(&Value::from(first.as_str())), "{again:#}");
    assert_whole(&ha, &b);
    timed("check fails, continuity by hand, figure back to 0", since);

    // 2. By callback: every member runs pitr patroni-callback on a role change. a rejoins;
    // b dies with a segment only a has; a leads on timeline 3 and pushes it by itself.
    let since = Instant::now();
    ha.set_role_change_callback(true);
    ha.unblock_archiving(&a);
    ha.start_member(&a);
    ha.wait_streaming(&a);
    // On a replica pitr continuity skips, exit 0: the primary pushes.
    let replica_run = pitr_json(&ha, &a, &["continuity"]);
    assert_eq!(replica_run["skipped"], true, "{replica_run:#}");
    let second = segment_only_the_replica_has(&ha, &b, &a);
    timed(
        "callback configured, old leader rejoined, second hole",
        since,
    );
    let since = Instant::now();
    fail_over(&mut ha, &b, &a, 3);
    timed("failover to timeline 3", since);
    let since = Instant::now();
    ha.wait_archived(&second);
    timed("promotion until the callback pushed the segment", since);
    let log = callback_logs(&ha, &a);
    assert!(
        log.contains("on_role_change master") && log.contains(&second) && log.contains("pushed"),
        "{log}"
    );
    assert_whole(&ha, &a);
    timed("whole test", start);
}
