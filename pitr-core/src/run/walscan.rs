//! Reading archived WAL around a time target: `pgbackrest archive-get` and `pg_waldump`, as
//! the database superuser, into a working directory of the stanza's in pgBackRest's log-path
//! (`pitr-<stanza>-walscan`, one pitr at a time, emptied before and after: what a killed scan
//! left is removed by the next one); the judgement is [`crate::quiet`].
//!
//! Only segments archived at or after the target (less a margin for clocks, plus one before
//! them, for the last commit) can hold a record written after it. The newest of them is read
//! first, its last MiB before the rest (where its records end is where its pages stop naming
//! their own address: zeros follow a WAL switch): on a busy cluster that holds a transaction
//! that ends after the target, and settles it. Otherwise they are read in small batches along the lineage of the
//! timeline recovery follows, stopping at the first transaction that ends after the target.
//! `archive-get` runs with `--no-archive-async`, so it never queues into the node's spool.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::files;
use super::pgbackrest::PgBackRest;
use super::user::OsUser;
use crate::archive::ArchiveListing;
use crate::error::{Error, Result};
use crate::history::TimelineHistories;
use crate::names::{Lsn, RepoIndex, TargetTime, TimelineId, WalSegment};
use crate::quiet::{self, Landing, Stamp};

/// Segments fetched and read at a time.
const BATCH: usize = 2;
/// How much of the newest segment's end is read first (a busy cluster's latest commits).
const TAIL_BYTES: u64 = 1 << 20;
/// At most this many segments are read; past them the landing is unknown (restore as asked).
const MAX_SEGMENTS: usize = 64;
/// How long a scan waits for another pitr reading WAL of the stanza into the same directory.
const LOCK_WAIT: Duration = Duration::from_secs(120);
/// Segments archived up to this many seconds before the target may still hold WAL written
/// after it (clocks of the database host and the repo host differ).
const CLOCK_MARGIN_SECS: u64 = 10;

/// What to read.
#[derive(Debug, Clone)]
pub struct Scan<'a> {
    /// pgBackRest for the node's stanza.
    pub pgbackrest: &'a PgBackRest,
    /// PostgreSQL's binaries (`pg_waldump`).
    pub pg_bin_dir: &'a Path,
    /// A directory the database superuser may write into; the scan's working directory
    /// ([`work_dir`]) is made in it.
    pub scratch_parent: &'a Path,
    /// The repo to read.
    pub repo: RepoIndex,
    /// Its archive listing.
    pub listing: &'a ArchiveListing,
    /// Timeline histories.
    pub histories: &'a TimelineHistories,
    /// The timeline recovery follows.
    pub timeline: TimelineId,
    /// The first segment of the restored set.
    pub first_segment: WalSegment,
    /// Where the restored set stopped.
    pub set_stop_lsn: Lsn,
    /// The target.
    pub target: TargetTime,
    /// Whether it is exclusive.
    pub exclusive: bool,
}

/// The segments on the lineage of `tli` from `from` on, one per segment number, in order: a
/// segment of an ancestor counts when it ends before the path to `tli` leaves it.
fn lineage(scan: &Scan<'_>) -> Vec<(WalSegment, u64)> {
    let mut by_segno: BTreeMap<u64, (WalSegment, u64)> = BTreeMap::new();
    for f in &scan.listing.files {
        let Some(s) = f.segment() else { continue };
        let last_byte = Lsn(s.end_lsn().as_u64().saturating_sub(1));
        if s.segno() >= scan.first_segment.segno()
            && scan
                .histories
                .contains_point(scan.timeline, s.timeline(), last_byte)
        {
            by_segno.insert(s.segno(), (s, f.time));
        }
    }
    by_segno.into_values().collect()
}

/// The scan's working directory in `parent`: one fixed name per stanza
/// (`pitr-<stanza>-walscan`), so that what a killed scan left is removed by the next one
/// ([`files::WorkDir`]).
pub fn work_dir(parent: &Path, stanza: &str) -> PathBuf {
    parent.join(format!("pitr-{stanza}-walscan"))
}

/// Removes what a killed scan left in its working directory in `parent`, when no other pitr
/// uses it; returns the paths removed.
pub fn remove_leftovers(parent: &Path, stanza: &str, user: &OsUser) -> Vec<PathBuf> {
    let path = work_dir(parent, stanza);
    if !files::exists_nofollow(&path) {
        return Vec::new();
    }
    files::WorkDir::acquire(&path, 0o700, Some(user), Duration::ZERO).map_or_else(
        |_| Vec::new(),
        |(_, left)| left.iter().map(|n| path.join(n)).collect(),
    )
}

/// Judges the time target of `scan` from the archive. Failures to read are an
/// [`Landing::Unknown`], never an error: the restore then goes ahead as asked.
pub fn landing(scan: &Scan<'_>) -> Landing {
    let path = work_dir(scan.scratch_parent, scan.pgbackrest.stanza.as_str());
    match files::WorkDir::acquire(&path, 0o700, Some(&scan.pgbackrest.user), LOCK_WAIT) {
        Ok((dir, _)) => read(scan, &dir).unwrap_or_else(|e| Landing::Unknown(e.to_string())),
        Err(e) => Landing::Unknown(format!("cannot use a working directory: {e}")),
    }
}

fn read(scan: &Scan<'_>, work: &files::WorkDir) -> Result<Landing> {
    let dir = work.path();
    let segments = lineage(scan);
    let t = u64::try_from(scan.target.unix_seconds()).unwrap_or(0);
    let Some(first) = segments
        .iter()
        .position(|(_, time)| time.saturating_add(CLOCK_MARGIN_SECS) >= t)
    else {
        return Ok(Landing::NotReached(None));
    };
    let todo = &segments[first.saturating_sub(1)..];
    let size = scan.first_segment.size().bytes();
    // A transaction in `stamps` that ends after the target settles it; WAL read so far only.
    let commit_after = |stamps: &[Stamp]| match quiet::decide(
        stamps,
        scan.target,
        scan.exclusive,
        false,
        scan.set_stop_lsn,
    ) {
        judged @ Landing::CommitAfter(_) => Some(judged),
        _ => None,
    };
    // On a busy cluster the newest archived segment holds a commit after the target: one
    // segment read, and recovery stops at that commit or an earlier one after the target.
    // Its last stretch holds the latest commits: read that first, the whole segment only when
    // no commit there ends after the target.
    if let Some((newest, _)) = todo.last() {
        fetch(scan, dir, *newest)?;
        let bytes = read_segment(scan, &dir.join(newest.name()))?;
        let tail = quiet::tail_start(&bytes, newest.start_lsn(), TAIL_BYTES);
        for from in tail.into_iter().map(Some).chain([None]) {
            let lines = dump(scan, dir, &[*newest], from)?;
            if let Some(judged) = commit_after(&quiet::stamps(&lines, size, |_| None)) {
                return Ok(judged);
            }
        }
    }
    if todo.len() > MAX_SEGMENTS {
        return Ok(Landing::Unknown(format!(
            "{} segments were archived after the target; pitr reads at most {MAX_SEGMENTS}",
            todo.len()
        )));
    }
    let mut stamps: Vec<Stamp> = Vec::new();
    let mut seen_until = Lsn(0);
    let mut prev: Option<WalSegment> = None;
    for batch in batches(todo) {
        // The segment before the batch stays, so a record that crosses into the batch is read.
        let mut names: Vec<WalSegment> = Vec::new();
        if let Some(p) = prev.filter(|p| p.timeline() == batch[0].timeline()) {
            if p.segno() + 1 == batch[0].segno() {
                names.push(p);
            }
        }
        for s in &batch {
            fetch(scan, dir, *s)?;
            names.push(*s);
        }
        let lines = dump(scan, dir, &names, None)?;
        let last = *batch.last().unwrap_or(&batch[0]);
        if !lines.iter().any(|l| l.lsn >= last.start_lsn()) {
            return Ok(Landing::Unknown(format!(
                "pg_waldump read nothing that starts in segment {last}"
            )));
        }
        let new: Vec<quiet::DumpLine> = lines.into_iter().filter(|l| l.lsn >= seen_until).collect();
        if let Some(l) = new.last() {
            seen_until = Lsn(l.lsn.as_u64() + 1);
        }
        let mut bytes: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for l in new.iter().filter(|l| l.rmgr == "XLOG") {
            let segno = l.lsn.as_u64() / size;
            if bytes.contains_key(&segno) {
                continue;
            }
            if let Some(s) = names.iter().find(|s| s.segno() == segno) {
                bytes.insert(segno, read_segment(scan, &dir.join(s.name()))?);
            }
        }
        stamps.extend(quiet::stamps(&new, size, |lsn| {
            bytes.get(&(lsn.as_u64() / size)).map(Vec::as_slice)
        }));
        // Only the last segment is needed for the next batch.
        for s in names.iter().filter(|s| **s != last) {
            work.remove(&s.name())?;
        }
        prev = Some(last);
        if let Some(judged) = commit_after(&stamps) {
            return Ok(judged);
        }
    }
    Ok(quiet::decide(
        &stamps,
        scan.target,
        scan.exclusive,
        true,
        scan.set_stop_lsn,
    ))
}

/// Consecutive segments of one timeline, at most [`BATCH`] at a time.
fn batches(todo: &[(WalSegment, u64)]) -> Vec<Vec<WalSegment>> {
    let mut out: Vec<Vec<WalSegment>> = Vec::new();
    for (s, _) in todo {
        match out.last_mut() {
            Some(b)
                if b.len() < BATCH
                    && b.last().is_some_and(|l| {
                        l.timeline() == s.timeline() && l.segno() + 1 == s.segno()
                    }) =>
            {
                b.push(*s);
            }
            _ => out.push(vec![*s]),
        }
    }
    out
}

fn fetch(scan: &Scan<'_>, dir: &Path, segment: WalSegment) -> Result<()> {
    let dest: PathBuf = dir.join(segment.name());
    if files::exists_nofollow(&dest) {
        // Fetched already (the newest segment, read first).
        return Ok(());
    }
    let argv = scan.pgbackrest.argv(
        "archive-get",
        &[format!("--repo={}", scan.repo), "--no-archive-async".into()],
        &[segment.name(), dest.to_string_lossy().into_owned()],
    );
    let mut cmd = scan.pgbackrest.user.command(&argv[0])?;
    cmd.args(&argv[1..]);
    super::exec::run_capture(cmd, "pgbackrest archive-get").map(drop)
}

/// `pg_waldump` over `names` (consecutive, one timeline), from the first record at or after
/// `from` (inside the first) when given, its records checked as a chain.
fn dump(
    scan: &Scan<'_>,
    dir: &Path,
    names: &[WalSegment],
    from: Option<Lsn>,
) -> Result<Vec<quiet::DumpLine>> {
    let (Some(first), Some(last)) = (names.first(), names.last()) else {
        return Ok(Vec::new());
    };
    let bin = scan.pg_bin_dir.join("pg_waldump");
    let mut cmd = scan.pgbackrest.user.command(&bin)?;
    cmd.arg(format!("--path={}", dir.display()));
    if let Some(lsn) = from {
        cmd.arg(format!("--start={lsn}"));
    }
    cmd.arg(first.name()).arg(last.name()).stdin(Stdio::null());
    // pg_waldump exits 1 where the WAL it was given ends; its records up to there count.
    let out = cmd.output().map_err(|source| Error::Spawn {
        program: bin.display().to_string(),
        source,
    })?;
    quiet::parse_dump(&String::from_utf8_lossy(&out.stdout)).map_err(|why| Error::CommandFailed {
        what: "pg_waldump".into(),
        status: out.status.to_string(),
        output: why,
    })
}

fn read_segment(scan: &Scan<'_>, path: &Path) -> Result<Vec<u8>> {
    let mut file = files::open_read(path, Some(&scan.pgbackrest.user))?;
    let mut bytes = Vec::new();
    let cap = scan.first_segment.size().bytes();
    (&mut file)
        .take(cap)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("cannot read", path, e))?;
    Ok(bytes)
}
