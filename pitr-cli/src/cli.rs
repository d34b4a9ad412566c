//! Command-line interface definition. This interface is a contract: scripts rely on it.
// Doc comments here are --help text, where backticks would show.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pitr_core::ops::RenderWhat;

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
    /// Patroni's REST API of this member, http://HOST:PORT or https://HOST:PORT: `pitr backup`
    /// then backs up only if this member holds Patroni's leader lock [default: ask PostgreSQL's
    /// pg_is_in_recovery()].
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) patroni: Option<pitr_core::names::PatroniUrl>,
    /// CA certificate (PEM) that verifies an https:// --patroni.
    #[arg(long, global = true, value_name = "PATH", requires = "patroni")]
    pub(crate) patroni_ca_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Render pgbackrest.conf, the restore config, archive settings or cron lines from a spec.
    Render(RenderArgs),
    /// Show backup sets and the recoverable window per repo and timeline.
    Info(NodeArgs),
    /// Back up the local cluster if it is the primary; skip (exit 0) on a replica.
    Backup(BackupArgs),
    /// Create a restore point and record where it is, so a restore by name can use it.
    Mark(MarkArgs),
    /// Point-in-time restore: choose the set, check, restore, and prove the target was reached.
    #[command(visible_alias = "pitr")]
    Restore(Box<RestoreArgs>),
    /// Throwaway demo: a local cluster, a backup, changes, and restores to every target type;
    /// with --ha, a Patroni cluster through a switchover and a failover.
    Sandbox(SandboxArgs),
    /// Check that this node could be restored now: archiving, backup ages, recoverable window.
    Check(CheckArgs),
    /// Restore drill: restore a clone beside the running cluster, verify and check it, time
    /// it, remove it, and record the result.
    Drill(DrillArgs),
    /// Serve Prometheus metrics (pgbackrest_exporter's, plus windows, WAL age and checks).
    Exporter(ExporterArgs),
    /// On the primary, push WAL of the timeline's history that pg_wal holds and the archive
    /// lacks (after a failover); skip (exit 0) on a replica.
    Continuity(ContinuityArgs),
    /// Patroni's on_role_change callback: run the continuity step when this node becomes the
    /// primary. Exits 0 unless a repo holds a different copy of a file.
    PatroniCallback(PatroniCallbackArgs),
}

/// Options for commands that work on the node's cluster.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// OS user that owns the data directory and runs PostgreSQL and pgBackRest.
    #[arg(long, value_name = "USER", default_value = "postgres")]
    pub(crate) dbsu: String,
}

/// Backup types for `pitr backup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BackupKind {
    /// A full backup.
    Full,
    /// Changes since the last full backup.
    Diff,
    /// Changes since the last backup of any type (the default).
    Incr,
}

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// Backup type [default: incr; pgBackRest makes it full when there is no full backup yet].
    #[arg(value_enum)]
    pub(crate) kind: Option<BackupKind>,
    /// Back up to this repo [default: pgBackRest's, repo1].
    #[arg(long, value_name = "N")]
    pub(crate) repo: Option<pitr_core::names::RepoIndex>,
    /// Print the plan instead of running it.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// When another pitr holds the stanza's lock (a restore, say), wait for it instead of
    /// exiting with error[stanza_locked].
    #[arg(long)]
    pub(crate) wait: bool,
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

#[derive(Debug, Args)]
pub(crate) struct MarkArgs {
    /// Restore point name (under 64 bytes).
    pub(crate) name: String,
    /// When another pitr holds the stanza's lock, wait for it instead of exiting with
    /// error[stanza_locked].
    #[arg(long)]
    pub(crate) wait: bool,
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// What PostgreSQL does at the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ActionArg {
    /// Stay paused, read-only, for inspection (default).
    Pause,
    /// Open for writes on a new timeline.
    Promote,
    /// Shut down.
    Shutdown,
}

/// Archiving in the restored cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ArchiveArg {
    /// Keep the cluster's archive settings (default for an in-place restore).
    Preserve,
    /// Write archive_mode = off (default, and required, for a clone).
    Off,
}

/// `pitr restore`: the flags of Pigsty's pg-pitr, plus pitr's own.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // command-line switches
#[command(
    after_help = "Time format: YYYY-MM-DD HH:MM:SS[.ffffff] with a zone: +00, +08:00 or Z \
    (or give --zone). Pass extra pgBackRest restore options from an allow-list after --, \
    e.g. -- --io-timeout=120."
)]
pub(crate) struct RestoreArgs {
    /// Recover to the end of the WAL archive (latest).
    #[arg(short = 'd', long = "default", help_heading = "Recovery target (one)")]
    pub(crate) latest: bool,
    /// Recover only until the backup is consistent.
    #[arg(short, long, help_heading = "Recovery target (one)")]
    pub(crate) immediate: bool,
    /// Recover to a time, e.g. "2025-01-01 12:00:00+08".
    #[arg(
        short,
        long,
        value_name = "TIME",
        help_heading = "Recovery target (one)"
    )]
    pub(crate) time: Option<String>,
    /// Recover to a restore point.
    #[arg(
        short,
        long,
        value_name = "NAME",
        help_heading = "Recovery target (one)"
    )]
    pub(crate) name: Option<String>,
    /// Recover to a WAL location, e.g. 0/7C82CB8.
    #[arg(
        short,
        long,
        value_name = "LSN",
        help_heading = "Recovery target (one)"
    )]
    pub(crate) lsn: Option<String>,
    /// Recover to a transaction id.
    #[arg(
        short,
        long,
        value_name = "XID",
        help_heading = "Recovery target (one)"
    )]
    pub(crate) xid: Option<String>,

    /// Restore this backup set instead of the one pitr chooses.
    #[arg(
        short = 'S',
        long,
        visible_alias = "backup",
        short_alias = 'b',
        value_name = "LABEL"
    )]
    pub(crate) set: Option<String>,
    /// For name and xid targets: a time the target is known to be after.
    #[arg(long, value_name = "TIME")]
    pub(crate) before: Option<String>,
    /// Restore from this repo only.
    #[arg(long, value_name = "N")]
    pub(crate) repo: Option<pitr_core::names::RepoIndex>,
    /// Stop right before the target instead of right after it.
    #[arg(short = 'X', long)]
    pub(crate) exclusive: bool,
    /// Promote after reaching the target (same as --action promote).
    #[arg(short = 'P', long, conflicts_with = "action")]
    pub(crate) promote: bool,
    /// What PostgreSQL does at the target [default: pause].
    #[arg(long, value_enum)]
    pub(crate) action: Option<ActionArg>,
    /// Recover along this timeline: latest, current or a number [default: chosen from the
    /// target; for a time, the timeline live then].
    #[arg(short = 'T', long, value_name = "TIMELINE")]
    pub(crate) timeline: Option<String>,
    /// Restore into this data directory (a clone beside the node's cluster when it differs).
    #[arg(short = 'D', long, value_name = "DIR")]
    pub(crate) data: Option<String>,
    /// Port of the restored cluster (a clone when it differs from the node's).
    #[arg(long, value_name = "PORT")]
    pub(crate) port: Option<u16>,
    /// Archiving in the restored cluster.
    #[arg(long, value_enum)]
    pub(crate) archive: Option<ArchiveArg>,
    /// Keep the current data directory as <data>-backup; it is put back if anything fails.
    #[arg(long)]
    pub(crate) safety_copy: bool,
    /// Restore only this database (repeatable).
    #[arg(long, value_name = "DB")]
    pub(crate) db_include: Vec<String>,
    /// Do not restore this database (repeatable).
    #[arg(long, value_name = "DB")]
    pub(crate) db_exclude: Vec<String>,
    /// Restore a symlink elsewhere, LINK=DESTINATION (repeatable).
    #[arg(long, value_name = "LINK=DEST")]
    pub(crate) link_map: Vec<String>,
    /// Restore processes.
    #[arg(long, value_name = "N")]
    pub(crate) process: Option<u32>,
    /// Time zone for a --time or --before without one (an IANA name, or "local").
    #[arg(long, value_name = "ZONE")]
    pub(crate) zone: Option<String>,

    /// Restore the whole Patroni cluster: pause, stop every member, restore one, empty the
    /// DCS, start it as leader, rebuild the others (docs/cluster-pitr.md).
    #[arg(long, help_heading = "Whole Patroni cluster")]
    pub(crate) cluster: bool,
    /// Cluster spec of a member on this host, with pg_seq and Patroni's keys (repeatable:
    /// one per member on this host).
    #[arg(
        long = "spec",
        value_name = "PATH",
        requires = "cluster",
        help_heading = "Whole Patroni cluster"
    )]
    pub(crate) specs: Vec<PathBuf>,
    /// User of Patroni's REST API authentication (restapi.authentication), in place of the
    /// specs' patroni_username; its password is read from the environment variable
    /// PITR_PATRONI_PASSWORD, never from the command line.
    #[arg(
        long,
        value_name = "USER",
        requires = "cluster",
        help_heading = "Whole Patroni cluster"
    )]
    pub(crate) patroni_username: Option<String>,
    /// The member to restore [default: the current leader].
    #[arg(
        long,
        value_name = "NAME",
        requires = "cluster",
        help_heading = "Whole Patroni cluster"
    )]
    pub(crate) member: Option<String>,
    /// Go on when the primary's archive queue does not drain before it stops (that WAL is
    /// then missing from the repo).
    #[arg(long, requires = "cluster", help_heading = "Whole Patroni cluster")]
    pub(crate) force: bool,
    /// Seconds the primary's archive queue may take to drain before it stops.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 120,
        requires = "cluster",
        help_heading = "Whole Patroni cluster"
    )]
    pub(crate) drain_timeout: u64,
    /// Do not take a full backup on the new leader at the end.
    #[arg(long, requires = "cluster", help_heading = "Whole Patroni cluster")]
    pub(crate) no_backup: bool,
    /// Restore into a new Patroni cluster beside the running one, which is not touched: the
    /// cluster spec of the new cluster's member (its pg_cluster is the new scope and stanza;
    /// pg_data, pg_port, patroni_port, patroni_config of the new scope, start/stop commands).
    /// Run again after it was interrupted, it removes what that run created and restores again.
    #[arg(
        long,
        value_name = "SPEC",
        requires = "cluster",
        conflicts_with_all = ["member", "go_on"],
        help_heading = "Whole Patroni cluster"
    )]
    pub(crate) new_cluster: Option<PathBuf>,
    /// When the same cluster restore was interrupted (pitr killed) before the DCS was emptied,
    /// continue it instead of bringing the cluster back as it was.
    #[arg(
        long = "continue",
        requires = "cluster",
        conflicts_with_all = ["undo", "abandon"],
        help_heading = "Whole Patroni cluster"
    )]
    pub(crate) go_on: bool,

    /// Print the plan and do nothing (as a shell script, or JSON with --json).
    #[arg(short = 'c', long = "check", visible_alias = "dry-run")]
    pub(crate) dry_run: bool,
    /// Do not count down before destroying data.
    #[arg(short, long)]
    pub(crate) yes: bool,
    /// Show pgBackRest's and PostgreSQL's output as it happens.
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Where to write the restore config [default: beside --config].
    #[arg(long, value_name = "PATH")]
    pub(crate) restore_config: Option<std::path::PathBuf>,
    /// Seconds to wait for recovery to reach the target.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub(crate) timeout: u64,
    /// When another pitr holds the stanza's lock, wait for it instead of exiting with
    /// error[stanza_locked].
    #[arg(long)]
    pub(crate) wait: bool,
    /// Put back the safety copy of an interrupted restore (pitr was killed, the machine
    /// stopped) and end that run; no target is needed. With --cluster: bring the cluster of an
    /// interrupted cluster restore back as it was (before the DCS was emptied); with
    /// --new-cluster: remove what an interrupted restore into that new cluster created.
    #[arg(long, conflicts_with_all = ["abandon", "dry_run"])]
    pub(crate) undo: bool,
    /// Forget an interrupted restore and leave everything as it is (the safety copy too; with
    /// --cluster, the members and the DCS; with --new-cluster, what it created).
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) abandon: bool,
    #[command(flatten)]
    pub(crate) node: NodeArgs,
    /// Extra pgBackRest restore options, from an allow-list: --buffer-size, --io-timeout,
    /// --protocol-timeout, --compress-level-network, --log-level-*, --[no-]log-subprocess,
    /// --[no-]log-timestamp, --[no-]link-all, --tablespace-map, --tablespace-map-all
    /// (see docs/cli.md; secrets and options pitr sets itself are refused).
    #[arg(last = true, value_name = "PGBACKREST OPTIONS")]
    pub(crate) extra: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SandboxArgs {
    /// Keep the sandbox directory afterwards (it is removed by default).
    #[arg(long)]
    pub(crate) keep: bool,
    /// Where to create the sandbox [default: a new directory under the system temp dir].
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<std::path::PathBuf>,
    /// Port of the sandbox cluster (not with --ha, whose ports the kernel hands out).
    #[arg(long, default_value_t = 6544, conflicts_with = "ha")]
    pub(crate) port: u16,
    /// The high-availability demo: etcd and two Patroni members sharing a repo; backups from
    /// every member, a switchover, a kill -9 failover, continuity, and restores across them.
    /// Needs etcd, etcdctl and patroni (Debian: etcd-server, etcd-client, patroni).
    #[arg(long)]
    pub(crate) ha: bool,
}

fn render_what() -> impl clap::builder::TypedValueParser<Value = RenderWhat> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(RenderWhat::NAMES).try_map(|s| s.parse::<RenderWhat>())
}

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// Cluster spec (YAML or JSON with Pigsty's variables).
    #[arg(long, value_name = "FILE")]
    pub(crate) spec: PathBuf,
    /// Which file to render: pgbackrest (pgbackrest.conf), restore (the restore config, Pigsty's
    /// pitr.conf), archive (archive_mode and archive_command), cron (/etc/cron.d lines).
    #[arg(long, value_parser = render_what(), default_value = "pgbackrest")]
    pub(crate) what: RenderWhat,
    /// Write the file here (secrets included, mode 0600) instead of printing it with secrets
    /// redacted. The write refuses a symbolic link at PATH and a directory that users other
    /// than root and the owner can write.
    #[arg(long, short, value_name = "PATH")]
    pub(crate) output: Option<PathBuf>,
    /// Owner of the file written with --output [default: the spec's pg_dbsu, who runs
    /// pgBackRest and PostgreSQL; root for --what cron, which cron requires]. Only root can
    /// give a file to another user.
    #[arg(long, value_name = "USER", requires = "output")]
    pub(crate) owner: Option<String>,
    /// Directory of <id>.hbs templates overriding the embedded ones.
    #[arg(long, value_name = "DIR")]
    pub(crate) templates: Option<PathBuf>,
}

/// `pitr check`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exits 1 with error[<code>] naming the first failed check, e.g. \
    check_archive_command_mismatch; see docs/observability.md for every check and code."
)]
pub(crate) struct CheckArgs {
    /// Compare archive_mode/archive_command with those rendered from this cluster spec
    /// [default: judge them from --config and --stanza].
    #[arg(long, value_name = "FILE")]
    pub(crate) spec: Option<PathBuf>,
    /// Fail when the newest full backup is older than this (s, m, h, d or w).
    #[arg(long, value_name = "AGE", default_value = pitr_core::check::DEFAULT_MAX_FULL_AGE, value_parser = parse_age)]
    pub(crate) max_full_age: u64,
    /// Fail when the newest backup of any type is older than this (s, m, h, d or w).
    #[arg(long, value_name = "AGE", default_value = pitr_core::check::DEFAULT_MAX_BACKUP_AGE, value_parser = parse_age)]
    pub(crate) max_backup_age: u64,
    /// Do not record the result for pitr exporter (<log-path>/pitr-<stanza>-check.json).
    #[arg(long)]
    pub(crate) no_record: bool,
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `pitr drill`.
#[derive(Debug, Args)]
#[command(
    after_help = "The clone goes into <data>-drill (or --scratch) on a free port with archiving off; \
    pgBackRest and the clone run at reduced CPU and IO priority (nice, ionice). The result is \
    recorded in <log-path>/pitr-<stanza>-drill.json. Exit status 1 when the drill failed, with \
    its error code. See docs/drills.md."
)]
#[allow(clippy::struct_excessive_bools)] // command-line switches
pub(crate) struct DrillArgs {
    /// Restore to this time [default: the end of the archive].
    #[arg(short = 't', long, value_name = "TIME", group = "drill_target")]
    pub(crate) time: Option<String>,
    /// Restore to this restore point.
    #[arg(short = 'n', long, value_name = "NAME", group = "drill_target")]
    pub(crate) name: Option<String>,
    /// Restore to this LSN.
    #[arg(short = 'l', long, value_name = "LSN", group = "drill_target")]
    pub(crate) lsn: Option<String>,
    /// Restore to a random time inside the recoverable window.
    #[arg(long, group = "drill_target")]
    pub(crate) random: bool,
    /// Seed of --random [default: from the clock]; recorded, so a drill can be repeated.
    #[arg(long, value_name = "N", requires = "random")]
    pub(crate) seed: Option<u64>,
    /// Scratch directory for the clone [default: <data>-drill]; removed afterwards.
    #[arg(long, value_name = "DIR")]
    pub(crate) scratch: Option<PathBuf>,
    /// Skip amcheck on the clone's indexes.
    #[arg(long)]
    pub(crate) no_amcheck: bool,
    /// Cluster spec whose pitr_drill_assertions (SQL that must return true) the clone is asked.
    #[arg(long, value_name = "FILE")]
    pub(crate) spec: Option<PathBuf>,
    /// Seconds to wait for recovery.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub(crate) timeout: u64,
    /// Only stop and remove what an earlier drill left (after a crash), record that drill as
    /// failed (drill_interrupted), then exit.
    #[arg(long)]
    pub(crate) cleanup: bool,
    /// Do not record the result (<log-path>/pitr-<stanza>-drill.json), nor an interrupted
    /// drill found.
    #[arg(long)]
    pub(crate) no_record: bool,
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

fn parse_age(text: &str) -> Result<u64, String> {
    pitr_core::check::parse_age(text).map_err(|e| e.to_string())
}

/// `pitr exporter`.
#[derive(Debug, Args)]
pub(crate) struct ExporterArgs {
    /// Address and port to serve /metrics on (9854 is pgbackrest_exporter's port).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9854")]
    pub(crate) listen: std::net::SocketAddr,
    /// Seconds between refreshes of pgBackRest data (scrapes never wait for one).
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) interval: u64,
    /// Refresh once, print the metrics and exit (e.g. for node_exporter's textfile collector);
    /// exits 1 when the refresh failed.
    #[arg(long)]
    pub(crate) once: bool,
    /// Serve at most this many connections at once; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub(crate) max_connections: u64,
    /// Seconds a client has to send its request headers (from connecting, or from the last
    /// answer on a kept-alive connection).
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub(crate) header_timeout: u64,
    /// Seconds after which a connection is closed, once its answer in progress is sent.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) connection_lifetime: u64,
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `pitr continuity`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exits 1 with error[archive_conflict] when a repo holds a copy of a file that \
    differs from pg_wal's (nothing is pushed then); see docs/ha.md."
)]
pub(crate) struct ContinuityArgs {
    /// Print what would be pushed (a shell script, or JSON with --json) and push nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// When another pitr holds the stanza's lock, wait for it instead of exiting with
    /// error[stanza_locked].
    #[arg(long)]
    pub(crate) wait: bool,
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `pitr patroni-callback`: Patroni appends ACTION ROLE SCOPE to the configured command.
#[derive(Debug, Args)]
#[command(
    after_help = "Configure it with the snippet of pitr render --what patroni-callback. It logs \
    to <log-path>/<stanza>-pitr-patroni-callback-<time>.log and to stderr (Patroni's log)."
)]
pub(crate) struct PatroniCallbackArgs {
    /// The callback: on_role_change (others are ignored).
    pub(crate) action: String,
    /// The new role: master or primary (others are ignored).
    pub(crate) role: String,
    /// Patroni's scope (the cluster, normally the stanza).
    pub(crate) scope: String,
    /// Seconds to wait for PostgreSQL to finish promoting.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=600))]
    pub(crate) wait: u64,
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}
