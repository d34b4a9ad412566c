//! Selection against the recorded pgBackRest 2.45 fixtures.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::archive::parse_repo_ls;
use crate::history::{self, TimelineHistories};
use crate::info;
use crate::names::DEFAULT_SEGMENT_SIZE;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/pgbackrest-2.45/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn request(v: serde_json::Value) -> RestoreRequest {
    RestoreRequest::from_pg_pitr(v, None).unwrap()
}

struct Fixture {
    report: info::InfoReport,
    histories: TimelineHistories,
    listings: BTreeMap<RepoIndex, ArchiveListing>,
    marks: Vec<MarkRecord>,
}

impl Fixture {
    fn local() -> Self {
        Fixture {
            report: info::parse(&fixture("info-local-full-incr.json")).unwrap(),
            histories: TimelineHistories::new(),
            listings: BTreeMap::new(),
            marks: Vec::new(),
        }
    }

    fn failover(with_listing: bool) -> Self {
        let mut histories = TimelineHistories::new();
        histories.insert(
            history::parse(TimelineId::new(2).unwrap(), &fixture("00000002.history")).unwrap(),
        );
        let mut listings = BTreeMap::new();
        if with_listing {
            listings.insert(
                RepoIndex::FIRST,
                parse_repo_ls(
                    &fixture("repo-ls-archive-multi-repo1.json"),
                    DEFAULT_SEGMENT_SIZE,
                )
                .unwrap(),
            );
        }
        Fixture {
            report: info::parse(&fixture("info-multi-repo-failover.json")).unwrap(),
            histories,
            listings,
            marks: Vec::new(),
        }
    }

    fn select(&self, req: serde_json::Value) -> Result<Selection> {
        let state = RepoState {
            stanza: &self.report.stanzas[0],
            histories: &self.histories,
            listings: &self.listings,
            marks: &self.marks,
        };
        select(state, &request(req), None)
    }
}

#[test]
fn time_target_takes_newest_set_stopped_before_it() {
    let f = Fixture::local();
    let s = f.select(json!({"time": "2026-11-23 20:27:46+00"})).unwrap();
    assert_eq!(s.set.as_str(), "20261123-202742F");
    assert_eq!(s.rule, Rule::StoppedBeforeTime);
    let s = f.select(json!({"time": "2026-11-23 20:30:00+00"})).unwrap();
    assert_eq!(s.set.as_str(), "20261123-202742F_20261123-202747I");
}

#[test]
fn time_before_every_set_is_outside_the_window_and_says_where_the_window_is() {
    let f = Fixture::local();
    let e = f
        .select(json!({"time": "2026-11-23 20:27:40+00"}))
        .unwrap_err();
    assert_eq!(e.code(), "target_outside_window");
    let text = e.to_string();
    assert!(
        text.contains(
            "repo1 timeline 1: from 2026-11-23 20:27:45+00 (0/2000100, set 20261123-202742F)"
        ),
        "{text}"
    );
}

#[test]
fn lsn_target_takes_newest_set_stopped_at_or_before_it() {
    let f = Fixture::local();
    assert_eq!(
        f.select(json!({"lsn": "0/3027F60"})).unwrap().set.as_str(),
        "20261123-202742F"
    );
    assert_eq!(
        f.select(json!({"lsn": "0/5000050"})).unwrap().set.as_str(),
        "20261123-202742F_20261123-202747I"
    );
    let e = f.select(json!({"lsn": "0/1000000"})).unwrap_err();
    assert_eq!(e.code(), "target_outside_window");
}

#[test]
fn latest_and_immediate_take_the_newest_set() {
    let f = Fixture::local();
    for req in [json!({}), json!({"type": "immediate"})] {
        let s = f.select(req).unwrap();
        assert_eq!(s.set.as_str(), "20261123-202742F_20261123-202747I");
        assert_eq!(s.rule, Rule::Newest);
    }
}

#[test]
fn name_target_uses_mark_then_hint_then_oldest_continuous() {
    let mut f = Fixture::local();
    let s = f.select(json!({"name": "rp1"})).unwrap();
    assert_eq!(s.rule, Rule::OldestContinuous);
    assert_eq!(s.set.as_str(), "20261123-202742F");
    assert_eq!(s.warnings.len(), 1);
    assert_eq!(
        s.pgbackrest_choice.as_ref().unwrap().set.as_str(),
        "20261123-202742F_20261123-202747I"
    );
    assert!(
        s.reason
            .contains("pgBackRest alone would restore 20261123-202742F_20261123-202747I"),
        "{}",
        s.reason
    );

    let s = f
        .select(json!({"name": "rp1", "before": "2026-11-23 20:27:46+00"}))
        .unwrap();
    assert_eq!(s.rule, Rule::StoppedBeforeHint);
    assert_eq!(s.set.as_str(), "20261123-202742F");

    f.marks.push(MarkRecord {
        name: "rp1".parse().unwrap(),
        lsn: "0/3027F60".parse().unwrap(),
        timeline: TimelineId::FIRST,
        time: "2026-11-23T20:27:45.64Z".parse().unwrap(),
    });
    let s = f.select(json!({"name": "rp1"})).unwrap();
    assert_eq!(s.rule, Rule::StoppedBeforeMark);
    assert_eq!(s.set.as_str(), "20261123-202742F");
    assert_eq!(s.target_lsn, Some("0/3027F60".parse().unwrap()));
    assert!(s.warnings.is_empty());
}

#[test]
fn explicit_set_is_used_or_reported_missing() {
    let f = Fixture::local();
    let s = f
        .select(json!({"xid": 726, "set": "20261123-202742F"}))
        .unwrap();
    assert_eq!(s.rule, Rule::Explicit);
    let e = f.select(json!({"set": "20261123-000000F"})).unwrap_err();
    assert_eq!(e.code(), "set_not_found");
    assert!(e.to_string().contains("20261123-202742F (repo1)"), "{e}");
}

#[test]
fn across_repos_the_set_with_least_replay_wins_and_the_reason_says_so() {
    let f = Fixture::failover(false);
    // 20:47:52: after both full sets (repo1 20:47:49, repo2 20:47:51), before the diff.
    let s = f.select(json!({"time": "2026-11-23 20:47:52+00"})).unwrap();
    assert_eq!((s.set.as_str(), s.repo.get()), ("20261123-204750F", 2));
    let theirs = s.pgbackrest_choice.clone().unwrap();
    assert_eq!(
        (theirs.set.as_str(), theirs.repo.get()),
        ("20261123-204746F", 1)
    );
    assert!(
        s.reason
            .contains("pgBackRest alone would restore 20261123-204746F from repo1"),
        "{}",
        s.reason
    );
    assert!(s.reason.contains("16.0 MiB earlier in WAL"), "{}", s.reason);
}

#[test]
fn timeline_decides_which_sets_are_on_the_path() {
    let f = Fixture::failover(false);
    let s = f.select(json!({})).unwrap();
    assert_eq!(s.set.as_str(), "20261123-204746F_20261123-204801I");
    assert_eq!(s.timeline.get(), 2);
    let s = f.select(json!({"timeline": 1})).unwrap();
    assert_eq!(s.set.as_str(), "20261123-204746F_20261123-204752D");
    assert_eq!(s.timeline.get(), 1);
}

#[test]
fn a_hole_in_the_archive_is_reported_with_the_missing_segments() {
    let mut f = Fixture::failover(true);
    let listing = f.listings.get_mut(&RepoIndex::FIRST).unwrap();
    listing
        .files
        .retain(|file| !file.path.contains("000000010000000000000005-"));
    // Only repo1 may be used: repo2 has no listing and would be trusted from info alone.
    let state = RepoState {
        stanza: &f.report.stanzas[0],
        histories: &f.histories,
        listings: &f.listings,
        marks: &f.marks,
    };
    let e = select(
        state,
        &request(json!({"lsn": "0/5800000", "timeline": 1})),
        Some(&[RepoIndex::FIRST]),
    )
    .unwrap_err();
    assert_eq!(e.code(), "wal_gap");
    assert!(e.to_string().contains("000000010000000000000005"), "{e}");
    // A target after the diff set needs no segment before it.
    let s = select(
        state,
        &request(json!({"lsn": "0/6800000", "timeline": 1})),
        Some(&[RepoIndex::FIRST]),
    )
    .unwrap();
    assert_eq!(s.set.as_str(), "20261123-204746F_20261123-204752D");
}

#[test]
fn a_set_passed_over_for_a_hole_is_named_in_the_warnings() {
    // repo2 holds the newer set (WAL from segment 3, stopped in 4) but misses a segment; repo1's
    // archive is complete. The hole may be in the set's own WAL (4) or after it, on the way to
    // the target (5: archived at the target time, so recovery reads it).
    for missing in ["000000010000000000000004", "000000010000000000000005"] {
        let mut f = Fixture::failover(true);
        let mut holed = f.listings[&RepoIndex::FIRST].clone();
        holed
            .files
            .retain(|file| !file.path.contains(&format!("{missing}-")));
        f.listings.insert(RepoIndex::of(2), holed);
        let s = f.select(json!({"time": "2026-11-23 20:47:52+00"})).unwrap();
        assert_eq!(
            (s.set.as_str(), s.repo.get()),
            ("20261123-204746F", 1),
            "{missing}"
        );
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        let w = &s.warnings[0];
        assert!(
            w.starts_with("set 20261123-204750F on repo2 was passed over: the archive in repo2"),
            "{w}"
        );
        assert!(w.contains(missing), "{w}");
    }
    // Nothing passed over, nothing to say.
    let f = Fixture::failover(true);
    let s = f.select(json!({"time": "2026-11-23 20:47:52+00"})).unwrap();
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

/// The failover fixture with timeline 1 running on past the fork (segments 9 and A complete)
/// and timeline 2 begun later: a restore in place forked timeline 2 off an earlier moment of
/// timeline 1.
fn forked_by_a_restore() -> Fixture {
    let mut f = Fixture::failover(true);
    let listing = f.listings.get_mut(&RepoIndex::FIRST).unwrap();
    for file in &mut listing.files {
        if file.file.timeline().get() == 2 {
            file.time += 12;
        }
    }
    for (name, time) in [
        ("000000010000000000000009", 1_795_466_880),
        ("00000001000000000000000A", 1_795_466_884),
    ] {
        let path = format!("0000000100000000/{name}-{}.zst", "0".repeat(40));
        listing.files.push(crate::archive::ListedFile {
            file: crate::names::ArchiveFile::parse(&path, DEFAULT_SEGMENT_SIZE).unwrap(),
            path,
            size: 1,
            time,
        });
    }
    for b in &mut f.report.stanzas[0].backup {
        if b.label.as_str() == "20261123-204746F_20261123-204801I" {
            b.timestamp.start += 12;
            b.timestamp.stop += 12;
        }
    }
    f
}

#[test]
fn a_time_before_a_handover_follows_it_to_the_new_timeline() {
    let f = Fixture::failover(true);
    // Timeline 1 was live (segment 8 archived at :57, the fork at :58), but its WAL ends at
    // the switch point: recovery follows timeline 2, whose WAL holds the switch segment.
    let s = f.select(json!({"time": "2026-11-23 20:47:57+00"})).unwrap();
    assert_eq!(s.timeline.get(), 2, "{}", s.reason);
    assert!(
        s.reason.contains(
            "recovery follows timeline 2: timeline 1 was live at the target time; it ended at \
             0/90000A0, where timeline 2 took over (2026-11-23 20:47:58+00)"
        ),
        "{}",
        s.reason
    );
    let w1 = s
        .windows
        .iter()
        .find(|w| w.repo_key == RepoIndex::FIRST && w.timeline.get() == 1)
        .unwrap();
    let end = w1.end.as_ref().unwrap();
    assert_eq!(
        (end.lsn.to_string(), end.fork.map(TimelineId::get), end.time),
        ("0/90000A0".to_owned(), Some(2), Some(1_795_466_878))
    );
}

#[test]
fn a_time_before_a_restore_forked_lands_on_the_timeline_that_ran_on() {
    let f = forked_by_a_restore();
    let s = f.select(json!({"time": "2026-11-23 20:48:05+00"})).unwrap();
    assert_eq!(
        (s.set.as_str(), s.timeline.get()),
        ("20261123-204746F_20261123-204752D", 1),
        "{}",
        s.reason
    );
    assert!(
        s.reason.contains(
            "timeline 2 forked off it at 0/90000A0 (2026-11-23 20:48:10+00), but its own WAL \
             goes on past the fork"
        ),
        "{}",
        s.reason
    );
    // Timeline 1's window runs to its own last segment, not to the fork.
    let w1 = s
        .windows
        .iter()
        .find(|w| w.repo_key == RepoIndex::FIRST && w.timeline.get() == 1)
        .unwrap();
    let end = w1.end.as_ref().unwrap();
    assert_eq!(
        (end.lsn.to_string(), end.fork),
        ("0/B000000".to_owned(), None)
    );
    // After the fork: the new timeline, and the set taken on it.
    let s = f.select(json!({"time": "2026-11-23 20:48:20+00"})).unwrap();
    assert_eq!(
        (s.set.as_str(), s.timeline.get()),
        ("20261123-204746F_20261123-204801I", 2),
        "{}",
        s.reason
    );
    // Latest follows the newest timeline, as PostgreSQL does.
    assert_eq!(f.select(json!({})).unwrap().timeline.get(), 2);
}

#[test]
fn a_mark_on_a_timeline_left_behind_is_followed_and_checked_against_a_requested_one() {
    let mut f = forked_by_a_restore();
    f.marks.push(MarkRecord {
        name: "after_fork".parse().unwrap(),
        lsn: "0/A000100".parse().unwrap(),
        timeline: TimelineId::FIRST,
        time: jiff::Timestamp::from_second(1_795_466_885).unwrap(),
    });
    let s = f.select(json!({"name": "after_fork"})).unwrap();
    assert_eq!(s.timeline.get(), 1, "{}", s.reason);
    assert!(
        s.reason
            .contains("restore point 'after_fork' was recorded on timeline 1 at 0/A000100"),
        "{}",
        s.reason
    );
    let e = f
        .select(json!({"name": "after_fork", "timeline": 2}))
        .unwrap_err();
    assert_eq!(e.code(), "target_outside_window");
    assert!(
        e.to_string().contains(
            "recorded it on timeline 1 at 0/A000100, which is not on the history of timeline 2"
        ),
        "{e}"
    );
}
