//! Values that could smuggle syntax into a config file, a shell or pgBackRest's command line are
//! refused by the real `pitr` binary before anything is touched: a repo name with a newline, a
//! restore config path or data directory with `$(...)`, paths in pgbackrest.conf that a shell
//! would run, extra pgBackRest options that set `restore_command` or carry a secret. An extra
//! option on the allow-list reaches the plan.
// Tests build their fixtures as root in private temporary directories.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
// Helpers of tests: a panic is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use pitr_tests::{Stanza, dir_fingerprint, files_under, output_text, pitr};

const SECRET: &str = "Sekrit.123";

/// Asserts that `out` is an input error (exit 2) with `code`, and returns its text.
fn refused(out: &Output, code: &str, what: &str) -> String {
    let text = output_text(out);
    assert_eq!(out.status.code(), Some(2), "{what}:\n{text}");
    assert!(text.contains(&format!("error[{code}]")), "{what}:\n{text}");
    text
}

/// Files under `root` that a restore (pitr's or pgBackRest's) would write: restore configs,
/// run logs, recovery logs.
fn restore_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_under(root, &mut files);
    files.retain(|f| {
        f.file_name().is_some_and(|n| {
            n.to_string_lossy().contains("restore") || n.to_string_lossy().contains("recovery")
        })
    });
    files.sort();
    files
}

/// Every file below `root` that holds one of `needles`.
fn files_holding(root: &Path, needles: &[&str]) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    files_under(root, &mut files);
    let mut found = Vec::new();
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        for needle in needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push((f.clone(), (*needle).to_owned()));
            }
        }
    }
    found
}

fn postmaster_pid(stanza: &Stanza) -> String {
    std::fs::read_to_string(stanza.cluster.data_dir().join("postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn render_refuses_a_repo_name_that_would_add_config_lines() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    let out_file = dir.path().join("pgbackrest.conf");
    let name = "local\nrepo1-host=evil";
    std::fs::write(
        &spec,
        serde_json::json!({
            "pg_cluster": "inject",
            "pgbackrest_version": "2.45",
            "pgbackrest_method": name,
            "pgbackrest_repo": {name: {"path": "/pg/backup"}},
        })
        .to_string(),
    )
    .unwrap();
    let spec_arg = spec.display().to_string();
    let out_arg = out_file.display().to_string();
    for what in ["pgbackrest", "restore"] {
        let out = pitr(&[
            "render", "--spec", &spec_arg, "--what", what, "--output", &out_arg,
        ]);
        let text = refused(&out, "invalid_value", what);
        assert!(
            text.contains("invalid pgbackrest_repo key 'local\\nrepo1-host=evil'"),
            "{text}"
        );
        assert!(!out_file.exists(), "{what}: a file was written");
        let out = pitr(&["render", "--spec", &spec_arg, "--what", what]);
        refused(&out, "invalid_value", what);
        assert!(!String::from_utf8_lossy(&out.stdout).contains("repo1-host"));
    }
    // The names Pigsty uses still render.
    std::fs::write(
        &spec,
        serde_json::json!({
            "pg_cluster": "inject",
            "pgbackrest_version": "2.45",
            "pgbackrest_method": ["local", "minio_2"],
            "pgbackrest_repo": {"local": {"path": "/pg/backup"}, "minio_2": {"path": "/pg/b2"}},
        })
        .to_string(),
    )
    .unwrap();
    let out = pitr(&["render", "--spec", &spec_arg]);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("# repo2: minio_2 (posix)\n"), "{text}");
}

#[test]
fn hostile_restore_inputs_are_refused_before_anything_is_touched() {
    let stanza = Stanza::local("inject");
    stanza.archive_now();
    let root = stanza.cluster.root().to_path_buf();
    let marker = std::env::temp_dir().join(format!("pitr-pwned-{}", std::process::id()));
    let hostile_config = format!("/tmp/$(touch {})", marker.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--restore-config", &hostile_config],
            "unsafe_characters",
        ),
        (vec!["-D", "/tmp/x$(id)"], "unsafe_characters"),
        (vec!["-D", "/tmp/x`id`"], "unsafe_characters"),
        (vec!["-D", "/tmp/x\"y"], "unsafe_characters"),
        (vec!["-D", "/tmp/../etc"], "invalid_setting"),
        (
            vec!["--", "--recovery-option=restore_command=/bin/false"],
            "option_not_allowed",
        ),
        (
            vec!["--", "--repo1-cipher-pass=Sekrit.123"],
            "secret_on_command_line",
        ),
        (
            vec!["--", "--repo1-cipher-pass", "Sekrit.123"],
            "secret_on_command_line",
        ),
        (vec!["--", "--config=/tmp/evil.conf"], "option_not_allowed"),
        (vec!["--", "--process-max=2"], "invalid_setting"),
    ];
    let run_all = |phase: &str| {
        let mut printed = String::new();
        for (flags, code) in &cases {
            let mut args = vec!["restore", "-y"];
            args.extend_from_slice(flags);
            let out = stanza.pitr(&args);
            printed.push_str(&refused(&out, code, &format!("{phase} {flags:?}")));
            // The dry run refuses them the same way.
            let mut args = vec!["restore", "--check"];
            args.extend_from_slice(flags);
            printed.push_str(&refused(
                &stanza.pitr(&args),
                code,
                &format!("{phase} --check {flags:?}"),
            ));
        }
        assert!(
            !printed.contains(SECRET),
            "{phase}: the secret was printed:\n{printed}"
        );
        assert!(
            !marker.exists(),
            "{phase}: a shell ran the restore config path"
        );
    };

    // With the server running: it keeps running, untouched, and no restore file appears.
    let pid = postmaster_pid(&stanza);
    let before = restore_files(&root);
    run_all("running");
    assert!(stanza.cluster.is_running());
    assert_eq!(postmaster_pid(&stanza), pid, "the server was restarted");
    assert_eq!(restore_files(&root), before);

    // With the server stopped: not one byte of the data directory changes, nothing starts it.
    stanza.cluster.stop();
    let data = dir_fingerprint(&stanza.cluster.data_dir());
    run_all("stopped");
    assert_eq!(dir_fingerprint(&stanza.cluster.data_dir()), data);
    assert!(!stanza.cluster.is_running());
    assert_eq!(restore_files(&root), before);

    let leaked = files_holding(
        &root,
        &[
            SECRET,
            "$(touch",
            "x$(id)",
            "restore_command=/bin/false",
            "evil.conf",
        ],
    );
    assert!(leaked.is_empty(), "hostile values were written: {leaked:?}");
}

#[test]
fn hostile_config_paths_are_refused_and_allowed_extra_options_reach_the_plan() {
    let stanza = Stanza::local("inject-conf");
    stanza.archive_now();
    let good = std::fs::read_to_string(&stanza.config).unwrap();
    let bad_config = stanza.cluster.path("bad.conf");
    let bad_arg = bad_config.display().to_string();
    for key in [
        "pg1-path",
        "pg1-socket-path",
        "log-path",
        "spool-path",
        "lock-path",
    ] {
        for value in ["/tmp/$(id)", "/tmp/`id`", "/tmp/x;id"] {
            let text: String = good
                .lines()
                .map(|l| {
                    if l.starts_with(&format!("{key}=")) {
                        format!("{key}={value}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            assert!(
                text.contains(&format!("{key}={value}\n")),
                "{key} is in the config"
            );
            std::fs::write(&bad_config, text).unwrap();
            for args in [
                vec!["--config", &bad_arg, "info"],
                vec!["--config", &bad_arg, "restore", "--check"],
            ] {
                let out = pitr(&args);
                let shown = refused(
                    &out,
                    "unsafe_characters",
                    &format!("{key}={value} {args:?}"),
                );
                assert!(shown.contains(&format!("'{key}'")), "{shown}");
            }
        }
    }
    let out = pitr(&["--config", "/tmp/$(id)/pgbackrest.conf", "info"]);
    refused(&out, "unsafe_characters", "--config");

    // An option on the allow-list is passed to pgbackrest restore, canonical, and shown.
    let plan: serde_json::Value = serde_json::from_str(&stanza.pitr_ok(&[
        "--json",
        "restore",
        "--check",
        "--",
        "--io-timeout=120",
        "--link-all=n",
        "--log-level-console=detail",
    ]))
    .unwrap();
    let restore = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "restore")
        .unwrap();
    let argv: Vec<&str> = restore["action"]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let tail = &argv[argv.len() - 4..];
    assert_eq!(
        tail,
        [
            "--io-timeout=120",
            "--no-link-all",
            "--log-level-console=detail",
            "restore"
        ],
        "{argv:?}"
    );
    let script = stanza.pitr_ok(&["restore", "--check", "--", "--io-timeout=120"]);
    assert!(script.contains(" '--io-timeout=120' restore\n"), "{script}");
}
