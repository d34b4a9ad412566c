//! Rendering pinned by snapshots of the recorded pgBackRest 2.45 fixtures, the exporter's
//! stale-data bookkeeping, and the docs listing every family.

// Sample values here are whole numbers, exact in an f64.
#![allow(clippy::float_cmp)]

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::exporter::{ExporterState, Gathered};
use super::*;
use crate::archive::parse_repo_ls;
use crate::check::{Check, CheckResult};
use crate::history::{self, TimelineHistories};
use crate::names::{DEFAULT_SEGMENT_SIZE, TimelineId};

/// Every `info-*.json` fixture.
const INFO_FIXTURES: [&str; 6] = [
    "info-local-full-incr.json",
    "info-multi-repo-failover.json",
    "info-s3-encrypted.json",
    "info-s3-unreachable.json",
    "info-set-detail.json",
    "info-stanza-missing.json",
];

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/pgbackrest-2.45/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fixed `now` a little after the fixtures were recorded.
fn now() -> Timestamp {
    Timestamp::from_second(1_795_470_000).unwrap()
}

/// The sample value of the series of `name` whose labels include every pair of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn every_fixture_renders_the_same_text_twice() {
    for name in INFO_FIXTURES {
        let a = render_from_info_text(&fixture(name), Some(now())).unwrap();
        let b = render_from_info_text(&fixture(name), Some(now())).unwrap();
        assert_eq!(a, b, "{name}");
        insta::assert_snapshot!(name.trim_end_matches(".json"), a);
    }
}

#[test]
fn exporter_names_types_and_renames() {
    let text = render_from_info_text(&fixture("info-local-full-incr.json"), Some(now())).unwrap();
    for line in text.lines().filter(|l| l.starts_with("# TYPE pgbackrest_")) {
        assert!(line.ends_with(" gauge"), "{line}");
    }
    let s = [("stanza", "demo")];
    for (new, old) in [
        (
            "pgbackrest_stanza_backup_lock_status",
            "pgbackrest_stanza_lock_status",
        ),
        (
            "pgbackrest_stanza_backup_complete_bytes",
            "pgbackrest_stanza_backup_compete_bytes",
        ),
    ] {
        assert_eq!(sample(&text, new, &s), sample(&text, old, &s), "{new}");
        assert!(sample(&text, new, &s).is_some(), "{new}");
    }
    assert_eq!(sample(&text, "pgbackrest_version_info", &[]), Some(0.0));
    for slot in ["full", "diff", "incr"] {
        let since = sample(
            &text,
            "pgbackrest_backup_since_last_completion_seconds",
            &[("backup_type", slot)],
        );
        assert!(since.is_some_and(|s| s > 0.0), "{slot}: {since:?}");
    }
}

#[test]
fn unreachable_repo_shows_status_99_and_no_last_backup() {
    let text = render_from_info_text(&fixture("info-s3-unreachable.json"), Some(now())).unwrap();
    assert_eq!(
        sample(
            &text,
            "pgbackrest_repo_status",
            &[("repo_key", "1"), ("cipher", "aes-256-cbc")]
        ),
        Some(99.0)
    );
    assert_eq!(sample(&text, "pgbackrest_stanza_status", &[]), Some(99.0));
    assert!(!text.contains("pgbackrest_backup_since_last_completion_seconds{"));
    assert_eq!(
        sample(&text, "pitr_recoverable_windows", &[("repo_key", "1")]),
        Some(0.0)
    );
    // The message (which may name hosts and paths) never becomes a label.
    assert!(!text.contains("HostConnectError"), "{text}");
}

#[test]
fn listings_give_window_end_times_and_wal_age() {
    let info = info::parse(&fixture("info-multi-repo-failover.json")).unwrap();
    let stanza = &info.stanzas[0];
    let listing = parse_repo_ls(
        &fixture("repo-ls-archive-multi-repo1.json"),
        DEFAULT_SEGMENT_SIZE,
    )
    .unwrap();
    let mut histories = TimelineHistories::new();
    histories
        .insert(history::parse(TimelineId::new(2).unwrap(), &fixture("00000002.history")).unwrap());
    let listings = BTreeMap::from([(crate::names::RepoIndex::FIRST, listing)]);
    let extras = BTreeMap::from([(
        stanza.name.clone(),
        StanzaExtras::from_listings(stanza, &histories, &listings),
    )]);
    let text = render(&Sources {
        info: &info,
        extras: &extras,
        check: None,
        drill: None,
        pgbackrest_version: Some(Version::V2_45),
        now: now(),
        time_zone: TimeZone::UTC,
    })
    .unwrap();
    assert_eq!(
        sample(&text, "pgbackrest_version_info", &[]),
        Some(2_045_000.0)
    );
    let r1 = [("repo_key", "1")];
    assert_eq!(sample(&text, "pitr_archive_listed", &r1), Some(1.0));
    assert_eq!(
        sample(&text, "pitr_archive_listed", &[("repo_key", "2")]),
        Some(0.0)
    );
    let newest = sample(&text, "pitr_wal_newest_archived_timestamp_seconds", &r1).unwrap();
    let age = sample(&text, "pitr_wal_newest_archived_age_seconds", &r1).unwrap();
    assert!(
        (newest + age - 1_795_470_000.0).abs() < 1.0,
        "{newest} {age}"
    );
    // Repo1's archive is whole; repo2's was not listed, so its figure is absent, not 0.
    assert_eq!(
        sample(&text, "pitr_archive_missing_segments", &r1),
        Some(0.0)
    );
    assert!(
        !text.contains("pitr_archive_missing_segments{repo_key=\"2\""),
        "{text}"
    );
    let mut holed = listings.clone();
    if let Some(l) = holed.get_mut(&crate::names::RepoIndex::FIRST) {
        l.files
            .retain(|f| !f.path.contains("/000000010000000000000008-"));
    }
    let extras_holed = BTreeMap::from([(
        stanza.name.clone(),
        StanzaExtras::from_listings(stanza, &histories, &holed),
    )]);
    let holed_text = render(&Sources {
        info: &info,
        extras: &extras_holed,
        check: None,
        drill: None,
        pgbackrest_version: None,
        now: now(),
        time_zone: TimeZone::UTC,
    })
    .unwrap();
    assert_eq!(
        sample(&holed_text, "pitr_archive_missing_segments", &r1),
        Some(1.0)
    );
    let tl2 = [("repo_key", "1"), ("timeline", "2")];
    assert!(
        sample(&text, "pitr_window_end_timestamp_seconds", &tl2).is_some(),
        "{text}"
    );
    assert!(
        sample(&text, "pitr_window_start_lsn", &tl2).is_some(),
        "{text}"
    );
}

#[test]
fn check_reports_become_metrics() {
    let info = info::parse(&fixture("info-local-full-incr.json")).unwrap();
    let report = CheckReport::new(
        "pg-local",
        now(),
        vec![
            CheckResult::pass(Check::Database, "up"),
            CheckResult::skip(Check::ArchiveMode, "replica"),
            CheckResult::fail(Check::BackupAge, "old"),
        ],
    );
    let text = render(&Sources {
        info: &info,
        extras: &BTreeMap::new(),
        drill: None,
        check: Some(&report),
        pgbackrest_version: None,
        now: now(),
        time_zone: TimeZone::UTC,
    })
    .unwrap();
    assert_eq!(
        sample(&text, "pitr_check_success", &[("check", "database")]),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "pitr_check_success",
            &[("check", "backup_age"), ("code", "check_backup_too_old")]
        ),
        Some(0.0)
    );
    assert!(
        !text.contains("check=\"archive_mode\""),
        "skipped checks are absent"
    );
    assert_eq!(
        sample(
            &text,
            "pitr_check_last_success",
            &[("code", "check_backup_too_old")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "pitr_check_last_run_timestamp_seconds", &[]),
        Some(1_795_470_000.0)
    );
}

#[test]
fn exporter_serves_last_good_data_marked_stale() {
    let t = |s: i64| Timestamp::from_second(1_795_470_000 + s).unwrap();
    let mut state = ExporterState::new("pg-local", 60);
    let text = state.render(t(0), TimeZone::UTC).unwrap();
    assert_eq!(sample(&text, "pitr_exporter_stale", &[]), Some(1.0));
    assert_eq!(sample(&text, "pitr_exporter_up", &[]), Some(0.0));
    assert!(!text.contains("pgbackrest_stanza_status"), "no data yet");

    let good = info::parse(&fixture("info-local-full-incr.json")).unwrap();
    state.record(Ok(Gathered::from_info(good, None)), t(0), t(2));
    let text = state.render(t(10), TimeZone::UTC).unwrap();
    assert_eq!(sample(&text, "pitr_exporter_stale", &[]), Some(0.0));
    assert_eq!(sample(&text, "pitr_exporter_up", &[]), Some(1.0));
    assert_eq!(sample(&text, "pgbackrest_exporter_status", &[]), Some(1.0));
    assert_eq!(
        sample(&text, "pitr_exporter_info_age_seconds", &[]),
        Some(8.0)
    );
    assert_eq!(
        sample(&text, "pitr_exporter_refresh_duration_seconds", &[]),
        Some(2.0)
    );
    let since = |text: &str| {
        sample(
            text,
            "pgbackrest_backup_since_last_completion_seconds",
            &[("backup_type", "full")],
        )
        .unwrap()
    };
    let first = since(&text);

    // pgBackRest fails: the same data, older, and stale.
    let code = state.record(
        Err(Error::InfoFormat {
            message: "garbage".into(),
        }),
        t(60),
        t(61),
    );
    assert_eq!(code, Some("info_format"));
    let text = state.render(t(70), TimeZone::UTC).unwrap();
    assert_eq!(sample(&text, "pitr_exporter_stale", &[]), Some(1.0));
    assert_eq!(sample(&text, "pitr_exporter_up", &[]), Some(0.0));
    assert_eq!(since(&text), first + 60.0);
    assert_eq!(
        sample(
            &text,
            "pitr_exporter_refreshes_total",
            &[("result", "error")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "pitr_exporter_refreshes_total", &[("result", "ok")]),
        Some(1.0)
    );

    // A refresh that succeeds again clears it; one that is too long ago is stale again.
    let good = info::parse(&fixture("info-local-full-incr.json")).unwrap();
    state.record(Ok(Gathered::from_info(good, None)), t(120), t(121));
    assert!(!state.is_stale(t(130)));
    assert!(state.is_stale(t(121
        + 2 * 60
        + exporter::STALE_GRACE_SECS.cast_signed()
        + 1)));
}

#[test]
fn an_unreadable_repo_keeps_its_last_data_and_shows_the_error() {
    let t = |s: i64| Timestamp::from_second(1_795_470_000 + s).unwrap();
    let mut state = ExporterState::new("demo", 60);
    let good = info::parse(&fixture("info-s3-encrypted.json")).unwrap();
    let name = good.stanzas[0].name.clone();
    state.record(Ok(Gathered::from_info(good, None)), t(0), t(1));
    let before = state.render(t(5), TimeZone::UTC).unwrap();
    assert!(before.contains("pgbackrest_backup_since_last_completion_seconds{"));

    // The same stanza, its repo now unreachable (status 99, no backups listed).
    let mut down = info::parse(&fixture("info-s3-unreachable.json")).unwrap();
    down.stanzas[0].name.clone_from(&name);
    state.record(Ok(Gathered::from_info(down, None)), t(60), t(61));
    let text = state.render(t(65), TimeZone::UTC).unwrap();
    let r1 = [("repo_key", "1")];
    assert_eq!(sample(&text, "pgbackrest_repo_status", &r1), Some(99.0));
    assert_eq!(sample(&text, "pitr_repo_stale", &r1), Some(1.0));
    assert_eq!(sample(&text, "pitr_exporter_stale", &[]), Some(1.0));
    assert_eq!(sample(&text, "pitr_exporter_up", &[]), Some(1.0));
    assert!(text.contains("pgbackrest_backup_since_last_completion_seconds{"));
    assert_eq!(
        sample(&before, "pitr_recoverable_windows", &r1),
        sample(&text, "pitr_recoverable_windows", &r1)
    );
}

#[test]
fn docs_list_every_family() {
    let docs = include_str!("../../../docs/observability.md");
    for f in families() {
        assert!(
            docs.contains(&format!("`{}`", f.name)),
            "docs/observability.md does not list `{}`",
            f.name
        );
    }
    let mut names: Vec<&str> = families().map(|f| f.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), defs::ALL.len(), "duplicate family names");
}

#[test]
fn bad_info_text_is_an_error_not_a_panic() {
    for text in ["", "{", "[{}]", "null", "[{\"name\":1}]"] {
        let e = render_from_info_text(text, None).unwrap_err();
        assert_eq!(e.code(), "info_format", "{text}");
    }
    assert_eq!(
        render_from_info_text("[]", None)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        ["pgbackrest_version_info 0"]
    );
}

#[test]
fn a_failed_drill_record_shows_its_code_phases_and_the_last_success() {
    let info = info::parse(&fixture("info-local-full-incr.json")).unwrap();
    let drill: super::DrillSummary = serde_json::from_value(serde_json::json!({
        "stanza": "demo", "finished": "2026-11-23 21:00:00+00", "ok": false,
        "code": "wal_gap", "last_success": "2026-11-22 03:30:41+00",
        "restore_secs": 4.5, "replay_secs": 1.25, "total_secs": 6.0, "check_secs": null,
        "checks": ["ignored"]
    }))
    .unwrap();
    let text = render(&Sources {
        info: &info,
        extras: &BTreeMap::new(),
        check: None,
        drill: Some(&drill),
        pgbackrest_version: None,
        now: now(),
        time_zone: TimeZone::UTC,
    })
    .unwrap();
    assert_eq!(
        sample(&text, "pitr_drill_last_success", &[("code", "wal_gap")]),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "pitr_drill_last_success_timestamp_seconds", &[]),
        Some(1_795_318_241.0)
    );
    assert_eq!(
        sample(&text, "pitr_drill_duration_seconds", &[("phase", "replay")]),
        Some(1.25)
    );
    assert!(!text.contains("phase=\"checks\""), "{text}");
}
