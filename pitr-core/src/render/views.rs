//! Plain view structs the templates render from, built from a spec or a restore config.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::{self, RepoType};
use crate::error::{Error, Result};
use crate::names::StanzaName;
use crate::spec::{ClusterSpec, RepoSpec};
use crate::target::{ArchiveMode, LinkMap};
use crate::version::Version;

/// One `repoN-key=value` line.
#[derive(Debug, Serialize)]
pub(super) struct OptionLine {
    key: String,
    value: String,
}

/// One repo in a view.
#[derive(Debug, Serialize)]
pub(super) struct RepoView {
    index: crate::names::RepoIndex,
    name: String,
    repo_type: String,
    options: Vec<OptionLine>,
}

/// Pigsty writes `${pg_cluster}` in repo values (e.g. a path per cluster); it stands for the
/// stanza being rendered.
fn substitute(value: &str, stanza: &StanzaName) -> String {
    value.replace("${pg_cluster}", stanza.as_str())
}

/// Secrets stand in a view as placeholders (`\u{1}N\u{1}`), so a template renders once; the
/// rendered text then becomes the file (each placeholder replaced by its secret) and what may
/// be shown (each replaced by `<redacted>`).
#[derive(Debug, Default)]
pub(super) struct Placeholders {
    secrets: Vec<String>,
}

const MARK: char = '\u{1}';

impl Placeholders {
    fn hold(&mut self, secret: String) -> String {
        self.secrets.push(secret);
        format!("{MARK}{}{MARK}", self.secrets.len() - 1)
    }

    #[cfg(test)]
    pub(super) fn hold_for_test(&mut self, secret: String) -> String {
        self.hold(secret)
    }

    /// The rendered text with the secrets, and with `<redacted>` in their place.
    pub(super) fn fill(&self, text: &str) -> (String, String) {
        if self.secrets.is_empty() {
            return (text.to_owned(), text.to_owned());
        }
        let mut full = String::with_capacity(text.len());
        let mut shown = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(MARK) {
            let after = &rest[start + MARK.len_utf8()..];
            let held = after.find(MARK).and_then(|end| {
                let secret = self.secrets.get(after[..end].parse::<usize>().ok()?)?;
                Some((secret, &after[end + MARK.len_utf8()..]))
            });
            full.push_str(&rest[..start]);
            shown.push_str(&rest[..start]);
            if let Some((secret, next)) = held {
                full.push_str(secret);
                shown.push_str(crate::names::REDACTED);
                rest = next;
            } else {
                // Not a placeholder of ours (a user template may hold anything).
                full.push(MARK);
                shown.push(MARK);
                rest = after;
            }
        }
        full.push_str(rest);
        shown.push_str(rest);
        (full, shown)
    }
}

fn repo_views(repos: &[RepoSpec], stanza: &StanzaName, held: &mut Placeholders) -> Vec<RepoView> {
    let mut views = Vec::with_capacity(repos.len());
    for r in repos {
        let mut options = Vec::with_capacity(r.options.len() + 1);
        // posix is pgBackRest's default type; like Pigsty, only other types are written.
        if r.repo_type != RepoType::Posix {
            options.push(OptionLine {
                key: "type".into(),
                value: r.repo_type.to_string(),
            });
        }
        for o in &r.options {
            let value = substitute(o.value.expose(), stanza);
            options.push(OptionLine {
                key: o.key.clone(),
                value: if o.value.is_secret() {
                    held.hold(value)
                } else {
                    value
                },
            });
        }
        views.push(RepoView {
            index: r.index,
            name: r.name.to_string(),
            repo_type: r.repo_type.to_string(),
            options,
        });
    }
    views
}

/// Whether the repos need `beta=y` on this pgBackRest version (block incremental on 2.45).
///
/// Options that were beta in some version cannot be rendered without knowing the version:
/// a config that works on 2.46 is rejected by 2.45 at run time, and the reverse.
pub(super) fn needs_beta(repos: &[RepoSpec], version: Option<&Version>) -> Result<bool> {
    let mut beta = false;
    for repo in repos {
        for option in repo.options.iter().filter(|o| o.value.expose() != "n") {
            let Some(def) = catalog::lookup(&format!("repo-{}", option.key)) else {
                continue;
            };
            if !def.needs_beta(&Version::new(2, 45, 0)) {
                continue;
            }
            let Some(version) = version else {
                return Err(Error::VersionRequired {
                    option: format!("repo{}-{}", repo.index, option.key),
                    detail: "pgBackRest 2.45 needs beta=y for it, 2.46 and later do not".into(),
                });
            };
            beta |= def.needs_beta(version);
        }
    }
    Ok(beta)
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// pgBackRest `process-max` per command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProcessMax {
    /// `[global:backup]`.
    pub backup: u32,
    /// `[global:restore]`.
    pub restore: u32,
    /// `[global:archive-get]`.
    pub archive_get: u32,
    /// `[global:archive-push]`.
    pub archive_push: u32,
}

impl ProcessMax {
    /// Pigsty's formulas: a quarter of the CPUs (at least 2, at most 4) for backup and
    /// archiving, all CPUs (at most 8) for restore.
    pub fn for_cpus(cpus: u32) -> Self {
        let quarter = cpus.div_ceil(4).clamp(2, 4);
        ProcessMax {
            backup: quarter,
            restore: cpus.min(8),
            archive_get: quarter,
            archive_push: quarter,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct PgbackrestConfView {
    stanza: String,
    config_path: String,
    pg_path: String,
    pg_port: u16,
    pg_socket_path: Option<String>,
    pg_mode: String,
    pg_version_force: Option<String>,
    archive_push_queue_max: String,
    spool_path: String,
    lock_path: Option<String>,
    log_path: String,
    beta: bool,
    version: Option<String>,
    repos: Vec<RepoView>,
    process_max: ProcessMax,
}

impl PgbackrestConfView {
    pub(super) fn new(spec: &ClusterSpec, beta: bool, held: &mut Placeholders) -> Self {
        PgbackrestConfView {
            stanza: spec.cluster.to_string(),
            config_path: path_text(&spec.config_path),
            pg_path: path_text(&spec.data),
            pg_port: spec.port,
            pg_socket_path: spec.socket_dir.as_deref().map(path_text),
            pg_mode: spec.mode.to_string(),
            pg_version_force: spec.pg_version_force().map(|v| v.to_string()),
            archive_push_queue_max: spec.archive_queue_max.clone(),
            spool_path: path_text(&spec.spool_dir),
            lock_path: spec.lock_dir.as_deref().map(path_text),
            log_path: path_text(&spec.log_dir),
            beta,
            version: spec.pgbackrest_version.as_ref().map(ToString::to_string),
            repos: repo_views(&spec.repos, &spec.cluster, held),
            process_max: ProcessMax::for_cpus(spec.node_cpu),
        }
    }
}

/// Everything the restore config needs; built from a spec or from a node's existing config.
#[derive(Clone, Debug, PartialEq)]
pub struct RestoreConfig {
    /// File name shown in the header.
    pub file_name: String,
    /// Stanza to restore from.
    pub stanza: StanzaName,
    /// Data directory to restore into.
    pub pg_path: PathBuf,
    /// Port of the restored cluster.
    pub pg_port: u16,
    /// Socket directory, when known.
    pub pg_socket_path: Option<PathBuf>,
    /// Repos to restore from.
    pub repos: Vec<RepoSpec>,
    /// Archiving in the restored cluster.
    pub archive_mode: ArchiveMode,
    /// Databases to restore (others become sparse, unusable files).
    pub db_include: Vec<String>,
    /// Databases not to restore.
    pub db_exclude: Vec<String>,
    /// Symlinks to restore elsewhere.
    pub link_map: Vec<LinkMap>,
    /// Restore processes.
    pub process_max: u32,
    /// `archive-get` processes during recovery.
    pub archive_get_process_max: u32,
    /// pgBackRest log directory.
    pub log_path: PathBuf,
    /// pgBackRest spool directory.
    pub spool_path: PathBuf,
    /// pgBackRest lock directory.
    pub lock_path: Option<PathBuf>,
    /// pgBackRest version, when known.
    pub version: Option<Version>,
    /// `pg-version-force` (with `archive-header-check=n`) for kernels whose WAL headers and
    /// `pg_control` pgBackRest does not recognise (IvorySQL), as in the node's config.
    pub pg_version_force: Option<crate::names::PgMajor>,
}

impl RestoreConfig {
    /// Refuses values that would add lines or keys to the file.
    pub(super) fn check_values(&self) -> Result<()> {
        let unsafe_value = |key: &str, v: &str| {
            if v.is_empty() || v.chars().any(char::is_control) {
                Err(Error::UnsafeValue { key: key.into() })
            } else {
                Ok(())
            }
        };
        for v in &self.db_include {
            unsafe_value("db-include", v)?;
        }
        for v in &self.db_exclude {
            unsafe_value("db-exclude", v)?;
        }
        for m in &self.link_map {
            unsafe_value("link-map", &m.link)?;
            unsafe_value("link-map", &m.destination)?;
        }
        for (key, path) in [
            ("pg1-path", Some(&self.pg_path)),
            ("log-path", Some(&self.log_path)),
            ("spool-path", Some(&self.spool_path)),
            ("lock-path", self.lock_path.as_ref()),
            ("pg1-socket-path", self.pg_socket_path.as_ref()),
        ] {
            if let Some(p) = path {
                unsafe_value(key, &p.to_string_lossy())?;
            }
        }
        for repo in &self.repos {
            for o in &repo.options {
                unsafe_value(&format!("repo{}-{}", repo.index, o.key), o.value.expose())?;
            }
        }
        Ok(())
    }

    /// The restore config for a spec's own cluster: archiving preserved, and as many restore
    /// and `archive-get` processes as pgbackrest.conf gives those commands.
    pub fn from_spec(spec: &ClusterSpec) -> Self {
        let processes = ProcessMax::for_cpus(spec.node_cpu);
        RestoreConfig {
            file_name: "pitr.conf".into(),
            stanza: spec.cluster.clone(),
            pg_path: spec.data.to_path_buf(),
            pg_port: spec.port,
            pg_socket_path: spec.socket_dir.as_deref().map(Path::to_path_buf),
            repos: spec.repos.clone(),
            archive_mode: ArchiveMode::Preserve,
            db_include: Vec::new(),
            db_exclude: Vec::new(),
            link_map: Vec::new(),
            process_max: processes.restore,
            archive_get_process_max: processes.archive_get,
            log_path: spec.log_dir.to_path_buf(),
            spool_path: spec.spool_dir.to_path_buf(),
            lock_path: spec.lock_dir.as_deref().map(Path::to_path_buf),
            version: spec.pgbackrest_version,
            pg_version_force: spec.pg_version_force(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct RestoreConfView {
    file_name: String,
    stanza: String,
    pg_path: String,
    pg_port: u16,
    pg_socket_path: Option<String>,
    repos: Vec<RepoView>,
    spool_path: String,
    lock_path: Option<String>,
    log_path: String,
    beta: bool,
    archive_async: bool,
    archive_off: bool,
    db_include: Vec<String>,
    db_exclude: Vec<String>,
    link_map: Vec<LinkMap>,
    process_max: u32,
    archive_get_process_max: u32,
    pg_version_force: Option<String>,
}

impl RestoreConfView {
    pub(super) fn new(c: &RestoreConfig, beta: bool, held: &mut Placeholders) -> Self {
        RestoreConfView {
            file_name: c.file_name.clone(),
            stanza: c.stanza.to_string(),
            pg_path: path_text(&c.pg_path),
            pg_port: c.pg_port,
            pg_socket_path: c.pg_socket_path.as_deref().map(path_text),
            repos: repo_views(&c.repos, &c.stanza, held),
            spool_path: path_text(&c.spool_path),
            lock_path: c.lock_path.as_deref().map(path_text),
            log_path: path_text(&c.log_path),
            beta,
            // pgBackRest before 2.59 can fork two async archive-get processes at once during
            // recovery (the archive lock is released before the forked one takes it); one
            // clears the other's queue, and recovery can be handed a segment of the wrong size.
            archive_async: c.version.as_ref().is_some_and(|v| *v >= Version::V2_59),
            archive_off: c.archive_mode == ArchiveMode::Off,
            db_include: c.db_include.clone(),
            db_exclude: c.db_exclude.clone(),
            link_map: c.link_map.clone(),
            process_max: c.process_max,
            archive_get_process_max: c.archive_get_process_max,
            pg_version_force: c.pg_version_force.map(|v| v.to_string()),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct ArchiveView {
    stanza: String,
    archive_command: String,
}

impl ArchiveView {
    pub(super) fn new(spec: &ClusterSpec) -> Self {
        // Paths and the stanza are shell-safe by validation; a PostgreSQL string literal
        // doubles single quotes, and there are none to double.
        let command = format!(
            "{} --config={} --stanza={} archive-push %p",
            spec.pgbackrest_bin.display(),
            spec.config_path.display(),
            spec.cluster
        );
        ArchiveView {
            stanza: spec.cluster.to_string(),
            archive_command: command.replace('\'', "''"),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct CronJob {
    cron: String,
    user: String,
    command: String,
}

#[derive(Debug, Serialize)]
pub(super) struct CrontabView {
    stanza: String,
    /// Patroni's REST API, when roles come from it.
    patroni: Option<String>,
    /// Whether a restore drill is scheduled.
    drill: bool,
    jobs: Vec<CronJob>,
}

impl CrontabView {
    pub(super) fn new(spec: &ClusterSpec) -> Result<Self> {
        Ok(CrontabView {
            stanza: spec.cluster.to_string(),
            patroni: spec.patroni.as_ref().map(|api| api.url.to_string()),
            drill: spec.drill_schedule.is_some(),
            jobs: spec
                .backup_schedule
                .iter()
                .map(|s| CronJob {
                    cron: s.cron.to_string(),
                    user: spec.dbsu.clone(),
                    command: format!(
                        "{} --config={} --stanza={}{} backup {}{}",
                        spec.pitr_bin.display(),
                        spec.config_path.display(),
                        spec.cluster,
                        patroni_args(spec),
                        s.backup_type,
                        s.repo.map(|r| format!(" --repo {r}")).unwrap_or_default()
                    ),
                })
                .chain(
                    spec.drill_schedule
                        .iter()
                        .map(|cron| {
                            Ok(CronJob {
                                cron: cron.to_string(),
                                user: spec.dbsu.clone(),
                                command: format!(
                                    "{} --config={} --stanza={}{} drill --random{}",
                                    spec.pitr_bin.display(),
                                    spec.config_path.display(),
                                    spec.cluster,
                                    patroni_args(spec),
                                    drill_spec_arg(spec)?,
                                ),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?,
                )
                .collect(),
        })
    }
}

/// ` --spec=FILE` when the spec declares drill assertions: the drill from cron reads them
/// from the spec's file on the node (`pitr_spec_file`, else the file rendered from). A spec
/// with assertions that lies in no known file is refused: its drill line would skip them.
fn drill_spec_arg(spec: &ClusterSpec) -> Result<String> {
    if spec.drill_assertions.is_empty() {
        return Ok(String::new());
    }
    match &spec.spec_file {
        Some(file) => Ok(format!(" --spec={file}")),
        None => Err(Error::InvalidSetting {
            key: "pitr_spec_file".into(),
            context: "cluster spec".into(),
            message: "pitr_drill_schedule and pitr_drill_assertions are set, but not where the \
                      spec lies on the nodes: set pitr_spec_file to that file (readable by \
                      pg_dbsu), so that the drill from cron asks the assertions"
                .into(),
        }),
    }
}

/// ` --patroni=URL` (and ` --patroni-ca-file=PATH`) when the spec configures Patroni, so that
/// `pitr backup` from cron takes its role from Patroni. An IPv6 URL is single-quoted for
/// `/bin/sh` (its brackets are glob characters; a URL never holds a quote); every other URL
/// and path is made of characters the shell and cron read literally.
fn patroni_args(spec: &ClusterSpec) -> String {
    let Some(api) = &spec.patroni else {
        return String::new();
    };
    let url = format!("--patroni={}", api.url);
    let url = if url.contains('[') {
        format!("'{url}'")
    } else {
        url
    };
    match &api.ca_file {
        Some(ca) => format!(" {url} --patroni-ca-file={ca}"),
        None => format!(" {url}"),
    }
}

/// Patroni's `on_role_change` callback: `<pitr_bin> --config <conf> patroni-callback`, with
/// `--dbsu` when the database superuser is not `postgres`. Every value is a [`SafePath`] or
/// a validated name, so the command needs no quoting for `shlex.split` or YAML's single
/// quotes; each word is passed through `shlex` all the same.
///
/// [`SafePath`]: crate::names::SafePath
#[derive(Debug, Serialize)]
pub(super) struct PatroniCallbackView {
    stanza: String,
    log_dir: String,
    command: String,
}

/// `<pitr_bin> --config <conf> patroni-callback [--dbsu USER]`, each word quoted for
/// `shlex.split` where it needs it (see [`PatroniCallbackView`]).
pub(super) fn on_role_change_command(spec: &ClusterSpec) -> String {
    let mut words = vec![
        spec.pitr_bin.to_string(),
        "--config".to_owned(),
        spec.config_path.to_string(),
        "patroni-callback".to_owned(),
    ];
    if spec.dbsu != "postgres" {
        words.extend(["--dbsu".to_owned(), spec.dbsu.clone()]);
    }
    words
        .iter()
        .map(|w| shlex::try_quote(w).map_or_else(|_| "'".to_owned(), std::borrow::Cow::into_owned))
        .collect::<Vec<_>>()
        .join(" ")
}

impl PatroniCallbackView {
    pub(super) fn new(spec: &ClusterSpec) -> Self {
        // In YAML's single quotes a quote is doubled.
        let command = on_role_change_command(spec).replace('\'', "''");
        PatroniCallbackView {
            stanza: spec.cluster.to_string(),
            log_dir: spec.log_dir.to_string(),
            command,
        }
    }
}
