//! A point-in-time restore: gather what pgBackRest and the node say, select, check, plan
//! ([`prepare_restore`]); then run the plan under the stanza's lock, recorded in the run
//! journal, and prove the target ([`run_restore`]).
//!
//! When the journal holds an interrupted restore, the same request (equal as JSON) plans what
//! completes or undoes it ([`crate::plan::resume`]) and says so in `resumed`; another request
//! is refused with `run_interrupted`. [`undo_restore`] and [`abandon_restore`] are the other
//! ways out.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::info::StatusCode;
use crate::names::{RepoIndex, SafePath};
use crate::node::Node;
use crate::plan::Plan;
use crate::plan::resume::{self, Decision, Interrupted, Next, Resumed};
use crate::quiet::Landing;
use crate::render::Renderer;
use crate::run::facts;
use crate::run::journal::{self, Journal, Phase, RunRecord};
use crate::run::log::RunLog;
use crate::run::pgbackrest::PgBackRest;
use crate::run::runner::{self, Laps, RunReport};
use crate::run::tools::{self, Tools};
use crate::run::user::OsUser;
use crate::run::walscan::{self, Scan};
use crate::select::{RepoState, Selection, select};
use crate::snapshot::RepoSnapshot;
use crate::target::{RecoveryTarget, RepoChoice, RestoreRequest};

use super::Locked;

/// Knobs of a restore that are not part of the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestoreOptions {
    /// Where to write the restore config (beside pgbackrest.conf when `None`).
    pub restore_config_path: Option<SafePath>,
    /// Seconds to wait for recovery (one hour when 0).
    pub timeout_secs: u64,
    /// The data directory is a Patroni member's, planned as part of a cluster restore
    /// ([`crate::ops::cluster`]): PostgreSQL is stopped by the cluster plan before this plan
    /// runs (so no stop step), and its port is passed on the command line as Patroni does.
    pub under_patroni: bool,
}

/// A planned restore with the facts behind it.
#[derive(Debug, Clone, Serialize)]
pub struct PreparedRestore {
    /// The plan.
    pub plan: Plan,
    /// The chosen set and why.
    pub selection: Selection,
    /// What was asked, as the run journal records it ([`request_identity`]).
    #[serde(skip)]
    pub request: serde_json::Value,
    /// When the plan continues an interrupted run: which, and what it does with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<Resumed>,
    /// Milliseconds of each part of the pre-flight that planned it ([`prepare_restore`]).
    #[serde(skip)]
    pub preflight_ms: Vec<(String, u64)>,
}

/// A request as the run journal records it: a re-run with an equal one continues an
/// interrupted run.
pub fn request_identity(request: &RestoreRequest) -> serde_json::Value {
    serde_json::to_value(request).unwrap_or_default()
}

fn interrupted_restore(node: &Node) -> Result<Option<RunRecord>> {
    let owner = OsUser::lookup(&node.dbsu).ok();
    let path = journal::journal_path(&node.log_dir, node.stanza.as_str());
    Ok(journal::load(&path, owner.as_ref())?.filter(|r| r.is_interrupted() && r.kind == "restore"))
}

/// The node to restore with, after the request's `cluster` and `repo` are applied.
fn node_for(node: &Node, request: &RestoreRequest) -> Result<(Node, Option<Vec<RepoIndex>>)> {
    let mut node = node.clone();
    if let Some(c) = &request.cluster {
        node.stanza = c.clone();
    }
    let repos = match &request.repo {
        None => None,
        Some(RepoChoice::Index(i)) => {
            if !node.repos.iter().any(|r| r.index == *i) {
                return Err(Error::InvalidSetting {
                    key: "repo".into(),
                    context: "restore request".into(),
                    message: format!(
                        "repo{i} is not configured on this node; configured: {}",
                        node.repos
                            .iter()
                            .map(|r| format!("repo{}", r.index))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            Some(vec![*i])
        }
        Some(RepoChoice::Name(name)) => {
            let found = node.repos.iter().find(|r| &r.name == name).ok_or_else(|| {
                Error::InvalidSetting {
                    key: "repo".into(),
                    context: "restore request".into(),
                    message: format!(
                        "no repo named '{name}' is in use; in use: {}",
                        node.repos
                            .iter()
                            .map(|r| r.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            })?;
            Some(vec![found.index])
        }
        Some(RepoChoice::Definition(_)) => {
            return Err(Error::InvalidSetting {
                key: "repo".into(),
                context: "restore request".into(),
                message: "an inline repo definition needs a spec that defines it in \
                          pgbackrest_repo; name it there and pass its name"
                    .into(),
            });
        }
    };
    Ok((node, repos))
}

/// Gathers what pgBackRest knows about the node's stanza.
pub fn snapshot(node: &Node) -> Result<RepoSnapshot> {
    PgBackRest::of(node, &tools::pgbackrest()?)?.snapshot()
}

/// Plans a restore on `node`. `snapshot` is gathered with pgBackRest when `None`.
///
/// The time each part takes is kept in `preflight_ms`: `tools` (locating the binaries),
/// `snapshot` (`pgbackrest info`, each repo's archive listing, the timeline histories, and
/// beside them pgBackRest's version when the node does not say it; only when asked here),
/// `select`, `walscan` (reading archived WAL for a time target) and `plan` (facts of the data
/// directory, the run journal, the plan).
pub fn prepare_restore(
    node: &Node,
    request: &RestoreRequest,
    options: &RestoreOptions,
    snapshot: Option<RepoSnapshot>,
) -> Result<PreparedRestore> {
    let mut laps = Laps::start();
    let (mut node, repos) = node_for(node, request)?;
    let data = request.data.clone().unwrap_or_else(|| node.data.clone());
    // The binaries must match the data: the node's own directory tells the major version.
    let version_dir = if data.join("PG_VERSION").is_file() {
        &data
    } else {
        &node.data
    };
    let tools = Tools::locate(node.pg_bin_dir.as_deref(), Some(version_dir))?;
    laps.lap("tools");
    let asked = snapshot.is_none() || node.version.is_none();
    // The restore config depends on the version (`repo-block` needs `beta=y` on 2.45), which a
    // node read from pgbackrest.conf does not know: asked while the snapshot is gathered.
    let (version, snapshot) = std::thread::scope(|s| {
        let version = node
            .version
            .is_none()
            .then(|| s.spawn(|| super::pgbackrest_version(&tools.pgbackrest)));
        let snapshot = match snapshot {
            Some(s) => Ok(s),
            None => PgBackRest::of(&node, &tools.pgbackrest).and_then(|p| p.snapshot()),
        };
        (version.and_then(|v| v.join().ok().flatten()), snapshot)
    });
    let snapshot = snapshot?;
    if version.is_some() {
        node.version = version;
    }
    if asked {
        laps.lap("snapshot");
    }
    let stanza = snapshot.stanza(&node.stanza)?;
    if matches!(
        stanza.status.code,
        StatusCode::MissingStanzaPath | StatusCode::MissingStanzaData
    ) {
        stanza.ensure_ok()?;
    }
    let selection = select(
        RepoState {
            stanza,
            histories: &snapshot.histories,
            listings: &snapshot.listings,
            marks: &snapshot.marks,
        },
        request,
        repos.as_deref(),
    )?;
    let mut selection = selection;
    laps.lap("select");
    if land_time_target(&node, &tools, &snapshot, request, &mut selection)? {
        laps.lap("walscan");
    }
    let mut facts = facts::gather(&data);
    if options.under_patroni {
        facts.postmaster_pid = None;
    }
    let timeout = if options.timeout_secs == 0 {
        3600
    } else {
        options.timeout_secs
    };
    let mut site = node.restore_site(
        &tools.pg_bin_dir,
        &tools.pgbackrest,
        options.restore_config_path.clone(),
        timeout,
    );
    site.patroni_member = options.under_patroni;
    let identity = request_identity(request);
    let plan_with = |facts: &crate::plan::restore::NodeFacts| {
        crate::plan::restore::plan_restore(&site, request, &selection, facts, &Renderer::new())
    };
    let (mut plan, resumed) = match interrupted_restore(&node)? {
        None => (plan_with(&facts)?, None),
        Some(r) if r.request != identity => return Err(super::interrupted(&r)),
        Some(r) => {
            let original = r.plan()?.ok_or_else(|| Error::PlanNotRunnable {
                reason: format!("the run journal of run {} holds no plan", r.run_id),
            })?;
            let (resumed, next) = resume::decide(
                Interrupted {
                    run_id: &r.run_id,
                    plan: &original,
                    current: r.current,
                    rolling_back: r.phase == Phase::RollingBack,
                },
                &facts,
                &|p| crate::run::files::exists_nofollow(p),
            );
            let plan = match next {
                Next::Plan(plan) => plan,
                Next::Redo { undo, facts } => {
                    let mut fresh = plan_with(&facts)?;
                    fresh.steps.splice(0..0, undo);
                    fresh
                }
            };
            (plan, Some(resumed))
        }
    };
    if let Some(r) = &resumed {
        plan.warnings.insert(
            0,
            format!(
                "continuing interrupted run {} ({}): {}",
                r.run_id,
                r.decision.as_str(),
                r.why
            ),
        );
    }
    runner::check_paths(&plan)?;
    // E.g. a repo whose archive could not be listed: holes in it would go unnoticed.
    plan.warnings
        .splice(0..0, snapshot.warnings.iter().cloned());
    laps.lap("plan");
    Ok(PreparedRestore {
        plan,
        selection,
        request: identity,
        resumed,
        preflight_ms: laps.into_vec(),
    })
}

/// For a time target, reads the archive after it (see [`crate::quiet`]): a target after the
/// last commit lands on the end of that WAL (recorded in `selection.landing`), one the archive
/// does not reach yet is refused, and when the archive cannot tell, the restore goes ahead as
/// asked with a warning. Returns whether it read the archive.
fn land_time_target(
    node: &Node,
    tools: &Tools,
    snapshot: &RepoSnapshot,
    request: &RestoreRequest,
    selection: &mut Selection,
) -> Result<bool> {
    let RecoveryTarget::Time(target) = request.target else {
        return Ok(false);
    };
    let Some(listing) = snapshot.listings.get(&selection.repo) else {
        return Ok(false);
    };
    // Outside the window is said as such, before any WAL is read.
    crate::plan::restore::check_window(request, selection)?;
    let pgbackrest = PgBackRest::of(node, &tools.pgbackrest)?;
    let scan = Scan {
        pgbackrest: &pgbackrest,
        pg_bin_dir: &tools.pg_bin_dir,
        scratch_parent: &node.log_dir,
        repo: selection.repo,
        listing,
        histories: &snapshot.histories,
        timeline: selection.timeline,
        first_segment: selection.first_segment,
        set_stop_lsn: selection.set_stop_lsn,
        target,
        exclusive: request.exclusive,
    };
    match walscan::landing(&scan) {
        Landing::CommitAfter(_) => {}
        Landing::Quiet(q) => selection.landing = Some(q),
        Landing::NotReached(last) => {
            return Err(Error::TargetNotArchived {
                target: request.target.to_string(),
                why: match last {
                    Some(s) => format!(
                        "no transaction ended after the last one in repo{} timeline {}, and the \
                         newest archived record with a time is a {s}",
                        selection.repo, selection.timeline
                    ),
                    None => format!(
                        "nothing in repo{} timeline {} was archived after it",
                        selection.repo, selection.timeline
                    ),
                },
                window: crate::window::describe(&selection.windows),
            });
        }
        Landing::Unknown(why) => selection.warnings.push(format!(
            "could not tell from the archive whether a transaction ended after {} ({why}); if \
             none did, recovery ends before the target",
            request.target
        )),
    }
    Ok(true)
}

/// What a restore did; the document `pitr restore --json` prints and Python's `Plan.run()`
/// returns.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    /// The plan that ran (secrets redacted when serialized).
    pub plan: Plan,
    /// The chosen set and why.
    pub selection: Selection,
    /// Milliseconds of each part of the pre-flight that planned it (`[part, ms]`, see
    /// [`prepare_restore`]); `report.step_ms` times the steps.
    pub preflight_ms: Vec<(String, u64)>,
    /// The steps that ran and the verified stop point.
    pub report: RunReport,
    /// When the run continued an interrupted one: which, and what it did with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<Resumed>,
}

/// The journal record a run of `prepared` continues or begins, checked against what the
/// journal holds now (under the lock).
fn record_for(prepared: &PreparedRestore, locked: &Locked) -> Result<RunRecord> {
    let interrupted = locked
        .last_run()?
        .filter(|r| r.is_interrupted() && r.kind == "restore");
    let mut record = match (interrupted, &prepared.resumed) {
        (None, None) => RunRecord::new("restore", &prepared.plan.stanza, prepared.request.clone()),
        (Some(r), Some(res)) if r.run_id == res.run_id => r,
        (Some(r), _) => return Err(super::interrupted(&r)),
        (None, Some(res)) => return Err(super::no_longer_interrupted(&res.run_id)),
    };
    // A move the run made just before it was killed may be missing from the journal: its
    // effect on disk says it happened.
    if let Some(original) = record.plan()? {
        let upto = record
            .current
            .map_or(0, |c| c + 1)
            .min(original.steps.len());
        for step in &original.steps[..upto] {
            if let crate::plan::Action::MoveDir { from, to, .. } = &step.action {
                let known = record.moved.iter().any(|(f, t)| f == from && t == to);
                let done = !crate::run::files::exists_nofollow(from)
                    && crate::run::files::exists_nofollow(to);
                if !known && done {
                    record.moved.push((from.clone(), to.clone()));
                }
            }
        }
    }
    match prepared.resumed.as_ref().map(|r| r.decision) {
        // Undoing: the record stays the rolling-back forward run it was.
        Some(Decision::Undo) => {}
        // Completing: recovery is followed from where the log stood when the run began.
        Some(Decision::Complete) => record.set_plan(&prepared.plan),
        None | Some(Decision::Redo) => {
            record.set_plan(&prepared.plan);
            record.log_offsets = runner::log_offsets(&prepared.plan);
        }
    }
    record.phase = if prepared
        .resumed
        .as_ref()
        .is_some_and(|r| r.decision == Decision::Undo)
    {
        Phase::RollingBack
    } else {
        Phase::Running
    };
    Ok(record)
}

/// Runs a prepared restore under the stanza's lock, logging into `log` and recording each step
/// in the run journal. A plan that continues an interrupted run must still find that run
/// interrupted; a fresh one must find none (`run_interrupted` otherwise).
pub fn run_restore(
    prepared: PreparedRestore,
    log: &RunLog,
    locked: &Locked,
) -> Result<RestoreOutcome> {
    locked.check(&prepared.plan.stanza)?;
    let record = record_for(&prepared, locked)?;
    let mut journal = Journal::begin(locked.journal_path(), locked.owner().cloned(), record)?;
    if let Some(r) = &prepared.resumed {
        log.line(&format!(
            "continuing interrupted run {}: {}",
            r.run_id, r.why
        ));
    }
    let report = runner::run_journaled(&prepared.plan, log, Some(&mut journal))
        .map_err(|e| explain_failure(&prepared.plan, e))?;
    if let Some(r) = prepared
        .resumed
        .as_ref()
        .filter(|r| r.decision == Decision::Undo)
    {
        journal.finish(Phase::Undone, &r.why)?;
        return Err(Error::RunUndone {
            run_id: r.run_id.clone(),
            reason: format!(
                "{}; the safety copy is back in place. Restore again when the cause is fixed",
                r.why
            ),
        });
    }
    Ok(RestoreOutcome {
        plan: prepared.plan,
        selection: prepared.selection,
        preflight_ms: prepared.preflight_ms,
        report,
        resumed: prepared.resumed,
    })
}

/// Runs a prepared restore of a clone beside the cluster (a drill): no journal, since an
/// interrupted clone is removed by the next drill rather than completed, and must not block the
/// stanza's restores and backups. The caller holds the stanza's lock.
pub(crate) fn run_unjournaled(prepared: PreparedRestore, log: &RunLog) -> Result<RestoreOutcome> {
    let report = runner::run_journaled(&prepared.plan, log, None)
        .map_err(|e| explain_failure(&prepared.plan, e))?;
    Ok(RestoreOutcome {
        plan: prepared.plan,
        selection: prepared.selection,
        preflight_ms: prepared.preflight_ms,
        report,
        resumed: None,
    })
}

/// What `pitr restore --undo` / `--abandon` did with an interrupted run.
#[derive(Debug, Clone, Serialize)]
pub struct InterruptedOutcome {
    /// The run.
    pub run_id: String,
    /// `undone` or `abandoned`.
    pub outcome: Phase,
    /// The step it had been interrupted in.
    pub interrupted_at: String,
    /// What was done, and where things are.
    pub message: String,
    /// The steps that ran (undo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<RunReport>,
}

fn the_interrupted(locked: &Locked) -> Result<RunRecord> {
    locked
        .last_run()?
        .filter(|r| r.is_interrupted() && r.kind == "restore")
        .ok_or_else(|| Error::PlanNotRunnable {
            reason: "no restore of this stanza is interrupted on this node: nothing to undo or \
                     abandon"
                .into(),
        })
}

/// Puts back the safety copy of the interrupted restore of `node`'s stanza (`pitr restore
/// --undo`): stops a server running in the restored directory, removes it, moves the copy
/// back and starts the server again when the run had stopped it. Without a safety copy there
/// is nothing to put back: refused, the journal kept.
pub fn undo_restore(node: &Node, log: &RunLog, locked: &Locked) -> Result<InterruptedOutcome> {
    let record = the_interrupted(locked)?;
    let original = record.plan()?.ok_or_else(|| Error::PlanNotRunnable {
        reason: format!("the run journal of run {} holds no plan", record.run_id),
    })?;
    let copy = match &original.summary {
        crate::plan::Summary::Restore(r) => r.safety_copy.clone(),
        _ => None,
    };
    let at = record
        .current_step()
        .unwrap_or("before its first step")
        .to_owned();
    let Some(copy) = copy else {
        return Err(Error::PlanNotRunnable {
            reason: format!(
                "run {} kept no safety copy, so there is nothing to put back: re-run the same \
                 restore to complete it, or `pitr restore --abandon`",
                record.run_id
            ),
        });
    };
    let data = match &original.summary {
        crate::plan::Summary::Restore(r) => r.data.clone(),
        _ => node.data.to_path_buf(),
    };
    let (_, next) = resume::decide(
        Interrupted {
            run_id: &record.run_id,
            plan: &original,
            current: record.current,
            rolling_back: true,
        },
        &facts::gather(&data),
        &|p| crate::run::files::exists_nofollow(p),
    );
    let Next::Plan(undo) = next else {
        unreachable!("a rolling-back run is undone by a plan")
    };
    let mut record = record;
    record.phase = Phase::RollingBack;
    let mut journal = Journal::begin(locked.journal_path(), locked.owner().cloned(), record)?;
    let report = runner::run_journaled(&undo, log, Some(&mut journal))?;
    let message = format!(
        "the safety copy {} is back at {}",
        copy.display(),
        data.display()
    );
    journal.finish(Phase::Undone, &format!("undone by request: {message}"))?;
    Ok(InterruptedOutcome {
        run_id: journal.record().run_id.clone(),
        outcome: Phase::Undone,
        interrupted_at: at,
        message,
        report: Some(report),
    })
}

/// Forgets the interrupted restore of the stanza and changes nothing (`pitr restore
/// --abandon`): the data directory and the safety copy stay as they are, for the operator.
pub fn abandon_restore(locked: &Locked) -> Result<InterruptedOutcome> {
    let record = the_interrupted(locked)?;
    let original = record.plan()?;
    let where_things_are = match original.as_ref().map(|p| &p.summary) {
        Some(crate::plan::Summary::Restore(r)) => format!(
            "{} is left as the run left it{}",
            r.data.display(),
            r.safety_copy
                .as_ref()
                .filter(|c| crate::run::files::exists_nofollow(c))
                .map(|c| format!("; the safety copy is {}", c.display()))
                .unwrap_or_default()
        ),
        _ => "everything is left as the run left it".to_owned(),
    };
    let at = record
        .current_step()
        .unwrap_or("before its first step")
        .to_owned();
    let mut journal = Journal::begin(locked.journal_path(), locked.owner().cloned(), record)?;
    journal.finish(
        Phase::Abandoned,
        &format!("abandoned by request: {where_things_are}"),
    )?;
    Ok(InterruptedOutcome {
        run_id: journal.record().run_id.clone(),
        outcome: Phase::Abandoned,
        interrupted_at: at,
        message: where_things_are,
        report: None,
    })
}

/// pgBackRest errors that mean a repo could not be read, by code (`ERROR: [049]: ...`) and by
/// name (`WARN: repo2: [HostConnectError] ...`, when pgBackRest then fails with another code
/// such as 75, "backup set is not valid"): 39 protocol, 41 file open, 42 file read, 49 host
/// connect, 72 host invalid, 101 service (an object store's 5xx).
const REPO_READ_ERRORS: [(&str, &str); 6] = [
    ("[039]", "[ProtocolError]"),
    ("[041]", "[FileOpenError]"),
    ("[042]", "[FileReadError]"),
    ("[049]", "[HostConnectError]"),
    ("[072]", "[HostInvalidError]"),
    ("[101]", "[ServiceError]"),
];

/// The errno text of `ENOSPC`, as pgBackRest and PostgreSQL quote it.
const DISK_FULL: &str = "No space left on device";

/// pgBackRest's exit status when it cannot write a file (64, FileWriteError): in a restore, a
/// file of the data directory. Its error line may be lost among the progress lines of the
/// output's tail, so the status tells.
const WRITE_FAILED_STATUS: &str = "exit status: 64";

/// Names what a failed step of a restore plan ran into, when its output tells: the
/// filesystem of the data directory full (`disk_full`: `ENOSPC` quoted, or `pgbackrest restore`
/// failing to write a file), or the repo of `pgbackrest restore` unreadable
/// (`repo_unreachable`, naming the repo). Any other error is returned as it is;
/// the step, and whether the safety copy was put back, stay in the error either way.
pub fn explain_failure(plan: &Plan, error: Error) -> Error {
    let Error::Step {
        step,
        rolled_back,
        rollback_stopped,
        source,
    } = error
    else {
        return error;
    };
    let text = match source.as_ref() {
        Error::CommandFailed { output, .. } => output.as_str(),
        Error::RecoveryFailed { reason, .. } => reason.as_str(),
        _ => "",
    };
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .map(|l| l.trim().trim_start_matches("| ").to_owned())
    };
    let crate::plan::Summary::Restore(summary) = &plan.summary else {
        return Error::Step {
            step,
            rolled_back,
            rollback_stopped,
            source,
        };
    };
    let write_failed = step == "restore"
        && matches!(source.as_ref(), Error::CommandFailed { status, .. } if status == WRITE_FAILED_STATUS);
    let explained = if let Some(detail) = line(DISK_FULL).or_else(|| {
        write_failed.then(|| {
            line("ERROR: [064]").unwrap_or_else(|| {
                "pgbackrest restore could not write a file (error 64, FileWriteError)".into()
            })
        })
    }) {
        Some(Error::DiskFull {
            path: summary.data.clone(),
            during: format!("step '{step}'"),
            detail,
        })
    } else if step == "restore" {
        REPO_READ_ERRORS
            .iter()
            .find_map(|(code, name)| line(&format!("ERROR: {code}")).or_else(|| line(name)))
            .map(|detail| Error::RepoUnreachable {
                repo: u32::from(summary.repo.get()),
                during: "pgbackrest restore".into(),
                detail,
            })
    } else {
        None
    };
    Error::Step {
        step,
        rolled_back,
        rollback_stopped,
        source: explained.map_or(source, Box::new),
    }
}
