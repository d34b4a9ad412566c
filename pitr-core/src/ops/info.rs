//! `pitr info`: the backup sets, recoverable windows, WAL continuity, timeline history and
//! marks of a node's stanza, as one document (the CLI's `--json`, Python's `pitr.info()`).

use serde::Serialize;

use crate::continuity::{self, RepoContinuity};
use crate::error::Result;
use crate::history::TimelineSwitch;
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
    /// Per repo, the WAL missing along the cluster's history (unknown for repos whose archive
    /// could not be listed).
    pub continuity: Vec<RepoContinuity>,
    /// The timeline switches known from the archive's history files, by timeline.
    pub timelines: Vec<TimelineSwitch>,
    /// Restore points recorded by `pitr mark`.
    pub marks: Vec<MarkRecord>,
    /// What could not be gathered (e.g. a repo whose archive could not be listed).
    pub warnings: Vec<String>,
    /// The last `pitr drill` on this node, when one was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drill: Option<crate::metrics::DrillSummary>,
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
            continuity: continuity::continuity(stanza, &snapshot.histories, &snapshot.listings),
            timelines: snapshot.histories.switches(),
            marks: snapshot.marks.clone(),
            warnings: snapshot.warnings.clone(),
            drill: None,
        })
    }
}

/// Asks pgBackRest about the node's stanza, and adds the last drill's record.
pub fn info(node: &Node) -> Result<InfoDoc> {
    let mut doc = InfoDoc::from_snapshot(node, &super::restore::snapshot(node)?)?;
    let owner = crate::run::user::OsUser::lookup(&node.dbsu).ok();
    match crate::run::check::load_json(
        &super::drill::record_path(node),
        owner.as_ref(),
        "drill record",
    ) {
        Ok(d) => doc.drill = d,
        Err(e) => doc
            .warnings
            .push(format!("ignoring the pitr drill record: {e}")),
    }
    Ok(doc)
}
