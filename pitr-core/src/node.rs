//! A node's PITR context: which stanza, data directory, port, socket, repos and paths — built
//! from a cluster spec (Python, Ansible) or from the node's existing `pgbackrest.conf` (CLI),
//! so both paths plan with the same code.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::conf::ConfFile;
use crate::error::{Error, Result};
use crate::names::StanzaName;
use crate::plan::backup::BackupSite;
use crate::plan::restore::RestoreSite;
use crate::render::{ProcessMax, RestoreConfig};
use crate::run::pgbackrest::PgBackRest;
use crate::run::probe::Endpoint;
use crate::run::user::OsUser;
use crate::spec::{ClusterSpec, RepoDef, RepoSpec};
use crate::version::Version;

/// Everything pitr needs to know about one node of one stanza.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// The node's pgBackRest config.
    pub config_path: PathBuf,
    /// The stanza.
    pub stanza: StanzaName,
    /// Data directory.
    pub data: PathBuf,
    /// Port.
    pub port: u16,
    /// Unix socket directory.
    pub socket_dir: PathBuf,
    /// Database superuser OS account.
    pub dbsu: String,
    /// PostgreSQL binaries, when known.
    pub pg_bin_dir: Option<PathBuf>,
    /// Repos, repo1 first.
    pub repos: Vec<RepoSpec>,
    /// pgBackRest log directory.
    pub log_dir: PathBuf,
    /// pgBackRest spool directory.
    pub spool_dir: PathBuf,
    /// pgBackRest lock directory, when set.
    pub lock_dir: Option<PathBuf>,
    /// `process-max` for restore and for `archive-get` during recovery.
    pub processes: ProcessMax,
    /// pgBackRest version, when known.
    pub version: Option<Version>,
}

/// PostgreSQL's usual socket directory on this machine.
fn default_socket_dir() -> PathBuf {
    let debian = Path::new("/var/run/postgresql");
    if debian.is_dir() {
        debian.to_path_buf()
    } else {
        PathBuf::from("/tmp")
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
        }
    }

    /// The node an existing `pgbackrest.conf` describes, for `stanza` (the first stanza of the
    /// file when `None`, as Pigsty's scripts pick it).
    pub fn from_conf(config_path: &Path, stanza: Option<&str>, dbsu: &str) -> Result<Node> {
        let conf = ConfFile::from_file(config_path)?;
        let view = conf.node_view()?;
        let s = view.stanza(stanza)?;
        let name = s.name.as_str();
        let repos = conf
            .repos(Some(name))?
            .into_iter()
            .map(|r| RepoSpec {
                index: r.index,
                def: RepoDef {
                    name: format!("repo{}", r.index),
                    repo_type: r.repo_type,
                    options: r
                        .options
                        .into_iter()
                        .map(|(key, value)| crate::spec::RepoOption { key, value })
                        .collect(),
                },
            })
            .collect();
        let path = |key: &str, default: &str| {
            conf.get(Some(name), key)
                .map_or_else(|| PathBuf::from(default), PathBuf::from)
        };
        Ok(Node {
            config_path: config_path.to_path_buf(),
            stanza: s.name.clone(),
            data: s.pg_path.clone().ok_or_else(|| Error::InvalidSetting {
                key: "pg1-path".into(),
                context: format!("{} [{name}]", config_path.display()),
                message: "missing: the stanza section must name the data directory".into(),
            })?,
            port: s.pg_port,
            socket_dir: s.pg_socket_path.clone().unwrap_or_else(default_socket_dir),
            dbsu: dbsu.to_owned(),
            pg_bin_dir: None,
            repos,
            log_dir: path("log-path", "/var/log/pgbackrest"),
            spool_dir: path("spool-path", "/var/spool/pgbackrest"),
            lock_dir: conf.get(Some(name), "lock-path").map(PathBuf::from),
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
            version: None,
        })
    }

    /// How to reach the node's PostgreSQL.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            socket_dir: self.socket_dir.clone(),
            port: self.port,
            user: self.dbsu.clone(),
        }
    }

    /// pgBackRest for this node's stanza and config, run as the database superuser.
    pub fn pgbackrest(&self, bin: &Path) -> Result<PgBackRest> {
        Ok(PgBackRest {
            bin: bin.to_path_buf(),
            config: self.config_path.clone(),
            stanza: self.stanza.clone(),
            user: OsUser::lookup(&self.dbsu)?,
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
        restore_config_path: Option<PathBuf>,
        timeout_secs: u64,
    ) -> RestoreSite {
        let restore_config_path =
            restore_config_path.unwrap_or_else(|| self.default_restore_config_path());
        let restore_config = RestoreConfig {
            file_name: restore_config_path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            stanza: self.stanza.clone(),
            pg_path: self.data.clone(),
            pg_port: self.port,
            pg_socket_path: Some(self.socket_dir.clone()),
            repos: self.repos.clone(),
            archive_mode: crate::render::ArchiveMode::Preserve,
            db_include: Vec::new(),
            db_exclude: Vec::new(),
            link_map: Vec::new(),
            process_max: self.processes.restore,
            archive_get_process_max: self.processes.archive_get,
            log_path: self.log_dir.clone(),
            spool_path: self.spool_dir.clone(),
            lock_path: self.lock_dir.clone(),
            version: self.version,
        };
        RestoreSite {
            stanza: self.stanza.clone(),
            data: self.data.clone(),
            port: self.port,
            socket_dir: self.socket_dir.clone(),
            dbsu: self.dbsu.clone(),
            pg_bin_dir: pg_bin_dir.to_path_buf(),
            pgbackrest_bin: pgbackrest_bin.to_path_buf(),
            restore_config_path,
            restore_config,
            log_dir: self.log_dir.clone(),
            timeout_secs,
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
