//! The watcher's judgement on recovery logs recorded from PostgreSQL 15 with pgBackRest 2.45.

use super::*;
use crate::plan::RecoveryWatch;
use crate::target::RestoreRequest;

/// Sections of recovery-outcomes.txt: `== name: <state>` then log lines.
fn outcomes() -> Vec<(String, Vec<String>)> {
    let path = format!(
        "{}/tests/fixtures/pgbackrest-2.45/recovery-outcomes.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("== ") {
            let name = rest.split(':').next().unwrap().to_owned();
            out.push((name, Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            lines.push(line.to_owned());
        }
    }
    out
}

fn outcome(name: &str) -> RecoveryOutcome {
    let (_, lines) = outcomes().into_iter().find(|(n, _)| n == name).unwrap();
    let mut t = Tracker::new();
    for l in &lines {
        t.apply(l);
    }
    t.finish()
}

/// F stopped at 1795465665 (0/2000100); the incr at 1795465669 (0/5000050).
fn watch(pg_pitr: serde_json::Value, set_stop_time: u64, set_stop_lsn: &str) -> RecoveryWatch {
    let req = RestoreRequest::from_pg_pitr(pg_pitr, None).unwrap();
    RecoveryWatch {
        data: "/tmp/x".into(),
        log_file: "/tmp/x.log".into(),
        socket_dir: "/tmp".into(),
        port: 5432,
        user: "postgres".into(),
        target: req.target.clone(),
        exclusive: req.exclusive,
        action: if req.target == RecoveryTarget::Latest {
            TargetAction::Promote
        } else {
            req.action
        },
        set_stop_time,
        set_stop_lsn: Some(set_stop_lsn.parse().unwrap()),
        timeout_secs: 1,
    }
}

const FULL: (u64, &str) = (1_795_465_665, "0/2000100");
const INCR: (u64, &str) = (1_795_465_669, "0/5000050");

#[test]
fn successes_are_verified() {
    let cases = [
        (
            "time_pause",
            serde_json::json!({"time": "2026-11-23 20:27:46+00"}),
            FULL,
        ),
        (
            "time_promote",
            serde_json::json!({"time": "2026-11-23 20:27:46+00", "action": "promote"}),
            FULL,
        ),
        (
            "xid_exclusive",
            serde_json::json!({"xid": 726, "exclusive": true, "action": "promote"}),
            FULL,
        ),
        (
            "lsn",
            serde_json::json!({"lsn": "0/3027F60", "action": "shutdown"}),
            FULL,
        ),
        (
            "immediate",
            serde_json::json!({"type": "immediate", "action": "promote"}),
            FULL,
        ),
        ("default_latest", serde_json::json!({}), INCR),
    ];
    for (name, req, (t, l)) in cases {
        let got = verify(&watch(req, t, l), &outcome(name));
        assert!(got.is_ok(), "{name}: {got:?}");
    }
    let v = verify(
        &watch(
            serde_json::json!({"time": "2026-11-23 20:27:46+00"}),
            FULL.0,
            FULL.1,
        ),
        &outcome("time_pause"),
    )
    .unwrap();
    assert_eq!(v.ending, Ending::Paused);
    assert!(matches!(
        v.stop,
        Some(StopRecord::Transaction {
            xid: 727,
            before: true,
            commit: true,
            ..
        })
    ));
}

#[test]
fn failures_are_reported_as_failures() {
    let cases = [
        (
            "name_latest_set",
            serde_json::json!({"name": "rp1"}),
            INCR,
            "recovery ended before configured recovery target was reached",
        ),
        (
            "time_future",
            serde_json::json!({"time": "2030-01-01 00:00:00+00"}),
            INCR,
            "recovery ended before configured recovery target was reached",
        ),
        (
            "before_consistent",
            serde_json::json!({"time": "2026-11-23 20:27:46+00", "action": "promote"}),
            INCR,
            "first commit after consistency",
        ),
    ];
    for (name, req, (t, l), needle) in cases {
        let e = verify(&watch(req, t, l), &outcome(name)).unwrap_err();
        assert_eq!(e.code(), "recovery_failed", "{name}");
        assert!(e.to_string().contains(needle), "{name}: {e}");
    }
}

#[test]
fn wrong_stops_and_endings_fail() {
    // The right log, the wrong expectation: asked to pause, PostgreSQL promoted.
    let e = verify(
        &watch(
            serde_json::json!({"time": "2026-11-23 20:27:46+00"}),
            FULL.0,
            FULL.1,
        ),
        &outcome("time_promote"),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("expected recovery to end paused, it ended promoted"),
        "{e}"
    );
    // Asked for another LSN than the one PostgreSQL stopped at.
    let e = verify(
        &watch(
            serde_json::json!({"lsn": "0/3027F61", "action": "shutdown"}),
            FULL.0,
            FULL.1,
        ),
        &outcome("lsn"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("3027F60"), "{e}");
    // Inclusive xid expects to stop after the commit.
    assert!(
        verify(
            &watch(
                serde_json::json!({"xid": 726, "action": "promote"}),
                FULL.0,
                FULL.1
            ),
            &outcome("xid_exclusive")
        )
        .is_err()
    );
}

#[test]
fn parses_every_stop_form() {
    let p = |l: &str| parse_line(l);
    assert_eq!(
        p("LOG:  recovery stopping at restore point \"rp 1\", time 2026-11-23 20:27:45.64121+00"),
        Some(LogEvent::Stop(StopRecord::RestorePoint {
            name: "rp 1".into(),
            time: "2026-11-23 20:27:45.64121+00".parse().ok()
        }))
    );
    assert_eq!(
        p("LOG:  recovery stopping after abort of transaction 9, time 2026-11-23 20:27:45+00"),
        Some(LogEvent::Stop(StopRecord::Transaction {
            before: false,
            commit: false,
            xid: 9,
            time: "2026-11-23 20:27:45+00".parse().ok()
        }))
    );
    assert_eq!(
        p(
            "2026-11-23 20:27:45.123 UTC [42] LOG:  recovery stopping before WAL location (LSN) \"0/3027F60\""
        ),
        Some(LogEvent::Stop(StopRecord::Lsn {
            before: true,
            lsn: "0/3027F60".parse().unwrap()
        }))
    );
    assert_eq!(
        p("FATAL:  requested recovery stop point is before consistent recovery point"),
        Some(LogEvent::Fatal(
            "requested recovery stop point is before consistent recovery point".into()
        ))
    );
    assert_eq!(
        p("LOG:  database system is ready to accept connections"),
        Some(LogEvent::Accepting)
    );
    assert_eq!(
        p(
            "2026-11-23 21:48:39.983 UTC [31959] FATAL:  the database system is not yet accepting connections"
        ),
        None
    );
    assert_eq!(
        p("FATAL:  could not open file \"x\""),
        Some(LogEvent::Problem("could not open file \"x\"".into()))
    );
    assert!(matches!(
        p("LOG:  startup process (PID 30676) exited with exit code 1"),
        Some(LogEvent::Fatal(_))
    ));
    assert!(line_time("2026-11-23 20:27:45.123 UTC [42] LOG:  x").is_some());
    assert!(line_time("LOG:  x").is_none());
}

proptest::proptest! {
    #[test]
    fn parsing_never_panics(s in "\\PC*") {
        let _ = parse_line(&s);
        let _ = line_time(&s);
    }
}
