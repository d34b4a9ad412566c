//! Object storage, encryption and several repos per stanza, end to end: real PostgreSQL 15,
//! real pgBackRest 2.45 and an S3-compatible server over TLS on loopback ([`S3Server`]).
//!
//! * the S3 harness itself serves pgBackRest over TLS (CA file or verification off) and can be
//!   made unreachable and brought back;
//! * an encrypted backup to S3 and a point-in-time restore by time from it give exactly the
//!   expected rows, and what lands in the bucket is ciphertext;
//! * with repo1 (local) holding an older set and repo2 (S3) a newer one, pitr restores repo2's
//!   set, says why, and replays fewer WAL segments than pgBackRest's own choice; a hole in
//!   repo2's archive makes it fall back to repo1, a hole in both is a `wal_gap`;
//! * the S3 secret key and the cipher passphrase appear in no output, plan or log;
//! * a published default passphrase is refused unless explicitly allowed.
// Tests build their fixtures as root in private temporary directories.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use pitr_tests::{
    S3Server, Stanza, TestCluster, create_padded_tables, files_under, mkdir_as_postgres,
    output_text, pgbackrest, pgbackrest_ok, pitr, tick, write_file_as_postgres,
};

/// A passphrase unique to these tests, so a grep for it finds only leaks.
const PASSPHRASE: &str = "objstore-Cipher-Pass-5Kq9";

/// Everything a test printed or was told, to search for secrets at the end.
#[derive(Default)]
struct Transcript(String);

impl Transcript {
    fn add(&mut self, what: &str, out: &Output) -> String {
        let text = output_text(out);
        writeln!(self.0, "=== {what}\n{text}").unwrap();
        text
    }

    /// Runs `pitr --config <stanza config> <args>`, records it and checks its status.
    fn pitr(&mut self, stanza: &Stanza, args: &[&str], ok: bool) -> String {
        let out = stanza.pitr(args);
        let text = self.add(&format!("pitr {args:?}"), &out);
        assert_eq!(out.status.success(), ok, "pitr {args:?}:\n{text}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs pgBackRest with the stanza's config, records it and asserts success.
    fn pgbackrest(&mut self, stanza: &Stanza, args: &[&str]) -> String {
        let out = pgbackrest(&stanza.config, args);
        let text = self.add(&format!("pgbackrest {args:?}"), &out);
        assert!(out.status.success(), "pgbackrest {args:?}:\n{text}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn plan(&mut self, stanza: &Stanza, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json", "restore", "--dry-run"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.pitr(stanza, &all, true)).unwrap()
    }
}

fn holds(path: &Path, needle: &str) -> bool {
    std::fs::read(path)
        .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

/// The S3 secret and the passphrase are in no recorded output, and in no file under the
/// cluster's or the S3 server's directory except the configs that must hold them (mode 0600).
fn assert_no_secret_leaked(stanza: &Stanza, s3: &S3Server, transcript: &Transcript) {
    let secrets = [
        ("S3 secret key", s3.secret()),
        ("cipher passphrase", PASSPHRASE),
    ];
    for (what, secret) in secrets {
        assert!(
            !transcript.0.contains(secret),
            "the {what} was printed:\n{}",
            transcript.0
        );
    }
    assert!(
        transcript.0.contains("<redacted>"),
        "secrets should show as <redacted> somewhere"
    );
    let root = stanza.cluster.root().to_path_buf();
    let allowed = [
        root.join("spec.yml"),
        root.join("pgbackrest.conf"),
        stanza
            .config
            .with_file_name(format!("pitr-{}-restore.conf", stanza.name)),
    ];
    let mut files = Vec::new();
    files_under(&root, &mut files);
    files_under(s3.root(), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "log")),
        "no log files found under {}",
        root.display()
    );
    for f in &files {
        for (what, secret) in secrets {
            if holds(f, secret) {
                assert!(allowed.contains(f), "{} holds the {what}", f.display());
                let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
                assert_eq!(
                    mode,
                    0o600,
                    "{} holds the {what} with mode {mode:o}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn the_s3_server_serves_pgbackrest_over_tls_and_can_go_away() {
    let mut s3 = S3Server::start();
    assert!(s3.answers_within(Duration::from_secs(5)));
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    mkdir_as_postgres(&work, 0o700);
    let conf = |verify: &str| {
        let path = work.join(format!("{verify}.conf"));
        let tls = if verify == "ca" {
            format!("repo1-storage-ca-file={}\n", s3.ca_file().display())
        } else {
            "repo1-storage-verify-tls=n\n".to_owned()
        };
        write_file_as_postgres(
            &path,
            format!(
                "[global]\nrepo1-type=s3\nrepo1-s3-endpoint={}\nrepo1-storage-port={}\n\
                 repo1-s3-bucket={}\nrepo1-s3-region=us-east-1\nrepo1-s3-key={}\n\
                 repo1-s3-key-secret={}\nrepo1-s3-uri-style=path\nrepo1-path=/smoke\n{tls}\
                 log-path={}\nlock-path={}\nlog-level-file=off\nlog-level-console=warn\n\
                 io-timeout=2\n",
                s3.endpoint(),
                s3.port(),
                s3.bucket(),
                s3.key(),
                s3.secret(),
                work.display(),
                work.display()
            ),
            0o600,
        );
        path
    };
    let with_ca = conf("ca");
    let without = conf("off");
    // The bucket is empty; pgBackRest lists it over TLS either way.
    assert_eq!(
        pgbackrest_ok(&with_ca, &["repo-ls", "--output=json"]).trim(),
        r#"{".":{"type":"path"}}"#
    );
    pgbackrest_ok(&without, &["repo-ls"]);
    // Objects written by pgBackRest are visible through the harness, and can be removed.
    pgbackrest_ok(&with_ca, &["repo-put", "dir/x"]);
    assert_eq!(s3.list_keys("smoke/"), ["smoke/dir/x"]);
    assert!(s3.get_object("smoke/dir/x").is_empty());
    s3.delete_object("smoke/dir/x");
    assert!(s3.list_keys("").is_empty());

    s3.stop_endpoint();
    assert!(!s3.answers_within(Duration::from_secs(1)));
    let out = pgbackrest(&with_ca, &["repo-ls"]);
    assert!(!out.status.success(), "{}", output_text(&out));
    s3.start_endpoint();
    pgbackrest_ok(&with_ca, &["repo-ls"]);

    s3.pause();
    assert!(!s3.answers_within(Duration::from_secs(1)));
    s3.resume();
    assert!(s3.answers_within(Duration::from_secs(5)));
    pgbackrest_ok(&with_ca, &["repo-ls"]);
    s3.stop();
}

/// The spec's `pgbackrest_repo` entry for an encrypted S3 repo on `s3`, as Pigsty's MinIO repo
/// (block incremental and bundles: `beta=y` on pgBackRest 2.45).
fn encrypted_s3_repo(s3: &S3Server, name: &str) -> String {
    format!(
        "{}    bundle: true\n    block: true\n    cipher_type: aes-256-cbc\n    cipher_pass: {PASSPHRASE}\n    retention_full: 4\n",
        s3.repo_yaml(name, "/pgbackrest")
    )
}

/// Restores with `args` (`pitr restore -y ...`), and returns how many WAL segments PostgreSQL
/// restored from the archive during this restore, counted in the recovery log the plan names.
fn restore_counting_segments(t: &mut Transcript, stanza: &Stanza, args: &[&str]) -> usize {
    let plan = t.plan(stanza, args);
    let log = PathBuf::from(plan["summary"]["recovery_log"].as_str().unwrap());
    let before = std::fs::metadata(&log).map_or(0, |m| m.len());
    let mut all = vec!["restore", "-y"];
    all.extend_from_slice(args);
    let out = t.pitr(stanza, &all, true);
    assert!(out.contains("verified"), "{out}");
    let records = pitr_tests::server_log_records(&log, before);
    let restored = records
        .iter()
        .filter(|r| {
            r.message.starts_with("restored log file \"") && r.message.ends_with("\" from archive")
        })
        .count();
    assert!(
        restored > 0,
        "no segment restored? recovery log:\n{records:#?}"
    );
    restored
}

#[test]
fn an_encrypted_backup_to_s3_restores_to_a_time_and_leaks_no_secret() {
    let s3 = S3Server::start();
    let cluster = TestCluster::start("s3-time");
    create_padded_tables(&cluster);
    let spec = Stanza::spec_yaml(&cluster, "s3-time", "s3", &encrypted_s3_repo(&s3, "s3"), "");
    let stanza = Stanza::from_spec(cluster, "s3-time", &spec);
    let mut t = Transcript::default();
    let spec_arg = stanza.spec.display().to_string();
    for what in ["pgbackrest", "restore"] {
        let conf = t.pitr(
            &stanza,
            &["render", "--spec", &spec_arg, "--what", what],
            true,
        );
        assert!(conf.contains("repo1-type=s3"), "{conf}");
        assert!(conf.contains("repo1-cipher-type=aes-256-cbc"), "{conf}");
        assert!(conf.contains("beta=y"), "{conf}");
    }
    tick();
    stanza.insert_rows(1, 100, 1);
    tick();
    let target = stanza.utc_now();
    tick();
    stanza.insert_rows(101, 200, 1);
    stanza.archive_now();

    let info: serde_json::Value =
        serde_json::from_str(&t.pitr(&stanza, &["--json", "info"], true)).unwrap();
    assert_eq!(info["repos"][0]["cipher"], "aes-256-cbc", "{info}");
    assert_eq!(info["sets"].as_array().unwrap().len(), 1, "{info}");
    t.pitr(&stanza, &["info"], true);

    let plan = t.plan(&stanza, &["-t", &target]);
    assert_eq!(plan["summary"]["repo"], 1, "{plan}");
    assert_eq!(plan["summary"]["rule"], "stopped_before_time", "{plan}");
    t.pitr(&stanza, &["restore", "--dry-run", "-t", &target], true);
    // A target outside the window: an error, which must not leak either.
    let err = t.pitr(
        &stanza,
        &["restore", "-y", "-t", "2000-01-01 00:00:00+00"],
        false,
    );
    assert!(err.is_empty());

    let out = t.pitr(&stanza, &["restore", "-y", "-t", &target], true);
    assert!(out.contains("verified"), "{out}");
    assert_eq!(stanza.count("t"), 100);
    t.pgbackrest(&stanza, &["--stanza", "s3-time", "info"]);

    // What reached the bucket is ciphertext: pgBackRest's encrypted files start with
    // OpenSSL's "Salted__" header, info files and WAL segments alike.
    let prefix = "pgbackrest/archive/s3-time/";
    let keys = s3.list_keys(prefix);
    let segments: Vec<&String> = keys
        .iter()
        .filter(|k| k.contains("/0000000100000000/") && !k.contains(".backup"))
        .collect();
    assert!(segments.len() >= 3, "{keys:?}");
    for key in segments
        .iter()
        .copied()
        .chain(keys.iter().filter(|k| k.ends_with("archive.info")))
    {
        assert!(
            s3.get_object(key).starts_with(b"Salted__"),
            "{key} is not encrypted"
        );
    }
    assert!(
        s3.list_keys("pgbackrest/backup/s3-time/")
            .iter()
            .any(|k| k.ends_with("backup.info"))
    );

    assert_no_secret_leaked(&stanza, &s3, &t);
}

#[test]
fn the_nearest_set_across_a_local_and_an_s3_repo_replays_less_than_pgbackrests_choice() {
    let s3 = S3Server::start();
    let cluster = TestCluster::start("multi");
    create_padded_tables(&cluster);
    let repos = format!(
        "{}{}",
        Stanza::local_repo_yaml(&cluster),
        encrypted_s3_repo(&s3, "s3")
    );
    let spec = Stanza::spec_yaml(&cluster, "multi", "[local, s3]", &repos, "");
    // repo1 (local) gets the first full backup: pgBackRest backs up to repo1 unless told.
    let stanza = Stanza::from_spec(cluster, "multi", &spec);
    let mut t = Transcript::default();
    stanza.insert_rows(1, 100, 6);
    t.pitr(&stanza, &["backup", "full", "--repo", "2"], true);
    tick();
    stanza.insert_rows(101, 200, 0);
    // The segment holding these rows, after the repo2 set: recovery to the target needs it.
    let after_f2 = stanza
        .cluster
        .psql("SELECT pg_walfile_name(pg_current_wal_lsn())");
    stanza.insert_rows(0, -1, 1);
    tick();
    let target = stanza.utc_now();
    tick();
    stanza.insert_rows(201, 300, 1);
    stanza.archive_now();

    let info: serde_json::Value =
        serde_json::from_str(&t.pitr(&stanza, &["--json", "info"], true)).unwrap();
    let sets = info["sets"].as_array().unwrap();
    let in_repo = |key: u64| -> Vec<String> {
        sets.iter()
            .filter(|s| s["database"]["repo-key"] == key)
            .map(|s| s["label"].as_str().unwrap().to_owned())
            .collect()
    };
    let (f1, f2) = (in_repo(1), in_repo(2));
    assert_eq!((f1.len(), f2.len()), (1, 1), "{info}");
    let (f1, f2) = (f1[0].clone(), f2[0].clone());
    assert!(f1 < f2, "{f1} {f2}");
    assert!(
        info["windows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["repo_key"] == 2),
        "{info}"
    );

    // pitr: repo2's newer set, and the plan says why and what pgBackRest would have done.
    let plan = t.plan(&stanza, &["-t", &target]);
    let summary = &plan["summary"];
    assert_eq!(summary["repo"], 2, "{plan}");
    assert_eq!(summary["set"], f2.as_str(), "{plan}");
    assert_eq!(summary["rule"], "stopped_before_time", "{plan}");
    assert_eq!(
        summary["pgbackrest_choice"],
        serde_json::json!({"set": f1, "repo": 1}),
        "{plan}"
    );
    let reason = summary["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "{f2} on repo2: the newest set that stopped before"
        )),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("pgBackRest alone would restore {f1} from repo1")),
        "{reason}"
    );
    assert!(reason.contains("earlier in WAL"), "{reason}");
    let restore_step = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "restore")
        .unwrap();
    let argv: Vec<&str> = restore_step["action"]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(argv.contains(&"--repo=2"), "{argv:?}");
    assert!(argv.contains(&format!("--set={f2}").as_str()), "{argv:?}");

    let ours = restore_counting_segments(&mut t, &stanza, &["-t", &target]);
    assert_eq!(stanza.count("t"), 200);

    // pgBackRest on its own (same restore config, no --set, no --repo) takes repo1's set.
    stanza.cluster.stop();
    let restore_conf = stanza
        .config
        .with_file_name("pitr-multi-restore.conf")
        .display()
        .to_string();
    let own = pgbackrest(
        Path::new(&restore_conf),
        &[
            "--stanza=multi",
            "--type=time",
            &format!("--target={target}"),
            "--target-action=pause",
            "restore",
        ],
    );
    let text = t.add("pgbackrest restore (its own choice)", &own);
    assert!(own.status.success(), "{text}");
    assert!(
        text.contains(&format!("repo1: restore backup set {f1}")),
        "{text}"
    );
    // Replay that choice through pitr, so both runs are followed and verified the same way.
    let theirs = restore_counting_segments(
        &mut t,
        &stanza,
        &["-t", &target, "--set", &f1, "--repo", "1"],
    );
    assert_eq!(stanza.count("t"), 200);
    eprintln!("WAL segments replayed: pitr's choice {ours}, pgBackRest's choice {theirs}");
    assert!(
        ours + 5 <= theirs,
        "pitr's choice replayed {ours} segments, pgBackRest's {theirs}"
    );

    // WAL continuity from the S3 listing: a segment missing in repo2 between its set and the
    // target makes that set unusable; pitr falls back to repo1, which has the segment.
    let seg_prefix = format!(
        "pgbackrest/archive/multi/15-1/{}/{after_f2}-",
        &after_f2[..16]
    );
    let keys = s3.list_keys(&seg_prefix);
    assert_eq!(keys.len(), 1, "{seg_prefix}: {keys:?}");
    s3.delete_object(&keys[0]);
    let plan = t.plan(&stanza, &["-t", &target]);
    assert_eq!(plan["summary"]["repo"], 1, "{plan}");
    assert_eq!(plan["summary"]["set"], f1.as_str(), "{plan}");
    let warnings = plan["warnings"].to_string();
    assert!(
        warnings.contains(&after_f2) && warnings.contains("repo2"),
        "the plan should say why repo2's set was passed over: {warnings}"
    );
    // Missing from both repos: pre-flight names it and refuses.
    let local = stanza.archived_segment_files("repo", &after_f2);
    assert_eq!(local.len(), 1, "{local:?}");
    std::fs::remove_file(&local[0]).unwrap();
    let out = stanza.pitr(&["restore", "-y", "-t", &target]);
    let text = t.add("restore across a hole in both repos", &out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("error[wal_gap]"), "{text}");
    assert!(text.contains(&after_f2), "{text}");
    assert_eq!(stanza.count("t"), 200, "the cluster was touched");

    assert_no_secret_leaked(&stanza, &s3, &t);
}

#[test]
fn a_published_default_passphrase_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |pass: &str, extra: &str| {
        let path = dir.path().join("spec.yml");
        std::fs::write(
            &path,
            format!(
                "pg_cluster: weak\npgbackrest_version: '2.45'\npgbackrest_method: local\n\
                 pgbackrest_repo:\n  local:\n    path: /pg/backup\n    cipher_type: aes-256-cbc\n\
                 \x20   cipher_pass: {pass}\n{extra}"
            ),
        )
        .unwrap();
        pitr(&["render", "--spec", &path.display().to_string()])
    };
    let out = spec("pgBackRest", "");
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("error[invalid_setting]"), "{text}");
    assert!(
        text.contains("'cipher_pass' in pgbackrest_repo.local"),
        "{text}"
    );
    assert!(text.contains("published default"), "{text}");
    assert!(text.contains("pitr_allow_weak_cipher_pass"), "{text}");
    // Allowed explicitly, for a test: rendered, and the passphrase is still redacted.
    let out = spec("pgBackRest", "pitr_allow_weak_cipher_pass: true\n");
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("repo1-cipher-pass=<redacted>"), "{text}");
    assert!(!text.contains("pgBackRest\n"), "{text}");
    // An empty passphrase is refused whatever the spec allows: pgBackRest cannot use it.
    for extra in ["", "pitr_allow_weak_cipher_pass: true\n"] {
        let out = spec("''", extra);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{extra}: {text}");
        assert!(text.contains("error[invalid_setting]"), "{extra}: {text}");
        assert!(text.contains("'cipher_pass'"), "{extra}: {text}");
    }
    // A unique passphrase needs no permission.
    let out = spec(PASSPHRASE, "");
    assert!(out.status.success(), "{}", output_text(&out));
}
