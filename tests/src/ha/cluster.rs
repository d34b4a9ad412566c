//! [`PatroniCluster`]: N Patroni members on one etcd, archiving into one pgBackRest repo.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use pitr_core::patroni::PatroniAuth;

use super::config::Shared;
use super::member::{Member, Role};
use super::{
    ClusterSlot, Etcd, LEADER_CHANGE, MEMBER_READY, POLL, kill_processes_of, mark_owner,
    poll_until, reap_orphans, remove_dir_patiently, require_ha_tools, unmark_owner,
};
use crate::cluster::KEEP_DIRS_ENV;
use crate::user::mkdir_as_postgres;

/// How often a member is set up again on other ports when a port turns out to be taken.
const PORT_ATTEMPTS: usize = 3;

/// How long a switchover request may take (Patroni answers when it is done).
const SWITCHOVER_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a member may take to stop cleanly on `SIGTERM`.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of a [`PatroniCluster`] before it starts; from [`PatroniCluster::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct PatroniBuilder {
    name: String,
    members: usize,
    archive_mode: String,
    repos: Option<(String, String)>,
    failsafe_mode: bool,
    role_change_callback: bool,
    rest_auth: Option<PatroniAuth>,
}

impl PatroniBuilder {
    /// The number of members (1 to 5; 2 by default).
    pub fn members(mut self, members: usize) -> Self {
        assert!(
            (1..=5).contains(&members),
            "a test cluster has 1 to 5 members, not {members}"
        );
        self.members = members;
        self
    }

    /// `archive_mode` of every member: `on` (the default; only the primary archives) or
    /// `always` (replicas archive what they receive too).
    pub fn archive_mode(mut self, mode: &str) -> Self {
        assert!(
            mode == "on" || mode == "always",
            "archive_mode is `on` or `always`, not {mode:?}"
        );
        mode.clone_into(&mut self.archive_mode);
        self
    }

    /// The repos instead of the default local repo in `<root>/repo`: the spec's
    /// `pgbackrest_method` and `pgbackrest_repo` entries (YAML indented under the key, e.g.
    /// [`S3Server::repo_yaml`](crate::S3Server::repo_yaml)).
    pub fn repos(mut self, method: &str, repos_yaml: &str) -> Self {
        self.repos = Some((method.to_owned(), repos_yaml.to_owned()));
        self
    }

    /// Patroni's `failsafe_mode`: on by default, as in Pigsty's Patroni templates (Patroni's own
    /// default is off). When on, a leader that loses the DCS stays primary as long as it reaches
    /// every other member's REST API; when off, it demotes itself after `retry_timeout`, and the
    /// member that takes the leader key once the DCS is back promotes on a new timeline.
    pub fn failsafe_mode(mut self, on: bool) -> Self {
        self.failsafe_mode = on;
        self
    }

    /// Patroni's `postgresql.callbacks.on_role_change` on every member: the command `pitr
    /// render --what patroni-callback` writes for the member's spec (`pitr patroni-callback`,
    /// which pushes the WAL a dead leader could not archive when a member becomes the leader).
    /// Off by default; [`PatroniCluster::set_role_change_callback`] changes it on a running
    /// cluster.
    pub fn role_change_callback(mut self, on: bool) -> Self {
        self.role_change_callback = on;
        self
    }

    /// Patroni's REST API authentication (`restapi.authentication`) on every member, and the
    /// same `patroni_username`/`patroni_password` in every member's spec: Patroni then refuses
    /// `PATCH`, `POST` and `DELETE` without these credentials, which the harness's own requests
    /// carry. Off by default.
    pub fn rest_authentication(mut self, username: &str, password: &str) -> Self {
        self.rest_auth = Some(PatroniAuth {
            username: username.to_owned(),
            password: pitr_core::names::Secret::new(password),
        });
        self
    }

    /// Starts etcd, writes every member's files, starts the first member (it bootstraps with
    /// `initdb` and leads), then the others (they clone it with `pg_basebackup`), and waits until
    /// each of them is a streaming replica with zero lag.
    ///
    /// # Panics
    ///
    /// When a prerequisite is missing (the message says to run `make setup`; the `pitr` binary
    /// must be built) or a member does not come up; the message names it and shows its logs.
    pub fn start(self) -> PatroniCluster {
        let safe: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(20)
            .collect();
        let scope = safe.trim_matches('-').to_owned();
        assert!(
            !scope.is_empty(),
            "cluster name {:?} has no usable characters",
            self.name
        );
        require_ha_tools();
        reap_orphans();
        let slot = ClusterSlot::acquire(&scope);
        let dir = tempfile::Builder::new()
            .prefix(&format!("pitr-ha-{scope}-"))
            .tempdir_in(std::env::temp_dir())
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let root = dir.path().to_path_buf();
        mark_owner(&root);
        mkdir_as_postgres(&root, 0o700);
        let (method, repos_yaml) = self.repos.clone().unwrap_or_else(|| {
            let repo = root.join("repo");
            mkdir_as_postgres(&repo, 0o700);
            (
                "local".to_owned(),
                format!(
                    "  local:\n    path: {}\n    retention_full: 4\n",
                    repo.display()
                ),
            )
        });
        let etcd = Etcd::start();
        let shared = Shared {
            scope: scope.clone(),
            etcd_endpoint: etcd.endpoint(),
            method,
            repos_yaml,
            archive_mode: self.archive_mode.clone(),
            failsafe_mode: self.failsafe_mode,
            role_change_callback: self.role_change_callback,
            rest_auth: self.rest_auth.clone(),
        };
        let members = (1..=self.members)
            .map(|seq| Member::new(&root, &scope, seq, shared.rest_auth.clone()))
            .collect();
        let mut cluster = PatroniCluster {
            scope,
            root,
            shared,
            members,
            etcd,
            dir: Some(dir),
            _slot: slot,
        };
        for member in &cluster.members {
            member.configure(&cluster.shared);
        }
        cluster.bring_up(0);
        for index in 1..cluster.members.len() {
            cluster.bring_up(index);
        }
        cluster
    }
}

/// A real Patroni cluster of PostgreSQL 15 members on one [`Etcd`], all archiving with
/// pgBackRest into one repo. See the [module docs](crate::ha) for the layout.
///
/// Members are named `<scope>-1`, `<scope>-2`, ... (Pigsty's instance names); the scope is the
/// pgBackRest stanza. Methods take member names and panic, naming the member and showing its
/// logs, when a member is unknown or does not reach the state waited for.
#[derive(Debug)]
pub struct PatroniCluster {
    pub(super) scope: String,
    root: PathBuf,
    shared: Shared,
    pub(super) members: Vec<Member>,
    etcd: Etcd,
    /// `None` once the directory has been handed over (kept on disk).
    dir: Option<TempDir>,
    /// Freed last, when everything else is gone.
    _slot: ClusterSlot,
}

impl PatroniCluster {
    /// Settings for a cluster named after `name` (letters, digits and `-`; at most 20
    /// characters), which becomes the scope and stanza.
    pub fn builder(name: &str) -> PatroniBuilder {
        PatroniBuilder {
            name: name.to_owned(),
            members: 2,
            archive_mode: "on".to_owned(),
            repos: None,
            failsafe_mode: true,
            role_change_callback: false,
            rest_auth: None,
        }
    }

    /// Starts member `index` for the first time and waits until it leads (the first member) or
    /// streams from the leader; on a taken port, sets it up again on other ports.
    fn bring_up(&mut self, index: usize) {
        for attempt in 1..=PORT_ATTEMPTS {
            let member = &mut self.members[index];
            let logs = [member.patroni_log(), member.postgres_log()];
            let offsets = logs.clone().map(|p| fs::metadata(p).map_or(0, |m| m.len()));
            member.spawn_patroni();
            let name = member.name().to_owned();
            let port_taken = || {
                logs.iter().zip(offsets).any(|(path, offset)| {
                    let text = fs::read(path).unwrap_or_default();
                    let start = usize::try_from(offset).unwrap_or(0).min(text.len());
                    String::from_utf8_lossy(&text[start..]).contains("Address already in use")
                })
            };
            let deadline = Instant::now() + MEMBER_READY;
            let failure = loop {
                let up = if index == 0 {
                    self.members[0].role() == Role::Leader
                } else {
                    self.streaming_state(&name).is_ok()
                };
                if up {
                    return;
                }
                if port_taken() {
                    break "hit a taken port";
                }
                if !self.members[index].is_patroni_running() {
                    break "saw its Patroni exit";
                }
                if Instant::now() > deadline {
                    break "timed out";
                }
                std::thread::sleep(POLL);
            };
            if port_taken() && attempt < PORT_ATTEMPTS {
                let member = &mut self.members[index];
                eprintln!(
                    "member {name}: port {} or {} taken, setting it up again on other ports",
                    member.pg_port(),
                    member.rest_port()
                );
                member.kill_all();
                let _ = fs::remove_dir_all(member.data_dir());
                member.new_ports();
                member.configure(&self.shared);
                continue;
            }
            let what = if index == 0 {
                "did not bootstrap and lead".to_owned()
            } else {
                format!(
                    "did not become a streaming replica ({})",
                    self.streaming_state(&name).err().unwrap_or_default()
                )
            };
            panic!(
                "member {name} of cluster {} {what}: {failure} (waiting at most \
                 {MEMBER_READY:?})\n{}",
                self.scope,
                self.members[index].log_tails()
            );
        }
    }

    /// The member called `name`.
    ///
    /// # Panics
    ///
    /// When there is none; the message lists the members.
    pub fn member(&self, name: &str) -> &Member {
        self.members
            .iter()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| {
                panic!(
                    "no member {name:?} in cluster {}: {:?}",
                    self.scope,
                    self.names()
                )
            })
    }

    fn member_mut(&mut self, name: &str) -> &mut Member {
        let names = self.names();
        let scope = self.scope.clone();
        self.members
            .iter_mut()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("no member {name:?} in cluster {scope}: {names:?}"))
    }

    /// Every member, in order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The names of the members, in order.
    pub fn names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.name().to_owned()).collect()
    }

    /// The name of member `index` (0-based): `<scope>-<index + 1>`.
    pub fn name_of(&self, index: usize) -> String {
        self.members
            .get(index)
            .unwrap_or_else(|| panic!("cluster {} has no member #{index}", self.scope))
            .name()
            .to_owned()
    }

    /// The member whose REST API answers `GET /primary` with 200, if any.
    pub fn leader(&self) -> Option<String> {
        self.members
            .iter()
            .find(|m| m.rest_status("/primary") == Some(200))
            .map(|m| m.name().to_owned())
    }

    /// Waits until a member leads, and returns its name.
    ///
    /// # Panics
    ///
    /// When none does within a minute; the message shows every member's logs.
    pub fn wait_for_leader(&self) -> String {
        poll_until(LEADER_CHANGE, || self.leader()).unwrap_or_else(|| {
            panic!(
                "no leader in cluster {} after {LEADER_CHANGE:?}\n{}",
                self.scope,
                self.all_log_tails()
            )
        })
    }

    /// Waits until `name` leads.
    ///
    /// # Panics
    ///
    /// When it does not within a minute.
    pub fn wait_leader_is(&self, name: &str) {
        let member = self.member(name);
        if poll_until(LEADER_CHANGE, || {
            (member.role() == Role::Leader).then_some(())
        })
        .is_none()
        {
            panic!(
                "member {name} does not lead cluster {} after {LEADER_CHANGE:?} (leader: {:?})\n{}",
                self.scope,
                self.leader(),
                self.all_log_tails()
            );
        }
    }

    /// Why `name` is not (yet) a streaming replica of the current leader with zero lag, or `Ok`.
    fn streaming_state(&self, name: &str) -> Result<(), String> {
        let leader = self.leader().ok_or("there is no leader")?;
        if leader == name {
            return Err(format!("{name} is the leader"));
        }
        let role = self.member(name).role();
        if role != Role::Replica {
            return Err(format!(
                "Patroni reports {name} as {role:?}, not as a replica"
            ));
        }
        let sql = format!(
            "SELECT state, replay_lsn = pg_current_wal_lsn() FROM pg_stat_replication \
             WHERE application_name = '{}'",
            name.replace('\'', "''")
        );
        let row = self.member(&leader).try_psql(&sql)?;
        if row == "streaming|t" {
            Ok(())
        } else if row.is_empty() {
            Err(format!(
                "leader {leader} has no replication connection from {name}"
            ))
        } else {
            Err(format!(
                "leader {leader} sees {name} as (state, caught up) = {row:?}"
            ))
        }
    }

    /// Waits until `name` is a replica for Patroni (`GET /replica` answers 200), streams from the
    /// current leader and has replayed all of its WAL (`pg_stat_replication` on the leader:
    /// `state = streaming`, `replay_lsn = pg_current_wal_lsn()`).
    ///
    /// # Panics
    ///
    /// When it does not within two minutes; the message says what was seen last.
    pub fn wait_streaming(&self, name: &str) {
        self.member(name);
        let streaming = poll_until(MEMBER_READY, || self.streaming_state(name).ok());
        assert!(
            streaming.is_some(),
            "member {name} of cluster {} is not a streaming replica with zero lag after \
             {MEMBER_READY:?}: {}\n{}",
            self.scope,
            self.streaming_state(name).err().unwrap_or_default(),
            self.all_log_tails()
        );
    }

    /// The timeline the current leader writes (from the name of its current WAL file), if
    /// there is a leader.
    pub fn timeline(&self) -> Option<u32> {
        let leader = self.leader()?;
        let file = self
            .member(&leader)
            .try_psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
            .ok()?;
        u32::from_str_radix(file.get(..8)?, 16).ok()
    }

    /// Waits until the leader writes timeline `timeline`.
    ///
    /// # Panics
    ///
    /// When it does not within a minute, or the timeline goes past it.
    pub fn wait_timeline(&self, timeline: u32) {
        let seen = poll_until(LEADER_CHANGE, || self.timeline().filter(|&t| t >= timeline));
        assert!(
            seen == Some(timeline),
            "cluster {} is on timeline {:?}, expected {timeline}\n{}",
            self.scope,
            seen.or_else(|| self.timeline()),
            self.all_log_tails()
        );
    }

    /// `GET /cluster` from the first member that answers: members, roles, states, timelines,
    /// lags.
    pub fn cluster_state(&self) -> Option<Value> {
        self.members.iter().find_map(|m| {
            let (status, body) = m.rest("GET", "/cluster", None)?;
            (status == 200).then(|| serde_json::from_str(&body).ok())?
        })
    }

    /// A switchover through the leader's REST API (`POST /switchover` with `leader` and
    /// `candidate`); returns when `candidate` leads.
    ///
    /// # Panics
    ///
    /// When Patroni refuses (the message quotes its answer) or `candidate` does not lead.
    pub fn switchover(&self, leader: &str, candidate: &str) {
        let body = serde_json::json!({"leader": leader, "candidate": candidate}).to_string();
        let answer = self.member(leader).rest_with_timeout(
            "POST",
            "/switchover",
            Some(&body),
            SWITCHOVER_TIMEOUT,
        );
        match answer {
            Some((200, _)) => {}
            other => panic!(
                "switchover {leader} -> {candidate} in cluster {} refused: {other:?}\n{}",
                self.scope,
                self.all_log_tails()
            ),
        }
        self.wait_leader_is(candidate);
    }

    /// Kills member `name` like a power loss of its node: `SIGKILL` to its Patroni process group,
    /// its postmaster (`postmaster.pid`) and every other process of the member. When it led, the
    /// others fail over once its leader key expires (about `ttl` seconds). Bring it back with
    /// [`PatroniCluster::start_member`].
    pub fn failover_kill(&mut self, name: &str) {
        self.member_mut(name).kill_all();
    }

    /// Starts the Patroni of member `name` again (after [`PatroniCluster::failover_kill`] or
    /// [`PatroniCluster::stop_member`]); Patroni recovers, rewinds or re-clones it. Wait for it
    /// with [`PatroniCluster::wait_streaming`].
    ///
    /// # Panics
    ///
    /// When its Patroni still runs.
    pub fn start_member(&mut self, name: &str) {
        self.member_mut(name).spawn_patroni();
    }

    /// Stops member `name` cleanly: `SIGTERM` to Patroni, which shuts PostgreSQL down (a leader
    /// hands its key over); kills what is left after a minute.
    pub fn stop_member(&mut self, name: &str) {
        self.member_mut(name).stop_patroni(STOP_TIMEOUT);
    }

    /// Makes the Patroni of member `name` read its `patroni.yml` again (`SIGHUP`), e.g. after
    /// a test changed its `restapi` section; Patroni applies it in its next loop.
    ///
    /// # Panics
    ///
    /// When that Patroni does not run.
    pub fn reload_member(&mut self, name: &str) {
        assert!(
            self.member_mut(name).reload_patroni(),
            "member {name}: Patroni does not run, nothing to reload"
        );
    }

    /// Sets or removes Patroni's `on_role_change` callback (see
    /// [`PatroniBuilder::role_change_callback`]) in every member's `patroni.yml`, and has each
    /// running member reload it (`POST /reload`; Patroni applies it within a `loop_wait`).
    ///
    /// # Panics
    ///
    /// When a running member refuses the reload.
    pub fn set_role_change_callback(&mut self, on: bool) {
        self.shared.role_change_callback = on;
        for member in &self.members {
            member.write_patroni_yml(&self.shared);
        }
        let running: Vec<String> = self
            .members
            .iter_mut()
            .filter_map(|m| m.is_patroni_running().then(|| m.name().to_owned()))
            .collect();
        for name in running {
            let member = self.member(&name);
            let answer = member.rest("POST", "/reload", None);
            assert!(
                matches!(answer, Some((200 | 202, _))),
                "member {name} refused POST /reload: {answer:?}\n{}",
                member.log_tails()
            );
        }
        // Patroni reads the file in its next HA loop.
        std::thread::sleep(std::time::Duration::from_secs(u64::from(
            2 * super::LOOP_WAIT,
        )));
    }

    /// Pauses Patroni's automatic failover (`PATCH /config {"pause": true}`) and waits until
    /// every running member reports it.
    ///
    /// # Panics
    ///
    /// When no member accepts the change or a member does not report it within a minute.
    pub fn pause(&mut self) {
        self.set_pause(true);
    }

    /// Resumes automatic failover (`PATCH /config {"pause": false}`) and waits until every
    /// running member reports it.
    ///
    /// # Panics
    ///
    /// As [`PatroniCluster::pause`].
    pub fn resume(&mut self) {
        self.set_pause(false);
    }

    fn set_pause(&mut self, pause: bool) {
        let body = serde_json::json!({"pause": pause}).to_string();
        let accepted = self
            .members
            .iter()
            .filter_map(|m| m.rest("PATCH", "/config", Some(&body)))
            .find(|(status, _)| *status == 200);
        assert!(
            accepted.is_some(),
            "no member of cluster {} accepted PATCH /config {body}\n{}",
            self.scope,
            self.all_log_tails()
        );
        let running: Vec<String> = self
            .members
            .iter_mut()
            .filter_map(|m| m.is_patroni_running().then(|| m.name().to_owned()))
            .collect();
        for name in running {
            let member = self.member(&name);
            let reported = poll_until(LEADER_CHANGE, || {
                let state = member.patroni_state()?;
                (state.get("pause").and_then(Value::as_bool).unwrap_or(false) == pause)
                    .then_some(())
            });
            assert!(
                reported.is_some(),
                "member {name} does not report pause = {pause} after {LEADER_CHANGE:?}\n{}",
                member.log_tails()
            );
        }
    }

    /// The scope: Patroni's cluster name and the pgBackRest stanza (`pg_cluster`).
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// A member of a new cluster `scope` beside this one (the same etcd and repos), with its
    /// directories, spec, pgbackrest.conf (stanza `scope`) and `patroni.yml` (scope `scope`)
    /// written and nothing started: what a restore into a new cluster brings up. It lives in
    /// this cluster's directory, and whatever runs there is killed with the cluster.
    pub fn new_cluster_member(&self, scope: &str) -> Member {
        let member = Member::new(&self.root, scope, 1, self.shared.rest_auth.clone());
        member.configure(&Shared {
            scope: scope.to_owned(),
            ..self.shared.clone()
        });
        member
    }

    /// The cluster's temporary directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The default local repo, `<root>/repo` (unused when [`PatroniBuilder::repos`] was given).
    pub fn repo_dir(&self) -> PathBuf {
        self.root.join("repo")
    }

    /// The DCS.
    pub fn etcd(&self) -> &Etcd {
        &self.etcd
    }

    /// The DCS, to stop and start it again ([`Etcd::stop`], [`Etcd::start_again`]).
    pub fn etcd_mut(&mut self) -> &mut Etcd {
        &mut self.etcd
    }

    /// Every member's log tails.
    pub fn all_log_tails(&self) -> String {
        self.members
            .iter()
            .map(Member::log_tails)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for PatroniCluster {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if panicking {
            eprintln!(
                "--- Patroni cluster {} ({}), GET /cluster: {} ---",
                self.scope,
                self.root.display(),
                self.cluster_state()
                    .map_or_else(|| "no answer".to_owned(), |v| v.to_string())
            );
        }
        for member in &mut self.members {
            member.kill_all();
        }
        // And whatever else runs in the cluster's directory (a member of a new cluster
        // restored beside this one, see `new_cluster_member`).
        let survivors = kill_processes_of(&self.root);
        if !survivors.is_empty() {
            eprintln!(
                "Patroni cluster {}: processes survive SIGKILL: {survivors:?}",
                self.scope
            );
        }
        if panicking {
            // etcd prints the tail of its own log when it is dropped right after this.
            eprintln!("{}", self.all_log_tails());
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.keep();
            if std::env::var_os(KEEP_DIRS_ENV).is_some_and(|v| !v.is_empty()) {
                unmark_owner(&path);
                eprintln!(
                    "Patroni cluster {}: kept {} ({KEEP_DIRS_ENV} is set)",
                    self.scope,
                    path.display()
                );
            } else {
                remove_dir_patiently(&path, &format!("Patroni cluster {}", self.scope));
            }
        }
    }
}
