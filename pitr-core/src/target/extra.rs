//! Extra pgBackRest options for `restore`: an allow-list.
//!
//! A request may pass options through to `pgbackrest restore` (`pitr restore -- OPTIONS`,
//! `pg_pitr.extra`). They are appended after pitr's own options, as argv elements (no shell),
//! and they also appear in the plan, the run log and the dry-run script. So only options that
//! tune how the restore runs are taken; each is one of [`ALLOWED`], given as `--name=value`,
//! `--name` or `--no-name` (switches only), with its value checked against the option
//! [`catalogue`](crate::catalog) and, for tablespace destinations, as a [`SafePath`]. The
//! result is [`ExtraOptions`]: canonical strings (`--link-all`, `--io-timeout=60`).
//!
//! Everything else is refused before anything runs:
//!
//! * a secret (`--repo1-cipher-pass=...`, `--repo1-s3-key-secret=...`, any option the catalogue
//!   marks secure) with [`Error::SecretOnCommandLine`], naming the option, never the value;
//! * an option pitr sets itself (`--set`, `--type`, `--target*`, `--archive-mode`,
//!   `--process-max`, ...) with [`Error::InvalidSetting`] naming the request key to use;
//! * anything else with [`Error::OptionNotAllowed`], saying why and what is allowed:
//!   `--recovery-option` (it can set `restore_command`, which PostgreSQL runs through a shell),
//!   `--config*`, `--repo*` and `--pg*` (where pgBackRest reads, stores and restores),
//!   `--cmd`/`--cmd-ssh` (programs pgBackRest runs), `--lock-path`, `--log-path`,
//!   `--spool-path` (pitr sets and reads them), `--reset-*`, and every option not listed.
//!
//! ```
//! use pitr_core::target::ExtraOptions;
//! let ok = ExtraOptions::parse(&["--io-timeout=120".into(), "--link-all=y".into()]).unwrap();
//! assert_eq!(&ok[..], ["--io-timeout=120", "--link-all"]);
//! let e = ExtraOptions::parse(&["--recovery-option=restore_command=/bin/false".into()]);
//! assert_eq!(e.unwrap_err().code(), "option_not_allowed");
//! ```

use std::ops::Deref;

use serde::Serialize;

use crate::catalog::{self, OptionKind};
use crate::error::{Error, Result, one_line};
use crate::names::SafePath;

/// The options a request may pass to `pgbackrest restore`, without `--`. All exist since
/// pgBackRest 2.30: transfer tuning (`buffer-size`, `compress-level-network`, `io-timeout`,
/// `protocol-timeout`), logging (`log-level-*`, `log-subprocess`, `log-timestamp`) and where
/// links and tablespaces go (`link-all`, `tablespace-map`, `tablespace-map-all`).
pub const ALLOWED: &[&str] = &[
    "buffer-size",
    "compress-level-network",
    "io-timeout",
    "link-all",
    "log-level-console",
    "log-level-file",
    "log-level-stderr",
    "log-subprocess",
    "log-timestamp",
    "protocol-timeout",
    "tablespace-map",
    "tablespace-map-all",
];

/// Options pitr sets itself, on the command line or in the restore config, and the request key
/// (and `pitr restore` flag) that sets them.
const OWN: &[(&str, &str)] = &[
    ("archive-mode", "'archive' (--archive)"),
    ("db-exclude", "'db_exclude' (--db-exclude)"),
    ("db-include", "'db_include' (--db-include)"),
    ("delta", "none: pitr restores with delta"),
    ("force", "none: pitr restores with delta"),
    ("link-map", "'link_map' (--link-map)"),
    ("pg1-path", "'data' (--data)"),
    ("process-max", "'process' (--process)"),
    ("repo", "'repo' (--repo)"),
    ("set", "'set' (--set)"),
    ("stanza", "'cluster' (--stanza)"),
    ("target", "'time', 'name', 'xid' or 'lsn' (-t, -n, -x, -l)"),
    ("target-action", "'action' (--action, --promote)"),
    ("target-exclusive", "'exclusive' (--exclusive)"),
    ("target-timeline", "'timeline' (--timeline)"),
    ("type", "'type' (--default, --immediate, or a target)"),
];

/// Validated extra options, in the order given, each as one argv element.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ExtraOptions(Vec<String>);

impl Deref for ExtraOptions {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl ExtraOptions {
    /// Validates the options of a request (see the module docs).
    pub fn parse(options: &[String]) -> Result<ExtraOptions> {
        let mut out: Vec<String> = Vec::with_capacity(options.len());
        let mut seen: Vec<&'static str> = Vec::new();
        for (i, option) in options.iter().enumerate() {
            let (name, canonical) = check(i + 1, option)?;
            if name != "tablespace-map" && seen.contains(&name) {
                return Err(setting(format!(
                    "'--{name}' is given twice; pgBackRest takes it once"
                )));
            }
            seen.push(name);
            out.push(canonical);
        }
        Ok(ExtraOptions(out))
    }
}

fn setting(message: String) -> Error {
    Error::InvalidSetting {
        key: "extra".into(),
        context: "restore request".into(),
        message,
    }
}

/// One option, numbered `n` for messages about arguments that are not options: its name on
/// the allow-list and its canonical form.
fn check(n: usize, option: &str) -> Result<(&'static str, String)> {
    let Some(body) = option.strip_prefix("--") else {
        // Not echoed: it may be the value of the option before it, e.g. a passphrase.
        return Err(setting(format!(
            "extra option {n} does not start with '--': write each pgBackRest option as \
             --name=value, --name or --no-name"
        )));
    };
    let (name, value) = match body.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (body, None),
    };
    let shown = format!("--{}", one_line(name));
    if looks_secret(name) {
        return Err(Error::SecretOnCommandLine { option: shown });
    }
    let (given, negated) = match name.strip_prefix("no-") {
        Some(rest) if ALLOWED.contains(&rest) => (rest, true),
        _ => (name, false),
    };
    let Some(&base) = ALLOWED.iter().find(|a| **a == given) else {
        if let Some((_, key)) = OWN.iter().find(|(o, _)| *o == given) {
            return Err(setting(format!(
                "pitr sets '--{given}' itself; use the request's own key for it: {key}"
            )));
        }
        return Err(Error::OptionNotAllowed {
            option: shown,
            hint: format!("{}; {}", refusal(name), allowed_hint()),
        });
    };
    let Some(def) = catalog::lookup(base) else {
        return Err(Error::OptionNotAllowed {
            option: shown,
            hint: allowed_hint(),
        });
    };
    let is_switch = def.kind == OptionKind::Bool;
    let canonical = match (is_switch, negated, value) {
        (true, true, None) => Ok(format!("--no-{base}")),
        (true, false, None) => Ok(format!("--{base}")),
        (true, false, Some(v)) => {
            let v = catalog::check_value(def, &shown, v).map_err(in_request)?;
            Ok(if v == "y" {
                format!("--{base}")
            } else {
                format!("--no-{base}")
            })
        }
        (true, true, Some(_)) => Err(setting(format!(
            "'{shown}' takes no value: write --{base} or --no-{base}"
        ))),
        (false, true, _) => Err(setting(format!(
            "'{shown}': only switches such as --link-all can be negated; write --{base}=VALUE"
        ))),
        (false, false, None) => Err(setting(format!(
            "'{shown}' needs a value: write --{base}=VALUE"
        ))),
        (false, false, Some(v)) => {
            let v = catalog::check_value(def, &shown, v).map_err(in_request)?;
            match base {
                "tablespace-map" => {
                    let (tablespace, path) = v.split_once('=').unwrap_or((&v, ""));
                    let path = SafePath::parse(&shown, "extra options", path)?;
                    Ok(format!("--{base}={tablespace}={path}"))
                }
                "tablespace-map-all" => {
                    let path = SafePath::parse(&shown, "extra options", &v)?;
                    Ok(format!("--{base}={path}"))
                }
                _ => Ok(format!("--{base}={v}")),
            }
        }
    }?;
    Ok((base, canonical))
}

/// Errors about values of extra options are about the request, not a config file.
fn in_request(e: Error) -> Error {
    match e {
        Error::InvalidSetting { key, message, .. } => Error::InvalidSetting {
            key,
            context: "extra options".into(),
            message,
        },
        other => other,
    }
}

/// Whether an option name (as given, without `--`) names a secret: an option the catalogue
/// marks secure, an abbreviation of one (pgBackRest accepts unique prefixes on the command
/// line), or, for names it does not know, one that reads like a credential.
fn looks_secret(name: &str) -> bool {
    let name = name
        .strip_prefix("no-")
        .or_else(|| name.strip_prefix("reset-"))
        .unwrap_or(name);
    let base = catalog::base_name(name);
    if let Some(def) = catalog::lookup(&base) {
        return def.secure;
    }
    catalog::all()
        .iter()
        .any(|d| d.secure && d.name.starts_with(base.as_str()) && base.len() > 5)
        || ["pass", "secret", "token", "credential"]
            .iter()
            .any(|w| base.contains(w))
        || base.ends_with("-key")
}

/// Why an option that is not allowed is refused.
fn refusal(name: &str) -> &'static str {
    let starts = |p: &str| name.starts_with(p);
    if starts("recovery") {
        "it can set restore_command, which PostgreSQL runs through a shell; pitr writes the \
         recovery settings itself"
    } else if starts("config") {
        "pitr passes the restore config it wrote, which is the one the plan shows"
    } else if starts("repo") {
        "the repos come from the restore config pitr writes; choose one with the request's \
         'repo' key (--repo)"
    } else if starts("pg") {
        "where and what to restore come from the request ('data', 'port')"
    } else if starts("cmd") {
        "it names a program pgBackRest runs"
    } else if ["lock-path", "log-path", "spool-path"].contains(&name) {
        "pitr sets pgBackRest's paths in the restore config and reads its logs there"
    } else if starts("reset-") || starts("no-") {
        "it would undo a setting of the restore config pitr writes"
    } else {
        "it is not an option pitr passes to pgbackrest restore"
    }
}

fn allowed_hint() -> String {
    let list: Vec<String> = ALLOWED
        .iter()
        .map(|name| match catalog::lookup(name).map(|d| d.kind) {
            Some(OptionKind::Bool) => format!("--[no-]{name}"),
            _ => format!("--{name}=..."),
        })
        .collect();
    format!("allowed are {}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &[&str]) -> Result<ExtraOptions> {
        let options: Vec<String> = options.iter().map(|s| (*s).to_owned()).collect();
        ExtraOptions::parse(&options)
    }

    #[test]
    fn allowed_options_come_out_canonical() {
        let ok = parse(&[
            "--buffer-size=4MiB",
            "--io-timeout=120",
            "--protocol-timeout=1800",
            "--log-level-console=detail",
            "--log-level-file=debug",
            "--log-level-stderr=off",
            "--log-subprocess",
            "--no-log-timestamp",
            "--link-all=true",
            "--compress-level-network=3",
            "--tablespace-map=ts1=/pg/ts1",
            "--tablespace-map=16385=/pg/ts2/",
            "--tablespace-map-all=/pg/tablespaces/",
        ])
        .unwrap();
        assert_eq!(
            &ok[..],
            [
                "--buffer-size=4MiB",
                "--io-timeout=120",
                "--protocol-timeout=1800",
                "--log-level-console=detail",
                "--log-level-file=debug",
                "--log-level-stderr=off",
                "--log-subprocess",
                "--no-log-timestamp",
                "--link-all",
                "--compress-level-network=3",
                "--tablespace-map=ts1=/pg/ts1",
                "--tablespace-map=16385=/pg/ts2",
                "--tablespace-map-all=/pg/tablespaces",
            ]
        );
        assert_eq!(&parse(&["--link-all=n"]).unwrap()[..], ["--no-link-all"]);
        assert!(parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn secrets_are_refused_and_never_shown() {
        for option in [
            "--repo1-cipher-pass=Sekrit.123",
            "--repo2-s3-key=Sekrit.123",
            "--repo1-s3-key-secret=Sekrit.123",
            "--repo1-s3-token=Sekrit.123",
            "--repo1-azure-key=Sekrit.123",
            "--repo1-azure-account=Sekrit.123",
            "--repo1-gcs-key=Sekrit.123",
            "--repo1-sftp-private-key-passphrase=Sekrit.123",
            "--repo1-s3-sse-customer-key=Sekrit.123",
            "--repo-cipher-pass=Sekrit.123",
            "--repo1-cipher-pa=Sekrit.123",
            "--cipher-pass=Sekrit.123",
            "--reset-repo1-cipher-pass=Sekrit.123",
        ] {
            let e = parse(&["--io-timeout=60", option]).unwrap_err();
            assert_eq!(e.code(), "secret_on_command_line", "{option}");
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("Sekrit"), "{shown}");
            assert!(shown.contains(option.split('=').next().unwrap()), "{shown}");
        }
        // A value given as its own argument is never echoed either.
        let e = parse(&["--io-timeout=60", "Sekrit.123"]).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("Sekrit"), "{e}");
        assert!(e.to_string().contains("extra option 2"), "{e}");
    }

    #[test]
    fn options_pitr_sets_name_the_request_key() {
        for (option, key) in [
            ("--set=20250101-000000F", "'set'"),
            ("--type=time", "'type'"),
            ("--target=x", "'time'"),
            ("--target-action=promote", "'action'"),
            ("--target-exclusive", "'exclusive'"),
            ("--target-timeline=2", "'timeline'"),
            ("--repo=2", "'repo'"),
            ("--stanza=x", "'cluster'"),
            ("--pg1-path=/x", "'data'"),
            ("--delta", "delta"),
            ("--force", "delta"),
            ("--archive-mode=preserve", "'archive'"),
            ("--process-max=4", "'process'"),
            ("--db-include=app", "'db_include'"),
            ("--link-map=pg_wal=/w", "'link_map'"),
        ] {
            let e = parse(&[option]).unwrap_err();
            assert_eq!(e.code(), "invalid_setting", "{option}");
            let text = e.to_string();
            assert!(text.contains("itself") && text.contains(key), "{text}");
        }
    }

    #[test]
    fn everything_else_is_refused_with_the_allowed_list() {
        for (option, why) in [
            (
                "--recovery-option=restore_command=/bin/false",
                "restore_command",
            ),
            (
                "--recovery-option=primary_conninfo=host=x",
                "restore_command",
            ),
            ("--config=/tmp/evil.conf", "restore config"),
            ("--config-path=/tmp", "restore config"),
            ("--config-include-path=/tmp", "restore config"),
            ("--repo1-host=evil", "repos"),
            ("--repo1-path=/tmp", "repos"),
            ("--pg1-host=evil", "request"),
            ("--pg2-path=/x", "request"),
            ("--cmd-ssh=/tmp/x", "program"),
            ("--cmd=/tmp/x", "program"),
            ("--lock-path=/tmp", "paths"),
            ("--log-path=/tmp", "paths"),
            ("--spool-path=/tmp", "paths"),
            ("--reset-link-all", "undo"),
            ("--no-delta", "undo"),
            ("--recovery-opt=restore_command=x", "restore_command"),
            ("--exclude=Zq9", "not an option pitr passes"),
            ("--beta", "not an option pitr passes"),
        ] {
            let e = parse(&[option]).unwrap_err();
            assert_eq!(e.code(), "option_not_allowed", "{option}");
            let text = e.to_string();
            let name = option.split('=').next().unwrap();
            assert!(text.contains(&format!("'{name}'")), "{text}");
            assert!(text.contains(why), "{option}: {text}");
            assert!(text.contains("allowed are --buffer-size=..."), "{text}");
            if let Some((_, value)) = option.split_once('=') {
                assert!(!text.contains(value), "{text}");
            }
        }
    }

    #[test]
    fn values_and_forms_are_checked() {
        for (options, code, needle) in [
            (vec!["--io-timeout"], "invalid_setting", "needs a value"),
            (vec!["--io-timeout=soon"], "invalid_setting", "not a time"),
            (
                vec!["--log-level-console=loud"],
                "invalid_setting",
                "detail",
            ),
            (vec!["--buffer-size=big"], "invalid_setting", "not a size"),
            (
                vec!["--compress-level-network=99"],
                "invalid_setting",
                "out of range",
            ),
            (vec!["--link-all=maybe"], "invalid_setting", "boolean"),
            (vec!["--no-link-all=y"], "invalid_setting", "takes no value"),
            (vec!["--no-io-timeout"], "invalid_setting", "negated"),
            (
                vec!["--link-all", "--no-link-all"],
                "invalid_setting",
                "twice",
            ),
            (
                vec!["--io-timeout=1\n--config=/x"],
                "unsafe_value",
                "newline",
            ),
            (vec!["--tablespace-map=ts1"], "invalid_setting", "key=value"),
            (
                vec!["--tablespace-map=ts1=/tmp/$(id)"],
                "unsafe_characters",
                "'$'",
            ),
            (
                vec!["--tablespace-map-all=/tmp/`id`"],
                "unsafe_characters",
                "'`'",
            ),
            (
                vec!["--tablespace-map-all=rel"],
                "invalid_setting",
                "absolute",
            ),
            (vec!["log-level-console=info"], "invalid_setting", "'--'"),
        ] {
            let e = parse(&options).unwrap_err();
            assert_eq!(e.code(), code, "{options:?}: {e}");
            let text = e.to_string();
            assert!(text.contains(needle), "{options:?}: {text}");
            assert!(!text.contains('\n'), "{text}");
        }
    }
}
