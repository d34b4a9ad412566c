//! Recovery targets and the restore request.
//!
//! A restore request arrives as Pigsty's `pg_pitr` dict (from Ansible or Python) or as
//! `pitr restore` flags; both are turned into the same [`RawRequest`] and validated once into a
//! [`RestoreRequest`]. Validation is at least Pigsty's (one target only, xid range, LSN format,
//! allowed `type` and `action` values) and refuses combinations pgBackRest would refuse later,
//! after something was already stopped. Paths are [`SafePath`]s, and extra pgBackRest options
//! go through an allow-list ([`ExtraOptions`], see `target/extra.rs`).
//!
//! ```
//! use pitr_core::target::{RestoreRequest, RecoveryTarget};
//! let req = RestoreRequest::from_pg_pitr(
//!     serde_json::json!({"lsn": "0/3027f60", "exclusive": true}), None,
//! ).unwrap();
//! assert!(matches!(req.target, RecoveryTarget::Lsn(_)));
//! assert!(RestoreRequest::from_pg_pitr(serde_json::json!({"lsn": "0/1", "xid": 5}), None).is_err());
//! ```

use std::fmt;

use indexmap::IndexMap;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result, nearest, one_line};
use crate::names::{
    BackupLabel, Lsn, RepoIndex, RepoName, RestorePointName, SafePath, StanzaName, TargetTime,
    TimelineId, Xid,
};

mod extra;

pub use extra::{ALLOWED as ALLOWED_EXTRA_OPTIONS, ExtraOptions};

/// A time zone by IANA name, or `local` for the system's: reads target times written without
/// a zone (`pitr restore --zone`, Python's `zone=`).
pub fn time_zone(name: &str) -> Result<TimeZone> {
    if name == "local" {
        return Ok(TimeZone::system());
    }
    TimeZone::get(name).map_err(|_| {
        Error::invalid(
            "time zone",
            name,
            "expected an IANA zone name such as 'Asia/Shanghai' or 'UTC', or 'local'",
        )
    })
}

/// Where recovery should stop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum RecoveryTarget {
    /// Replay all archived WAL, then promote (pgBackRest's `default`).
    #[serde(rename = "default")]
    Latest,
    /// Stop as soon as the backup is consistent.
    Immediate,
    /// Stop at a point in time.
    Time(TargetTime),
    /// Stop at a restore point created with `pg_create_restore_point` / `pitr mark`.
    Name(RestorePointName),
    /// Stop at a WAL location.
    Lsn(Lsn),
    /// Stop at a transaction.
    Xid(Xid),
}

impl RecoveryTarget {
    /// pgBackRest's `--type` for this target.
    pub fn pgbackrest_type(&self) -> &'static str {
        match self {
            RecoveryTarget::Latest => "default",
            RecoveryTarget::Immediate => "immediate",
            RecoveryTarget::Time(_) => "time",
            RecoveryTarget::Name(_) => "name",
            RecoveryTarget::Lsn(_) => "lsn",
            RecoveryTarget::Xid(_) => "xid",
        }
    }

    /// pgBackRest's `--target` value, for the types that take one.
    pub fn pgbackrest_target(&self) -> Option<String> {
        match self {
            RecoveryTarget::Latest | RecoveryTarget::Immediate => None,
            RecoveryTarget::Time(t) => Some(t.to_postgres()),
            RecoveryTarget::Name(n) => Some(n.to_string()),
            RecoveryTarget::Lsn(l) => Some(l.to_string()),
            RecoveryTarget::Xid(x) => Some(x.to_string()),
        }
    }

    /// Whether `--target-exclusive` applies (time, lsn and xid targets).
    pub fn takes_exclusive(&self) -> bool {
        matches!(
            self,
            RecoveryTarget::Time(_) | RecoveryTarget::Lsn(_) | RecoveryTarget::Xid(_)
        )
    }
}

impl fmt::Display for RecoveryTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pgbackrest_target() {
            Some(v) => write!(f, "{} {v}", self.pgbackrest_type()),
            None if matches!(self, RecoveryTarget::Latest) => f.write_str("latest"),
            None => f.write_str(self.pgbackrest_type()),
        }
    }
}

/// What PostgreSQL does once it reaches the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetAction {
    /// Stay in recovery, paused, for inspection (pgBackRest's default).
    Pause,
    /// End recovery and open for writes on a new timeline.
    Promote,
    /// Shut down at the target.
    Shutdown,
}

impl TargetAction {
    /// The name PostgreSQL and pgBackRest use.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetAction::Pause => "pause",
            TargetAction::Promote => "promote",
            TargetAction::Shutdown => "shutdown",
        }
    }
}

impl std::str::FromStr for TargetAction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pause" => Ok(TargetAction::Pause),
            "promote" => Ok(TargetAction::Promote),
            "shutdown" => Ok(TargetAction::Shutdown),
            _ => Err(Error::invalid(
                "action",
                s,
                "expected one of: pause, promote, shutdown",
            )),
        }
    }
}

/// Which timeline recovery follows. Serialized as `latest`, `current` or the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimelineTarget {
    /// The newest timeline in the archive (PostgreSQL's default since 12).
    Latest,
    /// The timeline of the backup.
    Current,
    /// A specific timeline.
    Id(TimelineId),
}

impl TimelineTarget {
    /// The value for `--target-timeline`.
    pub fn as_pgbackrest(self) -> String {
        match self {
            TimelineTarget::Latest => "latest".into(),
            TimelineTarget::Current => "current".into(),
            TimelineTarget::Id(t) => t.to_string(),
        }
    }
}

impl fmt::Display for TimelineTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_pgbackrest())
    }
}

crate::names::serde_as_string!(TimelineTarget);

impl std::str::FromStr for TimelineTarget {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "latest" => Ok(TimelineTarget::Latest),
            "current" => Ok(TimelineTarget::Current),
            _ => s.parse().map(TimelineTarget::Id).map_err(|_| {
                Error::invalid(
                    "timeline",
                    s,
                    "expected 'latest', 'current' or a timeline number such as 2",
                )
            }),
        }
    }
}

/// What the restored cluster does about WAL archiving (pgBackRest's `archive-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveMode {
    /// Keep the cluster's archive settings: the restored cluster archives into the stanza.
    Preserve,
    /// Write `archive_mode = off`: the restored cluster archives nothing until turned back on.
    Off,
}

/// A symlink in the data directory to restore elsewhere (`link-map`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkMap {
    /// The link's path relative to the data directory, e.g. `pg_wal`.
    pub link: String,
    /// Where it should point.
    pub destination: String,
}

/// Which repo to restore from, as the request names it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RepoChoice {
    /// A repo index of the node (`repo: 2`).
    Index(RepoIndex),
    /// A repo by name in the spec's `pgbackrest_repo` (`repo: minio`).
    Name(RepoName),
    /// A repo definition given inline, as Pigsty's `pg_pitr.repo` dict.
    Definition(Box<crate::spec::RepoDef>),
}

/// A validated restore request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RestoreRequest {
    /// Stanza to restore from (`cluster`); the node's own when absent.
    pub cluster: Option<StanzaName>,
    /// Where recovery stops.
    pub target: RecoveryTarget,
    /// Stop just before the target instead of just after it.
    pub exclusive: bool,
    /// What happens at the target.
    pub action: TargetAction,
    /// Timeline to follow; PostgreSQL's default (latest) when absent.
    pub timeline: Option<TimelineTarget>,
    /// Backup set to restore; pitr chooses when absent.
    pub set: Option<BackupLabel>,
    /// For name and xid targets: a time the target is known to be after, so the newest set
    /// before it can be used.
    pub before: Option<TargetTime>,
    /// Repo to restore from; pitr chooses across repos when absent.
    pub repo: Option<RepoChoice>,
    /// Archiving in the restored cluster: preserved for an in-place restore, off for a clone,
    /// unless the request says otherwise.
    pub archive: Option<ArchiveMode>,
    /// Databases to restore.
    pub db_include: Vec<String>,
    /// Databases to leave out.
    pub db_exclude: Vec<String>,
    /// Symlinks to restore elsewhere.
    pub link_map: Vec<LinkMap>,
    /// Restore processes.
    pub process: Option<u32>,
    /// Keep the current data directory as `<data>-backup` until recovery is verified.
    pub safety_copy: bool,
    /// Restore into this data directory instead of the node's.
    pub data: Option<SafePath>,
    /// Port for the restored cluster instead of the node's.
    pub port: Option<u16>,
    /// Extra pgBackRest options passed to `restore`, checked against an allow-list.
    pub extra_options: ExtraOptions,
}

/// A request as written: Pigsty's `pg_pitr` keys, plus `before` and `extra`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    /// Source stanza.
    pub cluster: Option<String>,
    /// `default`, `immediate`, `time`, `name`, `xid` or `lsn`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Target time.
    pub time: Option<String>,
    /// Target restore point.
    pub name: Option<String>,
    /// Target transaction (number or string).
    pub xid: Option<Value>,
    /// Target LSN.
    pub lsn: Option<String>,
    /// Backup set label or `latest`.
    pub set: Option<String>,
    /// `latest`, `current` or a number.
    pub timeline: Option<Value>,
    /// Stop before the target.
    pub exclusive: Option<bool>,
    /// `pause`, `promote` or `shutdown`.
    pub action: Option<String>,
    /// `true`/`preserve` keeps archiving on; `false`/`off` turns it off.
    pub archive: Option<Value>,
    /// Databases to restore.
    pub db_include: Option<Vec<String>>,
    /// Databases to leave out.
    pub db_exclude: Option<Vec<String>>,
    /// Symlink destinations.
    pub link_map: Option<IndexMap<String, String>>,
    /// Restore processes.
    pub process: Option<u32>,
    /// Repo index, name or inline definition.
    pub repo: Option<Value>,
    /// Keep a safety copy of the data directory.
    pub backup: Option<bool>,
    /// Data directory to restore into.
    pub data: Option<String>,
    /// Port of the restored cluster.
    pub port: Option<u16>,
    /// Selection hint for name/xid targets.
    pub before: Option<String>,
    /// Extra pgBackRest options.
    pub extra: Option<Vec<String>>,
}

/// The keys a `pg_pitr` dict may have.
pub const REQUEST_KEYS: &[&str] = &[
    "cluster",
    "type",
    "time",
    "name",
    "xid",
    "lsn",
    "set",
    "timeline",
    "exclusive",
    "action",
    "archive",
    "db_include",
    "db_exclude",
    "link_map",
    "process",
    "repo",
    "backup",
    "data",
    "port",
    "before",
    "extra",
];

fn setting(key: &str, message: impl Into<String>) -> Error {
    Error::InvalidSetting {
        key: key.into(),
        context: "restore request".into(),
        message: message.into(),
    }
}

fn scalar(key: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(setting(key, "expected a string or a number")),
    }
}

fn has_unprintable(s: &str) -> bool {
    s.chars().any(crate::error::is_unprintable)
}

fn plain_names(key: &str, items: Vec<String>) -> Result<Vec<String>> {
    for item in &items {
        if item.is_empty() || has_unprintable(item) || item.contains('=') {
            return Err(setting(
                key,
                format!(
                    "'{}' is not a database name pgBackRest can take",
                    one_line(item)
                ),
            ));
        }
    }
    Ok(items)
}

impl RawRequest {
    /// Validates the request. `zone` interprets target times written without a zone.
    pub fn validate(self, zone: Option<&TimeZone>) -> Result<RestoreRequest> {
        let time = |key: &str, s: &str| {
            match zone {
                Some(z) => TargetTime::parse_in_zone(s, z),
                None => s.parse::<TargetTime>(),
            }
            .map_err(|e| match e {
                Error::TimeZoneRequired { .. } | Error::InvalidValue { .. } => e,
                other => setting(key, other.to_string()),
            })
        };

        let mut targets: Vec<(&str, RecoveryTarget)> = Vec::new();
        if let Some(t) = &self.time {
            targets.push(("time", RecoveryTarget::Time(time("time", t)?)));
        }
        if let Some(n) = &self.name {
            targets.push(("name", RecoveryTarget::Name(n.parse()?)));
        }
        if let Some(x) = &self.xid {
            targets.push(("xid", RecoveryTarget::Xid(scalar("xid", x)?.parse()?)));
        }
        if let Some(l) = &self.lsn {
            targets.push(("lsn", RecoveryTarget::Lsn(l.parse()?)));
        }
        if targets.len() > 1 {
            let keys: Vec<&str> = targets.iter().map(|(k, _)| *k).collect();
            return Err(setting(
                keys[1],
                format!("give one recovery target only, got {}", keys.join(" and ")),
            ));
        }
        let kind = self.kind.as_deref().unwrap_or(match targets.first() {
            Some((k, _)) => k,
            None => "default",
        });
        let target = match (kind, targets.pop()) {
            ("default", None) => RecoveryTarget::Latest,
            ("immediate", None) => RecoveryTarget::Immediate,
            (k @ ("time" | "name" | "xid" | "lsn"), None) => {
                return Err(setting("type", format!("type '{k}' needs the '{k}' key")));
            }
            (k, Some((key, target))) if k == key => target,
            (k @ ("default" | "immediate" | "time" | "name" | "xid" | "lsn"), Some((key, _))) => {
                return Err(setting(
                    "type",
                    format!("type '{k}' does not go with a '{key}' target"),
                ));
            }
            (k, _) => {
                return Err(Error::invalid(
                    "type",
                    k,
                    "expected one of: default, immediate, time, name, xid, lsn",
                ));
            }
        };

        let exclusive = self.exclusive.unwrap_or(false);
        if exclusive && !target.takes_exclusive() {
            return Err(setting(
                "exclusive",
                format!(
                    "applies to time, xid and lsn targets, not to '{}'",
                    target.pgbackrest_type()
                ),
            ));
        }
        let action = match self.action.as_deref() {
            None => TargetAction::Pause,
            Some(a) => a.parse()?,
        };
        if target == RecoveryTarget::Latest
            && self.action.is_some()
            && action != TargetAction::Promote
        {
            return Err(setting(
                "action",
                "a restore to the end of the archive always promotes; give a target \
                 (time, name, xid, lsn or immediate) to pause or shut down there",
            ));
        }
        let timeline = self
            .timeline
            .as_ref()
            .map(|v| scalar("timeline", v)?.parse::<TimelineTarget>())
            .transpose()?;
        if timeline.is_some() && target == RecoveryTarget::Immediate {
            return Err(setting(
                "timeline",
                "an immediate target stops on the backup's own timeline; remove 'timeline'",
            ));
        }
        let set = match self.set.as_deref() {
            None | Some("latest") => None,
            Some(s) => Some(s.parse::<BackupLabel>()?),
        };
        let before = self
            .before
            .as_deref()
            .map(|b| time("before", b))
            .transpose()?;
        if before.is_some() && !matches!(target, RecoveryTarget::Name(_) | RecoveryTarget::Xid(_)) {
            return Err(setting(
                "before",
                "is a selection hint for name and xid targets only",
            ));
        }
        let archive = match &self.archive {
            None => None,
            Some(Value::Bool(true)) => Some(ArchiveMode::Preserve),
            Some(Value::Bool(false)) => Some(ArchiveMode::Off),
            Some(Value::String(s)) if s == "preserve" => Some(ArchiveMode::Preserve),
            Some(Value::String(s)) if s == "off" => Some(ArchiveMode::Off),
            Some(other) => {
                return Err(setting(
                    "archive",
                    format!("'{other}' is not true, false, 'preserve' or 'off'"),
                ));
            }
        };
        let link_map = self
            .link_map
            .unwrap_or_default()
            .into_iter()
            .map(|(link, destination)| {
                // Both go only into the restore config, one line each.
                if link.is_empty() || link.contains('=') || has_unprintable(&link) {
                    return Err(setting(
                        "link_map",
                        format!("'{}' is not a usable link", one_line(&link)),
                    ));
                }
                if !destination.starts_with('/') || has_unprintable(&destination) {
                    return Err(setting(
                        "link_map",
                        format!(
                            "the destination of '{link}', '{}', is not an absolute path on one \
                             line: give one such as /pg/wal",
                            one_line(&destination)
                        ),
                    ));
                }
                Ok(LinkMap { link, destination })
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(p) = self.process {
            if !(1..=999).contains(&p) {
                return Err(Error::invalid(
                    "process",
                    p.to_string(),
                    "expected 1 to 999",
                ));
            }
        }
        if self.port == Some(0) {
            return Err(Error::invalid("port", "0", "expected 1 to 65535"));
        }
        let repo = self.repo.as_ref().map(parse_repo).transpose()?;
        let extra_options = ExtraOptions::parse(self.extra.as_deref().unwrap_or_default())?;

        Ok(RestoreRequest {
            cluster: self.cluster.as_deref().map(str::parse).transpose()?,
            target,
            exclusive,
            action,
            timeline,
            set,
            before,
            repo,
            archive,
            db_include: plain_names("db_include", self.db_include.unwrap_or_default())?,
            db_exclude: plain_names("db_exclude", self.db_exclude.unwrap_or_default())?,
            link_map,
            process: self.process,
            safety_copy: self.backup.unwrap_or(false),
            data: self
                .data
                .as_deref()
                .map(|d| SafePath::parse("data", "restore request", d))
                .transpose()?,
            port: self.port,
            extra_options,
        })
    }
}

fn parse_repo(v: &Value) -> Result<RepoChoice> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| RepoIndex::new(n).ok())
            .map(RepoChoice::Index)
            .ok_or_else(|| {
                Error::invalid("repo", n.to_string(), "expected a repo index from 1 to 256")
            }),
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() => {
            s.parse().map(RepoChoice::Index)
        }
        Value::String(s) => Ok(RepoChoice::Name(RepoName::parse("repo", s)?)),
        Value::Object(map) => {
            let raw: IndexMap<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            // An inline definition has no name of its own; this one labels its errors.
            let label = RepoName::parse("repo", "pg_pitr.repo")?;
            Ok(RepoChoice::Definition(Box::new(
                crate::spec::RepoDef::from_raw(&label, &raw, None)?,
            )))
        }
        _ => Err(setting(
            "repo",
            "expected a repo index, a repo name, or a repo definition",
        )),
    }
}

impl RestoreRequest {
    /// Validates Pigsty's `pg_pitr` dict. `zone` interprets target times without a zone.
    pub fn from_pg_pitr(value: Value, zone: Option<&TimeZone>) -> Result<Self> {
        match &value {
            Value::Object(map) => {
                for key in map.keys() {
                    if !REQUEST_KEYS.contains(&key.as_str()) {
                        return Err(Error::UnknownKey {
                            key: key.clone(),
                            context: "pg_pitr".into(),
                            suggestion: nearest(key, REQUEST_KEYS.iter().copied()),
                        });
                    }
                }
            }
            Value::Null => return RawRequest::default().validate(zone),
            _ => {
                return Err(Error::Parse {
                    what: "pg_pitr".into(),
                    message: "expected a mapping such as {\"time\": \"2025-01-01 12:00:00+00\"}"
                        .into(),
                });
            }
        }
        let raw: RawRequest = serde_json::from_value(value).map_err(|e| Error::Parse {
            what: "pg_pitr".into(),
            message: e.to_string(),
        })?;
        raw.validate(zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> Result<RestoreRequest> {
        RestoreRequest::from_pg_pitr(v, None)
    }

    #[test]
    fn pigsty_examples_are_accepted() {
        assert_eq!(req(json!({})).unwrap().target, RecoveryTarget::Latest);
        assert_eq!(req(Value::Null).unwrap().target, RecoveryTarget::Latest);
        assert!(matches!(
            req(json!({"time": "2025-12-25 12:00:00+00"}))
                .unwrap()
                .target,
            RecoveryTarget::Time(_)
        ));
        assert!(matches!(
            req(json!({"lsn": "0/4001C80"})).unwrap().target,
            RecoveryTarget::Lsn(_)
        ));
        assert!(matches!(
            req(json!({"xid": "250000"})).unwrap().target,
            RecoveryTarget::Xid(_)
        ));
        assert!(matches!(
            req(json!({"xid": 250_000, "exclusive": true}))
                .unwrap()
                .target,
            RecoveryTarget::Xid(_)
        ));
        assert!(matches!(
            req(json!({"name": "some_restore_point"})).unwrap().target,
            RecoveryTarget::Name(_)
        ));
        assert_eq!(
            req(json!({"type": "immediate"})).unwrap().target,
            RecoveryTarget::Immediate
        );
        let r = req(json!({"cluster": "pg-meta", "lsn": "0/4001C80", "backup": true, "set": "latest",
            "timeline": "latest", "action": "promote", "archive": false, "process": 4,
            "db_include": ["app"], "link_map": {"pg_wal": "/pg/wal"}, "data": "/pg/data2", "port": 5433})).unwrap();
        assert!(r.safety_copy);
        assert_eq!(r.archive, Some(ArchiveMode::Off));
        assert_eq!(r.set, None);
        assert_eq!(r.timeline, Some(TimelineTarget::Latest));
        assert_eq!(r.link_map[0].destination, "/pg/wal");
    }

    #[test]
    fn one_target_only_and_type_must_agree() {
        for (v, needle) in [
            (json!({"lsn": "0/1", "xid": 5}), "one recovery target"),
            (
                json!({"time": "2025-01-01 00:00:00+00", "name": "x"}),
                "one recovery target",
            ),
            (json!({"type": "time"}), "needs the 'time' key"),
            (
                json!({"type": "immediate", "lsn": "0/1"}),
                "does not go with",
            ),
            (json!({"type": "bogus"}), "default, immediate"),
            (json!({"name": "x", "exclusive": true}), "exclusive"),
            (json!({"action": "shutdown"}), "always promotes"),
            (json!({"type": "immediate", "timeline": 2}), "timeline"),
            (
                json!({"lsn": "0/1", "before": "2025-01-01 00:00:00+00"}),
                "name and xid",
            ),
        ] {
            let e = req(v.clone()).unwrap_err();
            assert!(e.to_string().contains(needle), "{v}: {e}");
        }
    }

    #[test]
    fn values_are_validated() {
        for (v, needle) in [
            (json!({"xid": 0}), "4294967295"),
            (json!({"xid": "4294967296"}), "4294967295"),
            (json!({"lsn": "0/ZZ"}), "X/X"),
            (json!({"time": "2025-01-01 00:00:00"}), "time zone"),
            (json!({"time": "tomorrow"}), "YYYY-MM-DD"),
            (
                json!({"action": "restart", "lsn": "0/1"}),
                "pause, promote, shutdown",
            ),
            (json!({"set": "20250101"}), "backup label"),
            (json!({"timeline": "newest"}), "latest"),
            (json!({"archive": "maybe"}), "preserve"),
            (json!({"process": 0}), "1 to 999"),
            (json!({"data": "pg/data"}), "absolute"),
            (json!({"extra": ["--set=x"]}), "itself"),
            (json!({"extra": ["log-level-console=info"]}), "--name"),
            (json!({"db_include": ["a\nb"]}), "database name"),
            (json!({"repo": 0}), "1 to 256"),
            (json!({"tiem": "x"}), "did you mean 'time'"),
            (json!([1]), "mapping"),
        ] {
            let e = req(v.clone()).unwrap_err();
            assert!(e.to_string().contains(needle), "{v}: {e}");
        }
    }

    #[test]
    fn zone_given_by_caller_reads_local_times() {
        let tz = TimeZone::fixed(jiff::tz::Offset::constant(8));
        let r = RestoreRequest::from_pg_pitr(json!({"time": "2025-01-01 08:00:00"}), Some(&tz))
            .unwrap();
        assert_eq!(
            r.target.pgbackrest_target().unwrap(),
            "2025-01-01 08:00:00+08"
        );
    }

    #[test]
    fn repo_choices() {
        assert_eq!(
            req(json!({"repo": 2})).unwrap().repo,
            Some(RepoChoice::Index(RepoIndex::new(2).unwrap()))
        );
        assert_eq!(
            req(json!({"repo": "minio"})).unwrap().repo,
            Some(RepoChoice::Name("minio".parse().unwrap()))
        );
        let r = req(json!({"repo": {"path": "/other/backup"}})).unwrap();
        assert!(matches!(r.repo, Some(RepoChoice::Definition(_))));
        assert!(req(json!({"repo": {"pth": "/x"}})).is_err());
    }
}
