//! Writing files as root in directories the database user may control.
//!
//! pitr runs as root, yet the files it writes live in directories the database OS user owns:
//! pgBackRest's `log-path` (the check record, run logs, the recovery log), the directory of
//! `pgbackrest.conf` (the restore config), the data directory's parent (the safety copy). That
//! user must not be able to turn a write by root into a write somewhere else. Every file pitr
//! writes goes through this module; nothing else in the code opens a file for writing
//! (clippy's `disallowed-methods` in `clippy.toml` holds that line).
//!
//! How a path is opened ([`TrustedDir::open`]): the directory is walked from `/` one component
//! at a time with `openat(O_NOFOLLOW)`.
//!
//! * Every directory on the way must be owned by root or by the file's owner, and writable by
//!   nobody else: not by others, and by its group only when the group is root's or the
//!   owner's. A sticky directory writable by all (`/tmp`) may be passed through, never
//!   written into: the sticky bit keeps others from replacing what root or the owner put
//!   there.
//! * A symbolic link on the way is followed only when root owns it (Pigsty's `/pg` link); a
//!   link the database user made is refused, so it cannot point a write at `/etc`.
//!
//! How a file is written ([`write_atomic`]): a temporary file with a random name is created in
//! that directory with `O_CREAT|O_EXCL|O_NOFOLLOW`, owner and mode are set on the descriptor
//! (`fchown`, `fchmod`), the contents are written and fsynced; if a symbolic link, a directory
//! or anything but a regular file is at the final name the write is refused, otherwise the
//! temporary file is renamed into place and the directory fsynced ([`replace_private`] leaves
//! that last fsync out). Run logs are created new with `O_EXCL` ([`create_new`]) and never
//! reopened by name.
//!
//! Refusals are [`Error::UnsafePath`] (code `unsafe_path`) naming the path and the reason.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::hash::BuildHasher;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, RenameFlags};
use nix::sys::stat::{FileStat, Mode, SFlag};
use nix::unistd::{Gid, Uid, UnlinkatFlags};

use super::user::OsUser;
use crate::error::{Error, Result};

/// Symbolic links followed in one walk before giving up (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// Who may control the directories of a write: root and the file's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Trust {
    uid: u32,
    gid: u32,
}

impl Trust {
    /// Trust for a file owned by `owner` (the current user when `None`).
    fn for_owner(owner: Option<&OsUser>) -> Result<Trust> {
        let euid = nix::unistd::geteuid().as_raw();
        match owner {
            Some(o) if o.uid != euid && euid != 0 => Err(Error::UserSwitch {
                user: o.name.clone(),
                current: OsUser::current().map_or_else(|_| format!("uid {euid}"), |u| u.name),
            }),
            Some(o) => Ok(Trust {
                uid: o.uid,
                gid: o.gid,
            }),
            None => Ok(Trust {
                uid: euid,
                gid: nix::unistd::getegid().as_raw(),
            }),
        }
    }

    fn trusts_uid(self, uid: u32) -> bool {
        uid == 0 || uid == self.uid
    }

    /// Why a directory is not trusted, if it is not. `written_into`: pitr creates entries in it
    /// (else it only passes through).
    fn distrust_dir(self, st: &FileStat, written_into: bool) -> Option<String> {
        let mode = st.st_mode;
        if !self.trusts_uid(st.st_uid) {
            return Some(format!(
                "it is owned by {}, who is neither root nor the file's owner",
                describe_uid(st.st_uid)
            ));
        }
        let sticky = mode & 0o1000 != 0;
        if mode & 0o002 != 0 && (written_into || !sticky) {
            return Some(if sticky {
                "every user can create files in it (a sticky directory such as /tmp)".into()
            } else {
                "every user can write in it".into()
            });
        }
        if mode & 0o020 != 0 && st.st_gid != 0 && st.st_gid != self.gid {
            return Some(format!(
                "the members of group {} can write in it",
                describe_gid(st.st_gid)
            ));
        }
        None
    }
}

fn describe_uid(uid: u32) -> String {
    match nix::unistd::User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("user '{}'", u.name),
        _ => format!("uid {uid}"),
    }
}

fn describe_gid(gid: u32) -> String {
    match nix::unistd::Group::from_gid(Gid::from_raw(gid)) {
        Ok(Some(g)) => format!("'{}'", g.name),
        _ => format!("gid {gid}"),
    }
}

fn unsafe_path(path: &Path, problem: impl Into<String>) -> Error {
    Error::UnsafePath {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn io(action: &'static str, path: &Path, e: Errno) -> Error {
    Error::io(action, path, std::io::Error::from(e))
}

fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// A directory opened by a trusted walk: writes go through its descriptor, never its path.
#[derive(Debug)]
pub struct TrustedDir {
    fd: OwnedFd,
    path: PathBuf,
    trust: Trust,
    /// Who owns the files created in it: the trusted owner, or pitr itself for its private
    /// files ([`write_private`], [`open_lock`]).
    file_owner: Trust,
}

impl TrustedDir {
    /// Opens `dir` for creating files owned by `owner` (the current user when `None`); with
    /// `create` (a mode), missing directories are made, owned by `owner`.
    pub fn open(dir: &Path, owner: Option<&OsUser>, create: Option<u32>) -> Result<TrustedDir> {
        let trust = Trust::for_owner(owner)?;
        if !dir.is_absolute() {
            return Err(unsafe_path(dir, "it is not an absolute path"));
        }
        let mut walk = Walk {
            dir,
            trust,
            stack: vec![open_root(dir)?],
            names: Vec::new(),
        };
        let mut pending: Vec<OsString> = components(dir, dir)?;
        pending.reverse();
        let mut links = 0;
        while let Some(name) = pending.pop() {
            if name == ".." {
                walk.up();
                continue;
            }
            let written_into = pending.is_empty();
            let parent = walk.top();
            let fd = match open_nofollow(parent, &name) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) if create.is_some() => {
                    make_dir(parent, &name, create.unwrap_or(0o700), trust, dir)?;
                    open_nofollow(parent, &name).map_err(|e| io("cannot open", dir, e))?
                }
                Err(e) => return Err(io("cannot open", dir, e)),
            };
            let st = nix::sys::stat::fstat(&fd).map_err(|e| io("cannot stat", dir, e))?;
            match file_type(&st) {
                SFlag::S_IFDIR => walk.enter(fd, name, &st, written_into)?,
                SFlag::S_IFLNK => {
                    let at = walk.at(&name);
                    if st.st_uid != 0 {
                        return Err(unsafe_path(
                            dir,
                            format!(
                                "'{}' is a symbolic link owned by {}; pitr follows only links \
                                 that root owns",
                                at.display(),
                                describe_uid(st.st_uid)
                            ),
                        ));
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(unsafe_path(dir, "too many symbolic links"));
                    }
                    let target = PathBuf::from(
                        nix::fcntl::readlinkat(&fd, "")
                            .map_err(|e| io("cannot read the link", &at, e))?,
                    );
                    if target.is_absolute() {
                        walk.restart_at_root();
                    }
                    let mut more = components(&target, dir)?;
                    more.reverse();
                    pending.extend(more);
                }
                _ => {
                    let at = walk.at(&name);
                    return Err(unsafe_path(
                        dir,
                        format!("'{}' is not a directory", at.display()),
                    ));
                }
            }
        }
        // The directory written into (reached last, perhaps by `..` or as `/` itself).
        walk.check(walk.top(), true)?;
        // O_PATH descriptors cannot be fsynced: reopen the directory itself for reading.
        let fd = nix::fcntl::openat(
            walk.top(),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io("cannot open", dir, e))?;
        Ok(TrustedDir {
            fd,
            path: dir.to_path_buf(),
            trust,
            file_owner: trust,
        })
    }

    /// Files created from now on belong to pitr's own user (root) and the trusted owner's
    /// group, mode as given: with 0640 the database user can read them, never change them,
    /// only remove them from a directory it owns.
    fn private(mut self) -> Self {
        self.file_owner = Trust {
            uid: nix::unistd::geteuid().as_raw(),
            gid: self.trust.gid,
        };
        self
    }

    fn target(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }

    /// Refuses when something other than a regular file is at `name`.
    fn check_final_name(&self, name: &OsStr) -> Result<()> {
        match nix::sys::stat::fstatat(&self.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(io("cannot stat", &self.target(name), e)),
            Ok(st) => match file_type(&st) {
                SFlag::S_IFREG => Ok(()),
                SFlag::S_IFLNK => Err(unsafe_path(
                    &self.target(name),
                    "a symbolic link is at this name; pitr never writes through links: remove \
                     it, and find out who put it there",
                )),
                SFlag::S_IFDIR => Err(unsafe_path(&self.target(name), "it is a directory")),
                _ => Err(unsafe_path(&self.target(name), "it is not a regular file")),
            },
        }
    }

    /// Creates `name` exclusively (never following or replacing anything), with `mode` and the
    /// trusted owner set on the descriptor. `None` when the name exists.
    fn create_exclusive(&self, name: &OsStr, mode: u32, extra: OFlag) -> Result<Option<File>> {
        let flags = OFlag::O_WRONLY
            | OFlag::O_CREAT
            | OFlag::O_EXCL
            | OFlag::O_NOFOLLOW
            | OFlag::O_CLOEXEC
            | extra;
        let fd = match nix::fcntl::openat(&self.fd, name, flags, Mode::from_bits_truncate(0o600)) {
            Ok(fd) => fd,
            Err(Errno::EEXIST) => return Ok(None),
            Err(e) => return Err(io("cannot create", &self.target(name), e)),
        };
        let path = self.target(name);
        let result = self.set_owner_and_mode(&fd, mode, &path);
        if let Err(e) = result {
            let _ = nix::unistd::unlinkat(&self.fd, name, UnlinkatFlags::NoRemoveDir);
            return Err(e);
        }
        Ok(Some(File::from(fd)))
    }

    fn set_owner_and_mode(&self, fd: &OwnedFd, mode: u32, path: &Path) -> Result<()> {
        if nix::unistd::geteuid().as_raw() != self.file_owner.uid
            || nix::unistd::getegid().as_raw() != self.file_owner.gid
        {
            nix::unistd::fchown(
                fd,
                Some(Uid::from_raw(self.file_owner.uid)),
                Some(Gid::from_raw(self.file_owner.gid)),
            )
            .map_err(|e| io("cannot change the owner of", path, e))?;
        }
        nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode))
            .map_err(|e| io("cannot set the mode of", path, e))
    }

    /// Refuses unless `name` is a real directory (not a link) owned by the trusted owner: the
    /// only directories pitr moves or removes are the database superuser's data directories,
    /// so a path in a config that user can edit cannot make root move or remove `/etc`.
    fn check_owned_dir(&self, name: &OsStr, verb: &str) -> Result<()> {
        let path = self.target(name);
        let st = nix::sys::stat::fstatat(&self.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| io("cannot stat", &path, e))?;
        if file_type(&st) != SFlag::S_IFDIR {
            return Err(unsafe_path(
                &path,
                format!(
                    "it is not a directory (a symbolic link?); pitr {verb} only real directories"
                ),
            ));
        }
        if st.st_uid != self.trust.uid {
            return Err(unsafe_path(
                &path,
                format!(
                    "it is owned by {}, not by {}; pitr {verb} only data directories of the \
                     database superuser",
                    describe_uid(st.st_uid),
                    describe_uid(self.trust.uid)
                ),
            ));
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        nix::unistd::fsync(&self.fd).map_err(|e| io("cannot sync", &self.path, e))
    }
}

fn open_root(dir: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io("cannot open", dir, e))
}

fn open_nofollow(parent: &OwnedFd, name: &OsStr) -> nix::Result<OwnedFd> {
    nix::fcntl::openat(
        parent,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn make_dir(parent: &OwnedFd, name: &OsStr, mode: u32, trust: Trust, dir: &Path) -> Result<()> {
    match nix::sys::stat::mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(io("cannot create directory", dir, e)),
    }
    let fd = nix::fcntl::openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io("cannot open", dir, e))?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| io("cannot stat", dir, e))?;
    if st.st_uid == nix::unistd::geteuid().as_raw() && st.st_uid != trust.uid {
        nix::unistd::fchown(
            &fd,
            Some(Uid::from_raw(trust.uid)),
            Some(Gid::from_raw(trust.gid)),
        )
        .map_err(|e| io("cannot change the owner of", dir, e))?;
    }
    nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(mode))
        .map_err(|e| io("cannot set the mode of", dir, e))
}

/// The normal components of `path` (`.` dropped, `..` kept for the walk to pop).
fn components(path: &Path, whole: &Path) -> Result<Vec<OsString>> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => out.push(OsString::from("..")),
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::Prefix(_) => return Err(unsafe_path(whole, "not a unix path")),
        }
    }
    Ok(out)
}

/// The directories walked so far, from `/`: descriptors and the names that led to them.
#[derive(Debug)]
struct Walk<'a> {
    dir: &'a Path,
    trust: Trust,
    stack: Vec<OwnedFd>,
    names: Vec<OsString>,
}

impl Walk<'_> {
    fn top(&self) -> &OwnedFd {
        self.stack.last().expect("the walk starts at /")
    }

    /// The physical path of `name` in the current directory, for messages.
    fn at(&self, name: &OsStr) -> PathBuf {
        let mut p = PathBuf::from("/");
        p.extend(&self.names);
        p.join(name)
    }

    fn up(&mut self) {
        if self.stack.len() > 1 {
            self.stack.pop();
            self.names.pop();
        }
    }

    fn restart_at_root(&mut self) {
        self.stack.truncate(1);
        self.names.clear();
    }

    fn check(&self, fd: &OwnedFd, written_into: bool) -> Result<()> {
        let st = nix::sys::stat::fstat(fd).map_err(|e| io("cannot stat", self.dir, e))?;
        match self.trust.distrust_dir(&st, written_into) {
            None => Ok(()),
            Some(why) => Err(unsafe_path(self.dir, why)),
        }
    }

    fn enter(
        &mut self,
        fd: OwnedFd,
        name: OsString,
        st: &FileStat,
        written_into: bool,
    ) -> Result<()> {
        if self.stack.len() == 1 {
            // `/` itself, checked whenever a walk passes through it.
            self.check(&self.stack[0], false)?;
        }
        if let Some(why) = self.trust.distrust_dir(st, written_into) {
            let at = self.at(&name);
            return Err(unsafe_path(
                self.dir,
                format!("directory '{}': {why}", at.display()),
            ));
        }
        self.stack.push(fd);
        self.names.push(name);
        Ok(())
    }
}

/// The directory and file name of `path`.
fn split(path: &Path) -> Result<(&Path, &OsStr)> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => Ok((dir, name)),
        _ => Err(unsafe_path(path, "it is not an absolute path to a file")),
    }
}

/// A fresh random temporary name beside `name`.
fn temp_name(name: &OsStr, attempt: u32) -> OsString {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let random = std::hash::RandomState::new().hash_one((std::process::id(), nanos, attempt, name));
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".pitr-{random:016x}"));
    tmp
}

/// Writes `contents` to `path` atomically, with `mode`, owned by `owner` (the current user when
/// `None`), as described in the module docs.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32, owner: Option<&OsUser>) -> Result<()> {
    let (dir, name) = split(path)?;
    write_in(
        &TrustedDir::open(dir, owner, None)?,
        path,
        name,
        contents,
        mode,
        Rename::Durable,
    )
}

/// Writes `contents` to `path` like [`write_atomic`], owned by pitr's own user and the group
/// of `dir_owner`, mode 0640, in a directory trusted for (and, when missing, made for)
/// `dir_owner`: pitr's own records in directories the database user owns (the run journal,
/// which holds no secret). That user can read such a file and remove it, never change it.
pub fn write_private(path: &Path, contents: &[u8], dir_owner: Option<&OsUser>) -> Result<()> {
    private_in(path, contents, dir_owner, Rename::Durable)
}

/// Like [`write_private`], except that the rename into place is not made durable (the
/// directory is not fsynced; the file's contents are, before the rename): after a machine
/// crash the file holds the new contents or the previous ones, each whole. For records where
/// the previous one is as good to go on, such as the run journal's step entries; one fsync
/// less than [`write_private`].
pub fn replace_private(path: &Path, contents: &[u8], dir_owner: Option<&OsUser>) -> Result<()> {
    private_in(path, contents, dir_owner, Rename::Volatile)
}

fn private_in(
    path: &Path,
    contents: &[u8],
    dir_owner: Option<&OsUser>,
    rename: Rename,
) -> Result<()> {
    let (dir, name) = split(path)?;
    let trusted = TrustedDir::open(dir, dir_owner, Some(0o750))?.private();
    write_in(&trusted, path, name, contents, 0o640, rename)
}

/// Reads a file [`write_private`] wrote; `None` when nothing is at the name, or when the file
/// belongs to another user than pitr's own and root (to root, one the database user wrote,
/// perhaps as pitr run by Patroni's callback): it is no record pitr may trust. Refused
/// (`unsafe_path`) when it is not a regular file, or has a second name.
pub fn read_private(path: &Path, dir_owner: Option<&OsUser>) -> Result<Option<Vec<u8>>> {
    let mut file = match open_read(path, dir_owner) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        other => other?,
    };
    let st = nix::sys::stat::fstat(&file).map_err(|e| io("cannot stat", path, e))?;
    if st.st_uid != nix::unistd::geteuid().as_raw() && st.st_uid != 0 {
        return Ok(None);
    }
    check_own_file(&file, path, &[0])?;
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut out)
        .map_err(|e| Error::io("cannot read", path, e))?;
    Ok(Some(out))
}

/// Refuses a file not owned by pitr's own user (or one of `also`) or with more than one name
/// (a hard link the database user made to another file).
fn check_own_file(file: &File, path: &Path, also: &[u32]) -> Result<()> {
    let st = nix::sys::stat::fstat(file).map_err(|e| io("cannot stat", path, e))?;
    let euid = nix::unistd::geteuid().as_raw();
    if file_type(&st) != SFlag::S_IFREG {
        return Err(unsafe_path(path, "it is not a regular file"));
    }
    if st.st_uid != euid && !also.contains(&st.st_uid) {
        return Err(unsafe_path(
            path,
            format!(
                "it is owned by {}, not by {}: pitr did not write it; remove it, and find out \
                 who put it there",
                describe_uid(st.st_uid),
                describe_uid(euid)
            ),
        ));
    }
    if st.st_nlink != 1 {
        return Err(unsafe_path(
            path,
            "it has more than one name (a hard link): remove it, and find out who made it",
        ));
    }
    Ok(())
}

/// Opens the lock file `path` for reading and writing, creating it (owned by `dir_owner`, mode
/// 0600, so that pitr running as root and as the database user share it) when missing, in a
/// directory trusted for (and, when missing, made for) `dir_owner`. A link at the name,
/// anything but a regular file, a file of a user other than pitr's own and `dir_owner`, or one
/// with another name (a hard link to a file elsewhere) is refused (`unsafe_path`), so writing
/// the holder into it never writes anywhere else.
pub fn open_lock(path: &Path, dir_owner: Option<&OsUser>) -> Result<File> {
    let (dir, name) = split(path)?;
    let trusted = TrustedDir::open(dir, dir_owner, Some(0o750))?;
    let fd = nix::fcntl::openat(
        &trusted.fd,
        name,
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| match e {
        Errno::ELOOP => unsafe_path(path, "a symbolic link is at this name"),
        e => io("cannot open", path, e),
    })?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| io("cannot stat", path, e))?;
    if st.st_uid == nix::unistd::geteuid().as_raw() && st.st_uid != trusted.trust.uid {
        // Made just now (or by an earlier pitr as root): give it to the database user.
        trusted.set_owner_and_mode(&fd, 0o600, path)?;
    }
    let file = File::from(fd);
    let also: Vec<u32> = dir_owner.map(|o| o.uid).into_iter().collect();
    check_own_file(&file, path, &also)?;
    Ok(file)
}

/// Whether [`write_in`] makes the rename into place durable (fsyncs the directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rename {
    Durable,
    Volatile,
}

fn write_in(
    dir: &TrustedDir,
    path: &Path,
    name: &OsStr,
    contents: &[u8],
    mode: u32,
    rename: Rename,
) -> Result<()> {
    dir.check_final_name(name)?;
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let tmp = temp_name(name, attempt);
        if let Some(f) = dir.create_exclusive(&tmp, mode, OFlag::empty())? {
            break (tmp, f);
        }
        attempt += 1;
        if attempt > 16 {
            return Err(unsafe_path(
                path,
                "cannot find a free temporary name beside it",
            ));
        }
    };
    let tmp_path = dir.target(&tmp);
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io("cannot write", &tmp_path, e))
        .and_then(|()| dir.check_final_name(name))
        .and_then(|()| {
            nix::fcntl::renameat(&dir.fd, tmp.as_os_str(), &dir.fd, name)
                .map_err(|e| io("cannot rename into place", path, e))
        });
    if let Err(e) = written {
        let _ = nix::unistd::unlinkat(&dir.fd, tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        return Err(e);
    }
    match rename {
        Rename::Durable => dir.sync(),
        Rename::Volatile => Ok(()),
    }
}

/// Checks, without writing, that [`write_atomic`] could write `path` for `owner`: the
/// directory passes the trusted walk and no link or directory is at the name. Pre-flight
/// checks call it before anything is stopped.
pub fn check_writable(path: &Path, owner: Option<&OsUser>) -> Result<()> {
    let (dir, name) = split(path)?;
    TrustedDir::open(dir, owner, None)?.check_final_name(name)
}

/// Creates a new file for appending (e.g. a run log) with `mode`, owned by `owner`; the
/// directory is made when missing. `None` when something already is at the name: the caller
/// picks another name, it never reuses one. Nothing is fsynced: neither are the lines a log
/// appends.
pub fn create_new(path: &Path, mode: u32, owner: Option<&OsUser>) -> Result<Option<File>> {
    let (dir, name) = split(path)?;
    TrustedDir::open(dir, owner, Some(0o750))?.create_exclusive(name, mode, OFlag::O_APPEND)
}

/// Makes sure `dir` exists (created with `mode`, owned by `owner`, where missing) and passes
/// the trusted walk.
pub fn ensure_dir(dir: &Path, mode: u32, owner: Option<&OsUser>) -> Result<()> {
    TrustedDir::open(dir, owner, Some(mode)).map(drop)
}

/// Opens a file for reading without following a link at its name or a link the database user
/// made on the way: for files in directories that user controls (logs, records).
pub fn open_read(path: &Path, owner: Option<&OsUser>) -> Result<File> {
    let (dir, name) = split(path)?;
    let dir = TrustedDir::open(dir, owner, None)?;
    let fd = nix::fcntl::openat(
        &dir.fd,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::ELOOP => unsafe_path(path, "a symbolic link is at this name"),
        e => io("cannot open", path, e),
    })?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| io("cannot stat", path, e))?;
    if file_type(&st) != SFlag::S_IFREG {
        return Err(unsafe_path(path, "it is not a regular file"));
    }
    Ok(File::from(fd))
}

/// What is at a name in a directory listed by [`list_dir`], as `lstat` sees it (a link is a
/// link, never what it points at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Link,
    /// Anything else (a socket, a FIFO, a device).
    Other,
}

/// One entry of a directory listed by [`list_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Its name (not UTF-8 names are given lossily; no name pitr looks for is one).
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
    /// Its size in bytes (of the link itself for a link).
    pub size: u64,
}

/// Lists `dir` after the trusted walk of [`TrustedDir::open`] for `owner` (no link the
/// database user made is followed on the way), with each entry's kind and size from
/// `fstatat(AT_SYMLINK_NOFOLLOW)`: for directories the database user controls, such as
/// `pg_wal`.
pub fn list_dir(dir: &Path, owner: Option<&OsUser>) -> Result<Vec<DirEntry>> {
    list_trusted(&TrustedDir::open(dir, owner, None)?, dir)
}

/// The entries of a directory opened by the trusted walk, as [`list_dir`] gives them.
fn list_trusted(trusted: &TrustedDir, dir: &Path) -> Result<Vec<DirEntry>> {
    let fd = nix::fcntl::openat(
        &trusted.fd,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io("cannot open", dir, e))?;
    let mut listing = nix::dir::Dir::from_fd(fd).map_err(|e| io("cannot list", dir, e))?;
    let mut out = Vec::new();
    for entry in listing.iter() {
        let entry = entry.map_err(|e| io("cannot list", dir, e))?;
        let raw = entry.file_name();
        if matches!(raw.to_bytes(), b"." | b"..") {
            continue;
        }
        let st = match nix::sys::stat::fstatat(&trusted.fd, raw, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Removed since it was listed (PostgreSQL recycles segments).
            Err(Errno::ENOENT) => continue,
            Err(e) => {
                return Err(io(
                    "cannot stat",
                    &dir.join(raw.to_string_lossy().as_ref()),
                    e,
                ));
            }
        };
        let kind = match file_type(&st) {
            SFlag::S_IFREG => EntryKind::File,
            SFlag::S_IFDIR => EntryKind::Dir,
            SFlag::S_IFLNK => EntryKind::Link,
            _ => EntryKind::Other,
        };
        out.push(DirEntry {
            name: raw.to_string_lossy().into_owned(),
            kind,
            size: u64::try_from(st.st_size).unwrap_or(0),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A working directory pitr reuses under a fixed name in a directory the database user
/// controls (the WAL a time target is judged from, `<log-path>/pitr-<stanza>-walscan`), so that
/// what a killed run left there is found by name and removed by the next one, instead of
/// piling up under names of their own.
///
/// It is opened by the trusted walk (made for `owner` with `mode` when missing) and held with
/// an exclusive `flock` on the directory itself while in use, so two pitr runs (a dry run has
/// no stanza lock) never share it; a second one waits. On taking it, and when it is dropped,
/// every file and link in it is removed with `unlinkat` on its descriptor: nothing is followed,
/// and a link the database user put there is removed, never what it points at. Directories in
/// it, which pitr never makes, are left alone.
#[derive(Debug)]
pub struct WorkDir {
    dir: TrustedDir,
    _lock: nix::fcntl::Flock<File>,
}

impl WorkDir {
    /// Takes the working directory `path`, waiting at most `wait` for another pitr using it,
    /// and empties it. Returns it with the names of what an earlier run left there.
    pub fn acquire(
        path: &Path,
        mode: u32,
        owner: Option<&OsUser>,
        wait: std::time::Duration,
    ) -> Result<(WorkDir, Vec<String>)> {
        let dir = TrustedDir::open(path, owner, Some(mode))?;
        let deadline = std::time::Instant::now() + wait;
        let mut file = File::from(
            dir.fd
                .try_clone()
                .map_err(|e| Error::io("cannot open", path, e))?,
        );
        let lock = loop {
            match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
                Ok(lock) => break lock,
                Err((f, Errno::EWOULDBLOCK)) if std::time::Instant::now() < deadline => {
                    file = f;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err((_, e)) => return Err(io("cannot lock (another pitr uses it)", path, e)),
            }
        };
        let work = WorkDir { dir, _lock: lock };
        let left = work.clear()?;
        Ok((work, left))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.dir.path
    }

    /// Removes the file or link `name` from it, if there.
    pub fn remove(&self, name: &str) -> Result<()> {
        match nix::unistd::unlinkat(&self.dir.fd, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(io("cannot remove", &self.dir.target(OsStr::new(name)), e)),
        }
    }

    /// Removes every file and link in it; returns their names.
    pub fn clear(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for entry in list_trusted(&self.dir, &self.dir.path)? {
            if entry.kind != EntryKind::Dir {
                self.remove(&entry.name)?;
                removed.push(entry.name);
            }
        }
        Ok(removed)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = self.clear();
    }
}

/// Renames the directory `from` to `to` in the same parent directory (the safety copy of a
/// data directory), refusing when `from` is not a real directory or anything is at `to`.
/// `owner` owns the parent (the database superuser).
pub fn move_dir(from: &Path, to: &Path, owner: Option<&OsUser>) -> Result<()> {
    let (dir, from_name) = split(from)?;
    let (to_dir, to_name) = split(to)?;
    if dir != to_dir {
        return Err(unsafe_path(
            to,
            format!(
                "pitr moves a directory only within its parent '{}'",
                dir.display()
            ),
        ));
    }
    let parent = TrustedDir::open(dir, owner, None)?;
    parent.check_owned_dir(from_name, "moves")?;
    match nix::sys::stat::fstatat(&parent.fd, to_name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(Errno::ENOENT) => {}
        Ok(_) => {
            return Err(unsafe_path(
                to,
                "something is at this name already (a file, directory or link); pitr does \
                 not overwrite it",
            ));
        }
        Err(e) => return Err(io("cannot stat", to, e)),
    }
    nix::fcntl::renameat2(
        &parent.fd,
        from_name,
        &parent.fd,
        to_name,
        RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(|e| match e {
        Errno::EEXIST => unsafe_path(to, "something appeared at this name; nothing was moved"),
        e => io("cannot move", from, e),
    })?;
    parent.sync()
}

/// Removes the directory tree `path` (a failed restore, when its safety copy goes back). Only
/// a real directory owned by `owner` is removed; nothing at `path` is fine. The tree itself is
/// removed without following links in it.
pub fn remove_dir(path: &Path, owner: Option<&OsUser>) -> Result<()> {
    let (dir, name) = split(path)?;
    let parent = match TrustedDir::open(dir, owner, None) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(());
        }
        other => other?,
    };
    match parent.check_owned_dir(name, "removes") {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        // std's removal opens every directory in the tree with O_NOFOLLOW.
        Ok(()) => std::fs::remove_dir_all(path).map_err(|e| Error::io("cannot remove", path, e)),
    }
}

/// Whether anything (a link included) is at `path`, without following a link there.
pub fn exists_nofollow(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[cfg(test)]
mod tests;
