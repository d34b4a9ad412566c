//! pgBackRest's option catalogue.
//!
//! pgBackRest only warns about unknown keys in `pgbackrest.conf` and silently ignores options
//! that do not apply, so a typo in a repo setting becomes a backup that goes somewhere else, or
//! nowhere. This module owns the list of every user-facing pgBackRest option ([`all`]), with
//! what pitr needs to check a setting before it is written: the version that introduced it,
//! its value type, the config section it may appear in, whether it is secure (never on the
//! command line, always redacted), its deprecated names, the repo types it applies to, and the
//! versions in which it needed `beta=y` or became internal.
//!
//! The data comes from pgBackRest's option definitions (`build/config.yaml`, checked from 2.30
//! to 2.60dev), as summarised in Appendix A and §4–§5 of the project's pgBackRest reference.
//! Options older than 2.30 are recorded as 2.30, the oldest version pitr supports.
//!
//! Three checks build on the table; the spec reader and the renderer call them so that nothing
//! unchecked reaches a config file:
//!
//! * [`check_repo_key`] — a key of a Pigsty `pgbackrest_repo` entry (`s3_bucket`, `block`) is a
//!   repo option, applies to the repo's type, and exists in the node's pgBackRest;
//! * [`check_config_key`] — a key of `pgbackrest.conf` (`repo1-path`, `start-fast`) may be
//!   written in a config file for that version;
//! * [`check_value`] — a value is one line of the right type, normalised for the file.
//!
//! ```
//! use pitr_core::catalog::{self, RepoType};
//! use pitr_core::version::Version;
//!
//! let v245 = Version::new(2, 45, 0);
//! let block = catalog::check_repo_key("block", RepoType::S3, Some(&v245))?;
//! assert_eq!(block.name, "repo-block");
//! assert!(block.needs_beta(&v245));
//! assert_eq!(catalog::check_value(block, "block", "true")?, "y");
//!
//! let err = catalog::check_config_key("repo1-s3-buket", None).unwrap_err();
//! assert!(err.to_string().contains("did you mean 'repo1-s3-bucket'"));
//! assert!(catalog::check_repo_key("s3_bucket", RepoType::Posix, None).is_err());
//! # Ok::<(), pitr_core::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::version::Version;

/// Where errors about config keys and values say the problem is.
const CONF_CONTEXT: &str = "pgbackrest.conf";

/// Highest index of a `repoN-`/`pgN-` option (`CFG_OPTION_KEY_MAX`).
const MAX_INDEX: u16 = 256;

/// The storage type of a repository (`repoN-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum RepoType {
    /// A local or mounted file system (the default).
    Posix,
    /// A CIFS mount: posix without links and directory syncs.
    Cifs,
    /// Amazon S3 or an S3-compatible server such as `MinIO`.
    S3,
    /// Azure Blob Storage (pgBackRest 2.28+).
    Azure,
    /// Google Cloud Storage (pgBackRest 2.33+).
    Gcs,
    /// A remote host over SFTP (pgBackRest 2.46+, when built with libssh2).
    Sftp,
}

impl RepoType {
    /// Every repo type, in the order pgBackRest's documentation lists them.
    pub const ALL: [RepoType; 6] = [
        RepoType::Posix,
        RepoType::Cifs,
        RepoType::S3,
        RepoType::Azure,
        RepoType::Gcs,
        RepoType::Sftp,
    ];

    /// The name pgBackRest uses (`repo1-type=s3`).
    pub const fn as_str(self) -> &'static str {
        match self {
            RepoType::Posix => "posix",
            RepoType::Cifs => "cifs",
            RepoType::S3 => "s3",
            RepoType::Azure => "azure",
            RepoType::Gcs => "gcs",
            RepoType::Sftp => "sftp",
        }
    }

    /// The first pgBackRest version that supports this type.
    pub const fn since(self) -> Version {
        match self {
            RepoType::Posix | RepoType::Cifs | RepoType::S3 => Version::V2_30,
            RepoType::Azure => Version::new(2, 28, 0),
            RepoType::Gcs => Version::V2_33,
            RepoType::Sftp => Version::V2_46,
        }
    }
}

impl fmt::Display for RepoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RepoType {
    type Err = Error;

    fn from_str(s: &str) -> Result<RepoType> {
        RepoType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "repo type",
                    s,
                    "use one of: posix, cifs, s3, azure, gcs, sftp (MinIO is s3)",
                )
            })
    }
}

impl TryFrom<String> for RepoType {
    type Error = Error;

    fn try_from(s: String) -> Result<RepoType> {
        s.parse()
    }
}

/// Where an option may be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// Any config section: `[global]`, `[global:cmd]`, `[stanza]`, `[stanza:cmd]`.
    Global,
    /// Only `[stanza]` and `[stanza:cmd]`; pgBackRest ignores it in `[global]`.
    Stanza,
    /// Only on the command line; pgBackRest ignores it in a config file.
    CommandLine,
}

/// An option group: its options are written with an index (`repo1-path`, `pg2-port`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// `repoN-…`: one set per repository.
    Repo,
    /// `pgN-…`: one set per `PostgreSQL` host.
    Pg,
}

impl Group {
    /// The key prefix (`repo`, `pg`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Group::Repo => "repo",
            Group::Pg => "pg",
        }
    }

    /// The highest index `version` accepts: repo1 only before 2.33, repo1..4 in 2.33–2.35,
    /// pg1..8 before 2.36, and 256 of each from 2.36 on.
    pub fn max_index(self, version: &Version) -> u16 {
        match self {
            _ if *version >= Version::V2_36 => MAX_INDEX,
            Group::Repo if *version >= Version::V2_33 => 4,
            Group::Repo => 1,
            Group::Pg => 8,
        }
    }
}

/// The value type of an option, with what `pgbackrest.conf` accepts for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "allowed", rename_all = "lowercase")]
pub enum OptionKind {
    /// `y` or `n`.
    Bool,
    /// A decimal integer, possibly within a range ([`OptionDef::range`]).
    Integer,
    /// Bytes, or a number with a unit (`1MB`, `1MiB` from 2.37).
    Size,
    /// Seconds (`60`); units such as `1m` from 2.53, fractions (`0.5`) only before 2.53.
    Time,
    /// Any one-line text.
    String,
    /// An absolute path without `//`.
    Path,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Several values: the key is repeated, one value per line.
    List,
    /// Several `key=value` pairs: the key is repeated, one pair per line.
    Hash,
}

/// A half-open range of versions, `from` included, `until` excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct VersionRange {
    /// The first version in the range.
    pub from: Version,
    /// The first version after the range.
    pub until: Version,
}

impl VersionRange {
    /// Whether `version` is in the range.
    pub fn contains(&self, version: &Version) -> bool {
        self.from <= *version && *version < self.until
    }
}

/// One pgBackRest option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OptionDef {
    /// The option name without index (`repo-s3-bucket`, `pg-path`, `start-fast`).
    pub name: &'static str,
    /// The first pgBackRest version with the option (2.30 for anything older).
    pub since: Version,
    /// The value type.
    pub kind: OptionKind,
    /// Where the option may be set.
    pub section: Section,
    /// The group whose index the option is written with; `None` for unindexed options.
    pub group: Option<Group>,
    /// A secret: never on a command line, redacted everywhere but the config file.
    pub secure: bool,
    /// Deprecated names pgBackRest still reads, as in its `deprecate` lists: a `?` stands for
    /// the index (`db?-path` reads `db1-path`), a name without `?` is written unindexed and
    /// means index 1. An option listed under its own name may be written without its index.
    pub aliases: &'static [&'static str],
    /// For repo options, the repo types the option applies to; `None` for other options.
    pub repo_types: Option<&'static [RepoType]>,
    /// The versions in which the option works only with `beta=y`.
    pub beta: Option<VersionRange>,
    /// The version from which pgBackRest treats the option as internal and refuses it.
    pub internal_from: Option<Version>,
    /// Allowed integer values, both ends included.
    pub range: Option<(i64, i64)>,
}

impl OptionDef {
    /// Whether `version` of pgBackRest needs `beta=y` before it accepts this option.
    pub fn needs_beta(&self, version: &Version) -> bool {
        self.beta.is_some_and(|b| b.contains(version))
    }

    /// Whether this is a `repoN-…` option (one value per repository).
    pub fn is_repo_option(&self) -> bool {
        self.group == Some(Group::Repo)
    }

    /// Whether this option can be set for a repo of type `repo_type`.
    pub fn applies_to(&self, repo_type: RepoType) -> bool {
        self.repo_types.is_some_and(|t| t.contains(&repo_type))
    }

    /// Whether `version` refuses the option because it has become internal.
    pub fn is_internal_in(&self, version: &Version) -> bool {
        self.internal_from.is_some_and(|from| from <= *version)
    }

    /// Whether `version` of pgBackRest accepts this option (with `beta=y` where needed).
    pub fn is_available_in(&self, version: &Version) -> bool {
        self.since <= *version && !self.is_internal_in(version)
    }

    /// The name as Pigsty writes it: for repo options the part after `repo-` (`s3_key_secret`,
    /// `retention_full`), for others the whole name (`start_fast`), with `_` for `-`.
    pub fn snake_name(&self) -> String {
        let name = if self.is_repo_option() {
            self.name.strip_prefix("repo-").unwrap_or(self.name)
        } else {
            self.name
        };
        name.replace('-', "_")
    }

    /// The key to write in a config file: `repo2-s3-bucket` for group options, the plain name
    /// for the others (which ignore `index`).
    pub fn indexed_name(&self, index: u16) -> String {
        match self.group {
            Some(group) => {
                let rest = self.name.strip_prefix(group.as_str()).unwrap_or(self.name);
                format!("{}{index}{rest}", group.as_str())
            }
            None => self.name.to_owned(),
        }
    }

    /// Whether this group option may be written without an index (a legacy spelling).
    fn unindexed_ok(&self) -> bool {
        self.aliases.contains(&self.name)
    }

    // Builders used by the table below.

    const fn repo(mut self, types: &'static [RepoType]) -> Self {
        self.group = Some(Group::Repo);
        self.repo_types = Some(types);
        self
    }

    const fn pg(mut self) -> Self {
        self.group = Some(Group::Pg);
        self
    }

    const fn secure(mut self) -> Self {
        self.secure = true;
        self
    }

    const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    const fn range(mut self, min: i64, max: i64) -> Self {
        self.range = Some((min, max));
        self
    }

    const fn beta_only(mut self, from: Version, until: Version) -> Self {
        self.beta = Some(VersionRange { from, until });
        self
    }

    const fn internal_from(mut self, version: Version) -> Self {
        self.internal_from = Some(version);
        self
    }
}

/// Every option pitr knows, sorted by name.
///
/// These are the user-facing options of pgBackRest 2.30 to 2.60dev, plus the internal
/// `beta` switch (written as `beta=y` for 2.45's block incremental) and the block incremental
/// tuning options that were user-facing, and beta, only in 2.45.
pub fn all() -> &'static [OptionDef] {
    table::OPTIONS
}

/// The option called `name` (without index), or that has `name` as a deprecated name.
pub fn lookup(name: &str) -> Option<&'static OptionDef> {
    if let Ok(i) = table::OPTIONS.binary_search_by(|d| d.name.cmp(name)) {
        return table::OPTIONS.get(i);
    }
    table::OPTIONS.iter().find(|d| {
        d.aliases
            .iter()
            .any(|a| alias_matches(a, name, true) || alias_matches(a, name, false))
    })
}

/// Splits an indexed key: `repo2-s3-bucket` → `("repo", 2, "s3-bucket")`.
///
/// The index is the digits before the first `-`, after a lowercase group name; it must be
/// 1..=256 and written without leading zeros. Other keys give `None`.
pub fn split_index(key: &str) -> Option<(&str, u16, &str)> {
    let (group, digits, rest) = parse_indexed(key)?;
    let index = parse_index(digits)?;
    Some((group, index, rest))
}

/// The option name of a key without its index: `repo2-s3-bucket` → `repo-s3-bucket`.
/// Keys without a valid index are returned unchanged.
pub fn base_name(key: &str) -> String {
    match split_index(key) {
        Some((group, _, rest)) => format!("{group}-{rest}"),
        None => key.to_owned(),
    }
}

/// Splits `repo2-s3-bucket` into `("repo", "2", "s3-bucket")` without checking the index.
fn parse_indexed(key: &str) -> Option<(&str, &str, &str)> {
    let (prefix, rest) = key.split_once('-')?;
    let digits_at = prefix.find(|c: char| c.is_ascii_digit())?;
    let (group, digits) = prefix.split_at(digits_at);
    let ok = !group.is_empty()
        && !rest.is_empty()
        && group.bytes().all(|b| b.is_ascii_lowercase())
        && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some((group, digits, rest))
}

/// An index 1..=256 written without leading zeros.
fn parse_index(digits: &str) -> Option<u16> {
    if digits.starts_with('0') || digits.len() > 3 {
        return None;
    }
    digits
        .parse::<u16>()
        .ok()
        .filter(|i| (1..=MAX_INDEX).contains(i))
}

/// Whether deprecated name `alias` (with `?` for the index) names option key `base` (with the
/// index removed when `indexed`).
fn alias_matches(alias: &str, base: &str, indexed: bool) -> bool {
    match alias.split_once('?') {
        Some((head, tail)) => {
            indexed
                && base.len() == head.len() + tail.len()
                && base.starts_with(head)
                && base.ends_with(tail)
        }
        None => !indexed && alias == base,
    }
}

mod check;
mod table;

pub use check::{check_config_key, check_repo_key, check_value};

#[cfg(test)]
mod tests;
