//! Undoing a restore that completed, when a later step of a cluster restore fails: the safety
//! copy goes back only with the moves of the restore's run known to the guards (a run of the
//! `on_failure` steps alone is refused: it did not move anything itself).

// Helpers of tests: a panic is a failed test with its location; the test writes its fixtures.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::path::Path;

use pitr_core::plan::{Action, Plan, Step, Summary};
use pitr_core::run::log::RunLog;
use pitr_core::run::runner;

fn data_dir(path: &Path, marker: &str) {
    std::fs::create_dir(path).unwrap();
    std::fs::write(path.join("PG_VERSION"), "15\n").unwrap();
    std::fs::write(path.join(marker), "").unwrap();
}

fn step(id: &str, action: Action) -> Step {
    Step {
        id: id.into(),
        title: id.into(),
        destructive: false,
        action,
    }
}

/// A restore plan of `data` whose only step is its safety copy, with the usual rollback.
fn restore_of(data: &Path) -> Plan {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/plans__latest.snap"
    ))
    .unwrap();
    let json = &text[text.find("\n{").unwrap()..];
    let mut plan = Plan::from_json(json).unwrap();
    let Summary::Restore(summary) = &mut plan.summary else {
        panic!("not a restore plan")
    };
    summary.data = data.to_path_buf();
    let backup = data.with_file_name("data-backup");
    plan.steps = vec![step(
        "safety-copy",
        Action::MoveDir {
            from: data.to_path_buf(),
            to: backup.clone(),
            owner: None,
        },
    )];
    plan.on_failure = vec![
        step(
            "rollback-remove",
            Action::RemoveDir {
                path: data.to_path_buf(),
                owner: None,
            },
        ),
        step(
            "rollback-restore",
            Action::MoveDir {
                from: backup,
                to: data.to_path_buf(),
                owner: None,
            },
        ),
    ];
    plan
}

#[test]
fn a_completed_restore_is_undone_with_its_moves_known() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    data_dir(&data, "original");
    let plan = restore_of(&data);
    let log = RunLog::terminal(false);
    let report = runner::run_plan(&plan, &log).unwrap();
    assert!(dir.path().join("data-backup/original").is_file());
    data_dir(&data, "restored");

    // The rollback steps on their own know of no move: the guards refuse to remove anything.
    let alone = Plan {
        steps: plan.on_failure.clone(),
        on_failure: Vec::new(),
        ..plan.clone()
    };
    let err = runner::run_plan(&alone, &log).unwrap_err();
    assert_eq!(err.code(), "plan_not_runnable", "{err}");
    assert!(data.join("restored").is_file());

    runner::undo(&plan, &report, &log).unwrap();
    assert!(data.join("original").is_file());
    assert!(!data.join("restored").exists());
    assert!(!dir.path().join("data-backup").exists());
}
