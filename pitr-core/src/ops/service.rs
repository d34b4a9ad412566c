//! Starting or stopping a node's PostgreSQL around a restore (`state: stopped|started`).

use crate::error::Result;
use crate::node::Node;
use crate::plan::Plan;
use crate::plan::service::{ServiceSite, has_cluster, plan_service};
use crate::plan::summary::ServiceAction;
use crate::run::facts::postmaster_pid;
use crate::run::tools::Tools;

/// Plans `action` on the node's PostgreSQL from what runs in its data directory.
pub fn prepare_service(node: &Node, action: ServiceAction) -> Result<Plan> {
    let tools = Tools::locate(node.pg_bin_dir.as_deref(), Some(&node.data))?;
    let site = ServiceSite {
        stanza: node.stanza.clone(),
        data: node.data.to_path_buf(),
        pg_ctl: tools.pg("pg_ctl"),
        log_dir: node.log_dir.to_path_buf(),
        dbsu: node.dbsu.clone(),
    };
    plan_service(
        &site,
        action,
        postmaster_pid(&node.data),
        has_cluster(&node.data),
    )
}
