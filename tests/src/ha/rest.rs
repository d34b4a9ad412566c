//! A minimal HTTP/1.1 client for Patroni's REST API on loopback (no TLS, no authentication):
//! one request per connection, `Connection: close`, the body read to the end.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// How long to wait for a connection to a REST API.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One request to `http://127.0.0.1:<port><path>`, with an optional JSON body. Returns the status
/// and the body as text.
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    json_body: Option<&str>,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let body = json_body.unwrap_or("");
    let content_type = if json_body.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{content_type}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let _ = stream.shutdown(Shutdown::Both);
    parse_response(&response)
        .ok_or_else(|| io::Error::other(format!("malformed HTTP response from port {port}")))
}

/// Status and body of a complete HTTP response (no chunked encoding: Patroni sends a length or
/// closes the connection).
fn parse_response(response: &[u8]) -> Option<(u16, String)> {
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..head_end]);
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut body = &response[head_end + 4..];
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    if let Some(length) = length {
        body = body.get(..length)?;
    }
    Some((status, String::from_utf8_lossy(body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::parse_response;

    #[test]
    fn responses_parse_with_and_without_length() {
        assert_eq!(
            parse_response(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}"),
            Some((503, "{}".to_owned()))
        );
        assert_eq!(
            parse_response(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nSuccessfully"),
            Some((200, "Successfully".to_owned()))
        );
        assert_eq!(parse_response(b"HTTP/1.0 200 OK\r\n"), None);
    }
}
