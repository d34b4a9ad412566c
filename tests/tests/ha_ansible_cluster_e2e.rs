//! `ansible-playbook pgsql-pitr.yml` on a multi-host inventory restores a whole Patroni cluster:
//! a real two-member cluster (Patroni 3.0, etcd 3.4, PostgreSQL 15, pgBackRest 2.45, one
//! encrypted posix repo), each member an inventory host of its own (`ansible_connection: local`, its own
//! ports, data directory and Patroni configuration, the Pigsty variables of its cluster spec).
//! One cluster, the checks in sequence:
//!
//! ```text
//! timeline 1 (a leads)   full backup; batch 1; t_before_switchover; batch 2
//! switchover a -> b      timeline 2; batch 3; restore point after-switchover; batch 4
//! --check                the cluster plan printed; data directories, DCS, Patroni untouched
//! -l b (the leader only) refused before anything stops: a is no host of the play
//! no credentials         an inventory without patroni_username/patroni_password: refused by
//!                        the pre-flight (patroni_auth, HTTP 401) before anything stops
//! unreachable target     --name no-such-point: recovery misses it; the rescue rolls every
//!                        host back (b leads again, a streams, same rows, unpaused); the play
//!                        fails with error[recovery_target_not_reached]
//! cluster PITR           time t_before_switchover: b restored alone onto a new timeline,
//!                        a rebuilt from it; the rows of batch 1 on both, one system
//!                        identifier, a new write reaches a, the history file in the archive
//! cluster PITR 2         name after-switchover (timeline 2, which the cluster left): batches
//!                        1-3 on both members on a newer timeline
//! ```
//!
//! Patroni's REST API wants credentials (`restapi.authentication`, as Pigsty renders it from
//! `patroni_username`/`patroni_password`, which are in every host's variables).
//!
//! The repo's passphrase and the Patroni password are in every host's variables and never in
//! the playbook's output; the plan handed from task to task has them redacted, and each phase
//! takes them again from its member's spec (the restore renders its config from the restored
//! member's). The playbook runs from `.venv` (`make wheel` installs the `pitr` module there); Patroni is
//! stopped and started by `patroni-control` (`tests/src/bin`), the spec's stand-in for
//! `systemctl stop|start patroni`.

// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]
// ansible-playbook runs as the test's user.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use pitr_tests::ha::control::{patroni_pids, write_cluster_spec};
use pitr_tests::{
    Member, PatroniCluster, mkdir_as_postgres, output_text, pitr_bin, write_file_as_postgres,
};
use serde_json::Value;

/// The harness's stand-in for a systemd unit.
const CONTROL: &str = env!("CARGO_BIN_EXE_patroni-control");

/// The repo's cipher passphrase.
const PASSPHRASE: &str = "ansible-Cluster-Cipher-7Qx2";

/// The password of Patroni's REST API authentication (user `postgres`, as in Pigsty).
const PATRONI_PASSWORD: &str = "Patroni.API-Ansible-4Kd9";

/// Whether `text` holds a secret of the inventory.
fn leaks(text: &str) -> bool {
    text.contains(PASSPHRASE) || text.contains(PATRONI_PASSWORD)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `count batches`: the rows and the batches in `t`.
fn rows(member: &Member) -> String {
    member.psql("SELECT count(*) || ' ' || string_agg(DISTINCT batch::text, ',') FROM t")
}

/// The lines of each member's cluster spec (`write_cluster_spec`) but those starting with one of
/// `without`.
fn spec_lines(member: &Member, without: &[&str]) -> Vec<String> {
    let spec = std::fs::read_to_string(write_cluster_spec(member, CONTROL.as_ref())).unwrap();
    spec.lines()
        .filter(|l| !without.iter().any(|w| l.starts_with(w)))
        .map(str::to_owned)
        .collect()
}

/// The Patroni credentials in a spec.
const CREDENTIALS: [&str; 2] = ["patroni_username", "patroni_password"];

/// An inventory with one host per member (named after it), each with a local connection, the
/// `.venv` Python and the Pigsty variables of its cluster spec but those starting with one of
/// `without`; written as `<name>.yml`.
fn write_inventory(ha: &PatroniCluster, name: &str, without: &[&str]) -> PathBuf {
    let python = pitr_tests::venv_python();
    let mut text = String::from("all:\n  hosts:\n");
    for member in ha.members() {
        writeln!(text, "    {}:", member.name()).unwrap();
        writeln!(text, "      ansible_connection: local").unwrap();
        writeln!(
            text,
            "      ansible_python_interpreter: {}",
            python.display()
        )
        .unwrap();
        for line in spec_lines(member, without) {
            writeln!(text, "      {line}").unwrap();
        }
    }
    let path = ha.root().join(format!("{name}.yml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// One `ansible-playbook pgsql-pitr.yml` run: its exit status and every task's result (the
/// tests' JSON callback, `tests/python/callback_plugins`).
struct Play {
    status: Option<i32>,
    doc: Value,
    text: String,
}

impl Play {
    /// The results of the task named `name` (one per host, or the loop's result).
    fn task(&self, name: &str) -> &Value {
        self.doc["plays"][0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|t| {
                t["task"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(name))
            })
            .unwrap_or_else(|| panic!("no task {name}:\n{}", self.text))
    }

    /// The result of `name` on the first host of the play (`run_once` tasks report there).
    fn result(&self, name: &str) -> &Value {
        let hosts = self.task(name)["hosts"].as_object().unwrap();
        hosts.values().next().unwrap()
    }
}

fn playbook(inventory: &Path, args: &[&str]) -> Play {
    let bin = pitr_tests::venv_python().parent().unwrap().to_path_buf();
    let ansible = bin.join("ansible-playbook");
    assert!(
        ansible.is_file(),
        "{} is missing: run `make setup`",
        ansible.display()
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    let out = Command::new(&ansible)
        .arg("-i")
        .arg(inventory)
        .arg("pgsql-pitr.yml")
        .args(args)
        .current_dir(repo_root().join("pitr-py/ansible"))
        .env("PATH", path)
        .env("ANSIBLE_STDOUT_CALLBACK", "pitr_results")
        .env(
            "ANSIBLE_CALLBACK_PLUGINS",
            repo_root().join("tests/python/callback_plugins"),
        )
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env_remove("ANSIBLE_CONFIG")
        .output()
        .expect("ansible-playbook runs");
    let text = output_text(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let start = stdout
        .find('{')
        .unwrap_or_else(|| panic!("no JSON:\n{text}"));
    let doc = serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    Play {
        status: out.status.code(),
        doc,
        text,
    }
}

/// What a `--check` run must leave as it was: who leads and streams on which timeline, the
/// pause flag (Patroni's state in the DCS), every member's Patroni processes and postmaster, no
/// safety copy.
fn cluster_snapshot(ha: &PatroniCluster) -> Value {
    let state = ha.cluster_state().unwrap();
    let members: Vec<Value> = ha
        .members()
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name(),
                "postmaster": m.postmaster_pid(),
                "patroni": patroni_pids(m.root()),
                "backup": m.root().join("data-backup").exists(),
            })
        })
        .collect();
    let roles: Vec<Value> = state["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| serde_json::json!([m["name"], m["role"], m["timeline"]]))
        .collect();
    serde_json::json!({"pause": state["pause"], "roles": roles, "members": members})
}

/// The history files in the repo.
fn histories(ha: &PatroniCluster) -> Vec<String> {
    ha.archived_wal()
        .into_iter()
        .filter(|f| f.ends_with(".history"))
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)] // one cluster, one story
fn the_playbook_restores_a_patroni_cluster_across_hosts() {
    let started = Instant::now();
    let repo_parent = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        repo_parent.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let repo = repo_parent.path().join("repo");
    mkdir_as_postgres(&repo, 0o700);
    let ha = PatroniCluster::builder("ha-ansible")
        .members(2)
        .repos(
            "local",
            &format!(
                "  local:\n    path: {}\n    retention_full: 4\n    cipher_type: aes-256-cbc\n    \
                 cipher_pass: {PASSPHRASE}\n",
                repo.display()
            ),
        )
        .rest_authentication("postgres", PATRONI_PASSWORD)
        .start();
    let (a, b) = (ha.name_of(0), ha.name_of(1));
    let inventory = write_inventory(&ha, "inventory", &[]);
    let t_before_switchover = ha.history_with_switchover();
    let out = ha.member(&b).pitr(&["mark", "after-switchover"]);
    assert!(out.status.success(), "{}", output_text(&out));
    ha.member(&b).insert_batch(4);
    let wal = ha.member(&b).switch_wal();
    ha.member(&b).wait_postgres_archived(&wal);
    let time = |t: &str| format!(r#"{{"pg_pitr": {{"time": "{t}"}}}}"#);
    eprintln!("set-up: {:.0?}", started.elapsed());

    // Check mode: the plan of the whole cluster is printed; nothing is touched.
    let since = Instant::now();
    let before = cluster_snapshot(&ha);
    let checked = playbook(&inventory, &["--check", "-e", &time(&t_before_switchover)]);
    assert_eq!(checked.status, Some(0), "{}", checked.text);
    assert!(!leaks(&checked.text), "{}", checked.text);
    let document = &checked.result("cluster | plan | pre-flight")["plan"];
    assert_eq!(document["kind"], "cluster_restore");
    assert_eq!(document["chosen"], b.as_str(), "the leader is restored");
    let pause = &document["steps"][0]["action"];
    assert_eq!(pause["kind"], "pause", "{pause}");
    assert_eq!(
        pause["api"]["auth"],
        serde_json::json!({"username": "postgres", "password": "<redacted>"}),
        "{pause}"
    );
    // The plan handed from task to task holds no secret: the restore renders it again.
    let write = document["restore"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "write-restore-config")
        .unwrap();
    assert!(
        write["action"]["contents"]
            .as_str()
            .unwrap()
            .contains("<redacted>"),
        "{write}"
    );
    let printed = checked.result("cluster | plan | print")["msg"].to_string();
    for needle in [
        "--- phase pause ---",
        "--- phase replicas ---",
        "patronictl",
    ] {
        assert!(printed.contains(needle), "{needle}: {printed}");
    }
    let stop = checked.result("cluster | stop");
    let items = stop["results"].as_array().unwrap();
    // The replica's host first, the primary's last, nothing run.
    assert_eq!(items[0]["item"]["member"], a.as_str(), "{stop}");
    assert_eq!(items[1]["item"]["member"], b.as_str(), "{stop}");
    assert!(
        items
            .iter()
            .all(|i| i["changed"] == false && i.get("completed").is_none()),
        "{stop}"
    );
    // A play on one member only is refused: every member's steps run on its own host.
    let one = playbook(&inventory, &["-l", &b, "-e", &time(&t_before_switchover)]);
    assert_eq!(one.status, Some(2), "{}", one.text);
    let refused = one.result("cluster | plan | pre-flight");
    assert_eq!(refused["error_code"], "remote_member", "{refused}");
    assert!(refused["msg"].as_str().unwrap().contains(&a), "{refused}");
    // Without Patroni's credentials: refused by the pre-flight, naming the API and the keys.
    let since_auth = Instant::now();
    let bare = write_inventory(&ha, "no-credentials", &CREDENTIALS);
    let play = playbook(&bare, &["-e", &time(&t_before_switchover)]);
    assert_eq!(play.status, Some(2), "{}", play.text);
    let refused = play.result("cluster | plan | pre-flight");
    assert_eq!(refused["error_code"], "patroni_auth", "{refused}");
    let msg = refused["msg"].as_str().unwrap();
    for needle in [
        "http://127.0.0.1:",
        "HTTP 401",
        "set patroni_username and patroni_password",
    ] {
        assert!(msg.contains(needle), "{needle}: {refused}");
    }
    assert!(!leaks(&play.text), "{}", play.text);
    // The CLI's own credentials (--patroni-username, PITR_PATRONI_PASSWORD) in place of the
    // specs': the pre-flight of a dry run takes the right password and refuses another.
    let bare_specs: Vec<String> = ha
        .members()
        .iter()
        .map(|m| {
            let kept = spec_lines(m, &CREDENTIALS).join("\n") + "\n";
            let path = m.root().join("spec-without-credentials.yml");
            write_file_as_postgres(&path, kept, 0o600);
            path.display().to_string()
        })
        .collect();
    let dry_run = |password: &str| {
        let mut cmd = Command::new(pitr_bin());
        cmd.arg("--config")
            .arg(ha.member(&b).pgbackrest_conf())
            .env_remove("PGHOST")
            .env_remove("PGPORT");
        cmd.args([
            "restore",
            "--cluster",
            "--dry-run",
            "--json",
            "-t",
            &t_before_switchover,
        ])
        .args(["--patroni-username", "postgres"])
        .env("PITR_PATRONI_PASSWORD", password);
        for spec in &bare_specs {
            cmd.args(["--spec", spec]);
        }
        cmd.output().unwrap()
    };
    let out = dry_run(PATRONI_PASSWORD);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(!leaks(&text), "{text}");
    assert!(text.contains(r#""username": "postgres""#), "{text}");
    let out = dry_run("Wrong.Password-1");
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("error[patroni_auth]"), "{text}");
    assert!(text.contains("patroni_username 'postgres'"), "{text}");
    assert!(!text.contains("Wrong.Password-1"), "{text}");
    eprintln!("no credentials, refused: {:.0?}", since_auth.elapsed());
    assert_eq!(
        cluster_snapshot(&ha),
        before,
        "--check or the refused play changed the cluster"
    );
    eprintln!("check mode: {:.0?}", since.elapsed());

    // A target recovery cannot reach: the rescue brings every host back as it was.
    let since = Instant::now();
    let play = playbook(
        &inventory,
        &["-e", r#"{"pg_pitr": {"name": "no-such-point"}}"#],
    );
    assert_eq!(play.status, Some(2), "{}", play.text);
    assert!(!leaks(&play.text), "{}", play.text);
    let failed = play.result("cluster | restore");
    let item = &failed["results"][0];
    assert_eq!(
        item["error_code"], "recovery_target_not_reached",
        "{failed}"
    );
    let rollback = play.result("cluster | rollback | bring");
    assert_eq!(rollback["_status"], "changed", "{rollback}");
    let reason = play.result("cluster | rollback | fail")["msg"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.starts_with("error[recovery_target_not_reached]:"),
        "{reason}"
    );
    assert!(
        reason.contains("rolled back: the cluster runs as before"),
        "{reason}"
    );
    assert!(!reason.contains("consistent recovery state"), "{reason}");
    assert_eq!(ha.leader().as_deref(), Some(b.as_str()));
    ha.wait_streaming(&a);
    assert_eq!(rows(ha.member(&b)), "40 1,2,3,4");
    assert_eq!(rows(ha.member(&a)), "40 1,2,3,4");
    let state = ha.cluster_state().unwrap();
    assert!(!state["pause"].as_bool().unwrap_or(false), "{state}");
    assert!(!ha.member(&b).root().join("data-backup").exists());
    let tl_back = ha.timeline().unwrap();
    eprintln!("unreachable target, rolled back: {:.0?}", since.elapsed());

    // The cluster PITR: b restored alone to before the switchover, a rebuilt from it.
    let since = Instant::now();
    let sysid = "SELECT system_identifier FROM pg_control_system()";
    let play = playbook(&inventory, &["-e", &time(&t_before_switchover)]);
    assert_eq!(play.status, Some(0), "{}", play.text);
    assert!(!leaks(&play.text), "{}", play.text);
    let restored = &play.result("cluster | restore")["results"][0];
    assert_eq!(restored["member"], b.as_str());
    assert_eq!(
        restored["restored_timeline"],
        u64::from(tl_back) + 1,
        "{restored}"
    );
    let timeline = u32::try_from(
        play.result("cluster | start")["results"][0]["timeline"]
            .as_u64()
            .unwrap(),
    )
    .unwrap();
    assert!(timeline > tl_back, "timeline {timeline} after {tl_back}");
    let replicas = play.result("cluster | replicas")["results"]
        .as_array()
        .unwrap();
    let runs: Vec<&str> = replicas
        .iter()
        .map(|r| r["item"]["member"].as_str().unwrap())
        .collect();
    assert_eq!(
        runs,
        [a.as_str(), b.as_str()],
        "rebuilt on a, waited for on b"
    );
    assert!(
        play.result("cluster | backup")["results"][0]["backup"].is_object(),
        "{}",
        play.text
    );
    eprintln!("cluster PITR through the playbook: {:.0?}", since.elapsed());

    assert_eq!(ha.leader().as_deref(), Some(b.as_str()));
    ha.wait_timeline(timeline);
    ha.wait_streaming(&a);
    let state = ha.cluster_state().unwrap();
    assert!(!state["pause"].as_bool().unwrap_or(false), "{state}");
    for m in state["members"].as_array().unwrap() {
        assert_eq!(m["timeline"], u64::from(timeline), "{state}");
    }
    let (l, r) = (ha.member(&b), ha.member(&a));
    assert_eq!(rows(l), "10 1");
    assert_eq!(rows(r), "10 1");
    assert_eq!(l.psql(sysid), r.psql(sysid));
    assert_eq!(r.psql("SELECT pg_is_in_recovery()"), "t");
    l.psql("CREATE TABLE after (x int)");
    l.psql("INSERT INTO after VALUES (1)");
    ha.wait_streaming(&a);
    assert_eq!(r.psql("SELECT count(*) FROM after"), "1");
    let history = format!("{:08X}.history", tl_back + 1);
    assert!(histories(&ha).contains(&history), "{:?}", histories(&ha));
    let newest = format!("{timeline:08X}");
    assert!(
        ha.archived_wal()
            .iter()
            .any(|f| f.starts_with(&newest) && f.len() == 24),
        "no WAL of timeline {timeline} in {:?}",
        ha.archived_wal()
    );
    assert!(l.root().join("data-backup").join("PG_VERSION").is_file());

    // Cluster PITR 2: the restore point on timeline 2, which the first PITR left behind.
    let since = Instant::now();
    std::fs::remove_dir_all(l.root().join("data-backup")).unwrap();
    let play = playbook(
        &inventory,
        &["-e", r#"{"pg_pitr": {"name": "after-switchover"}}"#],
    );
    assert_eq!(play.status, Some(0), "{}", play.text);
    assert!(!leaks(&play.text), "{}", play.text);
    let timeline2 = u32::try_from(
        play.result("cluster | start")["results"][0]["timeline"]
            .as_u64()
            .unwrap(),
    )
    .unwrap();
    assert!(
        timeline2 > timeline,
        "timeline {timeline2} after {timeline}"
    );
    assert_eq!(ha.leader().as_deref(), Some(b.as_str()));
    ha.wait_timeline(timeline2);
    ha.wait_streaming(&a);
    assert_eq!(rows(l), "30 1,2,3");
    assert_eq!(rows(r), "30 1,2,3");
    assert_eq!(l.psql(sysid), r.psql(sysid));
    l.psql("INSERT INTO t VALUES (0, 5)");
    ha.wait_streaming(&a);
    assert_eq!(rows(r), "31 1,2,3,5");
    eprintln!(
        "cluster PITR 2 (restore point after the switchover): {:.0?}",
        since.elapsed()
    );
    eprintln!("whole test: {:.0?}", started.elapsed());
}
