//! The missing-WAL figure of a repo: how many segments a restore along the cluster's history
//! would not find.
//!
//! For a listed repo, [`measure`] follows the lineage of the newest timeline it knows (from
//! the listing's files and the history files): on each ancestor, the segments before the one
//! holding the switch point; on the newest timeline, the rest — the walk of
//! [`ArchiveListing::missing_segments`]. WAL of abandoned branches is not on that path and is
//! not counted. The walk runs
//!
//! * **from** the first segment of the oldest backup set whose WAL starts on the lineage (WAL
//!   before it serves no restore), or, with no such set, from the oldest archived segment on
//!   the lineage;
//! * **to** the newest complete segment archived on the lineage, and at least the last segment
//!   before the newest switch point (a failover's new timeline may not have archived a segment
//!   yet, and the segments before the switch are history all the same), or the set's first
//!   segment, if that is newer: a set whose WAL is not archived yet misses it.
//!
//! A repo that could not be listed has an unknown figure (`missing: None`), never 0.

use serde::Serialize;

use crate::archive::{ArchiveListing, SegmentIndex};
use crate::history::TimelineHistories;
use crate::info::StanzaInfo;
use crate::names::{
    BackupLabel, DEFAULT_SEGMENT_SIZE, Lsn, RepoIndex, SegmentSize, TimelineId, WalSegment,
};

/// How many missing segments a [`RepoContinuity`] names (the count covers them all).
pub const FIRST_MISSING: usize = 10;

/// Whether a repo's archive is whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContinuityStatus {
    /// No segment is missing along the history.
    Whole,
    /// Segments are missing: a restore across them stops at the first.
    Missing,
    /// The archive could not be listed, so holes cannot be seen.
    Unknown,
}

/// The missing-WAL figure of one repo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepoContinuity {
    /// The repo.
    pub repo_key: RepoIndex,
    /// Whole, missing or unknown.
    pub status: ContinuityStatus,
    /// How many segments are missing; `None` when unknown.
    pub missing: Option<u64>,
    /// The timeline whose lineage was followed (the newest one known).
    pub timeline: Option<TimelineId>,
    /// The first segment of the walk.
    pub from: Option<WalSegment>,
    /// The backup set the walk starts at; `None` when it starts at the oldest archived segment.
    pub from_set: Option<BackupLabel>,
    /// The last segment of the walk.
    pub to: Option<WalSegment>,
    /// The first [`FIRST_MISSING`] missing segments, oldest first.
    pub first_missing: Vec<WalSegment>,
    /// Why the figure is unknown, or what else a reader should know.
    pub note: Option<String>,
}

impl RepoContinuity {
    /// An unknown figure, and why.
    pub fn unknown(repo_key: RepoIndex, why: impl Into<String>) -> RepoContinuity {
        RepoContinuity {
            repo_key,
            status: ContinuityStatus::Unknown,
            missing: None,
            timeline: None,
            from: None,
            from_set: None,
            to: None,
            first_missing: Vec::new(),
            note: Some(why.into()),
        }
    }

    fn whole(repo_key: RepoIndex, timeline: Option<TimelineId>, note: &str) -> RepoContinuity {
        RepoContinuity {
            status: ContinuityStatus::Whole,
            missing: Some(0),
            timeline,
            note: Some(note.to_owned()),
            ..RepoContinuity::unknown(repo_key, "")
        }
    }

    /// The figure in words: `whole from A (set L) to B along timeline 2`, `3 segment(s)
    /// missing ...: X, Y, Z`, `unknown: why`.
    pub fn describe(&self) -> String {
        let span = match (self.from, self.to) {
            (Some(from), Some(to)) => format!(
                " from {from}{} to {to} along timeline {}'s history",
                self.from_set
                    .as_ref()
                    .map(|s| format!(" (set {s})"))
                    .unwrap_or_default(),
                self.timeline
                    .map_or_else(|| "?".to_owned(), |t| t.to_string())
            ),
            _ => String::new(),
        };
        match (self.status, self.missing) {
            (ContinuityStatus::Missing, Some(n)) => {
                let names: Vec<String> =
                    self.first_missing.iter().map(ToString::to_string).collect();
                let more = usize::try_from(n)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(names.len());
                format!(
                    "{n} segment(s) missing{span}: {}{}",
                    names.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            }
            (ContinuityStatus::Unknown, _) | (_, None) => format!(
                "unknown: {}",
                self.note.as_deref().unwrap_or("the archive was not listed")
            ),
            _ if span.is_empty() => format!(
                "whole ({})",
                self.note.as_deref().unwrap_or("nothing to walk")
            ),
            _ => format!("whole{span}"),
        }
    }
}

/// Where a backup set's WAL starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetStart {
    /// The set.
    pub label: BackupLabel,
    /// Its first WAL segment.
    pub segment: WalSegment,
}

/// The figure of every repo of `stanza`, by repo key; `listings` holds the repos whose archive
/// could be listed.
pub fn continuity(
    stanza: &StanzaInfo,
    histories: &TimelineHistories,
    listings: &std::collections::BTreeMap<RepoIndex, ArchiveListing>,
) -> Vec<RepoContinuity> {
    stanza
        .repo_keys()
        .into_iter()
        .map(|key| repo_continuity(stanza, histories, listings.get(&key), key))
        .collect()
}

/// The figure of repo `repo_key`: unknown without a listing, else [`measure`]d from the sets
/// of the repo's current cluster (its newest `db` entry).
pub fn repo_continuity(
    stanza: &StanzaInfo,
    histories: &TimelineHistories,
    listing: Option<&ArchiveListing>,
    repo_key: RepoIndex,
) -> RepoContinuity {
    let Some(listing) = listing else {
        return RepoContinuity::unknown(
            repo_key,
            "the archive could not be listed, so holes in it cannot be seen",
        );
    };
    let size = listing.segment_size().unwrap_or(DEFAULT_SEGMENT_SIZE);
    let db = stanza.current_db(repo_key).map(|d| d.id).or_else(|| {
        stanza
            .backups_in_repo(repo_key)
            .map(|b| b.database.id)
            .max()
    });
    let sets: Vec<SetStart> = stanza
        .backups_in_repo(repo_key)
        .filter(|b| Some(b.database.id) == db)
        .filter_map(|b| {
            Some(SetStart {
                label: b.label.clone(),
                segment: resize(b.archive.start?, size),
            })
        })
        .collect();
    measure(repo_key, &sets, histories, listing)
}

/// The figure of one listed repo, walking from the oldest of `sets` on the lineage (see the
/// module docs).
pub fn measure(
    repo_key: RepoIndex,
    sets: &[SetStart],
    histories: &TimelineHistories,
    listing: &ArchiveListing,
) -> RepoContinuity {
    let size = listing.segment_size().unwrap_or(DEFAULT_SEGMENT_SIZE);
    let Some(newest) = listing
        .timelines()
        .into_iter()
        .chain(histories.timelines())
        .max()
    else {
        return RepoContinuity::whole(repo_key, None, "the archive holds no WAL yet");
    };
    let parts = lineage_parts(histories, newest, size);
    let index = SegmentIndex::new(listing);
    // The archived segments on the lineage, in WAL order.
    let on_lineage: Vec<WalSegment> = parts
        .iter()
        .flat_map(|&(tli, lo, hi)| {
            listing
                .segments(tli)
                .into_iter()
                .filter_map(crate::archive::ListedFile::segment)
                .filter(move |s| (lo..=hi).contains(&s.segno()))
        })
        .collect();
    let Some(&last) = on_lineage.last() else {
        return RepoContinuity::whole(
            repo_key,
            Some(newest),
            &format!("no WAL is archived along timeline {newest}'s history yet"),
        );
    };
    // The WAL before the newest switch point is history even when the new timeline has
    // archived nothing yet (right after a failover): a hole just before the switch is counted.
    let before_switch = parts
        .len()
        .checked_sub(2)
        .map(|i| WalSegment::new(parts[i].0, parts[i].2, size));
    let last = before_switch
        .filter(|b| b.segno() > last.segno())
        .unwrap_or(last);
    let set = sets
        .iter()
        .filter(|s| histories.contains_point(newest, s.segment.timeline(), s.segment.start_lsn()))
        .min_by_key(|s| (s.segment.segno(), s.label.clone()));
    let (from, from_set) = match set {
        Some(s) => (s.segment, Some(s.label.clone())),
        None => (on_lineage[0], None),
    };
    let to = if from.segno() > last.segno() {
        segment_on_lineage(&parts, from.segno(), size).unwrap_or(from)
    } else {
        last
    };
    let gaps = index.gaps(
        from,
        Lsn(to.segno().saturating_mul(size.bytes())),
        newest,
        histories,
    );
    let missing: u64 = gaps
        .iter()
        .map(|g| (g.last - g.first).saturating_add(1))
        .fold(0, u64::saturating_add);
    let mut first_missing = Vec::new();
    'outer: for g in &gaps {
        for segno in g.first..=g.last {
            if first_missing.len() == FIRST_MISSING {
                break 'outer;
            }
            first_missing.push(WalSegment::new(g.timeline, segno, size));
        }
    }
    RepoContinuity {
        repo_key,
        status: if missing == 0 {
            ContinuityStatus::Whole
        } else {
            ContinuityStatus::Missing
        },
        missing: Some(missing),
        timeline: Some(newest),
        from: Some(from),
        from_set,
        to: Some(to),
        first_missing,
        note: set.is_none().then(|| {
            "no backup set on this history: measured from the oldest archived segment".to_owned()
        }),
    }
}

/// The lineage of `target` as segment ranges: each timeline with the first and last segment
/// number read from it (the switch segment and what follows come from the next timeline).
pub(crate) fn lineage_parts(
    histories: &TimelineHistories,
    target: TimelineId,
    size: SegmentSize,
) -> Vec<(TimelineId, u64, u64)> {
    let mut parts = Vec::new();
    let mut begin = 0u64;
    for (tli, leaves_at) in histories.lineage(target) {
        let next_begin = leaves_at.map_or(u64::MAX, |l| l.as_u64() / size.bytes());
        if next_begin > begin {
            parts.push((tli, begin, next_begin - 1));
        }
        begin = begin.max(next_begin);
    }
    parts
}

/// The segment with number `segno` on the timeline of the lineage that holds it.
fn segment_on_lineage(
    parts: &[(TimelineId, u64, u64)],
    segno: u64,
    size: SegmentSize,
) -> Option<WalSegment> {
    parts
        .iter()
        .find(|(_, lo, hi)| (*lo..=*hi).contains(&segno))
        .map(|&(tli, _, _)| WalSegment::new(tli, segno, size))
}

/// `segment` read with segment size `size` (info's names are parsed with the default size).
fn resize(segment: WalSegment, size: SegmentSize) -> WalSegment {
    if segment.size() == size {
        return segment;
    }
    WalSegment::parse_name(&segment.name(), size).unwrap_or(segment)
}
