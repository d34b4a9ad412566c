//! Planning a restore into a new Patroni cluster beside the running one (as operators on
//! Kubernetes do it): the running cluster is only read from (its repo), never paused, stopped
//! or changed in the DCS; the restored data comes up as the leader of a new scope that archives
//! into a new stanza.
//!
//! | phase | steps | guarantees |
//! |---|---|---|
//! | `restore` | the single-node restore of a clone into the new member's data directory and port (archiving off, promoted at the target, the stop point verified); `pgbackrest stanza-create` of the new stanza (before anything archives); archiving given back to Patroni; the server stopped | the new data directory holds the data at the target on a new timeline; nothing was archived from it; the new stanza exists |
//! | `start` | forget the source's Patroni state (`patroni.dynamic.json`, which would give the new cluster the source's settings); start Patroni with the new member's configuration; wait until it leads on the new timeline | a leader of the new scope |
//! | `archive` | the new timeline's history file; `pgbackrest check` (a WAL switch, archived: the archiver has pushed its backlog); `pitr continuity` | the new stanza holds the new timeline's history and WAL |
//! | `backup` | a full backup into the new stanza (unless declined) | restores of the new cluster start there |
//!
//! Nothing is rolled back when a step fails: the source was not touched, and what the run
//! created is left for inspection. The plan's `on_failure` steps are its undo: stop the new
//! member's Patroni and PostgreSQL, remove the new scope from the DCS, delete the new stanza,
//! remove the new data directory — each run only when the run journal says the run created
//! what it undoes ([`Created`], recorded before the step that creates it). A re-run of the same
//! restore after an interrupted one undoes it and restores again ([`decide_new`]);
//! `--undo` only undoes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{
    ClusterAction, ClusterPlan, ClusterStep, MemberSite, MemberSummary, NewClusterSummary, On,
    Phase, model::CLUSTER_RESTORE, text,
};
use crate::plan::Plan;
use crate::plan::pg_ctl::{self, StopMode};
use crate::plan::resume::{Decision, Resumed};

/// Everything a restore into a new cluster is planned from.
#[derive(Debug, Clone)]
pub struct NewClusterInput {
    /// The running cluster's scope (its stanza, restored from).
    pub source_scope: String,
    /// Its members, as the plan shows them (nothing is run on them).
    pub members: Vec<MemberSummary>,
    /// Its leader.
    pub leader: String,
    /// The leader's timeline.
    pub timeline_before: Option<u64>,
    /// The new cluster's scope and stanza.
    pub scope: String,
    /// The new cluster's member.
    pub member: MemberSite,
    /// The socket directory the restored server runs with before Patroni takes it over (the
    /// source member's, from the restored `postgresql.conf`).
    pub restore_socket_dir: PathBuf,
    /// The clone restore into the new member's data directory.
    pub restore: Plan,
    /// The recovery target, in words.
    pub target: String,
    /// pgBackRest.
    pub pgbackrest_bin: PathBuf,
    /// `patronictl` (the undo removes the new scope from the DCS with it).
    pub patronictl: PathBuf,
    /// The indexes of the new member's repos (the undo deletes the new stanza from each).
    pub repos: Vec<u16>,
    /// Take a full backup at the end.
    pub backup: bool,
    /// What the pre-flight checked.
    pub preflight: Vec<String>,
    /// Things to know.
    pub warnings: Vec<String>,
}

/// Plans the restore into a new cluster.
pub fn plan_new_cluster(input: NewClusterInput) -> ClusterPlan {
    let m = &input.member;
    let on = |phase| On { member: m, phase };
    let mut steps = Vec::new();
    let o = on(Phase::Restore);
    steps.push(o.step(
        "restore",
        format!(
            "Restore a clone of {} to {} into {} (port {}), archiving off",
            input.source_scope,
            input.target,
            m.data.display(),
            m.port
        ),
        "the running cluster is only read from its repo; with archiving off until the stop \
         point is verified, nothing of the new timeline reaches a stanza",
        true,
        ClusterAction::Restore,
    ));
    // The stanza exists before Patroni starts the new leader with archiving on: an
    // archive_command failing for want of it would hold the stanza's archive lock, which
    // stanza-create needs.
    steps.push(o.step(
        "stanza-create",
        format!("Create stanza {} (pgbackrest stanza-create)", input.scope),
        "the new cluster archives into a stanza of its own, never into the source's; made \
         while the restored server runs with archiving off, before anything archives",
        false,
        On::exec(
            vec![
                text(&input.pgbackrest_bin),
                format!("--config={}", m.pgbackrest_config.display()),
                format!("--stanza={}", input.scope),
                format!("--pg1-socket-path={}", input.restore_socket_dir.display()),
                "stanza-create".into(),
            ],
            Some(&m.dbsu),
            Vec::new(),
        ),
    ));
    steps.push(o.archive_on(&input.restore_socket_dir, m.port));
    steps.push(o.stop_restored());

    let o = on(Phase::Start);
    steps.push(o.step(
        "forget-source-state",
        format!(
            "Remove the source's Patroni state (patroni.dynamic.json) from {}",
            m.data.display()
        ),
        "Patroni would take the source cluster's settings from it (its archive_command among \
         them) instead of the new member's bootstrap configuration",
        false,
        On::exec(
            vec![
                "rm".into(),
                "-f".into(),
                "--".into(),
                text(&m.data.join("patroni.dynamic.json")),
            ],
            Some(&m.dbsu),
            Vec::new(),
        ),
    ));
    steps.push(o.start_patroni(
        &format!("start-patroni-{}", m.name),
        "a new scope has nothing in the DCS: Patroni takes the promoted data directory as the \
         leader of the new cluster",
    ));
    steps.push(
        o.await_new_leader("the new timeline is archived and backed up from a verified leader"),
    );

    let o = on(Phase::Archive);
    let mut archive = o.archive_and_backup(&input.pgbackrest_bin, &input.scope, input.backup);
    // The new leader's archiver pushes its backlog (the history of its own promotion): the
    // check (a WAL switch, archived) waits for it before `pitr continuity` looks for gaps, so
    // the two never push the same file at once.
    if let (Some(c), Some(k)) = (
        archive.iter().position(|s| s.id == "continuity"),
        archive.iter().position(|s| s.id == "archive-check"),
    ) {
        archive.swap(c, k);
    }
    steps.extend(archive);
    let on_failure = undo(&input);

    ClusterPlan {
        kind: CLUSTER_RESTORE,
        scope: input.source_scope.clone(),
        target: input.target,
        chosen: m.name.clone(),
        leader_before: input.leader,
        timeline_before: input.timeline_before,
        members: input.members,
        preflight: input.preflight,
        warnings: input.warnings,
        steps,
        on_failure,
        restore: input.restore,
        new_cluster: Some(NewClusterSummary {
            scope: input.scope,
            member: m.name.clone(),
            data: m.data.clone(),
            port: m.port,
            api: m.api.url.to_string(),
        }),
    }
}

/// What a restore into a new cluster creates, recorded in its run journal before the step that
/// creates it runs (the pre-flight made sure none was there before the run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Created {
    /// The new data directory (the `restore` step).
    Data,
    /// The new stanza (`stanza-create`).
    Stanza,
    /// The new member's Patroni, and with it the new scope in the DCS (`start-patroni-*`).
    Patroni,
}

impl Created {
    /// `data`, `stanza` or `patroni`.
    pub fn as_str(self) -> &'static str {
        match self {
            Created::Data => "data",
            Created::Stanza => "stanza",
            Created::Patroni => "patroni",
        }
    }

    /// What a step of a new-cluster plan creates.
    pub fn by(step: &ClusterStep) -> Option<Created> {
        match step.id.as_str() {
            "restore" => Some(Created::Data),
            "stanza-create" => Some(Created::Stanza),
            id if id.starts_with("start-patroni-") => Some(Created::Patroni),
            _ => None,
        }
    }

    /// What an undo step (of `on_failure`) undoes.
    fn undone_by(step: &ClusterStep) -> Option<Created> {
        let id = step.id.as_str();
        if id.starts_with("undo-stop-patroni-") || id == "undo-remove-dcs" {
            Some(Created::Patroni)
        } else if id.starts_with("undo-stanza-") {
            Some(Created::Stanza)
        } else if ["undo-stop-postgres-", "undo-stopped-", "undo-remove-data-"]
            .iter()
            .any(|p| id.starts_with(p))
        {
            Some(Created::Data)
        } else {
            None
        }
    }
}

/// The undo steps of a new-cluster plan that undo what a run `created`, in the plan's order.
pub fn undo_steps(plan: &ClusterPlan, created: &[Created]) -> Vec<ClusterStep> {
    plan.on_failure
        .iter()
        .filter(|s| Created::undone_by(s).is_some_and(|c| created.contains(&c)))
        .cloned()
        .collect()
}

/// The steps that remove what a run created (each filtered by [`undo_steps`]): Patroni stopped
/// first (it would start PostgreSQL again), PostgreSQL stopped, the new scope removed from the
/// DCS, the new stanza stopped, deleted from each repo and started again (`stanza-delete` wants
/// the stop file, which would keep the next `stanza-create` out), the data directory removed.
fn undo(input: &NewClusterInput) -> Vec<ClusterStep> {
    let m = &input.member;
    let o = On {
        member: m,
        phase: Phase::Rollback,
    };
    let stanza = |verb: &str, repo: Option<u16>| {
        let mut argv = vec![
            text(&input.pgbackrest_bin),
            format!("--config={}", m.pgbackrest_config.display()),
            format!("--stanza={}", input.scope),
        ];
        argv.extend(repo.map(|r| format!("--repo={r}")));
        argv.push(verb.to_owned());
        On::exec(argv, Some(&m.dbsu), Vec::new())
    };
    let mut steps = vec![
        o.step(
            &format!("undo-stop-patroni-{}", m.name),
            format!("Stop Patroni on {}", m.name),
            "the interrupted run started it: it holds the new scope's leader key and its ports, \
             and would start PostgreSQL again",
            false,
            On::exec(m.control.stop.clone(), None, Vec::new()),
        ),
        o.step(
            &format!("undo-stop-postgres-{}", m.name),
            format!("Stop PostgreSQL in {} (fast)", m.data.display()),
            "the interrupted run's restore started it; 1: nothing runs there",
            false,
            On::exec(
                pg_ctl::stop(&m.pg_bin_dir.join("pg_ctl"), &m.data, StopMode::Fast),
                Some(&m.dbsu),
                vec![0, 1],
            ),
        ),
        o.step(
            &format!("undo-stopped-{}", m.name),
            format!("Check that no PostgreSQL runs in {}", m.data.display()),
            "the data directory is removed next",
            false,
            ClusterAction::AwaitStopped {
                data: m.data.clone(),
                timeout_secs: super::LEADER_TIMEOUT,
            },
        ),
        o.step(
            "undo-remove-dcs",
            format!(
                "Remove the new cluster {} from the DCS (patronictl remove)",
                input.scope
            ),
            "only the new scope, with the new member's Patroni configuration (of that scope); \
             the running cluster's keys are not touched",
            true,
            ClusterAction::Exec {
                argv: vec![
                    text(&input.patronictl),
                    "-c".into(),
                    text(m.control.config.as_path()),
                    "remove".into(),
                    input.scope.clone(),
                ],
                run_as: Some(m.dbsu.clone()),
                stdin: Some(format!("{}\nYes I am aware\n{}\n", input.scope, m.name)),
                ok_status: Vec::new(),
            },
        ),
        o.step(
            "undo-stanza-stop",
            format!("Stop pgBackRest for the new stanza {}", input.scope),
            "stanza-delete runs only on a stopped stanza",
            false,
            stanza("stop", None),
        ),
    ];
    for r in &input.repos {
        steps.push(o.step(
            &format!("undo-stanza-delete-repo{r}"),
            format!("Delete the new stanza {} from repo{r}", input.scope),
            "the interrupted run created it (the pre-flight found none): its archive and \
             backups are of a new cluster that is removed",
            true,
            stanza("stanza-delete", Some(*r)),
        ));
    }
    steps.push(o.step(
        "undo-stanza-start",
        format!("Start pgBackRest for the new stanza {} again", input.scope),
        "the next stanza-create is refused while the stop file exists",
        false,
        stanza("start", None),
    ));
    steps.push(o.step(
        &format!("undo-remove-data-{}", m.name),
        format!("Remove the new data directory {}", m.data.display()),
        "the interrupted run restored into it (the pre-flight found it absent or empty)",
        true,
        ClusterAction::RemoveDir {
            path: m.data.clone(),
            owner: m.dbsu.clone(),
        },
    ));
    steps
}

/// What a re-run of a restore into a new cluster does with the interrupted run `run_id`
/// (interrupted at step `at`, `rolling_back` when it was undoing): it undoes what the run
/// `created` and, unless `undo_only` (`--undo`), restores again from the start.
pub fn decide_new(
    run_id: &str,
    at: Option<&str>,
    rolling_back: bool,
    created: &[Created],
    plan: &ClusterPlan,
    undo_only: bool,
) -> Resumed {
    let at = at.unwrap_or("before its first step").to_owned();
    let scope = plan
        .new_cluster
        .as_ref()
        .map_or(plan.scope.as_str(), |n| n.scope.as_str());
    let made = if created.is_empty() {
        "nothing yet".to_owned()
    } else {
        created
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let then = if undo_only {
        "then stops (--undo)"
    } else {
        "then restores into the new cluster again from the start"
    };
    let why = format!(
        "the restore into the new cluster {scope} was interrupted at {}step '{at}' (it had \
         created: {made}); this run removes what it created (its Patroni and PostgreSQL \
         stopped, its scope removed from the DCS, its stanza deleted, its data directory \
         removed, as far as it got), {then}; cluster {} is not touched",
        if rolling_back { "undo " } else { "" },
        plan.scope
    );
    Resumed::new(
        run_id,
        if undo_only {
            Decision::Undo
        } else {
            Decision::Redo
        },
        at,
        why,
    )
}
