//! The `pitr._pitr` extension module: pitr's core for Python, and through it for Ansible.
//!
//! Every function takes and returns plain data — dicts, lists, `str` — in the JSON shapes the
//! `pitr` CLI prints with `--json`, and forwards to [`pitr_core::api`]; there is no logic here
//! beyond converting. Secrets never appear in a return value unless the caller asks for them
//! by name (`reveal_secrets=True`, `secret_values`). Functions that run programs release the
//! GIL while they do.
//!
//! Errors are raised as the exception tree of [`errors`].
// The `#[pymodule]` and `#[pyfunction]` macros expand to FFI glue.
#![allow(unsafe_code)]
// Doc comments of the functions are their Python docstrings (`help(pitr.plan_restore)`), written
// in Python's style; pyo3 extracts arguments by value.
#![allow(clippy::doc_markdown, clippy::needless_pass_by_value)]

mod errors;
mod plan;

use std::path::PathBuf;

use pitr_core::api;
use pitr_core::names::{BackupType, RepoIndex, RestorePointName};
use pitr_core::node::Node;
use pitr_core::ops::{self, RestoreOptions};
use pitr_core::plan::summary::{Role, ServiceAction};
use pitr_core::snapshot::RepoSnapshot;
use plan::Plan;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFrozenSet, PyString, PyTuple};
use serde::Serialize;
use serde_json::Value;

use errors::Result;

/// A Python value as JSON.
pub(crate) fn value(obj: &Bound<'_, PyAny>) -> Result<Value> {
    Ok(pythonize::depythonize::<Value>(obj)?)
}

/// An optional Python value as JSON (`None` stays `None`).
fn opt_value(obj: Option<&Bound<'_, PyAny>>) -> Result<Option<Value>> {
    obj.filter(|o| !o.is_none()).map(value).transpose()
}

/// A core value as Python data.
pub(crate) fn py_data<T: Serialize>(py: Python<'_>, v: &T) -> Result<Py<PyAny>> {
    Ok(pythonize::pythonize(py, v)?.unbind())
}

/// `pgbackrest info --output=json` as text or as the parsed list.
fn info_report(obj: &Bound<'_, PyAny>) -> Result<pitr_core::info::InfoReport> {
    let v = if let Ok(s) = obj.cast::<PyString>() {
        Value::String(s.extract::<String>()?)
    } else {
        value(obj)?
    };
    Ok(api::info(&v)?)
}

fn spec(obj: &Bound<'_, PyAny>) -> Result<pitr_core::spec::ClusterSpec> {
    Ok(api::spec(value(obj)?)?)
}

fn request(
    obj: Option<&Bound<'_, PyAny>>,
    zone: Option<&str>,
) -> Result<pitr_core::target::RestoreRequest> {
    Ok(api::request(opt_value(obj)?.unwrap_or(Value::Null), zone)?)
}

fn shown(file: &pitr_core::render::RenderedFile, reveal_secrets: bool) -> String {
    if reveal_secrets {
        file.contents().to_owned()
    } else {
        file.redacted().to_owned()
    }
}

/// Renders one of the files of a cluster spec.
///
/// Args:
///     spec: the cluster spec, a dict of Pigsty variables (`pg_cluster`, `pg_data`,
///         `pgbackrest_repo`, ...).
///     what: `"pgbackrest"` (pgbackrest.conf), `"restore"` (the restore config of the spec's
///         own cluster), `"archive"` (archive_mode and archive_command), `"cron"` or
///         `"patroni-callback"` (the patroni.yml snippet running `pitr patroni-callback`).
///     templates: a directory of `<id>.hbs` files overriding the embedded templates.
///     reveal_secrets: return the contents to write, secrets included, instead of the
///         redacted text. Write them with mode 0600 and never print them.
///
/// Returns:
///     The file's text, secrets replaced by `<redacted>` unless `reveal_secrets` is true.
#[pyfunction]
#[pyo3(signature = (spec, what = "pgbackrest", templates = None, *, reveal_secrets = false))]
fn render_config(
    spec: &Bound<'_, PyAny>,
    what: &str,
    templates: Option<PathBuf>,
    reveal_secrets: bool,
) -> Result<String> {
    let what: ops::RenderWhat = what.parse()?;
    let file = ops::render(&self::spec(spec)?, what, templates.as_deref())?;
    Ok(shown(&file, reveal_secrets))
}

/// Renders the restore config a restore of `request` writes (the plan's
/// `write-restore-config` step).
///
/// Args:
///     spec: the cluster spec.
///     request: Pigsty's `pg_pitr` dict (`None` or `{}`: the end of the archive).
///     zone: IANA time zone (or `"local"`) for target times written without one.
///     restore_config: where the file goes (beside pgbackrest.conf by default); its name is
///         in the header.
///     templates: a directory of `<id>.hbs` files overriding the embedded templates.
///     reveal_secrets: return the contents with secrets, for writing the file.
#[pyfunction]
#[pyo3(signature = (spec, request = None, *, zone = None, restore_config = None, templates = None, reveal_secrets = false))]
fn render_restore_config(
    spec: &Bound<'_, PyAny>,
    request: Option<&Bound<'_, PyAny>>,
    zone: Option<&str>,
    restore_config: Option<PathBuf>,
    templates: Option<PathBuf>,
    reveal_secrets: bool,
) -> Result<String> {
    let spec = self::spec(spec)?;
    let request = self::request(request, zone)?;
    let file = ops::render::render_restore_config(
        &spec,
        &request,
        api::restore_config_path(restore_config.as_deref())?,
        templates.as_deref(),
    )?;
    Ok(shown(&file, reveal_secrets))
}

/// Parses `pgbackrest info --output=json`.
///
/// Returns:
///     The stanzas, as pgBackRest printed them (keys it does not know are dropped, values
///     checked).
#[pyfunction]
fn parse_info(py: Python<'_>, text: &str) -> Result<Py<PyAny>> {
    let report = pitr_core::info::parse(text)?;
    py_data(py, &report)
}

/// Prometheus metrics (text exposition) for `pgbackrest info --output=json`: the names and
/// labels of pgbackrest_exporter plus pitr's recoverable-window metrics.
///
/// Args:
///     info_text: `pgbackrest info --output=json`.
///     now: seconds since the epoch for the age metrics (the current time by default).
#[pyfunction]
#[pyo3(signature = (info_text, now = None))]
fn render_metrics(info_text: &str, now: Option<f64>) -> Result<String> {
    let now = now
        .map(|secs| {
            jiff::Timestamp::from_microsecond((secs * 1e6) as i64).map_err(|_| {
                pitr_core::Error::invalid(
                    "now",
                    secs.to_string(),
                    "expected seconds since the epoch",
                )
            })
        })
        .transpose()?;
    Ok(pitr_core::metrics::render_from_info_text(info_text, now)?)
}

/// The recoverable windows of a stanza, per repo and timeline.
///
/// Args:
///     info: `pgbackrest info --output=json`, as text or parsed.
///     histories: timeline history files, `{2: "<text of 00000002.history>"}`.
///     stanza: the stanza (the only one in `info` by default).
///     listings: `pgbackrest repo-ls --recurse --output=json` of each repo's archive,
///         `{1: "<output>"}`, to see holes in the archive.
#[pyfunction]
#[pyo3(signature = (info, histories = None, *, stanza = None, listings = None))]
fn recovery_window(
    py: Python<'_>,
    info: &Bound<'_, PyAny>,
    histories: Option<&Bound<'_, PyAny>>,
    stanza: Option<&str>,
    listings: Option<&Bound<'_, PyAny>>,
) -> Result<Py<PyAny>> {
    let report = info_report(info)?;
    let histories = api::histories(numbered(histories)?)?;
    let listings = api::listings(numbered(listings)?)?;
    let windows = api::recovery_window(&report, stanza, &histories, &listings)?;
    py_data(py, &windows)
}

/// A dict keyed by numbers (`{2: ...}`) or strings (`{"2": ...}`), as a JSON object.
fn numbered(obj: Option<&Bound<'_, PyAny>>) -> Result<Option<Value>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let Ok(dict) = obj.cast::<PyDict>() else {
        return Ok(Some(value(obj)?));
    };
    let mut map = serde_json::Map::new();
    for (k, v) in dict.iter() {
        map.insert(k.str()?.extract::<String>()?, value(&v)?);
    }
    Ok(Some(Value::Object(map)))
}

/// Chooses the backup set (and repo) for a restore request from a stanza's info.
///
/// Args:
///     info: `pgbackrest info --output=json`, as text or parsed.
///     request: Pigsty's `pg_pitr` dict.
///     stanza: the stanza (the request's `cluster`, or the only one in `info`).
///     histories: timeline history files, as for `recovery_window`.
///     listings: archive listings, as for `recovery_window`.
///     zone: IANA time zone for target times written without one.
///
/// Returns:
///     The selection: `set`, `repo`, `timeline`, `rule`, `reason`, `warnings`, ...
#[pyfunction]
#[pyo3(signature = (info, request = None, *, stanza = None, histories = None, listings = None, zone = None))]
fn select_backup(
    py: Python<'_>,
    info: &Bound<'_, PyAny>,
    request: Option<&Bound<'_, PyAny>>,
    stanza: Option<&str>,
    histories: Option<&Bound<'_, PyAny>>,
    listings: Option<&Bound<'_, PyAny>>,
    zone: Option<&str>,
) -> Result<Py<PyAny>> {
    let report = info_report(info)?;
    let request = self::request(request, zone)?;
    let histories = api::histories(numbered(histories)?)?;
    let listings = api::listings(numbered(listings)?)?;
    let selection = api::select_backup(&report, stanza, &request, &histories, &listings)?;
    py_data(py, &selection)
}

/// Plans a backup of the spec's node, like `pitr backup --dry-run`.
///
/// Args:
///     spec: the cluster spec.
///     mode: `"full"`, `"diff"` or `"incr"` (default: incr; pgBackRest makes it full when there
///         is none yet).
///     role: `"primary"` or `"replica"`; when `None`, Patroni's REST API is asked if the spec
///         configures Patroni (`patroni_enabled`/`patroni_port`), else PostgreSQL. A replica's
///         plan only says it skips.
///     repo: back up to this repo index.
///
/// Returns:
///     A `Plan`; `plan.summary["skipped"]` says whether it skips (`["reason"]` why),
///     `["role_source"]` where the role came from (`"patroni"`, `"postgresql"`, `"given"`),
///     `plan.run()` backs up.
///
/// Raises:
///     PitrError: with code `role_unknown` when Patroni is configured and the member cannot
///         tell whether it is the leader (nothing runs).
#[pyfunction]
#[pyo3(signature = (spec, mode = None, role = None, *, repo = None))]
fn plan_backup(
    py: Python<'_>,
    spec: &Bound<'_, PyAny>,
    mode: Option<&str>,
    role: Option<&str>,
    repo: Option<u32>,
) -> Result<Plan> {
    let node = Node::from_spec(&self::spec(spec)?);
    let kind = mode.map(str::parse::<BackupType>).transpose()?;
    let role = role.map(str::parse::<Role>).transpose()?;
    let repo = repo.map(|r| RepoIndex::new(r.into())).transpose()?;
    let plan = py.detach(|| ops::prepare_backup(&node, kind, repo, role))?;
    Ok(Plan::new(plan, None, Some(node)))
}

fn restore_options(restore_config: Option<PathBuf>, timeout: u64) -> Result<RestoreOptions> {
    Ok(RestoreOptions {
        restore_config_path: api::restore_config_path(restore_config.as_deref())?,
        timeout_secs: timeout,
        under_patroni: false,
    })
}

/// Plans a point-in-time restore on the spec's node, like `pitr restore --dry-run`.
///
/// Every check runs first (target syntax, recoverable window, backup set, data directory,
/// the paths the plan writes), so an error here means nothing would have been touched.
///
/// Args:
///     spec: the cluster spec.
///     request: Pigsty's `pg_pitr` dict (`None` or `{}`: the end of the archive).
///     info: `pgbackrest info --output=json` to choose from (text or parsed); pgBackRest is
///         asked (info, archive listings, histories) when `None`.
///     zone: IANA time zone for target times written without one.
///     restore_config: where the plan writes the restore config.
///     timeout: seconds to wait for recovery.
///
/// Returns:
///     A `Plan`: `to_dict()` is what `pitr restore --dry-run --json` prints, `run()` restores
///     and returns what `pitr restore --json` prints.
#[pyfunction]
#[pyo3(signature = (spec, request = None, info = None, *, zone = None, restore_config = None, timeout = 3600))]
fn plan_restore(
    py: Python<'_>,
    spec: &Bound<'_, PyAny>,
    request: Option<&Bound<'_, PyAny>>,
    info: Option<&Bound<'_, PyAny>>,
    zone: Option<&str>,
    restore_config: Option<PathBuf>,
    timeout: u64,
) -> Result<Plan> {
    let node = Node::from_spec(&self::spec(spec)?);
    let request = self::request(request, zone)?;
    let snapshot = info
        .filter(|i| !i.is_none())
        .map(info_report)
        .transpose()?
        .map(RepoSnapshot::from_info);
    let options = restore_options(restore_config, timeout)?;
    let prepared = py.detach(|| ops::prepare_restore(&node, &request, &options, snapshot))?;
    Ok(Plan::restore(prepared, node))
}

/// The members' specs and the request of a cluster restore.
fn cluster_inputs(
    specs: &Bound<'_, PyAny>,
    request: Option<&Bound<'_, PyAny>>,
    zone: Option<&str>,
) -> Result<(
    Vec<pitr_core::spec::ClusterSpec>,
    pitr_core::target::RestoreRequest,
)> {
    let specs = match value(specs)? {
        Value::Array(items) => items,
        one => vec![one],
    }
    .into_iter()
    .map(|v| api::spec(v).map(ops::complete_spec))
    .collect::<pitr_core::Result<Vec<_>>>()?;
    Ok((specs, self::request(request, zone)?))
}

/// The spec of a new cluster's member, when restoring into a new cluster.
fn new_cluster_spec(
    new_cluster: Option<&Bound<'_, PyAny>>,
) -> Result<Option<pitr_core::spec::ClusterSpec>> {
    match new_cluster {
        None => Ok(None),
        Some(v) => Ok(Some(ops::complete_spec(api::spec(value(v)?)?))),
    }
}

/// The knobs of a cluster restore.
fn cluster_options(
    member: Option<String>,
    force: bool,
    drain_timeout: u64,
    backup: bool,
    timeout: u64,
    continue_run: bool,
) -> Result<ops::ClusterOptions> {
    Ok(ops::ClusterOptions {
        member,
        force,
        drain_timeout_secs: drain_timeout,
        no_backup: !backup,
        go_on: continue_run,
        restore: restore_options(None, timeout)?,
    })
}

/// Plans a point-in-time restore of a whole Patroni cluster, like `pitr restore --cluster
/// --dry-run --json`: the pre-flight (every member and the DCS reachable, the target in the
/// window) runs first, nothing is stopped.
///
/// Args:
///     specs: the cluster spec of each member on this host (a list, or one spec), each with
///         `pg_seq` and Patroni's keys.
///     request: Pigsty's `pg_pitr` dict (the target; the restore is always in place,
///         promoted, with archiving off until verified and a safety copy).
///     member: the member restored (the current leader when `None`).
///     force: go on when the primary's archive queue does not drain.
///     drain_timeout: seconds the primary's archive queue may take to drain.
///     backup: take a full backup on the new leader at the end.
///     zone: IANA time zone for target times written without one.
///     timeout: seconds to wait for recovery.
///     continue_run: when the same restore was interrupted (pitr killed) before the DCS was
///         emptied, continue it instead of bringing the cluster back as it was (`--continue`).
///     new_cluster: restore into a new cluster beside the running one, which is not touched:
///         the spec of the new cluster's member (`--new-cluster`; its `pg_cluster` is the new
///         scope and stanza). After an interrupted (or failed) run of the same restore, the
///         plan is that run's, its `warnings` saying what the re-run does (`redo`), and its
///         `on_failure` the steps that remove what the run created.
///
/// Returns:
///     The plan document: `kind` (`cluster_restore`), `members`, `preflight`, `steps` (each
///     with `id`, `phase`, `member`, `host`, `title`, `reason`, `action`), `on_failure`, and
///     the chosen member's `restore` plan.
#[pyfunction]
#[pyo3(signature = (specs, request = None, *, member = None, force = false, drain_timeout = 120, backup = true, zone = None, timeout = 3600, continue_run = false, new_cluster = None))]
#[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)] // keyword arguments
fn plan_restore_cluster(
    py: Python<'_>,
    specs: &Bound<'_, PyAny>,
    request: Option<&Bound<'_, PyAny>>,
    member: Option<String>,
    force: bool,
    drain_timeout: u64,
    backup: bool,
    zone: Option<&str>,
    timeout: u64,
    continue_run: bool,
    new_cluster: Option<&Bound<'_, PyAny>>,
) -> Result<Py<PyAny>> {
    let (specs, request) = cluster_inputs(specs, request, zone)?;
    let options = cluster_options(member, force, drain_timeout, backup, timeout, continue_run)?;
    let new = new_cluster_spec(new_cluster)?;
    let prepared =
        py.detach(|| ops::prepare_cluster_or_new(&specs, new.as_ref(), &request, &options))?;
    py_data(py, &prepared.plan)
}

/// Restores a whole Patroni cluster to a target, like `pitr restore --cluster --json`: plans
/// as `plan_restore_cluster` does, then runs every phase. Before the DCS is emptied, a failure
/// brings the cluster back as it was (the error says so).
///
/// Args: as `plan_restore_cluster`, plus
///     echo: print progress to stderr (it always goes to the run log).
///
/// Returns:
///     `{"plan", "selection", "completed", "restore", "timeline", "continuity", "backup",
///     "log_file"}`, and `"resumed"` (`run_id`, `interrupted_at`, `decision`, `why`) when it
///     completed an interrupted run of the same restore, or (`new_cluster`, `decision`
///     `redo`) removed what an interrupted run into the new cluster created and restored again.
///
/// Raises:
///     PitrError: `remote_member` when a member is on another host (use the playbook),
///         `cluster_not_ready`, `patroni_auth` (a member's REST API refuses the specs'
///         `patroni_username`/`patroni_password`), `archive_not_drained`, `recovery_failed`,
///         ...;
///         `run_undone` when it brought the cluster of an interrupted run back as it was,
///         `run_interrupted` when another restore of the cluster is interrupted.
#[pyfunction]
#[pyo3(signature = (specs, request = None, *, member = None, force = false, drain_timeout = 120, backup = true, zone = None, timeout = 3600, continue_run = false, new_cluster = None, echo = false))]
#[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)] // keyword arguments
fn run_restore_cluster(
    py: Python<'_>,
    specs: &Bound<'_, PyAny>,
    request: Option<&Bound<'_, PyAny>>,
    member: Option<String>,
    force: bool,
    drain_timeout: u64,
    backup: bool,
    zone: Option<&str>,
    timeout: u64,
    continue_run: bool,
    new_cluster: Option<&Bound<'_, PyAny>>,
    echo: bool,
) -> Result<Py<PyAny>> {
    let (specs, request) = cluster_inputs(specs, request, zone)?;
    let options = cluster_options(member, force, drain_timeout, backup, timeout, continue_run)?;
    let new = new_cluster_spec(new_cluster)?;
    let outcome = py.detach(|| {
        let prepared = ops::prepare_cluster_or_new(&specs, new.as_ref(), &request, &options)?;
        let node = Node::from_spec(new.as_ref().unwrap_or(&specs[0]));
        let log = ops::run_log(&node, "cluster-restore", echo, false);
        ops::run_cluster_restore(prepared, &log)
    })?;
    py_data(py, &outcome)
}

/// A cluster plan for people and for a playbook: the text `pitr restore --cluster --dry-run`
/// prints, and how each phase runs host by host: consecutive steps that run on one member's
/// host, in the plan's order.
///
/// Args:
///     plan: a plan of `plan_restore_cluster`.
///
/// Returns:
///     `{"text": str, "phases": {"pause": [{"member": str, "steps": [id, ...]}, ...],
///     "stop": [...], ..., "rollback": [...]}}`.
#[pyfunction]
fn describe_cluster_plan(py: Python<'_>, plan: &Bound<'_, PyAny>) -> Result<Py<PyAny>> {
    let plan = cluster_plan(plan)?;
    let phases: serde_json::Map<String, Value> = ops::PHASES
        .iter()
        .map(|&p| {
            let runs = serde_json::to_value(plan.phase_runs(p)).unwrap_or_default();
            (p.name().to_owned(), runs)
        })
        .collect();
    py_data(
        py,
        &serde_json::json!({"text": plan.to_text(), "phases": phases}),
    )
}

fn cluster_plan(plan: &Bound<'_, PyAny>) -> Result<pitr_core::plan::cluster::ClusterPlan> {
    pitr_core::plan::cluster::ClusterPlan::from_value(value(plan)?).map_err(|e| {
        pitr_core::Error::Parse {
            what: "cluster plan".into(),
            message: e.to_string(),
        }
        .into()
    })
}

/// Runs one phase of a cluster plan on one member's host: the steps of `phase` (of the plan's
/// `on_failure` for `"rollback"`) that run on the host of the member of `spec`
/// (`<pg_cluster>-<pg_seq>`), or those of them named in `steps`, in order. What
/// `pgsql-pitr.yml` runs on each host of a multi-host Patroni inventory, host by host in the
/// order `describe_cluster_plan` gives.
///
/// Args:
///     spec: the cluster spec of the member on this host.
///     plan: a plan of `plan_restore_cluster` (computed once, on the restored member's host).
///     phase: `pause`, `stop`, `restore`, `dcs`, `start`, `resume`, `replicas`, `archive`,
///         `backup` or `rollback`.
///     steps: ids of the steps to run (one entry of `describe_cluster_plan`'s phases); all
///         of the phase's steps on this member's host when `None`.
///     restored_timeline: the `restore` phase's `restored_timeline` (the `archive` phase
///         needs it).
///     request: the `pg_pitr` dict the plan was made for: on the restored member's host the
///         restore config's secrets (redacted in the plan) are rendered again from `spec` and
///         it, and used only when the result is the plan's.
///     zone: IANA time zone for target times written without one, as when planning.
///     echo: print progress to stderr (it always goes to the run log).
///
/// Returns:
///     `{"phase", "member", "completed", "restore", "restored_timeline", "timeline",
///     "continuity", "backup", "log_file"}`; `completed` is empty when the phase has nothing
///     for the member.
///
/// Raises:
///     PitrError: the failing step's code (`archive_not_drained`, `recovery_target_not_reached`,
///         ...), its message saying what is left to do; `plan_not_runnable` for a plan that
///         would remove another directory than the spec's data directory.
#[pyfunction]
#[pyo3(signature = (spec, plan, phase, *, steps = None, restored_timeline = None, request = None, zone = None, echo = false))]
#[allow(clippy::too_many_arguments)]
fn run_cluster_phase(
    py: Python<'_>,
    spec: &Bound<'_, PyAny>,
    plan: &Bound<'_, PyAny>,
    phase: &str,
    steps: Option<Vec<String>>,
    restored_timeline: Option<u64>,
    request: Option<&Bound<'_, PyAny>>,
    zone: Option<&str>,
    echo: bool,
) -> Result<Py<PyAny>> {
    let spec = ops::complete_spec(self::spec(spec)?);
    let plan = cluster_plan(plan)?;
    let phase = phase.parse()?;
    let request = request
        .filter(|r| !r.is_none())
        .map(|r| self::request(Some(r), zone))
        .transpose()?;
    let outcome = py.detach(|| {
        let node = Node::from_spec(&spec);
        let log = ops::run_log(&node, "cluster-restore", echo, false);
        let args = ops::PhaseArgs {
            steps: steps.as_deref(),
            restored_timeline,
            request: request.as_ref(),
        };
        ops::run_cluster_phase(&plan, phase, &spec, args, &log)
    })?;
    py_data(py, &outcome)
}

/// Plans starting or stopping the spec's PostgreSQL as the database superuser (the `up` and
/// `down` phases around a restore). `plan.summary["changed"]` says whether it does anything;
/// `plan.run()` does it.
///
/// Args:
///     spec: the cluster spec.
///     action: `"start"` or `"stop"`.
#[pyfunction]
fn plan_service(spec: &Bound<'_, PyAny>, action: &str) -> Result<Plan> {
    let action: ServiceAction = action.parse()?;
    let node = Node::from_spec(&self::spec(spec)?);
    let plan = ops::prepare_service(&node, action)?;
    Ok(Plan::new(plan, None, Some(node)))
}

/// Who owns a rendered file unless told otherwise, as `pitr render --output` decides: the
/// spec's `pg_dbsu` (who runs pgBackRest and PostgreSQL), `root` for cron lines.
#[pyfunction]
fn default_owner(spec: &Bound<'_, PyAny>, what: &str) -> Result<String> {
    let what: ops::RenderWhat = what.parse()?;
    Ok(what.default_owner(&self::spec(spec)?).to_owned())
}

/// Checks, without writing, that `write_file` could write `path` for `owner`: no link at the
/// name, no directory on the way that others than root and the owner control. Raises
/// `PitrError` with code `unsafe_path` otherwise.
#[pyfunction]
#[pyo3(signature = (path, *, owner = None))]
fn check_writable(path: PathBuf, owner: Option<&str>) -> Result<()> {
    let owner = owner
        .map(pitr_core::run::user::OsUser::lookup)
        .transpose()?;
    Ok(pitr_core::run::files::check_writable(
        &path,
        owner.as_ref(),
    )?)
}

/// Backup sets, recoverable windows and marks of the spec's stanza, like `pitr info --json`.
#[pyfunction]
fn info(py: Python<'_>, spec: &Bound<'_, PyAny>) -> Result<Py<PyAny>> {
    let node = Node::from_spec(&self::spec(spec)?);
    let doc = py.detach(|| ops::info(&node))?;
    py_data(py, &doc)
}

/// On the primary, pushes the WAL of the current timeline's history that `pg_wal` holds and
/// the archive lacks (after a failover), like `pitr continuity --json`; skips on a replica.
/// The GIL is released while it runs.
///
/// Args:
///     spec: the cluster spec of this node.
///     dry_run: plan only; the returned document's `plan` says what would be pushed.
///     echo: print progress to stderr (it always goes to the run log).
///
/// Returns:
///     `{"skipped", "dry_run", "plan", "report"}`: the plan's `summary` lists the files
///     pushed (`push`, each with the repos that lacked it) and those every repo already held
///     (`present`); `report` holds the completed step ids and the run log.
///
/// Raises:
///     PitrError: code `archive_conflict` when a repo holds a copy of a file that differs from
///         pg_wal's (nothing is pushed then).
#[pyfunction]
#[pyo3(signature = (spec, *, dry_run = false, echo = false, wait = false))]
fn continuity(
    py: Python<'_>,
    spec: &Bound<'_, PyAny>,
    dry_run: bool,
    echo: bool,
    wait: bool,
) -> Result<Py<PyAny>> {
    let node = Node::from_spec(&self::spec(spec)?);
    let outcome = py.detach(|| {
        let log = ops::run_log(&node, "continuity", echo, false);
        let locked = ops::lock_stanza(&node, "continuity", wait, &|m| log.line(m))?;
        ops::continuity(&node, dry_run, &log, &locked)
    })?;
    py_data(py, &outcome)
}

/// A restore drill, like `pitr drill --json`: restores a clone beside the running cluster (a
/// scratch directory, a free port, archiving off, reduced priority), verifies the stop point,
/// asks the clone the spec's `pitr_drill_assertions`, runs amcheck and (with data checksums)
/// pg_checksums, removes the clone and records the result. The GIL is released while it runs.
///
/// Args:
///     spec: the cluster spec of this node.
///     time: restore to this time; or
///     name: to this restore point; or
///     lsn: to this LSN; or
///     random: to a random time in the recoverable window (`seed` makes it repeatable).
///     The end of the archive when none is given.
///     scratch: the scratch directory (`<pg_data>-drill`).
///     amcheck: run amcheck on the clone's indexes.
///     timeout: seconds to wait for recovery.
///     record: write the record for `pitr exporter` and `pitr info`.
///     echo: print progress to stderr (it always goes to the run log).
///
/// Returns:
///     The drill record: `ok`, `code` and `error` (a failed drill returns too), the target,
///     `restore_secs`, `replay_secs`, `total_secs`, `check_secs`, what was restored and
///     checked.
#[pyfunction]
#[pyo3(signature = (spec, *, time = None, name = None, lsn = None, random = false, seed = None,
    scratch = None, amcheck = true, timeout = 3600, record = true, echo = false))]
#[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)] // keyword arguments
fn drill(
    py: Python<'_>,
    spec: &Bound<'_, PyAny>,
    time: Option<&str>,
    name: Option<&str>,
    lsn: Option<&str>,
    random: bool,
    seed: Option<u64>,
    scratch: Option<PathBuf>,
    amcheck: bool,
    timeout: u64,
    record: bool,
    echo: bool,
) -> Result<Py<PyAny>> {
    use pitr_core::ops::drill::{DrillOptions, DrillTarget};
    let given = [time.is_some(), name.is_some(), lsn.is_some(), random];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(pitr_core::Error::InvalidSetting {
            key: "target".into(),
            context: "pitr.drill".into(),
            message: "give one of time, name, lsn and random".into(),
        }
        .into());
    }
    let target = match (time, name, lsn) {
        (Some(t), _, _) => DrillTarget::Time(t.parse()?),
        (_, Some(n), _) => DrillTarget::Name(n.parse()?),
        (_, _, Some(l)) => DrillTarget::Lsn(l.parse()?),
        _ if random => DrillTarget::Random(seed),
        _ => DrillTarget::End,
    };
    let spec = self::spec(spec)?;
    let options = DrillOptions {
        target,
        scratch: scratch
            .as_deref()
            .map(|p| pitr_core::names::SafePath::from_path("scratch", "pitr.drill", p))
            .transpose()?,
        timeout_secs: timeout,
        amcheck,
        assertions: spec.drill_assertions.clone(),
    };
    let node = Node::from_spec(&spec);
    let (rec, _) = py.detach(|| {
        let log = ops::run_log(&node, "drill", echo, false);
        ops::drill::drill(&node, &options, &log, record)
    });
    py_data(py, &rec)
}

/// Writes a file the way pitr writes every file as root: a new temporary file beside it with
/// mode and owner set on the descriptor, renamed into place; a symbolic link at the name, or
/// a directory that users other than root and the owner can write, is refused (code
/// `unsafe_path`).
///
/// Args:
///     path: the file.
///     contents: what to write (may hold secrets: they never leave Rust's side of the write).
///     mode: its permission bits (0o600 by default).
///     owner: its owner (the current user when `None`; another user needs root).
#[pyfunction]
#[pyo3(signature = (path, contents, *, mode = 0o600, owner = None))]
fn write_file(path: PathBuf, contents: &str, mode: u32, owner: Option<&str>) -> Result<()> {
    let owner = owner
        .map(pitr_core::run::user::OsUser::lookup)
        .transpose()?;
    Ok(pitr_core::run::files::write_atomic(
        &path,
        contents.as_bytes(),
        mode,
        owner.as_ref(),
    )?)
}

/// Creates a restore point, records it on the newest backup set of every repo, and waits
/// until its WAL is archived, like `pitr mark NAME --json`. Takes the stanza's lock first
/// (code `stanza_locked` while another pitr holds it, unless `wait=True`).
#[pyfunction]
#[pyo3(signature = (spec, name, *, wait = false))]
fn mark(py: Python<'_>, spec: &Bound<'_, PyAny>, name: &str, wait: bool) -> Result<Py<PyAny>> {
    let name: RestorePointName = name.parse()?;
    let node = Node::from_spec(&self::spec(spec)?);
    let result = py.detach(|| {
        let locked = ops::lock_stanza(&node, "mark", wait, &|_| {})?;
        ops::mark(&node, &name, &locked)
    })?;
    py_data(py, &result)
}

/// Validates a cluster spec and returns it as pitr reads it: every default filled in,
/// secrets redacted.
#[pyfunction]
fn check_spec(py: Python<'_>, spec: &Bound<'_, PyAny>) -> Result<Py<PyAny>> {
    py_data(py, &self::spec(spec)?)
}

/// The secret values in a spec (every repo definition, the Patroni password) and a request's
/// inline repo, for
/// masking them in output (Ansible's `no_log_values`). Never print the result.
#[pyfunction]
#[pyo3(signature = (spec, request = None))]
fn secret_values(
    spec: &Bound<'_, PyAny>,
    request: Option<&Bound<'_, PyAny>>,
) -> Result<Vec<String>> {
    let spec = self::spec(spec)?;
    let request = opt_value(request)?
        .map(|v| pitr_core::target::RestoreRequest::from_pg_pitr(v, None))
        .transpose()
        // A request that does not validate holds no secret pitr would use; its own error
        // comes where it is used.
        .unwrap_or(None);
    Ok(api::secret_values(&spec, request.as_ref()))
}

/// A pgBackRest config text with every secure option's value (`repoN-cipher-pass`,
/// `repoN-s3-key-secret`, ...) replaced by `<redacted>`, e.g. to show a file written earlier.
#[pyfunction]
fn redact_config(text: &str) -> String {
    api::redact_pgbackrest_conf(text)
}

/// The keys of pgBackRest's secure options as Pigsty writes them in a repo dict (`cipher_pass`,
/// `s3_key_secret`, ...), from pitr's option catalogue, and the spec's `patroni_password`: the
/// Ansible modules mask the values under these keys before the spec is validated.
fn secret_keys() -> Vec<String> {
    let mut keys: Vec<String> = pitr_core::catalog::all()
        .iter()
        .filter(|def| def.secure)
        .map(pitr_core::catalog::OptionDef::snake_name)
        .chain(std::iter::once("patroni_password".to_owned()))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[pymodule]
fn _pitr(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SPEC_KEYS", PyTuple::new(py, pitr_core::spec::SPEC_KEYS)?)?;
    m.add(
        "REQUEST_KEYS",
        PyTuple::new(py, pitr_core::target::REQUEST_KEYS)?,
    )?;
    m.add("SECRET_KEYS", PyFrozenSet::new(py, secret_keys())?)?;
    errors::init_base(py)?;
    m.add("PitrError", py.get_type::<errors::PitrError>())?;
    m.add("PitrInputError", errors::input_error_type(py)?)?;
    m.add("RecoveryError", py.get_type::<errors::RecoveryError>())?;
    m.add_function(wrap_pyfunction!(render_config, m)?)?;
    m.add_function(wrap_pyfunction!(render_restore_config, m)?)?;
    m.add_function(wrap_pyfunction!(parse_info, m)?)?;
    m.add_function(wrap_pyfunction!(render_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(recovery_window, m)?)?;
    m.add_function(wrap_pyfunction!(select_backup, m)?)?;
    m.add_function(wrap_pyfunction!(plan_backup, m)?)?;
    m.add_function(wrap_pyfunction!(plan_restore, m)?)?;
    m.add_function(wrap_pyfunction!(plan_restore_cluster, m)?)?;
    m.add_function(wrap_pyfunction!(run_restore_cluster, m)?)?;
    m.add_function(wrap_pyfunction!(describe_cluster_plan, m)?)?;
    m.add_function(wrap_pyfunction!(run_cluster_phase, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    m.add_function(wrap_pyfunction!(write_file, m)?)?;
    m.add_function(wrap_pyfunction!(check_writable, m)?)?;
    m.add_function(wrap_pyfunction!(default_owner, m)?)?;
    m.add_class::<Plan>()?;
    m.add_function(wrap_pyfunction!(mark, m)?)?;
    m.add_function(wrap_pyfunction!(drill, m)?)?;
    m.add_function(wrap_pyfunction!(continuity, m)?)?;
    m.add_function(wrap_pyfunction!(plan_service, m)?)?;
    m.add_function(wrap_pyfunction!(check_spec, m)?)?;
    m.add_function(wrap_pyfunction!(secret_values, m)?)?;
    m.add_function(wrap_pyfunction!(redact_config, m)?)?;
    Ok(())
}
