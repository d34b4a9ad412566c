//! `pitr mark`: a restore point that a later restore can place.

use serde::Serialize;

use crate::error::Result;
use crate::marks::MarkRecord;
use crate::names::RestorePointName;
use crate::node::Node;
use crate::run::pgbackrest::PgBackRest;
use crate::run::probe::Endpoint;
use crate::run::tools;

/// What `pitr mark` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkResult {
    /// The restore point.
    pub mark: MarkRecord,
    /// `repoN: label` of each backup set the mark was recorded on.
    pub recorded_on: Vec<String>,
    /// Why it could not be recorded somewhere.
    pub warnings: Vec<String>,
}

/// Creates a restore point, records it on the newest backup set of every repo, and waits until
/// its WAL is archived (`pgbackrest check`), under the stanza's lock.
pub fn mark(node: &Node, name: &RestorePointName, locked: &super::Locked) -> Result<MarkResult> {
    locked.check(node.stanza.as_str())?;
    let bin = tools::pgbackrest()?;
    let record = Endpoint::of(node).create_restore_point(name)?;
    let pgb = PgBackRest::of(node, &bin)?;
    let info = pgb.info()?;
    let stanza = info.stanza(node.stanza.as_str())?;
    let mut recorded_on = Vec::new();
    let mut warnings = Vec::new();
    for repo in stanza.repo.iter().filter(|r| r.status.code.is_ok()) {
        let newest = stanza
            .backups_in_repo(repo.key)
            .max_by_key(|b| (b.timestamp.stop, b.label.clone()));
        match newest {
            Some(b) => match pgb.annotate(repo.key, b.label.as_str(), &record.annotation()) {
                Ok(()) => recorded_on.push(format!("repo{}: {}", repo.key, b.label)),
                Err(e) => warnings.push(format!("repo{}: {e}", repo.key)),
            },
            None => warnings.push(format!(
                "repo{} has no backup set to record the mark on; a restore to it will need \
                 --set or --before",
                repo.key
            )),
        }
    }
    // Wait until the restore point's WAL is archived, so a restore can reach it right away.
    if let Err(e) = pgb.check() {
        warnings.push(format!(
            "the WAL holding the restore point may not be archived yet ({e}); a restore to it \
             is refused until it is"
        ));
    }
    Ok(MarkResult {
        mark: record,
        recorded_on,
        warnings,
    })
}
