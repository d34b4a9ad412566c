//! `pitr sandbox --ha`: the high-availability demo on a throwaway Patroni cluster
//! ([`launcher`](super::launcher): etcd 3.4 and two Patroni 3.0 members running PostgreSQL as
//! `postgres`, one local repo, each member with its own spec, `pgbackrest.conf` and the pitr
//! Patroni callback). It says what it does and checks every claim, failing with
//! [`Error::SandboxClaim`] when one is false:
//!
//! 1. `pitr backup` on every member: exactly the leader backs up, the replica says why it
//!    skipped, both with the role from Patroni;
//! 2. rows; a switchover through Patroni's REST API; a backup on every member again: only the
//!    new leader backs up;
//! 3. rows; a hard failover (`kill -9` of the leader's Patroni and postmaster); `pitr
//!    continuity` on the new primary; `pitr info` and `pitr check` report 0 segments missing
//!    and the timeline history;
//! 4. point-in-time restores into scratch directories (archiving off) to a time before the
//!    switchover and to one after the failover: each lands on the rows written by then, the
//!    selection names the timeline recovery follows, and the repo's archive is the same
//!    before and after.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::SandboxOptions;
use super::launcher::{HaMember, HaStack};
use crate::check::Status;
use crate::error::{Error, Result};
use crate::names::BackupType;
use crate::ops::{self, RestoreOptions};
use crate::plan::summary::Summary;
use crate::role::RoleSource;
use crate::run::check::CheckOptions;
use crate::run::exec::run_capture;
use crate::run::ha::free_port;
use crate::run::log::RunLog;
use crate::run::pgbackrest::PgBackRest;
use crate::run::probe::Endpoint;
use crate::run::runner::run_plan;
use crate::run::tools;
use crate::target::RestoreRequest;

/// Patroni's scope and the stanza.
const SCOPE: &str = "sandbox-ha";

/// Rows per batch.
const BATCH: i64 = 100;

/// A false claim, with what was seen.
fn claim_failed(claim: impl Into<String>, seen: impl Into<String>) -> Error {
    Error::SandboxClaim {
        claim: claim.into(),
        seen: seen.into(),
    }
}

/// Runs the demo, narrating into `log`.
pub fn sandbox_ha(args: &SandboxOptions, log: &RunLog) -> Result<()> {
    let started = std::time::Instant::now();
    let say = |text: &str| {
        log.line(&format!(
            "\n### [{:.0} s] {text}",
            started.elapsed().as_secs_f64()
        ));
    };
    let pitr_bin = args.pitr_bin.clone().ok_or_else(|| Error::InvalidSetting {
        key: "pitr_bin".into(),
        context: "pitr sandbox --ha".into(),
        message: "missing: the pitr executable Patroni's callback runs".into(),
    })?;
    let root = super::launcher::check_root(&args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("pitr-sandbox-ha-{}", std::process::id()))
    }))?;
    say("etcd, two Patroni members (PostgreSQL as postgres) and one local repo");
    let mut stack = HaStack::create(&root, args.keep, SCOPE, 2, &pitr_bin, log)?;
    for m in &stack.members {
        log.line(&format!(
            "{}: PostgreSQL on 127.0.0.1:{}, Patroni REST API on 127.0.0.1:{}, {} \
             (spec.yml, pgbackrest.conf and patroni.yml rendered by pitr; on_role_change runs \
             pitr patroni-callback)",
            m.name,
            m.pg_port,
            m.rest_port,
            m.dir.display()
        ));
    }
    stack.bring_up(0, true)?;
    log.line(&format!("{} bootstrapped and leads", stack.members[0].name));
    stack.bring_up(1, false)?;
    log.line(&format!(
        "{} cloned itself and streams",
        stack.members[1].name
    ));
    let (a, b) = (0, 1);

    say("1. pitr backup on every member: only the leader backs up");
    backup_round(&stack, a, Some(BackupType::Full), log)?;

    say("2. rows, then a switchover through Patroni's REST API, then pitr backup on every member");
    let db_a = stack.members[a].db();
    db_a.simple_query("CREATE TABLE t (id int, batch int)")?;
    batch(&db_a, 1, log)?;
    let before_switchover = now(&db_a)?;
    batch(&db_a, 2, log)?;
    stack.wait_streaming(b)?;
    log.line(&format!(
        "POST /switchover {{leader: {}, candidate: {}}}",
        stack.members[a].name, stack.members[b].name
    ));
    stack.switchover(a, b)?;
    stack.wait_streaming(a)?;
    log.line(&format!(
        "{} leads on timeline 2; {} streams from it",
        stack.members[b].name, stack.members[a].name
    ));
    backup_round(&stack, b, None, log)?;

    say("3. rows, then a hard failover: kill -9 of the leader's Patroni and postmaster");
    let db_b = stack.members[b].db();
    batch(&db_b, 3, log)?;
    batch(&db_b, 4, log)?;
    stack.wait_streaming(a)?;
    stack.kill_member(b);
    log.line(&format!("{} killed", stack.members[b].name));
    stack.wait_leads(a, 3)?;
    log.line(&format!(
        "{} leads on timeline 3 (Patroni's ttl: {} s)",
        stack.members[a].name,
        super::launcher::TIMING.ttl
    ));
    continuity_and_check(&stack.members[a], log)?;

    say("4. point-in-time restores into scratch directories (archiving off)");
    restores(&stack, a, &before_switchover, log)?;
    say("every claim held");
    drop(stack);
    Ok(())
}

/// `pitr backup` on every member; exactly `leader` backs up, with the role from Patroni.
fn backup_round(
    stack: &HaStack,
    leader: usize,
    kind: Option<BackupType>,
    log: &RunLog,
) -> Result<()> {
    let mut ran = Vec::new();
    for (index, member) in stack.members.iter().enumerate() {
        let plan = ops::prepare_backup(&member.node, kind, None, None)?;
        let Summary::Backup(summary) = plan.summary.clone() else {
            return Err(claim_failed(
                "a backup plan has a backup summary",
                format!("{:?}", plan.summary),
            ));
        };
        log.line(&format!("{}: pitr backup", member.name));
        // The Patroni callback may still hold the lock: queue behind it.
        let locked = ops::lock_stanza(&member.node, "sandbox", true, &|holder| {
            log.line(&format!("  waiting for the stanza lock ({holder})"));
        })?;
        let outcome = ops::run_backup(plan, log, &locked)?;
        let (role, source) = (word(summary.role), word(summary.role_source));
        if outcome.skipped {
            log.line(&format!(
                "  => skipped: {role} (role source {source}): {}",
                summary.reason.as_deref().unwrap_or("")
            ));
        } else {
            log.line(&format!("  => backed up: {role} (role source {source})"));
            ran.push(index);
        }
        if summary.role_source != RoleSource::Patroni {
            return Err(claim_failed(
                format!("{}'s role comes from Patroni", member.name),
                format!("it came from {source}"),
            ));
        }
    }
    let names = |ids: &[usize]| {
        ids.iter()
            .map(|&i| stack.members[i].name.clone())
            .collect::<Vec<_>>()
    };
    if ran != [leader] {
        return Err(claim_failed(
            format!("exactly the leader {} backs up", stack.members[leader].name),
            format!("backed up: {:?}", names(&ran)),
        ));
    }
    Ok(())
}

/// `pitr continuity` on the new primary, then `pitr info` and `pitr check`: no WAL missing,
/// timelines 2 and 3 in the history.
fn continuity_and_check(member: &HaMember, log: &RunLog) -> Result<()> {
    let node = &member.node;
    let callback_log = crate::run::ha::poll_until(Duration::from_secs(30), || {
        std::fs::read_dir(member.spec.log_dir.as_path())
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains("-pitr-patroni-callback-"))
            })
    })
    .ok_or_else(|| {
        claim_failed(
            format!(
                "Patroni ran pitr patroni-callback on {}'s promotion",
                member.name
            ),
            format!("no callback run log in {}", member.spec.log_dir),
        )
    })?;
    log.line(&format!(
        "Patroni ran the on_role_change callback, pitr patroni-callback (run log {})",
        callback_log.display()
    ));
    log.line(&format!("{}: pitr continuity", member.name));
    // The Patroni callback may still hold the lock: queue behind it.
    let locked = ops::lock_stanza(node, "sandbox", true, &|holder| {
        log.line(&format!("  waiting for the stanza lock ({holder})"));
    })?;
    let outcome = ops::continuity(node, false, log, &locked)?;
    if let Summary::Continuity(c) = &outcome.plan.summary {
        log.line(&format!(
            "  => {} file(s) pushed, {} of timeline {}'s history already in the repo",
            c.push.len(),
            c.present.len(),
            c.timeline.map(|t| t.to_string()).unwrap_or_default()
        ));
    }
    let db = member.db();
    batch(&db, 5, log)?;
    PgBackRest::of(node, &tools::pgbackrest()?)?.check()?;
    log.line(&format!("{}: pitr info", member.name));
    let info = ops::info(node)?;
    for c in &info.continuity {
        log.line(&format!(
            "  repo{}: {} segment(s) missing along timeline {}'s history",
            c.repo_key,
            c.missing
                .map_or_else(|| "unknown".into(), |m| m.to_string()),
            c.timeline.map(|t| t.to_string()).unwrap_or_default()
        ));
        if c.missing != Some(0) {
            return Err(claim_failed(
                format!("repo{} misses no WAL", c.repo_key),
                format!("{c:?}"),
            ));
        }
    }
    for t in &info.timelines {
        log.line(&format!(
            "  timeline {} <- {} at {} ({})",
            t.timeline, t.parent, t.switch_lsn, t.reason
        ));
    }
    let known: BTreeSet<String> = info
        .timelines
        .iter()
        .map(|t| t.timeline.to_string())
        .collect();
    if !(known.contains("2") && known.contains("3")) {
        return Err(claim_failed(
            "the timeline history holds timelines 2 and 3",
            format!("it holds {known:?}"),
        ));
    }
    log.line(&format!("{}: pitr check", member.name));
    let options = CheckOptions {
        limits: crate::check::AgeLimits::default(),
        rendered_archive_command: Some(crate::check::rendered_archive_command(&member.spec)?),
    };
    let (report, _) = ops::check::check(node, &options, false);
    for r in &report.checks {
        log.line(&format!(
            "  {} {}: {}",
            word(r.status),
            word(r.check),
            r.message
        ));
    }
    let continuity = report.checks.iter().find(|r| r.code == "check_wal_missing");
    if !continuity.is_some_and(|r| r.status == Status::Pass) {
        return Err(claim_failed(
            "pitr check passes archive_continuity",
            format!("{continuity:?}"),
        ));
    }
    Ok(())
}

/// Restores from the new primary `index` into scratch directories, to `before_switchover` and
/// to a time after the failover, and checks rows, the timeline and the repo's archive.
fn restores(stack: &HaStack, index: usize, before_switchover: &str, log: &RunLog) -> Result<()> {
    let member = &stack.members[index];
    let db = member.db();
    let after_failover = now(&db)?;
    batch(&db, 6, log)?;
    PgBackRest::of(&member.node, &tools::pgbackrest()?)?.check()?;
    let archive = stack.root().join("repo/archive");
    let listing = listing(&archive)?;
    let scratch = stack.root().join("scratch");
    crate::run::files::ensure_dir(&scratch, 0o700, Some(stack.dbsu()))?;
    let cases = [
        ("before-switchover", before_switchover, 1),
        ("after-failover", after_failover.as_str(), 5),
    ];
    for (name, time, batches) in cases {
        let data = scratch.join(name);
        let port = free_port()?;
        let request = RestoreRequest::from_pg_pitr(
            serde_json::json!({
                "time": time, "data": data.display().to_string(), "port": port,
                "archive": "off", "action": "promote",
            }),
            None,
        )?;
        log.line(&format!(
            "{}: pitr restore --time '{time}' --data {} --port {port} --archive off",
            member.name,
            data.display()
        ));
        let prepared =
            ops::prepare_restore(&member.node, &request, &RestoreOptions::default(), None)?;
        log.line(&format!("  set: {}", prepared.selection.reason));
        let follows = "recovery follows timeline 3";
        if !prepared.selection.reason.contains(follows) {
            return Err(claim_failed(
                format!("the restore to {name} says '{follows}'"),
                prepared.selection.reason.clone(),
            ));
        }
        let run = run_plan(&prepared.plan, log);
        let rows = run.and_then(|_| {
            Endpoint {
                socket_dir: stack.root().join("sock"),
                port,
                user: member.node.dbsu.clone(),
            }
            .query_value("SELECT count(*) || ' rows, batches 1 to ' || max(batch) FROM t")
        });
        stop_clone(stack, member, &data);
        let rows = rows?;
        let expected = format!("{} rows, batches 1 to {batches}", BATCH * batches);
        log.line(&format!("  => {rows} (expected {expected})"));
        if rows != expected {
            return Err(claim_failed(
                format!("the restore to {name} ({time}) lands on {expected}"),
                rows,
            ));
        }
    }
    let after = self::listing(&archive)?;
    if after != listing {
        return Err(claim_failed(
            "restores push nothing into the repo's archive",
            format!("new: {:?}", after.difference(&listing).collect::<Vec<_>>()),
        ));
    }
    log.line("the repo's archive lists the same files before and after the restores");
    Ok(())
}

/// Stops a restored clone's server (`pg_ctl stop -m immediate`), if one runs.
fn stop_clone(stack: &HaStack, member: &HaMember, data: &Path) {
    let pg_ctl = member
        .spec
        .bin_dir
        .as_ref()
        .map_or_else(|| PathBuf::from("pg_ctl"), |b| b.join("pg_ctl"));
    if data.join("postmaster.pid").exists() {
        if let Ok(mut cmd) = stack.dbsu().command(pg_ctl) {
            cmd.args(["stop", "-w", "-m", "immediate", "-D"]).arg(data);
            let _ = run_capture(cmd, "pg_ctl stop");
        }
    }
}

/// Every file under `dir`, relative to it.
fn listing(dir: &Path) -> Result<BTreeSet<PathBuf>> {
    let mut found = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| Error::io("cannot list", &d, e))? {
            let entry = entry.map_err(|e| Error::io("cannot list", &d, e))?;
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                found.insert(rel.to_path_buf());
            }
        }
    }
    Ok(found)
}

/// A value's name as its JSON document spells it (`primary`, `patroni`, `pass`, ...).
fn word(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Inserts batch `n`: rows `(n-1)*BATCH+1 ..= n*BATCH`.
fn batch(db: &Endpoint, n: i64, log: &RunLog) -> Result<()> {
    db.simple_query(&format!(
        "INSERT INTO t SELECT g, {n} FROM generate_series({}, {}) g",
        (n - 1) * BATCH + 1,
        n * BATCH
    ))?;
    log.line(&format!("  batch {n}: {BATCH} rows"));
    Ok(())
}

/// The server's clock in UTC as a target time, a second away from the writes around it.
fn now(db: &Endpoint) -> Result<String> {
    std::thread::sleep(Duration::from_millis(1100));
    let time = db.query_value(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')",
    )?;
    std::thread::sleep(Duration::from_millis(1100));
    Ok(time)
}
