//! The recorded pgBackRest 2.45 fixtures through info, history, archive and window.
//!
//! These pin what pitr reads from real pgBackRest output: every fixture parses and prints
//! back to the same JSON, and the recoverable windows of the failover stanza match what the
//! recorded history and archive say. The last section feeds `info::parse` older formats and
//! malformed text: it must tolerate the first and report the second, never panic.

use pitr_core::names::RepoIndex;
use std::collections::BTreeMap;

const R1: RepoIndex = RepoIndex::FIRST;
const R2: RepoIndex = RepoIndex::of(2);

use pitr_core::archive::{self, ArchiveListing};
use pitr_core::history::{self, TimelineHistories};
use pitr_core::info::{self, StanzaInfo, StatusCode};
use pitr_core::names::{
    ArchiveFile, BackupType, DEFAULT_SEGMENT_SIZE, Lsn, TimelineId, WalSegment,
};
use pitr_core::window::{self, RecoverableWindow};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/pgbackrest-2.45/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn stanza(file: &str) -> StanzaInfo {
    info::parse(&fixture(file))
        .expect("fixture parses")
        .stanzas
        .remove(0)
}

fn tl(n: u32) -> TimelineId {
    TimelineId::new(n).expect("timeline")
}

fn lsn(s: &str) -> Lsn {
    s.parse().expect("LSN")
}

fn seg(s: &str) -> WalSegment {
    s.parse().expect("segment name")
}

fn failover_history() -> TimelineHistories {
    [history::parse(tl(2), &fixture("00000002.history")).expect("history fixture")]
        .into_iter()
        .collect()
}

fn repo1_listing() -> ArchiveListing {
    archive::parse_repo_ls(
        &fixture("repo-ls-archive-multi-repo1.json"),
        DEFAULT_SEGMENT_SIZE,
    )
    .expect("listing fixture")
}

/// (repo, timeline, start set, start lsn, start time, end lsn, end time) for compact asserts.
type Summary = (u16, u32, String, String, u64, Option<String>, Option<u64>);

fn summary(ws: &[RecoverableWindow]) -> Vec<Summary> {
    ws.iter()
        .map(|w| {
            (
                w.repo_key.get(),
                w.timeline.get(),
                w.start.set.to_string(),
                w.start.lsn.to_string(),
                w.start.time,
                w.end.as_ref().map(|e| e.lsn.to_string()),
                w.end.as_ref().and_then(|e| e.time),
            )
        })
        .collect()
}

fn row(
    repo: u16,
    t: u32,
    set: &str,
    start: &str,
    time: u64,
    end: Option<&str>,
    end_time: Option<u64>,
) -> Summary {
    (
        repo,
        t,
        set.to_owned(),
        start.to_owned(),
        time,
        end.map(str::to_owned),
        end_time,
    )
}

const INFO_FIXTURES: [&str; 6] = [
    "info-local-full-incr.json",
    "info-multi-repo-failover.json",
    "info-s3-encrypted.json",
    "info-s3-unreachable.json",
    "info-set-detail.json",
    "info-stanza-missing.json",
];

#[test]
fn every_info_fixture_parses_and_prints_back_the_same_json() {
    for name in INFO_FIXTURES {
        let text = fixture(name);
        let report = info::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let original: serde_json::Value = serde_json::from_str(&text).unwrap();
        let printed = serde_json::to_value(&report).unwrap();
        assert_eq!(printed, original, "{name}");
    }
}

#[test]
fn local_full_incr_fields() {
    let s = stanza("info-local-full-incr.json");
    s.ensure_ok().unwrap();
    assert_eq!(s.name, "demo");
    assert_eq!(s.cipher.as_deref(), Some("none"));
    assert_eq!(s.db[0].system_id, 7_711_466_294_027_581_737);
    assert_eq!(s.pg_version(1, R1), Some("15"));
    assert_eq!(s.repo_keys(), vec![R1]);
    let lock = s.status.lock.as_ref().unwrap().backup.as_ref().unwrap();
    assert!(!lock.held && lock.size.is_none());
    let a = s.archive_for(1, R1).unwrap();
    assert_eq!(a.id, "15-1");
    assert_eq!(a.min, Some(seg("000000010000000000000001")));
    assert_eq!(a.max, Some(seg("000000010000000000000005")));
    let incr = &s.backup[1];
    assert_eq!(incr.backup_type, BackupType::Incr);
    assert_eq!(incr.prior.as_ref().unwrap().as_str(), "20261123-202742F");
    assert_eq!(incr.reference.as_ref().unwrap().len(), 1);
    assert_eq!(incr.lsn.unwrap().start, lsn("0/4000028"));
    assert_eq!(incr.stop_lsn(), Some(lsn("0/5000050")));
    assert_eq!(incr.timeline(), Some(tl(1)));
    assert_eq!(incr.error, Some(false));
    assert_eq!(incr.info.repository.size, Some(2_819_484));
    assert!(incr.database_ref.is_none() && incr.link.is_none());
    let full = s.backup(&"20261123-202742F".parse().unwrap(), R1).unwrap();
    assert_eq!(full.timestamp.stop, 1_795_465_665);
    assert!(s.backup(&"20261123-202742F".parse().unwrap(), R2).is_none());
}

#[test]
fn multi_repo_and_set_detail_fields() {
    let s = stanza("info-multi-repo-failover.json");
    assert_eq!(s.cipher.as_deref(), Some("mixed"));
    assert_eq!(s.repo_keys(), vec![R1, R2]);
    assert_eq!(s.repo[1].cipher.as_deref(), Some("aes-256-cbc"));
    assert_eq!(s.backups_in_repo(R1).count(), 3);
    assert_eq!(s.backups_in_repo(R2).count(), 1);
    assert_eq!(s.backup[3].timeline(), Some(tl(2)));
    assert_eq!(
        s.archive_for(1, R2).unwrap().max,
        Some(seg("00000002000000000000000B"))
    );

    let d = stanza("info-set-detail.json");
    let b = &d.backup[0];
    let refs = b.database_ref.as_ref().unwrap();
    assert_eq!((refs[0].name.as_str(), refs[0].oid), ("postgres", 5));
    assert_eq!(b.link, Some(None));
    assert_eq!(b.tablespace, Some(None));
    assert!(b.error_list.is_none());
}

#[test]
fn error_statuses() {
    let s = stanza("info-s3-unreachable.json");
    assert_eq!(s.status.code, StatusCode::Other);
    assert!(s.repo[0].status.message.starts_with("[HostConnectError]"));
    let e = s.ensure_ok().unwrap_err();
    assert_eq!(e.code(), "stanza_status");

    let report = info::parse(&fixture("info-stanza-missing.json")).unwrap();
    let s = report.stanza("nosuch").unwrap();
    assert_eq!(s.status.code, StatusCode::MissingStanzaPath);
    assert_eq!(s.repo[0].status.code.code(), 1);
    assert_eq!(
        report.stanza("demo").unwrap_err().code(),
        "stanza_not_found"
    );
}

#[test]
fn history_fixture() {
    let h = history::parse(tl(2), &fixture("00000002.history")).unwrap();
    assert_eq!(h.entries.len(), 1);
    assert_eq!(h.entries[0].parent, tl(1));
    assert_eq!(h.entries[0].switch_lsn, lsn("0/90000A0"));
    assert_eq!(h.entries[0].reason, "no recovery target specified");
    let all = failover_history();
    assert_eq!(all.end_of(tl(1)), Some(lsn("0/90000A0")));
    assert_eq!(all.branch_point(tl(1), tl(2)), Some(lsn("0/90000A0")));
}

#[test]
fn repo_ls_fixture() {
    let l = repo1_listing();
    // 11 segments, 5 backup labels, 1 partial, 1 history; directories dropped.
    assert_eq!(l.files.len(), 18);
    let tl1: Vec<String> = l
        .segments(tl(1))
        .iter()
        .map(|f| f.path[17..41].to_owned())
        .collect();
    assert_eq!(tl1.len(), 8);
    assert_eq!(tl1[0], "000000010000000000000001");
    assert_eq!(l.last_segment(tl(1)).unwrap().time, 1_795_466_877);
    assert_eq!(
        l.last_segment(tl(2)).unwrap().file,
        ArchiveFile::Segment(seg("00000002000000000000000B"))
    );
    assert_eq!(
        l.partial(tl(1)).unwrap().file,
        ArchiveFile::Partial(seg("000000010000000000000009"))
    );
    assert!(l.partial(tl(2)).is_none());
    assert_eq!(l.history_timelines(), vec![tl(2)]);
    let h = failover_history();
    let from = seg("000000010000000000000001");
    assert!(
        l.missing_segments(from, lsn("0/B000100"), tl(2), &h)
            .is_empty()
    );
    // Following timeline 1 alone, its last segment exists only as .partial.
    assert_eq!(
        l.missing_segments(from, lsn("0/B000100"), tl(1), &h),
        [
            "000000010000000000000009",
            "00000001000000000000000A",
            "00000001000000000000000B"
        ]
        .map(seg)
    );
}

#[test]
fn failover_windows_with_history() {
    let s = stanza("info-multi-repo-failover.json");
    let w = window::windows(&s, &failover_history(), &BTreeMap::new());
    assert_eq!(
        summary(&w),
        vec![
            row(
                1,
                1,
                "20261123-204746F",
                "0/2000100",
                1_795_466_869,
                Some("0/90000A0"),
                None
            ),
            row(
                1,
                2,
                "20261123-204746F",
                "0/2000100",
                1_795_466_869,
                Some("0/C000000"),
                None
            ),
            row(
                2,
                1,
                "20261123-204750F",
                "0/4000050",
                1_795_466_871,
                Some("0/90000A0"),
                None
            ),
            row(
                2,
                2,
                "20261123-204750F",
                "0/4000050",
                1_795_466_871,
                Some("0/C000000"),
                None
            ),
        ]
    );
    assert_eq!(
        w[0].end.as_ref().unwrap().segment,
        seg("000000010000000000000009")
    );
    assert_eq!(
        w[1].end.as_ref().unwrap().segment,
        seg("00000002000000000000000B")
    );
    // The window prints as JSON for the CLI.
    let json = serde_json::to_value(&w[1]).unwrap();
    assert_eq!(json["start"]["set"], "20261123-204746F");
    assert_eq!(json["end"]["segment"], "00000002000000000000000B");
}

#[test]
fn failover_windows_without_history() {
    let s = stanza("info-multi-repo-failover.json");
    let w = window::windows(&s, &TimelineHistories::new(), &BTreeMap::new());
    assert_eq!(
        summary(&w),
        vec![
            row(
                1,
                1,
                "20261123-204746F",
                "0/2000100",
                1_795_466_869,
                None,
                None
            ),
            row(
                1,
                2,
                "20261123-204746F_20261123-204801I",
                "0/B000100",
                1_795_466_882,
                Some("0/C000000"),
                None
            ),
            row(
                2,
                1,
                "20261123-204750F",
                "0/4000050",
                1_795_466_871,
                None,
                None
            ),
        ]
    );
    // A listing tells where timeline 1's complete segments end.
    let listings = BTreeMap::from([(R1, repo1_listing())]);
    let w = window::windows(&s, &TimelineHistories::new(), &listings);
    assert_eq!(w[0].end.as_ref().unwrap().lsn, lsn("0/9000000"));
    assert_eq!(w[0].end.as_ref().unwrap().time, Some(1_795_466_877));
}

#[test]
fn failover_windows_with_listing_match_info_and_add_times() {
    let s = stanza("info-multi-repo-failover.json");
    let h = failover_history();
    let listings = BTreeMap::from([(R1, repo1_listing())]);
    let w = window::windows(&s, &h, &listings);
    assert_eq!(
        summary(&w),
        vec![
            // Timeline 1 ends in segment 9, which the repo holds as .partial.
            row(
                1,
                1,
                "20261123-204746F",
                "0/2000100",
                1_795_466_869,
                Some("0/90000A0"),
                Some(1_795_466_878)
            ),
            row(
                1,
                2,
                "20261123-204746F",
                "0/2000100",
                1_795_466_869,
                Some("0/C000000"),
                Some(1_795_466_882)
            ),
            row(
                2,
                1,
                "20261123-204750F",
                "0/4000050",
                1_795_466_871,
                Some("0/90000A0"),
                None
            ),
            row(
                2,
                2,
                "20261123-204750F",
                "0/4000050",
                1_795_466_871,
                Some("0/C000000"),
                None
            ),
        ]
    );
    let without: Vec<_> = window::windows(&s, &h, &BTreeMap::new());
    for (a, b) in w.iter().zip(&without) {
        assert_eq!(
            (a.repo_key, a.timeline, &a.start),
            (b.repo_key, b.timeline, &b.start)
        );
        assert_eq!(
            a.end.as_ref().map(|e| (e.lsn, e.segment)),
            b.end.as_ref().map(|e| (e.lsn, e.segment))
        );
    }
}

fn without_segment(name: &str) -> ArchiveListing {
    let mut l = repo1_listing();
    let gone = seg(name);
    let before = l.files.len();
    l.files.retain(|f| f.file != ArchiveFile::Segment(gone));
    assert_eq!(l.files.len(), before - 1, "{name} was in the listing");
    l
}

fn repo1_windows(listing: ArchiveListing) -> Vec<Summary> {
    let s = stanza("info-multi-repo-failover.json");
    let listings = BTreeMap::from([(R1, listing)]);
    let mut w = summary(&window::windows(&s, &failover_history(), &listings));
    w.retain(|r| r.0 == 1);
    w
}

#[test]
fn a_hole_in_the_archive_moves_the_start_to_a_newer_set() {
    // Segment 4 on timeline 1 is gone: the full set cannot replay past it, the diff can.
    let w = repo1_windows(without_segment("000000010000000000000004"));
    let diff = "20261123-204746F_20261123-204752D";
    assert_eq!(w[0].2, diff);
    assert_eq!(
        (w[1].1, w[1].2.as_str(), w[1].3.as_str()),
        (2, diff, "0/6000100")
    );

    // Segment A on timeline 2 is gone: timeline 1 is unaffected, timeline 2 starts at the incr.
    let w = repo1_windows(without_segment("00000002000000000000000A"));
    assert_eq!(w[0].2, "20261123-204746F");
    assert_eq!(w[1].2, "20261123-204746F_20261123-204801I");

    // Segment 9 on timeline 2 (the switch segment) is gone: nothing before it reaches either end.
    let w = repo1_windows(without_segment("000000020000000000000009"));
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].1, w[0].2.as_str()),
        (2, "20261123-204746F_20261123-204801I")
    );
}

#[test]
fn local_full_incr_window() {
    let s = stanza("info-local-full-incr.json");
    let w = window::windows(&s, &TimelineHistories::new(), &BTreeMap::new());
    assert_eq!(
        summary(&w),
        vec![row(
            1,
            1,
            "20261123-202742F",
            "0/2000100",
            1_795_465_665,
            Some("0/6000000"),
            None
        )]
    );
    assert_eq!(
        w[0].end.as_ref().unwrap().segment,
        seg("000000010000000000000005")
    );
}

#[test]
fn no_windows_without_archive_or_stanza() {
    let h = failover_history();
    for name in [
        "info-s3-unreachable.json",
        "info-stanza-missing.json",
        "info-s3-encrypted.json",
    ] {
        let s = stanza(name);
        assert!(
            window::windows(&s, &h, &BTreeMap::new()).is_empty(),
            "{name}"
        );
        assert!(
            window::windows(&s, &TimelineHistories::new(), &BTreeMap::new()).is_empty(),
            "{name}"
        );
    }
}

// ---- input that is not a recorded fixture: old formats, malformed text ----

/// A stanza as pgBackRest before 2.32 printed it, plus a key from the future.
const MINIMAL: &str = r#"[{"name":"demo","status":{"code":0,"message":"ok"},
    "backup":[{"label":"20261123-202742F","type":"full","prior":null,"reference":null,
    "timestamp":{"start":1,"stop":2},"archive":{"start":null,"stop":null},
    "backrest":{"format":5,"version":"2.30"},"database":{"id":1},
    "info":{"size":1,"delta":1,"repository":{"delta":1}}, "future-key": [1, 2]}]}]"#;

#[test]
fn old_versions_without_optional_keys_parse() {
    let r = info::parse(MINIMAL).unwrap();
    let s = r.stanza("demo").unwrap();
    assert!(s.repo.is_empty() && s.db.is_empty() && s.archive.is_empty());
    let b = &s.backup[0];
    // Before 2.32 there is one repo and no key: it is repo1.
    assert_eq!(b.repo_key(), R1);
    assert_eq!(b.timeline(), None);
    assert_eq!(b.stop_lsn(), None);
    assert_eq!(b.error, None);
    assert_eq!(s.backups_in_repo(R1).count(), 1);
}

#[test]
fn errors_name_stanza_backup_and_field() {
    let bad = MINIMAL.replace("20261123-202742F", "yesterday");
    let e = info::parse(&bad).unwrap_err();
    assert_eq!(e.code(), "info_format");
    let msg = e.to_string();
    assert!(
        msg.contains("stanza[0] 'demo', backup[0] 'yesterday'"),
        "{msg}"
    );
    assert!(msg.contains("backup label"), "{msg}");

    let bad = MINIMAL.replace(r#""stop":2"#, r#""stop":"2""#);
    let msg = info::parse(&bad).unwrap_err().to_string();
    assert!(msg.contains("invalid type: string"), "{msg}");

    for text in ["", "{}", "[1]", "[{\"name\":1}]", "nope"] {
        assert_eq!(
            info::parse(text).unwrap_err().code(),
            "info_format",
            "{text}"
        );
    }
    assert!(info::parse("[]").unwrap().stanzas.is_empty());
}

#[test]
fn unknown_stanza_lists_known_ones() {
    let r = info::parse(MINIMAL).unwrap();
    let msg = r.stanza("prod").unwrap_err().to_string();
    assert!(
        msg.contains("'prod'") && msg.contains("known stanzas: demo"),
        "{msg}"
    );
    let msg = info::parse("[]")
        .unwrap()
        .stanza("x")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("(none)"), "{msg}");
}

proptest! {
    #[test]
    fn info_parse_never_panics(s in "\\PC*") {
        let _ = info::parse(&s);
    }

    #[test]
    fn info_parse_never_panics_on_mutated_json(pos in 0usize..600, ch in "[\\[\\]{}\",:0-9a-z]") {
        let mut text = MINIMAL.to_owned();
        let pos = pos.min(text.len());
        if text.is_char_boundary(pos) {
            text.insert_str(pos, &ch);
        }
        let _ = info::parse(&text);
    }
}
