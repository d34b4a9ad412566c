//! The run journal: where a plan run is, written down before each step, so that a run cut
//! short (pitr killed, the machine stopped) can be found, completed or undone by the next one.
//!
//! One file per stanza and node, `<log-path>/<stanza>-pitr-journal.json`, holding one
//! [`RunRecord`]: a run id, what was asked (the request, as JSON, to tell a re-run of the same
//! request from another), the plan now running (secrets redacted) and its step ids, the index
//! of the step being run, the phase ([`Phase`]: running, rolling back, or how it ended), the
//! directories the run moved (the guards of [`super::runner`] allow removing only what the
//! run itself put in place), where the recovery logs ended when it began, and notes later
//! steps need from earlier ones. A whole-cluster restore keeps its record in a file of its own,
//! `<stanza>-pitr-cluster-journal.json` ([`cluster_journal_path`]), beside the records of the
//! backup and WAL push it runs.
//!
//! Every change is a [`files::write_private`]: a new file owned by pitr's own user and the
//! database user's group, mode 0640 (it holds no secret: the plan is redacted), fsynced and
//! renamed into place, the directory fsynced — a crash leaves the old record or the new one,
//! never half of one. Entering a step is a [`files::replace_private`]: the same, without the
//! directory's fsync (one fsync less per step, which a loaded disk makes costly). A `kill -9`
//! sees every entry; after a machine crash the record may name an earlier step than the one
//! that ran, never a later one, and the re-run's decision from an earlier step is the same or
//! a redo ([`crate::plan::resume`]: every step before `start` redoes, every one from it on
//! completes, and a redo puts back whatever the run had changed). The record of a run's start,
//! of a directory moved, of a rollback and of the end stay durable. The log path belongs to the database OS user, who can read the journal
//! and remove it (pitr then knows of no interrupted run, and its checks before planning apply
//! as for a first run: an existing `<data>-backup` is refused) but cannot change it; a file of
//! another user in its place is no record pitr trusts ([`files::read_private`] ignores it).
//!
//! The API is small and generic: [`Journal::begin`] a record, [`Journal::enter`] each step,
//! [`Journal::moved`] after a directory move, [`Journal::rolling_back`], [`Journal::finish`];
//! [`load`] reads what is there. What a re-run does with an interrupted restore is decided in
//! [`crate::plan::resume`].
//!
//! ```
//! use pitr_core::run::journal::{Phase, RunRecord};
//! let record = RunRecord::new("restore", "pg-test", serde_json::json!({"time": "..."}));
//! assert_eq!(record.phase, Phase::Running);
//! assert!(record.is_interrupted());
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files;
use super::user::OsUser;
use crate::error::{Error, Result};
use crate::plan::Plan;

/// Where a run is, or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Running its steps (a record left in this phase was interrupted).
    Running,
    /// A step failed; running the plan's `on_failure` steps (interrupted when left so).
    RollingBack,
    /// Every step succeeded.
    Done,
    /// A step failed and there was nothing to roll back.
    Failed,
    /// A step failed and the `on_failure` steps put everything back.
    RolledBack,
    /// An interrupted run was undone (`pitr restore --undo`, or a re-run that finished a
    /// rollback).
    Undone,
    /// An interrupted run was left as it is (`pitr restore --abandon`).
    Abandoned,
}

/// The journal's record of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id: its start time and pid (`20261202T173000Z-4242`).
    pub run_id: String,
    /// What runs (`restore`, `backup`, ...: a plan kind).
    pub kind: String,
    /// The stanza.
    pub stanza: String,
    /// What was asked, as JSON: a re-run with an equal request continues this run.
    pub request: serde_json::Value,
    /// The plan now running, secrets redacted (`None` until one is set).
    #[serde(default)]
    pub plan: Option<serde_json::Value>,
    /// Its step ids, in order.
    #[serde(default)]
    pub steps: Vec<String>,
    /// Index in `steps` of the step being run (entered, not known to be done).
    #[serde(default)]
    pub current: Option<usize>,
    /// The phase.
    pub phase: Phase,
    /// How it ended, in words.
    #[serde(default)]
    pub outcome: Option<String>,
    /// Directories the run moved, oldest first: `(from, to)`.
    #[serde(default)]
    pub moved: Vec<(PathBuf, PathBuf)>,
    /// Size of each recovery log when the run began: the watcher reads only what follows.
    #[serde(default)]
    pub log_offsets: Vec<(PathBuf, u64)>,
    /// What later steps need from earlier ones, by name (a cluster restore: the timeline the
    /// restore promoted to, the chosen set).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, serde_json::Value>,
    /// The pid of the pitr that wrote it last.
    pub pid: u32,
    /// When the run began (UTC).
    pub started: String,
    /// When the record was last written (UTC).
    pub updated: String,
}

impl RunRecord {
    /// A new record of a run of `kind` on `stanza` for `request`, running.
    pub fn new(kind: &str, stanza: &str, request: serde_json::Value) -> RunRecord {
        let now = jiff::Timestamp::now();
        RunRecord {
            run_id: format!("{}-{}", now.strftime("%Y%m%dT%H%M%SZ"), std::process::id()),
            kind: kind.to_owned(),
            stanza: stanza.to_owned(),
            request,
            plan: None,
            steps: Vec::new(),
            current: None,
            phase: Phase::Running,
            outcome: None,
            moved: Vec::new(),
            log_offsets: Vec::new(),
            notes: BTreeMap::new(),
            pid: std::process::id(),
            started: now.to_string(),
            updated: now.to_string(),
        }
    }

    /// Whether the run stopped without ending (running or rolling back): only possible when
    /// the pitr that ran it died, since the stanza's lock is held while reading it.
    pub fn is_interrupted(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::RollingBack)
    }

    /// The id of the step being run, if any.
    pub fn current_step(&self) -> Option<&str> {
        self.current
            .and_then(|i| self.steps.get(i))
            .map(String::as_str)
    }

    /// The plan now running, read back (its secrets are gone).
    pub fn plan(&self) -> Result<Option<Plan>> {
        self.plan
            .as_ref()
            .map(|p| Plan::from_json(&p.to_string()))
            .transpose()
    }

    /// Sets the plan now running; the step index starts over.
    pub fn set_plan(&mut self, plan: &Plan) {
        self.plan = serde_json::to_value(plan).ok();
        self.steps = plan.steps.iter().map(|s| s.id.clone()).collect();
        self.current = None;
    }
}

/// The journal file of `stanza` in `log_dir`.
pub fn journal_path(log_dir: &Path, stanza: &str) -> PathBuf {
    log_dir.join(format!("{stanza}-pitr-journal.json"))
}

/// The journal file of the whole-cluster restores of `stanza` in `log_dir`: a file of its own,
/// since the backup and the WAL push a cluster restore runs record themselves in the stanza's
/// journal.
pub fn cluster_journal_path(log_dir: &Path, stanza: &str) -> PathBuf {
    log_dir.join(format!("{stanza}-pitr-cluster-journal.json"))
}

/// Reads the record at `path` (in a directory `dir_owner` may control); `None` when there is
/// none.
pub fn load(path: &Path, dir_owner: Option<&OsUser>) -> Result<Option<RunRecord>> {
    let Some(bytes) = files::read_private(path, dir_owner)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Parse {
            what: format!("the run journal {}", path.display()),
            message: format!("{e}; move it away to start afresh"),
        })
}

/// A run being recorded.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    owner: Option<OsUser>,
    record: RunRecord,
}

impl Journal {
    /// Writes `record` as the journal at `path`, replacing what was there.
    pub fn begin(path: &Path, dir_owner: Option<OsUser>, record: RunRecord) -> Result<Journal> {
        let journal = Journal {
            path: path.to_path_buf(),
            owner: dir_owner,
            record,
        };
        journal.write(true)?;
        Ok(journal)
    }

    /// Writes the record; `durable`: the rename into place too (see the module docs).
    fn write(&self, durable: bool) -> Result<()> {
        let text = serde_json::to_vec_pretty(&self.record).map_err(|e| Error::Parse {
            what: "the run journal".into(),
            message: e.to_string(),
        })?;
        if durable {
            files::write_private(&self.path, &text, self.owner.as_ref())
        } else {
            files::replace_private(&self.path, &text, self.owner.as_ref())
        }
    }

    fn update(&mut self, change: impl FnOnce(&mut RunRecord)) -> Result<()> {
        self.update_as(true, change)
    }

    fn update_as(&mut self, durable: bool, change: impl FnOnce(&mut RunRecord)) -> Result<()> {
        change(&mut self.record);
        self.record.pid = std::process::id();
        self.record.updated = jiff::Timestamp::now().to_string();
        self.write(durable)
    }

    /// The record.
    pub fn record(&self) -> &RunRecord {
        &self.record
    }

    /// Records that step `index` of the plan is about to run. The rename is not made durable
    /// (see the module docs): after a machine crash the record may name an earlier step.
    pub fn enter(&mut self, index: usize) -> Result<()> {
        self.update_as(false, |r| r.current = Some(index))
    }

    /// Records that the run moved directory `from` to `to`.
    pub fn moved(&mut self, from: &Path, to: &Path) -> Result<()> {
        self.update(|r| r.moved.push((from.to_path_buf(), to.to_path_buf())))
    }

    /// Records `value` under `key` in the record's notes.
    pub fn note(&mut self, key: &str, value: serde_json::Value) -> Result<()> {
        self.update(|r| {
            r.notes.insert(key.to_owned(), value);
        })
    }

    /// Records that the run now runs `plan` (a re-run continuing it).
    pub fn set_plan(&mut self, plan: &Plan) -> Result<()> {
        self.update(|r| r.set_plan(plan))
    }

    /// Records that a step failed and the `on_failure` steps run.
    pub fn rolling_back(&mut self, steps: &[String]) -> Result<()> {
        self.update(|r| {
            r.phase = Phase::RollingBack;
            r.steps = steps.to_vec();
            r.current = None;
        })
    }

    /// Records how the run ended.
    pub fn finish(&mut self, phase: Phase, outcome: &str) -> Result<()> {
        self.update(|r| {
            r.phase = phase;
            r.outcome = Some(outcome.to_owned());
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_each_change_and_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path(), "pg-j");
        assert_eq!(load(&path, None).unwrap(), None);
        let mut j = Journal::begin(
            &path,
            None,
            RunRecord::new("restore", "pg-j", serde_json::json!({"time": "x"})),
        )
        .unwrap();
        j.enter(2).unwrap();
        // Entering a step replaces the record too (without the directory's fsync).
        assert_eq!(load(&path, None).unwrap().unwrap().current, Some(2));
        j.moved(Path::new("/pg/data"), Path::new("/pg/data-backup"))
            .unwrap();
        let back = load(&path, None).unwrap().unwrap();
        assert_eq!(&back, j.record());
        assert!(back.is_interrupted());
        assert_eq!(back.moved.len(), 1);
        j.finish(Phase::Done, "verified").unwrap();
        let back = load(&path, None).unwrap().unwrap();
        assert!(!back.is_interrupted());
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&path).unwrap().permissions()
            ) & 0o777,
            0o640
        );
        // A file of another user (here: given away) is no record pitr trusts.
        #[allow(clippy::disallowed_methods)]
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        assert_eq!(load(&path, None).unwrap(), None);
        std::fs::remove_file(&path).unwrap();
        // Garbage in the journal is a parse error that says what to do, not a panic.
        files::write_private(&path, b"{not json", None).unwrap();
        let e = load(&path, None).unwrap_err();
        assert_eq!(e.code(), "parse_error");
        assert!(e.to_string().contains("move it away"), "{e}");
    }
}
