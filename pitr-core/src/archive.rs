//! Listings of a pgBackRest WAL archive, and what recovery would miss in them.
//!
//! `pgbackrest repo-ls --recurse --output=json archive/<stanza>/<archive id>` prints one JSON
//! object: relative path → `{"type": "path" | "file" | "link", "size", "time"}`.
//! [`parse_repo_ls`] keeps the files whose names pgBackRest's archive uses (complete segments
//! `<24 hex>-<sha1>[.<ext>]`, `.partial` segments, `.backup` labels, `.history` files, see
//! [`ArchiveFile`]) as an [`ArchiveListing`] and drops directories and everything else.
//!
//! `pgbackrest info` only reports the oldest and newest segment of an archive; a listing
//! shows its holes. [`ArchiveListing::missing_segments`] walks the segments that recovery
//! would fetch between a backup's first WAL segment and a target LSN, following the lineage
//! of the target timeline from [`crate::history`], and returns those that are not in the
//! listing. [`crate::window`] uses the same walk to find where the recoverable window starts.
//!
//! ```
//! use pitr_core::archive::parse_repo_ls;
//! use pitr_core::history::TimelineHistories;
//! use pitr_core::names::{DEFAULT_SEGMENT_SIZE, TimelineId};
//!
//! let listing = parse_repo_ls(r#"{".":{"type":"path"},
//!   "0000000100000000/000000010000000000000001-2ae15279f4e3ef60fdafb3132557d8c9157d428b.zst":
//!     {"type":"file","size":1121824,"time":1795466867},
//!   "0000000100000000/000000010000000000000003-c54a14fff00daf34a649bf77c0be837fec21bd9c.zst":
//!     {"type":"file","size":748,"time":1795466870}}"#, DEFAULT_SEGMENT_SIZE)?;
//! let tl1 = TimelineId::FIRST;
//! let missing = listing.missing_segments(
//!     "000000010000000000000001".parse()?, "0/3000100".parse()?, tl1, &TimelineHistories::new());
//! assert_eq!(missing, vec!["000000010000000000000002".parse()?]);
//! assert_eq!(listing.last_segment(tl1).unwrap().time, 1795466870);
//! # Ok::<(), pitr_core::Error>(())
//! ```

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer as _, Serialize};

use crate::error::{Error, Result};
use crate::history::TimelineHistories;
use crate::names::{ArchiveFile, Lsn, SegmentSize, TimelineId, WalSegment};

/// At most this many segments are returned by [`ArchiveListing::missing_segments`]: enough to
/// show that and where an archive is broken, without building a huge list for a nonsense
/// target.
pub const MISSING_SEGMENTS_CAP: usize = 1000;

/// One recognised file of an archive listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedFile {
    /// Path relative to the listed directory, as `repo-ls` printed it.
    pub path: String,
    /// What the name says the file is.
    #[serde(skip)]
    pub file: ArchiveFile,
    /// Size in the repo (compressed, encrypted), bytes.
    pub size: u64,
    /// Modification time, epoch seconds.
    pub time: u64,
}

impl ListedFile {
    /// The segment if this is a complete segment file.
    pub fn segment(&self) -> Option<WalSegment> {
        match self.file {
            ArchiveFile::Segment(s) => Some(s),
            _ => None,
        }
    }

    /// The SHA-1 of the file's uncompressed contents that pgBackRest put into the name of a
    /// complete segment (`<24 hex>-<40 hex sha1>[.<ext>]`), lower case; `None` for other
    /// files and for bare segment names.
    pub fn checksum(&self) -> Option<String> {
        let ArchiveFile::Segment(_) = self.file else {
            return None;
        };
        let name = self.path.rsplit('/').next().unwrap_or(&self.path);
        let sha = name.get(24..)?.strip_prefix('-')?.get(..40)?;
        sha.bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then(|| sha.to_ascii_lowercase())
    }
}

/// The recognised files of one archive directory (`archive/<stanza>/<archive id>`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ArchiveListing {
    /// The files, in the order of the listing.
    pub files: Vec<ListedFile>,
}

/// One value of the listing, borrowing from the input where it can.
#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    size: Option<u64>,
    time: Option<u64>,
}

/// A path key of the listing, borrowed from the input unless it holds escapes.
#[derive(Deserialize)]
struct RawPath<'a>(#[serde(borrow)] Cow<'a, str>);

/// Reads the listing object entry by entry, keeping only archive files: a listing of 100,000
/// WAL files is never held twice.
struct ListingVisitor {
    size: SegmentSize,
}

impl<'de> Visitor<'de> for ListingVisitor {
    type Value = Vec<ListedFile>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of path -> {type, size, time}")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut files = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(RawPath(path)) = map.next_key::<RawPath<'de>>()? {
            let entry: RawEntry<'de> = map.next_value()?;
            if entry.kind != "file" {
                continue;
            }
            let Some(file) = ArchiveFile::parse(&path, self.size) else {
                continue;
            };
            let (Some(size), Some(time)) = (entry.size, entry.time) else {
                return Err(serde::de::Error::custom(format!(
                    "file '{}' has no size or time",
                    path.escape_debug()
                )));
            };
            files.push(ListedFile {
                path: path.into_owned(),
                file,
                size,
                time,
            });
        }
        Ok(files)
    }
}

/// Parses `pgbackrest repo-ls --recurse --output=json` of an archive directory.
///
/// `size` is the cluster's WAL segment size, needed to read segment names.
pub fn parse_repo_ls(text: &str, size: SegmentSize) -> Result<ArchiveListing> {
    let mut de = serde_json::Deserializer::from_str(text);
    let files = de
        .deserialize_map(ListingVisitor { size })
        .and_then(|files| de.end().map(|()| files))
        .map_err(|e| Error::Parse {
            what: "pgbackrest repo-ls output".to_owned(),
            message: e.to_string(),
        })?;
    Ok(ArchiveListing { files })
}

impl ArchiveListing {
    /// The complete segments on `tli`, in WAL order.
    pub fn segments(&self, tli: TimelineId) -> Vec<&ListedFile> {
        let mut out: Vec<&ListedFile> = self
            .files
            .iter()
            .filter(|f| f.segment().is_some_and(|s| s.timeline() == tli))
            .collect();
        out.sort_by_key(|f| f.segment().map(WalSegment::segno));
        out
    }

    /// The newest complete segment on `tli`.
    pub fn last_segment(&self, tli: TimelineId) -> Option<&ListedFile> {
        self.files
            .iter()
            .filter(|f| f.segment().is_some_and(|s| s.timeline() == tli))
            .max_by_key(|f| f.segment().map(WalSegment::segno))
    }

    /// The newest `.partial` segment on `tli` (left behind when a promotion ended `tli`).
    pub fn partial(&self, tli: TimelineId) -> Option<&ListedFile> {
        self.files
            .iter()
            .filter_map(|f| match f.file {
                ArchiveFile::Partial(s) if s.timeline() == tli => Some((s.segno(), f)),
                _ => None,
            })
            .max_by_key(|(segno, _)| *segno)
            .map(|(_, f)| f)
    }

    /// The file holding segment `segment` on its timeline: the complete file, or else the
    /// `.partial` one.
    pub fn file_for(&self, segment: WalSegment) -> Option<&ListedFile> {
        let same =
            |s: WalSegment| s.timeline() == segment.timeline() && s.segno() == segment.segno();
        let find = |partial: bool| {
            self.files.iter().find(|f| match f.file {
                ArchiveFile::Segment(s) => !partial && same(s),
                ArchiveFile::Partial(s) => partial && same(s),
                _ => false,
            })
        };
        find(false).or_else(|| find(true))
    }

    /// Timelines that have a `.history` file in the listing, ascending.
    pub fn history_timelines(&self) -> Vec<TimelineId> {
        let set: BTreeSet<TimelineId> = self
            .files
            .iter()
            .filter_map(|f| match f.file {
                ArchiveFile::History(t) => Some(t),
                _ => None,
            })
            .collect();
        set.into_iter().collect()
    }

    /// The `.history` file of `tli`; its time is when the promotion that began `tli` was
    /// archived.
    pub fn history_file(&self, tli: TimelineId) -> Option<&ListedFile> {
        self.files
            .iter()
            .find(|f| f.file == ArchiveFile::History(tli))
    }

    /// Whether `tli`'s own WAL goes on past `switch`, where a child timeline forked off: a
    /// complete segment on `tli` is listed from the one holding `switch` on.
    ///
    /// A timeline handed over to its child (switchover, failover) ends at the switch point;
    /// its last segment is archived only as `.partial`, under the child's id. One that kept
    /// running while a restore forked a child off an earlier moment has more WAL.
    pub fn continues_past(&self, tli: TimelineId, switch: Lsn) -> bool {
        self.last_segment(tli)
            .and_then(ListedFile::segment)
            .is_some_and(|last| {
                last.segno() >= WalSegment::containing(tli, switch, last.size()).segno()
            })
    }

    /// Every timeline any file of the listing belongs to, ascending.
    pub fn timelines(&self) -> BTreeSet<TimelineId> {
        self.files.iter().map(|f| f.file.timeline()).collect()
    }

    /// The segment size of the listed segments, if there is any segment.
    pub fn segment_size(&self) -> Option<SegmentSize> {
        self.files.iter().find_map(|f| match f.file {
            ArchiveFile::Segment(s)
            | ArchiveFile::Partial(s)
            | ArchiveFile::BackupLabel { segment: s, .. } => Some(s.size()),
            ArchiveFile::History(_) => None,
        })
    }

    /// The segments recovery needs from `from` up to and including the one holding `to_lsn`,
    /// along the lineage of `target`, that are not in the listing (at most
    /// [`MISSING_SEGMENTS_CAP`] of them, oldest first).
    ///
    /// On each timeline of the lineage, segments are read up to the one before the segment
    /// holding the switch point; the switch segment and everything after it come from the
    /// next timeline, because after a promotion PostgreSQL archives the switch segment under
    /// the new timeline id (the old copy becomes `.partial`). Only the segment number of
    /// `from` is used: its timeline is expected to be on the lineage of `target`. The walk
    /// visits the listed files, not every segment number, so it is fast for large archives
    /// and distant targets.
    pub fn missing_segments(
        &self,
        from: WalSegment,
        to_lsn: Lsn,
        target: TimelineId,
        histories: &TimelineHistories,
    ) -> Vec<WalSegment> {
        let index = SegmentIndex::new(self);
        let mut out = Vec::new();
        for gap in index.gaps(from, to_lsn, target, histories) {
            for segno in gap.first..=gap.last {
                if out.len() == MISSING_SEGMENTS_CAP {
                    return out;
                }
                out.push(WalSegment::new(gap.timeline, segno, from.size()));
            }
        }
        out
    }
}

/// A run of missing segments on one timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gap {
    pub(crate) timeline: TimelineId,
    pub(crate) first: u64,
    pub(crate) last: u64,
}

/// The complete segment numbers of a listing per timeline, sorted, for repeated walks.
#[derive(Debug)]
pub(crate) struct SegmentIndex {
    by_timeline: HashMap<TimelineId, Vec<u64>>,
}

impl SegmentIndex {
    pub(crate) fn new(listing: &ArchiveListing) -> Self {
        let mut by_timeline: HashMap<TimelineId, Vec<u64>> = HashMap::new();
        for s in listing.files.iter().filter_map(ListedFile::segment) {
            by_timeline.entry(s.timeline()).or_default().push(s.segno());
        }
        for v in by_timeline.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        SegmentIndex { by_timeline }
    }

    /// The runs of segments missing on the way from `from` to the segment holding `to_lsn`
    /// along the lineage of `target`, oldest first.
    pub(crate) fn gaps(
        &self,
        from: WalSegment,
        to_lsn: Lsn,
        target: TimelineId,
        histories: &TimelineHistories,
    ) -> Vec<Gap> {
        let seg_bytes = from.size().bytes();
        let to = to_lsn.as_u64() / seg_bytes;
        let mut gaps = Vec::new();
        // First segment number read from the current timeline of the lineage.
        let mut begin = 0u64;
        for (tli, leaves_at) in histories.lineage(target) {
            // First segment number read from the next timeline instead.
            let next_begin = leaves_at.map_or(u64::MAX, |l| l.as_u64() / seg_bytes);
            let lo = begin.max(from.segno());
            let hi = to.min(next_begin.saturating_sub(1));
            if next_begin > 0 && lo <= hi {
                self.gaps_on(tli, lo, hi, &mut gaps);
            }
            begin = begin.max(next_begin);
            if begin > to {
                break;
            }
        }
        gaps
    }

    fn gaps_on(&self, timeline: TimelineId, lo: u64, hi: u64, gaps: &mut Vec<Gap>) {
        let present: &[u64] = self.by_timeline.get(&timeline).map_or(&[], Vec::as_slice);
        let start = present.partition_point(|&s| s < lo);
        let mut expect = lo;
        for &s in present[start..].iter().take_while(|&&s| s <= hi) {
            if s > expect {
                gaps.push(Gap {
                    timeline,
                    first: expect,
                    last: s - 1,
                });
            }
            expect = s + 1;
        }
        if expect <= hi {
            gaps.push(Gap {
                timeline,
                first: expect,
                last: hi,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history;
    use crate::names::DEFAULT_SEGMENT_SIZE;
    use proptest::prelude::*;

    fn tl(n: u32) -> TimelineId {
        TimelineId::new(n).unwrap()
    }

    fn seg(name: &str) -> WalSegment {
        name.parse().unwrap()
    }

    fn listing(names: &[&str]) -> ArchiveListing {
        let files = names
            .iter()
            .enumerate()
            .map(|(i, n)| ListedFile {
                path: (*n).to_owned(),
                file: ArchiveFile::parse(n, DEFAULT_SEGMENT_SIZE).unwrap(),
                size: 1,
                time: i as u64,
            })
            .collect();
        ArchiveListing { files }
    }

    #[test]
    fn skips_directories_and_strangers_and_requires_file_metadata() {
        let l = parse_repo_ls(
            r#"{".":{"type":"path"},"archive.info":{"type":"file","size":1,"time":2},
                "00000002.history":{"type":"file","size":41,"time":3,"extra":true},
                "x":{"type":"link"}}"#,
            DEFAULT_SEGMENT_SIZE,
        )
        .unwrap();
        assert_eq!(l.files.len(), 1);
        assert_eq!(l.history_timelines(), vec![tl(2)]);
        let e = parse_repo_ls(
            r#"{"00000002.history":{"type":"file"}}"#,
            DEFAULT_SEGMENT_SIZE,
        )
        .unwrap_err();
        assert!(e.to_string().contains("00000002.history"), "{e}");
        assert_eq!(
            parse_repo_ls("[]", DEFAULT_SEGMENT_SIZE)
                .unwrap_err()
                .code(),
            "parse_error"
        );
    }

    #[test]
    fn follows_the_lineage_and_reads_the_switch_segment_from_the_new_timeline() {
        let h: TimelineHistories = [history::parse(tl(2), "1\t0/90000A0\tx").unwrap()]
            .into_iter()
            .collect();
        let l = listing(&[
            "000000010000000000000007",
            "000000010000000000000008",
            "000000010000000000000009.partial",
            "00000002000000000000000A",
        ]);
        let from = seg("000000010000000000000005");
        assert_eq!(
            l.missing_segments(from, "0/B000001".parse().unwrap(), tl(2), &h),
            [
                "000000010000000000000005",
                "000000010000000000000006",
                "000000020000000000000009",
                "00000002000000000000000B"
            ]
            .map(seg)
        );
        // Without the history, timeline 2 is read from segment 5 on.
        assert_eq!(
            l.missing_segments(
                from,
                "0/A000000".parse().unwrap(),
                tl(2),
                &TimelineHistories::new()
            )
            .len(),
            5
        );
        // On timeline 1 alone, the partial does not count.
        assert_eq!(
            l.missing_segments(
                seg("000000010000000000000007"),
                "0/9000000".parse().unwrap(),
                tl(1),
                &h
            ),
            vec![seg("000000010000000000000009")]
        );
        assert!(
            l.missing_segments(from, "0/4000000".parse().unwrap(), tl(1), &h)
                .is_empty()
        );
        assert_eq!(
            l.partial(tl(1)).unwrap().path,
            "000000010000000000000009.partial"
        );
        assert_eq!(
            l.last_segment(tl(1)).unwrap().path,
            "000000010000000000000008"
        );
        assert_eq!(
            l.file_for(seg("000000010000000000000009")).unwrap().path,
            "000000010000000000000009.partial"
        );
    }

    #[test]
    fn caps_the_result_and_handles_huge_ranges_quickly() {
        let names: Vec<String> = (0..100_000u64)
            .map(|n| WalSegment::new(tl(1), n * 2, DEFAULT_SEGMENT_SIZE).name())
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let l = listing(&refs);
        let m = l.missing_segments(
            seg("000000010000000000000000"),
            Lsn(u64::MAX),
            tl(1),
            &TimelineHistories::new(),
        );
        assert_eq!(m.len(), MISSING_SEGMENTS_CAP);
        assert_eq!(m[0].segno(), 1);
        assert_eq!(m[1].segno(), 3);
        let index = SegmentIndex::new(&l);
        let gaps = index.gaps(
            seg("000000010000000000000000"),
            Lsn(u64::MAX),
            tl(1),
            &TimelineHistories::new(),
        );
        assert_eq!(gaps.len(), 100_000);
        assert_eq!(
            gaps.last().unwrap().last,
            u64::MAX / DEFAULT_SEGMENT_SIZE.bytes()
        );
        assert_eq!(l.segments(tl(1)).len(), 100_000);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse_repo_ls(&s, DEFAULT_SEGMENT_SIZE);
        }

        #[test]
        fn missing_matches_a_naive_scan(present in proptest::collection::btree_set(0u64..40, 0..40), from in 0u64..40, to in 0u64..45) {
            let names: Vec<String> = present.iter().map(|&n| WalSegment::new(tl(1), n, DEFAULT_SEGMENT_SIZE).name()).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let l = listing(&refs);
            let from = WalSegment::new(tl(1), from, DEFAULT_SEGMENT_SIZE);
            let to_lsn = Lsn(to * DEFAULT_SEGMENT_SIZE.bytes() + 5);
            let got: Vec<u64> = l.missing_segments(from, to_lsn, tl(1), &TimelineHistories::new()).iter().map(|s| s.segno()).collect();
            let want: Vec<u64> = (from.segno()..=to).filter(|n| !present.contains(n)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
