//! Facts about a data directory, gathered before planning: is a server running there, what is
//! in it, how much room is around it.

use std::path::{Path, PathBuf};

use crate::plan::restore::{DataState, NodeFacts};

/// The pid of a live postmaster in `data`, from `postmaster.pid`.
pub fn postmaster_pid(data: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        // EPERM: the process exists but belongs to someone else.
        Ok(()) | Err(nix::errno::Errno::EPERM) => Some(pid),
        Err(_) => None,
    }
}

fn data_state(data: &Path) -> DataState {
    match std::fs::read_dir(data) {
        Err(_) if !data.exists() => DataState::Missing,
        Err(_) => DataState::Other,
        Ok(mut entries) => {
            if entries.next().is_none() {
                DataState::Empty
            } else if data.join("PG_VERSION").is_file() {
                DataState::Cluster
            } else {
                DataState::Other
            }
        }
    }
}

/// Free bytes (for unprivileged users) on the file system holding `path` or its nearest
/// existing ancestor.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let mut probe: PathBuf = path.to_path_buf();
    while !probe.exists() {
        probe = probe.parent()?.to_path_buf();
    }
    let st = nix::sys::statvfs::statvfs(&probe).ok()?;
    Some(st.blocks_available() * st.fragment_size())
}

/// Gathers the facts planning needs about restoring into `data`.
pub fn gather(data: &Path) -> NodeFacts {
    NodeFacts {
        data_state: data_state(data),
        postmaster_pid: postmaster_pid(data),
        free_bytes: free_bytes(data.parent().unwrap_or(Path::new("/"))),
        // A link counts: pitr never moves a directory onto one.
        safety_copy_exists: super::files::exists_nofollow(Path::new(&format!(
            "{}-backup",
            data.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_of_a_directory() {
        let root = std::env::temp_dir().join(format!("pitr-facts-{}", std::process::id()));
        let data = root.join("data");
        assert_eq!(gather(&data).data_state, DataState::Missing);
        std::fs::create_dir_all(&data).unwrap();
        assert_eq!(gather(&data).data_state, DataState::Empty);
        std::fs::write(data.join("junk"), "x").unwrap();
        assert_eq!(gather(&data).data_state, DataState::Other);
        std::fs::write(data.join("PG_VERSION"), "15\n").unwrap();
        std::fs::write(
            data.join("postmaster.pid"),
            format!("{}\n", std::process::id()),
        )
        .unwrap();
        let f = gather(&data);
        assert_eq!(f.data_state, DataState::Cluster);
        assert_eq!(f.postmaster_pid, i32::try_from(std::process::id()).ok());
        assert!(f.free_bytes.unwrap() > 0);
        assert!(!f.safety_copy_exists);
        std::fs::remove_dir_all(root).unwrap();
    }
}
