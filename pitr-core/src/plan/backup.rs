//! Planning a backup, like Pigsty's `pg-backup`: only the primary backs up.
//!
//! Run from cron on every node of a cluster: on a standby the plan is a single note saying it
//! skipped and why (and the command exits 0); on the primary it creates the stanza when it is
//! missing and runs `pgbackrest backup` with the requested type (incremental by default;
//! pgBackRest makes it full when there is no full backup yet). The role comes decided
//! ([`crate::role`]): a member that cannot tell never gets this far.

use super::summary::{BackupSummary, Summary};
use super::{Plan, Step};
use crate::names::{BackupType, RepoIndex, StanzaName};
use crate::role::{Role, RoleFinding, RoleSource};

/// What the node is, as far as backups care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFacts {
    /// The local instance's role (Patroni's, else `pg_is_in_recovery()`), with its source.
    pub role: RoleFinding,
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
    facts: &BackupFacts,
) -> Plan {
    let kind = kind.unwrap_or(BackupType::Incr);
    let replica = facts.role.role == Role::Replica;
    let summary = |reason: Option<String>| {
        Summary::Backup(BackupSummary {
            backup_type: kind,
            repo,
            role: facts.role.role,
            role_source: facts.role.source,
            skipped: replica,
            reason,
        })
    };
    if replica {
        let primary = if facts.role.source == RoleSource::Patroni {
            "the leader"
        } else {
            "the primary"
        };
        let reason = format!(
            "this instance is a standby: {}; backups run on {primary}",
            facts.role.why
        );
        return Plan {
            summary: summary(Some(reason)),
            stanza: site.stanza.to_string(),
            warnings: Vec::new(),
            steps: vec![Step::note(
                "skip",
                "Skip: this instance is a standby",
                format!(
                    "{}: stanza {} is backed up from {primary}. Nothing to do here.",
                    facts.role.why, site.stanza
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
            &BackupFacts {
                role: RoleFinding::from_recovery(true),
                stanza_exists: true,
            },
        );
        assert_eq!(p.steps.len(), 1);
        let Summary::Backup(s) = &p.summary else {
            panic!()
        };
        assert!(s.skipped);
        assert_eq!(s.role_source, RoleSource::Postgresql);
        assert_eq!(
            s.reason.as_deref(),
            Some(
                "this instance is a standby: pg_is_in_recovery() is true; backups run on the \
                 primary"
            )
        );
        let Action::Note { text } = &p.steps[0].action else {
            panic!()
        };
        assert!(
            text.starts_with("pg_is_in_recovery() is true: stanza pg-meta"),
            "{text}"
        );
    }

    #[test]
    fn a_replica_by_patroni_says_so_and_names_the_leader() {
        let role = RoleFinding {
            role: Role::Replica,
            source: RoleSource::Patroni,
            why: "Patroni at http://127.0.0.1:8008 reports a running replica (timeline 3)".into(),
        };
        let p = plan_backup(
            &site(),
            None,
            None,
            &BackupFacts {
                role,
                stanza_exists: true,
            },
        );
        let Summary::Backup(s) = &p.summary else {
            panic!()
        };
        assert_eq!(
            (s.role, s.role_source, s.skipped),
            (Role::Replica, RoleSource::Patroni, true)
        );
        assert_eq!(
            s.reason.as_deref(),
            Some(
                "this instance is a standby: Patroni at http://127.0.0.1:8008 reports a running \
                 replica (timeline 3); backups run on the leader"
            )
        );
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["summary"]["role_source"], "patroni", "{json}");
    }

    #[test]
    fn primary_creates_missing_stanza_and_backs_up() {
        let p = plan_backup(
            &site(),
            Some(BackupType::Full),
            Some(RepoIndex::of(2)),
            &BackupFacts {
                role: RoleFinding::from_recovery(false),
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
            &BackupFacts {
                role: RoleFinding::from_recovery(false),
                stanza_exists: true,
            },
        );
        let Action::Exec { argv, .. } = &p.steps[0].action else {
            panic!()
        };
        assert_eq!(&argv[3..], ["--type=incr", "backup"]);
    }
}
