//! `pitr exporter` as a child process of a test, and plain HTTP/1.0 requests to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Stanza, free_port, pitr_bin};

/// `GET path` over HTTP/1.0 (no chunking, the server closes), bounded by `timeout`.
/// Returns the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP header in {text:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    Ok((status, body.to_owned()))
}

/// Polls `probe` every 200 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A child process a test started, its output in a log file; killed (by its own pid) when
/// dropped.
#[derive(Debug)]
pub struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr into `log`.
    pub fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let out = file
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone a descriptor: {e}"));
        cmd.stdin(Stdio::null()).stdout(out).stderr(file);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { name, child, log }
    }

    /// What it wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the log when the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self
            .child
            .try_wait()
            .unwrap_or_else(|e| panic!("wait: {e}"))
        {
            panic!("{} exited ({status}):\n{}", self.name, self.log());
        }
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit; returns the log.
    pub fn terminate(mut self) -> String {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
            .unwrap_or_else(|e| panic!("cannot signal {}: {e}", self.name));
        let status = wait_for(Duration::from_secs(20), "the process to stop", || {
            self.child
                .try_wait()
                .unwrap_or_else(|e| panic!("wait: {e}"))
        });
        let log = self.log();
        assert!(
            status.success(),
            "{} exited with {status}:\n{log}",
            self.name
        );
        log
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `pitr exporter` for `stanza` on a free loopback port, refreshing every `interval` seconds,
/// with `extra` options after the subcommand.
pub fn start_exporter(stanza: &Stanza, interval: u64, extra: &[&str]) -> (Proc, SocketAddr) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut cmd = Command::new(pitr_bin());
    cmd.arg("--config")
        .arg(&stanza.config)
        .args(["exporter", "--listen", &addr.to_string(), "--interval"])
        .arg(interval.to_string())
        .args(extra)
        .env_remove("PGHOST")
        .env_remove("PGPORT");
    let log = stanza.cluster.path("exporter.log");
    (Proc::spawn("pitr exporter", cmd, log), addr)
}

/// `/metrics` once it holds data for the stanza (the first refresh is done).
pub fn metrics_with_data(exporter: &mut Proc, addr: SocketAddr, stanza: &str) -> String {
    let needle = format!("pgbackrest_stanza_status{{stanza=\"{stanza}\"}}");
    wait_for(
        Duration::from_secs(60),
        "the exporter's first refresh",
        || {
            exporter.assert_running();
            http_get(addr, "/metrics", Duration::from_secs(5))
                .ok()
                .filter(|(status, body)| *status == 200 && body.contains(&needle))
                .map(|(_, body)| body)
        },
    )
}
