//! [`Etcd`]: a one-member etcd 3.4 server in a private directory, the DCS of a Patroni cluster.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tempfile::TempDir;

use super::{
    TAIL_LINES, free_port, ha_tool, mark_owner, poll_until, reap_orphans, remove_dir_patiently,
    tail, unmark_owner,
};
use crate::cluster::KEEP_DIRS_ENV;
use crate::tools::describe;

/// How often etcd is started on other ports when a port turns out to be taken.
const PORT_ATTEMPTS: usize = 5;

/// How long etcd may take to answer `etcdctl endpoint health`.
const READY: Duration = Duration::from_secs(30);

/// How long etcd may take to exit after `SIGTERM` before it gets `SIGKILL`.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A one-member etcd server on loopback in its own temporary directory
/// (`$TMPDIR/pitr-etcd-<random>/`: `data/` and `etcd.log`), with its own client and peer ports.
///
/// [`Etcd::stop`] and [`Etcd::start_again`] take the DCS away and bring it back on the same
/// ports with the same data. Dropping it kills the server and removes the directory (unless
/// `PITR_KEEP_TEST_DIRS` is set); after a panic the tail of its log is printed.
#[derive(Debug)]
pub struct Etcd {
    root: PathBuf,
    /// `None` once the directory has been handed over (kept on disk).
    dir: Option<TempDir>,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

impl Etcd {
    /// Starts etcd on two free loopback ports and waits until `etcdctl endpoint health` passes.
    ///
    /// # Panics
    ///
    /// When `etcd`/`etcdctl` are not installed (run `make setup`) or etcd does not become
    /// healthy; the message includes its log.
    pub fn start() -> Etcd {
        ha_tool("etcdctl", "etcd-client");
        reap_orphans();
        let dir = tempfile::Builder::new()
            .prefix("pitr-etcd-")
            .tempdir_in(std::env::temp_dir())
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        mark_owner(dir.path());
        let mut etcd = Etcd {
            root: dir.path().to_path_buf(),
            dir: Some(dir),
            client_port: 0,
            peer_port: 0,
            child: None,
        };
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            etcd.client_port = free_port();
            etcd.peer_port = free_port();
            match etcd.spawn() {
                Ok(()) => return etcd,
                Err(log) if log.contains("address already in use") => last = log,
                Err(log) => panic!("etcd did not start:\n{log}"),
            }
        }
        panic!("etcd found no free ports in {PORT_ATTEMPTS} attempts:\n{last}");
    }

    /// Starts the server and waits until it is healthy; on failure kills it and returns the log.
    fn spawn(&mut self) -> Result<(), String> {
        let log_path = self.log_path();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log_path.display()));
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot dup {}: {e}", log_path.display()));
        let mut cmd = pitr_core::run::ha::etcd_command(
            &ha_tool("etcd", "etcd-server"),
            &self.root.join("data"),
            self.client_port,
            self.peer_port,
        );
        cmd.current_dir(&self.root)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err));
        let log_start = fs::metadata(&log_path).map_or(0, |m| m.len());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", describe(&cmd)));
        let deadline = Instant::now() + READY;
        loop {
            if self.is_healthy() {
                self.child = Some(child);
                return Ok(());
            }
            let exited = matches!(child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() > deadline {
                if !exited {
                    kill_group(&child);
                }
                let _ = child.wait();
                let log = fs::read(&log_path).unwrap_or_default();
                let start = usize::try_from(log_start).unwrap_or(0).min(log.len());
                return Err(format!(
                    "{} {} on client port {}:\n{}",
                    describe(&cmd),
                    if exited {
                        "exited"
                    } else {
                        "was not healthy in time"
                    },
                    self.client_port,
                    String::from_utf8_lossy(&log[start..])
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (`SIGTERM`, then `SIGKILL` after 10 s): the DCS is down until
    /// [`Etcd::start_again`]. A no-op when it is stopped already.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
        let _ = killpg(pid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        kill_group(&child);
        let _ = child.wait();
    }

    /// Starts the server again on the same ports with the same data after [`Etcd::stop`], and
    /// waits until it is healthy. A no-op when it runs.
    ///
    /// # Panics
    ///
    /// When it does not come back (e.g. another process took a port meanwhile).
    pub fn start_again(&mut self) {
        if self.child.is_some() {
            return;
        }
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match self.spawn() {
                Ok(()) => return,
                Err(log) => last = log,
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("etcd does not start again:\n{last}");
    }

    /// Whether the server process runs (it may still be unhealthy).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Whether `etcdctl endpoint health` passes (within 2 s).
    pub fn is_healthy(&self) -> bool {
        pitr_core::run::ha::etcd_is_healthy(&ha_tool("etcdctl", "etcd-client"), &self.endpoint())
    }

    /// Waits until the server is healthy, for at most `timeout`.
    ///
    /// # Panics
    ///
    /// When it is not; the message includes the end of its log.
    pub fn wait_healthy(&self, timeout: Duration) {
        let healthy = poll_until(timeout, || self.is_healthy().then_some(()));
        assert!(
            healthy.is_some(),
            "etcd on {} is not healthy after {timeout:?}:\n{}",
            self.endpoint(),
            tail(&self.log_path(), TAIL_LINES)
        );
    }

    /// Runs `etcdctl --endpoints=<endpoint> <args>` (API v3) and returns its output, whatever
    /// the exit status.
    ///
    /// # Panics
    ///
    /// When `etcdctl` cannot be started.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        let mut cmd = pitr_core::run::ha::etcdctl_command(
            &ha_tool("etcdctl", "etcd-client"),
            &self.endpoint(),
        );
        cmd.args(args);
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)))
    }

    /// `127.0.0.1:<client port>`, as Patroni's `etcd3.hosts` takes it.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// The client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The peer port.
    pub fn peer_port(&self) -> u16 {
        self.peer_port
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The server's temporary directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("etcd.log")
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            let mut child = child;
            kill_group(&child);
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- etcd {} ({}): last lines of etcd.log ---\n{}",
                self.endpoint(),
                self.root.display(),
                tail(&self.log_path(), 10)
            );
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.keep();
            if std::env::var_os(KEEP_DIRS_ENV).is_some_and(|v| !v.is_empty()) {
                unmark_owner(&path);
                eprintln!("etcd: kept {} ({KEEP_DIRS_ENV} is set)", path.display());
            } else {
                remove_dir_patiently(&path, "etcd");
            }
        }
    }
}

/// `SIGKILL` to the process group a child leads.
fn kill_group(child: &Child) {
    pitr_core::run::ha::kill_group(child.id());
}
