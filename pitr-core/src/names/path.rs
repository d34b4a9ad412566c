//! `SafePath`: an absolute path that means the same thing everywhere pitr writes it.
//!
//! Paths arrive from the cluster spec, a restore request, the node's `pgbackrest.conf` (whose
//! directory the database user can often write) and the command line. They then reach places
//! that give characters meaning:
//!
//! * `pgbackrest.conf` and the restore config, one `key=value` per line;
//! * `archive_command` and cron lines, which PostgreSQL and cron run through `/bin/sh`;
//! * `pg_ctl`, which starts the server through `/bin/sh -c "exec postgres -D \"DIR\" ..."`;
//! * the `restore_command` pgBackRest writes (it holds `--config=<restore config>`), which
//!   PostgreSQL runs through `/bin/sh`;
//! * the dry-run script.
//!
//! Instead of quoting for each of those, a path is held to an alphabet none of them reads as
//! syntax: ASCII letters, digits and `/ . _ - +`. That leaves out `$`, `` ` ``, `"` and `\`
//! (live inside sh double quotes), space, tab, `'`, `;`, `&`, `|`, `<`, `>`, `(`, `)`, `*`,
//! `?`, `[`, `{`, `~`, `#` and `!` (split, expand or comment words when unquoted), `%` (a
//! newline in cron, an escape in `archive_command` and `restore_command`), `=`, `,` and `:`
//! (separators in `link-map=LINK=DEST`, `unix_socket_directories` and pgBackRest's list
//! values), and `@`, which would be inert but no path pitr knows needs it. Newlines and control
//! characters would end a config line. The path must also be absolute, without a `..`
//! component (what is shown is where it goes) and without `//` (which pgBackRest refuses);
//! trailing slashes are dropped.
//!
//! ```
//! use pitr_core::names::SafePath;
//! let data = SafePath::parse("pg_data", "cluster spec", "/pg/data/").unwrap();
//! assert_eq!(data.as_str(), "/pg/data");
//! let e = SafePath::parse("pg_data", "cluster spec", "/tmp/$(id)").unwrap_err();
//! assert_eq!(e.code(), "unsafe_characters");
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result, is_unprintable, one_line};

/// An absolute path made only of ASCII letters, digits and `/ . _ - +` (see the module docs).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SafePath(PathBuf);

/// The characters a path may hold besides ASCII letters and digits.
const PUNCTUATION: &str = "/._-+";

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || PUNCTUATION.contains(c)
}

impl SafePath {
    /// Validates `value`, the value of `key` in `context` (`"cluster spec"`, a config file and
    /// section, `"pitr restore"`), which errors name.
    ///
    /// Errors: [`Error::UnsafeValue`] for a newline or control character,
    /// [`Error::UnsafeCharacters`] for any other character outside the alphabet, and
    /// [`Error::InvalidSetting`] for an empty or relative path, a `..` component or `//`.
    pub fn parse(key: &str, context: &str, value: &str) -> Result<SafePath> {
        let invalid = |problem: &str| Error::InvalidSetting {
            key: key.to_owned(),
            context: context.to_owned(),
            message: format!("'{}' {problem}", one_line(value)),
        };
        if value.is_empty() {
            return Err(Error::InvalidSetting {
                key: key.to_owned(),
                context: context.to_owned(),
                message: "the path is empty: give an absolute path such as /pg/data".into(),
            });
        }
        if value.chars().any(is_unprintable) {
            return Err(Error::UnsafeValue { key: key.into() });
        }
        if !value.starts_with('/') {
            return Err(invalid("is not an absolute path: start it with '/'"));
        }
        if let Some(character) = value.chars().find(|c| !allowed(*c)) {
            return Err(Error::UnsafeCharacters {
                key: key.to_owned(),
                value: value.to_owned(),
                character,
                hint: format!(
                    "paths reach config files, pg_ctl (which starts postgres through /bin/sh) \
                     and shell lines, so they may hold only letters, digits and / . _ - +; \
                     set another path in {context}"
                ),
            });
        }
        if value.split('/').any(|part| part == "..") {
            return Err(invalid(
                "has a '..' component: write the path without it, as it resolves",
            ));
        }
        if value.contains("//") {
            return Err(invalid("contains //: write single slashes"));
        }
        let trimmed = value.trim_end_matches('/');
        Ok(SafePath(PathBuf::from(if trimmed.is_empty() {
            "/"
        } else {
            trimmed
        })))
    }

    /// Validates a path given as a [`Path`] (e.g. by clap or Python); one that is not UTF-8
    /// is refused like a control character.
    pub fn from_path(key: &str, context: &str, path: &Path) -> Result<SafePath> {
        let text = path
            .to_str()
            .ok_or_else(|| Error::UnsafeValue { key: key.into() })?;
        SafePath::parse(key, context, text)
    }

    /// A path written in pitr's own source. It is checked in tests; a literal that fails the
    /// check is a bug, so it falls back to `/`.
    pub(crate) fn constant(path: &'static str) -> SafePath {
        debug_assert!(SafePath::parse("constant", "pitr", path).is_ok(), "{path}");
        SafePath::parse("constant", "pitr", path).unwrap_or_else(|_| SafePath("/".into()))
    }

    /// The path.
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// The path as text (always UTF-8).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl Deref for SafePath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for SafePath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<OsStr> for SafePath {
    fn as_ref(&self) -> &OsStr {
        self.0.as_os_str()
    }
}

impl From<SafePath> for PathBuf {
    fn from(p: SafePath) -> PathBuf {
        p.0
    }
}

impl PartialEq<Path> for SafePath {
    fn eq(&self, other: &Path) -> bool {
        self.0 == other
    }
}

impl PartialEq<PathBuf> for SafePath {
    fn eq(&self, other: &PathBuf) -> bool {
        &self.0 == other
    }
}

/// Parses a path with the generic key `path`; prefer [`SafePath::parse`], which names the key.
impl FromStr for SafePath {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SafePath::parse("path", "a path", s)
    }
}

impl fmt::Display for SafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafePath({:?})", self.as_str())
    }
}

super::serde_as_string!(SafePath);

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<SafePath> {
        SafePath::parse("pg_data", "cluster spec", value)
    }

    #[test]
    fn accepts_the_paths_pigsty_and_debian_use() {
        for p in [
            "/pg/data",
            "/pg/log/pgbackrest",
            "/var/run/postgresql",
            "/etc/pgbackrest/pgbackrest.conf",
            "/usr/lib/postgresql/15/bin",
            "/tmp/pitr-e2e-x.Ab3_9+1",
            "/",
        ] {
            assert_eq!(parse(p).unwrap().as_str(), p);
        }
        assert_eq!(parse("/pg/data/").unwrap().as_str(), "/pg/data");
        assert_eq!(parse("/pg/./data").unwrap().as_str(), "/pg/./data");
    }

    #[test]
    fn refuses_shell_and_config_syntax_naming_key_and_character() {
        for (value, c) in [
            ("/tmp/$(id)", '$'),
            ("/tmp/`id`", '`'),
            ("/tmp/a\"b", '"'),
            ("/tmp/a;b", ';'),
            ("/tmp/a b", ' '),
            ("/tmp/a'b", '\''),
            ("/tmp/a%p", '%'),
            ("/tmp/a=b", '='),
            ("/tmp/a,b", ','),
            ("/tmp/a:b", ':'),
            ("/tmp/é", 'é'),
        ] {
            let e = parse(value).unwrap_err();
            assert_eq!(e.code(), "unsafe_characters", "{value}");
            let Error::UnsafeCharacters { character, .. } = &e else {
                unreachable!()
            };
            assert_eq!(*character, c, "{value}");
            let text = e.to_string();
            assert!(text.contains("'pg_data'") && text.contains(value), "{text}");
            assert!(text.contains("letters, digits and / . _ - +"), "{text}");
        }
    }

    #[test]
    fn refuses_control_characters_without_breaking_the_message() {
        for value in [
            "/tmp/a\nrepo1-host=evil",
            "/tmp/a\rb",
            "/tmp/\u{202e}x",
            "/tmp/\0",
        ] {
            let e = parse(value).unwrap_err();
            assert_eq!(e.code(), "unsafe_value", "{value:?}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn refuses_relative_empty_climbing_and_doubled_paths() {
        for (value, needle) in [
            ("", "empty"),
            ("pg/data", "absolute"),
            ("/pg/../etc", "'..'"),
            ("/pg/data/..", "'..'"),
            ("/pg//data", "//"),
        ] {
            let e = parse(value).unwrap_err();
            assert_eq!(e.code(), "invalid_setting", "{value}");
            let text = e.to_string();
            assert!(
                text.contains(needle) && text.contains("'pg_data'"),
                "{text}"
            );
        }
        assert!(parse("/pg/..data").is_ok());
    }

    #[test]
    fn derefs_to_a_path_and_serializes_as_text() {
        let p = parse("/pg/data").unwrap();
        assert_eq!(p.join("PG_VERSION"), Path::new("/pg/data/PG_VERSION"));
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"/pg/data\"");
        assert_eq!(format!("{p:?}"), "SafePath(\"/pg/data\")");
        assert!("a".parse::<SafePath>().is_err());
        assert_eq!(
            SafePath::constant("/var/run/postgresql").as_str(),
            "/var/run/postgresql"
        );
    }
}
