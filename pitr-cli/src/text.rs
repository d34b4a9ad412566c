//! What the commands print for people: pure functions of the core's documents, so they are
//! snapshot-tested (`src/snapshots/`). JSON output is the documents themselves.

use std::fmt::Write as _;

use pitr_core::check::{CheckReport, Status};
use pitr_core::fmt;
use pitr_core::ops::{ContinuityOutcome, InfoDoc, MarkResult, RestoreOutcome};
use pitr_core::plan::summary::Summary;

/// `pitr info`: per repo its sets (sizes readable), windows and WAL continuity, then the
/// timeline history and the marks.
pub(crate) fn info(doc: &InfoDoc) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "stanza {}: {} (status {})",
        doc.stanza,
        doc.status.message,
        doc.status.code.code()
    );
    for repo in &doc.repos {
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
            "  {:<34} {:<5} {:<23} {:<12} {:>10} {:>10}",
            "set", "type", "stopped", "stop lsn", "size", "repo"
        );
        for b in doc.sets.iter().filter(|b| b.repo_key() == repo.key) {
            let _ = writeln!(
                out,
                "  {:<34} {:<5} {:<23} {:<12} {:>10} {:>10}",
                b.label.as_str(),
                b.backup_type.as_str(),
                fmt::epoch(b.timestamp.stop),
                b.stop_lsn().map(|l| l.to_string()).unwrap_or_default(),
                fmt::bytes(b.info.size),
                fmt::bytes(b.info.repository.delta),
            );
        }
        let mut any = false;
        for w in doc.windows.iter().filter(|w| w.repo_key == repo.key) {
            any = true;
            let end = w.end.as_ref().map_or_else(
                || "unknown end".to_owned(),
                |e| match e.time {
                    Some(t) => format!("{} (archived by {})", e.lsn, fmt::epoch(t)),
                    None => e.lsn.to_string(),
                },
            );
            let _ = writeln!(
                out,
                "  window timeline {}: {} ({}) .. {end}",
                w.timeline,
                fmt::epoch(w.start.time),
                w.start.lsn
            );
        }
        if !any {
            let _ = writeln!(out, "  window: none (no backup set with its WAL archived)");
        }
        for c in doc.continuity.iter().filter(|c| c.repo_key == repo.key) {
            let _ = writeln!(out, "  wal: {}", c.describe());
        }
    }
    if !doc.timelines.is_empty() {
        let _ = writeln!(out, "\ntimelines (from the archive's history files):");
        for t in &doc.timelines {
            let _ = writeln!(
                out,
                "  {} <- {} at {} ({})",
                t.timeline, t.parent, t.switch_lsn, t.reason
            );
        }
    }
    if let Some(d) = &doc.drill {
        let secs = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |s| format!("{s:.1} s"));
        let _ = writeln!(
            out,
            "\nlast drill: {} at {}; restore {}, replay {}, total {}; last passed {}",
            if d.ok {
                "passed".to_owned()
            } else {
                format!("FAILED ({})", d.code.as_deref().unwrap_or("?"))
            },
            d.finished,
            secs(d.restore_secs),
            secs(d.replay_secs),
            secs(d.total_secs),
            d.last_success
                .map_or_else(|| "never".to_owned(), |t| t.to_string())
        );
    }
    if !doc.marks.is_empty() {
        let _ = writeln!(out, "\nrestore points recorded by pitr mark:");
        for m in &doc.marks {
            let _ = writeln!(
                out,
                "  {:<30} {} timeline {} at {}",
                m.name, m.lsn, m.timeline, m.time
            );
        }
    }
    out
}

/// `pitr check`: a line per check, then the verdict.
pub(crate) fn check(report: &CheckReport) -> String {
    let mut out = String::new();
    for c in &report.checks {
        let mark = match c.status {
            Status::Pass => "ok  ",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        let _ = writeln!(out, "{mark} {:<18} {}", c.check.name(), c.message);
    }
    let _ = match report.first_failure() {
        None => writeln!(
            out,
            "\nstanza {}: every check passed; a point-in-time restore is possible",
            report.stanza
        ),
        Some(f) => writeln!(
            out,
            "\nstanza {}: check {} failed ({})",
            report.stanza,
            f.check.name(),
            f.code
        ),
    };
    out
}

/// `pitr continuity`: what was pushed (or would be, in a dry run) and what was in place.
pub(crate) fn continuity(outcome: &ContinuityOutcome) -> String {
    let mut out = String::new();
    let Summary::Continuity(s) = &outcome.plan.summary else {
        return out;
    };
    if s.skipped {
        let _ = writeln!(
            out,
            "stanza {}: skipped ({})",
            outcome.plan.stanza,
            s.reason.as_deref().unwrap_or("nothing to do")
        );
        return out;
    }
    let verb = if outcome.dry_run {
        "would push"
    } else {
        "pushed"
    };
    let _ = writeln!(
        out,
        "stanza {}, timeline {}: {verb} {} file(s){}",
        outcome.plan.stanza,
        s.timeline.map_or_else(|| "?".to_owned(), |t| t.to_string()),
        s.push.len(),
        s.pg_wal
            .as_ref()
            .map(|p| format!(" from {}", p.display()))
            .unwrap_or_default()
    );
    for f in &s.push {
        let repos: Vec<String> = f.missing_from.iter().map(|r| format!("repo{r}")).collect();
        let _ = writeln!(
            out,
            "  {} (missing from {})",
            f.name,
            if repos.is_empty() {
                "? (no archive could be listed)".to_owned()
            } else {
                repos.join(", ")
            }
        );
    }
    if !s.present.is_empty() {
        let _ = writeln!(
            out,
            "already in every repo, with the same contents: {} file(s): {}",
            s.present.len(),
            s.present.join(", ")
        );
    }
    for w in &outcome.plan.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// `pitr mark`: where the restore point is and where it was recorded.
pub(crate) fn mark(result: &MarkResult) -> String {
    format!(
        "restore point '{}' at {} on timeline {} ({}); recorded on {}\n",
        result.mark.name,
        result.mark.lsn,
        result.mark.timeline,
        result.mark.time,
        if result.recorded_on.is_empty() {
            "no backup set".to_owned()
        } else {
            result.recorded_on.join(", ")
        }
    )
}

/// `pitr drill`: the result, the phases and the checks.
pub(crate) fn drill(r: &pitr_core::ops::drill::DrillRecord) -> String {
    if let Some(why) = &r.skipped {
        return format!("drill skipped: {why}\n");
    }
    let f = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |s| format!("{s:.1} s"));
    let mut out = format!(
        "drill {} of stanza {}: target {}{}\n",
        if r.ok { "passed" } else { "FAILED" },
        r.stanza,
        r.target.as_deref().unwrap_or("-"),
        r.seed.map(|s| format!(" (seed {s})")).unwrap_or_default()
    );
    if let (Some(set), Some(repo)) = (&r.set, r.repo) {
        let _ = writeln!(out, "  set {set} from repo{repo}");
    }
    let _ = writeln!(
        out,
        "  restore {}, replay {}, total {}, checks {}",
        f(r.restore_secs),
        f(r.replay_secs),
        f(r.total_secs),
        f(r.check_secs)
    );
    if !r.checks.is_empty() {
        let _ = writeln!(out, "  passed: {}", r.checks.join(", "));
    }
    if let Some(code) = &r.code {
        let _ = writeln!(out, "  error[{code}]");
    }
    out
}

/// `pitr drill --cleanup`: what was removed.
pub(crate) fn drill_cleanup(removed: &[std::path::PathBuf]) -> String {
    if removed.is_empty() {
        return "nothing to clean up\n".to_owned();
    }
    let mut out = String::new();
    for p in removed {
        let _ = writeln!(out, "removed {}", p.display());
    }
    out
}

/// `pitr restore`: what was restored and where recovery stopped.
pub(crate) fn restored(outcome: &RestoreOutcome) -> String {
    let Some(v) = &outcome.report.verified else {
        return String::new();
    };
    let mut text = format!(
        "restored {} from repo{} and verified {}: recovery stopped {}, {}\n",
        outcome.selection.set,
        outcome.selection.repo,
        v.target,
        v.stop.as_ref().map_or_else(
            || "at the end of the archive".to_owned(),
            ToString::to_string
        ),
        v.ending
    );
    if let Some(q) = &v.landing {
        text.push_str(&q.describe());
        text.push('\n');
    }
    text
}

/// What a cluster restore did, for people.
pub(crate) fn cluster_restored(outcome: &pitr_core::ops::ClusterOutcome) -> String {
    let plan = &outcome.plan;
    let mut out = format!(
        "cluster {} restored to {} from member {}: it leads on timeline {}\n",
        plan.scope,
        plan.target,
        plan.chosen,
        outcome
            .timeline
            .map_or_else(|| "?".to_owned(), |t| t.to_string())
    );
    if let Some(v) = outcome.restore.as_ref().and_then(|r| r.verified.as_ref()) {
        let _ = writeln!(
            out,
            "  recovery stopped {}, {}",
            v.stop.as_ref().map_or_else(
                || "at the end of the archive".to_owned(),
                ToString::to_string
            ),
            v.ending
        );
    }
    if let Some(r) = &outcome.resumed {
        let _ = writeln!(
            out,
            "  continued interrupted run {} from step '{}'",
            r.run_id, r.interrupted_at
        );
    }
    if let Some(new) = &plan.new_cluster {
        let _ = writeln!(
            out,
            "  into the new cluster {} (member {}, data {}, port {}), archiving into stanza {}; \
             cluster {} untouched",
            new.scope,
            new.member,
            new.data.display(),
            new.port,
            new.scope,
            plan.scope
        );
    } else {
        for m in plan.members.iter().filter(|m| m.name != plan.chosen) {
            let _ = writeln!(out, "  {} rebuilt from the new leader, streaming", m.name);
        }
    }
    if outcome.backup.is_some() {
        let _ = writeln!(out, "  a full backup of the new timeline was taken");
    }
    if let Some(log) = &outcome.log_file {
        let _ = writeln!(out, "  log: {log}");
    }
    out
}

#[cfg(test)]
mod tests {
    //! What people read, snapshot-tested from recorded `pgbackrest info` output.
    #![allow(clippy::unwrap_used)]

    use pitr_core::check::{self, Check, CheckResult};
    use pitr_core::node::Node;
    use pitr_core::ops::{ContinuityOutcome, InfoDoc};
    use pitr_core::snapshot::RepoSnapshot;
    use pitr_core::spec::ClusterSpec;

    fn info_doc(fixture: &str, stanza: &str) -> InfoDoc {
        let text = std::fs::read_to_string(format!(
            "{}/../pitr-core/tests/fixtures/pgbackrest-2.45/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let snapshot = RepoSnapshot::from_info(pitr_core::info::parse(&text).unwrap());
        let spec = ClusterSpec::from_yaml_str(&format!("pg_cluster: {stanza}")).unwrap();
        InfoDoc::from_snapshot(&Node::from_spec(&spec), &snapshot).unwrap()
    }

    #[test]
    fn info_of_a_stanza_with_a_full_and_an_incr() {
        let doc = info_doc("info-local-full-incr.json", "demo");
        insta::assert_snapshot!(super::info(&doc));
        insta::assert_json_snapshot!(doc);
    }

    #[test]
    fn info_of_two_repos_after_a_failover() {
        let doc = info_doc("info-multi-repo-failover.json", "pg-multi");
        insta::assert_snapshot!(super::info(&doc));
    }

    /// Repo1 listed, with the hole a failover leaves (a segment of timeline 1 the old primary
    /// never archived); repo2 not listed.
    #[test]
    fn info_after_a_failover_with_a_hole_in_repo1() {
        let dir = format!(
            "{}/../pitr-core/tests/fixtures/pgbackrest-2.45",
            env!("CARGO_MANIFEST_DIR")
        );
        let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        let mut snapshot = RepoSnapshot::from_info(
            pitr_core::info::parse(&read("info-multi-repo-failover.json")).unwrap(),
        );
        let tl2 = pitr_core::names::TimelineId::new(2).unwrap();
        snapshot
            .histories
            .insert(pitr_core::history::parse(tl2, &read("00000002.history")).unwrap());
        let mut listing = pitr_core::archive::parse_repo_ls(
            &read("repo-ls-archive-multi-repo1.json"),
            pitr_core::names::DEFAULT_SEGMENT_SIZE,
        )
        .unwrap();
        listing
            .files
            .retain(|f| !f.path.contains("/000000010000000000000008-"));
        snapshot
            .listings
            .insert(pitr_core::names::RepoIndex::of(1), listing);
        let spec = ClusterSpec::from_yaml_str("pg_cluster: pg-multi").unwrap();
        let doc = InfoDoc::from_snapshot(&Node::from_spec(&spec), &snapshot).unwrap();
        insta::assert_snapshot!(super::info(&doc));
        insta::assert_json_snapshot!(
            serde_json::json!({"continuity": doc.continuity, "timelines": doc.timelines})
        );
    }

    #[test]
    fn continuity_reports_what_was_pushed() {
        use pitr_core::continuity::{WalFile, WalJudgement};
        use pitr_core::names::{RepoIndex, TimelineId};
        let judgement = WalJudgement {
            timeline: TimelineId::new(2).unwrap(),
            push: vec![
                WalFile {
                    name: "00000002.history".into(),
                    missing_from: vec![RepoIndex::of(2)],
                },
                WalFile {
                    name: "000000010000000000000004".into(),
                    missing_from: vec![RepoIndex::of(1), RepoIndex::of(2)],
                },
            ],
            present: vec!["000000010000000000000003".into()],
            conflicts: vec![],
            notes: vec![],
        };
        let site = pitr_core::plan::backup::BackupSite {
            stanza: "pg-ha".parse().unwrap(),
            pgbackrest_argv: vec!["pgbackrest".into()],
            dbsu: "postgres".into(),
        };
        let plan = pitr_core::plan::continuity::plan_continuity(
            &site,
            std::path::Path::new("/pg/data/pg_wal"),
            pitr_core::names::DEFAULT_SEGMENT_SIZE,
            &judgement,
        )
        .unwrap();
        let outcome = ContinuityOutcome {
            skipped: false,
            dry_run: false,
            plan,
            report: None,
        };
        insta::assert_snapshot!(super::continuity(&outcome));
    }

    #[test]
    fn check_reports_what_failed_and_why() {
        let time = "2026-11-23T20:30:00Z".parse().unwrap();
        let report = check::CheckReport::new(
            "demo",
            time,
            vec![
                CheckResult::pass(
                    Check::Database,
                    "socket /var/run/postgresql port 5432 answers; it is the primary",
                ),
                check::archive_mode("on"),
                CheckResult::fail(
                    Check::ArchiveCommand,
                    "archive_command names stanza 'other', this node's is 'demo'",
                ),
                CheckResult::skip(
                    Check::PgbackrestCheck,
                    "archiving is already known to be broken (see above)",
                ),
            ],
        );
        insta::assert_snapshot!(super::check(&report));
        insta::assert_json_snapshot!(report);
    }
}
