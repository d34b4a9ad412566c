//! Smoke tests of the end-to-end harness itself: a real PostgreSQL 15 cluster run as
//! `postgres`, and a real pgBackRest full backup of it. If these fail, every other end-to-end
//! test would fail for the same reason: fix the machine (`make setup`) or the harness first.

use std::path::Path;

use pitr_tests::{TestCluster, dir_fingerprint, pgbackrest_ok, write_file_as_postgres};

/// A cluster starts, runs SQL as `postgres`, stops and starts again with its data intact.
#[test]
fn cluster_runs_sql_and_survives_restart() {
    let mut pg = TestCluster::start("smoke-sql");
    assert!(pg.is_running());
    assert_eq!(pg.psql("SHOW server_version_num").get(..2), Some("15"));
    assert_eq!(pg.psql("SHOW listen_addresses"), "");
    assert_eq!(pg.psql("SHOW port"), pg.port().to_string());

    pg.psql("CREATE TABLE t (id int PRIMARY KEY, note text)");
    pg.psql("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 3) g");
    assert_eq!(
        pg.psql("SELECT id, note FROM t ORDER BY id"),
        "1|row 1\n2|row 2\n3|row 3"
    );

    let err = pg.try_psql("SELECT * FROM missing_table").unwrap_err();
    assert!(err.contains("missing_table"), "{err}");

    // A stopped cluster's data directory does not change while nobody touches it.
    pg.stop();
    assert!(!pg.is_running());
    let before = dir_fingerprint(&pg.data_dir());
    assert_eq!(before, dir_fingerprint(&pg.data_dir()));

    pg.start_server();
    assert_eq!(pg.psql("SELECT count(*) FROM t"), "3");
    pg.stop_immediate();
    assert!(!pg.is_running());
    // Crash recovery on the next start keeps committed rows.
    pg.start_server();
    assert_eq!(pg.psql("SELECT sum(id) FROM t"), "6");
}

/// Two clusters at once get distinct directories and ports, and dropping one removes its
/// directory without disturbing the other.
#[test]
fn clusters_do_not_collide_and_clean_up() {
    let a = TestCluster::start("smoke-a");
    let b = TestCluster::start("smoke-b");
    assert_ne!(a.root(), b.root());
    assert_ne!(a.port(), b.port());
    a.psql("CREATE TABLE only_in_a ()");
    assert_eq!(b.psql("SELECT to_regclass('only_in_a') IS NULL"), "t");

    let a_root = a.root().to_path_buf();
    drop(a);
    if std::env::var_os(pitr_tests::KEEP_DIRS_ENV).is_none() {
        assert!(
            !a_root.exists(),
            "{} should have been removed",
            a_root.display()
        );
    }
    assert_eq!(b.psql("SELECT 1"), "1");
}

/// Real pgBackRest against the cluster: stanza-create, check (archiving works), full backup,
/// and `info` reports exactly that one backup.
#[test]
fn pgbackrest_full_backup_of_a_test_cluster() {
    let stanza = "smoke";
    let mut pg = TestCluster::start("smoke-backup");
    pg.psql("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g");

    // A minimal, hand-written configuration (not rendered by pitr).
    let conf_path = pg.path("pgbackrest.conf");
    let conf = format!(
        "[global]\n\
         repo1-path={repo}\n\
         log-path={log}\n\
         lock-path={lock}\n\
         spool-path={spool}\n\
         log-level-console=warn\n\
         compress-type=zst\n\
         start-fast=y\n\
         repo1-retention-full=1\n\
         \n\
         [{stanza}]\n\
         pg1-path={data}\n\
         pg1-port={port}\n\
         pg1-socket-path={sock}\n",
        repo = pg.path("repo").display(),
        log = pg.path("pgbackrest-log").display(),
        lock = pg.path("lock").display(),
        spool = pg.path("spool").display(),
        data = pg.data_dir().display(),
        port = pg.port(),
        sock = pg.socket_dir().display(),
    );
    write_file_as_postgres(&conf_path, conf, 0o640);

    // archive_mode needs a restart; enable_archiving does it.
    pg.enable_archiving(&conf_path, stanza);
    assert_eq!(pg.psql("SHOW archive_mode"), "on");
    assert!(pg.psql("SHOW archive_command").contains("archive-push %p"));

    pgbackrest_ok(
        &conf_path,
        &[&format!("--stanza={stanza}"), "stanza-create"],
    );
    pgbackrest_ok(&conf_path, &[&format!("--stanza={stanza}"), "check"]);
    pgbackrest_ok(
        &conf_path,
        &[&format!("--stanza={stanza}"), "backup", "--type=full"],
    );

    let info = info_json(&conf_path, stanza);
    let stanzas = info.as_array().expect("info is a JSON array");
    assert_eq!(stanzas.len(), 1, "{info:#}");
    let entry = &stanzas[0];
    assert_eq!(entry["name"], stanza);
    assert_eq!(
        entry["status"]["code"], 0,
        "stanza status: {:#}",
        entry["status"]
    );
    let backups = entry["backup"].as_array().expect("backup list");
    assert_eq!(backups.len(), 1, "{info:#}");
    assert_eq!(backups[0]["type"], "full");
    assert!(
        backups[0]["archive"]["start"].is_string(),
        "{:#}",
        backups[0]
    );

    // The helper writes an equivalent configuration.
    let helper_conf = pg.write_local_pgbackrest_conf(stanza, "");
    assert_eq!(helper_conf, conf_path);
    assert_eq!(
        info_json(&helper_conf, stanza)[0]["backup"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

fn info_json(conf: &Path, stanza: &str) -> serde_json::Value {
    let out = pgbackrest_ok(
        conf,
        &[&format!("--stanza={stanza}"), "info", "--output=json"],
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("info is not JSON ({e}): {out}"))
}
