//! Whether the running `archive_command` is the one pitr renders for the node.

use std::path::{Path, PathBuf};

use super::{Check, CheckResult, PGBACKREST_DEFAULT_CONFIG};
use crate::error::{Error, Result};
use crate::render::Renderer;
use crate::spec::ClusterSpec;

/// What `archive_command` should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectedArchive {
    /// Exactly this command (rendered from a cluster spec by `pitr render --what archive`).
    Rendered(String),
    /// Known only from pgbackrest.conf: a `pgbackrest` executable with `--stanza=<stanza>`,
    /// `--config=<config>` (may be left out when `config` is pgBackRest's default) and
    /// `archive-push %p`.
    Node {
        /// The node's pgbackrest.conf.
        config: PathBuf,
        /// The node's stanza.
        stanza: String,
    },
}

impl ExpectedArchive {
    fn describe(&self) -> String {
        match self {
            ExpectedArchive::Rendered(c) => format!("'{c}' (rendered from the spec)"),
            ExpectedArchive::Node { config, stanza } => format!(
                "'pgbackrest --config={} --stanza={stanza} archive-push %p' \
                 (what pitr render --what archive writes for this node)",
                config.display()
            ),
        }
    }
}

/// The `archive_command` that `pitr render --what archive` writes for `spec`.
pub fn rendered_archive_command(spec: &ClusterSpec) -> Result<String> {
    let file = Renderer::new().archive_settings(spec)?;
    file.contents()
        .lines()
        .find_map(|l| {
            l.strip_prefix("archive_command = '")
                .and_then(|rest| rest.strip_suffix('\''))
        })
        .map(|c| c.replace("''", "'"))
        .ok_or_else(|| Error::Template {
            id: file.id().as_str().into(),
            message: "the rendered archive settings have no archive_command = '...' line".into(),
        })
}

/// Words that mark an assignment or option as secret in a command line.
const SECRET_WORDS: [&str; 4] = ["pass", "secret", "key", "token"];

/// `command` with the values of secret-looking `NAME=value` words replaced by `<redacted>`
/// (`PGBACKREST_REPO1_CIPHER_PASS=...`, `--repo1-s3-key=...`).
pub fn redact_command(command: &str) -> String {
    command
        .split(' ')
        .map(|word| match word.split_once('=') {
            Some((name, _))
                if SECRET_WORDS
                    .iter()
                    .any(|s| name.to_ascii_lowercase().contains(s)) =>
            {
                format!("{name}=<redacted>")
            }
            _ => word.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The value of option `--name` in `argv` (`--name=value` or `--name value`).
fn option<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    let long = format!("--{name}");
    let with_eq = format!("--{name}=");
    argv.iter().enumerate().find_map(|(i, a)| {
        if let Some(v) = a.strip_prefix(&with_eq) {
            Some(v)
        } else if *a == long {
            argv.get(i + 1).map(String::as_str)
        } else {
            None
        }
    })
}

fn same_path(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (a.canonicalize(), b.canonicalize()),
            (Ok(x), Ok(y)) if x == y
        )
}

/// Whether the running `archive_command` is what pitr would render for the node.
pub fn archive_command(actual: &str, expected: &ExpectedArchive) -> CheckResult {
    let shown = redact_command(actual);
    let mismatch = |why: String| {
        CheckResult::fail(
            Check::ArchiveCommand,
            format!(
                "archive_command is '{shown}': {why}; expected {}. Fix it (pitr render --what \
                 archive) and reload PostgreSQL",
                expected.describe()
            ),
        )
    };
    let Some(argv) = shlex::split(actual).filter(|a| !a.is_empty()) else {
        return mismatch("it is empty or not a command line".into());
    };
    match expected {
        ExpectedArchive::Rendered(command) => {
            if shlex::split(command).as_deref() == Some(argv.as_slice()) {
                CheckResult::pass(
                    Check::ArchiveCommand,
                    format!("archive_command is '{shown}'"),
                )
            } else {
                mismatch("it differs from the rendered command".into())
            }
        }
        ExpectedArchive::Node { config, stanza } => {
            let program = Path::new(&argv[0]).file_name().and_then(|n| n.to_str());
            if program != Some("pgbackrest") {
                return mismatch(format!(
                    "it runs '{}', not pgbackrest",
                    redact_command(&argv[0])
                ));
            }
            match option(&argv, "stanza") {
                Some(s) if s == stanza => {}
                Some(s) => return mismatch(format!("it pushes to stanza '{s}'")),
                None => return mismatch("it names no --stanza".into()),
            }
            match option(&argv, "config") {
                Some(c) if same_path(Path::new(c), config) => {}
                Some(c) => return mismatch(format!("it reads config '{c}'")),
                None if same_path(config, Path::new(PGBACKREST_DEFAULT_CONFIG)) => {}
                None => {
                    return mismatch(format!(
                        "it names no --config, so pgBackRest reads {PGBACKREST_DEFAULT_CONFIG} \
                         instead of {}",
                        config.display()
                    ));
                }
            }
            let push = argv.iter().position(|a| a == "archive-push");
            if push.is_none_or(|i| argv.get(i + 1).map(String::as_str) != Some("%p")) {
                return mismatch("it does not run 'archive-push %p'".into());
            }
            CheckResult::pass(
                Check::ArchiveCommand,
                format!("archive_command is '{shown}'"),
            )
        }
    }
}
