//! The effects of a restore drill beside the running cluster: a free port, low CPU and IO
//! priority for what the drill runs, checks of the restored clone (`amcheck`, `pg_checksums`),
//! and removing the clone — also one a crashed drill left behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::exec::run_capture;
use super::files;
use super::probe::{Endpoint, block_on};
use super::user::OsUser;
use crate::error::{Error, Result};
use crate::names::TargetTime;
use crate::plan::pg_ctl::{self, StopMode};

/// A port no server uses: free for TCP on loopback, and no socket of that number in
/// `socket_dir`.
pub fn free_port(socket_dir: &Path) -> Result<u16> {
    for _ in 0..100 {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| Error::io("cannot find a free port on", "127.0.0.1", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io("cannot find a free port on", "127.0.0.1", e))?
            .port();
        if !files::exists_nofollow(&socket_dir.join(format!(".s.PGSQL.{port}"))) {
            return Ok(port);
        }
    }
    Err(Error::io(
        "cannot find a free port for the clone in",
        socket_dir,
        std::io::Error::from(std::io::ErrorKind::AddrInUse),
    ))
}

/// `argv` at reduced CPU and IO priority: `nice -n 10 ionice -c 2 -n 7 argv...` (each tool only
/// when it is installed).
pub fn niced(argv: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(nice) = which::which("nice") {
        out.extend([nice.display().to_string(), "-n".into(), "10".into()]);
    }
    if let Ok(ionice) = which::which("ionice") {
        out.extend([
            ionice.display().to_string(),
            "-c".into(),
            "2".into(),
            "-n".into(),
            "7".into(),
        ]);
    }
    out.extend(argv);
    out
}

/// Stops a server in `data` (`-m fast`, then `-m immediate` when that fails), if one runs.
pub fn stop_server(pg_bin_dir: &Path, data: &Path, user: &OsUser) -> Result<()> {
    if !files::exists_nofollow(&data.join("postmaster.pid")) {
        return Ok(());
    }
    let pg_ctl = pg_bin_dir.join("pg_ctl");
    let mut last = Ok(());
    for mode in [StopMode::Fast, StopMode::Immediate] {
        let argv = pg_ctl::stop(&pg_ctl, data, mode);
        let mut cmd = user.command(&argv[0])?;
        cmd.args(&argv[1..]);
        last = run_capture(cmd, "pg_ctl stop").map(drop);
        if last.is_ok() || !files::exists_nofollow(&data.join("postmaster.pid")) {
            return Ok(());
        }
    }
    last
}

/// What a running drill notes in its scratch directory (`drill.json`), for a later run that
/// finds the directory left behind: the clone's port (its spool path) and which drill it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillMarker {
    /// The clone's port.
    pub port: u16,
    /// The drill's process id.
    pub pid: u32,
    /// When the drill started (its record's `started`).
    pub started: TargetTime,
}

fn marker_path(scratch: &Path) -> PathBuf {
    scratch.join("drill.json")
}

/// Writes the marker into the scratch directory, as pitr's own file (the database user, who
/// owns the directory, can remove it but not forge it).
pub fn note_start(scratch: &Path, marker: &DrillMarker, user: &OsUser) -> Result<()> {
    let text = serde_json::to_vec(marker).map_err(|e| Error::Metrics {
        message: e.to_string(),
    })?;
    files::write_private(&marker_path(scratch), &text, Some(user))
}

/// The marker a drill left in `scratch`, when there is one pitr wrote.
pub fn read_marker(scratch: &Path, user: &OsUser) -> Option<DrillMarker> {
    let bytes = files::read_private(&marker_path(scratch), Some(user)).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Removes what a drill leaves (its clone's data directory and restore config in `scratch`,
/// the clone's own spool path `<spool>/pitr-clone-<port>`), stopping the clone's server first.
/// Returns what was removed.
pub fn remove_scratch(
    scratch: &Path,
    spool: &Path,
    pg_bin_dir: &Path,
    user: &OsUser,
) -> Result<Vec<PathBuf>> {
    if !files::exists_nofollow(scratch) {
        return Ok(Vec::new());
    }
    let data = scratch.join("data");
    stop_server(pg_bin_dir, &data, user)?;
    let mut removed = Vec::new();
    if let Some(port) = read_marker(scratch, user).map(|m| m.port) {
        let clone_spool = spool.join(format!("pitr-clone-{port}"));
        if files::exists_nofollow(&clone_spool) {
            files::remove_dir(&clone_spool, Some(user))?;
            removed.push(clone_spool);
        }
    }
    files::remove_dir(scratch, Some(user))?;
    removed.insert(0, scratch.to_path_buf());
    Ok(removed)
}

/// `amcheck` on every B-tree index of every database of the promoted clone (the extension is
/// created in each, on the clone only). Returns how many indexes were checked.
pub fn amcheck(endpoint: &Endpoint) -> Result<u64> {
    let fail = |m: String| Error::DrillCheck {
        check: "amcheck",
        message: m,
    };
    let dbs = endpoint.simple_query(
        "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1",
    )?;
    let mut checked = 0;
    for db in dbs
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        let n: Result<u64> = block_on(async {
            let client = endpoint.connect_to(&db, Duration::from_secs(10)).await?;
            let rows = client
                .simple_query(
                    "CREATE EXTENSION IF NOT EXISTS amcheck; \
                     SELECT count(bt_index_check(c.oid)) FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indexrelid \
                     JOIN pg_am a ON a.oid = c.relam \
                     WHERE a.amname = 'btree' AND c.relpersistence <> 't' \
                     AND i.indisvalid AND i.indisready",
                )
                .await
                .map_err(|e| fail(format!("database {db}: {e}")))?;
            Ok(rows
                .into_iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        r.get(0).and_then(|v| v.parse().ok())
                    }
                    _ => None,
                })
                .unwrap_or(0))
        });
        checked += n?;
    }
    Ok(checked)
}

/// Runs each assertion on the clone: its first value must be true.
pub fn assertions(endpoint: &Endpoint, list: &[crate::spec::DrillAssertion]) -> Result<()> {
    for a in list {
        let fail = |m: String| Error::DrillCheck {
            check: "assertion",
            message: format!("assertion '{}' in database {}: {m}", a.name, a.db),
        };
        let value: Result<Option<String>> = block_on(async {
            let client = endpoint.connect_to(&a.db, Duration::from_secs(10)).await?;
            let rows = client
                .simple_query(&a.sql)
                .await
                .map_err(|e| fail(e.to_string()))?;
            Ok(rows
                .into_iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_owned)),
                    _ => None,
                })
                .flatten())
        });
        match value?.as_deref() {
            Some("t") => {}
            Some(v) => return Err(fail(format!("returned {v}, not true"))),
            None => return Err(fail("returned no value".into())),
        }
    }
    Ok(())
}

/// `pg_checksums --check` on the stopped clone, at reduced priority.
pub fn check_checksums(pg_bin_dir: &Path, data: &Path, user: &OsUser) -> Result<()> {
    let argv = niced(vec![
        pg_bin_dir.join("pg_checksums").display().to_string(),
        "--check".into(),
        "-D".into(),
        data.display().to_string(),
    ]);
    let mut cmd = user.command(&argv[0])?;
    cmd.args(&argv[1..]);
    run_capture(cmd, "pg_checksums --check")
        .map(drop)
        .map_err(|e| Error::DrillCheck {
            check: "checksums",
            message: e.to_string(),
        })
}
