//! The `postgres` OS user: switching to it in spawned processes and handing files to it.
//!
//! Switching happens in the child between `fork` and `exec`
//! (`std::os::unix::process::CommandExt::{uid, gid}`; std also drops the supplementary groups
//! when a root parent sets a uid). No shell and no `su` are involved.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use nix::unistd::{User, geteuid};

/// The OS user that owns test clusters and runs PostgreSQL and pgBackRest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUser {
    /// Numeric user id.
    pub uid: u32,
    /// Numeric primary group id.
    pub gid: u32,
    /// Login name (`postgres`).
    pub name: String,
    /// Home directory, used as `HOME` for spawned processes.
    pub home: PathBuf,
}

impl DbUser {
    /// The `postgres` user, looked up once.
    ///
    /// # Panics
    ///
    /// When the user does not exist (it is created by the `postgresql-15` package: run
    /// `make setup`), or when the test process is neither root nor `postgres`.
    pub fn postgres() -> &'static DbUser {
        static USER: OnceLock<DbUser> = OnceLock::new();
        USER.get_or_init(|| {
            let user = User::from_name("postgres")
                .unwrap_or_else(|e| panic!("cannot look up OS user `postgres`: {e}"))
                .unwrap_or_else(|| {
                    panic!(
                        "OS user `postgres` does not exist; run `make setup` \
                         (installing postgresql-15 creates it)"
                    )
                });
            let euid = geteuid();
            assert!(
                euid.is_root() || euid == user.uid,
                "end-to-end tests must run as root (they switch to `postgres` for PostgreSQL) \
                 or as `postgres` itself; this process runs as uid {euid}"
            );
            DbUser {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
                name: user.name,
                home: user.dir,
            }
        })
    }

    /// Whether spawned processes must switch to this user (the test process is root).
    pub fn must_switch(&self) -> bool {
        geteuid().as_raw() != self.uid
    }
}

/// A command that runs `program` as `postgres`.
///
/// The child switches uid/gid (unless the test process already is `postgres`), starts in `/`,
/// gets `HOME`, `USER` and `LOGNAME` of `postgres`, no inherited `PG*` environment variables
/// (this includes `PGBACKREST_*`) and a null stdin. Add arguments with `.arg()`/`.args()`;
/// never pass a shell string.
pub fn cmd_as_postgres(program: impl AsRef<OsStr>) -> Command {
    let user = DbUser::postgres();
    let mut cmd = Command::new(program);
    if user.must_switch() {
        cmd.uid(user.uid).gid(user.gid);
    }
    for (key, _) in std::env::vars_os() {
        if key.as_encoded_bytes().starts_with(b"PG") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", &user.home)
        .env("USER", &user.name)
        .env("LOGNAME", &user.name)
        .current_dir("/")
        .stdin(Stdio::null());
    cmd
}

/// Gives `path` to `postgres` (owner and group). A no-op when the test runs as `postgres`.
///
/// # Panics
///
/// When `chown` fails.
pub fn chown_to_postgres(path: &Path) {
    let user = DbUser::postgres();
    if user.must_switch() {
        std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
            .unwrap_or_else(|e| panic!("cannot chown {} to postgres: {e}", path.display()));
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("cannot chmod {mode:o} {}: {e}", path.display()));
}

/// Creates the directory `path` (and missing parents, which stay as created), owned by
/// `postgres` with `mode`.
///
/// # Panics
///
/// On any I/O error.
pub fn mkdir_as_postgres(path: &Path, mode: u32) {
    match fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        }
        Err(e) => panic!("cannot create {}: {e}", path.display()),
    }
    chown_to_postgres(path);
    chmod(path, mode);
}

/// Writes `contents` to `path` (replacing it), owned by `postgres` with `mode` (e.g. `0o640`).
///
/// # Panics
///
/// On any I/O error.
pub fn write_file_as_postgres(path: &Path, contents: impl AsRef<[u8]>, mode: u32) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    chown_to_postgres(path);
    chmod(path, mode);
}
