//! Metrics and `pitr exporter` against the real tools: `promtool check metrics` accepts what
//! pitr renders for every recorded pgBackRest fixture and for a live stanza; a real Prometheus
//! server scrapes the exporter and answers queries for the backup age and the recoverable
//! window; the alert rules in docs/observability.md pass `promtool check rules`; and with the
//! S3 endpoint stopped, `/metrics` still answers quickly and shows the repo error.
// Tests build their fixtures as root in private temporary directories.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use pitr_core::metrics::exporter::{ExporterState, Gathered};
use pitr_tests::exporter::{Proc, http_get, metrics_with_data, start_exporter, wait_for};
use pitr_tests::{S3Server, Stanza, TestCluster, free_port, output_text, write_file_as_postgres};

/// The recorded fixtures of `pgbackrest info --output=json`.
fn info_fixtures() -> Vec<PathBuf> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pitr-core/tests/fixtures/pgbackrest-2.45");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("info-"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 6, "fixtures missing in {}", dir.display());
    files
}

/// A tool from Debian's `prometheus` package.
fn prometheus_tool(name: &str) -> PathBuf {
    which::which(name)
        .ok()
        .or_else(|| Some(Path::new("/usr/bin").join(name)).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "{name} not found on PATH nor in /usr/bin; run `make setup` (installs prometheus)"
            )
        })
}

/// Runs `promtool check metrics` on `text`; panics with promtool's words when it objects.
fn promtool_accepts(text: &str, what: &str) {
    let mut child = Command::new(prometheus_tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics rejects {what} ({}):\n{said}\n--- metrics ---\n{text}",
        out.status
    );
}

/// Percent-encodes a query parameter.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The value of the first series of `name` whose line contains every one of `parts`.
fn value(text: &str, name: &str, parts: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| parts.iter().all(|p| l.contains(p)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn promtool_accepts_the_metrics_of_every_fixture() {
    let now = jiff::Timestamp::from_second(1_795_470_000).unwrap();
    for path in info_fixtures() {
        let text = std::fs::read_to_string(&path).unwrap();
        let what = path.display().to_string();
        let pure = pitr_core::metrics::render_from_info_text(&text, Some(now)).unwrap();
        assert!(
            pure.contains("pgbackrest_stanza_status{"),
            "{what}:\n{pure}"
        );
        promtool_accepts(&pure, &what);
        // As the exporter serves it: with its own families.
        let mut state = ExporterState::new("demo", 60);
        let info = pitr_core::info::parse(&text).unwrap();
        state.record(Ok(Gathered::from_info(info, None)), now, now);
        let served = state.render(now, jiff::tz::TimeZone::UTC).unwrap();
        assert!(
            served.contains("pitr_exporter_up{stanza=\"demo\"} 1"),
            "{served}"
        );
        promtool_accepts(&served, &format!("{what} (exporter)"));
    }
}

#[test]
fn promtool_accepts_the_alert_rules_in_the_docs() {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/observability.md"),
    )
    .unwrap();
    let section = docs
        .split_once("## Example alert rules")
        .expect("docs/observability.md has an '## Example alert rules' section")
        .1;
    let rules = section
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("the section holds a ```yaml block")
        .0;
    for alert in [
        "PgBackRestNoRecentBackup",
        "PitrArchivingFailing",
        "PitrRecoverableWindowEmpty",
        "PitrWalMissing",
    ] {
        assert!(
            rules.contains(&format!("alert: {alert}")),
            "{alert} missing"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pitr-rules.yml");
    std::fs::write(&file, rules).unwrap();
    let out = Command::new(prometheus_tool("promtool"))
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "promtool check rules:\n{text}\n{rules}"
    );
    assert!(text.contains("SUCCESS"), "{text}");
}

#[test]
fn prometheus_scrapes_the_exporter_of_a_live_stanza() {
    let stanza = Stanza::local("metrics-live");
    stanza.archive_now();
    // A check record, so the pitr_check_* families are served too.
    stanza.pitr_ok(&["check"]);

    // `--once`: what a textfile collector would get.
    let once = stanza.pitr_ok(&["exporter", "--once"]);
    promtool_accepts(&once, "pitr exporter --once on a live stanza");
    let s = format!("stanza=\"{}\"", stanza.name);
    assert_eq!(
        value(&once, "pitr_archive_listed", &[&s]),
        Some(1.0),
        "{once}"
    );
    assert_eq!(
        value(&once, "pitr_check_last_success", &[&s, "code=\"ok\""]),
        Some(1.0),
        "{once}"
    );
    assert!(value(&once, "pgbackrest_version_info", &[]).is_some_and(|v| v >= 2_045_000.0));

    let (mut exporter, addr) = start_exporter(&stanza, 2, &[]);
    let served = metrics_with_data(&mut exporter, addr, &stanza.name);
    promtool_accepts(&served, "pitr exporter /metrics on a live stanza");
    for name in [
        "pgbackrest_backup_since_last_completion_seconds",
        "pitr_window_start_timestamp_seconds",
        "pitr_window_end_timestamp_seconds",
        "pitr_window_start_lsn",
        "pitr_window_end_lsn",
        "pitr_wal_newest_archived_age_seconds",
    ] {
        assert!(
            value(&served, name, &[&s]).is_some(),
            "{name} missing:\n{served}"
        );
    }
    assert_eq!(value(&served, "pitr_exporter_up", &[&s]), Some(1.0));
    assert_eq!(value(&served, "pitr_exporter_stale", &[&s]), Some(0.0));
    let (status, landing) = http_get(addr, "/", Duration::from_secs(5)).unwrap();
    assert_eq!(status, 200);
    assert!(landing.contains("/metrics"), "{landing}");

    // A real Prometheus server scrapes it every second.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: pitr\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    let prom_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut cmd = Command::new(prometheus_tool("prometheus"));
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={prom_addr}"))
        .current_dir(dir.path());
    let mut prometheus = Proc::spawn("prometheus", cmd, dir.path().join("prometheus.log"));
    for name in [
        "pgbackrest_backup_since_last_completion_seconds",
        "pitr_window_start_timestamp_seconds",
        "pitr_window_end_lsn",
    ] {
        let query = format!("{name}{{{s}}}");
        let path = format!("/api/v1/query?query={}", encode(&query));
        let result = wait_for(
            Duration::from_secs(60),
            &format!("Prometheus to have {query}"),
            || {
                prometheus.assert_running();
                let (status, body) = http_get(prom_addr, &path, Duration::from_secs(5)).ok()?;
                let json: serde_json::Value = serde_json::from_str(&body).ok()?;
                (status == 200 && json["status"] == "success")
                    .then(|| json["data"]["result"].as_array().cloned())
                    .flatten()
                    .filter(|r| !r.is_empty())
            },
        );
        let metric = &result[0]["metric"];
        assert_eq!(metric["stanza"], stanza.name.as_str(), "{result:?}");
        assert_eq!(metric["job"], "pitr", "{result:?}");
        let v: f64 = result[0]["value"][1].as_str().unwrap().parse().unwrap();
        assert!(v > 0.0, "{query} = {v}");
    }
    drop(prometheus);
    let log = exporter.terminate();
    assert!(!log.contains("panicked"), "{log}");
}

/// Adds `io-timeout=<secs>` to `[global]` of `config`: pgBackRest retries a refused connection
/// for four times `io-timeout` (60 s by default) before `info` reports the repo's error.
fn set_io_timeout(config: &Path, secs: u32) {
    let text = std::fs::read_to_string(config).unwrap();
    assert!(
        text.contains("\n[global]\n"),
        "no [global] section:\n{text}"
    );
    let text = text.replacen(
        "\n[global]\n",
        &format!("\n[global]\nio-timeout={secs}\n"),
        1,
    );
    write_file_as_postgres(config, text, 0o600);
}

#[test]
fn with_the_s3_endpoint_stopped_metrics_answer_and_show_the_repo_error() {
    let mut s3 = S3Server::start();
    let cluster = TestCluster::start("metrics-s3");
    let spec = Stanza::spec_yaml(
        &cluster,
        "metrics-s3",
        "s3",
        &s3.repo_yaml("s3", "/pgbackrest"),
        "",
    );
    let stanza = Stanza::from_spec(cluster, "metrics-s3", &spec);
    set_io_timeout(&stanza.config, 1);
    let s = format!("stanza=\"{}\"", stanza.name);
    let since = "pgbackrest_backup_since_last_completion_seconds";

    let (mut exporter, addr) = start_exporter(&stanza, 1, &[]);
    let before = metrics_with_data(&mut exporter, addr, &stanza.name);
    assert_eq!(
        value(&before, "pgbackrest_repo_status", &[&s, "repo_key=\"1\""]),
        Some(0.0),
        "{before}"
    );
    assert!(value(&before, since, &[&s]).is_some(), "{before}");
    let windows = value(&before, "pitr_recoverable_windows", &[&s, "repo_key=\"1\""]);
    assert_eq!(windows, Some(1.0), "{before}");

    s3.stop_endpoint();
    // Every scrape answers (within the 5 s bound of http_get) while refreshes wait on the dead
    // endpoint, until a refresh brings pgBackRest's verdict on the repo.
    let after = wait_for(
        Duration::from_secs(90),
        "repo status 99 in /metrics",
        || {
            exporter.assert_running();
            let (status, body) = http_get(addr, "/metrics", Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("/metrics did not answer within 5 s: {e}"));
            assert_eq!(status, 200, "{body}");
            (value(&body, "pgbackrest_repo_status", &[&s, "repo_key=\"1\""]) == Some(99.0))
                .then_some(body)
        },
    );
    assert_eq!(
        value(&after, "pgbackrest_stanza_status", &[&s]),
        Some(99.0),
        "{after}"
    );
    // The repo's last known backups and window are still served, marked stale.
    assert_eq!(
        value(&after, "pitr_repo_stale", &[&s, "repo_key=\"1\""]),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        value(&after, "pitr_exporter_stale", &[&s]),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        value(&after, "pitr_exporter_up", &[&s]),
        Some(1.0),
        "{after}"
    );
    assert!(value(&after, since, &[&s]).is_some(), "{after}");
    assert_eq!(
        value(&after, "pitr_recoverable_windows", &[&s, "repo_key=\"1\""]),
        windows
    );
    promtool_accepts(&after, "/metrics with the S3 endpoint stopped");
    for secret in [s3.key(), s3.secret()] {
        assert!(!after.contains(secret), "a credential leaked into /metrics");
    }

    // The endpoint comes back: so does a fresh, not stale, view.
    s3.start_endpoint();
    wait_for(Duration::from_secs(90), "repo status 0 again", || {
        exporter.assert_running();
        let (_, body) = http_get(addr, "/metrics", Duration::from_secs(5)).ok()?;
        (value(&body, "pgbackrest_repo_status", &[&s, "repo_key=\"1\""]) == Some(0.0)
            && value(&body, "pitr_exporter_stale", &[&s]) == Some(0.0))
        .then_some(())
    });
    let log = exporter.terminate();
    assert!(!log.contains("panicked"), "{log}");
    for secret in [s3.key(), s3.secret()] {
        assert!(
            !log.contains(secret),
            "a credential leaked into the exporter's log"
        );
    }
}
