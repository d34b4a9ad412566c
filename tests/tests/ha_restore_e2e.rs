//! Timeline-aware restores from the archive of a real Patroni cluster (Patroni 3.0, etcd 3.4,
//! PostgreSQL 15, pgBackRest 2.45, one shared posix repo):
//!
//! ```text
//! timeline 1 (a leads)   full backup; batches 1, 2          t_before_switchover after 1
//! switchover a -> b      timeline 2; batches 3, 4           t_between after 3
//! b's archiving blocked  batches 5, 6; WAL switched, streamed to a, never archived by b
//! kill -9 of b           a leads on timeline 3: a hole in timeline 2's archive
//! pitr continuity on a   the hole closed from a's pg_wal    t_in_hole after 5
//! timeline 3             batches 7, 8                       t_after_failover after 7
//! ```
//!
//! Each target is restored into a scratch directory beside the cluster (a clone: archiving
//! off) and lands on exactly the expected batches, pitr choosing the timeline; an explicit old
//! timeline with a target after its hand-over is refused before anything is touched; and the
//! repo lists exactly the same files before and after the restores.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::process::Output;
use std::time::Duration;

use pitr_tests::ha::poll_until;
use pitr_tests::{CloneServer, PatroniCluster, free_port, output_text, tick};

/// `pitr check` on member `name` with its spec (which knows the harness's archive gate).
fn check(ha: &PatroniCluster, name: &str) -> Output {
    let spec = ha.member(name).spec_path();
    ha.member(name)
        .pitr(&["check", "--spec", spec.to_str().unwrap()])
}

#[test]
fn restores_land_on_the_timeline_that_was_live_across_switchover_failover_and_a_closed_hole() {
    let mut ha = PatroniCluster::builder("ha-restore").members(2).start();
    let (a, b) = (ha.name_of(0), ha.name_of(1));
    let t_before_switchover = ha.history_with_switchover();
    let t_between = ha.member(&b).clock_now();
    ha.member(&b).insert_batch(4);

    // b's last segments reach a by streaming only.
    let archived = ha.member(&b).switch_wal();
    ha.member(&b).wait_postgres_archived(&archived);
    ha.block_archiving(&b);
    ha.member(&b).insert_batch(5);
    let t_in_hole = ha.member(&b).clock_now();
    ha.member(&b).insert_batch(6);
    let unarchived = ha.member(&b).switch_wal();
    let failed = poll_until(Duration::from_secs(60), || {
        (ha.member(&b)
            .psql("SELECT last_failed_wal FROM pg_stat_archiver")
            == unarchived)
            .then_some(())
    });
    assert!(failed.is_some(), "{b} did not fail to archive {unarchived}");
    ha.wait_streaming(&a);
    ha.failover_kill(&b);
    ha.wait_leader_is(&a);
    ha.wait_timeline(3);
    assert!(
        !ha.archived_wal().contains(&unarchived),
        "{unarchived} was archived before the failover: no hole to close"
    );

    // The hole is named, then closed from a's pg_wal.
    let out = check(&ha, &a);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("check_wal_missing") && text.contains(&unarchived),
        "{text}"
    );
    let out = ha.member(&a).pitr(&["continuity"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(ha.archived_wal().contains(&unarchived));

    tick();
    ha.member(&a).insert_batch(7);
    let t_after_failover = ha.member(&a).clock_now();
    ha.member(&a).insert_batch(8);
    let last = ha.member(&a).switch_wal();
    ha.member(&a).wait_postgres_archived(&last);
    let out = check(&ha, &a);
    assert!(out.status.success(), "{}", output_text(&out));

    let listing_before = ha.archived_wal();
    let scratch = ha.root().join("scratch");
    let restore = |name: &str, target: &[&str]| -> (CloneServer, std::process::Output) {
        let clone = CloneServer {
            data: scratch.join(name),
            socket_dir: ha.member(&a).socket_dir(),
            port: free_port(),
        };
        let mut args = vec!["restore", "-y", "--action", "promote", "--archive", "off"];
        args.extend_from_slice(target);
        let clone_args = clone.args();
        args.extend(clone_args.iter().map(String::as_str));
        let out = ha.member(&a).pitr(&args);
        (clone, out)
    };
    // (name, target, batches, timeline chosen)
    let cases: [(&str, Vec<&str>, u32, &str); 5] = [
        (
            "before-switchover",
            vec!["-t", &t_before_switchover],
            1,
            "3",
        ),
        ("between", vec!["-t", &t_between], 3, "3"),
        ("in-hole", vec!["-t", &t_in_hole], 5, "3"),
        ("after-failover", vec!["-t", &t_after_failover], 7, "3"),
        ("latest", vec!["-d"], 8, "3"),
    ];
    for (name, target, batches, timeline) in cases {
        let mut dry = vec!["--json", "restore", "--dry-run"];
        dry.extend_from_slice(&target);
        let out = ha.member(&a).pitr(&dry);
        assert!(out.status.success(), "{name}: {}", output_text(&out));
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            plan["summary"]["timeline"], timeline,
            "{name}: {}",
            plan["summary"]
        );
        let (clone, out) = restore(name, &target);
        assert!(out.status.success(), "{name}: {}", output_text(&out));
        assert_eq!(
            clone.psql("SELECT count(*) || ' ' || max(batch) FROM t"),
            format!("{} {batches}", batches * 10),
            "{name}"
        );
        clone.stop();
    }

    // Timeline 1 was handed over at the switchover: a later target is not on its history.
    let (clone, out) = restore("refused", &["-t", &t_between, "--timeline", "1"]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("error[target_outside_window]")
            && text.contains("timeline 1 ended at")
            && text.contains("where timeline 2 took over"),
        "{text}"
    );
    assert!(
        !clone.data.exists(),
        "a refused restore created {}",
        clone.data.display()
    );

    // Restores read the archive and never write to it.
    assert_eq!(ha.archived_wal(), listing_before);
}
