//! `pitr exporter`: serves `/metrics` with axum; the refresh runs on its own thread in the core.

use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::tz::TimeZone;
use pitr_core::metrics::CONTENT_TYPE;
use pitr_core::ops::exporter::{Collector, ExporterState, Limits, RefreshReport};

use crate::cli::{ExporterArgs, GlobalArgs};
use crate::output;

/// What the handlers share.
#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<ExporterState>>,
    time_zone: TimeZone,
}

pub(crate) fn run(global: &GlobalArgs, args: &ExporterArgs) -> anyhow::Result<ExitCode> {
    let node = super::node(global, &args.node)?;
    let collector = Collector::new(&node)?;
    let state = Arc::new(Mutex::new(ExporterState::new(
        collector.stanza(),
        args.interval,
    )));
    let shared = Shared {
        state,
        time_zone: TimeZone::system(),
    };
    if args.once {
        let report = collector.refresh(&shared.state);
        let failed = report.error.is_some();
        log(report);
        output::print(&render(&shared)?)?;
        return Ok(if failed {
            ExitCode::from(output::EXIT_FAILED)
        } else {
            ExitCode::SUCCESS
        });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, collector, shared))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: &ExporterArgs, collector: Collector, shared: Shared) -> anyhow::Result<()> {
    let asked = Limits {
        max_connections: args.max_connections as usize,
        header_timeout: Duration::from_secs(args.header_timeout),
        connection_lifetime: Duration::from_secs(args.connection_lifetime),
    }
    .validate()?;
    // Descriptors beside the connections: the listener, the runtime, pgBackRest's pipes.
    let limits = pitr_core::ops::exporter::fit_descriptor_limit(asked, 64);
    if limits.max_connections < asked.max_connections {
        eprintln!(
            "pitr exporter: warning: the open-files limit allows {} connections, not {}",
            limits.max_connections, asked.max_connections
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let refresher = collector.spawn(
        shared.state.clone(),
        Duration::from_secs(args.interval),
        log,
    )?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/", get(landing))
        .with_state(shared);
    eprintln!(
        "pitr exporter: serving http://{addr}/metrics, refreshing every {} s, at most {} \
         connections",
        args.interval, limits.max_connections
    );
    pitr_core::ops::exporter::serve(listener, app, limits, shutdown()).await?;
    refresher.stop();
    eprintln!("pitr exporter: stopped");
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

fn render(shared: &Shared) -> pitr_core::Result<String> {
    shared
        .state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .render(jiff::Timestamp::now(), shared.time_zone.clone())
}

async fn metrics(State(shared): State<Shared>) -> Response {
    match render(&shared) {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("error[{}]: {e}\n", e.code()),
        )
            .into_response(),
    }
}

async fn landing() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<html><head><title>pitr exporter</title></head><body><h1>pitr exporter</h1>\
         <p><a href=\"/metrics\">Metrics</a></p></body></html>\n",
    )
}

/// Logs a refresh's problems to stderr.
fn log(report: RefreshReport) {
    if let Some((code, message)) = report.error {
        eprintln!(
            "pitr exporter: refresh failed, serving the last good data: error[{code}]: {message}"
        );
    }
    for w in report.warnings {
        eprintln!("pitr exporter: warning: {w}");
    }
}
