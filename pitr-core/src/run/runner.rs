//! Executing a plan, step by step, as the plan says and nothing else.
//!
//! Each step runs as its OS user (switched in the child, never through a shell), its output
//! streams into the run log, and the first failing step stops the run and is named in the
//! error. When a plan moved the data directory aside as a safety copy and a later step fails,
//! the plan's `on_failure` steps put it back; a rollback step that fails (the restored server
//! would not stop, say) stops the rollback, and everything is left as it is.
//!
//! Before a step that moves or removes a directory runs, [`super::guard`] checks it: a plan
//! read back from JSON cannot remove an arbitrary path. With a [`Journal`], each step is
//! recorded before it runs ([`run_journaled`]).

use serde::Serialize;

use super::exec::run_streaming;
use super::files;
use super::guard;
use super::journal::{Journal, Phase};
use super::log::RunLog;
use super::user::OsUser;
use super::watch;
use crate::error::{Error, Result};
use crate::plan::{Action, Plan, Step};
use crate::recovery::{self, RecoveryOutcome, VerifiedStop};

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Ids of the steps that ran to completion.
    pub completed: Vec<String>,
    /// The verified stop point, for a restore.
    pub verified: Option<VerifiedStop>,
    /// The run log.
    pub log_file: Option<String>,
    /// Milliseconds each completed step took, in order (`[id, ms]`).
    pub step_ms: Vec<(String, u64)>,
}

/// Milliseconds since `since` (what `step_ms` and a restore's `preflight_ms` count in).
pub fn elapsed_ms(since: std::time::Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Times the parts of a run one after the other: each [`Laps::lap`] ends a part.
#[derive(Debug)]
pub struct Laps {
    since: std::time::Instant,
    laps: Vec<(String, u64)>,
}

impl Laps {
    /// Starts the first part now.
    pub fn start() -> Laps {
        Laps {
            since: std::time::Instant::now(),
            laps: Vec::new(),
        }
    }

    /// Ends the current part as `id` and starts the next.
    pub fn lap(&mut self, id: &str) {
        self.laps.push((id.to_owned(), elapsed_ms(self.since)));
        self.since = std::time::Instant::now();
    }

    /// The parts ended so far, in order: `[id, ms]`.
    pub fn into_vec(self) -> Vec<(String, u64)> {
        self.laps
    }
}

/// Checks that a plan can run as it is (e.g. it did not lose its secrets through JSON).
pub fn check_runnable(plan: &Plan) -> Result<()> {
    for step in plan.steps.iter().chain(&plan.on_failure) {
        if let Action::WriteFile { path, contents, .. } = &step.action {
            if contents.full().is_none() {
                return Err(Error::PlanNotRunnable {
                    reason: format!(
                        "step '{}' writes {} but the plan came from JSON, where secrets are \
                         redacted: plan again from the spec or config instead",
                        step.id,
                        path.display()
                    ),
                });
            }
        }
        if let Action::Exec { argv, .. } = &step.action {
            if argv.is_empty() {
                return Err(Error::PlanNotRunnable {
                    reason: format!("step '{}' has an empty command", step.id),
                });
            }
        }
    }
    Ok(())
}

fn lookup_owner(name: Option<&str>) -> Result<Option<OsUser>> {
    name.map(OsUser::lookup).transpose()
}

/// Checks that every file the plan writes, every directory it moves and every log it reads
/// can be handled safely (see [`files`]): no link at a name, no directory on the way that
/// users other than root and the owner control. Runs before anything is touched. A directory
/// that does not exist (yet) is no danger: the step that needs it says so when it runs.
pub fn check_paths(plan: &Plan) -> Result<()> {
    for step in plan.steps.iter().chain(&plan.on_failure) {
        match check_step_paths(step) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

fn check_step_paths(step: &Step) -> Result<()> {
    match &step.action {
        Action::WriteFile { path, owner, .. } => {
            files::check_writable(path, lookup_owner(owner.as_deref())?.as_ref())?;
        }
        Action::MoveDir { from, owner, .. } => {
            if let Some(parent) = from.parent() {
                files::TrustedDir::open(parent, lookup_owner(owner.as_deref())?.as_ref(), None)?;
            }
        }
        Action::AwaitRecovery(w) => {
            if let Some(dir) = w.log_file.parent() {
                files::TrustedDir::open(dir, Some(&OsUser::lookup(&w.user)?), None)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Runs one plan.
#[derive(Debug)]
struct Run<'a> {
    log: &'a RunLog,
    outcome: Option<RecoveryOutcome>,
    verified: Option<VerifiedStop>,
    log_offsets: Vec<(std::path::PathBuf, u64)>,
}

impl Run<'_> {
    fn step(&mut self, step: &Step) -> Result<()> {
        match &step.action {
            Action::Exec {
                argv,
                run_as,
                ok_status,
            } => {
                self.log
                    .line(&format!("  $ {}", crate::plan::shell::quote_argv(argv)));
                let mut cmd = match run_as {
                    Some(u) => OsUser::lookup(u)?.command(&argv[0])?,
                    None => std::process::Command::new(&argv[0]),
                };
                cmd.args(&argv[1..]);
                run_streaming(cmd, &step.id, self.log, ok_status)
            }
            Action::WriteFile {
                path,
                mode,
                owner,
                contents,
            } => {
                let text = contents.full().ok_or_else(|| Error::PlanNotRunnable {
                    reason: format!("the contents of {} are redacted", path.display()),
                })?;
                files::write_atomic(
                    path,
                    text.as_bytes(),
                    *mode,
                    lookup_owner(owner.as_deref())?.as_ref(),
                )
            }
            Action::MoveDir { from, to, owner } => {
                files::move_dir(from, to, lookup_owner(owner.as_deref())?.as_ref())
            }
            Action::RemoveDir { path, owner } => {
                files::remove_dir(path, lookup_owner(owner.as_deref())?.as_ref())
            }
            Action::AwaitRecovery(w) => {
                let offset = self
                    .log_offsets
                    .iter()
                    .find(|(p, _)| p == &w.log_file)
                    .map_or(0, |(_, o)| *o);
                let log = self.log;
                let outcome = watch::await_recovery(w, offset, &|l| log.line(l))?;
                self.log
                    .line(&format!("  recovery ended: {:?}", outcome.ending));
                self.outcome = Some(outcome);
                Ok(())
            }
            Action::VerifyRecovery(w) => {
                let outcome = self
                    .outcome
                    .as_ref()
                    .ok_or_else(|| Error::PlanNotRunnable {
                        reason: "verify-recovery needs an await-recovery step before it".into(),
                    })?;
                let verified = recovery::verify(&w.expected(), outcome)?;
                let stopped_at = verified.stop.as_ref().map_or_else(
                    || "at the end of the archive".to_owned(),
                    ToString::to_string,
                );
                self.log.line(&format!(
                    "  verified {}: recovery stopped {stopped_at}, {}",
                    verified.target, verified.ending
                ));
                self.verified = Some(verified);
                Ok(())
            }
            Action::Note { text } => {
                for line in text.lines() {
                    self.log.line(&format!("  {line}"));
                }
                Ok(())
            }
        }
    }
}

/// The environment variable of the fault-injection hook: `STEP[@MILLIS]` makes the runner
/// `SIGKILL` its own process on entering the step with id `STEP` (after the journal recorded
/// it), or `MILLIS` milliseconds later, while the step runs. It exists for the crash tests of
/// `tests/tests/fault_e2e.rs` and does nothing unless set (see docs/restore.md).
pub const KILL_HOOK_ENV: &str = "PITR_TEST_KILL_AT";

pub(crate) fn kill_hook(step_id: &str) {
    let Ok(spec) = std::env::var(KILL_HOOK_ENV) else {
        return;
    };
    let (id, delay) = spec.split_once('@').unwrap_or((spec.as_str(), "0"));
    if id != step_id {
        return;
    }
    let delay = std::time::Duration::from_millis(delay.parse().unwrap_or(0));
    let kill = move || {
        std::thread::sleep(delay);
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    };
    if delay.is_zero() {
        kill();
    } else {
        std::thread::spawn(kill);
    }
}

/// The size of each recovery log the plan follows, now: the watcher reads only what is
/// written after.
pub fn log_offsets(plan: &Plan) -> Vec<(std::path::PathBuf, u64)> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::AwaitRecovery(w) => Some((
                w.log_file.clone(),
                std::fs::metadata(&w.log_file).map_or(0, |m| m.len()),
            )),
            _ => None,
        })
        .collect()
}

/// Executes `plan`, logging into `log`. Stops at the first failing step; when the plan kept a
/// safety copy by then, runs its `on_failure` steps.
pub fn run_plan(plan: &Plan, log: &RunLog) -> Result<RunReport> {
    run_journaled(plan, log, None)
}

fn record(
    journal: &mut Option<&mut Journal>,
    change: impl FnOnce(&mut Journal) -> Result<()>,
) -> Result<()> {
    match journal {
        Some(j) => change(j),
        None => Ok(()),
    }
}

/// Like [`run_plan`], recording each step in `journal` before it runs (see
/// [`super::journal`]). The journal's record says which directories earlier attempts of the
/// run moved (for the [guards](super::guard)) and where the recovery logs ended when the run
/// began; the run ends with the journal's phase set to how it ended.
pub fn run_journaled(
    plan: &Plan,
    log: &RunLog,
    journal: Option<&mut Journal>,
) -> Result<RunReport> {
    run_moved(plan, log, journal, Vec::new())
}

/// Like [`run_plan`], for a run that moved the directories `moved` (`(from, to)`, oldest
/// first) before: e.g. the rollback of a restore run as one step of a larger plan, whose
/// record keeps the move.
pub fn run_after_moves(
    plan: &Plan,
    log: &RunLog,
    moved: Vec<(std::path::PathBuf, std::path::PathBuf)>,
) -> Result<RunReport> {
    run_moved(plan, log, None, moved)
}

fn run_moved(
    plan: &Plan,
    log: &RunLog,
    mut journal: Option<&mut Journal>,
    earlier: Vec<(std::path::PathBuf, std::path::PathBuf)>,
) -> Result<RunReport> {
    check_runnable(plan)?;
    check_paths(plan)?;
    log.file_only(&format!(
        "plan: {}",
        serde_json::to_string(plan).unwrap_or_default()
    ));
    let (mut moved, offsets) = match &journal {
        Some(j) if !j.record().log_offsets.is_empty() => {
            (j.record().moved.clone(), j.record().log_offsets.clone())
        }
        Some(j) => (j.record().moved.clone(), log_offsets(plan)),
        None => (earlier, log_offsets(plan)),
    };
    let mut run = Run {
        log,
        outcome: None,
        verified: None,
        log_offsets: offsets,
    };
    let total = plan.steps.len();
    let mut completed = Vec::new();
    let mut step_ms = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        log.line(&format!(
            "==> [{}/{total}] {}: {}",
            i + 1,
            step.id,
            step.title
        ));
        record(&mut journal, |j| j.enter(i))?;
        kill_hook(&step.id);
        let began = std::time::Instant::now();
        let result = guard::check(step, plan, &moved).and_then(|()| run.step(step));
        if let Err(e) = result {
            log.line(&format!("step '{}' failed: {e}", step.id));
            let (rolled_back, rollback_stopped) = if moved.is_empty() || plan.on_failure.is_empty()
            {
                let _ = record(&mut journal, |j| j.finish(Phase::Failed, &e.to_string()));
                (false, None)
            } else {
                match rollback(plan, &mut run, &mut moved, &mut journal) {
                    Ok(()) => {
                        let _ = record(&mut journal, |j| {
                            j.finish(Phase::RolledBack, &e.to_string())
                        });
                        (true, None)
                    }
                    Err(why) => (false, Some(why)),
                }
            };
            return Err(Error::Step {
                step: step.id.clone(),
                rolled_back,
                rollback_stopped,
                source: Box::new(e),
            });
        }
        if let Action::MoveDir { from, to, .. } = &step.action {
            moved.push((from.clone(), to.clone()));
            record(&mut journal, |j| j.moved(from, to))?;
        }
        completed.push(step.id.clone());
        step_ms.push((step.id.clone(), elapsed_ms(began)));
    }
    record(&mut journal, |j| {
        j.finish(Phase::Done, "every step succeeded")
    })?;
    log.line("done");
    Ok(RunReport {
        completed,
        verified: run.verified,
        log_file: log.path().map(|p| p.display().to_string()),
        step_ms,
    })
}

/// Runs the plan's `on_failure` steps, each behind the [guards](super::guard); stops at the
/// first that fails, leaving everything else as it is, and says why.
fn rollback(
    plan: &Plan,
    run: &mut Run<'_>,
    moved: &mut Vec<(std::path::PathBuf, std::path::PathBuf)>,
    journal: &mut Option<&mut Journal>,
) -> std::result::Result<(), String> {
    let ids: Vec<String> = plan.on_failure.iter().map(|s| s.id.clone()).collect();
    let _ = record(journal, |j| j.rolling_back(&ids));
    for (i, step) in plan.on_failure.iter().enumerate() {
        run.log
            .line(&format!("==> rollback {}: {}", step.id, step.title));
        let _ = record(journal, |j| j.enter(i));
        kill_hook(&step.id);
        if let Err(e) = guard::check(step, plan, moved).and_then(|()| run.step(step)) {
            let why = format!("rollback step '{}' failed: {e}", step.id);
            run.log.line(&format!("{why}; the rollback stops here"));
            return Err(why);
        }
        if let Action::MoveDir { from, to, .. } = &step.action {
            moved.push((from.clone(), to.clone()));
            let _ = record(journal, |j| j.moved(from, to));
        }
    }
    Ok(())
}
