//! Planning a backup, like Pigsty's `pg-backup`: only the primary backs up.
//!
//! Run from cron on every node of a cluster: on a standby the plan is a single note saying it
//! skipped (and the command exits 0); on the primary it creates the stanza when it is missing
//! and runs `pgbackrest backup` with the requested type (incremental by default; pgBackRest
//! makes it full when there is no full backup yet).

use super::summary::{BackupSummary, Role, Summary};
use super::{Plan, Step};
use crate::names::{BackupType, RepoIndex, StanzaName};

/// What the node is, as far as backups care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupFacts {
    /// The local instance's role (Patroni's, else `pg_is_in_recovery()`).
    pub role: Role,
    /// The stanza exists in the repos (`pgbackrest info` status is not 1 or 3).
    pub stanza_exists: bool,
}

/// The pgBackRest command line pieces a backup needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSite {
    /// The stanza.
    pub stanza: StanzaName,
    /// argv prefix for a pgBackRest command: executable, `--config=...`, `--stanza=...`.
    pub pgbackrest_argv: Vec<String>,
    /// OS user that runs pgBackRest.
    pub dbsu: String,
}

fn pgbackrest_step(site: &BackupSite, id: &str, title: String, options: &[String]) -> Step {
    let mut argv = site.pgbackrest_argv.clone();
    argv.extend(options.iter().cloned());
    Step::exec(id, title, false, argv, &site.dbsu)
}

/// Plans a backup of type `kind` (incr when `None`) to `repo` (pgBackRest's default, repo1,
/// when `None`).
pub fn plan_backup(
    site: &BackupSite,
    kind: Option<BackupType>,
    repo: Option<RepoIndex>,
    facts: BackupFacts,
) -> Plan {
    let kind = kind.unwrap_or(BackupType::Incr);
    let replica = facts.role == Role::Replica;
    let summary = |reason: Option<String>| {
        Summary::Backup(BackupSummary {
            backup_type: kind,
            repo,
            role: facts.role,
            skipped: replica,
            reason,
        })
    };
    if replica {
        return Plan {
            summary: summary(Some(
                "this instance is a standby; backups run on the primary".into(),
            )),
            stanza: site.stanza.to_string(),
            warnings: Vec::new(),
            steps: vec![Step::note(
                "skip",
                "Skip: this instance is a standby",
                format!(
                    "pg_is_in_recovery() is true: stanza {} is backed up from its primary. \
                     Nothing to do here.",
                    site.stanza
                ),
            )],
            on_failure: Vec::new(),
        };
    }
    let mut steps = Vec::new();
    if !facts.stanza_exists {
        steps.push(pgbackrest_step(
            site,
            "stanza-create",
            format!("Create stanza {} in the repos", site.stanza),
            &["stanza-create".into()],
        ));
    }
    let mut args = vec![format!("--type={kind}")];
    if let Some(r) = repo {
        args.push(format!("--repo={r}"));
    }
    args.push("backup".into());
    steps.push(pgbackrest_step(
        site,
        "backup",
        format!(
            "Take a {kind} backup of stanza {}{}",
            site.stanza,
            repo.map(|r| format!(" to repo{r}")).unwrap_or_default()
        ),
        &args,
    ));
    Plan {
        summary: summary(None),
        stanza: site.stanza.to_string(),
        warnings: Vec::new(),
        steps,
        on_failure: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn replica_skips() {
        let p = plan_backup(
            &site(),
            None,
            None,
            BackupFacts {
                role: Role::Replica,
                stanza_exists: true,
            },
        );
        assert_eq!(p.steps.len(), 1);
        assert!(matches!(
            p.summary,
            Summary::Backup(BackupSummary { skipped: true, .. })
        ));
    }

    #[test]
    fn primary_creates_missing_stanza_and_backs_up() {
        let p = plan_backup(
            &site(),
            Some(BackupType::Full),
            Some(RepoIndex::of(2)),
            BackupFacts {
                role: Role::Primary,
                stanza_exists: false,
            },
        );
        let ids: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["stanza-create", "backup"]);
        let Action::Exec { argv, .. } = &p.steps[1].action else {
            panic!()
        };
        assert_eq!(&argv[3..], ["--type=full", "--repo=2", "backup"]);
        let p = plan_backup(
            &site(),
            None,
            None,
            BackupFacts {
                role: Role::Primary,
                stanza_exists: true,
            },
        );
        let Action::Exec { argv, .. } = &p.steps[0].action else {
            panic!()
        };
        assert_eq!(&argv[3..], ["--type=incr", "backup"]);
    }
}
