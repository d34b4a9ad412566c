//! Whether every repo's archive holds the WAL along the cluster's history (the figure of
//! [`crate::continuity`]).

use super::{Check, CheckResult};
use crate::continuity::{ContinuityStatus, RepoContinuity};

/// Fails when a repo misses WAL, naming the repo, the count and the first segments; skipped
/// when no repo's archive could be listed (the figure is unknown, not 0).
pub fn archive_continuity(repos: &[RepoContinuity]) -> CheckResult {
    let missing: Vec<&RepoContinuity> = repos
        .iter()
        .filter(|r| r.status == ContinuityStatus::Missing)
        .collect();
    let line = |r: &RepoContinuity| format!("repo{}: {}", r.repo_key, r.describe());
    if !missing.is_empty() {
        let parts: Vec<String> = missing.iter().map(|r| line(r)).collect();
        return CheckResult::fail(
            Check::ArchiveContinuity,
            format!(
                "{}; a restore along this history stops at the first missing segment. Run \
                 pitr continuity on the primary while its pg_wal still holds them (see \
                 docs/ha.md), or take a full backup so that restores start after the hole",
                parts.join("; ")
            ),
        );
    }
    if repos.iter().all(|r| r.status == ContinuityStatus::Unknown) {
        let why = repos.first().map_or_else(
            || "the stanza has no repo".to_owned(),
            RepoContinuity::describe,
        );
        return CheckResult::skip(
            Check::ArchiveContinuity,
            format!("no repo's archive could be listed ({why})"),
        );
    }
    let parts: Vec<String> = repos.iter().map(line).collect();
    CheckResult::pass(Check::ArchiveContinuity, parts.join("; "))
}
