//! The run log of an operation: a new file in the node's pgBackRest `log-path`, owned by the
//! database superuser, with every secret the node knows masked.

use crate::node::Node;
use crate::run::log::RunLog;
use crate::run::user::OsUser;

/// The log for operation `name` (`restore`, `backup`, ...) on `node`:
/// `<log-path>/<stanza>-pitr-<name>-<time>.log`, echoed to stderr when `echo` (child
/// processes' output too when `verbose`). When the file cannot be made, the log only echoes.
pub fn run_log(node: &Node, name: &str, echo: bool, verbose: bool) -> RunLog {
    let owner = OsUser::lookup(&node.dbsu).ok();
    RunLog::open(
        &node.log_dir,
        &format!("{}-pitr-{name}", node.stanza),
        echo,
        owner.as_ref(),
    )
    .unwrap_or_else(|_| RunLog::terminal(echo))
    .echo_output(verbose)
    .with_secrets(node.secret_values())
}
