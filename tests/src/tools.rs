//! Finding PostgreSQL 15 and pgBackRest, and running pgBackRest as `postgres`.
//!
//! Lookups are done once per process and cached. A missing tool is a panic that names what was
//! tried and says to run `make setup`: end-to-end tests never skip.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::user::cmd_as_postgres;

/// The PostgreSQL major version the end-to-end tests run against.
const PG_MAJOR: &str = "15";

/// Binaries that must be present in the PostgreSQL bin directory.
const REQUIRED_PG_BINS: [&str; 5] = ["initdb", "pg_ctl", "postgres", "psql", "pg_controldata"];

/// Where Debian's `postgresql-15` package puts its binaries.
const DEBIAN_PG_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

/// Overrides the PostgreSQL bin directory (must hold PostgreSQL 15).
const PG_BIN_DIR_ENV: &str = "PITR_PG_BINDIR";

/// Overrides the pgBackRest executable.
const PGBACKREST_ENV: &str = "PITR_PGBACKREST";

/// The directory holding PostgreSQL 15's server binaries (`initdb`, `pg_ctl`, `postgres`, ...).
///
/// Tried in order: `$PITR_PG_BINDIR`; `pg_config --bindir` of the `pg_config` on `PATH` if it
/// reports PostgreSQL 15; `/usr/lib/postgresql/15/bin/pg_config --bindir`; and
/// `/usr/lib/postgresql/15/bin`. The first directory that holds all required binaries wins.
///
/// # Panics
///
/// When none does: the message says to run `make setup`.
pub fn pg_bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(find_pg_bin_dir).clone()
}

/// The path of one PostgreSQL 15 binary, e.g. `pg_bin("pg_waldump")`.
///
/// # Panics
///
/// When the binary does not exist in [`pg_bin_dir`].
pub fn pg_bin(name: &str) -> PathBuf {
    let path = pg_bin_dir().join(name);
    assert!(
        path.is_file(),
        "PostgreSQL binary {} does not exist; run `make setup` to install postgresql-{PG_MAJOR}",
        path.display()
    );
    path
}

fn find_pg_bin_dir() -> PathBuf {
    let mut tried = Vec::new();
    if let Some(dir) = std::env::var_os(PG_BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        assert!(
            has_pg_bins(&dir),
            "${PG_BIN_DIR_ENV}={} does not hold {REQUIRED_PG_BINS:?}",
            dir.display()
        );
        return dir;
    }
    let mut candidates = Vec::new();
    if let Ok(pg_config) = which::which("pg_config") {
        candidates.extend(bindir_from_pg_config(&pg_config, &mut tried));
    }
    let debian_pg_config = Path::new(DEBIAN_PG_BIN_DIR).join("pg_config");
    if debian_pg_config.is_file() {
        candidates.extend(bindir_from_pg_config(&debian_pg_config, &mut tried));
    }
    candidates.push(PathBuf::from(DEBIAN_PG_BIN_DIR));
    for dir in candidates {
        if has_pg_bins(&dir) {
            return dir;
        }
        tried.push(format!(
            "{} (missing some of {REQUIRED_PG_BINS:?})",
            dir.display()
        ));
    }
    panic!(
        "PostgreSQL {PG_MAJOR} binaries not found; tried: {}. \
         Run `make setup` (installs postgresql-{PG_MAJOR}) or set ${PG_BIN_DIR_ENV}.",
        tried.join("; ")
    );
}

/// `pg_config --bindir`, if that `pg_config` belongs to the expected major version.
fn bindir_from_pg_config(pg_config: &Path, tried: &mut Vec<String>) -> Option<PathBuf> {
    let run = |arg: &str| {
        Command::new(pg_config)
            .arg(arg)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let version = run("--version")?;
    // "PostgreSQL 15.14 (Debian 15.14-0+deb12u1)"
    let major = version
        .strip_prefix("PostgreSQL ")
        .and_then(|rest| rest.split(['.', ' ']).next());
    if major != Some(PG_MAJOR) {
        tried.push(format!("{} (reports {version:?})", pg_config.display()));
        return None;
    }
    run("--bindir").map(PathBuf::from)
}

fn has_pg_bins(dir: &Path) -> bool {
    REQUIRED_PG_BINS.iter().all(|bin| dir.join(bin).is_file())
}

/// The pgBackRest executable: `$PITR_PGBACKREST`, else `pgbackrest` on `PATH`, else
/// `/usr/bin/pgbackrest`.
///
/// # Panics
///
/// When pgBackRest is not installed: the message says to run `make setup`.
pub fn pgbackrest_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os(PGBACKREST_ENV) {
            let bin = PathBuf::from(bin);
            assert!(
                bin.is_file(),
                "${PGBACKREST_ENV}={} does not exist",
                bin.display()
            );
            return bin;
        }
        which::which("pgbackrest")
            .ok()
            .or_else(|| Some(PathBuf::from("/usr/bin/pgbackrest")).filter(|p| p.is_file()))
            .unwrap_or_else(|| {
                panic!(
                    "pgbackrest not found on PATH nor at /usr/bin/pgbackrest; \
                     run `make setup` (installs pgbackrest) or set ${PGBACKREST_ENV}"
                )
            })
    })
    .clone()
}

/// Runs the real pgBackRest as `postgres`: `pgbackrest --config=<config> <args...>`.
///
/// Returns the output whatever the exit status; see [`pgbackrest_ok`] for the asserting form.
///
/// # Panics
///
/// When pgBackRest cannot be started at all.
pub fn pgbackrest(config: &Path, args: &[&str]) -> Output {
    let mut cmd = cmd_as_postgres(pgbackrest_bin());
    cmd.arg(config_arg(config)).args(args);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)))
}

/// Like [`pgbackrest`], and panics with the command, stdout and stderr when it fails.
/// Returns stdout.
pub fn pgbackrest_ok(config: &Path, args: &[&str]) -> String {
    let out = pgbackrest(config, args);
    assert!(
        out.status.success(),
        "pgbackrest --config={} {} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        config.display(),
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn config_arg(config: &Path) -> std::ffi::OsString {
    let mut arg = std::ffi::OsString::from("--config=");
    arg.push(config.as_os_str());
    arg
}

/// `program arg arg ...` for messages.
pub(crate) fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Python of the repo's `.venv`, where `make wheel` installs the `pitr` module.
///
/// # Panics
///
/// When it is missing: the message says to run `make setup` and `make wheel`.
pub fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `make setup` and `make wheel`",
        python.display()
    );
    python
}
