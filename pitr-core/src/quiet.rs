//! A time target in a quiet stretch of WAL: what the archive says about the time after the
//! last commit.
//!
//! PostgreSQL stops a time target only at a commit or abort record after the target. When
//! nothing committed between the last commit in the archive and the target, recovery replays
//! to the end and fails with `recovery ended before configured recovery target was reached`,
//! although the state at that time is well defined: it is the state after the last commit —
//! *if* the archive holds WAL written after the target. A record with a time stamp proves
//! that. PostgreSQL 15 writes these with a time (measured with `pg_waldump` on a quiet
//! server): commits and aborts (the time is in `pg_waldump`'s text), restore points (from
//! `pitr mark`, and the `pgBackRest Archive Check` point that every `pgbackrest check` and so
//! every `pitr check` creates) and checkpoints (time sampled when the checkpoint started, so
//! never later than the record). `pg_waldump` does not print the time of the last two: it is
//! read from the record's bytes, at the position `pg_waldump` names, after its header is
//! checked to be the record `pg_waldump` described.
//!
//! ```text
//! archived segments ──pg_waldump (run::walscan)──► DumpLine ──+ segment bytes──► Stamp
//!   Stamps + target ──decide──► Landing: a commit after it | quiet (stop after the proof) |
//!   not reached (refused) | unknown (restore as asked)
//! ```
//!
//! The text of `pg_waldump` can hold a client's words (a restore point's name, a prepared
//! transaction's id), with newlines. A forged line cannot pass: every line must have the
//! exact form, positions must increase, and each record's `prev` must be the line before it
//! (the output is unfiltered, so consecutive lines are consecutive records) — a line slipped in
//! after a real record breaks the chain at the next real one, and the whole scan is then
//! judged unknown.

use serde::{Deserialize, Serialize};

use crate::names::{Lsn, TargetTime};

/// One record line of `pg_waldump`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpLine {
    /// The resource manager (`XLOG`, `Transaction`, ...).
    pub rmgr: String,
    /// `len (rec/tot)`: the record's total length.
    pub tot_len: u32,
    /// Where the record starts.
    pub lsn: Lsn,
    /// The record before it.
    pub prev: Lsn,
    /// The description after `desc: `.
    pub desc: String,
}

fn lsn_field(s: &str) -> Option<Lsn> {
    s.trim().parse().ok()
}

impl DumpLine {
    /// One line of `pg_waldump` output, e.g. `rmgr: XLOG len (rec/tot): 98/ 98, tx: 0, lsn:
    /// 0/01527B10, prev 0/01527978, desc: RESTORE_POINT rp`; `None` when it has another form.
    pub fn parse(line: &str) -> Option<DumpLine> {
        let rest = line.strip_prefix("rmgr: ")?;
        let (rmgr, rest) = rest.split_once(' ')?;
        let rest = rest.trim_start().strip_prefix("len (rec/tot): ")?;
        let (lens, rest) = rest.split_once(", tx: ")?;
        let (_, tot) = lens.split_once('/')?;
        let tot_len = tot.trim().parse().ok()?;
        let (tx, rest) = rest.split_once(", lsn: ")?;
        tx.trim().parse::<u32>().ok()?;
        let (lsn, rest) = rest.split_once(", prev ")?;
        let (prev, desc) = rest.split_once(", desc: ")?;
        if rmgr.is_empty() || !rmgr.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'/') {
            return None;
        }
        Some(DumpLine {
            rmgr: rmgr.to_owned(),
            tot_len,
            lsn: lsn_field(lsn)?,
            prev: lsn_field(prev)?,
            desc: desc.to_owned(),
        })
    }

    /// The record type: the first word of the description (`COMMIT`, `RESTORE_POINT`, ...).
    pub fn kind(&self) -> &str {
        self.desc.split(' ').next().unwrap_or_default()
    }
}

/// The record lines of one `pg_waldump` run (unfiltered), checked as a chain: every line has
/// the exact form and each record's `prev` is the line before it. `Err` says what broke. A run
/// started inside a segment (`-s`) first says where the first record is (`first record is
/// after 0/59A0000, at 0/59A0080, skipping over 128 bytes`): that line, first only, is skipped.
pub fn parse_dump(text: &str) -> Result<Vec<DumpLine>, String> {
    let mut out: Vec<DumpLine> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || (n == 0 && line.starts_with("first record is after ")) {
            continue;
        }
        let Some(rec) = DumpLine::parse(line) else {
            return Err(format!("line {} of pg_waldump is not a record", n + 1));
        };
        if let Some(before) = out.last() {
            if rec.prev != before.lsn || rec.lsn <= before.lsn {
                return Err(format!(
                    "pg_waldump's record at {} does not follow the one at {}",
                    rec.lsn, before.lsn
                ));
            }
        }
        out.push(rec);
    }
    Ok(out)
}

/// What kind of record carries a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StampKind {
    /// A commit (also of a prepared transaction).
    Commit,
    /// An abort (also of a prepared transaction).
    Abort,
    /// A restore point.
    RestorePoint,
    /// A checkpoint (its time is when it started).
    Checkpoint,
}

impl StampKind {
    fn is_transaction(self) -> bool {
        matches!(self, StampKind::Commit | StampKind::Abort)
    }
}

impl std::fmt::Display for StampKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StampKind::Commit => "commit",
            StampKind::Abort => "abort",
            StampKind::RestorePoint => "restore point",
            StampKind::Checkpoint => "checkpoint",
        })
    }
}

/// A WAL record with a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// What it is.
    pub kind: StampKind,
    /// Where it starts.
    pub lsn: Lsn,
    /// Its time.
    pub time: TargetTime,
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {} ({})", self.kind, self.lsn, self.time)
    }
}

const PAGE: u64 = 8192;
const SHORT_HEADER: u64 = 24;
const LONG_HEADER: u64 = 40;
/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH: i64 = 946_684_800;

/// Where to read the end of a segment's WAL from: `tail` bytes before its last page written
/// (the last whose header carries the first page's magic number and its own address; what
/// follows a WAL switch is zeros), or `None` when that is within `tail` of the segment's start
/// (`start`, the segment's first LSN) and the whole segment is as cheap.
pub fn tail_start(segment: &[u8], start: Lsn, tail: u64) -> Option<Lsn> {
    let magic = segment.get(0..2)?;
    let pages = u64::try_from(segment.len()).ok()? / PAGE;
    let last = (0..pages).rev().find(|p| {
        let at = usize::try_from(p * PAGE).unwrap_or(usize::MAX);
        segment.get(at..at + 2) == Some(magic)
            && segment
                .get(at + 8..at + 16)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                == Some(start.as_u64() + p * PAGE)
    })?;
    let from = (last * PAGE).checked_sub(tail)?;
    (from > 0).then(|| Lsn(start.as_u64() + from))
}

/// `n` bytes of the record at `lsn` from the bytes of the segment holding it (page headers
/// skipped); `None` when they run past the segment.
fn record_bytes(segment: &[u8], segment_size: u64, lsn: Lsn, n: usize) -> Option<Vec<u8>> {
    let mut off = lsn.as_u64() % segment_size;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        if off % PAGE == 0 {
            off += if off == 0 { LONG_HEADER } else { SHORT_HEADER };
        }
        out.push(*segment.get(usize::try_from(off).ok()?)?);
        off += 1;
    }
    Some(out)
}

fn i64_at(bytes: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// The time of a restore point or checkpoint record that `line` describes, read from the
/// segment's bytes: the header must match (`xl_tot_len`, `xl_prev`, resource manager XLOG, the
/// record type) and the main data must have the expected length.
fn raw_time(segment: &[u8], segment_size: u64, line: &DumpLine) -> Option<(StampKind, TargetTime)> {
    // XLogRecord: xl_tot_len u32, xl_xid u32, xl_prev u64, xl_info u8, xl_rmid u8, 2 pad,
    // xl_crc u32 (24 bytes); then XLR_BLOCK_ID_DATA_SHORT (255), the data length, the data.
    let (kind, info, data_len, time_at) = match line.kind() {
        "RESTORE_POINT" => (StampKind::RestorePoint, 0x70, 72, 0),
        "CHECKPOINT_ONLINE" => (StampKind::Checkpoint, 0x10, 88, 64),
        "CHECKPOINT_SHUTDOWN" => (StampKind::Checkpoint, 0x00, 88, 64),
        _ => return None,
    };
    if line.rmgr != "XLOG" || line.tot_len != 24 + 2 + data_len {
        return None;
    }
    let bytes = record_bytes(segment, segment_size, line.lsn, 26 + data_len as usize)?;
    let tot = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?);
    let prev = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
    if tot != line.tot_len
        || prev != line.prev.as_u64()
        || bytes[16] & 0xF0 != info
        || bytes[17] != 0
        || bytes[24] != 0xFF
        || u32::from(bytes[25]) != data_len
    {
        return None;
    }
    let raw = i64_at(&bytes, 26 + time_at)?;
    let ts = match kind {
        // rp_time: microseconds since 2000-01-01.
        StampKind::RestorePoint => {
            jiff::Timestamp::from_microsecond(raw.checked_add(PG_EPOCH.checked_mul(1_000_000)?)?)
        }
        // CheckPoint.time: pg_time_t, Unix seconds.
        _ => jiff::Timestamp::from_second(raw),
    }
    .ok()?;
    Some((kind, TargetTime::from_timestamp(ts)))
}

/// The time of a commit or abort record from its description: `COMMIT 2026-12-02
/// 17:32:34.703193 UTC; ...` (prepared ones: `COMMIT_PREPARED 745: 2026-...`).
fn text_time(line: &DumpLine) -> Option<(StampKind, TargetTime)> {
    if line.rmgr != "Transaction" {
        return None;
    }
    let (kind, rest) = line.desc.split_once(' ')?;
    let kind = match kind {
        "COMMIT" | "COMMIT_PREPARED" => StampKind::Commit,
        "ABORT" | "ABORT_PREPARED" => StampKind::Abort,
        _ => return None,
    };
    let rest = match rest.split_once(": ") {
        Some((xid, r)) if xid.bytes().all(|b| b.is_ascii_digit()) => r,
        _ => rest,
    };
    let stamp = rest.split(';').next()?;
    let ts = crate::recovery::records::log_time(stamp)?;
    Some((kind, TargetTime::from_timestamp(ts)))
}

/// The records with a time among `lines`, read against the bytes of the segment that holds
/// each (`segment_of` answers them for an LSN, `None` when not at hand).
pub fn stamps<'s>(
    lines: &[DumpLine],
    segment_size: u64,
    segment_of: impl Fn(Lsn) -> Option<&'s [u8]>,
) -> Vec<Stamp> {
    lines
        .iter()
        .filter_map(|line| {
            let (kind, time) = text_time(line).or_else(|| {
                let bytes = segment_of(line.lsn)?;
                raw_time(bytes, segment_size, line)
            })?;
            Some(Stamp {
                kind,
                lsn: line.lsn,
                time,
            })
        })
        .collect()
}

/// Where a time target in a quiet stretch lands instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietLanding {
    /// The time asked for.
    pub target: TargetTime,
    /// Recovery stops after the record at this LSN (the proof, or a later commit at or before
    /// the target): every commit up to the target is applied, nothing after it exists.
    pub stop_lsn: Lsn,
    /// The last commit or abort before the target in the WAL read, when one was found there.
    pub last_commit: Option<Stamp>,
    /// The first record written after the target: it proves the archive reaches past it.
    pub proof: Stamp,
}

impl QuietLanding {
    /// The landing in words, for reasons and reports.
    pub fn describe(&self) -> String {
        let last = self.last_commit.map_or_else(
            || "no commit in the WAL read before it".to_owned(),
            |c| format!("the last transaction ended at {} ({c})", c.time),
        );
        format!(
            "nothing committed between the last transaction and {}: {last}; the archive holds \
             WAL written after the target ({}), so recovery stops after {} and the state is \
             the one at {}",
            self.target, self.proof, self.stop_lsn, self.target
        )
    }
}

/// What the archive says about a time target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landing {
    /// A transaction ends after the target: PostgreSQL stops before it, as asked.
    CommitAfter(Stamp),
    /// Nothing committed after the target, and WAL written after it is archived.
    Quiet(QuietLanding),
    /// Nothing committed after the target and nothing archived was written after it: the
    /// archive does not reach the target yet. The newest record with a time, if any.
    NotReached(Option<Stamp>),
    /// Not enough was read to say (the reason); the restore goes ahead as asked.
    Unknown(String),
}

/// Judges a time target from the stamped records read from the first segment archived after
/// it (or earlier) onwards, in WAL order. `to_end` says whether they reach the end of the
/// archive; `floor` is the least LSN recovery may stop at (the restored set's stop).
pub fn decide(
    stamps: &[Stamp],
    target: TargetTime,
    exclusive: bool,
    to_end: bool,
    floor: Lsn,
) -> Landing {
    let t = target.timestamp();
    let ends_after = |s: &Stamp| {
        if exclusive {
            s.time.timestamp() >= t
        } else {
            s.time.timestamp() > t
        }
    };
    if let Some(c) = stamps
        .iter()
        .find(|s| s.kind.is_transaction() && ends_after(s))
    {
        return Landing::CommitAfter(*c);
    }
    if !to_end {
        return Landing::Unknown(
            "the WAL read ends before a transaction after the target".to_owned(),
        );
    }
    let last_commit = stamps.iter().rfind(|s| s.kind.is_transaction()).copied();
    let Some(proof) = stamps
        .iter()
        .find(|s| !s.kind.is_transaction() && s.time.timestamp() > t)
        .copied()
    else {
        return Landing::NotReached(stamps.iter().max_by_key(|s| s.time.timestamp()).copied());
    };
    let stop_lsn = proof
        .lsn
        .max(last_commit.map_or(proof.lsn, |c| c.lsn))
        .max(floor);
    Landing::Quiet(QuietLanding {
        target,
        stop_lsn,
        last_commit,
        proof,
    })
}

#[cfg(test)]
mod tests;
