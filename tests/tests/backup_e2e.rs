//! `pitr backup` like Pigsty's `pg-backup`, on real PostgreSQL and pgBackRest: the primary
//! backs up with the requested type, a streaming replica skips and exits 0.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use pitr_tests::{
    Stanza, TestCluster, cmd_as_postgres, output_text, pg_bin, pgbackrest_ok, pitr_ok,
    write_file_as_postgres,
};

fn backup_types(stanza: &Stanza) -> Vec<String> {
    let info: serde_json::Value = serde_json::from_str(&pgbackrest_ok(
        &stanza.config,
        &["--stanza", &stanza.name, "info", "--output=json"],
    ))
    .unwrap();
    info[0]["backup"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap().to_owned())
        .collect()
}

/// A streaming replica of `primary` in its own directory, with its own pgbackrest.conf for the
/// same stanza and repo (as every node of a Pigsty cluster has).
fn replica_of(primary: &Stanza) -> (TestCluster, std::path::PathBuf) {
    let replica = TestCluster::init("replica");
    let data = replica.data_dir();
    std::fs::remove_dir_all(&data).unwrap();
    let mut basebackup = cmd_as_postgres(pg_bin("pg_basebackup"));
    basebackup
        .arg("-h")
        .arg(primary.cluster.socket_dir())
        .arg("-p")
        .arg(primary.cluster.port().to_string())
        .arg("-D")
        .arg(&data)
        .args(["-R", "-X", "stream", "-c", "fast"]);
    let out = basebackup.output().unwrap();
    assert!(out.status.success(), "pg_basebackup: {}", output_text(&out));
    replica.append_conf(&format!(
        "port = {}\nunix_socket_directories = '{}'\n",
        replica.port(),
        replica.socket_dir().display()
    ));
    let mut replica = replica;
    replica.start_server();
    let spec = Stanza::spec_yaml(
        &replica,
        &primary.name,
        "local",
        &Stanza::local_repo_yaml(&primary.cluster),
        "",
    );
    let spec_path = replica.path("spec.yml");
    write_file_as_postgres(&spec_path, spec, 0o600);
    let config = replica.path("pgbackrest.conf");
    pitr_ok(&[
        "render",
        "--spec",
        &spec_path.display().to_string(),
        "--output",
        &config.display().to_string(),
    ]);
    (replica, config)
}

#[test]
fn primary_backs_up_and_a_replica_skips() {
    let primary = Stanza::local("backup-roles");
    primary
        .cluster
        .psql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id");
    let (replica, replica_config) = replica_of(&primary);
    assert_eq!(replica.psql("SELECT pg_is_in_recovery()"), "t");

    for kind in ["diff", "incr", "full"] {
        let dry = primary.pitr_ok(&["--json", "backup", kind, "--dry-run"]);
        assert!(dry.contains(&format!("--type={kind}")), "{dry}");
        primary.pitr_ok(&["backup", kind]);
    }
    assert_eq!(backup_types(&primary), ["full", "diff", "incr", "full"]);
    // No type: incremental, like pg-backup.
    primary.pitr_ok(&["backup"]);
    assert_eq!(backup_types(&primary).last().unwrap(), "incr");

    let config = replica_config.display().to_string();
    for args in [
        vec!["--config", &config, "backup", "full"],
        vec!["--config", &config, "backup"],
    ] {
        let out = pitr_tests::pitr(&args);
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
        let text = output_text(&out);
        assert!(text.contains("skipped"), "{text}");
    }
    let out = pitr_tests::pitr(&["--config", &config, "--json", "backup", "full"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["skipped"], true);
    // The replica's runs added no backup.
    assert_eq!(backup_types(&primary).len(), 5);
}

#[test]
fn backup_creates_a_missing_stanza() {
    // Stanza::local runs `pitr backup full` on a repo where the stanza does not exist yet.
    let stanza = Stanza::local("backup-new-stanza");
    assert_eq!(backup_types(&stanza), ["full"]);
}
