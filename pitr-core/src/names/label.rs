//! `BackupLabel` and `BackupType`: pgBackRest's names for backup sets.
//!
//! A full backup is `YYYYMMDD-HHMMSSF`; a differential or incremental backup is the label of
//! the full backup its chain starts from, `_`, its own start time and `D` or `I`. Labels sort
//! in the order the backups were taken (within one time zone of the backup host).

use std::fmt;
use std::str::FromStr;

use super::serde_as_string;
use crate::error::Error;

/// The type of a backup set.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum BackupType {
    /// A complete copy of the cluster.
    Full,
    /// Changes since the last full backup.
    Diff,
    /// Changes since the last backup of any type.
    Incr,
}

impl BackupType {
    /// The name pgBackRest uses: `full`, `diff` or `incr`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupType::Full => "full",
            BackupType::Diff => "diff",
            BackupType::Incr => "incr",
        }
    }

    fn suffix(self) -> char {
        match self {
            BackupType::Full => 'F',
            BackupType::Diff => 'D',
            BackupType::Incr => 'I',
        }
    }
}

impl fmt::Display for BackupType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackupType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(BackupType::Full),
            "diff" => Ok(BackupType::Diff),
            "incr" => Ok(BackupType::Incr),
            _ => Err(Error::invalid(
                "backup type",
                s,
                "expected one of: full, diff, incr",
            )),
        }
    }
}

/// A validated backup set label. Ordering is chronological (lexical order of the label).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupLabel(String);

const STAMP_LEN: usize = 15; // YYYYMMDD-HHMMSS
const HINT: &str = "expected YYYYMMDD-HHMMSSF for a full backup, or \
    <full label>_YYYYMMDD-HHMMSSD / <full label>_YYYYMMDD-HHMMSSI, e.g. 20251225-120000F";

fn is_stamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == STAMP_LEN
        && b[8] == b'-'
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[9..].iter().all(u8::is_ascii_digit)
}

impl BackupLabel {
    /// The label as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Full, diff or incr, from the label's last letter.
    pub fn backup_type(&self) -> BackupType {
        match self.0.as_bytes()[self.0.len() - 1] {
            b'F' => BackupType::Full,
            b'D' => BackupType::Diff,
            _ => BackupType::Incr,
        }
    }

    /// The label of the full backup this set depends on (itself for a full backup).
    #[must_use]
    pub fn full(&self) -> BackupLabel {
        BackupLabel(self.0[..=STAMP_LEN].to_owned())
    }

    /// The start time stamp of this set as written in the label (`YYYYMMDD-HHMMSS`, local time
    /// of the backup host; use info timestamps for arithmetic).
    pub fn stamp(&self) -> &str {
        let end = self.0.len() - 1;
        &self.0[end - STAMP_LEN..end]
    }
}

impl FromStr for BackupLabel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only ASCII labels are valid, which also makes the byte slicing below safe.
        let ok = s.is_ascii()
            && match s.len() {
                16 => is_stamp(&s[..STAMP_LEN]) && s.ends_with('F'),
                33 => {
                    is_stamp(&s[..STAMP_LEN])
                        && &s[STAMP_LEN..=STAMP_LEN + 1] == "F_"
                        && is_stamp(&s[17..32])
                        && (s.ends_with('D') || s.ends_with('I'))
                }
                _ => false,
            };
        if ok {
            Ok(BackupLabel(s.to_owned()))
        } else {
            Err(Error::invalid("backup label", s, HINT))
        }
    }
}

impl fmt::Display for BackupLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BackupLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackupLabel({})", self.0)
    }
}

serde_as_string!(BackupLabel);

impl BackupLabel {
    /// Builds a label from its parts; used by tests and synthetic data.
    pub fn from_parts(full_stamp: &str, child: Option<(&str, BackupType)>) -> Result<Self, Error> {
        let text = match child {
            None => format!("{full_stamp}F"),
            Some((stamp, kind)) => format!("{full_stamp}F_{stamp}{}", kind.suffix()),
        };
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_three_kinds() {
        let f: BackupLabel = "20261123-202742F".parse().unwrap();
        let i: BackupLabel = "20261123-202742F_20261123-202747I".parse().unwrap();
        let d: BackupLabel = "20261123-204746F_20261123-204752D".parse().unwrap();
        assert_eq!(f.backup_type(), BackupType::Full);
        assert_eq!(i.backup_type(), BackupType::Incr);
        assert_eq!(d.backup_type(), BackupType::Diff);
        assert_eq!(i.full(), f);
        assert_eq!(f.full(), f);
        assert_eq!(i.stamp(), "20261123-202747");
        assert!(f < i);
    }

    #[test]
    fn refuses_malformed_labels() {
        for s in [
            "",
            "latest",
            "20261123-202742",
            "20261123-202742D",
            "20261123-202742F_20261123-202747F",
            "2026112x-202742F",
            "20261123-202742F_20261123-202747",
            "20261123-202742I_20261123-202747I",
            "20261123-202742F_20261123-2027é7I",
        ] {
            assert!(s.parse::<BackupLabel>().is_err(), "{s}");
        }
    }

    fn stamp() -> impl Strategy<Value = String> {
        "[0-9]{8}-[0-9]{6}"
    }

    proptest! {
        #[test]
        fn display_parses_back(full in stamp(), child in proptest::option::of((stamp(), prop_oneof![Just(BackupType::Diff), Just(BackupType::Incr)]))) {
            let label = BackupLabel::from_parts(&full, child.as_ref().map(|(s, k)| (s.as_str(), *k))).unwrap();
            let again: BackupLabel = label.to_string().parse().unwrap();
            prop_assert_eq!(label, again);
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = s.parse::<BackupLabel>();
        }
    }
}
