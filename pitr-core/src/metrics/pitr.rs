//! pitr's own families: recoverable windows, WAL archive freshness and continuity, the last
//! `pitr check`.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::defs;
use super::{Out, StanzaExtras, epoch, num};
use crate::check::{CheckReport, Status};
use crate::info::StanzaInfo;

/// Window and archive families of one stanza.
pub(super) fn stanza(stanza: &StanzaInfo, extras: &StanzaExtras, now: Timestamp, out: &mut Out) {
    let name = &stanza.name;
    for w in &extras.windows {
        let l = [
            ("repo_key", w.repo_key.to_string()),
            ("stanza", name.clone()),
            ("timeline", w.timeline.to_string()),
        ];
        out.set(&defs::WINDOW_START_TIME, &l, num(w.start.time));
        out.set(&defs::WINDOW_START_LSN, &l, num(w.start.lsn.as_u64()));
        if let Some(end) = &w.end {
            out.set(&defs::WINDOW_END_LSN, &l, num(end.lsn.as_u64()));
            if let Some(t) = end.time {
                out.set(&defs::WINDOW_END_TIME, &l, num(t));
            }
        }
    }
    let mut keys: BTreeSet<crate::names::RepoIndex> = stanza.repo_keys().into_iter().collect();
    keys.extend(extras.windows.iter().map(|w| w.repo_key));
    let now_s = u64::try_from(now.as_second()).unwrap_or(0);
    for key in keys {
        let l = [("repo_key", key.to_string()), ("stanza", name.clone())];
        let windows = extras.windows.iter().filter(|w| w.repo_key == key).count();
        out.set(&defs::WINDOWS, &l, num(windows as u64));
        let newest = extras
            .newest_wal
            .get(&key)
            .copied()
            .or_else(|| stanza.backups_in_repo(key).map(|b| b.timestamp.stop).max());
        if let Some(t) = newest {
            out.set(&defs::WAL_NEWEST_TIME, &l, num(t));
            out.set(&defs::WAL_NEWEST_AGE, &l, num(now_s.saturating_sub(t)));
        }
        out.set(
            &defs::ARCHIVE_LISTED,
            &l,
            f64::from(u8::from(extras.listed.contains(&key))),
        );
        if let Some(&missing) = extras.missing.get(&key) {
            out.set(&defs::ARCHIVE_MISSING, &l, num(missing));
        }
        out.set(
            &defs::REPO_STALE,
            &l,
            f64::from(u8::from(extras.stale.contains(&key))),
        );
    }
}

/// The families of the last `pitr check` report.
pub(super) fn check(report: &CheckReport, out: &mut Out) {
    let stanza = &report.stanza;
    for c in report.checks.iter().filter(|c| c.status != Status::Skip) {
        out.set(
            &defs::CHECK_SUCCESS,
            &[
                ("check", c.check.name().to_owned()),
                ("code", c.code.clone()),
                ("stanza", stanza.clone()),
            ],
            f64::from(u8::from(c.status == Status::Pass)),
        );
    }
    out.set(
        &defs::CHECK_LAST_SUCCESS,
        &[
            ("code", report.code.clone().unwrap_or_else(|| "ok".into())),
            ("stanza", stanza.clone()),
        ],
        f64::from(u8::from(report.ok)),
    );
    out.set(
        &defs::CHECK_LAST_RUN,
        &[("stanza", stanza.clone())],
        epoch(report.time),
    );
}
