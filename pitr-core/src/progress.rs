//! Progress of a `pgbackrest restore`, from pgBackRest's own output.
//!
//! The restore config asks pgBackRest for `log-level-console=detail`, so every restored file
//! prints a line such as
//! `P01 DETAIL: restore file /pg/data/base/5/1255 (768KB, 3.39%) checksum b6d4...`
//! (`... - exists and matches backup (...)` with `--delta`). [`RestoreProgress`] folds those
//! lines into files, bytes and percent done; the run log shows that as one status line on a
//! terminal, and keeps the per-file lines out of the log file.
//!
//! ```
//! use pitr_core::progress::RestoreProgress;
//! let mut p = RestoreProgress::default();
//! assert!(p.observe("2026-12-02 15:30:32.152 P01 DETAIL: restore file /d/base/5/1255 (768KB, 3.39%) checksum b6"));
//! assert!(!p.observe("2026-12-02 15:30:33.355 P00   INFO: restore size = 22.1MB, file total = 964"));
//! assert_eq!(p.status(), "restored 1 file, 768.0 KiB (3.4%)");
//! ```

use crate::fmt;

/// Files, bytes and percent a restore has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RestoreProgress {
    /// Files restored (or found matching, with `--delta`).
    pub files: u64,
    /// Their bytes, as pgBackRest printed their sizes.
    pub bytes: u64,
    /// pgBackRest's percent of the whole restore.
    pub percent: f64,
}

/// `768KB`, `1.5MB`, `12B` as pgBackRest prints sizes (powers of 1024).
fn size(text: &str) -> Option<u64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: f64 = match unit {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * scale;
    // A finite, non-negative size; `as` saturates at u64::MAX.
    #[allow(clippy::cast_sign_loss)]
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

impl RestoreProgress {
    /// Reads one line of pgBackRest's output; true when it was a restored file.
    pub fn observe(&mut self, line: &str) -> bool {
        let Some(rest) = line
            .split_once(" DETAIL: restore file ")
            .map(|(_, rest)| rest)
        else {
            return false;
        };
        // The last "(SIZE, PCT%)" group: a path may hold parentheses.
        let Some(open) = rest.rfind(" (") else {
            return false;
        };
        let Some((sizes, _)) = rest[open + 2..].split_once("%)") else {
            return false;
        };
        let Some((size_text, pct)) = sizes.split_once(", ") else {
            return false;
        };
        let (Some(bytes), Ok(percent)) = (size(size_text), pct.parse::<f64>()) else {
            return false;
        };
        self.files += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        self.percent = percent;
        true
    }

    /// The status line, e.g. `restored 964 files, 22.1 MiB (100.0%)`.
    pub fn status(&self) -> String {
        format!(
            "restored {} file{}, {} ({:.1}%)",
            self.files,
            if self.files == 1 { "" } else { "s" },
            fmt::bytes(self.bytes),
            self.percent
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_pgbackrest_245_prints() {
        let mut p = RestoreProgress::default();
        for line in [
            "2026-12-02 15:30:32.152 P01 DETAIL: restore file /d/base/5/1255 (768KB, 3.39%) checksum b6d4ebb6",
            "2026-12-02 15:30:32.156 P02 DETAIL: restore file /d/(odd) name/1249 (1.5MB, 12.46%) checksum caaa70b5",
            "2026-12-02 15:30:32.157 P02 DETAIL: restore file /d/base/1/2838 - exists and matches backup (512KB, 20.00%) checksum 0cae",
            "2026-12-02 15:30:32.158 P02 DETAIL: restore file /d/PG_VERSION (3B, 100.00%) checksum 1234",
        ] {
            assert!(p.observe(line), "{line}");
        }
        assert_eq!(p.files, 4);
        assert_eq!(p.bytes, 768 * 1024 + 1536 * 1024 + 512 * 1024 + 3);
        assert_eq!(p.status(), "restored 4 files, 2.7 MiB (100.0%)");
        for line in [
            "P00 DETAIL: create path '/d/base'",
            "P00   INFO: restore size = 22.1MB, file total = 964",
            "P01 DETAIL: restore file /d/x (768XB, 3.39%)",
            "P01 DETAIL: restore file /d/x (NaNKB, 3%)",
            "",
        ] {
            assert!(!p.observe(line), "{line}");
        }
        assert_eq!(p.files, 4);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let mut p = RestoreProgress::default();
            let _ = p.observe(&s);
            let _ = p.observe(&format!(" DETAIL: restore file {s}"));
        }
    }
}
