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

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use super::Plan;
use super::pg_ctl::{self, StopMode};
use crate::error::{Error, Result};
use crate::names::StanzaName;
use crate::patroni::{PatroniApi, PatroniControl};

/// How long the primary's archiver may take to drain before it stops (seconds), by default.
pub const DRAIN_TIMEOUT: u64 = 120;
/// How long a member may take to stop or to lead (seconds).
pub const LEADER_TIMEOUT: u64 = 300;
/// How long a replica may take to clone the leader and catch up (seconds).
pub const REPLICA_TIMEOUT: u64 = 1800;

/// What pitr knows of one member: where Patroni lists it, and from the member's spec how to
/// act on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberSite {
    /// Patroni's name (`<pg_cluster>-<pg_seq>`).
    pub name: String,
    /// Host of its PostgreSQL, as Patroni lists it.
    pub host: String,
    /// Its role before the restore (`leader`, `replica`, ...).
    pub role: String,
    /// Whether its spec was given: pitr acts on it from this host. Members of other hosts
    /// are planned with the chosen member's spec (Pigsty's cluster variables are shared) and
    /// not run by pitr from this host.
    pub local: bool,
    /// Its Patroni REST API.
    pub api: PatroniApi,
    /// Data directory.
    pub data: PathBuf,
    /// Socket directory.
    pub socket_dir: PathBuf,
    /// Port.
    pub port: u16,
    /// Database superuser OS account.
    pub dbsu: String,
    /// PostgreSQL binaries.
    pub pg_bin_dir: PathBuf,
    /// How Patroni is started and stopped, and its configuration file.
    pub control: PatroniControl,
    /// The member's pgbackrest.conf.
    pub pgbackrest_config: PathBuf,
}

/// Everything a cluster plan is made of.
#[derive(Debug, Clone)]
pub struct ClusterInput {
    /// Patroni's scope, the stanza.
    pub scope: StanzaName,
    /// Every member, in Patroni's order.
    pub members: Vec<MemberSite>,
    /// The member restored (the leader by default).
    pub chosen: String,
    /// The leader before the restore.
    pub leader: String,
    /// The leader's timeline before the restore.
    pub timeline_before: Option<u64>,
    /// The chosen member's single-node restore plan (planned with PostgreSQL stopped).
    pub restore: Plan,
    /// The recovery target, in words.
    pub target: String,
    /// pgBackRest.
    pub pgbackrest_bin: PathBuf,
    /// `patronictl`.
    pub patronictl: PathBuf,
    /// Take a full backup on the new leader at the end.
    pub backup: bool,
    /// Go on when the primary's archive queue does not drain.
    pub force: bool,
    /// How long the primary's archive queue may take to drain (seconds).
    pub drain_timeout_secs: u64,
    /// What the pre-flight checked, in words.
    pub preflight: Vec<String>,
    /// Things the operator should know.
    pub warnings: Vec<String>,
}

/// The phase a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Pause Patroni.
    Pause,
    /// Stop every member.
    Stop,
    /// Restore the chosen member.
    Restore,
    /// Remove the cluster's state from the DCS.
    Dcs,
    /// Start the restored member under Patroni.
    Start,
    /// Resume automatic failover.
    Resume,
    /// Rebuild the replicas.
    Replicas,
    /// The new timeline in the archive.
    Archive,
    /// A new full backup.
    Backup,
    /// Bring the cluster back as it was (on failure before `dcs`).
    Rollback,
}

/// Which timeline a leader must be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectTimeline {
    /// The timeline the restore promoted to, or a later one: Patroni starts the stopped
    /// primary as a replica and promotes it once more.
    New,
    /// This one or a later one: the cluster as it was. Patroni starts a primary that stopped
    /// and lost its leader key as a replica and promotes it, onto the next timeline.
    AtLeast(u64),
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClusterAction {
    /// Run a program (no shell), with `stdin` fed to it when given.
    Exec {
        /// Program and arguments.
        argv: Vec<String>,
        /// OS user to run as; root when absent.
        run_as: Option<String>,
        /// Text written to its standard input (never a secret).
        stdin: Option<String>,
        /// Exit statuses that count as success (`[0]` when empty).
        ok_status: Vec<i32>,
    },
    /// `PATCH /config {"pause": ...}` through the member's REST API (retried until it
    /// answers), then wait until the member reports it.
    Pause {
        /// The REST API.
        api: PatroniApi,
        /// Pause (true) or resume.
        pause: bool,
        /// Seconds to wait.
        timeout_secs: u64,
    },
    /// Complete the current WAL segment and wait until no WAL file waits for archiving.
    AwaitArchived {
        /// Socket directory.
        socket_dir: PathBuf,
        /// Port.
        port: u16,
        /// Database user.
        user: String,
        /// Seconds to wait.
        timeout_secs: u64,
        /// Go on (with a warning) when time runs out.
        force: bool,
    },
    /// Wait until no postmaster runs in the data directory.
    AwaitStopped {
        /// Data directory.
        data: PathBuf,
        /// Seconds to wait.
        timeout_secs: u64,
    },
    /// Run the cluster plan's single-node `restore` plan.
    Restore,
    /// Wait until the member holds the leader lock, runs as primary, on the timeline.
    AwaitLeader {
        /// Its REST API.
        api: PatroniApi,
        /// The timeline.
        timeline: ExpectTimeline,
        /// Seconds to wait.
        timeout_secs: u64,
    },
    /// Remove a data directory (owned by the database superuser; links refused).
    RemoveDir {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: String,
    },
    /// Wait until `member` streams from the leader with zero lag (`pg_stat_replication` on
    /// the leader: `streaming`, replayed up to the current WAL position).
    AwaitStreaming {
        /// The leader's socket directory.
        socket_dir: PathBuf,
        /// The leader's port.
        port: u16,
        /// Database user.
        user: String,
        /// The replica's name (its `application_name`).
        member: String,
        /// Seconds to wait.
        timeout_secs: u64,
    },
    /// Push the history file of the timeline the restore promoted to (known once the stop
    /// point is verified) from the leader's `pg_wal`: `<argv> <pg_wal>/<timeline>.history`.
    /// The promotion ran with archiving off, so PostgreSQL never queued it.
    ArchiveHistory {
        /// `pgbackrest --config=... --stanza=... --no-archive-async archive-push`.
        argv: Vec<String>,
        /// The leader's `pg_wal`.
        pg_wal: PathBuf,
        /// OS user to run as.
        run_as: String,
    },
    /// `pitr continuity` on the leader: push what its `pg_wal` holds and the repo lacks.
    Continuity,
    /// `pitr backup full` on the leader.
    Backup,
}

/// One step of a cluster plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterStep {
    /// A stable id (`pause`, `stop-patroni-<member>`, `restore`, ...).
    pub id: String,
    /// Its phase.
    pub phase: Phase,
    /// The member it acts on.
    pub member: String,
    /// That member's host.
    pub host: String,
    /// What it does.
    pub title: String,
    /// Why.
    pub reason: String,
    /// Whether it removes or overwrites data.
    pub destructive: bool,
    /// What it runs.
    pub action: ClusterAction,
}

/// A member as the plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberSummary {
    /// Name.
    pub name: String,
    /// Host.
    pub host: String,
    /// Role before the restore.
    pub role: String,
    /// Whether pitr acts on it from this host.
    pub local: bool,
    /// Data directory.
    pub data: PathBuf,
}

/// A whole-cluster restore: the document `pitr restore --cluster --dry-run --json` prints
/// and Python's `plan_restore_cluster()` returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterPlan {
    /// `cluster_restore`.
    pub kind: &'static str,
    /// Patroni's scope, the stanza.
    pub scope: String,
    /// The recovery target.
    pub target: String,
    /// The member restored.
    pub chosen: String,
    /// The leader before.
    pub leader_before: String,
    /// Its timeline before.
    pub timeline_before: Option<u64>,
    /// Every member.
    pub members: Vec<MemberSummary>,
    /// What the pre-flight checked.
    pub preflight: Vec<String>,
    /// Things to know.
    pub warnings: Vec<String>,
    /// Steps, in order.
    pub steps: Vec<ClusterStep>,
    /// Steps that bring the cluster back as it was when a step before `dcs` fails.
    pub on_failure: Vec<ClusterStep>,
    /// The chosen member's single-node restore plan, run by the `restore` step.
    pub restore: Plan,
}

impl ClusterPlan {
    /// Members of other hosts, which pitr does not reach from here.
    pub fn remote_members(&self) -> Vec<&str> {
        self.members
            .iter()
            .filter(|m| !m.local)
            .map(|m| m.name.as_str())
            .collect()
    }

    /// The index of the first step after which going back is no longer automatic (`remove-dcs`).
    pub fn point_of_no_return(&self) -> usize {
        self.steps
            .iter()
            .position(|s| s.phase == Phase::Dcs)
            .unwrap_or(self.steps.len())
    }

    /// The plan for people: the pre-flight, then every step by phase with its member, host,
    /// reason and command (the `restore` step's own plan as a shell script), then the
    /// rollback.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "# pitr: restore Patroni cluster {} to {} on member {} (leader now: {}, timeline {})\n",
            self.scope,
            self.target,
            self.chosen,
            self.leader_before,
            self.timeline_before
                .map_or_else(|| "?".to_owned(), |t| t.to_string())
        );
        for m in &self.members {
            let _ = writeln!(
                out,
                "#   member {} on {} ({}), data {}{}",
                m.name,
                m.host,
                m.role,
                m.data.display(),
                if m.local {
                    ""
                } else {
                    " [other host: not run from here]"
                }
            );
        }
        out.push_str("# pre-flight:\n");
        for line in &self.preflight {
            let _ = writeln!(out, "#   ok: {line}");
        }
        for w in &self.warnings {
            let _ = writeln!(out, "# warning: {w}");
        }
        let mut phase = None;
        for (i, step) in self.steps.iter().chain(&self.on_failure).enumerate() {
            if i == self.steps.len() {
                out.push_str("\n# === if a step before 'remove-dcs' fails: back as it was ===\n");
            }
            if phase != Some(step.phase) {
                phase = Some(step.phase);
                let _ = write!(out, "\n# --- phase {} ---\n", step.phase.name());
            }
            out.push_str(&step.to_text());
            if step.action == ClusterAction::Restore {
                for line in super::shell::to_shell(&self.restore).lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        out
    }

    /// The plan as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

impl Phase {
    /// Its name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Pause => "pause",
            Phase::Stop => "stop",
            Phase::Restore => "restore",
            Phase::Dcs => "dcs",
            Phase::Start => "start",
            Phase::Resume => "resume",
            Phase::Replicas => "replicas",
            Phase::Archive => "archive",
            Phase::Backup => "backup",
            Phase::Rollback => "rollback",
        }
    }
}

impl ClusterStep {
    /// The step for people: `# <id> on <member> (<host>): <title>`, why, and what runs.
    pub fn to_text(&self) -> String {
        let out = format!(
            "# {} on {} ({}): {}{}\n#   why: {}\n",
            self.id,
            self.member,
            self.host,
            self.title,
            if self.destructive {
                " [destroys data]"
            } else {
                ""
            },
            self.reason
        );
        let what = match &self.action {
            ClusterAction::Exec {
                argv,
                run_as,
                stdin,
                ..
            } => {
                let mut line = super::shell::quote_argv(argv);
                if let Some(u) = run_as {
                    line = format!("{line}    # as {u}");
                }
                if let Some(input) = stdin {
                    line = format!("{line}    # stdin: {input:?}");
                }
                line
            }
            ClusterAction::Pause { api, pause, .. } => {
                format!(
                    "PATCH {} {{\"pause\": {pause}}}",
                    api.url.endpoint("config")
                )
            }
            ClusterAction::AwaitArchived { port, force, .. } => format!(
                "SELECT pg_switch_wal(); wait until pg_ls_archive_statusdir() has no .ready (port {port}){}",
                if *force {
                    ", going on regardless (--force)"
                } else {
                    ""
                }
            ),
            ClusterAction::AwaitStopped { data, .. } => {
                format!("wait until no postmaster runs in {}", data.display())
            }
            ClusterAction::Restore => "the restore plan:".to_owned(),
            ClusterAction::AwaitLeader { api, timeline, .. } => format!(
                "GET {} until 200, role primary, timeline {}",
                api.url.endpoint("primary"),
                match timeline {
                    ExpectTimeline::New => "the restore's or later".to_owned(),
                    ExpectTimeline::AtLeast(t) => format!("{t} or later"),
                }
            ),
            ClusterAction::RemoveDir { path, owner } => {
                format!("remove {} (owned by {owner})", path.display())
            }
            ClusterAction::AwaitStreaming { port, member, .. } => format!(
                "wait until pg_stat_replication on port {port} shows {member} streaming, replayed to pg_current_wal_lsn()"
            ),
            ClusterAction::ArchiveHistory {
                argv,
                pg_wal,
                run_as,
            } => format!(
                "{} {}/<timeline the restore promoted to>.history    # as {run_as}",
                super::shell::quote_argv(argv),
                pg_wal.display()
            ),
            ClusterAction::Continuity => "pitr continuity".to_owned(),
            ClusterAction::Backup => "pitr backup full".to_owned(),
        };
        format!("{out}{what}\n")
    }
}

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
    let psql = chosen.pg_bin_dir.join("psql");
    steps.push(o.step(
        "archive-on",
        format!(
            "Give archiving back to Patroni's settings on {}",
            chosen.name
        ),
        "pgBackRest wrote archive_mode = 'off' into postgresql.auto.conf, which would \
         override Patroni's archive_mode for good",
        false,
        On::exec(
            vec![
                text(&psql),
                "-X".into(),
                "-h".into(),
                text(&chosen.socket_dir),
                "-p".into(),
                chosen.port.to_string(),
                "-d".into(),
                "postgres".into(),
                "-v".into(),
                "ON_ERROR_STOP=1".into(),
                "-c".into(),
                "ALTER SYSTEM RESET archive_mode".into(),
            ],
            Some(&chosen.dbsu),
            Vec::new(),
        ),
    ));
    steps.push(o.step(
        "stop-restored",
        format!("Stop PostgreSQL on {} (fast)", chosen.name),
        "Patroni starts it again as the leader of the restored cluster",
        false,
        On::exec(
            pg_ctl::stop(&pg_ctl(chosen), &chosen.data, StopMode::Fast),
            Some(&chosen.dbsu),
            Vec::new(),
        ),
    ));

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
    steps.push(o.step(
        "await-leader",
        format!(
            "Wait until Patroni reports {} leader on the new timeline",
            chosen.name
        ),
        "the replicas are rebuilt only from a verified leader",
        false,
        ClusterAction::AwaitLeader {
            api: chosen.api.clone(),
            timeline: ExpectTimeline::New,
            timeout_secs: LEADER_TIMEOUT,
        },
    ));
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

    let o = on(chosen, Phase::Archive);
    steps.push(o.step(
        "archive-history",
        "Push the history file of the timeline the restore promoted to".into(),
        "the promotion happened with archiving off, so PostgreSQL never queued its history \
         file; restores to targets on that timeline need it",
        false,
        ClusterAction::ArchiveHistory {
            argv: vec![
                text(&input.pgbackrest_bin),
                format!("--config={}", chosen.pgbackrest_config.display()),
                format!("--stanza={}", input.scope),
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
        "the leader's own timeline and history reach the repo even if Patroni's promotion \
         happened before archiving ran",
        false,
        ClusterAction::Continuity,
    ));
    steps.push(o.step(
        "archive-check",
        "Switch WAL and wait until it is archived (pgbackrest check)".into(),
        "the new timeline's first WAL segment reaches the repo through the leader's archive_command",
        false,
        On::exec(
            vec![
                text(&input.pgbackrest_bin),
                format!("--config={}", chosen.pgbackrest_config.display()),
                format!("--stanza={}", input.scope),
                "check".into(),
            ],
            Some(&chosen.dbsu),
            Vec::new(),
        ),
    ));
    if input.backup {
        steps.push(on(chosen, Phase::Backup).step(
            "backup",
            format!("Take a full backup on {}", chosen.name),
            "restores to times after this one start from a set on the new timeline",
            false,
            ClusterAction::Backup,
        ));
    }

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
        kind: "cluster_restore",
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
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::patroni::ClusterView;

    fn site(name: &str, role: &str, local: bool) -> MemberSite {
        MemberSite {
            name: name.into(),
            host: format!("10.0.0.{}", name.len()),
            role: role.into(),
            local,
            api: PatroniApi::local(8008).unwrap(),
            data: PathBuf::from(format!("/pg/{name}/data")),
            socket_dir: PathBuf::from("/var/run/postgresql"),
            port: 5432,
            dbsu: "postgres".into(),
            pg_bin_dir: PathBuf::from("/usr/lib/postgresql/15/bin"),
            control: PatroniControl::default(),
            pgbackrest_config: PathBuf::from("/etc/pgbackrest/pgbackrest.conf"),
        }
    }

    fn input(chosen: &str) -> ClusterInput {
        let restore = Plan::from_json(
            r#"{"kind": "continuity", "summary": {"role": "primary", "skipped": true,
                "timeline": null, "pg_wal": null, "push": [], "present": []},
                "stanza": "pg-test", "steps": []}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        ClusterInput {
            scope: "pg-test".parse().unwrap(),
            members: vec![
                site("pg-test-1", "replica", true),
                site("pg-test-2", "leader", true),
                site("pg-test-3", "replica", false),
            ],
            chosen: chosen.into(),
            leader: "pg-test-2".into(),
            timeline_before: Some(2),
            restore,
            target: "time 2026-12-01 10:00:00+00".into(),
            pgbackrest_bin: PathBuf::from("/usr/bin/pgbackrest"),
            patronictl: PathBuf::from("/usr/bin/patronictl"),
            backup: true,
            force: false,
            drain_timeout_secs: DRAIN_TIMEOUT,
            preflight: vec![],
            warnings: vec![],
        }
    }

    fn ids(steps: &[ClusterStep]) -> Vec<String> {
        steps.iter().map(|s| s.id.clone()).collect()
    }

    #[test]
    fn replicas_stop_first_and_are_rebuilt_only_after_the_leader_is_verified() {
        let plan = plan_cluster_restore(input("pg-test-2")).unwrap();
        let ids = ids(&plan.steps);
        let pos = |id: &str| ids.iter().position(|i| i == id).unwrap();
        assert_eq!(ids[0], "pause");
        assert!(pos("stopped-pg-test-3") < pos("stop-patroni-pg-test-2"));
        assert!(pos("drain-archive-pg-test-2") < pos("stop-postgres-pg-test-2"));
        assert!(!ids.contains(&"drain-archive-pg-test-1".to_owned()));
        assert!(pos("restore") < pos("remove-dcs"));
        assert!(pos("await-leader") < pos("remove-data-pg-test-1"));
        assert!(pos("await-streaming-pg-test-1") < pos("remove-data-pg-test-3"));
        assert_eq!(ids.last().map(String::as_str), Some("backup"));
        assert_eq!(plan.point_of_no_return(), pos("remove-dcs"));
        assert_eq!(plan.remote_members(), ["pg-test-3"]);
        // Only the chosen member is restored; the leader is never a replica to remove.
        assert!(!ids.contains(&"remove-data-pg-test-2".to_owned()));
        let remove = &plan.steps[pos("remove-dcs")];
        let ClusterAction::Exec { argv, stdin, .. } = &remove.action else {
            panic!("{remove:?}")
        };
        assert_eq!(argv[3..], ["remove", "pg-test"]);
        assert_eq!(
            stdin.as_deref(),
            Some("pg-test\nYes I am aware\npg-test-2\n")
        );
        // The rollback starts the old leader first.
        assert_eq!(plan.on_failure[0].id, "rollback-start-patroni-pg-test-2");
        let text = plan.to_text();
        assert!(text.contains("# --- phase replicas ---"), "{text}");
        assert!(text.contains("[other host: not run from here]"), "{text}");
        assert!(text.contains("systemctl stop patroni"), "{text}");
    }

    #[test]
    fn a_chosen_replica_is_restored_and_the_old_leader_rebuilt() {
        let mut i = input("pg-test-1");
        i.backup = false;
        let plan = plan_cluster_restore(i).unwrap();
        let ids = ids(&plan.steps);
        assert!(ids.contains(&"remove-data-pg-test-2".to_owned()));
        assert!(!ids.contains(&"remove-data-pg-test-1".to_owned()));
        assert!(!ids.contains(&"backup".to_owned()));
        assert_eq!(plan.chosen, "pg-test-1");
        assert_eq!(plan.leader_before, "pg-test-2");
    }

    #[test]
    fn an_unknown_member_is_refused() {
        let e = plan_cluster_restore(input("pg-test-9")).unwrap_err();
        assert_eq!(e.code(), "invalid_setting");
        assert!(e.to_string().contains("'pg-test-9' is not a member"), "{e}");
    }

    #[test]
    fn patronis_cluster_document_is_read() {
        let v = ClusterView::parse(
            200,
            r#"{"members": [{"name": "pg-test-1", "role": "leader", "state": "running",
                "api_url": "http://127.0.0.1:8008/patroni", "host": "127.0.0.1", "port": 5432,
                "timeline": 2}, {"name": "pg-test-2", "role": "replica", "state": "streaming",
                "host": "127.0.0.1", "port": 5433, "timeline": 2, "lag": 0}],
                "pause": true, "scope": "pg-test"}"#,
        )
        .unwrap();
        assert!(v.pause);
        assert_eq!(v.leader().map(|m| m.name.as_str()), Some("pg-test-1"));
        assert!(
            v.members
                .iter()
                .all(crate::patroni::ClusterMember::is_running)
        );
        assert!(
            ClusterView::parse(503, "{}")
                .unwrap_err()
                .contains("HTTP 503")
        );
        assert!(
            ClusterView::parse(200, "\"members\"")
                .unwrap_err()
                .contains("not Patroni's cluster document")
        );
    }
}
