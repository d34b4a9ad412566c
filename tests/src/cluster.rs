//! [`TestCluster`]: a throwaway PostgreSQL 15 cluster in a private temporary directory.

use std::fmt::Write as _;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use tempfile::TempDir;

use crate::tools::{describe, pg_bin, pgbackrest_bin};
use crate::user::{cmd_as_postgres, mkdir_as_postgres, write_file_as_postgres};

/// Set this environment variable (to anything) to keep test directories after the test.
pub const KEEP_DIRS_ENV: &str = "PITR_KEEP_TEST_DIRS";

/// Sub-directories created in every cluster root, owned by `postgres`. `data/` is made by
/// `initdb`.
const SUBDIRS: [&str; 6] = ["sock", "log", "repo", "spool", "lock", "pgbackrest-log"];

/// Seconds `pg_ctl` waits for start-up and shut-down.
const PG_CTL_TIMEOUT: &str = "120";

/// How often start-up is retried on another port when the port turns out to be taken.
const PORT_ATTEMPTS: usize = 5;

/// The Unix socket path limit (`sun_path`) less the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// Marks the harness's own `port` line in `postgresql.conf`, so a retry can replace it.
const PORT_MARK: &str = "# pitr-tests: port";

/// A throwaway PostgreSQL cluster owned by the `postgres` OS user, listening only on a Unix
/// socket in its own directory.
///
/// Create it with [`TestCluster::start`] (initialised and running) or [`TestCluster::init`]
/// (initialised, not running: add settings with [`TestCluster::append_conf`], then call
/// [`TestCluster::start_server`]). Dropping it stops the server and removes its directory; see
/// the crate docs.
#[derive(Debug)]
pub struct TestCluster {
    name: String,
    root: PathBuf,
    port: u16,
    /// `None` once the directory has been handed over (kept on disk).
    dir: Option<TempDir>,
}

impl TestCluster {
    /// Initialises and starts a cluster. `name` appears in the directory name (shortened to
    /// letters, digits, `-` and `_`).
    ///
    /// # Panics
    ///
    /// When a prerequisite is missing (run `make setup`) or `initdb`/`pg_ctl start` fail; the
    /// message includes their output and the server log.
    pub fn start(name: &str) -> TestCluster {
        let mut cluster = TestCluster::init(name);
        cluster.start_server();
        cluster
    }

    /// Creates the directory tree and runs `initdb`, and writes the harness settings, but does
    /// not start the server.
    ///
    /// # Panics
    ///
    /// As [`TestCluster::start`].
    pub fn init(name: &str) -> TestCluster {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(24)
            .collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("pitr-e2e-{safe}-"))
            .tempdir_in(std::env::temp_dir())
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let root = dir.path().to_path_buf();
        mkdir_as_postgres(&root, 0o700);
        for sub in SUBDIRS {
            mkdir_as_postgres(&root.join(sub), 0o700);
        }
        let socket_probe = root.join("sock").join(".s.PGSQL.65535.lock");
        assert!(
            socket_probe.as_os_str().len() <= MAX_SOCKET_PATH,
            "socket path {} is longer than {MAX_SOCKET_PATH} bytes; set TMPDIR to a shorter \
             directory",
            socket_probe.display()
        );

        let mut cluster = TestCluster {
            name: safe,
            root,
            port: 0,
            dir: Some(dir),
        };
        cluster.port = cluster.pick_port();
        cluster.run_initdb();
        cluster.write_base_conf();
        cluster
    }

    fn run_initdb(&self) {
        let mut cmd = cmd_as_postgres(pg_bin("initdb"));
        cmd.arg("-D").arg(self.data_dir()).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)));
        assert!(
            out.status.success(),
            "{} failed ({}):\n{}\n{}",
            describe(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn write_base_conf(&self) {
        let settings = format!(
            "\n# --- pitr-tests harness ---\n\
             port = {port}  {PORT_MARK}\n\
             unix_socket_directories = {sock}\n\
             listen_addresses = ''\n\
             wal_level = replica\n\
             max_wal_senders = 4\n\
             fsync = off\n\
             shared_buffers = 32MB\n\
             logging_collector = off\n",
            port = self.port,
            sock = conf_quote(&self.socket_dir().to_string_lossy()),
        );
        self.append_conf(&settings);
    }

    /// Chooses a port: a per-process counter from a base derived from the process id, skipping
    /// 5432, ports whose socket file exists in the system socket directories or in ours, and
    /// ports something listens on over TCP on loopback.
    fn pick_port(&self) -> u16 {
        static NEXT: OnceLock<AtomicU32> = OnceLock::new();
        const LOW: u32 = 20_000;
        const SPAN: u32 = 40_000;
        let next = NEXT.get_or_init(|| AtomicU32::new((std::process::id() % 1000) * 37));
        let sock = self.socket_dir();
        for _ in 0..1000 {
            let port = u16::try_from(LOW + next.fetch_add(1, Ordering::Relaxed) % SPAN)
                .expect("port below 65536");
            let socket = format!(".s.PGSQL.{port}");
            let socket_busy = [
                sock.as_path(),
                Path::new("/tmp"),
                Path::new("/var/run/postgresql"),
            ]
            .iter()
            .any(|dir| dir.join(&socket).exists() || dir.join(format!("{socket}.lock")).exists());
            if port != 5432 && !socket_busy && TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
        panic!("no free port found for test cluster {}", self.name);
    }

    /// Appends lines to `data/postgresql.conf` (later settings win). Takes effect at the next
    /// start, restart or reload.
    ///
    /// # Panics
    ///
    /// On an I/O error.
    pub fn append_conf(&self, settings: &str) {
        let path = self.data_dir().join("postgresql.conf");
        let mut conf = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if !conf.ends_with('\n') {
            conf.push('\n');
        }
        conf.push_str(settings);
        if !conf.ends_with('\n') {
            conf.push('\n');
        }
        write_file_as_postgres(&path, conf, 0o600);
    }

    fn set_port(&mut self, port: u16) {
        let path = self.data_dir().join("postgresql.conf");
        let conf = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let conf: String = conf
            .lines()
            .map(|line| {
                if line.ends_with(PORT_MARK) {
                    format!("port = {port}  {PORT_MARK}\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        write_file_as_postgres(&path, conf, 0o600);
        self.port = port;
    }

    /// Starts the server (`pg_ctl -w start`) and waits until it accepts connections. If the
    /// port turns out to be taken, picks another one and retries.
    ///
    /// # Panics
    ///
    /// When the server does not start; the message includes the server log.
    pub fn start_server(&mut self) {
        for attempt in 1..=PORT_ATTEMPTS {
            let log_len = fs::metadata(self.log_file()).map_or(0, |m| m.len());
            let out = self.pg_ctl_logged(&["-l", &self.log_file().to_string_lossy(), "start"]);
            if out.status.success() {
                return;
            }
            let log = self.log_since(log_len);
            let port_taken = [
                "Address already in use",
                "could not create lock file",
                "is another postmaster",
            ]
            .iter()
            .any(|needle| log.contains(needle));
            if port_taken && attempt < PORT_ATTEMPTS {
                let port = self.pick_port();
                eprintln!(
                    "test cluster {}: port {} taken, retrying on {port}",
                    self.name, self.port
                );
                self.set_port(port);
                continue;
            }
            panic!(
                "cannot start test cluster {} in {} (pg_ctl {}):\n{}\n--- server log ---\n{log}",
                self.name,
                self.root.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr),
            );
        }
    }

    /// Stops the server (`pg_ctl -m fast -w stop`).
    ///
    /// # Panics
    ///
    /// When `pg_ctl` fails, e.g. because the server is not running.
    pub fn stop(&self) {
        self.stop_mode("fast");
    }

    /// Stops the server without a shutdown checkpoint (`pg_ctl -m immediate -w stop`): like a
    /// crash, the next start runs crash recovery.
    ///
    /// # Panics
    ///
    /// When `pg_ctl` fails, e.g. because the server is not running.
    pub fn stop_immediate(&self) {
        self.stop_mode("immediate");
    }

    fn stop_mode(&self, mode: &str) {
        let out = self.pg_ctl_logged(&["-m", mode, "stop"]);
        assert!(
            out.status.success(),
            "cannot stop test cluster {} (-m {mode}): {}\n{}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops (fast) and starts the server again.
    pub fn restart(&mut self) {
        self.stop();
        self.start_server();
    }

    /// Whether a server is running on the data directory (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        self.pg_ctl(&["status"]).status.success()
    }

    /// Runs `pg_ctl -D <data> -w -t 120 <args...>` as `postgres` and returns its output,
    /// whatever the exit status.
    ///
    /// # Panics
    ///
    /// When `pg_ctl` cannot be started.
    pub fn pg_ctl(&self, args: &[&str]) -> Output {
        let mut cmd = cmd_as_postgres(pg_bin("pg_ctl"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", PG_CTL_TIMEOUT])
            .args(args);
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)))
    }

    /// Like [`TestCluster::pg_ctl`], with stdout going to `log/pg_ctl.log` instead of a pipe:
    /// the server started by `pg_ctl start` must not inherit a pipe the test waits on.
    fn pg_ctl_logged(&self, args: &[&str]) -> Output {
        let log_path = self.root.join("log").join("pg_ctl.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log_path.display()));
        let mut cmd = cmd_as_postgres(pg_bin("pg_ctl"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", PG_CTL_TIMEOUT])
            .args(args)
            .stdout(Stdio::from(log));
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)))
    }

    /// Runs SQL with `psql` on database `postgres` and returns its unaligned, tuples-only output
    /// without the final newline (rows separated by `\n`, columns by `|`).
    ///
    /// # Panics
    ///
    /// When `psql` fails; the message includes its stderr.
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql).unwrap_or_else(|err| {
            panic!(
                "psql on test cluster {} failed for {sql:?}:\n{err}",
                self.name
            )
        })
    }

    /// Like [`TestCluster::psql`], returning stderr as the error instead of panicking.
    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        self.try_psql_in("postgres", sql)
    }

    /// Like [`TestCluster::try_psql`] on database `db`.
    pub fn try_psql_in(&self, db: &str, sql: &str) -> Result<String, String> {
        psql_at(&self.socket_dir(), self.port, db, sql)
    }

    /// Writes `<root>/pgbackrest.conf` for a local (posix) repository in `<root>/repo` with the
    /// cluster as `pg1` of `stanza`, and returns its path. `extra_global` lines (may be empty)
    /// are added to `[global]`. Uses `start-fast=y` so backups do not wait for a spread
    /// checkpoint.
    pub fn write_local_pgbackrest_conf(&self, stanza: &str, extra_global: &str) -> PathBuf {
        let path = self.path("pgbackrest.conf");
        let mut conf = String::from("[global]\n");
        for (key, rel) in [
            ("repo1-path", "repo"),
            ("log-path", "pgbackrest-log"),
            ("lock-path", "lock"),
            ("spool-path", "spool"),
        ] {
            writeln!(conf, "{key}={}", self.path(rel).display()).expect("write to String");
        }
        conf.push_str(
            "repo1-retention-full=2\nlog-level-console=warn\ncompress-type=zst\nstart-fast=y\n",
        );
        if !extra_global.is_empty() {
            conf.push_str(extra_global.trim_end());
            conf.push('\n');
        }
        write!(
            conf,
            "\n[{stanza}]\npg1-path={}\npg1-port={}\npg1-socket-path={}\n",
            self.data_dir().display(),
            self.port,
            self.socket_dir().display()
        )
        .expect("write to String");
        write_file_as_postgres(&path, conf, 0o640);
        path
    }

    /// Turns on WAL archiving to pgBackRest (`archive_mode = on`, `archive_command =
    /// 'pgbackrest --config=<config> --stanza=<stanza> archive-push %p'`) and restarts the
    /// server if it runs (`archive_mode` needs a restart).
    pub fn enable_archiving(&mut self, config: &Path, stanza: &str) {
        let command = format!(
            "{} --config={} --stanza={stanza} archive-push %p",
            pgbackrest_bin().display(),
            config.display()
        );
        self.append_conf(&format!(
            "archive_mode = on\narchive_command = {}\n",
            conf_quote(&command)
        ));
        if self.is_running() {
            self.restart();
        }
    }

    /// The server log, `log/postgres.log` (empty if it does not exist yet).
    pub fn server_log(&self) -> String {
        fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    fn log_since(&self, offset: u64) -> String {
        let log = fs::read(self.log_file()).unwrap_or_default();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(log.len());
        String::from_utf8_lossy(&log[start..]).into_owned()
    }

    /// Path of the server log.
    pub fn log_file(&self) -> PathBuf {
        self.root.join("log").join("postgres.log")
    }

    /// The data directory, `<root>/data`.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The Unix socket directory, `<root>/sock`; use as `host` in connection strings.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    /// The port (part of the socket file name; nothing listens on TCP).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A libpq/tokio-postgres connection string for database `postgres` as user `postgres`
    /// over the Unix socket (`host=<sock> port=<port> user=postgres dbname=postgres`).
    pub fn conninfo(&self) -> String {
        format!(
            "host={} port={} user=postgres dbname=postgres",
            self.socket_dir().display(),
            self.port
        )
    }

    /// The cluster's temporary directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<rel>`.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// The name given at creation (sanitised).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if self.data_dir().join("postmaster.pid").exists() && self.is_running() {
            let out = self.pg_ctl_logged(&["-m", "immediate", "stop"]);
            if !out.status.success() {
                eprintln!(
                    "test cluster {}: cannot stop server: {}",
                    self.name,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        if panicking {
            let log = self.server_log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- test cluster {} ({}): last lines of server log ---",
                self.name,
                self.root.display()
            );
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        if let Some(dir) = self.dir.take() {
            if std::env::var_os(KEEP_DIRS_ENV).is_some_and(|v| !v.is_empty()) {
                let kept = dir.keep();
                eprintln!(
                    "test cluster {}: kept {} ({KEEP_DIRS_ENV} is set)",
                    self.name,
                    kept.display()
                );
            } else {
                // pgBackRest's asynchronous archive-push may still write into spool/ for a
                // moment after the server stopped: retry a few times.
                let path = dir.keep();
                let mut result = fs::remove_dir_all(&path);
                for _ in 0..20 {
                    if result.is_ok() || !path.exists() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(250));
                    result = fs::remove_dir_all(&path);
                }
                if let Err(e) = result {
                    eprintln!(
                        "test cluster {}: cannot remove {}: {e}",
                        self.name,
                        path.display()
                    );
                }
            }
        }
    }
}

/// A PostgreSQL configuration string literal: `'...'` with `'` doubled.
fn conf_quote(value: &str) -> String {
    assert!(
        !value.contains(['\n', '\r', '\0']),
        "configuration value {value:?} contains a line break or NUL"
    );
    format!("'{}'", value.replace('\'', "''"))
}

/// Runs SQL with `psql` as `postgres` on the server listening in `socket_dir` on `port` (e.g. a
/// clone beside a test cluster) and returns its unaligned, tuples-only output without the final
/// newline, or stderr as the error.
///
/// # Panics
///
/// When `psql` cannot be started.
pub fn psql_at(socket_dir: &Path, port: u16, db: &str, sql: &str) -> Result<String, String> {
    let mut cmd = cmd_as_postgres(pg_bin("psql"));
    cmd.args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(socket_dir)
        .args([
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            db,
            "-c",
            sql,
        ]);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)));
    if out.status.success() {
        let stdout = String::from_utf8_lossy(&out.stdout);
        Ok(stdout.strip_suffix('\n').unwrap_or(&stdout).to_owned())
    } else {
        Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ))
    }
}
