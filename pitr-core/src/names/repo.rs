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
