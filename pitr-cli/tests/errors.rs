//! What the `pitr` binary prints when the input is wrong: `error[<code>]: <message>` on
//! stderr, exit status 2 for bad input (nothing changed), 1 for a failure. Snapshot-tested;
//! none of these cases needs PostgreSQL or pgBackRest.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]
// The spec fixture goes into a private temporary directory.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::process::Command;

/// Runs `pitr` and returns `exit <status>` and its stderr, for a snapshot.
fn pitr(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pitr"))
        .args(args)
        .env_remove("PGHOST")
        .env_remove("PITR_PATRONI_PASSWORD")
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    format!(
        "exit {}\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn bad_input_is_named_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yml");
    std::fs::write(&spec, "pg_clsuter: pg-meta\n").unwrap();
    let spec = spec.to_str().unwrap();
    let member = dir.path().join("member.yml");
    std::fs::write(&member, "pg_cluster: pg-meta\npatroni_port: 8008\n").unwrap();
    let member = member.to_str().unwrap();
    let seq = dir.path().join("seq.yml");
    std::fs::write(&seq, "pg_cluster: pg-meta\npatroni_port: 8008\npg_seq: 1\n").unwrap();
    let seq = seq.to_str().unwrap();
    let new = dir.path().join("new.yml");
    std::fs::write(
        &new,
        format!(
            "pg_cluster: pg-new\npatroni_port: 8009\npg_seq: 1\npgbackrest_log_dir: {}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let new = new.to_str().unwrap();
    let conf = "--config=/nonexistent/pgbackrest.conf";
    for (name, args) in [
        ("unknown_spec_key", vec!["render", "--spec", spec]),
        (
            "time_without_zone",
            vec![conf, "restore", "-t", "2025-01-01 00:00:00"],
        ),
        (
            "two_targets",
            vec![conf, "restore", "-t", "2025-01-01 00:00:00+00", "-n", "rp"],
        ),
        (
            "secret_after_double_dash",
            vec![
                conf,
                "restore",
                "-i",
                "--",
                "--repo1-cipher-pass=Sekrit.123",
            ],
        ),
        (
            "option_not_allowed",
            vec![
                conf,
                "restore",
                "-i",
                "--",
                "--recovery-option=restore_command=x",
            ],
        ),
        (
            "shell_in_a_restore_config_path",
            vec![conf, "restore", "-i", "--restore-config", "/tmp/$(id)"],
        ),
        ("missing_config", vec![conf, "info"]),
        (
            "patroni_https_without_ca",
            vec![conf, "--patroni", "https://127.0.0.1:8008", "backup"],
        ),
        (
            "patroni_url_with_a_path",
            vec![conf, "--patroni", "http://127.0.0.1:8008/primary", "backup"],
        ),
        (
            "cluster_without_spec",
            vec![conf, "restore", "--cluster", "-i"],
        ),
        (
            "cluster_spec_without_pg_seq",
            vec![conf, "restore", "--cluster", "--spec", member, "-i"],
        ),
        (
            "cluster_restore_as_a_clone",
            vec![
                conf,
                "restore",
                "--cluster",
                "--spec",
                seq,
                "-i",
                "-D",
                "/pg/clone",
            ],
        ),
        (
            "patroni_username_without_password",
            vec![
                conf,
                "restore",
                "--cluster",
                "--spec",
                seq,
                "--patroni-username",
                "postgres",
                "-i",
            ],
        ),
        (
            "new_cluster_abandon_without_an_interrupted_run",
            vec![
                conf,
                "restore",
                "--cluster",
                "--spec",
                seq,
                "--new-cluster",
                new,
                "--abandon",
            ],
        ),
        (
            "patroni_ca_file_without_patroni",
            vec![conf, "--patroni-ca-file", "/etc/pki/ca.crt", "backup"],
        ),
    ] {
        let shown = pitr(&args);
        assert!(!shown.contains("Sekrit.123"), "{name}: {shown}");
        insta::assert_snapshot!(name, shown);
    }
}
