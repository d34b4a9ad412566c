//! Whether this member is the primary, as backups see it, and where that came from.
//!
//! `pitr backup` runs from cron on every member; only the primary may back up. Without Patroni
//! the answer is PostgreSQL's own ([`RoleFinding::from_recovery`], `pg_is_in_recovery()`). With
//! Patroni configured (`patroni_enabled`/`patroni_port`, or `--patroni`), the source of truth
//! is Patroni, checked against PostgreSQL ([`from_patroni`]): a leader can change at any
//! moment, and a member that cannot tell must not guess.
//!
//! | Patroni's answer to `GET /primary` | PostgreSQL | role |
//! |---|---|---|
//! | none (unreachable, timeout, not Patroni's document) | — | unknown |
//! | `patroni.scope` is not the stanza | — | unknown |
//! | `state` is not `running` | — | unknown |
//! | `cluster_unlocked`, failsafe mode not active | — | unknown |
//! | 200 (leader lock), `role` `master`/`primary` | not in recovery | **primary** |
//! | 503, `role` `replica`/`standby_leader` | in recovery | **replica** (skips) |
//! | anything else (they disagree; a promotion or demotion is under way) | | unknown |
//!
//! An unknown role is [`Error::RoleUnknown`] (`role_unknown`): the message names the endpoint,
//! quotes what Patroni said and says what to do. Failsafe mode counts as a leader lock: Patroni
//! keeps the leader running only while every member acknowledges it.
//!
//! Everything here is pure: [`crate::run::patroni`] and [`crate::run::probe`] gather the
//! answers, [`crate::ops::backup`] composes them.
//!
//! ```
//! use pitr_core::patroni::PatroniAnswer;
//! use pitr_core::role::{Role, RoleSource, from_patroni, PatroniFacts};
//! let answer = PatroniAnswer::parse(503, r#"{"state": "running", "role": "replica",
//!     "timeline": 3, "patroni": {"scope": "pg-meta"}}"#);
//! let finding = from_patroni(&PatroniFacts {
//!     url: &"http://127.0.0.1:8008".parse().unwrap(),
//!     stanza: &"pg-meta".parse().unwrap(),
//!     answer,
//!     in_recovery: Ok(true),
//!     now: 1_700_000_000,
//! }).unwrap();
//! assert_eq!((finding.role, finding.source), (Role::Replica, RoleSource::Patroni));
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::names::{PatroniUrl, StanzaName};
use crate::patroni::{PatroniAnswer, PatroniDoc};

/// The instance's role, as backups see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Accepts writes (with Patroni: the leader).
    Primary,
    /// In recovery (streaming replica or standby).
    Replica,
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "primary" => Ok(Role::Primary),
            "replica" => Ok(Role::Replica),
            _ => Err(Error::invalid(
                "role",
                s,
                "expected 'primary' or 'replica' (or none, to ask Patroni or PostgreSQL)",
            )),
        }
    }
}

/// Where a role came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleSource {
    /// Patroni's REST API, checked against `pg_is_in_recovery()`.
    Patroni,
    /// `pg_is_in_recovery()` (Patroni not configured).
    #[default]
    Postgresql,
    /// The caller (Python's `role=`, the Ansible module's `role`).
    Given,
}

/// A role, where it came from, and why, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleFinding {
    /// The role.
    pub role: Role,
    /// Its source.
    pub source: RoleSource,
    /// The facts, e.g. `Patroni at http://127.0.0.1:8008 reports a running replica (timeline
    /// 3)` or `pg_is_in_recovery() is true`.
    pub why: String,
}

impl RoleFinding {
    /// A role the caller gave.
    pub fn given(role: Role) -> RoleFinding {
        let name = match role {
            Role::Primary => "primary",
            Role::Replica => "replica",
        };
        RoleFinding {
            role,
            source: RoleSource::Given,
            why: format!("the caller gave the role '{name}'"),
        }
    }

    /// The role `pg_is_in_recovery()` implies, for a node without Patroni.
    pub fn from_recovery(in_recovery: bool) -> RoleFinding {
        RoleFinding {
            role: if in_recovery {
                Role::Replica
            } else {
                Role::Primary
            },
            source: RoleSource::Postgresql,
            why: format!("pg_is_in_recovery() is {in_recovery}"),
        }
    }
}

/// What was gathered to decide a member's role with Patroni.
#[derive(Debug)]
pub struct PatroniFacts<'a> {
    /// The REST API asked.
    pub url: &'a PatroniUrl,
    /// The stanza, which must be Patroni's scope.
    pub stanza: &'a StanzaName,
    /// Its answer to `GET /primary`, or why there is none.
    pub answer: std::result::Result<PatroniAnswer, String>,
    /// `pg_is_in_recovery()`, or why PostgreSQL did not answer.
    pub in_recovery: std::result::Result<bool, String>,
    /// Now, in Unix seconds (for how long ago the DCS was last reached).
    pub now: i64,
}

/// What to do when Patroni cannot be asked.
const HINT_UNREACHABLE: &str = "check that Patroni runs on this member, that patroni_port, \
    patroni_host and patroni_ssl_enabled (or --patroni) point at its REST API and, for HTTPS, \
    that patroni_ca_file (or --patroni-ca-file) is the CA that signed its restapi.certfile";
/// What to do while a leader change settles.
const HINT_SETTLE: &str = "a switchover, failover or restart may be under way: check \
    `patronictl list`, and back up again once the leader and its replicas run";

/// Decides the role from Patroni's answer and PostgreSQL's (see the module docs).
pub fn from_patroni(facts: &PatroniFacts<'_>) -> Result<RoleFinding> {
    let unknown = |said: String, hint: &str| Error::RoleUnknown {
        endpoint: facts.url.to_string(),
        said,
        hint: hint.to_owned(),
    };
    let answer = match &facts.answer {
        Ok(a) => a,
        Err(e) => {
            return Err(unknown(
                format!("no usable answer from its REST API ({e})"),
                HINT_UNREACHABLE,
            ));
        }
    };
    let doc = &answer.doc;
    let said = doc.describe();
    match doc.scope() {
        Some(scope) if scope == facts.stanza.as_str() => {}
        scope => {
            return Err(unknown(
                format!(
                    "it serves cluster {}, not stanza '{}' ({said})",
                    scope.map_or_else(|| "(no scope given)".to_owned(), |s| format!("'{s}'")),
                    facts.stanza
                ),
                "point patroni_port and patroni_host (or --patroni) at this cluster's Patroni: \
                 pitr expects Patroni's scope to be the stanza (pg_cluster), as Pigsty sets both",
            ));
        }
    }
    if doc.state.as_deref() != Some("running") {
        return Err(unknown(
            format!("PostgreSQL is not running under Patroni ({said})"),
            HINT_SETTLE,
        ));
    }
    if doc.cluster_unlocked && !doc.failsafe_mode_is_active {
        return Err(unknown(
            format!(
                "no member holds the leader lock ({said}{})",
                dcs_age(doc, facts.now)
            ),
            "bring the DCS (etcd) back or let the failover finish: no member backs up until \
             one holds the leader lock",
        ));
    }
    let in_recovery = match &facts.in_recovery {
        Ok(r) => *r,
        Err(e) => {
            return Err(unknown(
                format!("Patroni reports {said}, but PostgreSQL did not answer ({e})"),
                HINT_SETTLE,
            ));
        }
    };
    let role = doc.role.as_deref().unwrap_or("");
    let writes = matches!(role, "master" | "primary");
    let follows = matches!(role, "replica" | "standby_leader");
    let extras: Vec<String> = doc
        .timeline
        .map(|t| format!("timeline {t}"))
        .into_iter()
        .chain(
            doc.failsafe_mode_is_active
                .then(|| "failsafe mode active".to_owned()),
        )
        .collect();
    let paren = if extras.is_empty() {
        String::new()
    } else {
        format!(" ({})", extras.join(", "))
    };
    match (answer.holds_leader_lock(), writes, follows, in_recovery) {
        (true, true, _, false) => Ok(RoleFinding {
            role: Role::Primary,
            source: RoleSource::Patroni,
            why: format!(
                "Patroni at {}: this member holds the leader lock and PostgreSQL is not in \
                 recovery{paren}",
                facts.url
            ),
        }),
        (false, _, true, true) => Ok(RoleFinding {
            role: Role::Replica,
            source: RoleSource::Patroni,
            why: format!(
                "Patroni at {} reports a running {}{paren}",
                facts.url,
                if role == "standby_leader" {
                    "standby leader of a standby cluster"
                } else {
                    "replica"
                }
            ),
        }),
        (true, _, _, _) => Err(unknown(
            format!(
                "this member holds the leader lock, but Patroni reports {said} and \
                 pg_is_in_recovery() is {in_recovery}"
            ),
            HINT_SETTLE,
        )),
        (false, true, _, _) | (false, _, true, false) => Err(unknown(
            format!(
                "this member does not hold the leader lock, Patroni reports {said} and \
                 pg_is_in_recovery() is {in_recovery}"
            ),
            HINT_SETTLE,
        )),
        (false, false, false, _) => Err(unknown(
            format!("Patroni reports neither a leader nor a replica ({said})"),
            HINT_SETTLE,
        )),
    }
}

/// `; the DCS was last reached 37 s ago`, or nothing when Patroni does not say.
fn dcs_age(doc: &PatroniDoc, now: i64) -> String {
    match doc.dcs_last_seen {
        Some(0) => "; the DCS has not been reached since Patroni started".into(),
        Some(seen) if seen <= now => {
            format!(
                "; the DCS was last reached {} s ago",
                now.saturating_sub(seen)
            )
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
