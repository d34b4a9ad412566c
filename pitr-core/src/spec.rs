//! The cluster spec: what pitr needs to know about one PostgreSQL cluster and its repos.
//!
//! The keys are Pigsty's variables (`pg_cluster`, `pg_data`, `pg_port`, `pg_dbsu`, `pg_bin_dir`,
//! `pg_mode`, `pg_version`, `pgbackrest_method`, `pgbackrest_repo`, `pgbackrest_log_dir`,
//! `node_cpu`), so a Pigsty
//! inventory's values can be passed as they are, plus a few `pitr_`/`pgbackrest_` keys for
//! what Pigsty hard-codes (see `docs/configuration.md`).
//!
//! Data flow: YAML/JSON text or a serde value → [`RawSpec`] (every key checked, unknown keys
//! refused with the nearest valid one) → [`ClusterSpec`] (validated: paths are
//! [`SafePath`]s, repo names [`RepoName`]s, repo options checked against the
//! [`catalog`](crate::catalog), secure options held as [`Secret`]s). Downstream code only ever
//! sees a `ClusterSpec`.
//!
//! ```
//! let spec = pitr_core::spec::ClusterSpec::from_yaml_str(
//!     "pg_cluster: pg-meta\npgbackrest_repo: { local: { path: /pg/backup } }\n",
//! ).unwrap();
//! assert_eq!(spec.cluster.as_str(), "pg-meta");
//! assert_eq!(spec.repos[0].index.get(), 1);
//! ```

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::catalog::{self, RepoType};
use crate::error::{Error, Result, nearest};
use crate::names::{
    BackupType, CronSchedule, PgMajor, PgMode, RepoIndex, RepoName, SafePath, Secret, StanzaName,
};
use crate::patroni::{PatroniApi, PatroniControl, PatroniKeys};
use crate::version::Version;

/// Pigsty's `pg_data` default.
pub const DEFAULT_PG_DATA: &str = "/pg/data";
/// Pigsty's `pgbackrest_log_dir` default.
pub const DEFAULT_LOG_DIR: &str = "/pg/log/pgbackrest";
/// Where pgBackRest reads its config by default.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/pgbackrest/pgbackrest.conf";

/// The spec as written by users: every key optional except `pg_cluster`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    /// Cluster name, used as the pgBackRest stanza.
    pub pg_cluster: Option<String>,
    /// Data directory (`/pg/data`).
    pub pg_data: Option<String>,
    /// Port (5432).
    pub pg_port: Option<u16>,
    /// OS user that owns the data directory and runs PostgreSQL (`postgres`).
    pub pg_dbsu: Option<String>,
    /// Directory of the PostgreSQL binaries (found on the node when absent).
    pub pg_bin_dir: Option<String>,
    /// Unix socket directory, rendered as `pg1-socket-path` when given.
    pub pg_socket_dir: Option<String>,
    /// The PostgreSQL kernel, by Pigsty's name (`pgsql`; `ivory` for IvorySQL, ...).
    pub pg_mode: Option<String>,
    /// PostgreSQL major version (Pigsty's default, 18, where it is needed).
    pub pg_version: Option<Value>,
    /// Which repo definitions to use: one name, or a list for repo1..repoN (`local`).
    pub pgbackrest_method: Option<MethodSelection>,
    /// Repo definitions by name, in Pigsty's `snake_case` option form (Pigsty's `local` repo,
    /// `/pg/backup`, when absent).
    pub pgbackrest_repo: Option<IndexMap<String, IndexMap<String, Value>>>,
    /// pgBackRest log directory (`/pg/log/pgbackrest`).
    pub pgbackrest_log_dir: Option<String>,
    /// CPUs of the node; sizes pgBackRest's `process-max` (detected when absent).
    pub node_cpu: Option<u32>,
    /// Path of `pgbackrest.conf` (`/etc/pgbackrest/pgbackrest.conf`).
    pub pgbackrest_config: Option<String>,
    /// pgBackRest spool directory (`/pg/spool`).
    pub pgbackrest_spool_dir: Option<String>,
    /// pgBackRest lock directory (pgBackRest's default `/tmp/pgbackrest` when absent).
    pub pgbackrest_lock_dir: Option<String>,
    /// `archive-push-queue-max` (`4GiB`).
    pub pgbackrest_archive_queue_max: Option<String>,
    /// pgBackRest version on the node (detected when absent).
    pub pgbackrest_version: Option<String>,
    /// pgBackRest executable used in `archive_command` (`/usr/bin/pgbackrest`).
    pub pgbackrest_bin: Option<String>,
    /// pitr executable used in cron lines (`/usr/local/bin/pitr`).
    pub pitr_bin: Option<String>,
    /// Scheduled backups (`[{cron: "00 01 * * *", type: full}]`).
    pub pitr_backup_schedule: Option<Vec<RawSchedule>>,
    /// When to run `pitr drill` (`"30 03 * * *"`); no drill line when absent.
    pub pitr_drill_schedule: Option<String>,
    /// SQL a drill runs on its clone, each of which must return true
    /// (`[{name: rows, sql: "SELECT count(*) > 1000 FROM t", db: app}]`).
    pub pitr_drill_assertions: Option<Vec<RawAssertion>>,
    /// Where this spec lies on the nodes, for the rendered drill line's `--spec` (the file
    /// the spec was read from when absent).
    pub pitr_spec_file: Option<String>,
    /// Allow an empty or well-known cipher passphrase (`false`).
    pub pitr_allow_weak_cipher_pass: Option<bool>,
    /// Whether PostgreSQL runs under Patroni (Pigsty's variable; see [`ClusterSpec::patroni`]).
    pub patroni_enabled: Option<bool>,
    /// Patroni's REST API port (Pigsty's variable; 8008 when Patroni is enabled).
    pub patroni_port: Option<u16>,
    /// Whether Patroni's REST API speaks HTTPS (Pigsty's variable; `false`).
    pub patroni_ssl_enabled: Option<bool>,
    /// Host of Patroni's REST API (`127.0.0.1`, as Pigsty's own scripts ask it).
    pub patroni_host: Option<String>,
    /// CA certificate that verifies Patroni's HTTPS certificate (Pigsty's `/etc/pki/ca.crt`).
    pub patroni_ca_file: Option<String>,
    /// User of Patroni's REST API authentication, `restapi.authentication.username` (Pigsty's
    /// variable; `postgres` there).
    pub patroni_username: Option<String>,
    /// Its password (Pigsty's variable; `Patroni.API` there): sent with the requests that
    /// change Patroni (pause, resume), redacted everywhere else.
    pub patroni_password: Option<Secret>,
    /// The instance's number in the cluster (Pigsty's variable): Patroni's member name is
    /// `<pg_cluster>-<pg_seq>`.
    pub pg_seq: Option<u32>,
    /// Patroni's configuration file on the node (`/pg/bin/patroni.yml`), for `patronictl`.
    pub patroni_config: Option<String>,
    /// How pitr starts Patroni on the node, as an argv (`[systemctl, start, patroni]`).
    pub patroni_start_command: Option<Vec<String>>,
    /// How pitr stops Patroni on the node, as an argv (`[systemctl, stop, patroni]`).
    pub patroni_stop_command: Option<Vec<String>>,
}

/// `pgbackrest_method`: one repo name or a list of names.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MethodSelection {
    /// One repo, used as repo1.
    One(String),
    /// Several repos, used as repo1, repo2, ... in this order.
    Many(Vec<String>),
}

/// One drill assertion as written by users.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssertion {
    /// A name for reports (letters, digits, `_`, `-`).
    pub name: String,
    /// A query whose first value must be true.
    pub sql: String,
    /// The database to run it in (`postgres`).
    pub db: Option<String>,
}

/// A validated drill assertion: SQL the restored clone must answer with true.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DrillAssertion {
    /// Its name.
    pub name: String,
    /// The query.
    pub sql: String,
    /// The database.
    pub db: String,
}

impl RawAssertion {
    fn validate(self) -> Result<DrillAssertion> {
        let bad = |key: &str, message: &str| Error::InvalidSetting {
            key: key.into(),
            context: "pitr_drill_assertions entry".into(),
            message: message.into(),
        };
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.len() < 64
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !name_ok(&self.name) {
            return Err(bad("name", "use letters, digits, '_' and '-' (under 64)"));
        }
        if self.sql.trim().is_empty() || self.sql.contains('\0') {
            return Err(bad(
                "sql",
                "give a query whose first value is true when the data is right",
            ));
        }
        let db = self.db.unwrap_or_else(|| "postgres".into());
        if db.is_empty() || db.len() > 63 || db.chars().any(crate::error::is_unprintable) {
            return Err(bad(
                "db",
                "a database name of at most 63 printable characters",
            ));
        }
        Ok(DrillAssertion {
            name: self.name,
            sql: self.sql,
            db,
        })
    }
}

/// One scheduled backup as written by users.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// Five cron fields, e.g. `00 01 * * *`, or `@daily`-style shorthand (see
    /// [`CronSchedule`]).
    pub cron: String,
    /// Backup type (`full`, `diff`, `incr`).
    #[serde(rename = "type")]
    pub backup_type: String,
    /// Repo to back up to (an index of `pgbackrest_method`'s list; pgBackRest's repo1 when
    /// absent).
    pub repo: Option<u16>,
}

/// The top-level keys a spec may have.
pub const SPEC_KEYS: &[&str] = &[
    "pg_cluster",
    "pg_data",
    "pg_port",
    "pg_dbsu",
    "pg_bin_dir",
    "pg_socket_dir",
    "pg_mode",
    "pg_version",
    "pgbackrest_method",
    "pgbackrest_repo",
    "pgbackrest_log_dir",
    "node_cpu",
    "pgbackrest_config",
    "pgbackrest_spool_dir",
    "pgbackrest_lock_dir",
    "pgbackrest_archive_queue_max",
    "pgbackrest_version",
    "pgbackrest_bin",
    "pitr_bin",
    "pitr_backup_schedule",
    "pitr_drill_schedule",
    "pitr_drill_assertions",
    "pitr_spec_file",
    "pitr_allow_weak_cipher_pass",
    "patroni_enabled",
    "patroni_port",
    "patroni_ssl_enabled",
    "patroni_host",
    "patroni_ca_file",
    "patroni_username",
    "patroni_password",
    "pg_seq",
    "patroni_config",
    "patroni_start_command",
    "patroni_stop_command",
];

/// A validated cluster spec.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClusterSpec {
    /// The stanza (`pg_cluster`).
    pub cluster: StanzaName,
    /// Data directory.
    pub data: SafePath,
    /// PostgreSQL port.
    pub port: u16,
    /// Database superuser OS account.
    pub dbsu: String,
    /// PostgreSQL binaries, when given.
    pub bin_dir: Option<SafePath>,
    /// Unix socket directory, when given.
    pub socket_dir: Option<SafePath>,
    /// The PostgreSQL kernel (`pg_mode`).
    pub mode: PgMode,
    /// PostgreSQL major version (`pg_version`), when given.
    pub pg_version: Option<PgMajor>,
    /// The repos in use, repo1 first.
    pub repos: Vec<RepoSpec>,
    /// Every repo definition of `pgbackrest_repo`, by name (also those not in use).
    pub repo_defs: IndexMap<RepoName, RepoDef>,
    /// pgBackRest log directory.
    pub log_dir: SafePath,
    /// pgBackRest spool directory.
    pub spool_dir: SafePath,
    /// pgBackRest lock directory, when given.
    pub lock_dir: Option<SafePath>,
    /// `archive-push-queue-max`.
    pub archive_queue_max: String,
    /// CPUs of the node.
    pub node_cpu: u32,
    /// pgBackRest version, when known.
    pub pgbackrest_version: Option<Version>,
    /// Path of pgbackrest.conf.
    pub config_path: SafePath,
    /// pgBackRest executable for `archive_command`.
    pub pgbackrest_bin: SafePath,
    /// pitr executable for cron lines.
    pub pitr_bin: SafePath,
    /// Scheduled backups.
    pub backup_schedule: Vec<BackupSchedule>,
    /// When `pitr drill` runs from cron, if it does.
    pub drill_schedule: Option<CronSchedule>,
    /// What a drill asks its clone.
    pub drill_assertions: Vec<DrillAssertion>,
    /// Where this spec lies on the nodes (`pitr_spec_file`, else the file it was read from),
    /// when known: the rendered drill line reads its assertions from there.
    pub spec_file: Option<SafePath>,
    /// Whether weak cipher passphrases were explicitly allowed.
    pub allow_weak_cipher_pass: bool,
    /// The member's Patroni REST API, when Patroni is configured: `patroni_enabled: true` or
    /// `patroni_port` given (and `patroni_enabled` not `false`). Backups then take their role
    /// from Patroni ([`crate::role`]).
    pub patroni: Option<PatroniApi>,
    /// `pg_seq`, when given: the member is `<pg_cluster>-<pg_seq>` in Patroni.
    pub seq: Option<u32>,
    /// How pitr stops and starts Patroni on the node and where its configuration is (a
    /// cluster restore, [`crate::plan::cluster`]).
    pub patroni_control: PatroniControl,
}

/// A repo definition from `pgbackrest_repo`, validated for its type.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RepoDef {
    /// The name in `pgbackrest_repo` (`local`, `minio`, ...).
    pub name: RepoName,
    /// The repo type (`type`, `posix` when absent).
    pub repo_type: RepoType,
    /// Options in the order given, without the `type` key.
    pub options: Vec<RepoOption>,
}

/// A repo in use, with its pgBackRest index.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RepoSpec {
    /// The N in `repoN-`.
    pub index: RepoIndex,
    /// The definition.
    #[serde(flatten)]
    pub def: RepoDef,
}

impl std::ops::Deref for RepoSpec {
    type Target = RepoDef;
    fn deref(&self) -> &RepoDef {
        &self.def
    }
}

/// One repo option: pgBackRest's name without the `repoN-` prefix, and its value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RepoOption {
    /// e.g. `s3-bucket`.
    pub key: String,
    /// The value, normalised for a config file (`y`/`n` for booleans).
    pub value: OptionValue,
}

/// A config value that may be secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum OptionValue {
    /// Shown as it is.
    Plain(String),
    /// Written only to files with a private mode; `<redacted>` everywhere else.
    Secret(Secret),
}

impl OptionValue {
    /// The value to write into a private file.
    pub fn expose(&self) -> &str {
        match self {
            OptionValue::Plain(s) => s,
            OptionValue::Secret(s) => s.expose(),
        }
    }

    /// The value to show anywhere else.
    pub fn shown(&self) -> &str {
        match self {
            OptionValue::Plain(s) => s,
            OptionValue::Secret(_) => crate::names::REDACTED,
        }
    }

    /// Whether the value is secret.
    pub fn is_secret(&self) -> bool {
        matches!(self, OptionValue::Secret(_))
    }
}

/// A scheduled backup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupSchedule {
    /// When, as cron reads it.
    pub cron: CronSchedule,
    /// Backup type.
    pub backup_type: BackupType,
    /// Repo to back up to, when not repo1.
    pub repo: Option<RepoIndex>,
}

impl RepoDef {
    /// The value of an option (pgBackRest name without prefix, e.g. `path`).
    pub fn get(&self, key: &str) -> Option<&OptionValue> {
        self.options.iter().find(|o| o.key == key).map(|o| &o.value)
    }
}

impl ClusterSpec {
    /// The spec with the Patroni credentials `auth` (pitr's arguments), when given, in place of
    /// its own `patroni_username`/`patroni_password`; a spec without Patroni is left as it is.
    #[must_use]
    pub fn with_patroni_auth(mut self, auth: Option<&crate::patroni::PatroniAuth>) -> ClusterSpec {
        if let Some(auth) = auth {
            self.patroni = self.patroni.map(|api| api.with_auth(Some(auth.clone())));
        }
        self
    }
}

impl ClusterSpec {
    /// Loads a spec from YAML (JSON is YAML too).
    pub fn from_yaml_str(text: &str) -> Result<Self> {
        let value: Value = serde_yaml_ng::from_str(text).map_err(|e| Error::Parse {
            what: "cluster spec".into(),
            message: e.to_string(),
        })?;
        Self::from_value(value)
    }

    /// Loads a spec from a YAML or JSON file. Without `pitr_spec_file`, the spec lies where
    /// it was read (its absolute path, when that is a [`SafePath`]).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("cannot read spec", path, e))?;
        let mut spec = Self::from_yaml_str(&text).map_err(|e| match e {
            Error::Parse { message, .. } => Error::Parse {
                what: format!("cluster spec '{}'", path.display()),
                message,
            },
            other => other,
        })?;
        if spec.spec_file.is_none() {
            spec.spec_file = std::path::absolute(path)
                .ok()
                .and_then(|p| SafePath::from_path("pitr_spec_file", "cluster spec", &p).ok());
        }
        Ok(spec)
    }

    /// Loads a spec from a serde value (e.g. Ansible variables passed through Python).
    pub fn from_value(value: Value) -> Result<Self> {
        let Value::Object(map) = &value else {
            return Err(Error::Parse {
                what: "cluster spec".into(),
                message: "expected a mapping of Pigsty variables, e.g. {pg_cluster: pg-meta}"
                    .into(),
            });
        };
        for key in map.keys() {
            if !SPEC_KEYS.contains(&key.as_str()) {
                return Err(Error::UnknownKey {
                    key: key.clone(),
                    context: "cluster spec".into(),
                    suggestion: nearest(key, SPEC_KEYS.iter().copied()),
                });
            }
        }
        if let Some(Value::Array(items)) = map.get("pitr_drill_assertions") {
            for item in items {
                if let Value::Object(m) = item {
                    check_keys(m, &["name", "sql", "db"], "pitr_drill_assertions entry")?;
                }
            }
        }
        if let Some(Value::Array(items)) = map.get("pitr_backup_schedule") {
            for item in items {
                if let Value::Object(m) = item {
                    check_keys(m, &["cron", "type", "repo"], "pitr_backup_schedule entry")?;
                }
            }
        }
        let raw: RawSpec = serde_json::from_value(value).map_err(|e| Error::Parse {
            what: "cluster spec".into(),
            message: e.to_string(),
        })?;
        raw.validate()
    }

    /// The major version pgBackRest must assume (`pg-version-force`), for kernels whose
    /// `pg_control` and WAL headers it does not recognise (IvorySQL): `pg_version`, else
    /// Pigsty's default.
    pub fn pg_version_force(&self) -> Option<PgMajor> {
        self.mode
            .forces_pg_version()
            .then(|| self.pg_version.unwrap_or(PgMajor::PIGSTY_DEFAULT))
    }

    /// The repo in use with pgBackRest index `index`.
    pub fn repo(&self, index: RepoIndex) -> Option<&RepoSpec> {
        self.repos.iter().find(|r| r.index == index)
    }
}

fn check_keys(map: &serde_json::Map<String, Value>, known: &[&str], context: &str) -> Result<()> {
    for key in map.keys() {
        if !known.contains(&key.as_str()) {
            return Err(Error::UnknownKey {
                key: key.clone(),
                context: context.into(),
                suggestion: nearest(key, known.iter().copied()),
            });
        }
    }
    Ok(())
}

fn os_user(value: &str) -> Result<String> {
    let ok = !value.is_empty()
        && value.len() <= 32
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            "pg_dbsu",
            value,
            "expected an OS user name such as 'postgres' (lowercase letters, digits, '_' or '-')",
        ))
    }
}

/// Turns a YAML/JSON scalar into the text pgBackRest reads.
fn scalar_text(key: &str, context: &str, value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if *b { "y" } else { "n" }.to_owned()),
        _ => Err(Error::InvalidSetting {
            key: key.into(),
            context: context.into(),
            message: "expected a string, number or boolean".into(),
        }),
    }
}

/// Passphrases that must never protect a real repo: empty, or published as a default.
pub const WEAK_CIPHER_PASSES: &[&str] = &["", "pgBackRest"];

impl RepoDef {
    /// Validates one repo definition written in Pigsty's `snake_case` form.
    pub fn from_raw(
        name: &RepoName,
        raw: &IndexMap<String, Value>,
        version: Option<&Version>,
    ) -> Result<Self> {
        let context = format!("pgbackrest_repo.{name}");
        let repo_type = match raw.get("type") {
            Some(v) => scalar_text("type", &context, v)?.parse::<RepoType>()?,
            None => RepoType::Posix,
        };
        let mut options = Vec::with_capacity(raw.len());
        for (key, value) in raw {
            if key == "type" {
                continue;
            }
            let def = catalog::check_repo_key(key, repo_type, version).map_err(|e| match e {
                Error::UnknownOption { suggestion, .. } => Error::UnknownKey {
                    key: key.clone(),
                    context: context.clone(),
                    suggestion,
                },
                other => other,
            })?;
            let text = scalar_text(key, &context, value)?;
            let pg_key = def.name.trim_start_matches("repo-").to_owned();
            let normalized =
                catalog::check_value(def, key, &text).map_err(|e| with_context(e, &context))?;
            let value = if def.secure {
                OptionValue::Secret(Secret::new(normalized))
            } else {
                OptionValue::Plain(normalized)
            };
            options.push(RepoOption { key: pg_key, value });
        }
        let def = RepoDef {
            name: name.clone(),
            repo_type,
            options,
        };
        def.check_consistency(&context)?;
        Ok(def)
    }

    fn check_consistency(&self, context: &str) -> Result<()> {
        let is_y = |key: &str| self.get(key).is_some_and(|v| v.expose() == "y");
        if is_y("block") && !is_y("bundle") {
            return Err(Error::InvalidSetting {
                key: "block".into(),
                context: context.into(),
                message: "block incremental backup needs 'bundle: y' in the same repo".into(),
            });
        }
        let cipher = self.get("cipher-type").map(OptionValue::expose);
        if cipher.is_some_and(|c| c != "none") && self.get("cipher-pass").is_none() {
            return Err(Error::InvalidSetting {
                key: "cipher_pass".into(),
                context: context.into(),
                message: "an encrypted repo needs 'cipher_pass'".into(),
            });
        }
        Ok(())
    }

    /// Whether this repo is encrypted with an empty or published passphrase.
    pub fn has_weak_cipher_pass(&self) -> bool {
        let encrypted = self
            .get("cipher-type")
            .is_some_and(|c| c.expose() != "none");
        encrypted
            && self
                .get("cipher-pass")
                .is_some_and(|p| WEAK_CIPHER_PASSES.contains(&p.expose()))
    }
}

fn with_context(e: Error, context: &str) -> Error {
    match e {
        Error::InvalidSetting { key, message, .. } => Error::InvalidSetting {
            key,
            context: context.into(),
            message,
        },
        other => other,
    }
}

impl RawSpec {
    /// Validates every value and resolves defaults.
    pub fn validate(self) -> Result<ClusterSpec> {
        let patroni = PatroniApi::from_spec(&PatroniKeys {
            enabled: self.patroni_enabled,
            port: self.patroni_port,
            ssl_enabled: self.patroni_ssl_enabled,
            host: self.patroni_host.as_deref(),
            ca_file: self.patroni_ca_file.as_deref(),
            username: self.patroni_username.as_deref(),
            password: self.patroni_password.as_ref(),
        })?;
        let patroni_control = PatroniControl::from_spec(
            self.patroni_config.as_deref(),
            self.patroni_start_command.as_deref(),
            self.patroni_stop_command.as_deref(),
        )?;
        if self.pg_seq == Some(0) {
            return Err(Error::invalid(
                "pg_seq",
                "0",
                "expected the instance number, 1 or more",
            ));
        }
        let cluster: StanzaName = self
            .pg_cluster
            .as_deref()
            .ok_or_else(|| Error::InvalidSetting {
                key: "pg_cluster".into(),
                context: "cluster spec".into(),
                message: "missing: name the cluster, e.g. pg_cluster: pg-meta".into(),
            })?
            .parse()?;
        let version = self
            .pgbackrest_version
            .as_deref()
            .map(str::parse::<Version>)
            .transpose()?;
        let path = |key: &str, value: Option<&str>, default: &str| {
            SafePath::parse(key, "cluster spec", value.unwrap_or(default))
        };
        let opt_path = |key: &str, value: Option<&str>| {
            value
                .map(|v| SafePath::parse(key, "cluster spec", v))
                .transpose()
        };

        let defs_raw = self.pgbackrest_repo.unwrap_or_else(default_repos);
        let mut repo_defs = IndexMap::new();
        for (name, raw) in &defs_raw {
            let name = RepoName::parse("pgbackrest_repo key", name)?;
            let def = RepoDef::from_raw(&name, raw, version.as_ref())?;
            repo_defs.insert(name, def);
        }
        let methods: Vec<RepoName> = match self.pgbackrest_method {
            None => vec![RepoName::parse("pgbackrest_method entry", "local")?],
            Some(MethodSelection::One(m)) => vec![RepoName::parse("pgbackrest_method", &m)?],
            Some(MethodSelection::Many(ms)) => ms
                .iter()
                .map(|m| RepoName::parse("pgbackrest_method entry", m))
                .collect::<Result<_>>()?,
        };
        if methods.is_empty() {
            return Err(Error::InvalidSetting {
                key: "pgbackrest_method".into(),
                context: "cluster spec".into(),
                message: "the list is empty: name at least one repo of pgbackrest_repo".into(),
            });
        }
        let mut repos = Vec::with_capacity(methods.len());
        for (i, method) in methods.iter().enumerate() {
            let def = repo_defs.get(method).ok_or_else(|| Error::InvalidSetting {
                key: "pgbackrest_method".into(),
                context: "cluster spec".into(),
                message: format!(
                    "'{method}' is not defined in pgbackrest_repo{}; defined: {}",
                    nearest(method.as_str(), repo_defs.keys().map(RepoName::as_str))
                        .map(|s| format!(" (did you mean '{s}'?)"))
                        .unwrap_or_default(),
                    display_list(repo_defs.keys())
                ),
            })?;
            if methods[..i].contains(method) {
                return Err(Error::InvalidSetting {
                    key: "pgbackrest_method".into(),
                    context: "cluster spec".into(),
                    message: format!("'{method}' is listed twice"),
                });
            }
            repos.push(RepoSpec {
                index: RepoIndex::new(u64::try_from(i + 1).unwrap_or(u64::MAX)).map_err(|_| {
                    Error::InvalidSetting {
                        key: "pgbackrest_method".into(),
                        context: "cluster spec".into(),
                        message: "pgBackRest supports at most 256 repos".into(),
                    }
                })?,
                def: def.clone(),
            });
        }
        if repos.len() > 256 {
            return Err(Error::InvalidSetting {
                key: "pgbackrest_method".into(),
                context: "cluster spec".into(),
                message: "pgBackRest supports at most 256 repos".into(),
            });
        }
        let allow_weak = self.pitr_allow_weak_cipher_pass.unwrap_or(false);
        if !allow_weak {
            if let Some(weak) = repos.iter().find(|r| r.has_weak_cipher_pass()) {
                return Err(Error::InvalidSetting {
                    key: "cipher_pass".into(),
                    context: format!("pgbackrest_repo.{}", weak.name),
                    message: "the passphrase is empty or a published default (such as Pigsty's \
                        'pgBackRest'), which anyone can use to decrypt the backups: set a \
                        unique passphrase, or set pitr_allow_weak_cipher_pass: true for a test"
                        .into(),
                });
            }
        }

        let backup_schedule = match self.pitr_backup_schedule {
            None => vec![BackupSchedule {
                cron: "00 01 * * *".parse()?,
                backup_type: BackupType::Full,
                repo: None,
            }],
            Some(items) => items
                .into_iter()
                .map(|s| {
                    let repo = s.repo.map(|r| RepoIndex::new(u64::from(r))).transpose()?;
                    if let Some(r) = repo {
                        if !repos.iter().any(|repo| repo.index == r) {
                            return Err(Error::InvalidSetting {
                                key: "repo".into(),
                                context: "pitr_backup_schedule entry".into(),
                                message: format!(
                                    "repo{r} is not in use; pgbackrest_method gives repo1 to repo{}",
                                    repos.len()
                                ),
                            });
                        }
                    }
                    Ok(BackupSchedule {
                        cron: s.cron.parse()?,
                        backup_type: s.backup_type.parse()?,
                        repo,
                    })
                })
                .collect::<Result<_>>()?,
        };
        let drill_assertions = self
            .pitr_drill_assertions
            .unwrap_or_default()
            .into_iter()
            .map(RawAssertion::validate)
            .collect::<Result<Vec<_>>>()?;
        let drill_schedule = self
            .pitr_drill_schedule
            .as_deref()
            .map(str::parse)
            .transpose()?;
        let queue_max = self
            .pgbackrest_archive_queue_max
            .unwrap_or_else(|| "4GiB".into());
        let queue_def = catalog::check_config_key("archive-push-queue-max", version.as_ref())?;
        let archive_queue_max =
            catalog::check_value(queue_def, "pgbackrest_archive_queue_max", &queue_max)?;
        let node_cpu = match self.node_cpu {
            Some(0) => {
                return Err(Error::invalid(
                    "node_cpu",
                    "0",
                    "expected the number of CPUs of the node, 1 or more",
                ));
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        };

        Ok(ClusterSpec {
            cluster,
            data: path("pg_data", self.pg_data.as_deref(), DEFAULT_PG_DATA)?,
            port: match self.pg_port {
                Some(0) => return Err(Error::invalid("pg_port", "0", "expected 1-65535")),
                Some(p) => p,
                None => 5432,
            },
            dbsu: os_user(self.pg_dbsu.as_deref().unwrap_or("postgres"))?,
            bin_dir: opt_path("pg_bin_dir", self.pg_bin_dir.as_deref())?,
            socket_dir: opt_path("pg_socket_dir", self.pg_socket_dir.as_deref())?,
            mode: self
                .pg_mode
                .as_deref()
                .map_or(Ok(PgMode::Pgsql), str::parse)?,
            pg_version: self
                .pg_version
                .map(|v| scalar_text("pg_version", "cluster spec", &v)?.parse::<PgMajor>())
                .transpose()?,
            repos,
            repo_defs,
            log_dir: path(
                "pgbackrest_log_dir",
                self.pgbackrest_log_dir.as_deref(),
                DEFAULT_LOG_DIR,
            )?,
            spool_dir: path(
                "pgbackrest_spool_dir",
                self.pgbackrest_spool_dir.as_deref(),
                "/pg/spool",
            )?,
            lock_dir: opt_path("pgbackrest_lock_dir", self.pgbackrest_lock_dir.as_deref())?,
            archive_queue_max,
            node_cpu,
            pgbackrest_version: version,
            config_path: path(
                "pgbackrest_config",
                self.pgbackrest_config.as_deref(),
                DEFAULT_CONFIG_PATH,
            )?,
            pgbackrest_bin: path(
                "pgbackrest_bin",
                self.pgbackrest_bin.as_deref(),
                "/usr/bin/pgbackrest",
            )?,
            pitr_bin: path("pitr_bin", self.pitr_bin.as_deref(), "/usr/local/bin/pitr")?,
            backup_schedule,
            drill_schedule,
            drill_assertions,
            spec_file: opt_path("pitr_spec_file", self.pitr_spec_file.as_deref())?,
            allow_weak_cipher_pass: allow_weak,
            patroni,
            seq: self.pg_seq,
            patroni_control,
        })
    }
}

/// Pigsty's default `local` repo, used when the spec defines no `pgbackrest_repo`.
fn default_repos() -> IndexMap<String, IndexMap<String, Value>> {
    let local = IndexMap::from([
        ("path".to_owned(), Value::from("/pg/backup")),
        ("retention_full_type".to_owned(), Value::from("count")),
        ("retention_full".to_owned(), Value::from(2)),
    ]);
    IndexMap::from([("local".to_owned(), local)])
}

fn display_list<'a>(items: impl Iterator<Item = &'a RepoName>) -> String {
    let v: Vec<&str> = items.map(RepoName::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pigsty's default `pgbackrest_repo`, as it ships in roles/pgsql/defaults/main.yml.
    pub(crate) const PIGSTY_REPOS: &str = r"
pgbackrest_repo:
  local:
    path: /pg/backup
    retention_full_type: count
    retention_full: 2
  minio:
    type: s3
    s3_endpoint: sss.pigsty
    s3_region: us-east-1
    s3_bucket: pgsql
    s3_key: pgbackrest
    s3_key_secret: S3User.Backup
    s3_uri_style: path
    path: /pgbackrest
    storage_port: 9000
    storage_ca_file: /etc/pki/ca.crt
    block: y
    bundle: y
    bundle_limit: 20MiB
    bundle_size: 128MiB
    cipher_type: aes-256-cbc
    cipher_pass: pgBackRest
    retention_full_type: time
    retention_full: 14
";

    fn spec(extra: &str) -> Result<ClusterSpec> {
        ClusterSpec::from_yaml_str(&format!(
            "pg_cluster: pg-meta\nnode_cpu: 4\n{extra}\n{PIGSTY_REPOS}"
        ))
    }

    #[test]
    fn pigsty_defaults_load() {
        let s = spec("").unwrap();
        assert_eq!(s.data.as_str(), "/pg/data");
        assert_eq!(s.port, 5432);
        assert_eq!(s.repos.len(), 1);
        assert_eq!(s.repos[0].name, "local");
        assert_eq!(s.repos[0].get("path").unwrap().expose(), "/pg/backup");
        let minio = &s.repo_defs["minio"];
        assert_eq!(minio.repo_type, RepoType::S3);
        assert!(minio.get("s3-key-secret").unwrap().is_secret());
        assert!(minio.has_weak_cipher_pass());
    }

    #[test]
    fn several_repos_get_indexes_in_order() {
        let s =
            spec("pitr_allow_weak_cipher_pass: true\npgbackrest_method: [local, minio]").unwrap();
        assert_eq!(
            s.repos
                .iter()
                .map(|r| (r.index.get(), r.name.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "local"), (2, "minio")]
        );
    }

    #[test]
    fn weak_passphrase_refused_unless_allowed() {
        let e = spec("pgbackrest_method: minio").unwrap_err();
        assert_eq!(e.code(), "invalid_setting");
        assert!(e.to_string().contains("pgbackrest_repo.minio"), "{e}");
        assert!(!e.to_string().contains("S3User.Backup"));
        spec("pgbackrest_method: minio\npitr_allow_weak_cipher_pass: true").unwrap();
    }

    #[test]
    fn unknown_keys_name_the_nearest() {
        let e = ClusterSpec::from_yaml_str("pg_clsuter: x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown key 'pg_clsuter' in cluster spec: did you mean 'pg_cluster'?"
        );
        let e = ClusterSpec::from_yaml_str(
            "pg_cluster: x\npgbackrest_repo: {local: {path: /b, retention_ful: 2}}",
        )
        .unwrap_err();
        assert_eq!(e.code(), "unknown_key");
        assert!(e.to_string().contains("'retention_ful'"), "{e}");
        assert!(e.to_string().contains("retention_full"), "{e}");
        let e = ClusterSpec::from_yaml_str(
            "pg_cluster: x\npitr_backup_schedule: [{cron: '@daily', typ: full}]",
        )
        .unwrap_err();
        assert!(e.to_string().contains("'typ'"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        for (yaml, needle) in [
            ("pg_cluster: 'a b'", "stanza name"),
            ("pg_cluster: x\npg_data: relative/dir", "absolute"),
            ("pg_cluster: x\npg_dbsu: Root", "pg_dbsu"),
            (
                "pg_cluster: x\npgbackrest_method: nosuch",
                "'nosuch' is not defined",
            ),
            (
                "pg_cluster: x\npgbackrest_repo: {local: {path: \"/a\\nb\"}}",
                "newline",
            ),
            ("pg_cluster: x\npgbackrest_repo: {local: {type: s4}}", "s4"),
            (
                "pg_cluster: x\npgbackrest_repo: {local: {block: y}}",
                "bundle",
            ),
            (
                "pg_cluster: x\npgbackrest_config: '/etc/pg backrest.conf'",
                "shell",
            ),
            (
                "pg_cluster: x\npitr_backup_schedule: [{cron: 'every day', type: full}]",
                "cron",
            ),
            (
                "pg_cluster: x\npitr_backup_schedule: [{cron: '@daily', type: big}]",
                "full, diff, incr",
            ),
            (
                "pg_cluster: x\npitr_backup_schedule: [{cron: '@daily', type: full, repo: 2}]",
                "repo2 is not in use",
            ),
            (
                "pg_cluster: x\npitr_backup_schedule: [{cron: '99 99 * * *', type: full}]",
                "invalid cron minute '99'",
            ),
            ("pg_cluster: x\npg_mode: ivorysql", "did you mean 'ivory'?"),
            ("pg_cluster: x\npg_version: 9.6", "invalid pg_version '9.6'"),
            ("pg_cluster: x\npg_version: [18]", "pg_version"),
            ("[1, 2]", "mapping"),
            ("pg_cluster: x\npg_port: 99999", "cluster spec"),
        ] {
            let e = ClusterSpec::from_yaml_str(yaml).unwrap_err();
            assert!(e.to_string().contains(needle), "{yaml}: {e}");
        }
    }

    /// Every spec key whose value is a path, as it reaches config files, `pg_ctl` and shells.
    const PATH_KEYS: &[&str] = &[
        "pg_data",
        "pg_bin_dir",
        "pg_socket_dir",
        "pgbackrest_log_dir",
        "pgbackrest_spool_dir",
        "pgbackrest_lock_dir",
        "pgbackrest_config",
        "pgbackrest_bin",
        "pitr_bin",
    ];

    #[test]
    fn every_path_key_refuses_shell_and_config_syntax() {
        for key in PATH_KEYS {
            for (value, code) in [
                ("/tmp/$(id)", "unsafe_characters"),
                ("/tmp/`id`", "unsafe_characters"),
                ("/tmp/a\"b", "unsafe_characters"),
                ("/tmp/a;b", "unsafe_characters"),
                ("/tmp/a b", "unsafe_characters"),
                ("/tmp/../etc", "invalid_setting"),
                ("tmp/x", "invalid_setting"),
                ("", "invalid_setting"),
                ("/tmp/a\nrepo1-host=evil", "unsafe_value"),
            ] {
                let v = serde_json::json!({"pg_cluster": "pg-meta", *key: value});
                let e = ClusterSpec::from_value(v).unwrap_err();
                assert_eq!(e.code(), code, "{key}: {value:?}: {e}");
                let text = e.to_string();
                assert!(text.contains(&format!("'{key}'")), "{key}: {text}");
                assert!(!text.contains('\n'), "{text}");
            }
            let v = serde_json::json!({"pg_cluster": "pg-meta", *key: "/opt/pg-15_x/v1.2+b/"});
            ClusterSpec::from_value(v).unwrap();
        }
    }

    #[test]
    fn repo_names_are_identifiers() {
        let v = serde_json::json!({"pg_cluster": "pg-meta",
            "pgbackrest_method": ["local", "minio", "s3", "minio_2"],
            "pgbackrest_repo": {"local": {"path": "/a"}, "minio": {"path": "/b"},
                "s3": {"path": "/c"}, "minio_2": {"path": "/d"}}});
        let s = ClusterSpec::from_value(v).unwrap();
        let names: Vec<&str> = s.repos.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["local", "minio", "s3", "minio_2"]);

        let e = ClusterSpec::from_value(serde_json::json!({"pg_cluster": "pg-meta",
            "pgbackrest_method": "local\nrepo1-host=evil",
            "pgbackrest_repo": {"local\nrepo1-host=evil": {"path": "/a"}}}))
        .unwrap_err();
        assert_eq!(e.code(), "invalid_value");
        assert_eq!(
            e.to_string().lines().next().unwrap(),
            e.to_string(),
            "one line: {e}"
        );
        assert!(
            e.to_string()
                .starts_with("invalid pgbackrest_repo key 'local\\nrepo1-host=evil'"),
            "{e}"
        );
        for method in [serde_json::json!("a b"), serde_json::json!(["local", "-x"])] {
            let e = ClusterSpec::from_value(serde_json::json!({"pg_cluster": "pg-meta",
                "pgbackrest_method": method}))
            .unwrap_err();
            assert_eq!(e.code(), "invalid_value", "{e}");
            assert!(e.to_string().contains("pgbackrest_method"), "{e}");
        }
    }

    #[test]
    fn pg_mode_and_version_default_to_pigstys() {
        let s = spec("").unwrap();
        assert_eq!(
            (s.mode, s.pg_version, s.pg_version_force()),
            (PgMode::Pgsql, None, None)
        );
        let s = spec("pg_mode: ivory").unwrap();
        assert_eq!(s.pg_version_force(), Some(PgMajor::PIGSTY_DEFAULT));
        let s = spec("pg_mode: ivory\npg_version: '17'").unwrap();
        assert_eq!(s.pg_version_force().map(PgMajor::get), Some(17));
        let s = spec("pg_mode: citus\npg_version: 16").unwrap();
        assert_eq!((s.mode, s.pg_version_force()), (PgMode::Citus, None));
        assert_eq!(s.pg_version.map(PgMajor::get), Some(16));
    }

    #[test]
    fn json_values_load_too() {
        let v = serde_json::json!({
            "pg_cluster": "pg-test", "pg_port": 6543,
            "pgbackrest_repo": {"local": {"path": "/b", "bundle": true, "retention_full": 3}}
        });
        let s = ClusterSpec::from_value(v).unwrap();
        assert_eq!(s.port, 6543);
        assert_eq!(s.repos[0].get("bundle").unwrap().expose(), "y");
        assert_eq!(s.repos[0].get("retention-full").unwrap().expose(), "3");
    }
}
