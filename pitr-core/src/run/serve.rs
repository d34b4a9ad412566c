//! Serving the exporter's HTTP endpoints to clients that may be hostile.
//!
//! `axum::serve` keeps a connection as long as the client likes: a client that opens a
//! socket and sends nothing, or sends a request a byte at a time, holds a task, a descriptor
//! and a buffer forever. This accept loop serves an axum router over HTTP/1.1 with hyper and
//! bounds every connection:
//!
//! * **header timeout** — the request line and headers must arrive within it, counted from the
//!   connection's start (and, on a kept-alive connection, from the end of the last response);
//! * **connection lifetime** — after it the connection is shut down gracefully (an answer in
//!   progress is finished), so neither a slow reader nor a stream of requests keeps it;
//! * **connection cap** — at most that many connections are served at once; a connection
//!   beyond it is accepted and closed at once, so it cannot queue in the kernel and
//!   the cap cannot be exceeded by waiting.
//!
//! Idle and slow connections cost one task each and no CPU, so a scrape is answered at once
//! while hundreds of them are open (`tests/tests/exporter_abuse_e2e.rs`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::error::{Error, Result};

/// The bounds on connections (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At most this many connections are served at once.
    pub max_connections: usize,
    /// The request line and headers must arrive within this time.
    pub header_timeout: Duration,
    /// A connection is closed (gracefully) after this time.
    pub connection_lifetime: Duration,
}

impl Limits {
    /// The exporter's defaults: 1024 connections, 5 s for the headers, 60 s per connection.
    pub const DEFAULT: Limits = Limits {
        max_connections: 1024,
        header_timeout: Duration::from_secs(5),
        connection_lifetime: Duration::from_secs(60),
    };

    /// Checks the bounds: each must be at least 1 (connection, second).
    pub fn validate(self) -> Result<Limits> {
        let bad = |key: &str, message: &str| {
            Err(Error::InvalidSetting {
                key: key.into(),
                context: "pitr exporter".into(),
                message: message.into(),
            })
        };
        if self.max_connections == 0 {
            return bad("max-connections", "must be at least 1");
        }
        if self.header_timeout < Duration::from_secs(1) {
            return bad("header-timeout", "must be at least 1 second");
        }
        if self.connection_lifetime < self.header_timeout {
            return bad("connection-lifetime", "must be at least the header timeout");
        }
        Ok(self)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Raises this process's soft limit of open files so that `limits.max_connections`
/// connections fit beside `reserve` other descriptors; returns the connection cap that fits
/// (lower than asked when the hard limit is too low).
pub fn fit_descriptor_limit(limits: Limits, reserve: u64) -> Limits {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let wanted = limits.max_connections as u64 + reserve;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return limits;
    };
    let mut soft_now = soft;
    if soft < wanted {
        let target = wanted.min(hard);
        if setrlimit(Resource::RLIMIT_NOFILE, target, hard).is_ok() {
            soft_now = target;
        }
    }
    let fits = usize::try_from(soft_now.saturating_sub(reserve)).unwrap_or(usize::MAX);
    Limits {
        max_connections: limits.max_connections.min(fits.max(1)),
        ..limits
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, lets the connections finish their answers, and returns.
pub async fn serve<F>(listener: TcpListener, app: Router, limits: Limits, shutdown: F) -> Result<()>
where
    F: Future<Output = ()> + Send,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Connections watch this to shut down gracefully; their receivers tell when all are done.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            // Out of descriptors, or a connection reset before it was accepted: the error is
            // the client's or passes; do not spin on it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Over the cap: closed at once.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(64 * 1024);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let lifetime = tokio::time::sleep(limits.connection_lifetime);
            let mut lifetime = std::pin::pin!(lifetime);
            let mut closing = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    () = &mut lifetime => {
                        if closing {
                            break;
                        }
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                        // An answer in progress gets the header timeout to be taken.
                        lifetime.as_mut().reset(tokio::time::Instant::now() + limits.header_timeout);
                    }
                    _ = stop.changed(), if !closing => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    stop_tx.send_replace(true);
    drop(stop_rx);
    // Every connection task holds a receiver; `closed` resolves when the last one ends.
    stop_tx.closed().await;
    Ok(())
}
