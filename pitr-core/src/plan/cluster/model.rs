//! The cluster plan's data: members, steps, phases and actions, as `--json` shows them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::names::StanzaName;
use crate::patroni::{PatroniApi, PatroniControl};
use crate::plan::Plan;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterPlan {
    /// `cluster_restore`.
    #[serde(deserialize_with = "cluster_restore_kind")]
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
    /// Steps that bring the cluster back as it was when a step before `dcs` fails; for a
    /// restore into a new cluster, the steps that remove what an interrupted run created
    /// (see [`super::undo_steps`]).
    pub on_failure: Vec<ClusterStep>,
    /// The chosen member's single-node restore plan, run by the `restore` step.
    pub restore: Plan,
    /// For a restore into a new cluster beside the running one: the new cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_cluster: Option<NewClusterSummary>,
}

/// A plan read back from JSON (a document, the run journal) is a cluster restore's.
fn cluster_restore_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let kind = String::deserialize(d)?;
    if kind == CLUSTER_RESTORE {
        Ok(CLUSTER_RESTORE)
    } else {
        Err(serde::de::Error::custom(format!(
            "kind '{kind}' is not a cluster restore plan's ('{CLUSTER_RESTORE}')"
        )))
    }
}

/// The new cluster of a restore into a new cluster (`pitr restore --cluster --new-cluster`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewClusterSummary {
    /// Its Patroni scope and stanza.
    pub scope: String,
    /// Its member.
    pub member: String,
    /// The member's data directory.
    pub data: PathBuf,
    /// Its PostgreSQL port.
    pub port: u16,
    /// Its Patroni REST API.
    pub api: String,
}

/// The kind of a cluster plan, and of its runs in the run journal.
pub const CLUSTER_RESTORE: &str = "cluster_restore";

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

    /// The plan as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
