//! [`Member`]: one Patroni member — its files, its Patroni process, and its PostgreSQL.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pitr_core::patroni::PatroniAuth;
use serde_json::Value;

use super::{TAIL_LINES, free_port, ha_tool, kill_processes_of, rest, tail};
use crate::cluster::psql_at;
use crate::tools::describe;
use crate::user::cmd_as_postgres;

/// The Unix socket path limit (`sun_path`) less the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// How long PostgreSQL may take to archive a segment.
const ARCHIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a REST API call other than a switchover may take.
const REST_TIMEOUT: Duration = Duration::from_secs(10);

/// A member's role as its Patroni REST API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `GET /primary` answers 200: it holds the leader key and runs as primary.
    Leader,
    /// `GET /replica` answers 200: a running replica.
    Replica,
    /// The REST API answers, but neither as leader nor as replica (starting, stopped, paused
    /// without a leader, ...).
    Other,
    /// The REST API does not answer (Patroni is down).
    Down,
}

/// One member of a [`PatroniCluster`](super::PatroniCluster): the directory
/// `<cluster root>/<scope>-<seq>/` (see the module docs), a PostgreSQL port and a REST API port
/// on `127.0.0.1`, and the Patroni process while it runs.
///
/// Read-only things are asked of the member; actions that change the cluster (start, kill,
/// switchover, ...) go through the cluster.
#[derive(Debug)]
pub struct Member {
    name: String,
    scope: String,
    root: PathBuf,
    pg_port: u16,
    rest_port: u16,
    patroni: Option<Child>,
    /// Credentials of Patroni's REST API authentication, sent with requests that change it.
    rest_auth: Option<PatroniAuth>,
}

impl Member {
    /// A member named `<scope>-<seq>` in `cluster_root`, with fresh ports and the credentials
    /// of its REST API's authentication, if any; nothing is written.
    pub(crate) fn new(
        cluster_root: &Path,
        scope: &str,
        seq: usize,
        rest_auth: Option<PatroniAuth>,
    ) -> Member {
        let name = format!("{scope}-{seq}");
        let root = cluster_root.join(&name);
        let probe = root.join("sock").join(".s.PGSQL.65535.lock");
        assert!(
            probe.as_os_str().len() <= MAX_SOCKET_PATH,
            "socket path {} is longer than {MAX_SOCKET_PATH} bytes; use a shorter cluster name \
             or set TMPDIR to a shorter directory",
            probe.display()
        );
        Member {
            name,
            scope: scope.to_owned(),
            root,
            pg_port: free_port(),
            rest_port: free_port(),
            patroni: None,
            rest_auth,
        }
    }

    /// Picks new ports (after one turned out to be taken); call [`Member::configure`] next.
    pub(crate) fn new_ports(&mut self) {
        self.pg_port = free_port();
        self.rest_port = free_port();
    }

    /// Starts Patroni as `postgres` in its own process group, output appended to
    /// `log/patroni.log`.
    pub(crate) fn spawn_patroni(&mut self) {
        if let Some(child) = self.patroni.as_mut() {
            assert!(
                !matches!(child.try_wait(), Ok(None)),
                "Patroni of member {} runs already",
                self.name
            );
            // It exited on its own: start it again.
            self.patroni = None;
        }
        let log_path = self.patroni_log();
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log_path.display()));
        let _ = std::io::Write::write_all(
            &mut log,
            format!(
                "=== pitr-tests: starting Patroni (PostgreSQL port {}, REST port {}) ===\n",
                self.pg_port, self.rest_port
            )
            .as_bytes(),
        );
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot dup {}: {e}", log_path.display()));
        let mut cmd = pitr_core::run::ha::patroni_command(
            cmd_as_postgres(ha_tool("patroni", "patroni")),
            &self.patroni_yml(),
        );
        cmd.stdout(Stdio::from(log)).stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", describe(&cmd)));
        self.patroni = Some(child);
    }

    /// Whether the Patroni process started by the harness still runs.
    pub(crate) fn is_patroni_running(&mut self) -> bool {
        self.patroni
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `SIGKILL` to Patroni's process group, then to every process of the member: those whose
    /// working directory is in the member's directory (the postmaster and its children) or whose
    /// command line names a file in it (pgBackRest). Like a power loss of the member's node.
    pub(crate) fn kill_all(&mut self) {
        if let Some(mut child) = self.patroni.take() {
            pitr_core::run::ha::kill_group(child.id());
            let _ = child.wait();
        }
        if let Some(pid) = self.postmaster_pid() {
            pitr_core::run::ha::kill_pid(pid);
        }
        let survivors = kill_processes_of(&self.root);
        if !survivors.is_empty() {
            eprintln!(
                "member {}: processes survive SIGKILL: {survivors:?}",
                self.name
            );
        }
    }

    /// Stops Patroni with `SIGTERM` (it shuts PostgreSQL down cleanly, and a leader hands over
    /// its key), waiting up to `timeout`; kills what is left after that.
    pub(crate) fn stop_patroni(&mut self, timeout: Duration) {
        if let Some(child) = self.patroni.as_mut() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
            let _ = super::poll_until(timeout, || {
                matches!(child.try_wait(), Ok(Some(_)) | Err(_)).then_some(())
            });
        }
        self.kill_all();
    }

    /// `SIGHUP` to the member's Patroni: it reads `patroni.yml` again (as `patronictl reload`
    /// does through the REST API). Returns whether a running Patroni got the signal.
    pub(crate) fn reload_patroni(&mut self) -> bool {
        if !self.is_patroni_running() {
            return false;
        }
        self.patroni
            .as_ref()
            .and_then(|c| i32::try_from(c.id()).ok())
            .is_some_and(|pid| kill(Pid::from_raw(pid), Signal::SIGHUP).is_ok())
    }

    /// One request to the member's REST API; `None` when it does not answer.
    pub fn rest(&self, method: &str, path: &str, json_body: Option<&str>) -> Option<(u16, String)> {
        self.rest_with_timeout(method, path, json_body, REST_TIMEOUT)
    }

    pub(crate) fn rest_with_timeout(
        &self,
        method: &str,
        path: &str,
        json_body: Option<&str>,
        timeout: Duration,
    ) -> Option<(u16, String)> {
        rest::request(
            self.rest_port,
            method,
            path,
            json_body,
            self.rest_auth.as_ref(),
            timeout,
        )
        .ok()
    }

    /// The status of `GET <path>` (`/primary`, `/replica`, `/leader`, `/health`, ...), or `None`
    /// when the REST API does not answer.
    pub fn rest_status(&self, path: &str) -> Option<u16> {
        self.rest("GET", path, None).map(|(status, _)| status)
    }

    /// `GET /patroni`: the member's own state (`role`, `state`, `timeline`, `pause`, ...), or
    /// `None` when the REST API does not answer.
    pub fn patroni_state(&self) -> Option<Value> {
        let (_, body) = self.rest("GET", "/patroni", None)?;
        serde_json::from_str(&body).ok()
    }

    /// The member's role from `GET /primary` and `GET /replica`.
    pub fn role(&self) -> Role {
        match self.rest_status("/primary") {
            None => Role::Down,
            Some(200) => Role::Leader,
            Some(_) => match self.rest_status("/replica") {
                Some(200) => Role::Replica,
                None => Role::Down,
                Some(_) => Role::Other,
            },
        }
    }

    /// Runs SQL with `psql` over the member's socket (database `postgres`) and returns the
    /// unaligned, tuples-only output, or stderr as the error.
    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        psql_at(&self.socket_dir(), self.pg_port, "postgres", sql)
    }

    /// Like [`Member::try_psql`], and panics naming the member, with its logs, when `psql`
    /// fails.
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql).unwrap_or_else(|err| {
            panic!(
                "psql on member {} failed for {sql:?}:\n{err}\n{}",
                self.name,
                self.log_tails()
            )
        })
    }

    /// Completes the current WAL segment on the member (a leader) and returns its name: writes a
    /// small WAL record first (`pg_logical_emit_message`), since `pg_switch_wal()` does nothing
    /// on a segment with nothing in it.
    pub fn switch_wal(&self) -> String {
        self.psql("SELECT pg_logical_emit_message(false, 'pitr-tests', 'switch')");
        self.psql("SELECT pg_walfile_name(pg_switch_wal())")
    }

    /// Waits until PostgreSQL on the member reports `wal` (or a later file) archived
    /// (`pg_stat_archiver.last_archived_wal`). With `archive-async` the repo may hold a segment
    /// before that; this is PostgreSQL's own view.
    ///
    /// # Panics
    ///
    /// When it does not within a minute; the message shows the member's logs.
    pub fn wait_postgres_archived(&self, wal: &str) {
        let sql = format!(
            "SELECT coalesce(last_archived_wal >= '{}', false) FROM pg_stat_archiver",
            wal.replace('\'', "''")
        );
        let done = super::poll_until(ARCHIVE_TIMEOUT, || {
            (self.try_psql(&sql).as_deref() == Ok("t")).then_some(())
        });
        assert!(
            done.is_some(),
            "member {} did not archive {wal} within {ARCHIVE_TIMEOUT:?}\n{}",
            self.name,
            self.log_tails()
        );
    }

    /// Runs the real pgBackRest as `postgres` with the member's configuration and stanza:
    /// `pgbackrest --config=<conf> --stanza=<scope> <args>`.
    pub fn pgbackrest(&self, args: &[&str]) -> Output {
        let stanza = format!("--stanza={}", self.scope);
        let mut all = vec![stanza.as_str()];
        all.extend_from_slice(args);
        crate::tools::pgbackrest(&self.pgbackrest_conf(), &all)
    }

    /// Like [`Member::pgbackrest`]; panics naming the member with both streams when it fails.
    /// Returns stdout.
    pub fn pgbackrest_ok(&self, args: &[&str]) -> String {
        let out = self.pgbackrest(args);
        assert!(
            out.status.success(),
            "pgbackrest {} on member {} failed:\n{}",
            args.join(" "),
            self.name,
            crate::pitr::output_text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `patronictl -c <patroni.yml> <args>` as `postgres` (e.g. `list`, `history`) and
    /// returns its output, whatever the exit status.
    pub fn patronictl(&self, args: &[&str]) -> Output {
        let mut cmd = cmd_as_postgres(ha_tool("patronictl", "patroni"));
        cmd.arg("-c").arg(self.patroni_yml()).args(args);
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)))
    }

    /// Runs the `pitr` binary with the member's pgbackrest.conf: `pitr --config <conf> <args>`.
    pub fn pitr(&self, args: &[&str]) -> Output {
        let conf = self.pgbackrest_conf();
        let mut all = vec!["--config", path_str(&conf)];
        all.extend_from_slice(args);
        crate::pitr::pitr(&all)
    }

    /// The pid in `data/postmaster.pid`, if the file exists.
    pub fn postmaster_pid(&self) -> Option<i32> {
        pitr_core::run::ha::postmaster_pid(&self.data_dir())
    }

    /// The last lines of the member's Patroni log and server log, for failure messages.
    pub fn log_tails(&self) -> String {
        format!(
            "--- member {} ({}): last lines of log/patroni.log ---\n{}\n\
             --- member {}: last lines of log/postgresql.log ---\n{}",
            self.name,
            self.root.display(),
            tail(&self.patroni_log(), TAIL_LINES),
            self.name,
            tail(&self.postgres_log(), TAIL_LINES),
        )
    }

    /// Patroni's name of the member, `<scope>-<seq>` (Pigsty's instance name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PostgreSQL port (on `127.0.0.1` and in the socket's name); the spec's `pg_port`.
    pub fn pg_port(&self) -> u16 {
        self.pg_port
    }

    /// The Patroni REST API port on `127.0.0.1` (Pigsty's `patroni_port`).
    pub fn rest_port(&self) -> u16 {
        self.rest_port
    }

    /// The member's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The Unix socket directory.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    /// The directory of `patroni.log` and `postgresql.log`.
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }

    /// Patroni's output.
    pub fn patroni_log(&self) -> PathBuf {
        self.log_dir().join("patroni.log")
    }

    /// The server log (`logging_collector` writes it; one file, never rotated).
    pub fn postgres_log(&self) -> PathBuf {
        self.log_dir().join("postgresql.log")
    }

    /// Patroni's configuration file.
    pub fn patroni_yml(&self) -> PathBuf {
        self.root.join("patroni.yml")
    }

    /// The member's cluster spec (Pigsty keys that pitr knows, `patroni_port` among them),
    /// input of `pitr render`.
    pub fn spec_path(&self) -> PathBuf {
        self.root.join("spec.yml")
    }

    /// The member's cluster spec as text.
    pub fn spec_yaml(&self) -> String {
        fs::read_to_string(self.spec_path())
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.spec_path().display()))
    }

    /// The member's pgbackrest.conf, rendered from its spec.
    pub fn pgbackrest_conf(&self) -> PathBuf {
        self.root.join("pgbackrest.conf")
    }

    /// The `archive_command` gate (the spec's `pgbackrest_bin`).
    pub fn gate_path(&self) -> PathBuf {
        self.root.join("bin").join("pgbackrest-gate")
    }

    /// While this file exists, the member's `archive_command` fails.
    pub fn block_flag(&self) -> PathBuf {
        self.root.join("archive-blocked")
    }

    /// Whether the member's archiving is blocked.
    pub fn is_archiving_blocked(&self) -> bool {
        self.block_flag().exists()
    }

    pub(super) fn path_text(&self, rel: &str) -> String {
        path_str(&self.root.join(rel)).to_owned()
    }
}

/// A path as UTF-8 (test paths are ASCII).
pub(super) fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("path {} is not UTF-8", path.display()))
}
