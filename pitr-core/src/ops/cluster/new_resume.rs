//! A restore into a new cluster cut short (pitr killed, the machine stopped): its record in the
//! new stanza's cluster run journal ([`crate::run::journal::cluster_journal_path`] of the new
//! member's log directory) is found before the collision pre-flight, which what the run
//! created would fail. The same restore run again undoes it (the plan's undo steps, only for
//! what the journal says the run created: [`crate::plan::cluster::Created`]) and restores
//! again from the start; [`undo_new_cluster`] only undoes it, [`abandon_new_cluster`] forgets
//! it. A record of another source or target is refused (`run_interrupted`).

use super::resume::{abandon, unreadable};
use super::{PreparedClusterRestore, Redo};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::ops::restore::{InterruptedOutcome, request_identity};
use crate::plan::cluster::resume::ClusterNext;
use crate::plan::cluster::{CLUSTER_RESTORE, Created, decide_new};
use crate::run::journal::{self, Phase, RunRecord};
use crate::run::log::RunLog;
use crate::run::user::OsUser;
use crate::spec::ClusterSpec;
use crate::target::RestoreRequest;

/// The journal note listing what a restore into a new cluster created ([`Created`]).
pub(super) const NOTE_CREATED: &str = "created";

/// What a restore into a new cluster was asked, as its journal records it: a re-run with an
/// equal one (the same source, target and new member) undoes and redoes an interrupted run.
pub(super) fn identity(
    request: &RestoreRequest,
    source: &str,
    new_spec: &ClusterSpec,
    node: &Node,
) -> serde_json::Value {
    serde_json::json!({
        "request": request_identity(request),
        "source": source,
        "new_cluster": {
            "scope": new_spec.cluster.as_str(),
            "seq": new_spec.seq,
            "data": node.data.to_path_buf(),
            "port": node.port,
            "api": new_spec.patroni.as_ref().map(|a| a.url.to_string()),
        },
    })
}

/// What a run recorded as created, from its record's notes.
pub(super) fn created(
    notes: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Vec<Created> {
    notes
        .get(NOTE_CREATED)
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// The interrupted restore into the new cluster of `node` (the new member's) on this host.
fn find_interrupted(node: &Node) -> Result<Option<RunRecord>> {
    let owner = OsUser::lookup(&node.dbsu).ok();
    let path = journal::cluster_journal_path(&node.log_dir, node.stanza.as_str());
    Ok(journal::load(&path, owner.as_ref())?
        .filter(|r| r.is_interrupted() && r.kind == CLUSTER_RESTORE))
}

/// When a restore into the new cluster of `node` is interrupted on this host: the re-run that
/// undoes it, then (with `redo`) restores again; `None` when none is. A record of another
/// request (`identity`; `--undo` gives none: only the `source` is compared) is refused.
pub(super) fn prepare_rerun(
    node: &Node,
    new_spec: &ClusterSpec,
    identity: Option<&serde_json::Value>,
    source: &str,
    redo: Option<Redo>,
) -> Result<Option<PreparedClusterRestore>> {
    let Some(record) = find_interrupted(node)? else {
        return Ok(None);
    };
    let same = match identity {
        Some(i) => record.request == *i,
        None => record.request["source"] == source,
    };
    if !same {
        return Err(crate::ops::interrupted(&record));
    }
    let (mut plan, selection) = super::resume::recorded_plan(&record)?;
    if plan.new_cluster.is_none() {
        return Err(unreadable(
            &record,
            &"its plan is not a restore into a new cluster",
        ));
    }
    super::secrets::with_patroni_auth(
        &mut plan,
        new_spec.patroni.as_ref().and_then(|a| a.auth.as_ref()),
    );
    let resumed = decide_new(
        &record.run_id,
        record.current_step(),
        record.phase == Phase::RollingBack,
        &created(&record.notes),
        &plan,
        redo.is_none(),
    );
    super::resume::continuing(&mut plan, &resumed);
    Ok(Some(PreparedClusterRestore {
        plan,
        selection,
        resumed: Some(resumed),
        node: node.clone(),
        request: record.request.clone(),
        next: Some(ClusterNext::Undo),
        redo: redo.map(Box::new),
    }))
}

/// The source's scope of `specs`, and the new member's node.
fn source_and_node(specs: &[ClusterSpec], new_spec: &ClusterSpec) -> Result<(String, Node)> {
    let named = super::named_specs(specs)?;
    Ok((named[0].1.cluster.to_string(), Node::from_spec(new_spec)))
}

fn none_interrupted(scope: &str) -> Error {
    Error::PlanNotRunnable {
        reason: format!(
            "no restore into the new cluster {scope} is interrupted on this host: nothing to \
             undo or abandon"
        ),
    }
}

/// Removes what the interrupted restore into the new cluster of `new_spec` created (`pitr
/// restore --cluster --new-cluster NEW --undo`): its Patroni and PostgreSQL stopped, its scope
/// removed from the DCS, its stanza deleted (when the run created it), its data directory
/// removed. The running cluster of `specs` is not touched.
pub fn undo_new_cluster(
    specs: &[ClusterSpec],
    new_spec: &ClusterSpec,
    log: &RunLog,
) -> Result<InterruptedOutcome> {
    let (source, node) = source_and_node(specs, new_spec)?;
    let prepared = prepare_rerun(&node, new_spec, None, &source, None)?
        .ok_or_else(|| none_interrupted(new_spec.cluster.as_str()))?;
    let (run_id, at) = prepared
        .resumed
        .as_ref()
        .map(|r| (r.run_id.clone(), r.interrupted_at.clone()))
        .unwrap_or_default();
    match super::run::run_prepared(prepared, log)? {
        super::run::Ended::Undone { message, .. } => Ok(InterruptedOutcome {
            run_id,
            outcome: Phase::Undone,
            interrupted_at: at,
            message,
            report: None,
        }),
        super::run::Ended::Done(_) => Err(Error::PlanNotRunnable {
            reason: format!("run {run_id} was completed instead of undone"),
        }),
    }
}

/// Forgets the interrupted restore into the new cluster of `new_spec` and changes nothing
/// (`pitr restore --cluster --new-cluster NEW --abandon`).
pub fn abandon_new_cluster(
    specs: &[ClusterSpec],
    new_spec: &ClusterSpec,
) -> Result<InterruptedOutcome> {
    let (source, node) = source_and_node(specs, new_spec)?;
    let record = find_interrupted(&node)?
        .filter(|r| r.request["source"] == source.as_str())
        .ok_or_else(|| none_interrupted(new_spec.cluster.as_str()))?;
    abandon(&node, &record.run_id, |at| {
        format!(
            "the new cluster {} is left as run {} left it at step '{at}' (it had created: {}); \
             see docs/cluster-pitr.md to remove it by hand",
            new_spec.cluster,
            record.run_id,
            created(&record.notes)
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}
