//! A point-in-time restore of a whole Patroni cluster: pre-flight and plan
//! ([`prepare_cluster_restore`]), then run it ([`run_cluster_restore`]).
//!
//! The pre-flight runs before anything stops: Patroni's `GET /cluster` (the source of truth
//! for members, roles, hosts and ports) answers and names a leader; every member's REST API
//! answers, for the stanza's scope, with PostgreSQL running and the DCS reached; the target is
//! in the recoverable window of the chosen member (the single-node restore's selection and
//! checks, [`prepare_restore`]). Members are mapped onto the specs given by Patroni's name
//! `<pg_cluster>-<pg_seq>`; a member without a spec is on another host.
//!
//! Running: every step in order ([`crate::plan::cluster`] says what each phase guarantees).
//! When a step before the DCS is emptied fails, the cluster is brought back as it was (the
//! restore's safety copy put back, Patroni started on the old leader first, failover resumed,
//! every member streaming again) and the error says so; after that point the error says what
//! is left to do. Every phase is also detectable from the cluster's state (Patroni's pause
//! flag and leader, a running postmaster, the data directories, the DCS): a run journal can
//! record the index of the last completed step and resume after it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::backup::BackupOutcome;
use super::continuity::ContinuityOutcome;
use super::restore::{PreparedRestore, RestoreOptions, prepare_restore};
use crate::error::{Error, Result};
use crate::names::PatroniUrl;
use crate::node::Node;
use crate::patroni::{ClusterMember, PatroniApi};
use crate::plan::cluster::{
    ClusterAction, ClusterInput, ClusterPlan, ClusterStep, ExpectTimeline, MemberSite,
    plan_cluster_restore,
};
use crate::plan::{Plan, summary::PlanKind};
use crate::run::log::RunLog;
use crate::run::probe::Endpoint;
use crate::run::runner::{self, RunReport};
use crate::run::tools::Tools;
use crate::run::user::OsUser;
use crate::run::{cluster as wait, files, patroni};
use crate::select::Selection;
use crate::spec::ClusterSpec;
use crate::target::{ArchiveMode, RestoreRequest, TargetAction};

/// How long ago the DCS may have last answered a member (seconds).
const DCS_FRESH_SECS: i64 = 60;

/// Knobs of a cluster restore that are not part of the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterOptions {
    /// The member to restore (the current leader when `None`).
    pub member: Option<String>,
    /// Go on when the primary's archive queue does not drain.
    pub force: bool,
    /// How long the primary's archive queue may take to drain (seconds; two minutes when 0).
    pub drain_timeout_secs: u64,
    /// Skip the full backup at the end.
    pub no_backup: bool,
    /// The single-node restore's knobs.
    pub restore: RestoreOptions,
}

/// A planned cluster restore with the facts behind it.
#[derive(Debug, Clone, Serialize)]
pub struct PreparedClusterRestore {
    /// The plan.
    pub plan: ClusterPlan,
    /// The chosen set and why.
    pub selection: Selection,
    /// The chosen member's node (its continuity step and backup run with it).
    #[serde(skip)]
    node: Node,
}

/// What a cluster restore did; the document `pitr restore --cluster --json` prints and
/// Python's `run_restore_cluster()` returns.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterOutcome {
    /// The plan that ran.
    pub plan: ClusterPlan,
    /// The chosen set and why.
    pub selection: Selection,
    /// Ids of the steps that ran to completion.
    pub completed: Vec<String>,
    /// The restore of the chosen member: its steps and the verified stop point.
    pub restore: Option<RunReport>,
    /// The timeline the restore promoted to.
    pub restored_timeline: Option<u64>,
    /// The timeline the restored cluster's leader runs on: the restored one, or the next
    /// when Patroni started the member as a replica and promoted it.
    pub timeline: Option<u64>,
    /// What the continuity step pushed.
    pub continuity: Option<ContinuityOutcome>,
    /// The full backup at the end.
    pub backup: Option<BackupOutcome>,
    /// The run log.
    pub log_file: Option<String>,
}

fn not_ready(what: String, hint: &str) -> Error {
    Error::ClusterNotReady {
        what,
        hint: hint.to_owned(),
    }
}

fn invalid(key: &str, message: String) -> Error {
    Error::InvalidSetting {
        key: key.into(),
        context: "cluster restore".into(),
        message,
    }
}

/// The member names of the specs (`<pg_cluster>-<pg_seq>`), checked to be one Patroni
/// cluster.
fn named_specs(specs: &[ClusterSpec]) -> Result<Vec<(String, &ClusterSpec)>> {
    let Some(first) = specs.first() else {
        return Err(invalid(
            "spec",
            "give the cluster spec of this host's member (--spec), one per member on this host"
                .into(),
        ));
    };
    let mut named: Vec<(String, &ClusterSpec)> = Vec::new();
    for spec in specs {
        if spec.cluster != first.cluster {
            return Err(invalid(
                "pg_cluster",
                format!(
                    "the specs name two clusters, '{}' and '{}': give the specs of one cluster's members",
                    first.cluster, spec.cluster
                ),
            ));
        }
        if spec.patroni.is_none() {
            return Err(invalid(
                "patroni_enabled",
                format!(
                    "the spec of cluster {} does not configure Patroni (patroni_enabled or \
                     patroni_port): a cluster restore needs its REST API",
                    spec.cluster
                ),
            ));
        }
        let Some(seq) = spec.seq else {
            return Err(invalid(
                "pg_seq",
                format!(
                    "missing in a spec of cluster {}: pitr finds the member in Patroni as \
                     <pg_cluster>-<pg_seq>",
                    spec.cluster
                ),
            ));
        };
        let name = format!("{}-{seq}", spec.cluster);
        if named.iter().any(|(n, _)| *n == name) {
            return Err(invalid(
                "pg_seq",
                format!("two specs are for member {name}"),
            ));
        }
        named.push((name, spec));
    }
    Ok(named)
}

/// The request as a cluster restore runs it: in place, archiving off until verified,
/// promoted at the target, with a safety copy.
fn cluster_request(request: &RestoreRequest) -> Result<RestoreRequest> {
    if request.data.is_some() || request.port.is_some() {
        return Err(invalid(
            "data",
            "a cluster restore restores the chosen member in place; a clone takes `pitr \
             restore` without --cluster"
                .into(),
        ));
    }
    if request.archive == Some(ArchiveMode::Preserve) {
        return Err(invalid(
            "archive",
            "a cluster restore keeps archiving off until the stop point is verified, then \
             gives it back to Patroni; leave --archive out"
                .into(),
        ));
    }
    if !matches!(request.action, TargetAction::Promote | TargetAction::Pause) {
        return Err(invalid(
            "action",
            "a cluster restore promotes the restored member at the target; leave --action out"
                .into(),
        ));
    }
    let mut r = request.clone();
    r.archive = Some(ArchiveMode::Off);
    r.action = TargetAction::Promote;
    r.safety_copy = true;
    Ok(r)
}

/// The REST API of a member Patroni lists: its `api_url` (`http://HOST:PORT/patroni`), with
/// the CA of `like` for HTTPS.
fn member_api(member: &ClusterMember, like: &PatroniApi) -> Result<PatroniApi> {
    let url = member.api_url.as_deref().unwrap_or_default();
    let base = url.strip_suffix("/patroni").unwrap_or(url);
    let parsed: PatroniUrl = base.parse().map_err(|_| {
        not_ready(
            format!(
                "Patroni lists member {} with the REST API '{url}', which pitr cannot read",
                member.name
            ),
            "check restapi.connect_address in its patroni.yml",
        )
    })?;
    let ca = parsed.is_tls().then(|| like.ca_file.clone()).flatten();
    PatroniApi::new(parsed, ca, "patroni_ca_file", "cluster restore")
}

/// Checks one member's own answer: reachable, the stanza's scope, PostgreSQL running, the
/// DCS reached lately; returns a line for the pre-flight record.
fn check_member(member: &ClusterMember, api: &PatroniApi, scope: &str, now: i64) -> Result<String> {
    let answer = patroni::ask_state(api).map_err(|e| {
        not_ready(
            format!(
                "member {} ({}): its REST API {} does not answer: {e}",
                member.name, member.host, api.url
            ),
            "start Patroni on it, or check the network and patroni_port",
        )
    })?;
    let doc = &answer.doc;
    if doc.scope() != Some(scope) {
        return Err(not_ready(
            format!(
                "member {} at {} serves scope {:?}, not {scope}",
                member.name,
                api.url,
                doc.scope()
            ),
            "check patroni_host/patroni_port of the spec",
        ));
    }
    if doc.state.as_deref() != Some("running") {
        return Err(not_ready(
            format!("member {}: {}", member.name, doc.describe()),
            "every member must run PostgreSQL before the restore (their WAL must be archived)",
        ));
    }
    let seen = doc.dcs_last_seen.unwrap_or(0);
    if doc.failsafe_mode_is_active || doc.cluster_unlocked || now - seen > DCS_FRESH_SECS {
        return Err(not_ready(
            format!(
                "member {} has not reached the DCS lately ({}; last seen {} s ago)",
                member.name,
                doc.describe(),
                now - seen
            ),
            "bring the DCS (etcd) back: its cluster state is removed and rebuilt by the restore",
        ));
    }
    Ok(format!(
        "member {} ({}, {}): REST API {} answers, {}, DCS reached {} s ago",
        member.name,
        member.host,
        member.role,
        api.url,
        doc.describe(),
        now - seen
    ))
}

fn site_of(
    member: &ClusterMember,
    spec: &ClusterSpec,
    local: bool,
    api: PatroniApi,
    pg_bin_dir: &Path,
) -> MemberSite {
    let node = Node::from_spec(spec);
    MemberSite {
        name: member.name.clone(),
        host: member.host.clone(),
        role: member.role.clone(),
        local,
        api,
        data: node.data.to_path_buf(),
        socket_dir: node.socket_dir.to_path_buf(),
        port: if local { node.port } else { member.port },
        dbsu: node.dbsu.clone(),
        pg_bin_dir: spec
            .bin_dir
            .as_ref()
            .map_or_else(|| pg_bin_dir.to_path_buf(), |d| d.to_path_buf()),
        control: spec.patroni_control.clone(),
        pgbackrest_config: node.config_path.to_path_buf(),
    }
}

fn patronictl() -> Result<PathBuf> {
    which::which("patronictl")
        .ok()
        .or_else(|| Some(PathBuf::from("/usr/bin/patronictl")).filter(|p| p.is_file()))
        .ok_or_else(|| Error::ToolNotFound {
            tool: "patronictl".into(),
            hint: "install Patroni (Debian package patroni) on this host".into(),
        })
}

/// Pre-flight and plan of a restore of the whole Patroni cluster of `specs` (one spec per
/// member on this host; the chosen member's among them). Nothing is stopped or changed.
pub fn prepare_cluster_restore(
    specs: &[ClusterSpec],
    request: &RestoreRequest,
    options: &ClusterOptions,
) -> Result<PreparedClusterRestore> {
    let named = named_specs(specs)?;
    let request = cluster_request(request)?;
    let scope = named[0].1.cluster.clone();
    let first_api = named[0].1.patroni.clone().unwrap_or_else(unreachable_api);
    let view = patroni::ask_cluster(&first_api).map_err(|e| {
        not_ready(
            format!(
                "Patroni at {} does not answer GET /cluster: {e}",
                first_api.url
            ),
            "start Patroni on this member, or check patroni_host and patroni_port",
        )
    })?;
    let leader = view.leader().cloned().ok_or_else(|| {
        not_ready(
            format!(
                "no member of {scope} holds the leader key (members: {})",
                view.members
                    .iter()
                    .map(|m| format!("{} {} {}", m.name, m.role, m.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "let Patroni elect a leader first",
        )
    })?;
    for (name, _) in &named {
        if !view.members.iter().any(|m| m.name == *name) {
            return Err(invalid(
                "pg_seq",
                format!(
                    "a spec is for member {name}, which Patroni does not list in {scope} (members: {})",
                    view.members
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let chosen = options
        .member
        .clone()
        .unwrap_or_else(|| leader.name.clone());
    let Some(chosen_spec) = named.iter().find(|(n, _)| *n == chosen).map(|(_, s)| *s) else {
        return Err(invalid(
            "member",
            format!(
                "member {chosen} is restored, but no spec of it was given: run pitr on its host \
                 with its spec (--spec), or name a member of this host with --member"
            ),
        ));
    };
    let chosen_node = Node::from_spec(chosen_spec);
    let tools = Tools::locate(chosen_node.pg_bin_dir.as_deref(), Some(&chosen_node.data))?;

    let now = jiff::Timestamp::now().as_second();
    let mut preflight = vec![format!(
        "Patroni at {} lists {} member(s) of {scope}; leader {} on timeline {}",
        first_api.url,
        view.members.len(),
        leader.name,
        leader
            .timeline
            .map_or_else(|| "?".to_owned(), |t| t.to_string())
    )];
    let mut warnings = Vec::new();
    if view.pause {
        warnings.push(
            "Patroni is paused already; the restore resumes automatic failover at the end".into(),
        );
    }
    let mut members = Vec::new();
    for m in &view.members {
        let local = named.iter().find(|(n, _)| *n == m.name).map(|(_, s)| *s);
        let api = match local.and_then(|s| s.patroni.clone()) {
            Some(api) => api,
            None => member_api(m, &first_api)?,
        };
        preflight.push(check_member(m, &api, scope.as_str(), now)?);
        members.push(site_of(
            m,
            local.unwrap_or(chosen_spec),
            local.is_some(),
            api,
            &tools.pg_bin_dir,
        ));
    }
    let remote: Vec<&str> = members
        .iter()
        .filter(|m| !m.local)
        .map(|m| m.name.as_str())
        .collect();
    if !remote.is_empty() {
        warnings.push(format!(
            "members {} are on other hosts: this plan names their steps, but pitr runs only \
             this host's (a run is refused)",
            remote.join(", ")
        ));
    }

    let restore_options = RestoreOptions {
        under_patroni: true,
        ..options.restore.clone()
    };
    let PreparedRestore {
        mut plan,
        selection,
    } = prepare_restore(&chosen_node, &request, &restore_options, None)?;
    // The cluster plan gives archiving back to Patroni itself: the single-node advice on
    // turning it on by hand does not apply.
    plan.steps.retain(|s| s.id != "archiving");
    preflight.push(format!(
        "target {} is in the recoverable window: {}",
        request.target, selection.reason
    ));
    warnings.extend(plan.warnings.iter().cloned());
    let cluster_plan = plan_cluster_restore(ClusterInput {
        scope,
        members,
        chosen,
        leader: leader.name.clone(),
        timeline_before: leader.timeline,
        restore: plan,
        target: request.target.to_string(),
        pgbackrest_bin: tools.pgbackrest.clone(),
        patronictl: patronictl()?,
        backup: !options.no_backup,
        force: options.force,
        drain_timeout_secs: if options.drain_timeout_secs == 0 {
            crate::plan::cluster::DRAIN_TIMEOUT
        } else {
            options.drain_timeout_secs
        },
        preflight,
        warnings,
    })?;
    Ok(PreparedClusterRestore {
        plan: cluster_plan,
        selection,
        node: chosen_node,
    })
}

/// A spec without Patroni is refused by [`named_specs`] before this is reached.
fn unreachable_api() -> PatroniApi {
    PatroniApi::local(crate::names::DEFAULT_PATRONI_PORT)
        .unwrap_or_else(|_| unreachable!("port 8008 is a valid port"))
}

/// Where a run stands, for the steps that depend on earlier ones.
struct ClusterRun<'a> {
    prepared: &'a PreparedClusterRestore,
    log: &'a RunLog,
    restore: Option<RunReport>,
    restored_timeline: Option<u64>,
    new_timeline: Option<u64>,
    continuity: Option<ContinuityOutcome>,
    backup: Option<BackupOutcome>,
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

    fn step(&mut self, step: &ClusterStep) -> Result<()> {
        let plan = &self.prepared.plan;
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
                self.continuity = Some(super::continuity(&self.prepared.node, false, self.log)?);
                Ok(())
            }
            ClusterAction::Backup => {
                let backup = super::prepare_backup(
                    &self.prepared.node,
                    Some(crate::names::BackupType::Full),
                    None,
                    None,
                )?;
                let outcome = super::run_backup(backup, self.log)?;
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
        let plan = &self.prepared.plan;
        let restore = &plan.restore;
        let copy = restore_safety_copy(restore);
        // The restore step rolls back its own changes; after it completed, its rollback
        // steps put the safety copy back.
        let data_back = match (failed.action == ClusterAction::Restore, error) {
            (true, Error::Step { rolled_back, .. }) => {
                *rolled_back || copy.as_deref().is_none_or(|c| !c.exists())
            }
            (false, _) if self.restore.is_some() => {
                let undo = Plan {
                    steps: restore.on_failure.clone(),
                    on_failure: Vec::new(),
                    ..restore.clone()
                };
                self.log.line("==> rollback: put the safety copy back");
                runner::run_plan(&undo, self.log).is_ok()
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

fn restore_safety_copy(plan: &Plan) -> Option<PathBuf> {
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
    log.file_only(&format!("cluster plan: {}", prepared.plan.to_json()));
    let mut run = ClusterRun {
        prepared: &prepared,
        log,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::patroni::tests::serve_once;

    const NOW: i64 = 1_796_230_000;

    fn member() -> ClusterMember {
        ClusterMember {
            name: "pg-test-2".into(),
            role: "replica".into(),
            state: "running".into(),
            host: "127.0.0.1".into(),
            port: 5433,
            api_url: None,
            timeline: Some(2),
        }
    }

    /// `check_member` against a REST API answering `GET /patroni` with `response`.
    fn check(response: &'static str) -> Result<String> {
        let api = PatroniApi::local(serve_once(response)).unwrap();
        check_member(&member(), &api, "pg-test", NOW)
    }

    #[test]
    fn a_member_that_runs_for_the_scope_and_reached_the_dcs_passes() {
        let line = check(
            "HTTP/1.0 200 OK\r\n\r\n{\"state\": \"running\", \"role\": \"replica\", \
             \"timeline\": 2, \"dcs_last_seen\": 1796229995, \"patroni\": {\"scope\": \"pg-test\"}}",
        )
        .unwrap();
        assert!(line.contains("DCS reached 5 s ago"), "{line}");
    }

    #[test]
    fn the_preflight_refuses_what_would_break_the_restore() {
        for (response, needle) in [
            (
                "HTTP/1.0 200 OK\r\n\r\n{\"state\": \"running\", \"dcs_last_seen\": 1796220000, \
                 \"patroni\": {\"scope\": \"pg-test\"}}",
                "has not reached the DCS lately",
            ),
            (
                "HTTP/1.0 200 OK\r\n\r\n{\"state\": \"running\", \"dcs_last_seen\": 1796229999, \
                 \"failsafe_mode_is_active\": true, \"patroni\": {\"scope\": \"pg-test\"}}",
                "failsafe mode active",
            ),
            (
                "HTTP/1.0 503 Service Unavailable\r\n\r\n{\"state\": \"stopped\", \
                 \"dcs_last_seen\": 1796229999, \"patroni\": {\"scope\": \"pg-test\"}}",
                "state stopped",
            ),
            (
                "HTTP/1.0 200 OK\r\n\r\n{\"state\": \"running\", \"dcs_last_seen\": 1796229999, \
                 \"patroni\": {\"scope\": \"pg-other\"}}",
                "serves scope Some(\"pg-other\"), not pg-test",
            ),
            ("HTTP/1.0 404 Not Found\r\n\r\nno", "does not answer"),
        ] {
            let e = check(response).unwrap_err();
            assert_eq!(e.code(), "cluster_not_ready", "{e}");
            assert!(e.to_string().contains(needle), "{needle}: {e}");
            assert!(e.to_string().contains("nothing was stopped"), "{e}");
        }
    }

    #[test]
    fn members_listed_by_patroni_get_their_api_from_api_url() {
        let like = PatroniApi::local(8008).unwrap();
        let mut m = member();
        m.api_url = Some("http://10.0.0.12:8008/patroni".into());
        assert_eq!(
            member_api(&m, &like).unwrap().url.to_string(),
            "http://10.0.0.12:8008"
        );
        m.api_url = Some("not a url".into());
        assert_eq!(
            member_api(&m, &like).unwrap_err().code(),
            "cluster_not_ready"
        );
    }

    #[test]
    fn requests_a_cluster_restore_cannot_honour_are_refused() {
        let request = |v: serde_json::Value| RestoreRequest::from_pg_pitr(v, None).unwrap();
        let r = cluster_request(&request(
            serde_json::json!({"time": "2026-12-01 10:00:00+00"}),
        ))
        .unwrap();
        assert_eq!(
            (r.archive, r.action, r.safety_copy),
            (Some(ArchiveMode::Off), TargetAction::Promote, true)
        );
        for v in [
            serde_json::json!({"data": "/pg/clone"}),
            serde_json::json!({"port": 5433}),
            serde_json::json!({"archive": "preserve"}),
            serde_json::json!({"time": "2026-12-01 10:00:00+00", "action": "shutdown"}),
        ] {
            assert_eq!(
                cluster_request(&request(v)).unwrap_err().code(),
                "invalid_setting"
            );
        }
    }
}
