//! A fingerprint of a directory tree, to prove that nothing on disk changed.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A SHA-256 (hex) over every entry below `root`, in sorted order of relative path: its kind,
/// relative path and permission bits, plus the size and contents of files and the target of
/// symbolic links (which are not followed). Modification times are left out.
///
/// Everything is included, `postmaster.pid` and `postmaster.opts` too: stop the cluster before
/// taking a fingerprint of its data directory, or expect the two to differ.
///
/// # Panics
///
/// When `root` or anything below it cannot be read.
pub fn dir_fingerprint(root: &Path) -> String {
    let mut entries = Vec::new();
    collect(root, root, &mut entries)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()));
    entries.sort();

    let mut hasher = Sha256::new();
    for rel in &entries {
        let path = root.join(rel);
        let meta = fs::symlink_metadata(&path)
            .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()));
        let kind: &[u8] = if meta.is_symlink() {
            b"l"
        } else if meta.is_dir() {
            b"d"
        } else if meta.is_file() {
            b"f"
        } else {
            b"o"
        };
        let rel_bytes = rel.as_os_str().as_bytes();
        hasher.update(kind);
        hasher.update((rel_bytes.len() as u64).to_le_bytes());
        hasher.update(rel_bytes);
        hasher.update((meta.mode() & 0o7777).to_le_bytes());
        if meta.is_symlink() {
            let target = fs::read_link(&path)
                .unwrap_or_else(|e| panic!("cannot read link {}: {e}", path.display()));
            let target = target.as_os_str().as_bytes();
            hasher.update((target.len() as u64).to_le_bytes());
            hasher.update(target);
        } else if meta.is_file() {
            hasher.update(meta.len().to_le_bytes());
            hash_contents(&path, &mut hasher)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        }
    }
    let mut hex = String::with_capacity(64);
    for byte in &hasher.finalize() {
        write!(hex, "{byte:02x}").expect("write to String");
    }
    hex
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map_err(io::Error::other)?
            .to_path_buf();
        out.push(rel);
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        }
    }
    Ok(())
}

fn hash_contents(path: &Path, hasher: &mut Sha256) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
    }
}

/// Appends every regular file below `dir` (not following symlinks) to `out`; used to search
/// everything a test wrote, e.g. for leaked secrets.
pub fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            files_under(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::dir_fingerprint;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn fingerprint_changes_with_content_name_and_mode_but_not_with_time() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/a"), b"hello").unwrap();
        fs::write(dir.path().join("b"), b"world").unwrap();
        let first = dir_fingerprint(dir.path());
        assert_eq!(first.len(), 64);
        assert_eq!(first, dir_fingerprint(dir.path()));

        // Same size, different content.
        fs::write(dir.path().join("sub/a"), b"hellO").unwrap();
        let changed = dir_fingerprint(dir.path());
        assert_ne!(first, changed);

        // Rewriting identical content (a new mtime) is not a change.
        fs::write(dir.path().join("sub/a"), b"hellO").unwrap();
        assert_eq!(changed, dir_fingerprint(dir.path()));

        // A rename is a change.
        fs::rename(dir.path().join("b"), dir.path().join("c")).unwrap();
        let renamed = dir_fingerprint(dir.path());
        assert_ne!(changed, renamed);

        // A mode change is a change.
        fs::set_permissions(dir.path().join("c"), fs::Permissions::from_mode(0o600)).unwrap();
        assert_ne!(renamed, dir_fingerprint(dir.path()));
    }
}
