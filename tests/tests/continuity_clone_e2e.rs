//! WAL continuity and clones, end to end on real PostgreSQL 15 and pgBackRest 2.45:
//!
//! * a WAL segment deleted from the repo between the set and the target is found by pre-flight
//!   (`wal_gap`, naming the segment) and nothing is touched: not the data directory, not the
//!   running server;
//! * a clone at a point in time (`pitr restore --data DIR --port P -t TIME`), restored from an
//!   encrypted S3 repo beside a local one, runs beside its source, which keeps running
//!   untouched, and the source's archive never receives WAL from the clone's timeline.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use pitr_tests::{
    CloneServer, S3Server, Stanza, TestCluster, create_padded_tables, dir_fingerprint, output_text,
    pgbackrest_ok, tick,
};

const PASSPHRASE: &str = "continuity-Cipher-Pass-8Wd3";

/// The pid in `postmaster.pid`, if the file exists.
fn postmaster_pid(data: &Path) -> Option<String> {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().next().map(str::to_owned))
}

/// The archive files of `stanza` in `repo`, as `repo-ls --recurse` lists them (relative to
/// `archive/<stanza>`).
fn archive_files(config: &Path, stanza: &str, repo: u32) -> Vec<String> {
    let json = pgbackrest_ok(
        config,
        &[
            &format!("--stanza={stanza}"),
            &format!("--repo={repo}"),
            "repo-ls",
            "--recurse",
            "--output=json",
            &format!("archive/{stanza}"),
        ],
    );
    let listing: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap();
    listing
        .into_iter()
        .filter(|(_, v)| v["type"] == "file")
        .map(|(k, _)| k)
        .collect()
}

#[test]
fn a_hole_in_the_archive_is_reported_before_anything_is_touched() {
    let cluster = TestCluster::start("gap");
    create_padded_tables(&cluster);
    let spec = Stanza::spec_yaml(
        &cluster,
        "gap",
        "local",
        &Stanza::local_repo_yaml(&cluster),
        "",
    );
    let mut stanza = Stanza::from_spec(cluster, "gap", &spec);
    stanza.insert_rows(1, 100, 0);
    let segment = stanza
        .cluster
        .psql("SELECT pg_walfile_name(pg_current_wal_lsn())");
    stanza.insert_rows(0, -1, 2);
    tick();
    let target = stanza.utc_now();
    tick();
    stanza.insert_rows(101, 200, 1);
    stanza.archive_now();
    // Before the hole: the plan is fine.
    let ok = stanza.pitr_ok(&["restore", "--dry-run", "-t", &target]);
    assert!(ok.contains("--repo=1"), "{ok}");

    let files = stanza.archived_segment_files("repo", &segment);
    assert_eq!(files.len(), 1, "{segment}: {files:?}");
    std::fs::remove_file(&files[0]).unwrap();

    let refused = |stanza: &Stanza, args: &[&str]| {
        let out = stanza.pitr(args);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}:\n{text}");
        assert!(text.contains("error[wal_gap]"), "{args:?}:\n{text}");
        assert!(
            text.contains("the archive in repo1 is missing 1 WAL segment(s) needed from"),
            "{args:?}:\n{text}"
        );
        assert!(text.contains(&segment), "{args:?}:\n{text}");
    };
    // While the server runs: refused, and the server is as it was.
    let pid = postmaster_pid(&stanza.cluster.data_dir());
    refused(&stanza, &["restore", "--dry-run", "-t", &target]);
    refused(&stanza, &["restore", "-y", "-t", &target]);
    assert!(stanza.cluster.is_running());
    assert_eq!(postmaster_pid(&stanza.cluster.data_dir()), pid);
    assert_eq!(stanza.count("t"), 200);
    assert_eq!(stanza.cluster.psql("SELECT pg_is_in_recovery()"), "f");
    // Stopped: refused, and not a byte of the data directory changed.
    stanza.cluster.stop();
    let before = dir_fingerprint(&stanza.cluster.data_dir());
    refused(&stanza, &["restore", "-y", "-t", &target]);
    refused(&stanza, &["restore", "-y", "-t", &target, "--safety-copy"]);
    assert_eq!(dir_fingerprint(&stanza.cluster.data_dir()), before);
    assert!(!stanza.cluster.is_running());
    assert!(!Path::new(&format!("{}-backup", stanza.cluster.data_dir().display())).exists());
    stanza.cluster.start_server();
    assert_eq!(stanza.count("t"), 200);
}

#[test]
fn a_clone_at_a_time_runs_beside_the_source_and_writes_nothing_into_its_archive() {
    let s3 = S3Server::start();
    let cluster = TestCluster::start("clone");
    create_padded_tables(&cluster);
    let repos = format!(
        "{}{}    cipher_type: aes-256-cbc\n    cipher_pass: {PASSPHRASE}\n",
        Stanza::local_repo_yaml(&cluster),
        s3.repo_yaml("s3", "/pgbackrest")
    );
    let spec = Stanza::spec_yaml(&cluster, "clone", "[local, s3]", &repos, "");
    let stanza = Stanza::from_spec(cluster, "clone", &spec);
    stanza.pitr_ok(&["backup", "full", "--repo", "2"]);
    tick();
    stanza.insert_rows(1, 100, 1);
    tick();
    let target = stanza.utc_now();
    tick();
    stanza.insert_rows(101, 200, 1);
    stanza.archive_now();

    let source_data = stanza.cluster.data_dir();
    let source_pid = postmaster_pid(&source_data).unwrap();
    let auto_conf = std::fs::read(source_data.join("postgresql.auto.conf")).unwrap();
    // The source's asynchronous archive-push keeps its status files under
    // `<spool>/archive/<stanza>`, which `pgbackrest restore` empties: a clone must use another
    // spool path. A marker there shows whether the clone's restore touched it.
    let marker = stanza.cluster.path("spool/archive/clone/pitr-e2e-marker");
    pitr_tests::write_file_as_postgres(&marker, "source spool\n", 0o600);
    let clone = CloneServer {
        data: stanza.cluster.path("clone-data"),
        socket_dir: stanza.cluster.socket_dir(),
        port: if stanza.cluster.port() < 65_000 {
            stanza.cluster.port() + 1
        } else {
            stanza.cluster.port() - 1
        },
    };
    let data_arg = clone.data.display().to_string();
    let port_arg = clone.port.to_string();
    let clone_args = [
        "--data", &data_arg, "--port", &port_arg, "-t", &target, "--action", "promote",
    ];

    // The plan: a clone from repo2 (the newest set), archiving off, the port as a recovery
    // option; asking to keep archiving is refused.
    let mut dry = vec!["--json", "restore", "--dry-run"];
    dry.extend_from_slice(&clone_args);
    let plan: serde_json::Value = serde_json::from_str(&stanza.pitr_ok(&dry)).unwrap();
    assert_eq!(plan["summary"]["clone"], true, "{plan}");
    assert_eq!(plan["summary"]["archive"], "off", "{plan}");
    assert_eq!(plan["summary"]["repo"], 2, "{plan}");
    assert_eq!(plan["summary"]["data"], data_arg.as_str(), "{plan}");
    let steps = plan["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["id"] != "stop"),
        "a clone never stops the source: {plan}"
    );
    let restore = steps.iter().find(|s| s["id"] == "restore").unwrap();
    assert!(
        restore["action"]["argv"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(format!(
                "--recovery-option=port={}",
                clone.port
            ))),
        "{restore}"
    );
    let mut preserve = dry.clone();
    preserve.extend_from_slice(&["--archive", "preserve"]);
    let out = stanza.pitr(&preserve);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(output_text(&out).contains("error[invalid_setting]"));

    // The clone itself.
    let mut run = vec!["restore", "-y"];
    run.extend_from_slice(&clone_args);
    let out = stanza.pitr_ok(&run);
    assert!(out.contains("verified"), "{out}");
    assert_eq!(clone.psql("SELECT count(*) FROM t"), "100");
    assert_eq!(clone.psql("SELECT pg_is_in_recovery()"), "f");
    assert_eq!(clone.psql("SHOW archive_mode"), "off");

    // The source kept running, untouched.
    assert!(stanza.cluster.is_running());
    assert_eq!(postmaster_pid(&source_data).unwrap(), source_pid);
    assert_eq!(stanza.count("t"), 200);
    assert_eq!(
        std::fs::read(source_data.join("postgresql.auto.conf")).unwrap(),
        auto_conf
    );
    assert!(
        marker.is_file(),
        "the clone's restore emptied the source's spool path (archive-push status)"
    );

    // A second clone into the running clone's directory is refused.
    let out = stanza.pitr(&run);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("error[data_directory]"), "{text}");
    assert_eq!(clone.psql("SELECT count(*) FROM t"), "100");

    // The clone works on its own timeline and archives nothing of it.
    clone.psql("INSERT INTO t SELECT g, 'clone' FROM generate_series(1000, 1100) g");
    for _ in 0..3 {
        clone.psql("INSERT INTO filler VALUES (2); SELECT pg_switch_wal()");
    }
    clone.psql("CHECKPOINT");
    let clone_tli = clone.psql("SELECT timeline_id FROM pg_control_checkpoint()");
    assert_eq!(clone_tli, "2");
    assert_eq!(
        clone.psql("SELECT archived_count || ' ' || failed_count FROM pg_stat_archiver"),
        "0 0"
    );
    // The source goes on archiving on timeline 1.
    stanza.insert_rows(201, 300, 1);
    stanza.archive_now();
    for repo in [1, 2] {
        let files = archive_files(&stanza.config, "clone", repo);
        assert!(
            files.iter().any(|f| f.contains("/00000001")),
            "repo{repo}: {files:?}"
        );
        let foreign: Vec<&String> = files
            .iter()
            .filter(|f| {
                let name = f.rsplit('/').next().unwrap();
                name.starts_with("00000002")
            })
            .collect();
        assert!(
            foreign.is_empty(),
            "repo{repo} holds WAL of the clone's timeline: {foreign:?}"
        );
    }
    // Archiving of the source never stalled or failed because of the clone.
    let log = stanza.cluster.server_log();
    assert!(!log.contains("archive command failed"), "{log}");
    let info = stanza.pitr_ok(&["info"]);
    assert!(info.starts_with("stanza clone: ok"), "{info}");
    assert!(!info.contains("timeline 2"), "{info}");
}
