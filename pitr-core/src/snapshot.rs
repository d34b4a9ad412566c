//! What pgBackRest knows about a stanza, gathered once (`run::pgbackrest::PgBackRest::snapshot`)
//! or built from an info report alone ([`RepoSnapshot::from_info`]); selection, windows, checks
//! and metrics all read it.

use std::collections::BTreeMap;

use crate::archive::ArchiveListing;
use crate::error::Result;
use crate::history::TimelineHistories;
use crate::info::{InfoReport, StanzaInfo};
use crate::marks::{self, MarkRecord};
use crate::names::{RepoIndex, StanzaName};

/// What pgBackRest knows about a stanza, as selection needs it.
#[derive(Debug, Clone)]
pub struct RepoSnapshot {
    /// `info --output=json`.
    pub info: InfoReport,
    /// History files found in any repo's archive.
    pub histories: TimelineHistories,
    /// Archive listings by repo key (repos that could not be listed are absent).
    pub listings: BTreeMap<RepoIndex, ArchiveListing>,
    /// Restore points recorded by `pitr mark`.
    pub marks: Vec<MarkRecord>,
    /// What could not be gathered (e.g. a repo whose archive could not be listed).
    pub warnings: Vec<String>,
}

impl RepoSnapshot {
    /// The stanza's part of the info report.
    pub fn stanza(&self, name: &StanzaName) -> Result<&StanzaInfo> {
        self.info.stanza(name.as_str())
    }
}

impl RepoSnapshot {
    /// A snapshot from an info report alone: no listings or histories; marks from the sets'
    /// annotations.
    pub fn from_info(report: InfoReport) -> RepoSnapshot {
        let marks = report.stanzas.iter().flat_map(marks::from_info).collect();
        RepoSnapshot {
            info: report,
            histories: TimelineHistories::new(),
            listings: BTreeMap::new(),
            marks,
            warnings: Vec::new(),
        }
    }
}
