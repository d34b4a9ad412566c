//! The trusted walk and atomic writes, as root, against links and directories the database
//! user (`postgres`) controls. These tests need root (as `make test` runs them).

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use super::*;

/// A scratch tree: `root/` owned by root (0755) with a victim file, and `root/pg/` owned by
/// postgres (0700), the directory the database user controls.
struct Scratch {
    root: tempfile::TempDir,
    postgres: OsUser,
}

impl Scratch {
    fn new() -> Scratch {
        assert!(
            nix::unistd::geteuid().is_root(),
            "these tests check what root does in directories of the postgres user: run them as \
             root (make test does)"
        );
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let postgres = OsUser::lookup("postgres").unwrap();
        let pg = root.path().join("pg");
        std::fs::create_dir(&pg).unwrap();
        nix::unistd::chown(
            &pg,
            Some(Uid::from_raw(postgres.uid)),
            Some(Gid::from_raw(postgres.gid)),
        )
        .unwrap();
        std::fs::set_permissions(&pg, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(root.path().join("victim"), "root's own\n").unwrap();
        std::fs::set_permissions(
            root.path().join("victim"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        Scratch { root, postgres }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// A symlink made by postgres (owned by it, as `ln -s` run by that user would leave it).
    fn plant_link(&self, at: &str, target: &Path) {
        let link = self.path(at);
        symlink(target, &link).unwrap();
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            &link,
            Some(Uid::from_raw(self.postgres.uid)),
            Some(Gid::from_raw(self.postgres.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }

    fn assert_victim_untouched(&self) {
        let v = self.path("victim");
        let meta = std::fs::symlink_metadata(&v).unwrap();
        assert_eq!(std::fs::read_to_string(&v).unwrap(), "root's own\n");
        assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o600));
    }
}

#[test]
fn writes_as_the_owner_into_its_directory() {
    let s = Scratch::new();
    let target = s.path("pg/pitr.conf");
    write_atomic(&target, b"k=v\n", 0o600, Some(&s.postgres)).unwrap();
    let meta = std::fs::metadata(&target).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (s.postgres.uid, 0o600));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "k=v\n");
    // A second write replaces the file; no temporary file is left behind.
    write_atomic(&target, b"k=w\n", 0o640, Some(&s.postgres)).unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "k=w\n");
    let names: Vec<_> = std::fs::read_dir(s.path("pg")).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn a_link_at_the_name_is_refused_and_the_victim_untouched() {
    let s = Scratch::new();
    s.plant_link("pg/pitr.conf", &s.path("victim"));
    let e = write_atomic(&s.path("pg/pitr.conf"), b"x", 0o600, Some(&s.postgres)).unwrap_err();
    assert_eq!(e.code(), "unsafe_path", "{e}");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    s.assert_victim_untouched();
    assert_eq!(
        check_writable(&s.path("pg/pitr.conf"), Some(&s.postgres))
            .unwrap_err()
            .code(),
        "unsafe_path"
    );
    // Reading does not follow it either.
    assert_eq!(
        open_read(&s.path("pg/pitr.conf"), Some(&s.postgres))
            .unwrap_err()
            .code(),
        "unsafe_path"
    );
}

#[test]
fn root_files_are_not_written_where_postgres_can_write() {
    let s = Scratch::new();
    let e = write_atomic(&s.path("pg/cron"), b"x", 0o644, None).unwrap_err();
    assert_eq!(e.code(), "unsafe_path");
    assert!(e.to_string().contains("user 'postgres'"), "{e}");
    assert!(!s.path("pg/cron").exists());
}

#[test]
fn links_made_by_postgres_on_the_way_are_not_followed() {
    let s = Scratch::new();
    // pg/logs -> the root-owned scratch root: a write "into pg/logs" would land beside the victim.
    s.plant_link("pg/logs", s.root.path());
    let e = write_atomic(&s.path("pg/logs/victim"), b"x", 0o600, Some(&s.postgres)).unwrap_err();
    assert_eq!(e.code(), "unsafe_path");
    assert!(e.to_string().contains("owned by user 'postgres'"), "{e}");
    s.assert_victim_untouched();
    // A link root made is followed, and its target walked the same way.
    symlink(s.path("pg"), s.path("pglink")).unwrap();
    write_atomic(&s.path("pglink/ok"), b"x", 0o600, Some(&s.postgres)).unwrap();
    assert!(s.path("pg/ok").is_file());
}

#[test]
fn directories_writable_by_others_are_refused() {
    let s = Scratch::new();
    let open = s.path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = write_atomic(&open.join("f"), b"x", 0o600, None).unwrap_err();
    assert!(e.to_string().contains("every user can write"), "{e}");
    // Sticky and writable by all, like /tmp: passed through, never written into.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let e = write_atomic(&open.join("f"), b"x", 0o600, None).unwrap_err();
    assert!(e.to_string().contains("sticky"), "{e}");
    std::fs::create_dir(open.join("mine")).unwrap();
    write_atomic(&open.join("mine/f"), b"x", 0o600, None).unwrap();
    // `..` back into the sticky directory is caught too.
    let e = write_atomic(&open.join("mine/../g"), b"x", 0o600, None).unwrap_err();
    assert_eq!(e.code(), "unsafe_path");
}

#[test]
fn new_files_are_never_reused_and_directories_are_made() {
    let s = Scratch::new();
    let log = s.path("pg/log/run.log");
    let mut f = create_new(&log, 0o640, Some(&s.postgres)).unwrap().unwrap();
    f.write_all(b"line\n").unwrap();
    assert!(
        create_new(&log, 0o640, Some(&s.postgres))
            .unwrap()
            .is_none()
    );
    s.plant_link("pg/log/other.log", &s.path("victim"));
    assert!(
        create_new(&s.path("pg/log/other.log"), 0o640, Some(&s.postgres))
            .unwrap()
            .is_none()
    );
    s.assert_victim_untouched();
    let meta = std::fs::metadata(s.path("pg/log")).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (s.postgres.uid, 0o750));
}

#[test]
fn moving_a_directory_refuses_links_and_taken_names() {
    let s = Scratch::new();
    let data = s.path("pg/data");
    std::fs::create_dir(&data).unwrap();
    nix::unistd::chown(&data, Some(Uid::from_raw(s.postgres.uid)), None).unwrap();
    s.plant_link("pg/data-backup", &s.path("victim"));
    let e = move_dir(&data, &s.path("pg/data-backup"), Some(&s.postgres)).unwrap_err();
    assert_eq!(e.code(), "unsafe_path");
    assert!(data.is_dir());
    s.assert_victim_untouched();
    std::fs::remove_file(s.path("pg/data-backup")).unwrap();
    move_dir(&data, &s.path("pg/data-backup"), Some(&s.postgres)).unwrap();
    assert!(s.path("pg/data-backup").is_dir() && !data.exists());
    // A link where the data directory was is not moved as if it were one.
    s.plant_link("pg/data", s.root.path());
    let e = move_dir(&data, &s.path("pg/data-2"), Some(&s.postgres)).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
}

#[test]
fn only_directories_of_the_owner_are_moved_or_removed() {
    let s = Scratch::new();
    // A root-owned directory named by a config postgres can edit is neither moved nor removed.
    let etc = s.path("etc");
    std::fs::create_dir(&etc).unwrap();
    let e = move_dir(&etc, &s.path("etc-backup"), Some(&s.postgres)).unwrap_err();
    assert!(e.to_string().contains("not by user 'postgres'"), "{e}");
    let e = remove_dir(&etc, Some(&s.postgres)).unwrap_err();
    assert_eq!(e.code(), "unsafe_path");
    assert!(etc.is_dir());
    // Nor a link to one.
    s.plant_link("pg/data", &etc);
    assert!(remove_dir(&s.path("pg/data"), Some(&s.postgres)).is_err());
    assert!(etc.is_dir());
    // The owner's directory tree is removed, links in it not followed.
    std::fs::remove_file(s.path("pg/data")).unwrap();
    let data = s.path("pg/data");
    std::fs::create_dir(&data).unwrap();
    nix::unistd::chown(&data, Some(Uid::from_raw(s.postgres.uid)), None).unwrap();
    s.plant_link("pg/data/escape", s.root.path());
    remove_dir(&data, Some(&s.postgres)).unwrap();
    assert!(!data.exists());
    s.assert_victim_untouched();
    // Nothing there is fine.
    remove_dir(&data, Some(&s.postgres)).unwrap();
}

#[test]
fn listing_a_directory_of_postgres_reports_links_as_links() {
    let s = Scratch::new();
    std::fs::create_dir(s.path("pg/wal")).unwrap();
    std::fs::write(s.path("pg/wal/000000010000000000000001"), "wal").unwrap();
    std::fs::create_dir(s.path("pg/wal/archive_status")).unwrap();
    // A link to root's victim, named like a segment: listed as a link, never its target's size.
    s.plant_link("pg/wal/000000010000000000000002", &s.path("victim"));
    let entries = list_dir(&s.path("pg/wal"), Some(&s.postgres)).unwrap();
    let seen: Vec<(&str, EntryKind, u64)> = entries
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.kind,
                if e.kind == EntryKind::File { e.size } else { 0 },
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("000000010000000000000001", EntryKind::File, 3),
            ("000000010000000000000002", EntryKind::Link, 0),
            ("archive_status", EntryKind::Dir, 0),
        ]
    );
    // pg_wal itself a link made by postgres (to root's directory): refused, not followed.
    s.plant_link("pg/wal2", s.root.path());
    let e = list_dir(&s.path("pg/wal2"), Some(&s.postgres)).unwrap_err();
    assert_eq!(e.code(), "unsafe_path");
}

/// A scan's working directory under a fixed name: what a killed run left is removed by the
/// next one (links removed, never followed), one pitr uses it at a time, and it is emptied
/// when dropped; a link at its name is refused.
#[test]
fn a_work_dir_is_emptied_of_what_a_killed_run_left_and_used_by_one_pitr_at_a_time() {
    let s = Scratch::new();
    let path = s.path("pg/pitr-x-walscan");
    let wait = std::time::Duration::from_millis(300);
    let (work, left) = WorkDir::acquire(&path, 0o700, Some(&s.postgres), wait).unwrap();
    assert!(left.is_empty());
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (s.postgres.uid, 0o700));
    // Another pitr waits for it, then gives up.
    let e = WorkDir::acquire(&path, 0o700, Some(&s.postgres), wait).unwrap_err();
    assert!(e.to_string().contains("another pitr uses it"), "{e}");
    drop(work);
    // A killed run (its lock went with it): a segment it fetched, and a link postgres put
    // there to root's victim.
    std::fs::write(path.join("000000010000000000000003"), "wal").unwrap();
    s.plant_link(
        "pg/pitr-x-walscan/000000010000000000000004",
        &s.path("victim"),
    );
    std::fs::create_dir(path.join("sub")).unwrap();
    let (work, mut left) = WorkDir::acquire(&path, 0o700, Some(&s.postgres), wait).unwrap();
    left.sort();
    assert_eq!(
        left,
        ["000000010000000000000003", "000000010000000000000004"]
    );
    s.assert_victim_untouched();
    assert!(path.join("sub").is_dir(), "directories are left alone");
    std::fs::write(path.join("000000010000000000000005"), "wal").unwrap();
    work.remove("000000010000000000000005").unwrap();
    work.remove("000000010000000000000005").unwrap();
    std::fs::write(path.join("000000010000000000000006"), "wal").unwrap();
    drop(work);
    assert!(
        !path.join("000000010000000000000006").exists(),
        "emptied when dropped"
    );
    // A link at the directory's name, made by postgres: refused, not followed.
    std::fs::remove_dir_all(&path).unwrap();
    s.plant_link("pg/pitr-x-walscan", s.root.path());
    let e = WorkDir::acquire(&path, 0o700, Some(&s.postgres), wait).unwrap_err();
    assert_eq!(e.code(), "unsafe_path");
    s.assert_victim_untouched();
}
