//! Planning a point-in-time restore of a whole Patroni cluster, as data.
//!
//! Pure: the inputs are the members as Patroni's `GET /cluster` listed them, mapped onto what
//! pitr knows of each ([`MemberSite`], from the member's cluster spec), and the single-node
//! restore [`Plan`] of the chosen member (planned with PostgreSQL stopped). The output is a
//! [`ClusterPlan`]: every step with its phase, member, host, reason and what it runs.
//!
//! Phases, in order, and what each guarantees when it is done:
//!
//! | phase | steps | guarantees |
//! |---|---|---|
//! | `pause` | `PATCH /config {"pause": true}` | Patroni neither fails over nor restarts PostgreSQL |
//! | `stop` | per member, replicas first, the primary last: stop Patroni (PostgreSQL keeps running while paused); on the primary wait until no WAL waits for archiving; `pg_ctl stop -m fast` | every completed WAL segment is in the repo; nothing runs |
//! | `restore` | the single-node restore plan on the chosen member only (archiving off, safety copy, promotion at the target, the stop point verified); archiving reset to Patroni's; the server stopped | the chosen member holds the data at the target on a new timeline, nothing was archived from it yet |
//! | `dcs` | `patronictl remove <scope>` (its confirmations on stdin) | Patroni forgets the old cluster's leader, members and history |
//! | `start` | start Patroni on the chosen member; wait until it leads on the new timeline | a leader on the new timeline, archiving into the stanza |
//! | `resume` | `PATCH /config {"pause": false}` | automatic failover is on again |
//! | `replicas` | one at a time: remove the old data directory, start Patroni (it clones the leader), wait until it streams with zero lag | every member follows the new timeline |
//! | `archive` | push what the leader's `pg_wal` holds and the repo lacks (the new timeline's history file); `pgbackrest check` | the new timeline's history file and first WAL are in the repo |
//! | `backup` | a full backup on the leader (unless declined) | later restores start from the new timeline |
//!
//! When a step before `dcs` fails, [`ClusterPlan::on_failure`] brings the cluster back as it
//! was: the restore plan's own rollback puts the safety copy back, then Patroni starts on the
//! old leader first, failover is resumed and each member rejoins.
//!
//! What a re-run does after pitr was killed mid-way is decided in [`resume`]; a restore into a
//! new cluster beside the running one is planned by [`plan_new_cluster`], with the steps that
//! undo it as its `on_failure` ([`undo_steps`], [`decide_new`]).

use std::path::PathBuf;

use super::pg_ctl::{self, StopMode};
use crate::error::{Error, Result};

/// How long the primary's archiver may take to drain before it stops (seconds), by default.
pub const DRAIN_TIMEOUT: u64 = 120;
/// How long a member may take to stop or to lead (seconds).
pub const LEADER_TIMEOUT: u64 = 300;
/// How long a replica may take to clone the leader and catch up (seconds).
pub const REPLICA_TIMEOUT: u64 = 1800;

mod model;
mod new;
pub mod resume;
mod text;

pub use model::{
    CLUSTER_RESTORE, ClusterAction, ClusterInput, ClusterPlan, ClusterStep, ExpectTimeline,
    MemberSite, MemberSummary, NewClusterSummary, Phase,
};

fn text(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Steps of one phase on one member.
struct On<'a> {
    member: &'a MemberSite,
    phase: Phase,
}

impl On<'_> {
    fn step(
        &self,
        id: &str,
        title: String,
        reason: &str,
        destructive: bool,
        action: ClusterAction,
    ) -> ClusterStep {
        ClusterStep {
            id: id.to_owned(),
            phase: self.phase,
            member: self.member.name.clone(),
            host: self.member.host.clone(),
            title,
            reason: reason.to_owned(),
            destructive,
            action,
        }
    }

    fn exec(argv: Vec<String>, run_as: Option<&str>, ok_status: Vec<i32>) -> ClusterAction {
        ClusterAction::Exec {
            argv,
            run_as: run_as.map(str::to_owned),
            stdin: None,
            ok_status,
        }
    }

    fn start_patroni(&self, id: &str, reason: &str) -> ClusterStep {
        let m = self.member;
        self.step(
            id,
            format!("Start Patroni on {}", m.name),
            reason,
            false,
            Self::exec(m.control.start.clone(), None, Vec::new()),
        )
    }

    fn await_streaming(&self, id: &str, leader: &MemberSite) -> ClusterStep {
        let m = self.member;
        self.step(
            id,
            format!(
                "Wait until {} streams from {} with zero lag",
                m.name, leader.name
            ),
            "one replica at a time: the next is rebuilt only when this one follows the leader",
            false,
            ClusterAction::AwaitStreaming {
                socket_dir: leader.socket_dir.clone(),
                port: leader.port,
                user: leader.dbsu.clone(),
                member: m.name.clone(),
                timeout_secs: REPLICA_TIMEOUT,
            },
        )
    }

    fn pause(&self, id: &str, pause: bool, reason: &str) -> ClusterStep {
        let word = if pause { "Pause" } else { "Resume" };
        self.step(
            id,
            format!("{word} Patroni's automatic failover (PATCH /config)"),
            reason,
            false,
            ClusterAction::Pause {
                api: self.member.api.clone(),
                pause,
                timeout_secs: LEADER_TIMEOUT,
            },
        )
    }
}

impl On<'_> {
    /// `ALTER SYSTEM RESET archive_mode` on the restored server (running at `socket_dir` and
    /// `port`): pgBackRest wrote `archive_mode = 'off'` into `postgresql.auto.conf`.
    fn archive_on(&self, socket_dir: &std::path::Path, port: u16) -> ClusterStep {
        let m = self.member;
        let psql = m.pg_bin_dir.join("psql");
        self.step(
            "archive-on",
            format!("Give archiving back to Patroni's settings on {}", m.name),
            "pgBackRest wrote archive_mode = 'off' into postgresql.auto.conf, which would \
             override Patroni's archive_mode for good",
            false,
            On::exec(
                vec![
                    text(&psql),
                    "-X".into(),
                    "-h".into(),
                    text(socket_dir),
                    "-p".into(),
                    port.to_string(),
                    "-d".into(),
                    "postgres".into(),
                    "-v".into(),
                    "ON_ERROR_STOP=1".into(),
                    "-c".into(),
                    "ALTER SYSTEM RESET archive_mode".into(),
                ],
                Some(&m.dbsu),
                Vec::new(),
            ),
        )
    }

    /// Stops the restored server, which Patroni starts again.
    fn stop_restored(&self) -> ClusterStep {
        let m = self.member;
        self.step(
            "stop-restored",
            format!("Stop PostgreSQL on {} (fast)", m.name),
            "Patroni starts it again as the leader of the restored cluster",
            false,
            On::exec(
                pg_ctl::stop(&pg_ctl(m), &m.data, StopMode::Fast),
                Some(&m.dbsu),
                Vec::new(),
            ),
        )
    }

    /// Waits until the member leads on the timeline the restore promoted to, or a later one.
    fn await_new_leader(&self, reason: &str) -> ClusterStep {
        let m = self.member;
        self.step(
            "await-leader",
            format!(
                "Wait until Patroni reports {} leader on the new timeline",
                m.name
            ),
            reason,
            false,
            ClusterAction::AwaitLeader {
                api: m.api.clone(),
                timeline: ExpectTimeline::New,
                timeout_secs: LEADER_TIMEOUT,
            },
        )
    }

    /// The new timeline's history file and WAL into `stanza`, and a full backup on the leader
    /// when `backup`.
    fn archive_and_backup(
        &self,
        pgbackrest_bin: &std::path::Path,
        stanza: &str,
        backup: bool,
    ) -> Vec<ClusterStep> {
        let chosen = self.member;
        let o = self;
        let mut steps = Vec::new();
        steps.push(o.step(
            "archive-history",
            "Push the history file of the timeline the restore promoted to".into(),
            "the promotion happened with archiving off, so PostgreSQL never queued its \
             history file; restores to targets on that timeline need it",
            false,
            ClusterAction::ArchiveHistory {
                argv: vec![
                    text(pgbackrest_bin),
                    format!("--config={}", chosen.pgbackrest_config.display()),
                    format!("--stanza={stanza}"),
                    "--no-archive-async".into(),
                    "archive-push".into(),
                ],
                pg_wal: chosen.data.join("pg_wal"),
                run_as: chosen.dbsu.clone(),
            },
        ));
        steps.push(o.step(
            "continuity",
            format!(
                "Push what {}'s pg_wal holds and the repo lacks (pitr continuity)",
                chosen.name
            ),
            "the leader's own timeline and history reach the repo even if Patroni's \
             promotion happened before archiving ran",
            false,
            ClusterAction::Continuity,
        ));
        steps.push(o.step(
            "archive-check",
            "Switch WAL and wait until it is archived (pgbackrest check)".into(),
            "the new timeline's first WAL segment reaches the repo through the leader's \
             archive_command",
            false,
            On::exec(
                vec![
                    text(pgbackrest_bin),
                    format!("--config={}", chosen.pgbackrest_config.display()),
                    format!("--stanza={stanza}"),
                    "check".into(),
                ],
                Some(&chosen.dbsu),
                Vec::new(),
            ),
        ));
        if backup {
            steps.push(
                On {
                    member: chosen,
                    phase: Phase::Backup,
                }
                .step(
                    "backup",
                    format!("Take a full backup on {}", chosen.name),
                    "restores to times after this one start from a set on the new timeline",
                    false,
                    ClusterAction::Backup,
                ),
            );
        }

        steps
    }
}

fn pg_ctl(m: &MemberSite) -> PathBuf {
    m.pg_bin_dir.join("pg_ctl")
}

/// Plans the whole-cluster restore. Members are stopped replicas first and the old leader
/// last; only the chosen member is restored; the replicas are rebuilt from the new leader
/// after it is verified.
pub fn plan_cluster_restore(input: ClusterInput) -> Result<ClusterPlan> {
    let find = |name: &str| {
        input
            .members
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::InvalidSetting {
                key: "member".into(),
                context: "cluster restore".into(),
                message: format!(
                    "'{name}' is not a member of cluster {}; members: {}",
                    input.scope,
                    input
                        .members
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    };
    let chosen = find(&input.chosen)?;
    let leader = find(&input.leader)?;
    let mut steps = Vec::new();
    let on = |member, phase| On { member, phase };

    steps.push(on(chosen, Phase::Pause).pause(
        "pause",
        true,
        "while members are stopped and restored, Patroni must neither fail over nor start \
         PostgreSQL; paused, stopping Patroni leaves PostgreSQL running for pitr to stop",
    ));

    let stop_order = input
        .members
        .iter()
        .filter(|m| m.name != leader.name)
        .chain(std::iter::once(leader));
    for m in stop_order {
        let o = on(m, Phase::Stop);
        steps.push(o.step(
            &format!("stop-patroni-{}", m.name),
            format!("Stop Patroni on {}", m.name),
            "paused, Patroni stops without touching PostgreSQL",
            false,
            On::exec(m.control.stop.clone(), None, Vec::new()),
        ));
        if m.name == leader.name {
            steps.push(o.step(
                &format!("drain-archive-{}", m.name),
                format!(
                    "Complete the current WAL segment on {} and wait until nothing waits for archiving",
                    m.name
                ),
                "an immediate stop would leave WAL queued for archiving out of the repo, and \
                 with it the end of the recoverable window",
                false,
                ClusterAction::AwaitArchived {
                    socket_dir: m.socket_dir.clone(),
                    port: m.port,
                    user: m.dbsu.clone(),
                    timeout_secs: input.drain_timeout_secs,
                    force: input.force,
                },
            ));
        }
        steps.push(o.step(
            &format!("stop-postgres-{}", m.name),
            format!("Stop PostgreSQL on {} (fast)", m.name),
            if m.name == leader.name {
                "the primary stops last, after its archive drained"
            } else {
                "replicas stop first: none can be promoted while the primary stops"
            },
            false,
            // 1: nothing runs there (a re-run, or Patroni stopped it after all).
            On::exec(
                pg_ctl::stop(&pg_ctl(m), &m.data, StopMode::Fast),
                Some(&m.dbsu),
                vec![0, 1],
            ),
        ));
        steps.push(o.step(
            &format!("stopped-{}", m.name),
            format!("Check that no PostgreSQL runs in {}", m.data.display()),
            "nothing may write to the data directories from here on",
            false,
            ClusterAction::AwaitStopped {
                data: m.data.clone(),
                timeout_secs: LEADER_TIMEOUT,
            },
        ));
    }

    let o = on(chosen, Phase::Restore);
    steps.push(o.step(
        "restore",
        format!(
            "Restore {} to {} (the steps of `restore`), archiving off",
            chosen.name, input.target
        ),
        "one member only: with archiving off until the stop point is verified, a missed \
         target pushes nothing into the stanza, and the safety copy puts everything back",
        true,
        ClusterAction::Restore,
    ));
    steps.push(o.archive_on(&chosen.socket_dir, chosen.port));
    steps.push(o.stop_restored());

    let o = on(chosen, Phase::Dcs);
    let remove = vec![
        text(&input.patronictl),
        "-c".into(),
        text(chosen.control.config.as_path()),
        "remove".into(),
        input.scope.to_string(),
    ];
    steps.push(o.step(
        "remove-dcs",
        format!(
            "Remove cluster {} from the DCS (patronictl remove)",
            input.scope
        ),
        "the DCS still holds the old leader, members, timelines and history: Patroni must \
         take the restored member as the leader of a cluster that starts from it",
        true,
        ClusterAction::Exec {
            argv: remove,
            run_as: Some(chosen.dbsu.clone()),
            // patronictl's confirmations: the scope, the phrase, and the leader's name when
            // its key has not expired yet.
            stdin: Some(format!(
                "{}\nYes I am aware\n{}\n",
                input.scope, leader.name
            )),
            ok_status: Vec::new(),
        },
    ));

    let o = on(chosen, Phase::Start);
    steps.push(o.start_patroni(
        &format!("start-patroni-{}", chosen.name),
        "with no cluster in the DCS, Patroni takes the promoted data directory as the leader",
    ));
    steps.push(o.await_new_leader("the replicas are rebuilt only from a verified leader"));
    steps.push(on(chosen, Phase::Resume).pause(
        "resume",
        false,
        "automatic failover is on again (a DCS that was emptied starts unpaused; this makes sure)",
    ));

    for m in input.members.iter().filter(|m| m.name != chosen.name) {
        let o = on(m, Phase::Replicas);
        steps.push(o.step(
            &format!("remove-data-{}", m.name),
            format!(
                "Remove the old data directory {} of {}",
                m.data.display(),
                m.name
            ),
            "it holds the old timeline, possibly past the target; the new leader is verified, \
             so Patroni rebuilds it from there",
            true,
            ClusterAction::RemoveDir {
                path: m.data.clone(),
                owner: m.dbsu.clone(),
            },
        ));
        steps.push(o.start_patroni(
            &format!("start-patroni-{}", m.name),
            "with an empty data directory Patroni clones the leader (its create_replica_methods)",
        ));
        steps.push(o.await_streaming(&format!("await-streaming-{}", m.name), chosen));
    }

    steps.extend(on(chosen, Phase::Archive).archive_and_backup(
        &input.pgbackrest_bin,
        input.scope.as_str(),
        input.backup,
    ));

    let mut on_failure = Vec::new();
    let o = on(leader, Phase::Rollback);
    on_failure.push(o.start_patroni(
        &format!("rollback-start-patroni-{}", leader.name),
        "the old leader first: it takes the leader key again",
    ));
    on_failure.push(o.pause(
        "rollback-resume",
        false,
        "paused, Patroni would not start PostgreSQL",
    ));
    if let Some(tl) = input.timeline_before {
        on_failure.push(o.step(
            "rollback-await-leader",
            format!(
                "Wait until {} leads again (timeline {tl} or later)",
                leader.name
            ),
            "the cluster as it was: Patroni promotes a primary that lost its leader key while \
             stopped onto the next timeline",
            false,
            ClusterAction::AwaitLeader {
                api: leader.api.clone(),
                timeline: ExpectTimeline::AtLeast(tl),
                timeout_secs: LEADER_TIMEOUT,
            },
        ));
    }
    for m in input.members.iter().filter(|m| m.name != leader.name) {
        let o = on(m, Phase::Rollback);
        on_failure.push(o.start_patroni(
            &format!("rollback-start-patroni-{}", m.name),
            "each member rejoins the old leader",
        ));
        on_failure.push(o.await_streaming(&format!("rollback-await-streaming-{}", m.name), leader));
    }

    Ok(ClusterPlan {
        kind: model::CLUSTER_RESTORE,
        scope: input.scope.to_string(),
        target: input.target.clone(),
        chosen: chosen.name.clone(),
        leader_before: leader.name.clone(),
        timeline_before: input.timeline_before,
        members: input
            .members
            .iter()
            .map(|m| MemberSummary {
                name: m.name.clone(),
                host: m.host.clone(),
                role: m.role.clone(),
                local: m.local,
                data: m.data.clone(),
            })
            .collect(),
        preflight: input.preflight.clone(),
        warnings: input.warnings.clone(),
        steps,
        on_failure,
        restore: input.restore,
        new_cluster: None,
    })
}

pub use new::{Created, NewClusterInput, decide_new, plan_new_cluster, undo_steps};

#[cfg(test)]
pub(crate) mod tests;
