//! Reading a data directory's `pg_wal`: file names and sizes, segment checksums, history files.
//!
//! The data directory belongs to the database user, who is not trusted by root: a link in
//! `pg_wal`, or `pg_wal` itself as a link that user made, could point root at files it has no
//! business reading. So, as root, `pg_wal` is reached by the trusted walk of [`files`] (a link
//! the database user made is refused, not followed), entries are judged by `lstat` (a link is
//! never taken for a segment) and files are opened with `O_NOFOLLOW`. Run as the database
//! user itself (the Patroni callback is), pitr has no more rights than that user: it resolves
//! the path with those rights first, so a `pg_wal` that `initdb -X` made a link works there.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use super::files::{self, EntryKind};
use super::user::OsUser;
use crate::continuity::LocalEntry;
use crate::error::{Error, Result};
use crate::history::{self, TimelineHistory};
use crate::names::TimelineId;

/// The `pg_wal` directory of a data directory, read for its owner.
#[derive(Debug, Clone)]
pub struct PgWal {
    dir: PathBuf,
    owner: OsUser,
}

impl PgWal {
    /// `<data>/pg_wal`, owned by `owner` (the database superuser).
    pub fn new(data: &Path, owner: OsUser) -> Result<PgWal> {
        let mut dir = data.join("pg_wal");
        let euid = nix::unistd::geteuid().as_raw();
        if euid != 0 && euid == owner.uid {
            dir = std::fs::canonicalize(&dir)
                .map_err(|e| Error::io("cannot resolve", dir.clone(), e))?;
        }
        Ok(PgWal { dir, owner })
    }

    /// The directory, as pitr reads it (and as `pgbackrest archive-push` is given its files).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The regular files in `pg_wal`, with their sizes; links, directories and the rest are
    /// left out.
    pub fn entries(&self) -> Result<Vec<LocalEntry>> {
        Ok(files::list_dir(&self.dir, Some(&self.owner))?
            .into_iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| LocalEntry {
                name: e.name,
                size: e.size,
            })
            .collect())
    }

    /// The SHA-1 of the file `name` in `pg_wal`, lower-case hex (pgBackRest's checksum of an
    /// archived segment).
    pub fn sha1(&self, name: &str) -> Result<String> {
        let path = self.dir.join(name);
        let mut file = files::open_read(&path, Some(&self.owner))?;
        let mut hasher = Sha1::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| Error::io("cannot read", path.clone(), e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let mut hex = String::with_capacity(40);
        for b in &hasher.finalize() {
            let _ = write!(hex, "{b:02x}");
        }
        Ok(hex)
    }

    /// `pg_wal/<timeline>.history` parsed; `None` when it is not there.
    pub fn history(&self, timeline: TimelineId) -> Result<Option<TimelineHistory>> {
        let path = self.dir.join(format!("{:08X}.history", timeline.get()));
        let mut file = match files::open_read(&path, Some(&self.owner)) {
            Ok(f) => f,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let mut text = String::new();
        // A history file is a few lines; anything much larger is not one.
        (&mut file)
            .take(1 << 20)
            .read_to_string(&mut text)
            .map_err(|e| Error::io("cannot read", path.clone(), e))?;
        history::parse(timeline, &text).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_reads_and_hashes_as_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("pg_wal/archive_status")).unwrap();
        std::fs::write(data.join("pg_wal/000000010000000000000001"), b"abc").unwrap();
        std::fs::write(
            data.join("pg_wal/00000002.history"),
            "1\t0/5000000\tno recovery target specified\n",
        )
        .unwrap();
        std::os::unix::fs::symlink(
            data.join("pg_wal/000000010000000000000001"),
            data.join("pg_wal/000000010000000000000002"),
        )
        .unwrap();
        let wal = PgWal::new(&data, OsUser::current().unwrap()).unwrap();
        let names: Vec<String> = wal.entries().unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["000000010000000000000001", "00000002.history"]);
        assert_eq!(
            wal.sha1("000000010000000000000001").unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            wal.sha1("000000010000000000000002").unwrap_err().code(),
            "unsafe_path"
        );
        let tl = |n| TimelineId::new(n).unwrap();
        let h = wal.history(tl(2)).unwrap().unwrap();
        assert_eq!(h.entries[0].switch_lsn.to_string(), "0/5000000");
        assert_eq!(wal.history(tl(3)).unwrap(), None);
    }
}
