//! `pg_ctl` command lines: one builder per use, so every plan stops and starts PostgreSQL the
//! same way.

use std::path::Path;

/// How `pg_ctl stop` shuts the server down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// `-m fast`: roll back sessions, checkpoint, stop; waits up to an hour.
    Fast,
    /// `-m immediate`: stop now (crash recovery at the next start), e.g. a failed restore.
    Immediate,
}

fn text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `pg_ctl stop -D <data> -m <mode> -w [-t 3600]`.
pub fn stop(pg_ctl: &Path, data: &Path, mode: StopMode) -> Vec<String> {
    let mut argv = vec![
        text(pg_ctl),
        "stop".into(),
        "-D".into(),
        text(data),
        "-m".into(),
    ];
    match mode {
        StopMode::Fast => argv.extend(["fast".into(), "-w".into(), "-t".into(), "3600".into()]),
        StopMode::Immediate => argv.extend(["immediate".into(), "-w".into()]),
    }
    argv
}

/// `pg_ctl start -D <data> -l <log> <options>`.
pub fn start(pg_ctl: &Path, data: &Path, log: &Path, options: &[&str]) -> Vec<String> {
    let mut argv = vec![
        text(pg_ctl),
        "start".into(),
        "-D".into(),
        text(data),
        "-l".into(),
        text(log),
    ];
    argv.extend(options.iter().map(|o| (*o).to_owned()));
    argv
}
