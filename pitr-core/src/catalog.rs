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

use crate::error::{Error, Result, nearest};
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

/// Checks a key written in a config file (`repo1-path`, `start-fast`, or a deprecated name
/// such as `db1-path`) and returns its option.
///
/// Refuses unknown keys (suggesting the nearest option, spelled with the key's index), group
/// options without an index (except the legacy unindexed names pgBackRest still reads),
/// options that take no index but were given one, and command-line-only options. With a
/// `version`, also refuses options newer than it, options it treats as internal, and indexes
/// above what it supports. A deprecated name is not checked against `version`: every
/// deprecated name is older than the option it stands for.
pub fn check_config_key(key: &str, version: Option<&Version>) -> Result<&'static OptionDef> {
    let (def, via_alias, index) = resolve_config_key(key)?;
    if def.section == Section::CommandLine {
        return Err(Error::InvalidSetting {
            key: key.to_owned(),
            context: CONF_CONTEXT.into(),
            message: format!(
                "'{key}' is a command-line-only option that pgBackRest ignores in a config file: \
                 pass --{key}=... on the command line instead"
            ),
        });
    }
    if let Some(version) = version {
        check_version(def, key, via_alias, *version)?;
        if let (Some(group), Some(index)) = (def.group, index) {
            let max = group.max_index(version);
            if index > max {
                let since = if group == Group::Repo && index <= 4 {
                    Version::V2_33
                } else {
                    Version::V2_36
                };
                let g = group.as_str();
                return Err(Error::OptionNeedsVersion {
                    option: key.to_owned(),
                    since: since.to_string(),
                    version: version.to_string(),
                    hint: format!(
                        "pgBackRest {version} accepts {g}1 to {g}{max} only: \
                         renumber the {g} or upgrade pgBackRest"
                    ),
                });
            }
        }
    }
    Ok(def)
}

/// Checks a key of a Pigsty `pgbackrest_repo` entry (`s3_key_secret`, `retention_full`,
/// `block`, or `type`) for a repo of `repo_type`, and returns its option.
///
/// The key is the option name without `repo-` and with `_` for `-`. Refuses unknown keys
/// (suggesting the nearest key valid for the type), options of other repo types, and, with a
/// `version`, repo types and options newer than it or internal in it.
pub fn check_repo_key(
    snake_key: &str,
    repo_type: RepoType,
    version: Option<&Version>,
) -> Result<&'static OptionDef> {
    if let Some(version) = version {
        if repo_type.since() > *version {
            return Err(Error::OptionNeedsVersion {
                option: format!("type={repo_type}"),
                since: repo_type.since().to_string(),
                version: version.to_string(),
                hint: format!(
                    "upgrade pgBackRest or use another repo type; \
                     a '{repo_type}' repo cannot be used with this version"
                ),
            });
        }
    }
    let rest = snake_key.replace('_', "-");
    let base = format!("repo-{rest}");
    let direct = table::OPTIONS
        .iter()
        .find(|d| d.name == base && d.is_repo_option());
    let found = direct.map(|d| (d, false)).or_else(|| {
        table::OPTIONS
            .iter()
            .filter(|d| d.is_repo_option())
            .find(|d| d.aliases.iter().any(|a| alias_matches(a, &base, true)))
            .map(|d| (d, true))
    });
    let Some((def, via_alias)) = found else {
        let candidates: Vec<String> = table::OPTIONS
            .iter()
            .filter(|d| d.applies_to(repo_type))
            .filter(|d| version.is_none_or(|v| d.is_available_in(v)))
            .map(OptionDef::snake_name)
            .collect();
        return Err(Error::UnknownOption {
            option: snake_key.to_owned(),
            suggestion: nearest(snake_key, candidates.iter().map(String::as_str)),
        });
    };
    if !def.applies_to(repo_type) {
        let applies_to = def
            .repo_types
            .unwrap_or_default()
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::OptionNotForRepoType {
            option: snake_key.to_owned(),
            repo_type: repo_type.to_string(),
            applies_to,
        });
    }
    if let Some(version) = version {
        check_version(def, snake_key, via_alias, *version)?;
    }
    Ok(def)
}

/// Checks a value for option `def` (named `key` in messages) and returns it as it should be
/// written in a config file.
///
/// Refuses control characters and newlines ([`Error::UnsafeValue`]), empty values (pgBackRest
/// error 032), surrounding whitespace (which the config file would silently drop), and values
/// of the wrong type. Normalises booleans (`y`, `n`, `true`, `false`, any case) to `y`/`n`
/// and drops a trailing `/` from paths, as pgBackRest does. Values of secure options are never
/// quoted in errors.
pub fn check_value(def: &OptionDef, key: &str, value: &str) -> Result<String> {
    if value.chars().any(char::is_control) {
        return Err(Error::UnsafeValue {
            key: key.to_owned(),
        });
    }
    let invalid = |message: String| Error::InvalidSetting {
        key: key.to_owned(),
        context: CONF_CONTEXT.into(),
        message,
    };
    if value.trim().is_empty() {
        return Err(invalid(
            "the value is empty and pgBackRest refuses an option without a value (error 032): \
             set a value or leave the option out"
                .into(),
        ));
    }
    if value.trim() != value {
        return Err(invalid(
            "the value starts or ends with whitespace, which pgbackrest.conf silently drops: \
             remove it"
                .into(),
        ));
    }
    let shown = if def.secure { "(secret)" } else { value };
    match def.kind {
        OptionKind::Bool => match value.to_ascii_lowercase().as_str() {
            "y" | "true" => Ok("y".into()),
            "n" | "false" => Ok("n".into()),
            _ => Err(invalid(format!("'{shown}' is not a boolean: use y or n"))),
        },
        OptionKind::Integer => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            let number = if digits.bytes().all(|b| b.is_ascii_digit()) {
                value.parse::<i64>().ok()
            } else {
                None
            };
            let Some(number) = number else {
                return Err(invalid(format!(
                    "'{shown}' is not an integer: write a whole number such as 3"
                )));
            };
            match def.range {
                Some((min, max)) if number < min || number > max => Err(invalid(format!(
                    "{number} is out of range: use {min} to {max}"
                ))),
                _ => Ok(value.to_owned()),
            }
        }
        OptionKind::Size if !is_size(value) => Err(invalid(format!(
            "'{shown}' is not a size: write bytes or a whole number with a unit, \
             e.g. 1048576 or 1MB"
        ))),
        OptionKind::Time if !is_time(value) => Err(invalid(format!(
            "'{shown}' is not a time: write whole seconds, e.g. 60"
        ))),
        OptionKind::Enum(allowed) if !allowed.contains(&value) => Err(invalid(format!(
            "'{shown}' is not allowed: use one of {}",
            allowed.join(", ")
        ))),
        OptionKind::Path => {
            if !value.starts_with('/') {
                return Err(invalid(format!(
                    "'{shown}' is not an absolute path: start it with /"
                )));
            }
            if value.contains("//") {
                return Err(invalid(format!(
                    "'{shown}' contains //, which pgBackRest refuses: write single slashes"
                )));
            }
            let trimmed = value.strip_suffix('/').filter(|t| !t.is_empty());
            Ok(trimmed.unwrap_or(value).to_owned())
        }
        OptionKind::Hash if value.split_once('=').is_none_or(|(k, _)| k.is_empty()) => {
            Err(invalid(format!(
                "'{shown}' is not a key=value pair: write one pair per value, e.g. name=value"
            )))
        }
        _ => Ok(value.to_owned()),
    }
}

/// Resolves a config-file key to its option: `(def, matched a deprecated name, index)`.
fn resolve_config_key(key: &str) -> Result<(&'static OptionDef, bool, Option<u16>)> {
    if let Some((group, digits, rest)) = parse_indexed(key) {
        let base = format!("{group}-{rest}");
        let direct = table::OPTIONS.iter().find(|d| d.name == base);
        let found = match direct {
            Some(d) if d.group.is_some_and(|g| g.as_str() == group) => Some((d, false)),
            Some(d) if d.group.is_none() => {
                return Err(Error::InvalidSetting {
                    key: key.to_owned(),
                    context: CONF_CONTEXT.into(),
                    message: format!("'{}' takes no index: write '{}'", d.name, d.name),
                });
            }
            _ => table::OPTIONS
                .iter()
                .find(|d| d.aliases.iter().any(|a| alias_matches(a, &base, true)))
                .map(|d| (d, true)),
        };
        if let Some((def, via_alias)) = found {
            let Some(index) = parse_index(digits) else {
                return Err(Error::InvalidSetting {
                    key: key.to_owned(),
                    context: CONF_CONTEXT.into(),
                    message: format!(
                        "index {digits} is not valid: use 1 to {MAX_INDEX} without leading zeros, \
                         e.g. '{}'",
                        def.indexed_name(1)
                    ),
                });
            };
            return Ok((def, via_alias, Some(index)));
        }
        return Err(unknown_config_key(key, parse_index(digits).unwrap_or(1)));
    }
    if let Some(def) = table::OPTIONS.iter().find(|d| d.name == key) {
        if def.group.is_some() && !def.unindexed_ok() {
            return Err(Error::InvalidSetting {
                key: key.to_owned(),
                context: CONF_CONTEXT.into(),
                message: format!("'{key}' needs an index: write '{}'", def.indexed_name(1)),
            });
        }
        return Ok((def, false, None));
    }
    table::OPTIONS
        .iter()
        .find(|d| d.aliases.iter().any(|a| alias_matches(a, key, false)))
        .map(|d| (d, true, None))
        .ok_or_else(|| unknown_config_key(key, 1))
}

/// An unknown config key, with the nearest option spelled with `index` if it is indexed.
fn unknown_config_key(key: &str, index: u16) -> Error {
    let candidates: Vec<String> = table::OPTIONS
        .iter()
        .filter(|d| d.section != Section::CommandLine && d.internal_from.is_none())
        .map(|d| d.indexed_name(index))
        .collect();
    Error::UnknownOption {
        option: key.to_owned(),
        suggestion: nearest(key, candidates.iter().map(String::as_str)),
    }
}

/// Refuses an option that `version` does not know or treats as internal.
fn check_version(def: &OptionDef, key: &str, via_alias: bool, version: Version) -> Result<()> {
    if let Some(from) = def.internal_from.filter(|from| *from <= version) {
        return Err(Error::InvalidSetting {
            key: key.to_owned(),
            context: CONF_CONTEXT.into(),
            message: format!(
                "'{key}' is internal from pgBackRest {from} on (this node has {version}) \
                 and no longer accepted: remove it"
            ),
        });
    }
    if !via_alias && def.since > version {
        return Err(Error::OptionNeedsVersion {
            option: key.to_owned(),
            since: def.since.to_string(),
            version: version.to_string(),
            hint: format!(
                "upgrade pgBackRest to {} or newer, or remove '{key}'",
                def.since
            ),
        });
    }
    Ok(())
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

/// pgBackRest's size syntax: digits and at most one unit, any case (`1048576`, `1MB`, `1MiB`).
fn is_size(value: &str) -> bool {
    const UNITS: [&str; 17] = [
        "", "b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib", "t", "tb", "tib", "p", "pb",
        "pib",
    ];
    let unit_at = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(unit_at);
    !digits.is_empty() && UNITS.contains(&unit.to_ascii_lowercase().as_str())
}

/// pgBackRest's time syntax across versions: seconds (`60`, `0.5` before 2.53) or a whole
/// number with a unit (`500ms`, `1m`, `1h`, `1d`, `1w`, 2.53+).
fn is_time(value: &str) -> bool {
    let unit_at = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(unit_at);
    if digits.is_empty() {
        return false;
    }
    if let Some(fraction) = unit.strip_prefix('.') {
        return !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit());
    }
    matches!(
        unit.to_ascii_lowercase().as_str(),
        "" | "ms" | "s" | "m" | "h" | "d" | "w"
    )
}

/// The option table, one row per option, sorted by name.
mod table {
    use super::{OptionDef, OptionKind as K, RepoType, Section, Version};
    use Section::{CommandLine as Cli, Global, Stanza};

    const ALL: &[RepoType] = &RepoType::ALL;
    const POSIX: &[RepoType] = &[RepoType::Posix];
    const S3: &[RepoType] = &[RepoType::S3];
    const AZURE: &[RepoType] = &[RepoType::Azure];
    const GCS: &[RepoType] = &[RepoType::Gcs];
    const SFTP: &[RepoType] = &[RepoType::Sftp];
    const AZURE_S3: &[RepoType] = &[RepoType::Azure, RepoType::S3];
    const OBJECT: &[RepoType] = &[RepoType::Azure, RepoType::Gcs, RepoType::S3];

    const LOG_LEVELS: K = K::Enum(&["off", "error", "warn", "info", "detail", "debug", "trace"]);
    const HOST_TYPES: K = K::Enum(&["ssh", "tls"]);
    const URI_STYLES: K = K::Enum(&["host", "path"]);
    const REPO_TYPES: K = K::Enum(&["azure", "cifs", "gcs", "posix", "s3", "sftp"]);
    const S3_KEY_TYPES: K = K::Enum(&["shared", "auto", "web-id", "pod-id", "process"]);
    const SFTP_CHECK_TYPES: K = K::Enum(&["accept-new", "fingerprint", "none", "strict"]);
    const PORT: (i64, i64) = (0, 65_535);
    const RETENTION: i64 = 9_999_999;

    /// pgBackRest 2.`minor`.
    const fn v(minor: u16) -> Version {
        Version::new(2, minor, 0)
    }

    const fn opt(name: &'static str, since: Version, kind: K, section: Section) -> OptionDef {
        OptionDef {
            name,
            since,
            kind,
            section,
            group: None,
            secure: false,
            aliases: &[],
            repo_types: None,
            beta: None,
            internal_from: None,
            range: None,
        }
    }

    /// A block incremental tuning option: beta in 2.45, internal from 2.46.
    const fn block_tuning(name: &'static str, kind: K) -> OptionDef {
        opt(name, v(45), kind, Global)
            .repo(ALL)
            .beta_only(v(45), v(46))
            .internal_from(v(46))
    }

    #[rustfmt::skip]
    pub(super) static OPTIONS: &[OptionDef] = &[
        opt("allow-root", v(59), K::Bool, Global),
        opt("annotation", v(41), K::Hash, Global),
        opt("archive-async", v(30), K::Bool, Global),
        opt("archive-check", v(30), K::Bool, Global),
        opt("archive-copy", v(30), K::Bool, Global),
        opt("archive-expire-before", v(59), K::String, Cli),
        opt("archive-get-queue-max", v(30), K::Size, Global),
        opt("archive-header-check", v(33), K::Bool, Global),
        opt("archive-missing-retry", v(38), K::Bool, Global),
        opt("archive-mode", v(30), K::Enum(&["preserve", "off"]), Global),
        opt("archive-mode-check", v(32), K::Bool, Global),
        opt("archive-push-batch-size", v(59), K::Size, Global),
        opt("archive-push-queue-max", v(30), K::Size, Global).aliases(&["archive-queue-max"]),
        opt("archive-timeout", v(30), K::Time, Global),
        opt("backup-standby", v(30), K::Enum(&["n", "prefer", "y"]), Global),
        // Internal in pgBackRest, but written as `beta=y` to enable 2.45's block incremental.
        opt("beta", v(45), K::Bool, Global),
        opt("buffer-size", v(30), K::Size, Global),
        opt("checksum-page", v(30), K::Bool, Global),
        opt("cmd", v(37), K::String, Global),
        opt("cmd-ssh", v(30), K::String, Global),
        opt("compress", v(30), K::Bool, Global),
        // The range depends on compress-type (gz -1..9, zst -7..22, ...): this is the widest.
        opt("compress-level", v(30), K::Integer, Global).range(-7, 22),
        opt("compress-level-network", v(30), K::Integer, Global).range(-5, 12),
        opt("compress-type", v(30), K::Enum(&["none", "bz2", "gz", "lz4", "zst"]), Global),
        opt("config", v(30), K::String, Cli),
        opt("config-include-path", v(30), K::Path, Cli),
        opt("config-path", v(30), K::Path, Cli),
        opt("db-exclude", v(34), K::List, Global),
        opt("db-include", v(30), K::List, Global),
        opt("db-timeout", v(30), K::Time, Global),
        opt("delta", v(30), K::Bool, Global),
        opt("detail-level", v(56), K::Enum(&["full", "progress"]), Cli),
        opt("dry-run", v(30), K::Bool, Cli),
        opt("exclude", v(30), K::List, Global),
        opt("expire-auto", v(30), K::Bool, Global),
        opt("filter", v(30), K::String, Cli),
        opt("force", v(30), K::Bool, Cli),
        opt("help", v(54), K::Bool, Cli),
        opt("ignore-missing", v(30), K::Bool, Cli),
        opt("io-timeout", v(30), K::Time, Global),
        opt("link-all", v(30), K::Bool, Global),
        opt("link-map", v(30), K::Hash, Global),
        opt("lock-path", v(30), K::Path, Global),
        opt("log-level-console", v(30), LOG_LEVELS, Global),
        opt("log-level-file", v(30), LOG_LEVELS, Global),
        opt("log-level-stderr", v(30), LOG_LEVELS, Global),
        opt("log-path", v(30), K::Path, Global),
        opt("log-subprocess", v(30), K::Bool, Global),
        opt("log-timestamp", v(30), K::Bool, Global),
        opt("manifest-save-threshold", v(30), K::Size, Global),
        opt("neutral-umask", v(30), K::Bool, Global),
        opt("oldest", v(58), K::Bool, Cli),
        opt("online", v(30), K::Bool, Cli),
        // text/json for info and friends, none/text for verify, text/num for version (2.55+).
        opt("output", v(30), K::Enum(&["text", "json", "none", "num"]), Cli),
        opt("page-header-check", v(46), K::Bool, Global),
        opt("pg-database", v(31), K::String, Stanza).pg(),
        opt("pg-host", v(30), K::String, Stanza).pg().aliases(&["db-host", "db?-host"]),
        opt("pg-host-ca-file", v(36), K::String, Global).pg(),
        opt("pg-host-ca-path", v(36), K::String, Global).pg(),
        opt("pg-host-cert-file", v(36), K::String, Global).pg(),
        opt("pg-host-cmd", v(30), K::String, Stanza).pg().aliases(&["db-cmd", "db?-cmd"]),
        opt("pg-host-config", v(30), K::Path, Stanza).pg().aliases(&["db-config", "db?-config"]),
        opt("pg-host-config-include-path", v(30), K::Path, Stanza).pg(),
        opt("pg-host-config-path", v(30), K::Path, Stanza).pg(),
        opt("pg-host-key-file", v(36), K::String, Global).pg(),
        opt("pg-host-port", v(30), K::Integer, Stanza).pg()
            .aliases(&["db-ssh-port", "db?-ssh-port"]).range(PORT.0, PORT.1),
        opt("pg-host-type", v(36), HOST_TYPES, Global).pg(),
        opt("pg-host-user", v(30), K::String, Stanza).pg().aliases(&["db-user", "db?-user"]),
        opt("pg-path", v(30), K::Path, Stanza).pg().aliases(&["db-path", "db?-path"]),
        opt("pg-port", v(30), K::Integer, Stanza).pg()
            .aliases(&["db-port", "db?-port"]).range(PORT.0, PORT.1),
        opt("pg-socket-path", v(30), K::String, Stanza).pg()
            .aliases(&["db-socket-path", "db?-socket-path"]),
        opt("pg-user", v(30), K::String, Stanza).pg(),
        // Not a group option: written `pg-version-force`, without index.
        opt("pg-version-force", v(45), K::String, Stanza),
        opt("priority", v(58), K::Integer, Global).range(-20, 19),
        opt("process-max", v(30), K::Integer, Global).range(1, 999),
        opt("protocol-timeout", v(30), K::Time, Global),
        opt("raw", v(30), K::Bool, Cli),
        opt("recovery-option", v(30), K::Hash, Global),
        opt("recurse", v(30), K::Bool, Cli),
        opt("reference", v(46), K::String, Cli),
        opt("repo", v(33), K::Integer, Cli).range(1, 256),
        opt("repo-azure-account", v(30), K::String, Global).repo(AZURE).secure(),
        opt("repo-azure-container", v(30), K::String, Global).repo(AZURE),
        opt("repo-azure-endpoint", v(31), K::String, Global).repo(AZURE).secure(),
        opt("repo-azure-key", v(30), K::String, Global).repo(AZURE).secure(),
        opt("repo-azure-key-type", v(30), K::Enum(&["shared", "sas", "auto"]), Global).repo(AZURE),
        opt("repo-azure-uri-style", v(36), URI_STYLES, Global).repo(AZURE),
        // Internal in 2.44, beta in 2.45, generally available from 2.46. Needs repo-bundle=y.
        opt("repo-block", v(45), K::Bool, Global).repo(ALL).beta_only(v(45), v(46)),
        block_tuning("repo-block-age-map", K::Hash),
        block_tuning("repo-block-checksum-size-map", K::Hash),
        block_tuning("repo-block-size-map", K::Hash),
        block_tuning("repo-block-size-super", K::Size),
        block_tuning("repo-block-size-super-full", K::Size),
        opt("repo-bundle", v(39), K::Bool, Global).repo(ALL),
        opt("repo-bundle-limit", v(39), K::Size, Global).repo(ALL),
        opt("repo-bundle-size", v(39), K::Size, Global).repo(ALL),
        opt("repo-cipher-pass", v(30), K::String, Global).repo(ALL).secure()
            .aliases(&["repo-cipher-pass"]),
        opt("repo-cipher-type", v(30), K::Enum(&["none", "aes-256-cbc"]), Global).repo(ALL)
            .aliases(&["repo-cipher-type"]),
        opt("repo-gcs-bucket", v(33), K::String, Global).repo(GCS),
        opt("repo-gcs-endpoint", v(33), K::String, Global).repo(GCS),
        opt("repo-gcs-key", v(33), K::String, Global).repo(GCS).secure(),
        opt("repo-gcs-key-type", v(33), K::Enum(&["service", "token", "auto"]), Global).repo(GCS),
        opt("repo-gcs-user-project", v(55), K::String, Global).repo(GCS),
        opt("repo-hardlink", v(30), K::Bool, Global).repo(ALL).aliases(&["hardlink"]),
        opt("repo-host", v(30), K::String, Global).repo(ALL).aliases(&["backup-host"]),
        opt("repo-host-ca-file", v(36), K::String, Global).repo(ALL),
        opt("repo-host-ca-path", v(36), K::String, Global).repo(ALL),
        opt("repo-host-cert-file", v(36), K::String, Global).repo(ALL),
        opt("repo-host-cmd", v(30), K::String, Global).repo(ALL).aliases(&["backup-cmd"]),
        opt("repo-host-config", v(30), K::String, Global).repo(ALL).aliases(&["backup-config"]),
        opt("repo-host-config-include-path", v(30), K::Path, Global).repo(ALL),
        opt("repo-host-config-path", v(30), K::Path, Global).repo(ALL),
        opt("repo-host-key-file", v(36), K::String, Global).repo(ALL),
        opt("repo-host-port", v(30), K::Integer, Global).repo(ALL)
            .aliases(&["backup-ssh-port"]).range(PORT.0, PORT.1),
        opt("repo-host-type", v(36), HOST_TYPES, Global).repo(ALL),
        opt("repo-host-user", v(30), K::String, Global).repo(ALL).aliases(&["backup-user"]),
        opt("repo-path", v(30), K::Path, Global).repo(ALL).aliases(&["repo-path"]),
        opt("repo-retention-archive", v(30), K::Integer, Global).repo(ALL)
            .aliases(&["retention-archive"]).range(1, RETENTION),
        opt("repo-retention-archive-type", v(30), K::Enum(&["full", "diff", "incr"]), Global)
            .repo(ALL).aliases(&["retention-archive-type"]),
        opt("repo-retention-diff", v(30), K::Integer, Global).repo(ALL)
            .aliases(&["retention-diff"]).range(1, RETENTION),
        opt("repo-retention-full", v(30), K::Integer, Global).repo(ALL)
            .aliases(&["retention-full"]).range(1, RETENTION),
        opt("repo-retention-full-type", v(30), K::Enum(&["count", "time"]), Global).repo(ALL),
        opt("repo-retention-history", v(34), K::Integer, Global).repo(ALL).range(0, RETENTION),
        opt("repo-s3-bucket", v(30), K::String, Global).repo(S3).aliases(&["repo-s3-bucket"]),
        opt("repo-s3-endpoint", v(30), K::String, Global).repo(S3).aliases(&["repo-s3-endpoint"]),
        opt("repo-s3-key", v(30), K::String, Global).repo(S3).secure().aliases(&["repo-s3-key"]),
        opt("repo-s3-key-secret", v(30), K::String, Global).repo(S3).secure()
            .aliases(&["repo-s3-key-secret"]),
        opt("repo-s3-key-type", v(30), S3_KEY_TYPES, Global).repo(S3),
        opt("repo-s3-kms-key-id", v(38), K::String, Global).repo(S3),
        opt("repo-s3-process-cmd", v(59), K::List, Global).repo(S3),
        opt("repo-s3-region", v(30), K::String, Global).repo(S3).aliases(&["repo-s3-region"]),
        opt("repo-s3-requester-pays", v(55), K::Bool, Global).repo(S3),
        opt("repo-s3-role", v(30), K::String, Global).repo(S3),
        opt("repo-s3-service", v(59), K::String, Global).repo(S3),
        opt("repo-s3-sse-customer-key", v(52), K::String, Global).repo(S3).secure(),
        opt("repo-s3-sts-host", v(59), K::String, Global).repo(S3),
        opt("repo-s3-token", v(30), K::String, Global).repo(S3).secure(),
        opt("repo-s3-uri-style", v(30), URI_STYLES, Global).repo(S3),
        opt("repo-sftp-host", v(46), K::String, Global).repo(SFTP),
        opt("repo-sftp-host-fingerprint", v(46), K::String, Global).repo(SFTP),
        opt("repo-sftp-host-key-check-type", v(48), SFTP_CHECK_TYPES, Global).repo(SFTP),
        opt("repo-sftp-host-key-hash-type", v(46), K::Enum(&["md5", "sha1", "sha256"]), Global)
            .repo(SFTP),
        opt("repo-sftp-host-port", v(46), K::Integer, Global).repo(SFTP).range(1, PORT.1),
        opt("repo-sftp-host-user", v(46), K::String, Global).repo(SFTP),
        opt("repo-sftp-known-host", v(48), K::List, Global).repo(SFTP),
        opt("repo-sftp-private-key-file", v(46), K::String, Global).repo(SFTP),
        opt("repo-sftp-private-key-passphrase", v(46), K::String, Global).repo(SFTP).secure(),
        opt("repo-sftp-public-key-file", v(46), K::String, Global).repo(SFTP),
        opt("repo-storage-ca-file", v(33), K::String, Global).repo(OBJECT)
            .aliases(&["repo-s3-ca-file", "repo?-azure-ca-file", "repo?-s3-ca-file"]),
        opt("repo-storage-ca-path", v(33), K::Path, Global).repo(OBJECT)
            .aliases(&["repo-s3-ca-path", "repo?-azure-ca-path", "repo?-s3-ca-path"]),
        opt("repo-storage-host", v(33), K::String, Global).repo(AZURE_S3)
            .aliases(&["repo-s3-host", "repo?-azure-host", "repo?-s3-host"]),
        // Inherits storage-host's dependency: GCS ignores it.
        opt("repo-storage-port", v(33), K::Integer, Global).repo(AZURE_S3)
            .aliases(&["repo?-azure-port", "repo?-s3-port"]).range(1, PORT.1),
        opt("repo-storage-prefetch", Version::V2_60_DEV, K::Integer, Global).repo(OBJECT)
            .range(0, 1024),
        opt("repo-storage-read-over", Version::V2_60_DEV, K::Size, Global).repo(OBJECT),
        opt("repo-storage-tag", v(48), K::Hash, Global).repo(OBJECT),
        opt("repo-storage-upload-chunk-size", v(41), K::Size, Global).repo(OBJECT),
        opt("repo-storage-verify-tls", v(33), K::Bool, Global).repo(OBJECT).aliases(&[
            "repo-s3-verify-ssl", "repo?-azure-verify-tls", "repo?-s3-verify-ssl",
            "repo?-s3-verify-tls",
        ]),
        opt("repo-symlink", v(57), K::Bool, Global).repo(POSIX),
        // Not a group option: one target time for the command, written without index.
        opt("repo-target-time", v(54), K::String, Global),
        opt("repo-type", v(30), REPO_TYPES, Global).repo(ALL).aliases(&["repo-type"]),
        opt("resume", v(30), K::Bool, Global),
        opt("sck-keep-alive", v(30), K::Bool, Global),
        opt("set", v(30), K::String, Cli),
        opt("sort", v(30), K::Enum(&["none", "asc", "desc"]), Cli),
        opt("spool-path", v(30), K::Path, Global),
        opt("stanza", v(30), K::String, Cli),
        opt("start-fast", v(30), K::Bool, Global),
        opt("tablespace-map", v(30), K::Hash, Global),
        opt("tablespace-map-all", v(30), K::String, Global),
        opt("target", v(30), K::String, Cli),
        opt("target-action", v(30), K::Enum(&["pause", "promote", "shutdown"]), Cli),
        opt("target-exclusive", v(30), K::Bool, Cli),
        opt("target-timeline", v(30), K::String, Cli),
        opt("tcp-keep-alive-count", v(30), K::Integer, Global).range(1, 32),
        opt("tcp-keep-alive-idle", v(30), K::Integer, Global).range(1, 3600),
        opt("tcp-keep-alive-interval", v(30), K::Integer, Global).range(1, 900),
        opt("tls-cipher-12", v(58), K::String, Global),
        opt("tls-cipher-13", v(58), K::String, Global),
        opt("tls-server-address", v(36), K::String, Global),
        opt("tls-server-auth", v(36), K::Hash, Global),
        opt("tls-server-ca-file", v(36), K::Path, Global),
        opt("tls-server-cert-file", v(36), K::Path, Global),
        opt("tls-server-key-file", v(36), K::Path, Global),
        opt("tls-server-port", v(36), K::Integer, Global).range(1, PORT.1),
        // Meaning depends on the command (backup type, restore target type, info filter).
        opt("type", v(30), K::String, Cli),
        opt("verbose", v(39), K::Bool, Cli),
        opt("version", v(54), K::Bool, Cli),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const V244: Version = Version::V2_44;
    const V245: Version = Version::V2_45;
    const V246: Version = Version::V2_46;

    fn def(name: &str) -> &'static OptionDef {
        lookup(name).unwrap_or_else(|| panic!("{name} is not in the catalogue"))
    }

    #[test]
    fn table_has_every_appendix_a_row_plus_beta_and_block_tuning() {
        // 181 user-facing options of Appendix A, `beta`, and five 2.45-only tuning options.
        assert_eq!(all().len(), 187);
        assert_eq!(
            all().iter().filter(|d| d.internal_from.is_some()).count(),
            5
        );
        assert_eq!(
            all()
                .iter()
                .filter(|d| d.section == Section::CommandLine)
                .count(),
            27
        );
        assert_eq!(
            all()
                .iter()
                .filter(|d| d.section == Section::Stanza)
                .count(),
            13
        );
        assert_eq!(all().iter().filter(|d| d.secure).count(), 10);
    }

    #[test]
    fn table_is_sorted_unique_and_consistent() {
        for pair in all().windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} / {}",
                pair[0].name,
                pair[1].name
            );
        }
        for d in all() {
            assert_eq!(d.repo_types.is_some(), d.is_repo_option(), "{}", d.name);
            if let Some(group) = d.group {
                assert!(
                    d.name.starts_with(&format!("{}-", group.as_str())),
                    "{}",
                    d.name
                );
            }
            assert!(d.since >= Version::V2_30, "{}", d.name);
            assert_eq!(
                d.range.is_some(),
                d.kind == OptionKind::Integer,
                "{}",
                d.name
            );
            for alias in d.aliases {
                assert_eq!(lookup(&alias.replace('?', "")), Some(d), "{alias}");
            }
        }
    }

    #[test]
    fn lookup_finds_names_and_deprecated_names() {
        assert_eq!(def("repo-s3-bucket").kind, OptionKind::String);
        assert_eq!(def("retention-full").name, "repo-retention-full");
        assert_eq!(def("db-path").name, "pg-path");
        assert_eq!(def("repo-azure-ca-file").name, "repo-storage-ca-file");
        assert_eq!(def("repo-s3-verify-ssl").name, "repo-storage-verify-tls");
        assert_eq!(def("archive-queue-max").name, "archive-push-queue-max");
        assert_eq!(lookup("repo1-path"), None);
        assert_eq!(lookup("no-such-option"), None);
    }

    #[test]
    fn repo_types_follow_pgbackrest_dependencies() {
        assert_eq!(def("repo-s3-bucket").repo_types, Some(&[RepoType::S3][..]));
        assert_eq!(
            def("repo-storage-host").repo_types,
            Some(&[RepoType::Azure, RepoType::S3][..])
        );
        assert!(!def("repo-storage-port").applies_to(RepoType::Gcs));
        assert!(def("repo-storage-verify-tls").applies_to(RepoType::Gcs));
        assert!(!def("repo-storage-ca-file").applies_to(RepoType::Posix));
        for t in RepoType::ALL {
            assert!(def("repo-path").applies_to(t));
            assert!(def("repo-type").applies_to(t));
            assert!(def("repo-host").applies_to(t));
            assert!(def("repo-block").applies_to(t));
        }
        assert!(def("repo-symlink").applies_to(RepoType::Posix));
        assert!(!def("repo-symlink").applies_to(RepoType::S3));
        assert!(!def("repo-target-time").is_repo_option());
        assert!(!def("start-fast").applies_to(RepoType::Posix));
    }

    #[test]
    fn secure_options_are_flagged() {
        for name in [
            "repo-cipher-pass",
            "repo-s3-key",
            "repo-s3-key-secret",
            "repo-s3-token",
            "repo-s3-sse-customer-key",
            "repo-azure-account",
            "repo-azure-key",
            "repo-azure-endpoint",
            "repo-gcs-key",
            "repo-sftp-private-key-passphrase",
        ] {
            assert!(def(name).secure, "{name}");
        }
        assert!(!def("tls-server-auth").secure);
        assert!(!def("repo-host-key-file").secure);
    }

    #[test]
    fn block_incremental_needs_beta_in_2_45_only() {
        let block = def("repo-block");
        assert!(block.needs_beta(&V245));
        assert!(!block.needs_beta(&V246));
        assert!(!block.needs_beta(&V244));
        assert!(!def("beta").needs_beta(&V245));
        let tuning = def("repo-block-size-super");
        assert!(tuning.needs_beta(&V245));
        assert!(tuning.is_available_in(&V245));
        assert!(!tuning.is_available_in(&V246));
        let err = check_repo_key("block", RepoType::Posix, Some(&V244)).unwrap_err();
        assert_eq!(err.code(), "option_needs_version", "{err}");
        assert!(err.to_string().contains("2.45"), "{err}");
        assert!(check_repo_key("block", RepoType::S3, Some(&V245)).is_ok());
        assert!(check_repo_key("block_size_map", RepoType::S3, Some(&V245)).is_ok());
        let err = check_repo_key("block_size_map", RepoType::S3, Some(&V246)).unwrap_err();
        assert_eq!(err.code(), "invalid_setting", "{err}");
        assert!(err.to_string().contains("internal"), "{err}");
        assert!(check_config_key("beta", Some(&V245)).is_ok());
        assert_eq!(check_value(def("beta"), "beta", "y").unwrap(), "y");
    }

    #[test]
    fn split_index_and_base_name() {
        assert_eq!(
            split_index("repo2-s3-bucket"),
            Some(("repo", 2, "s3-bucket"))
        );
        assert_eq!(split_index("pg256-path"), Some(("pg", 256, "path")));
        assert_eq!(split_index("db1-host"), Some(("db", 1, "host")));
        for key in [
            "repo0-path",
            "repo257-path",
            "repo01-path",
            "repo-path",
            "repo1-",
            "1-x",
        ] {
            assert_eq!(split_index(key), None, "{key}");
        }
        assert_eq!(split_index("tls-cipher-12"), None);
        assert_eq!(base_name("repo2-s3-bucket"), "repo-s3-bucket");
        assert_eq!(base_name("start-fast"), "start-fast");
        assert_eq!(def("repo-s3-bucket").indexed_name(3), "repo3-s3-bucket");
        assert_eq!(def("start-fast").indexed_name(3), "start-fast");
    }

    #[test]
    fn config_keys_are_checked() {
        assert_eq!(
            check_config_key("repo1-path", None).unwrap().name,
            "repo-path"
        );
        assert_eq!(check_config_key("pg2-port", None).unwrap().name, "pg-port");
        assert_eq!(
            check_config_key("start-fast", Some(&V245)).unwrap().name,
            "start-fast"
        );
        assert_eq!(check_config_key("db1-path", None).unwrap().name, "pg-path");
        assert_eq!(
            check_config_key("repo-path", None).unwrap().name,
            "repo-path"
        );
        assert_eq!(
            check_config_key("retention-full", None).unwrap().name,
            "repo-retention-full"
        );
        assert_eq!(
            check_config_key("repo2-s3-port", Some(&V245)).unwrap().name,
            "repo-storage-port"
        );
        assert_eq!(
            check_config_key("pg-version-force", None).unwrap().name,
            "pg-version-force"
        );

        let err = check_config_key("repo1-s3-buket", None).unwrap_err();
        let Error::UnknownOption { suggestion, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(suggestion.as_deref(), Some("repo1-s3-bucket"));
        let err = check_config_key("repo2-s3-buket", None).unwrap_err();
        assert!(
            err.to_string().contains("did you mean 'repo2-s3-bucket'"),
            "{err}"
        );
        let err = check_config_key("start-fats", None).unwrap_err();
        assert!(err.to_string().contains("'start-fast'"), "{err}");

        let err = check_config_key("pg-path", None).unwrap_err();
        assert!(err.to_string().contains("write 'pg1-path'"), "{err}");
        let err = check_config_key("repo1-target-time", None).unwrap_err();
        assert!(err.to_string().contains("takes no index"), "{err}");
        let err = check_config_key("repo300-path", None).unwrap_err();
        assert!(err.to_string().contains("1 to 256"), "{err}");
        let err = check_config_key("repo1-azure-port", None);
        assert!(err.is_ok(), "indexed azure alias is read by pgBackRest");
        let err = check_config_key("repo-azure-port", None).unwrap_err();
        assert_eq!(err.code(), "unknown_option", "{err}");

        let err = check_config_key("type", None).unwrap_err();
        assert!(err.to_string().contains("command line"), "{err}");
        assert_eq!(err.code(), "invalid_setting");

        let err = check_config_key("repo1-sftp-host", Some(&V245)).unwrap_err();
        assert!(
            matches!(&err, Error::OptionNeedsVersion { since, .. } if since == "2.46"),
            "{err}"
        );
        let v233 = Version::V2_33;
        let err = check_config_key("repo5-path", Some(&v233)).unwrap_err();
        assert!(err.to_string().contains("repo1 to repo4"), "{err}");
        assert!(check_config_key("repo5-path", Some(&V245)).is_ok());
    }

    #[test]
    fn repo_keys_are_checked_for_type_and_version() {
        let err = check_repo_key("s3_bucket", RepoType::Posix, None).unwrap_err();
        assert!(
            matches!(&err, Error::OptionNotForRepoType { applies_to, .. } if applies_to == "s3"),
            "{err}"
        );
        let err = check_repo_key("storage_host", RepoType::Gcs, None).unwrap_err();
        assert!(err.to_string().contains("azure, s3"), "{err}");
        let err = check_repo_key("s3_buket", RepoType::S3, None).unwrap_err();
        assert!(
            matches!(&err, Error::UnknownOption { suggestion: Some(s), .. } if s == "s3_bucket"),
            "{err}"
        );
        let err = check_repo_key("retention_ful", RepoType::Posix, None).unwrap_err();
        assert!(
            err.to_string().contains("did you mean 'retention_full'"),
            "{err}"
        );
        assert_eq!(
            check_repo_key("s3_host", RepoType::S3, None).unwrap().name,
            "repo-storage-host"
        );
        let err = check_repo_key("host", RepoType::Sftp, Some(&V245)).unwrap_err();
        assert!(err.to_string().contains("sftp"), "{err}");
        assert!(check_repo_key("sftp_host", RepoType::Sftp, Some(&V246)).is_ok());
        assert_eq!(
            check_repo_key("type", RepoType::Gcs, None).unwrap().name,
            "repo-type"
        );
    }

    #[test]
    fn pigsty_default_repos_pass() {
        for key in ["path", "retention_full_type", "retention_full"] {
            check_repo_key(key, RepoType::Posix, Some(&V245)).unwrap();
        }
        for key in [
            "type",
            "s3_endpoint",
            "s3_region",
            "s3_bucket",
            "s3_key",
            "s3_key_secret",
            "s3_uri_style",
            "path",
            "storage_port",
            "storage_ca_file",
            "block",
            "bundle",
            "bundle_limit",
            "bundle_size",
            "cipher_type",
            "cipher_pass",
            "retention_full_type",
            "retention_full",
        ] {
            let d = check_repo_key(key, RepoType::S3, Some(&V245)).unwrap();
            assert_eq!(d.snake_name(), key);
        }
        for (key, value, want) in [
            ("path", "/pgbackrest/", "/pgbackrest"),
            ("retention_full_type", "time", "time"),
            ("retention_full", "14", "14"),
            ("s3_uri_style", "path", "path"),
            ("storage_port", "9000", "9000"),
            ("storage_ca_file", "/etc/pki/ca.crt", "/etc/pki/ca.crt"),
            ("block", "y", "y"),
            ("bundle", "true", "y"),
            ("bundle_limit", "20MiB", "20MiB"),
            ("bundle_size", "128MiB", "128MiB"),
            ("cipher_type", "aes-256-cbc", "aes-256-cbc"),
            ("cipher_pass", "pgBackRest", "pgBackRest"),
        ] {
            let d = check_repo_key(key, RepoType::S3, Some(&V245)).unwrap();
            assert_eq!(check_value(d, key, value).unwrap(), want, "{key}");
        }
    }

    #[test]
    fn values_are_checked_and_normalised() {
        let block = def("repo-block");
        let err = check_value(def("repo-path"), "repo1-path", "a\nb").unwrap_err();
        assert_eq!(err.code(), "unsafe_value");
        assert_eq!(check_value(block, "block", "FALSE").unwrap(), "n");
        let err = check_value(block, "block", "yes").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("'block'") && msg.contains("'yes'") && msg.contains("use y or n"),
            "{msg}"
        );
        assert!(check_value(block, "block", "").is_err());
        assert!(check_value(block, "block", " y").is_err());
        assert!(check_value(def("repo-path"), "repo1-path", "relative").is_err());
        assert!(check_value(def("repo-path"), "repo1-path", "/a//b").is_err());
        assert_eq!(
            check_value(def("repo-path"), "repo1-path", "/").unwrap(),
            "/"
        );
        let retention = def("repo-retention-full");
        assert!(check_value(retention, "retention_full", "0").is_err());
        assert!(check_value(retention, "retention_full", "2x").is_err());
        assert!(check_value(retention, "retention_full", "+2").is_err());
        assert!(check_value(def("compress-level"), "compress-level", "-1").is_ok());
        let err = check_value(def("repo-cipher-type"), "cipher_type", "aes").unwrap_err();
        assert!(err.to_string().contains("none, aes-256-cbc"), "{err}");
        let size = def("repo-bundle-limit");
        for ok in ["1048576", "2MiB", "2mb", "2M", "8kib", "1b"] {
            assert!(check_value(size, "bundle_limit", ok).is_ok(), "{ok}");
        }
        for bad in ["2.5MB", "MB", "2 MB", "2XB", "-1"] {
            assert!(check_value(size, "bundle_limit", bad).is_err(), "{bad}");
        }
        let time = def("archive-timeout");
        for ok in ["60", "0.5", "1m", "500ms", "1D"] {
            assert!(check_value(time, "archive-timeout", ok).is_ok(), "{ok}");
        }
        for bad in ["1.5m", "m", "60 s", "1y", "1."] {
            assert!(check_value(time, "archive-timeout", bad).is_err(), "{bad}");
        }
        let hash = def("recovery-option");
        assert!(check_value(hash, "recovery-option", "primary_conninfo=host=x user=y").is_ok());
        assert!(check_value(hash, "recovery-option", "novalue").is_err());
        assert!(check_value(hash, "recovery-option", "=x").is_err());
    }

    #[test]
    fn secret_values_never_appear_in_errors() {
        let pass = def("repo-cipher-pass");
        for bad in [" s3cr3t", "s3cr3t\n"] {
            let err = check_value(pass, "cipher_pass", bad).unwrap_err();
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
    }

    #[test]
    fn repo_type_parses_displays_and_serializes() {
        for t in RepoType::ALL {
            assert_eq!(t.as_str().parse::<RepoType>().unwrap(), t);
            assert_eq!(t.to_string(), t.as_str());
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{t}\""));
            assert_eq!(serde_json::from_str::<RepoType>(&json).unwrap(), t);
        }
        let err = "minio".parse::<RepoType>().unwrap_err();
        assert!(
            err.to_string().contains("'minio'") && err.to_string().contains("posix, cifs, s3"),
            "{err}"
        );
        assert!(serde_json::from_str::<RepoType>("\"S3\"").is_err());
        assert_eq!(RepoType::Sftp.since(), V246);
        assert_eq!(RepoType::Azure.since(), Version::new(2, 28, 0));
        assert_eq!(RepoType::Gcs.since(), Version::V2_33);
    }

    proptest! {
        #[test]
        fn checks_never_panic(key in "\\PC*", value in "\\PC*") {
            let _ = check_config_key(&key, None);
            let _ = check_config_key(&key, Some(&V245));
            let _ = split_index(&key);
            let _ = base_name(&key);
            let _ = lookup(&key);
            for t in RepoType::ALL {
                let _ = check_repo_key(&key, t, Some(&V244));
            }
            for d in all() {
                let _ = check_value(d, &key, &value);
            }
        }

        #[test]
        fn indexed_keys_round_trip(index in 1u16..=256, i in 0usize..187) {
            let d = &all()[i % all().len()];
            if d.group.is_some() && d.section != Section::CommandLine {
                let key = d.indexed_name(index);
                prop_assert_eq!(check_config_key(&key, None).unwrap(), d);
                prop_assert_eq!(base_name(&key), d.name);
            }
        }
    }
}
