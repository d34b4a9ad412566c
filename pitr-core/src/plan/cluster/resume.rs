//! What a re-run of the same cluster restore does after the run was interrupted (pitr killed,
//! the machine stopped), decided from the cluster run journal
//! ([`crate::run::journal::cluster_journal_path`]) and said with a reason, in the words of the
//! single-node resume ([`crate::plan::resume`]).
//!
//! | interrupted | decision |
//! |---|---|
//! | before `remove-dcs` (the point of no return) | **undo**: the chosen member's safety copy goes back if the restore had begun, then the plan's `on_failure` steps bring the cluster back as it was; the run ends as undone (`run_undone`) |
//! | the same, the operator asking to continue | **complete**: the steps from the interrupted one on (refused inside the `restore` step, whose half-done recovery the cluster plan cannot take over) |
//! | at or after `remove-dcs` | **complete**: the steps from the interrupted one on; each is a check or repeats harmlessly (a wait that holds returns at once, a started Patroni is not started twice, a removed directory is gone) |
//! | while rolling back | **undo**: the rollback is run again from its start |
//!
//! Pure: the caller reads the journal and runs what is decided.

use super::{ClusterAction, ClusterPlan};
use crate::error::{Error, Result};
use crate::plan::resume::{Decision, Resumed};

/// What a re-run runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterNext {
    /// The plan's steps from this index on.
    From(usize),
    /// Put the chosen member's data back (when the restore had begun) and run `on_failure`.
    Undo,
}

/// The interrupted run, as its record says.
#[derive(Debug, Clone, Copy)]
pub struct InterruptedCluster<'a> {
    /// The run id.
    pub run_id: &'a str,
    /// Its plan.
    pub plan: &'a ClusterPlan,
    /// Index of the step it was in: of `plan.steps`, or of `plan.on_failure` when rolling back.
    pub current: Option<usize>,
    /// Whether it was running the `on_failure` steps.
    pub rolling_back: bool,
}

/// Decides what a re-run does; `go_on` is the operator asking to continue a run interrupted
/// before the point of no return, and `undo` asking to bring the cluster back (refused past
/// that point).
pub fn decide(
    run: InterruptedCluster<'_>,
    go_on: bool,
    undo: bool,
) -> Result<(Resumed, ClusterNext)> {
    let plan = run.plan;
    let resumed = |decision, at, why| Resumed::new(run.run_id, decision, at, why);
    let ids = if run.rolling_back {
        &plan.on_failure
    } else {
        &plan.steps
    };
    let at = run
        .current
        .and_then(|i| ids.get(i))
        .map_or_else(|| "before its first step".to_owned(), |s| s.id.clone());
    let back = format!(
        "the cluster is brought back as it was ({} leading, every member streaming, Patroni \
         resumed)",
        plan.leader_before
    );
    if run.rolling_back {
        let why = format!(
            "the interrupted run had failed and was bringing the cluster back (rollback step \
             '{at}'); this run finishes that: {back}"
        );
        return Ok((resumed(Decision::Undo, at, why), ClusterNext::Undo));
    }
    let no_return = plan.point_of_no_return();
    let current = run.current.unwrap_or(0);
    if current >= no_return {
        if undo {
            return Err(Error::PlanNotRunnable {
                reason: format!(
                    "run {} was interrupted at step '{at}', past the point of no return (the \
                     DCS was emptied): it cannot be undone by pitr; re-run the same restore to \
                     complete it, or go back by hand (docs/cluster-pitr.md)",
                    run.run_id
                ),
            });
        }
        let why = format!(
            "the run was interrupted at step '{at}', past the point of no return (the DCS was \
             emptied): this run completes the steps from '{at}' on"
        );
        return Ok((
            resumed(Decision::Complete, at, why),
            ClusterNext::From(current),
        ));
    }
    if go_on && !undo {
        if plan
            .steps
            .get(current)
            .is_some_and(|s| s.action == ClusterAction::Restore)
        {
            return Err(Error::PlanNotRunnable {
                reason: format!(
                    "run {} was interrupted inside the restore of {}, which a re-run cannot take \
                     over: re-run without --continue to bring the cluster back as it was, then \
                     restore again",
                    run.run_id, plan.chosen
                ),
            });
        }
        let why = format!(
            "the run was interrupted at step '{at}', before the point of no return; as asked, \
             this run continues from '{at}' on"
        );
        return Ok((
            resumed(Decision::Complete, at, why),
            ClusterNext::From(current),
        ));
    }
    let why = format!(
        "the run was interrupted at step '{at}', before the point of no return (the DCS still \
         holds the cluster): {back}{}",
        if go_on {
            ""
        } else {
            "; to continue the restore instead, re-run with --continue"
        }
    );
    Ok((resumed(Decision::Undo, at, why), ClusterNext::Undo))
}
