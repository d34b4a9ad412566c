use super::*;

/// `pg_waldump` of a quiet PostgreSQL 15.18 (recorded): a commit, a restore point, a
/// checkpoint, then a WAL switch.
const DUMP: &str = include_str!("quiet-pg15.waldump");
const SEG: u64 = 16 << 20;
/// The bytes of the restore point (at 0/01527B10) and of the checkpoint (at 0/01527BB0), as
/// recorded from the same segment.
const RP: &str = "62000000000000007879520100000000700000000f99c676ff48ae5d51cca8040300727000968855000010f33342fd7f00001864268a88550000683e629688550000984d6e9688550000c04a6e9688550000b04c6e968855000030f33342fd7f0000";
const CKPT: &str = "7200000000000000787b520100000000100000002bf4f524ff58787b52010000000001000000010000000100000000000000d502000000000000006000000100000000000000cc020000010000000100000001000000000000003756106b000000000000000000000000d502000000000000";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn segment() -> Vec<u8> {
    let mut seg = vec![0u8; usize::try_from(SEG).unwrap()];
    for (lsn, rec) in [(0x0152_7B10usize, RP), (0x0152_7BB0, CKPT)] {
        let off = lsn % usize::try_from(SEG).unwrap();
        let bytes = hex(rec);
        seg[off..off + bytes.len()].copy_from_slice(&bytes);
    }
    seg
}

fn time(s: &str) -> TargetTime {
    s.parse().unwrap()
}

fn recorded_stamps() -> Vec<Stamp> {
    let lines = parse_dump(DUMP).unwrap();
    let seg = segment();
    stamps(&lines, SEG, |_| Some(seg.as_slice()))
}

#[test]
fn a_quiet_pg15_gives_a_commit_a_restore_point_and_a_checkpoint_with_times() {
    let s = recorded_stamps();
    let shown: Vec<String> = s.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "commit at 0/1527978 (2026-12-02 17:32:36.798122+00)",
            "restore point at 0/1527B10 (2026-12-02 17:32:39.033262+00)",
            "checkpoint at 0/1527BB0 (2026-12-02 17:32:39+00)",
        ]
    );
}

#[test]
fn a_target_after_the_last_commit_lands_after_the_first_later_record() {
    let s = recorded_stamps();
    let floor = Lsn(0x0100_0000);
    // Between the commit and the restore point: quiet, proven by the restore point.
    let Landing::Quiet(q) = decide(&s, time("2026-12-02 17:32:38+00"), false, true, floor) else {
        panic!("not quiet");
    };
    assert_eq!(q.proof.kind, StampKind::RestorePoint);
    assert_eq!(q.stop_lsn, Lsn(0x0152_7B10));
    assert_eq!(q.last_commit.unwrap().lsn, Lsn(0x0152_7978));
    assert!(
        q.describe()
            .contains("the last transaction ended at 2026-12-02 17:32:36.798122+00")
    );
    // After the checkpoint's time: nothing archived was written after it.
    let Landing::NotReached(Some(last)) =
        decide(&s, time("2026-12-02 17:32:39.5+00"), false, true, floor)
    else {
        panic!("reached");
    };
    assert_eq!(last.kind, StampKind::RestorePoint);
    // Before the commit: PostgreSQL stops there itself.
    assert!(matches!(
        decide(&s, time("2026-12-02 17:32:36+00"), false, true, floor),
        Landing::CommitAfter(c) if c.lsn == Lsn(0x0152_7978)
    ));
    // Exclusive at the commit's own time: it ends at the target, so it is "after" it.
    assert!(matches!(
        decide(&s, time("2026-12-02 17:32:36.798122+00"), true, true, floor),
        Landing::CommitAfter(_)
    ));
    // Without the end of the archive read, nothing can be said.
    assert!(matches!(
        decide(&s, time("2026-12-02 17:32:38+00"), false, false, floor),
        Landing::Unknown(_)
    ));
    // Never before the restored set's stop.
    let Landing::Quiet(q) = decide(
        &s,
        time("2026-12-02 17:32:38+00"),
        false,
        true,
        Lsn(0x0200_0000),
    ) else {
        panic!("not quiet");
    };
    assert_eq!(q.stop_lsn, Lsn(0x0200_0000));
}

#[test]
fn a_forged_line_breaks_the_chain_and_is_never_read() {
    // A restore point named with a newline and a line of its own.
    let forged = DUMP.replacen(
        "desc: RESTORE_POINT rp\n",
        "desc: RESTORE_POINT rp\nrmgr: Transaction len (rec/tot):     66/    66, tx:        999, \
         lsn: 0/01527B40, prev 0/01527B10, desc: COMMIT 2030-01-01 00:00:00.000000 UTC\n",
        1,
    );
    let e = parse_dump(&forged).unwrap_err();
    assert!(e.contains("does not follow"), "{e}");
    assert!(parse_dump("rmgr: XLOG garbage\n").is_err());
    assert!(
        DumpLine::parse("rmgr: XLOG len (rec/tot): 1/ 1, tx: x, lsn: 0/1, prev 0/0, desc: A")
            .is_none()
    );
}

#[test]
fn a_record_header_that_does_not_match_the_line_gives_no_time() {
    let lines = parse_dump(DUMP).unwrap();
    // Bytes that are not the restore point pg_waldump described (a different prev).
    let mut seg = segment();
    seg[0x0052_7B10 + 8] ^= 0xFF;
    let s = stamps(&lines, SEG, |_| Some(seg.as_slice()));
    assert!(s.iter().all(|s| s.kind != StampKind::RestorePoint), "{s:?}");
    // No bytes at hand: only the commit's printed time.
    let s = stamps(&lines, SEG, |_| None);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].kind, StampKind::Commit);
}

#[test]
fn a_record_across_a_page_boundary_is_read_around_the_page_header() {
    let rec = hex(RP);
    let mut seg = vec![0u8; 3 * 8192];
    // The record starts 50 bytes before the second page ends; the third page has a short header.
    let start = 2 * 8192 - 50;
    seg[start..start + 50].copy_from_slice(&rec[..50]);
    seg[2 * 8192 + 24..2 * 8192 + 24 + rec.len() - 50].copy_from_slice(&rec[50..]);
    let line = DumpLine {
        rmgr: "XLOG".into(),
        tot_len: 98,
        lsn: Lsn(start as u64),
        prev: Lsn(0x0152_7978),
        desc: "RESTORE_POINT rp".into(),
    };
    let (kind, t) = raw_time(&seg, SEG, &line).unwrap();
    assert_eq!(kind, StampKind::RestorePoint);
    assert_eq!(t.to_string(), "2026-12-02 17:32:39.033262+00");
    // Cut off at the end of what is at hand: no time.
    assert!(raw_time(&seg[..2 * 8192 + 30], SEG, &line).is_none());
}

/// A segment at `start` whose first `written` pages carry PostgreSQL 15's page headers (magic
/// 0xD110, their own address) and whose rest is zeros, as after a WAL switch.
fn written_pages(start: u64, written: u64) -> Vec<u8> {
    let mut seg = vec![0u8; usize::try_from(SEG).unwrap()];
    for p in 0..written {
        let at = usize::try_from(p * PAGE).unwrap();
        seg[at..at + 2].copy_from_slice(&0xD110u16.to_le_bytes());
        seg[at + 8..at + 16].copy_from_slice(&(start + p * PAGE).to_le_bytes());
    }
    seg
}

#[test]
fn the_tail_of_a_segment_starts_before_its_last_page_written() {
    let start = 0x0500_0000;
    // Switched after 2 MiB: the tail is the MiB before its last page.
    let seg = written_pages(start, 256);
    assert_eq!(
        tail_start(&seg, Lsn(start), 1 << 20),
        Some(Lsn(start + 255 * PAGE - (1 << 20)))
    );
    // A full segment.
    let full = written_pages(start, SEG / PAGE);
    assert_eq!(
        tail_start(&full, Lsn(start), 1 << 20),
        Some(Lsn(start + SEG - PAGE - (1 << 20)))
    );
    // Little written: read it whole.
    assert_eq!(
        tail_start(&written_pages(start, 100), Lsn(start), 1 << 20),
        None
    );
    // Pages of another segment (a recycled file's old addresses) do not count.
    let recycled = written_pages(0x0300_0000, SEG / PAGE);
    assert_eq!(tail_start(&recycled, Lsn(start), 1 << 20), None);
    assert_eq!(tail_start(&[], Lsn(start), 1 << 20), None);
}

#[test]
fn a_dump_started_inside_a_segment_says_where_its_first_record_is_first_only() {
    let started = format!(
        "first record is after 0/1527B00, at 0/1527B10, skipping over 16 bytes\n{}",
        DUMP.lines()
            .skip_while(|l| !l.contains("RESTORE_POINT"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let lines = parse_dump(&started).unwrap();
    assert_eq!(lines[0].kind(), "RESTORE_POINT");
    // Anywhere else it is not a record.
    let later = DUMP.replacen(
        "desc: RESTORE_POINT rp\n",
        "desc: RESTORE_POINT rp\nfirst record is after 0/0, at 0/0, skipping over 0 bytes\n",
        1,
    );
    assert!(parse_dump(&later).is_err());
}
