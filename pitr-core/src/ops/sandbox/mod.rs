//! The sandbox: the demo `make demo` runs (`pitr sandbox`).
//!
//! A throwaway PostgreSQL cluster under a temporary directory, owned by the database
//! superuser, with a local repo and everything rendered from a cluster spec: stanza-create and
//! a full backup, rows written in batches with a restore point, an incremental backup, more
//! rows; then point-in-time restores to a time, a restore point created before the newest
//! backup (where pgBackRest alone picks the newest set and fails), an LSN, a transaction and
//! the end of the archive — each printed with its plan and checked by counting rows.
//!
//! With [`SandboxOptions::ha`], the high-availability demo instead ([`ha`]): a throwaway
//! Patroni cluster on etcd ([`launcher`]), backups from every member, a switchover, a failover
//! and restores across them.

pub mod ha;
pub mod launcher;
mod member;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::names::{RestorePointName, SafePath};
use crate::node::Node;
use crate::ops::{self, RestoreOptions};
use crate::render::Renderer;
use crate::run::exec::run_capture;
use crate::run::files;
use crate::run::log::RunLog;
use crate::run::pgbackrest::PgBackRest;
use crate::run::probe::Endpoint;
use crate::run::runner::run_plan;
use crate::run::tools::Tools;
use crate::run::user::OsUser;
use crate::spec::ClusterSpec;
use crate::target::RestoreRequest;

const STANZA: &str = "sandbox";

/// Where and how the sandbox runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxOptions {
    /// Where to create it (a new directory under the system temp dir when `None`).
    pub dir: Option<PathBuf>,
    /// Keep the directory afterwards.
    pub keep: bool,
    /// Port of the sandbox cluster (the single-node one; `--ha` takes ports from the kernel).
    pub port: u16,
    /// Run the high-availability demo instead ([`ha`]).
    pub ha: bool,
    /// The `pitr` executable Patroni's `on_role_change` callback runs (`--ha` only).
    pub pitr_bin: Option<PathBuf>,
}

/// The sandbox's directory; removed on drop unless kept.
struct SandboxDir<'a> {
    path: PathBuf,
    keep: bool,
    data: PathBuf,
    pg_ctl: PathBuf,
    dbsu: OsUser,
    log: &'a RunLog,
}

impl Drop for SandboxDir<'_> {
    fn drop(&mut self) {
        if let Ok(mut cmd) = self.dbsu.command(&self.pg_ctl) {
            cmd.args(["stop", "-D"])
                .arg(&self.data)
                .args(["-m", "immediate"]);
            let _ = run_capture(cmd, "pg_ctl stop");
        }
        if self.keep {
            self.log
                .line(&format!("sandbox kept in {}", self.path.display()));
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn spec_text(root: &Path, port: u16) -> String {
    let p = |rel: &str| root.join(rel).display().to_string();
    format!(
        "pg_cluster: {STANZA}\n\
         pg_data: {data}\n\
         pg_port: {port}\n\
         pg_socket_dir: {sock}\n\
         node_cpu: 2\n\
         pgbackrest_config: {conf}\n\
         pgbackrest_log_dir: {log}\n\
         pgbackrest_spool_dir: {spool}\n\
         pgbackrest_lock_dir: {lock}\n\
         pgbackrest_method: local\n\
         pgbackrest_repo:\n  local: {{ path: {repo}, retention_full: 2 }}\n",
        data = p("data"),
        sock = p("sock"),
        conf = p("pgbackrest.conf"),
        log = p("log"),
        spool = p("spool"),
        lock = p("lock"),
        repo = p("repo"),
    )
}

/// Runs the demo, narrating into `log`: fails when a restore lands on other rows than expected.
pub fn sandbox(args: &SandboxOptions, log: &RunLog) -> Result<()> {
    if args.ha {
        return ha::sandbox_ha(args, log);
    }
    let say = |text: &str| log.line(&format!("\n### {text}"));
    let dbsu = OsUser::lookup("postgres")?;
    let root = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("pitr-sandbox-{}", std::process::id()))
    });
    files::ensure_dir(&root, 0o700, Some(&dbsu))?;
    for sub in ["sock", "repo", "log", "spool", "lock"] {
        files::ensure_dir(&root.join(sub), 0o700, Some(&dbsu))?;
    }
    let spec_path = root.join("spec.yml");
    files::write_atomic(
        &spec_path,
        spec_text(&root, args.port).as_bytes(),
        0o600,
        Some(&dbsu),
    )?;
    let mut spec = ClusterSpec::from_file(&spec_path)?;
    let tools = Tools::locate(None, None)?;
    spec.bin_dir = Some(SafePath::from_path(
        "pg_bin_dir",
        "the PostgreSQL found on this machine",
        &tools.pg_bin_dir,
    )?);
    let guard = SandboxDir {
        path: root.clone(),
        keep: args.keep,
        data: spec.data.to_path_buf(),
        pg_ctl: tools.pg("pg_ctl"),
        dbsu: dbsu.clone(),
        log,
    };
    log.line(&format!(
        "sandbox in {} (spec: {})",
        root.display(),
        spec_path.display()
    ));

    say("render pgbackrest.conf and the archive settings from the spec");
    let renderer = Renderer::new();
    let conf = renderer.pgbackrest_conf(&spec)?;
    files::write_atomic(
        &spec.config_path,
        conf.contents().as_bytes(),
        0o600,
        Some(&dbsu),
    )?;
    for line in conf.redacted().lines() {
        log.line(line);
    }

    say("initdb and start PostgreSQL as postgres");
    let mut initdb = dbsu.command(tools.pg("initdb"))?;
    initdb
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(&spec.data);
    run_capture(initdb, "initdb")?;
    let settings = format!(
        "\n# pitr sandbox\nport = {}\nunix_socket_directories = '{}'\nlisten_addresses = ''\n\
         wal_level = replica\nfsync = off\n{}",
        spec.port,
        root.join("sock").display(),
        renderer.archive_settings(&spec)?.contents()
    );
    let pg_conf = spec.data.join("postgresql.conf");
    let mut text =
        std::fs::read_to_string(&pg_conf).map_err(|e| Error::io("cannot read", &pg_conf, e))?;
    text.push_str(&settings);
    files::write_atomic(&pg_conf, text.as_bytes(), 0o600, Some(&dbsu))?;
    let mut start = dbsu.command(tools.pg("pg_ctl"))?;
    start
        .args(["start", "-w", "-D"])
        .arg(&spec.data)
        .arg("-l")
        .arg(root.join("log/postgres.log"));
    run_capture(start, "pg_ctl start")?;

    let node = Node::from_spec(&spec);
    let db = Endpoint::of(&node);
    let locked = ops::lock_stanza(&node, "sandbox", false, &|_| {})?;

    say("full backup (the stanza is created first)");
    run_plan(
        &ops::prepare_backup(&node, Some(crate::names::BackupType::Full), None, None)?,
        log,
    )?;

    say("write rows in batches, with a restore point and an incremental backup in between");
    db.simple_query("CREATE TABLE t (id int, batch int)")?;
    let batch = |n: i32| -> Result<String> {
        let xid = db.query_value(&format!(
            "INSERT INTO t SELECT g, {n} FROM generate_series({}, {}) g RETURNING pg_current_xact_id()::text",
            (n - 1) * 100 + 1,
            n * 100
        ))?;
        log.line(&format!("  batch {n}: 100 rows, xid {xid}"));
        Ok(xid)
    };
    batch(1)?;
    std::thread::sleep(Duration::from_millis(1100));
    let time = db.query_value(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')",
    )?;
    std::thread::sleep(Duration::from_millis(1100));
    batch(2)?;
    let mark = ops::mark(
        &node,
        &"before-batch-3".parse::<RestorePointName>()?,
        &locked,
    )?;
    log.line(&format!(
        "  restore point before-batch-3 at {}",
        mark.mark.lsn
    ));
    batch(3)?;
    run_plan(&ops::prepare_backup(&node, None, None, None)?, log)?;
    // Backup stop times are whole seconds: let the incremental set stop before the hint.
    std::thread::sleep(Duration::from_millis(1100));
    let before_4 = db.query_value(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')",
    )?;
    let xid = batch(4)?;
    let lsn = db.query_value("SELECT pg_current_wal_lsn()::text")?;
    batch(5)?;
    PgBackRest::of(&node, &tools.pgbackrest)?.check()?;
    log.line("  WAL archived; 500 rows in table t");

    let cases: [(&str, serde_json::Value, i64); 5] = [
        (
            "a time, between batch 1 and 2",
            serde_json::json!({"time": time}),
            100,
        ),
        (
            "a restore point older than the newest backup (pgBackRest alone would fail)",
            serde_json::json!({"name": "before-batch-3"}),
            200,
        ),
        (
            "an LSN, after batch 4",
            serde_json::json!({"lsn": lsn}),
            400,
        ),
        (
            "the transaction of batch 4 (after the newest backup, as --before says)",
            serde_json::json!({"xid": xid, "before": before_4}),
            400,
        ),
        ("the end of the archive", serde_json::json!({}), 500),
    ];
    for (what, request, expected) in cases {
        say(&format!("PITR to {what}: {request}"));
        let request = RestoreRequest::from_pg_pitr(request, None)?;
        let prepared = ops::prepare_restore(&node, &request, &RestoreOptions::default(), None)?;
        for line in crate::plan::shell::to_shell(&prepared.plan).lines() {
            log.line(line);
        }
        let report = run_plan(&prepared.plan, log)?;
        let rows = db.query_value("SELECT count(*) FROM t")?;
        let stopped = report.verified.as_ref().map_or_else(
            || "without a verified stop point".to_owned(),
            |v| {
                format!(
                    "recovery stopped {}, {}",
                    v.stop.as_ref().map_or_else(
                        || "at the end of the archive".to_owned(),
                        ToString::to_string
                    ),
                    v.ending
                )
            },
        );
        log.line(&format!(
            "  => {rows} rows (expected {expected}); {stopped}"
        ));
        if rows != expected.to_string() {
            return Err(Error::RecoveryFailed {
                target: what.to_owned(),
                reason: format!("{rows} rows, expected {expected}"),
            });
        }
    }
    say("all restores reached their targets");
    drop(guard);
    Ok(())
}
