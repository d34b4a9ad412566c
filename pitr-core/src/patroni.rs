//! Patroni, as pitr sees it: where a member's REST API is ([`PatroniApi`]) and what it answered
//! ([`PatroniAnswer`]).
//!
//! Data flow: the spec's `patroni_*` keys or the CLI's `--patroni URL` / `--patroni-ca-file`
//! → [`PatroniApi`] on the [`Node`](crate::node::Node) → [`crate::run::patroni`] asks
//! `GET <url>/primary` → [`PatroniAnswer::parse`] (status and body) → [`crate::role`] decides.
//!
//! One request says both things pitr needs, from one moment: the status of `GET /primary` is
//! 200 exactly when the member holds the leader lock and is not a standby cluster (503
//! otherwise), and its body is the document `GET /patroni` serves — `state`, `role`
//! (`master`/`primary` when PostgreSQL is not in recovery, `replica`, `standby_leader`, ...),
//! `timeline`, `cluster_unlocked`, `failsafe_mode_is_active`, `dcs_last_seen`, `pause` and
//! `patroni.scope`. Fields Patroni leaves out are `None`/`false` here; unknown fields are
//! ignored, so later Patroni versions parse too.
//!
//! ```
//! use pitr_core::patroni::PatroniAnswer;
//! let answer = PatroniAnswer::parse(200, r#"{"state": "running", "role": "master",
//!     "timeline": 3, "dcs_last_seen": 1700000000, "patroni": {"scope": "pg-meta"}}"#).unwrap();
//! assert!(answer.holds_leader_lock());
//! assert_eq!(answer.doc.role.as_deref(), Some("master"));
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, one_line};
use crate::names::{DEFAULT_PATRONI_PORT, HostName, PatroniUrl, SafePath, Secret};

/// Pigsty's CA certificate, installed on every node: the CA of `patroni_ssl_enabled: true`
/// unless `patroni_ca_file` says otherwise.
pub const PIGSTY_CA_FILE: &str = "/etc/pki/ca.crt";

/// The environment variable holding the password of `--patroni-username`.
pub const PATRONI_PASSWORD_ENV: &str = "PITR_PATRONI_PASSWORD";

/// Where a member's Patroni REST API is, the CA that signs its certificate for HTTPS, and the
/// credentials of its `restapi.authentication`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatroniApi {
    /// `http[s]://HOST:PORT`.
    pub url: PatroniUrl,
    /// The CA certificate(s) (PEM) that verify an HTTPS API; `None` for HTTP.
    pub ca_file: Option<SafePath>,
    /// HTTP Basic credentials for the requests that change Patroni (`PATCH /config`, ...);
    /// `None` when its REST API asks for none. Serialized with the password redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<PatroniAuth>,
}

/// The credentials of Patroni's `restapi.authentication` (Pigsty's `patroni_username`,
/// `postgres` there, and `patroni_password`). `Debug` and serialization show the password as
/// `<redacted>`; a plan read back from JSON holds that placeholder, which
/// [`PatroniAuth::is_placeholder`] tells and which is never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatroniAuth {
    /// `restapi.authentication.username`.
    pub username: String,
    /// `restapi.authentication.password`.
    pub password: Secret,
}

impl PatroniAuth {
    /// The credentials of `username` and `password`, both given or neither (`None`). `keys`
    /// names them (`patroni_username`, `patroni_password`; `--patroni-username`,
    /// `PITR_PATRONI_PASSWORD`) and `context` where they came from, for errors; an error
    /// never holds the password.
    pub fn from_parts(
        username: Option<&str>,
        password: Option<&Secret>,
        keys: (&str, &str),
        context: &str,
    ) -> Result<Option<PatroniAuth>> {
        let (user_key, password_key) = keys;
        let invalid = |key: &str, message: String| Error::InvalidSetting {
            key: key.into(),
            context: context.into(),
            message,
        };
        let missing = |key: &str, given: &str| {
            invalid(
                key,
                format!(
                    "missing: {given} is given; Patroni's restapi.authentication takes a \
                     username and a password"
                ),
            )
        };
        let (username, password) = match (username, password) {
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(missing(password_key, user_key)),
            (None, Some(_)) => return Err(missing(user_key, password_key)),
            (Some(u), Some(p)) => (u, p),
        };
        if username.is_empty() || username.contains(':') || username.chars().any(char::is_control) {
            return Err(invalid(
                user_key,
                format!(
                    "'{}' cannot be sent: a username is non-empty, without ':' or control \
                     characters (HTTP Basic auth)",
                    one_line(username)
                ),
            ));
        }
        let exposed = password.expose();
        if exposed.is_empty() || exposed.chars().any(char::is_control) || password.is_placeholder()
        {
            return Err(invalid(
                password_key,
                "a password is non-empty, without control characters".into(),
            ));
        }
        Ok(Some(PatroniAuth {
            username: username.to_owned(),
            password: password.clone(),
        }))
    }

    /// The credentials of pitr's arguments: `--patroni-username` and the password in the
    /// environment variable [`PATRONI_PASSWORD_ENV`] (never on the command line, where `ps`
    /// shows it; an empty one counts as unset).
    pub fn from_arguments(
        username: Option<&str>,
        password: Option<String>,
    ) -> Result<Option<PatroniAuth>> {
        let password = password.filter(|p| !p.is_empty()).map(Secret::new);
        PatroniAuth::from_parts(
            username,
            password.as_ref(),
            ("--patroni-username", PATRONI_PASSWORD_ENV),
            "pitr's arguments",
        )
    }

    /// Whether the password is the placeholder of a plan read back from JSON, not the real one.
    pub fn is_placeholder(&self) -> bool {
        self.password.is_placeholder()
    }
}

impl PatroniApi {
    /// The API at `url`; `ca_file` is required for `https://` and refused for `http://`, where
    /// it would be ignored. `ca_key` (`patroni_ca_file`, `--patroni-ca-file`) and `context`
    /// (`cluster spec`, `pitr's arguments`) name where the values came from, for errors.
    pub fn new(
        url: PatroniUrl,
        ca_file: Option<SafePath>,
        ca_key: &str,
        context: &str,
    ) -> Result<PatroniApi> {
        let invalid = |message: String| Error::InvalidSetting {
            key: ca_key.into(),
            context: context.into(),
            message,
        };
        match (url.is_tls(), &ca_file) {
            (true, None) => Err(invalid(format!(
                "missing: {url} is HTTPS; name the CA certificate (PEM) that signed Patroni's \
                 restapi.certfile"
            ))),
            (false, Some(ca)) => Err(invalid(format!(
                "'{ca}' would be ignored: {url} is plain HTTP; make Patroni's URL HTTPS \
                 (patroni_ssl_enabled: true, or https:// in --patroni) or leave the CA file out"
            ))),
            _ => Ok(PatroniApi {
                url,
                ca_file,
                auth: None,
            }),
        }
    }

    /// The same API with these credentials.
    #[must_use]
    pub fn with_auth(self, auth: Option<PatroniAuth>) -> PatroniApi {
        PatroniApi { auth, ..self }
    }

    /// The API on `127.0.0.1:port` over HTTP, as on a Pigsty node without `patroni_ssl_enabled`.
    pub fn local(port: u16) -> Result<PatroniApi> {
        Ok(PatroniApi {
            url: PatroniUrl::new(false, HostName::loopback(), port)?,
            ca_file: None,
            auth: None,
        })
    }
}

/// The `patroni_*` keys of a cluster spec, as written.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatroniKeys<'a> {
    /// `patroni_enabled`.
    pub enabled: Option<bool>,
    /// `patroni_port`.
    pub port: Option<u16>,
    /// `patroni_ssl_enabled`.
    pub ssl_enabled: Option<bool>,
    /// `patroni_host`.
    pub host: Option<&'a str>,
    /// `patroni_ca_file`.
    pub ca_file: Option<&'a str>,
    /// `patroni_username`.
    pub username: Option<&'a str>,
    /// `patroni_password`.
    pub password: Option<&'a Secret>,
}

impl PatroniApi {
    /// The API a spec's keys describe, when Patroni is configured: `patroni_enabled: true`, or
    /// `patroni_port` given and `patroni_enabled` not `false`. Then the URL is
    /// `http[s]://<patroni_host, 127.0.0.1>:<patroni_port, 8008>`, HTTPS when
    /// `patroni_ssl_enabled`, verified with `patroni_ca_file` (Pigsty's `/etc/pki/ca.crt`),
    /// authenticated with `patroni_username` and `patroni_password` (both or neither).
    ///
    /// Without Patroni configured, `patroni_ssl_enabled: true`, `patroni_host`,
    /// `patroni_ca_file`, `patroni_username` or `patroni_password` is refused rather than
    /// ignored, unless `patroni_enabled: false` says so on purpose.
    pub fn from_spec(keys: &PatroniKeys<'_>) -> Result<Option<PatroniApi>> {
        let context = "cluster spec";
        let auth = PatroniAuth::from_parts(
            keys.username,
            keys.password,
            ("patroni_username", "patroni_password"),
            context,
        )?;
        if !keys.enabled.unwrap_or(keys.port.is_some()) {
            let stray = [
                ("patroni_ssl_enabled", keys.ssl_enabled == Some(true)),
                ("patroni_host", keys.host.is_some()),
                ("patroni_ca_file", keys.ca_file.is_some()),
                ("patroni_username", keys.username.is_some()),
            ];
            return match stray.iter().find(|(_, given)| *given) {
                Some((key, _)) if keys.enabled.is_none() => Err(Error::InvalidSetting {
                    key: (*key).into(),
                    context: context.into(),
                    message: "Patroni is not configured, so this would be ignored: add \
                        patroni_enabled: true (Pigsty's default) or patroni_port to take roles \
                        from Patroni, or patroni_enabled: false to keep asking PostgreSQL"
                        .into(),
                }),
                _ => Ok(None),
            };
        }
        let port = match keys.port {
            Some(0) => return Err(Error::invalid("patroni_port", "0", "expected 1-65535")),
            Some(p) => p,
            None => DEFAULT_PATRONI_PORT,
        };
        let host = match keys.host {
            Some(h) => HostName::parse("patroni_host", h)?,
            None => HostName::loopback(),
        };
        let tls = keys.ssl_enabled.unwrap_or(false);
        let ca_file = match (tls, keys.ca_file) {
            (true, ca) => Some(ca.unwrap_or(PIGSTY_CA_FILE)),
            (false, ca) => ca,
        }
        .map(|ca| SafePath::parse("patroni_ca_file", context, ca))
        .transpose()?;
        PatroniApi::new(
            PatroniUrl::new(tls, host, port)?,
            ca_file,
            "patroni_ca_file",
            context,
        )
        .map(|api| Some(api.with_auth(auth)))
    }
}

/// What a member's REST API answered to `GET /primary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatroniAnswer {
    /// The HTTP status: 200 (leader lock held, not a standby cluster) or 503.
    pub status: u16,
    /// The member's state document.
    pub doc: PatroniDoc,
}

/// The state document of a member (the body of `GET /patroni`, `GET /primary`, ...), with the
/// fields pitr reads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct PatroniDoc {
    /// PostgreSQL's state as Patroni manages it: `running`, `starting`, `stopped`,
    /// `restarting`, `stopping`, `crashed`, `unknown`, ...
    pub state: Option<String>,
    /// `master` (Patroni 3.0) or `primary` when PostgreSQL is not in recovery, `replica`,
    /// `standby_leader`, `demoted`, `uninitialized`, ...
    pub role: Option<String>,
    /// The timeline PostgreSQL runs on (or follows).
    pub timeline: Option<u64>,
    /// No member holds the leader key, or the DCS has not been reached within `ttl`.
    #[serde(default)]
    pub cluster_unlocked: bool,
    /// The DCS is away and the leader runs on because every member acknowledged it.
    #[serde(default)]
    pub failsafe_mode_is_active: bool,
    /// When the DCS last answered (Unix seconds; 0 when never).
    pub dcs_last_seen: Option<i64>,
    /// Patroni's automatic failover is paused (maintenance mode).
    #[serde(default)]
    pub pause: bool,
    /// Patroni's own version and scope.
    pub patroni: Option<PatroniMeta>,
}

/// `patroni` in the state document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct PatroniMeta {
    /// Patroni's version.
    pub version: Option<String>,
    /// The cluster's name in the DCS (Pigsty's `pg_cluster`, the pgBackRest stanza).
    pub scope: Option<String>,
}

impl PatroniAnswer {
    /// Reads an answer: `status` must be 200 or 503 (what Patroni answers to `GET /primary`)
    /// and `body` a JSON object. The error says what came instead, on one line.
    pub fn parse(status: u16, body: &str) -> Result<PatroniAnswer, String> {
        if status != 200 && status != 503 {
            return Err(format!(
                "GET /primary answered HTTP {status}, where Patroni answers 200 or 503: {}",
                excerpt(body)
            ));
        }
        let doc: PatroniDoc = serde_json::from_str(body).map_err(|e| {
            format!(
                "GET /primary answered HTTP {status} with a body that is not Patroni's state \
                 document ({e}): {}",
                excerpt(body)
            )
        })?;
        Ok(PatroniAnswer { status, doc })
    }

    /// Whether the member holds the leader lock (and is not a standby cluster).
    pub fn holds_leader_lock(&self) -> bool {
        self.status == 200
    }
}

impl PatroniDoc {
    /// `state`, `role`, `timeline` and the DCS flags, for messages: `state running, role
    /// replica, timeline 3, cluster unlocked`.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("state {}", self.state.as_deref().unwrap_or("(none)")),
            format!("role {}", self.role.as_deref().unwrap_or("(none)")),
        ];
        if let Some(t) = self.timeline {
            parts.push(format!("timeline {t}"));
        }
        if self.cluster_unlocked {
            parts.push("cluster unlocked".into());
        }
        if self.failsafe_mode_is_active {
            parts.push("failsafe mode active".into());
        }
        if self.pause {
            parts.push("paused".into());
        }
        one_line(&parts.join(", "))
    }

    /// The scope Patroni serves, when it says.
    pub fn scope(&self) -> Option<&str> {
        self.patroni.as_ref()?.scope.as_deref()
    }
}

/// Where Patroni's configuration is on Pigsty's nodes.
pub const DEFAULT_PATRONI_CONFIG: &str = "/pg/bin/patroni.yml";

/// How pitr stops and starts Patroni on a node, and where its configuration file is: the
/// spec's `patroni_stop_command`, `patroni_start_command` (argv vectors, run as root; a
/// systemd unit by default) and `patroni_config` (read by `patronictl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatroniControl {
    /// Starts Patroni (`[systemctl, start, patroni]`).
    pub start: Vec<String>,
    /// Stops Patroni (`[systemctl, stop, patroni]`). With Patroni paused, PostgreSQL keeps
    /// running.
    pub stop: Vec<String>,
    /// Patroni's configuration file (`/pg/bin/patroni.yml`).
    pub config: SafePath,
}

impl Default for PatroniControl {
    fn default() -> Self {
        PatroniControl {
            start: systemctl("start"),
            stop: systemctl("stop"),
            config: SafePath::constant(DEFAULT_PATRONI_CONFIG),
        }
    }
}

fn systemctl(verb: &str) -> Vec<String> {
    ["systemctl", verb, "patroni"].map(String::from).to_vec()
}

impl PatroniControl {
    /// The control of a spec's keys, defaults where absent. A command is a non-empty argv
    /// without empty or unprintable elements (no shell ever reads it).
    pub fn from_spec(
        config: Option<&str>,
        start: Option<&[String]>,
        stop: Option<&[String]>,
    ) -> Result<PatroniControl> {
        let argv = |key: &str, given: Option<&[String]>, verb: &str| -> Result<Vec<String>> {
            let Some(given) = given else {
                return Ok(systemctl(verb));
            };
            if given.is_empty() || given[0].is_empty() {
                return Err(Error::InvalidSetting {
                    key: key.into(),
                    context: "cluster spec".into(),
                    message: format!(
                        "expected a program and its arguments, e.g. [systemctl, {verb}, patroni]"
                    ),
                });
            }
            if let Some(bad) = given
                .iter()
                .find(|a| a.chars().any(crate::error::is_unprintable))
            {
                return Err(Error::invalid(
                    "patroni command argument",
                    bad.as_str(),
                    format!("{key} holds a control character"),
                ));
            }
            Ok(given.to_vec())
        };
        Ok(PatroniControl {
            start: argv("patroni_start_command", start, "start")?,
            stop: argv("patroni_stop_command", stop, "stop")?,
            config: SafePath::parse(
                "patroni_config",
                "cluster spec",
                config.unwrap_or(DEFAULT_PATRONI_CONFIG),
            )?,
        })
    }
}

/// Patroni's view of the cluster: the body of `GET /cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ClusterView {
    /// The members Patroni knows (from the DCS).
    #[serde(default)]
    pub members: Vec<ClusterMember>,
    /// Whether automatic failover is paused.
    #[serde(default)]
    pub pause: bool,
}

/// One member in `GET /cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ClusterMember {
    /// Patroni's name of the member (Pigsty's `<pg_cluster>-<pg_seq>`).
    pub name: String,
    /// `leader`, `replica`, `sync_standby`, `standby_leader`, ...
    #[serde(default)]
    pub role: String,
    /// `running`, `streaming`, `stopped`, `starting`, ...
    #[serde(default)]
    pub state: String,
    /// PostgreSQL's host.
    #[serde(default)]
    pub host: String,
    /// PostgreSQL's port.
    #[serde(default)]
    pub port: u16,
    /// The member's REST API (`http://HOST:PORT/patroni`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// Its timeline.
    #[serde(default)]
    pub timeline: Option<u64>,
}

impl ClusterView {
    /// Reads the body of `GET /cluster`; the error says what came instead, on one line.
    pub fn parse(status: u16, body: &str) -> Result<ClusterView, String> {
        if status != 200 {
            return Err(format!(
                "GET /cluster answered HTTP {status}: {}",
                excerpt(body)
            ));
        }
        serde_json::from_str(body).map_err(|e| {
            format!(
                "GET /cluster answered a body that is not Patroni's cluster document ({e}): {}",
                excerpt(body)
            )
        })
    }

    /// The member holding the leader key.
    pub fn leader(&self) -> Option<&ClusterMember> {
        self.members.iter().find(|m| m.role == "leader")
    }
}

impl ClusterMember {
    /// Whether PostgreSQL runs on it as Patroni sees it (`running`, or `streaming` on later
    /// Patroni versions).
    pub fn is_running(&self) -> bool {
        matches!(self.state.as_str(), "running" | "streaming")
    }
}

/// The start of a body, on one line, for messages.
fn excerpt(body: &str) -> String {
    let trimmed = body.trim();
    let cut: String = trimmed.chars().take(200).collect();
    let more = if cut.len() < trimmed.len() { "..." } else { "" };
    if cut.is_empty() {
        "(empty body)".into()
    } else {
        format!("{}{more}", one_line(&cut))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_other_than_patronis_are_refused_with_what_came() {
        let e = PatroniAnswer::parse(404, "<html>not found</html>").unwrap_err();
        assert!(
            e.contains("HTTP 404") && e.contains("<html>not found"),
            "{e}"
        );
        let e = PatroniAnswer::parse(200, "Successfully\nswitched").unwrap_err();
        assert!(e.contains("not Patroni's state document"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = PatroniAnswer::parse(503, "").unwrap_err();
        assert!(e.contains("(empty body)"), "{e}");
        let e = PatroniAnswer::parse(200, &"x".repeat(1000)).unwrap_err();
        assert!(e.ends_with("..."), "{e}");
        let e = PatroniAnswer::parse(200, "[1]").unwrap_err();
        assert!(e.contains("not Patroni's state document"), "{e}");
    }

    #[test]
    fn missing_fields_are_none_and_unknown_ones_ignored() {
        let a = PatroniAnswer::parse(503, r#"{"state": "stopped", "role": "replica", "new": 1}"#)
            .unwrap();
        assert_eq!(a.doc.describe(), "state stopped, role replica");
        assert!(!a.holds_leader_lock());
        assert_eq!(a.doc.scope(), None);
        let a = PatroniAnswer::parse(503, "{}").unwrap();
        assert_eq!(a.doc.describe(), "state (none), role (none)");
    }

    fn api(yaml: &str) -> Result<Option<PatroniApi>> {
        crate::spec::ClusterSpec::from_yaml_str(&format!("pg_cluster: pg-meta\n{yaml}"))
            .map(|s| s.patroni)
    }

    #[test]
    fn patroni_is_configured_by_enabled_or_port() {
        assert_eq!(api("").unwrap(), None);
        assert_eq!(
            api("patroni_enabled: false\npatroni_port: 8008").unwrap(),
            None
        );
        assert_eq!(
            api("patroni_enabled: false\npatroni_ssl_enabled: true\npatroni_host: h").unwrap(),
            None
        );
        let url = |yaml: &str| api(yaml).unwrap().unwrap().url.to_string();
        assert_eq!(url("patroni_enabled: true"), "http://127.0.0.1:8008");
        assert_eq!(url("patroni_port: 18008"), "http://127.0.0.1:18008");
        assert_eq!(
            url("patroni_port: 8008\npatroni_host: 10.10.10.10\npatroni_ssl_enabled: true"),
            "https://10.10.10.10:8008"
        );
    }

    #[test]
    fn https_takes_pigstys_ca_unless_told_otherwise() {
        let a = api("patroni_enabled: true\npatroni_ssl_enabled: true")
            .unwrap()
            .unwrap();
        assert_eq!(
            a.ca_file.as_ref().map(SafePath::as_str),
            Some(PIGSTY_CA_FILE)
        );
        let a =
            api("patroni_port: 8008\npatroni_ssl_enabled: true\npatroni_ca_file: /pg/cert/ca.crt")
                .unwrap()
                .unwrap();
        assert_eq!(
            a.ca_file.as_ref().map(SafePath::as_str),
            Some("/pg/cert/ca.crt")
        );
        assert_eq!(api("patroni_port: 8008").unwrap().unwrap().ca_file, None);
    }

    #[test]
    fn bad_or_stray_patroni_keys_are_named() {
        for (yaml, code, needle) in [
            (
                "patroni_ssl_enabled: true",
                "invalid_setting",
                "'patroni_ssl_enabled'",
            ),
            (
                "patroni_host: 127.0.0.1",
                "invalid_setting",
                "'patroni_host'",
            ),
            (
                "patroni_ca_file: /etc/pki/ca.crt",
                "invalid_setting",
                "Patroni is not configured",
            ),
            (
                "patroni_port: 0",
                "invalid_value",
                "invalid patroni_port '0'",
            ),
            ("patroni_port: 70000", "parse_error", "cluster spec"),
            (
                "patroni_port: 8008\npatroni_host: 'a b'",
                "invalid_value",
                "invalid patroni_host 'a b'",
            ),
            (
                "patroni_port: 8008\npatroni_host: '[::1'",
                "invalid_value",
                "patroni_host",
            ),
            ("patroni_enabled: yes-please", "parse_error", "cluster spec"),
            (
                "patroni_port: 8008\npatroni_ca_file: /etc/pki/ca.crt",
                "invalid_setting",
                "plain HTTP",
            ),
            (
                "patroni_port: 8008\npatroni_ssl_enabled: true\npatroni_ca_file: '/tmp/$(id)'",
                "unsafe_characters",
                "'patroni_ca_file'",
            ),
            (
                "patroni_port: 8008\npatroni_ssl_enabled: true\npatroni_ca_file: ca.crt",
                "invalid_setting",
                "'patroni_ca_file'",
            ),
            (
                "patroni_prot: 8008",
                "unknown_key",
                "did you mean 'patroni_port'?",
            ),
        ] {
            let e = api(yaml).unwrap_err();
            assert_eq!(e.code(), code, "{yaml}: {e}");
            assert!(e.to_string().contains(needle), "{yaml}: {e}");
        }
    }

    #[test]
    fn credentials_come_in_pairs_and_never_show_the_password() {
        let a =
            api("patroni_port: 8008\npatroni_username: postgres\npatroni_password: Patroni.API")
                .unwrap()
                .unwrap();
        let auth = a.auth.as_ref().unwrap();
        assert_eq!(auth.username, "postgres");
        assert_eq!(auth.password.expose(), "Patroni.API");
        for shown in [
            format!("{a:?}"),
            serde_json::to_string(&a).unwrap(),
            format!(
                "{:?}",
                crate::spec::ClusterSpec::from_yaml_str(
                    "pg_cluster: pg-meta\npatroni_port: 8008\npatroni_username: postgres\n\
                 patroni_password: Patroni.API"
                )
                .unwrap()
            ),
        ] {
            assert!(!shown.contains("Patroni.API"), "{shown}");
            assert!(shown.contains("postgres"), "{shown}");
        }
        // Read back from JSON: the placeholder, which is never sent.
        let back: PatroniApi = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert!(back.auth.unwrap().is_placeholder());
        assert_eq!(api("patroni_port: 8008").unwrap().unwrap().auth, None);
        for (yaml, key) in [
            (
                "patroni_port: 8008\npatroni_password: Patroni.API",
                "'patroni_username'",
            ),
            (
                "patroni_port: 8008\npatroni_username: postgres",
                "'patroni_password'",
            ),
            (
                "patroni_username: postgres\npatroni_password: x",
                "'patroni_username'",
            ),
            (
                "patroni_port: 8008\npatroni_username: 'a:b'\npatroni_password: x",
                "'patroni_username'",
            ),
            (
                "patroni_port: 8008\npatroni_username: u\npatroni_password: ''",
                "'patroni_password'",
            ),
        ] {
            let e = api(yaml).unwrap_err();
            assert_eq!(e.code(), "invalid_setting", "{yaml}: {e}");
            assert!(e.to_string().contains(key), "{yaml}: {e}");
            assert!(!e.to_string().contains("Patroni.API"), "{yaml}: {e}");
        }
        // pitr's arguments: the username and the environment's password, both or neither.
        assert_eq!(PatroniAuth::from_arguments(None, None).unwrap(), None);
        assert_eq!(
            PatroniAuth::from_arguments(None, Some(String::new())).unwrap(),
            None
        );
        let e = PatroniAuth::from_arguments(Some("postgres"), None).unwrap_err();
        assert!(e.to_string().contains("'PITR_PATRONI_PASSWORD'"), "{e}");
        let e = PatroniAuth::from_arguments(None, Some("Patroni.API".into())).unwrap_err();
        assert!(e.to_string().contains("'--patroni-username'"), "{e}");
        assert!(!e.to_string().contains("Patroni.API"), "{e}");
        let given = PatroniAuth::from_arguments(Some("admin"), Some("s".into())).unwrap();
        let spec = crate::spec::ClusterSpec::from_yaml_str(
            "pg_cluster: pg-meta\npatroni_port: 8008\npatroni_username: postgres\n\
             patroni_password: Patroni.API",
        )
        .unwrap()
        .with_patroni_auth(given.as_ref());
        assert_eq!(spec.patroni.unwrap().auth, given);
    }

    #[test]
    fn a_ca_file_goes_with_https_only() {
        let ca = SafePath::constant("/etc/pki/ca.crt");
        let https: PatroniUrl = "https://127.0.0.1:8008".parse().unwrap();
        let http: PatroniUrl = "http://127.0.0.1:8008".parse().unwrap();
        let key = "patroni_ca_file";
        PatroniApi::new(https.clone(), Some(ca.clone()), key, "cluster spec").unwrap();
        PatroniApi::new(http.clone(), None, key, "cluster spec").unwrap();
        let e = PatroniApi::new(https, None, "--patroni-ca-file", "pitr's arguments").unwrap_err();
        assert_eq!(e.code(), "invalid_setting");
        assert!(e.to_string().contains("'--patroni-ca-file'"), "{e}");
        assert!(e.to_string().contains("is HTTPS"), "{e}");
        let e = PatroniApi::new(http, Some(ca), key, "cluster spec").unwrap_err();
        assert!(e.to_string().contains("plain HTTP"), "{e}");
    }
}
