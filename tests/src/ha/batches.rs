//! Known rows and target times on a member: what the HA restore tests write and restore to.

use super::{Member, PatroniCluster};
use crate::pitr::{output_text, tick};

impl Member {
    /// Inserts batch `n` into table `t (id int, batch int)`: ten rows
    /// `((n-1)*10+1 .. n*10, n)`.
    pub fn insert_batch(&self, n: u32) {
        self.psql(&format!(
            "INSERT INTO t SELECT g, {n} FROM generate_series({}, {}) g",
            (n - 1) * 10 + 1,
            n * 10
        ));
    }

    /// The member's clock now, in UTC, as a target time; waits a tick after it, so a later
    /// commit is after the target.
    pub fn clock_now(&self) -> String {
        let t = self.psql(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')",
        );
        tick();
        t
    }
}

impl PatroniCluster {
    /// The history the HA restore tests start from, on a two-member cluster whose first member
    /// leads: the stanza, a full backup (`pitr backup full` on the first member), table `t`
    /// with batch 1, a target time, batch 2; a switchover to the second member (timeline 2),
    /// each member streaming; batch 3 on the new leader. Returns the time between batches 1
    /// and 2.
    ///
    /// # Panics
    ///
    /// When a step fails; the message says which.
    pub fn history_with_switchover(&self) -> String {
        let (a, b) = (self.name_of(0), self.name_of(1));
        self.stanza_create();
        let out = self.member(&a).pitr(&["backup", "full"]);
        assert!(out.status.success(), "{}", output_text(&out));
        self.member(&a).psql("CREATE TABLE t (id int, batch int)");
        tick();
        self.member(&a).insert_batch(1);
        let t_before_switchover = self.member(&a).clock_now();
        self.member(&a).insert_batch(2);
        self.wait_streaming(&b);
        self.switchover(&a, &b);
        self.wait_timeline(2);
        self.wait_streaming(&a);
        tick();
        self.member(&b).insert_batch(3);
        t_before_switchover
    }
}
