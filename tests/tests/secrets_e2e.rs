//! Secrets from the spec reach only the files that need them (mode 0600): not the plan, not a
//! log line, not an error, not anything pitr prints.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;

use pitr_tests::{Stanza, TestCluster, files_under, output_text};

const PASSPHRASE: &str = "e2e-cipher-Passphrase-7Q2";

#[test]
fn the_cipher_passphrase_appears_in_no_plan_log_or_error() {
    let cluster = TestCluster::start("secrets");
    cluster.psql("CREATE TABLE t AS SELECT generate_series(1, 100) AS id");
    let repo = format!(
        "  local:\n    path: {}\n    cipher_type: aes-256-cbc\n    cipher_pass: {PASSPHRASE}\n",
        cluster.path("repo").display()
    );
    let spec = Stanza::spec_yaml(&cluster, "secrets", "local", &repo, "");
    let stanza = Stanza::from_spec(cluster, "secrets", &spec);
    stanza.archive_now();

    let mut printed = String::new();
    let mut run = |args: &[&str], ok: bool| {
        let out = stanza.pitr(args);
        let text = output_text(&out);
        assert_eq!(out.status.success(), ok, "pitr {args:?}:\n{text}");
        printed.push_str(&text);
    };
    let spec_arg = stanza.spec.display().to_string();
    for what in ["pgbackrest", "restore"] {
        run(&["render", "--spec", &spec_arg, "--what", what], true);
    }
    run(&["info"], true);
    run(&["--json", "info"], true);
    run(&["backup", "--dry-run"], true);
    run(&["mark", "secret-test"], true);
    stanza.archive_now();
    run(&["restore", "-n", "secret-test", "--dry-run"], true);
    run(
        &["--json", "restore", "-n", "secret-test", "--dry-run"],
        true,
    );
    run(&["--json", "restore", "-y", "-n", "secret-test"], true);
    // Failing restores: their errors too.
    run(
        &[
            "restore",
            "-y",
            "-n",
            "no-such-point",
            "--set",
            "20000101-000000F",
        ],
        false,
    );
    run(&["restore", "-y", "-t", "2000-01-01 00:00:00+00"], false);

    assert!(
        !printed.contains(PASSPHRASE),
        "the passphrase was printed:\n{printed}"
    );
    assert!(
        printed.contains("<redacted>"),
        "secrets should show as <redacted>"
    );

    // Every file pitr, pgBackRest and PostgreSQL wrote, except the configs that must hold it.
    let root = stanza.cluster.root().to_path_buf();
    let mut files = Vec::new();
    files_under(&root, &mut files);
    let holders: Vec<_> = files
        .iter()
        .filter(|f| {
            std::fs::read(f).is_ok_and(|bytes| {
                bytes
                    .windows(PASSPHRASE.len())
                    .any(|w| w == PASSPHRASE.as_bytes())
            })
        })
        .collect();
    let allowed = [
        root.join("spec.yml"),
        root.join("pgbackrest.conf"),
        root.join("pitr-secrets-restore.conf"),
    ];
    for f in &holders {
        assert!(allowed.contains(f), "{} holds the passphrase", f.display());
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", f.display());
    }
    assert!(
        holders.contains(&&root.join("pitr-secrets-restore.conf")),
        "restore config written"
    );
    assert_eq!(stanza.count("t"), 100);
}
