//! One pitr at a time per stanza and node: an exclusive `flock` on
//! `<lock-path>/<stanza>-pitr.lock`.
//!
//! `restore`, `backup`, `mark`, `continuity` and `patroni-callback` take the lock before they
//! look at anything (see [`crate::ops::lock_stanza`]); a second one finds it held and fails at
//! once with [`Error::StanzaLocked`] (code `stanza_locked`), naming the holder, having touched
//! nothing — or, asked to wait, queues until the holder is done. The lock is the kernel's: it
//! goes with the process that holds it, `kill -9` included, so there is no stale lock to clean
//! up and pitr never guesses whether one is. The holder writes who it is into the file (pid,
//! command, start time) for the next one to quote.
//!
//! The lock path is pgBackRest's `lock-path` (`/tmp/pgbackrest` unless configured), a directory
//! the database OS user owns. The file belongs to that user, mode 0600 (pitr runs as root from
//! cron and as that user from Patroni's callback: both must open it), is opened without
//! following links, and must be a regular file of that user or pitr's own with a single name
//! ([`files::open_lock`]), so writing the holder into it never writes anywhere else. What that
//! user can do: hold the lock itself, or remove the file while a run holds it (a second run
//! then makes a new one and is not stopped) — keeping pitr out, or letting two in, is no more
//! than it can do to its own cluster without pitr; it gains no right it did not have.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::files;
use super::user::OsUser;
use crate::error::{Error, Result, one_line};

/// pgBackRest's lock path when `lock-path` is not set.
pub const DEFAULT_LOCK_DIR: &str = "/tmp/pgbackrest";

/// Who holds a stanza's lock, as it wrote itself into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// The pitr command (`restore`, `backup`, ...).
    pub command: String,
    /// When it took the lock (UTC, RFC 3339).
    pub started: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pitr {} (pid {}, started {})",
            one_line(&self.command),
            self.pid,
            one_line(&self.started)
        )
    }
}

/// Whether to queue behind a holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Fail at once with [`Error::StanzaLocked`].
    No,
    /// Block until the holder is done.
    Yes,
}

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct StanzaLock {
    _file: Flock<File>,
    path: PathBuf,
    stanza: String,
}

/// The lock file of `stanza` in `lock_dir`.
pub fn lock_path(lock_dir: &Path, stanza: &str) -> PathBuf {
    lock_dir.join(format!("{stanza}-pitr.lock"))
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(4096).read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

/// Whether process `pid` runs.
fn alive(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(|p| {
        matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None),
            Ok(()) | Err(nix::errno::Errno::EPERM)
        )
    })
}

fn describe(holder: Option<&Holder>) -> String {
    match holder {
        None => "another pitr (it has not said who yet)".to_owned(),
        Some(h) if alive(h.pid) => h.to_string(),
        // The file names an earlier holder: whoever holds the lock now did not write it.
        Some(h) => format!(
            "a process that did not say who it is (the last pitr to hold it was {h}, which has ended)"
        ),
    }
}

impl StanzaLock {
    /// Takes the lock of `stanza` in `lock_dir` (made for `dir_owner` when missing) for
    /// `command`. With [`Wait::No`] a held lock is [`Error::StanzaLocked`]; with [`Wait::Yes`]
    /// `on_wait` is told who holds it, and the call blocks until it is free.
    pub fn acquire(
        lock_dir: &Path,
        stanza: &str,
        command: &str,
        wait: Wait,
        dir_owner: Option<&OsUser>,
        on_wait: &dyn Fn(&str),
    ) -> Result<StanzaLock> {
        let path = lock_path(lock_dir, stanza);
        let file = files::open_lock(&path, dir_owner)?;
        let lock_err = |e: nix::errno::Errno| Error::io("cannot lock", &path, e.into());
        let mut locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                // A holder that has just taken the lock writes who it is a moment later: until
                // then the file is empty or names an earlier holder, which has ended.
                let mut holder = read_holder(&mut file);
                for _ in 0..20 {
                    if holder.as_ref().is_some_and(|h| alive(h.pid)) {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    holder = read_holder(&mut file);
                }
                let holder = describe(holder.as_ref());
                if wait == Wait::No {
                    return Err(Error::StanzaLocked {
                        stanza: stanza.to_owned(),
                        path,
                        holder,
                    });
                }
                on_wait(&format!(
                    "waiting for {holder}, which holds the lock of stanza {stanza} ({})",
                    path.display()
                ));
                Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| lock_err(e))?
            }
            Err((_, e)) => return Err(lock_err(e)),
        };
        let holder = Holder {
            pid: std::process::id(),
            command: command.to_owned(),
            started: jiff::Timestamp::now().to_string(),
        };
        // Written over the previous holder in one write, then cut to length: a reader never
        // finds the file empty. Not synced: the holder is for people and `stanza_locked`
        // messages, and a machine crash releases every lock anyway.
        let text = format!("{}\n", serde_json::to_string(&holder).unwrap_or_default());
        locked
            .seek(SeekFrom::Start(0))
            .and_then(|_| locked.write_all(text.as_bytes()))
            .and_then(|()| locked.set_len(text.len() as u64))
            .map_err(|e| Error::io("cannot write", &path, e))?;
        Ok(StanzaLock {
            _file: locked,
            path,
            stanza: stanza.to_owned(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stanza it locks.
    pub fn stanza(&self) -> &str {
        &self.stanza
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_with_the_holder_and_gets_it_once_free() {
        let dir = tempfile::tempdir().unwrap();
        let first =
            StanzaLock::acquire(dir.path(), "pg-x", "restore", Wait::No, None, &|_| {}).unwrap();
        let e =
            StanzaLock::acquire(dir.path(), "pg-x", "backup", Wait::No, None, &|_| {}).unwrap_err();
        assert_eq!(e.code(), "stanza_locked");
        let text = e.to_string();
        assert!(
            text.contains(&format!("pitr restore (pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("pg-x-pitr.lock"), "{text}");
        // Another stanza is another lock.
        StanzaLock::acquire(dir.path(), "pg-y", "backup", Wait::No, None, &|_| {}).unwrap();
        drop(first);
        let again =
            StanzaLock::acquire(dir.path(), "pg-x", "backup", Wait::No, None, &|_| {}).unwrap();
        assert_eq!(again.stanza(), "pg-x");
    }

    #[test]
    fn a_holder_that_is_not_the_pitr_the_file_names_is_not_taken_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(dir.path(), "pg-s");
        let stale =
            r#"{"pid": 2147483647, "command": "backup", "started": "2026-01-01T00:00:00Z"}"#;
        files::write_atomic(&path, stale.as_bytes(), 0o600, None).unwrap();
        // Someone holds the lock without writing who it is (flock through another opening).
        let other = Flock::lock(
            files::open_lock(&path, None).unwrap(),
            FlockArg::LockExclusive,
        )
        .unwrap();
        let e = StanzaLock::acquire(dir.path(), "pg-s", "restore", Wait::No, None, &|_| {})
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("did not say who it is"), "{text}");
        assert!(text.contains("pitr backup (pid 2147483647"), "{text}");
        drop(other);
    }

    #[test]
    fn a_waiter_queues_until_the_holder_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let first =
            StanzaLock::acquire(dir.path(), "pg-w", "restore", Wait::No, None, &|_| {}).unwrap();
        let path = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            let told = std::sync::Mutex::new(String::new());
            let lock = StanzaLock::acquire(&path, "pg-w", "backup", Wait::Yes, None, &|m| {
                *told.lock().unwrap() = m.to_owned();
            });
            (lock.is_ok(), told.into_inner().unwrap())
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(first);
        let (ok, told) = waiter.join().unwrap();
        assert!(ok);
        assert!(told.contains("waiting for pitr restore"), "{told}");
    }

    #[test]
    fn a_link_or_a_foreign_file_at_the_lock_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        files::write_atomic(&target, b"keep", 0o644, None).unwrap();
        std::os::unix::fs::symlink(&target, lock_path(dir.path(), "pg-l")).unwrap();
        let e = StanzaLock::acquire(dir.path(), "pg-l", "restore", Wait::No, None, &|_| {})
            .unwrap_err();
        assert_eq!(e.code(), "unsafe_path", "{e}");
        // A hard link to a file elsewhere would have the holder written into that file.
        std::fs::hard_link(&target, lock_path(dir.path(), "pg-h")).unwrap();
        let e = StanzaLock::acquire(dir.path(), "pg-h", "restore", Wait::No, None, &|_| {})
            .unwrap_err();
        assert_eq!(e.code(), "unsafe_path", "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
