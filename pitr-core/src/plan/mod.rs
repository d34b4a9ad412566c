//! Plans: what pitr will do, as data, before it does anything.
//!
//! Planning ([`restore`], [`backup`], [`continuity`], [`cluster`]) is pure: it takes the request, the repo's state and facts
//! gathered about the node, and returns a [`Plan`] — a list of [`Step`]s, each an argv vector
//! (never a shell string), a file to write, or a wait, with the OS user it runs as and whether
//! it destroys data. The same plan is printed by a dry run (as JSON, or as a shell script for
//! humans via [`shell`]) and executed by the runner, so what a dry run shows is what runs.
//! A re-run of an interrupted restore plans what completes or undoes it ([`resume`]).
//!
//! Secrets never appear in a plan's serialized form: file contents are held as
//! [`FileContents`], which serializes only its redacted text.

pub mod backup;
pub mod cluster;
pub mod continuity;
pub mod pg_ctl;
pub mod restore;
pub mod resume;
pub mod service;
pub mod shell;
pub mod summary;

pub use summary::{PlanKind, Summary};

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::names::REDACTED;

/// A complete plan.
///
/// JSON: `{"kind", "summary", "stanza", "warnings", "steps", "on_failure"}`, where `kind` and
/// the fields of `summary` are those of [`Summary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// What the plan does and why it looks the way it does (chosen set, repo, window, ...).
    #[serde(flatten)]
    pub summary: Summary,
    /// The stanza it works on.
    pub stanza: String,
    /// Things the operator should know (e.g. a long replay).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Steps, in order. The runner stops at the first that fails.
    pub steps: Vec<Step>,
    /// Steps that undo the plan's changes when a step fails (restore the safety copy).
    #[serde(default)]
    pub on_failure: Vec<Step>,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// A stable id (`stop`, `restore`, `await-recovery`, ...).
    pub id: String,
    /// What the step does, in words.
    pub title: String,
    /// Whether the step removes or overwrites data.
    #[serde(default)]
    pub destructive: bool,
    /// What to do.
    pub action: Action,
}

impl Step {
    /// A program run as `user` (no shell), succeeding on exit status 0.
    pub fn exec(
        id: &str,
        title: impl Into<String>,
        destructive: bool,
        argv: Vec<String>,
        user: &str,
    ) -> Step {
        Step {
            id: id.into(),
            title: title.into(),
            destructive,
            action: Action::Exec {
                argv,
                run_as: Some(user.into()),
                ok_status: Vec::new(),
            },
        }
    }

    /// Advice for the operator: printed and logged, nothing executed.
    pub fn note(id: &str, title: impl Into<String>, text: String) -> Step {
        Step {
            id: id.into(),
            title: title.into(),
            destructive: false,
            action: Action::Note { text },
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Run a program. `argv[0]` is the program; no shell is involved.
    Exec {
        /// Program and arguments, one element each.
        argv: Vec<String>,
        /// OS user to run as (switched in the child); the current user when absent.
        run_as: Option<String>,
        /// Exit statuses that count as success (`[0]` when empty).
        #[serde(default)]
        ok_status: Vec<i32>,
    },
    /// Write a file atomically with a mode and owner.
    WriteFile {
        /// Where.
        path: PathBuf,
        /// Permission bits, e.g. 0o600.
        mode: u32,
        /// Owner (and its group); the current user when absent.
        owner: Option<String>,
        /// The contents.
        contents: FileContents,
    },
    /// Move a directory aside within its parent, e.g. the safety copy of the data directory.
    /// Refused when `from` is not a real directory or anything is at `to`.
    MoveDir {
        /// From.
        from: PathBuf,
        /// To, in the same parent directory; must not exist.
        to: PathBuf,
        /// Who controls the parent directory besides root (the database superuser); links
        /// and directories others control are refused on the way.
        #[serde(default)]
        owner: Option<String>,
    },
    /// Remove a directory tree (only as part of rolling back to a safety copy).
    RemoveDir {
        /// The directory.
        path: PathBuf,
        /// Who must own it (the database superuser, who restored it); a link, or a directory
        /// of anyone else, is refused.
        #[serde(default)]
        owner: Option<String>,
    },
    /// Follow PostgreSQL's log and query it until recovery ends (at the target, or not).
    AwaitRecovery(RecoveryWatch),
    /// Check that where recovery stopped is consistent with the target.
    VerifyRecovery(RecoveryWatch),
    /// Nothing to execute: advice for the operator (printed, logged).
    Note {
        /// The text.
        text: String,
    },
}

/// What the recovery watcher waits for and checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryWatch {
    /// Data directory of the recovering cluster.
    pub data: PathBuf,
    /// The structured server log the start step asks for; the only text pitr reads recovery
    /// events from (see [`crate::recovery::records`]).
    pub log_file: PathBuf,
    /// Its format.
    pub log_format: crate::recovery::LogFormat,
    /// Where `pg_ctl` sends the server's output until the logging collector runs: read only
    /// to say why a server did not come up.
    pub start_log: PathBuf,
    /// Socket directory to connect through.
    pub socket_dir: PathBuf,
    /// Port.
    pub port: u16,
    /// Database user to connect as.
    pub user: String,
    /// The recovery target.
    pub target: crate::target::RecoveryTarget,
    /// Whether the target is exclusive.
    pub exclusive: bool,
    /// What PostgreSQL does at the target.
    pub action: crate::target::TargetAction,
    /// Stop time of the restored backup set (epoch seconds): recovery cannot stop before it.
    pub set_stop_time: u64,
    /// Stop LSN of the restored backup set, when known.
    pub set_stop_lsn: Option<crate::names::Lsn>,
    /// Give up after this many seconds.
    pub timeout_secs: u64,
    /// A time target after the last commit: `target` is then the LSN recovery stops after,
    /// and this is the time asked for with its proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing: Option<crate::quiet::QuietLanding>,
}

/// File contents that may hold secrets: serialized (and shown) redacted, written in full.
///
/// Contents read back from JSON have no secret values; the runner refuses to write such a
/// file when its redacted text still holds `<redacted>` markers.
#[derive(Clone, PartialEq, Eq)]
pub struct FileContents {
    redacted: String,
    full: Option<String>,
}

impl FileContents {
    /// Contents with secrets (`full`) and without (`redacted`).
    pub fn new(full: String, redacted: String) -> Self {
        FileContents {
            redacted,
            full: Some(full),
        }
    }

    /// Contents with no secrets.
    pub fn plain(text: String) -> Self {
        FileContents {
            redacted: text.clone(),
            full: Some(text),
        }
    }

    /// What may be shown.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// What to write, if known: `None` when the plan went through JSON and the file holds
    /// secrets.
    pub fn full(&self) -> Option<&str> {
        match &self.full {
            Some(f) => Some(f),
            None if !self.redacted.contains(REDACTED) => Some(&self.redacted),
            None => None,
        }
    }
}

impl std::fmt::Debug for FileContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FileContents").field(&self.redacted).finish()
    }
}

impl Serialize for FileContents {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted)
    }
}

impl<'de> Deserialize<'de> for FileContents {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(FileContents {
            redacted: String::deserialize(d)?,
            full: None,
        })
    }
}

impl From<crate::render::RenderedFile> for FileContents {
    fn from(f: crate::render::RenderedFile) -> Self {
        FileContents::new(f.contents().to_owned(), f.redacted().to_owned())
    }
}

impl RecoveryWatch {
    /// What the verdict compares the outcome with.
    pub fn expected(&self) -> crate::recovery::Expected<'_> {
        crate::recovery::Expected {
            target: &self.target,
            exclusive: self.exclusive,
            action: self.action,
            set_stop_time: self.set_stop_time,
            set_stop_lsn: self.set_stop_lsn,
            landing: self.landing.as_ref(),
        }
    }
}

impl Plan {
    /// The plan as pretty JSON (secrets redacted).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Reads a plan from JSON (e.g. one printed by a dry run).
    pub fn from_json(text: &str) -> crate::Result<Self> {
        serde_json::from_str(text).map_err(|e| crate::Error::Parse {
            what: "plan".into(),
            message: e.to_string(),
        })
    }

    /// What the plan does.
    pub fn kind(&self) -> PlanKind {
        self.summary.kind()
    }

    /// Whether any step destroys data.
    pub fn is_destructive(&self) -> bool {
        self.steps.iter().any(|s| s.destructive)
    }
}
