//! Planning a point-in-time restore: pre-flight checks, then the steps.
//!
//! Everything here is pure. Inputs are where to restore ([`RestoreSite`], from a spec or a
//! node's `pgbackrest.conf`), the validated request, the chosen backup set ([`Selection`]) and
//! facts gathered about the data directory ([`NodeFacts`]). Every check runs before the plan
//! exists, so a refused restore has changed nothing.
//!
//! Steps for a standalone instance: stop PostgreSQL (when it runs in the target directory);
//! optionally move the data directory aside as a safety copy; write the restore config (mode
//! 0600); `pgbackrest restore` with `--set` and `--repo` given explicitly; start PostgreSQL with
//! logging into a file pitr follows; await recovery; verify the stop point; then advice for the
//! chosen action and for turning archiving back on. With a safety copy, the plan also carries
//! the steps that put it back if anything fails.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::pg_ctl::{self, StopMode};
use super::summary::{RestoreSummary, Summary};
use super::{Action, FileContents, Plan, RecoveryWatch, Step};
use crate::error::{Error, Result};
use crate::fmt;
use crate::names::StanzaName;
use crate::recovery::LogFormat;
use crate::render::{Renderer, RestoreConfig};
use crate::select::Selection;
use crate::target::{ArchiveMode, RecoveryTarget, RestoreRequest, TargetAction};

/// Where and how a node restores: built from a cluster spec or from the node's config.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreSite {
    /// The stanza restored from.
    pub stanza: StanzaName,
    /// The node's data directory (the in-place restore target).
    pub data: PathBuf,
    /// The node's port.
    pub port: u16,
    /// Socket directory the restored server listens on.
    pub socket_dir: PathBuf,
    /// OS user that owns the data directory and runs PostgreSQL and pgBackRest.
    pub dbsu: String,
    /// PostgreSQL binaries.
    pub pg_bin_dir: PathBuf,
    /// The pgbackrest executable.
    pub pgbackrest_bin: PathBuf,
    /// Where the restore config is written.
    pub restore_config_path: PathBuf,
    /// The restore config's content (repos, paths, processes).
    pub restore_config: RestoreConfig,
    /// Directory for the recovery log that pitr follows.
    pub log_dir: PathBuf,
    /// Seconds to wait for recovery.
    pub timeout_secs: u64,
    /// Whether the data directory is a Patroni member's: Patroni passes the port on the
    /// command line, and the restored `postgresql.conf` is the one Patroni wrote on the member
    /// that was backed up. The recovery server then gets this node's port and socket directory
    /// on its command line.
    pub patroni_member: bool,
}

/// What the data directory looks like before anything happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataState {
    /// It does not exist (pgBackRest creates it).
    Missing,
    /// It exists and is empty.
    Empty,
    /// It holds a PostgreSQL cluster (`PG_VERSION` present).
    Cluster,
    /// It holds something else: pgBackRest would refuse to restore into it.
    Other,
}

/// Facts about the node, gathered before planning (see `run::facts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeFacts {
    /// The state of the target data directory.
    pub data_state: DataState,
    /// A live postmaster's pid in the target data directory.
    pub postmaster_pid: Option<i32>,
    /// Free bytes on the file system that holds the data directory.
    pub free_bytes: Option<u64>,
    /// Whether `<data>-backup` exists already.
    pub safety_copy_exists: bool,
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Options PostgreSQL starts with during recovery (they last until its next restart): a
/// standby that answers queries while paused, English messages, and a structured log of this
/// run's own (`<log_dir>/<name>.json` or `.csv`, never rotated) in which a client's text can
/// never pass for the server's (see [`crate::recovery::records`]).
///
/// `pg_ctl` hands these to `/bin/sh`: `log_dir` is a validated path and `name` is made of the
/// stanza name and the port, so nothing here needs quoting.
pub fn recovery_server_options(log_dir: &Path, name: &str, format: LogFormat) -> String {
    format!(
        "-c hot_standby=on -c lc_messages=C -c logging_collector=on -c log_destination={} \
         -c log_directory={} -c log_filename={name}.log -c log_rotation_age=0 \
         -c log_rotation_size=0 -c log_timezone=UTC",
        format.destination(),
        log_dir.display()
    )
}

/// The log format for the restored set's PostgreSQL version (`"15"`; the newest format when
/// the info report does not say).
fn log_format(sel: &Selection) -> Result<LogFormat> {
    let Some(version) = sel.pg_version.as_deref() else {
        return Ok(LogFormat::Json);
    };
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    LogFormat::for_major(major).ok_or_else(|| Error::DataDirectory {
        path: PathBuf::from(version),
        problem: format!(
            "set {} is of PostgreSQL {version}; pitr follows recovery only on PostgreSQL 13 \
             and later, whose structured logs tell the server's messages from a client's",
            sel.set
        ),
    })
}

/// Checks the target against the window of the chosen set's repo and timeline.
pub(crate) fn check_window(request: &RestoreRequest, sel: &Selection) -> Result<()> {
    let window = sel
        .windows
        .iter()
        .find(|w| w.repo_key == sel.repo && w.timeline == sel.timeline);
    let end = window.and_then(|w| w.end.as_ref());
    let outside = |why: String| {
        Err(Error::TargetOutsideWindow {
            target: request.target.to_string(),
            why,
            window: crate::window::describe(&sel.windows),
        })
    };
    match &request.target {
        RecoveryTarget::Time(t) => {
            if t.unix_seconds() <= i64::try_from(sel.set_stop_time).unwrap_or(i64::MAX) {
                return outside(format!(
                    "it is not after set {} stopped ({}); recovery cannot stop before the set is consistent",
                    sel.set,
                    fmt::epoch(sel.set_stop_time)
                ));
            }
            if let Some(archived) = end.and_then(|e| e.time) {
                if t.unix_seconds() > i64::try_from(archived).unwrap_or(i64::MAX) {
                    return outside(format!(
                        "it is after the last archived WAL of repo{} timeline {} (archived by {})",
                        sel.repo,
                        sel.timeline,
                        fmt::epoch(archived)
                    ));
                }
            }
        }
        RecoveryTarget::Lsn(l) => {
            if *l < sel.set_stop_lsn {
                return outside(format!(
                    "it is before set {} stopped ({}); recovery cannot stop before the set is consistent",
                    sel.set, sel.set_stop_lsn
                ));
            }
            if let Some(e) = end {
                if *l >= e.lsn {
                    return outside(format!(
                        "it is past the last archived WAL of repo{} timeline {} (ends at {})",
                        sel.repo, sel.timeline, e.lsn
                    ));
                }
            }
        }
        RecoveryTarget::Name(_) => {
            if let (Some(l), Some(e)) = (sel.target_lsn, end) {
                if l > e.lsn {
                    return outside(format!(
                        "the restore point was recorded at {l}, past the last archived WAL ({})",
                        e.lsn
                    ));
                }
            }
        }
        RecoveryTarget::Latest | RecoveryTarget::Immediate | RecoveryTarget::Xid(_) => {}
    }
    Ok(())
}

/// Whether `request` restores beside the node's cluster (another data directory or port)
/// instead of in its place.
pub fn is_clone(site: &RestoreSite, request: &RestoreRequest) -> bool {
    request.data.as_ref().is_some_and(|d| *d != site.data)
        || request.port.is_some_and(|p| p != site.port)
}

/// The restore config for `request` on `site`: the site's, with the request's data directory,
/// port, archive mode, databases, links and processes.
///
/// A clone restores with archiving off (asking to preserve it is refused: the clone would
/// archive into the source's stanza) and with a spool path of its own,
/// `<spool-path>/pitr-clone-<port>`: `pgbackrest restore` empties `<spool-path>/archive/<stanza>`,
/// which for the running source holds the status of its asynchronous archive-push (without
/// it the source's next archive-push waits `archive-timeout` and fails).
pub fn restore_config_for(site: &RestoreSite, request: &RestoreRequest) -> Result<RestoreConfig> {
    let data = request
        .data
        .clone()
        .map_or_else(|| site.data.clone(), PathBuf::from);
    let port = request.port.unwrap_or(site.port);
    let clone = is_clone(site, request);
    let mut config = site.restore_config.clone();
    config.archive_mode = match (clone, request.archive) {
        (true, Some(ArchiveMode::Preserve)) => {
            return Err(Error::InvalidSetting {
                key: "archive".into(),
                context: "restore request".into(),
                message: format!(
                    "a clone into '{}' port {port} would archive into the source's stanza '{}'; \
                     clones restore with archiving off",
                    data.display(),
                    site.stanza
                ),
            });
        }
        (true, _) => ArchiveMode::Off,
        (false, mode) => mode.unwrap_or(ArchiveMode::Preserve),
    };
    if clone {
        config.spool_path = config.spool_path.join(format!("pitr-clone-{port}"));
    }
    config.pg_path = data;
    config.pg_port = port;
    config.db_include.clone_from(&request.db_include);
    config.db_exclude.clone_from(&request.db_exclude);
    config.link_map.clone_from(&request.link_map);
    if let Some(p) = request.process {
        config.process_max = p;
    }
    Ok(config)
}

/// Plans a point-in-time restore.
pub fn plan_restore(
    site: &RestoreSite,
    request: &RestoreRequest,
    sel: &Selection,
    facts: &NodeFacts,
    renderer: &Renderer,
) -> Result<Plan> {
    check_window(request, sel)?;
    let config = restore_config_for(site, request)?;
    let data = config.pg_path.clone();
    let port = config.pg_port;
    let clone = is_clone(site, request);
    let archive = config.archive_mode;
    match (facts.data_state, facts.postmaster_pid) {
        (_, Some(pid)) if clone => {
            return Err(Error::DataDirectory {
                path: data,
                problem: format!(
                    "PostgreSQL (pid {pid}) runs in it; a clone needs a directory no server uses"
                ),
            });
        }
        (DataState::Other, _) => {
            return Err(Error::DataDirectory {
                path: data,
                problem: "it is not empty and holds no PostgreSQL cluster (no PG_VERSION); \
                          pgBackRest would refuse to restore into it: empty it or pick another"
                    .into(),
            });
        }
        _ => {}
    }
    let safety_copy =
        request.safety_copy && matches!(facts.data_state, DataState::Cluster | DataState::Empty);
    let backup_dir = PathBuf::from(format!("{}-backup", data.display()));
    if safety_copy {
        if facts.safety_copy_exists {
            return Err(Error::DataDirectory {
                path: backup_dir,
                problem: "a safety copy is requested but this directory exists already: \
                          remove or rename it first"
                    .into(),
            });
        }
        // The old directory is kept while the set is restored beside it.
        let need = sel.restore_size;
        if let Some(have) = facts.free_bytes {
            if have < need {
                return Err(Error::NotEnoughSpace {
                    path: data.parent().unwrap_or(Path::new("/")).to_path_buf(),
                    what: format!(
                        "restoring set {} beside the safety copy {}",
                        sel.set,
                        backup_dir.display()
                    ),
                    need,
                    have,
                });
            }
        }
    }

    let user = site.dbsu.as_str();
    let pg_ctl = site.pg_bin_dir.join("pg_ctl");
    let pg_ctl_text = pg_ctl.display();
    let format = log_format(sel)?;
    // One name per stanza and port, so a dry run shows the plan a real run executes; the
    // watcher reads only what is written after the start step, and only from this server.
    let log_name = format!("{}-pitr-recovery-{port}", site.stanza);
    let start_log = site.log_dir.join(format!("{log_name}.log"));
    let server_log_name = format!("{log_name}-server");
    let recovery_log = site.log_dir.join(format.file_name(&server_log_name));
    let mut steps = Vec::new();
    let mut warnings = sel.warnings.clone();

    if facts.postmaster_pid.is_some() {
        steps.push(Step::exec(
            "stop",
            "Stop PostgreSQL",
            false,
            pg_ctl::stop(&pg_ctl, &data, StopMode::Fast),
            user,
        ));
    }
    if safety_copy {
        steps.push(Step {
            id: "safety-copy".into(),
            title: format!(
                "Keep the current data directory as {} until recovery is verified",
                backup_dir.display()
            ),
            destructive: false,
            action: Action::MoveDir {
                from: data.clone(),
                to: backup_dir.clone(),
                owner: Some(user.into()),
            },
        });
    } else if request.safety_copy {
        warnings.push(format!(
            "no safety copy: '{}' holds no cluster to keep",
            data.display()
        ));
    }

    let file = renderer.restore_conf(&config)?;
    steps.push(Step {
        id: "write-restore-config".into(),
        title: format!(
            "Write the restore config {} (mode 0600)",
            site.restore_config_path.display()
        ),
        destructive: false,
        action: Action::WriteFile {
            path: site.restore_config_path.clone(),
            mode: 0o600,
            owner: Some(user.into()),
            contents: FileContents::from(file),
        },
    });

    // A time after the last commit, with later WAL archived: recovery stops after the record
    // that proves it (PostgreSQL stops a time target only at a later commit, and there is none).
    let landing = match &request.target {
        RecoveryTarget::Time(_) => sel.landing.clone(),
        _ => None,
    };
    let target = landing.as_ref().map_or_else(
        || request.target.clone(),
        |q| RecoveryTarget::Lsn(q.stop_lsn),
    );
    let exclusive = request.exclusive && landing.is_none();
    if let Some(q) = &landing {
        warnings.push(format!("{}: {}", request.target, q.describe()));
    }
    let mut argv = vec![
        path_str(&site.pgbackrest_bin),
        format!("--config={}", site.restore_config_path.display()),
        format!("--stanza={}", site.stanza),
        format!("--repo={}", sel.repo),
        format!("--set={}", sel.set),
        format!("--type={}", target.pgbackrest_type()),
    ];
    if let Some(t) = target.pgbackrest_target() {
        argv.push(format!("--target={t}"));
    }
    if exclusive {
        argv.push("--target-exclusive".into());
    }
    if request.target != RecoveryTarget::Latest && request.action != TargetAction::Pause {
        argv.push(format!("--target-action={}", request.action.as_str()));
    }
    // The timeline selection chose, always: PostgreSQL's default (the newest in the archive)
    // may be a branch the set is not on, or miss a target before a fork.
    if request.target != RecoveryTarget::Immediate {
        argv.push(format!("--target-timeline={}", sel.timeline));
    }
    if port != site.port {
        argv.push(format!("--recovery-option=port={port}"));
    }
    argv.extend(request.extra_options.iter().cloned());
    argv.push("restore".into());
    steps.push(Step::exec(
        "restore",
        format!(
            "Restore set {} from repo{} into {}",
            sel.set,
            sel.repo,
            data.display()
        ),
        true,
        argv,
        user,
    ));

    let mut server_options = recovery_server_options(&site.log_dir, &server_log_name, format);
    // A Patroni member's port is not in its postgresql.conf; a clone's postgresql.conf is the
    // source's, whose socket directory may be another host's (a Patroni cluster's backup
    // taken on another member): the server must listen where recovery is watched.
    if site.patroni_member || is_clone(site, request) {
        server_options = format!(
            "{server_options} -c port={port} -c unix_socket_directories={}",
            site.socket_dir.display()
        );
    }
    steps.push(Step::exec(
        "start",
        "Start PostgreSQL to replay WAL up to the target",
        false,
        pg_ctl::start(&pg_ctl, &data, &start_log, &["-W", "-o", &server_options]),
        user,
    ));
    let watch = RecoveryWatch {
        data: data.clone(),
        log_file: recovery_log.clone(),
        log_format: format,
        start_log,
        socket_dir: site.socket_dir.clone(),
        port,
        user: user.into(),
        target,
        exclusive,
        action: if request.target == RecoveryTarget::Latest {
            TargetAction::Promote
        } else {
            request.action
        },
        set_stop_time: sel.set_stop_time,
        set_stop_lsn: Some(sel.set_stop_lsn),
        timeout_secs: site.timeout_secs,
        landing: landing.clone(),
    };
    steps.push(Step {
        id: "await-recovery".into(),
        title: format!(
            "Follow recovery until PostgreSQL stops at {}",
            request.target
        ),
        destructive: false,
        action: Action::AwaitRecovery(watch.clone()),
    });
    steps.push(Step {
        id: "verify".into(),
        title: "Verify the stop point against the target".into(),
        destructive: false,
        action: Action::VerifyRecovery(watch),
    });

    let data_s = data.display();
    steps.push(match (&request.target, request.action) {
        (RecoveryTarget::Latest, _) | (_, TargetAction::Promote) => Step::note(
            "promoted",
            "PostgreSQL is open for writes",
            format!("Recovery ended and PostgreSQL in {data_s} was promoted to a new timeline."),
        ),
        (_, TargetAction::Pause) => Step::note(
            "paused",
            "PostgreSQL is paused at the target",
            format!(
                "PostgreSQL in {data_s} is paused at the target, read-only, for inspection.\n\
                 When the data is right: {pg_ctl_text} promote -D {data_s}\n\
                 Otherwise restore again with another target."
            ),
        ),
        (_, TargetAction::Shutdown) => Step::note(
            "shut-down",
            "PostgreSQL shut down at the target",
            format!(
                "PostgreSQL in {data_s} shut down at the target. Start it to continue: \
                 {pg_ctl_text} start -D {data_s}"
            ),
        ),
    });
    steps.push(match archive {
        ArchiveMode::Off => Step::note(
            "archiving",
            "Archiving is off in the restored cluster",
            format!(
                "pgBackRest wrote archive_mode = 'off' into {data_s}/postgresql.auto.conf, so this \
                 cluster archives nothing.{}",
                if clone {
                    " Keep it that way for a clone: it must not write into the source's stanza."
                        .to_owned()
                } else {
                    format!(
                        " When it is the new primary, turn archiving back on and take a full backup:\n\
                         psql -h {} -p {port} -c 'ALTER SYSTEM RESET archive_mode'\n\
                         {pg_ctl_text} restart -D {data_s}\n\
                         pitr backup full",
                        site.socket_dir.display()
                    )
                }
            ),
        ),
        ArchiveMode::Preserve => Step::note(
            "archiving",
            "Archiving continues",
            format!(
                "The restored cluster keeps its archive settings: once promoted it archives into \
                 stanza {} on a new timeline. Take a full backup after promotion: pitr backup full",
                site.stanza
            ),
        ),
    });

    let mut on_failure = Vec::new();
    if safety_copy {
        steps.push(Step::note(
            "safety-copy-kept",
            "The previous data directory is kept",
            format!(
                "{} holds the data directory as it was before the restore; remove it when satisfied.",
                backup_dir.display()
            ),
        ));
        on_failure.push(Step {
            id: "rollback-stop".into(),
            title: "Stop PostgreSQL in the restored directory, if it runs".into(),
            destructive: false,
            action: Action::Exec {
                argv: pg_ctl::stop(&pg_ctl, &data, StopMode::Immediate),
                run_as: Some(user.into()),
                ok_status: vec![0, 1],
            },
        });
        on_failure.push(Step {
            id: "rollback-remove".into(),
            title: "Remove the failed restore".into(),
            destructive: true,
            action: Action::RemoveDir {
                path: data.clone(),
                owner: Some(user.into()),
            },
        });
        on_failure.push(Step {
            id: "rollback-restore".into(),
            title: "Put the safety copy back".into(),
            destructive: false,
            action: Action::MoveDir {
                from: backup_dir.clone(),
                to: data.clone(),
                owner: Some(user.into()),
            },
        });
        if facts.postmaster_pid.is_some() {
            on_failure.push(Step::exec(
                "rollback-start",
                "Start PostgreSQL again, as it was running before",
                false,
                pg_ctl::start(
                    &pg_ctl,
                    &data,
                    &site
                        .log_dir
                        .join(format!("{}-pitr-rollback.log", site.stanza)),
                    &["-w"],
                ),
                user,
            ));
        }
    }

    let summary = RestoreSummary {
        target: request.target.to_string(),
        exclusive: request.exclusive,
        action: request.action,
        set: sel.set.clone(),
        set_type: sel.set_type,
        repo: sel.repo,
        timeline: sel.timeline,
        rule: sel.rule,
        reason: sel.reason.clone(),
        set_stop_time: fmt::epoch(sel.set_stop_time),
        set_stop_lsn: sel.set_stop_lsn,
        pgbackrest_choice: sel.pgbackrest_choice.clone(),
        replay_bytes: sel.replay_bytes,
        window: crate::window::describe(&sel.windows),
        data: data.clone(),
        port,
        clone,
        archive,
        safety_copy: safety_copy.then(|| backup_dir.clone()),
        restore_config: site.restore_config_path.clone(),
        recovery_log,
        landing,
    };
    Ok(Plan {
        summary: Summary::Restore(Box::new(summary)),
        stanza: site.stanza.to_string(),
        warnings,
        steps,
        on_failure,
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{is_clone, restore_config_for};
    use crate::node::Node;
    use crate::spec::ClusterSpec;
    use crate::target::ArchiveMode;
    use crate::target::RestoreRequest;

    fn site() -> super::RestoreSite {
        let spec = ClusterSpec::from_yaml_str(
            "pg_cluster: pg-test\npg_data: /pg/data\npg_port: 5432\n\
             pgbackrest_spool_dir: /pg/spool\npgbackrest_version: '2.45'",
        )
        .unwrap();
        Node::from_spec(&spec).restore_site(
            Path::new("/usr/lib/postgresql/15/bin"),
            Path::new("/usr/bin/pgbackrest"),
            None,
            60,
        )
    }

    fn request(v: serde_json::Value) -> RestoreRequest {
        RestoreRequest::from_pg_pitr(v, None).unwrap()
    }

    #[test]
    fn a_clone_gets_archiving_off_and_a_spool_path_of_its_own() {
        let site = site();
        let in_place = request(serde_json::json!({"time": "2026-11-23 20:00:00+00"}));
        assert!(!is_clone(&site, &in_place));
        let c = restore_config_for(&site, &in_place).unwrap();
        assert_eq!(c.spool_path, PathBuf::from("/pg/spool"));
        assert_eq!(c.archive_mode, ArchiveMode::Preserve);
        // The node's own directory and port, given explicitly, are no clone.
        let same = request(serde_json::json!({"data": "/pg/data", "port": 5432}));
        assert!(!is_clone(&site, &same));

        let clone = request(serde_json::json!({"time": "2026-11-23 20:00:00+00",
            "data": "/pg/clone", "port": 5433}));
        assert!(is_clone(&site, &clone));
        let c = restore_config_for(&site, &clone).unwrap();
        assert_eq!(c.spool_path, PathBuf::from("/pg/spool/pitr-clone-5433"));
        assert_eq!(c.archive_mode, ArchiveMode::Off);
        assert_eq!(
            (c.pg_path.as_path(), c.pg_port),
            (Path::new("/pg/clone"), 5433)
        );
        // The source's spool path never appears in the clone's config.
        let text = crate::render::Renderer::new().restore_conf(&c).unwrap();
        assert!(
            text.contents()
                .contains("spool-path=/pg/spool/pitr-clone-5433\n"),
            "{}",
            text.contents()
        );

        let preserve = request(serde_json::json!({"data": "/pg/clone", "archive": "preserve"}));
        let e = restore_config_for(&site, &preserve).unwrap_err();
        assert_eq!(e.code(), "invalid_setting");
    }
}
