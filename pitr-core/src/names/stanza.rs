//! `StanzaName`: the name of a pgBackRest stanza, which pitr takes from `pg_cluster`.

use std::fmt;
use std::str::FromStr;

use super::{has_control, serde_as_string};
use crate::error::Error;

/// A stanza name pgBackRest accepts and that is safe everywhere pitr writes it: as an INI
/// section name, a repo path component, and inside `archive_command` and cron lines (which
/// PostgreSQL and cron run through a shell). Allowed: ASCII letters, digits, `-`, `_` and `.`;
/// non-empty, at most 255 bytes, no leading `-`, not `.`/`..`, and not `global`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StanzaName(String);

const HINT: &str = "use letters, digits, '-', '_' or '.', not starting with '-', e.g. 'pg-meta'";

impl StanzaName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for StanzaName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| Err(Error::invalid("stanza name", s, format!("{why}; {HINT}")));
        if s.is_empty() {
            return bad("it is empty");
        }
        if s.len() > 255 {
            return bad("it is longer than 255 bytes");
        }
        if s.starts_with('-') {
            return bad("it starts with '-' and would be read as an option");
        }
        if has_control(s) || s.chars().any(char::is_whitespace) {
            return bad("it contains whitespace or a control character");
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
        {
            return bad(&format!("it contains '{c}'"));
        }
        if s == "." || s == ".." {
            return bad("it is a path component");
        }
        if s == "global" {
            return bad("'global' is pgBackRest's global section");
        }
        Ok(StanzaName(s.to_owned()))
    }
}

impl fmt::Display for StanzaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StanzaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StanzaName({:?})", self.0)
    }
}

serde_as_string!(StanzaName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_pigsty_cluster_names() {
        for name in ["pg-meta", "pg_test", "demo", "pg.v15", "a"] {
            assert_eq!(name.parse::<StanzaName>().unwrap().as_str(), name);
        }
    }

    #[test]
    fn refuses_what_pgbackrest_or_ini_cannot_take() {
        for name in [
            "", "-x", "a b", "a\nb", "a/b", "a:b", "[a]", "global", "..", "a=b", "a;b", "a$b", "é",
        ] {
            let err = name.parse::<StanzaName>().unwrap_err();
            assert_eq!(err.code(), "invalid_value", "{name:?}");
            assert!(err.to_string().contains("stanza name"), "{err}");
        }
    }
}
