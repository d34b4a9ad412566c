//! `pitr.Plan`: a plan that keeps its secrets inside Rust.
//!
//! `plan_restore`, `plan_backup` and `plan_service` return one. Python sees what the CLI's
//! `--dry-run --json` prints (`to_dict()`, secrets redacted) and the script (`to_shell()`);
//! `run()` executes the very same plan — with the files it writes holding their secrets,
//! which never cross into Python. Ansible's check mode and the real run use the same object.

use std::path::PathBuf;

use pitr_core::node::Node;
use pitr_core::ops;
use pitr_core::plan::{Plan as CorePlan, PlanKind};
use pitr_core::run::log::RunLog;
use pitr_core::run::user::OsUser;
use pitr_core::select::Selection;
use pyo3::prelude::*;

use crate::errors::Result;
use crate::py_data;

/// A plan: what pitr will do, as data, before it does anything.
///
/// Made by `plan_restore`, `plan_backup` and `plan_service` (or `Plan.from_dict` for a plan
/// read back from JSON, which has lost its secrets). `to_dict()` is the plan as
/// `pitr ... --dry-run --json` prints it, `to_shell()` the same as a script for people, and
/// `run()` executes it.
#[pyclass(frozen, module = "pitr", name = "Plan")]
#[derive(Debug)]
pub(crate) struct Plan {
    inner: CorePlan,
    selection: Option<Selection>,
    /// For a restore: the request as the run journal records it, and the interrupted run the
    /// plan continues.
    request: serde_json::Value,
    resumed: Option<pitr_core::plan::resume::Resumed>,
    /// For a restore: milliseconds of each part of the pre-flight that planned it.
    preflight_ms: Vec<(String, u64)>,
    /// The node it was planned for: its log directory, lock and secrets; `None` from a dict.
    node: Option<Node>,
}

impl Plan {
    pub(crate) fn new(plan: CorePlan, selection: Option<Selection>, node: Option<Node>) -> Self {
        Plan {
            inner: plan,
            selection,
            request: serde_json::Value::Null,
            resumed: None,
            preflight_ms: Vec::new(),
            node,
        }
    }

    pub(crate) fn restore(prepared: ops::PreparedRestore, node: Node) -> Self {
        Plan {
            inner: prepared.plan,
            selection: Some(prepared.selection),
            request: prepared.request,
            resumed: prepared.resumed,
            preflight_ms: prepared.preflight_ms,
            node: Some(node),
        }
    }

    fn log(&self, log_dir: Option<PathBuf>, echo: bool, verbose: bool) -> Result<RunLog> {
        let name = self.inner.kind().as_str();
        Ok(match (&self.node, log_dir) {
            (_, Some(dir)) => {
                let owner = self
                    .node
                    .as_ref()
                    .map(|n| n.dbsu.as_str())
                    .map(OsUser::lookup)
                    .transpose()?;
                RunLog::open(
                    &dir,
                    &format!("{}-pitr-{name}", self.inner.stanza),
                    echo,
                    owner.as_ref(),
                )?
                .echo_output(verbose)
                .with_secrets(self.node.iter().flat_map(Node::secret_values))
            }
            (Some(node), None) => ops::run_log(node, name, echo, verbose),
            (None, None) => RunLog::terminal(echo).echo_output(verbose),
        })
    }
}

#[pymethods]
impl Plan {
    /// `"restore"`, `"backup"` or `"service"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind().as_str()
    }

    /// The stanza the plan works on.
    #[getter]
    fn stanza(&self) -> &str {
        &self.inner.stanza
    }

    /// Why the plan looks the way it does: the chosen set, repo, window (restore); the type
    /// and role (backup); whether anything changes (service).
    #[getter]
    fn summary(&self, py: Python<'_>) -> Result<Py<PyAny>> {
        let value =
            serde_json::to_value(&self.inner.summary).map_err(|e| pitr_core::Error::Metrics {
                message: e.to_string(),
            })?;
        py_data(py, &value["summary"])
    }

    /// Things the operator should know (e.g. a long replay).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }

    /// Whether any step removes or overwrites data.
    #[getter]
    fn destructive(&self) -> bool {
        self.inner.is_destructive()
    }

    /// For a restore: the chosen set and why (`set`, `repo`, `timeline`, `rule`, `reason`,
    /// ...); `None` otherwise.
    #[getter]
    fn selection(&self, py: Python<'_>) -> Result<Option<Py<PyAny>>> {
        self.selection.as_ref().map(|s| py_data(py, s)).transpose()
    }

    /// The plan as `pitr ... --dry-run --json` prints it, secrets redacted.
    fn to_dict(&self, py: Python<'_>) -> Result<Py<PyAny>> {
        py_data(py, &self.inner)
    }

    /// The plan as a commented shell script, for people to read (never run it through a
    /// shell: `run()` executes the argv steps).
    fn to_shell(&self) -> String {
        pitr_core::plan::shell::to_shell(&self.inner)
    }

    /// For a restore that continues an interrupted run: `{"run_id", "interrupted_at",
    /// "decision", "why"}` (`decision`: `complete`, `redo` or `undo`); `None` otherwise.
    #[getter]
    fn resumed(&self, py: Python<'_>) -> Result<Option<Py<PyAny>>> {
        self.resumed.as_ref().map(|r| py_data(py, r)).transpose()
    }

    /// Runs the plan. The GIL is released while it runs.
    ///
    /// A restore or backup planned from a spec first takes the stanza's lock on this node:
    /// while another pitr holds it, raises `PitrError` with code `stanza_locked` (naming the
    /// holder), or with `wait=True` waits for it. A plan read back with `from_dict` knows no
    /// node and runs without the lock and the run journal.
    ///
    /// Args:
    ///     echo: print progress to stderr.
    ///     verbose: also print pgBackRest's and PostgreSQL's output.
    ///     log_dir: write the run log there instead of the node's pgBackRest log directory.
    ///     wait: queue behind another pitr holding the stanza's lock instead of failing.
    ///
    /// Returns:
    ///     For a restore `{"plan", "selection", "preflight_ms", "report"}` (and `"resumed"`
    ///     when it continued an interrupted run) — the document `pitr restore --json` prints;
    ///     `preflight_ms` holds the milliseconds of each part of the pre-flight that planned
    ///     it (`[part, ms]`: `tools`, `snapshot`, `select`, `walscan`, `plan`). For a backup
    ///     `{"skipped", "plan", "report"}`; for a service plan `{"plan", "report"}`. `report`
    ///     holds the `completed` step ids, the `verified` stop point of a restore, the
    ///     `log_file` and `step_ms` (each completed step's milliseconds).
    #[pyo3(signature = (*, echo = true, verbose = false, log_dir = None, wait = false))]
    fn run(
        &self,
        py: Python<'_>,
        echo: bool,
        verbose: bool,
        log_dir: Option<PathBuf>,
        wait: bool,
    ) -> Result<Py<PyAny>> {
        let log = self.log(log_dir, echo, verbose)?;
        let plan = self.inner.clone();
        let kind = plan.kind();
        let node = self.node.as_ref();
        let lock = |command: &str| {
            node.map(|n| {
                py.detach(|| {
                    ops::lock_stanza(n, command, wait, &|m| log.line(&format!("pitr: {m}")))
                })
            })
            .transpose()
        };
        match (kind, &self.selection, lock(kind.as_str())?) {
            (PlanKind::Restore, Some(selection), Some(locked)) => {
                let prepared = ops::PreparedRestore {
                    plan,
                    selection: selection.clone(),
                    request: self.request.clone(),
                    resumed: self.resumed.clone(),
                    preflight_ms: self.preflight_ms.clone(),
                };
                let outcome = py.detach(|| ops::run_restore(prepared, &log, &locked))?;
                py_data(py, &outcome)
            }
            (PlanKind::Backup, _, Some(locked)) => {
                let outcome = py.detach(|| ops::run_backup(plan, &log, &locked))?;
                py_data(py, &outcome)
            }
            _ => {
                let report = py.detach(|| {
                    pitr_core::run::runner::run_plan(&plan, &log)
                        .map_err(|e| ops::explain_failure(&plan, e))
                })?;
                py_data(
                    py,
                    &serde_json::json!({"plan": &self.inner, "report": report}),
                )
            }
        }
    }

    /// A plan read back from its dict (`to_dict()`, or `--dry-run --json`). Such a plan has
    /// lost its secrets: `run()` refuses one that writes a file holding them (code
    /// `plan_not_runnable`); plan again from the spec instead.
    #[staticmethod]
    fn from_dict(plan: &Bound<'_, PyAny>) -> Result<Plan> {
        let value = crate::value(plan)?;
        Ok(Plan::new(
            CorePlan::from_json(&value.to_string())?,
            None,
            None,
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "<pitr.Plan {} of stanza {}: {} step(s)>",
            self.inner.kind().as_str(),
            self.inner.stanza,
            self.inner.steps.len()
        )
    }
}
