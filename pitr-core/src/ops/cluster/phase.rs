//! Running a cluster plan one phase and one member at a time, on the member's own host: what
//! the Ansible playbook `pgsql-pitr.yml` does on a multi-host Patroni inventory.
//!
//! The plan is computed once, on the host of the member to restore, from every member's spec
//! ([`super::prepare_cluster_restore`]); it is data whose steps name their member. Each phase
//! then runs, host by host in the order the plan gives ([`ClusterPlan::phase_runs`]), the
//! steps of that phase that run on the host's member ([`run_cluster_phase`]): the member's
//! own, and on the leader the waits until a replica streams, which read its
//! `pg_stat_replication`. The `rollback` phase runs the plan's `on_failure` steps the same way.
//!
//! A plan read back from JSON is checked against the member's own spec before any step runs:
//! the scope and member must be the plan's, and a step may remove only the data directory
//! that spec names (see [`check_steps`]). The single-node restore plan inside it runs behind
//! the runner's guards and refuses, as any plan read back from JSON, to write a file whose
//! secrets were redacted (`plan_not_runnable`).
//!
//! A failure of the `restore` phase after the restore itself completed puts the safety copy
//! back before it returns, so that the `rollback` phase finds every data directory as it was;
//! the `rollback` phase refuses to start Patroni on the restored member while its safety copy
//! is still aside. Past the point of no return (`dcs`), nothing is rolled back.

use serde::Serialize;

use super::named_specs;
use super::run::{ClusterRun, restore_safety_copy};
use super::secrets::{with_patroni_auth, with_secrets};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::ops::backup::BackupOutcome;
use crate::ops::continuity::ContinuityOutcome;
use crate::plan::cluster::{ClusterAction, ClusterPlan, ClusterStep, Phase};
use crate::run::facts::postmaster_pid;
use crate::run::log::RunLog;
use crate::run::runner::RunReport;
use crate::spec::ClusterSpec;
use crate::target::RestoreRequest;

/// What a phase run is given besides the plan and the member's spec.
#[derive(Debug, Clone, Copy, Default)]
pub struct PhaseArgs<'a> {
    /// Ids of the steps to run (one [`PhaseRun`]); all of the phase's steps on the member's
    /// host when `None`.
    pub steps: Option<&'a [String]>,
    /// The `restore` phase's outcome, which the `archive` phase needs.
    pub restored_timeline: Option<u64>,
    /// The request the plan was made for: on the restored member's host, the restore config's
    /// secrets, redacted in the plan, are rendered again from the spec and it.
    pub request: Option<&'a RestoreRequest>,
}

/// What one phase did on one member; the document Python's `run_cluster_phase()` returns.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseOutcome {
    /// The phase.
    pub phase: Phase,
    /// The member it ran on.
    pub member: String,
    /// Ids of the steps that ran to completion (none: the phase has nothing for this member).
    pub completed: Vec<String>,
    /// The restore of the chosen member (`restore` phase).
    pub restore: Option<RunReport>,
    /// The timeline the restore promoted to (`restore` phase; given to the `archive` phase).
    pub restored_timeline: Option<u64>,
    /// The timeline the restored cluster's leader runs on (`start` phase).
    pub timeline: Option<u64>,
    /// What the continuity step pushed (`archive` phase).
    pub continuity: Option<ContinuityOutcome>,
    /// The full backup (`backup` phase).
    pub backup: Option<BackupOutcome>,
    /// The run log.
    pub log_file: Option<String>,
}

impl ClusterPlan {
    /// Reads a plan back from JSON (`--dry-run --json`, Python's `plan_restore_cluster()`).
    pub fn from_json(text: &str) -> Result<ClusterPlan> {
        let parse = |e: serde_json::Error| Error::Parse {
            what: "cluster plan".into(),
            message: e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(parse)?;
        Self::from_value(value).map_err(parse)
    }

    /// Reads a plan back from its JSON value (a Python dict).
    pub fn from_value(value: serde_json::Value) -> serde_json::Result<ClusterPlan> {
        use serde::Deserialize as _;
        // An owned value: the plan's `kind` needs no borrow of the input.
        ClusterPlan::deserialize(value)
    }

    /// The steps of `phase` (the `rollback` phase: of `on_failure`), in order.
    pub fn phase_steps(&self, phase: Phase) -> impl Iterator<Item = &ClusterStep> {
        let steps = if phase == Phase::Rollback {
            &self.on_failure
        } else {
            &self.steps
        };
        steps.iter().filter(move |s| s.phase == phase)
    }

    /// The member on whose host `step` runs: its own, but for a wait until a replica streams,
    /// which reads `pg_stat_replication` through the leader's socket (the restored member's,
    /// or the old leader's when rolling back).
    pub fn runs_on<'a>(&'a self, step: &'a ClusterStep) -> &'a str {
        match (&step.action, step.phase) {
            (ClusterAction::AwaitStreaming { .. }, Phase::Rollback) => &self.leader_before,
            (ClusterAction::AwaitStreaming { .. }, _) => &self.chosen,
            _ => &step.member,
        }
    }

    /// How `phase` runs, host by host: consecutive steps that run on one member's host, in
    /// the plan's order (the `replicas` phase: remove and start on a replica, then wait on the
    /// leader until it streams, then the next replica).
    pub fn phase_runs(&self, phase: Phase) -> Vec<PhaseRun> {
        let mut runs: Vec<PhaseRun> = Vec::new();
        for step in self.phase_steps(phase) {
            let on = self.runs_on(step);
            match runs.last_mut() {
                Some(run) if run.member == on => run.steps.push(step.id.clone()),
                _ => runs.push(PhaseRun {
                    member: on.to_owned(),
                    steps: vec![step.id.clone()],
                }),
            }
        }
        runs
    }
}

/// Steps of a phase that run one after the other on one member's host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseRun {
    /// The member.
    pub member: String,
    /// Ids of its steps, in order.
    pub steps: Vec<String>,
}

/// Every phase in the order a run goes through them, the `rollback` phase last.
pub const PHASES: [Phase; 10] = [
    Phase::Pause,
    Phase::Stop,
    Phase::Restore,
    Phase::Dcs,
    Phase::Start,
    Phase::Resume,
    Phase::Replicas,
    Phase::Archive,
    Phase::Backup,
    Phase::Rollback,
];

impl std::str::FromStr for Phase {
    type Err = Error;

    /// A phase by its name (`pause`, `stop`, ..., `rollback`).
    fn from_str(s: &str) -> Result<Phase> {
        PHASES.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            Error::invalid(
                "phase",
                s,
                format!("one of {}", PHASES.map(Phase::name).join(", ")),
            )
        })
    }
}

fn invalid(key: &str, message: String) -> Error {
    Error::InvalidSetting {
        key: key.into(),
        context: "cluster restore phase".into(),
        message,
    }
}

/// Checks the steps a member runs against its own spec: a step may remove only the data
/// directory the spec names, and only when no PostgreSQL runs in it; the restore may restore
/// only that directory.
fn check_steps(plan: &ClusterPlan, steps: &[&ClusterStep], node: &Node) -> Result<()> {
    for step in steps {
        if step.action == ClusterAction::Restore {
            let restores = match &plan.restore.summary {
                crate::plan::Summary::Restore(r) => Some(r.data.as_path()),
                _ => None,
            };
            if restores != Some(node.data.as_ref()) {
                return Err(Error::PlanNotRunnable {
                    reason: format!(
                        "step '{}' would restore {}, but the member's spec names the data \
                         directory '{}'; nothing was changed",
                        step.id,
                        restores.map_or_else(
                            || "no data directory (its plan is no restore)".to_owned(),
                            |d| format!("'{}'", d.display())
                        ),
                        node.data.display()
                    ),
                });
            }
        }
        if let ClusterAction::RemoveDir { path, owner } = &step.action {
            if path.as_path() != node.data.as_ref() as &std::path::Path || *owner != node.dbsu {
                return Err(Error::PlanNotRunnable {
                    reason: format!(
                        "step '{}' would remove '{}' as {owner}, but the member's spec names \
                         the data directory '{}' of {}; nothing was removed",
                        step.id,
                        path.display(),
                        node.data.display(),
                        node.dbsu
                    ),
                });
            }
            if let Some(pid) = postmaster_pid(path) {
                return Err(Error::DataDirectory {
                    path: path.clone(),
                    problem: format!(
                        "PostgreSQL (pid {pid}) runs in it; step '{}' removes it only when \
                         nothing runs there",
                        step.id
                    ),
                });
            }
        }
    }
    Ok(())
}

/// What is left to do after a failed step of `phase`, in words.
fn left_after(plan: &ClusterPlan, phase: Phase, undone: Option<bool>) -> String {
    let copy = restore_safety_copy(&plan.restore)
        .map_or_else(|| "(none)".to_owned(), |c| c.display().to_string());
    match (phase, undone) {
        (Phase::Rollback, _) => format!(
            "rolling back stopped here; the data directories are as they were: start Patroni \
             on {} first, then on the others, and resume (patronictl resume)",
            plan.leader_before
        ),
        (_, Some(false)) => format!(
            "not rolled back: the data directory of {} is not as it was; the safety copy is \
             {copy}; see docs/cluster-pitr.md, going back by hand",
            plan.chosen
        ),
        (Phase::Pause | Phase::Stop | Phase::Restore, _) => {
            "not rolled back yet: run the rollback phase on every member, in the plan's order \
             (the playbook's rescue does)"
                .to_owned()
        }
        _ => format!(
            "past the point of no return (the DCS was emptied): nothing was rolled back; the \
             chosen member's previous data directory is kept as {copy}; see \
             docs/cluster-pitr.md to finish or go back"
        ),
    }
}

/// Runs the steps of `phase` of `plan` that run on the host of the member of `spec`
/// (`<pg_cluster>-<pg_seq>`; see [`ClusterPlan::runs_on`]), or those of them named in
/// `args.steps` (one [`PhaseRun`]), in order, logging into `log`. A phase with no step for the
/// member does nothing.
///
/// A failing step stops the phase with [`Error::ClusterStep`], which says what is left to do:
/// before the DCS is emptied, the `rollback` phase on every member brings the cluster back as
/// it was (a `restore` phase that failed after the restore completed has put the safety copy
/// back first).
pub fn run_cluster_phase(
    plan: &ClusterPlan,
    phase: Phase,
    spec: &ClusterSpec,
    args: PhaseArgs<'_>,
    log: &RunLog,
) -> Result<PhaseOutcome> {
    let PhaseArgs {
        steps: only,
        restored_timeline,
        request,
    } = args;
    let named = named_specs(std::slice::from_ref(spec))?;
    let member = named[0].0.clone();
    if spec.cluster.as_str() != plan.scope {
        return Err(invalid(
            "pg_cluster",
            format!(
                "the spec is for cluster {}, the plan restores {}",
                spec.cluster, plan.scope
            ),
        ));
    }
    if !plan.members.iter().any(|m| m.name == member) {
        return Err(invalid(
            "pg_seq",
            format!(
                "the spec is for member {member}, which is not in the plan (members: {})",
                plan.members
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let node = Node::from_spec(spec);
    let steps: Vec<&ClusterStep> = plan
        .phase_steps(phase)
        .filter(|s| plan.runs_on(s) == member)
        .filter(|s| only.is_none_or(|ids| ids.contains(&s.id)))
        .collect();
    if let Some(stray) = only
        .unwrap_or_default()
        .iter()
        .find(|id| !steps.iter().any(|s| s.id == **id))
    {
        return Err(invalid(
            "steps",
            format!(
                "'{stray}' is not a step of phase {} that runs on {member}'s host (its steps: {})",
                phase.name(),
                plan.phase_steps(phase)
                    .filter(|s| plan.runs_on(s) == member)
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    check_steps(plan, &steps, &node)?;
    // The plan as it runs on this host: the secrets redacted in it, from this member's spec.
    let mut own = plan.clone();
    with_patroni_auth(
        &mut own,
        node.patroni.as_ref().and_then(|a| a.auth.as_ref()),
    );
    if steps.iter().any(|s| s.action == ClusterAction::Restore) {
        own.restore = with_secrets(&plan.restore, &node, request)?;
    }
    let plan = &own;
    let steps: Vec<&ClusterStep> = plan
        .phase_steps(phase)
        .filter(|s| steps.iter().any(|chosen| chosen.id == s.id))
        .collect();
    if phase == Phase::Rollback && member == plan.chosen {
        if let Some(copy) = restore_safety_copy(&plan.restore).filter(|c| c.exists()) {
            return Err(Error::PlanNotRunnable {
                reason: format!(
                    "the safety copy {} of {member} is still aside: its data directory is not \
                     as it was, so Patroni is not started on it; put it back first (see \
                     docs/cluster-pitr.md)",
                    copy.display()
                ),
            });
        }
    }
    let mut outcome = PhaseOutcome {
        phase,
        member: member.clone(),
        completed: Vec::new(),
        restore: None,
        restored_timeline,
        timeline: None,
        continuity: None,
        backup: None,
        log_file: log.path().map(|p| p.display().to_string()),
    };
    if steps.is_empty() {
        return Ok(outcome);
    }
    let locked = crate::ops::lock_stanza(&node, "restore --cluster", false, &|_| {})?;
    log.file_only(&format!(
        "cluster plan, phase {} on {member}: {}",
        phase.name(),
        plan.to_json()
    ));
    let mut run = ClusterRun {
        plan,
        node: &node,
        log,
        locked: &locked,
        journal: None,
        restore: None,
        restored_timeline,
        new_timeline: None,
        continuity: None,
        backup: None,
    };
    for (i, step) in steps.iter().enumerate() {
        log.line(&format!(
            "==> [{}/{}] {} {} on {} ({}): {}",
            i + 1,
            steps.len(),
            phase.name(),
            step.id,
            step.member,
            step.host,
            step.title
        ));
        if let Err(e) = run.step(step) {
            log.line(&format!("step '{}' failed: {e}", step.id));
            // After the restore completed, its safety copy goes back here, as a cluster run's
            // rollback puts it back.
            let undone = run.restore.is_some().then(|| run.put_data_back());
            let back = left_after(plan, phase, undone);
            log.line(&back);
            return Err(Error::ClusterStep {
                step: step.id.clone(),
                member: step.member.clone(),
                back,
                source: Box::new(e),
            });
        }
        outcome.completed.push(step.id.clone());
    }
    log.line("done");
    outcome.restore = run.restore;
    outcome.restored_timeline = run.restored_timeline;
    outcome.timeline = run.new_timeline;
    outcome.continuity = run.continuity;
    outcome.backup = run.backup;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::cluster::plan_cluster_restore;
    use crate::plan::cluster::tests::input;

    fn plan() -> ClusterPlan {
        plan_cluster_restore(input("pg-test-2")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn spec(more: &serde_json::Value) -> ClusterSpec {
        let mut v = serde_json::json!({"pg_cluster": "pg-test", "pg_seq": 1, "patroni_port": 8008});
        if let (Some(v), Some(more)) = (v.as_object_mut(), more.as_object()) {
            v.extend(more.clone());
        }
        crate::api::spec(v).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_plan_reads_back_from_its_json_and_only_a_cluster_plan_does() {
        let p = plan();
        assert_eq!(ClusterPlan::from_json(&p.to_json()).unwrap(), p);
        let other = p
            .to_json()
            .replacen("\"cluster_restore\"", "\"restore\"", 1);
        let err = ClusterPlan::from_json(&other).unwrap_err();
        assert_eq!(err.code(), "parse_error", "{err}");
        assert!(
            err.to_string().contains("not a cluster restore plan"),
            "{err}"
        );
    }

    #[test]
    fn each_phase_runs_host_by_host_in_the_plans_order() {
        let p = plan();
        let runs = |phase| {
            p.phase_runs(phase)
                .into_iter()
                .map(|r| format!("{}: {}", r.member, r.steps.join(" ")))
                .collect::<Vec<_>>()
        };
        assert_eq!(runs(Phase::Pause), ["pg-test-2: pause"]);
        // Replicas stop first, the leader last, after its archive drained.
        assert_eq!(
            runs(Phase::Stop),
            [
                "pg-test-1: stop-patroni-pg-test-1 stop-postgres-pg-test-1 stopped-pg-test-1",
                "pg-test-3: stop-patroni-pg-test-3 stop-postgres-pg-test-3 stopped-pg-test-3",
                "pg-test-2: stop-patroni-pg-test-2 drain-archive-pg-test-2 \
                 stop-postgres-pg-test-2 stopped-pg-test-2",
            ]
        );
        // One replica at a time, each waited for on the new leader.
        assert_eq!(
            runs(Phase::Replicas),
            [
                "pg-test-1: remove-data-pg-test-1 start-patroni-pg-test-1",
                "pg-test-2: await-streaming-pg-test-1",
                "pg-test-3: remove-data-pg-test-3 start-patroni-pg-test-3",
                "pg-test-2: await-streaming-pg-test-3",
            ]
        );
        // Rolling back starts the old leader first.
        assert_eq!(
            runs(Phase::Rollback)[0],
            "pg-test-2: rollback-start-patroni-pg-test-2 rollback-resume rollback-await-leader"
        );
        // Every step is in exactly one run.
        let all: usize = PHASES
            .iter()
            .flat_map(|&ph| p.phase_runs(ph))
            .map(|r| r.steps.len())
            .sum();
        assert_eq!(all, p.steps.len() + p.on_failure.len());
        for phase in PHASES {
            assert_eq!(phase.name().parse::<Phase>().unwrap(), phase);
        }
        assert_eq!("drop".parse::<Phase>().unwrap_err().code(), "invalid_value");
    }

    #[test]
    fn a_phase_runs_only_for_a_member_of_the_plan_and_removes_only_its_own_data() {
        let p = plan();
        let log = RunLog::terminal(false);
        let code = |spec: &ClusterSpec, phase| {
            run_cluster_phase(&p, phase, spec, PhaseArgs::default(), &log)
                .map(|o| o.completed)
                .unwrap_err()
                .code()
        };
        let other = spec(&serde_json::json!({"pg_cluster": "pg-other"}));
        assert_eq!(code(&other, Phase::Stop), "invalid_setting");
        let stranger = spec(&serde_json::json!({"pg_seq": 9}));
        assert_eq!(code(&stranger, Phase::Stop), "invalid_setting");
        // The plan removes /pg/pg-test-1/data; this member's spec names another directory.
        let elsewhere = spec(&serde_json::json!({"pg_data": "/pg/data"}));
        assert_eq!(code(&elsewhere, Phase::Replicas), "plan_not_runnable");
        // The plan's restore is no restore of the leader's data directory: refused.
        let leader = spec(&serde_json::json!({"pg_seq": 2, "pg_data": "/pg/pg-test-2/data"}));
        assert_eq!(code(&leader, Phase::Restore), "plan_not_runnable");
        // A phase with nothing for the member does nothing.
        let own = spec(&serde_json::json!({"pg_data": "/pg/pg-test-1/data"}));
        let done = run_cluster_phase(&p, Phase::Dcs, &own, PhaseArgs::default(), &log).unwrap();
        assert!(done.completed.is_empty());
        // Only steps of the phase that run on the member's host can be named.
        let leader_step = ["await-streaming-pg-test-1".to_owned()];
        let args = PhaseArgs {
            steps: Some(&leader_step),
            ..PhaseArgs::default()
        };
        let err = run_cluster_phase(&p, Phase::Replicas, &own, args, &log).unwrap_err();
        assert_eq!(err.code(), "invalid_setting", "{err}");
    }
}
