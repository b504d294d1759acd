//! The Consentry collector: an HTTP service that will receive the widget's
//! signed consent receipts, check them and keep them in a tamper-evident log
//! (see `DESIGN.md`). Today it serves the widget and the demo page and
//! answers health checks; receipts and stores land in issue 3.
//!
//! The server is a library function, [`run`], so tests start the real thing on
//! `127.0.0.1:0`; `main.rs` only parses arguments and waits for a signal.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let state = consentry_collector::AppState::new(vec!["www".into(), "target/dist".into()]);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! consentry_collector::run(listener, state, consentry_collector::shutdown_signal()).await
//! # }
//! ```
//!
//! # Layout
//!
//! - [`AppState`]: what every handler shares; receipts and stores join it later.
//! - [`app`]: the router (`GET /healthz`, static files as the fallback).
//! - [`run`]: serve a bound listener until a shutdown future completes.
//! - `error`: [`AppError`], the one error type handlers return, as JSON.
//! - `static_files`: files from several directories, first match wins.

mod error;
mod static_files;

pub use error::AppError;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::Request;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// What every handler shares. Cheap to clone: the contents sit behind an
/// `Arc`, so adding the receipt store and keys later does not change callers.
#[derive(Clone, Debug, Default)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Directories served at `/`, in order: a path is looked up in the first
    /// one, then the next, so the demo page (`www/`) can sit on top of the
    /// built widget (`target/dist/`). Empty means no static files at all.
    static_dirs: Vec<PathBuf>,
}

impl AppState {
    /// A state serving `static_dirs` (first match wins).
    pub fn new(static_dirs: Vec<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner { static_dirs }),
        }
    }

    pub(crate) fn static_dirs(&self) -> &[PathBuf] {
        &self.inner.static_dirs
    }
}

/// The collector's routes. Anything that is not an API route is looked up in
/// the static directories.
pub fn app(state: AppState) -> Router {
    // One span per request with method and path only: never the client IP
    // (DESIGN.md: no IP in receipts, store or logs) nor the query string.
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));

    Router::new()
        .route("/healthz", get(healthz))
        .fallback(static_files::serve)
        .layer(trace)
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then lets
/// in-flight requests finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on ctrl-c or, on Unix, SIGTERM (what `docker stop`, systemd and
/// Kubernetes send), so a stopping collector finishes its requests.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for ctrl-c: {err}");
            std::future::pending::<()>().await;
        }
    };

    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!("cannot listen for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// Liveness for load balancers and `cargo xtask test`, which waits for it.
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}
