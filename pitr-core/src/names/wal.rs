//! WAL segment file names and the other files found in a pgBackRest archive.
//!
//! A segment file name is 24 hex digits: timeline, then the segment number split into a "log"
//! and a "seg" part whose split depends on the segment size (16 MiB by default: 256 segments
//! per log). In a pgBackRest repo the archive also holds `.partial` segments (the end of a
//! timeline), `.backup` label files and `.history` files, and every segment file carries a
//! `-<sha1>` checksum and a compression extension: [`ArchiveFile::parse`] reads them all.

use std::fmt;
use std::str::FromStr;

use super::{Lsn, TimelineId, serde_as_string};
use crate::error::Error;

/// The WAL segment size of a cluster, in bytes: a power of two from 1 MiB to 1 GiB.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u64", into = "u64")]
pub struct SegmentSize(u64);

/// PostgreSQL's default segment size, 16 MiB.
pub const DEFAULT_SEGMENT_SIZE: SegmentSize = SegmentSize(16 * 1024 * 1024);

impl SegmentSize {
    /// Validates a segment size in bytes.
    pub fn new(bytes: u64) -> Result<Self, Error> {
        if bytes.is_power_of_two() && (1 << 20..=1 << 30).contains(&bytes) {
            Ok(SegmentSize(bytes))
        } else {
            Err(Error::invalid(
                "WAL segment size",
                bytes.to_string(),
                "expected a power of two from 1 MiB to 1 GiB (PostgreSQL's --wal-segsize)",
            ))
        }
    }

    /// Size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }

    fn per_log(self) -> u64 {
        0x1_0000_0000 / self.0
    }
}

impl Default for SegmentSize {
    fn default() -> Self {
        DEFAULT_SEGMENT_SIZE
    }
}

impl TryFrom<u64> for SegmentSize {
    type Error = Error;
    fn try_from(v: u64) -> Result<Self, Error> {
        SegmentSize::new(v)
    }
}

impl From<SegmentSize> for u64 {
    fn from(v: SegmentSize) -> u64 {
        v.0
    }
}

/// One WAL segment: a timeline and a segment number (for a given segment size).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WalSegment {
    timeline: TimelineId,
    segno: u64,
    size: SegmentSize,
}

const NAME_HINT: &str =
    "expected 24 hex digits (timeline, log, segment), e.g. 000000010000000000000003";

impl WalSegment {
    /// The segment on `timeline` with number `segno`.
    pub fn new(timeline: TimelineId, segno: u64, size: SegmentSize) -> Self {
        WalSegment {
            timeline,
            segno,
            size,
        }
    }

    /// The segment that holds `lsn` on `timeline`.
    pub fn containing(timeline: TimelineId, lsn: Lsn, size: SegmentSize) -> Self {
        WalSegment::new(timeline, lsn.0 / size.0, size)
    }

    /// Parses a 24-hex-digit segment file name (either case) for a given segment size.
    pub fn parse_name(name: &str, size: SegmentSize) -> Result<Self, Error> {
        let bad = || Error::invalid("WAL segment name", name, NAME_HINT);
        if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let field =
            |r: std::ops::Range<usize>| u32::from_str_radix(&name[r], 16).map_err(|_| bad());
        let timeline = TimelineId::new(field(0..8)?).map_err(|_| bad())?;
        let log = u64::from(field(8..16)?);
        let seg = u64::from(field(16..24)?);
        if seg >= size.per_log() {
            return Err(Error::invalid(
                "WAL segment name",
                name,
                format!(
                    "segment part {seg:08X} is too large for {} MiB segments",
                    size.0 >> 20
                ),
            ));
        }
        Ok(WalSegment::new(timeline, log * size.per_log() + seg, size))
    }

    /// The timeline of this segment.
    pub fn timeline(self) -> TimelineId {
        self.timeline
    }

    /// The segment number (position in the WAL stream, independent of timeline).
    pub fn segno(self) -> u64 {
        self.segno
    }

    /// The segment size this segment was read with.
    pub fn size(self) -> SegmentSize {
        self.size
    }

    /// The first WAL location in this segment.
    pub fn start_lsn(self) -> Lsn {
        Lsn(self.segno.saturating_mul(self.size.0))
    }

    /// The first WAL location after this segment. The last segment of the WAL space
    /// (`…FFFFFFFF000000FF` with 16 MiB segments) ends at 2^64, which an LSN cannot hold: its
    /// end is the last location, `FFFFFFFF/FFFFFFFF`, never a wrap to `0/0`.
    pub fn end_lsn(self) -> Lsn {
        Lsn(self.segno.saturating_add(1).saturating_mul(self.size.0))
    }

    /// The next segment on the same timeline.
    #[must_use]
    pub fn next(self) -> WalSegment {
        WalSegment::new(self.timeline, self.segno + 1, self.size)
    }

    /// The same segment number on another timeline.
    #[must_use]
    pub fn on_timeline(self, timeline: TimelineId) -> WalSegment {
        WalSegment::new(timeline, self.segno, self.size)
    }

    /// The 24-hex-digit file name.
    pub fn name(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for WalSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:08X}{:08X}{:08X}",
            self.timeline.get(),
            self.segno / self.size.per_log(),
            self.segno % self.size.per_log()
        )
    }
}

impl fmt::Debug for WalSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WalSegment({self})")
    }
}

impl FromStr for WalSegment {
    type Err = Error;

    /// Parses a segment name assuming the default 16 MiB segment size.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WalSegment::parse_name(s, DEFAULT_SEGMENT_SIZE)
    }
}

serde_as_string!(WalSegment);

/// A file in a pgBackRest WAL archive directory, recognised from its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveFile {
    /// A complete segment (`<24 hex>-<sha1>[.<ext>]`, or a bare name outside a repo).
    Segment(WalSegment),
    /// The partial last segment of a timeline that was ended by a promotion.
    Partial(WalSegment),
    /// A backup label file `<24 hex>.<8 hex offset>.backup` written when a backup starts.
    BackupLabel {
        /// The segment in which the backup started.
        segment: WalSegment,
        /// Byte offset of the backup start within that segment.
        offset: u32,
    },
    /// A timeline history file `<8 hex>.history`.
    History(TimelineId),
}

impl ArchiveFile {
    /// The timeline the file belongs to.
    pub fn timeline(&self) -> TimelineId {
        match self {
            ArchiveFile::Segment(s)
            | ArchiveFile::Partial(s)
            | ArchiveFile::BackupLabel { segment: s, .. } => s.timeline(),
            ArchiveFile::History(t) => *t,
        }
    }

    /// Recognises an archive file name, with or without a directory prefix.
    ///
    /// Returns `None` for names that are none of the above (directories, `archive.info`, ...).
    pub fn parse(path: &str, size: SegmentSize) -> Option<ArchiveFile> {
        let name = path.rsplit('/').next().unwrap_or(path);
        // pgBackRest appends "-<40 hex sha1>" and then an optional compression extension.
        let strip_checksum = |rest: &str| -> Option<()> {
            let rest = rest.strip_prefix('-')?;
            let (sha, ext) = rest.split_at_checked(40)?;
            let sha_ok = sha.bytes().all(|b| b.is_ascii_hexdigit());
            let ext_ok = ext.is_empty()
                || ext
                    .strip_prefix('.')
                    .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric()));
            (sha_ok && ext_ok).then_some(())
        };
        if let Some(tli) = name.strip_suffix(".history") {
            return (tli.len() == 8)
                .then(|| u32::from_str_radix(tli, 16).ok())
                .flatten()
                .and_then(|t| TimelineId::new(t).ok())
                .map(ArchiveFile::History);
        }
        let (head, rest) = name.split_at_checked(24)?;
        let segment = WalSegment::parse_name(head, size).ok()?;
        if rest.is_empty() {
            return Some(ArchiveFile::Segment(segment));
        }
        if let Some(after) = rest.strip_prefix(".partial") {
            return (after.is_empty() || strip_checksum(after).is_some())
                .then_some(ArchiveFile::Partial(segment));
        }
        if let Some(label) = rest
            .strip_prefix('.')
            .and_then(|r| r.strip_suffix(".backup"))
        {
            return (label.len() == 8)
                .then(|| u32::from_str_radix(label, 16).ok())
                .flatten()
                .map(|offset| ArchiveFile::BackupLabel { segment, offset });
        }
        strip_checksum(rest).map(|()| ArchiveFile::Segment(segment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tli(n: u32) -> TimelineId {
        TimelineId::new(n).unwrap()
    }

    #[test]
    fn name_to_parts_and_back() {
        let seg: WalSegment = "00000002000000000000000B".parse().unwrap();
        assert_eq!(seg.timeline(), tli(2));
        assert_eq!(seg.segno(), 11);
        assert_eq!(seg.start_lsn().to_string(), "0/B000000");
        assert_eq!(seg.end_lsn().to_string(), "0/C000000");
        let seg = WalSegment::parse_name("0000000100000001000000FF", DEFAULT_SEGMENT_SIZE).unwrap();
        assert_eq!(seg.segno(), 0x1FF);
        assert_eq!(seg.next().name(), "000000010000000200000000");
        let lsn: Lsn = "0/90000A0".parse().unwrap();
        assert_eq!(
            WalSegment::containing(tli(1), lsn, DEFAULT_SEGMENT_SIZE).name(),
            "000000010000000000000009"
        );
    }

    /// Regression (issue 14): the last segment of a timeline overflowed `end_lsn` (a panic in
    /// debug builds, a wrap to 0/0 in release).
    #[test]
    fn the_last_segment_of_a_timeline_ends_at_the_last_lsn_without_wrapping() {
        let last =
            WalSegment::parse_name("00000001FFFFFFFF000000FF", DEFAULT_SEGMENT_SIZE).unwrap();
        assert_eq!(last.start_lsn().to_string(), "FFFFFFFF/FF000000");
        assert_eq!(last.end_lsn(), Lsn(u64::MAX));
        assert!(last.end_lsn() > last.start_lsn());
        let size = SegmentSize::new(1 << 30).unwrap();
        let last = WalSegment::parse_name("00000003FFFFFFFF00000003", size).unwrap();
        assert_eq!(last.end_lsn(), Lsn(u64::MAX));
        assert_eq!(last.start_lsn().to_string(), "FFFFFFFF/C0000000");
    }

    #[test]
    fn other_segment_sizes() {
        let size = SegmentSize::new(64 << 20).unwrap();
        assert!(WalSegment::parse_name("000000010000000000000040", size).is_err());
        let seg = WalSegment::parse_name("00000001000000010000003F", size).unwrap();
        assert_eq!(seg.segno(), 64 + 63);
        assert_eq!(seg.to_string(), "00000001000000010000003F");
        assert!(SegmentSize::new(3 << 20).is_err());
    }

    #[test]
    fn recognises_repo_listing_names() {
        let s = DEFAULT_SEGMENT_SIZE;
        let p = |n| ArchiveFile::parse(n, s);
        assert_eq!(
            p(
                "0000000100000000/000000010000000000000001-2ae15279f4e3ef60fdafb3132557d8c9157d428b.zst"
            ),
            Some(ArchiveFile::Segment(
                "000000010000000000000001".parse().unwrap()
            ))
        );
        assert_eq!(
            p("000000010000000000000009.partial-a1bc9369e7528953cd8811c4a6aa94d1bde3d03c.zst"),
            Some(ArchiveFile::Partial(
                "000000010000000000000009".parse().unwrap()
            ))
        );
        assert_eq!(
            p("000000010000000000000002.00000028.backup"),
            Some(ArchiveFile::BackupLabel {
                segment: "000000010000000000000002".parse().unwrap(),
                offset: 0x28
            })
        );
        assert_eq!(p("00000002.history"), Some(ArchiveFile::History(tli(2))));
        assert_eq!(
            p("000000010000000000000001"),
            Some(ArchiveFile::Segment(
                "000000010000000000000001".parse().unwrap()
            ))
        );
        for junk in [
            "archive.info",
            "0000000100000000",
            "000000010000000000000001-abc.zst",
            "00000000.history",
            "000000010000000000000001-2ae15279f4e3ef60fdafb3132557d8c9157d428b.",
        ] {
            assert_eq!(p(junk), None, "{junk}");
        }
    }

    proptest! {
        #[test]
        fn name_round_trips(t in 1u32.., log in any::<u32>(), seg in 0u64..256) {
            let segno = u64::from(log) * 256 + seg;
            let w = WalSegment::new(tli(t), segno, DEFAULT_SEGMENT_SIZE);
            prop_assert_eq!(w.name().parse::<WalSegment>().unwrap(), w);
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = s.parse::<WalSegment>();
            let _ = ArchiveFile::parse(&s, DEFAULT_SEGMENT_SIZE);
        }
    }
}
