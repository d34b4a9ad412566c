//! A plan as a shell script for humans: what pitr runs, step by step, correctly quoted.
//!
//! The script is for reading and for doing by hand what pitr would do. Secrets appear as
//! `<redacted>`; the wait for recovery is shown as what to watch for.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

use super::{Action, Plan, Step};

fn quote(s: &str) -> String {
    shlex::try_quote(s).map_or_else(|_| format!("'{}'", s.replace('\0', "")), Cow::into_owned)
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

fn comment(text: &str) -> String {
    text.lines().fold(String::new(), |mut out, l| {
        let _ = writeln!(out, "# {l}");
        out
    })
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
            let _ = writeln!(
                out,
                "{install} /dev/stdin {} <<'PITR_EOF'",
                quote_path(path)
            );
            out.push_str(contents.redacted());
            if !contents.redacted().ends_with('\n') {
                out.push('\n');
            }
            out.push_str("PITR_EOF\n");
        }
        Action::MoveDir { from, to, .. } => {
            let _ = writeln!(out, "mv -T -- {} {}", quote_path(from), quote_path(to));
        }
        Action::RemoveDir { path } => {
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
    let _ = writeln!(
        out,
        "# pitr {} plan for stanza {}",
        match plan.kind {
            super::PlanKind::Restore => "restore",
            super::PlanKind::Backup => "backup",
        },
        plan.stanza
    );
    if let Some(obj) = plan.summary.as_object() {
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
        let _ = writeln!(
            out,
            "\n# [{}/{total}] {}: {}{}",
            i + 1,
            step.id,
            step.title,
            if step.destructive {
                " (destroys data)"
            } else {
                ""
            }
        );
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
    use crate::plan::{FileContents, PlanKind};

    #[test]
    fn quotes_arguments_and_redacts_files() {
        let plan = Plan {
            kind: PlanKind::Restore,
            stanza: "pg-meta".into(),
            summary: serde_json::json!({"set": "20261123-202742F"}),
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
}
