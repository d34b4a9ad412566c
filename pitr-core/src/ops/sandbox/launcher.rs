//! A throwaway Patroni cluster on one machine for `pitr sandbox --ha`: one etcd 3.4 (Patroni's
//! `etcd3` DCS) and Patroni 3.0 members running PostgreSQL as the database superuser, on
//! loopback ports the kernel hands out, all archiving into one local repo.
//!
//! Layout of the root directory (owned by root, mode 0755; everything below it that PostgreSQL
//! or pgBackRest touch belongs to the database superuser):
//!
//! | path | what |
//! |---|---|
//! | `etcd/` | etcd's data and `etcd.log` (root's, mode 0700) |
//! | `repo/` | the shared pgBackRest repo |
//! | `sock/` | the Unix sockets of every member (one directory: a restored clone listens where the set's member did) |
//! | `<scope>-<n>/` | member `n`: `data/`, `spec.yml` (with `patroni_port`), `pgbackrest.conf` rendered from it, `patroni.yml`, `log/patroni.log`, `log/postgresql.log`, pgBackRest's `spool/`, `lock/`, `pgbackrest-log/` |
//!
//! Every process the stack starts is found again by its working directory or a path on its
//! command line under the root ([`crate::run::ha::processes_of`]): dropping the stack, an error
//! and Ctrl-C ([`HaStack::kill_on_interrupt`]) kill them all; the root is removed unless kept.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::names::SafePath;
use crate::render::patroni::PatroniTiming;
use crate::run::files;
use crate::run::ha::{self, HA_TOOLS};
use crate::run::log::RunLog;
use crate::run::patroni::request;
use crate::run::tools::Tools;

pub use super::member::HaMember;
use super::member::Layout;
use crate::run::user::OsUser;

/// Patroni's timing: a failover after `kill -9` takes about `ttl` seconds.
pub const TIMING: PatroniTiming = PatroniTiming {
    ttl: 10,
    loop_wait: 1,
    retry_timeout: 4,
};

/// How long etcd may take to become healthy.
const ETCD_READY: Duration = Duration::from_secs(30);
/// How long a member may take to bootstrap, clone itself or rejoin.
pub const MEMBER_READY: Duration = Duration::from_secs(120);
/// How long a switchover or failover may take.
pub const LEADER_CHANGE: Duration = Duration::from_secs(60);
/// How long a REST request other than a switchover may take.
pub(super) const REST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a switchover request may take (Patroni answers when it is done).
const SWITCHOVER_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of a log quoted when something does not come up.
pub(super) const TAIL_LINES: usize = 25;

/// Paths of the tools the stack runs.
#[derive(Debug, Clone)]
struct StackTools {
    etcd: PathBuf,
    etcdctl: PathBuf,
    patroni: PathBuf,
    pg: Tools,
}

/// etcd and the members; kills every process of the root and removes it (unless kept) when
/// dropped.
#[derive(Debug)]
pub struct HaStack<'a> {
    log: &'a RunLog,
    root: PathBuf,
    keep: bool,
    dbsu: OsUser,
    tools: StackTools,
    etcd: Option<Child>,
    etcd_endpoint: String,
    /// The members, in order.
    pub members: Vec<HaMember>,
}

impl<'a> HaStack<'a> {
    /// Checks that the tools are installed and `root` does not exist yet (nothing is touched
    /// otherwise); creates the layout, starts etcd and writes every member's files (`members`
    /// of them, named `<scope>-1`, ...). `pitr_bin` is the `pitr` that Patroni's callback runs.
    pub fn create(
        root: &Path,
        keep: bool,
        scope: &str,
        members: usize,
        pitr_bin: &Path,
        log: &'a RunLog,
    ) -> Result<HaStack<'a>> {
        let tool = |name: &str| {
            let package = HA_TOOLS
                .iter()
                .find(|(tool, _)| *tool == name)
                .map_or(name, |(_, package)| *package);
            ha::ha_tool(name, package)
        };
        let tools = StackTools {
            etcd: tool("etcd")?,
            etcdctl: tool("etcdctl")?,
            patroni: tool("patroni")?,
            pg: Tools::locate(None, None)?,
        };
        let dbsu = OsUser::lookup("postgres")?;
        let root = check_root(root)?;
        files::ensure_dir(&root, 0o755, None)?;
        let mut stack = HaStack {
            log,
            root: root.clone(),
            keep,
            dbsu,
            tools,
            etcd: None,
            etcd_endpoint: String::new(),
            members: Vec::new(),
        };
        stack.kill_on_interrupt();
        for sub in ["repo", "sock"] {
            files::ensure_dir(&root.join(sub), 0o700, Some(&stack.dbsu))?;
        }
        stack.start_etcd()?;
        for seq in 1..=members {
            let member = stack.configure_member(scope, seq, pitr_bin)?;
            stack.members.push(member);
        }
        Ok(stack)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The database superuser everything runs as.
    pub fn dbsu(&self) -> &OsUser {
        &self.dbsu
    }

    /// On Ctrl-C or `SIGTERM`: kill every process of the root, remove it unless kept, exit 130.
    fn kill_on_interrupt(&self) {
        let root = self.root.clone();
        let keep = self.keep;
        ha::on_interrupt(move |log| teardown(&root, keep, log));
    }

    fn start_etcd(&mut self) -> Result<()> {
        let dir = self.root.join("etcd");
        files::ensure_dir(&dir, 0o700, None)?;
        let client = ha::free_port()?;
        let peer = ha::free_port()?;
        let log_path = dir.join("etcd.log");
        let out = new_log(&log_path, None)?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io("cannot duplicate", &log_path, e))?;
        let mut cmd = ha::etcd_command(&self.tools.etcd, &dir.join("data"), client, peer);
        cmd.current_dir(&dir)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: "etcd".into(),
            source,
        })?;
        self.etcd = Some(child);
        self.etcd_endpoint = format!("127.0.0.1:{client}");
        let endpoint = self.etcd_endpoint.clone();
        let etcdctl = self.tools.etcdctl.clone();
        let child = self.etcd.as_mut().map(|c| c as &mut Child);
        wait_for(
            "etcd",
            "is healthy (etcdctl endpoint health)",
            ETCD_READY,
            child,
            || ha::etcd_is_healthy(&etcdctl, &endpoint),
            || ha::tail(&log_path, TAIL_LINES),
        )?;
        self.log
            .line(&format!("etcd on {endpoint} (log: {})", log_path.display()));
        Ok(())
    }

    fn configure_member(&self, scope: &str, seq: usize, pitr_bin: &Path) -> Result<HaMember> {
        HaMember::configure(
            &Layout {
                root: &self.root,
                dbsu: &self.dbsu,
                pg_bin_dir: &self.tools.pg.pg_bin_dir,
                etcd_endpoint: &self.etcd_endpoint,
                pitr_bin,
            },
            scope,
            seq,
        )
    }

    /// Starts the Patroni of member `index` as the database superuser, output appended to its
    /// `log/patroni.log`.
    pub fn spawn_patroni(&mut self, index: usize) -> Result<()> {
        let member = &self.members[index];
        let log_path = member.patroni_log();
        let out = new_log(&log_path, Some(&self.dbsu))?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io("cannot duplicate", &log_path, e))?;
        let mut cmd = ha::patroni_command(
            self.dbsu.command(&self.tools.patroni)?,
            &member.dir.join("patroni.yml"),
        );
        cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err));
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: "patroni".into(),
            source,
        })?;
        self.members[index].patroni = Some(child);
        Ok(())
    }

    /// Starts member `index` and waits until it leads (`leader`) or is a streaming replica of
    /// the leader that replayed everything.
    pub fn bring_up(&mut self, index: usize, leader: bool) -> Result<()> {
        self.spawn_patroni(index)?;
        let what = if leader {
            "bootstraps and leads"
        } else {
            "streams from the leader"
        };
        let mut child = self.members[index].patroni.take();
        let waited = wait_for(
            &self.members[index].name,
            what,
            MEMBER_READY,
            child.as_mut(),
            || {
                if leader {
                    self.members[index].leads()
                } else {
                    self.streaming(index).is_ok()
                }
            },
            || self.members[index].log_tails(),
        );
        self.members[index].patroni = child;
        waited
    }

    /// The index of the member that leads (`GET /primary` answers 200), if one does.
    pub fn leader(&self) -> Option<usize> {
        self.members.iter().position(HaMember::leads)
    }

    /// Waits until member `index` leads and Patroni reports timeline `timeline` (or later).
    pub fn wait_leads(&self, index: usize, timeline: u64) -> Result<()> {
        let member = &self.members[index];
        wait_for(
            &member.name,
            &format!("leads on timeline {timeline}"),
            LEADER_CHANGE,
            None,
            || member.leads() && member.timeline().is_some_and(|t| t >= timeline),
            || self.all_log_tails(),
        )
    }

    /// Why member `index` is not (yet) a streaming replica of the current leader with zero
    /// lag, or `Ok`.
    fn streaming(&self, index: usize) -> std::result::Result<(), String> {
        let member = &self.members[index];
        let leader = self.leader().ok_or("there is no leader")?;
        if leader == index {
            return Err(format!("{} leads", member.name));
        }
        let (status, _) = request(
            member.rest_port,
            "GET",
            "/replica",
            None,
            None,
            REST_TIMEOUT,
        )?;
        if status != 200 {
            return Err(format!("GET /replica answers {status}"));
        }
        let sql = format!(
            "SELECT state || ' ' || (replay_lsn = pg_current_wal_lsn())::text \
             FROM pg_stat_replication WHERE application_name = '{}'",
            member.name
        );
        let row = self.members[leader]
            .db()
            .query_value(&sql)
            .map_err(|e| e.to_string())?;
        if row == "streaming true" {
            Ok(())
        } else {
            Err(format!("the leader sees it as {row}"))
        }
    }

    /// Waits until member `index` is a streaming replica of the leader that replayed
    /// everything.
    pub fn wait_streaming(&self, index: usize) -> Result<()> {
        let member = &self.members[index];
        wait_for(
            &member.name,
            "streams from the leader with zero lag",
            MEMBER_READY,
            None,
            || self.streaming(index).is_ok(),
            || {
                format!(
                    "{}\n{}",
                    self.streaming(index).err().unwrap_or_default(),
                    self.all_log_tails()
                )
            },
        )
    }

    /// A switchover through the leader's REST API (`POST /switchover`); returns once
    /// `candidate` leads on the next timeline.
    pub fn switchover(&self, leader: usize, candidate: usize) -> Result<()> {
        let (from, to) = (&self.members[leader], &self.members[candidate]);
        let timeline = from.timeline().unwrap_or(0) + 1;
        let body = serde_json::json!({"leader": from.name, "candidate": to.name}).to_string();
        let answer = request(
            from.rest_port,
            "POST",
            "/switchover",
            Some(&body),
            None,
            SWITCHOVER_TIMEOUT,
        );
        match answer {
            Ok((200, _)) => self.wait_leads(candidate, timeline),
            other => Err(Error::SandboxClaim {
                claim: format!(
                    "Patroni accepts the switchover {} -> {}",
                    from.name, to.name
                ),
                seen: format!("it answered {other:?}\n{}", self.all_log_tails()),
            }),
        }
    }

    /// Kills member `index` like a power loss: `SIGKILL` to its Patroni's process group, its
    /// postmaster and every other process of its directory.
    pub fn kill_member(&mut self, index: usize) {
        let member = &mut self.members[index];
        if let Some(mut child) = member.patroni.take() {
            ha::kill_group(child.id());
            let _ = child.wait();
        }
        if let Some(pid) = ha::postmaster_pid(&member.dir.join("data")) {
            ha::kill_pid(pid);
        }
        ha::kill_processes_of(&member.dir);
    }

    /// Every member's log tails.
    pub fn all_log_tails(&self) -> String {
        self.members
            .iter()
            .map(HaMember::log_tails)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for HaStack<'_> {
    fn drop(&mut self) {
        // Ctrl-C: the interrupt's thread kills, removes and exits; what failed here because
        // of its kills is not worth reporting.
        while ha::interrupted() {
            std::thread::sleep(Duration::from_millis(100));
        }
        for index in 0..self.members.len() {
            self.kill_member(index);
        }
        if let Some(mut etcd) = self.etcd.take() {
            ha::kill_group(etcd.id());
            let _ = etcd.wait();
        }
        teardown(&self.root, self.keep, self.log);
    }
}

/// `root` without a trailing `/` or `.` components, when it is a [safe](SafePath) absolute path
/// that does not exist: the stack makes it, finds its processes by it and removes it.
pub fn check_root(root: &Path) -> Result<PathBuf> {
    SafePath::from_path("--dir", "pitr sandbox", root)?;
    let root: PathBuf = root.components().collect();
    if files::exists_nofollow(&root) {
        return Err(Error::InvalidSetting {
            key: "--dir".into(),
            context: "pitr sandbox --ha".into(),
            message: format!(
                "'{}' exists; the sandbox makes a new directory and removes it afterwards: name \
                 one that does not exist",
                root.display()
            ),
        });
    }
    Ok(root)
}

/// Kills every process of `root` and removes it, unless `keep`; says what it could not do.
fn teardown(root: &Path, keep: bool, log: &RunLog) {
    let survivors = ha::kill_processes_of(root);
    if !survivors.is_empty() {
        log.line(&format!(
            "processes of {} survive SIGKILL: {survivors:?}",
            root.display()
        ));
    }
    if keep {
        log.line(&format!("sandbox kept in {}", root.display()));
    } else if let Err(e) = ha::remove_dir_patiently(root) {
        log.line(&format!("cannot remove {}: {e}", root.display()));
    }
}

/// A new log file for appending (a name that exists is an error: the stack's directories are
/// new).
fn new_log(path: &Path, owner: Option<&OsUser>) -> Result<std::fs::File> {
    files::create_new(path, 0o600, owner)?.ok_or_else(|| {
        Error::io(
            "cannot create",
            path,
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        )
    })
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs())
}

/// Polls `done` until it holds, for at most `timeout`; fails when it does not, or when `child`
/// exits first, with what `details` says.
fn wait_for(
    who: &str,
    what: &str,
    timeout: Duration,
    mut child: Option<&mut Child>,
    mut done: impl FnMut() -> bool,
    details: impl Fn() -> String,
) -> Result<()> {
    let outcome = ha::poll_until(timeout, || {
        if done() {
            return Some(true);
        }
        let exited = child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
        exited.then_some(false)
    });
    let seen = match outcome {
        Some(true) => return Ok(()),
        Some(false) => "it exited",
        None => "it did not",
    };
    Err(Error::SandboxClaim {
        claim: format!("{who} {what} within {}", secs(timeout)),
        seen: format!("{seen}\n{}", details()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::patroni::PatroniMember;

    #[test]
    fn the_root_is_new_absolute_safe_and_normalised() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("sandbox");
        let with_slash = PathBuf::from(format!("{}/./", new.display()));
        assert_eq!(check_root(&with_slash).unwrap(), new);
        let e = check_root(dir.path()).unwrap_err();
        assert_eq!(e.code(), "invalid_setting");
        assert!(e.to_string().contains("exists"), "{e}");
        assert_eq!(
            check_root(Path::new("relative")).unwrap_err().code(),
            "invalid_setting"
        );
        assert_eq!(
            check_root(Path::new("/tmp/a b")).unwrap_err().code(),
            "unsafe_characters"
        );
    }

    #[test]
    fn members_get_the_timing_of_the_sandbox() {
        let member = PatroniMember {
            scope: "s",
            name: "s-1",
            rest_port: 1,
            pg_port: 2,
            etcd_endpoint: "127.0.0.1:3",
            data_dir: Path::new("/r/s-1/data"),
            bin_dir: Path::new("/usr/lib/postgresql/15/bin"),
            pgpass: Path::new("/r/s-1/pgpass"),
            socket_dir: Path::new("/r/sock"),
            log_dir: Path::new("/r/s-1/log"),
            password: "p",
            archive_mode: "on",
            archive_command: "/usr/bin/pgbackrest --stanza=s archive-push %p",
            on_role_change: Some("/x/pitr --config /r/s-1/pgbackrest.conf patroni-callback"),
            failsafe_mode: true,
            timing: TIMING,
        }
        .config();
        assert_eq!(member["bootstrap"]["dcs"]["ttl"], 10);
        assert_eq!(
            member["postgresql"]["callbacks"]["on_role_change"],
            "/x/pitr --config /r/s-1/pgbackrest.conf patroni-callback"
        );
        assert_eq!(
            member["postgresql"]["parameters"]["unix_socket_directories"],
            "/r/sock"
        );
    }
}
