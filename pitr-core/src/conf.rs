//! Reading an existing `pgbackrest.conf` into a node view.
//!
//! [`ConfFile::parse`] follows pgBackRest's own INI rules: lines are trimmed; blank lines and
//! lines starting with `#` are comments (there are no end-of-line comments); `[section]`
//! headers; `key=value` split at the first `=`; a key repeated in a section makes a list (for
//! `db-include`, `link-map`, `recovery-option`, ...). Sections are `[global]`,
//! `[global:<command>]`, `[<stanza>]` and `[<stanza>:<command>]`.
//!
//! [`ConfFile::node_view`] then answers what pitr needs from a node: its stanzas (the first one
//! is the default, as Pigsty's scripts pick it), each stanza's `pg1-path`, `pg1-port` and
//! `pg1-socket-path`, and the repos with their options, secure ones held as secrets. Option
//! lookups follow pgBackRest's precedence: `[stanza:command]` > `[stanza]` >
//! `[global:command]` > `[global]`.
//!
//! ```
//! use pitr_core::conf::ConfFile;
//! let conf = ConfFile::parse("[demo]\npg1-path=/pg/data\n[global]\nrepo1-path=/pg/backup\n").unwrap();
//! let node = conf.node_view().unwrap();
//! assert_eq!(node.default_stanza().unwrap().name.as_str(), "demo");
//! assert_eq!(node.repos[0].index.get(), 1);
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::{self, RepoType};
use crate::error::{Error, Result};
use crate::names::{RepoIndex, Secret, StanzaName};
use crate::spec::OptionValue;

/// A parsed pgBackRest config file, sections in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfFile {
    sections: Vec<Section>,
}

/// One `[name]` or `[name:command]` section. A section that appears twice is merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    name: String,
    command: Option<String>,
    entries: Vec<(String, String)>,
}

impl Section {
    /// `global` or the stanza name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The command after `:`, if any.
    pub fn command(&self) -> Option<&str> {
        self.command.as_deref()
    }

    /// The header as written, without brackets.
    pub fn header(&self) -> String {
        match &self.command {
            Some(c) => format!("{}:{c}", self.name),
            None => self.name.clone(),
        }
    }

    /// Whether this is `[global]` or `[global:command]`.
    pub fn is_global(&self) -> bool {
        self.name == "global"
    }

    /// Key/value pairs in file order; repeated keys appear once per value.
    pub fn entries(&self) -> impl Iterator<Item = (&String, &String)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// All values of `key` in this section.
    pub fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_error(line_no: usize, message: impl Into<String>) -> Error {
    Error::Parse {
        what: format!("pgbackrest.conf line {line_no}"),
        message: message.into(),
    }
}

impl ConfFile {
    /// Parses config text with pgBackRest's rules.
    pub fn parse(text: &str) -> Result<ConfFile> {
        let mut conf = ConfFile::default();
        let mut current: Option<usize> = None;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(inner) = line.strip_prefix('[') {
                let header = inner.strip_suffix(']').ok_or_else(|| {
                    parse_error(
                        line_no,
                        format!("section header '{line}' does not end with ']'"),
                    )
                })?;
                let (name, command) = match header.split_once(':') {
                    Some((n, c)) => (n.trim(), Some(c.trim().to_owned())),
                    None => (header.trim(), None),
                };
                if name.is_empty() || command.as_deref() == Some("") {
                    return Err(parse_error(
                        line_no,
                        format!("empty section name in '{line}'"),
                    ));
                }
                let index = conf
                    .sections
                    .iter()
                    .position(|s| s.name == name && s.command == command)
                    .unwrap_or_else(|| {
                        conf.sections.push(Section {
                            name: name.to_owned(),
                            command,
                            entries: Vec::new(),
                        });
                        conf.sections.len() - 1
                    });
                current = Some(index);
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| {
                parse_error(
                    line_no,
                    format!("'{line}' is neither a section nor key=value"),
                )
            })?;
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() {
                return Err(parse_error(line_no, "a key is missing before '='"));
            }
            if value.is_empty() {
                return Err(parse_error(
                    line_no,
                    format!("key '{key}' must have a value (pgBackRest refuses empty values)"),
                ));
            }
            let index = current.ok_or_else(|| {
                parse_error(line_no, format!("key '{key}' appears before any [section]"))
            })?;
            conf.sections[index]
                .entries
                .push((key.to_owned(), value.to_owned()));
        }
        Ok(conf)
    }

    /// Reads and parses a config file.
    pub fn from_file(path: &Path) -> Result<ConfFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io("cannot read pgBackRest config", path, e))?;
        ConfFile::parse(&text).map_err(|e| match e {
            Error::Parse { what, message } => Error::Parse {
                what: format!("{} ({what})", path.display()),
                message,
            },
            other => other,
        })
    }

    /// Sections in file order.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter()
    }

    fn section(&self, name: &str, command: Option<&str>) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.name == name && s.command.as_deref() == command)
    }

    /// The values of `key` as pgBackRest resolves them for `stanza` and `command`: the first
    /// of `[stanza:command]`, `[stanza]`, `[global:command]`, `[global]` that has the key
    /// supplies all of its values (lists are not merged across sections).
    pub fn resolve(&self, stanza: Option<&str>, command: Option<&str>, key: &str) -> Vec<&str> {
        let mut order: Vec<(&str, Option<&str>)> = Vec::with_capacity(4);
        if let Some(s) = stanza {
            if command.is_some() {
                order.push((s, command));
            }
            order.push((s, None));
        }
        if command.is_some() {
            order.push(("global", command));
        }
        order.push(("global", None));
        order
            .into_iter()
            .filter_map(|(n, c)| self.section(n, c))
            .map(|s| {
                s.entries
                    .iter()
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
            })
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    }

    /// The single value of `key` for `stanza` (no command), if set.
    pub fn get(&self, stanza: Option<&str>, key: &str) -> Option<&str> {
        self.resolve(stanza, None, key).first().copied()
    }

    /// Stanza names in the order their sections first appear.
    pub fn stanza_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for s in self.sections.iter().filter(|s| !s.is_global()) {
            if !names.contains(&s.name.as_str()) {
                names.push(&s.name);
            }
        }
        names
    }

    /// What pitr needs to know about the node this config belongs to.
    pub fn node_view(&self) -> Result<NodeView> {
        let mut stanzas = Vec::new();
        for name in self.stanza_names() {
            let stanza: StanzaName = name.parse()?;
            let get = |key: &str| self.get(Some(name), key);
            let port = get("pg1-port")
                .map(|p| {
                    p.parse::<u16>().map_err(|_| Error::InvalidSetting {
                        key: "pg1-port".into(),
                        context: format!("pgbackrest.conf [{name}]"),
                        message: format!("'{p}' is not a port number"),
                    })
                })
                .transpose()?;
            stanzas.push(StanzaView {
                name: stanza,
                pg_path: get("pg1-path").map(PathBuf::from),
                pg_port: port.unwrap_or(5432),
                pg_socket_path: get("pg1-socket-path").map(PathBuf::from),
            });
        }
        let default_stanza = stanzas.first().map(|s| s.name.as_str().to_owned());
        Ok(NodeView {
            repos: self.repos(default_stanza.as_deref())?,
            log_path: self
                .get(default_stanza.as_deref(), "log-path")
                .map(PathBuf::from),
            lock_path: self
                .get(default_stanza.as_deref(), "lock-path")
                .map(PathBuf::from),
            spool_path: self
                .get(default_stanza.as_deref(), "spool-path")
                .map(PathBuf::from),
            stanzas,
        })
    }

    /// The repos configured for `stanza`, by index.
    pub fn repos(&self, stanza: Option<&str>) -> Result<Vec<RepoView>> {
        let mut indexes: Vec<u16> = Vec::new();
        let sections = self
            .sections
            .iter()
            .filter(|s| s.command.is_none() && (s.is_global() || Some(s.name.as_str()) == stanza));
        for section in sections {
            for (key, _) in section.entries() {
                if let Some(("repo", index, _)) = catalog::split_index(key) {
                    if !indexes.contains(&index) {
                        indexes.push(index);
                    }
                }
            }
        }
        indexes.sort_unstable();
        indexes
            .into_iter()
            .map(|index| self.repo(stanza, index))
            .collect()
    }

    fn repo(&self, stanza: Option<&str>, index: u16) -> Result<RepoView> {
        let prefix = format!("repo{index}-");
        let repo_type = match self.get(stanza, &format!("{prefix}type")) {
            Some(t) => t.parse::<RepoType>()?,
            None => RepoType::Posix,
        };
        let mut keys: Vec<&str> = Vec::new();
        for section in self
            .sections
            .iter()
            .filter(|s| s.command.is_none() && (s.is_global() || Some(s.name.as_str()) == stanza))
        {
            for (key, _) in section.entries() {
                if let Some(rest) = key.strip_prefix(&prefix) {
                    if rest != "type" && !keys.contains(&rest) {
                        keys.push(rest);
                    }
                }
            }
        }
        let mut options = Vec::with_capacity(keys.len());
        for key in keys {
            let full = format!("{prefix}{key}");
            let secure = catalog::lookup(&format!("repo-{key}")).is_some_and(|d| d.secure);
            for value in self.resolve(stanza, None, &full) {
                let value = if secure {
                    OptionValue::Secret(Secret::new(value))
                } else {
                    OptionValue::Plain(value.to_owned())
                };
                options.push((key.to_owned(), value));
            }
        }
        Ok(RepoView {
            index: RepoIndex::new(u64::from(index))?,
            repo_type,
            options,
        })
    }
}

/// What pitr knows about a node from its `pgbackrest.conf`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeView {
    /// Stanzas in file order; the first is the default.
    pub stanzas: Vec<StanzaView>,
    /// Repos of the default stanza, by index.
    pub repos: Vec<RepoView>,
    /// `log-path`, when set.
    pub log_path: Option<PathBuf>,
    /// `lock-path`, when set.
    pub lock_path: Option<PathBuf>,
    /// `spool-path`, when set.
    pub spool_path: Option<PathBuf>,
}

impl NodeView {
    /// The first stanza of the file, which pitr uses when none is named.
    pub fn default_stanza(&self) -> Option<&StanzaView> {
        self.stanzas.first()
    }

    /// The stanza named `name`, or the default one when `name` is `None`.
    pub fn stanza(&self, name: Option<&str>) -> Result<&StanzaView> {
        let found = match name {
            Some(n) => self.stanzas.iter().find(|s| s.name.as_str() == n),
            None => self.default_stanza(),
        };
        found.ok_or_else(|| Error::StanzaNotFound {
            stanza: name.unwrap_or("(default)").to_owned(),
            source_name: "pgbackrest.conf".into(),
            known: if self.stanzas.is_empty() {
                "none: add a [stanza] section".into()
            } else {
                self.stanzas
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
    }
}

/// A stanza section's PostgreSQL settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StanzaView {
    /// The stanza name.
    pub name: StanzaName,
    /// `pg1-path`.
    pub pg_path: Option<PathBuf>,
    /// `pg1-port` (5432 when absent).
    pub pg_port: u16,
    /// `pg1-socket-path`.
    pub pg_socket_path: Option<PathBuf>,
}

/// A repo as configured: its index, type and options (without `type`), in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoView {
    /// The N of `repoN-`.
    pub index: RepoIndex,
    /// `repoN-type` (posix when absent).
    pub repo_type: RepoType,
    /// `(key without prefix, value)`; a repeated key appears once per value.
    pub options: Vec<(String, OptionValue)>,
}

impl RepoView {
    /// The first value of an option (key without `repoN-`).
    pub fn get(&self, key: &str) -> Option<&OptionValue> {
        self.options.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIGSTY_STYLE: &str = "\
# comment
[pg-meta]
pg1-path=/pg/data
pg1-port=5432

[pg-meta:restore]
process-max=2

[global]
archive-async=y
repo1-path=/pg/backup
repo1-retention-full=2
repo2-type=s3
repo2-s3-key=pgbackrest
repo2-s3-key-secret=S3User.Backup
repo2-path = /pgbackrest
db-include=a
db-include=b
recovery-option=primary_conninfo=host=10.0.0.1 user=rep

[global:restore]
process-max=8
";

    #[test]
    fn reads_sections_precedence_and_lists() {
        let c = ConfFile::parse(PIGSTY_STYLE).unwrap();
        assert_eq!(c.stanza_names(), vec!["pg-meta"]);
        assert_eq!(
            c.resolve(Some("pg-meta"), Some("restore"), "process-max"),
            vec!["2"]
        );
        assert_eq!(c.resolve(None, Some("restore"), "process-max"), vec!["8"]);
        assert_eq!(
            c.resolve(Some("pg-meta"), None, "db-include"),
            vec!["a", "b"]
        );
        assert_eq!(
            c.get(None, "recovery-option"),
            Some("primary_conninfo=host=10.0.0.1 user=rep")
        );
    }

    #[test]
    fn node_view_has_stanza_and_repos_with_secrets_hidden() {
        let node = ConfFile::parse(PIGSTY_STYLE).unwrap().node_view().unwrap();
        let stanza = node.stanza(None).unwrap();
        assert_eq!(stanza.pg_path.as_deref(), Some(Path::new("/pg/data")));
        assert_eq!(node.repos.len(), 2);
        assert_eq!(node.repos[1].repo_type, RepoType::S3);
        assert_eq!(node.repos[1].get("path").unwrap().expose(), "/pgbackrest");
        let secret = node.repos[1].get("s3-key-secret").unwrap();
        assert!(secret.is_secret());
        assert!(!format!("{node:?}").contains("S3User.Backup"));
        assert!(
            !serde_json::to_string(&node)
                .unwrap()
                .contains("S3User.Backup")
        );
        let e = node.stanza(Some("nosuch")).unwrap_err();
        assert!(e.to_string().contains("pg-meta"), "{e}");
    }

    #[test]
    fn malformed_lines_are_errors_with_line_numbers() {
        for (text, needle) in [
            ("repo1-path=/x\n", "before any [section]"),
            ("[global]\njunk\n", "line 2"),
            ("[global\n", "does not end"),
            ("[]\n", "empty section"),
            ("[global]\nrepo1-path=\n", "must have a value"),
            ("[global:]\n", "empty section"),
        ] {
            let e = ConfFile::parse(text).unwrap_err();
            assert!(e.to_string().contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn no_end_of_line_comments() {
        let c = ConfFile::parse("[global]\nrepo1-path=/x # c\n").unwrap();
        assert_eq!(c.get(None, "repo1-path"), Some("/x # c"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            if let Ok(c) = ConfFile::parse(&s) {
                let _ = c.node_view();
            }
        }
    }
}
