//! End-to-end test harness for pitr: throwaway PostgreSQL 15 clusters and real pgBackRest.
//!
//! The fixture owns everything a test touches, in the spirit of ripgrep's `tests/util.rs`
//! (`Dir` / `TestCommand`): a [`TestCluster`] is a private temporary directory
//! (`$TMPDIR/pitr-e2e-<name>-<random>/`) owned by the `postgres` OS user, holding
//!
//! | path | what |
//! |---|---|
//! | `data/` | the data directory (`initdb -A trust -U postgres`) |
//! | `sock/` | the only place the server listens (`listen_addresses = ''`) |
//! | `log/` | `postgres.log` (server) and `pg_ctl.log` |
//! | `repo/`, `spool/`, `lock/`, `pgbackrest-log/` | a local pgBackRest repository and its working paths |
//!
//! Dropping the cluster stops the server (`-m immediate`) and removes the directory, unless the
//! environment variable `PITR_KEEP_TEST_DIRS` is set: then the directory is kept and its path
//! printed. When a test panics, the tail of the server log is printed too.
//!
//! # Running as `postgres`
//!
//! `initdb` refuses to run as root, so every PostgreSQL and pgBackRest process is started through
//! [`cmd_as_postgres`]: an argv vector whose child switches to the `postgres` uid/gid before
//! `exec` (no `sh -c`, no `su`). When the test process already is `postgres`, nothing is
//! switched; any other non-root user is refused with a clear message. The child gets
//! `HOME=~postgres`, the working directory `/`, and no inherited `PG*` variables, so a
//! developer's `PGHOST` or `PGBACKREST_*` cannot leak into a test.
//!
//! # Missing prerequisites fail, never skip
//!
//! [`pg_bin_dir`] and [`pgbackrest_bin`] panic with a message that says to run `make setup` when
//! PostgreSQL 15 or pgBackRest is not installed. No test is ever skipped silently.
//!
//! # Parallel tests
//!
//! Tests in one binary run in parallel. Each cluster has its own directory, socket directory,
//! pgBackRest lock and log paths, and its own port (a per-process counter starting from a base
//! derived from the process id, skipping ports that look busy), so they do not collide.
//!
//! # High availability: Patroni and etcd
//!
//! [`ha`] runs a real Patroni 3.0 cluster on etcd 3.4 ([`PatroniCluster`], [`Etcd`]): members on
//! loopback ports, each with its own cluster spec and pgbackrest.conf rendered by `pitr`, all
//! archiving into one repo (local, or [`S3Server`]); switchover through the REST API, failover by
//! `kill -9`, pause, the DCS taken away, a member's archiving blocked, Patroni's
//! `on_role_change` callback set to what `pitr render --what patroni-callback` writes. At most
//! [`ha::MAX_CLUSTERS`] clusters run at once per test process. `tests/tests/ha_harness.rs` shows
//! each of these and prints how long they take.
//!
//! # Example
//!
//! ```no_run
//! use pitr_tests::{TestCluster, pgbackrest_ok};
//!
//! let mut pg = TestCluster::init("example");
//! pg.append_conf("max_connections = 20");
//! pg.start_server();
//! pg.psql("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)");
//! assert_eq!(pg.psql("SELECT count(*) FROM t"), "2");
//!
//! let conf = pg.write_local_pgbackrest_conf("demo", "");
//! pg.enable_archiving(&conf, "demo"); // restarts the server
//! pgbackrest_ok(&conf, &["--stanza=demo", "stanza-create"]);
//! pgbackrest_ok(&conf, &["--stanza=demo", "backup", "--type=full"]);
//! // `pg` is stopped and its directory removed when it goes out of scope.
//! ```

// The harness builds its fixtures as root in private temporary directories it creates itself.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod clone;
mod cluster;
pub mod exporter;
mod fingerprint;
pub mod ha;
mod pitr;
mod s3;
mod tools;
mod user;

pub use clone::CloneServer;
pub use cluster::{KEEP_DIRS_ENV, TestCluster, psql_at};
pub use fingerprint::{dir_fingerprint, files_under};
pub use ha::{Etcd, Member, PatroniBuilder, PatroniCluster, Role, free_port};
pub use pitr::{
    Stanza, create_padded_tables, log_since, output_text, pitr, pitr_bin, pitr_ok,
    server_log_records, tick,
};
pub use s3::{S3_REGION, S3Server};
pub use tools::{pg_bin, pg_bin_dir, pgbackrest, pgbackrest_bin, pgbackrest_ok, venv_python};
pub use user::{
    DbUser, chown_to_postgres, cmd_as_postgres, mkdir_as_postgres, write_file_as_postgres,
};
