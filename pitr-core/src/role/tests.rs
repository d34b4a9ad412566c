//! The role decision over what a real Patroni 3.0 answered (`tests/fixtures/patroni/`, recorded
//! with `cargo run -p pitr-tests --example record_patroni`), and over the disagreements a
//! recording cannot catch on purpose.

use super::*;

/// The recorded answers: file name, text.
const FIXTURES: &[(&str, &str)] = &[
    (
        "leader",
        include_str!("../../tests/fixtures/patroni/leader.json"),
    ),
    (
        "replica",
        include_str!("../../tests/fixtures/patroni/replica.json"),
    ),
    (
        "dcs-down-old-leader",
        include_str!("../../tests/fixtures/patroni/dcs-down-old-leader.json"),
    ),
    (
        "dcs-down-replica",
        include_str!("../../tests/fixtures/patroni/dcs-down-replica.json"),
    ),
    (
        "failsafe-leader",
        include_str!("../../tests/fixtures/patroni/failsafe-leader.json"),
    ),
    (
        "failsafe-replica",
        include_str!("../../tests/fixtures/patroni/failsafe-replica.json"),
    ),
    (
        "stopped-replica",
        include_str!("../../tests/fixtures/patroni/stopped-replica.json"),
    ),
    (
        "paused-leader",
        include_str!("../../tests/fixtures/patroni/paused-leader.json"),
    ),
];

/// The recorder's scope, which was its stanza.
const STANZA: &str = "rec-patroni";

/// A moment after every recording.
const NOW: i64 = 1_796_228_768;

fn answer(name: &str) -> PatroniAnswer {
    let (_, text) = FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(doc["request"], "GET /primary", "{name}");
    let status = u16::try_from(doc["status"].as_u64().unwrap()).unwrap();
    PatroniAnswer::parse(status, &doc["body"].to_string()).unwrap()
}

fn url() -> PatroniUrl {
    "http://127.0.0.1:8008".parse().unwrap()
}

fn decide(
    answer: std::result::Result<PatroniAnswer, String>,
    in_recovery: std::result::Result<bool, String>,
    stanza: &str,
) -> Result<RoleFinding> {
    from_patroni(&PatroniFacts {
        url: &url(),
        stanza: &stanza.parse().unwrap(),
        answer,
        in_recovery,
        now: NOW,
    })
}

/// One line per case, as users read it.
fn line(case: &str, verdict: &Result<RoleFinding>) -> String {
    match verdict {
        Ok(f) => format!("{case}: {:?} from {:?}: {}", f.role, f.source, f.why),
        Err(e) => format!("{case}: error[{}]: {e}", e.code()),
    }
}

/// What PostgreSQL said in each recorded situation.
fn recorded_recovery(name: &str) -> std::result::Result<bool, String> {
    match name {
        "leader" | "failsafe-leader" | "paused-leader" => Ok(false),
        "stopped-replica" => Err("connection refused".into()),
        _ => Ok(true),
    }
}

#[test]
fn recorded_answers_decide_as_the_table_says() {
    let expected = [
        ("leader", Some(Role::Primary)),
        ("replica", Some(Role::Replica)),
        ("dcs-down-old-leader", None),
        ("dcs-down-replica", None),
        ("failsafe-leader", Some(Role::Primary)),
        ("failsafe-replica", Some(Role::Replica)),
        ("stopped-replica", None),
        ("paused-leader", Some(Role::Primary)),
    ];
    assert_eq!(expected.len(), FIXTURES.len());
    for (name, role) in expected {
        let verdict = decide(Ok(answer(name)), recorded_recovery(name), STANZA);
        match (role, &verdict) {
            (Some(r), Ok(f)) => {
                assert_eq!((f.role, f.source), (r, RoleSource::Patroni), "{name}");
            }
            (None, Err(e)) => assert_eq!(e.code(), "role_unknown", "{name}: {e}"),
            _ => panic!("{}", line(name, &verdict)),
        }
    }
}

#[test]
fn disagreements_and_failures_leave_the_role_unknown() {
    let mut master_without_lock = answer("leader");
    master_without_lock.status = 503;
    let mut replica_with_lock = answer("replica");
    replica_with_lock.status = 200;
    let mut demoted = answer("replica");
    demoted.doc.role = Some("demoted".into());
    for (case, answer, in_recovery, stanza) in [
        (
            "leader, PostgreSQL in recovery",
            Ok(answer("leader")),
            Ok(true),
            STANZA,
        ),
        (
            "replica, PostgreSQL not in recovery",
            Ok(answer("replica")),
            Ok(false),
            STANZA,
        ),
        (
            "master without the lock",
            Ok(master_without_lock),
            Ok(false),
            STANZA,
        ),
        (
            "replica with the lock",
            Ok(replica_with_lock),
            Ok(true),
            STANZA,
        ),
        ("role demoted", Ok(demoted), Ok(true), STANZA),
        (
            "another cluster's Patroni",
            Ok(answer("leader")),
            Ok(false),
            "pg-meta",
        ),
        (
            "PostgreSQL does not answer",
            Ok(answer("leader")),
            Err("connection refused".to_owned()),
            STANZA,
        ),
        (
            "REST API unreachable",
            Err("connection refused".to_owned()),
            Ok(false),
            STANZA,
        ),
    ] {
        let verdict = decide(answer, in_recovery, stanza);
        let e = verdict.as_ref().expect_err(case);
        assert_eq!(e.code(), "role_unknown", "{case}: {e}");
        assert!(e.to_string().contains("http://127.0.0.1:8008"), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}

#[test]
fn a_missing_scope_is_not_taken_for_the_stanza() {
    let mut a = answer("leader");
    a.doc.patroni = None;
    let e = decide(Ok(a), Ok(false), STANZA).unwrap_err();
    assert!(e.to_string().contains("(no scope given)"), "{e}");
}

/// What users read for every recorded answer and every disagreement.
#[test]
fn verdicts_read_like_this() {
    let mut lines = Vec::new();
    for (name, _) in FIXTURES {
        lines.push(line(
            name,
            &decide(Ok(answer(name)), recorded_recovery(name), STANZA),
        ));
    }
    lines.push(line(
        "leader, PostgreSQL in recovery",
        &decide(Ok(answer("leader")), Ok(true), STANZA),
    ));
    lines.push(line(
        "replica, PostgreSQL not in recovery",
        &decide(Ok(answer("replica")), Ok(false), STANZA),
    ));
    lines.push(line(
        "another cluster's Patroni",
        &decide(Ok(answer("replica")), Ok(true), "pg-meta"),
    ));
    lines.push(line(
        "REST API unreachable",
        &decide(
            Err("connection refused (os error 111)".into()),
            Ok(true),
            STANZA,
        ),
    ));
    lines.push(line("no Patroni", &Ok(RoleFinding::from_recovery(true))));
    lines.push(line("given", &Ok(RoleFinding::given(Role::Primary))));
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn roles_parse_from_their_names() {
    assert_eq!("primary".parse::<Role>().unwrap(), Role::Primary);
    assert_eq!("replica".parse::<Role>().unwrap(), Role::Replica);
    assert_eq!(
        "leader".parse::<Role>().unwrap_err().code(),
        "invalid_value"
    );
}
