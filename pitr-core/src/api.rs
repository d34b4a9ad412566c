//! The facade front ends share: plain JSON values in, core types or JSON values out.
//!
//! The Python module `pitr` (and through it the Ansible modules) hands this module what its
//! callers wrote — a cluster spec as a mapping of Pigsty variables, a `pg_pitr` mapping,
//! `pgbackrest info` output as text or as parsed JSON — and gets back the same values the CLI
//! prints with `--json`. Every function here only converts: the operations are in [`ops`], the
//! rules in [`spec`](crate::spec), [`target`](crate::target) and [`select`](crate::select).
//!
//! ```
//! use pitr_core::{api, ops};
//! let spec = api::spec(serde_json::json!({"pg_cluster": "pg-meta", "pgbackrest_version": "2.45"}))?;
//! let conf = ops::render(&spec, ops::RenderWhat::Pgbackrest, None)?;
//! assert!(conf.redacted().contains("[pg-meta]"));
//! let request = api::request(serde_json::json!({"lsn": "0/3000000"}), None)?;
//! assert_eq!(request.target.pgbackrest_type(), "lsn");
//! # Ok::<(), pitr_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::archive::{self, ArchiveListing};
use crate::catalog;
use crate::error::{Error, Result};
use crate::history::{self, TimelineHistories};
use crate::info::{self, InfoReport, StanzaInfo};
use crate::marks::{self, MarkRecord};
use crate::names::{DEFAULT_SEGMENT_SIZE, REDACTED, RepoIndex, SafePath, TimelineId};
use crate::ops;
use crate::select::{self, RepoState, Selection};
use crate::spec::ClusterSpec;
use crate::target::{RepoChoice, RestoreRequest};
use crate::window::{self, RecoverableWindow};

/// A validated cluster spec from a mapping of Pigsty variables. When the spec does not say
/// which pgBackRest it is for, the installed one is asked (as `pitr render` does).
pub fn spec(value: Value) -> Result<ClusterSpec> {
    Ok(ops::complete_spec(ClusterSpec::from_value(value)?))
}

/// A validated restore request from Pigsty's `pg_pitr` mapping; `zone` (an IANA name or
/// `local`) reads target times written without a zone.
pub fn request(value: Value, zone: Option<&str>) -> Result<RestoreRequest> {
    let zone = zone.map(crate::target::time_zone).transpose()?;
    RestoreRequest::from_pg_pitr(value, zone.as_ref())
}

/// Where a caller asked the restore config to go (`restore_config=`), validated as a
/// [`SafePath`]: the path reaches pgBackRest's `restore_command` and the dry-run script.
pub fn restore_config_path(path: Option<&Path>) -> Result<Option<SafePath>> {
    path.map(|p| SafePath::from_path("restore_config", "restore options", p))
        .transpose()
}

/// `pgbackrest info --output=json` given as its text or as the parsed JSON value.
pub fn info(value: &Value) -> Result<InfoReport> {
    match value {
        Value::String(text) => info::parse(text),
        other => info::parse(&other.to_string()),
    }
}

/// The stanza called `name`, or the only stanza of the report when `name` is `None`.
pub fn stanza<'a>(report: &'a InfoReport, name: Option<&str>) -> Result<&'a StanzaInfo> {
    match (name, report.stanzas.as_slice()) {
        (Some(n), _) => report.stanza(n),
        (None, [only]) => Ok(only),
        (None, stanzas) => Err(Error::InvalidSetting {
            key: "stanza".into(),
            context: "pgbackrest info output".into(),
            message: format!(
                "it holds {} stanzas ({}): name the one to use",
                stanzas.len(),
                stanzas
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Timeline history files by timeline: `{"2": "<text of 00000002.history>"}`. Keys are
/// decimal timeline numbers or the 8-digit hex names of the files.
pub fn histories(value: Option<Value>) -> Result<TimelineHistories> {
    let mut out = TimelineHistories::new();
    let Some(value) = value else {
        return Ok(out);
    };
    let Value::Object(map) = value else {
        return Err(Error::Parse {
            what: "timeline histories".into(),
            message: "expected a mapping of timeline to history file text, e.g. {\"2\": \"1\\t0/3000000\\tno recovery target specified\"}".into(),
        });
    };
    for (key, text) in map {
        let name = key.trim_end_matches(".history");
        let tli = if name.len() == 8 {
            u32::from_str_radix(name, 16)
                .ok()
                .and_then(|n| TimelineId::new(n).ok())
                .ok_or_else(|| {
                    Error::invalid(
                        "timeline",
                        name,
                        "expected a timeline such as 2 or 00000002",
                    )
                })?
        } else {
            name.parse::<TimelineId>()?
        };
        let Value::String(text) = text else {
            return Err(Error::Parse {
                what: format!("timeline history {key}"),
                message: "expected the text of the history file".into(),
            });
        };
        out.insert(history::parse(tli, &text)?);
    }
    Ok(out)
}

/// Archive listings by repo key: `{"1": "<pgbackrest repo-ls --recurse --output=json>"}`.
pub fn listings(value: Option<Value>) -> Result<BTreeMap<RepoIndex, ArchiveListing>> {
    let mut out = BTreeMap::new();
    let Some(value) = value else {
        return Ok(out);
    };
    let Value::Object(map) = value else {
        return Err(Error::Parse {
            what: "archive listings".into(),
            message: "expected a mapping of repo key to `pgbackrest repo-ls --recurse --output=json` output".into(),
        });
    };
    for (key, listing) in map {
        let repo: RepoIndex = key.parse()?;
        let text = match listing {
            Value::String(s) => s,
            other => other.to_string(),
        };
        out.insert(repo, archive::parse_repo_ls(&text, DEFAULT_SEGMENT_SIZE)?);
    }
    Ok(out)
}

/// The recoverable windows of a stanza, from its info (and histories and listings, when
/// given).
pub fn recovery_window(
    report: &InfoReport,
    stanza_name: Option<&str>,
    histories: &TimelineHistories,
    listings: &BTreeMap<RepoIndex, ArchiveListing>,
) -> Result<Vec<RecoverableWindow>> {
    Ok(window::windows(
        stanza(report, stanza_name)?,
        histories,
        listings,
    ))
}

/// Chooses the backup set for `request` from a stanza's info, across all its repos (a repo
/// index in the request limits the choice to that repo). Marks recorded by `pitr mark` are
/// read from the sets' annotations.
pub fn select_backup(
    report: &InfoReport,
    stanza_name: Option<&str>,
    request: &RestoreRequest,
    histories: &TimelineHistories,
    listings: &BTreeMap<RepoIndex, ArchiveListing>,
) -> Result<Selection> {
    let name = stanza_name.or(request
        .cluster
        .as_ref()
        .map(crate::names::StanzaName::as_str));
    let stanza = stanza(report, name)?;
    let repos = match &request.repo {
        None => None,
        Some(RepoChoice::Index(i)) => Some(vec![*i]),
        Some(_) => {
            return Err(Error::InvalidSetting {
                key: "repo".into(),
                context: "restore request".into(),
                message: "info alone does not tell which repo a name stands for: give the repo \
                          index, or plan the restore from a cluster spec"
                    .into(),
            });
        }
    };
    let marks: Vec<MarkRecord> = marks::from_info(stanza);
    select::select(
        RepoState {
            stanza,
            histories,
            listings,
            marks: &marks,
        },
        request,
        repos.as_deref(),
    )
}

/// The secret values of a spec (every repo definition, used or not; the Patroni password) and
/// of a request's inline repo, for masking them wherever output may show them. Never print the result.
pub fn secret_values(spec: &ClusterSpec, request: Option<&RestoreRequest>) -> Vec<String> {
    let inline = request.and_then(|r| match &r.repo {
        Some(RepoChoice::Definition(def)) => Some(def.as_ref()),
        _ => None,
    });
    let mut out: Vec<String> = spec
        .repo_defs
        .values()
        .chain(inline)
        .flat_map(|def| def.options.iter())
        .filter(|o| o.value.is_secret() && o.value.expose() != REDACTED)
        .map(|o| o.value.expose().to_owned())
        .chain(
            spec.patroni
                .as_ref()
                .and_then(|api| api.auth.as_ref())
                .filter(|auth| !auth.is_placeholder())
                .map(|auth| auth.password.expose().to_owned()),
        )
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A pgBackRest config text with the value of every secure option (`repoN-cipher-pass`,
/// `repoN-s3-key`, ...) replaced by `<redacted>`; everything else is kept as it is. For
/// showing a config written earlier, whose secrets the current spec may not know.
pub fn redact_pgbackrest_conf(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let trimmed = body.trim_start();
        let secure = !trimmed.starts_with('#')
            && !trimmed.starts_with('[')
            && trimmed.split_once('=').is_some_and(|(key, _)| {
                catalog::lookup(&catalog::base_name(key.trim())).is_some_and(|d| d.secure)
            });
        if secure {
            if let Some((key, _)) = body.split_once('=') {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
                out.push_str(ending);
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::RenderWhat;
    use crate::ops::render::{render, render_restore_config, restore_config};
    use crate::plan::summary::Role;
    use crate::target::time_zone;
    use serde_json::json;

    fn spec_value() -> Value {
        json!({
            "pg_cluster": "pg-meta",
            "pgbackrest_version": "2.45",
            "pgbackrest_method": "local",
            "pgbackrest_repo": {
                "local": {"path": "/pg/backup", "cipher_type": "aes-256-cbc", "cipher_pass": "pitr.Secret-42"},
                "minio": {"type": "s3", "s3_endpoint": "sss.pigsty", "s3_bucket": "pgsql",
                          "s3_key": "pgbackrest", "s3_key_secret": "S3User.Backup", "path": "/pgbackrest"}
            }
        })
    }

    #[test]
    fn secrets_are_found_in_every_repo_definition() {
        let spec = spec(spec_value()).unwrap();
        let secrets = secret_values(&spec, None);
        assert!(
            secrets.contains(&"pitr.Secret-42".to_owned()),
            "{secrets:?}"
        );
        assert!(secrets.contains(&"S3User.Backup".to_owned()), "{secrets:?}");
        assert!(!secrets.contains(&"pgsql".to_owned()), "{secrets:?}");
    }

    #[test]
    fn redaction_of_a_written_config_keeps_everything_but_secure_values() {
        let spec = spec(spec_value()).unwrap();
        let file = render(&spec, RenderWhat::Pgbackrest, None).unwrap();
        assert!(file.has_secrets());
        assert_eq!(redact_pgbackrest_conf(file.contents()), file.redacted());
        let text = "[global]\nrepo2-s3-key-secret = old.secret\n# repo1-cipher-pass=x\n";
        assert_eq!(
            redact_pgbackrest_conf(text),
            "[global]\nrepo2-s3-key-secret =<redacted>\n# repo1-cipher-pass=x\n"
        );
    }

    #[test]
    fn restore_config_follows_the_request() {
        let spec = spec(spec_value()).unwrap();
        let req = request(
            json!({"lsn": "0/3000000", "data": "/pg/data2", "process": 3}),
            None,
        )
        .unwrap();
        let file = render_restore_config(&spec, &req, None, None).unwrap();
        let text = file.redacted();
        assert!(text.contains("pg1-path=/pg/data2\n"), "{text}");
        assert!(text.contains("archive-mode=off\n"), "{text}");
        assert!(text.contains("[global:restore]\nprocess-max=3\n"), "{text}");
        assert!(
            text.contains("# File      :   pitr-pg-meta-restore.conf"),
            "{text}"
        );
        let req = request(json!({"data": "/pg/data2", "archive": true}), None).unwrap();
        assert_eq!(
            restore_config(&spec, &req, None).unwrap_err().code(),
            "invalid_setting"
        );
    }

    #[test]
    fn a_restore_config_path_must_be_safe() {
        let spec = spec(spec_value()).unwrap();
        let req = request(serde_json::json!({}), None).unwrap();
        for (path, code) in [
            ("/tmp/$(touch /tmp/pwned)", "unsafe_characters"),
            ("/tmp/x\n[global]\nrepo1-host=evil", "unsafe_value"),
            ("pitr.conf", "invalid_setting"),
        ] {
            let e = restore_config_path(Some(Path::new(path)))
                .and_then(|p| render_restore_config(&spec, &req, p, None))
                .unwrap_err();
            assert_eq!(e.code(), code, "{path:?}: {e}");
            assert!(e.to_string().contains("'restore_config'"), "{e}");
        }
        let path = restore_config_path(Some(Path::new("/etc/pgbackrest/x.conf"))).unwrap();
        let file = render_restore_config(&spec, &req, path, None).unwrap();
        assert!(file.contents().contains("# File      :   x.conf\n"));
    }

    #[test]
    fn histories_take_decimal_and_hex_keys() {
        let h = histories(Some(
            json!({"2": "1\t0/3000000\tno recovery target specified\n",
            "00000003.history": "1\t0/3000000\tx\n2\t0/5000000\ty\n"}),
        ))
        .unwrap();
        let two = TimelineId::new(2).unwrap();
        let three = TimelineId::new(3).unwrap();
        assert!(h.get(two).is_some() && h.get(three).is_some());
        assert!(histories(Some(json!({"0": ""}))).is_err());
        assert!(histories(Some(json!([1]))).is_err());
    }

    #[test]
    fn names_of_files_zones_and_roles() {
        assert_eq!("cron".parse::<RenderWhat>().unwrap(), RenderWhat::Cron);
        assert_eq!(
            "conf".parse::<RenderWhat>().unwrap_err().code(),
            "invalid_value"
        );
        assert_eq!("replica".parse::<Role>().unwrap(), Role::Replica);
        assert!("standby".parse::<Role>().is_err());
        assert!(time_zone("Asia/Shanghai").is_ok());
        assert_eq!(
            time_zone("Mars/Olympus").unwrap_err().code(),
            "invalid_value"
        );
        let r = request(
            json!({"time": "2025-01-01 08:00:00"}),
            Some("Asia/Shanghai"),
        )
        .unwrap();
        assert_eq!(
            r.target.pgbackrest_target().unwrap(),
            "2025-01-01 08:00:00+08"
        );
    }
}
