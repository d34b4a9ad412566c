//! `pitr check`: run every check on a node and record the report for `pitr exporter`.

pub use crate::check::{AgeLimits, CheckReport, rendered_archive_command};
pub use crate::run::check::{CheckOptions, record_path};

use crate::error::Error;
use crate::node::Node;

/// Runs the checks; with `record`, writes the report where `pitr exporter` reads it. A record
/// that cannot be written is returned beside the report (the checks' verdict stands).
pub fn check(node: &Node, options: &CheckOptions, record: bool) -> (CheckReport, Option<Error>) {
    let report = crate::run::check::run_checks(node, options);
    let failed = record
        .then(|| crate::run::check::save_record(node, &report).err())
        .flatten();
    (report, failed)
}
