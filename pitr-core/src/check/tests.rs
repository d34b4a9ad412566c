//! Unit tests of the checks' judgements.

use super::*;

fn node() -> ExpectedArchive {
    ExpectedArchive::Node {
        config: "/pg/conf/pgbackrest.conf".into(),
        stanza: "pg-meta".into(),
    }
}

#[test]
fn every_check_has_its_own_code() {
    let mut codes: Vec<&str> = Check::ALL.iter().map(|c| c.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), Check::ALL.len());
    assert!(codes.iter().all(|c| c.starts_with("check_")));
}

#[test]
fn archive_command_must_name_this_stanza_and_config() {
    let ok =
        "/usr/bin/pgbackrest --config=/pg/conf/pgbackrest.conf --stanza=pg-meta archive-push %p";
    assert_eq!(archive_command(ok, &node()).status, Status::Pass);
    let spaced = "pgbackrest --config /pg/conf/pgbackrest.conf --stanza pg-meta archive-push %p";
    assert_eq!(archive_command(spaced, &node()).status, Status::Pass);
    for (bad, why) in [
        (
            "pgbackrest --config=/pg/conf/pgbackrest.conf --stanza=other archive-push %p",
            "stanza 'other'",
        ),
        (
            "pgbackrest --stanza=pg-meta archive-push %p",
            "names no --config",
        ),
        (
            "pgbackrest --config=/etc/x.conf --stanza=pg-meta archive-push %p",
            "config '/etc/x.conf'",
        ),
        ("cp %p /archive/%f", "not pgbackrest"),
        (
            "pgbackrest --config=/pg/conf/pgbackrest.conf --stanza=pg-meta archive-get %p",
            "archive-push %p",
        ),
        ("", "empty"),
        ("(disabled)", "not pgbackrest"),
    ] {
        let r = archive_command(bad, &node());
        assert_eq!(r.status, Status::Fail, "{bad}");
        assert_eq!(r.code, "check_archive_command_mismatch");
        assert!(r.message.contains(why), "{bad}: {}", r.message);
    }
    let default = ExpectedArchive::Node {
        config: PGBACKREST_DEFAULT_CONFIG.into(),
        stanza: "pg-meta".into(),
    };
    let r = archive_command("pgbackrest --stanza=pg-meta archive-push %p", &default);
    assert_eq!(r.status, Status::Pass);
}

#[test]
fn archive_command_against_a_rendered_one_compares_words() {
    let rendered = ExpectedArchive::Rendered(
        "/usr/bin/pgbackrest --config=/c --stanza=s archive-push %p".into(),
    );
    let ok = archive_command(
        "/usr/bin/pgbackrest  --config=/c --stanza=s archive-push %p",
        &rendered,
    );
    assert_eq!(ok.status, Status::Pass);
    let bad = archive_command(
        "pgbackrest --config=/c --stanza=s archive-push %p",
        &rendered,
    );
    assert_eq!(bad.status, Status::Fail);
}

#[test]
fn secrets_in_archive_command_are_redacted() {
    let cmd = "PGBACKREST_REPO1_CIPHER_PASS=hunter2 pgbackrest --repo1-s3-key=AKIA --stanza=s archive-push %p";
    let r = archive_command(cmd, &node());
    assert!(!r.message.contains("hunter2"), "{}", r.message);
    assert!(!r.message.contains("AKIA"), "{}", r.message);
    assert!(r.message.contains("<redacted>"), "{}", r.message);
}

#[test]
fn archiver_fails_only_when_the_last_failure_is_newer() {
    let mut s = ArchiverStats {
        archived_count: 5,
        failed_count: 2,
        last_archived_wal: Some("000000010000000000000005".into()),
        last_archived_time: Some(2_000_000),
        last_failed_wal: Some("000000010000000000000004".into()),
        last_failed_time: Some(1_000_000),
    };
    assert_eq!(archiver(&s).status, Status::Pass);
    s.last_failed_time = Some(3_000_000);
    let r = archiver(&s);
    assert_eq!(r.status, Status::Fail);
    assert!(
        r.message.contains("000000010000000000000004"),
        "{}",
        r.message
    );
    let never = ArchiverStats {
        failed_count: 1,
        last_failed_time: Some(1),
        ..ArchiverStats::default()
    };
    assert_eq!(archiver(&never).status, Status::Fail);
    assert_eq!(archiver(&ArchiverStats::default()).status, Status::Pass);
}

#[test]
fn ages_parse_with_units() {
    assert_eq!(parse_age("90").unwrap(), 90);
    assert_eq!(parse_age("45m").unwrap(), 2_700);
    assert_eq!(parse_age("8d").unwrap(), 691_200);
    assert_eq!(parse_age("2w").unwrap(), 1_209_600);
    for bad in ["", "h", "0", "1.5h", "3y", "-1d", "99999999999999999999d"] {
        let e = parse_age(bad).unwrap_err();
        assert_eq!(e.code(), "invalid_value", "{bad}");
    }
    assert_eq!(fmt_age(0), "0s");
    assert_eq!(fmt_age(42), "42s");
    assert_eq!(fmt_age(3_725), "1h 2m");
    assert_eq!(fmt_age(2 * 86_400 + 3_600), "2d 1h");
    assert_eq!(fmt_age(8 * 86_400), "8d");
    assert_eq!(fmt_age(36 * 3_600), "1d 12h");
}

#[test]
fn the_first_failure_decides_the_report() {
    let t = jiff::Timestamp::UNIX_EPOCH;
    let report = CheckReport::new(
        "s",
        t,
        vec![
            CheckResult::pass(Check::Database, "up"),
            CheckResult::skip(Check::ArchiveMode, "replica"),
            CheckResult::fail(Check::BackupAge, "old"),
            CheckResult::fail(Check::Window, "empty"),
        ],
    );
    assert!(!report.ok);
    assert_eq!(report.code.as_deref(), Some("check_backup_too_old"));
    let e = report.into_result().unwrap_err();
    assert_eq!(e.code(), "check_backup_too_old");
    assert_eq!(e.to_string(), "check 'backup_age' failed: old");
    let fine = CheckReport::new("s", t, vec![CheckResult::pass(Check::Window, "w")]);
    assert!(fine.ok);
    assert!(fine.into_result().is_ok());
}

#[test]
fn archive_continuity_fails_naming_the_repo_and_segments() {
    use crate::archive::parse_repo_ls;
    use crate::continuity::{RepoContinuity, figure};
    use crate::history::TimelineHistories;
    use crate::names::{DEFAULT_SEGMENT_SIZE, RepoIndex};
    let listing = parse_repo_ls(
        r#"{"000000010000000000000002":{"type":"file","size":1,"time":1},
            "000000010000000000000005":{"type":"file","size":1,"time":2}}"#,
        DEFAULT_SEGMENT_SIZE,
    )
    .unwrap();
    let holes = figure::measure(RepoIndex::of(1), &[], &TimelineHistories::new(), &listing);
    let unknown = RepoContinuity::unknown(RepoIndex::of(2), "the archive could not be listed");
    let r = archive_continuity(&[holes.clone(), unknown.clone()]);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.code, "check_wal_missing");
    assert!(
        r.message.starts_with(
            "repo1: 2 segment(s) missing from 000000010000000000000002 to \
             000000010000000000000005 along timeline 1's history: 000000010000000000000003, \
             000000010000000000000004; "
        ) && r.message.contains("pitr continuity"),
        "{}",
        r.message
    );
    let whole = figure::measure(
        RepoIndex::of(1),
        &[],
        &TimelineHistories::new(),
        &parse_repo_ls(
            r#"{"000000010000000000000002":{"type":"file","size":1,"time":1}}"#,
            DEFAULT_SEGMENT_SIZE,
        )
        .unwrap(),
    );
    let r = archive_continuity(&[whole, unknown.clone()]);
    assert_eq!(r.status, Status::Pass);
    assert!(r.message.contains("repo2: unknown"), "{}", r.message);
    assert_eq!(archive_continuity(&[unknown]).status, Status::Skip);
    assert_eq!(archive_continuity(&[]).status, Status::Skip);
}
