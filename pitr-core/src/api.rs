//! The facade front ends share: plain JSON values in, core types or JSON values out.
//!
//! The Python module `pitr` (and through it the Ansible modules) hands this module what its
//! callers wrote — a cluster spec as a mapping of Pigsty variables, a `pg_pitr` mapping,
//! `pgbackrest info` output as text or as parsed JSON — and gets back the same values the CLI
//! prints with `--json`. Every function here only converts and forwards: the rules live in
//! [`spec`](crate::spec), [`target`](crate::target), [`select`](crate::select),
//! [`plan`](crate::plan), [`ops`] and [`run`](crate::run).
//!
//! ```
//! use pitr_core::api;
//! let spec = api::spec(serde_json::json!({"pg_cluster": "pg-meta", "pgbackrest_version": "2.45"}))?;
//! let conf = api::render(&spec, api::RenderWhat::Pgbackrest, None)?;
//! assert!(conf.redacted().contains("[pg-meta]"));
//! let request = api::request(serde_json::json!({"lsn": "0/3000000"}), None)?;
//! assert_eq!(request.target.pgbackrest_type(), "lsn");
//! # Ok::<(), pitr_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::Value;

use crate::archive::{self, ArchiveListing};
use crate::catalog;
use crate::error::{Error, Result};
use crate::history::{self, TimelineHistories};
use crate::info::{self, InfoReport, StanzaInfo};
use crate::marks::{self, MarkRecord};
use crate::names::{
    BackupType, DEFAULT_SEGMENT_SIZE, REDACTED, RestorePointName, SafePath, TimelineId,
};
use crate::node::Node;
use crate::ops::{self, MarkResult, PreparedRestore, RestoreOptions, Role};
use crate::plan::Plan;
use crate::render::{RenderedFile, Renderer, RestoreConfig};
use crate::run::log::RunLog;
use crate::run::pgbackrest::RepoSnapshot;
use crate::run::runner::{self, RunReport};
use crate::select::{self, RepoState, Selection};
use crate::spec::ClusterSpec;
use crate::target::{RepoChoice, RestoreRequest};
use crate::version::Version;
use crate::window::{self, RecoverableWindow};

/// Which file [`render`] renders (the CLI's `pitr render --what`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderWhat {
    /// The node's `pgbackrest.conf`.
    Pgbackrest,
    /// The restore config for the spec's own cluster (Pigsty's `pitr.conf`).
    Restore,
    /// PostgreSQL's `archive_mode` and `archive_command`.
    Archive,
    /// Cron lines for scheduled backups.
    Cron,
}

impl std::str::FromStr for RenderWhat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pgbackrest" => Ok(RenderWhat::Pgbackrest),
            "restore" => Ok(RenderWhat::Restore),
            "archive" => Ok(RenderWhat::Archive),
            "cron" => Ok(RenderWhat::Cron),
            _ => Err(Error::invalid(
                "file to render",
                s,
                "expected one of: pgbackrest, restore, archive, cron",
            )),
        }
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "primary" => Ok(Role::Primary),
            "replica" => Ok(Role::Replica),
            _ => Err(Error::invalid(
                "role",
                s,
                "expected 'primary' or 'replica' (or none, to ask PostgreSQL)",
            )),
        }
    }
}

/// The installed pgBackRest's version, if `pgbackrest` is on `PATH` and answers.
pub fn detect_pgbackrest_version() -> Option<Version> {
    let bin = crate::run::tools::pgbackrest().ok()?;
    let out = std::process::Command::new(bin)
        .arg("version")
        .output()
        .ok()?;
    crate::version::parse_version_output(&String::from_utf8_lossy(&out.stdout)).ok()
}

/// A validated cluster spec from a mapping of Pigsty variables. When the spec does not say
/// which pgBackRest it is for, the installed one is asked (as `pitr render` does).
pub fn spec(value: Value) -> Result<ClusterSpec> {
    let mut spec = ClusterSpec::from_value(value)?;
    if spec.pgbackrest_version.is_none() {
        spec.pgbackrest_version = detect_pgbackrest_version();
    }
    Ok(spec)
}

/// A time zone by IANA name, or `local` for the system's.
pub fn time_zone(name: &str) -> Result<TimeZone> {
    if name == "local" {
        return Ok(TimeZone::system());
    }
    TimeZone::get(name).map_err(|_| {
        Error::invalid(
            "time zone",
            name,
            "expected an IANA zone name such as 'Asia/Shanghai' or 'UTC', or 'local'",
        )
    })
}

/// A validated restore request from Pigsty's `pg_pitr` mapping; `zone` (an IANA name or
/// `local`) reads target times written without a zone.
pub fn request(value: Value, zone: Option<&str>) -> Result<RestoreRequest> {
    let zone = zone.map(time_zone).transpose()?;
    RestoreRequest::from_pg_pitr(value, zone.as_ref())
}

fn renderer(templates: Option<&Path>) -> Result<Renderer> {
    match templates {
        Some(dir) => Renderer::with_overrides(dir),
        None => Ok(Renderer::new()),
    }
}

/// Renders one of the spec's files, with the embedded templates or those in `templates`.
pub fn render(
    spec: &ClusterSpec,
    what: RenderWhat,
    templates: Option<&Path>,
) -> Result<RenderedFile> {
    let renderer = renderer(templates)?;
    match what {
        RenderWhat::Pgbackrest => renderer.pgbackrest_conf(spec),
        RenderWhat::Restore => renderer.restore_conf(&RestoreConfig::from_spec(spec)),
        RenderWhat::Archive => renderer.archive_settings(spec),
        RenderWhat::Cron => renderer.crontab(spec),
    }
}

/// Where a caller asked the restore config to go (`restore_config=`), validated as a
/// [`SafePath`]: the path reaches pgBackRest's `restore_command` and the dry-run script.
pub fn restore_config_path(path: Option<&Path>) -> Result<Option<SafePath>> {
    path.map(|p| SafePath::from_path("restore_config", "restore options", p))
        .transpose()
}

/// The restore config a restore of `request` on the spec's node writes to `path` (beside
/// pgbackrest.conf when `None`): the same values the restore planner puts into its
/// `write-restore-config` step.
pub fn restore_config(
    spec: &ClusterSpec,
    request: &RestoreRequest,
    path: Option<&Path>,
) -> Result<RestoreConfig> {
    let path = restore_config_path(path)?;
    let mut node = Node::from_spec(spec);
    if let Some(c) = &request.cluster {
        node.stanza = c.clone();
    }
    // Only the config is used; the binaries and the timeout do not go into it.
    let site = node.restore_site(Path::new(""), Path::new(""), path, 0);
    crate::plan::restore::restore_config_for(&site, request)
}

/// Renders the restore config for `request` (see [`restore_config`]).
pub fn render_restore_config(
    spec: &ClusterSpec,
    request: &RestoreRequest,
    path: Option<&Path>,
    templates: Option<&Path>,
) -> Result<RenderedFile> {
    renderer(templates)?.restore_conf(&restore_config(spec, request, path)?)
}

/// `pgbackrest info --output=json` given as its text or as the parsed JSON value.
pub fn info(value: &Value) -> Result<InfoReport> {
    match value {
        Value::String(text) => info::parse(text),
        other => info::parse(&other.to_string()),
    }
}

/// The stanza called `name`, or the only stanza of the report when `name` is `None`.
pub fn stanza<'a>(report: &'a InfoReport, name: Option<&str>) -> Result<&'a StanzaInfo> {
    match (name, report.stanzas.as_slice()) {
        (Some(n), _) => report.stanza(n),
        (None, [only]) => Ok(only),
        (None, stanzas) => Err(Error::InvalidSetting {
            key: "stanza".into(),
            context: "pgbackrest info output".into(),
            message: format!(
                "it holds {} stanzas ({}): name the one to use",
                stanzas.len(),
                stanzas
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Timeline history files by timeline: `{"2": "<text of 00000002.history>"}`. Keys are
/// decimal timeline numbers or the 8-digit hex names of the files.
pub fn histories(value: Option<Value>) -> Result<TimelineHistories> {
    let mut out = TimelineHistories::new();
    let Some(value) = value else {
        return Ok(out);
    };
    let Value::Object(map) = value else {
        return Err(Error::Parse {
            what: "timeline histories".into(),
            message: "expected a mapping of timeline to history file text, e.g. {\"2\": \"1\\t0/3000000\\tno recovery target specified\"}".into(),
        });
    };
    for (key, text) in map {
        let name = key.trim_end_matches(".history");
        let tli = if name.len() == 8 {
            u32::from_str_radix(name, 16)
                .ok()
                .and_then(|n| TimelineId::new(n).ok())
                .ok_or_else(|| {
                    Error::invalid(
                        "timeline",
                        name,
                        "expected a timeline such as 2 or 00000002",
                    )
                })?
        } else {
            name.parse::<TimelineId>()?
        };
        let Value::String(text) = text else {
            return Err(Error::Parse {
                what: format!("timeline history {key}"),
                message: "expected the text of the history file".into(),
            });
        };
        out.insert(history::parse(tli, &text)?);
    }
    Ok(out)
}

/// Archive listings by repo key: `{"1": "<pgbackrest repo-ls --recurse --output=json>"}`.
pub fn listings(value: Option<Value>) -> Result<BTreeMap<u32, ArchiveListing>> {
    let mut out = BTreeMap::new();
    let Some(value) = value else {
        return Ok(out);
    };
    let Value::Object(map) = value else {
        return Err(Error::Parse {
            what: "archive listings".into(),
            message: "expected a mapping of repo key to `pgbackrest repo-ls --recurse --output=json` output".into(),
        });
    };
    for (key, listing) in map {
        let repo: u32 = key
            .strip_prefix("repo")
            .unwrap_or(&key)
            .parse()
            .map_err(|_| Error::invalid("repo key", key.as_str(), "expected a number such as 1"))?;
        let text = match listing {
            Value::String(s) => s,
            other => other.to_string(),
        };
        out.insert(repo, archive::parse_repo_ls(&text, DEFAULT_SEGMENT_SIZE)?);
    }
    Ok(out)
}

/// The recoverable windows of a stanza, from its info (and histories and listings, when
/// given).
pub fn recovery_window(
    report: &InfoReport,
    stanza_name: Option<&str>,
    histories: &TimelineHistories,
    listings: &BTreeMap<u32, ArchiveListing>,
) -> Result<Vec<RecoverableWindow>> {
    Ok(window::windows(
        stanza(report, stanza_name)?,
        histories,
        listings,
    ))
}

/// Chooses the backup set for `request` from a stanza's info, across all its repos (a repo
/// index in the request limits the choice to that repo). Marks recorded by `pitr mark` are
/// read from the sets' annotations.
pub fn select_backup(
    report: &InfoReport,
    stanza_name: Option<&str>,
    request: &RestoreRequest,
    histories: &TimelineHistories,
    listings: &BTreeMap<u32, ArchiveListing>,
) -> Result<Selection> {
    let name = stanza_name.or(request
        .cluster
        .as_ref()
        .map(crate::names::StanzaName::as_str));
    let stanza = stanza(report, name)?;
    let repos = match &request.repo {
        None => None,
        Some(RepoChoice::Index(i)) => Some(vec![u32::from(*i)]),
        Some(_) => {
            return Err(Error::InvalidSetting {
                key: "repo".into(),
                context: "restore request".into(),
                message: "info alone does not tell which repo a name stands for: give the repo \
                          index, or plan the restore from a cluster spec"
                    .into(),
            });
        }
    };
    let marks: Vec<MarkRecord> = marks::from_info(stanza);
    select::select(
        RepoState {
            stanza,
            histories,
            listings,
            marks: &marks,
        },
        request,
        repos.as_deref(),
    )
}

/// A repo snapshot from an info report alone: no listings or histories; marks from the sets'
/// annotations.
pub fn snapshot_from_info(report: InfoReport) -> RepoSnapshot {
    let marks = report.stanzas.iter().flat_map(marks::from_info).collect();
    RepoSnapshot {
        info: report,
        histories: TimelineHistories::new(),
        listings: BTreeMap::new(),
        marks,
        warnings: Vec::new(),
    }
}

/// Plans a backup of the spec's node (see [`ops::prepare_backup`]). `kind` is `full`, `diff`
/// or `incr`; `role` is `primary` or `replica` (asked from PostgreSQL when `None`).
pub fn plan_backup(
    spec: &ClusterSpec,
    kind: Option<&str>,
    role: Option<&str>,
    repo: Option<u32>,
) -> Result<Plan> {
    let kind = kind.map(str::parse::<BackupType>).transpose()?;
    let role = role.map(str::parse::<Role>).transpose()?;
    ops::prepare_backup(&Node::from_spec(spec), kind, repo, role)
}

/// Plans a restore on the spec's node (see [`ops::prepare_restore`]). With `info`, selection
/// uses that report alone; without, pgBackRest is asked.
pub fn plan_restore(
    spec: &ClusterSpec,
    request: &RestoreRequest,
    info: Option<InfoReport>,
    options: &RestoreOptions,
) -> Result<PreparedRestore> {
    ops::prepare_restore(
        &Node::from_spec(spec),
        request,
        options,
        info.map(snapshot_from_info),
    )
}

/// Where run output goes: the node's log directory, echoed to stderr when `echo`, with the
/// spec's secret values masked.
pub fn run_log(spec: &ClusterSpec, name: &str, echo: bool, verbose: bool) -> RunLog {
    let owner = crate::run::user::OsUser::lookup(&spec.dbsu).ok();
    RunLog::open(
        &spec.log_dir,
        &format!("{}-{name}", spec.cluster),
        echo,
        owner.as_ref(),
    )
    .unwrap_or_else(|_| RunLog::terminal(echo))
    .echo_output(verbose)
    .with_secrets(secret_values(spec, None))
}

/// Runs a plan (which must still hold its secrets, or have none: see
/// [`runner::check_runnable`]).
pub fn run_plan(plan: &Plan, log: &RunLog) -> Result<RunReport> {
    runner::run_plan(plan, log)
}

/// What [`run_restore`] did: the plan, the chosen set and the run's report.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    /// The plan that ran (secrets redacted when serialized).
    pub plan: Plan,
    /// The chosen set and why.
    pub selection: Selection,
    /// The steps that ran and the verified stop point.
    pub report: RunReport,
}

/// Plans a restore on the spec's node from what pgBackRest reports now, and runs it.
pub fn run_restore(
    spec: &ClusterSpec,
    request: &RestoreRequest,
    options: &RestoreOptions,
    log: &RunLog,
) -> Result<RestoreOutcome> {
    let prepared = plan_restore(spec, request, None, options)?;
    let report = runner::run_plan(&prepared.plan, log)?;
    Ok(RestoreOutcome {
        plan: prepared.plan,
        selection: prepared.selection,
        report,
    })
}

/// What [`run_backup`] did; the shape of `pitr backup --json`.
#[derive(Debug, Clone, Serialize)]
pub struct BackupOutcome {
    /// Whether the backup was skipped (the instance is a replica).
    pub skipped: bool,
    /// The plan.
    pub plan: Plan,
    /// The run's report (absent when skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<RunReport>,
}

/// Plans a backup of the spec's node and runs it, unless the node is a replica.
pub fn run_backup(
    spec: &ClusterSpec,
    kind: Option<&str>,
    role: Option<&str>,
    repo: Option<u32>,
    log: &RunLog,
) -> Result<BackupOutcome> {
    let plan = plan_backup(spec, kind, role, repo)?;
    if plan.summary["skipped"] == true {
        return Ok(BackupOutcome {
            skipped: true,
            plan,
            report: None,
        });
    }
    let report = runner::run_plan(&plan, log)?;
    Ok(BackupOutcome {
        skipped: false,
        plan,
        report: Some(report),
    })
}

/// What [`plan_service`] does to the node's PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    /// Start it (`pg_ctl start -w`) unless it runs.
    Start,
    /// Stop it (`pg_ctl stop -m fast -w`) if it runs.
    Stop,
}

impl std::str::FromStr for ServiceAction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "start" | "started" => Ok(ServiceAction::Start),
            "stop" | "stopped" => Ok(ServiceAction::Stop),
            _ => Err(Error::invalid(
                "service action",
                s,
                "expected 'start' or 'stop'",
            )),
        }
    }
}

/// Plans starting or stopping the spec's PostgreSQL as the database superuser, for the `up`
/// and `down` phases around a restore. The plan's summary says whether it changes anything
/// (`changed`); when nothing is to do its only step is a note. The stop step is the one a
/// restore plan starts with.
pub fn plan_service(spec: &ClusterSpec, action: ServiceAction) -> Result<Plan> {
    use crate::plan::{Action, PlanKind, Step};
    let node = Node::from_spec(spec);
    let tools = crate::run::tools::Tools::locate(node.pg_bin_dir.as_deref(), Some(&node.data))?;
    let pid = crate::run::facts::postmaster_pid(&node.data);
    let pg_ctl = tools.pg("pg_ctl").to_string_lossy().into_owned();
    let data = node.data.to_string_lossy().into_owned();
    let exec = |id: &str, title: String, argv: Vec<String>| Step {
        id: id.into(),
        title,
        destructive: false,
        action: Action::Exec {
            argv,
            run_as: Some(node.dbsu.clone()),
            ok_status: Vec::new(),
        },
    };
    let (step, changed) = match (action, pid) {
        (ServiceAction::Stop, Some(pid)) => (
            exec(
                "stop",
                format!("Stop PostgreSQL (pid {pid})"),
                vec![
                    pg_ctl,
                    "stop".into(),
                    "-D".into(),
                    data.clone(),
                    "-m".into(),
                    "fast".into(),
                    "-w".into(),
                    "-t".into(),
                    "3600".into(),
                ],
            ),
            true,
        ),
        (ServiceAction::Start, None) => {
            if !node.data.join("PG_VERSION").is_file() {
                return Err(Error::DataDirectory {
                    path: node.data.to_path_buf(),
                    problem: "it holds no PostgreSQL cluster (no PG_VERSION) to start".into(),
                });
            }
            let log = node
                .log_dir
                .join(format!("{}-pitr-start.log", node.stanza))
                .to_string_lossy()
                .into_owned();
            (
                exec(
                    "start",
                    "Start PostgreSQL".into(),
                    vec![
                        pg_ctl,
                        "start".into(),
                        "-D".into(),
                        data.clone(),
                        "-l".into(),
                        log,
                        "-w".into(),
                        "-t".into(),
                        "3600".into(),
                    ],
                ),
                true,
            )
        }
        (ServiceAction::Start, Some(pid)) => (
            Step {
                id: "running".into(),
                title: "PostgreSQL runs already".into(),
                destructive: false,
                action: Action::Note {
                    text: format!("PostgreSQL (pid {pid}) runs in {data}; nothing to do."),
                },
            },
            false,
        ),
        (ServiceAction::Stop, None) => (
            Step {
                id: "stopped".into(),
                title: "PostgreSQL is not running".into(),
                destructive: false,
                action: Action::Note {
                    text: format!("No PostgreSQL runs in {data}; nothing to do."),
                },
            },
            false,
        ),
    };
    Ok(Plan {
        kind: PlanKind::Restore,
        stanza: node.stanza.to_string(),
        summary: serde_json::json!({
            "service": match action { ServiceAction::Start => "start", ServiceAction::Stop => "stop" },
            "data": data,
            "pid": pid,
            "changed": changed,
        }),
        warnings: Vec::new(),
        steps: vec![step],
        on_failure: Vec::new(),
    })
}

/// Creates a restore point on the spec's node (see [`ops::mark`]).
pub fn mark(spec: &ClusterSpec, name: &str) -> Result<MarkResult> {
    let name: RestorePointName = name.parse()?;
    ops::mark(&Node::from_spec(spec), &name)
}

/// The secret values of a spec (every repo definition, used or not) and of a request's inline
/// repo, for masking them wherever output may show them. Never print the result.
pub fn secret_values(spec: &ClusterSpec, request: Option<&RestoreRequest>) -> Vec<String> {
    let inline = request.and_then(|r| match &r.repo {
        Some(RepoChoice::Definition(def)) => Some(def.as_ref()),
        _ => None,
    });
    let mut out: Vec<String> = spec
        .repo_defs
        .values()
        .chain(inline)
        .flat_map(|def| def.options.iter())
        .filter(|o| o.value.is_secret() && o.value.expose() != REDACTED)
        .map(|o| o.value.expose().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A pgBackRest config text with the value of every secure option (`repoN-cipher-pass`,
/// `repoN-s3-key`, ...) replaced by `<redacted>`; everything else is kept as it is. For
/// showing a config written earlier, whose secrets the current spec may not know.
pub fn redact_pgbackrest_conf(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let trimmed = body.trim_start();
        let secure = !trimmed.starts_with('#')
            && !trimmed.starts_with('[')
            && trimmed.split_once('=').is_some_and(|(key, _)| {
                catalog::lookup(&catalog::base_name(key.trim())).is_some_and(|d| d.secure)
            });
        if secure {
            if let Some((key, _)) = body.split_once('=') {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
                out.push_str(ending);
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec_value() -> Value {
        json!({
            "pg_cluster": "pg-meta",
            "pgbackrest_version": "2.45",
            "pgbackrest_method": "local",
            "pgbackrest_repo": {
                "local": {"path": "/pg/backup", "cipher_type": "aes-256-cbc", "cipher_pass": "pitr.Secret-42"},
                "minio": {"type": "s3", "s3_endpoint": "sss.pigsty", "s3_bucket": "pgsql",
                          "s3_key": "pgbackrest", "s3_key_secret": "S3User.Backup", "path": "/pgbackrest"}
            }
        })
    }

    #[test]
    fn secrets_are_found_in_every_repo_definition() {
        let spec = spec(spec_value()).unwrap();
        let secrets = secret_values(&spec, None);
        assert!(
            secrets.contains(&"pitr.Secret-42".to_owned()),
            "{secrets:?}"
        );
        assert!(secrets.contains(&"S3User.Backup".to_owned()), "{secrets:?}");
        assert!(!secrets.contains(&"pgsql".to_owned()), "{secrets:?}");
    }

    #[test]
    fn redaction_of_a_written_config_keeps_everything_but_secure_values() {
        let spec = spec(spec_value()).unwrap();
        let file = render(&spec, RenderWhat::Pgbackrest, None).unwrap();
        assert!(file.has_secrets());
        assert_eq!(redact_pgbackrest_conf(file.contents()), file.redacted());
        let text = "[global]\nrepo2-s3-key-secret = old.secret\n# repo1-cipher-pass=x\n";
        assert_eq!(
            redact_pgbackrest_conf(text),
            "[global]\nrepo2-s3-key-secret =<redacted>\n# repo1-cipher-pass=x\n"
        );
    }

    #[test]
    fn restore_config_follows_the_request() {
        let spec = spec(spec_value()).unwrap();
        let req = request(
            json!({"lsn": "0/3000000", "data": "/pg/data2", "process": 3}),
            None,
        )
        .unwrap();
        let file = render_restore_config(&spec, &req, None, None).unwrap();
        let text = file.redacted();
        assert!(text.contains("pg1-path=/pg/data2\n"), "{text}");
        assert!(text.contains("archive-mode=off\n"), "{text}");
        assert!(text.contains("[global:restore]\nprocess-max=3\n"), "{text}");
        assert!(
            text.contains("# File      :   pitr-pg-meta-restore.conf"),
            "{text}"
        );
        let req = request(json!({"data": "/pg/data2", "archive": true}), None).unwrap();
        assert_eq!(
            restore_config(&spec, &req, None).unwrap_err().code(),
            "invalid_setting"
        );
    }

    #[test]
    fn a_restore_config_path_must_be_safe() {
        let spec = spec(spec_value()).unwrap();
        let req = request(serde_json::json!({}), None).unwrap();
        for (path, code) in [
            ("/tmp/$(touch /tmp/pwned)", "unsafe_characters"),
            ("/tmp/x\n[global]\nrepo1-host=evil", "unsafe_value"),
            ("pitr.conf", "invalid_setting"),
        ] {
            let e = render_restore_config(&spec, &req, Some(Path::new(path)), None).unwrap_err();
            assert_eq!(e.code(), code, "{path:?}: {e}");
            assert!(e.to_string().contains("'restore_config'"), "{e}");
        }
        let file =
            render_restore_config(&spec, &req, Some(Path::new("/etc/pgbackrest/x.conf")), None)
                .unwrap();
        assert!(file.contents().contains("# File      :   x.conf\n"));
    }

    #[test]
    fn histories_take_decimal_and_hex_keys() {
        let h = histories(Some(
            json!({"2": "1\t0/3000000\tno recovery target specified\n",
            "00000003.history": "1\t0/3000000\tx\n2\t0/5000000\ty\n"}),
        ))
        .unwrap();
        let two = TimelineId::new(2).unwrap();
        let three = TimelineId::new(3).unwrap();
        assert!(h.get(two).is_some() && h.get(three).is_some());
        assert!(histories(Some(json!({"0": ""}))).is_err());
        assert!(histories(Some(json!([1]))).is_err());
    }

    #[test]
    fn names_of_files_zones_and_roles() {
        assert_eq!("cron".parse::<RenderWhat>().unwrap(), RenderWhat::Cron);
        assert_eq!(
            "conf".parse::<RenderWhat>().unwrap_err().code(),
            "invalid_value"
        );
        assert_eq!("replica".parse::<Role>().unwrap(), Role::Replica);
        assert!("standby".parse::<Role>().is_err());
        assert!(time_zone("Asia/Shanghai").is_ok());
        assert_eq!(
            time_zone("Mars/Olympus").unwrap_err().code(),
            "invalid_value"
        );
        let r = request(
            json!({"time": "2025-01-01 08:00:00"}),
            Some("Asia/Shanghai"),
        )
        .unwrap();
        assert_eq!(
            r.target.pgbackrest_target().unwrap(),
            "2025-01-01 08:00:00+08"
        );
    }
}
