//! Restore points recorded by `pitr mark`, so a later restore can place a name target.
//!
//! PostgreSQL does not tell where a restore point is until recovery replays it. `pitr mark`
//! therefore records each one — name, LSN, timeline and time — as an annotation on the newest
//! backup set of every repo (`pgbackrest annotate`), which lives in the repo itself on every
//! repo type and comes back in `pgbackrest info`. Annotation keys are `pitr-mark-<LSN>`; values
//! are small JSON objects. [`from_info`] reads them back.

use serde::{Deserialize, Serialize};

use crate::info::StanzaInfo;
use crate::names::{Lsn, RestorePointName, TimelineId};

/// Annotation keys of marks start with this.
pub const ANNOTATION_PREFIX: &str = "pitr-mark-";

/// A restore point created by `pitr mark`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRecord {
    /// Its name.
    pub name: RestorePointName,
    /// The LSN `pg_create_restore_point` returned (the end of its WAL record).
    pub lsn: Lsn,
    /// The timeline it was written on.
    pub timeline: TimelineId,
    /// When it was created.
    pub time: jiff::Timestamp,
}

#[derive(Serialize, Deserialize)]
struct AnnotationValue {
    name: RestorePointName,
    timeline: TimelineId,
    time: jiff::Timestamp,
}

impl MarkRecord {
    /// The `key=value` for `pgbackrest annotate --annotation`.
    pub fn annotation(&self) -> String {
        let value = AnnotationValue {
            name: self.name.clone(),
            timeline: self.timeline,
            time: self.time,
        };
        let json = serde_json::to_string(&value).unwrap_or_default();
        format!("{ANNOTATION_PREFIX}{}={json}", self.lsn)
    }

    fn from_annotation(key: &str, value: &str) -> Option<MarkRecord> {
        let lsn: Lsn = key.strip_prefix(ANNOTATION_PREFIX)?.parse().ok()?;
        let v: AnnotationValue = serde_json::from_str(value).ok()?;
        Some(MarkRecord {
            name: v.name,
            lsn,
            timeline: v.timeline,
            time: v.time,
        })
    }
}

/// Every mark recorded in the stanza's backup annotations, oldest first, without duplicates.
pub fn from_info(stanza: &StanzaInfo) -> Vec<MarkRecord> {
    let mut out: Vec<MarkRecord> = stanza
        .backup
        .iter()
        .filter_map(|b| b.annotation.as_ref())
        .flat_map(|a| a.iter())
        .filter_map(|(k, v)| MarkRecord::from_annotation(k, v))
        .collect();
    out.sort_by(|a, b| a.time.cmp(&b.time).then(a.lsn.cmp(&b.lsn)));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_round_trip() {
        let m = MarkRecord {
            name: "before upgrade = v2".parse().unwrap(),
            lsn: "0/3027F60".parse().unwrap(),
            timeline: TimelineId::FIRST,
            time: "2026-11-23T20:27:45.64Z".parse().unwrap(),
        };
        let a = m.annotation();
        let (k, v) = a.split_once('=').unwrap();
        assert_eq!(k, "pitr-mark-0/3027F60");
        assert_eq!(MarkRecord::from_annotation(k, v), Some(m));
        assert_eq!(MarkRecord::from_annotation("other", v), None);
        assert_eq!(MarkRecord::from_annotation(k, "{"), None);
    }
}
