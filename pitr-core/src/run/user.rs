//! OS users: who pitr runs PostgreSQL and pgBackRest as, switched in the child process.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use crate::error::{Error, Result};

/// An OS account, looked up once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsUser {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: PathBuf,
}

impl OsUser {
    /// Looks up a user by name.
    pub fn lookup(name: &str) -> Result<OsUser> {
        match nix::unistd::User::from_name(name) {
            Ok(Some(u)) => Ok(OsUser {
                name: u.name,
                uid: u.uid.as_raw(),
                gid: u.gid.as_raw(),
                home: u.dir,
            }),
            _ => Err(Error::UserNotFound {
                user: name.to_owned(),
            }),
        }
    }

    /// The user this process runs as (effective uid).
    pub fn current() -> Result<OsUser> {
        let uid = nix::unistd::geteuid();
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(u)) => Ok(OsUser {
                name: u.name,
                uid: u.uid.as_raw(),
                gid: u.gid.as_raw(),
                home: u.dir,
            }),
            _ => Err(Error::UserNotFound {
                user: format!("uid {uid}"),
            }),
        }
    }

    /// A command for `program` that runs as this user.
    ///
    /// When pitr runs as root the child switches to this user (and drops supplementary
    /// groups); when pitr already runs as this user nothing is switched; any other case is an
    /// error, because the command would run with the wrong rights. The child starts in `/`
    /// with `HOME`, `USER` and `LOGNAME` of this user, so tools that look at the current
    /// directory or home do not trip over the caller's.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Result<Command> {
        use std::os::unix::process::CommandExt;
        let euid = nix::unistd::geteuid().as_raw();
        let mut cmd = Command::new(program);
        if euid != self.uid {
            if euid != 0 {
                let current = OsUser::current().map_or_else(|_| format!("uid {euid}"), |u| u.name);
                return Err(Error::UserSwitch {
                    user: self.name.clone(),
                    current,
                });
            }
            cmd.uid(self.uid).gid(self.gid);
        }
        cmd.current_dir("/")
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name);
        Ok(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_unknown_users() {
        let root = OsUser::lookup("root").unwrap();
        assert_eq!(root.uid, 0);
        let e = OsUser::lookup("no-such-user-pitr").unwrap_err();
        assert_eq!(e.code(), "user_not_found");
        assert!(e.to_string().contains("no-such-user-pitr"));
    }
}
