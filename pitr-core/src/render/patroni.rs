//! `patroni.yml` of a member of a throwaway Patroni cluster on one machine (the sandbox's and
//! the end-to-end tests'): PostgreSQL 15 on loopback ports with its own socket directory, etcd 3.4
//! as the DCS (`etcd3`), trust authentication on loopback and the socket, the archive settings
//! and `on_role_change` callback pitr renders from the member's spec.
//!
//! Written as JSON, which YAML reads. Not for production clusters: Pigsty renders those.
//!
//! ```
//! use std::path::Path;
//! use pitr_core::render::patroni::{PatroniMember, PatroniTiming};
//! let member = PatroniMember {
//!     scope: "demo",
//!     name: "demo-1",
//!     rest_port: 8008,
//!     pg_port: 5433,
//!     etcd_endpoint: "127.0.0.1:2379",
//!     data_dir: Path::new("/tmp/demo-1/data"),
//!     bin_dir: Path::new("/usr/lib/postgresql/15/bin"),
//!     pgpass: Path::new("/tmp/demo-1/pgpass"),
//!     socket_dir: Path::new("/tmp/demo-1/sock"),
//!     log_dir: Path::new("/tmp/demo-1/log"),
//!     password: "demo",
//!     archive_mode: "on",
//!     archive_command: "pgbackrest --stanza=demo archive-push %p",
//!     on_role_change: None,
//!     failsafe_mode: true,
//!     timing: PatroniTiming { ttl: 10, loop_wait: 1, retry_timeout: 4 },
//! };
//! let yml = member.config();
//! assert_eq!(yml["etcd3"]["hosts"][0], "127.0.0.1:2379");
//! assert_eq!(yml["postgresql"]["parameters"]["archive_mode"], "on");
//! ```

use std::path::Path;

use serde_json::{Value, json};

/// Patroni's timing (seconds), the same for every member (`bootstrap.dcs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatroniTiming {
    /// `ttl`: how long the leader key outlives a dead leader (a failover takes about this).
    pub ttl: u32,
    /// `loop_wait`: seconds between two runs of Patroni's HA loop.
    pub loop_wait: u32,
    /// `retry_timeout`: for DCS and PostgreSQL operations.
    pub retry_timeout: u32,
}

/// One member's settings.
#[derive(Debug, Clone, Copy)]
pub struct PatroniMember<'a> {
    /// Patroni's scope: the cluster's name and the pgBackRest stanza.
    pub scope: &'a str,
    /// The member's name (Pigsty's instance name `<pg_cluster>-<pg_seq>`).
    pub name: &'a str,
    /// The REST API's port on `127.0.0.1`.
    pub rest_port: u16,
    /// PostgreSQL's port on `127.0.0.1` and in the socket's name.
    pub pg_port: u16,
    /// `127.0.0.1:<port>` of etcd's client API.
    pub etcd_endpoint: &'a str,
    /// The data directory.
    pub data_dir: &'a Path,
    /// PostgreSQL's binaries.
    pub bin_dir: &'a Path,
    /// The password file Patroni writes.
    pub pgpass: &'a Path,
    /// The Unix socket directory.
    pub socket_dir: &'a Path,
    /// Where the server log (`postgresql.log`) goes.
    pub log_dir: &'a Path,
    /// The password of the superuser (`postgres`) and of `replicator` (authentication is
    /// trust on loopback and the socket; Patroni requires one all the same).
    pub password: &'a str,
    /// `archive_mode`: `on` (only the primary archives) or `always`.
    pub archive_mode: &'a str,
    /// `archive_command` (from `pitr render --what archive`).
    pub archive_command: &'a str,
    /// `postgresql.callbacks.on_role_change` (from `pitr render --what patroni-callback`).
    pub on_role_change: Option<&'a str>,
    /// Patroni's `failsafe_mode` (on in Pigsty's templates).
    pub failsafe_mode: bool,
    /// Timing.
    pub timing: PatroniTiming,
}

impl PatroniMember<'_> {
    /// The configuration as JSON: the shared part under `bootstrap.dcs`, the member's own
    /// addresses, paths and archive settings under `restapi` and `postgresql`.
    pub fn config(&self) -> Value {
        let rest = format!("127.0.0.1:{}", self.rest_port);
        let pg = format!("127.0.0.1:{}", self.pg_port);
        let path = |p: &Path| p.display().to_string();
        let mut config = json!({
            "scope": self.scope,
            "name": self.name,
            "log": {"level": "INFO"},
            "restapi": {"listen": rest, "connect_address": rest},
            "etcd3": {"hosts": [self.etcd_endpoint]},
            "bootstrap": {
                "dcs": {
                    "ttl": self.timing.ttl,
                    "loop_wait": self.timing.loop_wait,
                    "retry_timeout": self.timing.retry_timeout,
                    "maximum_lag_on_failover": 1_048_576,
                    "failsafe_mode": self.failsafe_mode,
                    "postgresql": {
                        "use_pg_rewind": true,
                        "use_slots": true,
                        "remove_data_directory_on_rewind_failure": true,
                        "remove_data_directory_on_diverged_timelines": true,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_connections": 30,
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "128MB",
                            "shared_buffers": "32MB",
                            "fsync": "off",
                        },
                    },
                },
                "initdb": ["data-checksums", {"encoding": "UTF8"}, "no-locale"],
            },
            "postgresql": {
                "listen": pg,
                "connect_address": pg,
                "data_dir": path(self.data_dir),
                "bin_dir": path(self.bin_dir),
                "pgpass": path(self.pgpass),
                "use_unix_socket": true,
                "authentication": {
                    "superuser": {"username": "postgres", "password": self.password},
                    "replication": {"username": "replicator", "password": self.password},
                },
                "parameters": {
                    "unix_socket_directories": path(self.socket_dir),
                    "archive_mode": self.archive_mode,
                    "archive_command": self.archive_command,
                    "logging_collector": "on",
                    "log_directory": path(self.log_dir),
                    "log_filename": "postgresql.log",
                    "log_rotation_age": 0,
                    "log_rotation_size": 0,
                    "log_line_prefix": "%m [%p] %q%u@%d ",
                },
                "pg_hba": [
                    "local all all trust",
                    "local replication all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host replication all 127.0.0.1/32 trust",
                ],
            },
            "watchdog": {"mode": "off"},
        });
        if let Some(command) = self.on_role_change {
            config["postgresql"]["callbacks"] = json!({"on_role_change": command});
        }
        config
    }
}
