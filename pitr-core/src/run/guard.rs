//! Guards on the steps that move or remove directories, checked by the runner right before
//! each such step runs, whatever the plan came from (planned here, or read back from JSON or a
//! Python dict, which anyone could have written).
//!
//! * `RemoveDir` only of a directory at a path that an earlier step of the same run (or an
//!   earlier attempt of it, from the [journal](super::journal)) moved the previous directory
//!   away from, and moved nothing back to since: whatever is there now, the run put there.
//! * `MoveDir` only of the data directory the restore plan restores, or of a directory the
//!   run moved before (the safety copy going back).
//! * Either only of a plain absolute path (not `/`, no `.` or `..`), of a directory no
//!   PostgreSQL runs in, and that looks like a PostgreSQL data directory: `PG_VERSION` in it,
//!   or nothing but the names a data directory (or a restore into one that was cut short)
//!   holds.
//!
//! Refusals are [`Error::PlanNotRunnable`] (a path the plan may not touch) or
//! [`Error::DataDirectory`] (a server runs in it, it holds something else); nothing is moved or
//! removed then. The file-level checks (no link followed, owner) remain those of
//! [`super::files::move_dir`] and [`super::files::remove_dir`].

use std::path::{Component, Path, PathBuf};

use super::facts::postmaster_pid;
use crate::error::{Error, Result};
use crate::plan::{Action, Plan, Step, Summary};

/// Top-level names of a PostgreSQL data directory that hold no `PG_VERSION` yet (a restore
/// cut short), besides `pg_*` and `postgresql*` names.
const DATA_NAMES: &[&str] = &[
    "PG_VERSION",
    "base",
    "global",
    "backup_label",
    "backup_label.old",
    "tablespace_map",
    "tablespace_map.old",
    "recovery.signal",
    "standby.signal",
    "recovery.conf",
    "postmaster.opts",
    "postmaster.pid",
    "current_logfiles",
    "log",
];

fn refuse(step: &Step, path: &Path, why: &str) -> Error {
    Error::PlanNotRunnable {
        reason: format!(
            "step '{}' would {} '{}', but {why}; nothing was moved or removed",
            step.id,
            if matches!(step.action, Action::RemoveDir { .. }) {
                "remove"
            } else {
                "move"
            },
            path.display()
        ),
    }
}

fn plain(step: &Step, path: &Path) -> Result<()> {
    let plain = path.is_absolute()
        && path.components().count() > 1
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err(refuse(
            step,
            path,
            "it is not a plain absolute path below / (no '.' or '..')",
        ))
    }
}

/// Whether the entry names of a directory are those of a PostgreSQL data directory.
pub fn looks_like_data(names: &[String]) -> bool {
    names.iter().any(|n| n == "PG_VERSION")
        || names.iter().all(|n| {
            DATA_NAMES.contains(&n.as_str())
                || n.starts_with("pg_")
                || n.starts_with("postgresql")
                || n.starts_with("backup.manifest")
        })
}

/// Refuses a directory a server runs in, or one that does not look like a data directory.
/// Nothing at `path` passes: the step itself says what it makes of that.
fn data_directory(path: &Path) -> Result<()> {
    if let Some(pid) = postmaster_pid(path) {
        return Err(Error::DataDirectory {
            path: path.to_path_buf(),
            problem: format!(
                "PostgreSQL (pid {pid}) runs in it; pitr neither moves nor removes a directory \
                 a server runs in"
            ),
        });
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return Ok(());
    };
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if looks_like_data(&names) {
        return Ok(());
    }
    let odd = names
        .iter()
        .find(|n| !looks_like_data(std::slice::from_ref(n)))
        .cloned()
        .unwrap_or_default();
    Err(Error::DataDirectory {
        path: path.to_path_buf(),
        problem: format!(
            "it does not look like a PostgreSQL data directory (no PG_VERSION, and '{}' is in \
             it); pitr moves and removes only data directories",
            crate::error::one_line(&odd)
        ),
    })
}

/// The run's last move into or out of `path`: `Some(true)` when it moved the directory at
/// `path` away, `Some(false)` when it moved one there.
fn last_move(path: &Path, moved: &[(PathBuf, PathBuf)]) -> Option<bool> {
    moved
        .iter()
        .rev()
        .find(|(from, to)| from == path || to == path)
        .map(|(from, _)| from == path)
}

/// Checks `step` of `plan` before it runs; `moved` lists the directories the run moved so
/// far, `(from, to)`, oldest first.
pub fn check(step: &Step, plan: &Plan, moved: &[(PathBuf, PathBuf)]) -> Result<()> {
    match &step.action {
        Action::RemoveDir { path, .. } => {
            plain(step, path)?;
            if last_move(path, moved) != Some(true) {
                return Err(refuse(
                    step,
                    path,
                    "no earlier step of this run moved the directory that was there aside, so \
                     what is there is not the run's own",
                ));
            }
            data_directory(path)
        }
        Action::MoveDir { from, to, .. } => {
            plain(step, from)?;
            plain(step, to)?;
            let restored = matches!(&plan.summary, Summary::Restore(r) if r.data == *from);
            let moved_before = last_move(from, moved) == Some(false);
            if !restored && !moved_before {
                return Err(refuse(
                    step,
                    from,
                    "it is neither the data directory the plan restores nor one this run moved",
                ));
            }
            data_directory(from)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn data_directories_and_others() {
        assert!(looks_like_data(&names(&["PG_VERSION", "anything"])));
        assert!(looks_like_data(&names(&[])));
        assert!(looks_like_data(&names(&[
            "base",
            "pg_wal",
            "postgresql.auto.conf",
            "backup.manifest.copy"
        ])));
        assert!(!looks_like_data(&names(&["passwd", "shadow"])));
        assert!(!looks_like_data(&names(&["base", "bin"])));
    }

    fn remove(path: &str) -> Step {
        Step {
            id: "rollback-remove".into(),
            title: String::new(),
            destructive: true,
            action: Action::RemoveDir {
                path: PathBuf::from(path),
                owner: None,
            },
        }
    }

    fn plan_of(steps: Vec<Step>) -> Plan {
        let json = serde_json::json!({
            "kind": "service", "summary": {"service": "stop", "data": "/pg/data",
                "pid": null, "changed": false},
            "stanza": "x", "steps": [], "on_failure": []
        });
        let mut plan = Plan::from_json(&json.to_string()).unwrap_or_else(|e| panic!("{e}"));
        plan.steps = steps;
        plan
    }

    #[test]
    fn a_plan_from_json_cannot_remove_or_move_an_arbitrary_path() {
        let plan = plan_of(vec![]);
        for path in ["/etc", "/", "relative/dir", "/pg/../etc", "/pg/./data"] {
            let e = check(&remove(path), &plan, &[]).unwrap_err();
            assert_eq!(e.code(), "plan_not_runnable", "{path}: {e}");
        }
        // Moved aside by the run: allowed (nothing is there, so nothing to look at).
        let moved = [(PathBuf::from("/nonexistent-pitr/data"), PathBuf::from("/x"))];
        check(&remove("/nonexistent-pitr/data"), &plan, &moved).unwrap();
        // Once the run moved a directory back there, it is no longer the run's own.
        let back = [
            (PathBuf::from("/nonexistent-pitr/data"), PathBuf::from("/x")),
            (PathBuf::from("/x"), PathBuf::from("/nonexistent-pitr/data")),
        ];
        let e = check(&remove("/nonexistent-pitr/data"), &plan, &back).unwrap_err();
        assert_eq!(e.code(), "plan_not_runnable", "{e}");
        // A directory that is no data directory is refused even then.
        let moved = [(PathBuf::from("/etc"), PathBuf::from("/etc-backup"))];
        let e = check(&remove("/etc"), &plan, &moved).unwrap_err();
        assert_eq!(e.code(), "data_directory", "{e}");
        let mv = Step {
            id: "safety-copy".into(),
            title: String::new(),
            destructive: false,
            action: Action::MoveDir {
                from: PathBuf::from("/etc"),
                to: PathBuf::from("/etc-backup"),
                owner: None,
            },
        };
        let e = check(&mv, &plan, &[]).unwrap_err();
        assert_eq!(e.code(), "plan_not_runnable", "{e}");
    }

    /// A rollback whose stop step failed must not remove the directory a server still runs in.
    #[test]
    fn a_directory_a_server_runs_in_is_neither_removed_nor_moved() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        crate::run::files::ensure_dir(&data, 0o700, None).unwrap();
        crate::run::files::write_atomic(&data.join("PG_VERSION"), b"15\n", 0o600, None).unwrap();
        crate::run::files::write_atomic(
            &data.join("postmaster.pid"),
            format!("{}\n", std::process::id()).as_bytes(),
            0o600,
            None,
        )
        .unwrap();
        let moved = [(data.clone(), dir.path().join("data-backup"))];
        let e = check(
            &remove(&data.display().to_string()),
            &plan_of(vec![]),
            &moved,
        )
        .unwrap_err();
        assert_eq!(e.code(), "data_directory", "{e}");
        assert!(e.to_string().contains("runs in it"), "{e}");
    }
}
