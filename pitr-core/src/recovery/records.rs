//! The server log as records, and which records may speak for recovery.
//!
//! During recovery PostgreSQL runs with `hot_standby=on`, so any client that can reach it —
//! even one `pg_hba.conf` refuses — can put text into the server log: a user name, a statement, a
//! `RAISE LOG` message, all with newlines and forged prefixes if it likes. A plain-text log
//! cannot tell that text from the server's own. pitr therefore starts recovery with a
//! structured log ([`LogFormat`]): `jsonlog` on PostgreSQL 15 and later, `csvlog` on 13 and
//! 14. Every record is one JSON object (or one CSV record) whose `backend_type` and `pid` the
//! server fills in; a client's text stays inside its own record's `message`.
//!
//! [`Sources`] then accepts a record only when it comes from the postmaster of the server this
//! run started (its pid from `postmaster.pid`) or from that postmaster's startup process (the
//! first `startup` record's pid, checked to be a child of the postmaster while it runs, and
//! the same pid from then on). Everything else — client backends, other servers writing to the
//! same file, details, hints and statements — is never read as an event.

use serde::{Deserialize, Serialize};

/// The structured log format recovery runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `log_destination=jsonlog` (PostgreSQL 15 and later): one JSON object per line.
    Json,
    /// `log_destination=csvlog` (PostgreSQL 13 and 14): CSV records, which may span lines.
    Csv,
}

impl LogFormat {
    /// The format for PostgreSQL `major`, or `None` before 13 (whose `csvlog` has no
    /// `backend_type` to tell the startup process from a client).
    pub fn for_major(major: u32) -> Option<LogFormat> {
        match major {
            15.. => Some(LogFormat::Json),
            13 | 14 => Some(LogFormat::Csv),
            _ => None,
        }
    }

    /// The value of `log_destination`.
    pub fn destination(self) -> &'static str {
        match self {
            LogFormat::Json => "jsonlog",
            LogFormat::Csv => "csvlog",
        }
    }

    /// The file PostgreSQL writes for `log_filename = <stem>.log`.
    pub fn file_name(self, stem: &str) -> String {
        match self {
            LogFormat::Json => format!("{stem}.json"),
            LogFormat::Csv => format!("{stem}.csv"),
        }
    }
}

/// One record of the server log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// When it was logged (pitr starts recovery with `log_timezone=UTC`).
    pub time: Option<jiff::Timestamp>,
    /// The process that logged it.
    pub pid: i32,
    /// `postmaster`, `startup`, `client backend`, ...
    pub backend_type: String,
    /// `LOG`, `FATAL`, `PANIC`, ...
    pub severity: String,
    /// The primary message (without detail, hint, statement or context).
    pub message: String,
}

impl LogRecord {
    /// One line of `jsonlog`; `None` when it is not a record.
    pub fn from_json_line(line: &str) -> Option<LogRecord> {
        #[derive(Deserialize)]
        struct Raw {
            timestamp: Option<String>,
            pid: i32,
            backend_type: Option<String>,
            error_severity: String,
            message: Option<String>,
        }
        let raw: Raw = serde_json::from_str(line).ok()?;
        Some(LogRecord {
            time: raw.timestamp.as_deref().and_then(log_time),
            pid: raw.pid,
            backend_type: raw.backend_type.unwrap_or_default(),
            severity: raw.error_severity,
            message: raw.message.unwrap_or_default(),
        })
    }

    /// The complete `csvlog` records at the start of `text`, and how many bytes they take: a
    /// record cut off at the end (the server is still writing it) is left for the next read.
    pub fn from_csv(text: &[u8]) -> (Vec<LogRecord>, usize) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut records = Vec::new();
        let mut consumed = 0;
        let mut row = csv::ByteRecord::new();
        while let Ok(true) = reader.read_byte_record(&mut row) {
            let end = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
            // A complete record ends with its newline; without it the server is mid-write.
            if end > text.len() || !text[..end].ends_with(b"\n") {
                break;
            }
            consumed = end;
            // log_time, user, db, pid, host, session, line, tag, session start, vxid, xid,
            // severity (11), state, message (13), ..., backend_type (23).
            let field = |i: usize| String::from_utf8_lossy(row.get(i).unwrap_or_default());
            if let Ok(pid) = field(3).parse() {
                records.push(LogRecord {
                    time: log_time(&field(0)),
                    pid,
                    backend_type: field(23).into_owned(),
                    severity: field(11).into_owned(),
                    message: field(13).into_owned(),
                });
            }
        }
        (records, consumed)
    }
}

/// A log time stamp such as `2026-11-23 20:27:45.123 UTC`.
pub fn log_time(stamp: &str) -> Option<jiff::Timestamp> {
    let (time, zone) = stamp.trim().rsplit_once(' ')?;
    let offset = match zone {
        "UTC" | "GMT" => "+00",
        z if z.starts_with(['+', '-']) => z,
        _ => return None,
    };
    format!("{time}{offset}")
        .parse::<crate::names::TargetTime>()
        .ok()
        .map(crate::names::TargetTime::timestamp)
}

/// Which processes may speak for recovery: the postmaster this run started, and its startup
/// process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// The postmaster's pid, from `postmaster.pid` of the recovering data directory.
    pub postmaster: Option<i32>,
    /// The startup process's pid, once its first record was accepted.
    pub startup: Option<i32>,
}

impl Sources {
    /// Whether `record` comes from the server's own recovery processes. `parent_of` answers
    /// the parent pid of a running process (`None` once it is gone).
    pub fn accept(&mut self, record: &LogRecord, parent_of: impl Fn(i32) -> Option<i32>) -> bool {
        let Some(postmaster) = self.postmaster else {
            return false;
        };
        match record.backend_type.as_str() {
            "postmaster" => record.pid == postmaster,
            "startup" => {
                if let Some(pid) = self.startup {
                    return record.pid == pid;
                }
                let child = parent_of(record.pid).is_none_or(|ppid| ppid == postmaster);
                if child {
                    self.startup = Some(record.pid);
                }
                child
            }
            _ => false,
        }
    }
}
