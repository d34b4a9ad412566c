//! The cluster plan for people: what `pitr restore --cluster --dry-run` prints.

use std::fmt::Write as _;

use super::{ClusterAction, ClusterPlan, ClusterStep, ExpectTimeline, Phase};

impl ClusterPlan {
    /// The plan for people: the pre-flight, then every step by phase with its member, host,
    /// reason and command (the `restore` step's own plan as a shell script), then the
    /// rollback.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "# pitr: restore Patroni cluster {} to {} on member {} (leader now: {}, timeline {})\n",
            self.scope,
            self.target,
            self.chosen,
            self.leader_before,
            self.timeline_before
                .map_or_else(|| "?".to_owned(), |t| t.to_string())
        );
        if let Some(new) = &self.new_cluster {
            let _ = writeln!(
                out,
                "# into the new cluster {}: member {}, data {}, port {}, REST API {}; cluster {} \
                 is only read from",
                new.scope,
                new.member,
                new.data.display(),
                new.port,
                new.api,
                self.scope
            );
        }
        for m in &self.members {
            let _ = writeln!(
                out,
                "#   member {} on {} ({}), data {}{}",
                m.name,
                m.host,
                m.role,
                m.data.display(),
                if m.local {
                    ""
                } else {
                    " [other host: not run from here]"
                }
            );
        }
        out.push_str("# pre-flight:\n");
        for line in &self.preflight {
            let _ = writeln!(out, "#   ok: {line}");
        }
        for w in &self.warnings {
            let _ = writeln!(out, "# warning: {w}");
        }
        let mut phase = None;
        for (i, step) in self.steps.iter().chain(&self.on_failure).enumerate() {
            if i == self.steps.len() {
                out.push_str(if self.new_cluster.is_some() {
                    "\n# === a re-run after the run was interrupted, or --undo: remove what it \
                     created (each step only for what the run journal says it created) ===\n"
                } else {
                    "\n# === if a step before 'remove-dcs' fails: back as it was ===\n"
                });
            }
            if phase != Some(step.phase) {
                phase = Some(step.phase);
                let _ = write!(out, "\n# --- phase {} ---\n", step.phase.name());
            }
            out.push_str(&step.to_text());
            if step.action == ClusterAction::Restore {
                for line in crate::plan::shell::to_shell(&self.restore).lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        out
    }
}

impl Phase {
    /// Its name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Pause => "pause",
            Phase::Stop => "stop",
            Phase::Restore => "restore",
            Phase::Dcs => "dcs",
            Phase::Start => "start",
            Phase::Resume => "resume",
            Phase::Replicas => "replicas",
            Phase::Archive => "archive",
            Phase::Backup => "backup",
            Phase::Rollback => "rollback",
        }
    }
}

impl ClusterStep {
    /// The step for people: `# <id> on <member> (<host>): <title>`, why, and what runs.
    pub fn to_text(&self) -> String {
        let out = format!(
            "# {} on {} ({}): {}{}\n#   why: {}\n",
            self.id,
            self.member,
            self.host,
            self.title,
            if self.destructive {
                " [destroys data]"
            } else {
                ""
            },
            self.reason
        );
        let what = match &self.action {
            ClusterAction::Exec {
                argv,
                run_as,
                stdin,
                ..
            } => {
                let mut line = crate::plan::shell::quote_argv(argv);
                if let Some(u) = run_as {
                    line = format!("{line}    # as {u}");
                }
                if let Some(input) = stdin {
                    line = format!("{line}    # stdin: {input:?}");
                }
                line
            }
            ClusterAction::Pause { api, pause, .. } => {
                format!(
                    "PATCH {} {{\"pause\": {pause}}}",
                    api.url.endpoint("config")
                )
            }
            ClusterAction::AwaitArchived { port, force, .. } => format!(
                "SELECT pg_switch_wal(); wait until pg_ls_archive_statusdir() has no .ready (port {port}){}",
                if *force {
                    ", going on regardless (--force)"
                } else {
                    ""
                }
            ),
            ClusterAction::AwaitStopped { data, .. } => {
                format!("wait until no postmaster runs in {}", data.display())
            }
            ClusterAction::Restore => "the restore plan:".to_owned(),
            ClusterAction::AwaitLeader { api, timeline, .. } => format!(
                "GET {} until 200, role primary, timeline {}",
                api.url.endpoint("primary"),
                match timeline {
                    ExpectTimeline::New => "the restore's or later".to_owned(),
                    ExpectTimeline::AtLeast(t) => format!("{t} or later"),
                }
            ),
            ClusterAction::RemoveDir { path, owner } => {
                format!("remove {} (owned by {owner})", path.display())
            }
            ClusterAction::AwaitStreaming { port, member, .. } => format!(
                "wait until pg_stat_replication on port {port} shows {member} streaming, replayed to pg_current_wal_lsn()"
            ),
            ClusterAction::ArchiveHistory {
                argv,
                pg_wal,
                run_as,
            } => format!(
                "{} {}/<timeline the restore promoted to>.history    # as {run_as}",
                crate::plan::shell::quote_argv(argv),
                pg_wal.display()
            ),
            ClusterAction::Continuity => "pitr continuity".to_owned(),
            ClusterAction::Backup => "pitr backup full".to_owned(),
        };
        format!("{out}{what}\n")
    }
}
