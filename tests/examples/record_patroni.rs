//! Records what a real Patroni 3.0 REST API answers to `GET /primary` in the situations pitr's
//! role decision (`pitr_core::role`) must tell apart, as the fixtures of its unit tests:
//!
//! ```text
//! cargo run -p pitr-tests --example record_patroni -- pitr-core/tests/fixtures/patroni
//! ```
//!
//! One two-member cluster of `pitr_tests::ha` (Patroni's failsafe mode off at first) goes
//! through: a leader and a running replica; the DCS stopped until the leader has demoted itself
//! (no failsafe); the DCS back, failsafe mode switched on (`PATCH /config`) and the DCS stopped
//! again for longer than `ttl` (failsafe active on both members); the DCS back, Patroni paused
//! and the replica's PostgreSQL stopped (state `stopped`). Each file is
//! `{"situation", "member", "request", "status", "body"}`; the body of `GET /primary` is the
//! same document `GET /patroni` serves, and the status says whether the member holds the leader
//! lock.

// A recorder run by hand: a panic is its error report.
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use pitr_tests::ha::{RETRY_TIMEOUT, TTL, poll_until};
use pitr_tests::{PatroniCluster, Role, cmd_as_postgres, output_text, pg_bin};
use serde_json::{Value, json};

fn record(dir: &Path, file: &str, situation: &str, ha: &PatroniCluster, member: &str) {
    let (status, body) = ha
        .member(member)
        .rest("GET", "/primary", None)
        .unwrap_or_else(|| panic!("{member}: REST API does not answer"));
    let body: Value = serde_json::from_str(&body).unwrap();
    let doc = json!({
        "situation": situation,
        "member": member,
        "request": "GET /primary",
        "status": status,
        "body": body,
    });
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    eprintln!("{}: {status} {body}", path.display());
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: record_patroni DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ha = PatroniCluster::builder("rec-patroni")
        .failsafe_mode(false)
        .start();
    let (a, b) = (ha.name_of(0), ha.name_of(1));
    ha.wait_streaming(&b);
    record(&dir, "leader.json", "the leader, DCS up", &ha, &a);
    record(&dir, "replica.json", "a streaming replica, DCS up", &ha, &b);

    // The DCS goes away without failsafe mode: the leader demotes itself.
    ha.etcd_mut().stop();
    let demoted = poll_until(Duration::from_secs(60), || {
        let member = ha.member(&a);
        (member.role() != Role::Leader
            && member.try_psql("SHOW transaction_read_only").as_deref() == Ok("on"))
        .then_some(())
    });
    assert!(
        demoted.is_some(),
        "{a} did not demote\n{}",
        ha.all_log_tails()
    );
    record(
        &dir,
        "dcs-down-old-leader.json",
        "the DCS down without failsafe mode: the old leader, demoted",
        &ha,
        &a,
    );
    record(
        &dir,
        "dcs-down-replica.json",
        "the DCS down without failsafe mode: the replica",
        &ha,
        &b,
    );

    // The DCS back; failsafe mode on; the DCS away again for longer than ttl.
    ha.etcd_mut().start_again();
    let leader = ha.wait_for_leader();
    let replica = if leader == a { b.clone() } else { a.clone() };
    ha.wait_streaming(&replica);
    let body = json!({"failsafe_mode": true}).to_string();
    let (status, answer) = ha
        .member(&leader)
        .rest("PATCH", "/config", Some(&body))
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    std::thread::sleep(Duration::from_secs(3));
    ha.etcd_mut().stop();
    std::thread::sleep(Duration::from_secs(u64::from(TTL + RETRY_TIMEOUT)));
    assert_eq!(
        ha.member(&leader).role(),
        Role::Leader,
        "{}",
        ha.all_log_tails()
    );
    record(
        &dir,
        "failsafe-leader.json",
        "the DCS down in failsafe mode: the leader, still primary",
        &ha,
        &leader,
    );
    record(
        &dir,
        "failsafe-replica.json",
        "the DCS down in failsafe mode: the replica",
        &ha,
        &replica,
    );

    // The DCS back; Patroni paused; the replica's PostgreSQL stopped.
    ha.etcd_mut().start_again();
    ha.wait_leader_is(&leader);
    ha.wait_streaming(&replica);
    ha.pause();
    let data = ha.member(&replica).data_dir();
    let out = cmd_as_postgres(pg_bin("pg_ctl"))
        .args(["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let stopped = poll_until(Duration::from_secs(30), || {
        let state = ha.member(&replica).patroni_state()?;
        (state["state"] == "stopped").then_some(())
    });
    assert!(stopped.is_some(), "{}", ha.all_log_tails());
    record(
        &dir,
        "stopped-replica.json",
        "Patroni paused, the replica's PostgreSQL stopped",
        &ha,
        &replica,
    );
    record(
        &dir,
        "paused-leader.json",
        "Patroni paused, DCS up: the leader",
        &ha,
        &leader,
    );
}
