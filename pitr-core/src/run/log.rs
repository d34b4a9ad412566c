//! The run log: every line pitr and its child processes print goes to the terminal (stderr)
//! and to a log file, with known secret values masked.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::files;
use super::user::OsUser;
use crate::error::{Error, Result};
use crate::names::REDACTED;
use crate::progress::RestoreProgress;

/// Where run output goes.
#[derive(Debug)]
pub struct RunLog {
    file: Mutex<Option<File>>,
    path: Option<PathBuf>,
    echo: bool,
    echo_output: bool,
    secrets: Vec<String>,
    progress: Mutex<Progress>,
}

/// A restore's progress, shown as one status line on a terminal.
#[derive(Debug, Default)]
struct Progress {
    /// Whether to show it (stderr is a terminal and the log echoes).
    show: bool,
    state: RestoreProgress,
    /// When the status line was last drawn, and whether it is on screen.
    drawn: Option<std::time::Instant>,
}

/// How often the status line is redrawn at most.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl RunLog {
    /// A log that writes to a new file `<dir>/<name>-<timestamp>.log` (mode 0640, owned by
    /// `owner`, the current user when `None`) and echoes to stderr when `echo` is set.
    ///
    /// The file is always new (see [`files::create_new`]): when something is at that name
    /// already — an earlier run's log, or a link someone planted — a suffix `-1`, `-2`, ... is
    /// added.
    pub fn open(dir: &Path, name: &str, echo: bool, owner: Option<&OsUser>) -> Result<RunLog> {
        let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S");
        let mut attempt = 0u32;
        let (path, file) = loop {
            let path = dir.join(if attempt == 0 {
                format!("{name}-{stamp}.log")
            } else {
                format!("{name}-{stamp}-{attempt}.log")
            });
            if let Some(file) = files::create_new(&path, 0o640, owner)? {
                break (path, file);
            }
            attempt += 1;
            if attempt > 100 {
                return Err(Error::UnsafePath {
                    path,
                    problem: "no free name for a new run log".into(),
                });
            }
        };
        Ok(RunLog {
            file: Mutex::new(Some(file)),
            path: Some(path),
            echo,
            echo_output: echo,
            secrets: Vec::new(),
            progress: Mutex::default(),
        })
    }

    /// A log that only echoes (or discards, when `echo` is false).
    pub fn terminal(echo: bool) -> RunLog {
        RunLog {
            file: Mutex::new(None),
            path: None,
            echo,
            echo_output: echo,
            secrets: Vec::new(),
            progress: Mutex::default(),
        }
    }

    /// Whether the output of child processes is echoed too (it is always logged to the file).
    #[must_use]
    pub fn echo_output(mut self, on: bool) -> Self {
        self.echo_output = self.echo && on;
        self
    }

    /// Shows a restore's progress (from pgBackRest's per-file lines) as one status line on
    /// stderr when `on` and the log echoes; per-file lines never go to the log file.
    #[must_use]
    pub fn show_progress(self, on: bool) -> Self {
        if let Ok(mut p) = self.progress.lock() {
            p.show = on && self.echo;
        }
        self
    }

    /// Masks these values wherever they would appear in the log.
    #[must_use]
    pub fn with_secrets(mut self, secrets: impl IntoIterator<Item = String>) -> Self {
        self.secrets
            .extend(secrets.into_iter().filter(|s| s.len() >= 3));
        self
    }

    /// The log file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn mask(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_owned(), |t, s| t.replace(s.as_str(), REDACTED))
    }

    /// Writes one line of pitr's own.
    pub fn line(&self, text: &str) {
        self.write(text, self.echo);
    }

    /// Writes one line to the log file only.
    pub fn file_only(&self, text: &str) {
        self.write(text, false);
    }

    /// Writes one line of a child process's output. Unless the output is echoed, a restored
    /// file of `pgbackrest restore` only counts towards the progress.
    pub fn output(&self, text: &str) {
        if let Ok(mut p) = self.progress.lock() {
            if p.state.observe(text) && !self.echo_output {
                if p.show && p.drawn.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
                    let _ = write!(std::io::stderr().lock(), "\r  {}   ", p.state.status());
                    p.drawn = Some(std::time::Instant::now());
                }
                return;
            }
        }
        self.write(text, self.echo_output);
    }

    fn write(&self, text: &str, echo: bool) {
        let text = self.mask(text);
        if echo {
            let mut stderr = std::io::stderr().lock();
            if let Ok(mut p) = self.progress.lock() {
                if p.drawn.take().is_some() {
                    // End the status line with its final count.
                    let _ = writeln!(stderr, "\r  {}   ", p.state.status());
                }
            }
            let _ = writeln!(stderr, "{text}");
        }
        if let Ok(mut guard) = self.file.lock() {
            if let Some(f) = guard.as_mut() {
                let stamp = jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S%.3f");
                let _ = writeln!(f, "{stamp} {text}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secrets_in_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = RunLog::open(dir.path(), "t", false, None)
            .unwrap()
            .with_secrets(["S3User.Backup".to_owned()]);
        log.line("key=S3User.Backup here");
        let text = std::fs::read_to_string(log.path().unwrap()).unwrap();
        assert!(text.contains("key=<redacted> here"), "{text}");
        // A second log in the same second gets a name of its own.
        let again = RunLog::open(dir.path(), "t", false, None).unwrap();
        assert_ne!(again.path(), log.path());
    }
}
