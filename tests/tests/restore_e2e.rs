//! Point-in-time restores through the `pitr` binary on real PostgreSQL 15 and pgBackRest 2.45:
//! every target type lands exactly where asked with the set pitr chose itself; targets outside
//! the window are refused before anything is touched; an unreachable target fails and the
//! safety copy comes back; a dry run prints the plan the real run executes; restoring in place
//! to the same time again after a promote follows the timeline that was live at that time (and
//! along the newest timeline, where nothing committed after the target, lands on the same rows).

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use pitr_tests::{Stanza, dir_fingerprint, output_text, tick};

/// A stanza with a known history:
///
/// ```text
/// CREATE t, full backup F
/// batch 1 (rows 1-100)     -> time T1
/// batch 2 (rows 101-200)   xid X2, restore point `before-incr` (pitr mark)
/// batch 3 (rows 201-300)   -> LSN L3
/// incremental backup I
/// batch 4 (rows 301-400)   -> time T4
/// batch 5 (rows 401-500)   WAL archived
/// ```
struct History {
    stanza: Stanza,
    t1: String,
    x2: String,
    l3: String,
    t4: String,
}

fn batch(stanza: &Stanza, n: i32) -> String {
    stanza
        .cluster
        .psql(&format!(
            "INSERT INTO t SELECT g, {n} FROM generate_series({}, {}) g RETURNING pg_current_xact_id()",
            (n - 1) * 100 + 1,
            n * 100
        ))
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

fn history(name: &str) -> History {
    let cluster = pitr_tests::TestCluster::start(name);
    cluster.psql("CREATE TABLE t (id int, batch int)");
    let spec = Stanza::spec_yaml(
        &cluster,
        name,
        "local",
        &Stanza::local_repo_yaml(&cluster),
        "",
    );
    let stanza = Stanza::from_spec(cluster, name, &spec);
    tick();
    batch(&stanza, 1);
    tick();
    let t1 = stanza.utc_now();
    tick();
    let x2 = batch(&stanza, 2);
    stanza.pitr_ok(&["mark", "before-incr"]);
    batch(&stanza, 3);
    let l3 = stanza.cluster.psql("SELECT pg_current_wal_lsn()");
    stanza.pitr_ok(&["backup", "incr"]);
    tick();
    batch(&stanza, 4);
    tick();
    let t4 = stanza.utc_now();
    tick();
    batch(&stanza, 5);
    stanza.archive_now();
    History {
        stanza,
        t1,
        x2,
        l3,
        t4,
    }
}

fn plan_json(stanza: &Stanza, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json", "restore", "--dry-run"];
    all.extend_from_slice(args);
    serde_json::from_str(&stanza.pitr_ok(&all)).unwrap()
}

#[test]
fn every_target_type_restores_exactly_the_expected_rows() {
    let h = history("targets");
    let full = |p: &serde_json::Value| p["summary"]["set"].as_str().unwrap().ends_with('F');
    let cases: Vec<(Vec<&str>, i64, bool)> = vec![
        // (flags, rows, whether pitr must pick the full set)
        (vec!["-t", &h.t1], 100, true),
        (vec!["-t", &h.t1, "-X"], 100, true),
        (vec!["-t", &h.t4], 400, false),
        // A restore point older than the newest set: pgBackRest alone restores I and fails.
        (vec!["-n", "before-incr"], 200, true),
        (vec!["-l", &h.l3], 300, true),
        (vec!["-l", &h.l3, "--exclusive"], 300, true),
        (vec!["-x", &h.x2], 200, true),
        (vec!["-x", &h.x2, "-X"], 100, true),
        (vec!["-i"], 300, false),
        (vec!["-d"], 500, false),
    ];
    for (flags, rows, from_full) in cases {
        let plan = plan_json(&h.stanza, &flags);
        assert_eq!(
            full(&plan),
            from_full,
            "{flags:?} chose {}",
            plan["summary"]
        );
        let mut args = vec!["restore", "-y"];
        args.extend_from_slice(&flags);
        let out = h.stanza.pitr(&args);
        assert!(out.status.success(), "{flags:?}:\n{}", output_text(&out));
        assert_eq!(
            h.stanza.count("t"),
            rows,
            "{flags:?}:\n{}",
            output_text(&out)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("verified"), "{flags:?}: {stdout}");
    }
    // The name target: pgBackRest's own choice would have been the incremental set.
    let plan = plan_json(&h.stanza, &["-n", "before-incr"]);
    assert!(
        plan["summary"]["pgbackrest_choice"]["set"]
            .as_str()
            .unwrap()
            .ends_with('I')
    );
    assert_eq!(plan["summary"]["rule"], "stopped_before_mark");
}

#[test]
fn targets_outside_the_window_are_refused_before_anything_is_touched() {
    let h = history("window");
    h.stanza.cluster.stop();
    let before = dir_fingerprint(&h.stanza.cluster.data_dir());
    let too_early = "2000-01-01 00:00:00+00";
    let too_late = "2999-01-01 00:00:00+00";
    for flags in [
        vec!["-t", too_early],
        vec!["-t", too_late],
        vec!["-l", "FFFF/0"],
        vec!["-l", "0/100"],
    ] {
        let mut args = vec!["restore", "-y"];
        args.extend_from_slice(&flags);
        let out = h.stanza.pitr(&args);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{flags:?}:\n{text}");
        assert!(
            text.contains("error[target_outside_window]"),
            "{flags:?}:\n{text}"
        );
        assert!(
            text.contains("recoverable: repo1 timeline 1: from "),
            "{flags:?}:\n{text}"
        );
        assert_eq!(
            dir_fingerprint(&h.stanza.cluster.data_dir()),
            before,
            "{flags:?} touched data"
        );
        assert!(
            !h.stanza.cluster.is_running(),
            "{flags:?} started the server"
        );
    }
    // Bad input is refused the same way: nothing runs, exit status 2.
    let out = h.stanza.pitr(&["restore", "-y", "-l", "0/ZZ"]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let out = h.stanza.pitr(&["restore", "-y", "-t", &h.t1, "-x", "5"]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert_eq!(dir_fingerprint(&h.stanza.cluster.data_dir()), before);
}

#[test]
fn an_unreachable_target_fails_and_the_safety_copy_comes_back() {
    let mut h = history("unreachable");
    h.stanza.cluster.stop();
    let data = h.stanza.cluster.data_dir();
    let before = dir_fingerprint(&data);
    // No restore point has this name: recovery replays all WAL and ends before the target.
    let set = plan_json(&h.stanza, &["-d"])["summary"]["set"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = h.stanza.pitr(&[
        "restore",
        "-y",
        "-n",
        "no-such-point",
        "--set",
        &set,
        "--safety-copy",
    ]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("error[recovery_target_not_reached]"),
        "{text}"
    );
    assert!(
        text.contains("recovery ended before configured recovery target was reached"),
        "{text}"
    );
    assert!(text.contains("rolled back"), "{text}");
    assert_eq!(
        dir_fingerprint(&data),
        before,
        "the data directory is not as it was"
    );
    assert!(!std::path::Path::new(&format!("{}-backup", data.display())).exists());
    // And the cluster still works.
    h.stanza.cluster.start_server();
    assert_eq!(h.stanza.count("t"), 500);
}

#[test]
fn dry_run_json_equals_the_plan_the_real_run_executes() {
    let h = history("dryrun");
    let dry = plan_json(&h.stanza, &["-t", &h.t4, "--action", "promote"]);
    let out = h.stanza.pitr(&[
        "--json", "restore", "-y", "-t", &h.t4, "--action", "promote",
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    let real: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(real["plan"], dry);
    assert_eq!(real["report"]["verified"]["ending"], "promoted");
    // The run log records the same plan.
    let log = std::fs::read_to_string(real["report"]["log_file"].as_str().unwrap()).unwrap();
    let logged = log.lines().find_map(|l| l.split_once(" plan: ")).unwrap().1;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(logged).unwrap(),
        dry
    );
    // pgBackRest's per-file lines feed the progress, not the log; its summary is there.
    assert!(!log.contains("DETAIL: restore file"), "{log}");
    assert!(log.contains("INFO: restore size = "), "{log}");
    assert_eq!(h.stanza.count("t"), 400);
}

/// The timeline the cluster runs on.
fn timeline(stanza: &Stanza) -> String {
    stanza
        .cluster
        .psql("SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")
}

#[test]
fn restoring_in_place_to_the_same_time_again_after_a_promote_lands_on_the_same_rows() {
    let h = history("again");
    let restore = |stanza: &Stanza, flags: &[&str]| {
        let mut args = vec!["restore", "-y", "--action", "promote"];
        args.extend_from_slice(flags);
        stanza.pitr(&args)
    };
    let out = restore(&h.stanza, &["-t", &h.t4]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        (h.stanza.count("t"), timeline(&h.stanza)),
        (400, "2".into())
    );
    // The new timeline's history file reaches the archive; nothing is committed on it.
    h.stanza.archive_now();

    // PostgreSQL's default, the newest timeline, holds no commit after the target: alone,
    // recovery would run out of WAL before it. Its end-of-recovery checkpoint was written after
    // the target, so pitr lands on the end of timeline 2's WAL instead: the same rows.
    let out = restore(
        &h.stanza,
        &["-t", &h.t4, "--timeline", "latest", "--safety-copy"],
    );
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("nothing committed between the last transaction and"),
        "{text}"
    );
    assert!(text.contains("--target-timeline=2"), "{text}");
    assert_eq!(
        (h.stanza.count("t"), timeline(&h.stanza)),
        (400, "3".into())
    );
    h.stanza.archive_now();

    // pitr's choice: timeline 1 was live at the target time and its WAL went on past the fork.
    let plan = plan_json(&h.stanza, &["-t", &h.t4]);
    assert_eq!(plan["summary"]["timeline"], "1", "{}", plan["summary"]);
    let reason = plan["summary"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("its own WAL goes on past the fork"),
        "{reason}"
    );
    let out = restore(&h.stanza, &["-t", &h.t4]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        (h.stanza.count("t"), timeline(&h.stanza)),
        (400, "4".into())
    );

    // A time after the newest fork lands on the newest timeline's rows.
    tick();
    batch(&h.stanza, 6);
    tick();
    let t6 = h.stanza.utc_now();
    tick();
    batch(&h.stanza, 7);
    h.stanza.archive_now();
    let plan = plan_json(&h.stanza, &["-t", &t6]);
    assert_eq!(plan["summary"]["timeline"], "4", "{}", plan["summary"]);
    let out = restore(&h.stanza, &["-t", &t6]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(h.stanza.count("t"), 500);
    assert_eq!(h.stanza.cluster.psql("SELECT max(batch) FROM t"), "6");
}

#[test]
fn a_restored_server_pitr_cannot_reach_fails_the_restore_and_the_safety_copy_comes_back() {
    let cluster = pitr_tests::TestCluster::start("unanswering");
    cluster.psql("CREATE TABLE t (id int, batch int)");
    let spec = Stanza::spec_yaml(
        &cluster,
        "unanswering",
        "local",
        &Stanza::local_repo_yaml(&cluster),
        "",
    );
    let mut stanza = Stanza::from_spec(cluster, "unanswering", &spec);
    batch(&stanza, 1);
    // The next backup carries a postgresql.conf whose socket directory is not the one pitr
    // watches recovery through (the running server keeps its own until a restart).
    let elsewhere = stanza.cluster.path("elsewhere");
    pitr_tests::mkdir_as_postgres(&elsewhere, 0o700);
    let moved = format!("unix_socket_directories = '{}'", elsewhere.display());
    stanza.cluster.append_conf(&moved);
    stanza.pitr_ok(&["backup", "full"]);
    stanza.cluster.stop();
    let data = stanza.cluster.data_dir();
    let before = dir_fingerprint(&data);

    let out = stanza.pitr(&["restore", "-y", "--safety-copy"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("error[database_error]"), "{text}");
    assert!(
        text.contains("the server log says recovery ended (promoted), but the server has not answered for 60 s"),
        "{text}"
    );
    assert!(text.contains("rolled back"), "{text}");
    assert_eq!(
        dir_fingerprint(&data),
        before,
        "the data directory is not as it was"
    );
    // The original as it was, once its configuration no longer moves the socket.
    let conf = data.join("postgresql.conf");
    let mut kept = String::new();
    for line in std::fs::read_to_string(&conf).unwrap().lines() {
        if line != moved {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    pitr_tests::write_file_as_postgres(&conf, kept, 0o600);
    stanza.cluster.start_server();
    assert_eq!(stanza.count("t"), 100);
}
