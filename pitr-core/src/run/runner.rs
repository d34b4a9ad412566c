//! Executing a plan, step by step, as the plan says and nothing else.
//!
//! Each step runs as its OS user (switched in the child, never through a shell), its output
//! streams into the run log, and the first failing step stops the run and is named in the
//! error. When a plan moved the data directory aside as a safety copy and a later step fails,
//! the plan's `on_failure` steps put it back.

use serde::Serialize;

use super::exec::run_streaming;
use super::files;
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

/// Executes `plan`, logging into `log`. Stops at the first failing step; when the plan kept a
/// safety copy by then, runs its `on_failure` steps.
pub fn run_plan(plan: &Plan, log: &RunLog) -> Result<RunReport> {
    check_runnable(plan)?;
    check_paths(plan)?;
    log.file_only(&format!(
        "plan: {}",
        serde_json::to_string(plan).unwrap_or_default()
    ));
    let mut run = Run {
        log,
        outcome: None,
        verified: None,
        log_offsets: plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::AwaitRecovery(w) => Some((
                    w.log_file.clone(),
                    std::fs::metadata(&w.log_file).map_or(0, |m| m.len()),
                )),
                _ => None,
            })
            .collect(),
    };
    let total = plan.steps.len();
    let mut completed = Vec::new();
    let mut step_ms = Vec::new();
    let mut kept_copy = false;
    for (i, step) in plan.steps.iter().enumerate() {
        log.line(&format!(
            "==> [{}/{total}] {}: {}",
            i + 1,
            step.id,
            step.title
        ));
        let began = std::time::Instant::now();
        if let Err(e) = run.step(step) {
            log.line(&format!("step '{}' failed: {e}", step.id));
            let rolled_back = kept_copy && rollback(plan, &mut run);
            return Err(Error::Step {
                step: step.id.clone(),
                rolled_back,
                source: Box::new(e),
            });
        }
        kept_copy |= matches!(step.action, Action::MoveDir { .. });
        completed.push(step.id.clone());
        let ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
        step_ms.push((step.id.clone(), ms));
    }
    log.line("done");
    Ok(RunReport {
        completed,
        verified: run.verified,
        log_file: log.path().map(|p| p.display().to_string()),
        step_ms,
    })
}

/// Runs the plan's `on_failure` steps; true when all of them succeeded.
fn rollback(plan: &Plan, run: &mut Run<'_>) -> bool {
    let mut ok = !plan.on_failure.is_empty();
    for step in &plan.on_failure {
        run.log
            .line(&format!("==> rollback {}: {}", step.id, step.title));
        if let Err(e) = run.step(step) {
            run.log
                .line(&format!("rollback step '{}' failed: {e}", step.id));
            ok = false;
        }
    }
    ok
}
