//! `pitr info`: backup sets and recoverable windows.

use std::fmt::Write as _;
use std::process::ExitCode;

use pitr_core::select::fmt_epoch;
use pitr_core::window;

use crate::cli::{GlobalArgs, NodeArgs};
use crate::output;

pub(crate) fn run(global: &GlobalArgs, args: &NodeArgs) -> anyhow::Result<ExitCode> {
    let node = super::node(global, args)?;
    let snap = pitr_core::ops::snapshot(&node)?;
    for w in &snap.warnings {
        eprintln!("warning: {w}");
    }
    let stanza = snap.stanza(&node.stanza)?;
    let windows = window::windows(stanza, &snap.histories, &snap.listings);
    if global.json {
        output::print_json(&serde_json::json!({
            "stanza": stanza.name,
            "status": {"code": stanza.status.code, "message": stanza.status.message},
            "repos": stanza.repo,
            "sets": stanza.backup,
            "windows": windows,
            "marks": snap.marks,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "stanza {}: {} (status {})",
        stanza.name,
        stanza.status.message,
        stanza.status.code.code()
    );
    for repo in &stanza.repo {
        let _ = writeln!(
            out,
            "\nrepo{} (status {}, cipher {}): {}",
            repo.key,
            repo.status.code.code(),
            repo.cipher.as_deref().unwrap_or("none"),
            repo.status.message
        );
        let _ = writeln!(
            out,
            "  {:<34} {:<5} {:<23} {:<12} {:>12}",
            "set", "type", "stopped", "stop lsn", "size"
        );
        for b in stanza.backups_in_repo(repo.key) {
            let _ = writeln!(
                out,
                "  {:<34} {:<5} {:<23} {:<12} {:>12}",
                b.label.as_str(),
                b.backup_type.as_str(),
                fmt_epoch(b.timestamp.stop),
                b.stop_lsn().map(|l| l.to_string()).unwrap_or_default(),
                b.info.size
            );
        }
        for w in windows.iter().filter(|w| w.repo_key == repo.key) {
            let end = w.end.as_ref().map_or_else(
                || "unknown end".to_owned(),
                |e| match e.time {
                    Some(t) => format!("{} (archived by {})", e.lsn, fmt_epoch(t)),
                    None => e.lsn.to_string(),
                },
            );
            let _ = writeln!(
                out,
                "  window timeline {}: {} ({}) .. {end}",
                w.timeline,
                fmt_epoch(w.start.time),
                w.start.lsn
            );
        }
        if !windows.iter().any(|w| w.repo_key == repo.key) {
            let _ = writeln!(out, "  window: none (no backup set with its WAL archived)");
        }
    }
    if !snap.marks.is_empty() {
        let _ = writeln!(out, "\nrestore points recorded by pitr mark:");
        for m in &snap.marks {
            let _ = writeln!(
                out,
                "  {:<30} {} timeline {} at {}",
                m.name, m.lsn, m.timeline, m.time
            );
        }
    }
    output::print(&out)?;
    Ok(ExitCode::SUCCESS)
}
