//! Patroni's REST API on loopback (no TLS, no authentication), through
//! [`pitr_core::run::patroni::request`].

use std::io;
use std::time::Duration;

/// One request to `http://127.0.0.1:<port><path>`, with an optional JSON body. Returns the status
/// and the body as text.
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    json_body: Option<&str>,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    pitr_core::run::patroni::request(port, method, path, json_body, timeout)
        .map_err(io::Error::other)
}
