//! A point-in-time restore of a whole Patroni cluster: pre-flight and plan
//! ([`prepare_cluster_restore`]), then run it ([`run_cluster_restore`]).
//!
//! The pre-flight runs before anything stops: Patroni's `GET /cluster` (the source of truth
//! for members, roles, hosts and ports) answers and names a leader; every member's REST API
//! answers, for the stanza's scope, with PostgreSQL running and the DCS reached, and takes
//! pitr's credentials for the requests that change Patroni ([`patroni::check_auth`]; a refusal
//! is [`Error::PatroniAuth`]); the target is
//! in the recoverable window of the chosen member (the single-node restore's selection and
//! checks, [`prepare_restore`]). Members are mapped onto the specs given by Patroni's name
//! `<pg_cluster>-<pg_seq>`; a member without a spec is on another host.
//!
//! Running: every step in order ([`crate::plan::cluster`] says what each phase guarantees).
//! When a step before the DCS is emptied fails, the cluster is brought back as it was (the
//! restore's safety copy put back, Patroni started on the old leader first, failover resumed,
//! every member streaming again) and the error says so; after that point the error says what
//! is left to do. Each step is recorded in the cluster run journal before it runs; a re-run of
//! the same restore after pitr was killed reads it before any pre-flight and completes the run
//! (past the point of no return) or brings the cluster back as it was
//! ([`crate::plan::cluster::resume`]).
//!
//! [`prepare_new_cluster`] plans a restore into a new cluster beside the running one instead
//! (a new scope and stanza; the running cluster only read from), run and journaled the same
//! way (in the new stanza's cluster run journal); a re-run after it was interrupted removes
//! what it created and restores again ([`undo_new_cluster`] only removes it).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::backup::BackupOutcome;
use super::continuity::ContinuityOutcome;
use super::restore::{PreparedRestore, RestoreOptions, prepare_restore};
use crate::error::{Error, Result};
use crate::names::PatroniUrl;
use crate::node::Node;
use crate::patroni::{ClusterMember, PatroniApi};
use crate::plan::cluster::resume::ClusterNext;
use crate::plan::cluster::{ClusterInput, ClusterPlan, MemberSite, plan_cluster_restore};
use crate::plan::resume::Resumed;
use crate::run::patroni;
use crate::run::runner::RunReport;
use crate::run::tools::Tools;
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
    /// A run of the same restore interrupted before the point of no return is continued
    /// instead of rolled back (see [`crate::plan::cluster::resume`]).
    pub go_on: bool,
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
    /// When the plan continues an interrupted run: which, and what it does with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<Resumed>,
    /// The chosen member's node (its continuity step and backup run with it).
    #[serde(skip)]
    node: Node,
    /// What was asked, as the run journal records it.
    #[serde(skip)]
    request: serde_json::Value,
    /// For a re-run: where in the plan it goes on.
    #[serde(skip)]
    next: Option<ClusterNext>,
    /// For a re-run of a restore into a new cluster that undoes the interrupted run: what the
    /// restore is prepared from again once that is done.
    #[serde(skip)]
    redo: Option<Box<Redo>>,
}

/// What a restore into a new cluster was prepared from.
#[derive(Debug, Clone)]
struct Redo {
    specs: Vec<ClusterSpec>,
    new_spec: ClusterSpec,
    request: RestoreRequest,
    options: ClusterOptions,
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
    /// When the run continued an interrupted one: which, and what it did with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<Resumed>,
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
/// the CA of `like` for HTTPS and its credentials (Pigsty's are the cluster's).
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
        .map(|api| api.with_auth(like.auth.clone()))
}

/// Checks one member's own answer: reachable, the stanza's scope, PostgreSQL running, pitr's
/// credentials taken (or none wanted) for the requests that change Patroni, the DCS reached
/// lately; returns a line for the pre-flight record.
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
    // The pause comes first: credentials Patroni will refuse are refused here, before it.
    patroni::check_auth(api)?.map_err(|e| {
        not_ready(
            format!(
                "member {} ({}): its REST API {} does not answer PATCH /config: {e}",
                member.name, member.host, api.url
            ),
            "check the network and patroni_port",
        )
    })?;
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
    let identity = resume::identity(&request, options);
    if let Some(prepared) = resume::prepare_rerun(&named, &request, &identity, options)? {
        return Ok(prepared);
    }
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

    let (plan, selection) = member_restore(&chosen_node, &request, options)?;
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
        resumed: None,
        node: chosen_node,
        request: identity,
        next: None,
        redo: None,
    })
}

/// The chosen member's single-node restore plan, as the cluster plan runs it (with
/// PostgreSQL stopped by the cluster plan, archiving given back to Patroni by it), and the set.
fn member_restore(
    node: &Node,
    request: &RestoreRequest,
    options: &ClusterOptions,
) -> Result<(crate::plan::Plan, Selection)> {
    let restore_options = RestoreOptions {
        under_patroni: true,
        ..options.restore.clone()
    };
    let PreparedRestore {
        mut plan,
        selection,
        ..
    } = prepare_restore(node, request, &restore_options, None)?;
    // The cluster plan gives archiving back to Patroni itself: the single-node advice on
    // turning it on by hand does not apply.
    plan.steps.retain(|s| s.id != "archiving");
    Ok((plan, selection))
}

/// A spec without Patroni is refused by [`named_specs`] before this is reached.
fn unreachable_api() -> PatroniApi {
    PatroniApi::local(crate::names::DEFAULT_PATRONI_PORT)
        .unwrap_or_else(|_| unreachable!("port 8008 is a valid port"))
}

mod new;
mod new_resume;
mod phase;
mod resume;
mod run;
mod secrets;

pub use new::{prepare_cluster_or_new, prepare_new_cluster};
pub use new_resume::{abandon_new_cluster, undo_new_cluster};
pub use phase::{PHASES, PhaseArgs, PhaseOutcome, PhaseRun, run_cluster_phase};
pub use resume::{abandon_cluster_restore, undo_cluster_restore};
pub use run::run_cluster_restore;

#[cfg(test)]
mod tests;
