//! End-to-end benchmarks on real PostgreSQL 15 and pgBackRest 2.45, each figure beside a
//! baseline measured in the same run. `make bench` runs it; so does
//! `cargo bench -p pitr-tests --bench e2e` (build `pitr` in release first:
//! `cargo build --release -p pitr-cli`).
//!
//! 1. Orchestration overhead: `pitr restore -t T` versus the bare sequence a person would type
//!    (stop, `pgbackrest restore` with the same set and target, `pg_ctl start`, poll until
//!    recovery pauses), alternating A/B runs on a pgbench database with tens of WAL segments to
//!    replay; median wall times and their ratio; the delay between PostgreSQL logging the end
//!    of recovery and pitr noticing it (and returning).
//! 2. Replay avoided: sets spread over two repos and a restore point recorded by `pitr mark`:
//!    WAL segments replayed and wall time for pitr's choice versus pgBackRest's own.
//! 3. Backup path: `pitr backup incr` versus bare `pgbackrest backup --type=incr`.
//!
//! Not a test: nothing here asserts a time. It prints, and `docs/benchmarks.md` records.
// Tests start their own programs and build fixtures in private temporary directories.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Measurement code: a panic is a failed run, and figures are approximate by nature.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::path::Path;
use std::time::{Duration, Instant};

use pitr_tests::{Stanza, TestCluster, cmd_as_postgres, output_text, pg_bin, pgbackrest_ok};

/// A/B pairs per comparison.
const ROUNDS: usize = 5;
/// pgbench scale: about 15 MB per unit.
const SCALE: &str = "24";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn run_ok(cmd: &mut std::process::Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}:\n{}", output_text(&out));
}

fn pgbench(cluster: &TestCluster, args: &[&str]) {
    let mut cmd = cmd_as_postgres(pg_bin("pgbench"));
    cmd.arg("-h")
        .arg(cluster.socket_dir())
        .args(["-p", &cluster.port().to_string(), "-U", "postgres"])
        .args(args)
        .arg("postgres");
    run_ok(&mut cmd);
}

fn utc_now(stanza: &Stanza) -> String {
    stanza
        .cluster
        .psql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')")
}

/// WAL segments recovery restored from the archive, from the server log since `offset`.
fn replayed_segments(log: &Path, offset: u64) -> usize {
    pitr_tests::server_log_records(log, offset)
        .iter()
        .filter(|r| r.message.starts_with("restored log file"))
        .count()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The time stamp of the last record of `log` whose message starts with `needle`.
fn log_time(log: &Path, needle: &str) -> Option<jiff::Timestamp> {
    pitr_tests::server_log_records(log, 0)
        .into_iter()
        .rev()
        .find(|r| r.message.starts_with(needle))?
        .time
}

struct Bench {
    stanza: Stanza,
}

impl Bench {
    /// A pgbench database, archiving to two local repos, a full backup in each.
    fn new() -> Bench {
        let cluster = TestCluster::init("bench");
        cluster.append_conf(
            "shared_buffers = 256MB\nmax_wal_size = 4GB\ncheckpoint_timeout = 30min\n",
        );
        let mut cluster = cluster;
        cluster.start_server();
        let repos = format!(
            "  one:\n    path: {}\n    retention_full: 4\n  two:\n    path: {}\n    retention_full: 4\n",
            cluster.path("repo").display(),
            cluster.path("repo2").display()
        );
        pitr_tests::mkdir_as_postgres(&cluster.path("repo2"), 0o700);
        let spec = Stanza::spec_yaml(&cluster, "bench", "[one, two]", &repos, "");
        eprintln!("bench: pgbench -i -s {SCALE}");
        pgbench(&cluster, &["-i", "-q", "-s", SCALE]);
        let stanza = Stanza::from_spec(cluster, "bench", &spec);
        Bench { stanza }
    }

    fn pitr_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.stanza.pitr(args);
        assert!(
            out.status.success(),
            "pitr {args:?}:\n{}",
            output_text(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The bare sequence: stop, `pgbackrest restore`, `pg_ctl start`, poll until paused.
    fn bare_restore(
        &self,
        restore_conf: &Path,
        set_args: &[String],
        target: &[String],
    ) -> (Duration, u64) {
        let cluster = &self.stanza.cluster;
        let log = cluster.path("pgbackrest-log/bench-bare-recovery.log");
        let offset = file_len(&log);
        let t = Instant::now();
        if cluster.is_running() {
            cluster.stop();
        }
        let mut restore = cmd_as_postgres(pitr_tests::pgbackrest_bin());
        restore
            .arg(format!("--config={}", restore_conf.display()))
            .arg("--stanza=bench")
            .args(set_args)
            .args(target)
            .arg("restore");
        run_ok(&mut restore);
        let out = cluster.pg_ctl(&["-l", &log.display().to_string(), "-W", "start"]);
        assert!(out.status.success(), "{}", output_text(&out));
        loop {
            if let Ok(s) = cluster.try_psql("SELECT pg_get_wal_replay_pause_state()") {
                if s == "paused" {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (t.elapsed(), offset)
    }
}

fn overhead(b: &Bench) {
    eprintln!("bench: writing WAL (pgbench)");
    pgbench(&b.stanza.cluster, &["-n", "-T", "15", "-c", "2"]);
    let target = utc_now(&b.stanza);
    pgbench(&b.stanza.cluster, &["-n", "-t", "200", "-c", "1"]);
    b.stanza.archive_now();

    let plan = b.pitr_json(&["--json", "restore", "--dry-run", "-t", &target]);
    let set = plan["summary"]["set"].as_str().unwrap().to_owned();
    let repo = plan["summary"]["repo"].as_u64().unwrap();
    let restore_conf = plan["summary"]["restore_config"]
        .as_str()
        .unwrap()
        .to_owned();
    let recovery_log = plan["summary"]["recovery_log"].as_str().unwrap().to_owned();
    let set_args = vec![format!("--set={set}"), format!("--repo={repo}")];
    let target_args = vec!["--type=time".to_owned(), format!("--target={target}")];

    let (mut a, mut bare, mut noticed, mut returned, mut segments) =
        (vec![], vec![], vec![], vec![], 0);
    for round in 0..ROUNDS {
        let offset = file_len(Path::new(&recovery_log));
        let t = Instant::now();
        let report = b.pitr_json(&["--json", "restore", "-y", "-t", &target]);
        let elapsed = t.elapsed();
        let ended = jiff::Timestamp::now();
        a.push(secs(elapsed));
        if let Some(ms) = report["report"]["verified"]["noticed_after_ms"].as_i64() {
            noticed.push(ms as f64);
        }
        if let Some(logged) = log_time(Path::new(&recovery_log), "pausing at the end of recovery") {
            returned.push((ended.as_millisecond() - logged.as_millisecond()) as f64);
        }
        segments = replayed_segments(Path::new(&recovery_log), offset);
        let (d, _) = b.bare_restore(Path::new(&restore_conf), &set_args, &target_args);
        bare.push(secs(d));
        eprintln!(
            "bench: round {round}: pitr {:.2} s, bare {:.2} s",
            secs(elapsed),
            secs(d)
        );
    }
    let (ma, mb) = (median(a), median(bare));
    println!(
        "## 1. Orchestration overhead (PITR by time, {segments} WAL segments replayed, set {set})"
    );
    println!("pitr restore:      median {ma:.2} s over {ROUNDS} runs");
    println!("bare sequence:     median {mb:.2} s over {ROUNDS} runs (baseline)");
    println!("ratio pitr / bare: {:.3}", ma / mb);
    println!(
        "end of recovery noticed: median {:.0} ms after PostgreSQL logged it; pitr returned median {:.0} ms after",
        median(noticed),
        median(returned)
    );
}

fn replay_avoided(b: &Bench) {
    // Back to a writable primary (the overhead runs leave it paused at the target).
    b.stanza.pitr_ok(&["restore", "-y", "-d"]);
    // repo one holds an older full set; repo two a newer one; a restore point after both.
    b.stanza.pitr_ok(&["backup", "full", "--repo", "1"]);
    pgbench(&b.stanza.cluster, &["-n", "-T", "15", "-c", "2"]);
    b.stanza.pitr_ok(&["backup", "full", "--repo", "2"]);
    pgbench(&b.stanza.cluster, &["-n", "-t", "300", "-c", "1"]);
    b.stanza.pitr_ok(&["mark", "bench-point"]);
    pgbench(&b.stanza.cluster, &["-n", "-t", "100", "-c", "1"]);
    b.stanza.archive_now();

    let plan = b.pitr_json(&["--json", "restore", "--dry-run", "-n", "bench-point"]);
    let restore_conf = plan["summary"]["restore_config"]
        .as_str()
        .unwrap()
        .to_owned();
    let recovery_log = plan["summary"]["recovery_log"].as_str().unwrap().to_owned();
    let theirs = plan["summary"]["pgbackrest_choice"].clone();
    let target_args = vec!["--type=name".to_owned(), "--target=bench-point".to_owned()];

    let (mut ours_t, mut theirs_t, mut ours_seg, mut theirs_seg) = (vec![], vec![], 0, 0);
    for _ in 0..ROUNDS {
        let offset = file_len(Path::new(&recovery_log));
        let t = Instant::now();
        b.pitr_json(&["--json", "restore", "-y", "-n", "bench-point"]);
        ours_t.push(secs(t.elapsed()));
        ours_seg = replayed_segments(Path::new(&recovery_log), offset);
        // pgBackRest's own choice: no --set, no --repo.
        let (d, offset) = b.bare_restore(Path::new(&restore_conf), &[], &target_args);
        theirs_t.push(secs(d));
        theirs_seg = replayed_segments(
            &b.stanza
                .cluster
                .path("pgbackrest-log/bench-bare-recovery.log"),
            offset,
        );
    }
    println!("\n## 2. Replay avoided (restore point; sets in two repos)");
    println!(
        "pitr's choice:       {} from repo{}: {ours_seg} WAL segments replayed, median {:.2} s",
        plan["summary"]["set"],
        plan["summary"]["repo"],
        median(ours_t.clone())
    );
    println!(
        "pgBackRest's choice: {} from repo{}: {theirs_seg} WAL segments replayed, median {:.2} s (baseline)",
        theirs["set"],
        theirs["repo"],
        median(theirs_t.clone())
    );
    println!(
        "WAL replayed: {:.1}x less; wall time ratio pitr / pgBackRest: {:.3}",
        theirs_seg as f64 / ours_seg.max(1) as f64,
        median(ours_t) / median(theirs_t)
    );
}

fn backup_path(b: &Bench) {
    b.stanza.pitr_ok(&["restore", "-y", "-d"]);
    b.stanza.pitr_ok(&["backup", "full"]);
    let (mut ours, mut bare) = (vec![], vec![]);
    for _ in 0..ROUNDS {
        pgbench(&b.stanza.cluster, &["-n", "-t", "200", "-c", "1"]);
        let t = Instant::now();
        b.stanza.pitr_ok(&["backup", "incr"]);
        ours.push(secs(t.elapsed()));
        pgbench(&b.stanza.cluster, &["-n", "-t", "200", "-c", "1"]);
        let t = Instant::now();
        pgbackrest_ok(
            &b.stanza.config,
            &["--stanza=bench", "--type=incr", "backup"],
        );
        bare.push(secs(t.elapsed()));
    }
    let (mo, mb) = (median(ours), median(bare));
    println!("\n## 3. Backup path (incremental backups)");
    println!("pitr backup incr:              median {mo:.2} s over {ROUNDS} runs");
    println!("pgbackrest backup --type=incr: median {mb:.2} s over {ROUNDS} runs (baseline)");
    println!(
        "ratio pitr / bare: {:.3} (role check and wrapper: {:+.0} ms)",
        mo / mb,
        (mo - mb) * 1e3
    );
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let b = Bench::new();
    println!("# pitr end-to-end benchmarks");
    println!(
        "machine: {} CPUs; PostgreSQL 15, pgBackRest 2.45; pgbench scale {SCALE} ({} MB database)",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        b.stanza
            .cluster
            .psql("SELECT pg_database_size('postgres') / 1048576")
    );
    overhead(&b);
    replay_avoided(&b);
    backup_path(&b);
}
