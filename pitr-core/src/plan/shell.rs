//! A plan as a shell script for humans: what pitr runs, step by step, correctly quoted.
//!
//! The script is for reading and for doing by hand what pitr would do. Secrets appear as
//! `<redacted>`; the wait for recovery is shown as what to watch for.
//!
//! Plans carry text that came from input (paths, labels and targets in step titles, summary
//! values, warnings, notes), so the script is built from three kinds of lines only: comments,
//! written by [`comment`] one `# ` line per line of text with control characters escaped;
//! commands, whose every word (argv elements, paths) is quoted with `shlex`; and file contents
//! in a quoted heredoc whose delimiter no line of the contents equals ([`heredoc_delimiter`]).
//! Nothing else is copied into the script.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

use super::{Action, Plan, Step};
use crate::error::one_line;

/// One shell word. `shlex` refuses only NUL, which no argument can hold (the kernel ends an
/// argument at NUL), so it is dropped before quoting again.
fn quote(s: &str) -> String {
    shlex::try_quote(s).map_or_else(
        |_| {
            let cleaned = s.replace('\0', "");
            shlex::try_quote(&cleaned).map_or_else(|_| "''".to_owned(), Cow::into_owned)
        },
        Cow::into_owned,
    )
}

fn quote_path(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

/// An argv as one shell-quoted line.
pub fn quote_argv(argv: &[String]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

fn argv_line(argv: &[String], run_as: Option<&str>) -> String {
    let mut words: Vec<String> = Vec::with_capacity(argv.len() + 4);
    if let Some(user) = run_as {
        words.extend(["runuser".into(), "-u".into(), quote(user), "--".into()]);
    }
    words.extend(argv.iter().map(|a| quote(a)));
    words.join(" ")
}

/// `text` as comment lines: one `# ` line per line of text, every control character (a
/// carriage return, a lone form feed, ...) escaped so that nothing leaves the comment or hides
/// in it on a terminal.
fn comment(text: &str) -> String {
    text.split('\n').fold(String::new(), |mut out, l| {
        let _ = writeln!(out, "# {}", one_line(l));
        out
    })
}

/// A heredoc delimiter that no line of `contents` equals: `PITR_EOF`, else `PITR_EOF_1`, ...
fn heredoc_delimiter(contents: &str) -> String {
    let lines: Vec<&str> = contents.split('\n').collect();
    let mut delimiter = "PITR_EOF".to_owned();
    let mut n = 0;
    while lines.contains(&delimiter.as_str()) {
        n += 1;
        delimiter = format!("PITR_EOF_{n}");
    }
    delimiter
}

fn step_lines(out: &mut String, step: &Step) {
    match &step.action {
        Action::Exec {
            argv,
            run_as,
            ok_status,
        } => {
            let line = argv_line(argv, run_as.as_deref());
            let accepted: Vec<i32> = ok_status.iter().copied().filter(|s| *s != 0).collect();
            if accepted.is_empty() {
                let _ = writeln!(out, "{line}");
            } else {
                let list = accepted.iter().map(i32::to_string).collect::<Vec<_>>();
                let _ = writeln!(
                    out,
                    "{line} || case $? in {}) ;; *) exit 1 ;; esac",
                    list.join("|")
                );
            }
        }
        Action::WriteFile {
            path,
            mode,
            owner,
            contents,
        } => {
            let mut install = format!("install -m {mode:04o}");
            if let Some(o) = owner {
                let _ = write!(install, " -o {} -g \"$(id -gn {})\"", quote(o), quote(o));
            }
            let text = contents.redacted();
            let delimiter = heredoc_delimiter(text);
            let _ = writeln!(
                out,
                "{install} /dev/stdin {} <<'{delimiter}'",
                quote_path(path)
            );
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
            let _ = writeln!(out, "{delimiter}");
        }
        Action::MoveDir { from, to, .. } => {
            let _ = writeln!(out, "mv -T -- {} {}", quote_path(from), quote_path(to));
        }
        Action::RemoveDir { path, .. } => {
            let _ = writeln!(out, "rm -rf -- {}", quote_path(path));
        }
        Action::AwaitRecovery(w) => {
            out.push_str(&comment(&format!(
                "pitr follows {} and queries the server on port {} until PostgreSQL reports\n\
                 stopping at the target ({}), then checks the stop point; give up after {}s.\n\
                 By hand: tail -f {}",
                w.log_file.display(),
                w.port,
                w.target,
                w.timeout_secs,
                w.log_file.display()
            )));
        }
        Action::VerifyRecovery(w) => {
            out.push_str(&comment(&format!(
                "pitr checks the stop point PostgreSQL reported (and, while it runs, \
                 pg_last_wal_replay_lsn() and pg_last_xact_replay_timestamp()) against {}; \
                 a stop before the set {} was consistent, or past the target, fails the restore.",
                w.target,
                w.set_stop_lsn.map(|l| l.to_string()).unwrap_or_default()
            )));
        }
        Action::Note { text } => out.push_str(&comment(text)),
    }
}

/// Renders a plan as a bash script.
pub fn to_shell(plan: &Plan) -> String {
    let mut out = String::from("#!/usr/bin/env bash\n");
    out.push_str(&comment(&format!(
        "pitr {} plan for stanza {}",
        plan.kind().as_str(),
        plan.stanza
    )));
    let summary = serde_json::to_value(&plan.summary).unwrap_or_default();
    if let Some(obj) = summary
        .get("summary")
        .and_then(serde_json::Value::as_object)
    {
        for (k, v) in obj {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&comment(&format!("{k}: {text}")));
        }
    }
    for w in &plan.warnings {
        out.push_str(&comment(&format!("WARNING: {w}")));
    }
    out.push_str("set -euo pipefail\n");
    let total = plan.steps.len();
    for (i, step) in plan.steps.iter().enumerate() {
        out.push('\n');
        out.push_str(&comment(&format!(
            "[{}/{total}] {}: {}{}",
            i + 1,
            step.id,
            step.title,
            if step.destructive {
                " (destroys data)"
            } else {
                ""
            }
        )));
        step_lines(&mut out, step);
    }
    if !plan.on_failure.is_empty() {
        out.push_str("\n# If a step above fails, pitr undoes its changes:\n");
        for step in &plan.on_failure {
            let mut lines = String::new();
            step_lines(&mut lines, step);
            out.push_str(&comment(&format!(
                "{}: {}\n{}",
                step.id,
                step.title,
                lines.trim_end()
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::FileContents;
    use crate::plan::summary::{ServiceAction, ServiceSummary, Summary};

    /// A summary whose data directory is `data`.
    fn summary(data: &str) -> Summary {
        Summary::Service(ServiceSummary {
            service: ServiceAction::Stop,
            data: data.into(),
            pid: Some(42),
            changed: true,
        })
    }

    #[test]
    fn quotes_arguments_and_redacts_files() {
        let plan = Plan {
            summary: summary("/pg/data"),
            stanza: "pg-meta".into(),
            warnings: vec!["replay will be long".into()],
            steps: vec![
                Step {
                    id: "restore".into(),
                    title: "Restore".into(),
                    destructive: true,
                    action: Action::Exec {
                        argv: vec![
                            "pgbackrest".into(),
                            "--target=2026-11-23 20:27:46+00".into(),
                            "--type=time".into(),
                            "it's".into(),
                        ],
                        run_as: Some("postgres".into()),
                        ok_status: vec![],
                    },
                },
                Step {
                    id: "write".into(),
                    title: "Write".into(),
                    destructive: false,
                    action: Action::WriteFile {
                        path: "/pg/conf/pitr.conf".into(),
                        mode: 0o600,
                        owner: Some("postgres".into()),
                        contents: FileContents::new("k=secret\n".into(), "k=<redacted>\n".into()),
                    },
                },
            ],
            on_failure: vec![],
        };
        let sh = to_shell(&plan);
        assert!(sh.contains("runuser -u postgres -- pgbackrest '--target=2026-11-23 20:27:46+00' '--type=time' \"it's\"\n"), "{sh}");
        assert!(sh.contains("install -m 0600 -o postgres -g \"$(id -gn postgres)\" /dev/stdin /pg/conf/pitr.conf <<'PITR_EOF'\nk=<redacted>\nPITR_EOF\n"), "{sh}");
        assert!(!sh.contains("secret\n"));
        assert!(sh.contains("# WARNING: replay will be long"));
    }

    /// Every line outside heredocs is blank, a comment, or one of the commands pitr writes;
    /// heredocs end exactly where they should. Returns the heredoc bodies.
    fn check_structure(sh: &str) -> Vec<String> {
        let mut bodies = Vec::new();
        let mut lines = sh.split('\n');
        assert_eq!(lines.next(), Some("#!/usr/bin/env bash"));
        while let Some(line) = lines.next() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            assert!(
                [
                    "set -euo pipefail",
                    "runuser -u ",
                    "install -m ",
                    "mv -T -- ",
                    "rm -rf -- "
                ]
                .iter()
                .any(|p| line.starts_with(p)),
                "a line that is no comment and no command of pitr's: {line:?}\n{sh}"
            );
            if let Some(start) = line.rfind("<<'") {
                let delimiter = line[start + 3..].trim_end_matches('\'');
                let body: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
                bodies.push(body.join("\n"));
            }
        }
        bodies
    }

    const HOSTILE: &str = "x\nrm -rf / #\r\u{1b}[2Kok\u{202e}";
    const WORD: &str = "x; rm -rf / $(id) `id` \"$HOME\" 'q' #";

    fn hostile_plan() -> Plan {
        Plan {
            summary: summary(HOSTILE),
            stanza: format!("pg-meta{HOSTILE}"),
            warnings: vec![HOSTILE.into()],
            steps: vec![
                Step {
                    id: HOSTILE.into(),
                    title: format!("Restore into {HOSTILE}"),
                    destructive: true,
                    // Words come from validated values (no control characters); quoting
                    // keeps shell syntax in them inert.
                    action: Action::Exec {
                        argv: vec!["/usr/bin/pgbackrest".into(), WORD.into(), "a\0b'c".into()],
                        run_as: Some("postgres".into()),
                        ok_status: vec![0, 3],
                    },
                },
                Step {
                    id: "write".into(),
                    title: HOSTILE.into(),
                    destructive: false,
                    action: Action::WriteFile {
                        path: format!("/tmp/{WORD}").into(),
                        mode: 0o600,
                        owner: Some("postgres".into()),
                        contents: FileContents::plain(
                            "a=1\nPITR_EOF\nrm -rf /\nPITR_EOF_1\n PITR_EOF_2\n".into(),
                        ),
                    },
                },
                Step {
                    id: "note".into(),
                    title: "Note".into(),
                    destructive: false,
                    action: Action::Note {
                        text: format!("line one\n{HOSTILE}"),
                    },
                },
                Step {
                    id: "move".into(),
                    title: "Move".into(),
                    destructive: false,
                    action: Action::MoveDir {
                        from: format!("/pg/{WORD}").into(),
                        to: "/pg/$(id)".into(),
                        owner: Some("postgres".into()),
                    },
                },
            ],
            on_failure: vec![Step {
                id: HOSTILE.into(),
                title: HOSTILE.into(),
                destructive: true,
                action: Action::RemoveDir {
                    owner: None,
                    path: format!("/pg/{HOSTILE}").into(),
                },
            }],
        }
    }

    #[test]
    fn hostile_text_stays_inside_comments_and_words() {
        let sh = to_shell(&hostile_plan());
        let bodies = check_structure(&sh);
        assert_eq!(
            bodies,
            ["a=1\nPITR_EOF\nrm -rf /\nPITR_EOF_1\n PITR_EOF_2"],
            "{sh}"
        );
        assert!(sh.contains("<<'PITR_EOF_2'\n"), "{sh}");
        // No control character reaches the script outside the file body.
        assert!(!sh.contains(['\r', '\u{1b}', '\u{202e}', '\0']), "{sh:?}");
        assert!(
            sh.contains("\n# [1/4] x\n# rm -rf / #\\r\\u{1b}[2Kok\\u{202e}: Restore into x\n"),
            "{sh}"
        );
        assert!(sh.contains("\n# WARNING: x\n# rm -rf / #\\r"), "{sh}");
        assert!(sh.contains("\n# rm -rf -- '/pg/x\n# rm -rf / #\\r"), "{sh}");
        let quoted = quote(WORD);
        assert!(
            sh.contains(&format!("pgbackrest {quoted} \"ab'c\" || case $? in 3)")),
            "{sh}"
        );
        assert!(
            sh.contains(&format!("mv -T -- '/pg/{}", &quoted[1..])),
            "{sh}"
        );
        assert!(sh.contains(" '/pg/$(id)'\n"), "{sh}");
    }

    #[test]
    fn quoted_words_read_back_as_themselves_in_bash() {
        for word in [
            WORD,
            "it's",
            "$(touch /tmp/pwned)",
            "a\nb",
            "--target=2026-11-23 20:27:46+00",
            "",
        ] {
            let out = std::process::Command::new("bash")
                .args(["-c", &format!("printf %s {}", quote(word))])
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                word,
                "{}",
                quote(word)
            );
        }
    }

    #[test]
    fn the_heredoc_delimiter_is_no_line_of_the_contents() {
        assert_eq!(heredoc_delimiter("a\nb\n"), "PITR_EOF");
        assert_eq!(heredoc_delimiter("PITR_EOF"), "PITR_EOF_1");
        assert_eq!(heredoc_delimiter("x\nPITR_EOF\nPITR_EOF_1\n"), "PITR_EOF_2");
        assert_eq!(
            heredoc_delimiter("PITR_EOF \n\tPITR_EOF\nPITR_EOF\r"),
            "PITR_EOF"
        );
    }

    #[test]
    fn a_realistic_restore_plan_reads_as_this_script() {
        use crate::node::Node;
        use crate::plan::restore::{DataState, NodeFacts, plan_restore};
        use crate::render::Renderer;
        use crate::select::{RepoState, select};
        use crate::spec::ClusterSpec;
        use crate::target::RestoreRequest;

        let info = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/pgbackrest-2.45/info-local-full-incr.json"
        ))
        .unwrap();
        let report = crate::info::parse(&info).unwrap();
        let spec = ClusterSpec::from_yaml_str(
            "pg_cluster: demo\nnode_cpu: 4\npgbackrest_version: '2.45'\n\
             pg_socket_dir: /var/run/postgresql\n",
        )
        .unwrap();
        let site = Node::from_spec(&spec).restore_site(
            Path::new("/usr/lib/postgresql/15/bin"),
            Path::new("/usr/bin/pgbackrest"),
            None,
            3600,
        );
        let request = RestoreRequest::from_pg_pitr(
            serde_json::json!({"time": "2026-11-23 20:27:46+00", "backup": true,
                "extra": ["--io-timeout=120", "--log-level-console=detail"]}),
            None,
        )
        .unwrap();
        let selection = select(
            RepoState {
                stanza: &report.stanzas[0],
                histories: &crate::history::TimelineHistories::new(),
                listings: &std::collections::BTreeMap::new(),
                marks: &[],
            },
            &request,
            None,
        )
        .unwrap();
        let facts = NodeFacts {
            data_state: DataState::Cluster,
            postmaster_pid: Some(4242),
            free_bytes: Some(1 << 40),
            safety_copy_exists: false,
        };
        let plan = plan_restore(&site, &request, &selection, &facts, &Renderer::new()).unwrap();
        let sh = to_shell(&plan);
        check_structure(&sh);
        insta::assert_snapshot!(sh);
    }
}
