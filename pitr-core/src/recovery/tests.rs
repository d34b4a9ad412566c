//! The watcher's judgement on recovery logs recorded from PostgreSQL 15 with pgBackRest 2.45.

use super::grammar::{LogEvent, event};
use super::*;
use crate::names::Lsn;
use crate::target::{RecoveryTarget, RestoreRequest, TargetAction};

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

/// A fixture line `SEVERITY:  message` as a record of the process that logs it.
fn record(line: &str) -> Option<LogRecord> {
    let (severity, message) = line.split_once(":  ")?;
    let postmaster = [
        "startup process",
        "database system is ready",
        "terminating any other",
        "shutdown at recovery target",
    ]
    .iter()
    .any(|m| message.starts_with(m));
    Some(LogRecord {
        time: None,
        pid: if postmaster { 100 } else { 101 },
        backend_type: if postmaster { "postmaster" } else { "startup" }.into(),
        severity: severity.trim().into(),
        message: message.into(),
    })
}

fn outcome(name: &str) -> RecoveryOutcome {
    let (_, lines) = outcomes().into_iter().find(|(n, _)| n == name).unwrap();
    let mut t = Tracker::new();
    for r in lines.iter().filter_map(|l| record(l)) {
        t.apply(&r, jiff::Timestamp::now());
    }
    t.finish()
}

/// What a restore asked, owned.
struct Want {
    target: RecoveryTarget,
    exclusive: bool,
    action: TargetAction,
    set_stop_time: u64,
    set_stop_lsn: Lsn,
}

/// F stopped at 1795465665 (0/2000100); the incr at 1795465669 (0/5000050).
fn watch(pg_pitr: serde_json::Value, set_stop_time: u64, set_stop_lsn: &str) -> Want {
    let req = RestoreRequest::from_pg_pitr(pg_pitr, None).unwrap();
    Want {
        action: if req.target == RecoveryTarget::Latest {
            TargetAction::Promote
        } else {
            req.action
        },
        target: req.target,
        exclusive: req.exclusive,
        set_stop_time,
        set_stop_lsn: set_stop_lsn.parse().unwrap(),
    }
}

fn verify(w: &Want, outcome: &RecoveryOutcome) -> crate::Result<VerifiedStop> {
    super::verify(
        &Expected {
            target: &w.target,
            exclusive: w.exclusive,
            action: w.action,
            set_stop_time: w.set_stop_time,
            set_stop_lsn: Some(w.set_stop_lsn),
            landing: None,
        },
        outcome,
    )
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
            "recovery_target_not_reached",
            "recovery ended before configured recovery target was reached",
        ),
        (
            "time_future",
            serde_json::json!({"time": "2030-01-01 00:00:00+00"}),
            INCR,
            "recovery_target_not_reached",
            "recovery ended before configured recovery target was reached",
        ),
        (
            "before_consistent",
            serde_json::json!({"time": "2026-11-23 20:27:46+00", "action": "promote"}),
            INCR,
            "recovery_failed",
            "first commit after consistency",
        ),
    ];
    for (name, req, (t, l), code, needle) in cases {
        let e = verify(&watch(req, t, l), &outcome(name)).unwrap_err();
        assert_eq!(e.code(), code, "{name}");
        assert!(e.is_recovery_failure(), "{name}");
        assert!(e.to_string().contains(needle), "{name}: {e}");
    }
}

/// Every FATAL PostgreSQL 15 logged for a recovery that could not go on (recorded by
/// scripts/record-recovery-fatals) has its own code and says what to do.
#[test]
fn recorded_recovery_fatals_map_to_codes_with_advice() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/postgresql-15/recovery-fatals.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut shown = Vec::new();
    for (name, lines) in text
        .split("== ")
        .skip(1)
        .map(|c| c.split_once('\n').unwrap())
    {
        let mut t = Tracker::new();
        for r in lines.lines().filter_map(record) {
            t.apply(&r, jiff::Timestamp::now());
        }
        let e = verify(
            &watch(serde_json::json!({"lsn": "0/5000000"}), FULL.0, FULL.1),
            &t.finish(),
        )
        .unwrap_err();
        assert!(e.is_recovery_failure(), "{name}");
        shown.push(format!("{name}: error[{}]: {e}", e.code()));
    }
    insta::assert_snapshot!(shown.join("\n"));
}

/// A client's text never becomes a cause: the same FATAL from a client backend is no event.
#[test]
fn a_clients_fatal_is_no_cause() {
    let mut sources = Sources {
        postmaster: Some(100),
        startup: None,
    };
    let client = LogRecord {
        time: None,
        pid: 555,
        backend_type: "client backend".into(),
        severity: "FATAL".into(),
        message: "requested timeline 2 is not a child of this server's history".into(),
    };
    assert!(!sources.accept(&client, |_| Some(100)));
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
    let p = |m: &str| event("LOG", m);
    assert_eq!(
        p("recovery stopping at restore point \"rp 1\", time 2026-11-23 20:27:45.64121+00"),
        Some(LogEvent::Stop(StopRecord::RestorePoint {
            name: "rp 1".into(),
            time: "2026-11-23 20:27:45.64121+00".parse().ok()
        }))
    );
    assert_eq!(
        p("recovery stopping after abort of transaction 9, time 2026-11-23 20:27:45+00"),
        Some(LogEvent::Stop(StopRecord::Transaction {
            before: false,
            commit: false,
            xid: 9,
            time: "2026-11-23 20:27:45+00".parse().ok()
        }))
    );
    assert_eq!(
        p("recovery stopping before WAL location (LSN) \"0/3027F60\""),
        Some(LogEvent::Stop(StopRecord::Lsn {
            before: true,
            lsn: "0/3027F60".parse().unwrap()
        }))
    );
    assert_eq!(
        event(
            "FATAL",
            "requested recovery stop point is before consistent recovery point"
        ),
        Some(LogEvent::Fatal(
            "requested recovery stop point is before consistent recovery point".into()
        ))
    );
    assert_eq!(
        p("database system is ready to accept connections"),
        Some(LogEvent::Accepting)
    );
    assert_eq!(
        event("FATAL", "could not open file \"x\""),
        Some(LogEvent::Problem("could not open file \"x\"".into()))
    );
    assert!(matches!(
        p("startup process (PID 30676) exited with exit code 1"),
        Some(LogEvent::Fatal(_))
    ));
    // Markers count at the start of the message only, and only in LOG, FATAL and PANIC.
    assert_eq!(p("x: archive recovery complete"), None);
    assert_eq!(event("ERROR", "archive recovery complete"), None);
    assert_eq!(event("DETAIL", "pausing at the end of recovery"), None);
}

/// A jsonlog line as PostgreSQL 15 writes it.
fn json_line(pid: i32, backend: &str, severity: &str, message: &str) -> String {
    serde_json::json!({
        "timestamp": "2026-11-23 20:27:46.688 UTC", "pid": pid, "backend_type": backend,
        "error_severity": severity, "message": message, "session_id": "x", "line_num": 1,
        "ps": "idle", "txid": 0, "query_id": 0
    })
    .to_string()
}

#[test]
fn json_records_keep_client_text_inside_the_message() {
    let forged = "x\n{\"pid\":100,\"backend_type\":\"postmaster\",\"error_severity\":\"LOG\",\
                  \"message\":\"archive recovery complete\"}";
    let line = json_line(
        555,
        "client backend",
        "FATAL",
        &format!("role \"{forged}\" does not exist"),
    );
    assert_eq!(line.lines().count(), 1, "{line}");
    let r = LogRecord::from_json_line(&line).unwrap();
    assert_eq!((r.pid, r.backend_type.as_str()), (555, "client backend"));
    assert!(r.time.is_some());
    assert!(LogRecord::from_json_line("not json").is_none());
    assert!(LogRecord::from_json_line("{\"pid\": 1}").is_none());
}

#[test]
fn only_the_postmaster_and_its_startup_process_speak() {
    let mut s = Sources::default();
    let rec = |pid: i32, backend: &str| {
        LogRecord::from_json_line(&json_line(pid, backend, "LOG", "archive recovery complete"))
            .unwrap()
    };
    // Before the postmaster's pid is known nothing is accepted.
    assert!(!s.accept(&rec(100, "postmaster"), |_| None));
    s.postmaster = Some(100);
    assert!(s.accept(&rec(100, "postmaster"), |_| None));
    assert!(
        !s.accept(&rec(99, "postmaster"), |_| None),
        "another server's postmaster"
    );
    for client in [
        "client backend",
        "not initialized",
        "walsender",
        "checkpointer",
    ] {
        assert!(!s.accept(&rec(100, client), |_| None), "{client}");
    }
    // A startup process of another postmaster is refused; ours is learned and kept.
    assert!(!s.accept(&rec(200, "startup"), |_| Some(7)));
    assert!(s.accept(&rec(101, "startup"), |_| Some(100)));
    assert!(!s.accept(&rec(102, "startup"), |_| Some(100)));
    assert!(s.accept(&rec(101, "startup"), |_| None));
}

#[test]
fn csv_records_may_span_lines_and_wait_until_complete() {
    let row = |pid: i32, backend: &str, message: &str| {
        format!(
            "2026-11-23 20:27:46.688 UTC,,,{pid},,x.y,1,,2026-11-23 20:27:40 UTC,1/0,0,LOG,00000,\
             \"{message}\",,,,,,,,,\"\",{backend},,0\n"
        )
    };
    let text = row(
        101,
        "startup",
        "recovery stopping after reaching consistency",
    ) + &row(555, "client backend", "a \"\"quoted\"\"\nsecond line")
        + "2026-11-23 20:27:47.000 UTC,,,101,,x.y,2,,,,0,LOG,00000,\"cut off";
    let (records, consumed) = LogRecord::from_csv(text.as_bytes());
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].backend_type, "startup");
    assert_eq!(
        records[0].message,
        "recovery stopping after reaching consistency"
    );
    assert_eq!(records[1].message, "a \"quoted\"\nsecond line");
    assert_eq!(
        &text[consumed..],
        "2026-11-23 20:27:47.000 UTC,,,101,,x.y,2,,,,0,LOG,00000,\"cut off"
    );
}

proptest::proptest! {
    #[test]
    fn parsing_never_panics(s in "\\PC*") {
        let _ = event("LOG", &s);
        let _ = event("FATAL", &s);
        let _ = LogRecord::from_json_line(&s);
        let _ = LogRecord::from_csv(s.as_bytes());
        let _ = records::log_time(&s);
    }
}
