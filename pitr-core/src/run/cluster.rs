//! The waits of a cluster restore ([`crate::plan::cluster`]): each polls what Patroni's REST
//! API or PostgreSQL says until it holds or time runs out, and then says what it saw last.
//!
//! Each wait is also a check of the cluster's state, so running it again on a cluster where it
//! already holds returns at once.

use std::path::Path;
use std::time::{Duration, Instant};

use super::log::RunLog;
use super::patroni;
use super::probe::Endpoint;
use crate::error::{Error, Result};
use crate::patroni::PatroniApi;

/// How often states are polled.
const POLL: Duration = Duration::from_millis(500);

/// Calls `probe` until it returns `Ok(Some)` (or an error, which ends the wait), at most
/// `timeout_secs`; `probe` also returns what it saw, for the timeout message.
fn poll<T>(
    what: &str,
    timeout_secs: u64,
    mut probe: impl FnMut(&mut String) -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    let mut last = String::from("nothing yet");
    loop {
        if let Some(v) = probe(&mut last)? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(Error::ClusterWait {
                what: what.to_owned(),
                seconds: timeout_secs,
                last,
            });
        }
        std::thread::sleep(POLL);
    }
}

/// Runs `argv` as `run_as` (root when `None`; no shell), `stdin` fed to it, its output into
/// `log`; `id` names the step in errors.
pub fn exec(
    id: &str,
    argv: &[String],
    run_as: Option<&str>,
    stdin: Option<&str>,
    ok_status: &[i32],
    log: &RunLog,
) -> Result<()> {
    let Some(program) = argv.first() else {
        return Err(Error::PlanNotRunnable {
            reason: format!("step '{id}' has an empty command"),
        });
    };
    log.line(&format!("  $ {}", crate::plan::shell::quote_argv(argv)));
    let mut cmd = match run_as {
        Some(u) => super::user::OsUser::lookup(u)?.command(program)?,
        None => std::process::Command::new(program),
    };
    cmd.args(&argv[1..]);
    super::exec::run_streaming_input(cmd, stdin, id, log, ok_status)
}

/// Pauses or resumes automatic failover through `api` (retrying until the REST API answers),
/// then waits until the member reports it. A refusal of pitr's credentials ends the wait at
/// once ([`Error::PatroniAuth`]).
pub fn set_pause(api: &PatroniApi, pause: bool, timeout_secs: u64) -> Result<()> {
    let what = format!("Patroni at {} reporting pause = {pause}", api.url);
    let mut sent = false;
    poll(&what, timeout_secs, |last| {
        if !sent {
            match patroni::set_pause(api, pause)? {
                Ok(()) => sent = true,
                Err(e) => {
                    *last = e;
                    return Ok(None);
                }
            }
        }
        match patroni::ask_state(api) {
            Ok(a) if a.doc.pause == pause => Ok(Some(())),
            Ok(a) => {
                *last = a.doc.describe();
                Ok(None)
            }
            Err(e) => {
                *last = e;
                Ok(None)
            }
        }
    })
}

/// Completes the current WAL segment (after a small WAL record, so there is one to complete)
/// and waits until no file in `pg_wal/archive_status` is `.ready`. `Err` holds the number of
/// files still waiting and what `pg_stat_archiver` said last.
pub fn await_archived(
    endpoint: &Endpoint,
    timeout_secs: u64,
) -> Result<std::result::Result<(), (u64, String)>> {
    endpoint.simple_query(
        "SELECT pg_logical_emit_message(false, 'pitr', 'cluster restore'); \
         SELECT pg_switch_wal()",
    )?;
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    loop {
        let rows = endpoint.simple_query(
            "SELECT (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'), \
             coalesce(last_archived_wal, '-'), coalesce(last_failed_wal, '-'), failed_count \
             FROM pg_stat_archiver",
        )?;
        let row = rows.into_iter().next().unwrap_or_default();
        let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let ready: u64 = field(0).parse().unwrap_or(u64::MAX);
        if ready == 0 {
            return Ok(Ok(()));
        }
        if Instant::now() >= deadline {
            return Ok(Err((
                ready,
                format!(
                    "last archived {}, last failed {}, {} failures",
                    field(1),
                    field(2),
                    field(3)
                ),
            )));
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until no live postmaster runs in `data`.
pub fn await_stopped(data: &Path, timeout_secs: u64) -> Result<()> {
    let what = format!("no PostgreSQL running in {}", data.display());
    poll(&what, timeout_secs, |last| {
        Ok(match super::facts::postmaster_pid(data) {
            None => Some(()),
            Some(pid) => {
                *last = format!("postmaster pid {pid} runs");
                None
            }
        })
    })
}

/// Waits until the member at `api` holds the leader lock and runs as primary on a timeline
/// `accept` takes; returns that timeline.
pub fn await_leader(
    api: &PatroniApi,
    what: &str,
    timeout_secs: u64,
    accept: impl Fn(u64) -> bool,
) -> Result<u64> {
    poll(what, timeout_secs, |last| {
        match patroni::ask_primary(api) {
            Ok(a) => {
                *last = a.doc.describe();
                let primary = matches!(a.doc.role.as_deref(), Some("master" | "primary"));
                let running = a.doc.state.as_deref() == Some("running");
                if let (true, true, true, Some(tl)) =
                    (a.holds_leader_lock(), primary, running, a.doc.timeline)
                {
                    if accept(tl) {
                        return Ok(Some(tl));
                    }
                }
            }
            Err(e) => *last = e,
        }
        Ok(None)
    })
}

/// Waits until `member` streams from the leader at `leader` and has replayed everything the
/// leader wrote (`pg_stat_replication`: `streaming`, `replay_lsn = pg_current_wal_lsn()`).
pub fn await_streaming(
    leader: &Endpoint,
    member: &str,
    timeout_secs: u64,
    log: &RunLog,
) -> Result<()> {
    let what = format!("{member} streaming from the leader with zero lag");
    let sql = format!(
        "SELECT state, replay_lsn = pg_current_wal_lsn() FROM pg_stat_replication \
         WHERE application_name = '{}'",
        member.replace('\'', "''")
    );
    let mut said = String::new();
    poll(&what, timeout_secs, |last| {
        let row = match leader.simple_query(&sql) {
            Ok(rows) => rows.into_iter().next(),
            Err(e) => {
                *last = e.to_string();
                return Ok(None);
            }
        };
        let seen = match row.as_deref() {
            None => "no replication connection".to_owned(),
            Some([Some(state), Some(caught_up)]) if state == "streaming" && caught_up == "t" => {
                return Ok(Some(()));
            }
            Some(r) => format!("(state, caught up) = {r:?}"),
        };
        if seen != said {
            log.line(&format!("  {member}: {seen}"));
            said.clone_from(&seen);
        }
        *last = seen;
        Ok(None)
    })
}
