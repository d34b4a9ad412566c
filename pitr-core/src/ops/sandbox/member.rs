//! A member of the sandbox's Patroni cluster ([`HaMember`]): its files, rendered by pitr from
//! its own spec, and what its Patroni and PostgreSQL say.

use std::path::{Path, PathBuf};
use std::process::Child;

use super::launcher::{REST_TIMEOUT, TAIL_LINES, TIMING};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::patroni::PatroniAnswer;
use crate::render::Renderer;
use crate::render::patroni::PatroniMember;
use crate::run::files;
use crate::run::ha;
use crate::run::patroni::request;
use crate::run::probe::Endpoint;
use crate::run::user::OsUser;
use crate::spec::ClusterSpec;

/// Where the stack puts a member, and what it shares with the others.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout<'a> {
    /// The stack's root: members go into `<root>/<scope>-<seq>`, sockets into `<root>/sock`,
    /// the repo is `<root>/repo`.
    pub(super) root: &'a Path,
    /// Who runs PostgreSQL and pgBackRest.
    pub(super) dbsu: &'a OsUser,
    /// PostgreSQL's binaries.
    pub(super) pg_bin_dir: &'a Path,
    /// `127.0.0.1:<port>` of etcd.
    pub(super) etcd_endpoint: &'a str,
    /// The `pitr` that Patroni's callback runs.
    pub(super) pitr_bin: &'a Path,
}

/// One member: its files, ports, spec and node, and its Patroni while it runs.
#[derive(Debug)]
pub struct HaMember {
    /// `<scope>-<n>`, Patroni's name (Pigsty's instance name).
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// PostgreSQL's port.
    pub pg_port: u16,
    /// The REST API's port.
    pub rest_port: u16,
    /// Its cluster spec (`spec.yml`).
    pub spec: ClusterSpec,
    /// The node pitr works on, from the spec (roles from its Patroni).
    pub node: Node,
    pub(super) patroni: Option<Child>,
}

impl HaMember {
    /// Writes member `seq`'s directories, spec, `pgbackrest.conf` (rendered from the spec) and
    /// `patroni.yml` (with the archive command and `on_role_change` callback rendered from it),
    /// on two ports the kernel hands out.
    pub(super) fn configure(layout: &Layout<'_>, scope: &str, seq: usize) -> Result<HaMember> {
        let root = layout.root;
        let name = format!("{scope}-{seq}");
        let dir = root.join(&name);
        let dbsu = layout.dbsu;
        files::ensure_dir(&dir, 0o700, Some(dbsu))?;
        for sub in ["log", "spool", "lock", "pgbackrest-log"] {
            files::ensure_dir(&dir.join(sub), 0o700, Some(dbsu))?;
        }
        let pg_port = ha::free_port()?;
        let rest_port = ha::free_port()?;
        let p = |rel: &str| dir.join(rel).display().to_string();
        let spec_text = format!(
            "pg_cluster: {scope}\n\
             pg_data: {data}\n\
             pg_port: {pg_port}\n\
             pg_socket_dir: {sock}\n\
             pg_bin_dir: {bin}\n\
             node_cpu: 2\n\
             pitr_bin: {pitr}\n\
             patroni_port: {rest_port}\n\
             pgbackrest_config: {conf}\n\
             pgbackrest_log_dir: {log}\n\
             pgbackrest_spool_dir: {spool}\n\
             pgbackrest_lock_dir: {lock}\n\
             pgbackrest_method: local\n\
             pgbackrest_repo:\n  local: {{ path: {repo}, retention_full: 4 }}\n",
            data = p("data"),
            sock = root.join("sock").display(),
            bin = layout.pg_bin_dir.display(),
            pitr = layout.pitr_bin.display(),
            conf = p("pgbackrest.conf"),
            log = p("pgbackrest-log"),
            spool = p("spool"),
            lock = p("lock"),
            repo = root.join("repo").display(),
        );
        let spec_path = dir.join("spec.yml");
        files::write_atomic(&spec_path, spec_text.as_bytes(), 0o600, Some(dbsu))?;
        let spec = ClusterSpec::from_file(&spec_path)?;
        let renderer = Renderer::new();
        let conf = renderer.pgbackrest_conf(&spec)?;
        files::write_atomic(
            &spec.config_path,
            conf.contents().as_bytes(),
            0o600,
            Some(dbsu),
        )?;
        let archive_command = crate::check::rendered_archive_command(&spec)?;
        let callback = Renderer::on_role_change_command(&spec);
        let (data, sock, pgpass, logs) = (
            dir.join("data"),
            root.join("sock"),
            dir.join("pgpass"),
            dir.join("log"),
        );
        let yml = PatroniMember {
            scope,
            name: &name,
            rest_port,
            pg_port,
            etcd_endpoint: layout.etcd_endpoint,
            data_dir: &data,
            bin_dir: layout.pg_bin_dir,
            pgpass: &pgpass,
            socket_dir: &sock,
            log_dir: &logs,
            password: "pitr-sandbox",
            archive_mode: "on",
            archive_command: &archive_command,
            on_role_change: Some(&callback),
            failsafe_mode: true,
            timing: TIMING,
        }
        .config();
        let text = serde_json::to_string_pretty(&yml).map_err(|e| Error::Template {
            id: "patroni.yml".into(),
            message: e.to_string(),
        })?;
        files::write_atomic(&dir.join("patroni.yml"), text.as_bytes(), 0o600, Some(dbsu))?;
        let node = Node::from_spec(&spec);
        Ok(HaMember {
            name,
            dir,
            pg_port,
            rest_port,
            spec,
            node,
            patroni: None,
        })
    }

    /// Its PostgreSQL.
    pub fn db(&self) -> Endpoint {
        Endpoint::of(&self.node)
    }

    /// `GET /primary`, parsed: whether it holds the leader lock, its role and timeline; `Err`
    /// when the REST API does not answer usefully.
    pub fn state(&self) -> std::result::Result<PatroniAnswer, String> {
        let (status, body) = request(self.rest_port, "GET", "/primary", None, None, REST_TIMEOUT)?;
        PatroniAnswer::parse(status, &body)
    }

    /// Whether it leads: `GET /primary` answers 200.
    pub fn leads(&self) -> bool {
        self.state().is_ok_and(|a| a.holds_leader_lock())
    }

    /// The timeline Patroni reports.
    pub fn timeline(&self) -> Option<u64> {
        self.state().ok()?.doc.timeline
    }

    pub(super) fn patroni_log(&self) -> PathBuf {
        self.dir.join("log/patroni.log")
    }

    /// The last lines of its Patroni and server logs.
    pub fn log_tails(&self) -> String {
        format!(
            "--- {}: log/patroni.log ---\n{}\n--- {}: log/postgresql.log ---\n{}",
            self.name,
            ha::tail(&self.patroni_log(), TAIL_LINES),
            self.name,
            ha::tail(&self.dir.join("log/postgresql.log"), TAIL_LINES)
        )
    }
}
