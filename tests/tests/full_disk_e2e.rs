//! The data directory's filesystem full during a restore, end to end: a cluster whose data
//! directory lives on a small tmpfs this test mounts (the tests run as root), restored in place
//! with a safety copy by `pitr restore`; the filesystem is filled so that pitr's free-space
//! check passes and `pgbackrest restore` runs out of room while it writes. pitr fails with `disk_full` naming the directory, and the original data directory is
//! back, byte for byte, and starts.
// Tests build their fixtures as root in private temporary directories.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use pitr_tests::{
    Stanza, chown_to_postgres, cmd_as_postgres, create_padded_tables, dir_fingerprint, files_under,
    output_text, pg_bin, pgbackrest_ok, pitr, pitr_ok, psql_at,
};

/// A tmpfs mounted by this test; unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, bytes: u64) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0755"))
            .arg("tmpfs")
            .arg(at)
            .output()
            .unwrap_or_else(|e| panic!("cannot run mount: {e}"));
        assert!(
            out.status.success(),
            "mounting a tmpfs on {} failed (the test must run as root): {}",
            at.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Bytes of the files under `dir`.
fn du(dir: &Path) -> u64 {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    files
        .iter()
        .filter_map(|f| std::fs::symlink_metadata(f).ok())
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
        .sum()
}

/// Free bytes of the filesystem of `path`.
fn free(path: &Path) -> u64 {
    let st = nix::sys::statvfs::statvfs(path).unwrap();
    st.blocks_available() * st.fragment_size()
}

/// Writes zeros into `path` until the filesystem of `path` has `leave` bytes free.
fn fill_leaving(path: &Path, leave: u64) {
    let mut f = std::fs::File::create(path).unwrap();
    let dir = path.parent().unwrap();
    let block = vec![0u8; 64 << 10];
    while free(dir) > leave + block.len() as u64 {
        f.write_all(&block).unwrap();
        f.sync_all().unwrap();
    }
    let rest = usize::try_from(free(dir).saturating_sub(leave)).unwrap();
    f.write_all(&block[..rest.min(block.len())]).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn a_full_data_filesystem_during_pgbackrest_restore_fails_with_disk_full_and_the_original_is_back()
{
    let stanza = Stanza::local("full-disk");
    create_padded_tables(&stanza.cluster);
    stanza.insert_rows(1, 1000, 1);
    stanza.pitr_ok(&["backup", "full"]);
    stanza.cluster.stop();

    // The data directory moves onto a tmpfs with room for itself and about one restore more.
    let root = stanza.cluster.root().to_path_buf();
    let size = du(&stanza.cluster.data_dir());
    let fs = Tmpfs::mount(&root.join("fs"), 3 * size + (16 << 20));
    chown_to_postgres(&fs.0);
    let data = fs.0.join("data");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(stanza.cluster.data_dir())
        .arg(&data)
        .status()
        .unwrap();
    assert!(copied.success());
    let spec = std::fs::read_to_string(&stanza.spec).unwrap();
    let old_data = format!("pg_data: {}\n", stanza.cluster.data_dir().display());
    assert!(spec.contains(&old_data), "{spec}");
    let spec = spec
        .replace(&old_data, &format!("pg_data: {}\n", data.display()))
        .replace("pgbackrest.conf", "pgbackrest-fs.conf");
    let spec_file = root.join("spec-fs.yml");
    pitr_tests::write_file_as_postgres(&spec_file, &spec, 0o600);
    let config = root.join("pgbackrest-fs.conf");
    pitr_ok(&[
        "render",
        "--spec",
        &spec_file.display().to_string(),
        "--output",
        &config.display().to_string(),
    ]);
    let before = dir_fingerprint(&data);

    // Fill the filesystem so that exactly the set's size is free, and a little more: pitr's
    // free-space check passes, and pgBackRest runs out of room while it writes (files take
    // whole pages on tmpfs).
    let info = pgbackrest_ok(&config, &["--stanza=full-disk", "info", "--output=json"]);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    let set_size = info[0]["backup"].as_array().unwrap().last().unwrap()["info"]["size"]
        .as_u64()
        .unwrap();
    let filler = fs.0.join("filler");
    fill_leaving(&filler, set_size + (32 << 10));

    let config_arg = config.display().to_string();
    let out = pitr(&[
        "--config",
        &config_arg,
        "restore",
        "-y",
        "-d",
        "--safety-copy",
    ]);
    let text = output_text(&out);
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("error[disk_full]"), "{text}");
    assert!(
        text.contains(&format!("the filesystem of '{}' is full", data.display())),
        "{text}"
    );
    assert!(text.contains("rolled back"), "{text}");
    assert_eq!(
        dir_fingerprint(&data),
        before,
        "the data directory is not as it was"
    );
    assert!(!Path::new(&format!("{}-backup", data.display())).exists());

    // And it starts, with its rows.
    let mut start = cmd_as_postgres(pg_bin("pg_ctl"));
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(root.join("fs-start.log"))
        .args(["-w", "start"]);
    assert!(start.status().unwrap().success());
    let rows = psql_at(
        &stanza.cluster.socket_dir(),
        stanza.cluster.port(),
        "postgres",
        "SELECT count(*) FROM t",
    );
    let mut stop = cmd_as_postgres(pg_bin("pg_ctl"));
    stop.arg("-D")
        .arg(&data)
        .args(["-m", "immediate", "-w", "stop"]);
    let _ = stop.status();
    assert_eq!(rows.unwrap(), "1000");
}
