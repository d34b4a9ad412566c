//! Driving the real `pitr` binary, and a stanza fixture built the way users build one: a cluster
//! spec, `pitr render` for pgbackrest.conf and the archive settings, `pitr backup full`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::cluster::TestCluster;
use crate::user::write_file_as_postgres;

/// The `pitr` binary built by `cargo build` (the Makefile builds it before the tests run).
///
/// # Panics
///
/// When it has not been built: the message says how to build it.
pub fn pitr_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let bin = target.join(profile).join("pitr");
    assert!(
        bin.is_file(),
        "{} does not exist: build it with `cargo build -p pitr-cli` (make test does)",
        bin.display()
    );
    bin
}

/// Runs `pitr` with `args` as the test process's user (pitr switches to `postgres` itself).
pub fn pitr(args: &[&str]) -> Output {
    Command::new(pitr_bin())
        .args(args)
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .output()
        .expect("pitr runs")
}

/// Stdout and stderr of an output, for assertion messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `pitr` and returns stdout; panics with both streams when it fails.
pub fn pitr_ok(args: &[&str]) -> String {
    let out = pitr(args);
    assert!(
        out.status.success(),
        "pitr {args:?} failed:\n{}",
        output_text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The records of a server's `jsonlog` file (the recovery log a restore plan names in
/// `summary.recovery_log`) written after byte `offset`.
pub fn server_log_records(path: &Path, offset: u64) -> Vec<pitr_core::recovery::LogRecord> {
    log_since(path, offset)
        .lines()
        .filter_map(pitr_core::recovery::LogRecord::from_json_line)
        .collect()
}

/// What a log file holds after byte `offset` (nothing when it cannot be read).
pub fn log_since(path: &Path, offset: u64) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(text.len());
    String::from_utf8_lossy(&text[start..]).into_owned()
}

/// Waits a little over a second: backup stop times are whole seconds, and a target time must
/// not share a second with a set's stop.
pub fn tick() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

/// Creates `t (id int, pad text)` and `filler (x int)` for [`Stanza::insert_rows`].
pub fn create_padded_tables(cluster: &TestCluster) {
    cluster.psql("CREATE TABLE t (id int, pad text); CREATE TABLE filler (x int)");
}

/// A started cluster with a stanza rendered from a cluster spec and one full backup.
#[derive(Debug)]
pub struct Stanza {
    /// The cluster (dropped last: it removes the directory).
    pub cluster: TestCluster,
    /// The stanza name.
    pub name: String,
    /// The spec file.
    pub spec: PathBuf,
    /// The rendered pgbackrest.conf.
    pub config: PathBuf,
}

impl Stanza {
    /// The spec for `cluster` with `repos_yaml` as `pgbackrest_repo` and `method` as
    /// `pgbackrest_method` (both YAML), plus `extra` top-level lines.
    pub fn spec_yaml(
        cluster: &TestCluster,
        stanza: &str,
        method: &str,
        repos_yaml: &str,
        extra: &str,
    ) -> String {
        format!(
            "pg_cluster: {stanza}\npg_data: {data}\npg_port: {port}\npg_socket_dir: {sock}\n\
             node_cpu: 2\npgbackrest_version: '2.45'\npgbackrest_config: {conf}\n\
             pgbackrest_log_dir: {log}\npgbackrest_spool_dir: {spool}\npgbackrest_lock_dir: {lock}\n\
             pgbackrest_method: {method}\npgbackrest_repo:\n{repos_yaml}\n{extra}\n",
            data = cluster.data_dir().display(),
            port = cluster.port(),
            sock = cluster.socket_dir().display(),
            conf = cluster.path("pgbackrest.conf").display(),
            log = cluster.path("pgbackrest-log").display(),
            spool = cluster.path("spool").display(),
            lock = cluster.path("lock").display(),
        )
    }

    /// The spec of a local repo in `<root>/repo`.
    pub fn local_repo_yaml(cluster: &TestCluster) -> String {
        format!(
            "  local:\n    path: {}\n    retention_full: 4\n",
            cluster.path("repo").display()
        )
    }

    /// A stanza on a local repo: spec, rendered config, archiving on, stanza-create and a full
    /// backup through `pitr backup full`.
    pub fn local(name: &str) -> Stanza {
        let cluster = TestCluster::start(name);
        let spec = Self::spec_yaml(
            &cluster,
            name,
            "local",
            &Self::local_repo_yaml(&cluster),
            "",
        );
        Self::from_spec(cluster, name, &spec)
    }

    /// A stanza from a spec text: writes it, renders pgbackrest.conf (`pitr render --output`)
    /// and the archive settings (`pitr render --what archive`), restarts the cluster with them
    /// and takes a full backup.
    pub fn from_spec(mut cluster: TestCluster, name: &str, spec_text: &str) -> Stanza {
        let spec = cluster.path("spec.yml");
        write_file_as_postgres(&spec, spec_text, 0o600);
        let config = cluster.path("pgbackrest.conf");
        let spec_arg = spec.display().to_string();
        let config_arg = config.display().to_string();
        pitr_ok(&["render", "--spec", &spec_arg, "--output", &config_arg]);
        crate::user::chown_to_postgres(&config);
        let archive = pitr_ok(&["render", "--spec", &spec_arg, "--what", "archive"]);
        cluster.append_conf(&archive);
        cluster.restart();
        let stanza = Stanza {
            cluster,
            name: name.to_owned(),
            spec,
            config,
        };
        stanza.pitr_ok(&["backup", "full"]);
        stanza
    }

    /// Runs `pitr --config <config> <args>`.
    pub fn pitr(&self, args: &[&str]) -> Output {
        let config = self.config.display().to_string();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        pitr(&all)
    }

    /// Like [`Stanza::pitr`]; panics with both streams when it fails.
    pub fn pitr_ok(&self, args: &[&str]) -> String {
        let out = self.pitr(args);
        assert!(
            out.status.success(),
            "pitr {args:?} failed:\n{}",
            output_text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Forces a WAL switch and waits until it is archived (`pgbackrest check`).
    pub fn archive_now(&self) {
        crate::tools::pgbackrest_ok(&self.config, &["--stanza", &self.name, "check"]);
    }

    /// The server's clock now, in UTC, as a target time (`2026-11-23 20:27:46.123456+00`).
    pub fn utc_now(&self) -> String {
        self.cluster.psql(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')",
        )
    }

    /// Inserts rows `from..=to` into `t`, then switches WAL `switches` times so that the rows
    /// end up segments away from what comes next.
    pub fn insert_rows(&self, from: i32, to: i32, switches: u32) {
        self.cluster.psql(&format!(
            "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series({from}, {to}) g"
        ));
        for _ in 0..switches {
            // A switch only happens when the current segment has something in it.
            self.cluster
                .psql("INSERT INTO filler VALUES (1); SELECT pg_switch_wal()");
        }
    }

    /// The files of WAL segment `segment` in the local repo directory `repo` (relative to the
    /// cluster root, e.g. `repo`), as pgBackRest names them (`<segment>-<sha1>.<ext>`).
    pub fn archived_segment_files(&self, repo: &str, segment: &str) -> Vec<PathBuf> {
        let dir = self.cluster.path(format!(
            "{repo}/archive/{}/15-1/{}",
            self.name,
            &segment[..16]
        ));
        std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name().is_some_and(|n| {
                            n.to_string_lossy().starts_with(&format!("{segment}-"))
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `SELECT count(*) FROM <table>` as a number.
    pub fn count(&self, table: &str) -> i64 {
        self.cluster
            .psql(&format!("SELECT count(*) FROM {table}"))
            .trim()
            .parse()
            .expect("count is a number")
    }
}
