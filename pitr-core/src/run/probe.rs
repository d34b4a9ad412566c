//! Asking PostgreSQL over its unix socket, with tokio-postgres.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub use crate::recovery::ReplayState;
use tokio_postgres::{Client, NoTls};

use crate::error::{Error, Result};
use crate::marks::MarkRecord;
use crate::names::{RestorePointName, TimelineId};

/// How to reach a local PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Endpoint {
    /// Unix socket directory.
    pub socket_dir: PathBuf,
    /// Port.
    pub port: u16,
    /// Database user.
    pub user: String,
}

impl Endpoint {
    /// The node's PostgreSQL: its socket directory and port, as its database superuser.
    pub fn of(node: &crate::node::Node) -> Endpoint {
        Endpoint {
            socket_dir: node.socket_dir.to_path_buf(),
            port: node.port,
            user: node.dbsu.clone(),
        }
    }

    /// `socket <dir> port <n>`, for messages.
    pub fn describe(&self) -> String {
        format!("socket {} port {}", self.socket_dir.display(), self.port)
    }

    fn db_error(&self, message: impl std::fmt::Display) -> Error {
        Error::Database {
            endpoint: self.describe(),
            message: message.to_string(),
        }
    }

    /// Connects (bounded by `timeout`); the connection is driven on the current runtime.
    pub async fn connect(&self, timeout: Duration) -> Result<Client> {
        self.connect_to("postgres", timeout).await
    }

    /// Connects to database `db` (bounded by `timeout`).
    pub async fn connect_to(&self, db: &str, timeout: Duration) -> Result<Client> {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.socket_dir)
            .port(self.port)
            .user(&self.user)
            .dbname(db)
            .application_name("pitr")
            .connect_timeout(timeout);
        let (client, connection) = tokio::time::timeout(timeout, config.connect(NoTls))
            .await
            .map_err(|_| self.db_error("connection timed out"))?
            .map_err(|e| self.db_error(pg_message(&e)))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// Runs `f` with a fresh connection on a private single-threaded runtime.
    pub fn with_client<T, F>(&self, f: F) -> Result<T>
    where
        F: AsyncFnOnce(&Client) -> Result<T>,
    {
        block_on(async {
            let client = self.connect(Duration::from_secs(10)).await?;
            f(&client).await
        })
    }

    /// Runs SQL with the simple query protocol and returns every row as text (NULL as `None`).
    pub fn simple_query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        self.with_client(async |c: &Client| {
            let messages = c
                .simple_query(sql)
                .await
                .map_err(|e| self.db_error(pg_message(&e)))?;
            Ok(messages
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_owned))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect())
        })
    }

    /// The first column of the first row of `sql`, as text.
    pub fn query_value(&self, sql: &str) -> Result<String> {
        self.simple_query(sql)?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten())
            .ok_or_else(|| self.db_error(format!("no value from: {sql}")))
    }

    /// Whether the server is a standby (`pg_is_in_recovery()`).
    pub fn is_in_recovery(&self) -> Result<bool> {
        self.with_client(async |c: &Client| {
            let row = c
                .query_one("SELECT pg_is_in_recovery()", &[])
                .await
                .map_err(|e| self.db_error(pg_message(&e)))?;
            Ok(row.get(0))
        })
    }

    /// Creates a restore point and forces a WAL switch so it reaches the archive soon.
    pub fn create_restore_point(&self, name: &RestorePointName) -> Result<MarkRecord> {
        self.with_client(async |c: &Client| {
            let row = c
                .query_one(
                    "SELECT pg_create_restore_point($1)::text, \
                     substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8), \
                     extract(epoch from clock_timestamp())::float8",
                    &[&name.as_str()],
                )
                .await
                .map_err(|e| self.db_error(pg_message(&e)))?;
            c.execute("SELECT pg_switch_wal()", &[])
                .await
                .map_err(|e| self.db_error(pg_message(&e)))?;
            let lsn: String = row.get(0);
            let tli: String = row.get(1);
            let epoch: f64 = row.get(2);
            let timeline = u32::from_str_radix(&tli, 16)
                .ok()
                .and_then(|t| TimelineId::new(t).ok())
                .ok_or_else(|| self.db_error(format!("unexpected WAL file name prefix '{tli}'")))?;
            Ok(MarkRecord {
                name: name.clone(),
                lsn: lsn.parse()?,
                timeline,
                time: jiff::Timestamp::from_microsecond((epoch * 1e6) as i64)
                    .map_err(|e| self.db_error(e))?,
            })
        })
    }

    /// The replay position and state of a server in (or just out of) recovery.
    pub async fn replay_state(&self, client: &Client) -> Result<ReplayState> {
        let row = client
            .query_one(
                "SELECT pg_is_in_recovery(), \
                 CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END, \
                 pg_last_wal_replay_lsn()::text, \
                 extract(epoch from pg_last_xact_replay_timestamp())::float8, \
                 substr(pg_walfile_name(CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() END), 1, 8)",
                &[],
            )
            .await
            .map_err(|e| self.db_error(pg_message(&e)))?;
        let lsn: Option<String> = row.get(2);
        let epoch: Option<f64> = row.get(3);
        let tli: Option<String> = row.get(4);
        Ok(ReplayState {
            in_recovery: row.get(0),
            pause_state: row.get(1),
            replay_lsn: lsn.map(|l| l.parse()).transpose()?,
            last_replayed_commit: epoch
                .and_then(|e| jiff::Timestamp::from_microsecond((e * 1e6) as i64).ok()),
            timeline: tli
                .and_then(|t| u32::from_str_radix(&t, 16).ok())
                .and_then(|t| TimelineId::new(t).ok()),
        })
    }
}

/// The server's own words for a failure (message and detail), not the driver's wrapper.
fn pg_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return match db.detail() {
            Some(d) => format!("{} ({d})", db.message()),
            None => db.message().to_owned(),
        };
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Runs a future to completion on a private single-threaded runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime can always be built")
        .block_on(f)
}
