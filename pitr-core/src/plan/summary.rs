//! Why a plan looks the way it does, typed per kind of plan.
//!
//! A plan serialises as `{"kind": "restore" | "backup" | "service" | "continuity", "summary":
//! {...}, ...}`;
//! the fields of each summary are documented here and in `docs/cli.md`, and they are a
//! contract: scripts, the Python module and the Ansible modules read them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::continuity::WalFile;
use crate::names::{BackupLabel, BackupType, Lsn, RepoIndex, TimelineId};
pub use crate::role::{Role, RoleSource};
use crate::select::{Rule, SetRef};
use crate::target::{ArchiveMode, TargetAction};

/// The summary of a plan, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "summary", rename_all = "lowercase")]
pub enum Summary {
    /// A point-in-time restore.
    Restore(Box<RestoreSummary>),
    /// A backup (or its skip on a replica).
    Backup(BackupSummary),
    /// Starting or stopping PostgreSQL around a restore.
    Service(ServiceSummary),
    /// Pushing WAL the archive lacks from a new primary's `pg_wal` (or its skip on a replica).
    Continuity(ContinuitySummary),
}

/// The kind of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanKind {
    /// A point-in-time restore.
    Restore,
    /// A backup.
    Backup,
    /// Starting or stopping PostgreSQL.
    Service,
    /// Pushing WAL the archive lacks.
    Continuity,
}

impl PlanKind {
    /// The name in JSON and in log file names.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanKind::Restore => "restore",
            PlanKind::Backup => "backup",
            PlanKind::Service => "service",
            PlanKind::Continuity => "continuity",
        }
    }
}

impl Summary {
    /// The kind of plan this summarises.
    pub fn kind(&self) -> PlanKind {
        match self {
            Summary::Restore(_) => PlanKind::Restore,
            Summary::Backup(_) => PlanKind::Backup,
            Summary::Service(_) => PlanKind::Service,
            Summary::Continuity(_) => PlanKind::Continuity,
        }
    }
}

/// What a restore will do and why that set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreSummary {
    /// The target as `pitr` writes it (`time 2026-11-23 20:27:46+00`, `name rp1`, `latest`).
    pub target: String,
    /// Whether recovery stops just before the target.
    pub exclusive: bool,
    /// What PostgreSQL does at the target.
    pub action: TargetAction,
    /// The backup set restored.
    pub set: BackupLabel,
    /// Its type.
    pub set_type: BackupType,
    /// The repo it comes from.
    pub repo: RepoIndex,
    /// The timeline recovery follows.
    pub timeline: TimelineId,
    /// The rule that chose the set.
    pub rule: Rule,
    /// The rule and the facts, in words.
    pub reason: String,
    /// When the set stopped, as a target time.
    pub set_stop_time: String,
    /// Where the set stopped.
    pub set_stop_lsn: Lsn,
    /// What pgBackRest alone would restore for this target.
    pub pgbackrest_choice: Option<SetRef>,
    /// WAL to replay from the set's start to the target, when the target LSN is known.
    pub replay_bytes: Option<u64>,
    /// The recoverable windows, in words.
    pub window: String,
    /// The data directory restored into.
    pub data: PathBuf,
    /// The restored cluster's port.
    pub port: u16,
    /// Whether this is a clone beside the node's cluster.
    pub clone: bool,
    /// Archiving in the restored cluster.
    pub archive: ArchiveMode,
    /// Where the data directory is kept until recovery is verified, when it is.
    pub safety_copy: Option<PathBuf>,
    /// The restore config the plan writes.
    pub restore_config: PathBuf,
    /// The server log pitr follows during recovery.
    pub recovery_log: PathBuf,
    /// A time target after the last commit: the LSN recovery stops after instead, the last
    /// commit and the record that proves the archive reaches past the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing: Option<crate::quiet::QuietLanding>,
}

/// What a backup will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    /// The backup type.
    #[serde(rename = "type")]
    pub backup_type: BackupType,
    /// The repo backed up to (pgBackRest's default, repo1, when absent).
    pub repo: Option<RepoIndex>,
    /// The instance's role.
    pub role: Role,
    /// Where the role came from: `patroni` (Patroni's REST API, checked against
    /// `pg_is_in_recovery()`), `postgresql` (`pg_is_in_recovery()`, Patroni not configured) or
    /// `given` (by the caller).
    #[serde(default)]
    pub role_source: RoleSource,
    /// Whether the backup is skipped (on a replica).
    pub skipped: bool,
    /// Why it is skipped: the facts the role came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Starting or stopping PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceAction {
    /// Start it (`pg_ctl start -w`) unless it runs.
    Start,
    /// Stop it (`pg_ctl stop -m fast -w`) if it runs.
    Stop,
}

impl std::str::FromStr for ServiceAction {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "start" | "started" => Ok(ServiceAction::Start),
            "stop" | "stopped" => Ok(ServiceAction::Stop),
            _ => Err(crate::Error::invalid(
                "service action",
                s,
                "expected 'start' or 'stop'",
            )),
        }
    }
}

/// What a service plan will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSummary {
    /// Start or stop.
    pub service: ServiceAction,
    /// The data directory.
    pub data: PathBuf,
    /// The running postmaster's pid, if one runs.
    pub pid: Option<i32>,
    /// Whether the plan changes anything.
    pub changed: bool,
}

/// What a continuity plan pushes, and what it found in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinuitySummary {
    /// The instance's role.
    pub role: Role,
    /// Whether nothing is done (on a replica).
    pub skipped: bool,
    /// Why it is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The timeline the primary writes.
    pub timeline: Option<TimelineId>,
    /// The `pg_wal` directory the files are pushed from.
    pub pg_wal: Option<PathBuf>,
    /// Files pushed (the history file first, then segments oldest first), each with the repos
    /// that lack it.
    pub push: Vec<WalFile>,
    /// Files of the current timeline's history in `pg_wal` that every repo holds already,
    /// with the same contents.
    pub present: Vec<String>,
}
