//! A pgbackrest.conf and archive settings rendered by pitr work with real pgBackRest 2.45 and
//! PostgreSQL 15: stanza-create, check and backup succeed.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use pitr_tests::{Stanza, pgbackrest, pgbackrest_ok};

#[test]
fn rendered_local_config_is_accepted_by_pgbackrest() {
    // Stanza::local renders pgbackrest.conf and the archive settings with `pitr render`,
    // restarts PostgreSQL with them and runs `pitr backup full` (stanza-create, then backup).
    let stanza = Stanza::local("render-local");
    let conf = std::fs::read_to_string(&stanza.config).unwrap();
    assert!(conf.contains("[render-local]\npg1-path="), "{conf}");
    assert!(conf.contains("compress-type=zst"));
    pgbackrest_ok(&stanza.config, &["--stanza", &stanza.name, "check"]);
    pgbackrest_ok(
        &stanza.config,
        &["--stanza", &stanza.name, "backup", "--type=incr"],
    );
    let info: serde_json::Value = serde_json::from_str(&pgbackrest_ok(
        &stanza.config,
        &["--stanza", &stanza.name, "info", "--output=json"],
    ))
    .unwrap();
    let types: Vec<&str> = info[0]["backup"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["full", "incr"]);
    assert_eq!(info[0]["status"]["code"], 0);
    // archive_command as rendered: WAL reaches the repo.
    assert!(info[0]["archive"][0]["max"].is_string(), "{info}");
}

/// `pg_mode: ivory` (Pigsty's IvorySQL clusters): pgBackRest reads the two stanza lines pitr
/// adds — with the forced version equal to the server's, stanza-create, backup and the archive
/// check pass; with another version pgBackRest refuses ([058]), so the option is read.
#[test]
fn ivory_lines_are_read_by_pgbackrest() {
    let cluster = pitr_tests::TestCluster::start("render-ivory");
    let spec = Stanza::spec_yaml(
        &cluster,
        "render-ivory",
        "local",
        &Stanza::local_repo_yaml(&cluster),
        "pg_mode: ivory\npg_version: 15",
    );
    let stanza = Stanza::from_spec(cluster, "render-ivory", &spec);
    let conf = std::fs::read_to_string(&stanza.config).unwrap();
    assert!(
        conf.contains("\narchive-header-check=n\npg-version-force=15\n"),
        "{conf}"
    );
    pgbackrest_ok(&stanza.config, &["--stanza", &stanza.name, "check"]);

    let out = pgbackrest(
        &stanza.config,
        &["--stanza", &stanza.name, "--pg-version-force=14", "check"],
    );
    let text = pitr_tests::output_text(&out);
    assert!(
        !out.status.success(),
        "a forced 14 on PostgreSQL 15 passed: {text}"
    );
    assert!(text.contains("do not match version '14'"), "{text}");
}
