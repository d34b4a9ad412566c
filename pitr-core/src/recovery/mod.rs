//! Recovery as PostgreSQL reports it, judged: pure functions over the server's log records.
//!
//! `pg_ctl start` returns long before recovery is done, and "consistent recovery state
//! reached" says nothing about the target. While recovery runs, the watcher
//! (`run::watch`, the only part with effects) reads the structured server log and asks the
//! server about its replay; everything it reads is judged here:
//!
//! ```text
//! log bytes ──records──► LogRecord ──Sources::accept──► (only the postmaster and its
//!   startup process) ──grammar──► LogEvent ──Tracker──► RecoveryOutcome ──verdict──► VerifiedStop
//! ```
//!
//! * [`records`] — the log format recovery runs with (`jsonlog`, `csvlog`) and which records
//!   may speak for recovery: a client's text can never become an event.
//! * `grammar` — which messages mean a stop record, consistency, the end of recovery, a
//!   failure; markers count only at the start of a message.
//! * [`tracker`] — folds events into what is known so far.
//! * [`verdict`] — whether recovery ended where the restore asked.

mod grammar;
mod outcome;
pub mod records;
pub mod tracker;
pub mod verdict;

pub use outcome::{Ending, RecoveryOutcome, ReplayState, StopRecord};
pub use records::{LogFormat, LogRecord, Sources};
pub use tracker::Tracker;
pub use verdict::{Expected, VerifiedStop, verify};

#[cfg(test)]
mod tests;
