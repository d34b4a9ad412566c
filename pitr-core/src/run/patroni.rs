//! Asking a member's Patroni REST API, with a small blocking HTTP client (`ureq`).
//!
//! One request, `GET <url>/primary`, with short timeouts ([`CONNECT_TIMEOUT`],
//! [`REQUEST_TIMEOUT`]): cron must not hang on a Patroni that does not answer, and a slow
//! answer is as good as none for deciding who backs up. No proxy from the environment, no
//! redirects, a body of at most [`MAX_BODY`] bytes. HTTPS verifies Patroni's certificate
//! against the configured CA file only (PEM; Pigsty's `/etc/pki/ca.crt` by default), never
//! the system's or a built-in list. Patroni's client-certificate authentication
//! (`restapi.verify_client: required`) is not supported.
//!
//! The answer, or why there is none, goes to [`crate::role::from_patroni`] as it is: an
//! unreachable API is a fact for the decision, not an error of its own.

use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::patroni::{ClusterView, PatroniAnswer, PatroniApi};

/// How long to wait for a TCP (and TLS) connection to the REST API.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the whole request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest body read (Patroni's state document is well under 4 KiB).
pub const MAX_BODY: u64 = 256 * 1024;

/// `GET <url>/primary`: the status (200 when the member holds the leader lock, else 503) and
/// the member's state document; `Err` says, on one line, why there is no usable answer
/// (connection refused, timeout, certificate not trusted, not Patroni's document, ...).
pub fn ask_primary(api: &PatroniApi) -> Result<PatroniAnswer, String> {
    let (status, body) = api_request(api, "primary", None)?;
    PatroniAnswer::parse(status, &body)
}

/// One request to the REST API at `path` (`/cluster`, `/config`, ...): `GET` without a body,
/// `PATCH` with a JSON one. The status and body, or why there is no answer, on one line.
pub fn api_request(
    api: &PatroniApi,
    path: &str,
    patch_body: Option<&serde_json::Value>,
) -> Result<(u16, String), String> {
    let agent = agent(api)?;
    let url = api.url.endpoint(path.trim_start_matches('/'));
    let sent = match patch_body {
        None => agent.get(&url).header("Accept", "application/json").call(),
        Some(body) => agent
            .patch(&url)
            .header("Content-Type", "application/json")
            .send(body.to_string()),
    };
    let mut response = sent.map_err(|e| crate::error::one_line(&e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| crate::error::one_line(&format!("reading the answer: {e}")))?;
    Ok((status, body))
}

/// `GET <url>/cluster`: the members Patroni knows, their roles, states, hosts and timelines.
pub fn ask_cluster(api: &PatroniApi) -> Result<ClusterView, String> {
    let (status, body) = api_request(api, "cluster", None)?;
    ClusterView::parse(status, &body)
}

/// `GET <url>/patroni`: the member's own state document (200 when PostgreSQL runs, 503
/// otherwise).
pub fn ask_state(api: &PatroniApi) -> Result<PatroniAnswer, String> {
    let (status, body) = api_request(api, "patroni", None)?;
    PatroniAnswer::parse(status, &body)
}

/// `PATCH <url>/config {"pause": pause}`: pauses or resumes automatic failover.
pub fn set_pause(api: &PatroniApi, pause: bool) -> Result<(), String> {
    let (status, body) = api_request(api, "config", Some(&serde_json::json!({ "pause": pause })))?;
    if status == 200 {
        Ok(())
    } else {
        Err(crate::error::one_line(&format!(
            "PATCH /config answered HTTP {status}: {body}"
        )))
    }
}

/// One request to a Patroni REST API on loopback, `http://127.0.0.1:<port><path>` (no TLS),
/// with an optional JSON body: `GET`, `POST`, `PATCH` or `DELETE`. Returns the status and the
/// body as text; `Err` says, on one line, why there is no answer. For the sandbox and the
/// tests, which drive the members they started (switchover, reload, pause); `timeout` bounds
/// the whole request (a switchover answers when it is done).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    json_body: Option<&str>,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let agent: ureq::Agent = base_config(timeout).build().into();
    let url = format!("http://127.0.0.1:{port}{path}");
    let one_line = |e: ureq::Error| crate::error::one_line(&e.to_string());
    let body = json_body.unwrap_or("");
    let sent = match method {
        "GET" => agent.get(&url).call(),
        "DELETE" => agent.delete(&url).call(),
        "POST" => agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body),
        "PATCH" => agent
            .patch(&url)
            .header("Content-Type", "application/json")
            .send(body),
        other => return Err(format!("unsupported HTTP method {other}")),
    };
    let mut response = sent.map_err(one_line)?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| crate::error::one_line(&format!("reading the answer: {e}")))?;
    Ok((status, text))
}

/// Timeouts (connect, and `timeout` for the whole request), no proxy, no redirects, HTTP
/// statuses as answers.
fn base_config(timeout: Duration) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .proxy(None)
        .user_agent(concat!("pitr/", env!("CARGO_PKG_VERSION")))
}

/// An agent for `api`: timeouts, no proxy, no redirects, HTTP statuses as answers, and for
/// HTTPS the CA file's certificates as the only roots.
fn agent(api: &PatroniApi) -> Result<ureq::Agent, String> {
    let mut config = base_config(REQUEST_TIMEOUT);
    if api.url.is_tls() {
        let Some(ca_file) = &api.ca_file else {
            return Err("no CA file to verify the HTTPS certificate with".into());
        };
        let pem = std::fs::read(ca_file)
            .map_err(|e| format!("cannot read the CA file '{ca_file}': {e}"))?;
        let certs = certificates(&pem).map_err(|e| format!("CA file '{ca_file}': {e}"))?;
        config = config.tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(certs)))
                .build(),
        );
    }
    Ok(config.build().into())
}

/// The certificates of a PEM file (keys in it are skipped); at least one.
fn certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let PemItem::Certificate(c) = item.map_err(|e| format!("not PEM: {e}"))? {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A one-shot HTTP server on loopback answering `response`; returns its port.
    pub(crate) fn serve_once(response: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        port
    }

    #[test]
    fn a_503_is_an_answer_not_an_error() {
        let port = serve_once(
            "HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n\
             {\"state\": \"running\", \"role\": \"replica\"}",
        );
        let answer = ask_primary(&PatroniApi::local(port).unwrap()).unwrap();
        assert_eq!(answer.status, 503);
        assert_eq!(answer.doc.role.as_deref(), Some("replica"));
    }

    #[test]
    fn requests_return_status_and_body_and_refuse_other_methods() {
        let port = serve_once("HTTP/1.0 200 OK\r\n\r\nSuccessfully switched over");
        let answer = request(
            port,
            "POST",
            "/switchover",
            Some(r#"{"leader": "a", "candidate": "b"}"#),
            Duration::from_secs(5),
        );
        assert_eq!(answer, Ok((200, "Successfully switched over".to_owned())));
        let port = serve_once("HTTP/1.0 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}");
        let answer = request(port, "GET", "/replica", None, Duration::from_secs(5));
        assert_eq!(answer, Ok((503, "{}".to_owned())));
        let e = request(port, "TRACE", "/", None, Duration::from_secs(1)).unwrap_err();
        assert!(e.contains("TRACE"), "{e}");
    }

    #[test]
    fn a_closed_port_says_so() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = ask_primary(&PatroniApi::local(port).unwrap()).unwrap_err();
        assert!(e.to_lowercase().contains("refused"), "{e}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let since = std::time::Instant::now();
        let e = ask_primary(&PatroniApi::local(port).unwrap()).unwrap_err();
        assert!(
            since.elapsed() < REQUEST_TIMEOUT + Duration::from_secs(2),
            "{e}"
        );
        assert!(e.to_lowercase().contains("timeout"), "{e}");
        drop(listener);
    }

    #[test]
    fn a_redirect_is_not_followed() {
        let port = serve_once("HTTP/1.0 302 Found\r\nLocation: http://example.com/\r\n\r\n");
        let e = ask_primary(&PatroniApi::local(port).unwrap()).unwrap_err();
        assert!(e.contains("HTTP 302"), "{e}");
    }

    #[test]
    fn ca_files_without_certificates_are_refused() {
        assert!(
            certificates(b"")
                .unwrap_err()
                .contains("no PEM certificate")
        );
        assert!(
            certificates(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
