//! Entry points for fuzzing every parser of untrusted text.
//!
//! Each function takes arbitrary bytes, feeds them to one parser the way pitr meets that text
//! (a flag, a file, a program's output, an HTTP body), and — when the parser accepts them —
//! checks what must hold of the value it returned (a round trip through its text form, or the
//! pure judgements that consume it). Any panic is a bug. The `cargo fuzz` targets in `fuzz/`
//! call these functions one to one, and `make test` runs the seed corpora in `fuzz/seeds/`
//! through them (`tests/fuzz_seeds.rs`), so a crash once found stays fixed.
//!
//! Not a public API: the names and behaviour may change with the parsers.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde_json::Value;

use crate::archive::{self, ArchiveListing};
use crate::conf::ConfFile;
use crate::history::{self, TimelineHistories};
use crate::names::{
    ArchiveFile, BackupLabel, DEFAULT_SEGMENT_SIZE, Lsn, RepoIndex, RestorePointName, TargetTime,
    TimelineId, WalSegment, Xid,
};
use crate::recovery::{LogRecord, Sources, Tracker};
use crate::spec::ClusterSpec;
use crate::target::RestoreRequest;

/// A fuzz target: a name (the `cargo fuzz` target and seed folder) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, in the order `make fuzz` runs them.
pub const TARGETS: &[Target] = &[
    ("lsn", lsn),
    ("wal_name", wal_name),
    ("backup_label", backup_label),
    ("target_time", target_time),
    ("xid", xid),
    ("info_json", info_json),
    ("pgbackrest_conf", pgbackrest_conf),
    ("timeline_history", timeline_history),
    ("repo_listing", repo_listing),
    ("server_log", server_log),
    ("cluster_spec", cluster_spec),
    ("restore_request", restore_request),
    ("patroni_json", patroni_json),
];

/// The recorded `info` that requests and listings are judged against.
const INFO: &str = include_str!("../tests/fixtures/pgbackrest-2.45/info-multi-repo-failover.json");
/// Its timeline history.
const HISTORY: &str = include_str!("../tests/fixtures/pgbackrest-2.45/00000002.history");

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Each line (and the whole text) is parsed; what parses must print and parse back equal.
fn round_trip<T>(data: &[u8])
where
    T: FromStr + std::fmt::Display + PartialEq + std::fmt::Debug,
{
    let Some(s) = text(data) else { return };
    for candidate in std::iter::once(s).chain(s.lines()) {
        if let Ok(value) = candidate.parse::<T>() {
            let again = value.to_string().parse::<T>().ok();
            assert_eq!(
                again.as_ref(),
                Some(&value),
                "{candidate:?} does not round-trip"
            );
        }
    }
}

/// `--target-lsn`, `pg_current_wal_lsn()`, `info`'s archive bounds.
pub fn lsn(data: &[u8]) {
    round_trip::<Lsn>(data);
}

/// WAL file names in `pg_wal` and in the repo (with pgBackRest's suffixes).
pub fn wal_name(data: &[u8]) {
    round_trip::<WalSegment>(data);
    let Some(s) = text(data) else { return };
    for line in s.lines() {
        if let Some(file) = ArchiveFile::parse(line, DEFAULT_SEGMENT_SIZE) {
            let _ = format!("{file:?}");
        }
        if let Ok(segment) = line.parse::<WalSegment>() {
            assert_eq!(segment.name().len(), 24);
            let _ = segment.start_lsn();
        }
    }
}

/// `--set`, and labels in `info`.
pub fn backup_label(data: &[u8]) {
    let Some(s) = text(data) else { return };
    for line in std::iter::once(s).chain(s.lines()) {
        if let Ok(label) = line.parse::<BackupLabel>() {
            assert_eq!(
                label.as_str().parse::<BackupLabel>().ok().as_ref(),
                Some(&label)
            );
            let _ = (label.backup_type(), label.full(), label.stamp());
        }
    }
}

/// `--time` with or without a zone, in the request's zone or a named one.
pub fn target_time(data: &[u8]) {
    round_trip::<TargetTime>(data);
    let Some(s) = text(data) else { return };
    // The first line may name a zone for the others, as `timezone` does in a request.
    let mut lines = s.lines();
    let zone = lines.next().and_then(|z| crate::target::time_zone(z).ok());
    let zone = zone.unwrap_or(jiff::tz::TimeZone::UTC);
    for line in lines {
        if let Ok(t) = TargetTime::parse_in_zone(line, &zone) {
            let back: TargetTime = t.to_postgres().parse().expect("the PostgreSQL form parses");
            assert_eq!(back.timestamp(), t.timestamp());
            let _ = t.unix_seconds();
        }
    }
}

/// `--xid`, `--name`, timeline ids.
pub fn xid(data: &[u8]) {
    round_trip::<Xid>(data);
    round_trip::<TimelineId>(data);
    let Some(s) = text(data) else { return };
    for line in s.lines() {
        if let Ok(name) = line.parse::<RestorePointName>() {
            assert_eq!(name.as_str(), line);
        }
    }
}

/// `pgbackrest info --output=json`, and the windows judged from it.
pub fn info_json(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let Ok(report) = crate::info::parse(s) else {
        return;
    };
    let histories = TimelineHistories::new();
    let listings = BTreeMap::new();
    for stanza in &report.stanzas {
        let windows = crate::window::windows(stanza, &histories, &listings);
        let _ = crate::window::describe(&windows);
        let _ = crate::marks::from_info(stanza);
    }
}

/// pgbackrest.conf, and the same text redacted.
pub fn pgbackrest_conf(data: &[u8]) {
    let Some(s) = text(data) else { return };
    if let Ok(conf) = ConfFile::parse(s) {
        let _ = format!("{conf:?}");
    }
    let _ = crate::api::redact_pgbackrest_conf(s);
}

/// A timeline history file from the repo, judged with the recorded `info`.
pub fn timeline_history(data: &[u8]) {
    let Some(s) = text(data) else { return };
    for tli in [2, 3, u32::MAX] {
        let Ok(tli) = TimelineId::new(tli) else {
            continue;
        };
        let Ok(parsed) = history::parse(tli, s) else {
            continue;
        };
        let mut histories = TimelineHistories::new();
        histories.insert(parsed);
        for t in histories.timelines() {
            let _ = histories.lineage(t);
            let _ = histories.end_of(t);
            let _ = histories.child_of(t);
        }
        let _ = histories.switches();
        judge_windows(&histories, &BTreeMap::new());
    }
}

/// `pgbackrest repo-ls --recurse --output=json` of an archive, judged with the recorded `info`.
pub fn repo_listing(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let Ok(listing) = archive::parse_repo_ls(s, DEFAULT_SEGMENT_SIZE) else {
        return;
    };
    for tli in listing.timelines() {
        let _ = listing.segments(tli);
        let _ = listing.last_segment(tli);
        let _ = listing.partial(tli);
    }
    let _ = listing.segment_size();
    let mut listings: BTreeMap<_, ArchiveListing> = BTreeMap::new();
    if let Ok(repo) = "1".parse() {
        listings.insert(repo, listing);
    }
    let mut histories = TimelineHistories::new();
    if let Ok(h) = history::parse(TimelineId::new(2).expect("2 is a timeline"), HISTORY) {
        histories.insert(h);
    }
    judge_windows(&histories, &listings);
}

fn judge_windows(histories: &TimelineHistories, listings: &BTreeMap<RepoIndex, ArchiveListing>) {
    let report = crate::info::parse(INFO).expect("the recorded info parses");
    for stanza in &report.stanzas {
        let _ = crate::window::windows(stanza, histories, listings);
    }
}

/// Server log text as recovery reads it (`jsonlog` lines and `csvlog`), through the source
/// filter and the recovery grammar.
pub fn server_log(data: &[u8]) {
    let (csv, _) = LogRecord::from_csv(data);
    let json = text(data)
        .into_iter()
        .flat_map(str::lines)
        .filter_map(LogRecord::from_json_line);
    let mut sources = Sources {
        postmaster: Some(100),
        startup: None,
    };
    let mut tracker = Tracker::new();
    let now = jiff::Timestamp::UNIX_EPOCH;
    for record in csv.iter().cloned().chain(json) {
        // Judge every record, as if it came from the server's processes, and through the
        // filter as the watcher does.
        let _ = sources.accept(&record, |_| Some(100));
        let _ = tracker.apply(&record, now);
    }
    let _ = tracker.finish();
}

/// A cluster spec (Pigsty vars) in YAML or JSON, and what is rendered from it.
pub fn cluster_spec(data: &[u8]) {
    let Some(s) = text(data) else { return };
    if let Ok(spec) = ClusterSpec::from_yaml_str(s) {
        let spec = crate::ops::complete_spec(spec);
        let templates = crate::render::Renderer::new();
        let _ = templates.pgbackrest_conf(&spec);
        let _ = templates.archive_settings(&spec);
    }
}

/// A restore request (Pigsty's `pg_pitr` dict, as JSON), and the backup set chosen for it from
/// the recorded `info`.
pub fn restore_request(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let Ok(value) = serde_json::from_str::<Value>(s) else {
        return;
    };
    let Ok(request) = RestoreRequest::from_pg_pitr(value, None) else {
        return;
    };
    let report = crate::info::parse(INFO).expect("the recorded info parses");
    let mut histories = TimelineHistories::new();
    if let Ok(h) = history::parse(TimelineId::new(2).expect("2 is a timeline"), HISTORY) {
        histories.insert(h);
    }
    let _ = crate::api::select_backup(
        &report,
        Some("pg-multi"),
        &request,
        &histories,
        &BTreeMap::new(),
    );
}

/// The body of Patroni's `GET /primary` (the first byte picks the status).
pub fn patroni_json(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Some(body) = text(rest) else { return };
    let status = match first % 3 {
        0 => 200,
        1 => 503,
        _ => 404,
    };
    if let Ok(answer) = crate::patroni::PatroniAnswer::parse(status, body) {
        let _ = answer.holds_leader_lock();
        let _ = format!("{answer:?}");
    }
}
