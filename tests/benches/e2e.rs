//! End-to-end benchmarks on real PostgreSQL 15 and pgBackRest 2.45, each figure beside a
//! baseline measured in the same run. `make bench` runs it; so does
//! `cargo bench -p pitr-tests --bench e2e` (build `pitr` in release first:
//! `cargo build --release -p pitr-cli`). Names after `--` run only those sections, e.g.
//! `cargo bench -p pitr-tests --bench e2e -- overhead drill`.
//!
//! 1. `overhead`: `pitr restore -t T` versus the bare sequence a person would type (stop,
//!    `pgbackrest restore` with the same set and target, `pg_ctl start`, poll until recovery
//!    pauses), on a pgbench database with tens of WAL segments to replay; rounds interleaved
//!    (the order swaps every round, after one uncounted warm-up restore), medians and spread of
//!    the wall times and of their ratio, and where each side's time goes, phase by phase —
//!    pitr's from its own report (`preflight_ms`, `report.step_ms`); the delay between
//!    PostgreSQL logging the end of recovery and pitr noticing it (and returning).
//! 2. `drill`: `pitr drill -t T` versus the bare sequence for the same clone (`pgbackrest
//!    restore` of the same set and target into a new directory, `pg_ctl start`, poll until
//!    promoted), both at the drill's priority; the drill's total (restore to verified end, its
//!    record's `total_secs`) against the bare restore + start + replay.
//! 3. `replay`: sets spread over two repos and a restore point recorded by `pitr mark`: WAL
//!    segments replayed and wall time for pitr's choice versus pgBackRest's own.
//! 4. `backup`: `pitr backup incr` versus bare `pgbackrest backup --type=incr`.
//!
//! The load average (`/proc/loadavg`) is printed beside every round: the machine may be
//! shared. Not a test: nothing here asserts a time. It prints, and `docs/benchmarks.md` records.
// Tests start their own programs and build fixtures in private temporary directories.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Measurement code: a panic is a failed run, and figures are approximate by nature.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pitr_tests::{
    Stanza, TestCluster, cmd_as_postgres, free_port, mkdir_as_postgres, output_text, pg_bin,
    pgbackrest_ok, psql_at, write_file_as_postgres,
};
use serde_json::Value;

/// The sections, in the order they run.
const SECTIONS: [&str; 4] = ["overhead", "drill", "replay", "backup"];
/// Counted A/B rounds per comparison.
const ROUNDS: usize = 7;
/// pgbench scale: about 15 MB per unit.
const SCALE: &str = "24";
/// How long the server is left alone before each timed restore (see `Bench::settle`).
const SETTLE: Duration = Duration::from_secs(1);
/// How often the bare sequence asks the server whether recovery ended (what a person's
/// `watch`-style loop would do; pitr reads the log every 50 ms).
const BARE_POLL: Duration = Duration::from_millis(100);

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    }
}

/// The least and the greatest of `v`.
fn lo_hi(v: &[f64]) -> (f64, f64) {
    (
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

/// `median (min-max)`, in seconds.
fn spread(v: &[f64]) -> String {
    let (lo, hi) = lo_hi(v);
    format!("{:.3} s ({lo:.2}-{hi:.2})", median(v))
}

/// One A/B round: A first in even rounds, B first in odd ones, so that neither side always
/// follows the other. Returns A's and B's figures and the higher load average around them.
fn ab_round(round: usize, mut a: impl FnMut() -> f64, mut b: impl FnMut() -> f64) -> [f64; 3] {
    let before = load();
    let (x, y) = if round % 2 == 0 {
        let x = a();
        (x, b())
    } else {
        let y = b();
        (a(), y)
    };
    [x, y, before.max(load())]
}

/// `load average (1 min) during the rounds: lo-hi`.
fn print_loads(loads: &[f64]) {
    let (lo, hi) = lo_hi(loads);
    println!("load average (1 min) during the rounds: {lo:.2}-{hi:.2}");
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The 1-minute load average.
fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
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

/// The same, from the plain-text log `pg_ctl -l` writes for the bare sequence's server.
fn replayed_segments_text(log: &Path, offset: u64) -> usize {
    pitr_tests::log_since(log, offset)
        .lines()
        .filter(|l| l.contains("LOG:  restored log file"))
        .count()
}

/// PostgreSQL's own time (from its log since `offset`) from its start (the last `starting
/// PostgreSQL` before redo: pitr's log also holds the previous server's shutdown) to "redo
/// starts", and from there to the pause at the target: what neither side's orchestration
/// changes.
fn server_spans(records: &[(jiff::civil::DateTime, String)]) -> Option<(f64, f64)> {
    let at = |needle: &str| records.iter().position(|(_, m)| m.starts_with(needle));
    let redo = at("redo starts at")?;
    let start = records[..redo]
        .iter()
        .rposition(|(_, m)| m.starts_with("starting PostgreSQL"))?;
    let paused = at("pausing at the end of recovery")?;
    let s = |a: usize, b: usize| records[b].0.duration_since(records[a].0).as_secs_f64();
    Some((s(start, redo), s(redo, paused)))
}

/// [`server_spans`] of pitr's structured log.
fn server_spans_json(log: &Path, offset: u64) -> Option<(f64, f64)> {
    let records: Vec<_> = pitr_tests::server_log_records(log, offset)
        .into_iter()
        .filter_map(|r| Some((jiff::tz::TimeZone::UTC.to_datetime(r.time?), r.message)))
        .collect();
    server_spans(&records)
}

/// [`server_spans`] of the plain-text log `pg_ctl -l` writes (`2026-12-03 02:30:00.123 UTC
/// [pid] LOG:  message`).
fn server_spans_text(log: &Path, offset: u64) -> Option<(f64, f64)> {
    let records: Vec<_> = pitr_tests::log_since(log, offset)
        .lines()
        .filter_map(|l| {
            let time: jiff::civil::DateTime = l.get(..23)?.parse().ok()?;
            let (_, message) = l.split_once("LOG:  ")?;
            Some((time, message.to_owned()))
        })
        .collect();
    server_spans(&records)
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

/// `[[id, ms], ...]` of a pitr report, in seconds.
fn laps(v: &Value) -> Vec<(String, f64)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p[0].as_str()?.to_owned(), p[1].as_f64()? / 1e3)))
                .collect()
        })
        .unwrap_or_default()
}

/// The step `id` of a plan document.
fn plan_step<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in the plan"))
}

/// The argv of the exec step `id` of a plan document.
fn step_argv(plan: &Value, id: &str) -> Vec<String> {
    plan_step(plan, id)["action"]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// Runs `argv` as postgres, timed.
fn timed(argv: &[String]) -> f64 {
    let t = Instant::now();
    run_ok(cmd_as_postgres(&argv[0]).args(&argv[1..]));
    secs(t.elapsed())
}

/// Phases of one side of a comparison, in order of first appearance, one value per round.
#[derive(Default)]
struct Phases(Vec<(String, Vec<f64>)>);

impl Phases {
    fn add(&mut self, name: &str, s: f64) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(s),
            None => self.0.push((name.to_owned(), vec![s])),
        }
    }

    /// The value of `name` in round `i`.
    fn value(&self, name: &str, i: usize) -> Option<f64> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.get(i).copied())
    }

    fn median(&self, name: &str) -> Option<f64> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| median(v))
    }
}

/// Prints two sides' phases beside each other: `rows` are (label, pitr phases, bare phases).
fn print_phases(heading: (&str, &str), rows: &[(&str, &[&str], &[&str])], a: &Phases, b: &Phases) {
    let sum = |p: &Phases, names: &[&str]| -> Option<f64> {
        let parts: Vec<f64> = names.iter().filter_map(|n| p.median(n)).collect();
        (!parts.is_empty()).then(|| parts.iter().sum())
    };
    let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |s| format!("{s:.3} s"));
    println!(
        "{:<48} {:>10} {:>10}",
        "phase (median of each over the rounds)", heading.0, heading.1
    );
    for (label, an, bn) in rows {
        println!(
            "{label:<48} {:>10} {:>10}",
            cell(sum(a, an)),
            cell(sum(b, bn))
        );
    }
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
        mkdir_as_postgres(&cluster.path("repo2"), 0o700);
        let spec = Stanza::spec_yaml(&cluster, "bench", "[one, two]", &repos, "");
        eprintln!("bench: pgbench -i -s {SCALE}");
        pgbench(&cluster, &["-i", "-q", "-s", SCALE]);
        let stanza = Stanza::from_spec(cluster, "bench", &spec);
        Bench { stanza }
    }

    /// A writable primary again, when an earlier section left the cluster paused at a target
    /// (`pitr restore -d`: to the end of the archive, promoted).
    fn writable(&self) {
        if self.stanza.cluster.psql("SELECT pg_is_in_recovery()") == "t" {
            self.stanza.pitr_ok(&["restore", "-y", "-d"]);
        }
    }

    /// Before a timed restore, untimed: the server left paused by the previous one writes its
    /// dirty pages now (`CHECKPOINT`, a restartpoint) and is left alone for a second, so
    /// neither side's stop pays for the previous recovery, nor gets a server that had time to
    /// settle while pitr planned.
    fn settle(&self) {
        self.stanza.cluster.psql("CHECKPOINT");
        std::thread::sleep(SETTLE);
    }

    fn pitr_json(&self, args: &[&str]) -> Value {
        let out = self.stanza.pitr(args);
        assert!(
            out.status.success(),
            "pitr {args:?}:\n{}",
            output_text(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The bare sequence: stop, `pgbackrest restore`, `pg_ctl start`, poll until paused; the
    /// time of each phase in `phases`. The server runs (the caller knows; nothing is asked).
    fn bare_restore(
        &self,
        restore_conf: &Path,
        set_args: &[String],
        target: &[String],
        phases: &mut Phases,
    ) -> (Duration, u64) {
        let cluster = &self.stanza.cluster;
        let log = cluster.path("pgbackrest-log/bench-bare-recovery.log");
        let offset = file_len(&log);
        let t = Instant::now();
        timed(&[
            pg_bin("pg_ctl").display().to_string(),
            "stop".into(),
            "-D".into(),
            cluster.data_dir().display().to_string(),
            "-m".into(),
            "fast".into(),
            "-w".into(),
        ]);
        let stopped = t.elapsed();
        let mut restore = cmd_as_postgres(pitr_tests::pgbackrest_bin());
        restore
            .arg(format!("--config={}", restore_conf.display()))
            .arg("--stanza=bench")
            .args(set_args)
            .args(target)
            .arg("restore");
        run_ok(&mut restore);
        let restored = t.elapsed();
        let out = cluster.pg_ctl(&["-l", &log.display().to_string(), "-W", "start"]);
        assert!(out.status.success(), "{}", output_text(&out));
        let started = t.elapsed();
        loop {
            if let Ok(s) = cluster.try_psql("SELECT pg_get_wal_replay_pause_state()") {
                if s == "paused" {
                    break;
                }
            }
            std::thread::sleep(BARE_POLL);
        }
        let total = t.elapsed();
        let at = [stopped, restored, started, total].map(secs);
        phases.add("stop", at[0]);
        phases.add("restore", at[1] - at[0]);
        phases.add("start", at[2] - at[1]);
        phases.add("replay", at[3] - at[2]);
        phases.add("total", at[3]);
        (total, offset)
    }
}

/// One `pitr restore --json` run: its wall time and its report's phases into `phases`.
fn pitr_restore(b: &Bench, args: &[&str], phases: &mut Phases) -> (f64, Value) {
    let t = Instant::now();
    let report = b.pitr_json(args);
    let wall = secs(t.elapsed());
    let mut accounted = 0.0;
    for (part, s) in laps(&report["preflight_ms"])
        .into_iter()
        .chain(laps(&report["report"]["step_ms"]))
    {
        accounted += s;
        phases.add(&part, s);
    }
    phases.add("other", wall - accounted);
    phases.add("total", wall);
    (wall, report)
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
    let args = ["--json", "restore", "-y", "-t", &target];

    // Warm-up, not counted: the first stop checkpoints pgbench's writes, and the first restore
    // reads the set into the page cache.
    eprintln!("bench: warm-up restore (not counted)");
    pitr_restore(b, &args, &mut Phases::default());

    let (mut pitr_p, mut bare_p) = (Phases::default(), Phases::default());
    let (mut a, mut bare, mut pairs, mut loads) = (vec![], vec![], vec![], vec![]);
    let (mut noticed, mut returned, mut segments) = (vec![], vec![], 0);
    for round in 0..ROUNDS {
        let run_pitr = || {
            b.settle();
            let offset = file_len(Path::new(&recovery_log));
            let (wall, report) = pitr_restore(b, &args, &mut pitr_p);
            let ended = jiff::Timestamp::now();
            if let Some(ms) = report["report"]["verified"]["noticed_after_ms"].as_i64() {
                noticed.push(ms as f64);
            }
            if let Some(logged) =
                log_time(Path::new(&recovery_log), "pausing at the end of recovery")
            {
                returned.push((ended.as_millisecond() - logged.as_millisecond()) as f64);
            }
            segments = replayed_segments(Path::new(&recovery_log), offset);
            if let Some((startup, redo)) = server_spans_json(Path::new(&recovery_log), offset) {
                pitr_p.add("pg-startup", startup);
                pitr_p.add("pg-redo", redo);
            }
            wall
        };
        let run_bare = || {
            b.settle();
            let (d, offset) = b.bare_restore(
                Path::new(&restore_conf),
                &set_args,
                &target_args,
                &mut bare_p,
            );
            let log = b
                .stanza
                .cluster
                .path("pgbackrest-log/bench-bare-recovery.log");
            if let Some((startup, redo)) = server_spans_text(&log, offset) {
                bare_p.add("pg-startup", startup);
                bare_p.add("pg-redo", redo);
            }
            secs(d)
        };
        let [ours, theirs, load] = ab_round(round, run_pitr, run_bare);
        loads.push(load);
        a.push(ours);
        bare.push(theirs);
        pairs.push(ours / theirs);
        eprintln!(
            "bench: round {round} ({} first): pitr {ours:.2} s, bare {theirs:.2} s, ratio {:.3}, load {load:.2}",
            if round % 2 == 0 { "pitr" } else { "bare" },
            ours / theirs
        );
    }
    let (ma, mb) = (median(&a), median(&bare));
    println!(
        "## 1. Orchestration overhead (PITR by time, {segments} WAL segments replayed, set {set})"
    );
    print_loads(&loads);
    println!(
        "pitr restore:      median {} over {ROUNDS} rounds",
        spread(&a)
    );
    println!(
        "bare sequence:     median {} over {ROUNDS} rounds (baseline)",
        spread(&bare)
    );
    let (lo, hi) = lo_hi(&pairs);
    println!(
        "ratio pitr / bare: {:.3} (medians); per round: median {:.3}, {lo:.3}-{hi:.3}",
        ma / mb,
        median(&pairs),
    );
    // A paused server's startup process looks for a shutdown request about once a second, so
    // how long `pg_ctl stop` takes depends on when it comes: pitr's comes after its pre-flight.
    // The same rounds with the bare sequence's stop in place of pitr's:
    let with_bare_stop: Vec<f64> = (0..a.len())
        .filter_map(|i| Some(a[i] - pitr_p.value("stop", i)? + bare_p.value("stop", i)?))
        .collect();
    println!(
        "ratio with the bare stop's time in pitr's place: {:.3} (medians)",
        median(&with_bare_stop) / mb
    );
    println!(
        "end of recovery noticed: median {:.0} ms after PostgreSQL logged it; pitr returned median {:.0} ms after",
        median(&noticed),
        median(&returned)
    );
    println!();
    print_phases(
        ("pitr", "bare"),
        &[
            ("pre-flight: binaries, pgbackrest version", &["tools"], &[]),
            (
                "pre-flight: info, archive listings, histories",
                &["snapshot"],
                &[],
            ),
            ("pre-flight: select", &["select"], &[]),
            (
                "pre-flight: walscan (archive-get, pg_waldump)",
                &["walscan"],
                &[],
            ),
            ("pre-flight: plan (facts, journal, paths)", &["plan"], &[]),
            ("stop", &["stop"], &["stop"]),
            ("write restore config", &["write-restore-config"], &[]),
            ("pgbackrest restore", &["restore"], &["restore"]),
            ("pg_ctl start", &["start"], &["start"]),
            ("replay until paused", &["await-recovery"], &["replay"]),
            (
                "  in it, PostgreSQL's log: start to redo",
                &["pg-startup"],
                &["pg-startup"],
            ),
            (
                "  in it, PostgreSQL's log: redo to pause",
                &["pg-redo"],
                &["pg-redo"],
            ),
            ("verify, notes", &["verify", "paused", "archiving"], &[]),
            ("process, lock, journal, log, output", &["other"], &[]),
            ("total", &["total"], &["total"]),
        ],
        &pitr_p,
        &bare_p,
    );
}

/// What the drill comparison needs of a clone restore's plan.
struct ClonePlan {
    restore: Vec<String>,
    start_log: PathBuf,
}

/// The bare sequence of a drill's clone: `pgbackrest restore` into a new directory, `pg_ctl
/// start`, poll until promoted; each at the drill's priority (`niced`). Then stop and remove
/// it (timed apart).
fn bare_clone(b: &Bench, clone: &ClonePlan, data: &Path, port: u16, phases: &mut Phases) -> f64 {
    let niced = pitr_core::run::drill::niced;
    let restore = timed(&niced(clone.restore.clone()));
    let start = timed(&niced(vec![
        pg_bin("pg_ctl").display().to_string(),
        "-D".into(),
        data.display().to_string(),
        "-l".into(),
        clone.start_log.display().to_string(),
        "-W".into(),
        "start".into(),
    ]));
    let t = Instant::now();
    let socket = b.stanza.cluster.socket_dir();
    loop {
        if psql_at(&socket, port, "postgres", "SELECT pg_is_in_recovery()").as_deref() == Ok("f") {
            break;
        }
        std::thread::sleep(BARE_POLL);
    }
    let replay = secs(t.elapsed());
    let t = Instant::now();
    let _ = timed(&[
        pg_bin("pg_ctl").display().to_string(),
        "stop".into(),
        "-D".into(),
        data.display().to_string(),
        "-m".into(),
        "fast".into(),
        "-w".into(),
    ]);
    std::fs::remove_dir_all(data).unwrap();
    let spool = b.stanza.cluster.path(format!("spool/pitr-clone-{port}"));
    if spool.exists() {
        std::fs::remove_dir_all(spool).unwrap();
    }
    phases.add("restore", restore);
    phases.add("start", start);
    phases.add("replay", replay);
    phases.add("clean-up", secs(t.elapsed()));
    phases.add("total", restore + start + replay);
    restore + start + replay
}

fn drill(b: &Bench) {
    let cluster = &b.stanza.cluster;
    // Some WAL after a target, archived.
    b.writable();
    pgbench(cluster, &["-n", "-T", "10", "-c", "2"]);
    let target = utc_now(&b.stanza);
    pgbench(cluster, &["-n", "-t", "200", "-c", "1"]);
    b.stanza.archive_now();

    // The bare clone's restore: the command pitr would run for the same clone (same set, repo,
    // target, options), with its restore config written once, as a person would.
    let dir = cluster.path("bare-clone");
    mkdir_as_postgres(&dir, 0o700);
    let data = dir.join("data");
    let port = free_port();
    let conf = dir.join("restore.conf");
    let plan = b.pitr_json(&[
        "--json",
        "restore",
        "--dry-run",
        "-t",
        &target,
        "--data",
        &data.display().to_string(),
        "--port",
        &port.to_string(),
        "--archive",
        "off",
        "--promote",
        "--restore-config",
        &conf.display().to_string(),
    ]);
    let contents = plan_step(&plan, "write-restore-config")["action"]["contents"]
        .as_str()
        .unwrap();
    assert!(
        !contents.contains("<redacted>"),
        "a local repo has no secret"
    );
    write_file_as_postgres(&conf, contents, 0o600);
    let clone = ClonePlan {
        restore: step_argv(&plan, "restore"),
        start_log: dir.join("start.log"),
    };

    let (mut drill_p, mut bare_p) = (Phases::default(), Phases::default());
    let (mut ratios, mut loads, mut set) = (vec![], vec![], String::new());
    let args = [
        "--json",
        "drill",
        "-t",
        &target,
        "--no-amcheck",
        "--no-record",
    ];
    // Warm-up, not counted: the first clone restore after the writes above reads the set into
    // the page cache, which every later restore of either side finds there.
    eprintln!("bench: warm-up drill (not counted)");
    b.pitr_json(&args);
    for round in 0..ROUNDS {
        let run_drill = || {
            let t = Instant::now();
            let rec = b.pitr_json(&args);
            let wall = secs(t.elapsed());
            assert_eq!(rec["ok"], true, "{rec}");
            rec["set"].as_str().unwrap_or_default().clone_into(&mut set);
            let f = |k: &str| rec[k].as_f64().unwrap();
            let (restore, replay, total, checks) = (
                f("restore_secs"),
                f("replay_secs"),
                f("total_secs"),
                f("check_secs"),
            );
            drill_p.add("restore", restore);
            drill_p.add("replay", replay);
            drill_p.add("total", total);
            drill_p.add("checks", checks);
            drill_p.add("other", wall - total - checks);
            drill_p.add("wall", wall);
            total
        };
        let run_bare = || bare_clone(b, &clone, &data, port, &mut bare_p);
        let [p, d, l] = ab_round(round, run_drill, run_bare);
        loads.push(l);
        ratios.push(p / d);
        eprintln!(
            "bench: drill round {round}: drill total {p:.2} s, bare {d:.2} s, ratio {:.3}, load {l:.2}",
            p / d
        );
    }
    let (md, mb) = (
        drill_p.median("total").unwrap(),
        bare_p.median("total").unwrap(),
    );
    println!("\n## 2. Drill (clone restored to a time, set {set}, promoted)");
    print_loads(&loads);
    println!(
        "drill total (restore to verified end): median {md:.3} s over {} rounds",
        ratios.len()
    );
    println!(
        "bare restore + start + replay:         median {mb:.3} s over {} rounds (baseline)",
        ratios.len()
    );
    let (lo, hi) = lo_hi(&ratios);
    println!(
        "ratio drill / bare: {:.3} (medians); per round: median {:.3}, {lo:.3}-{hi:.3}",
        md / mb,
        median(&ratios),
    );
    println!("(both at the drill's priority: nice 10, ionice best-effort 7; no amcheck)\n");
    print_phases(
        ("drill", "bare"),
        &[
            ("pgbackrest restore", &["restore"], &["restore"]),
            ("start + replay + verify", &["replay"], &["start", "replay"]),
            ("total (restore to verified end)", &["total"], &["total"]),
            ("checks (stop, pg_checksums)", &["checks"], &[]),
            (
                "pre-flight, lock, clean-up, process",
                &["other"],
                &["clean-up"],
            ),
            ("wall time of `pitr drill`", &["wall"], &[]),
        ],
        &drill_p,
        &bare_p,
    );
}

fn replay_avoided(b: &Bench) {
    b.writable();
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
    for _ in 0..ROUNDS.min(5) {
        let offset = file_len(Path::new(&recovery_log));
        let t = Instant::now();
        b.pitr_json(&["--json", "restore", "-y", "-n", "bench-point"]);
        ours_t.push(secs(t.elapsed()));
        ours_seg = replayed_segments(Path::new(&recovery_log), offset);
        // pgBackRest's own choice: no --set, no --repo.
        let (d, offset) = b.bare_restore(
            Path::new(&restore_conf),
            &[],
            &target_args,
            &mut Phases::default(),
        );
        theirs_t.push(secs(d));
        theirs_seg = replayed_segments_text(
            &b.stanza
                .cluster
                .path("pgbackrest-log/bench-bare-recovery.log"),
            offset,
        );
    }
    println!("\n## 3. Replay avoided (restore point; sets in two repos)");
    println!(
        "pitr's choice:       {} from repo{}: {ours_seg} WAL segments replayed, median {:.2} s",
        plan["summary"]["set"],
        plan["summary"]["repo"],
        median(&ours_t)
    );
    println!(
        "pgBackRest's choice: {} from repo{}: {theirs_seg} WAL segments replayed, median {:.2} s (baseline)",
        theirs["set"],
        theirs["repo"],
        median(&theirs_t)
    );
    println!(
        "WAL replayed: {:.1}x less; wall time ratio pitr / pgBackRest: {:.3}",
        theirs_seg as f64 / ours_seg.max(1) as f64,
        median(&ours_t) / median(&theirs_t)
    );
}

fn backup_path(b: &Bench) {
    b.writable();
    b.stanza.pitr_ok(&["backup", "full"]);
    let (mut ours, mut bare) = (vec![], vec![]);
    for _ in 0..ROUNDS.min(5) {
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
    let (mo, mb) = (median(&ours), median(&bare));
    println!("\n## 4. Backup path (incremental backups)");
    println!(
        "pitr backup incr:              median {mo:.2} s over {} runs",
        ours.len()
    );
    println!(
        "pgbackrest backup --type=incr: median {mb:.2} s over {} runs (baseline)",
        bare.len()
    );
    println!(
        "ratio pitr / bare: {:.3} (role check and wrapper: {:+.0} ms)",
        mo / mb,
        (mo - mb) * 1e3
    );
}

fn main() {
    // `cargo bench` passes --bench; other arguments name the sections to run (all when none).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(bad) = only.iter().find(|a| !SECTIONS.contains(&a.as_str())) {
        eprintln!("unknown section {bad:?}; sections: {}", SECTIONS.join(", "));
        std::process::exit(2);
    }
    let wanted = |s: &str| only.is_empty() || only.iter().any(|o| o == s);
    let b = Bench::new();
    println!("# pitr end-to-end benchmarks");
    println!(
        "machine: {} CPUs; PostgreSQL 15, pgBackRest 2.45; pgbench scale {SCALE} ({} MB database); load average {}",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        b.stanza
            .cluster
            .psql("SELECT pg_database_size('postgres') / 1048576"),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for name in SECTIONS.into_iter().filter(|s| wanted(s)) {
        match name {
            "overhead" => overhead(&b),
            "drill" => drill(&b),
            "replay" => replay_avoided(&b),
            _ => backup_path(&b),
        }
    }
}
