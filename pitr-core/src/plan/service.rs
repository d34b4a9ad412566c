//! Planning to start or stop a node's PostgreSQL, for the `down` and `up` phases around a
//! restore (Ansible's `state: stopped|started`). Pure: the facts (a running postmaster, a
//! cluster in the data directory) are gathered by the caller.
//!
//! When there is nothing to do, the plan's only step is a note and its summary says
//! `changed: false`. The stop step is the one a restore plan starts with.

use std::path::{Path, PathBuf};

use super::pg_ctl::{self, StopMode};
use super::summary::{ServiceAction, ServiceSummary, Summary};
use super::{Plan, Step};
use crate::error::{Error, Result};
use crate::names::StanzaName;

/// What the service plan needs to know about the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSite {
    /// The stanza.
    pub stanza: StanzaName,
    /// The data directory.
    pub data: PathBuf,
    /// `pg_ctl` of the node's PostgreSQL.
    pub pg_ctl: PathBuf,
    /// Where `pg_ctl start` logs.
    pub log_dir: PathBuf,
    /// The database superuser.
    pub dbsu: String,
}

/// Plans `action` on the node: `pid` is a running postmaster's, `has_cluster` whether the data
/// directory holds a cluster (`PG_VERSION`).
pub fn plan_service(
    site: &ServiceSite,
    action: ServiceAction,
    pid: Option<i32>,
    has_cluster: bool,
) -> Result<Plan> {
    let data = site.data.display();
    let (step, changed) = match (action, pid) {
        (ServiceAction::Stop, Some(pid)) => (
            Step::exec(
                "stop",
                format!("Stop PostgreSQL (pid {pid})"),
                false,
                pg_ctl::stop(&site.pg_ctl, &site.data, StopMode::Fast),
                &site.dbsu,
            ),
            true,
        ),
        (ServiceAction::Start, None) => {
            if !has_cluster {
                return Err(Error::DataDirectory {
                    path: site.data.clone(),
                    problem: "it holds no PostgreSQL cluster (no PG_VERSION) to start".into(),
                });
            }
            let log = site.log_dir.join(format!("{}-pitr-start.log", site.stanza));
            (
                Step::exec(
                    "start",
                    "Start PostgreSQL",
                    false,
                    pg_ctl::start(&site.pg_ctl, &site.data, &log, &["-w", "-t", "3600"]),
                    &site.dbsu,
                ),
                true,
            )
        }
        (ServiceAction::Start, Some(pid)) => (
            Step::note(
                "running",
                "PostgreSQL runs already",
                format!("PostgreSQL (pid {pid}) runs in {data}; nothing to do."),
            ),
            false,
        ),
        (ServiceAction::Stop, None) => (
            Step::note(
                "stopped",
                "PostgreSQL is not running",
                format!("No PostgreSQL runs in {data}; nothing to do."),
            ),
            false,
        ),
    };
    Ok(Plan {
        summary: Summary::Service(ServiceSummary {
            service: action,
            data: site.data.clone(),
            pid,
            changed,
        }),
        stanza: site.stanza.to_string(),
        warnings: Vec::new(),
        steps: vec![step],
        on_failure: Vec::new(),
    })
}

/// Whether `data` holds a PostgreSQL cluster.
pub fn has_cluster(data: &Path) -> bool {
    data.join("PG_VERSION").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    fn site() -> ServiceSite {
        ServiceSite {
            stanza: "pg-meta".parse().unwrap(),
            data: "/pg/data".into(),
            pg_ctl: "/usr/lib/postgresql/15/bin/pg_ctl".into(),
            log_dir: "/pg/log/pgbackrest".into(),
            dbsu: "postgres".into(),
        }
    }

    #[test]
    fn stops_and_starts_only_when_needed() {
        let stop = plan_service(&site(), ServiceAction::Stop, Some(42), true).unwrap();
        let Action::Exec { argv, .. } = &stop.steps[0].action else {
            panic!("{stop:?}")
        };
        assert_eq!(
            argv[1..],
            ["stop", "-D", "/pg/data", "-m", "fast", "-w", "-t", "3600"]
        );
        let idle = plan_service(&site(), ServiceAction::Stop, None, true).unwrap();
        assert!(matches!(
            idle.summary,
            Summary::Service(ServiceSummary { changed: false, .. })
        ));
        let start = plan_service(&site(), ServiceAction::Start, None, true).unwrap();
        assert_eq!(start.steps[0].id, "start");
        let e = plan_service(&site(), ServiceAction::Start, None, false).unwrap_err();
        assert_eq!(e.code(), "data_directory");
        let json = serde_json::to_value(&start).unwrap();
        assert_eq!(json["kind"], "service");
        assert_eq!(json["summary"]["service"], "start");
    }
}
