//! `pitr sandbox`: the demo `make demo` runs.
//!
//! A throwaway PostgreSQL cluster under a temporary directory, owned by the database
//! superuser, with a local repo and everything rendered from a cluster spec: stanza-create and
//! a full backup, rows written in batches with a restore point, an incremental backup, more
//! rows; then point-in-time restores to a time, a restore point created before the newest
//! backup (where pgBackRest alone picks the newest set and fails), an LSN, a transaction and
//! the end of the archive — each printed with its plan and checked by counting rows.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, ensure};
use pitr_core::names::RestorePointName;
use pitr_core::node::Node;
use pitr_core::ops::{self, RestoreOptions};
use pitr_core::render::Renderer;
use pitr_core::run::exec::run_capture;
use pitr_core::run::files;
use pitr_core::run::log::RunLog;
use pitr_core::run::runner::run_plan;
use pitr_core::run::tools::Tools;
use pitr_core::run::user::OsUser;
use pitr_core::spec::ClusterSpec;
use pitr_core::target::RestoreRequest;

use crate::cli::{GlobalArgs, SandboxArgs};

const STANZA: &str = "sandbox";

fn say(text: &str) {
    eprintln!("\n### {text}");
}

/// The sandbox's directory; removed on drop unless kept.
struct SandboxDir {
    path: PathBuf,
    keep: bool,
    data: PathBuf,
    pg_ctl: PathBuf,
    dbsu: OsUser,
}

impl Drop for SandboxDir {
    fn drop(&mut self) {
        if let Ok(mut cmd) = self.dbsu.command(&self.pg_ctl) {
            cmd.args(["stop", "-D"])
                .arg(&self.data)
                .args(["-m", "immediate"]);
            let _ = run_capture(cmd, "pg_ctl stop");
        }
        if self.keep {
            eprintln!("sandbox kept in {}", self.path.display());
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

pub(crate) fn run(_global: &GlobalArgs, args: &SandboxArgs) -> anyhow::Result<ExitCode> {
    let dbsu = OsUser::lookup("postgres")?;
    let root = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("pitr-sandbox-{}", std::process::id()))
    });
    files::ensure_dir(&root, 0o700, Some(&dbsu))
        .with_context(|| format!("cannot create the sandbox in {}", root.display()))?;
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
    spec.bin_dir = Some(pitr_core::names::SafePath::from_path(
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
    };
    eprintln!(
        "sandbox in {} (spec: {})",
        root.display(),
        spec_path.display()
    );

    say("render pgbackrest.conf and the archive settings from the spec");
    let renderer = Renderer::new();
    let conf = renderer.pgbackrest_conf(&spec)?;
    files::write_atomic(
        &spec.config_path,
        conf.contents().as_bytes(),
        0o600,
        Some(&dbsu),
    )?;
    eprint!("{}", conf.redacted());

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
    let mut text = std::fs::read_to_string(&pg_conf)?;
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
    let db = pitr_core::run::probe::Endpoint::of(&node);
    let log = RunLog::terminal(true).echo_output(false);

    say("full backup (the stanza is created first)");
    run_plan(
        &ops::prepare_backup(&node, Some(pitr_core::names::BackupType::Full), None, None)?,
        &log,
    )?;

    say("write rows in batches, with a restore point and an incremental backup in between");
    db.simple_query("CREATE TABLE t (id int, batch int)")?;
    let batch = |n: i32| -> anyhow::Result<String> {
        let xid = db.query_value(&format!(
            "INSERT INTO t SELECT g, {n} FROM generate_series({}, {}) g RETURNING pg_current_xact_id()::text",
            (n - 1) * 100 + 1,
            n * 100
        ))?;
        eprintln!("  batch {n}: 100 rows, xid {xid}");
        Ok(xid)
    };
    batch(1)?;
    std::thread::sleep(Duration::from_millis(1100));
    let time = db.query_value(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')",
    )?;
    std::thread::sleep(Duration::from_millis(1100));
    batch(2)?;
    let mark = ops::mark(&node, &"before-batch-3".parse::<RestorePointName>()?)?;
    eprintln!("  restore point before-batch-3 at {}", mark.mark.lsn);
    batch(3)?;
    run_plan(&ops::prepare_backup(&node, None, None, None)?, &log)?;
    // Backup stop times are whole seconds: let the incremental set stop before the hint.
    std::thread::sleep(Duration::from_millis(1100));
    let before_4 = db.query_value(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')",
    )?;
    let xid = batch(4)?;
    let lsn = db.query_value("SELECT pg_current_wal_lsn()::text")?;
    batch(5)?;
    pitr_core::run::pgbackrest::PgBackRest::of(&node, &tools.pgbackrest)?.check()?;
    eprintln!("  WAL archived; 500 rows in table t");

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
        eprint!("{}", pitr_core::plan::shell::to_shell(&prepared.plan));
        let report = run_plan(&prepared.plan, &log)?;
        let rows: i64 = db.query_value("SELECT count(*) FROM t")?.parse()?;
        let verified = report
            .verified
            .context("a restore reports its stop point")?;
        eprintln!(
            "  => {rows} rows (expected {expected}); recovery stopped {}, {}",
            verified.stop.as_ref().map_or_else(
                || "at the end of the archive".to_owned(),
                ToString::to_string
            ),
            verified.ending
        );
        ensure!(rows == expected, "{what}: {rows} rows, expected {expected}");
    }
    say("all restores reached their targets");
    drop(guard);
    Ok(ExitCode::SUCCESS)
}
