//! Which timeline recovery follows for a target.
//!
//! A stanza's archive is a tree of timelines: a switchover or failover hands a timeline over to
//! its child (the parent's WAL ends at the switch point), and a point-in-time restore in place
//! forks a child off an earlier moment while the parent's WAL goes on past it. PostgreSQL
//! follows `recovery_target_timeline` (by default the newest timeline in the archive) and
//! stops at the target only if the target lies on that timeline's history; otherwise recovery
//! ends with "recovery ended before configured recovery target was reached" or "requested
//! timeline N is not a child of this server's history". [`choose`] picks the timeline from the
//! target, per repo, with the facts that decided it in words:
//!
//! * **`--timeline N` / `current`** — what the request says (checked against the window later).
//! * **immediate** — the set's own timeline: recovery stops where the set is consistent.
//! * **time** — the timeline that was live at that time: the one whose fork (the archive time
//!   of its `.history` file) is the newest at or before the target. A timeline handed over to
//!   a child, whose WAL ends at the switch point, is followed on to the child: the target may
//!   be after its last commit, and only the child's WAL holds the switch segment whole.
//!   Without a listing there are no fork times, and the rule for latest applies.
//! * **name** with a restore point recorded by `pitr mark` — the newest timeline whose history
//!   passes through the point (its own timeline when a later fork left it behind).
//! * **latest, lsn, xid, name without a record** — the newest timeline descended from the
//!   set's: PostgreSQL's default, minus branches the set is not on.
//!
//! Which sets qualify follows from the choice: a set must lie on the chosen timeline's
//! history before it leaves the set's timeline ([`super`] checks that).

use std::fmt::Write as _;

use crate::archive::ArchiveListing;
use crate::fmt::epoch;
use crate::history::TimelineHistories;
use crate::marks::MarkRecord;
use crate::names::TimelineId;
use crate::target::{RecoveryTarget, TimelineTarget};

/// The timeline recovery follows, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Choice {
    pub(super) timeline: TimelineId,
    pub(super) why: String,
}

/// What the choice looks at for one repo.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timelines<'a> {
    pub(super) histories: &'a TimelineHistories,
    pub(super) listing: Option<&'a ArchiveListing>,
}

/// The timeline to follow for `target` from a set on `set_timeline`.
pub(super) fn choose(
    tl: Timelines<'_>,
    target: &RecoveryTarget,
    requested: Option<TimelineTarget>,
    mark: Option<&MarkRecord>,
    set_timeline: TimelineId,
) -> Choice {
    match (requested, target) {
        (Some(TimelineTarget::Id(t)), _) => Choice {
            timeline: t,
            why: "as requested".to_owned(),
        },
        (Some(TimelineTarget::Current), _) | (None, RecoveryTarget::Immediate) => Choice {
            timeline: set_timeline,
            why: "the set's own timeline".to_owned(),
        },
        (Some(TimelineTarget::Latest), _) => tl.newest_from(set_timeline, "as requested"),
        (None, RecoveryTarget::Time(t)) => tl.live_at(t.unix_seconds(), set_timeline),
        (None, RecoveryTarget::Name(n)) => match mark {
            Some(m) => tl.through_mark(m, set_timeline),
            None => tl.newest_from(
                set_timeline,
                &format!("no `pitr mark` record places restore point '{n}'"),
            ),
        },
        (None, RecoveryTarget::Lsn(_)) => tl.newest_from(
            set_timeline,
            "an LSN is read on the newest timeline's history",
        ),
        (None, RecoveryTarget::Xid(_)) => tl.newest_from(
            set_timeline,
            "a transaction id is read on the newest timeline's history",
        ),
        (None, RecoveryTarget::Latest) => tl.newest_from(set_timeline, "the latest target"),
    }
}

impl Timelines<'_> {
    /// Every timeline the histories and the listing know.
    fn known(&self) -> std::collections::BTreeSet<TimelineId> {
        let mut all = self.histories.timelines();
        if let Some(l) = self.listing {
            all.extend(l.timelines());
        }
        all
    }

    /// The newest timeline whose history passes through `from`.
    fn newest_descendant(&self, from: TimelineId) -> TimelineId {
        self.known()
            .into_iter()
            .filter(|&t| self.histories.is_ancestor_or_self(from, t))
            .max()
            .unwrap_or(from)
    }

    fn newest_from(&self, set_timeline: TimelineId, because: &str) -> Choice {
        let timeline = self.newest_descendant(set_timeline);
        let why = if timeline == set_timeline {
            "the set's timeline; no newer one descends from it".to_owned()
        } else {
            format!(
                "the newest timeline descended from the set's timeline {set_timeline} ({because})"
            )
        };
        Choice { timeline, why }
    }

    /// When `tli` began, epoch seconds: the archive time of its history file (else of its
    /// oldest listed WAL); 0 for a timeline without a parent. `None` when the listing cannot
    /// tell.
    fn fork_time(&self, listing: &ArchiveListing, tli: TimelineId) -> Option<u64> {
        if self.histories.lineage(tli).len() == 1 && listing.history_file(tli).is_none() {
            return Some(0);
        }
        listing.history_file(tli).map(|f| f.time).or_else(|| {
            listing
                .files
                .iter()
                .filter(|f| f.file.timeline() == tli)
                .map(|f| f.time)
                .min()
        })
    }

    /// The timeline that was live at `t`, followed through hand-overs.
    fn live_at(&self, t: i64, set_timeline: TimelineId) -> Choice {
        let Some(listing) = self.listing else {
            return self.newest_from(
                set_timeline,
                "without an archive listing the forks cannot be dated",
            );
        };
        let at_or_before = |time: u64| i64::try_from(time).is_ok_and(|f| f <= t);
        let Some((live, forked)) = self
            .known()
            .into_iter()
            .filter_map(|tli| Some((tli, self.fork_time(listing, tli)?)))
            .filter(|&(_, f)| at_or_before(f))
            .max_by_key(|&(tli, f)| (f, tli))
        else {
            return self.newest_from(set_timeline, "no timeline had begun at the target time");
        };
        let mut why = if forked == 0 {
            format!("timeline {live} was live at the target time")
        } else {
            format!(
                "timeline {live} was live at the target time (it began {})",
                epoch(forked)
            )
        };
        let mut timeline = live;
        while let Some((child, switch)) = self.histories.child_of(timeline) {
            let child_began = self
                .fork_time(listing, child)
                .map_or_else(|| "later".to_owned(), epoch);
            if listing.continues_past(timeline, switch) {
                let _ = write!(
                    why,
                    "; timeline {child} forked off it at {switch} ({child_began}), but its own \
                     WAL goes on past the fork"
                );
                break;
            }
            let _ = write!(
                why,
                "; it ended at {switch}, where timeline {child} took over ({child_began})"
            );
            timeline = child;
        }
        Choice { timeline, why }
    }

    /// The newest timeline whose history holds the restore point `mark` recorded.
    fn through_mark(&self, mark: &MarkRecord, set_timeline: TimelineId) -> Choice {
        let timeline = self
            .known()
            .into_iter()
            .filter(|&t| {
                self.histories.is_ancestor_or_self(set_timeline, t)
                    && self.histories.contains_point(t, mark.timeline, mark.lsn)
            })
            .max()
            .unwrap_or(mark.timeline);
        Choice {
            timeline,
            why: format!(
                "restore point '{}' was recorded on timeline {} at {}, and timeline \
                 {timeline} is the newest whose history holds it",
                mark.name, mark.timeline, mark.lsn
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{ArchiveListing, ListedFile};
    use crate::history;
    use crate::names::TargetTime;
    use crate::names::{ArchiveFile, DEFAULT_SEGMENT_SIZE};

    fn tl(n: u32) -> TimelineId {
        TimelineId::new(n).unwrap()
    }

    fn listing(files: &[(&str, u64)]) -> ArchiveListing {
        ArchiveListing {
            files: files
                .iter()
                .map(|(n, time)| ListedFile {
                    path: (*n).to_owned(),
                    file: ArchiveFile::parse(n, DEFAULT_SEGMENT_SIZE).unwrap(),
                    size: 1,
                    time: *time,
                })
                .collect(),
        }
    }

    fn at(secs: i64) -> RecoveryTarget {
        RecoveryTarget::Time(TargetTime::from_timestamp(
            jiff::Timestamp::from_second(secs).unwrap(),
        ))
    }

    /// Timeline 1 handed over to 2 at 0/5000100 (time 500), 2 to 3 at 0/7000100 (time 700).
    fn handovers() -> (TimelineHistories, ArchiveListing) {
        let h = [
            history::parse(tl(2), "1\t0/5000100\tx").unwrap(),
            history::parse(tl(3), "1\t0/5000100\tx\n2\t0/7000100\ty").unwrap(),
        ]
        .into_iter()
        .collect();
        let l = listing(&[
            ("000000010000000000000004", 400),
            ("000000010000000000000005.partial", 501),
            ("00000002.history", 500),
            ("000000020000000000000005", 550),
            ("000000020000000000000006", 600),
            ("000000020000000000000007.partial", 701),
            ("00000003.history", 700),
            ("000000030000000000000007", 750),
        ]);
        (h, l)
    }

    /// Timeline 1 ran on to segment 9; a restore in place forked 2 off it at 0/5000100 (900).
    fn pitr_branch() -> (TimelineHistories, ArchiveListing) {
        let h = [history::parse(tl(2), "1\t0/5000100\tbefore 2026").unwrap()]
            .into_iter()
            .collect();
        let l = listing(&[
            ("000000010000000000000005", 500),
            ("000000010000000000000009", 800),
            ("00000002.history", 900),
            ("000000020000000000000005", 950),
        ]);
        (h, l)
    }

    #[test]
    fn a_time_before_a_handover_follows_it_to_the_newest_timeline() {
        let (h, l) = handovers();
        let tls = Timelines {
            histories: &h,
            listing: Some(&l),
        };
        for t in [450, 650, 800] {
            let c = choose(tls, &at(t), None, None, tl(1));
            assert_eq!(c.timeline, tl(3), "{t}: {}", c.why);
        }
        let c = choose(tls, &at(450), None, None, tl(1));
        assert!(
            c.why.contains("timeline 1 was live")
                && c.why
                    .contains("it ended at 0/5000100, where timeline 2 took over")
                && c.why.contains("where timeline 3 took over"),
            "{}",
            c.why
        );
    }

    #[test]
    fn a_time_before_a_restore_forked_stays_on_the_timeline_that_went_on() {
        let (h, l) = pitr_branch();
        let tls = Timelines {
            histories: &h,
            listing: Some(&l),
        };
        let c = choose(tls, &at(850), None, None, tl(1));
        assert_eq!(c.timeline, tl(1), "{}", c.why);
        assert!(c.why.contains("goes on past the fork"), "{}", c.why);
        assert_eq!(choose(tls, &at(950), None, None, tl(1)).timeline, tl(2));
        // Without a listing the forks cannot be dated: the newest timeline.
        let blind = Timelines {
            histories: &h,
            listing: None,
        };
        let c = choose(blind, &at(850), None, None, tl(1));
        assert_eq!(c.timeline, tl(2));
        assert!(c.why.contains("cannot be dated"), "{}", c.why);
    }

    #[test]
    fn requests_immediate_and_marks() {
        let (h, l) = pitr_branch();
        let tls = Timelines {
            histories: &h,
            listing: Some(&l),
        };
        let latest = RecoveryTarget::Latest;
        assert_eq!(choose(tls, &latest, None, None, tl(1)).timeline, tl(2));
        assert_eq!(
            choose(tls, &latest, Some(TimelineTarget::Id(tl(1))), None, tl(1)).timeline,
            tl(1)
        );
        assert_eq!(
            choose(tls, &latest, Some(TimelineTarget::Current), None, tl(1)).timeline,
            tl(1)
        );
        assert_eq!(
            choose(tls, &RecoveryTarget::Immediate, None, None, tl(1)).timeline,
            tl(1)
        );
        let name = RecoveryTarget::Name("rp".parse().unwrap());
        let mark = |lsn: &str| MarkRecord {
            name: "rp".parse().unwrap(),
            lsn: lsn.parse().unwrap(),
            timeline: tl(1),
            time: jiff::Timestamp::UNIX_EPOCH,
        };
        // Before the fork: on timeline 2's history too.
        assert_eq!(
            choose(tls, &name, None, Some(&mark("0/5000000")), tl(1)).timeline,
            tl(2)
        );
        // After the fork, on the part of timeline 1 that timeline 2 left behind.
        let c = choose(tls, &name, None, Some(&mark("0/8000000")), tl(1));
        assert_eq!(c.timeline, tl(1), "{}", c.why);
        assert!(
            c.why.contains("recorded on timeline 1 at 0/8000000"),
            "{}",
            c.why
        );
    }
}
