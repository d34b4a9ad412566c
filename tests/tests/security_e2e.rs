//! Safe as root on a host where the database user is not trusted, through the real `pitr`
//! binary run as root on real PostgreSQL 15 and pgBackRest 2.45:
//!
//! * the `postgres` user plants symbolic links at every name pitr writes (the check record,
//!   the rendered config, the restore config, the run log, the safety copy) and at the
//!   temporary names pitr used to use: a root-owned victim file keeps its owner, mode and
//!   contents, and pitr either writes safely or refuses with `unsafe_path` before touching
//!   anything;
//! * clients connect to the recovering server with hostile user names and run statements that
//!   quote every marker the recovery watcher knows: the restore still lands on the right rows
//!   with the right stop record.

// Tests build their fixtures as root in private temporary directories.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use pitr_tests::{
    Stanza, cmd_as_postgres, create_padded_tables, dir_fingerprint, output_text, pg_bin, pitr, tick,
};

/// A file only root may touch, in a directory only root may enter.
struct Victim {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

const VICTIM_TEXT: &str = "root's own file\n";

impl Victim {
    fn new() -> Victim {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let path = dir.path().join("victim");
        std::fs::write(&path, VICTIM_TEXT).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        Victim { _dir: dir, path }
    }

    fn assert_untouched(&self) {
        let meta = std::fs::symlink_metadata(&self.path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (0, 0, 0o600),
            "the victim's owner or mode changed"
        );
        assert_eq!(std::fs::read_to_string(&self.path).unwrap(), VICTIM_TEXT);
    }
}

/// `ln -s target link`, run by the postgres user.
fn plant(link: &Path, target: &Path) {
    let out = cmd_as_postgres("ln")
        .arg("-s")
        .arg(target)
        .arg(link)
        .output()
        .unwrap();
    assert!(out.status.success(), "ln -s: {}", output_text(&out));
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_regular_file_of_postgres(path: &Path, mode: u32) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(
        meta.file_type().is_file(),
        "{} is not a file",
        path.display()
    );
    let postgres = nix::unistd::User::from_name("postgres").unwrap().unwrap();
    assert_eq!(
        (meta.uid(), meta.mode() & 0o777),
        (postgres.uid.as_raw(), mode),
        "{}",
        path.display()
    );
}

#[test]
fn the_check_record_is_never_written_through_a_link() {
    let victim = Victim::new();
    let stanza = Stanza::local("sec-check");
    let record = stanza
        .cluster
        .path(format!("pgbackrest-log/pitr-{}-check.json", stanza.name));
    plant(&record, &victim.path);
    let out = stanza.pitr(&["check"]);
    assert!(
        stderr(&out).contains("error[unsafe_path]"),
        "{}",
        output_text(&out)
    );
    victim.assert_untouched();
    assert!(std::fs::symlink_metadata(&record).unwrap().is_symlink());

    // The temporary name pitr once used: now nothing is written there.
    std::fs::remove_file(&record).unwrap();
    let old_tmp = record.with_extension("json.tmp");
    plant(&old_tmp, &victim.path);
    let out = stanza.pitr(&["check"]);
    assert!(
        !stderr(&out).contains("unsafe_path"),
        "{}",
        output_text(&out)
    );
    assert_regular_file_of_postgres(&record, 0o644);
    victim.assert_untouched();
}

#[test]
fn the_rendered_config_is_never_written_through_a_link() {
    let victim = Victim::new();
    let stanza = Stanza::local("sec-render");
    let spec = stanza.spec.display().to_string();
    let target = stanza.cluster.path("rendered.conf");
    let target_arg = target.display().to_string();
    plant(&target, &victim.path);
    let out = pitr(&["render", "--spec", &spec, "--output", &target_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        stderr(&out).contains("error[unsafe_path]"),
        "{}",
        output_text(&out)
    );
    victim.assert_untouched();

    std::fs::remove_file(&target).unwrap();
    plant(&target.with_extension("pitr-tmp"), &victim.path);
    let out = pitr(&["render", "--spec", &spec, "--output", &target_arg]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_regular_file_of_postgres(&target, 0o600);
    victim.assert_untouched();

    // A root-owned file is not written where postgres can write.
    let out = pitr(&[
        "render",
        "--spec",
        &spec,
        "--output",
        &target_arg,
        "--owner",
        "root",
    ]);
    assert!(
        stderr(&out).contains("error[unsafe_path]"),
        "{}",
        output_text(&out)
    );
    assert_regular_file_of_postgres(&target, 0o600);
}

/// A stanza with rows 1-100, a time after them, rows 101-200.
fn small_history(name: &str) -> (Stanza, String) {
    let stanza = Stanza::local(name);
    create_padded_tables(&stanza.cluster);
    tick();
    stanza.insert_rows(1, 100, 1);
    tick();
    let t = stanza.utc_now();
    tick();
    stanza.insert_rows(101, 200, 1);
    stanza.archive_now();
    (stanza, t)
}

#[test]
fn links_at_the_restore_config_the_run_log_and_the_safety_copy() {
    let victim = Victim::new();
    let (mut stanza, t) = small_history("sec-restore");
    let data = stanza.cluster.data_dir();
    let restore_conf = stanza
        .cluster
        .path(format!("pitr-{}-restore.conf", stanza.name));
    let backup = PathBuf::from(format!("{}-backup", data.display()));
    let refuse = |args: &[&str], code: &str| {
        let out = stanza.pitr(args);
        assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
        assert!(
            stderr(&out).contains(&format!("error[{code}]")),
            "{}",
            output_text(&out)
        );
        victim.assert_untouched();
    };

    // With the server running: it is not stopped.
    plant(&restore_conf, &victim.path);
    refuse(&["restore", "-y", "-t", &t], "unsafe_path");
    assert!(stanza.cluster.is_running());
    // With the server down: the data directory is exactly as it was.
    stanza.cluster.stop();
    let before = dir_fingerprint(&data);
    refuse(&["restore", "-y", "-t", &t], "unsafe_path");
    std::fs::remove_file(&restore_conf).unwrap();
    plant(&backup, &victim.path);
    refuse(
        &["restore", "-y", "--safety-copy", "-t", &t],
        "data_directory",
    );
    std::fs::remove_file(&backup).unwrap();
    assert_eq!(
        dir_fingerprint(&data),
        before,
        "a refused restore changed the data"
    );
    assert!(!stanza.cluster.is_running());
    stanza.cluster.start_server();

    // At every name the run log could take in the next two minutes, and at the temporary
    // name of the restore config pitr once used: the restore goes on and writes elsewhere.
    let log_dir = stanza.cluster.path("pgbackrest-log");
    let now = jiff::Timestamp::now().as_second();
    for s in now - 2..now + 120 {
        let stamp = jiff::Timestamp::from_second(s)
            .unwrap()
            .strftime("%Y%m%d-%H%M%S");
        plant(
            &log_dir.join(format!("{}-pitr-restore-{stamp}.log", stanza.name)),
            &victim.path,
        );
    }
    plant(
        &stanza
            .cluster
            .path(format!(".pitr-{}-restore.conf.pitr-tmp", stanza.name)),
        &victim.path,
    );
    let out = stanza.pitr(&["--json", "restore", "-y", "-t", &t]);
    assert!(out.status.success(), "{}", output_text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let log_file = PathBuf::from(report["report"]["log_file"].as_str().unwrap());
    assert!(
        log_file.to_string_lossy().ends_with("-1.log"),
        "{}",
        log_file.display()
    );
    assert_regular_file_of_postgres(&log_file, 0o640);
    assert_regular_file_of_postgres(&restore_conf, 0o600);
    assert_eq!(stanza.count("t"), 100);
    victim.assert_untouched();
}

/// What hostile clients do while recovery runs: user names and statements quoting every marker
/// the watcher knows, some with newlines and forged log prefixes or JSON records.
fn hostile_sessions() -> Vec<(String, String)> {
    let forged_json = r#"{"timestamp":"2026-01-01 00:00:00.000 UTC","pid":1,"backend_type":"startup","error_severity":"LOG","message":"recovery stopping at restore point \"evil\", time 2000-01-01 00:00:00+00"}"#;
    let users = [
        "PANIC:  fake panic".to_owned(),
        "archive recovery complete".to_owned(),
        "recovery ended before configured recovery target was reached".to_owned(),
        format!("x\n{forged_json}"),
        "x\n2026-01-01 00:00:00.000 UTC [1] LOG:  pausing at the end of recovery".to_owned(),
    ];
    let statements = [
        "DO $$BEGIN RAISE LOG 'recovery stopping at restore point \"evil\", time 2000-01-01 00:00:00+00'; END$$".to_owned(),
        "DO $$BEGIN RAISE LOG 'pausing at the end of recovery'; RAISE LOG 'archive recovery complete'; RAISE LOG 'shutdown at recovery target'; END$$".to_owned(),
        "DO $$BEGIN RAISE LOG 'startup process (PID 1) exited with exit code 1'; END$$".to_owned(),
        format!("DO $$BEGIN RAISE EXCEPTION E'x\\n{}'; END$$", forged_json.replace('\'', "''").replace('\\', "\\\\")),
        "SELECT 'recovery ended before configured recovery target was reached'::int".to_owned(),
    ];
    users
        .into_iter()
        .map(|u| (u, "SELECT 1".to_owned()))
        .chain(statements.into_iter().map(|s| ("postgres".to_owned(), s)))
        .collect()
}

#[test]
fn hostile_clients_during_recovery_do_not_steer_it() {
    let stanza = Stanza::local("sec-hostile");
    create_padded_tables(&stanza.cluster);
    // Many segments to replay, so recovery runs long enough for clients to get in.
    stanza.insert_rows(1, 100, 40);
    stanza.pitr_ok(&["mark", "rp"]);
    stanza.insert_rows(101, 200, 2);
    stanza.archive_now();

    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicUsize::new(0));
    let sock = stanza.cluster.socket_dir();
    let port = stanza.cluster.port().to_string();
    let attacker = {
        let (stop, attempts) = (stop.clone(), attempts.clone());
        std::thread::spawn(move || {
            let sessions = hostile_sessions();
            while !stop.load(Ordering::Relaxed) {
                for (user, sql) in &sessions {
                    let _ = cmd_as_postgres(pg_bin("psql"))
                        .args(["-X", "-h"])
                        .arg(&sock)
                        .args(["-p", &port, "-d", "postgres", "-U", user, "-c", sql])
                        .output();
                    attempts.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let out = stanza.pitr(&["--json", "restore", "-y", "-n", "rp"]);
    stop.store(true, Ordering::Relaxed);
    attacker.join().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verified = &report["report"]["verified"];
    assert_eq!(verified["ending"], "paused", "{verified}");
    assert_eq!(
        verified["stop"],
        serde_json::json!({"kind": "restore_point", "name": "rp", "time": verified["stop"]["time"]}),
        "{verified}"
    );
    assert_eq!(stanza.count("t"), 100);

    // The attack reached the server log before recovery stopped, or this test proves nothing.
    let log = std::fs::read_to_string(stanza.cluster.path(format!(
        "pgbackrest-log/{}-pitr-recovery-{}-server.json",
        stanza.name,
        stanza.cluster.port()
    )))
    .unwrap();
    let records: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let hostile = records.iter().position(|r| {
        r["backend_type"] == "client backend"
            && r["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("recovery stopping") || m.starts_with("pausing"))
    });
    let real_stop = records.iter().position(|r| {
        r["backend_type"] == "startup"
            && r["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("recovery stopping at restore point \"rp\""))
    });
    assert!(
        matches!((hostile, real_stop), (Some(h), Some(s)) if h < s),
        "no hostile record before the real stop ({} attempts): hostile at {hostile:?}, stop at \
         {real_stop:?}",
        attempts.load(Ordering::Relaxed)
    );
}
