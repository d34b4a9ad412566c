//! `pitr check` on real PostgreSQL and pgBackRest: a healthy stanza passes every check; an
//! `archive_command` pointed at another stanza fails with `check_archive_command_mismatch`
//! (exit 1, the code on stderr and in JSON), and the exporter shows that result.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use pitr_tests::{Stanza, output_text, pgbackrest_bin};

#[test]
fn check_passes_when_healthy_and_names_a_broken_archive_command() {
    let stanza = Stanza::local("check-archive");
    let text = stanza.pitr_ok(&["check"]);
    for name in [
        "database",
        "archive_mode",
        "archive_command",
        "archiver",
        "pgbackrest_check",
        "stanza_status",
        "full_backup_age",
        "backup_age",
        "archive_continuity",
        "window",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("ok ") && l.contains(&format!(" {name} "))),
            "{name} did not pass:\n{text}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&stanza.pitr_ok(&["--json", "check"])).unwrap();
    assert_eq!(json["ok"], true, "{json:#}");
    assert!(json["code"].is_null(), "{json:#}");
    assert_eq!(json["checks"].as_array().unwrap().len(), 10, "{json:#}");
    // With the spec the cluster was rendered from, the command matches word for word.
    let spec = stanza.spec.display().to_string();
    stanza.pitr_ok(&["check", "--spec", &spec]);

    // Point archive_command at another stanza, as a copy-paste from another cluster would.
    let wrong = format!(
        "{} --config={} --stanza=other-cluster archive-push %p",
        pgbackrest_bin().display(),
        stanza.config.display()
    );
    stanza.cluster.psql(&format!(
        "ALTER SYSTEM SET archive_command = '{}'",
        wrong.replace('\'', "''")
    ));
    stanza.cluster.psql("SELECT pg_reload_conf()");
    let deadline = Instant::now() + Duration::from_secs(20);
    while stanza.cluster.psql("SHOW archive_command") != wrong {
        assert!(Instant::now() < deadline, "the reload did not take effect");
        std::thread::sleep(Duration::from_millis(100));
    }

    for args in [vec!["check"], vec!["check", "--spec", &spec]] {
        let out = stanza.pitr(&args);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error[check_archive_command_mismatch]"),
            "{text}"
        );
        assert!(stderr.contains("other-cluster"), "{text}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("FAIL") && l.contains(" archive_command ")),
            "{text}"
        );
        // pgbackrest check would only wait for a segment that cannot arrive.
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("skip") && l.contains(" pgbackrest_check ")),
            "{text}"
        );
    }
    let out = stanza.pitr(&["--json", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["code"], "check_archive_command_mismatch");

    // The recorded result reaches the metrics.
    let metrics = stanza.pitr_ok(&["exporter", "--once"]);
    let line = format!(
        "pitr_check_last_success{{code=\"check_archive_command_mismatch\",stanza=\"{}\"}} 0",
        stanza.name
    );
    assert!(metrics.contains(&line), "{line} missing:\n{metrics}");
    assert!(
        metrics.contains(&format!(
            "pitr_check_success{{check=\"archive_command\",code=\"check_archive_command_mismatch\",stanza=\"{}\"}} 0",
            stanza.name
        )),
        "{metrics}"
    );

    // Repaired: passes again (the archiver's failures, if any, are older than a success by
    // then, because pgbackrest check forces one).
    stanza.cluster.psql("ALTER SYSTEM RESET archive_command");
    stanza.cluster.psql("SELECT pg_reload_conf()");
    let deadline = Instant::now() + Duration::from_secs(20);
    while stanza.cluster.psql("SHOW archive_command") == wrong {
        assert!(Instant::now() < deadline, "the reload did not take effect");
        std::thread::sleep(Duration::from_millis(100));
    }
    stanza.archive_now();
    stanza.pitr_ok(&["check"]);
}
