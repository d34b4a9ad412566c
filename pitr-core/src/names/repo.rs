//! `RepoName`: the name of a repo definition (a key of `pgbackrest_repo`, an entry of
//! `pgbackrest_method`).

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use super::serde_as_string;
use crate::error::{Error, Result};

/// A repo name as Pigsty writes them (`local`, `minio`, `s3`, `minio_2`): an identifier, because
/// it is written into pgbackrest.conf (as a comment beside the repo's options), plans and
/// messages. Allowed: ASCII letters, digits, `_`, `-` and `.`, starting with a letter or digit,
/// 1 to 64 bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoName(String);

/// The longest name accepted, in bytes.
const MAX_LEN: usize = 64;

impl RepoName {
    /// Validates `s` as a repo name; errors name the value as a `kind` (`"pgbackrest_repo
    /// key"`, `"pgbackrest_method entry"`).
    pub fn parse(kind: &'static str, s: &str) -> Result<RepoName> {
        let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if first_ok && rest_ok && s.len() <= MAX_LEN {
            Ok(RepoName(s.to_owned()))
        } else {
            Err(Error::invalid(
                kind,
                s,
                "a repo name is written into pgbackrest.conf: use 1 to 64 ASCII letters, \
                 digits, '_', '-' or '.', starting with a letter or digit, e.g. 'minio_2'",
            ))
        }
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RepoName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        RepoName::parse("repo name", s)
    }
}

impl Borrow<str> for RepoName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for RepoName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RepoName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepoName({:?})", self.0)
    }
}

serde_as_string!(RepoName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_pigsty_names() {
        for name in [
            "local",
            "minio",
            "s3",
            "minio_2",
            "repo1",
            "a",
            "backup-2.old",
            "9",
        ] {
            assert_eq!(name.parse::<RepoName>().unwrap().as_str(), name);
        }
        assert!(RepoName::parse("k", &"a".repeat(64)).is_ok());
    }

    #[test]
    fn refuses_what_could_add_lines_or_words() {
        for name in [
            "",
            "local\nrepo1-host=evil",
            "a b",
            "-x",
            "_x",
            ".x",
            "a/b",
            "a=b",
            "a#b",
            "mínio",
            &"a".repeat(65),
        ] {
            let e = RepoName::parse("pgbackrest_repo key", name).unwrap_err();
            assert_eq!(e.code(), "invalid_value", "{name:?}");
            let text = e.to_string();
            assert!(text.starts_with("invalid pgbackrest_repo key '"), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
    }
}

/// A repo's index, the N of pgBackRest's `repoN-` options and `--repo=N`: 1 to 256.
///
/// Serialised as a number, as `pgbackrest info` prints repo keys; shown as the number too
/// (`repo{index}` where a name is meant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoIndex(u16);

impl RepoIndex {
    /// repo1: pgBackRest's default, and the only repo before pgBackRest 2.33.
    pub const FIRST: RepoIndex = RepoIndex(1);
    /// The highest index pgBackRest accepts.
    pub const MAX: u16 = 256;

    /// The index `n`, when it is 1 to 256.
    pub fn new(n: u64) -> Result<RepoIndex> {
        u16::try_from(n)
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(RepoIndex)
            .ok_or_else(|| {
                Error::invalid(
                    "repo index",
                    n.to_string(),
                    "expected a repo index from 1 to 256",
                )
            })
    }

    /// The index `n` as a constant (`RepoIndex::of(2)`); panics when `n` is not 1 to 256, so
    /// use it for literals only, and [`RepoIndex::new`] for input.
    pub const fn of(n: u16) -> RepoIndex {
        assert!(n >= 1 && n <= Self::MAX, "a repo index is 1 to 256");
        RepoIndex(n)
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for RepoIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for RepoIndex {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let digits = s.strip_prefix("repo").unwrap_or(s);
        digits.parse::<u64>().map_or_else(
            |_| {
                Err(Error::invalid(
                    "repo index",
                    s,
                    "expected a repo index from 1 to 256, e.g. 2 or repo2",
                ))
            },
            RepoIndex::new,
        )
    }
}

impl serde::Serialize for RepoIndex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_u16(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RepoIndex {
    /// A number from 1 to 256 (as `pgbackrest info` prints repo keys), or its text.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| serde::de::Error::custom(format!("invalid repo index {n}")))
                .and_then(|n| RepoIndex::new(n).map_err(serde::de::Error::custom)),
            serde_json::Value::String(s) => s.parse().map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "expected a repo index, got {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod index_tests {
    use super::RepoIndex;

    #[test]
    fn indexes_run_from_1_to_256() {
        assert_eq!(RepoIndex::new(1).unwrap(), RepoIndex::FIRST);
        assert_eq!("repo2".parse::<RepoIndex>().unwrap().get(), 2);
        assert_eq!("256".parse::<RepoIndex>().unwrap().to_string(), "256");
        for bad in ["0", "257", "-1", "x", "repo"] {
            assert_eq!(
                bad.parse::<RepoIndex>().unwrap_err().code(),
                "invalid_value",
                "{bad}"
            );
        }
        let i: RepoIndex = serde_json::from_str("3").unwrap();
        assert_eq!(serde_json::to_string(&i).unwrap(), "3");
        assert!(serde_json::from_str::<RepoIndex>("0").is_err());
    }
}
