//! The secrets of a cluster plan's restore, back from the restored member's own spec.
//!
//! A plan read back from JSON (what the Ansible playbook hands from one task to the next) has
//! lost the secrets of the restore config it writes (S3 keys, the cipher passphrase: they are
//! redacted), and the runner refuses to write such a file. On the restored member's host the
//! spec holds them: the restore config is rendered again from that spec and the request, and
//! put in the plan only when its redacted text is the plan's, so what runs is what was planned.
//!
//! The Patroni password of the steps that pause and resume Patroni is redacted in the plan as
//! well; it comes back from the spec of the member whose host runs the steps, where the plan's
//! username is the spec's ([`with_patroni_auth`]). Where it does not come back, the request is
//! refused before anything is sent.

use std::path::Path;

use super::cluster_request;
use crate::error::{Error, Result};
use crate::names::SafePath;
use crate::node::Node;
use crate::patroni::PatroniAuth;
use crate::plan::cluster::{ClusterAction, ClusterPlan};
use crate::plan::{Action, FileContents, Plan, Summary};
use crate::render::Renderer;
use crate::run::runner;
use crate::run::tools::Tools;
use crate::target::RestoreRequest;

/// `restore` as it runs on this host: as it is when it holds no redacted file, else with the
/// restore config rendered from `node` (the restored member's spec) and `request`.
pub(super) fn with_secrets(
    restore: &Plan,
    node: &Node,
    request: Option<&RestoreRequest>,
) -> Result<Plan> {
    let lost = match runner::check_runnable(restore) {
        Ok(()) => return Ok(restore.clone()),
        Err(e) => e,
    };
    let (Some(request), Summary::Restore(summary)) = (request, &restore.summary) else {
        return Err(lost);
    };
    let request = cluster_request(request)?;
    let tools = Tools::locate(node.pg_bin_dir.as_deref(), Some(&node.data))?;
    let mut node = node.clone();
    if node.version.is_none() {
        node.version = crate::ops::pgbackrest_version(&tools.pgbackrest);
    }
    let path = SafePath::parse(
        "restore_config",
        "cluster plan",
        &summary.restore_config.to_string_lossy(),
    )?;
    let site = node.restore_site(&tools.pg_bin_dir, &tools.pgbackrest, Some(path), 0);
    let config = crate::plan::restore::restore_config_for(&site, &request)?;
    let file = Renderer::new().restore_conf(&config)?;
    put_back(restore, &summary.restore_config, &FileContents::from(file))
}

/// `plan` with the Patroni password of `auth` (a member's spec's) in every step whose REST API
/// has the redacted password of the same user.
pub(super) fn with_patroni_auth(plan: &mut ClusterPlan, auth: Option<&PatroniAuth>) {
    let Some(auth) = auth else {
        return;
    };
    for step in plan.steps.iter_mut().chain(plan.on_failure.iter_mut()) {
        if let ClusterAction::Pause { api, .. } | ClusterAction::AwaitLeader { api, .. } =
            &mut step.action
        {
            if let Some(planned) = api.auth.as_mut() {
                if planned.is_placeholder() && planned.username == auth.username {
                    planned.password = auth.password.clone();
                }
            }
        }
    }
}

/// `restore` with the file it writes at `path` holding `file`, whose redacted text must be the
/// plan's; then it must be runnable.
fn put_back(restore: &Plan, path: &Path, file: &FileContents) -> Result<Plan> {
    let mut plan = restore.clone();
    for step in &mut plan.steps {
        if let Action::WriteFile {
            path: at, contents, ..
        } = &mut step.action
        {
            if at != path || contents.full().is_some() {
                continue;
            }
            if contents.redacted() != file.redacted() {
                return Err(Error::PlanNotRunnable {
                    reason: format!(
                        "step '{}' writes {}, but the restore config rendered from this host's \
                         spec and the request is not the plan's: plan again",
                        step.id,
                        path.display()
                    ),
                });
            }
            *contents = file.clone();
        }
    }
    runner::check_runnable(&plan)?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan::from_json(
            r#"{"kind": "continuity", "summary": {"role": "primary", "skipped": true,
                "timeline": null, "pg_wal": null, "push": [], "present": []},
                "stanza": "pg-test", "steps": [{"id": "write-restore-config", "title": "w",
                "action": {"kind": "write_file", "path": "/etc/pitr/restore.conf",
                "mode": 384, "owner": "postgres", "contents": "repo1-cipher-pass=<redacted>"}}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_patroni_password_goes_back_only_where_the_plan_redacted_it_for_the_same_user() {
        use crate::patroni::PatroniApi;
        use crate::plan::cluster::plan_cluster_restore;
        use crate::plan::cluster::tests::input;
        let auth = |user: &str, password: &str| PatroniAuth {
            username: user.into(),
            password: crate::names::Secret::new(password),
        };
        let mut input = input("pg-test-2");
        for m in &mut input.members {
            m.api = m
                .api
                .clone()
                .with_auth(Some(auth("postgres", "Patroni.API-9x")));
        }
        let planned = plan_cluster_restore(input).unwrap();
        let json = planned.to_json();
        assert!(!json.contains("Patroni.API-9x"), "{json}");
        assert!(!format!("{planned:?}").contains("Patroni.API-9x"));
        assert!(json.contains(r#""username": "postgres""#), "{json}");
        let apis = |plan: &ClusterPlan| -> Vec<PatroniApi> {
            plan.steps
                .iter()
                .chain(&plan.on_failure)
                .filter_map(|s| match &s.action {
                    ClusterAction::Pause { api, .. } => Some(api.clone()),
                    _ => None,
                })
                .collect()
        };
        let read_back = || ClusterPlan::from_json(&json).unwrap();
        let mut plan = read_back();
        assert!(
            apis(&plan)
                .iter()
                .all(|a| a.auth.as_ref().is_some_and(PatroniAuth::is_placeholder))
        );
        // Another user's password does not go in; the spec's own does, everywhere.
        with_patroni_auth(&mut plan, Some(&auth("admin", "other")));
        assert!(
            apis(&plan)
                .iter()
                .all(|a| a.auth.as_ref().is_some_and(PatroniAuth::is_placeholder))
        );
        with_patroni_auth(&mut plan, Some(&auth("postgres", "Patroni.API-9x")));
        assert_eq!(plan, planned);
        assert!(
            apis(&plan).len() >= 2,
            "pause, resume and the rollback's resume"
        );
        // A plan without credentials gets none.
        let mut bare =
            plan_cluster_restore(crate::plan::cluster::tests::input("pg-test-2")).unwrap();
        let before = bare.clone();
        with_patroni_auth(&mut bare, Some(&auth("postgres", "Patroni.API-9x")));
        assert_eq!(bare, before);
    }

    #[test]
    fn the_secrets_go_back_only_into_the_file_the_plan_writes_as_planned() {
        let path = Path::new("/etc/pitr/restore.conf");
        let redacted = "repo1-cipher-pass=<redacted>".to_owned();
        assert_eq!(
            runner::check_runnable(&plan()).unwrap_err().code(),
            "plan_not_runnable"
        );
        let same = FileContents::new("repo1-cipher-pass=Secret.42".into(), redacted.clone());
        let back = put_back(&plan(), path, &same).unwrap();
        let Action::WriteFile { contents, .. } = &back.steps[0].action else {
            panic!("{back:?}")
        };
        assert_eq!(contents.full(), Some("repo1-cipher-pass=Secret.42"));
        // Another config than the plan's (another repo, another request): refused.
        let other = FileContents::new(
            "repo2-cipher-pass=Secret.42".into(),
            "repo2-cipher-pass=<redacted>".into(),
        );
        let err = put_back(&plan(), path, &other).unwrap_err();
        assert_eq!(err.code(), "plan_not_runnable", "{err}");
        assert!(!err.to_string().contains("Secret.42"), "{err}");
        // Another file: left as it is, so the plan stays unrunnable.
        let err = put_back(&plan(), Path::new("/etc/other.conf"), &same).unwrap_err();
        assert_eq!(err.code(), "plan_not_runnable", "{err}");
    }
}
