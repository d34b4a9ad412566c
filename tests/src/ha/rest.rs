//! Patroni's REST API on loopback (no TLS; HTTP Basic credentials on the requests that change
//! Patroni when its `restapi.authentication` wants them), through
//! [`pitr_core::run::patroni::request`].

use std::io;
use std::time::Duration;

use pitr_core::patroni::PatroniAuth;

/// One request to `http://127.0.0.1:<port><path>`, with an optional JSON body and, for `POST`,
/// `PATCH` and `DELETE`, `auth`. Returns the status and the body as text.
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    json_body: Option<&str>,
    auth: Option<&PatroniAuth>,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    pitr_core::run::patroni::request(port, method, path, json_body, auth, timeout)
        .map_err(io::Error::other)
}
