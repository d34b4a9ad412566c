//! Running a cluster plan: every step in order, each recorded in the cluster run journal
//! before it runs (with what later steps need: the safety copy moved, the restored timeline);
//! before the DCS is emptied, a failure brings the cluster back as it was. A re-run of an
//! interrupted run goes on from the step it was in, or brings the cluster back
//! ([`super::resume`]). A restore into a new cluster records, before each step that creates
//! something, what it creates; a re-run of an interrupted one removes that and restores again
//! ([`super::new_resume`]).

use std::path::PathBuf;

use super::{ClusterOutcome, PreparedClusterRestore};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::ops::backup::BackupOutcome;
use crate::ops::continuity::ContinuityOutcome;
use crate::plan::Plan;
use crate::plan::cluster::resume::ClusterNext;
use crate::plan::cluster::{
    ClusterAction, ClusterPlan, ClusterStep, Created, ExpectTimeline, undo_steps,
};
use crate::plan::resume::{Decision, Interrupted, Next};
use crate::plan::summary::PlanKind;
use crate::run::journal::{Journal, Phase};
use crate::run::log::RunLog;
use crate::run::probe::Endpoint;
use crate::run::runner::{self, RunReport};
use crate::run::user::OsUser;
use crate::run::{cluster as wait, facts, files};

use super::new_resume::{NOTE_CREATED, created};
use super::resume::{NOTE_RESTORED_TIMELINE, NOTE_SELECTION, NOTE_TIMELINE, new_record, set_plan};

/// Where a run stands, for the steps that depend on earlier ones.
pub(super) struct ClusterRun<'a> {
    pub(super) plan: &'a ClusterPlan,
    /// The node of the member whose continuity and backup steps run (the chosen one).
    pub(super) node: &'a Node,
    pub(super) log: &'a RunLog,
    pub(super) locked: &'a crate::ops::Locked,
    /// The cluster run journal (of the new stanza for a restore into a new cluster); none for
    /// a phase run by the playbook.
    pub(super) journal: Option<Journal>,
    pub(super) restore: Option<RunReport>,
    pub(super) restored_timeline: Option<u64>,
    pub(super) new_timeline: Option<u64>,
    pub(super) continuity: Option<ContinuityOutcome>,
    pub(super) backup: Option<BackupOutcome>,
}

impl ClusterRun<'_> {
    /// Records a change in the journal, if the run keeps one.
    fn record(&mut self, change: impl FnOnce(&mut Journal) -> Result<()>) -> Result<()> {
        self.journal.as_mut().map_or(Ok(()), change)
    }

    /// Records a change in the journal; a failure is logged, not fatal (a rollback goes on).
    fn record_quietly(&mut self, change: impl FnOnce(&mut Journal) -> Result<()>) {
        if let Err(e) = self.record(change) {
            self.log.line(&format!("warning: the run journal: {e}"));
        }
    }

    /// What a restore into a new cluster created, as the journal says.
    fn created(&self) -> Vec<Created> {
        self.journal
            .as_ref()
            .map_or_else(Vec::new, |j| created(&j.record().notes))
    }

    /// Records, before `step` of a restore into a new cluster runs, what it creates.
    fn record_created(&mut self, step: &ClusterStep) -> Result<()> {
        let Some(c) = Created::by(step).filter(|_| self.plan.new_cluster.is_some()) else {
            return Ok(());
        };
        let mut all = self.created();
        if all.contains(&c) {
            return Ok(());
        }
        all.push(c);
        let value = serde_json::to_value(all).unwrap_or_default();
        self.record(|j| j.note(NOTE_CREATED, value))
    }

    /// The steps that bring things back: for a restore into a new cluster, the undo steps of
    /// what it created.
    fn rollback_steps(&self) -> Vec<ClusterStep> {
        if self.plan.new_cluster.is_some() {
            undo_steps(self.plan, &self.created())
        } else {
            self.plan.on_failure.clone()
        }
    }

    fn exec(
        &self,
        id: &str,
        argv: &[String],
        run_as: Option<&str>,
        stdin: Option<&str>,
        ok_status: &[i32],
    ) -> Result<()> {
        wait::exec(id, argv, run_as, stdin, ok_status, self.log)
    }

    pub(super) fn step(&mut self, step: &ClusterStep) -> Result<()> {
        let plan = self.plan;
        match &step.action {
            ClusterAction::Exec {
                argv,
                run_as,
                stdin,
                ok_status,
            } => self.exec(
                &step.id,
                argv,
                run_as.as_deref(),
                stdin.as_deref(),
                ok_status,
            ),
            ClusterAction::Pause {
                api,
                pause,
                timeout_secs,
            } => wait::set_pause(api, *pause, *timeout_secs),
            ClusterAction::AwaitArchived {
                socket_dir,
                port,
                user,
                timeout_secs,
                force,
            } => {
                let endpoint = Endpoint {
                    socket_dir: socket_dir.clone(),
                    port: *port,
                    user: user.clone(),
                };
                match wait::await_archived(&endpoint, *timeout_secs)? {
                    Ok(()) => Ok(()),
                    Err((ready, last)) if *force => {
                        self.log.line(&format!(
                            "  warning: {ready} WAL file(s) still wait for archiving ({last}); \
                             going on as --force says: they will be missing from the repo"
                        ));
                        Ok(())
                    }
                    Err((ready, last)) => Err(Error::ArchiveNotDrained {
                        member: step.member.clone(),
                        ready,
                        seconds: *timeout_secs,
                        last,
                    }),
                }
            }
            ClusterAction::AwaitStopped { data, timeout_secs } => {
                wait::await_stopped(data, *timeout_secs)
            }
            ClusterAction::Restore => {
                let report = runner::run_plan(&plan.restore, self.log)?;
                if let Some((data, copy)) = restore_dirs(&plan.restore) {
                    self.record(|j| j.moved(&data, &copy))?;
                }
                self.restored_timeline = report
                    .verified
                    .as_ref()
                    .and_then(|v| v.timeline)
                    .map(|t| u64::from(t.get()));
                let restored = self.restored_timeline;
                self.record(|j| j.note(NOTE_RESTORED_TIMELINE, restored.into()))?;
                self.restore = Some(report);
                Ok(())
            }
            ClusterAction::AwaitLeader {
                api,
                timeline,
                timeout_secs,
            } => {
                let before = plan.timeline_before.unwrap_or(0);
                let expected = self.new_timeline;
                let (what, accept): (String, Box<dyn Fn(u64) -> bool>) = match *timeline {
                    ExpectTimeline::New => (
                        format!(
                            "{} leading on the new timeline {}",
                            step.member,
                            expected.map_or_else(|| format!("(after {before})"), |t| t.to_string())
                        ),
                        Box::new(move |t| expected.map_or(t > before, |e| t == e)),
                    ),
                    ExpectTimeline::AtLeast(tl) => (
                        format!("{} leading on timeline {tl} or later", step.member),
                        Box::new(move |t| t >= tl),
                    ),
                };
                let tl = wait::await_leader(api, &what, *timeout_secs, accept)?;
                self.log
                    .line(&format!("  {} leads on timeline {tl}", step.member));
                if *timeline == ExpectTimeline::New {
                    self.new_timeline = Some(tl);
                    self.record(|j| j.note(NOTE_TIMELINE, tl.into()))?;
                }
                Ok(())
            }
            ClusterAction::RemoveDir { path, owner } => {
                files::remove_dir(path, Some(&OsUser::lookup(owner)?))
            }
            ClusterAction::AwaitStreaming {
                socket_dir,
                port,
                user,
                member,
                timeout_secs,
            } => wait::await_streaming(
                &Endpoint {
                    socket_dir: socket_dir.clone(),
                    port: *port,
                    user: user.clone(),
                },
                member,
                *timeout_secs,
                self.log,
            ),
            ClusterAction::ArchiveHistory {
                argv,
                pg_wal,
                run_as,
            } => {
                let Some(tl) = self.restored_timeline else {
                    return Err(Error::PlanNotRunnable {
                        reason: "the restored timeline is not known: the restore step did not \
                                 verify a promotion"
                            .into(),
                    });
                };
                let mut argv = argv.clone();
                argv.push(
                    pg_wal
                        .join(format!("{tl:08X}.history"))
                        .display()
                        .to_string(),
                );
                self.exec(&step.id, &argv, Some(run_as), None, &[])
            }
            ClusterAction::Continuity => {
                self.continuity = Some(crate::ops::continuity(
                    self.node,
                    false,
                    self.log,
                    self.locked,
                )?);
                Ok(())
            }
            ClusterAction::Backup => {
                let backup = crate::ops::prepare_backup(
                    self.node,
                    Some(crate::names::BackupType::Full),
                    None,
                    None,
                )?;
                let outcome = crate::ops::run_backup(backup, self.log, self.locked)?;
                if outcome.skipped {
                    return Err(Error::PlanNotRunnable {
                        reason: format!(
                            "the backup skipped: {} is not the primary as Patroni and \
                             PostgreSQL see it",
                            step.member
                        ),
                    });
                }
                self.backup = Some(outcome);
                Ok(())
            }
        }
    }

    /// Puts the chosen member's data directory back as it was, when the restore moved it
    /// aside and the safety copy is still there (whether the restore failed, completed, or was
    /// cut short): a server running in the restored directory stopped, the restored directory
    /// removed, the copy moved back. Whether the data directory is as it was.
    pub(super) fn put_data_back(&self) -> bool {
        let restore = &self.plan.restore;
        let Some((data, copy)) = restore_dirs(restore) else {
            // No safety copy: the restore moves nothing aside.
            return self.restore.is_none();
        };
        if !files::exists_nofollow(&copy) {
            // Never moved (or put back by the restore's own rollback).
            return true;
        }
        let (_, next) = crate::plan::resume::decide(
            Interrupted {
                run_id: self
                    .journal
                    .as_ref()
                    .map_or("", |j| j.record().run_id.as_str()),
                plan: restore,
                current: None,
                rolling_back: true,
            },
            &facts::gather(&data),
            &|p| files::exists_nofollow(p),
        );
        let Next::Plan(undo) = next else {
            return false;
        };
        self.log.line("==> rollback: put the safety copy back");
        match runner::run_after_moves(&undo, self.log, vec![(data, copy)]) {
            Ok(_) => true,
            Err(e) => {
                self.log
                    .line(&format!("putting the safety copy back failed: {e}"));
                false
            }
        }
    }

    /// Brings the cluster back as it was, recording each step in the journal; whether it is,
    /// and a sentence on the outcome.
    fn roll_back(&mut self) -> (bool, String) {
        let plan = self.plan;
        let steps = self.rollback_steps();
        let ids: Vec<String> = steps.iter().map(|s| s.id.clone()).collect();
        self.record_quietly(|j| j.rolling_back(&ids));
        if !self.put_data_back() {
            return (
                false,
                format!(
                    "not rolled back: the data directory of {} is not as it was; the safety \
                     copy is {}; see docs/cluster-pitr.md, going back by hand",
                    plan.chosen,
                    restore_dirs(&plan.restore)
                        .map_or_else(|| "gone".to_owned(), |(_, c)| c.display().to_string())
                ),
            );
        }
        for (i, step) in steps.iter().enumerate() {
            self.log.line(&format!(
                "==> rollback {} on {}: {}",
                step.id, step.member, step.title
            ));
            self.record_quietly(|j| j.enter(i));
            runner::kill_hook(&step.id);
            if let Err(e) = self.step(step) {
                self.log
                    .line(&format!("rollback step '{}' failed: {e}", step.id));
                if let Some(new) = &plan.new_cluster {
                    return (
                        false,
                        format!(
                            "undoing failed at '{}' ({e}); cluster {} was not touched; fix the \
                             cause and run the same command again (or with --undo), or \
                             --abandon and remove the new cluster {} by hand \
                             (docs/cluster-pitr.md)",
                            step.id, plan.scope, new.scope
                        ),
                    );
                }
                return (
                    false,
                    format!(
                        "rolling back failed at '{}' ({e}); the data directories are as they \
                         were: start Patroni on {} first, then on the others, and resume \
                         (patronictl resume); or re-run the same restore to try again",
                        step.id, plan.leader_before
                    ),
                );
            }
        }
        if let Some(new) = &plan.new_cluster {
            return (
                true,
                format!(
                    "undone: what the interrupted run created of the new cluster {} is removed \
                     ({}); cluster {} was not touched",
                    new.scope,
                    if ids.is_empty() {
                        "it had created nothing".to_owned()
                    } else {
                        ids.join(", ")
                    },
                    plan.scope
                ),
            );
        }
        (
            true,
            format!(
                "rolled back: the cluster runs as before ({} leads, every member streams, \
                 Patroni resumed)",
                plan.leader_before
            ),
        )
    }
}

/// The safety copy of a restore plan, when it keeps one.
pub(super) fn restore_safety_copy(plan: &Plan) -> Option<PathBuf> {
    restore_dirs(plan).map(|(_, copy)| copy)
}

/// The data directory a restore plan restores and its safety copy, when it keeps one.
fn restore_dirs(plan: &Plan) -> Option<(PathBuf, PathBuf)> {
    match &plan.summary {
        crate::plan::Summary::Restore(r) => r.safety_copy.clone().map(|c| (r.data.clone(), c)),
        _ => None,
    }
}

/// How a run of a prepared cluster restore ended, when it did not fail.
pub(super) enum Ended {
    /// Every step ran.
    Done(Box<ClusterOutcome>),
    /// An interrupted run was undone: the cluster runs as before.
    Undone {
        /// The interrupted run.
        run_id: String,
        /// What was done, in words.
        message: String,
    },
}

/// Runs a prepared cluster restore, logging into `log`. Refused before anything is touched
/// when a member is on another host. The first failing step stops the run; before the DCS is
/// emptied, the cluster is brought back as it was. A re-run that undoes an interrupted run
/// ends with `run_undone`.
///
/// A re-run of an interrupted restore into a new cluster removes what that run created, then
/// (under the same lock) prepares the restore again, pre-flight included, and runs it; the
/// outcome's `resumed` says so.
pub fn run_cluster_restore(
    mut prepared: PreparedClusterRestore,
    log: &RunLog,
) -> Result<ClusterOutcome> {
    let redo = prepared.redo.take();
    let resumed = prepared.resumed.clone();
    let locked = check_and_lock(&prepared)?;
    let undone = match run_locked(prepared, log, &locked)? {
        Ended::Done(outcome) => return Ok(*outcome),
        Ended::Undone { run_id, message } => (run_id, message),
    };
    let Some(redo) = redo else {
        let (run_id, message) = undone;
        return Err(Error::RunUndone {
            run_id,
            reason: format!("{message}. Restore again when the cause is fixed"),
        });
    };
    log.line("==> restoring into the new cluster again, from the start");
    let fresh =
        super::new::prepare_new_cluster(&redo.specs, &redo.new_spec, &redo.request, &redo.options)?;
    check(&fresh)?;
    match run_locked(fresh, log, &locked)? {
        Ended::Done(mut outcome) => {
            outcome.resumed = resumed;
            Ok(*outcome)
        }
        Ended::Undone { run_id, message } => Err(Error::RunUndone {
            run_id,
            reason: message,
        }),
    }
}

/// The journal record the run continues or begins, checked under the lock against what the
/// cluster run journal holds now.
fn journal_for(prepared: &PreparedClusterRestore, locked: &crate::ops::Locked) -> Result<Journal> {
    let interrupted = locked
        .last_cluster_run()?
        .filter(|r| r.is_interrupted() && r.kind == crate::plan::cluster::CLUSTER_RESTORE);
    let record = match (interrupted, &prepared.resumed) {
        (None, None) => new_record(prepared),
        (Some(mut r), Some(res)) if r.run_id == res.run_id => {
            set_plan(&mut r, prepared);
            if let Ok(v) = serde_json::to_value(&prepared.selection) {
                r.notes.insert(NOTE_SELECTION.to_owned(), v);
            }
            r
        }
        (Some(r), _) => return Err(crate::ops::interrupted(&r)),
        (None, Some(res)) => return Err(crate::ops::no_longer_interrupted(&res.run_id)),
    };
    Journal::begin(
        locked.cluster_journal_path(),
        locked.owner().cloned(),
        record,
    )
}

/// Runs a prepared cluster restore (fresh, continued, or undone; see [`run_cluster_restore`]).
pub(super) fn run_prepared(prepared: PreparedClusterRestore, log: &RunLog) -> Result<Ended> {
    let locked = check_and_lock(&prepared)?;
    run_locked(prepared, log, &locked)
}

/// [`check`], then the restored member's stanza lock (the new member's for a restore into a
/// new cluster), for the whole run: no backup, restore or continuity of this pitr's node runs
/// beside it.
fn check_and_lock(prepared: &PreparedClusterRestore) -> Result<crate::ops::Locked> {
    check(prepared)?;
    crate::ops::lock_stanza(&prepared.node, crate::ops::CLUSTER_COMMAND, false, &|_| {})
}

/// The index of the plan's step a run starts from; `None` when it undoes.
fn start_at(prepared: &PreparedClusterRestore) -> Option<usize> {
    match prepared.next {
        None => Some(0),
        Some(ClusterNext::From(i)) => Some(i),
        Some(ClusterNext::Undo) => None,
    }
}

/// Refuses a plan with a member on another host, or whose restore step would run with a plan
/// that cannot run.
fn check(prepared: &PreparedClusterRestore) -> Result<()> {
    let remote = prepared.plan.remote_members();
    if !remote.is_empty() {
        return Err(Error::RemoteMember {
            members: remote.join(", "),
        });
    }
    debug_assert_eq!(prepared.plan.restore.kind(), PlanKind::Restore);
    let from = start_at(prepared);
    let restore_at = prepared
        .plan
        .steps
        .iter()
        .position(|s| s.action == ClusterAction::Restore);
    if from.zip(restore_at).is_some_and(|(f, r)| f <= r) {
        runner::check_runnable(&prepared.plan.restore)?;
    }
    Ok(())
}

/// Runs a prepared cluster restore under `locked`.
fn run_locked(
    prepared: PreparedClusterRestore,
    log: &RunLog,
    locked: &crate::ops::Locked,
) -> Result<Ended> {
    let from = start_at(&prepared);
    let journal = Some(journal_for(&prepared, locked)?);
    log.file_only(&format!("cluster plan: {}", prepared.plan.to_json()));
    if let Some(r) = &prepared.resumed {
        log.line(&format!(
            "continuing interrupted run {} ({}): {}",
            r.run_id,
            r.decision.as_str(),
            r.why
        ));
    }
    let noted = |key: &str| {
        journal
            .as_ref()
            .and_then(|j| j.record().notes.get(key))
            .and_then(serde_json::Value::as_u64)
    };
    let (restored_timeline, new_timeline) = (noted(NOTE_RESTORED_TIMELINE), noted(NOTE_TIMELINE));
    let mut run = ClusterRun {
        plan: &prepared.plan,
        node: &prepared.node,
        log,
        locked,
        journal,
        restore: None,
        restored_timeline,
        new_timeline,
        continuity: None,
        backup: None,
    };
    let Some(from) = from else {
        let (back, message) = run.roll_back();
        let why = prepared
            .resumed
            .as_ref()
            .filter(|r| r.decision == Decision::Undo)
            .map_or_else(String::new, |r| r.why.clone());
        log.line(&message);
        if !back {
            return Err(Error::PlanNotRunnable {
                reason: format!("undoing the interrupted run: {message}"),
            });
        }
        let run_id = prepared
            .resumed
            .as_ref()
            .map(|r| r.run_id.clone())
            .unwrap_or_default();
        run.record(|j| j.finish(Phase::Undone, &format!("{why}; {message}")))?;
        return Ok(Ended::Undone { run_id, message });
    };
    let steps = &prepared.plan.steps;
    let no_return = prepared.plan.point_of_no_return();
    let mut completed = Vec::new();
    for (i, step) in steps.iter().enumerate().skip(from) {
        log.line(&format!(
            "==> [{}/{}] {:?} {} on {} ({}): {}",
            i + 1,
            steps.len(),
            step.phase,
            step.id,
            step.member,
            step.host,
            step.title
        ));
        run.record_created(step)?;
        run.record(|j| j.enter(i))?;
        runner::kill_hook(&step.id);
        if let Err(e) = run.step(step) {
            log.line(&format!("step '{}' failed: {e}", step.id));
            let back = if let Some(new) = &prepared.plan.new_cluster {
                // The record stays interrupted at this step: the same restore, run again,
                // removes what this run created and restores again.
                format!(
                    "the running cluster {} was not touched; what this run created of the new \
                     cluster {} (its data directory {}, stanza, Patroni, as far as it got) is \
                     left as it is for inspection: run the same command again to remove it and \
                     restore again, or with --undo to only remove it",
                    prepared.plan.scope,
                    new.scope,
                    new.data.display()
                )
            } else if i == 0 {
                // Pausing failed: nothing was changed, nothing to bring back.
                let back = "nothing was changed".to_owned();
                run.record(|j| j.finish(Phase::Failed, &back))?;
                back
            } else if i < no_return {
                let (done, back) = run.roll_back();
                if done {
                    run.record(|j| j.finish(Phase::RolledBack, &back))?;
                }
                back
            } else {
                // The record stays interrupted at this step: the same restore, run again
                // once the cause is fixed, completes the steps from here on.
                format!(
                    "past the point of no return (the DCS was emptied): nothing was rolled back; \
                     the chosen member's previous data directory is kept as {}; run the same \
                     restore again to complete the steps from '{}' on once the cause is fixed, \
                     or see docs/cluster-pitr.md to go back",
                    restore_dirs(&prepared.plan.restore)
                        .map_or_else(|| "(none)".to_owned(), |(_, c)| c.display().to_string()),
                    step.id
                )
            };
            log.line(&back);
            return Err(Error::ClusterStep {
                step: step.id.clone(),
                member: step.member.clone(),
                back,
                source: Box::new(e),
            });
        }
        completed.push(step.id.clone());
    }
    run.record(|j| j.finish(Phase::Done, "every step succeeded"))?;
    log.line("done");
    let ClusterRun {
        restore,
        restored_timeline,
        new_timeline,
        continuity,
        backup,
        ..
    } = run;
    Ok(Ended::Done(Box::new(ClusterOutcome {
        plan: prepared.plan,
        selection: prepared.selection,
        completed,
        restore,
        restored_timeline,
        timeline: new_timeline,
        continuity,
        backup,
        log_file: log.path().map(|p| p.display().to_string()),
        resumed: prepared.resumed,
    })))
}
