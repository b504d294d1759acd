//! The HTTP server: the router (every route, the CORS and timeout layers,
//! the request log) and [`run`], which serves it until shutdown.

use std::future::Future;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::{export, intake, lookup, static_files, transparency, AppState};

/// The largest request body read at all: a notice (64 KiB). Receipts have
/// their own, smaller limit in the verifier (16 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A request that has not produced its response head by then gets 408: a
/// slow client must not hold a connection and a store slot forever. Export
/// and audit are exempt (see [`app`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// CORS for the receipt API: the `Origin` is reflected (with `Vary: Origin`)
/// when some site lists it; each handler then checks it against the site the
/// receipt or notice names. `text/plain` POSTs (`sendBeacon`) need no
/// preflight; `application/jose` and the proof-of-possession header do.
fn cors(state: &AppState) -> CorsLayer {
    let sites = state
        .collector()
        .map(|c| c.sites.clone())
        .unwrap_or_default();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| sites.any_allows(o))
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([CONTENT_TYPE, AUTHORIZATION])
        .max_age(Duration::from_secs(600))
}

/// The collector's routes. Anything that is not an API route is looked up in
/// the static directories.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/receipts", post(intake::post_receipt))
        .route("/v1/receipts/{id}", get(lookup::get_receipt))
        .route("/v1/notices", post(intake::post_notice))
        .route("/v1/notices/{sha256}", get(lookup::get_notice))
        .route("/v1/subjects/{key}/receipts", get(lookup::subject_receipts))
        .route("/v1/sites/{site}/checkpoint", get(transparency::checkpoint))
        .route(
            "/v1/sites/{site}/proof/inclusion",
            get(transparency::inclusion_proof),
        )
        .route(
            "/v1/sites/{site}/proof/consistency",
            get(transparency::consistency_proof),
        )
        .route("/.well-known/jwks.json", get(transparency::jwks))
        .route("/healthz", get(healthz))
        .layer(cors(&state))
        .fallback(static_files::serve)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
    // The site owner's routes have no timeout: an audit re-verifies every
    // signature of a chain (about 10 000 per second per core), and an export
    // streams as long as the chain is.
    let admin = Router::new()
        .route("/v1/export", get(export::export))
        .route("/v1/audit", get(export::audit));

    admin
        .merge(api)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_log))
        .with_state(state)
}

/// The request log: method, path, status and latency, one line per request.
/// Never the client IP (DESIGN.md: no IP in receipts, store or logs), nor the
/// query string (an export's site name is fine, but a query may carry more).
/// One event, no span: a span per request cost a quarter of the throughput
/// in `cargo xtask bench`.
async fn request_log(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let start = std::time::Instant::now();
    let res = next.run(req).await;
    tracing::info!(
        "{method} {path} {} {}ms",
        res.status().as_u16(),
        start.elapsed().as_millis()
    );
    res
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
