//! Dead and slow repos, end to end: a stanza with a posix repo1 and an S3 repo2 (real
//! pgBackRest 2.45 against an S3 server over TLS on loopback).
//!
//! * with the S3 endpoint stopped (connections refused) and with the S3 server frozen
//!   (connections accepted, no answer), `pitr info`, `pitr check` and `pitr exporter --once`
//!   answer within a bound pitr sets (its probes' `--io-timeout`), name repo2, and still show
//!   repo1's sets;
//! * the S3 server stopped in the middle of `pgbackrest restore` of an in-place restore with a
//!   safety copy: pitr fails within a bounded time with `repo_unreachable` naming repo2, and the
//!   original data directory is back, byte for byte.
// Tests build their fixtures as root in private temporary directories.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pitr_tests::exporter::wait_for;
use pitr_tests::{
    S3Server, Stanza, TestCluster, create_padded_tables, dir_fingerprint, files_under, output_text,
    pitr_bin,
};

/// How long `pitr info` and the exporter may take with a dead repo: pgBackRest gives up on a
/// repo after about four times its io-timeout (5 s for pitr's probes, 60 s by default, when
/// `info` takes four minutes); with room for a loaded machine.
const PROBE_BOUND: Duration = Duration::from_secs(50);
/// `pitr check` runs `pgbackrest check` and `info`, each bounded so.
const CHECK_BOUND: Duration = Duration::from_secs(100);

fn two_repo_stanza(s3: &S3Server, name: &str) -> Stanza {
    let cluster = TestCluster::start(name);
    let repos = format!(
        "{}{}",
        Stanza::local_repo_yaml(&cluster),
        s3.repo_yaml("s3", "/pgbackrest")
    );
    let spec = Stanza::spec_yaml(&cluster, name, "[local, s3]", &repos, "");
    // `from_spec` backs up to repo1; repo2 gets its own full set.
    let stanza = Stanza::from_spec(cluster, name, &spec);
    stanza.pitr_ok(&["backup", "full", "--repo", "2"]);
    stanza
}

/// Runs `pitr <args>` on the stanza; returns whether it succeeded, stdout and all output, and
/// how long it took.
fn timed(stanza: &Stanza, args: &[&str]) -> (bool, String, String, Duration) {
    let started = Instant::now();
    let out = stanza.pitr(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.success(),
        stdout,
        output_text(&out),
        started.elapsed(),
    )
}

fn probes_name_repo2_and_show_repo1(stanza: &Stanza, how: &str) {
    let (ok, json, text, took) = timed(stanza, &["--json", "info"]);
    eprintln!("pitr info with the S3 repo {how}: {took:?}");
    assert!(ok, "pitr info failed with the S3 repo {how}:\n{text}");
    assert!(
        took < PROBE_BOUND,
        "pitr info took {took:?} with the S3 repo {how}"
    );
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        doc["warnings"].to_string().contains("repo2"),
        "no warning names repo2:\n{text}"
    );
    let repo1_sets = doc["sets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["database"]["repo-key"] == 1)
        .count();
    assert!(repo1_sets >= 1, "repo1's sets are missing:\n{text}");
    let repo2 = doc["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == 2)
        .unwrap_or_else(|| panic!("repo2 is missing:\n{text}"));
    assert_eq!(repo2["status"]["code"], 99, "{text}");

    let (ok, _, text, took) = timed(stanza, &["check"]);
    eprintln!("pitr check with the S3 repo {how}: {took:?}");
    assert!(!ok, "pitr check passed with the S3 repo {how}:\n{text}");
    assert!(
        took < CHECK_BOUND,
        "pitr check took {took:?} with the S3 repo {how}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("stanza_status"))
        .unwrap_or_else(|| panic!("no stanza_status line:\n{text}"));
    assert!(line.contains("FAIL") && line.contains("repo2"), "{text}");

    let (_, text, _, took) = timed(stanza, &["exporter", "--once"]);
    eprintln!("pitr exporter --once with the S3 repo {how}: {took:?}");
    assert!(
        took < PROBE_BOUND,
        "the exporter took {took:?} with the S3 repo {how}"
    );
    let s = &stanza.name;
    let repo_status = |key: u32| {
        let prefix = "pgbackrest_repo_status{cipher=\"none\",";
        let labels = format!("repo_key=\"{key}\",stanza=\"{s}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(&labels))
            .unwrap_or_else(|| panic!("no status of repo{key}:\n{text}"))
            .to_owned()
    };
    assert_eq!(repo_status(2), "99", "{text}");
    assert_eq!(repo_status(1), "0", "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("pgbackrest_backup_info{") && l.contains("repo_key=\"1\"")),
        "repo1's sets are missing:\n{text}"
    );
}

#[test]
fn info_check_and_the_exporter_show_repo1_when_the_s3_repo2_is_dead_or_hangs() {
    let mut s3 = S3Server::start();
    let stanza = two_repo_stanza(&s3, "dead-repo");

    s3.stop_endpoint();
    probes_name_repo2_and_show_repo1(&stanza, "refusing connections");
    s3.start_endpoint();

    s3.pause();
    probes_name_repo2_and_show_repo1(&stanza, "hanging");
    s3.resume();
}

/// The pid of a running `pgbackrest ... restore` for `stanza`, from /proc.
fn pgbackrest_restore_pid(stanza: &str) -> Option<i32> {
    let wanted = format!("--stanza={stanza}");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).collect();
            let is_restore = args.first()?.ends_with(b"pgbackrest")
                && args.last()? == b"restore"
                && args.contains(&wanted.as_bytes());
            is_restore.then_some(pid)
        })
}

#[test]
fn the_s3_repo_stopped_during_pgbackrest_restore_fails_naming_it_and_the_original_is_back() {
    let mut s3 = S3Server::start();
    let mut stanza = two_repo_stanza(&s3, "dying-repo");
    create_padded_tables(&stanza.cluster);
    stanza.insert_rows(1, 3000, 1);
    stanza.pitr_ok(&["backup", "full", "--repo", "2"]);
    stanza.cluster.stop();
    let data = stanza.cluster.data_dir();
    let before = dir_fingerprint(&data);

    let config = stanza.config.display().to_string();
    let log = stanza.cluster.path("restore.out");
    let out = std::fs::File::create(&log).unwrap();
    let started = Instant::now();
    let mut restore = Command::new(pitr_bin())
        .args([
            "--config",
            &config,
            "restore",
            "-y",
            "-d",
            "--repo",
            "2",
            "--safety-copy",
        ])
        // A restore keeps the configured timeouts; this one is shortened for the test.
        .args(["--", "--io-timeout=5"])
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    // The S3 server dies while pgBackRest copies from it (files have begun to land in the
    // data directory): requests hang, then the endpoint goes away.
    wait_for(
        Duration::from_secs(120),
        "pgbackrest restore to copy files",
        || {
            if let Some(status) = restore.try_wait().unwrap() {
                panic!(
                    "pitr restore ended ({status}) before pgbackrest restore copied a file:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            pgbackrest_restore_pid(&stanza.name)?;
            let mut files = Vec::new();
            files_under(&data.join("base"), &mut files);
            files
                .into_iter()
                .find(|f| std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.len() > 0))
        },
    );
    s3.pause();
    s3.stop_endpoint();
    let stopped_at = started.elapsed();
    let status = wait_for(Duration::from_secs(300), "pitr restore to fail", || {
        restore.try_wait().unwrap()
    });
    let took = started.elapsed().saturating_sub(stopped_at);
    let text = std::fs::read_to_string(&log).unwrap();
    eprintln!("pitr restore failed {took:?} after the S3 server was stopped");
    s3.resume();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("error[repo_unreachable]"), "{text}");
    assert!(text.contains("repo2 cannot be read"), "{text}");
    assert!(text.contains("rolled back"), "{text}");
    // pgBackRest gives up on a connection after about four times the io-timeout, and retries a
    // failed file job (job-retry) twice: about three minutes at io-timeout=5 (the default
    // io-timeout, 60 s, multiplies the same way).
    assert!(
        took < Duration::from_secs(300),
        "pitr restore took {took:?} to fail"
    );
    assert_eq!(
        dir_fingerprint(&data),
        before,
        "the data directory is not as it was"
    );
    assert!(!std::path::Path::new(&format!("{}-backup", data.display())).exists());
    stanza.cluster.start_server();
    assert_eq!(stanza.count("t"), 3000);
}
