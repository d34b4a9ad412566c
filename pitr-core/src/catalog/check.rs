//! Checking keys and values against the catalogue.

use super::{
    CONF_CONTEXT, Group, MAX_INDEX, OptionDef, OptionKind, RepoType, Section, Version,
    alias_matches, parse_index, parse_indexed, table,
};
use crate::error::{Error, Result, nearest};

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
