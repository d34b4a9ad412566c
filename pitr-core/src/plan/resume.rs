//! What a re-run of the same restore does after the run was interrupted (pitr killed, the
//! machine stopped): complete it, or undo it and restore again — decided from the run journal
//! ([`crate::run::journal`]) and the state of the data directory, and said with a reason.
//!
//! | interrupted | decision |
//! |---|---|
//! | at or after `start` (recovery had begun) | **complete**: start the server again unless it runs (pitr leaves the postmaster it started running when it dies), follow recovery from where the log stood when the run began, verify, as the run would have; on failure the safety copy goes back |
//! | before `start`, after the safety copy was moved | **redo**: stop a server in the restored directory, remove the partial restore, put the safety copy back — then the restore runs again from the start, with a new safety copy |
//! | before `start`, the safety copy not moved (or none asked) | **redo**: the restore runs again from the start; a partial restore without a safety copy is restored over (pgBackRest's delta) |
//! | while rolling back | **undo**: finish putting the safety copy back; the run ends as undone (`run_undone`) |
//!
//! Everything here is pure: the caller gathers the facts and plans the fresh restore.

use serde::{Deserialize, Serialize};

use super::restore::{DataState, NodeFacts};
use super::{Action, Plan, Step, Summary};

/// What a re-run does with the interrupted run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Follow recovery to its end and verify it.
    Complete,
    /// Put back what the run changed and restore again from the start.
    Redo,
    /// Put the safety copy back and end the run.
    Undo,
}

impl Decision {
    /// `complete`, `redo` or `undo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Complete => "complete",
            Decision::Redo => "redo",
            Decision::Undo => "undo",
        }
    }
}

/// A re-run continuing an interrupted run: shown in plans' outcomes (`resumed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumed {
    /// The interrupted run's id.
    pub run_id: String,
    /// The step it was in.
    pub interrupted_at: String,
    /// What this run does with it.
    pub decision: Decision,
    /// Why, in words.
    pub why: String,
}

impl Resumed {
    /// Run `run_id`, interrupted at step `at`, continued as `decision` says, for `why`.
    pub fn new(run_id: &str, decision: Decision, at: String, why: String) -> Resumed {
        Resumed {
            run_id: run_id.to_owned(),
            interrupted_at: at,
            decision,
            why,
        }
    }
}

/// What to run next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// This plan, as it is (complete or undo).
    Plan(Plan),
    /// These steps first, then a fresh restore planned with these facts (redo).
    Redo {
        /// Steps that put back what the interrupted run changed.
        undo: Vec<Step>,
        /// The facts the fresh plan is made with: the data directory as it will be.
        facts: NodeFacts,
    },
}

/// What the interrupted run was doing: its plan, the step it was in, whether it was rolling
/// back.
#[derive(Debug, Clone, Copy)]
pub struct Interrupted<'a> {
    /// The run id.
    pub run_id: &'a str,
    /// Its plan (the forward plan; read back from the journal, so without secrets).
    pub plan: &'a Plan,
    /// Index of the step it was in: of `plan.steps`, or of `plan.on_failure` when rolling back.
    pub current: Option<usize>,
    /// Whether it was running the `on_failure` steps.
    pub rolling_back: bool,
}

fn step_id(steps: &[Step], i: Option<usize>) -> String {
    i.and_then(|i| steps.get(i))
        .map_or_else(|| "before its first step".to_owned(), |s| s.id.clone())
}

/// The `on_failure` steps that put the safety copy back, chosen from what is there now rather
/// than from where the run stopped: stop a server only when one runs in the data directory;
/// remove the restored directory and move the copy back only while the copy is there (once it
/// was moved back, the directory is the original again); start the server again (`restart`,
/// when the plan stopped one) only when none runs.
fn putting_back(plan: &Plan, facts: &NodeFacts, copy_there: bool, restart: bool) -> Vec<Step> {
    let running = facts.postmaster_pid.is_some();
    plan.on_failure
        .iter()
        .filter(|s| match (&s.action, s.id.as_str()) {
            (Action::Exec { .. }, "rollback-start") => restart && !running,
            (Action::Exec { .. }, _) => running,
            (Action::RemoveDir { .. } | Action::MoveDir { .. }, _) => copy_there,
            _ => true,
        })
        .cloned()
        .collect()
}

/// Decides what a re-run of the same request does. `facts` are those of the data directory
/// now; `exists` tells whether anything is at a path.
pub fn decide(
    run: Interrupted<'_>,
    facts: &NodeFacts,
    exists: &dyn Fn(&std::path::Path) -> bool,
) -> (Resumed, Next) {
    let plan = run.plan;
    let resumed = |decision, at, why| Resumed::new(run.run_id, decision, at, why);
    let copy = match &plan.summary {
        Summary::Restore(r) => r.safety_copy.clone(),
        _ => None,
    };
    let copy_there = copy.as_deref().is_some_and(exists);
    if run.rolling_back {
        let at = step_id(&plan.on_failure, run.current);
        let undo = Plan {
            steps: putting_back(plan, facts, copy_there, true),
            on_failure: Vec::new(),
            ..plan.clone()
        };
        let why = format!(
            "the interrupted run had failed and was putting its safety copy back (rollback step \
             '{at}'); this run finishes that"
        );
        return (resumed(Decision::Undo, at, why), Next::Plan(undo));
    }
    let at = step_id(&plan.steps, run.current);
    let start = plan.steps.iter().position(|s| s.id == "start");
    if let (Some(start), Some(current)) = (start, run.current) {
        if current >= start {
            let running = facts.postmaster_pid.is_some();
            let steps: Vec<Step> = plan.steps[start..]
                .iter()
                .filter(|s| !(running && s.id == "start"))
                .cloned()
                .collect();
            let why = format!(
                "recovery had begun when the run was interrupted (step '{at}'); {}, and this run \
                 follows recovery from where the server log stood when the run began and \
                 verifies where it stopped",
                if running {
                    "the server it started still runs"
                } else {
                    "the server is started again"
                }
            );
            let complete = Plan {
                steps,
                ..plan.clone()
            };
            return (resumed(Decision::Complete, at, why), Next::Plan(complete));
        }
    }
    if let Some(copy) = copy.filter(|_| copy_there) {
        let undo = putting_back(plan, facts, true, false);
        let why = format!(
            "the run was interrupted before recovery began (step '{at}'): the partial restore is \
             removed, the safety copy {} is put back, and the restore runs again from the start",
            copy.display()
        );
        let fresh = NodeFacts {
            data_state: DataState::Cluster,
            postmaster_pid: None,
            free_bytes: facts.free_bytes,
            safety_copy_exists: false,
        };
        return (
            resumed(Decision::Redo, at, why),
            Next::Redo { undo, facts: fresh },
        );
    }
    let why = format!(
        "the run was interrupted before recovery began (step '{at}'), {}: the restore runs again \
         from the start",
        if plan.steps.iter().any(|s| s.id == "safety-copy") {
            "before its safety copy was moved"
        } else {
            "without a safety copy"
        }
    );
    let mut fresh = facts.clone();
    if fresh.data_state == DataState::Other {
        // The run's own partial restore: restored over like a cluster.
        fresh.data_state = DataState::Cluster;
    }
    (
        resumed(Decision::Redo, at, why),
        Next::Redo {
            undo: Vec::new(),
            facts: fresh,
        },
    )
}
