//! A cluster restore that was interrupted (pitr killed, the machine stopped): found in the
//! cluster run journal of a member on this host, before any pre-flight (Patroni may be
//! stopped everywhere), and completed or undone as [`crate::plan::cluster::resume`] decides;
//! or undone or forgotten on request ([`undo_cluster_restore`], [`abandon_cluster_restore`]).

use super::{ClusterOptions, PreparedClusterRestore, member_restore};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::ops::restore::{InterruptedOutcome, request_identity};
use crate::plan::cluster::resume::{ClusterNext, InterruptedCluster, decide};
use crate::plan::cluster::{CLUSTER_RESTORE, ClusterAction, ClusterPlan};
use crate::plan::resume::Resumed;
use crate::run::journal::{self, Journal, Phase, RunRecord};
use crate::run::log::RunLog;
use crate::run::user::OsUser;
use crate::select::Selection;
use crate::spec::ClusterSpec;
use crate::target::RestoreRequest;

/// The journal note holding the chosen set.
pub(super) const NOTE_SELECTION: &str = "selection";
/// The journal note holding the timeline the restore promoted to.
pub(super) const NOTE_RESTORED_TIMELINE: &str = "restored_timeline";
/// The journal note holding the timeline the new leader runs on.
pub(super) const NOTE_TIMELINE: &str = "timeline";

/// What a cluster restore was asked, as its journal records it: a re-run with an equal one
/// continues an interrupted run.
pub(super) fn identity(request: &RestoreRequest, options: &ClusterOptions) -> serde_json::Value {
    serde_json::json!({
        "request": request_identity(request),
        "member": options.member,
    })
}

/// The interrupted cluster restore recorded on this host, if any: the first member spec whose
/// journal holds one, and the record.
fn find_interrupted(named: &[(String, &ClusterSpec)]) -> Result<Option<RunRecord>> {
    for (_, spec) in named {
        let node = Node::from_spec(spec);
        let owner = OsUser::lookup(&node.dbsu).ok();
        let path = journal::cluster_journal_path(&node.log_dir, node.stanza.as_str());
        if let Some(r) = journal::load(&path, owner.as_ref())?
            .filter(|r| r.is_interrupted() && r.kind == CLUSTER_RESTORE)
        {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

pub(super) fn unreadable(record: &RunRecord, e: &dyn std::fmt::Display) -> Error {
    Error::Parse {
        what: format!("the cluster run journal of run {}", record.run_id),
        message: format!(
            "{e}; `pitr restore --cluster --abandon` (with --new-cluster for a restore into a \
             new cluster) forgets the run, leaving everything as it is"
        ),
    }
}

/// The plan of the interrupted run, what it does now, with the chosen member's node.
fn continue_run(
    named: &[(String, &ClusterSpec)],
    record: &RunRecord,
    go_on: bool,
    undo: bool,
) -> Result<PreparedClusterRestore> {
    let (mut plan, selection) = recorded_plan(record)?;
    let Some(spec) = named
        .iter()
        .find(|(n, _)| *n == plan.chosen)
        .map(|(_, s)| *s)
    else {
        return Err(Error::InvalidSetting {
            key: "spec".into(),
            context: "cluster restore".into(),
            message: format!(
                "run {} restored member {}, but no spec of it was given: give the same specs \
                 as the interrupted run",
                record.run_id, plan.chosen
            ),
        });
    };
    // The Patroni password was redacted in the journal: back from the chosen member's spec.
    super::secrets::with_patroni_auth(
        &mut plan,
        spec.patroni.as_ref().and_then(|a| a.auth.as_ref()),
    );
    let (resumed, next) = decide(
        InterruptedCluster {
            run_id: &record.run_id,
            plan: &plan,
            current: record.current,
            rolling_back: record.phase == Phase::RollingBack,
        },
        go_on,
        undo,
    )?;
    continuing(&mut plan, &resumed);
    Ok(PreparedClusterRestore {
        plan,
        selection,
        resumed: Some(resumed),
        node: Node::from_spec(spec),
        request: record.request.clone(),
        next: Some(next),
        redo: None,
    })
}

/// When a cluster restore of these members is interrupted on this host: the same request
/// continues it (`run_interrupted` for another); `None` when none is.
pub(super) fn prepare_rerun(
    named: &[(String, &ClusterSpec)],
    request: &RestoreRequest,
    identity: &serde_json::Value,
    options: &ClusterOptions,
) -> Result<Option<PreparedClusterRestore>> {
    let Some(record) = find_interrupted(named)? else {
        return Ok(None);
    };
    if record.request != *identity {
        return Err(crate::ops::interrupted(&record));
    }
    let mut prepared = continue_run(named, &record, options.go_on, false)?;
    // Continuing before the restore step runs it: planned again, since the plan read back from
    // the journal lost the restore config's secrets.
    let restore_at = prepared
        .plan
        .steps
        .iter()
        .position(|s| s.action == ClusterAction::Restore);
    if let (Some(ClusterNext::From(from)), Some(at)) = (prepared.next, restore_at) {
        if from <= at {
            let (plan, selection) = member_restore(&prepared.node, request, options)?;
            prepared.plan.restore = plan;
            prepared.selection = selection;
        }
    }
    Ok(Some(prepared))
}

/// The interrupted cluster restore of these members on this host, or an error saying there is
/// none.
fn the_interrupted(specs: &[ClusterSpec]) -> Result<(Vec<(String, &ClusterSpec)>, RunRecord)> {
    let named = super::named_specs(specs)?;
    let record = find_interrupted(&named)?.ok_or_else(|| Error::PlanNotRunnable {
        reason: "no cluster restore of these members is interrupted on this host: nothing to \
                 undo or abandon"
            .into(),
    })?;
    Ok((named, record))
}

/// Brings the cluster of the interrupted cluster restore back as it was (`pitr restore
/// --cluster --undo`): the chosen member's safety copy back if the restore had begun, Patroni
/// started on the old leader first, failover resumed, every member streaming. Refused past
/// the point of no return.
pub fn undo_cluster_restore(specs: &[ClusterSpec], log: &RunLog) -> Result<InterruptedOutcome> {
    let (named, record) = the_interrupted(specs)?;
    let prepared = continue_run(&named, &record, false, true)?;
    let at = prepared
        .resumed
        .as_ref()
        .map(|r| r.interrupted_at.clone())
        .unwrap_or_default();
    match super::run::run_prepared(prepared, log)? {
        super::run::Ended::Undone { message, .. } => Ok(InterruptedOutcome {
            run_id: record.run_id,
            outcome: Phase::Undone,
            interrupted_at: at,
            message,
            report: None,
        }),
        super::run::Ended::Done(_) => Err(Error::PlanNotRunnable {
            reason: format!("run {} was completed instead of undone", record.run_id),
        }),
    }
}

/// Forgets the interrupted cluster restore and changes nothing (`pitr restore --cluster
/// --abandon`): the members, the DCS and the chosen member's safety copy stay as they are,
/// for the operator.
pub fn abandon_cluster_restore(specs: &[ClusterSpec]) -> Result<InterruptedOutcome> {
    let (named, record) = the_interrupted(specs)?;
    let chosen = continue_run(&named, &record, false, false)
        .map(|p| p.node)
        .or_else(|_| Ok::<_, Error>(Node::from_spec(named[0].1)))?;
    abandon(&chosen, &record.run_id, |at| {
        format!(
            "the cluster is left as run {} left it at step '{at}': see docs/cluster-pitr.md to \
             finish or go back by hand",
            record.run_id
        )
    })
}

/// Forgets run `run_id` of the cluster run journal of `node`'s stanza under its lock, when it
/// is still interrupted; `message` says, from the step it was in, where things are left.
pub(super) fn abandon(
    node: &Node,
    run_id: &str,
    message: impl FnOnce(&str) -> String,
) -> Result<InterruptedOutcome> {
    let locked = crate::ops::lock_stanza(node, crate::ops::CLUSTER_COMMAND, false, &|_| {})?;
    let record = locked
        .last_cluster_run()?
        .filter(|r| r.is_interrupted() && r.run_id == run_id)
        .ok_or_else(|| Error::PlanNotRunnable {
            reason: format!("run {run_id} is no longer interrupted"),
        })?;
    let at = record
        .current_step()
        .unwrap_or("before its first step")
        .to_owned();
    let message = message(&at);
    let run_id = record.run_id.clone();
    let mut journal = Journal::begin(
        locked.cluster_journal_path(),
        locked.owner().cloned(),
        record,
    )?;
    journal.finish(
        Phase::Abandoned,
        &format!("abandoned by request: {message}"),
    )?;
    Ok(InterruptedOutcome {
        run_id,
        outcome: Phase::Abandoned,
        interrupted_at: at,
        message,
        report: None,
    })
}

/// A new record of a cluster run of `prepared`.
pub(super) fn new_record(prepared: &PreparedClusterRestore) -> RunRecord {
    let mut record = RunRecord::new(
        CLUSTER_RESTORE,
        &prepared.plan.scope,
        prepared.request.clone(),
    );
    set_plan(&mut record, prepared);
    if let Ok(v) = serde_json::to_value(&prepared.selection) {
        record.notes.insert(NOTE_SELECTION.to_owned(), v);
    }
    record
}

/// Records the cluster plan `prepared` runs.
pub(super) fn set_plan(record: &mut RunRecord, prepared: &PreparedClusterRestore) {
    record.plan = serde_json::to_value(&prepared.plan).ok();
    record.steps = prepared.plan.steps.iter().map(|s| s.id.clone()).collect();
}

/// Puts what a re-run found and will do first among the plan's warnings.
pub(super) fn continuing(plan: &mut ClusterPlan, resumed: &Resumed) {
    plan.warnings.insert(
        0,
        format!(
            "continuing interrupted run {} ({}): {}",
            resumed.run_id,
            resumed.decision.as_str(),
            resumed.why
        ),
    );
}

/// The plan and selection an interrupted cluster run recorded before its first step.
pub(super) fn recorded_plan(record: &RunRecord) -> Result<(ClusterPlan, Selection)> {
    let value = record
        .plan
        .clone()
        .ok_or_else(|| unreadable(record, &"it holds no plan"))?;
    let plan = ClusterPlan::from_value(value).map_err(|e| unreadable(record, &e))?;
    let selection: Selection = record
        .notes
        .get(NOTE_SELECTION)
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| unreadable(record, &e))?
        .ok_or_else(|| unreadable(record, &"it holds no selection"))?;
    Ok((plan, selection))
}
