//! A node's PITR context: which stanza, data directory, port, socket, repos and paths, and
//! where its Patroni REST API is — built from a cluster spec (Python, Ansible) or from the
//! node's existing `pgbackrest.conf` and the CLI's options, so both paths plan with the same
//! code.
//!
//! Every path of a node is a [`SafePath`]: a spec's paths are validated when the spec is, and
//! [`Node::from_conf`] validates the config path and each path it reads from the file
//! (`pg1-path`, `pg1-socket-path`, `log-path`, `spool-path`, `lock-path`), because the
//! database user can often write that file's directory and those paths reach `pg_ctl`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::conf::ConfFile;
use crate::error::{Error, Result};
use crate::names::{PgMajor, RepoName, SafePath, Secret, StanzaName};
use crate::patroni::PatroniApi;
use crate::plan::backup::BackupSite;
use crate::plan::restore::RestoreSite;
use crate::render::{ProcessMax, RestoreConfig};
use crate::spec::{ClusterSpec, RepoDef, RepoSpec};
use crate::version::Version;

/// Everything pitr needs to know about one node of one stanza.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// The node's pgBackRest config.
    pub config_path: SafePath,
    /// The stanza.
    pub stanza: StanzaName,
    /// Data directory.
    pub data: SafePath,
    /// Port.
    pub port: u16,
    /// Unix socket directory.
    pub socket_dir: SafePath,
    /// Database superuser OS account.
    pub dbsu: String,
    /// PostgreSQL binaries, when known.
    pub pg_bin_dir: Option<SafePath>,
    /// Repos, repo1 first.
    pub repos: Vec<RepoSpec>,
    /// pgBackRest log directory.
    pub log_dir: SafePath,
    /// pgBackRest spool directory.
    pub spool_dir: SafePath,
    /// pgBackRest lock directory, when set.
    pub lock_dir: Option<SafePath>,
    /// `process-max` for restore and for `archive-get` during recovery.
    pub processes: ProcessMax,
    /// pgBackRest version, when known.
    pub version: Option<Version>,
    /// Every secret the node's spec or config holds (repos in use or not), to mask in logs.
    pub secrets: Vec<Secret>,
    /// `pg-version-force` for kernels pgBackRest does not recognise (IvorySQL).
    pub pg_version_force: Option<PgMajor>,
    /// The member's Patroni REST API, when PostgreSQL runs under Patroni: from the spec's
    /// `patroni_*` keys, or for a node read from pgbackrest.conf from the CLI's `--patroni`.
    /// Backups then take their role from it ([`crate::ops::backup::role_of`]).
    pub patroni: Option<PatroniApi>,
}

/// The secret values of repo definitions and the Patroni password, without duplicates or
/// placeholders.
fn secrets<'a>(
    defs: impl Iterator<Item = &'a RepoDef>,
    patroni: Option<&PatroniApi>,
) -> Vec<Secret> {
    let repo_secrets = defs
        .flat_map(|def| def.options.iter())
        .filter_map(|o| match &o.value {
            crate::spec::OptionValue::Secret(s) => Some(s),
            crate::spec::OptionValue::Plain(_) => None,
        });
    let patroni_password = patroni
        .and_then(|api| api.auth.as_ref())
        .map(|a| &a.password);
    let mut out: Vec<Secret> = Vec::new();
    for s in repo_secrets.chain(patroni_password) {
        if !s.is_placeholder() && !s.expose().is_empty() && !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// PostgreSQL's usual socket directory on this machine.
fn default_socket_dir() -> SafePath {
    let debian = SafePath::constant("/var/run/postgresql");
    if debian.is_dir() {
        debian
    } else {
        SafePath::constant("/tmp")
    }
}

fn cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

impl Node {
    /// The node a spec describes.
    pub fn from_spec(spec: &ClusterSpec) -> Node {
        Node {
            config_path: spec.config_path.clone(),
            stanza: spec.cluster.clone(),
            data: spec.data.clone(),
            port: spec.port,
            socket_dir: spec.socket_dir.clone().unwrap_or_else(default_socket_dir),
            dbsu: spec.dbsu.clone(),
            pg_bin_dir: spec.bin_dir.clone(),
            repos: spec.repos.clone(),
            log_dir: spec.log_dir.clone(),
            spool_dir: spec.spool_dir.clone(),
            lock_dir: spec.lock_dir.clone(),
            processes: ProcessMax::for_cpus(spec.node_cpu),
            version: spec.pgbackrest_version,
            secrets: secrets(spec.repo_defs.values(), spec.patroni.as_ref()),
            pg_version_force: spec.pg_version_force(),
            patroni: spec.patroni.clone(),
        }
    }

    /// The node's secret values, for masking them wherever output may show them. Never print
    /// the result.
    pub fn secret_values(&self) -> Vec<String> {
        self.secrets.iter().map(|s| s.expose().to_owned()).collect()
    }

    /// The node an existing `pgbackrest.conf` describes, for `stanza` (the first stanza of the
    /// file when `None`, as Pigsty's scripts pick it).
    pub fn from_conf(config_path: &Path, stanza: Option<&str>, dbsu: &str) -> Result<Node> {
        let config_path = SafePath::from_path("--config", "pitr's arguments", config_path)?;
        let conf = ConfFile::from_file(&config_path)?;
        let view = conf.node_view()?;
        let s = view.stanza(stanza)?;
        let name = s.name.as_str();
        let repos = conf
            .repos(Some(name))?
            .into_iter()
            .map(|r| {
                Ok(RepoSpec {
                    index: r.index,
                    def: RepoDef {
                        name: RepoName::parse("repo name", &format!("repo{}", r.index))?,
                        repo_type: r.repo_type,
                        options: r
                            .options
                            .into_iter()
                            .map(|(key, value)| crate::spec::RepoOption { key, value })
                            .collect(),
                    },
                })
            })
            .collect::<Result<Vec<RepoSpec>>>()?;
        let context = format!("{config_path} [{name}]");
        let path = |key: &str| {
            conf.get(Some(name), key)
                .map(|value| SafePath::parse(key, &context, value))
                .transpose()
        };
        let secrets = secrets(repos.iter().map(|r| &r.def), None);
        Ok(Node {
            stanza: s.name.clone(),
            data: path("pg1-path")?.ok_or_else(|| Error::InvalidSetting {
                key: "pg1-path".into(),
                context: context.clone(),
                message: "missing: the stanza section must name the data directory".into(),
            })?,
            port: s.pg_port,
            socket_dir: path("pg1-socket-path")?.unwrap_or_else(default_socket_dir),
            dbsu: dbsu.to_owned(),
            pg_bin_dir: None,
            repos,
            log_dir: path("log-path")?.unwrap_or_else(|| SafePath::constant("/var/log/pgbackrest")),
            spool_dir: path("spool-path")?
                .unwrap_or_else(|| SafePath::constant("/var/spool/pgbackrest")),
            lock_dir: path("lock-path")?,
            processes: {
                let defaults = ProcessMax::for_cpus(cpus());
                let get = |command: &str, default: u32| {
                    conf.resolve(Some(name), Some(command), "process-max")
                        .first()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(default)
                };
                ProcessMax {
                    backup: get("backup", defaults.backup),
                    restore: get("restore", defaults.restore),
                    archive_get: get("archive-get", defaults.archive_get),
                    archive_push: get("archive-push", defaults.archive_push),
                }
            },
            secrets,
            pg_version_force: conf
                .get(Some(name), "pg-version-force")
                .map(str::parse::<PgMajor>)
                .transpose()?,
            version: None,
            patroni: None,
            config_path,
        })
    }

    /// Where a restore config is written unless told otherwise: beside pgbackrest.conf.
    pub fn default_restore_config_path(&self) -> PathBuf {
        self.config_path
            .parent()
            .unwrap_or(Path::new("/etc/pgbackrest"))
            .join(format!("pitr-{}-restore.conf", self.stanza))
    }

    /// The restore context for this node.
    pub fn restore_site(
        &self,
        pg_bin_dir: &Path,
        pgbackrest_bin: &Path,
        restore_config_path: Option<SafePath>,
        timeout_secs: u64,
    ) -> RestoreSite {
        let restore_config_path =
            restore_config_path.map_or_else(|| self.default_restore_config_path(), PathBuf::from);
        let restore_config = RestoreConfig {
            file_name: restore_config_path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            stanza: self.stanza.clone(),
            pg_path: self.data.to_path_buf(),
            pg_port: self.port,
            pg_socket_path: Some(self.socket_dir.to_path_buf()),
            repos: self.repos.clone(),
            archive_mode: crate::target::ArchiveMode::Preserve,
            db_include: Vec::new(),
            db_exclude: Vec::new(),
            link_map: Vec::new(),
            process_max: self.processes.restore,
            archive_get_process_max: self.processes.archive_get,
            log_path: self.log_dir.to_path_buf(),
            spool_path: self.spool_dir.to_path_buf(),
            lock_path: self.lock_dir.as_deref().map(Path::to_path_buf),
            version: self.version,
            pg_version_force: self.pg_version_force,
        };
        RestoreSite {
            stanza: self.stanza.clone(),
            data: self.data.to_path_buf(),
            port: self.port,
            socket_dir: self.socket_dir.to_path_buf(),
            dbsu: self.dbsu.clone(),
            pg_bin_dir: pg_bin_dir.to_path_buf(),
            pgbackrest_bin: pgbackrest_bin.to_path_buf(),
            restore_config_path,
            restore_config,
            log_dir: self.log_dir.to_path_buf(),
            timeout_secs,
            patroni_member: false,
        }
    }

    /// The backup context for this node.
    pub fn backup_site(&self, pgbackrest_bin: &Path) -> BackupSite {
        BackupSite {
            stanza: self.stanza.clone(),
            pgbackrest_argv: vec![
                pgbackrest_bin.to_string_lossy().into_owned(),
                format!("--config={}", self.config_path.display()),
                format!("--stanza={}", self.stanza),
            ],
            dbsu: self.dbsu.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `text` as a pgbackrest.conf in a directory of its own and reads the node.
    fn from_conf_text(name: &str, text: &str) -> Result<Node> {
        let dir = std::env::temp_dir().join(format!("pitr-node-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pgbackrest.conf");
        std::fs::write(&path, text).unwrap();
        let node = Node::from_conf(&path, None, "postgres");
        std::fs::remove_dir_all(&dir).unwrap();
        node
    }

    #[test]
    fn reads_paths_from_the_config() {
        let node = from_conf_text(
            "ok",
            "[demo]\npg1-path=/pg/data/\npg1-socket-path=/run/pg\n[global]\n\
             log-path=/pg/log\nspool-path=/pg/spool\nlock-path=/pg/lock\nrepo1-path=/b\n",
        )
        .unwrap();
        assert_eq!(node.data.as_str(), "/pg/data");
        assert_eq!(node.socket_dir.as_str(), "/run/pg");
        assert_eq!(node.log_dir.as_str(), "/pg/log");
        assert_eq!(node.spool_dir.as_str(), "/pg/spool");
        assert_eq!(
            node.lock_dir.as_ref().map(SafePath::as_str),
            Some("/pg/lock")
        );
        assert_eq!(node.repos[0].name.as_str(), "repo1");
    }

    #[test]
    fn refuses_paths_a_shell_would_read_as_syntax() {
        for key in [
            "pg1-path",
            "pg1-socket-path",
            "log-path",
            "spool-path",
            "lock-path",
        ] {
            for (value, code) in [
                ("/tmp/$(id)", "unsafe_characters"),
                ("/tmp/`id`", "unsafe_characters"),
                ("/tmp/a\"b", "unsafe_characters"),
                ("/tmp/a;b", "unsafe_characters"),
                ("/tmp/a b", "unsafe_characters"),
                ("/tmp/../etc", "invalid_setting"),
            ] {
                let data = if key == "pg1-path" {
                    ""
                } else {
                    "pg1-path=/pg/data\n"
                };
                let text = format!("[demo]\n{data}{key}={value}\n[global]\nrepo1-path=/b\n");
                let e = from_conf_text("bad", &text).unwrap_err();
                assert_eq!(e.code(), code, "{key}={value}: {e}");
                let shown = e.to_string();
                assert!(shown.contains(&format!("'{key}'")), "{shown}");
                if code == "unsafe_characters" {
                    assert!(shown.contains("pgbackrest.conf [demo]"), "{shown}");
                }
            }
        }
    }

    #[test]
    fn refuses_a_config_path_a_shell_would_read_as_syntax() {
        let e =
            Node::from_conf(Path::new("/tmp/$(id)/pgbackrest.conf"), None, "postgres").unwrap_err();
        assert_eq!(e.code(), "unsafe_characters");
        assert!(e.to_string().contains("'--config'"), "{e}");
    }
}
