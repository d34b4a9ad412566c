//! Restore plans of every target type, planned from recorded `pgbackrest info` output
//! (pgBackRest 2.45, PostgreSQL 15: a full set, a restore point `rp1`, an incremental set) and
//! snapshot-tested as the JSON a dry run prints; one of them also as the dry-run script.
//!
//! A change in what pitr would do — another set, another argv, another step — shows up here
//! as a snapshot diff to review.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use pitr_core::node::Node;
use pitr_core::plan::restore::{DataState, NodeFacts, plan_restore};
use pitr_core::plan::{Plan, shell};
use pitr_core::render::Renderer;
use pitr_core::select::{RepoState, select};
use pitr_core::snapshot::RepoSnapshot;
use pitr_core::spec::ClusterSpec;
use pitr_core::target::RestoreRequest;

fn snapshot() -> RepoSnapshot {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pgbackrest-2.45/info-local-full-incr.json"
    ))
    .unwrap();
    RepoSnapshot::from_info(pitr_core::info::parse(&text).unwrap())
}

fn node() -> Node {
    let spec = ClusterSpec::from_yaml_str(
        "pg_cluster: demo\npg_data: /pg/data\npg_port: 5432\npg_socket_dir: /var/run/postgresql\n\
         node_cpu: 4\npgbackrest_version: '2.45'\npgbackrest_spool_dir: /pg/spool\n\
         pgbackrest_repo: {local: {path: /pg/backup, retention_full: 2, cipher_type: aes-256-cbc, \
         cipher_pass: Plans.Secret-42}}\n",
    )
    .unwrap();
    Node::from_spec(&spec)
}

/// A node whose cluster runs in `/pg/data`, with room to spare.
fn running() -> NodeFacts {
    NodeFacts {
        data_state: DataState::Cluster,
        postmaster_pid: Some(4242),
        free_bytes: Some(1 << 40),
        safety_copy_exists: false,
    }
}

fn plan(request: serde_json::Value, facts: &NodeFacts) -> Plan {
    let request = RestoreRequest::from_pg_pitr(request, None).unwrap();
    let snap = snapshot();
    let node = node();
    let stanza = snap.stanza(&node.stanza).unwrap();
    let selection = select(
        RepoState {
            stanza,
            histories: &snap.histories,
            listings: &snap.listings,
            marks: &snap.marks,
        },
        &request,
        None,
    )
    .unwrap();
    let site = node.restore_site(
        Path::new("/usr/lib/postgresql/15/bin"),
        Path::new("/usr/bin/pgbackrest"),
        None,
        3600,
    );
    plan_restore(&site, &request, &selection, facts, &Renderer::new()).unwrap()
}

#[test]
fn every_target_type_plans_as_recorded() {
    let cases = [
        ("latest", serde_json::json!({})),
        ("immediate", serde_json::json!({"type": "immediate"})),
        (
            "time_between_the_sets",
            serde_json::json!({"time": "2026-11-23 20:27:46+00"}),
        ),
        (
            "time_exclusive_after_the_incr",
            serde_json::json!({"time": "2026-11-23 20:28:30+00", "exclusive": true, "action": "promote"}),
        ),
        (
            "name_with_a_hint",
            serde_json::json!({"name": "rp1", "before": "2026-11-23 20:27:47+00"}),
        ),
        (
            "lsn_shutdown",
            serde_json::json!({"lsn": "0/3027F60", "action": "shutdown"}),
        ),
        (
            "xid_exclusive",
            serde_json::json!({"xid": 726, "exclusive": true}),
        ),
        (
            "safety_copy_and_options",
            serde_json::json!({"time": "2026-11-23 20:27:46+00", "backup": true, "process": 2,
                "db_exclude": ["scratch"], "extra": ["--io-timeout=120"]}),
        ),
        (
            "clone_beside_the_cluster",
            serde_json::json!({"time": "2026-11-23 20:27:46+00", "data": "/pg/clone", "port": 5433}),
        ),
    ];
    for (name, request) in cases {
        let facts = if name.starts_with("clone") {
            NodeFacts {
                data_state: DataState::Missing,
                postmaster_pid: None,
                free_bytes: Some(1 << 40),
                safety_copy_exists: false,
            }
        } else {
            running()
        };
        let plan = plan(request, &facts);
        let json = serde_json::to_value(&plan).unwrap();
        assert!(!json.to_string().contains("Plans.Secret-42"), "{name}");
        insta::assert_json_snapshot!(name, json);
    }
}

#[test]
fn the_dry_run_script_of_a_restore_with_a_safety_copy() {
    let plan = plan(
        serde_json::json!({"name": "rp1", "before": "2026-11-23 20:27:47+00", "backup": true,
            "action": "promote"}),
        &running(),
    );
    let script = shell::to_shell(&plan);
    assert!(!script.contains("Plans.Secret-42"));
    insta::assert_snapshot!(script);
}

#[test]
fn a_plan_survives_json_except_for_its_secrets() {
    let plan = plan(serde_json::json!({"lsn": "0/3027F60"}), &running());
    let again = Plan::from_json(&plan.to_json()).unwrap();
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&plan).unwrap()
    );
    // The restore config holds the passphrase: the plan read back cannot write it.
    assert_eq!(
        pitr_core::run::runner::check_runnable(&again)
            .unwrap_err()
            .code(),
        "plan_not_runnable"
    );
    assert!(pitr_core::run::runner::check_runnable(&plan).is_ok());
}

/// The failover fixture: timeline 1 handed over to timeline 2 at 0/90000A0, its fork archived
/// at 2026-11-23 20:47:58+00; repo1 listed.
fn after_a_failover(request: serde_json::Value) -> pitr_core::Result<Plan> {
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/pgbackrest-2.45/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let mut snap = RepoSnapshot::from_info(
        pitr_core::info::parse(&fixture("info-multi-repo-failover.json")).unwrap(),
    );
    let tl2 = pitr_core::names::TimelineId::new(2).unwrap();
    snap.histories
        .insert(pitr_core::history::parse(tl2, &fixture("00000002.history")).unwrap());
    snap.listings.insert(
        pitr_core::names::RepoIndex::FIRST,
        pitr_core::archive::parse_repo_ls(
            &fixture("repo-ls-archive-multi-repo1.json"),
            pitr_core::names::DEFAULT_SEGMENT_SIZE,
        )
        .unwrap(),
    );
    let spec = ClusterSpec::from_yaml_str(
        "pg_cluster: pg-multi\npg_data: /pg/data\npg_port: 5432\npgbackrest_version: '2.45'\n",
    )
    .unwrap();
    let node = Node::from_spec(&spec);
    let request = RestoreRequest::from_pg_pitr(request, None).unwrap();
    let stanza = snap.stanza(&node.stanza).unwrap();
    let selection = select(
        RepoState {
            stanza,
            histories: &snap.histories,
            listings: &snap.listings,
            marks: &snap.marks,
        },
        &request,
        Some(&[pitr_core::names::RepoIndex::FIRST]),
    )?;
    let site = node.restore_site(
        Path::new("/usr/lib/postgresql/15/bin"),
        Path::new("/usr/bin/pgbackrest"),
        None,
        3600,
    );
    plan_restore(&site, &request, &selection, &running(), &Renderer::new())
}

#[test]
fn an_old_timeline_is_refused_for_a_target_after_its_fork_and_followed_before_it() {
    let e = after_a_failover(serde_json::json!({"time": "2026-11-23 20:48:01+00", "timeline": 1}))
        .unwrap_err();
    assert_eq!(e.code(), "target_outside_window", "{e}");
    insta::assert_snapshot!(e.to_string(), @"time 2026-11-23 20:48:01+00 is outside the recoverable window: timeline 1 ended at 0/90000A0 where timeline 2 took over (2026-11-23 20:47:58+00); a later target is not on timeline 1's history (leave out the timeline, or give 2); recoverable: repo1 timeline 1: from 2026-11-23 20:47:49+00 (0/2000100, set 20261123-204746F) to 0/90000A0 (where timeline 2 took over, 2026-11-23 20:47:58+00); repo1 timeline 2: from 2026-11-23 20:47:49+00 (0/2000100, set 20261123-204746F) to 0/C000000 (archived by 2026-11-23 20:48:02+00); repo2 timeline 1: from 2026-11-23 20:47:51+00 (0/4000050, set 20261123-204750F) to 0/90000A0 (where timeline 2 took over); repo2 timeline 2: from 2026-11-23 20:47:51+00 (0/4000050, set 20261123-204750F) to 0/C000000");
    let e = after_a_failover(serde_json::json!({"lsn": "0/A000000", "timeline": 1})).unwrap_err();
    assert_eq!(e.code(), "target_outside_window");
    // Without the timeline, the same target follows the hand-over, and pgBackRest is told so.
    let p = after_a_failover(serde_json::json!({"time": "2026-11-23 20:48:01+00"})).unwrap();
    let argv = serde_json::to_value(&p).unwrap().to_string();
    assert!(argv.contains("--target-timeline=2"), "{argv}");
}

/// What a re-run of the same restore does after a crash at each step (issue 14): complete once
/// recovery had begun, redo (putting the safety copy back first when it was moved) before,
/// undo while rolling back; the undo steps follow what is on disk, not the step index.
#[test]
fn a_re_run_after_a_crash_completes_redoes_or_undoes() {
    use pitr_core::plan::Action;
    use pitr_core::plan::resume::{Decision, Interrupted, Next, decide};
    let original = plan(
        serde_json::json!({"time": "2026-11-23 20:27:46+00", "backup": true}),
        &running(),
    );
    let index = |id: &str| original.steps.iter().position(|s| s.id == id).unwrap();
    let ids = |p: &Plan| p.steps.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    let stopped = NodeFacts {
        postmaster_pid: None,
        ..running()
    };
    let copy_there = |p: &Path| p == Path::new("/pg/data-backup") || p == Path::new("/pg/data");
    let no_copy = |p: &Path| p == Path::new("/pg/data");
    let at = |id: &str, rolling_back: bool, facts: &NodeFacts, exists: &dyn Fn(&Path) -> bool| {
        let current = if rolling_back {
            original.on_failure.iter().position(|s| s.id == id)
        } else {
            Some(index(id))
        };
        decide(
            Interrupted {
                run_id: "r1",
                plan: &original,
                current,
                rolling_back,
            },
            facts,
            exists,
        )
    };

    // Recovery had begun, the server runs: follow it, do not start another.
    for step in ["await-recovery", "verify", "paused"] {
        let (r, next) = at(step, false, &running(), &copy_there);
        assert_eq!(
            (r.decision, r.interrupted_at.as_str()),
            (Decision::Complete, step)
        );
        let Next::Plan(p) = next else {
            panic!("{step}")
        };
        assert_eq!(ids(&p)[0], "await-recovery", "{step}");
        assert_eq!(p.on_failure, original.on_failure);
    }
    // Killed at `start` with no server up: start it.
    let (_, next) = at("start", false, &stopped, &copy_there);
    let Next::Plan(p) = next else { panic!() };
    assert_eq!(ids(&p)[..2], ["start", "await-recovery"]);

    // Before recovery, the copy moved: put it back, then plan anew as a stopped cluster.
    let (r, next) = at("restore", false, &stopped, &copy_there);
    assert_eq!(r.decision, Decision::Redo);
    assert!(r.why.contains("/pg/data-backup"), "{}", r.why);
    let Next::Redo { undo, facts } = next else {
        panic!()
    };
    assert_eq!(
        undo.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["rollback-remove", "rollback-restore"]
    );
    assert_eq!(
        (facts.data_state, facts.postmaster_pid),
        (DataState::Cluster, None)
    );
    assert!(!facts.safety_copy_exists);
    // Killed before the move: nothing to put back.
    let (r, next) = at("safety-copy", false, &stopped, &no_copy);
    assert_eq!(r.decision, Decision::Redo);
    let Next::Redo { undo, .. } = next else {
        panic!()
    };
    assert!(undo.is_empty());

    // Rolling back: what remains to put back, judged from the disk.
    let (r, next) = at("rollback-remove", true, &stopped, &copy_there);
    assert_eq!(r.decision, Decision::Undo);
    let Next::Plan(p) = next else { panic!() };
    assert_eq!(
        ids(&p),
        ["rollback-remove", "rollback-restore", "rollback-start"]
    );
    // The copy already went back: never remove the data directory again.
    let (_, next) = at("rollback-start", true, &stopped, &no_copy);
    let Next::Plan(p) = next else { panic!() };
    assert_eq!(ids(&p), ["rollback-start"]);
    assert!(
        !p.steps
            .iter()
            .any(|s| matches!(s.action, Action::RemoveDir { .. } | Action::MoveDir { .. }))
    );
}

/// A failed step of `plan`, as the runner reports it.
fn failed(step: &str, source: pitr_core::Error) -> pitr_core::Error {
    pitr_core::Error::Step {
        step: step.into(),
        rolled_back: true,
        rollback_stopped: None,
        source: Box::new(source),
    }
}

fn restore_failed(output: &str) -> pitr_core::Error {
    failed(
        "restore",
        pitr_core::Error::CommandFailed {
            what: "restore".into(),
            status: "exit status: 75".into(),
            output: output.into(),
        },
    )
}

#[test]
fn a_dead_repo_during_pgbackrest_restore_is_repo_unreachable_naming_the_repo() {
    let p = plan(serde_json::json!({"backup": true}), &running());
    // Recorded from pgBackRest 2.45 with the S3 endpoint stopped as the restore began.
    let e = pitr_core::ops::explain_failure(
        &p,
        restore_failed(
            "WARN: repo1: [HostConnectError] unable to load info file '/pgbackrest/backup/demo/backup.info' or '/pgbackrest/backup/demo/backup.info.copy':\n      HostConnectError: unable to connect to '127.0.0.1:38915': [111] Connection refused\nERROR: [075]: backup set 20261123-202742F is not valid",
        ),
    );
    assert_eq!(e.code(), "repo_unreachable", "{e}");
    let text = e.to_string();
    assert!(
        text.contains("step 'restore' failed (rolled back"),
        "{text}"
    );
    let source = std::error::Error::source(&e).unwrap().to_string();
    assert!(
        source.starts_with(
            "repo1 cannot be read (pgbackrest restore): WARN: repo1: [HostConnectError]"
        ),
        "{source}"
    );
    // By code, as pgBackRest fails once a transfer has begun.
    let e = pitr_core::ops::explain_failure(
        &p,
        restore_failed(
            "P01  ERROR: [049]: unable to connect to '127.0.0.1:9000': [111] Connection refused",
        ),
    );
    assert_eq!(e.code(), "repo_unreachable", "{e}");
}

#[test]
fn a_full_filesystem_is_disk_full_naming_the_data_directory() {
    let p = plan(serde_json::json!({"backup": true}), &running());
    let e = pitr_core::ops::explain_failure(
        &p,
        restore_failed(
            "ERROR: [064]: unable to write '/pg/data/base/1/1259': [28] No space left on device",
        ),
    );
    assert_eq!(e.code(), "disk_full", "{e}");
    let source = std::error::Error::source(&e).unwrap().to_string();
    assert!(
        source.starts_with("the filesystem of '/pg/data' is full (step 'restore')"),
        "{source}"
    );
    // Recorded: pgBackRest 2.45 on a full tmpfs, its error line lost among the progress lines.
    let source = pitr_core::Error::CommandFailed {
        what: "restore".into(),
        status: "exit status: 64".into(),
        output: "2026-12-02 18:22:02.935 P02 DETAIL: restore file /pg/data/base/1/174 (8KB, 99.37%) checksum 47e6d94fbc20dee50188b31631cbcbb5287673c7".into(),
    };
    let e = pitr_core::ops::explain_failure(&p, failed("restore", source));
    assert_eq!(e.code(), "disk_full", "{e}");
    let e = pitr_core::ops::explain_failure(
        &p,
        failed(
            "await-recovery",
            pitr_core::Error::RecoveryFailed {
                target: "latest".into(),
                reason: "FATAL:  could not write to file \"pg_wal/xlogtemp.42\": No space left on device".into(),
            },
        ),
    );
    assert_eq!(e.code(), "disk_full", "{e}");
}

#[test]
fn other_failures_keep_their_code() {
    let p = plan(serde_json::json!({"backup": true}), &running());
    // Not a repo error; and a repo error in another step than the restore is not the repo's.
    for (step, output) in [
        (
            "restore",
            "ERROR: [075]: backup set 20261123-202742F is not valid",
        ),
        (
            "start",
            "ERROR: [049]: unable to connect to '127.0.0.1:9000'",
        ),
    ] {
        let source = pitr_core::Error::CommandFailed {
            what: step.into(),
            status: "exit status: 1".into(),
            output: output.into(),
        };
        let e = pitr_core::ops::explain_failure(&p, failed(step, source));
        assert_eq!(e.code(), "command_failed", "{step}: {e}");
    }
    let e = pitr_core::ops::explain_failure(
        &p,
        pitr_core::Error::PlanNotRunnable { reason: "x".into() },
    );
    assert_eq!(e.code(), "plan_not_runnable");
}
