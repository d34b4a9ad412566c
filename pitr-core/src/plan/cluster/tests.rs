//! Tests of the cluster plan: the order of its steps, what it refuses, its text.

use std::path::PathBuf;

use super::*;
use crate::patroni::ClusterView;
use crate::patroni::{PatroniApi, PatroniControl};
use crate::plan::Plan;

fn site(name: &str, role: &str, local: bool) -> MemberSite {
    MemberSite {
        name: name.into(),
        host: format!("10.0.0.{}", name.len()),
        role: role.into(),
        local,
        api: PatroniApi::local(8008).unwrap(),
        data: PathBuf::from(format!("/pg/{name}/data")),
        socket_dir: PathBuf::from("/var/run/postgresql"),
        port: 5432,
        dbsu: "postgres".into(),
        pg_bin_dir: PathBuf::from("/usr/lib/postgresql/15/bin"),
        control: PatroniControl::default(),
        pgbackrest_config: PathBuf::from("/etc/pgbackrest/pgbackrest.conf"),
    }
}

pub(crate) fn input(chosen: &str) -> ClusterInput {
    let restore = Plan::from_json(
        r#"{"kind": "continuity", "summary": {"role": "primary", "skipped": true,
            "timeline": null, "pg_wal": null, "push": [], "present": []},
            "stanza": "pg-test", "steps": []}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    ClusterInput {
        scope: "pg-test".parse().unwrap(),
        members: vec![
            site("pg-test-1", "replica", true),
            site("pg-test-2", "leader", true),
            site("pg-test-3", "replica", false),
        ],
        chosen: chosen.into(),
        leader: "pg-test-2".into(),
        timeline_before: Some(2),
        restore,
        target: "time 2026-12-01 10:00:00+00".into(),
        pgbackrest_bin: PathBuf::from("/usr/bin/pgbackrest"),
        patronictl: PathBuf::from("/usr/bin/patronictl"),
        backup: true,
        force: false,
        drain_timeout_secs: DRAIN_TIMEOUT,
        preflight: vec![],
        warnings: vec![],
    }
}

fn ids(steps: &[ClusterStep]) -> Vec<String> {
    steps.iter().map(|s| s.id.clone()).collect()
}

#[test]
fn replicas_stop_first_and_are_rebuilt_only_after_the_leader_is_verified() {
    let plan = plan_cluster_restore(input("pg-test-2")).unwrap();
    let ids = ids(&plan.steps);
    let pos = |id: &str| ids.iter().position(|i| i == id).unwrap();
    assert_eq!(ids[0], "pause");
    assert!(pos("stopped-pg-test-3") < pos("stop-patroni-pg-test-2"));
    assert!(pos("drain-archive-pg-test-2") < pos("stop-postgres-pg-test-2"));
    assert!(!ids.contains(&"drain-archive-pg-test-1".to_owned()));
    assert!(pos("restore") < pos("remove-dcs"));
    assert!(pos("await-leader") < pos("remove-data-pg-test-1"));
    assert!(pos("await-streaming-pg-test-1") < pos("remove-data-pg-test-3"));
    assert_eq!(ids.last().map(String::as_str), Some("backup"));
    assert_eq!(plan.point_of_no_return(), pos("remove-dcs"));
    assert_eq!(plan.remote_members(), ["pg-test-3"]);
    // Only the chosen member is restored; the leader is never a replica to remove.
    assert!(!ids.contains(&"remove-data-pg-test-2".to_owned()));
    let remove = &plan.steps[pos("remove-dcs")];
    let ClusterAction::Exec { argv, stdin, .. } = &remove.action else {
        panic!("{remove:?}")
    };
    assert_eq!(argv[3..], ["remove", "pg-test"]);
    assert_eq!(
        stdin.as_deref(),
        Some("pg-test\nYes I am aware\npg-test-2\n")
    );
    // The rollback starts the old leader first.
    assert_eq!(plan.on_failure[0].id, "rollback-start-patroni-pg-test-2");
    let text = plan.to_text();
    assert!(text.contains("# --- phase replicas ---"), "{text}");
    assert!(text.contains("[other host: not run from here]"), "{text}");
    assert!(text.contains("systemctl stop patroni"), "{text}");
}

#[test]
fn a_chosen_replica_is_restored_and_the_old_leader_rebuilt() {
    let mut i = input("pg-test-1");
    i.backup = false;
    let plan = plan_cluster_restore(i).unwrap();
    let ids = ids(&plan.steps);
    assert!(ids.contains(&"remove-data-pg-test-2".to_owned()));
    assert!(!ids.contains(&"remove-data-pg-test-1".to_owned()));
    assert!(!ids.contains(&"backup".to_owned()));
    assert_eq!(plan.chosen, "pg-test-1");
    assert_eq!(plan.leader_before, "pg-test-2");
}

#[test]
fn an_unknown_member_is_refused() {
    let e = plan_cluster_restore(input("pg-test-9")).unwrap_err();
    assert_eq!(e.code(), "invalid_setting");
    assert!(e.to_string().contains("'pg-test-9' is not a member"), "{e}");
}

#[test]
fn patronis_cluster_document_is_read() {
    let v = ClusterView::parse(
        200,
        r#"{"members": [{"name": "pg-test-1", "role": "leader", "state": "running",
            "api_url": "http://127.0.0.1:8008/patroni", "host": "127.0.0.1", "port": 5432,
            "timeline": 2}, {"name": "pg-test-2", "role": "replica", "state": "streaming",
            "host": "127.0.0.1", "port": 5433, "timeline": 2, "lag": 0}],
            "pause": true, "scope": "pg-test"}"#,
    )
    .unwrap();
    assert!(v.pause);
    assert_eq!(v.leader().map(|m| m.name.as_str()), Some("pg-test-1"));
    assert!(
        v.members
            .iter()
            .all(crate::patroni::ClusterMember::is_running)
    );
    assert!(
        ClusterView::parse(503, "{}")
            .unwrap_err()
            .contains("HTTP 503")
    );
    assert!(
        ClusterView::parse(200, "\"members\"")
            .unwrap_err()
            .contains("not Patroni's cluster document")
    );
}

#[test]
fn a_plan_read_back_from_the_journal_is_the_plan() {
    let plan = plan_cluster_restore(input("pg-test-2")).unwrap();
    let back = ClusterPlan::from_json(&plan.to_json()).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn an_interrupted_run_is_undone_before_the_point_of_no_return_and_completed_after() {
    use super::resume::{ClusterNext, InterruptedCluster, decide};
    use crate::plan::resume::Decision;
    let plan = plan_cluster_restore(input("pg-test-2")).unwrap();
    let at = |id: &str| plan.steps.iter().position(|s| s.id == id).unwrap();
    let run = |current: Option<usize>, rolling_back| InterruptedCluster {
        run_id: "r1",
        plan: &plan,
        current,
        rolling_back,
    };
    // Before remove-dcs: the cluster goes back, unless the operator asks to continue.
    let (r, next) = decide(run(Some(at("stop-restored")), false), false, false).unwrap();
    assert_eq!((r.decision, next), (Decision::Undo, ClusterNext::Undo));
    assert_eq!(r.interrupted_at, "stop-restored");
    assert!(r.why.contains("--continue"), "{}", r.why);
    let (r, next) = decide(run(Some(at("stop-restored")), false), true, false).unwrap();
    assert_eq!(
        (r.decision, next),
        (Decision::Complete, ClusterNext::From(at("stop-restored")))
    );
    assert_eq!(
        decide(run(None, false), false, false).unwrap().1,
        ClusterNext::Undo
    );
    // Inside the restore step there is nothing a re-run can continue.
    let e = decide(run(Some(at("restore")), false), true, false).unwrap_err();
    assert_eq!(e.code(), "plan_not_runnable");
    // From remove-dcs on: completed from the step it was in; not undone.
    for id in ["remove-dcs", "remove-data-pg-test-1", "backup"] {
        let (r, next) = decide(run(Some(at(id)), false), false, false).unwrap();
        assert_eq!(
            (r.decision, next),
            (Decision::Complete, ClusterNext::From(at(id)))
        );
        assert!(r.why.contains("point of no return"), "{}", r.why);
        let e = decide(run(Some(at(id)), false), false, true).unwrap_err();
        assert!(e.to_string().contains("cannot be undone"), "{e}");
    }
    // A rollback that was cut short is run again.
    let (r, next) = decide(run(Some(1), true), true, false).unwrap();
    assert_eq!((r.decision, next), (Decision::Undo, ClusterNext::Undo));
    assert_eq!(r.interrupted_at, plan.on_failure[1].id);
}

pub(crate) fn new_cluster_plan() -> ClusterPlan {
    let base = input("pg-test-2");
    let mut member = site("pg-new-1", "new", true);
    member.data = PathBuf::from("/pg/new/data");
    plan_new_cluster(NewClusterInput {
        source_scope: "pg-test".into(),
        members: Vec::new(),
        leader: "pg-test-2".into(),
        timeline_before: Some(2),
        scope: "pg-new".into(),
        member,
        restore_socket_dir: PathBuf::from("/var/run/postgresql"),
        restore: base.restore,
        target: base.target,
        pgbackrest_bin: base.pgbackrest_bin,
        patronictl: base.patronictl,
        repos: vec![1, 3],
        backup: true,
        preflight: Vec::new(),
        warnings: Vec::new(),
    })
}

#[test]
fn the_undo_of_a_new_cluster_removes_only_what_the_run_created_and_only_the_new_scope() {
    let plan = new_cluster_plan();
    // Every step that creates something is known, and every undo step undoes one of them.
    let creates: Vec<(String, Created)> = plan
        .steps
        .iter()
        .filter_map(|s| Created::by(s).map(|c| (s.id.clone(), c)))
        .collect();
    assert_eq!(
        creates,
        [
            ("restore".to_owned(), Created::Data),
            ("stanza-create".to_owned(), Created::Stanza),
            ("start-patroni-pg-new-1".to_owned(), Created::Patroni),
        ]
    );
    let all = [Created::Data, Created::Stanza, Created::Patroni];
    assert_eq!(undo_steps(&plan, &all), plan.on_failure);
    assert_eq!(
        ids(&plan.on_failure),
        [
            "undo-stop-patroni-pg-new-1",
            "undo-stop-postgres-pg-new-1",
            "undo-stopped-pg-new-1",
            "undo-remove-dcs",
            "undo-stanza-stop",
            "undo-stanza-delete-repo1",
            "undo-stanza-delete-repo3",
            "undo-stanza-start",
            "undo-remove-data-pg-new-1",
        ]
    );
    // Killed inside the restore: PostgreSQL stopped and the directory removed, nothing else.
    assert_eq!(
        ids(&undo_steps(&plan, &[Created::Data])),
        [
            "undo-stop-postgres-pg-new-1",
            "undo-stopped-pg-new-1",
            "undo-remove-data-pg-new-1"
        ]
    );
    // The stanza is deleted only when the run created it.
    assert!(
        undo_steps(&plan, &[Created::Data, Created::Patroni])
            .iter()
            .all(|s| !s.id.starts_with("undo-stanza-"))
    );
    assert!(undo_steps(&plan, &[]).is_empty());
    // The DCS: the new scope only, with the new member's configuration.
    let remove = plan
        .on_failure
        .iter()
        .find(|s| s.id == "undo-remove-dcs")
        .unwrap();
    let ClusterAction::Exec { argv, stdin, .. } = &remove.action else {
        panic!("{remove:?}")
    };
    assert_eq!(argv.last().map(String::as_str), Some("pg-new"));
    assert!(!argv.iter().any(|a| a == "pg-test"), "{argv:?}");
    assert_eq!(stdin.as_deref(), Some("pg-new\nYes I am aware\npg-new-1\n"));
    let delete = plan
        .on_failure
        .iter()
        .find(|s| s.id == "undo-stanza-delete-repo3")
        .unwrap();
    let ClusterAction::Exec { argv, .. } = &delete.action else {
        panic!("{delete:?}")
    };
    assert!(argv.contains(&"--stanza=pg-new".to_owned()) && argv.contains(&"--repo=3".to_owned()));
    let text = plan.to_text();
    assert!(
        text.contains("a re-run after the run was interrupted"),
        "{text}"
    );
}

#[test]
fn a_rerun_of_a_new_cluster_says_what_it_found_and_redoes_or_only_undoes() {
    let plan = new_cluster_plan();
    let created = [Created::Data, Created::Stanza];
    let r = decide_new("run-1", Some("archive-on"), false, &created, &plan, false);
    assert_eq!(r.decision, crate::plan::resume::Decision::Redo);
    assert_eq!(r.interrupted_at, "archive-on");
    assert!(
        r.why.contains("interrupted at step 'archive-on'"),
        "{}",
        r.why
    );
    assert!(r.why.contains("created: data, stanza"), "{}", r.why);
    assert!(r.why.contains("again from the start"), "{}", r.why);
    assert!(
        r.why.contains("cluster pg-test is not touched"),
        "{}",
        r.why
    );
    let r = decide_new("run-1", None, true, &[], &plan, true);
    assert_eq!(r.decision, crate::plan::resume::Decision::Undo);
    assert_eq!(r.interrupted_at, "before its first step");
    assert!(
        r.why.contains("undo step") && r.why.contains("nothing yet"),
        "{}",
        r.why
    );
    assert!(r.why.contains("--undo"), "{}", r.why);
}
