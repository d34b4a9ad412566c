//! `pitr backup` from cron on every member of a real Patroni 3.0 cluster (etcd 3.4, PostgreSQL
//! 15, `pitr_tests::ha`): only the member that holds Patroni's leader lock backs up — before a
//! switchover, after it, over HTTPS and after a hard failover — and a member that cannot tell
//! (its REST API unreachable, the DCS down without failsafe mode, a CA that does not verify the
//! certificate) fails with `role_unknown` and runs nothing.
//!
//! Each member runs exactly the command of the cron line `pitr render --what cron` makes of its
//! spec (which holds `patroni_port`), as the spec's `pg_dbsu`, as cron would. Which member took
//! which set is checked twice: the timeline of the set's first WAL segment in `pgbackrest info`
//! (the leader's timeline at the time), and each member's own pgBackRest backup log.
//!
//! The drill line of the same crontab (`pitr_drill_schedule`, with `--spec` for the spec's
//! assertion) runs on both members too: the leader skips it, the replica's host drills.
//!
//! The Python module is asked too (`pitr.plan_backup(spec)` from the repo's `.venv`, which
//! `make wheel` fills). Phase timings print with `--nocapture`.

// The test writes its certificates and runs openssl and Python itself.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use pitr_tests::ha::poll_until;
use pitr_tests::{
    PatroniCluster, Role, cmd_as_postgres, output_text, pitr_bin, pitr_ok, write_file_as_postgres,
};
use serde_json::Value;

fn timed(phase: &str, since: Instant) {
    eprintln!(
        "ha backup timing: {phase}: {:.1} s",
        since.elapsed().as_secs_f64()
    );
}

/// The command of the cron line rendered from `name`'s spec (`pitr` replaced by the binary
/// under test), and the user it runs as.
fn cron_command(ha: &PatroniCluster, name: &str) -> (String, Vec<String>) {
    cron_job(ha, name, &ha.member(name).spec_path(), " backup ")
}

/// The command of the cron line with `needle` rendered from `spec`, a spec of member `name`,
/// and the user it runs as.
fn cron_job(ha: &PatroniCluster, name: &str, spec: &Path, needle: &str) -> (String, Vec<String>) {
    let crontab = pitr_ok(&["render", "--spec", path(spec), "--what", "cron"]);
    let job = crontab
        .lines()
        .find(|l| !l.starts_with('#') && l.contains(needle))
        .unwrap_or_else(|| panic!("no job in:\n{crontab}"));
    assert!(!job.contains(['\'', '"', '\\']), "{job}");
    let words: Vec<&str> = job.split_whitespace().collect();
    // Five schedule fields, the user, then the command.
    let (user, command) = (words[5].to_owned(), &words[6..]);
    let mut argv: Vec<String> = command.iter().map(|w| (*w).to_owned()).collect();
    path(&pitr_bin()).clone_into(&mut argv[0]);
    let url = format!("--patroni=http://127.0.0.1:{}", ha.member(name).rest_port());
    assert!(
        argv.contains(&url),
        "the cron line does not ask Patroni: {job}"
    );
    (user, argv)
}

/// Runs `argv` as `user` (the spec's `pg_dbsu`), as cron does.
fn run_as(user: &str, argv: &[String]) -> Output {
    assert_eq!(user, "postgres", "the harness's pg_dbsu");
    cmd_as_postgres(&argv[0])
        .args(&argv[1..])
        .output()
        .expect("pitr runs")
}

/// Runs the member's cron job, with `--json` so that the outcome can be read.
fn cron(ha: &PatroniCluster, name: &str) -> Output {
    let (user, mut argv) = cron_command(ha, name);
    argv.insert(1, "--json".to_owned());
    run_as(&user, &argv)
}

/// The member's cron job with its `--patroni` replaced by `patroni` (and more options).
fn cron_with(ha: &PatroniCluster, name: &str, patroni: &[&str], kind: &str) -> Output {
    let (user, argv) = cron_command(ha, name);
    let mut out: Vec<String> = Vec::new();
    for word in argv {
        if word.starts_with("--patroni=") {
            out.extend(patroni.iter().map(|s| (*s).to_owned()));
        } else if word == "full" {
            out.push(kind.to_owned());
        } else {
            out.push(word);
        }
    }
    run_as(&user, &out)
}

/// Runs member `name`'s drill from cron, as rendered from its spec with a drill schedule and
/// an assertion (written beside it, readable by `pg_dbsu` only): the line reads the
/// assertion from that file (`--spec`). Returns the output, with `--json`.
fn cron_drill(ha: &PatroniCluster, name: &str) -> Output {
    let member = ha.member(name);
    let spec = member.root().join("drill-spec.yml");
    write_file_as_postgres(
        &spec,
        format!(
            "{}\npitr_drill_schedule: '30 03 * * *'\npitr_drill_assertions:\n  \
             - {{name: rows, sql: \"SELECT count(*) = 3 FROM drill_t\"}}\n",
            member.spec_yaml()
        ),
        0o600,
    );
    let (user, mut argv) = cron_job(ha, name, &spec, " drill ");
    assert!(
        argv.ends_with(&["--random".into(), format!("--spec={}", path(&spec))]),
        "{argv:?}"
    );
    argv.insert(1, "--json".to_owned());
    run_as(&user, &argv)
}

/// Asserts that the cron job backed up (exit 0, not skipped, the role from Patroni).
fn assert_backed_up(name: &str, out: &Output) {
    let text = output_text(out);
    assert!(out.status.success(), "{name}: {text}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(doc["skipped"], false, "{name}: {text}");
    let summary = &doc["plan"]["summary"];
    assert_eq!(summary["role"], "primary", "{name}: {text}");
    assert_eq!(summary["role_source"], "patroni", "{name}: {text}");
    assert!(doc["report"]["completed"].as_array().is_some(), "{text}");
}

/// Asserts that the cron job skipped as a replica, on Patroni's word.
fn assert_skipped(name: &str, out: &Output) {
    let text = output_text(out);
    assert!(out.status.success(), "{name}: {text}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(doc["skipped"], true, "{name}: {text}");
    let summary = &doc["plan"]["summary"];
    assert_eq!(summary["role"], "replica", "{name}: {text}");
    assert_eq!(summary["role_source"], "patroni", "{name}: {text}");
    let reason = summary["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("reports a running replica")
            && reason.contains("backups run on the leader"),
        "{name}: {text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pitr backup: skipped stanza"),
        "{text}"
    );
}

/// Asserts exit status 1 with `error[role_unknown]` naming `endpoint` and containing `said`.
fn assert_role_unknown(name: &str, out: &Output, endpoint: &str, said: &[&str]) {
    let text = output_text(out);
    assert_eq!(out.status.code(), Some(1), "{name}: {text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error[role_unknown]: cannot tell whether this member is the primary"),
        "{name}: {text}"
    );
    assert!(stderr.contains(endpoint), "{name}: {text}");
    assert!(
        said.iter().any(|s| stderr.contains(s)),
        "{name}: expected one of {said:?}: {text}"
    );
    assert!(stderr.contains("nothing was run"), "{text}");
    assert!(out.stdout.is_empty(), "{name}: {text}");
    eprintln!("{name}: {}", stderr.trim_end());
}

/// The backup sets in the repo: label, type and the timeline of their first WAL segment.
fn sets(ha: &PatroniCluster) -> Vec<(String, String, u32)> {
    let info = ha.info();
    info[0]["backup"]
        .as_array()
        .map(|sets| {
            sets.iter()
                .map(|s| {
                    let start = s["archive"]["start"].as_str().unwrap_or_default();
                    (
                        s["label"].as_str().unwrap_or_default().to_owned(),
                        s["type"].as_str().unwrap_or_default().to_owned(),
                        u32::from_str_radix(start.get(..8).unwrap_or("0"), 16).unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The types and timelines of the sets, in order.
fn set_kinds(ha: &PatroniCluster) -> Vec<(String, u32)> {
    sets(ha).into_iter().map(|(_, t, tl)| (t, tl)).collect()
}

/// How many backups pgBackRest started with the member's configuration (its own log-path).
fn backups_run_on(ha: &PatroniCluster, name: &str) -> usize {
    let log = ha
        .member(name)
        .root()
        .join(format!("pgbackrest-log/{}-backup.log", ha.scope()));
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("backup command begin")
        .count()
}

/// `pitr.plan_backup(spec | overrides)` from the repo's `.venv`: the summary's role, source and
/// skip, or the error code.
fn python_plan_backup(ha: &PatroniCluster, name: &str, overrides: &Value) -> Value {
    let python = pitr_tests::venv_python();
    let script = r#"
import json, sys
import yaml
import pitr
spec = yaml.safe_load(open(sys.argv[1]))
spec.update(json.loads(sys.argv[2]))
try:
    s = pitr.plan_backup(spec, "full").summary
    print(json.dumps({"role": s["role"], "role_source": s.get("role_source"),
                      "skipped": s["skipped"]}))
except pitr.PitrError as e:
    print(json.dumps({"error": e.code, "message": str(e)}))
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(ha.member(name).spec_path())
        .arg(overrides.to_string())
        .output()
        .expect("python runs");
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "the pitr module in .venv failed (run `make wheel` after changing pitr): {text}"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(
        doc.get("error").is_some() || !doc["role_source"].is_null(),
        "the pitr module in .venv predates role_source: run `make wheel`: {text}"
    );
    doc
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a loopback port")
}

/// Runs openssl with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (make setup installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        output_text(&out)
    );
}

/// A CA, a certificate it signed for `127.0.0.1` with its key (readable by `postgres`, who runs
/// Patroni), and an unrelated CA, in `dir`: `ca.crt`, `server.crt`, `server.key`, `other.crt`.
fn certificates(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for (name, cn) in [("ca", "pitr test CA"), ("other", "another CA")] {
        let key = format!("{name}.key");
        let crt = format!("{name}.crt");
        let subj = format!("/CN={cn}");
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subj]);
        openssl(dir, &args);
    }
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    for file in ["ca.crt", "other.crt", "server.crt", "server.key"] {
        pitr_tests::chown_to_postgres(&dir.join(file));
    }
}

/// Rewrites the `restapi` section of member `name`'s `patroni.yml` (JSON) with `tls` (the
/// server certificate and key) or without it.
fn set_rest_tls(ha: &PatroniCluster, name: &str, tls: Option<(&Path, &Path)>) {
    let file = ha.member(name).patroni_yml();
    let text = std::fs::read_to_string(&file).expect("read patroni.yml");
    let mut config: Value = serde_json::from_str(&text).expect("patroni.yml is JSON");
    let rest = config["restapi"].as_object_mut().expect("restapi");
    if let Some((crt, key)) = tls {
        rest.insert("certfile".into(), path(crt).into());
        rest.insert("keyfile".into(), path(key).into());
    } else {
        rest.remove("certfile");
        rest.remove("keyfile");
    }
    let text = serde_json::to_string_pretty(&config).expect("JSON");
    write_file_as_postgres(&file, text, 0o600);
}

fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

#[test]
fn only_patronis_leader_backs_up_and_a_member_that_cannot_tell_runs_nothing() {
    let all = Instant::now();
    let since = Instant::now();
    let mut ha = PatroniCluster::builder("ha-backup")
        .failsafe_mode(false)
        .start();
    let (a, b) = (ha.name_of(0), ha.name_of(1));
    ha.stanza_create();
    ha.member(&a)
        .psql("CREATE TABLE drill_t AS SELECT generate_series(1, 3) AS x");
    timed("cluster start and stanza-create", since);

    // Before a switchover: a leads, b follows.
    let since = Instant::now();
    assert_backed_up(&a, &cron(&ha, &a));
    assert_skipped(&b, &cron(&ha, &b));
    assert_eq!(set_kinds(&ha), [("full".to_owned(), 1)]);
    let py = python_plan_backup(&ha, &a, &serde_json::json!({}));
    assert_eq!(
        (&py["role"], &py["role_source"], &py["skipped"]),
        (&"primary".into(), &"patroni".into(), &false.into()),
        "{py}"
    );
    let py = python_plan_backup(&ha, &b, &serde_json::json!({}));
    assert_eq!(
        (&py["role"], &py["role_source"], &py["skipped"]),
        (&"replica".into(), &"patroni".into(), &true.into()),
        "{py}"
    );
    timed("cron on both members, Python on both", since);

    // The drill from cron, on every member: the leader skips it (exit 0, no record), the
    // replica's host restores a clone to a random time, asks it the spec's assertion and
    // passes. A restore point two seconds after the set stopped, archived, proves where the
    // archive ends: the random time falls between them.
    let since = Instant::now();
    pitr_tests::tick();
    pitr_tests::tick();
    ha.member(&a)
        .psql("SELECT pg_create_restore_point('drill')");
    let wal = ha.member(&a).switch_wal();
    ha.member(&a).wait_postgres_archived(&wal);
    let record = |name: &str| {
        ha.member(name)
            .root()
            .join(format!("pgbackrest-log/pitr-{}-drill.json", ha.scope()))
    };
    let out = cron_drill(&ha, &a);
    let text = output_text(&out);
    assert!(out.status.success(), "{a}: {text}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(
        doc["skipped"]
            .as_str()
            .unwrap_or_default()
            .starts_with("this member is the primary"),
        "{a}: {text}"
    );
    assert!(!record(&a).exists(), "the leader recorded a drill: {text}");
    let out = cron_drill(&ha, &b);
    let text = output_text(&out);
    assert!(out.status.success(), "{b}: {text}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(
        (&doc["ok"], &doc["skipped"]),
        (&true.into(), &Value::Null),
        "{text}"
    );
    assert!(
        doc["target"]
            .as_str()
            .unwrap_or_default()
            .starts_with("time "),
        "{text}"
    );
    let checks = doc["checks"].to_string();
    assert!(
        checks.contains("assertions: 1") && checks.contains("amcheck: "),
        "{text}"
    );
    let recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(record(&b)).expect("b's drill record"))
            .expect("JSON");
    assert_eq!(recorded, doc);
    assert!(
        !ha.member(&b).root().join("data-drill").exists(),
        "the clone is still there"
    );
    assert_eq!(set_kinds(&ha), [("full".to_owned(), 1)]);
    timed("drill from cron on both members", since);

    // After a switchover: b leads on timeline 2, a follows.
    let since = Instant::now();
    ha.switchover(&a, &b);
    ha.wait_timeline(2);
    ha.wait_streaming(&a);
    assert_skipped(&a, &cron(&ha, &a));
    assert_backed_up(&b, &cron(&ha, &b));
    assert_eq!(
        set_kinds(&ha),
        [("full".to_owned(), 1), ("full".to_owned(), 2)]
    );
    timed("switchover, cron on both members", since);

    // The leader's REST API unreachable: from the CLI, and from Python with the spec pointing
    // at a closed port.
    let since = Instant::now();
    let closed = closed_port();
    let url = format!("http://127.0.0.1:{closed}");
    let out = cron_with(&ha, &b, &[&format!("--patroni={url}")], "full");
    assert_role_unknown(&b, &out, &url, &["no usable answer from its REST API"]);
    let py = python_plan_backup(&ha, &b, &serde_json::json!({"patroni_port": closed}));
    assert_eq!(py["error"], "role_unknown", "{py}");
    assert!(
        py["message"].as_str().unwrap_or_default().contains(&url),
        "{py}"
    );
    assert_eq!(sets(&ha).len(), 2);

    // HTTPS: the leader's REST API with a certificate of a test CA (Patroni's
    // restapi.certfile). Verified with that CA it backs up; with another CA it cannot tell.
    let tls = ha.root().join("tls");
    certificates(&tls);
    set_rest_tls(
        &ha,
        &b,
        Some((&tls.join("server.crt"), &tls.join("server.key"))),
    );
    ha.reload_member(&b);
    let https = format!("https://127.0.0.1:{}", ha.member(&b).rest_port());
    let ca = tls.join("ca.crt");
    let switched = poll_until(Duration::from_secs(30), || {
        (ha.member(&b).rest_status("/primary").is_none()).then_some(())
    });
    assert!(
        switched.is_some(),
        "{b} still serves plain HTTP\n{}",
        ha.member(&b).log_tails()
    );
    let https_arg = format!("--patroni={https}");
    let ca_arg = format!("--patroni-ca-file={}", path(&ca));
    let out = poll_until(Duration::from_secs(30), || {
        let out = cron_with(&ha, &b, &[&https_arg, &ca_arg], "incr");
        out.status.success().then_some(out)
    })
    .unwrap_or_else(|| {
        panic!(
            "no backup over HTTPS: {}\n{}",
            output_text(&cron_with(&ha, &b, &[&https_arg, &ca_arg], "incr")),
            ha.member(&b).log_tails()
        )
    });
    assert!(out.status.success(), "{}", output_text(&out));
    let other = format!("--patroni-ca-file={}", path(&tls.join("other.crt")));
    let out = cron_with(&ha, &b, &[&https_arg, &other], "incr");
    assert_role_unknown(
        &b,
        &out,
        &https,
        &["invalid peer certificate: UnknownIssuer"],
    );
    let out = cron_with(
        &ha,
        &b,
        &[&format!(
            "--patroni=http://127.0.0.1:{}",
            ha.member(&b).rest_port()
        )],
        "incr",
    );
    assert_role_unknown(
        &b,
        &out,
        "http://127.0.0.1",
        &["no usable answer from its REST API"],
    );
    assert_eq!(
        set_kinds(&ha),
        [
            ("full".to_owned(), 1),
            ("full".to_owned(), 2),
            ("incr".to_owned(), 2)
        ]
    );
    timed(
        "REST API unreachable, HTTPS with the right and a wrong CA",
        since,
    );

    // A hard failover: b is killed, a leads on timeline 3. b's Patroni is gone: it cannot tell.
    let since = Instant::now();
    ha.failover_kill(&b);
    ha.wait_leader_is(&a);
    ha.wait_timeline(3);
    assert_backed_up(&a, &cron(&ha, &a));
    let url_b = format!("http://127.0.0.1:{}", ha.member(&b).rest_port());
    assert_role_unknown(
        &b,
        &cron(&ha, &b),
        &url_b,
        &["no usable answer from its REST API"],
    );
    set_rest_tls(&ha, &b, None);
    ha.start_member(&b);
    ha.wait_streaming(&b);
    assert_skipped(&b, &cron(&ha, &b));
    timed("failover by kill -9, cron on both members, b back", since);

    // The DCS down without failsafe mode: the leader demotes itself; nobody can tell.
    let since = Instant::now();
    ha.etcd_mut().stop();
    let demoted = poll_until(Duration::from_secs(60), || {
        let member = ha.member(&a);
        (member.role() != Role::Leader
            && member.try_psql("SHOW transaction_read_only").as_deref() == Ok("on"))
        .then_some(())
    });
    assert!(
        demoted.is_some(),
        "{a} still leads without the DCS\n{}",
        ha.all_log_tails()
    );
    for name in [&a, &b] {
        let url = format!("http://127.0.0.1:{}", ha.member(name).rest_port());
        // A replica may still hold the last cluster state it read from the DCS for a moment.
        let out = poll_until(Duration::from_secs(30), || {
            let out = cron(&ha, name);
            (!out.status.success()).then_some(out)
        })
        .unwrap_or_else(|| {
            panic!(
                "{name} still backs up or skips:\n{}",
                output_text(&cron(&ha, name))
            )
        });
        assert_role_unknown(
            name,
            &out,
            &url,
            &[
                "no member holds the leader lock",
                "PostgreSQL is not running under Patroni",
            ],
        );
    }
    timed(
        "DCS down until the leader demotes, cron on both members",
        since,
    );

    // Every set came from the leader of its time, and pgBackRest ran on no other member.
    assert_eq!(
        set_kinds(&ha),
        [
            ("full".to_owned(), 1),
            ("full".to_owned(), 2),
            ("incr".to_owned(), 2),
            ("full".to_owned(), 3)
        ]
    );
    assert_eq!((backups_run_on(&ha, &a), backups_run_on(&ha, &b)), (2, 2));
    timed("the whole test", all);
}
