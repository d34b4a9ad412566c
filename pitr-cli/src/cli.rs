//! Command-line interface definition. This interface is a contract: scripts rely on it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// PostgreSQL point-in-time recovery with pgBackRest, made boring and safe.
///
/// Exit status: 0 done or skipped on purpose, 1 failed, 2 bad usage or input (nothing changed).
#[derive(Debug, Parser)]
#[command(name = "pitr", version, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// pgBackRest config of this node.
    #[arg(long, global = true, value_name = "PATH", default_value = pitr_core::spec::DEFAULT_CONFIG_PATH)]
    pub(crate) config: PathBuf,
    /// Stanza to work on [default: the first stanza section of --config].
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) stanza: Option<String>,
    /// Print data as JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Render pgbackrest.conf, the restore config, archive settings or cron lines from a spec.
    Render(RenderArgs),
}

/// What `pitr render` renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RenderWhat {
    /// pgbackrest.conf for the node.
    Pgbackrest,
    /// The restore config used by a point-in-time restore (Pigsty's pitr.conf).
    Restore,
    /// PostgreSQL's archive_mode and archive_command.
    Archive,
    /// Cron lines for scheduled backups (/etc/cron.d format).
    Cron,
}

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// Cluster spec (YAML or JSON with Pigsty's variables).
    #[arg(long, value_name = "FILE")]
    pub(crate) spec: PathBuf,
    /// Which file to render.
    #[arg(long, value_enum, default_value_t = RenderWhat::Pgbackrest)]
    pub(crate) what: RenderWhat,
    /// Write the file here (secrets included, mode 0600) instead of printing it with secrets
    /// redacted.
    #[arg(long, short, value_name = "PATH")]
    pub(crate) output: Option<PathBuf>,
    /// Directory of <id>.hbs templates overriding the embedded ones.
    #[arg(long, value_name = "DIR")]
    pub(crate) templates: Option<PathBuf>,
}
