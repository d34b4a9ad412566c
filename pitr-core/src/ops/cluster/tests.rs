//! Tests of the cluster pre-flight over a stand-in REST API, and of the requests it refuses.

use super::*;
use crate::run::patroni::tests::serve_in_turn;

const NOW: i64 = 1_796_230_000;

fn member() -> ClusterMember {
    ClusterMember {
        name: "pg-test-2".into(),
        role: "replica".into(),
        state: "running".into(),
        host: "127.0.0.1".into(),
        port: 5433,
        api_url: None,
        timeline: Some(2),
    }
}

/// `check_member` against a REST API answering `GET /patroni` with `response`, and the
/// credentials probe (`PATCH /config {}`) as Patroni does when it takes them: 400.
fn check(response: &'static str) -> Result<String> {
    check_with(response, "HTTP/1.0 400 Bad Request\r\n\r\n")
}

fn check_with(response: &'static str, to_patch: &'static str) -> Result<String> {
    let api = PatroniApi::local(serve_in_turn(vec![response, to_patch])).unwrap();
    check_member(&member(), &api, "pg-test", NOW)
}

#[test]
fn credentials_patroni_refuses_are_refused_before_anything_stops() {
    let running = "HTTP/1.0 200 OK\r\n\r\n{\"state\": \"running\", \"role\": \"replica\", \
         \"timeline\": 2, \"dcs_last_seen\": 1796229995, \"patroni\": {\"scope\": \"pg-test\"}}";
    let e = check_with(
        running,
        "HTTP/1.0 401 Unauthorized\r\n\r\nno auth header received",
    )
    .unwrap_err();
    assert_eq!(e.code(), "patroni_auth", "{e}");
    assert!(e.to_string().contains("patroni_username"), "{e}");
    // Anything but 401 and 403 is no refusal of credentials.
    check_with(running, "HTTP/1.0 500 Oops\r\n\r\n").unwrap();
}

#[test]
fn a_member_that_runs_for_the_scope_and_reached_the_dcs_passes() {
    let line = check(
        "HTTP/1.0 200 OK\r\n\r\n{\"state\": \"running\", \"role\": \"replica\", \
         \"timeline\": 2, \"dcs_last_seen\": 1796229995, \"patroni\": {\"scope\": \"pg-test\"}}",
    )
    .unwrap();
    assert!(line.contains("DCS reached 5 s ago"), "{line}");
}

#[test]
fn the_preflight_refuses_what_would_break_the_restore() {
    for (response, needle) in [
        (
            "HTTP/1.0 200 OK\r\n\r\n{\"state\": \"running\", \"dcs_last_seen\": 1796220000, \
             \"patroni\": {\"scope\": \"pg-test\"}}",
            "has not reached the DCS lately",
        ),
        (
            "HTTP/1.0 200 OK\r\n\r\n{\"state\": \"running\", \"dcs_last_seen\": 1796229999, \
             \"failsafe_mode_is_active\": true, \"patroni\": {\"scope\": \"pg-test\"}}",
            "failsafe mode active",
        ),
        (
            "HTTP/1.0 503 Service Unavailable\r\n\r\n{\"state\": \"stopped\", \
             \"dcs_last_seen\": 1796229999, \"patroni\": {\"scope\": \"pg-test\"}}",
            "state stopped",
        ),
        (
            "HTTP/1.0 200 OK\r\n\r\n{\"state\": \"running\", \"dcs_last_seen\": 1796229999, \
             \"patroni\": {\"scope\": \"pg-other\"}}",
            "serves scope Some(\"pg-other\"), not pg-test",
        ),
        ("HTTP/1.0 404 Not Found\r\n\r\nno", "does not answer"),
    ] {
        let e = check(response).unwrap_err();
        assert_eq!(e.code(), "cluster_not_ready", "{e}");
        assert!(e.to_string().contains(needle), "{needle}: {e}");
        assert!(e.to_string().contains("nothing was stopped"), "{e}");
    }
}

#[test]
fn members_listed_by_patroni_get_their_api_from_api_url() {
    let like = PatroniApi::local(8008).unwrap();
    let mut m = member();
    m.api_url = Some("http://10.0.0.12:8008/patroni".into());
    assert_eq!(
        member_api(&m, &like).unwrap().url.to_string(),
        "http://10.0.0.12:8008"
    );
    m.api_url = Some("not a url".into());
    assert_eq!(
        member_api(&m, &like).unwrap_err().code(),
        "cluster_not_ready"
    );
}

#[test]
fn requests_a_cluster_restore_cannot_honour_are_refused() {
    let request = |v: serde_json::Value| RestoreRequest::from_pg_pitr(v, None).unwrap();
    let r = cluster_request(&request(
        serde_json::json!({"time": "2026-12-01 10:00:00+00"}),
    ))
    .unwrap();
    assert_eq!(
        (r.archive, r.action, r.safety_copy),
        (Some(ArchiveMode::Off), TargetAction::Promote, true)
    );
    for v in [
        serde_json::json!({"data": "/pg/clone"}),
        serde_json::json!({"port": 5433}),
        serde_json::json!({"archive": "preserve"}),
        serde_json::json!({"time": "2026-12-01 10:00:00+00", "action": "shutdown"}),
    ] {
        assert_eq!(
            cluster_request(&request(v)).unwrap_err().code(),
            "invalid_setting"
        );
    }
}

/// A source spec and a new-cluster spec whose logs are in `dir`, and the request.
fn new_cluster_specs(dir: &std::path::Path) -> (ClusterSpec, ClusterSpec, RestoreRequest) {
    let spec = |yaml: &str| {
        ClusterSpec::from_yaml_str(&format!(
            "{yaml}\npgbackrest_log_dir: {}\npatroni_port: 1\n",
            dir.display()
        ))
        .unwrap()
    };
    let request = crate::target::RawRequest {
        time: Some("2026-12-01 10:00:00+00".into()),
        ..Default::default()
    }
    .validate(None)
    .unwrap();
    (
        spec("pg_cluster: pg-test\npg_seq: 1"),
        spec("pg_cluster: pg-new\npg_seq: 1\npg_data: /nonexistent/pg-new/data"),
        request,
    )
}

#[test]
fn an_interrupted_restore_into_a_new_cluster_of_another_request_is_refused_before_the_preflight() {
    use crate::run::journal::{Journal, Phase, RunRecord, cluster_journal_path};
    let dir = tempfile::tempdir().unwrap();
    let (source, new, request) = new_cluster_specs(dir.path());
    let options = ClusterOptions::default();
    let node = Node::from_spec(&new);
    let identity =
        new_resume::identity(&cluster_request(&request).unwrap(), "pg-test", &new, &node);
    // A record of a restore into pg-new from pg-test, killed (no pitr holds the lock).
    let record = RunRecord::new(crate::plan::cluster::CLUSTER_RESTORE, "pg-new", identity);
    let path = cluster_journal_path(dir.path(), "pg-new");
    let mut journal = Journal::begin(&path, None, record).unwrap();
    // Another target: refused (no Patroni is asked: its port 1 answers nothing), naming the
    // ways out of a restore into a new cluster.
    let other = crate::target::RawRequest {
        time: Some("2026-12-01 11:00:00+00".into()),
        ..Default::default()
    }
    .validate(None)
    .unwrap();
    let e = prepare_new_cluster(std::slice::from_ref(&source), &new, &other, &options).unwrap_err();
    assert_eq!(e.code(), "run_interrupted", "{e}");
    // (The record holds no plan: the hint is the cluster restore's.)
    assert!(e.to_string().contains("pitr restore --cluster"), "{e}");
    // The same request finds it, and cannot read a record without a plan: it says how to
    // forget it.
    let e =
        prepare_new_cluster(std::slice::from_ref(&source), &new, &request, &options).unwrap_err();
    assert_eq!(e.code(), "parse_error", "{e}");
    assert!(e.to_string().contains("--abandon"), "{e}");
    // --undo of another source: refused.
    let mut other_source = source.clone();
    other_source.cluster = "pg-other".parse().unwrap();
    let log = crate::run::log::RunLog::terminal(false);
    let e = undo_new_cluster(&[other_source], &new, &log).unwrap_err();
    assert_eq!(e.code(), "run_interrupted", "{e}");
    // Once the run ended, nothing is interrupted: --undo says so.
    journal.finish(Phase::Abandoned, "test").unwrap();
    let e = undo_new_cluster(&[source], &new, &log).unwrap_err();
    assert_eq!(e.code(), "plan_not_runnable", "{e}");
    assert!(e.to_string().contains("new cluster pg-new"), "{e}");
}
