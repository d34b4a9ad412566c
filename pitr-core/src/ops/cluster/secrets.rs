//! The secrets of a cluster plan's restore, back from the restored member's own spec.
//!
//! A plan read back from JSON (what the Ansible playbook hands from one task to the next) has
//! lost the secrets of the restore config it writes (S3 keys, the cipher passphrase: they are
//! redacted), and the runner refuses to write such a file. On the restored member's host the
//! spec holds them: the restore config is rendered again from that spec and the request, and
//! put in the plan only when its redacted text is the plan's, so what runs is what was planned.

use super::cluster_request;
use crate::error::{Error, Result};
use crate::names::SafePath;
use crate::node::Node;
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
    let mut plan = restore.clone();
    for step in &mut plan.steps {
        if let Action::WriteFile { path, contents, .. } = &mut step.action {
            if *path != summary.restore_config || contents.full().is_some() {
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
            *contents = FileContents::from(file.clone());
        }
    }
    runner::check_runnable(&plan)?;
    Ok(plan)
}
