//! `pitr check` on a node: gathers the facts that [`crate::check`] judges, and records the
//! report for `pitr exporter`.
//!
//! Facts come from PostgreSQL (one query over the node's socket: recovery state,
//! `archive_mode`, `archive_command`, `pg_stat_archiver`), from `pgbackrest check`, and from a
//! repo snapshot (`pgbackrest info` plus archive listings, for the backup ages and the
//! recoverable window, and the WAL missing along the cluster's history). Checks that cannot be
//! judged are skipped with the reason:
//!
//! * on a replica the archiving checks are skipped (the primary archives WAL);
//! * when PostgreSQL does not answer, every check that needs it is skipped;
//! * when `archive_mode`, `archive_command` or the archiver already failed, `pgbackrest check`
//!   is skipped: it would only wait `archive-timeout` for a segment that cannot arrive.
//!
//! The report is written as JSON to `<log-path>/pitr-<stanza>-check.json` ([`record_path`]),
//! which `pitr exporter` reads at each refresh for the `pitr_check_*` metrics.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::files;
use super::probe::Endpoint;
use super::tools;
use super::user::OsUser;
use crate::check::{
    self, AgeLimits, ArchiverStats, Check, CheckReport, CheckResult, ExpectedArchive, Status,
};
use crate::continuity;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::window;

/// How `pitr check` judges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Backup age limits.
    pub limits: AgeLimits,
    /// The `archive_command` rendered from a cluster spec; `None` to judge it from
    /// pgbackrest.conf (stanza and config).
    pub rendered_archive_command: Option<String>,
}

/// What PostgreSQL says, in one query.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DbFacts {
    in_recovery: bool,
    archive_mode: String,
    archive_command: String,
    archiver: ArchiverStats,
}

const FACTS_SQL: &str = "SELECT pg_is_in_recovery()::text, \
    current_setting('archive_mode'), current_setting('archive_command'), \
    archived_count::text, failed_count::text, \
    last_archived_wal, (extract(epoch FROM last_archived_time) * 1000000)::bigint::text, \
    last_failed_wal, (extract(epoch FROM last_failed_time) * 1000000)::bigint::text \
    FROM pg_stat_archiver";

fn db_facts(endpoint: &Endpoint) -> Result<DbFacts> {
    let rows = endpoint.simple_query(FACTS_SQL)?;
    let bad = |what: &str| Error::Database {
        endpoint: endpoint.describe(),
        message: format!("unexpected answer from pg_stat_archiver: {what}"),
    };
    let row = rows.into_iter().next().ok_or_else(|| bad("no row"))?;
    let col = |i: usize| row.get(i).cloned().flatten();
    let count = |i: usize| col(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let micros = |i: usize| col(i).and_then(|v| v.parse::<i64>().ok());
    Ok(DbFacts {
        in_recovery: col(0).as_deref() == Some("true"),
        archive_mode: col(1).ok_or_else(|| bad("archive_mode"))?,
        archive_command: col(2).unwrap_or_default(),
        archiver: ArchiverStats {
            archived_count: count(3),
            failed_count: count(4),
            last_archived_wal: col(5),
            last_archived_time: micros(6),
            last_failed_wal: col(7),
            last_failed_time: micros(8),
        },
    })
}

const ARCHIVING: [Check; 4] = [
    Check::ArchiveMode,
    Check::ArchiveCommand,
    Check::Archiver,
    Check::PgbackrestCheck,
];

/// Runs every check on `node` and returns the report (failures are in the report, not an
/// error; see [`CheckReport::into_result`]).
pub fn run_checks(node: &Node, options: &CheckOptions) -> CheckReport {
    let mut results = Vec::new();
    let pgbackrest = tools::pgbackrest()
        .and_then(|bin| crate::run::pgbackrest::PgBackRest::of(node, &bin))
        .map_err(|e| e.to_string());
    match db_facts(&crate::run::probe::Endpoint::of(node)) {
        Err(e) => {
            results.push(CheckResult::fail(
                Check::Database,
                format!("{e}; is PostgreSQL running?"),
            ));
            for c in ARCHIVING {
                results.push(CheckResult::skip(c, "PostgreSQL did not answer"));
            }
        }
        Ok(facts) if facts.in_recovery => {
            results.push(CheckResult::pass(
                Check::Database,
                format!(
                    "{} answers; it is a replica",
                    crate::run::probe::Endpoint::of(node).describe()
                ),
            ));
            for c in ARCHIVING {
                results.push(CheckResult::skip(
                    c,
                    "this node is a replica: the primary archives WAL",
                ));
            }
        }
        Ok(facts) => {
            results.push(CheckResult::pass(
                Check::Database,
                format!(
                    "{} answers; it is the primary",
                    crate::run::probe::Endpoint::of(node).describe()
                ),
            ));
            let expected = match &options.rendered_archive_command {
                Some(c) => ExpectedArchive::Rendered(c.clone()),
                None => ExpectedArchive::Node {
                    config: node.config_path.to_path_buf(),
                    stanza: node.stanza.to_string(),
                },
            };
            results.push(check::archive_mode(&facts.archive_mode));
            results.push(check::archive_command(&facts.archive_command, &expected));
            results.push(check::archiver(&facts.archiver));
            let broken = results.iter().any(|r| r.status == Status::Fail);
            results.push(if broken {
                CheckResult::skip(
                    Check::PgbackrestCheck,
                    "archiving is already known to be broken (see above)",
                )
            } else {
                match pgbackrest
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|p| p.check().map_err(|e| e.to_string()))
                {
                    Ok(()) => CheckResult::pass(
                        Check::PgbackrestCheck,
                        "pgbackrest check passed: a WAL switch reached the repo",
                    ),
                    Err(e) => CheckResult::fail(Check::PgbackrestCheck, e),
                }
            });
        }
    }
    let snapshot = pgbackrest.as_ref().map_err(Clone::clone).and_then(|p| {
        let snap = p.snapshot().map_err(|e| e.to_string())?;
        let stanza = snap
            .stanza(&node.stanza)
            .map_err(|e| e.to_string())?
            .clone();
        Ok((stanza, snap))
    });
    match snapshot {
        Err(e) => {
            results.push(CheckResult::fail(
                Check::StanzaStatus,
                format!("cannot read the repo: {e}"),
            ));
            for c in [
                Check::FullBackupAge,
                Check::BackupAge,
                Check::ArchiveContinuity,
                Check::Window,
            ] {
                results.push(CheckResult::skip(c, "pgbackrest info failed"));
            }
        }
        Ok((stanza, snap)) => {
            results.push(check::stanza_status(&stanza));
            let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0);
            results.extend(check::backup_ages(&stanza, now, options.limits));
            results.push(check::archive_continuity(&continuity::continuity(
                &stanza,
                &snap.histories,
                &snap.listings,
            )));
            let windows = window::windows(&stanza, &snap.histories, &snap.listings);
            results.push(check::window(&stanza.name, &windows));
        }
    }
    CheckReport::new(node.stanza.to_string(), jiff::Timestamp::now(), results)
}

/// Where `pitr check` records its report for the node: `<log-path>/pitr-<stanza>-check.json`.
pub fn record_path(node: &Node) -> PathBuf {
    node.log_dir
        .join(format!("pitr-{}-check.json", node.stanza))
}

/// Writes `report` to [`record_path`] (mode 0644: it holds no secrets; owned by the database
/// superuser when pitr runs as root, so later runs as that user can replace it), through
/// [`files::write_atomic`].
pub fn save_record(node: &Node, report: &CheckReport) -> Result<PathBuf> {
    write_record(node, record_path(node), report)
}

/// Writes `value` as pretty JSON to `path` (mode 0644: records hold no secrets; owned by the
/// database superuser), through [`files::write_atomic`].
pub fn write_record<T: serde::Serialize>(node: &Node, path: PathBuf, value: &T) -> Result<PathBuf> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| Error::Metrics {
        message: e.to_string(),
    })?;
    text.push('\n');
    let owner = OsUser::lookup(&node.dbsu)?;
    files::write_atomic(&path, text.as_bytes(), 0o644, Some(&owner))?;
    Ok(path)
}

/// Reads a recorded report; `None` when there is none yet. The record lies in a directory of
/// `owner` (the database superuser): a link at its name is refused, not followed.
pub fn load_record(path: &Path, owner: Option<&OsUser>) -> Result<Option<CheckReport>> {
    load_json(path, owner, "check record")
}

/// Reads a JSON record (`what` names it in errors) the way [`load_record`] does; `None` when
/// there is none yet.
pub fn load_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    owner: Option<&OsUser>,
    what: &str,
) -> Result<Option<T>> {
    let mut file = match files::open_read(path, owner) {
        Ok(f) => f,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| Error::io("cannot read the record", path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Parse {
            what: format!("{what} {}", path.display()),
            message: e.to_string(),
        })
}
