//! Whole-cluster point-in-time restores of a real two-member Patroni cluster (Patroni 3.0,
//! etcd 3.4, PostgreSQL 15, pgBackRest 2.45, one shared posix repo), one cluster shared by
//! every scenario:
//!
//! ```text
//! timeline 1 (a leads)   full backup; batch 1; t_before_switchover; batch 2
//! switchover a -> b      timeline 2; batch 3; restore point after-switchover; batch 4
//! unreachable target     --name no-such-point: recovery misses it; back as it was (b leads,
//!                        on timeline 2, or 3 if Patroni promoted it again)
//! archive blocked        b's archive queue does not drain: refused, back as it was (b leads
//!                        on timeline T)
//! killed before no-return pitr killed (kill -9, PITR_TEST_KILL_AT) entering stop-restored, b
//!                        restored and running: the re-run brings the cluster back as it was
//!                        (run_undone); killed entering stop-postgres-b: `--undo` brings it
//!                        back (b leads on timeline T' >= T)
//! cluster PITR 1         -t t_before_switchover, pitr killed entering remove-data-a (the DCS
//!                        emptied, b leading): the re-run completes it; b restored onto
//!                        timeline T'+1 (Patroni may promote it once more, T'+2: T1), a rebuilt
//! cluster PITR 2         --name after-switchover, pitr killed entering archive-on (b restored,
//!                        the DCS untouched): the re-run with --continue completes it; onto
//!                        T1+1 (or T1+2), a rebuilt
//! batch 9; t_after; 10   a scratch restore to t_after lands on 1, 2, 3, 9
//! new cluster            --new-cluster to t_after while b takes writes: pitr killed entering
//!                        the new cluster's backup (its member leading, archiving); the re-run
//!                        removes what it created and restores again: a member of scope
//!                        <scope>-new leads on 1, 2, 3, 9 and archives into stanza <scope>-new;
//!                        the running cluster keeps its leader, timeline, DCS keys and archive
//! ```
//!
//! Patroni is stopped and started on each member by `patroni-control` (`tests/src/bin`), the
//! harness's stand-in for `systemctl stop|start patroni`, named in each member's spec. Its REST
//! API wants credentials (`restapi.authentication`, `patroni_username`/`patroni_password` in
//! each spec, as Pigsty has them), also in the re-runs after pitr was killed, which take the
//! password again from the specs; no run log or journal holds it.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]
// Python runs as the test's user, like the CLI does.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use pitr_tests::ha::control::write_cluster_spec;
use pitr_tests::{
    CloneServer, Member, PatroniCluster, files_under, free_port, ha::poll_until, output_text,
    pitr_bin, tick,
};
use serde_json::Value;

/// The harness's stand-in for a systemd unit.
const CONTROL: &str = env!("CARGO_BIN_EXE_patroni-control");

/// The password of Patroni's REST API authentication (user `postgres`).
const PATRONI_PASSWORD: &str = "Patroni.API-Cluster-8Wr3";

/// `count batches`: the rows and the batches in `t`.
fn rows(member: &Member) -> String {
    member.psql("SELECT count(*) || ' ' || string_agg(DISTINCT batch::text, ',') FROM t")
}

/// `pitr restore --cluster` from member `on` with both members' specs and `args`.
fn cluster_restore(ha: &PatroniCluster, on: &str, specs: &[PathBuf], args: &[&str]) -> Output {
    let mut all = vec!["--json", "restore", "--cluster", "--yes"];
    for s in specs {
        all.extend(["--spec", s.to_str().unwrap()]);
    }
    all.extend_from_slice(args);
    ha.member(on).pitr(&all)
}

/// [`cluster_restore`] killed with `SIGKILL` on entering step `kill_at` (the runner's
/// `PITR_TEST_KILL_AT` hook); returns the record of its cluster run journal (`journal_of`'s,
/// of stanza `stanza`: the restored member's, or the new member's), interrupted at `kill_at`.
fn cluster_restore_killed(
    ha: &PatroniCluster,
    on: &str,
    specs: &[PathBuf],
    args: &[&str],
    kill_at: &str,
    (journal_of, stanza): (&Member, &str),
) -> Value {
    let member = ha.member(on);
    let mut cmd = std::process::Command::new(pitr_bin());
    cmd.arg("--config").arg(member.pgbackrest_conf()).args([
        "--json",
        "restore",
        "--cluster",
        "--yes",
    ]);
    for s in specs {
        cmd.arg("--spec").arg(s);
    }
    let out = cmd
        .args(args)
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env("PITR_TEST_KILL_AT", kill_at)
        .output()
        .expect("pitr runs");
    assert_eq!(out.status.signal(), Some(9), "{}", output_text(&out));
    let journal = journal_of
        .root()
        .join(format!("pgbackrest-log/{stanza}-pitr-cluster-journal.json"));
    let record: Value = serde_json::from_slice(&std::fs::read(&journal).unwrap()).unwrap();
    assert_eq!(record["phase"], "running", "{record}");
    assert_eq!(record["kind"], "cluster_restore", "{record}");
    let current = usize::try_from(record["current"].as_u64().unwrap()).unwrap();
    assert_eq!(record["steps"][current], kill_at, "{record}");
    record
}

/// A cluster restore that failed with `error[code]` and brought the cluster back as it was:
/// `leader` leads, `replica` streams, both hold every row, Patroni is resumed, no safety copy
/// is left. Returns the output's text.
fn back_as_it_was(
    ha: &PatroniCluster,
    out: &Output,
    code: &str,
    leader: &str,
    replica: &str,
) -> String {
    let text = output_text(out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("error[{code}]")), "{text}");
    assert!(
        text.contains("rolled back: the cluster runs as before"),
        "{text}"
    );
    assert_eq!(ha.leader().as_deref(), Some(leader));
    ha.wait_streaming(replica);
    assert_eq!(rows(ha.member(leader)), "40 1,2,3,4");
    assert_eq!(rows(ha.member(replica)), "40 1,2,3,4");
    let state = ha.cluster_state().unwrap();
    assert!(!state["pause"].as_bool().unwrap_or(false), "{state}");
    assert!(!ha.member(leader).root().join("data-backup").exists());
    text
}

/// The processes of the test's directory that run PostgreSQL's postmaster (`postgres -D
/// ...`) or pgBackRest, by command line: after a re-run, the members' own postmasters and
/// nothing else.
fn processes_under(root: &Path) -> Vec<String> {
    let mut found: Vec<String> = pitr_core::run::ha::processes_of(root)
        .into_iter()
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
        .map(|raw| {
            raw.split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
        })
        .filter(|args| {
            let program = args.first().and_then(|a| Path::new(a).file_name());
            program.is_some_and(|p| p == "postgres" || p == "pgbackrest")
        })
        .map(|args| args.join(" "))
        .collect();
    found.sort();
    found
}

/// No process pitr started outlived the run: exactly one postmaster per member, in its own
/// data directory, and no pgBackRest (the archive command ends within moments).
fn assert_no_orphans(ha: &PatroniCluster) {
    let want: Vec<String> = ha
        .members()
        .iter()
        .map(|m| m.data_dir().display().to_string())
        .collect();
    let settled = poll_until(Duration::from_secs(30), || {
        let found = processes_under(ha.root());
        let postmasters_only = found.len() == want.len()
            && want
                .iter()
                .all(|d| found.iter().any(|p| p.contains(&format!("-D {d}"))));
        postmasters_only.then_some(())
    });
    assert!(settled.is_some(), "{:#?}", processes_under(ha.root()));
}

/// `pitr.plan_restore_cluster(specs, {"time": t}, new_cluster=...)` from the repo's `.venv`
/// (`make wheel`), with the spec at `new_cluster` when given.
fn python_plan(specs: &[PathBuf], t: &str, new_cluster: Option<&str>) -> Value {
    let python = pitr_tests::venv_python();
    let script = r#"
import json, sys
import yaml
import pitr
new = yaml.safe_load(open(sys.argv[2])) if sys.argv[2] else None
specs = [yaml.safe_load(open(p)) for p in sys.argv[3:]]
print(json.dumps(pitr.plan_restore_cluster(specs, {"time": sys.argv[1]}, new_cluster=new)))
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script, t, new_cluster.unwrap_or("")])
        .args(specs)
        .output()
        .expect("python runs");
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "the pitr module in .venv failed (run `make wheel` after changing pitr): {text}"
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Python's plan is the CLI's document (the pre-flight's "DCS reached N s ago" aside).
fn same_plan(py: &Value, cli: &Value) {
    for key in [
        "kind",
        "scope",
        "chosen",
        "members",
        "steps",
        "on_failure",
        "restore",
        "new_cluster",
    ] {
        assert_eq!(py[key], cli[key], "{key}");
    }
}

/// Completes the leader's WAL segment and waits until it is archived.
fn archive_now(ha: &PatroniCluster, leader: &str) {
    let wal = ha.member(leader).switch_wal();
    ha.member(leader).wait_postgres_archived(&wal);
}

/// The history files in the repo.
fn histories(ha: &PatroniCluster) -> Vec<String> {
    ha.archived_wal()
        .into_iter()
        .filter(|f| f.ends_with(".history"))
        .collect()
}

/// The leader's timeline after a cluster restore from the cluster on `before`: the restore
/// promoted to the next one, and Patroni, starting the stopped primary as a replica, may have
/// promoted it once more. A full backup was taken.
fn new_timeline(out: &Output, before: u32) -> u32 {
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        outcome["restored_timeline"],
        before + 1,
        "{}",
        outcome["completed"]
    );
    let tl = u32::try_from(outcome["timeline"].as_u64().unwrap()).unwrap();
    assert!(tl == before + 1 || tl == before + 2, "timeline {tl}");
    assert!(
        outcome["backup"]["report"].is_object(),
        "{}",
        outcome["backup"]
    );
    assert_eq!(outcome["plan"]["restore"]["summary"]["archive"], "off");
    tl
}

/// Checks the cluster after a cluster restore to `expected` rows onto `timeline`: a leader and
/// a streaming replica on it, the same rows and system identifier on both, a write that
/// reaches the replica, backups on the leader only, `pitr check` green, and the archive.
fn check_restored(ha: &PatroniCluster, leader: &str, replica: &str, timeline: u32, expected: &str) {
    assert_eq!(ha.leader().as_deref(), Some(leader));
    ha.wait_timeline(timeline);
    ha.wait_streaming(replica);
    let state = ha.cluster_state().unwrap();
    assert!(!state["pause"].as_bool().unwrap_or(false), "{state}");
    for m in state["members"].as_array().unwrap() {
        assert_eq!(m["timeline"], u64::from(timeline), "{state}");
    }
    let (l, r) = (ha.member(leader), ha.member(replica));
    assert_eq!(rows(l), expected);
    assert_eq!(rows(r), expected);
    let sysid = "SELECT system_identifier FROM pg_control_system()";
    assert_eq!(l.psql(sysid), r.psql(sysid));
    assert_eq!(r.psql("SELECT pg_is_in_recovery()"), "t");

    l.psql("CREATE TABLE IF NOT EXISTS after (x int)");
    l.psql(&format!("INSERT INTO after VALUES ({timeline})"));
    ha.wait_streaming(replica);
    assert_eq!(
        r.psql(&format!("SELECT count(*) FROM after WHERE x = {timeline}")),
        "1"
    );

    // `pitr backup` from cron on both: only the leader backs up.
    let out = l.pitr(&["--json", "backup"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["skipped"], false, "{doc}");
    let out = r.pitr(&["--json", "backup"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["skipped"], true, "{doc}");

    let spec = l.spec_path();
    let out = l.pitr(&["check", "--spec", spec.to_str().unwrap()]);
    assert!(out.status.success(), "{}", output_text(&out));

    // The archive: the history of every timeline a leader ran on, none other.
    let want: Vec<String> = (2..=timeline).map(|t| format!("{t:08X}.history")).collect();
    assert_eq!(histories(ha), want);
    let newest = format!("{timeline:08X}");
    assert!(
        ha.archived_wal()
            .iter()
            .any(|f| f.starts_with(&newest) && f.len() == 24),
        "no WAL of timeline {timeline} in {:?}",
        ha.archived_wal()
    );
}

#[test]
#[allow(clippy::too_many_lines)] // one cluster, one story
fn cluster_restores_before_a_switchover_and_to_a_restore_point_after_it() {
    let started = Instant::now();
    let ha = PatroniCluster::builder("ha-cluster")
        .members(2)
        .rest_authentication("postgres", PATRONI_PASSWORD)
        .start();
    let (a, b) = (ha.name_of(0), ha.name_of(1));
    let specs = [
        write_cluster_spec(ha.member(&a), CONTROL.as_ref()),
        write_cluster_spec(ha.member(&b), CONTROL.as_ref()),
    ];
    let t_before_switchover = ha.history_with_switchover();
    let out = ha.member(&b).pitr(&["mark", "after-switchover"]);
    assert!(out.status.success(), "{}", output_text(&out));
    ha.member(&b).insert_batch(4);
    archive_now(&ha, &b);

    // The dry run: every phase, every member, the leader restored; nothing changes.
    let out = cluster_restore(&ha, &b, &specs, &["--dry-run", "-t", &t_before_switchover]);
    assert!(out.status.success(), "{}", output_text(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["kind"], "cluster_restore");
    assert_eq!(plan["chosen"], b.as_str());
    assert_eq!(plan["leader_before"], b.as_str());
    assert_eq!(plan["timeline_before"], 2);
    let steps = plan["steps"].as_array().unwrap();
    let phases: Vec<&str> = steps.iter().map(|s| s["phase"].as_str().unwrap()).collect();
    let mut order = phases.clone();
    order.dedup();
    assert_eq!(
        order,
        [
            "pause", "stop", "restore", "dcs", "start", "resume", "replicas", "archive", "backup"
        ]
    );
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    let pos = |id: &str| {
        ids.iter()
            .position(|i| *i == id)
            .unwrap_or_else(|| panic!("{id}: {ids:?}"))
    };
    // The replica stops first, the primary last after its archive drained.
    assert!(pos(&format!("stop-postgres-{a}")) < pos(&format!("stop-patroni-{b}")));
    assert!(pos(&format!("drain-archive-{b}")) < pos(&format!("stop-postgres-{b}")));
    // The replica's data is removed only after the new leader is verified.
    assert!(pos("await-leader") < pos(&format!("remove-data-{a}")));
    for s in steps {
        assert!(s["host"].as_str().is_some_and(|h| !h.is_empty()), "{s}");
        assert!(s["reason"].as_str().is_some_and(|h| !h.is_empty()), "{s}");
        if s["action"]["kind"] == "exec" {
            assert!(
                s["action"]["argv"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty()),
                "{s}"
            );
        }
    }
    let stop = &steps[pos(&format!("stop-patroni-{a}"))]["action"]["argv"];
    assert_eq!(stop[0], CONTROL);
    assert_eq!(stop[1], "stop");
    // The restore runs on one member only, with archiving off.
    let restore_argv = plan["restore"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "restore")
        .unwrap()["action"]["argv"]
        .to_string();
    assert!(
        restore_argv.contains("--target-action=promote"),
        "{restore_argv}"
    );
    assert_eq!(plan["restore"]["summary"]["archive"], "off");
    assert_eq!(ha.leader().as_deref(), Some(b.as_str()));
    let text = ha.member(&b).pitr(&[
        "restore",
        "--cluster",
        "--dry-run",
        "--spec",
        specs[0].to_str().unwrap(),
        "--spec",
        specs[1].to_str().unwrap(),
        "-t",
        &t_before_switchover,
    ]);
    assert!(text.status.success(), "{}", output_text(&text));
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    for needle in [
        "--- phase pause ---",
        "--- phase replicas ---",
        "patronictl",
        "why:",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    // Python's plan is the CLI's document (the pre-flight's "DCS reached N s ago" aside).
    same_plan(&python_plan(&specs, &t_before_switchover, None), &plan);
    eprintln!("set-up and dry runs: {:.0?}", started.elapsed());

    // A target recovery cannot reach: the cluster comes back as it was.
    let listing = ha.archived_wal();
    let since = Instant::now();
    let out = cluster_restore(&ha, &b, &specs, &["--name", "no-such-point"]);
    back_as_it_was(&ha, &out, "recovery_target_not_reached", &b, &a);
    // Patroni starts a primary that lost its leader key while stopped as a replica and
    // promotes it: timeline 2, or 3 when the key expired.
    let tl_first = ha.timeline().unwrap();
    assert!(tl_first == 2 || tl_first == 3, "timeline {tl_first}");
    // Nothing of the failed recovery reached the archive: only b's own WAL, drained before it
    // stopped and written since it leads again.
    let own = [format!("{:08X}", 2), format!("{tl_first:08X}")];
    for f in ha.archived_wal() {
        assert!(
            listing.contains(&f) || own.iter().any(|tl| f.starts_with(tl.as_str())),
            "{f} appeared in the archive"
        );
    }
    eprintln!("unreachable target, rolled back: {:.0?}", since.elapsed());

    // WAL that cannot be archived: refused before the primary stops, back as it was.
    let since = Instant::now();
    ha.block_archiving(&b);
    let stuck = ha.member(&b).switch_wal();
    let out = cluster_restore(
        &ha,
        &b,
        &specs,
        &["--drain-timeout", "5", "-t", &t_before_switchover],
    );
    back_as_it_was(&ha, &out, "archive_not_drained", &b, &a);
    // A new segment wakes the archiver, which waits a minute after repeated failures.
    ha.unblock_archiving(&b);
    archive_now(&ha, &b);
    ha.member(&b).wait_postgres_archived(&stuck);
    let tl_drained = ha.timeline().unwrap();
    assert!(tl_drained >= tl_first, "timeline {tl_drained}");
    eprintln!("archive not drained, rolled back: {:.0?}", since.elapsed());

    // pitr killed before the point of no return, b restored and its server running on the
    // new timeline: the re-run of the same command brings the cluster back as it was.
    let since = Instant::now();
    let pitr1 = ["-t", t_before_switchover.as_str()];
    let journal_of = (ha.member(&b), ha.scope());
    cluster_restore_killed(&ha, &b, &specs, &pitr1, "stop-restored", journal_of);
    // Nothing else runs against the cluster meanwhile.
    let out = ha.member(&b).pitr(&["backup"]);
    assert!(
        output_text(&out).contains("error[run_interrupted]"),
        "{}",
        output_text(&out)
    );
    // The dry run of the re-run says what it will do (Patroni is down: no pre-flight); another
    // target is refused.
    let out = cluster_restore(&ha, &b, &specs, &["--dry-run", "-t", &t_before_switchover]);
    assert!(out.status.success(), "{}", output_text(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let said = plan["warnings"][0].as_str().unwrap();
    assert!(said.contains("(undo)"), "{said}");
    let out = cluster_restore(&ha, &b, &specs, &["--name", "after-switchover"]);
    assert!(
        output_text(&out).contains("error[run_interrupted]"),
        "{}",
        output_text(&out)
    );
    let out = cluster_restore(&ha, &b, &specs, &pitr1);
    let text = back_as_it_was(&ha, &out, "run_undone", &b, &a);
    assert!(
        text.contains("interrupted at step 'stop-restored'"),
        "{text}"
    );
    assert_no_orphans(&ha);
    // Killed while the members stop (a stopped, b paused with Patroni stopped): `--undo`
    // brings the cluster back without a target.
    cluster_restore_killed(
        &ha,
        &b,
        &specs,
        &pitr1,
        &format!("stop-postgres-{b}"),
        journal_of,
    );
    let out = cluster_restore(&ha, &b, &specs, &["--undo"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let undone: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(undone["outcome"], "undone", "{undone}");
    assert_eq!(undone["interrupted_at"], format!("stop-postgres-{b}"));
    assert_eq!(ha.leader().as_deref(), Some(b.as_str()));
    ha.wait_streaming(&a);
    assert_eq!(rows(ha.member(&a)), "40 1,2,3,4");
    let state = ha.cluster_state().unwrap();
    assert!(!state["pause"].as_bool().unwrap_or(false), "{state}");
    assert_no_orphans(&ha);
    let tl_back = ha.timeline().unwrap();
    assert!(tl_back >= tl_drained, "timeline {tl_back}");
    // Nothing of the restored timeline reached the archive.
    assert!(
        histories(&ha)
            .iter()
            .all(|h| h.as_str() <= format!("{tl_back:08X}.history").as_str()),
        "{:?}",
        histories(&ha)
    );
    eprintln!(
        "killed before the point of no return, rolled back: {:.0?}",
        since.elapsed()
    );

    // Cluster PITR 1: before the switchover. pitr is killed past the point of no return (b
    // leads the restored cluster, a is not rebuilt yet); the re-run completes it.
    let since = Instant::now();
    cluster_restore_killed(
        &ha,
        &b,
        &specs,
        &pitr1,
        &format!("remove-data-{a}"),
        journal_of,
    );
    let out = cluster_restore(&ha, &b, &specs, &["--undo"]);
    assert!(
        output_text(&out).contains("cannot be undone"),
        "{}",
        output_text(&out)
    );
    let out = cluster_restore(&ha, &b, &specs, &pitr1);
    assert!(out.status.success(), "{}", output_text(&out));
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome["resumed"]["decision"], "complete", "{outcome}");
    assert_eq!(
        outcome["resumed"]["interrupted_at"],
        format!("remove-data-{a}"),
        "{outcome}"
    );
    assert_eq!(outcome["completed"][0], format!("remove-data-{a}"));
    let tl1 = new_timeline(&out, tl_back);
    assert_no_orphans(&ha);
    eprintln!(
        "cluster PITR before the switchover, killed and completed: {:.0?}",
        since.elapsed()
    );
    check_restored(&ha, &b, &a, tl1, "10 1");
    // The restored member's previous data directory is kept until the operator removes it.
    let safety_copy = ha.member(&b).root().join("data-backup");
    assert!(safety_copy.join("PG_VERSION").is_file());
    std::fs::remove_dir_all(&safety_copy).unwrap();

    // Cluster PITR 2: a restore point on timeline 2, after the switchover, onto timeline 4.
    // pitr is killed before the point of no return, b restored; the operator continues.
    let since = Instant::now();
    let pitr2 = ["--name", "after-switchover"];
    cluster_restore_killed(&ha, &b, &specs, &pitr2, "archive-on", journal_of);
    let out = cluster_restore(&ha, &b, &specs, &[&pitr2[..], &["--continue"]].concat());
    assert!(out.status.success(), "{}", output_text(&out));
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome["resumed"]["decision"], "complete", "{outcome}");
    assert_eq!(outcome["completed"][0], "archive-on", "{outcome}");
    let tl2 = new_timeline(&out, tl1);
    assert_no_orphans(&ha);
    eprintln!(
        "cluster PITR to a restore point, killed and continued: {:.0?}",
        since.elapsed()
    );
    check_restored(&ha, &b, &a, tl2, "30 1,2,3");

    // A later restore into a scratch directory, to a time after the cluster PITR, lands.
    tick();
    ha.member(&b).insert_batch(9);
    let t_after = ha.member(&b).clock_now();
    ha.member(&b).insert_batch(10);
    archive_now(&ha, &b);
    let clone = CloneServer {
        data: ha.root().join("scratch"),
        socket_dir: ha.member(&b).socket_dir(),
        port: free_port(),
    };
    let mut args = vec!["restore", "-y", "--action", "promote", "-t", &t_after];
    let clone_args = clone.args();
    args.extend(clone_args.iter().map(String::as_str));
    let out = ha.member(&b).pitr(&args);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        clone.psql("SELECT count(*) || ' ' || string_agg(DISTINCT batch::text, ',') FROM t"),
        "40 1,2,3,9"
    );
    clone.stop();

    let since = Instant::now();
    restore_into_a_new_cluster(&ha, &b, &a, &specs, &t_after, tl2);
    eprintln!(
        "restore into a new cluster beside the running one: {:.0?}",
        since.elapsed()
    );
    // The run logs and journals of every run (the killed ones too) hold no Patroni password.
    let mut files = Vec::new();
    for m in ha.members() {
        files_under(&m.root().join("pgbackrest-log"), &mut files);
    }
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("journal")),
        "no run journal in {files:?}"
    );
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        assert!(!text.contains(PATRONI_PASSWORD), "{} holds it", f.display());
    }
    eprintln!("whole test: {:.0?}", started.elapsed());
}

/// The keys of `scope` in the DCS.
fn dcs_keys(ha: &PatroniCluster, scope: &str) -> Vec<String> {
    let out = ha.etcd().etcdctl(&[
        "get",
        "--prefix",
        "--keys-only",
        &format!("/service/{scope}/"),
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    let mut keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    keys.sort();
    keys
}

/// The etcd store's revision now, and the create revisions of the keys of `scope`.
fn dcs_revisions(ha: &PatroniCluster, scope: &str) -> (i64, Vec<i64>) {
    let out = ha.etcd().etcdctl(&[
        "get",
        "--prefix",
        &format!("/service/{scope}/"),
        "-w",
        "json",
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let created = doc["kvs"]
        .as_array()
        .map(|kvs| {
            kvs.iter()
                .map(|kv| kv["create_revision"].as_i64().unwrap())
                .collect()
        })
        .unwrap_or_default();
    (doc["header"]["revision"].as_i64().unwrap(), created)
}

/// What a killed restore into a new cluster left running.
struct Killed {
    postmaster: i32,
    patroni: Vec<i32>,
    /// The etcd store's revision after it was killed.
    dcs_revision: i64,
}

/// The restore into the new cluster of `new` (scope `scope`) with `args`, pitr killed as late
/// as practical (entering the backup: the new member leads and archives into the new stanza);
/// what it left running. While it is interrupted, nothing else runs against the new stanza,
/// a restore with another target is refused, and the dry run of the re-run says what it does.
fn killed_new_cluster(
    ha: &PatroniCluster,
    leader: &str,
    specs: &[PathBuf],
    args: &[&str],
    new: &Member,
    scope: &str,
) -> Killed {
    let since = Instant::now();
    let record = cluster_restore_killed(ha, leader, specs, args, "backup", (new, scope));
    eprintln!(
        "restore into a new cluster, killed entering its backup: {:.0?}",
        since.elapsed()
    );
    assert_eq!(
        record["notes"]["created"],
        serde_json::json!(["data", "stanza", "patroni"]),
        "{record}"
    );
    let postmaster = new
        .postmaster_pid()
        .expect("the killed run's postmaster runs");
    let patroni = pitr_tests::ha::control::patroni_pids(new.root());
    assert!(!patroni.is_empty());
    assert_eq!(new.rest_status("/primary"), Some(200));

    let out = new.pitr(&["backup"]);
    assert!(
        output_text(&out).contains("error[run_interrupted]"),
        "{}",
        output_text(&out)
    );
    let new_spec = args[1];
    let out = cluster_restore(
        ha,
        leader,
        specs,
        &["--new-cluster", new_spec, "--name", "after-switchover"],
    );
    let text = output_text(&out);
    assert!(text.contains("error[run_interrupted]"), "{text}");
    assert!(text.contains("--new-cluster"), "{text}");
    let out = cluster_restore(ha, leader, specs, &[&["--dry-run"], args].concat());
    assert!(out.status.success(), "{}", output_text(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let said = plan["warnings"][0].as_str().unwrap();
    assert!(
        said.contains("(redo)") && said.contains("'backup'"),
        "{said}"
    );
    Killed {
        postmaster,
        patroni,
        dcs_revision: dcs_revisions(ha, scope).0,
    }
}

/// `pitr restore --cluster --new-cluster` to `t_after` while `leader` takes writes: the new
/// cluster leads on the expected rows and archives into its own stanza; the running cluster
/// (on `timeline`) keeps its leader, timeline, DCS keys and archive, and every write.
fn restore_into_a_new_cluster(
    ha: &PatroniCluster,
    leader: &str,
    replica: &str,
    specs: &[PathBuf],
    t_after: &str,
    timeline: u32,
) {
    let scope = format!("{}-new", ha.scope());
    let new = ha.new_cluster_member(&scope);
    let new_spec = write_cluster_spec(&new, CONTROL.as_ref());
    let new_spec = new_spec.to_str().unwrap();
    // Collisions are refused before anything is touched: a port of the running cluster.
    let clash = new.root().join("clash.yml");
    let text = std::fs::read_to_string(new_spec).unwrap().replace(
        &format!("pg_port: {}", new.pg_port()),
        &format!("pg_port: {}", ha.member(leader).pg_port()),
    );
    pitr_tests::write_file_as_postgres(&clash, text, 0o600);
    let out = cluster_restore(
        ha,
        leader,
        specs,
        &["--new-cluster", clash.to_str().unwrap(), "-t", t_after],
    );
    let text = output_text(&out);
    assert!(text.contains("error[invalid_setting]"), "{text}");
    assert!(text.contains("PostgreSQL of"), "{text}");
    assert!(!new.data_dir().exists());

    // The dry run: the new cluster's steps only, Python's the same; nothing is touched.
    let out = cluster_restore(
        ha,
        leader,
        specs,
        &["--dry-run", "--new-cluster", new_spec, "-t", t_after],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["new_cluster"]["scope"], scope.as_str());
    let phases: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["phase"].as_str().unwrap())
        .collect();
    assert!(
        !phases.iter().any(|p| ["pause", "stop", "dcs"].contains(p)),
        "{phases:?}"
    );
    same_plan(&python_plan(specs, t_after, Some(new_spec)), &plan);
    assert!(!new.data_dir().exists());

    let listing = ha.archived_wal();
    let keys = dcs_keys(ha, ha.scope());
    ha.member(leader).psql("CREATE TABLE during (n int)");
    let args = ["--new-cluster", new_spec, "-t", t_after];
    let done = std::sync::atomic::AtomicBool::new(false);
    let (out, written, killed) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut n = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                ha.member(leader)
                    .psql(&format!("INSERT INTO during VALUES ({n})"));
                n += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            n
        });
        let killed = killed_new_cluster(ha, leader, specs, &args, &new, &scope);
        let since = Instant::now();
        let out = cluster_restore(ha, leader, specs, &args);
        eprintln!(
            "the re-run, undoing the killed run and restoring again: {:.0?}",
            since.elapsed()
        );
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (out, writer.join().unwrap(), killed)
    });
    assert!(out.status.success(), "{}", output_text(&out));
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The re-run said what it found and undid it before restoring again.
    assert_eq!(
        outcome["resumed"]["decision"], "redo",
        "{}",
        outcome["resumed"]
    );
    assert_eq!(outcome["resumed"]["interrupted_at"], "backup");
    let text = output_text(&out);
    assert!(
        text.contains(&format!("undo-remove-data-{}", new.name()))
            && text.contains("undone: what the interrupted run created"),
        "{text}"
    );
    // Nothing of the killed run runs: its postmaster and Patroni are gone, the new run's
    // are the only ones in the new member's directory; every key of the new scope in the DCS
    // was written after the re-run began.
    assert!(!Path::new(&format!("/proc/{}", killed.postmaster)).exists());
    for pid in &killed.patroni {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "Patroni {pid}"
        );
    }
    let patroni = pitr_tests::ha::control::patroni_pids(new.root());
    assert_eq!(patroni.len(), 1, "{patroni:?}");
    assert!(!killed.patroni.contains(&patroni[0]));
    let want = format!("-D {}", new.data_dir().display());
    let settled = poll_until(Duration::from_secs(30), || {
        let found = processes_under(new.root());
        (found.len() == 1 && found[0].contains(&want)).then_some(())
    });
    assert!(settled.is_some(), "{:#?}", processes_under(new.root()));
    let (_, created) = dcs_revisions(ha, &scope);
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|r| *r > killed.dcs_revision),
        "{created:?} vs {}",
        killed.dcs_revision
    );
    assert_eq!(outcome["plan"]["new_cluster"]["scope"], scope.as_str());
    let restored = outcome["restored_timeline"].as_u64().unwrap();
    assert!(
        outcome["backup"]["report"].is_object(),
        "{}",
        outcome["backup"]
    );

    // The running cluster: same leader, timeline, DCS keys, unpaused, every write there.
    assert!(written > 0);
    assert_eq!(ha.leader().as_deref(), Some(leader));
    assert_eq!(ha.timeline(), Some(timeline));
    ha.wait_streaming(replica);
    let state = ha.cluster_state().unwrap();
    assert!(!state["pause"].as_bool().unwrap_or(false), "{state}");
    assert_eq!(dcs_keys(ha, ha.scope()), keys);
    assert_eq!(
        ha.member(leader).psql("SELECT count(*) FROM during"),
        written.to_string()
    );
    // Its archive: everything it had, and nothing of another timeline.
    let after = ha.archived_wal();
    assert!(listing.iter().all(|f| after.contains(f)));
    let newest = format!("{timeline:08X}");
    assert!(
        after.iter().all(|f| f[..8] <= *newest),
        "a newer timeline in {after:?}"
    );

    // The new cluster: its own scope in the DCS, a leader with the rows at t_after, archiving
    // into its own stanza (the new timeline's history and WAL).
    assert!(dcs_keys(ha, &scope).iter().any(|k| k.ends_with("/leader")));
    assert_eq!(new.rest_status("/primary"), Some(200));
    assert_eq!(rows(&new), "40 1,2,3,9");
    assert_eq!(
        new.psql("SELECT to_regclass('during') IS NULL"),
        "t",
        "the new cluster was restored to before the table"
    );
    // (Patroni may have promoted the restored member once more, onto the next timeline.)
    let leads_on = outcome["timeline"].as_u64().unwrap();
    assert!(
        leads_on == restored || leads_on == restored + 1,
        "{leads_on}"
    );
    let own = ha.archived_wal_of(&scope);
    for tl in restored..=leads_on {
        assert!(own.contains(&format!("{tl:08X}.history")), "{own:?}");
    }
    assert!(
        own.iter()
            .any(|f| f.len() == 24 && f.starts_with(&format!("{leads_on:08X}"))),
        "{own:?}"
    );
    assert!(
        own.iter().any(|f| f.ends_with(".backup")),
        "no backup of the new cluster in {own:?}"
    );
}
