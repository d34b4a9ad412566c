//! Processes of a test directory, and the owner file that lets a later test process clean up
//! after one that was killed before it could drop its fixtures.

use std::fs;
use std::path::Path;
use std::sync::Once;

use super::remove_dir_patiently;

/// `SIGKILL` to every process whose working directory or command line is in `dir`, until none is
/// left (for at most 5 s); returns the survivors.
pub(crate) fn kill_processes_of(dir: &Path) -> Vec<i32> {
    pitr_core::run::ha::kill_processes_of(dir)
}

/// The file in a test directory naming the test process that owns it.
const OWNER_FILE: &str = "pitr-tests.owner";

/// A process's start time (`/proc/<pid>/stat` field 22), which tells a live process from a
/// later one with the same pid.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Records this test process as the owner of `dir`, so that a later test process can clean
/// up after it if it is killed before its fixtures are dropped.
pub(crate) fn mark_owner(dir: &Path) {
    let pid = std::process::id();
    let start = process_start_time(pid).unwrap_or(0);
    let path = dir.join(OWNER_FILE);
    fs::write(&path, format!("{pid} {start}\n"))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Marks `dir` as kept on purpose (`PITR_KEEP_TEST_DIRS`): no later process removes it.
pub(crate) fn unmark_owner(dir: &Path) {
    let _ = fs::remove_file(dir.join(OWNER_FILE));
}

/// Whether the test process named in `dir`'s owner file is gone. `false` without an owner file
/// (a directory kept on purpose, or one just being made).
fn owner_is_gone(dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(dir.join(OWNER_FILE)) else {
        return false;
    };
    let mut fields = text.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(pid)), Some(Ok(start))) => {
            u32::try_from(pid).map_or(true, |pid| process_start_time(pid) != Some(start))
        }
        _ => false,
    }
}

/// Once per test process: kills the processes of, and removes, the HA test directories
/// (`pitr-ha-*`, `pitr-etcd-*` in `$TMPDIR`) whose owning test process is gone (killed before
/// it could drop its fixtures, e.g. by Ctrl-C), so an interrupted run leaves no Patroni, etcd or
/// PostgreSQL running for the next one.
pub(crate) fn reap_orphans() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            if !(name.starts_with("pitr-ha-") || name.starts_with("pitr-etcd-"))
                || !path.is_dir()
                || !owner_is_gone(&path)
            {
                continue;
            }
            let survivors = kill_processes_of(&path);
            if survivors.is_empty() {
                eprintln!(
                    "pitr-tests: removing {} left by a killed test run",
                    path.display()
                );
                remove_dir_patiently(&path, "pitr-tests");
            } else {
                eprintln!(
                    "pitr-tests: processes of {} left by a killed test run survive SIGKILL: \
                     {survivors:?}",
                    path.display()
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{OWNER_FILE, mark_owner, owner_is_gone, unmark_owner};

    #[test]
    fn a_live_owner_is_not_gone_and_a_dead_one_is() {
        let dir = tempfile::tempdir().expect("temporary directory");
        assert!(!owner_is_gone(dir.path()), "no owner file: left alone");
        mark_owner(dir.path());
        assert!(!owner_is_gone(dir.path()), "this process owns it");
        // pid 1 exists, but did not start at this time.
        std::fs::write(dir.path().join(OWNER_FILE), "1 18446744073709551615\n").expect("write");
        assert!(owner_is_gone(dir.path()));
        std::fs::write(dir.path().join(OWNER_FILE), "garbage\n").expect("write");
        assert!(!owner_is_gone(dir.path()), "unreadable owner: left alone");
        unmark_owner(dir.path());
        assert!(!dir.path().join(OWNER_FILE).exists());
    }
}
