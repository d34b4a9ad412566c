//! A clone's server: what `pitr restore --data DIR --port P` starts beside a cluster, stopped
//! when the test ends however it ends.

use std::path::PathBuf;

use crate::cluster::psql_at;
use crate::tools::pg_bin;
use crate::user::cmd_as_postgres;

/// A restore target beside a cluster: a data directory, the socket directory its server
/// listens in, and a port.
#[derive(Debug)]
pub struct CloneServer {
    /// The clone's data directory (created by the restore).
    pub data: PathBuf,
    /// Where its server listens (the source's `unix_socket_directories`).
    pub socket_dir: PathBuf,
    /// Its port.
    pub port: u16,
}

impl CloneServer {
    /// `--data DIR --port P`, for `pitr restore`.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--data".into(),
            self.data.display().to_string(),
            "--port".into(),
            self.port.to_string(),
        ]
    }

    /// Runs `sql` on the clone's `postgres` database.
    ///
    /// # Panics
    ///
    /// When psql fails.
    pub fn psql(&self, sql: &str) -> String {
        psql_at(&self.socket_dir, self.port, "postgres", sql)
            .unwrap_or_else(|e| panic!("clone psql {sql:?}: {e}"))
    }

    /// Stops the clone's server (`-m immediate`), if one runs.
    pub fn stop(&self) {
        if self.data.join("postmaster.pid").exists() {
            let _ = cmd_as_postgres(pg_bin("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

impl Drop for CloneServer {
    fn drop(&mut self) {
        self.stop();
    }
}
