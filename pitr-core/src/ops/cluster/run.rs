//! Running a cluster plan: every step in order; before the DCS is emptied, a failure brings
//! the cluster back as it was.

use std::path::PathBuf;

use super::{ClusterOutcome, PreparedClusterRestore};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::ops::backup::BackupOutcome;
use crate::ops::continuity::ContinuityOutcome;
use crate::plan::Plan;
use crate::plan::cluster::{ClusterAction, ClusterPlan, ClusterStep, ExpectTimeline};
use crate::plan::summary::PlanKind;
use crate::run::log::RunLog;
use crate::run::probe::Endpoint;
use crate::run::runner::{self, RunReport};
use crate::run::user::OsUser;
use crate::run::{cluster as wait, files};
/// Where a run stands, for the steps that depend on earlier ones.
pub(super) struct ClusterRun<'a> {
    pub(super) plan: &'a ClusterPlan,
    /// The node of the member whose continuity and backup steps run (the chosen one).
    pub(super) node: &'a Node,
    pub(super) log: &'a RunLog,
    pub(super) locked: &'a crate::ops::Locked,
    pub(super) restore: Option<RunReport>,
    pub(super) restored_timeline: Option<u64>,
    pub(super) new_timeline: Option<u64>,
    pub(super) continuity: Option<ContinuityOutcome>,
    pub(super) backup: Option<BackupOutcome>,
}

impl ClusterRun<'_> {
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
                self.restored_timeline = report
                    .verified
                    .as_ref()
                    .and_then(|v| v.timeline)
                    .map(|t| u64::from(t.get()));
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

    /// Brings the cluster back as it was; a sentence on the outcome.
    fn roll_back(&mut self, failed: &ClusterStep, error: &Error) -> String {
        let plan = self.plan;
        let restore = &plan.restore;
        let copy = restore_safety_copy(restore);
        // The restore step rolls back its own changes; after it completed, its rollback
        // steps put the safety copy back.
        let data_back = match (failed.action == ClusterAction::Restore, error) {
            (true, Error::Step { rolled_back, .. }) => {
                *rolled_back || copy.as_deref().is_none_or(|c| !c.exists())
            }
            (false, _) if self.restore.is_some() => {
                self.log.line("==> rollback: put the safety copy back");
                // The guards allow removing the restored directory only with the moves of
                // the restore's run known.
                self.restore
                    .as_ref()
                    .is_some_and(|report| runner::undo(restore, report, self.log).is_ok())
            }
            // Nothing of the data directory changed yet, or the restore failed before it did.
            _ => true,
        };
        if !data_back {
            return format!(
                "not rolled back: the data directory of {} is not as it was; the safety copy \
                 is {}; see docs/cluster-pitr.md, going back by hand",
                plan.chosen,
                copy.map_or_else(|| "gone".to_owned(), |c| c.display().to_string())
            );
        }
        for step in &plan.on_failure {
            self.log.line(&format!(
                "==> rollback {} on {}: {}",
                step.id, step.member, step.title
            ));
            if let Err(e) = self.step(step) {
                self.log
                    .line(&format!("rollback step '{}' failed: {e}", step.id));
                return format!(
                    "rolling back failed at '{}' ({e}); the data directories are as they were: \
                     start Patroni on {} first, then on the others, and resume (patronictl resume)",
                    step.id, plan.leader_before
                );
            }
        }
        format!(
            "rolled back: the cluster runs as before ({} leads, every member streams, Patroni \
             resumed)",
            plan.leader_before
        )
    }
}

pub(super) fn restore_safety_copy(plan: &Plan) -> Option<PathBuf> {
    match &plan.summary {
        crate::plan::Summary::Restore(r) => r.safety_copy.clone(),
        _ => None,
    }
}

/// Runs a prepared cluster restore, logging into `log`. Refused before anything is touched
/// when a member is on another host. The first failing step stops the run; before the DCS is
/// emptied, the cluster is brought back as it was.
pub fn run_cluster_restore(
    prepared: PreparedClusterRestore,
    log: &RunLog,
) -> Result<ClusterOutcome> {
    let remote = prepared.plan.remote_members();
    if !remote.is_empty() {
        return Err(Error::RemoteMember {
            members: remote.join(", "),
        });
    }
    debug_assert_eq!(prepared.plan.restore.kind(), PlanKind::Restore);
    runner::check_runnable(&prepared.plan.restore)?;
    // The restored member's stanza lock, for the whole run: no backup, restore or continuity
    // of this pitr's node runs beside it.
    let locked = crate::ops::lock_stanza(&prepared.node, "restore --cluster", false, &|_| {})?;
    log.file_only(&format!("cluster plan: {}", prepared.plan.to_json()));
    let mut run = ClusterRun {
        plan: &prepared.plan,
        node: &prepared.node,
        log,
        locked: &locked,
        restore: None,
        restored_timeline: None,
        new_timeline: None,
        continuity: None,
        backup: None,
    };
    let steps = &prepared.plan.steps;
    let no_return = prepared.plan.point_of_no_return();
    let mut completed = Vec::new();
    for (i, step) in steps.iter().enumerate() {
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
        if let Err(e) = run.step(step) {
            log.line(&format!("step '{}' failed: {e}", step.id));
            let back = if i == 0 {
                // Pausing failed: nothing was changed, nothing to bring back.
                "nothing was changed".to_owned()
            } else if i < no_return {
                run.roll_back(step, &e)
            } else {
                format!(
                    "past the point of no return (the DCS was emptied): nothing was rolled back; \
                     the chosen member's previous data directory is kept as {}; see \
                     docs/cluster-pitr.md to finish or go back",
                    restore_safety_copy(&prepared.plan.restore)
                        .map_or_else(|| "(none)".to_owned(), |c| c.display().to_string())
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
    log.line("done");
    let ClusterRun {
        restore,
        restored_timeline,
        new_timeline,
        continuity,
        backup,
        ..
    } = run;
    Ok(ClusterOutcome {
        plan: prepared.plan,
        selection: prepared.selection,
        completed,
        restore,
        restored_timeline,
        timeline: new_timeline,
        continuity,
        backup,
        log_file: log.path().map(|p| p.display().to_string()),
    })
}
