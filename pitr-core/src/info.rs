//! Typed `pgbackrest info --output=json`.
//!
//! [`parse`] turns the JSON that `pgbackrest info --output=json` prints into an [`InfoReport`]:
//! one [`StanzaInfo`] per stanza, each with its status, the PostgreSQL clusters it has seen
//! (`db`), its repos, the WAL archive range per repo (`archive`) and its backup sets
//! (`backup`, oldest first, merged across repos). Values with rules are parsed into the
//! validated types of [`crate::names`] on the way in (labels, backup types, WAL segment names,
//! LSNs), so code downstream (the recoverable window in [`crate::window`], backup-set choice,
//! planning) never looks at raw strings.
//!
//! The model follows pgBackRest's schema from 2.30 to the current release: keys that only
//! some versions or modes print (`repo`, `repo-key`, `lsn`, `error`, `annotation`, the
//! `--set` details, lock progress) are `Option`s or default to empty, and unknown keys are
//! ignored so that a newer pgBackRest does not break pitr. Everything also serializes back
//! to JSON under pgBackRest's own key names, so the CLI can print what it read.
//!
//! A document that is not JSON, or a field of the wrong type or form, is an
//! [`Error::InfoFormat`] naming the stanza, the backup set and serde's description of the
//! problem; `parse` never panics.
//!
//! ```
//! use pitr_core::info;
//!
//! let report = info::parse(r#"[{"name":"demo","status":{"code":1,"message":"missing stanza path"},
//!     "repo":[{"key":1,"cipher":"none","status":{"code":1,"message":"missing stanza path"}}]}]"#)?;
//! let demo = report.stanza("demo")?;
//! assert!(!demo.status.code.is_ok());
//! assert_eq!(demo.status.code.code(), 1);
//! assert!(report.stanza("other").is_err());
//! # Ok::<(), pitr_core::Error>(())
//! ```

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::names::{BackupLabel, BackupType, Lsn, RepoIndex, TimelineId, WalSegment};

/// Parses the output of `pgbackrest info --output=json`.
pub fn parse(text: &str) -> Result<InfoReport> {
    serde_json::from_str(text).map_err(|e| Error::InfoFormat {
        message: describe_error(text, &e),
    })
}

/// The whole `info` output: one entry per stanza, in pgBackRest's order (sorted by name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InfoReport {
    /// The stanzas.
    pub stanzas: Vec<StanzaInfo>,
}

impl InfoReport {
    /// The stanza called `name`.
    pub fn stanza(&self, name: &str) -> Result<&StanzaInfo> {
        self.stanzas
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::StanzaNotFound {
                stanza: name.to_owned(),
                source_name: "pgbackrest info output".to_owned(),
                known: if self.stanzas.is_empty() {
                    "(none)".to_owned()
                } else {
                    let names: Vec<&str> = self.stanzas.iter().map(|s| s.name.as_str()).collect();
                    names.join(", ")
                },
            })
    }
}

/// One stanza: its status and, in the default detail level, its clusters, repos, archive and
/// backup sets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StanzaInfo {
    /// The stanza name as pgBackRest printed it (`[invalid]` when a repo could not be listed).
    pub name: String,
    /// `none`, `aes-256-cbc` or `mixed` (repos differ); absent with `--detail-level=progress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// Overall status, merged over repos.
    pub status: StanzaStatus,
    /// Every PostgreSQL cluster history entry of every repo, oldest first within a repo.
    #[serde(default)]
    pub db: Vec<DbInfo>,
    /// The repos (pgBackRest 2.32 and later).
    #[serde(default)]
    pub repo: Vec<RepoInfo>,
    /// The WAL archive range per repo and cluster history entry.
    #[serde(default)]
    pub archive: Vec<ArchiveInfo>,
    /// Backup sets, oldest first by stop time, merged across repos.
    #[serde(default)]
    pub backup: Vec<BackupInfo>,
}

impl StanzaInfo {
    /// `Ok` when the stanza status is 0, else [`Error::StanzaStatus`] with pgBackRest's message.
    pub fn ensure_ok(&self) -> Result<()> {
        if self.status.code.is_ok() {
            Ok(())
        } else {
            Err(Error::StanzaStatus {
                stanza: self.name.clone(),
                code: self.status.code.code(),
                message: self.status.message.clone(),
            })
        }
    }

    /// The backup sets stored in repo `key` (0 for output without repo keys), oldest first.
    pub fn backups_in_repo(&self, key: RepoIndex) -> impl Iterator<Item = &BackupInfo> + '_ {
        self.backup.iter().filter(move |b| b.repo_key() == key)
    }

    /// The backup set `label` in repo `repo_key`.
    pub fn backup(&self, label: &BackupLabel, repo_key: RepoIndex) -> Option<&BackupInfo> {
        self.backup
            .iter()
            .find(|b| &b.label == label && b.repo_key() == repo_key)
    }

    /// The archive entry for cluster history entry `db_id` in repo `repo_key`.
    pub fn archive_for(&self, db_id: u32, repo_key: RepoIndex) -> Option<&ArchiveInfo> {
        self.archive
            .iter()
            .find(|a| a.database.id == db_id && a.database.repo_key() == repo_key)
    }

    /// The PostgreSQL version (`"15"`, `"9.6"`) of cluster history entry `db_id` in repo
    /// `repo_key`.
    pub fn pg_version(&self, db_id: u32, repo_key: RepoIndex) -> Option<&str> {
        self.db
            .iter()
            .find(|d| d.id == db_id && d.repo_key() == repo_key)
            .map(|d| d.version.as_str())
    }

    /// The current cluster of repo `repo_key`: its newest history entry.
    pub fn current_db(&self, repo_key: RepoIndex) -> Option<&DbInfo> {
        self.db
            .iter()
            .filter(|d| d.repo_key() == repo_key)
            .max_by_key(|d| d.id)
    }

    /// Every repo key of the stanza, ascending: from `repo[]` and from the backup sets.
    pub fn repo_keys(&self) -> Vec<RepoIndex> {
        let mut keys: Vec<RepoIndex> = self.repo.iter().map(|r| r.key).collect();
        keys.extend(self.backup.iter().map(BackupInfo::repo_key));
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// A status code of a stanza or a repo (`status.code`, `repo[].status.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum StatusCode {
    /// 0: healthy, at least one backup.
    Ok,
    /// 1: the stanza does not exist in the repo (`stanza-create` not run, or a wrong name).
    MissingStanzaPath,
    /// 2: the stanza exists but holds no backup.
    NoValidBackups,
    /// 3: the stanza directory exists but `backup.info` is missing.
    MissingStanzaData,
    /// 4: repos report different statuses (stanza level only).
    DifferentAcrossRepos,
    /// 5: the PostgreSQL version or system id differs between repos (stanza level only).
    DatabaseMismatch,
    /// 6: the backup asked for with `--set` exists in no repo.
    RequestedBackupNotFound,
    /// 99: any other error; the repo status message says which (`[HostConnectError] ...`).
    Other,
    /// A code this version of pitr does not know.
    Unknown(i64),
}

impl StatusCode {
    /// The numeric code.
    pub fn code(self) -> i64 {
        match self {
            StatusCode::Ok => 0,
            StatusCode::MissingStanzaPath => 1,
            StatusCode::NoValidBackups => 2,
            StatusCode::MissingStanzaData => 3,
            StatusCode::DifferentAcrossRepos => 4,
            StatusCode::DatabaseMismatch => 5,
            StatusCode::RequestedBackupNotFound => 6,
            StatusCode::Other => 99,
            StatusCode::Unknown(n) => n,
        }
    }

    /// Whether the code is 0.
    pub fn is_ok(self) -> bool {
        self == StatusCode::Ok
    }

    /// pgBackRest's stanza-level message for the code.
    pub fn description(self) -> &'static str {
        match self {
            StatusCode::Ok => "ok",
            StatusCode::MissingStanzaPath => "missing stanza path",
            StatusCode::NoValidBackups => "no valid backups",
            StatusCode::MissingStanzaData => "missing stanza data",
            StatusCode::DifferentAcrossRepos => "different across repos",
            StatusCode::DatabaseMismatch => "database mismatch across repos",
            StatusCode::RequestedBackupNotFound => "requested backup not found",
            StatusCode::Other => "other",
            StatusCode::Unknown(_) => "unknown status",
        }
    }
}

impl From<i64> for StatusCode {
    fn from(n: i64) -> Self {
        match n {
            0 => StatusCode::Ok,
            1 => StatusCode::MissingStanzaPath,
            2 => StatusCode::NoValidBackups,
            3 => StatusCode::MissingStanzaData,
            4 => StatusCode::DifferentAcrossRepos,
            5 => StatusCode::DatabaseMismatch,
            6 => StatusCode::RequestedBackupNotFound,
            99 => StatusCode::Other,
            n => StatusCode::Unknown(n),
        }
    }
}

impl From<StatusCode> for i64 {
    fn from(c: StatusCode) -> i64 {
        c.code()
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.description())
    }
}

/// `status` of a stanza.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StanzaStatus {
    /// The code, merged over repos.
    pub code: StatusCode,
    /// pgBackRest's message for the code.
    pub message: String,
    /// Lock state on the host that ran `info` (pgBackRest 2.27 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockStatus>,
}

/// `status.lock`: whether a backup or restore holds a lock on the host that ran `info`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockStatus {
    /// Backup, expire or stanza-* lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<LockInfo>,
    /// Restore lock (pgBackRest 2.56 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<LockInfo>,
}

/// One lock and, while its command runs, its progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Whether the lock is held.
    pub held: bool,
    /// Bytes to process in total (summed over repos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Bytes processed so far.
    #[serde(default, rename = "size-cplt", skip_serializing_if = "Option::is_none")]
    pub size_cplt: Option<u64>,
    /// Progress per repo (pgBackRest 2.59 and later, backup only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<Vec<RepoProgress>>,
}

/// `status.lock.backup.repo[]`: progress of a backup in one repo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoProgress {
    /// Repo key.
    pub key: RepoIndex,
    /// Bytes to process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Bytes processed.
    #[serde(default, rename = "size-cplt", skip_serializing_if = "Option::is_none")]
    pub size_cplt: Option<u64>,
}

/// `db[]`: one PostgreSQL cluster history entry of one repo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbInfo {
    /// History id (changes with `stanza-upgrade`).
    pub id: u32,
    /// Repo key (pgBackRest 2.32 and later).
    #[serde(default, rename = "repo-key", skip_serializing_if = "Option::is_none")]
    pub repo_key: Option<RepoIndex>,
    /// `pg_control` system identifier (beyond 2^53: never a float).
    #[serde(rename = "system-id")]
    pub system_id: u64,
    /// PostgreSQL major version, e.g. `"15"` or `"9.6"`.
    pub version: String,
}

impl DbInfo {
    /// The repo key; repo1 when pgBackRest did not print one (before 2.32: one repo).
    pub fn repo_key(&self) -> RepoIndex {
        self.repo_key.unwrap_or(RepoIndex::FIRST)
    }
}

/// `repo[]`: one repo of the stanza.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoInfo {
    /// Repo key (`repo1` is 1).
    pub key: RepoIndex,
    /// `none` or `aes-256-cbc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// The repo's own status.
    pub status: RepoStatus,
}

/// `repo[].status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoStatus {
    /// Repo-level code: 0-3, 6 or 99.
    pub code: StatusCode,
    /// pgBackRest's message; for 99 the error, e.g. `[HostConnectError] unable to connect ...`.
    pub message: String,
}

/// `archive[].database` and `backup[].database`: which cluster history entry of which repo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbKey {
    /// Cluster history id.
    pub id: u32,
    /// Repo key (pgBackRest 2.32 and later).
    #[serde(default, rename = "repo-key", skip_serializing_if = "Option::is_none")]
    pub repo_key: Option<RepoIndex>,
}

impl DbKey {
    /// The repo key; repo1 when pgBackRest did not print one.
    pub fn repo_key(self) -> RepoIndex {
        self.repo_key.unwrap_or(RepoIndex::FIRST)
    }
}

/// `archive[]`: the range of complete WAL segments in one repo for one cluster history entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveInfo {
    /// Archive id, `<pg version>-<history id>`, e.g. `15-1`.
    pub id: String,
    /// The cluster history entry and repo.
    pub database: DbKey,
    /// Oldest complete segment by name (lowest timeline first); `None` when there is none.
    pub min: Option<WalSegment>,
    /// Newest complete segment by name; `None` when there is none.
    pub max: Option<WalSegment>,
}

/// `backup[]`: one backup set in one repo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// The backup label.
    pub label: BackupLabel,
    /// full, diff or incr.
    #[serde(rename = "type")]
    pub backup_type: BackupType,
    /// The set this one is based on (`None` for a full backup).
    pub prior: Option<BackupLabel>,
    /// Sets needed to restore this one (`None` for a full backup).
    pub reference: Option<Vec<BackupLabel>>,
    /// Start and stop time, epoch seconds.
    pub timestamp: BackupTimestamp,
    /// WAL segments needed for consistency (both `None` for an offline backup).
    pub archive: BackupArchive,
    /// Start and stop LSN (backups made by pgBackRest 2.38 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsn: Option<BackupLsn>,
    /// The pgBackRest that made the backup.
    pub backrest: BackrestInfo,
    /// The cluster history entry and repo.
    pub database: DbKey,
    /// Sizes.
    pub info: BackupSizes,
    /// Whether the backup found page checksum or validation errors (2.36 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<bool>,
    /// User annotations (2.41 and later, only when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation: Option<IndexMap<String, String>>,
    /// Databases in the backup (`--set` only).
    #[serde(
        default,
        rename = "database-ref",
        skip_serializing_if = "Option::is_none"
    )]
    pub database_ref: Option<Vec<DatabaseRef>>,
    /// Symlinks other than tablespaces (`--set` only): outer `None` when absent, inner `None`
    /// when pgBackRest printed `null`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub link: Option<Option<Vec<LinkInfo>>>,
    /// Tablespaces (`--set` only), absent / `null` as for `link`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub tablespace: Option<Option<Vec<TablespaceInfo>>>,
    /// Files with page checksum errors (`--set` only, only when there are some).
    #[serde(
        default,
        rename = "error-list",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_list: Option<Vec<String>>,
}

impl BackupInfo {
    /// The repo key; repo1 when pgBackRest did not print one (before 2.32: one repo).
    pub fn repo_key(&self) -> RepoIndex {
        self.database.repo_key()
    }

    /// The timeline the backup's WAL starts on (`None` for an offline backup).
    pub fn timeline(&self) -> Option<TimelineId> {
        self.archive.start.map(WalSegment::timeline)
    }

    /// The LSN at which the backup stopped, if pgBackRest recorded it (2.38 and later).
    pub fn stop_lsn(&self) -> Option<Lsn> {
        self.lsn.map(|l| l.stop)
    }
}

/// `backup[].timestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupTimestamp {
    /// Epoch seconds when the backup started.
    pub start: u64,
    /// Epoch seconds when the backup stopped (what time-target restores compare with).
    pub stop: u64,
}

/// `backup[].archive`: the first and last WAL segment the backup needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupArchive {
    /// Segment holding the backup's start (checkpoint redo) record.
    pub start: Option<WalSegment>,
    /// Segment holding the backup's end record.
    pub stop: Option<WalSegment>,
}

/// `backup[].lsn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupLsn {
    /// Start LSN.
    pub start: Lsn,
    /// Stop LSN: recovery is consistent from here on.
    pub stop: Lsn,
}

/// `backup[].backrest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackrestInfo {
    /// Repository format (5).
    pub format: u32,
    /// pgBackRest version that made the backup.
    pub version: String,
}

/// `backup[].info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSizes {
    /// Uncompressed size of the cluster.
    pub size: u64,
    /// Uncompressed bytes this backup copied.
    pub delta: u64,
    /// Sizes in the repo.
    pub repository: RepositorySizes,
}

/// `backup[].info.repository`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorySizes {
    /// Repo bytes of this set and everything it references (absent for block incremental).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Repo bytes of this set only.
    pub delta: u64,
    /// Block-incremental map size (2.44 and later).
    #[serde(default, rename = "size-map", skip_serializing_if = "Option::is_none")]
    pub size_map: Option<u64>,
    /// Block-incremental map delta (2.44 and later).
    #[serde(default, rename = "delta-map", skip_serializing_if = "Option::is_none")]
    pub delta_map: Option<u64>,
}

/// `backup[].database-ref[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseRef {
    /// Database name.
    pub name: String,
    /// Database oid.
    pub oid: u32,
}

/// `backup[].link[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    /// Link name inside the data directory.
    pub name: String,
    /// Where it points.
    pub destination: String,
}

/// `backup[].tablespace[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablespaceInfo {
    /// Tablespace name.
    pub name: String,
    /// Its directory.
    pub destination: String,
    /// Its oid.
    pub oid: u32,
}

/// Deserializes a key that is present (possibly as `null`) into `Some(value)`; with
/// `#[serde(default)]` an absent key stays `None`.
fn present<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Serde's message, prefixed with the stanza and backup set it is about when they can be found.
fn describe_error(text: &str, err: &serde_json::Error) -> String {
    let base = err.to_string();
    let Ok(serde_json::Value::Array(stanzas)) = serde_json::from_str(text) else {
        if err.is_data() {
            return format!("{base} (expected a JSON array of stanzas)");
        }
        return base;
    };
    let name_of = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_str)
            .map_or_else(String::new, |s| format!(" '{}'", s.escape_debug()))
    };
    for (i, stanza) in stanzas.iter().enumerate() {
        if StanzaInfo::deserialize(stanza).is_ok() {
            continue;
        }
        let mut path = format!("stanza[{i}]{}", name_of(stanza, "name"));
        if let Some(serde_json::Value::Array(backups)) = stanza.get("backup") {
            if let Some((j, b)) = backups
                .iter()
                .enumerate()
                .find(|(_, b)| BackupInfo::deserialize(*b).is_err())
            {
                path = format!("{path}, backup[{j}]{}", name_of(b, "label"));
            }
        }
        return format!("{path}: {base}");
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip() {
        for n in [0, 1, 2, 3, 4, 5, 6, 99, 7, -1] {
            assert_eq!(StatusCode::from(n).code(), n);
        }
        assert_eq!(StatusCode::from(7), StatusCode::Unknown(7));
        assert!(StatusCode::from(0).is_ok());
        assert_eq!(StatusCode::Other.to_string(), "99 (other)");
    }
}
