//! `pitr continuity` and `pitr patroni-callback`: a new primary pushes what the archive lacks
//! of its timeline's history while its `pg_wal` still holds it.
//!
//! [`prepare_continuity`] asks PostgreSQL for the role, timeline and segment size; on a
//! replica it plans a skip. On the primary it reads `pg_wal` ([`PgWal`]: names, sizes, the
//! current timeline's history file, SHA-1 of the candidate segments), takes a repo snapshot
//! (`pgbackrest info`, each repo's listing, the archive's history files), judges
//! ([`crate::continuity::local`]) and plans the pushes ([`crate::plan::continuity`]).
//! [`run_continuity`] runs the plan; a push pgBackRest refuses because the repo's copy differs
//! (`[045]`) becomes [`Error::ArchiveConflict`], as a difference seen before planning does.
//!
//! [`patroni_callback`] is what Patroni's `on_role_change` runs: when a member becomes the
//! primary (`master` in Patroni 3.0, `primary` later), Patroni calls it right after
//! `pg_ctl promote`, before PostgreSQL has left recovery; it waits (bounded) for the promotion
//! to finish, then does the above.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::continuity::local::{self, LocalSegment};
use crate::error::{Error, Result};
use crate::names::{SegmentSize, TimelineId};
use crate::node::Node;
use crate::plan::Plan;
use crate::plan::continuity::{plan_continuity, plan_skip};
use crate::plan::summary::Summary;
use crate::run::log::RunLog;
use crate::run::pgbackrest::PgBackRest;
use crate::run::pgwal::PgWal;
use crate::run::probe::Endpoint;
use crate::run::runner::RunReport;
use crate::run::tools;
use crate::run::user::OsUser;

/// What `pitr continuity` did; the document `pitr continuity --json` prints and Python's
/// `pitr.continuity()` returns.
#[derive(Debug, Clone, Serialize)]
pub struct ContinuityOutcome {
    /// Whether nothing was done because the instance is a replica.
    pub skipped: bool,
    /// Whether this was a dry run (the plan was not run).
    pub dry_run: bool,
    /// The plan; its summary lists what is pushed and what was found in place.
    pub plan: Plan,
    /// The run's report (absent when skipped or dry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<RunReport>,
}

/// What PostgreSQL says about the node, in one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ServerFacts {
    in_recovery: bool,
    timeline: Option<TimelineId>,
    size: SegmentSize,
}

const FACTS_SQL: &str = "SELECT pg_is_in_recovery()::text, \
    CASE WHEN pg_is_in_recovery() THEN NULL \
         ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END, \
    (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size')";

fn server_facts(endpoint: &Endpoint) -> Result<ServerFacts> {
    let row = endpoint
        .simple_query(FACTS_SQL)?
        .into_iter()
        .next()
        .unwrap_or_default();
    let col = |i: usize| row.get(i).cloned().flatten();
    let bad = |what: String| Error::Database {
        endpoint: endpoint.describe(),
        message: format!("unexpected answer: {what}"),
    };
    let size = col(2)
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| bad("no wal_segment_size".into()))
        .and_then(SegmentSize::new)?;
    let timeline = match col(1) {
        None => None,
        Some(hex) => Some(
            u32::from_str_radix(&hex, 16)
                .ok()
                .and_then(|t| TimelineId::new(t).ok())
                .ok_or_else(|| bad(format!("WAL file name prefix '{hex}'")))?,
        ),
    };
    Ok(ServerFacts {
        in_recovery: col(0).as_deref() == Some("true"),
        timeline,
        size,
    })
}

/// Plans the pushes on `node` (a skip on a replica); [`Error::ArchiveConflict`] when a repo's
/// copy of a file differs from `pg_wal`'s.
pub fn prepare_continuity(node: &Node) -> Result<Plan> {
    let bin = tools::pgbackrest()?;
    let site = node.backup_site(&bin);
    let facts = server_facts(&Endpoint::of(node))?;
    let timeline = match (facts.in_recovery, facts.timeline) {
        (true, _) | (false, None) => return Ok(plan_skip(&site)),
        (false, Some(t)) => t,
    };
    let wal = PgWal::new(&node.data, OsUser::lookup(&node.dbsu)?)?;
    let local_history = if timeline == TimelineId::FIRST {
        None
    } else {
        wal.history(timeline)?
    };
    let snapshot = PgBackRest::of(node, &bin)?.snapshot()?;
    let mut lineage = snapshot.histories.clone();
    if let Some(h) = &local_history {
        lineage.insert(h.clone());
    }
    let entries = wal.entries()?;
    let mut segments = Vec::new();
    for segment in local::candidates(&entries, timeline, &lineage, facts.size) {
        match wal.sha1(&segment.name()) {
            Ok(sum) => segments.push(LocalSegment {
                segment,
                sha1: Some(sum),
            }),
            // Recycled since it was listed: no longer this node's to push.
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let judgement = local::judge(
        timeline,
        &segments,
        local_history.as_ref(),
        &snapshot.histories,
        &snapshot.listings,
    );
    let mut plan = plan_continuity(&site, wal.dir(), facts.size, &judgement)?;
    plan.warnings.extend(snapshot.warnings);
    Ok(plan)
}

/// Whether a continuity plan skips (the instance is a replica).
pub fn skips(plan: &Plan) -> bool {
    matches!(&plan.summary, Summary::Continuity(c) if c.skipped)
}

/// Runs a continuity plan unless it skips. A push pgBackRest refuses with `[045]` (the repo
/// holds a different copy) is [`Error::ArchiveConflict`].
pub fn run_continuity(
    plan: Plan,
    log: &RunLog,
    locked: &super::Locked,
) -> Result<ContinuityOutcome> {
    if skips(&plan) {
        return Ok(ContinuityOutcome {
            skipped: true,
            dry_run: false,
            plan,
            report: None,
        });
    }
    let report = locked.run_plan(&plan, log).map_err(conflict_of)?;
    Ok(ContinuityOutcome {
        skipped: false,
        dry_run: false,
        plan,
        report: Some(report),
    })
}

/// Plans, and runs unless `dry_run`.
pub fn continuity(
    node: &Node,
    dry_run: bool,
    log: &RunLog,
    locked: &super::Locked,
) -> Result<ContinuityOutcome> {
    let plan = prepare_continuity(node)?;
    if dry_run {
        return Ok(ContinuityOutcome {
            skipped: skips(&plan),
            dry_run: true,
            plan,
            report: None,
        });
    }
    run_continuity(plan, log, locked)
}

/// A failed push whose output holds pgBackRest's `[045]` ("WAL file 'X' already exists in
/// the repoN archive with a different checksum") as [`Error::ArchiveConflict`]; other errors
/// as they are.
fn conflict_of(e: Error) -> Error {
    let Error::Step { source, .. } = &e else {
        return e;
    };
    let Error::CommandFailed { output, .. } = source.as_ref() else {
        return e;
    };
    let Some(line) = output.lines().find(|l| l.contains("[045]")) else {
        return e;
    };
    let file = line.split('\'').nth(1).unwrap_or("a WAL file").to_owned();
    let repo = line
        .split_whitespace()
        .find_map(|w| {
            w.strip_prefix("repo")?
                .parse::<crate::names::RepoIndex>()
                .ok()
        })
        .unwrap_or(crate::names::RepoIndex::FIRST);
    Error::ArchiveConflict {
        file,
        repo,
        detail: format!("pgBackRest refused the push: {}", line.trim()),
        more: 0,
    }
}

/// Patroni's role names for a primary (`master` until Patroni 3.0, `primary` after).
const PRIMARY_ROLES: [&str; 3] = ["master", "primary", "promoted"];

/// What [`patroni_callback`] did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CallbackOutcome {
    /// The callback is not about becoming the primary: nothing to do.
    Ignored {
        /// Why.
        reason: String,
    },
    /// PostgreSQL did not leave recovery within the wait.
    GaveUp {
        /// Seconds waited.
        waited_secs: u64,
        /// What was seen last.
        last: String,
    },
    /// The continuity step ran.
    Ran(Box<ContinuityOutcome>),
}

/// Patroni's `on_role_change` callback: `action`, `role` and `scope` as Patroni appends them.
/// When the member became the primary, waits up to `wait` for PostgreSQL to leave recovery
/// (polling every second), then runs the continuity step. Every step is logged in `log`. It
/// queues behind another pitr holding the stanza's lock (a backup, say) rather than fail.
pub fn patroni_callback(
    node: &Node,
    action: &str,
    role: &str,
    scope: &str,
    wait: Duration,
    log: &RunLog,
) -> Result<CallbackOutcome> {
    log.line(&format!(
        "patroni callback: {} {} {} (stanza {})",
        crate::error::one_line(action),
        crate::error::one_line(role),
        crate::error::one_line(scope),
        node.stanza
    ));
    if action != "on_role_change" || !PRIMARY_ROLES.contains(&role) {
        let reason = "not a change to the primary role: nothing to do".to_owned();
        log.line(&format!("  {reason}"));
        return Ok(CallbackOutcome::Ignored { reason });
    }
    if scope != node.stanza.as_str() {
        log.line(&format!(
            "  note: Patroni's scope '{}' is not the stanza '{}'; working on the stanza",
            crate::error::one_line(scope),
            node.stanza
        ));
    }
    // A backup or a restore of the stanza may be running: the callback queues behind it.
    let locked = super::lock_stanza(node, "patroni-callback", true, &|m| {
        log.line(&format!("  {m}"));
    })?;
    let since = Instant::now();
    loop {
        let last = match prepare_continuity(node) {
            Ok(plan) if !skips(&plan) => {
                log.line(&format!(
                    "  PostgreSQL is the primary (after {:.1} s); pushing what the archive \
                     lacks",
                    since.elapsed().as_secs_f64()
                ));
                return run_continuity(plan, log, &locked)
                    .map(|o| CallbackOutcome::Ran(Box::new(o)));
            }
            Ok(_) => "PostgreSQL is still in recovery".to_owned(),
            // The server may be restarting: ask again.
            Err(e @ Error::Database { .. }) => e.to_string(),
            Err(e) => return Err(e),
        };
        if since.elapsed() >= wait {
            log.line(&format!(
                "  gave up after {} s: {last}",
                since.elapsed().as_secs()
            ));
            return Ok(CallbackOutcome::GaveUp {
                waited_secs: since.elapsed().as_secs(),
                last,
            });
        }
        std::thread::sleep(Duration::from_secs(1).min(wait.saturating_sub(since.elapsed())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_push_names_the_file_and_repo() {
        let e = Error::Step {
            step: "push-000000010000000000000004".into(),
            rolled_back: false,
            rollback_stopped: None,
            source: Box::new(Error::CommandFailed {
                what: "push-000000010000000000000004".into(),
                status: "exit status: 45".into(),
                output: "P00   INFO: archive-push command begin 2.45\nP00  ERROR: [045]: WAL \
                         file '000000010000000000000004' already exists in the repo2 archive \
                         with a different checksum"
                    .into(),
            }),
        };
        let c = conflict_of(e);
        assert_eq!(c.code(), "archive_conflict");
        let msg = c.to_string();
        assert!(
            msg.starts_with("000000010000000000000004 in repo2 differs"),
            "{msg}"
        );
        let other = conflict_of(Error::PlanNotRunnable { reason: "x".into() });
        assert_eq!(other.code(), "plan_not_runnable");
    }

    #[test]
    fn callbacks_other_than_becoming_primary_do_nothing() {
        let spec = crate::spec::ClusterSpec::from_yaml_str("pg_cluster: pg-test").unwrap();
        let node = Node::from_spec(&spec);
        let log = RunLog::terminal(false);
        for (action, role) in [
            ("on_role_change", "replica"),
            ("on_start", "master"),
            ("on_stop", "primary"),
        ] {
            let out =
                patroni_callback(&node, action, role, "pg-test", Duration::ZERO, &log).unwrap();
            assert!(matches!(out, CallbackOutcome::Ignored { .. }), "{out:?}");
        }
    }
}
