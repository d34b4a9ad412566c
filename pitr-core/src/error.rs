//! The one error type of pitr.
//!
//! Every failure the library can report is a variant of [`Error`]. Each variant has a stable
//! machine code ([`Error::code`]) that scripts, the Python module (`PitrError.code`) and the
//! Ansible modules (`error_code`) branch on, and a message that quotes the offending value and
//! says what to do about it. Codes never change once released; messages may improve.
//!
//! Values that may be secret never appear in a message: variants that carry user input carry
//! only values that are not secret by construction (names, paths, LSNs, option names).

use std::path::PathBuf;

/// Result type used throughout pitr.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in pitr.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value given by the user does not have the required form.
    ///
    /// `kind` names what was expected (`"LSN"`, `"stanza name"`, ...), `value` is the input
    /// (already known not to be secret), `hint` says what a valid value looks like.
    #[error("invalid {kind} '{value}': {hint}")]
    InvalidValue {
        kind: &'static str,
        value: String,
        hint: String,
    },

    /// A target time carries no time zone and the caller gave none.
    #[error(
        "target time '{value}' has no time zone: add an offset such as '+00' or '+08:00', or pass the zone to interpret it in"
    )]
    TimeZoneRequired { value: String },

    /// A configuration key is not known.
    #[error("unknown key '{key}' in {context}{}", suggestion_text(.suggestion.as_deref()))]
    UnknownKey {
        key: String,
        context: String,
        suggestion: Option<String>,
    },

    /// A configuration file or document could not be parsed at all.
    #[error("cannot parse {what}: {message}")]
    Parse { what: String, message: String },

    /// A configuration value is present but not acceptable.
    #[error("invalid value for '{key}' in {context}: {message}")]
    InvalidSetting {
        key: String,
        context: String,
        message: String,
    },

    /// A value would change the meaning of a config file (newline, control character).
    #[error(
        "value of '{key}' contains a newline or control character; pgbackrest.conf and recovery settings take one line per value: remove it"
    )]
    UnsafeValue { key: String },

    /// A value holds characters that a shell, `pg_ctl` or a config file would read as syntax.
    ///
    /// Paths reach `pg_ctl` (which starts `postgres` through `/bin/sh`), `archive_command`,
    /// cron lines and the dry-run script, so they are held to a small alphabet.
    #[error(
        "value of '{key}' ('{value}') contains '{character}', which a shell or config file would read as syntax: {hint}"
    )]
    UnsafeCharacters {
        key: String,
        value: String,
        character: char,
        hint: String,
    },

    /// pitr will not write a file where someone other than root and the file's owner could
    /// redirect or replace it (a symlink at the name, a directory others can write).
    #[error("refusing to write '{}': {problem}", path.display())]
    UnsafePath { path: PathBuf, problem: String },

    /// An extra pgBackRest option is not on pitr's allow-list for `restore`.
    #[error("pgBackRest option '{option}' cannot be passed through pitr: {hint}")]
    OptionNotAllowed { option: String, hint: String },

    /// A secret was given on the command line, where `ps`, plans and logs would show it.
    #[error(
        "'{option}' holds a secret and is never taken on the command line (ps, plans and logs would show it): set it in the repo definition of the cluster spec"
    )]
    SecretOnCommandLine { option: String },

    /// A pgBackRest option name is not in the catalogue.
    #[error("unknown pgBackRest option '{option}'{}", suggestion_text(.suggestion.as_deref()))]
    UnknownOption {
        option: String,
        suggestion: Option<String>,
    },

    /// A repo option does not apply to the repo's type.
    #[error(
        "option '{option}' does not apply to a repo of type '{repo_type}'; it applies to: {applies_to}"
    )]
    OptionNotForRepoType {
        option: String,
        repo_type: String,
        applies_to: String,
    },

    /// An option needs a newer pgBackRest than the one in use.
    #[error("option '{option}' needs pgBackRest {since} or newer, this node has {version}: {hint}")]
    OptionNeedsVersion {
        option: String,
        since: String,
        version: String,
        hint: String,
    },

    /// Rendering needs to know the pgBackRest version and it was not given.
    #[error(
        "option '{option}' behaves differently across pgBackRest versions ({detail}): set pgbackrest_version in the spec or install pgbackrest so pitr can detect it"
    )]
    VersionRequired { option: String, detail: String },

    /// A template failed to compile or render.
    #[error("template '{id}' failed: {message}")]
    Template { id: String, message: String },

    /// A file could not be read or written.
    #[error("{action} '{}': {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `pgbackrest info` output is not what pitr understands.
    #[error("cannot read pgbackrest info output: {message}")]
    InfoFormat { message: String },

    /// The requested stanza is not in the info output or the config.
    #[error("stanza '{stanza}' not found in {source_name}; known stanzas: {known}")]
    StanzaNotFound {
        stanza: String,
        source_name: String,
        known: String,
    },

    /// A stanza reported an error status in `pgbackrest info`.
    #[error("stanza '{stanza}' status {code} ({message})")]
    StanzaStatus {
        stanza: String,
        code: i64,
        message: String,
    },

    /// An OS user does not exist.
    #[error(
        "OS user '{user}' does not exist: create it or set pg_dbsu to the owner of the data directory"
    )]
    UserNotFound { user: String },

    /// pitr cannot run a command as another OS user.
    #[error(
        "cannot run commands as OS user '{user}' while running as '{current}': run pitr as root or as '{user}'"
    )]
    UserSwitch { user: String, current: String },

    /// A program pitr needs is not installed.
    #[error("cannot find {tool}: {hint}")]
    ToolNotFound { tool: String, hint: String },

    /// A program could not be started.
    #[error("cannot start '{program}': {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    /// A program pitr ran failed.
    #[error("{what} failed with {status}{}", output_text(.output))]
    CommandFailed {
        what: String,
        status: String,
        output: String,
    },

    /// No backup set can reach the recovery target.
    #[error("no backup set can reach {target}: {reason}")]
    NoBackupSet { target: String, reason: String },

    /// A requested backup set is not in the repos pitr may restore from.
    #[error("backup set '{label}' not found in {repos}; sets there: {known}")]
    SetNotFound {
        label: String,
        repos: String,
        known: String,
    },

    /// The target lies outside what the repo can recover to.
    #[error("{target} is outside the recoverable window: {why}; recoverable: {window}")]
    TargetOutsideWindow {
        target: String,
        why: String,
        window: String,
    },

    /// A time target after the last commit that the archive does not reach yet: nothing
    /// archived was written after it, so the state at that time is not known.
    #[error(
        "{target} is not archived yet: {why}; the archive must hold WAL written after the target (a later commit, restore point or checkpoint): wait for the next archived segment (or run `pitr check`, which archives one), or pick an earlier time; recoverable: {window}"
    )]
    TargetNotArchived {
        target: String,
        why: String,
        window: String,
    },

    /// WAL needed for recovery is missing from the archive.
    #[error(
        "the archive in repo{repo} is missing {count} WAL segment(s) needed from {from} to {to}: {missing}; recovery would stop at the gap"
    )]
    WalGap {
        repo: crate::names::RepoIndex,
        from: String,
        to: String,
        count: usize,
        missing: String,
    },

    /// A WAL file in a repo's archive differs from the copy in this node's `pg_wal`: the repo
    /// and the node disagree about the cluster's history.
    #[error(
        "{file} in repo{repo} differs from the copy in this node's pg_wal ({detail}){}: the repo and this node disagree about the cluster's history (two primaries at once?); find out which node wrote the repo's copy before pushing anything, and take a full backup once it is settled",
        if *.more > 0 { format!(", and {} more file(s) differ", .more) } else { String::new() }
    )]
    ArchiveConflict {
        file: String,
        repo: crate::names::RepoIndex,
        detail: String,
        more: usize,
    },

    /// The data directory cannot be restored into as it is.
    #[error("data directory '{}': {problem}", path.display())]
    DataDirectory { path: PathBuf, problem: String },

    /// Not enough free space for what the plan keeps or writes.
    #[error(
        "not enough free space in '{}' for {what}: {} needed, {} available",
        path.display(),
        crate::fmt::bytes(*.need),
        crate::fmt::bytes(*.have)
    )]
    NotEnoughSpace {
        path: PathBuf,
        what: String,
        need: u64,
        have: u64,
    },

    /// A repo could not be read: its endpoint refused, stalled past the I/O timeout or failed
    /// while pgBackRest worked with it. `detail` is pgBackRest's error line.
    #[error(
        "repo{repo} cannot be read ({during}): {detail}; check that the repo's storage answers, \
         or choose another repo with --repo"
    )]
    RepoUnreachable {
        repo: u32,
        during: String,
        detail: String,
    },

    /// Writing into a directory failed: its filesystem is full (or fails writes).
    #[error(
        "the filesystem of '{}' is full ({during}): {detail}; free space there, or restore \
         into another directory",
        path.display()
    )]
    DiskFull {
        path: PathBuf,
        during: String,
        detail: String,
    },

    /// PostgreSQL ended recovery without reaching the target, or somewhere else.
    #[error("recovery did not reach {target}: {reason}")]
    RecoveryFailed { target: String, reason: String },

    /// A claim of the sandbox (`pitr sandbox`) turned out false: it printed the claim and
    /// checked it against what happened.
    #[error("sandbox: {claim} is false: {seen}")]
    SandboxClaim { claim: String, seen: String },

    /// PostgreSQL's startup process stopped recovery with a FATAL that pitr knows; the code
    /// says which ([`RecoveryFailure`]), the message what to do.
    #[error("recovery did not reach {target}: PostgreSQL reported: {message}; {}", cause.hint())]
    RecoveryFatal {
        target: String,
        cause: RecoveryFailure,
        message: String,
    },

    /// A restore drill's check of the restored clone failed (a spec's SQL assertion,
    /// `amcheck`, `pg_checksums`).
    #[error("drill check '{check}' failed on the restored clone: {message}")]
    DrillCheck {
        check: &'static str,
        message: String,
    },

    /// A drill did not finish: it was killed or its host stopped. The next drill, or
    /// `pitr drill --cleanup`, found what it left, removed it and records this in its place.
    #[error(
        "the drill {drill} did not finish (killed, or its host stopped); {by} removed what it \
         left: {left}"
    )]
    DrillInterrupted {
        drill: String,
        by: String,
        left: String,
    },

    /// Recovery did not finish in time.
    #[error(
        "recovery did not finish within {seconds} s (last log line: {last_line}); raise the timeout or check the server log"
    )]
    RecoveryTimeout { seconds: u64, last_line: String },

    /// A plan step failed; the source says why. `rolled_back`: the plan's `on_failure` steps
    /// put the safety copy back; `rollback_stopped`: they began and stopped at a step that
    /// failed (e.g. the restored server would not stop), leaving everything else as it was.
    #[error("step '{step}' failed{}: {source}", rollback_text(*.rolled_back, .rollback_stopped.as_deref()))]
    Step {
        step: String,
        rolled_back: bool,
        rollback_stopped: Option<String>,
        #[source]
        source: Box<Error>,
    },

    /// Another pitr holds the stanza's lock on this node; nothing was done.
    #[error(
        "stanza '{stanza}' is busy on this node: {holder} holds the lock {}; nothing was done: wait for it to finish, or queue behind it with --wait (Python: wait=True)",
        path.display()
    )]
    StanzaLocked {
        stanza: String,
        path: PathBuf,
        holder: String,
    },

    /// A run of the stanza was interrupted (pitr was killed, the machine stopped) and the
    /// request is not the same as that run's; nothing was done. `hint` gives the way out.
    #[error("run {run_id} ({what}) of stanza '{stanza}' was interrupted at step '{step}'; {hint}")]
    RunInterrupted {
        run_id: String,
        stanza: String,
        what: String,
        step: String,
        hint: String,
    },

    /// An interrupted run could not be completed and was undone: its safety copy is back.
    #[error("run {run_id} was undone: {reason}")]
    RunUndone { run_id: String, reason: String },

    /// A plan cannot be executed as given.
    #[error("cannot run this plan: {reason}")]
    PlanNotRunnable { reason: String },

    /// A query to PostgreSQL failed.
    #[error("PostgreSQL on {endpoint}: {message}")]
    Database { endpoint: String, message: String },

    /// Patroni is configured and the member cannot tell from it whether it is the primary
    /// (REST API unreachable, no leader lock, Patroni and PostgreSQL disagree, PostgreSQL not
    /// running): it does not back up. `said` quotes what Patroni and PostgreSQL said.
    #[error(
        "cannot tell whether this member is the primary from Patroni at {endpoint}: {said}; nothing was run: {hint}"
    )]
    RoleUnknown {
        endpoint: String,
        said: String,
        hint: String,
    },

    /// A cluster restore's pre-flight found the Patroni cluster not ready: a member or its REST
    /// API unreachable, PostgreSQL not running on a member, no leader, the DCS not reached.
    /// Nothing was stopped.
    #[error(
        "the Patroni cluster is not ready for a cluster restore: {what}; nothing was stopped: {hint}"
    )]
    ClusterNotReady { what: String, hint: String },

    /// Patroni's REST API refused a request that changes it (`PATCH /config`, ...): HTTP 401,
    /// its `restapi.authentication` wants credentials pitr was not given or does not take
    /// those given; or HTTP 403, its `restapi.allowlist` or a required client certificate.
    /// `said` is what Patroni answered; the password is never part of the message.
    #[error("Patroni's REST API at {url} refused {request}: HTTP {status} ({said}); {hint}")]
    PatroniAuth {
        url: String,
        request: String,
        status: u16,
        said: String,
        hint: String,
    },

    /// A cluster restore would act on members of other hosts, which pitr does not reach:
    /// it runs the steps of this host's members only (those whose spec was given).
    #[error(
        "members {members} run on other hosts (no spec of theirs was given); pitr runs the steps \
         of this host's members only: give the spec of each member on this host (--spec), or \
         run the plan's steps of the other hosts on them by hand, in order (the dry run prints \
         them); nothing was stopped"
    )]
    RemoteMember { members: String },

    /// The primary's archiver did not hand every completed WAL segment to the repo in time
    /// before it was to stop; `--force` goes on anyway (that WAL is then lost to restores).
    #[error(
        "member {member} still has {ready} WAL file(s) waiting for archiving after {seconds} s          ({last}); stopping it now would lose them: fix archiving (pitr check) or pass --force"
    )]
    ArchiveNotDrained {
        member: String,
        ready: u64,
        seconds: u64,
        last: String,
    },

    /// A wait of a cluster restore ran out of time (a leader on the new timeline, a replica
    /// streaming, Patroni answering, PostgreSQL stopping).
    #[error("{what} not seen within {seconds} s (last seen: {last})")]
    ClusterWait {
        what: String,
        seconds: u64,
        last: String,
    },

    /// A step of a cluster restore failed; the source says why, `back` what state the
    /// cluster was left in.
    #[error("cluster restore step '{step}' on member {member} failed: {source}; {back}")]
    ClusterStep {
        step: String,
        member: String,
        back: String,
        #[source]
        source: Box<Error>,
    },

    /// A health check of `pitr check` failed. `code` is the check's own stable code
    /// (`check_archive_command_mismatch`, `check_backup_too_old`, ...; see `crate::check`).
    #[error("check '{check}' failed: {message}")]
    CheckFailed {
        check: &'static str,
        code: &'static str,
        message: String,
    },

    /// Metrics could not be rendered in Prometheus text format (a bug in pitr: please report it).
    #[error("cannot render metrics: {message}")]
    Metrics { message: String },
}

fn rollback_text(rolled_back: bool, stopped: Option<&str>) -> String {
    match (rolled_back, stopped) {
        (_, Some(why)) => format!(
            " (rollback stopped: {why}; everything is left as it is, the safety copy included)"
        ),
        (true, None) => {
            " (rolled back: the data directory is as it was before the restore)".to_owned()
        }
        (false, None) => String::new(),
    }
}

fn output_text(output: &str) -> String {
    let trimmed = output.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!(":\n{trimmed}")
    }
}

fn suggestion_text(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!(": did you mean '{s}'?"),
        None => String::new(),
    }
}

impl Error {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidValue { .. } => "invalid_value",
            Error::TimeZoneRequired { .. } => "time_zone_required",
            Error::UnknownKey { .. } => "unknown_key",
            Error::Parse { .. } => "parse_error",
            Error::InvalidSetting { .. } => "invalid_setting",
            Error::UnsafeValue { .. } => "unsafe_value",
            Error::UnsafeCharacters { .. } => "unsafe_characters",
            Error::UnsafePath { .. } => "unsafe_path",
            Error::OptionNotAllowed { .. } => "option_not_allowed",
            Error::SecretOnCommandLine { .. } => "secret_on_command_line",
            Error::UnknownOption { .. } => "unknown_option",
            Error::OptionNotForRepoType { .. } => "option_not_for_repo_type",
            Error::OptionNeedsVersion { .. } => "option_needs_version",
            Error::VersionRequired { .. } => "version_required",
            Error::Template { .. } => "template_error",
            Error::Io { .. } => "io_error",
            Error::InfoFormat { .. } => "info_format",
            Error::StanzaNotFound { .. } => "stanza_not_found",
            Error::StanzaStatus { .. } => "stanza_status",
            Error::UserNotFound { .. } => "user_not_found",
            Error::UserSwitch { .. } => "user_switch",
            Error::ToolNotFound { .. } => "tool_not_found",
            Error::Spawn { .. } => "spawn_failed",
            Error::CommandFailed { .. } => "command_failed",
            Error::Database { .. } => "database_error",
            Error::RoleUnknown { .. } => "role_unknown",
            Error::NoBackupSet { .. } => "no_backup_set",
            Error::SetNotFound { .. } => "set_not_found",
            Error::TargetOutsideWindow { .. } => "target_outside_window",
            Error::TargetNotArchived { .. } => "target_not_archived",
            Error::WalGap { .. } => "wal_gap",
            Error::ArchiveConflict { .. } => "archive_conflict",
            Error::DataDirectory { .. } => "data_directory",
            Error::NotEnoughSpace { .. } => "not_enough_space",
            Error::RepoUnreachable { .. } => "repo_unreachable",
            Error::DiskFull { .. } => "disk_full",
            Error::RecoveryFailed { .. } => "recovery_failed",
            Error::RecoveryFatal { cause, .. } => cause.code(),
            Error::DrillCheck { check, .. } => match *check {
                "amcheck" => "drill_amcheck_failed",
                "assertion" => "drill_assertion_failed",
                _ => "drill_checksums_failed",
            },
            Error::DrillInterrupted { .. } => "drill_interrupted",
            Error::RecoveryTimeout { .. } => "recovery_timeout",
            Error::SandboxClaim { .. } => "sandbox_claim_failed",
            Error::Step { source, .. } | Error::ClusterStep { source, .. } => source.code(),
            Error::PlanNotRunnable { .. } => "plan_not_runnable",
            Error::StanzaLocked { .. } => "stanza_locked",
            Error::RunInterrupted { .. } => "run_interrupted",
            Error::RunUndone { .. } => "run_undone",
            Error::CheckFailed { code, .. } => code,
            Error::ClusterNotReady { .. } => "cluster_not_ready",
            Error::PatroniAuth { .. } => "patroni_auth",
            Error::RemoteMember { .. } => "remote_member",
            Error::ArchiveNotDrained { .. } => "archive_not_drained",
            Error::ClusterWait { .. } => "cluster_wait_timeout",
            Error::Metrics { .. } => "metrics_error",
        }
    }

    /// Whether the error is caused by the caller's input (as opposed to the environment),
    /// including targets that are well-formed but outside what the repo can reach.
    ///
    /// The CLI exits with status 2 for these; the Python module raises them as `ValueError`s too.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Error::InvalidValue { .. }
                | Error::TimeZoneRequired { .. }
                | Error::UnknownKey { .. }
                | Error::Parse { .. }
                | Error::InvalidSetting { .. }
                | Error::UnsafeValue { .. }
                | Error::UnsafeCharacters { .. }
                | Error::OptionNotAllowed { .. }
                | Error::SecretOnCommandLine { .. }
                | Error::UnknownOption { .. }
                | Error::OptionNotForRepoType { .. }
                | Error::OptionNeedsVersion { .. }
                | Error::VersionRequired { .. }
                | Error::NoBackupSet { .. }
                | Error::SetNotFound { .. }
                | Error::TargetOutsideWindow { .. }
                | Error::TargetNotArchived { .. }
        )
    }

    /// Whether recovery ran and did not reach its target (failed, a known FATAL, or timed
    /// out): the restore changed the data directory (and put a safety copy back, if any).
    pub fn is_recovery_failure(&self) -> bool {
        match self {
            Error::RecoveryFailed { .. }
            | Error::RecoveryFatal { .. }
            | Error::RecoveryTimeout { .. } => true,
            Error::Step { source, .. } => source.is_recovery_failure(),
            _ => false,
        }
    }

    /// Shorthand for [`Error::InvalidValue`]; the value is shown on [one line](one_line).
    pub fn invalid(kind: &'static str, value: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::InvalidValue {
            kind,
            value: one_line(&value.into()),
            hint: hint.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Why PostgreSQL's startup process stopped recovery, from its FATAL message (only ever read
/// from the server pitr started: see `recovery::records`). Each has a stable code and says what
/// to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecoveryFailure {
    /// `recovery ended before configured recovery target was reached`.
    TargetNotReached,
    /// `requested timeline N is not a child of this server's history`.
    TimelineNotChild,
    /// `recovery target timeline N does not exist`.
    TimelineMissing,
    /// `requested recovery stop point is before consistent recovery point`.
    BeforeConsistent,
    /// `could not locate required checkpoint record`, `could not locate a valid checkpoint
    /// record`.
    InvalidCheckpoint,
    /// `WAL ends before end of online backup`, `WAL ends before consistent recovery point`.
    MissingWal,
}

impl RecoveryFailure {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            RecoveryFailure::TargetNotReached => "recovery_target_not_reached",
            RecoveryFailure::TimelineNotChild => "recovery_timeline_not_child",
            RecoveryFailure::TimelineMissing => "recovery_timeline_missing",
            RecoveryFailure::BeforeConsistent => "recovery_before_consistent",
            RecoveryFailure::InvalidCheckpoint => "recovery_invalid_checkpoint",
            RecoveryFailure::MissingWal => "recovery_missing_wal",
        }
    }

    /// What it means and what to do.
    pub fn hint(self) -> &'static str {
        match self {
            RecoveryFailure::TargetNotReached => {
                "the WAL recovery could read ends before the target: WAL is missing from the \
                 archive after the set (`pitr check` names holes), or the target is not on the \
                 timeline recovery followed (a restore point or transaction on another branch; \
                 give --timeline or --set), or, for a time, nothing was archived after it yet"
            }
            RecoveryFailure::TimelineNotChild => {
                "the requested timeline branched off before the restored set: restore a set \
                 taken on that timeline's history before the branch (--set), or leave out \
                 --timeline so pitr chooses"
            }
            RecoveryFailure::TimelineMissing => {
                "the archive has no history file for the requested timeline: check `pitr info` \
                 for the timelines the repo holds and give one of them"
            }
            RecoveryFailure::BeforeConsistent => {
                "the target lies before the restored set was consistent: restore an older set \
                 (--set) or a later target"
            }
            RecoveryFailure::InvalidCheckpoint => {
                "the checkpoint the set starts from could not be read: the set's first WAL \
                 segment is missing from the archive or damaged (`pgbackrest verify`); restore \
                 another set (--set)"
            }
            RecoveryFailure::MissingWal => {
                "WAL needed to make the set consistent is missing from the archive (`pitr \
                 check`, `pgbackrest verify`): restore another set (--set)"
            }
        }
    }
}

/// Whether `c` would not show as itself in a message or comment line: a control character
/// (newline, carriage return, tab, NUL, ...) or another character `escape_debug` escapes, such
/// as U+202E, which reorders the text around it on a terminal.
pub fn is_unprintable(c: char) -> bool {
    !matches!(c, '"' | '\'' | '\\') && c.escape_debug().nth(1).is_some()
}

/// Input text as messages and comments show it: on one line, every [unprintable](is_unprintable)
/// character escaped as `escape_debug` writes it (`\n`, `\u{202e}`), everything else as it is.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unprintable(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// The candidate closest to `key` by edit distance, if it is close enough to be a likely typo.
pub fn nearest<'a, I>(key: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(key, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_and_ignores_strangers() {
        let keys = ["pg_cluster", "pg_data", "pg_port"];
        assert_eq!(nearest("pg_clsuter", keys).as_deref(), Some("pg_cluster"));
        assert_eq!(nearest("zzz", keys), None);
    }

    #[test]
    fn one_line_escapes_what_would_break_or_hide_a_line() {
        assert_eq!(one_line("a\nb\rc\td\0"), "a\\nb\\rc\\td\\0");
        assert_eq!(one_line("x\u{202e}y\u{85}"), "x\\u{202e}y\\u{85}");
        assert_eq!(
            one_line("/tmp/$(id) 'q' \"d\" \\ é"),
            "/tmp/$(id) 'q' \"d\" \\ é"
        );
        let e = Error::invalid("repo name", "a\nrepo1-host=evil", "use letters");
        assert_eq!(
            e.to_string(),
            "invalid repo name 'a\\nrepo1-host=evil': use letters"
        );
    }

    #[test]
    fn unknown_key_message_names_key_and_suggestion() {
        let e = Error::UnknownKey {
            key: "pg_clsuter".into(),
            context: "cluster spec".into(),
            suggestion: Some("pg_cluster".into()),
        };
        assert_eq!(
            e.to_string(),
            "unknown key 'pg_clsuter' in cluster spec: did you mean 'pg_cluster'?"
        );
        assert_eq!(e.code(), "unknown_key");
    }
}
