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
//! Nothing is rolled back on failure: the source was not touched, and the new member's data
//! directory is left for inspection (stop the new member and remove it to try again).

use std::path::PathBuf;

use super::{
    ClusterAction, ClusterPlan, MemberSite, MemberSummary, NewClusterSummary, On, Phase,
    model::CLUSTER_RESTORE, text,
};
use crate::plan::Plan;

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
        on_failure: Vec::new(),
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
