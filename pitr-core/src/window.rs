//! The recoverable window: from which point to which point a stanza can be recovered, per repo
//! and timeline.
//!
//! Inputs are the stanza from [`crate::info`], the timeline histories from [`crate::history`]
//! and, optionally, a listing of each repo's archive from [`crate::archive`]. For each repo
//! (its current cluster history entry) and each timeline `T` known there, [`windows`] answers:
//!
//! * **Candidates.** Backup sets whose WAL starts on `T` or an ancestor of `T` and which
//!   stopped on `T`'s history (before the branch point when on an ancestor).
//! * **End.** If a known history shows a child timeline branching off `T` at switch LSN `S`,
//!   `T`'s WAL ends at `S` (a switchover or failover handed `T` over), unless the listing
//!   shows `T`'s own WAL going on past `S` (a restore forked the child off an earlier moment
//!   while `T` ran on). Otherwise it ends with the last complete segment on `T`: from the
//!   listing when one is given for the repo, else from `pgbackrest info`'s archive `max` when
//!   that is on `T`. Else the end is unknown (`None`).
//! * **Start.** The stop point of the oldest candidate whose WAL is archived from its first
//!   segment on. With a listing, "archived" means no segment is missing on the way to the end
//!   (see [`ArchiveListing::missing_segments`]); from `info` alone it means the archive's
//!   `min` is not after the set's first segment (info cannot see holes). A candidate that
//!   stopped after the end of `T`'s archive does not qualify either. Without a qualifying
//!   candidate there is no window for that repo and timeline.
//!
//! ```
//! use std::collections::BTreeMap;
//! use pitr_core::{history::TimelineHistories, info, window};
//!
//! let report = info::parse(r#"[{"name":"demo","status":{"code":0,"message":"ok"},
//!   "db":[{"id":1,"repo-key":1,"system-id":1,"version":"15"}],
//!   "archive":[{"id":"15-1","database":{"id":1,"repo-key":1},
//!               "min":"000000010000000000000001","max":"000000010000000000000005"}],
//!   "backup":[{"label":"20261123-202742F","type":"full","prior":null,"reference":null,
//!     "timestamp":{"start":1795465662,"stop":1795465665},
//!     "archive":{"start":"000000010000000000000002","stop":"000000010000000000000002"},
//!     "lsn":{"start":"0/2000028","stop":"0/2000100"},"backrest":{"format":5,"version":"2.45"},
//!     "database":{"id":1,"repo-key":1},"info":{"size":1,"delta":1,"repository":{"delta":1}}}]}]"#)?;
//! let found = window::windows(report.stanza("demo")?, &TimelineHistories::new(), &BTreeMap::new());
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].start.lsn.to_string(), "0/2000100");
//! assert_eq!(found[0].end.as_ref().unwrap().lsn.to_string(), "0/6000000");
//! # Ok::<(), pitr_core::Error>(())
//! ```
//!
//! Choices worth knowing:
//!
//! * Offline backups (no `archive.start`) never start a window: they have no WAL to replay
//!   from. Backups made before pgBackRest 2.38 have no `lsn`; their stop LSN is taken as the
//!   end of their `archive.stop` segment, which is never earlier than the real stop point, so
//!   the window they start is conservative.
//! * Only backup sets of the repo's current cluster (its newest `db` history entry) count:
//!   sets from before a `stanza-upgrade` belong to another cluster. A listing is taken to be
//!   of that cluster's archive id.
//! * Backups flagged with `error` (page checksum errors) still count: pgBackRest restores them.
//! * Segment names in `info` are read with the listing's segment size when a listing is given,
//!   else with PostgreSQL's default of 16 MiB.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::archive::{ArchiveListing, SegmentIndex};
use crate::history::TimelineHistories;
use crate::info::{BackupInfo, StanzaInfo};
use crate::names::{
    BackupLabel, DEFAULT_SEGMENT_SIZE, Lsn, RepoIndex, SegmentSize, TimelineId, WalSegment,
};

/// The span of one repo's archive on one timeline that a restore can reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverableWindow {
    /// The repo key (0 when `info` printed none: pgBackRest before 2.32).
    pub repo_key: RepoIndex,
    /// The timeline recovery would follow.
    pub timeline: TimelineId,
    /// The earliest consistent point.
    pub start: WindowStart,
    /// The last point WAL reaches, if known.
    pub end: Option<WindowEnd>,
}

/// Where a window starts: the stop point of a backup set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowStart {
    /// The backup set.
    pub set: BackupLabel,
    /// Its stop LSN: recovery is consistent from here.
    pub lsn: Lsn,
    /// Its stop time (`timestamp.stop`), epoch seconds.
    pub time: u64,
}

/// Where a window ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowEnd {
    /// The first LSN past the reachable WAL: the switch point to a child timeline, or the end
    /// of the last complete segment.
    pub lsn: Lsn,
    /// The segment holding the end on this timeline (the last complete one, or the switch
    /// segment).
    pub segment: WalSegment,
    /// When the end was reached, epoch seconds, when a listing is given: the archive time of
    /// the child's history file (the promotion) for a fork, else the modification time of the
    /// segment's file.
    pub time: Option<u64>,
    /// The child timeline that took over at the end, when the end is a fork.
    pub fork: Option<TimelineId>,
}

/// The recoverable windows of `stanza`, sorted by repo key and timeline.
///
/// `listings` maps a repo key to a listing of that repo's archive; repos without one are
/// judged from `info` alone.
pub fn windows(
    stanza: &StanzaInfo,
    histories: &TimelineHistories,
    listings: &BTreeMap<RepoIndex, ArchiveListing>,
) -> Vec<RecoverableWindow> {
    let mut out = Vec::new();
    for repo_key in stanza.repo_keys() {
        let Some(repo) = RepoView::new(stanza, repo_key, histories, listings.get(&repo_key)) else {
            continue;
        };
        for timeline in repo.timelines() {
            out.extend(repo.window(timeline));
        }
    }
    out.sort_by_key(|w| (w.repo_key, w.timeline));
    out
}

/// Where `timeline`'s archive ends in repo `repo_key`, whether or not a set can reach it: the
/// switch point to a child timeline, else the end of the last complete segment on `timeline`
/// in `listing` (in `info`'s archive `max` without a listing). A hole in the archive can leave
/// a repo and timeline without a window; this end still tells how far recovery would read.
pub fn archive_end(
    stanza: &StanzaInfo,
    histories: &TimelineHistories,
    listing: Option<&ArchiveListing>,
    repo_key: RepoIndex,
    timeline: TimelineId,
) -> Option<WindowEnd> {
    RepoView::new(stanza, repo_key, histories, listing).and_then(|r| r.end(timeline).0)
}

/// A backup set as far as the window cares.
#[derive(Debug)]
struct Candidate {
    label: BackupLabel,
    /// First WAL segment the set needs.
    start: WalSegment,
    stop_lsn: Lsn,
    stop_time: u64,
}

impl Candidate {
    fn new(b: &BackupInfo, size: SegmentSize) -> Option<Self> {
        let start = resize(b.archive.start?, size);
        let stop_lsn = match b.lsn {
            Some(l) => l.stop,
            // Before 2.38: the end of the stop segment is a safe upper bound.
            None => resize(b.archive.stop?, size).end_lsn(),
        };
        Some(Candidate {
            label: b.label.clone(),
            start,
            stop_lsn,
            stop_time: b.timestamp.stop,
        })
    }
}

/// One repo's current cluster: its sets, archive bounds and listing.
struct RepoView<'a> {
    key: RepoIndex,
    histories: &'a TimelineHistories,
    listing: Option<(&'a ArchiveListing, SegmentIndex)>,
    size: SegmentSize,
    min: Option<WalSegment>,
    max: Option<WalSegment>,
    /// Oldest first by stop LSN, then stop time.
    sets: Vec<Candidate>,
}

impl<'a> RepoView<'a> {
    fn new(
        stanza: &StanzaInfo,
        key: RepoIndex,
        histories: &'a TimelineHistories,
        listing: Option<&'a ArchiveListing>,
    ) -> Option<Self> {
        let db_id = stanza
            .current_db(key)
            .map(|d| d.id)
            .or_else(|| stanza.backups_in_repo(key).map(|b| b.database.id).max())?;
        let size = listing
            .and_then(ArchiveListing::segment_size)
            .unwrap_or(DEFAULT_SEGMENT_SIZE);
        let archive = stanza.archive_for(db_id, key);
        let mut sets: Vec<Candidate> = stanza
            .backups_in_repo(key)
            .filter(|b| b.database.id == db_id)
            .filter_map(|b| Candidate::new(b, size))
            .collect();
        sets.sort_by_key(|c| (c.stop_lsn, c.stop_time));
        Some(RepoView {
            key,
            histories,
            listing: listing.map(|l| (l, SegmentIndex::new(l))),
            size,
            min: archive.and_then(|a| a.min).map(|s| resize(s, size)),
            max: archive.and_then(|a| a.max).map(|s| resize(s, size)),
            sets,
        })
    }

    /// Every timeline known for the repo.
    fn timelines(&self) -> BTreeSet<TimelineId> {
        let mut all = self.histories.timelines();
        all.extend(self.min.iter().chain(&self.max).map(|s| s.timeline()));
        all.extend(self.sets.iter().map(|c| c.start.timeline()));
        if let Some((l, _)) = &self.listing {
            all.extend(l.timelines());
        }
        all
    }

    /// The end of `t`'s archive, and the timeline whose lineage recovery follows to reach it.
    fn end(&self, t: TimelineId) -> (Option<WindowEnd>, TimelineId) {
        let listing = self.listing.as_ref().map(|(l, _)| *l);
        if let Some((child, switch)) = self
            .histories
            .child_of(t)
            .filter(|&(_, switch)| !listing.is_some_and(|l| l.continues_past(t, switch)))
        {
            let segment = WalSegment::containing(t, switch, self.size);
            let time = listing.and_then(|l| {
                l.history_file(child)
                    .or_else(|| l.file_for(segment))
                    .or_else(|| l.file_for(segment.on_timeline(child)))
                    .map(|f| f.time)
            });
            let end = WindowEnd {
                lsn: switch,
                segment,
                time,
                fork: Some(child),
            };
            return (Some(end), child);
        }
        let end = match listing {
            Some(l) => l.last_segment(t).and_then(|f| {
                f.segment().map(|segment| WindowEnd {
                    lsn: segment.end_lsn(),
                    segment,
                    time: Some(f.time),
                    fork: None,
                })
            }),
            None => self
                .max
                .filter(|m| m.timeline() == t)
                .map(|segment| WindowEnd {
                    lsn: segment.end_lsn(),
                    segment,
                    time: None,
                    fork: None,
                }),
        };
        (end, t)
    }

    /// Whether info's archive `min` is not after `start` (a segment on `t`'s lineage).
    fn min_allows(&self, t: TimelineId, start: WalSegment) -> bool {
        let Some(min) = self.min else {
            return false;
        };
        if self.histories.is_ancestor_or_self(min.timeline(), t) {
            min.segno() <= start.segno()
        } else {
            // Unrelated as far as we know: fall back to pgBackRest's name order.
            (min.timeline(), min.segno()) <= (start.timeline(), start.segno())
        }
    }

    fn window(&self, t: TimelineId) -> Option<RecoverableWindow> {
        let (end, walk_target) = self.end(t);
        let candidates = self.sets.iter().filter(|c| {
            let on = c.start.timeline();
            self.histories.is_ancestor_or_self(on, t)
                && self.histories.contains_point(t, on, c.stop_lsn)
                && end.as_ref().is_none_or(|e| c.stop_lsn <= e.lsn)
        });
        let chosen = match (&self.listing, &end) {
            (None, _) => candidates.into_iter().find(|c| self.min_allows(t, c.start)),
            (Some((_, index)), Some(e)) => {
                let mut candidates = candidates.peekable();
                let oldest = candidates.peek()?.start;
                let to = Lsn(e.lsn.as_u64().saturating_sub(1));
                let last_hole = index
                    .gaps(oldest, to, walk_target, self.histories)
                    .last()
                    .map(|g| g.last);
                candidates
                    .into_iter()
                    .find(|c| last_hole.is_none_or(|h| h < c.start.segno()))
            }
            // A listing without WAL on `t`: the set's own WAL must at least be there.
            (Some((_, index)), None) => candidates.into_iter().find(|c| {
                index
                    .gaps(c.start, c.stop_lsn, t, self.histories)
                    .is_empty()
            }),
        }?;
        Some(RecoverableWindow {
            repo_key: self.key,
            timeline: t,
            start: WindowStart {
                set: chosen.label.clone(),
                lsn: chosen.stop_lsn,
                time: chosen.stop_time,
            },
            end,
        })
    }
}

/// `segment` read with segment size `size` (info's names are parsed with the default size).
fn resize(segment: WalSegment, size: SegmentSize) -> WalSegment {
    if segment.size() == size {
        return segment;
    }
    WalSegment::parse_name(&segment.name(), size).unwrap_or(segment)
}

/// Recoverable windows in one line each joined by `; `, for messages and plans.
pub fn describe(windows: &[RecoverableWindow]) -> String {
    if windows.is_empty() {
        return "nothing (no backup set with its WAL archived)".into();
    }
    windows
        .iter()
        .map(|w| {
            let end = match &w.end {
                Some(e) => match (e.fork, e.time) {
                    (Some(child), Some(t)) => format!(
                        "{} (where timeline {child} took over, {})",
                        e.lsn,
                        crate::fmt::epoch(t)
                    ),
                    (Some(child), None) => {
                        format!("{} (where timeline {child} took over)", e.lsn)
                    }
                    (None, Some(t)) => {
                        format!("{} (archived by {})", e.lsn, crate::fmt::epoch(t))
                    }
                    (None, None) => e.lsn.to_string(),
                },
                None => "an unknown end".into(),
            };
            format!(
                "repo{} timeline {}: from {} ({}, set {}) to {end}",
                w.repo_key,
                w.timeline,
                crate::fmt::epoch(w.start.time),
                w.start.lsn,
                w.start.set
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info;

    fn backup(label: &str, db: u32, start: &str, stop: &str, lsn: Option<&str>) -> String {
        let lsn = lsn.map_or(String::new(), |l| {
            format!(r#""lsn":{{"start":"0/1","stop":"{l}"}},"#)
        });
        format!(
            r#"{{"label":"{label}","type":"full","prior":null,"reference":null,
            "timestamp":{{"start":1,"stop":2}},"archive":{{"start":{start},"stop":{stop}}},{lsn}
            "backrest":{{"format":5,"version":"2.30"}},"database":{{"id":{db},"repo-key":1}},
            "info":{{"size":1,"delta":1,"repository":{{"delta":1}}}}}}"#
        )
    }

    fn stanza(backups: &[String]) -> info::StanzaInfo {
        let text = format!(
            r#"[{{"name":"s","status":{{"code":0,"message":"ok"}},
            "db":[{{"id":1,"repo-key":1,"system-id":1,"version":"14"}},
                  {{"id":2,"repo-key":1,"system-id":2,"version":"15"}}],
            "archive":[{{"id":"15-2","database":{{"id":2,"repo-key":1}},
                "min":"000000010000000000000001","max":"000000010000000000000009"}}],
            "backup":[{}]}}]"#,
            backups.join(",")
        );
        info::parse(&text).unwrap().stanzas.remove(0)
    }

    #[test]
    fn pre_2_38_sets_use_the_end_of_their_stop_segment() {
        let s = stanza(&[backup(
            "20200101-000000F",
            2,
            r#""000000010000000000000003""#,
            r#""000000010000000000000004""#,
            None,
        )]);
        let w = windows(&s, &TimelineHistories::new(), &BTreeMap::new());
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].start.lsn.to_string(), "0/5000000");
        assert_eq!(w[0].end.as_ref().unwrap().lsn.to_string(), "0/A000000");
    }

    #[test]
    fn offline_and_older_cluster_sets_do_not_start_windows() {
        let s = stanza(&[
            backup("20200101-000000F", 2, "null", "null", None),
            backup(
                "20200102-000000F",
                1,
                r#""000000010000000000000003""#,
                r#""000000010000000000000003""#,
                Some("0/3000100"),
            ),
        ]);
        assert!(windows(&s, &TimelineHistories::new(), &BTreeMap::new()).is_empty());
    }

    #[test]
    fn sets_stopping_after_the_archive_end_do_not_qualify() {
        let s = stanza(&[backup(
            "20200101-000000F",
            2,
            r#""00000001000000000000000A""#,
            r#""00000001000000000000000A""#,
            Some("0/A000100"),
        )]);
        assert!(windows(&s, &TimelineHistories::new(), &BTreeMap::new()).is_empty());
    }
}
