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
//! Requests that change Patroni (`PATCH`, `POST`, `DELETE`) carry HTTP Basic credentials when
//! the API has them ([`PatroniApi::auth`], Patroni's `restapi.authentication`); `GET`s, which
//! Patroni answers to anyone, never do. A 401 or 403 to such a request is
//! [`Error::PatroniAuth`], final: retrying cannot help. [`check_auth`] asks it of a member
//! without changing anything, for a pre-flight.
//!
//! The answer, or why there is none, goes to [`crate::role::from_patroni`] as it is: an
//! unreachable API is a fact for the decision, not an error of its own.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{Error, one_line};
use crate::patroni::{ClusterView, PatroniAnswer, PatroniApi, PatroniAuth};

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
/// `PATCH` with a JSON one (with the API's credentials, if any). The status and body, or why
/// there is no answer, on one line.
pub fn api_request(
    api: &PatroniApi,
    path: &str,
    patch_body: Option<&serde_json::Value>,
) -> Result<(u16, String), String> {
    let agent = agent(api)?;
    let url = api.url.endpoint(path.trim_start_matches('/'));
    let body = patch_body.map(ToString::to_string);
    let method = if body.is_some() { "PATCH" } else { "GET" };
    send(&agent, method, &url, body.as_deref(), api.auth.as_ref())
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

/// `PATCH <url>/config {"pause": pause}`: pauses or resumes automatic failover. The outer
/// `Err` is a refusal of pitr's credentials (final); the inner one any other failure, which a
/// retry may overcome.
pub fn set_pause(api: &PatroniApi, pause: bool) -> crate::error::Result<Result<(), String>> {
    let request = "PATCH /config";
    let (status, body) =
        match api_request(api, "config", Some(&serde_json::json!({ "pause": pause }))) {
            Ok(answer) => answer,
            Err(e) => return Ok(Err(e)),
        };
    if let Some(refused) = refusal(api, request, status, &body) {
        return Err(refused);
    }
    Ok(if status == 200 {
        Ok(())
    } else {
        Err(one_line(&format!(
            "{request} answered HTTP {status}: {body}"
        )))
    })
}

/// Whether the member's REST API takes pitr's credentials (or wants none) for requests that
/// change Patroni, without changing anything: `PATCH /config {}`, which Patroni checks for
/// credentials first and then refuses as an empty change (HTTP 400). `Ok(Err)` says why there
/// is no answer.
pub fn check_auth(api: &PatroniApi) -> crate::error::Result<Result<(), String>> {
    let (status, body) = match api_request(api, "config", Some(&serde_json::json!({}))) {
        Ok(answer) => answer,
        Err(e) => return Ok(Err(e)),
    };
    refusal(api, "PATCH /config", status, &body).map_or(Ok(Ok(())), Err)
}

/// [`Error::PatroniAuth`] when `status` is Patroni's refusal of a request's credentials: 401
/// (`restapi.authentication`) or 403 (`restapi.allowlist`, a client certificate).
fn refusal(api: &PatroniApi, request: &str, status: u16, body: &str) -> Option<Error> {
    let hint = match (status, &api.auth) {
        (401, None) => "it asks for credentials (restapi.authentication): set patroni_username \
            and patroni_password in the cluster spec (Pigsty's variables; --patroni-username \
            and PITR_PATRONI_PASSWORD for `pitr restore --cluster`) to the username and \
            password of restapi.authentication in its patroni.yml"
            .to_owned(),
        (401, Some(auth)) => format!(
            "it does not take the credentials of patroni_username '{}': set patroni_username \
             and patroni_password to those of restapi.authentication in its patroni.yml",
            auth.username
        ),
        (403, _) => "its restapi.allowlist or restapi.verify_client keeps pitr out: allow this \
            host's address (client certificates are not supported)"
            .to_owned(),
        _ => return None,
    };
    Some(Error::PatroniAuth {
        url: api.url.to_string(),
        request: request.to_owned(),
        status,
        said: excerpt(body),
        hint: format!("{hint}; nothing was changed by this request"),
    })
}

/// The start of an answer's body, on one line, for messages.
fn excerpt(body: &str) -> String {
    let cut: String = body.trim().chars().take(120).collect();
    if cut.is_empty() {
        "no body".into()
    } else {
        one_line(&cut)
    }
}

/// One request to a Patroni REST API on loopback, `http://127.0.0.1:<port><path>` (no TLS),
/// with an optional JSON body: `GET`, `POST`, `PATCH` or `DELETE`, the last three with `auth`
/// when given. Returns the status and the body as text; `Err` says, on one line, why there is
/// no answer. For the sandbox and the tests, which drive the members they started
/// (switchover, reload, pause); `timeout` bounds the whole request (a switchover answers when
/// it is done).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    json_body: Option<&str>,
    auth: Option<&PatroniAuth>,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let agent: ureq::Agent = base_config(timeout).build().into();
    let url = format!("http://127.0.0.1:{port}{path}");
    send(&agent, method, &url, json_body, auth)
}

/// Sends one request: `GET` (no body, no credentials), or `POST`, `PATCH`, `DELETE` with
/// `auth`'s Basic credentials when given (a placeholder password is refused, never sent).
fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    json_body: Option<&str>,
    auth: Option<&PatroniAuth>,
) -> Result<(u16, String), String> {
    let authorization = match auth.filter(|_| method != "GET") {
        Some(a) if a.is_placeholder() => {
            return Err(format!(
                "the password of Patroni user '{}' was redacted in this plan and is not in the \
                 member's spec: give patroni_password in its spec",
                a.username
            ));
        }
        Some(a) => Some(basic(a)),
        None => None,
    };
    let authorization = authorization.as_deref();
    let body = json_body.unwrap_or("");
    let sent = match method {
        "GET" => agent.get(url).header("Accept", "application/json").call(),
        "DELETE" => authorized(agent.delete(url), authorization).call(),
        "POST" => authorized(agent.post(url), authorization)
            .header("Content-Type", "application/json")
            .send(body),
        "PATCH" => authorized(agent.patch(url), authorization)
            .header("Content-Type", "application/json")
            .send(body),
        other => return Err(format!("unsupported HTTP method {other}")),
    };
    let mut response = sent.map_err(|e| one_line(&e.to_string()))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| one_line(&format!("reading the answer: {e}")))?;
    Ok((status, text))
}

/// `request` with the `Authorization` header, when there is one.
fn authorized<B>(
    request: ureq::RequestBuilder<B>,
    authorization: Option<&str>,
) -> ureq::RequestBuilder<B> {
    match authorization {
        Some(value) => request.header("Authorization", value),
        None => request,
    }
}

/// The `Authorization` header's value: `Basic base64(username:password)`.
fn basic(auth: &PatroniAuth) -> String {
    let pair = format!("{}:{}", auth.username, auth.password.expose());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
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
        serve_in_turn(vec![response])
    }

    /// An HTTP server on loopback answering one connection after the other with `responses`,
    /// in order; returns its port.
    pub(crate) fn serve_in_turn(responses: Vec<&'static str>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for response in responses {
                if let Ok((mut stream, _)) = listener.accept() {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf);
                    let _ = stream.write_all(response.as_bytes());
                }
            }
        });
        port
    }

    /// As [`serve_once`], and what the client sent (its request line and headers).
    fn serve_and_capture(response: &'static str) -> (u16, std::sync::mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let n = stream.read(&mut buf).unwrap_or(0);
                let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
                let _ = stream.write_all(response.as_bytes());
            }
        });
        (port, rx)
    }

    const PASSWORD: &str = "Patroni.API-S3cret";

    fn with_auth(port: u16) -> PatroniApi {
        let auth = PatroniAuth {
            username: "postgres".into(),
            password: crate::names::Secret::new(PASSWORD),
        };
        PatroniApi::local(port).unwrap().with_auth(Some(auth))
    }

    fn sent_auth(sent: &str) -> Option<String> {
        sent.lines()
            .find_map(|l| {
                l.strip_prefix("authorization: ")
                    .or(l.strip_prefix("Authorization: "))
            })
            .map(str::to_owned)
    }

    #[test]
    fn credentials_go_only_with_changes_and_only_when_configured() {
        let ok = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        // base64("postgres:Patroni.API-S3cret")
        let (port, sent) = serve_and_capture(ok);
        set_pause(&with_auth(port), true).unwrap().unwrap();
        assert_eq!(
            sent_auth(&sent.recv().unwrap()).as_deref(),
            Some("Basic cG9zdGdyZXM6UGF0cm9uaS5BUEktUzNjcmV0")
        );
        let (port, sent) = serve_and_capture(ok);
        set_pause(&PatroniApi::local(port).unwrap(), true)
            .unwrap()
            .unwrap();
        assert_eq!(sent_auth(&sent.recv().unwrap()), None);
        // GETs are open in Patroni: the credentials stay home.
        let (port, sent) = serve_and_capture(
            "HTTP/1.0 200 OK\r\n\r\n{\"state\": \"running\", \"role\": \"master\"}",
        );
        ask_primary(&with_auth(port)).unwrap();
        assert_eq!(sent_auth(&sent.recv().unwrap()), None);
        // The loopback helper of the sandbox and the tests does the same.
        let (port, sent) = serve_and_capture(ok);
        let auth = with_auth(port).auth;
        let timeout = Duration::from_secs(5);
        request(
            port,
            "POST",
            "/switchover",
            Some("{}"),
            auth.as_ref(),
            timeout,
        )
        .unwrap();
        assert!(sent_auth(&sent.recv().unwrap()).is_some());
    }

    #[test]
    fn a_refusal_names_the_api_and_what_to_do_never_the_password() {
        let unauthorized = "HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic \
             realm=\"Patroni\"\r\n\r\nnot authenticated";
        let port = serve_once(unauthorized);
        let e = set_pause(&with_auth(port), true).unwrap_err();
        assert_eq!(e.code(), "patroni_auth");
        let text = e.to_string();
        assert!(text.contains(&format!("http://127.0.0.1:{port}")), "{text}");
        assert!(text.contains("HTTP 401 (not authenticated)"), "{text}");
        assert!(text.contains("patroni_username 'postgres'"), "{text}");
        assert!(
            !text.contains(PASSWORD) && !text.contains("cG9zdGdyZXM6"),
            "{text}"
        );
        // Without credentials: say which to give.
        let port = serve_once("HTTP/1.0 401 Unauthorized\r\n\r\nno auth header received");
        let e = check_auth(&PatroniApi::local(port).unwrap()).unwrap_err();
        assert!(e.to_string().contains("patroni_password"), "{e}");
        let port = serve_once("HTTP/1.0 403 Forbidden\r\n\r\nAccess is denied");
        let e = check_auth(&PatroniApi::local(port).unwrap()).unwrap_err();
        assert!(e.to_string().contains("allowlist"), "{e}");
        // An empty change refused as such: the credentials are good.
        let port = serve_once("HTTP/1.0 400 Bad Request\r\n\r\n");
        assert_eq!(check_auth(&with_auth(port)).unwrap(), Ok(()));
    }

    #[test]
    fn a_redacted_password_is_never_sent() {
        let (port, sent) = serve_and_capture("HTTP/1.0 200 OK\r\n\r\n{}");
        let mut api = with_auth(port);
        api = serde_json::from_str(&serde_json::to_string(&api).unwrap()).unwrap();
        let e = set_pause(&api, true).unwrap().unwrap_err();
        assert!(e.contains("redacted"), "{e}");
        assert!(
            sent.recv_timeout(Duration::from_millis(300)).is_err(),
            "nothing was sent"
        );
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
            None,
            Duration::from_secs(5),
        );
        assert_eq!(answer, Ok((200, "Successfully switched over".to_owned())));
        let port = serve_once("HTTP/1.0 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}");
        let answer = request(port, "GET", "/replica", None, None, Duration::from_secs(5));
        assert_eq!(answer, Ok((503, "{}".to_owned())));
        let e = request(port, "TRACE", "/", None, None, Duration::from_secs(1)).unwrap_err();
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
