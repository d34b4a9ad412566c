//! The health checks of `pitr check`: could this node be restored right now?
//!
//! Each [`Check`] has a name and its own stable failure code, which is what `pitr check` exits
//! with (`error[check_archive_command_mismatch]: ...`) and what `pitr exporter` exports as a
//! label. The checks run in a fixed order, cheapest and most specific first, so the first
//! failure names the cause rather than a symptom:
//!
//! | check | fails with | when |
//! |---|---|---|
//! | `database` | `check_database_unreachable` | PostgreSQL does not answer on the node's socket |
//! | `archive_mode` | `check_archive_mode_off` | `archive_mode` is not `on` or `always` |
//! | `archive_command` | `check_archive_command_mismatch` | `archive_command` is not what pitr renders for the node |
//! | `archiver` | `check_archiver_failing` | `pg_stat_archiver` shows a failure newer than the last success |
//! | `pgbackrest_check` | `check_pgbackrest_check_failed` | `pgbackrest check` fails (a WAL switch is not archived) |
//! | `stanza_status` | `check_stanza_status` | `pgbackrest info` fails or reports a non-zero stanza status |
//! | `full_backup_age` | `check_full_backup_too_old` | no full backup, or the newest is older than the limit |
//! | `backup_age` | `check_backup_too_old` | no backup, or the newest of any type is older than the limit |
//! | `archive_continuity` | `check_wal_missing` | a repo's archive misses WAL along the cluster's history ([`crate::continuity`]) |
//! | `window` | `check_window_empty` | no repo has a recoverable window |
//!
//! This module is pure: it judges facts ([`ArchiverStats`], an archive command, an info
//! report, windows) and builds a [`CheckReport`]. Gathering the facts is
//! `crate::run::check`.
//!
//! ```
//! use pitr_core::check::{self, Check, ExpectedArchive, Status};
//!
//! let expected = ExpectedArchive::Node {
//!     config: "/etc/pgbackrest/pgbackrest.conf".into(),
//!     stanza: "pg-meta".into(),
//! };
//! let ok = check::archive_command("pgbackrest --stanza=pg-meta archive-push %p", &expected);
//! assert_eq!(ok.status, Status::Pass);
//! let bad = check::archive_command("pgbackrest --stanza=other archive-push %p", &expected);
//! assert_eq!(bad.status, Status::Fail);
//! assert_eq!(bad.check, Check::ArchiveCommand);
//! assert_eq!(bad.code, "check_archive_command_mismatch");
//! assert_eq!(check::parse_age("36h")?, 129_600);
//! # Ok::<(), pitr_core::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::info::StanzaInfo;
use crate::names::BackupType;
use crate::window::RecoverableWindow;

mod archive;
mod continuity;

pub use archive::{ExpectedArchive, archive_command, redact_command, rendered_archive_command};
pub use continuity::archive_continuity;

/// pgBackRest's default config file, used when a command gives no `--config`.
pub const PGBACKREST_DEFAULT_CONFIG: &str = "/etc/pgbackrest/pgbackrest.conf";

/// Default for `--max-full-age`: a weekly full backup, with a day to spare.
pub const DEFAULT_MAX_FULL_AGE: &str = "8d";

/// Default for `--max-backup-age`: a daily backup, with half a day to spare.
pub const DEFAULT_MAX_BACKUP_AGE: &str = "36h";

/// One health check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// PostgreSQL answers on the node's socket.
    Database,
    /// `archive_mode` is `on` or `always`.
    ArchiveMode,
    /// `archive_command` pushes to this node's stanza and config.
    ArchiveCommand,
    /// `pg_stat_archiver` shows no failure newer than the last success.
    Archiver,
    /// `pgbackrest check` passes.
    PgbackrestCheck,
    /// `pgbackrest info` works and reports status 0.
    StanzaStatus,
    /// The newest full backup is young enough.
    FullBackupAge,
    /// The newest backup of any type is young enough.
    BackupAge,
    /// No repo misses WAL along the cluster's history (before the window: a hole is the
    /// cause an empty window is a symptom of).
    ArchiveContinuity,
    /// Some repo has a recoverable window.
    Window,
}

impl Check {
    /// Every check, in the order they run.
    pub const ALL: [Check; 10] = [
        Check::Database,
        Check::ArchiveMode,
        Check::ArchiveCommand,
        Check::Archiver,
        Check::PgbackrestCheck,
        Check::StanzaStatus,
        Check::FullBackupAge,
        Check::BackupAge,
        Check::ArchiveContinuity,
        Check::Window,
    ];

    /// The check's name (as in JSON and the `check` label).
    pub fn name(self) -> &'static str {
        match self {
            Check::Database => "database",
            Check::ArchiveMode => "archive_mode",
            Check::ArchiveCommand => "archive_command",
            Check::Archiver => "archiver",
            Check::PgbackrestCheck => "pgbackrest_check",
            Check::StanzaStatus => "stanza_status",
            Check::FullBackupAge => "full_backup_age",
            Check::BackupAge => "backup_age",
            Check::Window => "window",
            Check::ArchiveContinuity => "archive_continuity",
        }
    }

    /// The stable code the check fails with.
    pub fn code(self) -> &'static str {
        match self {
            Check::Database => "check_database_unreachable",
            Check::ArchiveMode => "check_archive_mode_off",
            Check::ArchiveCommand => "check_archive_command_mismatch",
            Check::Archiver => "check_archiver_failing",
            Check::PgbackrestCheck => "check_pgbackrest_check_failed",
            Check::StanzaStatus => "check_stanza_status",
            Check::FullBackupAge => "check_full_backup_too_old",
            Check::BackupAge => "check_backup_too_old",
            Check::Window => "check_window_empty",
            Check::ArchiveContinuity => "check_wal_missing",
        }
    }
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It passed.
    Pass,
    /// It failed.
    Fail,
    /// It was not run (e.g. archiving checks on a replica); the message says why.
    Skip,
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Which check.
    #[serde(rename = "name")]
    pub check: Check,
    /// The check's failure code (the same whatever the status, so scripts can look it up).
    pub code: String,
    /// Pass, fail or skip.
    pub status: Status,
    /// What was found, quoting the values; for a failure, what to do.
    pub message: String,
}

impl CheckResult {
    fn new(check: Check, status: Status, message: impl Into<String>) -> CheckResult {
        CheckResult {
            check,
            code: check.code().to_owned(),
            status,
            message: message.into(),
        }
    }

    /// A passed check.
    pub fn pass(check: Check, message: impl Into<String>) -> CheckResult {
        CheckResult::new(check, Status::Pass, message)
    }

    /// A failed check.
    pub fn fail(check: Check, message: impl Into<String>) -> CheckResult {
        CheckResult::new(check, Status::Fail, message)
    }

    /// A check that was not run.
    pub fn skip(check: Check, message: impl Into<String>) -> CheckResult {
        CheckResult::new(check, Status::Skip, message)
    }
}

/// The result of one `pitr check` run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The stanza checked.
    pub stanza: String,
    /// When the run finished.
    pub time: jiff::Timestamp,
    /// Whether no check failed.
    pub ok: bool,
    /// The first failure's code, `None` when every check passed.
    pub code: Option<String>,
    /// Every check, in the order they ran.
    pub checks: Vec<CheckResult>,
}

impl CheckReport {
    /// A report from results in run order.
    pub fn new(stanza: impl Into<String>, time: jiff::Timestamp, checks: Vec<CheckResult>) -> Self {
        let code = checks
            .iter()
            .find(|c| c.status == Status::Fail)
            .map(|c| c.code.clone());
        CheckReport {
            stanza: stanza.into(),
            time,
            ok: code.is_none(),
            code,
            checks,
        }
    }

    /// The first failed check.
    pub fn first_failure(&self) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }

    /// `Ok` when every check passed, else [`Error::CheckFailed`] for the first failure.
    pub fn into_result(self) -> Result<CheckReport> {
        match self.first_failure() {
            None => Ok(self),
            Some(f) => Err(Error::CheckFailed {
                check: f.check.name(),
                code: f.check.code(),
                message: f.message.clone(),
            }),
        }
    }
}

/// Age limits for backups, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AgeLimits {
    /// The newest full backup may be at most this old.
    pub max_full_age: u64,
    /// The newest backup of any type may be at most this old.
    pub max_backup_age: u64,
}

impl Default for AgeLimits {
    fn default() -> Self {
        AgeLimits {
            max_full_age: 8 * 86_400,
            max_backup_age: 36 * 3_600,
        }
    }
}

/// Parses an age such as `90s`, `45m`, `36h`, `8d` or `2w` (a bare number is seconds).
pub fn parse_age(text: &str) -> Result<u64> {
    let bad = || {
        Error::invalid(
            "age",
            text,
            "write a whole number with a unit: s, m, h, d or w (e.g. 36h, 8d)",
        )
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).filter(|&s| s > 0).ok_or_else(bad)
}

/// A duration in seconds as a short text: `3d 4h`, `36h` is `1d 12h`, `5h 12m`, `8d`, `42s`.
pub fn fmt_age(secs: u64) -> String {
    let parts = [
        (secs / 86_400, "d"),
        (secs % 86_400 / 3_600, "h"),
        (secs % 3_600 / 60, "m"),
        (secs % 60, "s"),
    ];
    let Some(first) = parts.iter().position(|(n, _)| *n > 0) else {
        return "0s".to_owned();
    };
    parts[first..(first + 2).min(parts.len())]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `archive_mode`: `on` or `always`.
pub fn archive_mode(mode: &str) -> CheckResult {
    if matches!(mode, "on" | "always") {
        CheckResult::pass(Check::ArchiveMode, format!("archive_mode is '{mode}'"))
    } else {
        CheckResult::fail(
            Check::ArchiveMode,
            format!(
                "archive_mode is '{mode}', so no WAL reaches the repo: set archive_mode = on \
                 (pitr render --what archive) and restart PostgreSQL"
            ),
        )
    }
}

/// What `pg_stat_archiver` says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ArchiverStats {
    /// Segments archived since the statistics were reset.
    pub archived_count: u64,
    /// Failed attempts since the statistics were reset.
    pub failed_count: u64,
    /// The last archived segment.
    pub last_archived_wal: Option<String>,
    /// When it was archived, microseconds since the Unix epoch.
    pub last_archived_time: Option<i64>,
    /// The segment of the last failure.
    pub last_failed_wal: Option<String>,
    /// When that failure happened, microseconds since the Unix epoch.
    pub last_failed_time: Option<i64>,
}

fn fmt_micros(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map_or_else(
        |_| us.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S+00").to_string(),
    )
}

/// No archiving failure newer than the last success.
pub fn archiver(stats: &ArchiverStats) -> CheckResult {
    let failing = match (stats.last_failed_time, stats.last_archived_time) {
        (Some(failed), Some(archived)) => failed > archived,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if failing {
        return CheckResult::fail(
            Check::Archiver,
            format!(
                "the last attempt to archive {} failed at {} (after the last success: {}); \
                 see the PostgreSQL log for archive_command's error",
                stats.last_failed_wal.as_deref().unwrap_or("?"),
                stats.last_failed_time.map_or_else(String::new, fmt_micros),
                match (&stats.last_archived_wal, stats.last_archived_time) {
                    (Some(w), Some(t)) => format!("{w} at {}", fmt_micros(t)),
                    _ => "none".to_owned(),
                }
            ),
        );
    }
    let last = match (&stats.last_archived_wal, stats.last_archived_time) {
        (Some(w), Some(t)) => format!("last archived {w} at {}", fmt_micros(t)),
        _ => "nothing archived yet".to_owned(),
    };
    CheckResult::pass(
        Check::Archiver,
        format!(
            "{last}; {} archived, {} failed since the statistics were reset",
            stats.archived_count, stats.failed_count
        ),
    )
}

/// The stanza's status in `pgbackrest info` is 0.
pub fn stanza_status(stanza: &StanzaInfo) -> CheckResult {
    if stanza.status.code.is_ok() {
        return CheckResult::pass(Check::StanzaStatus, "stanza status 0 (ok)");
    }
    let repos: Vec<String> = stanza
        .repo
        .iter()
        .filter(|r| !r.status.code.is_ok())
        .map(|r| format!("repo{}: {}", r.key, r.status.message))
        .collect();
    CheckResult::fail(
        Check::StanzaStatus,
        format!(
            "stanza '{}' status {}{}",
            stanza.name,
            stanza.status.code,
            if repos.is_empty() {
                String::new()
            } else {
                format!(" ({})", repos.join("; "))
            }
        ),
    )
}

/// The newest full backup and the newest backup of any type are younger than `limits`.
/// `now` is Unix seconds.
pub fn backup_ages(stanza: &StanzaInfo, now: u64, limits: AgeLimits) -> [CheckResult; 2] {
    let newest = |full_only: bool| {
        stanza
            .backup
            .iter()
            .filter(|b| !full_only || b.backup_type == BackupType::Full)
            .max_by_key(|b| b.timestamp.stop)
    };
    let judge =
        |check: Check, what: &str, full_only: bool, limit: u64, flag: &str| match newest(full_only)
        {
            None => CheckResult::fail(
                check,
                format!(
                    "stanza '{}' has no {what}: run pitr backup full",
                    stanza.name
                ),
            ),
            Some(b) => {
                let age = now.saturating_sub(b.timestamp.stop);
                let text = format!(
                    "newest {what} {} (repo{}) finished {} ago",
                    b.label,
                    b.repo_key(),
                    fmt_age(age)
                );
                if age > limit {
                    CheckResult::fail(
                        check,
                        format!(
                            "{text}, more than {flag} {}: check the backup schedule (cron) and \
                         the pgBackRest log",
                            fmt_age(limit)
                        ),
                    )
                } else {
                    CheckResult::pass(check, format!("{text} (limit {})", fmt_age(limit)))
                }
            }
        };
    [
        judge(
            Check::FullBackupAge,
            "full backup",
            true,
            limits.max_full_age,
            "--max-full-age",
        ),
        judge(
            Check::BackupAge,
            "backup",
            false,
            limits.max_backup_age,
            "--max-backup-age",
        ),
    ]
}

/// At least one repo has a recoverable window.
pub fn window(stanza: &str, windows: &[RecoverableWindow]) -> CheckResult {
    if windows.is_empty() {
        return CheckResult::fail(
            Check::Window,
            format!(
                "stanza '{stanza}' has no recoverable window in any repo: no backup set has \
                 its WAL archived; fix archiving, then run pitr backup full"
            ),
        );
    }
    let parts: Vec<String> = windows
        .iter()
        .map(|w| {
            format!(
                "repo{} timeline {}: {} .. {}",
                w.repo_key,
                w.timeline,
                w.start.lsn,
                w.end
                    .as_ref()
                    .map_or_else(|| "?".to_owned(), |e| e.lsn.to_string())
            )
        })
        .collect();
    CheckResult::pass(Check::Window, parts.join("; "))
}

#[cfg(test)]
mod tests;
