//! Planning `pitr continuity`: push from a new primary's `pg_wal` what the archive lacks.
//!
//! From a [`WalJudgement`] ([`crate::continuity::local::judge`]) the plan has one step per
//! file to push: `pgbackrest --config=... --stanza=... --no-archive-async archive-push
//! <pg_wal>/<file>`, run as the database superuser, the current timeline's history file
//! first, then the segments oldest first. `--no-archive-async` makes each push synchronous, so
//! a step that succeeds has put its file into every repo (pgBackRest keeps a copy a repo
//! already has with the same checksum). A file whose copy in a repo differs is a conflict:
//! no plan is made at all ([`Error::ArchiveConflict`]). On a replica the plan is a single
//! note: the primary pushes.

use std::path::Path;

use super::backup::BackupSite;
use super::summary::{ContinuitySummary, Role, Summary};
use super::{Plan, Step};
use crate::continuity::WalJudgement;
use crate::continuity::local::is_wal_file_name;
use crate::error::{Error, Result};
use crate::names::{DEFAULT_SEGMENT_SIZE, SegmentSize};

/// The plan on a replica: nothing to do, the primary pushes.
pub fn plan_skip(site: &BackupSite) -> Plan {
    let reason = "this instance is a replica: the primary pushes what the archive lacks";
    Plan {
        summary: Summary::Continuity(ContinuitySummary {
            role: Role::Replica,
            skipped: true,
            reason: Some(reason.to_owned()),
            timeline: None,
            pg_wal: None,
            push: Vec::new(),
            present: Vec::new(),
        }),
        stanza: site.stanza.to_string(),
        warnings: Vec::new(),
        steps: vec![Step::note(
            "skip",
            "Skip: this instance is a replica",
            format!(
                "pg_is_in_recovery() is true: the primary of stanza {} pushes what its \
                 pg_wal holds and the archive lacks. Nothing to do here.",
                site.stanza
            ),
        )],
        on_failure: Vec::new(),
    }
}

/// The plan on a primary whose `pg_wal` is `pg_wal` (segment size `segment_size`): push what
/// `judgement` says; [`Error::ArchiveConflict`] when a file's copy in a repo differs.
pub fn plan_continuity(
    site: &BackupSite,
    pg_wal: &Path,
    segment_size: SegmentSize,
    judgement: &WalJudgement,
) -> Result<Plan> {
    if let Some(first) = judgement.conflicts.first() {
        return Err(Error::ArchiveConflict {
            file: first.file.clone(),
            repo: first.repo,
            detail: first.detail.clone(),
            more: judgement.conflicts.len() - 1,
        });
    }
    let mut steps = Vec::with_capacity(judgement.push.len());
    for file in &judgement.push {
        // The names come from the judgement's own formatting; anything else is a bug, and
        // never reaches a command line.
        if !is_wal_file_name(&file.name, segment_size)
            && !is_wal_file_name(&file.name, DEFAULT_SEGMENT_SIZE)
        {
            return Err(Error::invalid(
                "WAL file name",
                file.name.clone(),
                "expected a segment or history file name",
            ));
        }
        let lacking = if file.missing_from.is_empty() {
            "the archive could not be listed".to_owned()
        } else {
            let repos: Vec<String> = file
                .missing_from
                .iter()
                .map(|r| format!("repo{r}"))
                .collect();
            format!("missing from {}", repos.join(", "))
        };
        let mut argv = site.pgbackrest_argv.clone();
        argv.extend([
            "--no-archive-async".to_owned(),
            "archive-push".to_owned(),
            pg_wal.join(&file.name).to_string_lossy().into_owned(),
        ]);
        steps.push(Step::exec(
            &format!("push-{}", file.name),
            format!("Push {} ({lacking})", file.name),
            false,
            argv,
            &site.dbsu,
        ));
    }
    if steps.is_empty() {
        steps.push(Step::note(
            "nothing",
            "Nothing to push",
            format!(
                "The archive holds every file of timeline {}'s history that pg_wal still has \
                 ({} checked).",
                judgement.timeline,
                judgement.present.len()
            ),
        ));
    }
    Ok(Plan {
        summary: Summary::Continuity(ContinuitySummary {
            role: Role::Primary,
            skipped: false,
            reason: None,
            timeline: Some(judgement.timeline),
            pg_wal: Some(pg_wal.to_path_buf()),
            push: judgement.push.clone(),
            present: judgement.present.clone(),
        }),
        stanza: site.stanza.to_string(),
        warnings: judgement.notes.clone(),
        steps,
        on_failure: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::continuity::{Conflict, WalFile};
    use crate::names::{RepoIndex, TimelineId};
    use crate::plan::Action;

    fn site() -> BackupSite {
        BackupSite {
            stanza: "pg-meta".parse().unwrap(),
            pgbackrest_argv: vec![
                "/usr/bin/pgbackrest".into(),
                "--config=/etc/pgbackrest/pgbackrest.conf".into(),
                "--stanza=pg-meta".into(),
            ],
            dbsu: "postgres".into(),
        }
    }

    fn judgement() -> WalJudgement {
        WalJudgement {
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
            conflicts: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn pushes_each_file_synchronously_as_the_database_superuser() {
        let p = plan_continuity(
            &site(),
            Path::new("/pg/data/pg_wal"),
            DEFAULT_SEGMENT_SIZE,
            &judgement(),
        )
        .unwrap();
        assert_eq!(p.kind().as_str(), "continuity");
        assert!(!p.is_destructive());
        let Action::Exec { argv, run_as, .. } = &p.steps[1].action else {
            panic!("{p:?}")
        };
        assert_eq!(
            &argv[3..],
            [
                "--no-archive-async",
                "archive-push",
                "/pg/data/pg_wal/000000010000000000000004"
            ]
        );
        assert_eq!(run_as.as_deref(), Some("postgres"));
        assert_eq!(
            p.steps[0].title,
            "Push 00000002.history (missing from repo2)"
        );
        let shell = crate::plan::shell::to_shell(&p);
        assert!(
            shell.contains(
                "runuser -u postgres -- /usr/bin/pgbackrest \
                 '--config=/etc/pgbackrest/pgbackrest.conf' '--stanza=pg-meta' \
                 --no-archive-async archive-push /pg/data/pg_wal/00000002.history\n"
            ),
            "{shell}"
        );
        // The plan survives JSON (a dry run's output can be read back).
        assert_eq!(Plan::from_json(&p.to_json()).unwrap(), p);
    }

    #[test]
    fn nothing_to_push_is_a_note_and_a_conflict_is_no_plan() {
        let mut j = judgement();
        j.push.clear();
        let p = plan_continuity(&site(), Path::new("/w"), DEFAULT_SEGMENT_SIZE, &j).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].id, "nothing");
        j.conflicts = vec![
            Conflict {
                file: "000000010000000000000003".into(),
                repo: RepoIndex::of(1),
                detail: "the repo's copy has SHA-1 a, pg_wal's has b".into(),
            },
            Conflict {
                file: "00000002.history".into(),
                repo: RepoIndex::of(1),
                detail: "x".into(),
            },
        ];
        let e = plan_continuity(&site(), Path::new("/w"), DEFAULT_SEGMENT_SIZE, &j).unwrap_err();
        assert_eq!(e.code(), "archive_conflict");
        let msg = e.to_string();
        assert!(
            msg.starts_with("000000010000000000000003 in repo1 differs")
                && msg.contains("and 1 more file(s) differ"),
            "{msg}"
        );
        let mut bad = judgement();
        bad.push[0].name = "../../etc/passwd".into();
        assert!(plan_continuity(&site(), Path::new("/w"), DEFAULT_SEGMENT_SIZE, &bad).is_err());
        assert!(matches!(
            plan_skip(&site()).summary,
            Summary::Continuity(ContinuitySummary { skipped: true, .. })
        ));
    }
}
