//! Timeline history files.
//!
//! When a standby is promoted, or a recovery ends, PostgreSQL starts a new timeline and
//! archives `<timeline as 8 hex>.history`: one line per ancestor, oldest first, each
//! `<parent timeline>\t<switch LSN>\t<reason>`. The switch LSN is where the parent's WAL ends
//! on the new timeline's path: WAL before it is shared, WAL from it on belongs to the child.
//! A history file copies its parent's lines, so the file of a timeline alone gives its whole
//! ancestry.
//!
//! [`parse`] reads one file into a [`TimelineHistory`]. A [`TimelineHistories`] collects the
//! files of an archive and answers the questions the recoverable window
//! ([`crate::window`]) and the archive check ([`crate::archive`]) ask: the lineage of a
//! timeline, whether one timeline is an ancestor of another, where a path leaves a timeline,
//! and where a timeline's WAL ends because a child branched off it.
//!
//! ```
//! use pitr_core::history::{self, TimelineHistories};
//! use pitr_core::names::{Lsn, TimelineId};
//!
//! let tl = |n| TimelineId::new(n).unwrap();
//! let h = history::parse(tl(2), "1\t0/90000A0\tno recovery target specified\n")?;
//! let all = TimelineHistories::from_iter([h]);
//! let switch: Lsn = "0/90000A0".parse()?;
//! assert_eq!(all.lineage(tl(2)), vec![(tl(1), Some(switch)), (tl(2), None)]);
//! assert_eq!(all.end_of(tl(1)), Some(switch));
//! assert!(all.contains_point(tl(2), tl(1), "0/9000000".parse()?));
//! assert!(!all.contains_point(tl(2), tl(1), switch));
//! # Ok::<(), pitr_core::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::names::{Lsn, TimelineId};

/// One line of a history file: an ancestor timeline and where the path left it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// The ancestor timeline.
    pub parent: TimelineId,
    /// The first LSN that is no longer on `parent` along this path.
    pub switch_lsn: Lsn,
    /// Why the timeline switched (free text, e.g. `no recovery target specified`).
    pub reason: String,
}

/// The parsed history file of one timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineHistory {
    /// The timeline the file belongs to (`00000002.history` is timeline 2).
    pub timeline: TimelineId,
    /// Its ancestors, oldest first.
    pub entries: Vec<HistoryEntry>,
}

/// Parses the text of the history file of `timeline`.
///
/// Blank lines and lines starting with `#` are skipped. Fields are separated by whitespace
/// (PostgreSQL writes tabs); the reason is the rest of the line. Parent timelines must
/// increase from line to line and stay below `timeline`, as PostgreSQL requires.
pub fn parse(timeline: TimelineId, text: &str) -> Result<TimelineHistory> {
    let what = || format!("timeline history file {:08X}.history", timeline.get());
    let fail = |n: usize, line: &str, why: &str| Error::Parse {
        what: what(),
        message: format!("line {n} '{}': {why}", line.escape_debug()),
    };
    let mut entries: Vec<HistoryEntry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (tli, rest) = next_field(line);
        let (lsn, reason) = next_field(rest);
        let parent = tli
            .parse::<TimelineId>()
            .map_err(|_| fail(i + 1, line, "expected a numeric parent timeline id first"))?;
        let switch_lsn = lsn.parse::<Lsn>().map_err(|_| {
            fail(
                i + 1,
                line,
                "expected '<parent timeline><TAB><switch LSN X/X><TAB><reason>'",
            )
        })?;
        if entries.last().is_some_and(|e| e.parent >= parent) {
            return Err(fail(
                i + 1,
                line,
                "timeline ids must increase from line to line",
            ));
        }
        if parent >= timeline {
            return Err(fail(
                i + 1,
                line,
                &format!("parent timeline {parent} is not below timeline {timeline}"),
            ));
        }
        entries.push(HistoryEntry {
            parent,
            switch_lsn,
            reason: reason.to_owned(),
        });
    }
    Ok(TimelineHistory { timeline, entries })
}

/// Splits off the first whitespace-separated field; the rest has its leading blanks removed.
fn next_field(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(at) => (&s[..at], s[at..].trim_start()),
        None => (s, ""),
    }
}

/// One timeline switch: a timeline, the parent it branched off, where and why (the last line
/// of the timeline's history file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineSwitch {
    /// The new timeline.
    pub timeline: TimelineId,
    /// The timeline it branched off.
    pub parent: TimelineId,
    /// The first LSN on `timeline` that is not on `parent`.
    pub switch_lsn: Lsn,
    /// Why (free text from the history file).
    pub reason: String,
}

/// The history files known for one archive, by timeline.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TimelineHistories {
    by_timeline: BTreeMap<TimelineId, TimelineHistory>,
}

impl FromIterator<TimelineHistory> for TimelineHistories {
    fn from_iter<I: IntoIterator<Item = TimelineHistory>>(iter: I) -> Self {
        let mut all = TimelineHistories::default();
        for h in iter {
            all.insert(h);
        }
        all
    }
}

impl TimelineHistories {
    /// No history at all: every timeline is its own lineage.
    pub fn new() -> Self {
        TimelineHistories::default()
    }

    /// Adds (or replaces) the history of one timeline.
    pub fn insert(&mut self, history: TimelineHistory) {
        self.by_timeline.insert(history.timeline, history);
    }

    /// The history file of `tli`, if known.
    pub fn get(&self, tli: TimelineId) -> Option<&TimelineHistory> {
        self.by_timeline.get(&tli)
    }

    /// Whether no history is known.
    pub fn is_empty(&self) -> bool {
        self.by_timeline.is_empty()
    }

    /// Every known switch, by timeline: each history file's last line.
    pub fn switches(&self) -> Vec<TimelineSwitch> {
        self.by_timeline
            .values()
            .filter_map(|h| {
                let last = h.entries.last()?;
                Some(TimelineSwitch {
                    timeline: h.timeline,
                    parent: last.parent,
                    switch_lsn: last.switch_lsn,
                    reason: last.reason.clone(),
                })
            })
            .collect()
    }

    /// Every timeline the histories mention: those with a file and all their ancestors.
    pub fn timelines(&self) -> BTreeSet<TimelineId> {
        self.by_timeline
            .values()
            .flat_map(|h| h.entries.iter().map(|e| e.parent).chain([h.timeline]))
            .collect()
    }

    /// The path from the oldest known ancestor (normally timeline 1) to `tli`: each timeline
    /// with the LSN where the path leaves it, `None` for `tli` itself.
    ///
    /// Taken from the history file of `tli`, or else from the file of a descendant that
    /// passes through `tli`. Without either, the lineage is `tli` alone.
    pub fn lineage(&self, tli: TimelineId) -> Vec<(TimelineId, Option<Lsn>)> {
        let entries: &[HistoryEntry] = match self.by_timeline.get(&tli) {
            Some(h) => &h.entries,
            None => self
                .by_timeline
                .values()
                .find_map(|h| {
                    let at = h.entries.iter().position(|e| e.parent == tli)?;
                    Some(&h.entries[..at])
                })
                .unwrap_or(&[]),
        };
        entries
            .iter()
            .map(|e| (e.parent, Some(e.switch_lsn)))
            .chain([(tli, None)])
            .collect()
    }

    /// Whether `ancestor` is `tli` or on its lineage.
    pub fn is_ancestor_or_self(&self, ancestor: TimelineId, tli: TimelineId) -> bool {
        ancestor == tli || self.lineage(tli).iter().any(|(t, _)| *t == ancestor)
    }

    /// Where the path to `tli` leaves `ancestor` (`None` when `ancestor` is not a proper
    /// ancestor of `tli`).
    pub fn branch_point(&self, ancestor: TimelineId, tli: TimelineId) -> Option<Lsn> {
        self.lineage(tli)
            .into_iter()
            .find(|(t, _)| *t == ancestor)
            .and_then(|(_, lsn)| lsn)
    }

    /// The known child timeline that branched off `tli` last, with its switch LSN.
    ///
    /// When several children branched off `tli` (a second restore from the same timeline),
    /// the one with the latest switch point is taken: `tli`'s WAL reaches at least that far.
    pub fn child_of(&self, tli: TimelineId) -> Option<(TimelineId, Lsn)> {
        self.by_timeline
            .values()
            .filter_map(|h| {
                let at = h.entries.iter().position(|e| e.parent == tli)?;
                let child = h.entries.get(at + 1).map_or(h.timeline, |e| e.parent);
                Some((child, h.entries[at].switch_lsn))
            })
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// Where `tli`'s WAL ends: the switch point of a known child timeline, if any.
    pub fn end_of(&self, tli: TimelineId) -> Option<Lsn> {
        self.child_of(tli).map(|(_, lsn)| lsn)
    }

    /// Whether the WAL position `lsn`, written on timeline `on_timeline`, is part of `tli`'s
    /// history: `on_timeline` is `tli`, or an ancestor that the path to `tli` leaves after
    /// `lsn` and that no later switch on the path cuts short. PostgreSQL copies the parent's
    /// history verbatim into a new timeline's file, so a restore to a point before the
    /// parent's own switches gives a history whose last switch is earlier than those before
    /// it; recovery along it reads the newest timeline's WAL from that switch on.
    pub fn contains_point(&self, tli: TimelineId, on_timeline: TimelineId, lsn: Lsn) -> bool {
        if on_timeline == tli {
            return true;
        }
        let lineage = self.lineage(tli);
        let Some(at) = lineage.iter().position(|(t, _)| *t == on_timeline) else {
            return false;
        };
        lineage[at..]
            .iter()
            .all(|(_, switch)| switch.is_none_or(|s| lsn < s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tl(n: u32) -> TimelineId {
        TimelineId::new(n).unwrap()
    }

    fn lsn(s: &str) -> Lsn {
        s.parse().unwrap()
    }

    /// 1 ─0/9000000─► 2 ─0/B000000─► 3, and 1 ─0/5000000─► 4 (an earlier restore).
    fn tree() -> TimelineHistories {
        [
            parse(tl(3), "1\t0/9000000\tx\n2\t0/B000000\tbefore 2000-01-01\n").unwrap(),
            parse(tl(4), "1\t0/5000000\tat restore point \"rp\"").unwrap(),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn a_point_is_not_held_by_a_timeline_that_branched_off_before_it() {
        // 1 -0/9000000-> 2 -0/B000000-> 3, then a restore along 3 to 0/5000000 (on 1's
        // part): PostgreSQL writes 3's history and then the new switch, earlier than both.
        let h: TimelineHistories = [
            parse(tl(3), "1\t0/9000000\tx\n2\t0/B000000\tx\n").unwrap(),
            parse(
                tl(4),
                "1\t0/9000000\tx\n2\t0/B000000\tx\n3\t0/5000000\tbefore 2000-01-01\n",
            )
            .unwrap(),
        ]
        .into_iter()
        .collect();
        // A point of timeline 2: held by 3, not by 4 (4 writes its own WAL from 0/5000000).
        assert!(h.contains_point(tl(3), tl(2), lsn("0/A000000")));
        assert!(!h.contains_point(tl(4), tl(2), lsn("0/A000000")));
        // A point of timeline 1 before the restore's switch: held by both.
        assert!(h.contains_point(tl(4), tl(1), lsn("0/4000000")));
        assert!(!h.contains_point(tl(4), tl(1), lsn("0/6000000")));
    }

    #[test]
    fn parses_comments_blank_lines_and_reasons() {
        let h = parse(
            tl(3),
            "# comment\n\n1\t0/9000000\tno recovery target specified\r\n  2 0/B000000\n",
        )
        .unwrap();
        assert_eq!(h.entries.len(), 2);
        assert_eq!(h.entries[0].reason, "no recovery target specified");
        assert_eq!(h.entries[1].reason, "");
        assert_eq!(h.entries[1].switch_lsn, lsn("0/B000000"));
    }

    #[test]
    fn refuses_bad_lines_and_names_them() {
        for (text, needle) in [
            ("x\t0/1\tr", "numeric parent"),
            ("1\t0/1/2\tr", "switch LSN"),
            ("1", "switch LSN"),
            ("0\t0/1\tr", "numeric parent"),
            ("1\t0/1\n1\t0/2", "increase"),
            ("2\t0/1", "not below"),
        ] {
            let e = parse(tl(2), text).unwrap_err();
            assert_eq!(e.code(), "parse_error");
            let msg = e.to_string();
            assert!(
                msg.contains(needle) && msg.contains("00000002.history"),
                "{text}: {msg}"
            );
        }
    }

    #[test]
    fn lineage_ancestry_and_ends() {
        let t = tree();
        assert_eq!(
            t.lineage(tl(3)),
            vec![
                (tl(1), Some(lsn("0/9000000"))),
                (tl(2), Some(lsn("0/B000000"))),
                (tl(3), None)
            ]
        );
        // Timeline 2 has no file of its own: its lineage comes from timeline 3's file.
        assert_eq!(
            t.lineage(tl(2)),
            vec![(tl(1), Some(lsn("0/9000000"))), (tl(2), None)]
        );
        assert_eq!(t.lineage(tl(1)), vec![(tl(1), None)]);
        assert_eq!(t.lineage(tl(9)), vec![(tl(9), None)]);
        assert!(t.is_ancestor_or_self(tl(1), tl(3)));
        assert!(t.is_ancestor_or_self(tl(3), tl(3)));
        assert!(!t.is_ancestor_or_self(tl(4), tl(3)));
        assert!(!t.is_ancestor_or_self(tl(3), tl(1)));
        assert_eq!(t.branch_point(tl(1), tl(4)), Some(lsn("0/5000000")));
        assert_eq!(t.branch_point(tl(3), tl(3)), None);
        assert_eq!(t.child_of(tl(1)), Some((tl(2), lsn("0/9000000"))));
        assert_eq!(t.end_of(tl(2)), Some(lsn("0/B000000")));
        assert_eq!(t.end_of(tl(3)), None);
        let switches = t.switches();
        assert_eq!(
            switches
                .iter()
                .map(|s| (s.timeline.get(), s.parent.get(), s.switch_lsn.to_string()))
                .collect::<Vec<_>>(),
            [
                (3, 2, "0/B000000".to_owned()),
                (4, 1, "0/5000000".to_owned())
            ]
        );
        assert_eq!(switches[0].reason, "before 2000-01-01");
        assert!(t.contains_point(tl(4), tl(1), lsn("0/4FFFFFF")));
        assert!(!t.contains_point(tl(4), tl(1), lsn("0/5000000")));
        assert!(t.contains_point(tl(3), tl(1), lsn("0/6000000")));
        assert!(!t.contains_point(tl(3), tl(4), lsn("0/6000000")));
        assert_eq!(
            t.timelines()
                .into_iter()
                .map(TimelineId::get)
                .collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*", t in 1u32..10) {
            let _ = parse(tl(t), &s);
        }
    }
}
