//! A real Patroni cluster on this machine: [`Etcd`] (the DCS) and a [`PatroniCluster`] of
//! PostgreSQL 15 members that all archive into one pgBackRest repo.
//!
//! Nothing is mocked: Debian's `etcd` (3.4, Patroni's `etcd3` DCS) and `patroni` (3.0) run as
//! real processes on loopback ports, Patroni bootstraps the first member with `initdb` and clones
//! the others with `pg_basebackup`, switchovers go through Patroni's REST API and a failover is a
//! `kill -9` of a member's Patroni and PostgreSQL processes.
//!
//! # Layout
//!
//! A cluster lives in `$TMPDIR/pitr-ha-<name>-<random>/` (owned by `postgres`); etcd in its own
//! `$TMPDIR/pitr-etcd-<random>/`. The scope (Patroni's cluster name) is the pgBackRest stanza.
//!
//! | path | what |
//! |---|---|
//! | `repo/` | the shared local (posix) pgBackRest repo (unless the cluster uses other repos, e.g. [`S3Server`](crate::S3Server)) |
//! | `<scope>-<n>/` | member `n` (Pigsty's instance name `<pg_cluster>-<pg_seq>`), see below |
//!
//! | member path | what |
//! |---|---|
//! | `data/`, `sock/` | data directory and Unix socket directory |
//! | `patroni.yml` | Patroni's configuration (written as JSON, which YAML reads) |
//! | `spec.yml` | the member's Pigsty-style cluster spec for `pitr` (with `patroni_port`: roles come from its Patroni) |
//! | `pgbackrest.conf` | rendered from the spec by `pitr render`: own `pg1-*`, lock, spool and log paths, the shared repo |
//! | `bin/pgbackrest-gate` | what `archive_command` runs: pgBackRest, unless archiving is blocked |
//! | `log/patroni.log`, `log/postgresql.log` | Patroni's output and the server log |
//! | `spool/`, `lock/`, `pgbackrest-log/` | pgBackRest's working paths |
//!
//! # Processes and ports
//!
//! etcd, Patroni and PostgreSQL listen on `127.0.0.1` on ports the kernel hands out (never a
//! fixed port; a process-wide register never hands out one twice), and each member also on a
//! socket in its own directory. Patroni runs as `postgres` (switched in the child, like
//! [`cmd_as_postgres`](crate::cmd_as_postgres)) in its own process group; PostgreSQL's processes
//! are found by their working directory (the data directory) and command line. Dropping a
//! cluster kills everything it started and removes its directories (unless
//! `PITR_KEEP_TEST_DIRS` is set); when the test panicked it prints the tail of every member's
//! Patroni and server log and of etcd's log. Each directory names its test process in
//! `pitr-tests.owner`: the next test process that starts a cluster kills what is left of a run
//! that was killed itself (Ctrl-C) and removes its directories.
//!
//! Patroni's timing is short (`ttl` [`TTL`] s, `loop_wait` [`LOOP_WAIT`] s, `retry_timeout`
//! [`RETRY_TIMEOUT`] s), so a failover after `kill -9` takes about `ttl` seconds. At most
//! [`MAX_CLUSTERS`] clusters run at once in a test process; the others wait for a slot.
//!
//! # What the smoke tests (`tests/tests/ha_harness.rs`) pin
//!
//! - A switchover takes about 2 s, a failover after `kill -9` about `ttl`; a killed leader that
//!   restarts is crash-recovered and rewound by Patroni and streams again within seconds.
//! - With `archive_mode = on`, a segment the dying leader could not archive but had streamed is
//!   marked done on the replica and never archived by it. Patroni archives `.ready` segments of
//!   a rejoining old leader before crash recovery and `pg_rewind`, then clears
//!   `pg_wal/archive_status`: the hole closes only if that one attempt succeeds.
//! - `archive_mode = always` lets replicas archive what they receive, but pgBackRest 2.45
//!   refuses `check` and a backup's archive check with it (`[067]`).
//! - In failsafe mode (the default here, as in Pigsty) a leader keeps running through a DCS
//!   outage; without it, it demotes itself and the next leader promotes on a new timeline.
//!
//! # Example
//!
//! ```no_run
//! use pitr_tests::PatroniCluster;
//!
//! let mut ha = PatroniCluster::builder("ha-example").members(2).start();
//! let (a, b) = (ha.name_of(0), ha.name_of(1));
//! assert_eq!(ha.wait_for_leader(), a);
//! ha.stanza_create();
//! ha.member(&a).pgbackrest_ok(&["backup", "--type=full"]);
//!
//! ha.switchover(&a, &b);
//! ha.wait_timeline(2);
//! ha.failover_kill(&b); // `a` leads again after about `ttl` seconds, on timeline 3
//! ha.wait_timeline(3);
//! ha.start_member(&b);
//! ha.wait_streaming(&b);
//! ```

mod archive;
mod batches;
mod cluster;
mod config;
pub mod control;
mod etcd;
mod member;
mod procs;
mod rest;

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

pub use cluster::{PatroniBuilder, PatroniCluster};
pub use etcd::Etcd;
pub use member::{Member, Role};
pub(crate) use procs::{kill_processes_of, mark_owner, reap_orphans, unmark_owner};

/// Patroni's `ttl` (seconds): how long the leader key outlives a dead leader.
pub const TTL: u32 = 10;
/// Patroni's `loop_wait` (seconds) between two runs of its HA loop.
pub const LOOP_WAIT: u32 = 1;
/// Patroni's `retry_timeout` (seconds) for DCS and PostgreSQL operations.
pub const RETRY_TIMEOUT: u32 = 4;

/// How long a member may take to bootstrap, clone itself or rejoin.
pub(crate) const MEMBER_READY: Duration = Duration::from_secs(120);
/// How long a change of leader (switchover, failover) may take.
pub(crate) const LEADER_CHANGE: Duration = Duration::from_secs(60);
/// How often states are polled.
pub(crate) const POLL: Duration = Duration::from_millis(200);
/// Lines of each log printed when something fails.
pub(crate) const TAIL_LINES: usize = 30;

/// At most this many [`PatroniCluster`]s run at once in one test process; more wait for a free
/// slot. Three two-member clusters keep a loaded 2-core machine well inside Patroni's `ttl`.
pub const MAX_CLUSTERS: usize = 3;

/// A slot of [`MAX_CLUSTERS`], held by a running cluster and freed when dropped.
#[derive(Debug)]
pub(crate) struct ClusterSlot(());

impl ClusterSlot {
    /// Waits for a free slot; says so on stderr when that took a while.
    pub(crate) fn acquire(cluster: &str) -> ClusterSlot {
        let since = Instant::now();
        let mut taken = SLOTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *taken >= MAX_CLUSTERS {
            taken = SLOT_FREED
                .wait(taken)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *taken += 1;
        let waited = since.elapsed();
        if waited > Duration::from_secs(1) {
            eprintln!(
                "Patroni cluster {cluster}: waited {:.1} s for one of {MAX_CLUSTERS} cluster slots",
                waited.as_secs_f64()
            );
        }
        ClusterSlot(())
    }
}

impl Drop for ClusterSlot {
    fn drop(&mut self) {
        let mut taken = SLOTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *taken = taken.saturating_sub(1);
        SLOT_FREED.notify_one();
    }
}

static SLOTS: Mutex<usize> = Mutex::new(0);
static SLOT_FREED: Condvar = Condvar::new();

/// Panics, saying to run `make setup`, unless etcd, etcdctl, patroni and patronictl are
/// installed.
pub(crate) fn require_ha_tools() {
    for (tool, package) in pitr_core::run::ha::HA_TOOLS {
        ha_tool(tool, package);
    }
}

/// A loopback TCP port nothing listens on right now, never handed out before in this process,
/// and not the port of a PostgreSQL socket in the system socket directories
/// ([`pitr_core::run::ha::free_port`]).
///
/// # Panics
///
/// When the kernel hands out none.
pub fn free_port() -> u16 {
    pitr_core::run::ha::free_port()
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}

/// A Debian tool of the HA stack: on `PATH`, else in `/usr/bin`.
///
/// # Panics
///
/// When it is not installed: the message names the package and says to run `make setup`.
pub(crate) fn ha_tool(name: &str, package: &str) -> PathBuf {
    pitr_core::run::ha::ha_tool(name, package).unwrap_or_else(|_| {
        panic!(
            "{name} not found on PATH nor in /usr/bin; run `make setup` (installs the Debian \
             package {package})"
        )
    })
}

/// The last `lines` lines of a text file (read from at most its last 256 KiB), or a note that
/// it cannot be read.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    pitr_core::run::ha::tail(path, lines)
}

/// Calls `probe` every 200 ms until it returns `Some`, for at most `timeout`; `None` when time
/// ran out.
pub fn poll_until<T>(timeout: Duration, probe: impl FnMut() -> Option<T>) -> Option<T> {
    pitr_core::run::ha::poll_until(timeout, probe)
}

/// Removes a test directory, retrying for a few seconds: pgBackRest's asynchronous
/// archive-push may still write into a spool directory for a moment after a kill.
pub(crate) fn remove_dir_patiently(path: &Path, what: &str) {
    if let Err(e) = pitr_core::run::ha::remove_dir_patiently(path) {
        eprintln!("{what}: cannot remove {}: {e}", path.display());
    }
}
