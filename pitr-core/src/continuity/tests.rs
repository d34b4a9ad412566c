//! The missing-WAL figure on recorded pgBackRest 2.45 output (a failover from timeline 1 to 2)
//! and on synthetic listings with holes before and after switch points; what a primary pushes
//! from its `pg_wal`.

use std::collections::BTreeMap;

use super::figure::{SetStart, measure};
use super::local::{self, LocalEntry, LocalSegment};
use super::*;
use crate::archive::{ArchiveListing, ListedFile, parse_repo_ls};
use crate::history::{self, TimelineHistories};
use crate::info;
use crate::names::{ArchiveFile, DEFAULT_SEGMENT_SIZE, RepoIndex, TimelineId, WalSegment};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/pgbackrest-2.45"
);

fn tl(n: u32) -> TimelineId {
    TimelineId::new(n).unwrap()
}

fn seg(name: &str) -> WalSegment {
    name.parse().unwrap()
}

fn names(segments: &[WalSegment]) -> Vec<String> {
    segments.iter().map(ToString::to_string).collect()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

/// The recorded failover: repo1's listing, timeline 2's history and the info report.
fn recorded() -> (info::StanzaInfo, TimelineHistories, ArchiveListing) {
    let stanza = info::parse(&fixture("info-multi-repo-failover.json"))
        .unwrap()
        .stanzas
        .remove(0);
    let histories: TimelineHistories =
        [history::parse(tl(2), &fixture("00000002.history")).unwrap()]
            .into_iter()
            .collect();
    let listing = parse_repo_ls(
        &fixture("repo-ls-archive-multi-repo1.json"),
        DEFAULT_SEGMENT_SIZE,
    )
    .unwrap();
    (stanza, histories, listing)
}

fn without(listing: &ArchiveListing, prefix: &str) -> ArchiveListing {
    let mut l = listing.clone();
    let before = l.files.len();
    l.files
        .retain(|f| !f.path.rsplit('/').next().unwrap().starts_with(prefix));
    assert_eq!(l.files.len() + 1, before, "{prefix} is listed once");
    l
}

fn repo1(listing: &ArchiveListing) -> RepoContinuity {
    let (stanza, histories, _) = recorded();
    repo_continuity(&stanza, &histories, Some(listing), RepoIndex::of(1))
}

#[test]
fn the_recorded_failover_archive_is_whole_from_the_oldest_set() {
    let (_, _, listing) = recorded();
    let c = repo1(&listing);
    assert_eq!(c.status, ContinuityStatus::Whole);
    assert_eq!(c.missing, Some(0));
    assert_eq!(c.timeline, Some(tl(2)));
    assert_eq!(c.from, Some(seg("000000010000000000000002")));
    assert_eq!(c.from_set.as_ref().unwrap().as_str(), "20261123-204746F");
    assert_eq!(c.to, Some(seg("00000002000000000000000B")));
    assert!(c.first_missing.is_empty());
    assert_eq!(
        c.describe(),
        "whole from 000000010000000000000002 (set 20261123-204746F) to \
         00000002000000000000000B along timeline 2's history"
    );
}

#[test]
fn holes_before_at_and_after_the_switch_point_are_counted() {
    let (_, _, listing) = recorded();
    // Before the switch, on timeline 1 (the hole a failover leaves).
    let c = repo1(&without(&listing, "000000010000000000000008-"));
    assert_eq!(c.status, ContinuityStatus::Missing);
    assert_eq!(c.missing, Some(1));
    assert_eq!(names(&c.first_missing), ["000000010000000000000008"]);
    assert_eq!(
        c.describe(),
        "1 segment(s) missing from 000000010000000000000002 (set 20261123-204746F) to \
         00000002000000000000000B along timeline 2's history: 000000010000000000000008"
    );
    // The switch segment comes from the new timeline: without it the walk misses it even
    // though timeline 1's partial copy is there.
    let c = repo1(&without(&listing, "000000020000000000000009-"));
    assert_eq!(names(&c.first_missing), ["000000020000000000000009"]);
    // After the switch, on timeline 2.
    let c = repo1(&without(&listing, "00000002000000000000000A-"));
    assert_eq!(names(&c.first_missing), ["00000002000000000000000A"]);
    // The partial segment of timeline 1 is not on the path.
    assert_eq!(
        repo1(&without(&listing, "000000010000000000000009.partial")).missing,
        Some(0)
    );
    // Before the oldest set's first segment nothing counts.
    assert_eq!(
        repo1(&without(&listing, "000000010000000000000001-")).missing,
        Some(0)
    );
    // The oldest set's first segment counts.
    assert_eq!(
        names(&repo1(&without(&listing, "000000010000000000000002-")).first_missing),
        ["000000010000000000000002"]
    );
}

#[test]
fn an_unlisted_repo_is_unknown_not_whole() {
    let (stanza, histories, listing) = recorded();
    let listings = BTreeMap::from([(RepoIndex::of(1), listing)]);
    let all = continuity(&stanza, &histories, &listings);
    assert_eq!(
        all.iter().map(|c| c.repo_key.get()).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(all[0].missing, Some(0));
    assert_eq!(all[1].status, ContinuityStatus::Unknown);
    assert_eq!(all[1].missing, None);
    assert!(
        all[1]
            .describe()
            .starts_with("unknown: the archive could not")
    );
}

/// A listing of bare segment names (timeline, number) and history files.
fn listing(files: &[&str]) -> ArchiveListing {
    ArchiveListing {
        files: files
            .iter()
            .enumerate()
            .map(|(i, n)| ListedFile {
                path: (*n).to_owned(),
                file: ArchiveFile::parse(n, DEFAULT_SEGMENT_SIZE).unwrap(),
                size: 1,
                time: i as u64,
            })
            .collect(),
    }
}

fn histories(files: &[(u32, &str)]) -> TimelineHistories {
    files
        .iter()
        .map(|(t, text)| history::parse(tl(*t), text).unwrap())
        .collect()
}

fn set(label: &str, start: &str) -> SetStart {
    SetStart {
        label: label.parse().unwrap(),
        segment: seg(start),
    }
}

#[test]
fn right_after_a_failover_the_segments_before_the_switch_are_counted() {
    // Timeline 2 began at 0/6000100 and has archived nothing but its history file; timeline
    // 1's last complete segments (4, 5) reached the new primary by streaming only.
    let h = histories(&[(2, "1\t0/6000100\tx")]);
    let l = listing(&[
        "000000010000000000000002",
        "000000010000000000000003",
        "000000010000000000000006.partial",
        "00000002.history",
    ]);
    let c = measure(
        RepoIndex::of(1),
        &[set("20260101-000000F", "000000010000000000000002")],
        &h,
        &l,
    );
    assert_eq!(c.to, Some(seg("000000010000000000000005")));
    assert_eq!(
        names(&c.first_missing),
        ["000000010000000000000004", "000000010000000000000005"]
    );
}

#[test]
fn synthetic_holes_on_both_sides_of_two_switches() {
    // 1 ─0/4000000 (boundary)─► 2 ─0/7000100 (mid segment 7)─► 3
    let h = histories(&[(3, "1\t0/4000000\tx\n2\t0/7000100\ty")]);
    let l = listing(&[
        "000000010000000000000002",
        // 3 missing on timeline 1, before the first switch
        "00000002.history",
        "000000020000000000000004",
        // 5 missing on timeline 2
        "000000020000000000000006",
        "000000020000000000000007.partial",
        "00000003.history",
        "000000030000000000000007",
        "000000030000000000000008",
        // 9 missing on timeline 3, after the last switch
        "00000003000000000000000A",
    ]);
    let c = measure(
        RepoIndex::of(1),
        &[set("20260101-000000F", "000000010000000000000002")],
        &h,
        &l,
    );
    assert_eq!(c.timeline, Some(tl(3)));
    assert_eq!(c.to, Some(seg("00000003000000000000000A")));
    assert_eq!(
        names(&c.first_missing),
        [
            "000000010000000000000003",
            "000000020000000000000005",
            "000000030000000000000009"
        ]
    );
    assert_eq!(c.missing, Some(3));
    // Timeline 1's segments past its switch point (an old primary that went on writing) do
    // not fill timeline 2's hole, and are not counted either.
    let mut more = l.clone();
    more.files
        .extend(listing(&["000000010000000000000005"]).files);
    assert_eq!(measure(RepoIndex::of(1), &[], &h, &more).missing, Some(3));
}

#[test]
fn wal_of_abandoned_branches_is_not_counted() {
    // Timeline 2 branched off 1 at segment 5 and was abandoned (a clone, a restore tried and
    // left); timeline 3, the newest, branched off 1 at segment 8.
    let h = histories(&[(2, "1\t0/5000000\ta"), (3, "1\t0/8000000\tb")]);
    let l = listing(&[
        "000000010000000000000004",
        "000000010000000000000005",
        "000000010000000000000006",
        "000000010000000000000007",
        "000000020000000000000005",
        // 6 missing on timeline 2: not on timeline 3's path
        "000000020000000000000007",
        "000000030000000000000008",
    ]);
    let c = measure(
        RepoIndex::of(1),
        &[
            set("20260101-000000F", "000000010000000000000004"),
            // A set of the abandoned branch does not start the walk.
            set("20260101-000001F", "000000020000000000000005"),
        ],
        &h,
        &l,
    );
    assert_eq!(c.timeline, Some(tl(3)));
    assert_eq!(c.missing, Some(0), "{c:?}");
    assert_eq!(c.from, Some(seg("000000010000000000000004")));
}

#[test]
fn without_sets_the_walk_starts_at_the_oldest_archived_segment() {
    let l = listing(&["000000010000000000000003", "000000010000000000000005"]);
    let c = measure(RepoIndex::of(1), &[], &TimelineHistories::new(), &l);
    assert_eq!(c.from, Some(seg("000000010000000000000003")));
    assert_eq!(c.from_set, None);
    assert_eq!(names(&c.first_missing), ["000000010000000000000004"]);
    assert!(c.note.unwrap().contains("no backup set"));
    // Nothing archived: whole, with a note.
    let empty = measure(
        RepoIndex::of(1),
        &[],
        &TimelineHistories::new(),
        &ArchiveListing::default(),
    );
    assert_eq!(empty.missing, Some(0));
    assert_eq!(empty.describe(), "whole (the archive holds no WAL yet)");
    // A set whose first segment is newer than anything archived misses it.
    let c = measure(
        RepoIndex::of(1),
        &[set("20260101-000000F", "000000010000000000000007")],
        &TimelineHistories::new(),
        &l,
    );
    assert_eq!(names(&c.first_missing), ["000000010000000000000007"]);
    assert_eq!(c.to, Some(seg("000000010000000000000007")));
}

#[test]
fn a_large_hole_is_counted_whole_and_named_in_part() {
    let l = listing(&["000000010000000000000001", "000000010000000100000000"]);
    let c = measure(RepoIndex::of(1), &[], &TimelineHistories::new(), &l);
    assert_eq!(c.missing, Some(254));
    assert_eq!(c.first_missing.len(), FIRST_MISSING);
    assert!(
        c.describe()
            .ends_with(", 00000001000000000000000B and 244 more"),
        "{}",
        c.describe()
    );
}

const SIXTEEN_MIB: u64 = 16 * 1024 * 1024;

fn entry(name: &str, size: u64) -> LocalEntry {
    LocalEntry {
        name: name.to_owned(),
        size,
    }
}

#[test]
fn candidates_are_complete_ancestor_segments_before_each_switch() {
    // 1 ─0/5000000─► 2 ─0/7000100─► 3 (current)
    let h = histories(&[(3, "1\t0/5000000\tx\n2\t0/7000100\ty")]);
    let entries = [
        entry("000000010000000000000003", SIXTEEN_MIB),
        entry("000000010000000000000004", SIXTEEN_MIB),
        // timeline 1 after its switch point: a recycled or diverged file
        entry("000000010000000000000005", SIXTEEN_MIB),
        entry("000000020000000000000006", SIXTEEN_MIB),
        // timeline 2's switch segment: continues on timeline 3
        entry("000000020000000000000007", SIXTEEN_MIB),
        entry("000000020000000000000007.partial", SIXTEEN_MIB),
        // the current timeline: the archiver's business
        entry("000000030000000000000007", SIXTEEN_MIB),
        entry("000000030000000000000008", SIXTEEN_MIB),
        // not complete segments
        entry("000000020000000000000005", 4096),
        entry("00000003.history", 60),
        entry("archive_status", 4096),
        entry("0000000Z0000000000000005", SIXTEEN_MIB),
    ];
    let c = local::candidates(&entries, tl(3), &h, DEFAULT_SEGMENT_SIZE);
    assert_eq!(
        names(&c),
        [
            "000000010000000000000003",
            "000000010000000000000004",
            "000000020000000000000006"
        ]
    );
    // On timeline 1 there is no ancestor.
    assert!(local::candidates(&entries, tl(1), &h, DEFAULT_SEGMENT_SIZE).is_empty());
}

const SHA_A: &str = "2ae15279f4e3ef60fdafb3132557d8c9157d428b";
const SHA_B: &str = "c54a14fff00daf34a649bf77c0be837fec21bd9c";

fn local_seg(name: &str, sha: &str) -> LocalSegment {
    LocalSegment {
        segment: seg(name),
        sha1: Some(sha.to_owned()),
    }
}

#[test]
fn judge_pushes_what_a_repo_lacks_and_keeps_what_is_there() {
    let h = history::parse(tl(2), "1\t0/5000000\tno recovery target specified").unwrap();
    let archived: TimelineHistories = [h.clone()].into_iter().collect();
    let repo1 = parse_repo_ls(
        &format!(
            r#"{{"0000000100000000/000000010000000000000003-{SHA_A}.zst":{{"type":"file","size":1,"time":1}},
               "00000002.history":{{"type":"file","size":41,"time":2}}}}"#
        ),
        DEFAULT_SEGMENT_SIZE,
    )
    .unwrap();
    let repo2 = parse_repo_ls(
        &format!(
            r#"{{"0000000100000000/000000010000000000000003-{SHA_A}.lz4":{{"type":"file","size":1,"time":1}}}}"#
        ),
        DEFAULT_SEGMENT_SIZE,
    )
    .unwrap();
    let listings = BTreeMap::from([(RepoIndex::of(1), repo1), (RepoIndex::of(2), repo2)]);
    let segments = [
        local_seg("000000010000000000000003", SHA_A),
        local_seg("000000010000000000000004", SHA_B),
    ];
    let j = local::judge(tl(2), &segments, Some(&h), &archived, &listings);
    assert!(j.conflicts.is_empty(), "{j:?}");
    assert_eq!(j.present, ["000000010000000000000003"]);
    assert_eq!(
        j.push
            .iter()
            .map(|f| (f.name.as_str(), f.missing_from.len()))
            .collect::<Vec<_>>(),
        [("00000002.history", 1), ("000000010000000000000004", 2)]
    );
    assert_eq!(j.push[0].missing_from, [RepoIndex::of(2)]);

    // Without any listing everything is pushed (pgBackRest keeps identical copies).
    let j = local::judge(tl(2), &segments, Some(&h), &archived, &BTreeMap::new());
    assert_eq!(j.push.len(), 3);
    assert_eq!(j.notes.len(), 1);
}

#[test]
fn judge_reports_copies_that_differ_and_pushes_none_of_them() {
    let local_history = history::parse(tl(2), "1\t0/5000000\tx").unwrap();
    let theirs: TimelineHistories = [history::parse(tl(2), "1\t0/6000000\tx").unwrap()]
        .into_iter()
        .collect();
    let repo1 = parse_repo_ls(
        &format!(
            r#"{{"0000000100000000/000000010000000000000003-{SHA_A}.zst":{{"type":"file","size":1,"time":1}},
               "00000002.history":{{"type":"file","size":41,"time":2}}}}"#
        ),
        DEFAULT_SEGMENT_SIZE,
    )
    .unwrap();
    let listings = BTreeMap::from([(RepoIndex::of(1), repo1)]);
    let j = local::judge(
        tl(2),
        &[local_seg("000000010000000000000003", SHA_B)],
        Some(&local_history),
        &theirs,
        &listings,
    );
    assert!(j.push.is_empty() && j.present.is_empty(), "{j:?}");
    let files: Vec<&str> = j.conflicts.iter().map(|c| c.file.as_str()).collect();
    assert_eq!(files, ["00000002.history", "000000010000000000000003"]);
    assert!(j.conflicts[1].detail.contains(SHA_A) && j.conflicts[1].detail.contains(SHA_B));
    assert!(
        j.conflicts[0].detail.contains("0/6000000"),
        "{:?}",
        j.conflicts[0]
    );
}

#[test]
fn listed_checksums_come_from_file_names() {
    let l = parse_repo_ls(
        &format!(
            r#"{{"0000000100000000/000000010000000000000003-{}.gz":{{"type":"file","size":1,"time":1}},
               "000000010000000000000004":{{"type":"file","size":1,"time":1}},
               "000000010000000000000005.partial-{SHA_A}.gz":{{"type":"file","size":1,"time":1}}}}"#,
            SHA_A.to_ascii_uppercase()
        ),
        DEFAULT_SEGMENT_SIZE,
    )
    .unwrap();
    let sums: Vec<Option<String>> = l.files.iter().map(ListedFile::checksum).collect();
    assert_eq!(sums, [Some(SHA_A.to_owned()), None, None]);
    assert!(local::is_wal_file_name(
        "00000002.history",
        DEFAULT_SEGMENT_SIZE
    ));
    assert!(local::is_wal_file_name(
        "000000010000000000000003",
        DEFAULT_SEGMENT_SIZE
    ));
    for bad in [
        "../x",
        "000000010000000000000003.partial",
        "x/00000002.history",
    ] {
        assert!(!local::is_wal_file_name(bad, DEFAULT_SEGMENT_SIZE), "{bad}");
    }
}
