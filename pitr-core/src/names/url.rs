//! `HostName` and `PatroniUrl`: where a member's Patroni REST API listens.
//!
//! A host is a DNS name, an IPv4 address or an IPv6 address; a URL is `http://HOST:PORT` or
//! `https://HOST:PORT` (IPv6 in brackets), nothing else: no user, path, query or fragment, so
//! what pitr asks is always `<url>/primary`. Both reach cron lines (through `/bin/sh`) and
//! messages; DNS names and IPv4 addresses use only letters, digits, `.`, `-` and `:`, and an
//! IPv6 URL is quoted where a shell reads it.
//!
//! ```
//! use pitr_core::names::PatroniUrl;
//! let url: PatroniUrl = "http://127.0.0.1:8008".parse().unwrap();
//! assert_eq!((url.is_tls(), url.port()), (false, 8008));
//! let url: PatroniUrl = "https://[::1]".parse().unwrap();
//! assert_eq!(url.to_string(), "https://[::1]:8008");
//! assert!("http://127.0.0.1:8008/primary".parse::<PatroniUrl>().is_err());
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::serde_as_string;
use crate::error::Error;

/// Pigsty's `patroni_port`: where Patroni's REST API listens unless told otherwise.
pub const DEFAULT_PATRONI_PORT: u16 = 8008;

/// A host to connect to: a DNS name (labels of ASCII letters, digits and `-`, at most 253
/// bytes), an IPv4 address or an IPv6 address (written without brackets).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HostName(Host);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Host {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

const HOST_HINT: &str = "expected a DNS name (letters, digits, '-' and '.'), an IPv4 or an IPv6 address, e.g. 127.0.0.1";

impl HostName {
    /// The loopback address, `127.0.0.1`.
    pub fn loopback() -> HostName {
        HostName(Host::V4(Ipv4Addr::LOCALHOST))
    }

    /// How the host is written in a URL: an IPv6 address in brackets.
    pub fn url_form(&self) -> String {
        match &self.0 {
            Host::V6(a) => format!("[{a}]"),
            _ => self.to_string(),
        }
    }

    fn is_dns_name(s: &str) -> bool {
        s.len() <= 253
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            // A name of digits and dots only would be a malformed IPv4 address.
            && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    }
}

impl FromStr for HostName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        HostName::parse("host", s)
    }
}

impl HostName {
    /// Validates `s`, the value of `kind` (e.g. `"patroni_host"`), which an error names.
    pub fn parse(kind: &'static str, s: &str) -> Result<HostName, Error> {
        let bare = s
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(a) = bare.parse::<Ipv6Addr>() {
            return Ok(HostName(Host::V6(a)));
        }
        if let Ok(a) = s.parse::<Ipv4Addr>() {
            return Ok(HostName(Host::V4(a)));
        }
        if Self::is_dns_name(s) {
            return Ok(HostName(Host::Name(s.to_ascii_lowercase())));
        }
        Err(Error::invalid(kind, s, HOST_HINT))
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "{a}"),
        }
    }
}

impl fmt::Debug for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostName({self})")
    }
}

serde_as_string!(HostName);

/// The base URL of a Patroni REST API: `http[s]://HOST:PORT` (see the module docs).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PatroniUrl {
    tls: bool,
    host: HostName,
    port: u16,
}

const URL_HINT: &str = "expected http://HOST:PORT or https://HOST:PORT (port 8008 when left \
    out), e.g. http://127.0.0.1:8008, with no path, user or query";

impl PatroniUrl {
    /// A URL from its parts; `port` 0 is refused.
    pub fn new(tls: bool, host: HostName, port: u16) -> Result<PatroniUrl, Error> {
        if port == 0 {
            return Err(Error::invalid("port", "0", "expected 1-65535"));
        }
        Ok(PatroniUrl { tls, host, port })
    }

    /// Whether the API is served over HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The host.
    pub fn host(&self) -> &HostName {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of an endpoint of the API, e.g. `endpoint("primary")`.
    pub fn endpoint(&self, name: &str) -> String {
        format!("{self}/{name}")
    }
}

impl FromStr for PatroniUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("Patroni REST API URL", s, URL_HINT);
        let (tls, rest) = if let Some(rest) = s.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = s.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(bad());
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['/', '@', '?', '#']) {
            return Err(bad());
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(bad)?),
            };
            (format!("[{host}]"), port)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (rest.to_owned(), None),
            }
        };
        let host: HostName = host.parse().map_err(|_| bad())?;
        let port = match port {
            None => DEFAULT_PATRONI_PORT,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
        };
        PatroniUrl::new(tls, host, port)
    }
}

impl fmt::Display for PatroniUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host.url_form(), self.port)
    }
}

impl fmt::Debug for PatroniUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PatroniUrl({self})")
    }
}

serde_as_string!(PatroniUrl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_to_their_canonical_form() {
        for (text, shown, url) in [
            ("127.0.0.1", "127.0.0.1", "127.0.0.1"),
            ("10.10.10.10", "10.10.10.10", "10.10.10.10"),
            ("::1", "::1", "[::1]"),
            ("[::1]", "::1", "[::1]"),
            ("Pg-Meta-1.Pigsty", "pg-meta-1.pigsty", "pg-meta-1.pigsty"),
            ("localhost", "localhost", "localhost"),
        ] {
            let h: HostName = text.parse().unwrap();
            assert_eq!(
                (h.to_string().as_str(), h.url_form().as_str()),
                (shown, url)
            );
        }
    }

    #[test]
    fn hosts_a_shell_or_url_would_misread_are_refused() {
        for text in [
            "",
            "a b",
            "-x",
            "x-",
            "a..b",
            "a_b",
            "$(id)",
            "h;rm",
            "h/x",
            "h:1",
            "999.1.1.1",
            "1.2.3",
            "a\nb",
            "[::1",
            &"a".repeat(64),
        ] {
            let e = text.parse::<HostName>().unwrap_err();
            assert_eq!(e.code(), "invalid_value", "{text:?}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn urls_parse_and_print_back() {
        for (text, shown) in [
            ("http://127.0.0.1:8008", "http://127.0.0.1:8008"),
            ("http://127.0.0.1:8008/", "http://127.0.0.1:8008"),
            ("http://127.0.0.1", "http://127.0.0.1:8008"),
            ("https://pg-meta-1:18008", "https://pg-meta-1:18008"),
            ("https://[::1]:8008", "https://[::1]:8008"),
            ("http://[fe80::1]", "http://[fe80::1]:8008"),
        ] {
            let url: PatroniUrl = text.parse().unwrap();
            assert_eq!(url.to_string(), shown);
            assert_eq!(url.to_string().parse::<PatroniUrl>().unwrap(), url);
        }
        let url: PatroniUrl = "https://h:1".parse().unwrap();
        assert_eq!(url.endpoint("primary"), "https://h:1/primary");
    }

    #[test]
    fn urls_with_more_than_scheme_host_and_port_are_refused() {
        for text in [
            "127.0.0.1:8008",
            "ftp://h:1",
            "http://",
            "http://:8008",
            "http://h:0",
            "http://h:65536",
            "http://h:+1",
            "http://h:",
            "http://h:80/primary",
            "http://u:p@h:80",
            "http://h:80?x=1",
            "http://h:80#x",
            "http://::1:8008",
            "http://[::1]8008",
            "http://h$(id):1",
            "HTTP://h:1",
        ] {
            let e = text.parse::<PatroniUrl>().unwrap_err();
            assert_eq!(e.code(), "invalid_value", "{text:?}");
            assert!(e.to_string().contains("http://HOST:PORT"), "{e}");
        }
    }
}
