//! A time target after the last commit, on real PostgreSQL 15 and pgBackRest 2.45: with WAL
//! written after the target archived (the restore point of `pgbackrest check`), the restore
//! lands on the end-of-archive rows, in place and as a clone, and says which commit was last
//! and what proves the archive reaches past the target; a target the archive does not reach
//! yet is refused before anything is touched (`target_not_archived`). What a killed scan of the
//! archive left in its working directory is removed by the next scan, links not followed.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use pitr_tests::{
    CloneServer, Stanza, cmd_as_postgres, dir_fingerprint, files_under, free_port, output_text,
    tick, write_file_as_postgres,
};

#[test]
fn a_time_after_the_last_commit_lands_on_the_end_of_the_archive() {
    let h = Stanza::local("quiet");
    h.cluster.psql("CREATE TABLE t (id int)");
    h.cluster
        .psql("INSERT INTO t SELECT g FROM generate_series(1, 100) g");
    h.pitr_ok(&["backup", "full"]);
    h.cluster
        .psql("INSERT INTO t SELECT g FROM generate_series(101, 200) g");
    let last_commit = h.utc_now();
    tick();
    // Nothing commits from here on: the target lies in a quiet stretch.
    let quiet = h.utc_now();
    tick();
    // `pgbackrest check` writes a restore point (a record with a time) and archives it.
    h.archive_now();
    tick();
    let after_proof = h.utc_now();
    tick();
    // WAL without any time in it, archived: the archive's files are newer than the target,
    // but nothing in them says the state at that time.
    h.cluster
        .psql("SELECT pg_logical_emit_message(false, 'pitr-test', 'no time here')");
    h.cluster.psql("SELECT pg_switch_wal()");
    wait_archived(&h);

    // Refused before anything is touched: the archive does not reach the target yet.
    h.cluster.stop();
    let before = dir_fingerprint(&h.cluster.data_dir());
    let out = h.pitr(&["restore", "-y", "-t", &after_proof]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("error[target_not_archived]"), "{text}");
    assert!(text.contains("restore point at "), "{text}");
    assert!(
        !h.cluster.is_running(),
        "the refused restore started the server"
    );
    assert_eq!(dir_fingerprint(&h.cluster.data_dir()), before);

    // What a scan killed with SIGKILL left in its working directory (a fixed name per
    // stanza, in the log-path the database user owns): junk under the names of the archived
    // segments, and a link to a file of root's. The next scan removes them (the link, not what
    // it points at) before it fetches anything, so the junk does not mislead it.
    // The refused restore's scan left it there, empty.
    let work = h.cluster.path("pgbackrest-log/pitr-quiet-walscan");
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
    let mut archived = Vec::new();
    files_under(&h.cluster.path("repo/archive/quiet"), &mut archived);
    let mut planted = Vec::new();
    for f in &archived {
        let name = f.file_name().unwrap().to_str().unwrap();
        if name.len() > 24 && name.starts_with("0000000") {
            write_file_as_postgres(&work.join(&name[..24]), "not WAL", 0o600);
            planted.push(name[..24].to_owned());
        }
    }
    assert!(planted.len() >= 2, "{archived:?}");
    let canary = h.cluster.path("canary");
    // Root's own file, outside the safe helpers' reach (it lies in the test's directory,
    // which postgres owns): the link's target.
    #[allow(clippy::disallowed_methods)]
    std::fs::write(&canary, "root's own").unwrap();
    let out = cmd_as_postgres("ln")
        .arg("-s")
        .arg(&canary)
        .arg(work.join("link"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));

    // The plan says where it lands and why.
    let plan: serde_json::Value =
        serde_json::from_str(&h.pitr_ok(&["--json", "restore", "--dry-run", "-t", &quiet]))
            .unwrap();
    let landing = &plan["summary"]["landing"];
    assert_eq!(landing["proof"]["kind"], "restore_point", "{plan}");
    let commit_time = landing["last_commit"]["time"].as_str().unwrap().to_owned();
    assert!(
        commit_time.as_str() <= last_commit.as_str() && commit_time.as_str() < quiet.as_str(),
        "{commit_time} vs {last_commit}"
    );
    let plan_text = plan.to_string();
    assert!(plan_text.contains("--type=lsn"), "{plan_text}");
    // The scan left its working directory empty, and nothing under another name.
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0, "{planted:?}");
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "root's own");
    let scans: Vec<_> = std::fs::read_dir(h.cluster.path("pgbackrest-log"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("walscan"))
        .collect();
    assert_eq!(scans, ["pitr-quiet-walscan"]);

    // As a clone beside the running source.
    let clone = CloneServer {
        data: h.cluster.path("scratch/quiet"),
        socket_dir: h.cluster.socket_dir(),
        port: free_port(),
    };
    let mut args = vec!["--json", "restore", "-y", "-t", &quiet];
    let clone_args = clone.args();
    args.extend(clone_args.iter().map(String::as_str));
    let out = h.pitr(&args);
    assert!(out.status.success(), "{}", output_text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verified = &doc["report"]["verified"];
    assert_eq!(verified["target"], format!("time {quiet}"), "{verified}");
    assert_eq!(verified["landing"]["proof"]["kind"], "restore_point");
    assert_eq!(clone.psql("SELECT count(*) FROM t").trim(), "200");
    clone.stop();

    // In place: the same rows, and the text says what happened.
    let out = h.pitr(&["restore", "-y", "-t", &quiet]);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("nothing committed between the last transaction and"),
        "{text}"
    );
    assert!(text.contains("restore point at "), "{text}");
    assert_eq!(h.count("t"), 200, "{text}");
}

/// Waits until the source's archiver has archived the segment it just switched away from.
fn wait_archived(h: &Stanza) {
    for _ in 0..600 {
        let done = h.cluster.psql(
            "SELECT coalesce(last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1), false) \
             FROM pg_stat_archiver",
        );
        if done.trim() == "t" {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the switched segment was not archived");
}
