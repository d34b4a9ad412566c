//! The archive of a [`PatroniCluster`]: blocking a member's archiving, and what reached the
//! repo.

use std::fs;

use serde_json::Value;

use super::{LEADER_CHANGE, PatroniCluster, poll_until};
use crate::user::write_file_as_postgres;

impl PatroniCluster {
    /// Runs `pgbackrest stanza-create` on the leader. PostgreSQL archives from the moment
    /// Patroni bootstraps it, so pgBackRest's asynchronous archive-push (failing until the
    /// stanza exists) may hold the archive lock for a moment: a lock error (`[050]`) is retried
    /// for up to a minute.
    ///
    /// # Panics
    ///
    /// When there is no leader or stanza-create fails otherwise.
    pub fn stanza_create(&self) {
        let leader = self.wait_for_leader();
        let member = self.member(&leader);
        let mut last = String::new();
        let created = poll_until(LEADER_CHANGE, || {
            let out = member.pgbackrest(&["stanza-create"]);
            if out.status.success() {
                return Some(true);
            }
            last = crate::pitr::output_text(&out);
            (!last.contains("[050]")).then_some(false)
        });
        assert!(
            created == Some(true),
            "pgbackrest stanza-create on leader {leader} failed:\n{last}"
        );
    }

    /// Makes member `name`'s `archive_command` fail (like an unreachable repo) until
    /// [`PatroniCluster::unblock_archiving`]. PostgreSQL keeps the segments in `pg_wal` and
    /// retries (three times, then after a minute or at the next finished segment).
    ///
    /// The gate stops PostgreSQL's calls only: with `archive-async` (pitr renders it), the
    /// asynchronous pgBackRest process of an earlier call may still push segments that were
    /// `.ready` when it started. Block after `pg_stat_archiver.last_archived_wal` has caught up
    /// to be sure that what comes next stays out of the repo.
    pub fn block_archiving(&self, name: &str) {
        let flag = self.member(name).block_flag();
        write_file_as_postgres(&flag, "blocked by the test\n", 0o644);
    }

    /// Lets member `name` archive again; PostgreSQL's next retry succeeds.
    ///
    /// # Panics
    ///
    /// When the flag cannot be removed.
    pub fn unblock_archiving(&self, name: &str) {
        let flag = self.member(name).block_flag();
        match fs::remove_file(&flag) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot remove {}: {e}", flag.display()),
        }
    }

    /// The WAL files in the repo for the stanza (`pgbackrest repo-ls archive/<stanza>
    /// --recurse`, with the first member's configuration, so any repo type works), as PostgreSQL
    /// names them: `000000020000000000000005`, `000000010000000000000004.partial`,
    /// `00000002.history`; sorted.
    ///
    /// # Panics
    ///
    /// When pgBackRest fails.
    pub fn archived_wal(&self) -> Vec<String> {
        self.archived_wal_of(&self.scope)
    }

    /// [`PatroniCluster::archived_wal`] of another stanza in the same repo (a cluster restored
    /// beside this one).
    ///
    /// # Panics
    ///
    /// When pgBackRest fails.
    pub fn archived_wal_of(&self, stanza: &str) -> Vec<String> {
        let path = format!("archive/{stanza}");
        let out = self.members[0].pgbackrest_ok(&["repo-ls", &path, "--recurse", "--output=json"]);
        let listing: serde_json::Map<String, Value> = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("repo-ls printed no JSON object ({e}):\n{out}"));
        let mut names: Vec<String> = listing
            .iter()
            .filter(|(_, entry)| entry.get("type").and_then(Value::as_str) == Some("file"))
            .filter_map(|(path, _)| {
                let file = path.rsplit('/').next()?;
                let name = file.split('-').next()?;
                let is_wal = name.len() >= 24 && name[..24].bytes().all(|b| b.is_ascii_hexdigit());
                let is_history = name.len() == 16
                    && name.ends_with(".history")
                    && name[..8].bytes().all(|b| b.is_ascii_hexdigit());
                (is_wal || is_history).then(|| name.to_owned())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Waits until `wal` (as [`PatroniCluster::archived_wal`] names it) is in the repo.
    ///
    /// # Panics
    ///
    /// When it is not within a minute; the message shows every member's logs.
    pub fn wait_archived(&self, wal: &str) {
        let archived = poll_until(LEADER_CHANGE, || {
            self.archived_wal().iter().any(|w| w == wal).then_some(())
        });
        assert!(
            archived.is_some(),
            "{wal} is not in the archive of {} after {LEADER_CHANGE:?}\n{}",
            self.scope,
            self.all_log_tails()
        );
    }

    /// `pgbackrest info --output=json` for the stanza (first member's configuration), parsed.
    ///
    /// # Panics
    ///
    /// When pgBackRest fails or prints no JSON.
    pub fn info(&self) -> Value {
        let out = self.members[0].pgbackrest_ok(&["info", "--output=json"]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("info printed no JSON ({e}):\n{out}"))
    }
}
