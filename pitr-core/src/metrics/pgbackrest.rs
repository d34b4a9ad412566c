//! The `pgbackrest_*` families, as `pgbackrest_exporter` v0.23.0 computes them from
//! `pgbackrest info --output=json`.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::defs::{self, Def};
use super::{Out, Sources, num};
use crate::info::{BackupInfo, LockInfo, StanzaInfo};
use crate::names::BackupType;
use crate::version::Version;

/// `pgbackrest_version_info`: `2045000` for 2.45, 0 when unknown.
pub(super) fn version(version: Option<Version>, out: &mut Out) {
    let n = version.map_or(0, |v| {
        u64::from(v.major()) * 1_000_000 + u64::from(v.minor()) * 1_000 + u64::from(v.patch())
    });
    out.set(&defs::VERSION_INFO, &[], num(n));
}

/// Every `pgbackrest_*` family of one stanza.
pub(super) fn stanza(stanza: &StanzaInfo, sources: &Sources<'_>, out: &mut Out) {
    let name = &stanza.name;
    let s = || [("stanza", name.clone())];
    out.set(
        &defs::STANZA_STATUS,
        &s(),
        code_value(stanza.status.code.code()),
    );
    let lock = stanza.status.lock.as_ref();
    let backup = lock.and_then(|l| l.backup.as_ref());
    let restore = lock.and_then(|l| l.restore.as_ref());
    let held = |l: Option<&LockInfo>| f64::from(u8::from(l.is_some_and(|l| l.held)));
    let done = |l: Option<&LockInfo>| num(l.and_then(|l| l.size_cplt).unwrap_or(0));
    let total = |l: Option<&LockInfo>| num(l.and_then(|l| l.size).unwrap_or(0));
    for def in [&defs::STANZA_BACKUP_LOCK, &defs::STANZA_LOCK_OLD] {
        out.set(def, &s(), held(backup));
    }
    for def in [
        &defs::STANZA_BACKUP_COMPLETE,
        &defs::STANZA_BACKUP_COMPETE_OLD,
    ] {
        out.set(def, &s(), done(backup));
    }
    out.set(&defs::STANZA_BACKUP_TOTAL, &s(), total(backup));
    out.set(&defs::STANZA_RESTORE_LOCK, &s(), held(restore));
    out.set(&defs::STANZA_RESTORE_COMPLETE, &s(), done(restore));
    out.set(&defs::STANZA_RESTORE_TOTAL, &s(), total(restore));

    if stanza.repo.is_empty() {
        // Before pgBackRest 2.32 there is no repo list: one series, as the exporter does.
        out.set(
            &defs::REPO_STATUS,
            &[
                ("cipher", "none".to_owned()),
                ("repo_key", "0".to_owned()),
                ("stanza", name.clone()),
            ],
            0.0,
        );
    }
    for repo in &stanza.repo {
        out.set(
            &defs::REPO_STATUS,
            &[
                (
                    "cipher",
                    repo.cipher.clone().unwrap_or_else(|| "none".into()),
                ),
                ("repo_key", repo.key.to_string()),
                ("stanza", name.clone()),
            ],
            code_value(repo.status.code.code()),
        );
    }

    for b in &stanza.backup {
        backup_set(stanza, b, &sources.time_zone, out);
    }
    last_backups(stanza, sources.now, out);

    for a in &stanza.archive {
        let present = a.min.is_some() && a.max.is_some();
        out.set(
            &defs::WAL_ARCHIVE_STATUS,
            &[
                ("database_id", a.database.id.to_string()),
                (
                    "pg_version",
                    stanza
                        .pg_version(a.database.id, a.database.repo_key())
                        .unwrap_or_default()
                        .to_owned(),
                ),
                ("repo_key", a.database.repo_key().to_string()),
                ("stanza", name.clone()),
                ("wal_max", String::new()),
                ("wal_min", String::new()),
            ],
            f64::from(u8::from(present)),
        );
    }
}

/// A status code as a sample value.
#[allow(clippy::cast_precision_loss)]
fn code_value(code: i64) -> f64 {
    code as f64
}

/// `"y"` when the set is block incremental (both map sizes present), else `"n"`.
fn block_incr(b: &BackupInfo) -> String {
    let r = &b.info.repository;
    if r.size_map.is_some() && r.delta_map.is_some() {
        "y".into()
    } else {
        "n".into()
    }
}

/// A Unix time as `pgbackrest_exporter` writes it in labels: `2006-01-02 15:04:05`.
fn label_time(secs: u64, tz: &TimeZone) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .map_or_else(
            || secs.to_string(),
            |t| tz.to_datetime(t).strftime("%Y-%m-%d %H:%M:%S").to_string(),
        )
}

/// How many of `b`'s referenced sets are full, diff and incr backups.
fn reference_counts(b: &BackupInfo) -> [(BackupType, u64); 3] {
    let mut counts = [
        (BackupType::Full, 0),
        (BackupType::Diff, 0),
        (BackupType::Incr, 0),
    ];
    for r in b.reference.iter().flatten() {
        if let Some(c) = counts.iter_mut().find(|(t, _)| *t == r.backup_type()) {
            c.1 += 1;
        }
    }
    counts
}

/// The per-set families.
fn backup_set(stanza: &StanzaInfo, b: &BackupInfo, tz: &TimeZone, out: &mut Out) {
    let base = || {
        vec![
            ("backup_name", b.label.to_string()),
            ("backup_type", b.backup_type.as_str().to_owned()),
            ("block_incr", block_incr(b)),
            ("database_id", b.database.id.to_string()),
            ("repo_key", b.repo_key().to_string()),
            ("stanza", stanza.name.clone()),
        ]
    };
    let with = |extra: &[(&'static str, String)]| {
        let mut l = base();
        l.extend_from_slice(extra);
        l
    };
    let seg = |s: Option<crate::names::WalSegment>| {
        s.map(crate::names::WalSegment::name).unwrap_or_default()
    };
    let lsn = |f: fn(&crate::info::BackupLsn) -> crate::names::Lsn| {
        b.lsn
            .as_ref()
            .map_or_else(|| "-".to_owned(), |l| f(l).to_string())
    };
    out.set(
        &defs::BACKUP_INFO,
        &with(&[
            ("backrest_ver", b.backrest.version.clone()),
            ("lsn_start", lsn(|l| l.start)),
            ("lsn_stop", lsn(|l| l.stop)),
            (
                "pg_version",
                stanza
                    .pg_version(b.database.id, b.repo_key())
                    .unwrap_or_default()
                    .to_owned(),
            ),
            (
                "prior",
                b.prior
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            ("wal_start", seg(b.archive.start)),
            ("wal_stop", seg(b.archive.stop)),
        ]),
        1.0,
    );
    out.set(
        &defs::BACKUP_DURATION,
        &with(&[
            ("start_time", label_time(b.timestamp.start, tz)),
            ("stop_time", label_time(b.timestamp.stop, tz)),
        ]),
        num(b.timestamp.stop.saturating_sub(b.timestamp.start)),
    );
    for (def, _, value) in sizes(b) {
        out.set(def, &base(), value);
    }
    for (t, n) in reference_counts(b) {
        out.set(
            &defs::BACKUP_REFERENCES,
            &with(&[("ref_backup", t.as_str().to_owned())]),
            num(n),
        );
    }
    if let Some(dbs) = &b.database_ref {
        out.set(&defs::BACKUP_DATABASES, &base(), num(dbs.len() as u64));
    }
}

/// Size, error and annotation families of a set: `(per-set def, newest-of-type def, value)`.
fn sizes(b: &BackupInfo) -> [(&'static Def, &'static Def, f64); 8] {
    let r = &b.info.repository;
    [
        (&defs::BACKUP_SIZE, &defs::LAST_SIZE, num(b.info.size)),
        (&defs::BACKUP_DELTA, &defs::LAST_DELTA, num(b.info.delta)),
        (
            &defs::BACKUP_REPO_SIZE,
            &defs::LAST_REPO_SIZE,
            num(r.size.unwrap_or(0)),
        ),
        (
            &defs::BACKUP_REPO_DELTA,
            &defs::LAST_REPO_DELTA,
            num(r.delta),
        ),
        (
            &defs::BACKUP_REPO_SIZE_MAP,
            &defs::LAST_REPO_SIZE_MAP,
            num(r.size_map.unwrap_or(0)),
        ),
        (
            &defs::BACKUP_REPO_DELTA_MAP,
            &defs::LAST_REPO_DELTA_MAP,
            num(r.delta_map.unwrap_or(0)),
        ),
        (
            &defs::BACKUP_ERROR,
            &defs::LAST_ERROR,
            f64::from(u8::from(b.error == Some(true))),
        ),
        (
            &defs::BACKUP_ANNOTATIONS,
            &defs::LAST_ANNOTATIONS,
            num(b.annotation.as_ref().map_or(0, |a| a.len() as u64)),
        ),
    ]
}

/// The newest backup per type, across repos: a full backup also counts as the newest diff and
/// incr, a diff as the newest incr. Only when there is a full backup, as the exporter does.
fn last_backups(stanza: &StanzaInfo, now: Timestamp, out: &mut Out) {
    const SLOTS: [BackupType; 3] = [BackupType::Full, BackupType::Diff, BackupType::Incr];
    let mut newest: [Option<&BackupInfo>; 3] = [None; 3];
    for b in &stanza.backup {
        let from = SLOTS.iter().position(|t| *t == b.backup_type).unwrap_or(2);
        for slot in &mut newest[from..] {
            if slot.is_none_or(|s| b.timestamp.stop > s.timestamp.stop) {
                *slot = Some(b);
            }
        }
    }
    if newest[0].is_none() {
        return;
    }
    let now = u64::try_from(now.as_second()).unwrap_or(0);
    for (slot, b) in SLOTS.iter().zip(newest) {
        let Some(b) = b else { continue };
        let base = || {
            vec![
                ("backup_type", slot.as_str().to_owned()),
                ("block_incr", block_incr(b)),
                ("stanza", stanza.name.clone()),
            ]
        };
        out.set(
            &defs::LAST_SINCE,
            &base(),
            num(now.saturating_sub(b.timestamp.stop)),
        );
        out.set(
            &defs::LAST_DURATION,
            &base(),
            num(b.timestamp.stop.saturating_sub(b.timestamp.start)),
        );
        for (_, def, value) in sizes(b) {
            out.set(def, &base(), value);
        }
        for (t, n) in reference_counts(b) {
            let mut l = base();
            l.insert(2, ("ref_backup", t.as_str().to_owned()));
            out.set(&defs::LAST_REFERENCES, &l, num(n));
        }
        if let Some(dbs) = &b.database_ref {
            out.set(&defs::LAST_DATABASES, &base(), num(dbs.len() as u64));
        }
    }
}
