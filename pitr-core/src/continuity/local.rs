//! What a primary can push from its own `pg_wal` to close holes in the archive.
//!
//! [`candidates`] reads the names and sizes of the regular files in `pg_wal` ([`LocalEntry`],
//! gathered by `crate::run::pgwal` without following links) and keeps the complete segments
//! (the cluster's segment size, a 24-hex-digit name) of the current timeline's *ancestors* that
//! lie before the point where the lineage leaves each of them. Segments of the current
//! timeline are the archiver's business; an ancestor's switch segment and later ones are not
//! that timeline's WAL as this node knows it (the switch segment continues on the next
//! timeline; a copy that is still there may hold WAL that was never part of this history).
//!
//! [`judge`] then compares each candidate, with its SHA-1 ([`LocalSegment`]), to every repo's
//! listing: pgBackRest puts the SHA-1 of a segment's contents into its archive file name, so a
//! repo's copy is either the same (present), absent (to push), or different (a [`Conflict`]:
//! the repo and this node disagree about the history, and nothing may be pushed). The current
//! timeline's history file is judged too, against the history files read from the archive: a
//! promotion with archiving off, or an archiver that failed right then, leaves it out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::archive::ArchiveListing;
use crate::history::{TimelineHistories, TimelineHistory};
use crate::names::{ArchiveFile, RepoIndex, SegmentSize, TimelineId, WalSegment};

/// A regular file in `pg_wal`: its name and size in bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalEntry {
    /// The file name.
    pub name: String,
    /// Its size.
    pub size: u64,
}

/// A complete segment of an ancestor timeline in `pg_wal`, with the SHA-1 of its contents
/// (lower-case hex) once read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalSegment {
    /// The segment.
    pub segment: WalSegment,
    /// SHA-1 of the file, when known.
    pub sha1: Option<String>,
}

/// A file of `pg_wal` to push, and the repos that lack it (empty when no repo could be
/// listed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct WalFile {
    /// The file name in `pg_wal` (a segment, or `<timeline>.history`).
    pub name: String,
    /// The repos whose archive lacks it.
    pub missing_from: Vec<RepoIndex>,
}

/// A file whose copy in a repo differs from the one in `pg_wal`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The file name.
    pub file: String,
    /// The repo holding the other copy.
    pub repo: RepoIndex,
    /// How they differ.
    pub detail: String,
}

/// What to do with the local files of the current timeline's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WalJudgement {
    /// The current timeline.
    pub timeline: TimelineId,
    /// Files to push: the history file first, then segments oldest first.
    pub push: Vec<WalFile>,
    /// Files every repo holds already, with the same contents.
    pub present: Vec<String>,
    /// Files whose copy in a repo differs.
    pub conflicts: Vec<Conflict>,
    /// What a reader should know (no repo listed, no local history file, ...).
    pub notes: Vec<String>,
}

/// The complete ancestor segments among `entries` (see the module docs), oldest first.
/// `lineage` holds the current timeline's history (the local file, else the archive's).
pub fn candidates(
    entries: &[LocalEntry],
    timeline: TimelineId,
    lineage: &TimelineHistories,
    size: SegmentSize,
) -> Vec<WalSegment> {
    let parts: Vec<(TimelineId, u64, u64)> = super::figure::lineage_parts(lineage, timeline, size)
        .into_iter()
        .filter(|(t, _, _)| *t != timeline)
        .collect();
    let mut out: Vec<WalSegment> = entries
        .iter()
        .filter(|e| e.size == size.bytes() && e.name.len() == 24)
        .filter_map(|e| WalSegment::parse_name(&e.name, size).ok())
        .filter(|s| {
            parts
                .iter()
                .any(|(t, lo, hi)| *t == s.timeline() && (*lo..=*hi).contains(&s.segno()))
        })
        .collect();
    out.sort_by_key(|s| (s.segno(), s.timeline()));
    out.dedup();
    out
}

/// The file of segment `segment` (timeline and number) in `listing`, complete ones only.
fn listed_segment(
    listing: &ArchiveListing,
    segment: WalSegment,
) -> Option<&crate::archive::ListedFile> {
    listing.files.iter().find(|f| {
        f.segment()
            .is_some_and(|s| s.timeline() == segment.timeline() && s.segno() == segment.segno())
    })
}

/// Judges the local files against every repo's listing (see the module docs). `history` is
/// `pg_wal/<timeline>.history` parsed, `None` on timeline 1 or when the file is not there;
/// `archived` holds the history files read from the archive.
pub fn judge(
    timeline: TimelineId,
    segments: &[LocalSegment],
    history: Option<&TimelineHistory>,
    archived: &TimelineHistories,
    listings: &BTreeMap<RepoIndex, ArchiveListing>,
) -> WalJudgement {
    let mut out = WalJudgement {
        timeline,
        push: Vec::new(),
        present: Vec::new(),
        conflicts: Vec::new(),
        notes: Vec::new(),
    };
    if listings.is_empty() {
        out.notes.push(
            "no repo's archive could be listed: every file is pushed, and pgBackRest keeps a \
             copy it already has with the same contents"
                .to_owned(),
        );
    }
    let history_name = format!("{:08X}.history", timeline.get());
    match history {
        None if timeline != TimelineId::FIRST => out.notes.push(format!(
            "pg_wal holds no {history_name}: the archive's copy, if any, cannot be checked"
        )),
        None => {}
        Some(local) => {
            let lacking: Vec<RepoIndex> = listings
                .iter()
                .filter(|(_, l)| !l.history_timelines().contains(&timeline))
                .map(|(k, _)| *k)
                .collect();
            let holder = listings
                .iter()
                .find(|(_, l)| l.history_timelines().contains(&timeline))
                .map(|(k, _)| *k);
            match (archived.get(timeline), holder) {
                (Some(theirs), Some(repo)) if theirs.entries != local.entries => {
                    out.conflicts.push(Conflict {
                        file: history_name.clone(),
                        repo,
                        detail: format!(
                            "the archive's copy names {} switch(es), the last {}; pg_wal's \
                             names {}, the last {}",
                            theirs.entries.len(),
                            describe_last(theirs),
                            local.entries.len(),
                            describe_last(local)
                        ),
                    });
                }
                _ if lacking.is_empty() && !listings.is_empty() => {
                    out.present.push(history_name.clone());
                }
                _ => out.push.push(WalFile {
                    name: history_name.clone(),
                    missing_from: lacking,
                }),
            }
        }
    }
    for local in segments {
        let name = local.segment.name();
        let mut lacking = Vec::new();
        for (key, listing) in listings {
            match listed_segment(listing, local.segment) {
                None => lacking.push(*key),
                Some(file) => {
                    if let (Some(theirs), Some(ours)) = (file.checksum(), local.sha1.as_deref()) {
                        if theirs != ours {
                            out.conflicts.push(Conflict {
                                file: name.clone(),
                                repo: *key,
                                detail: format!(
                                    "the repo's copy has SHA-1 {theirs}, pg_wal's has {ours}"
                                ),
                            });
                        }
                    }
                }
            }
        }
        if lacking.is_empty() && !listings.is_empty() {
            out.present.push(name);
        } else {
            out.push.push(WalFile {
                name,
                missing_from: lacking,
            });
        }
    }
    // A file in conflict somewhere is not pushed anywhere.
    out.push
        .retain(|f| !out.conflicts.iter().any(|c| c.file == f.name));
    out.present
        .retain(|f| !out.conflicts.iter().any(|c| &c.file == f));
    out
}

fn describe_last(h: &TimelineHistory) -> String {
    h.entries.last().map_or_else(
        || "none".to_owned(),
        |e| format!("{} at {}", e.parent, e.switch_lsn),
    )
}

/// Whether `name` is a file [`judge`] may put into a plan: a segment or history file name.
pub fn is_wal_file_name(name: &str, size: SegmentSize) -> bool {
    matches!(
        ArchiveFile::parse(name, size),
        Some(ArchiveFile::Segment(_) | ArchiveFile::History(_))
    ) && !name.contains('/')
        && !name.contains('-')
}
