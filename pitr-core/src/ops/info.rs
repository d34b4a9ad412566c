//! `pitr info`: the backup sets, recoverable windows and marks of a node's stanza, as one
//! document (the CLI's `--json`, Python's `pitr.info()`).

use serde::Serialize;

use crate::error::Result;
use crate::info::{BackupInfo, RepoInfo, StanzaStatus};
use crate::marks::MarkRecord;
use crate::node::Node;
use crate::snapshot::RepoSnapshot;
use crate::window::{self, RecoverableWindow};

/// What `pitr info` shows.
#[derive(Debug, Clone, Serialize)]
pub struct InfoDoc {
    /// The stanza.
    pub stanza: String,
    /// Its status in `pgbackrest info`.
    pub status: StanzaStatus,
    /// Its repos and their status.
    pub repos: Vec<RepoInfo>,
    /// Every backup set, in pgBackRest's order.
    pub sets: Vec<BackupInfo>,
    /// The recoverable windows per repo and timeline.
    pub windows: Vec<RecoverableWindow>,
    /// Restore points recorded by `pitr mark`.
    pub marks: Vec<MarkRecord>,
    /// What could not be gathered (e.g. a repo whose archive could not be listed).
    pub warnings: Vec<String>,
}

impl InfoDoc {
    /// The document for the node's stanza in `snapshot`.
    pub fn from_snapshot(node: &Node, snapshot: &RepoSnapshot) -> Result<InfoDoc> {
        let stanza = snapshot.stanza(&node.stanza)?;
        Ok(InfoDoc {
            stanza: stanza.name.clone(),
            status: stanza.status.clone(),
            repos: stanza.repo.clone(),
            sets: stanza.backup.clone(),
            windows: window::windows(stanza, &snapshot.histories, &snapshot.listings),
            marks: snapshot.marks.clone(),
            warnings: snapshot.warnings.clone(),
        })
    }
}

/// Asks pgBackRest about the node's stanza.
pub fn info(node: &Node) -> Result<InfoDoc> {
    InfoDoc::from_snapshot(node, &super::restore::snapshot(node)?)
}
