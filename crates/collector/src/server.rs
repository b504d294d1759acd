//! The HTTP server: the router (every route, the CORS and timeout layers,
//! the request log) and [`run`], which serves it until shutdown.

use std::future::Future;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::limits::{self, Connections, Peer};
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
        // The widget reads it on a 429 to know when to try again.
        .expose_headers([RETRY_AFTER])
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
        .route("/v1/sites/{site}/proof/tlog", get(transparency::tlog_proof))
        .route("/.well-known/jwks.json", get(transparency::jwks))
        .route("/healthz", get(crate::health::healthz))
        // Inside CORS, so a 429 carries the headers the widget needs to read it.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::limit,
        ))
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

/// How long in-flight requests may take to finish once shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app(state)` on `listener` until `shutdown` completes, then lets
/// in-flight requests finish (for at most 10 s).
///
/// Each connection is served by hyper with the state's limits: a request
/// head must arrive within the header timeout, which hyper also runs while a
/// keep-alive connection waits for its next request (so an idle connection
/// is closed after it); and no more connections are held open than the
/// total cap, nor more by one client than its share (a trusted proxy is
/// held to the total only). A connection over a cap is closed at once, so a
/// client with hundreds of half-sent requests cannot keep others out.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(state.clone());
    let limits = state.limits().clone();
    let connections = Connections::new(&limits);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let forget = forget_idle_clients(&state);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, most likely: let some close.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // A trusted proxy carries many clients: held to the total only.
        let client = (!limits.is_trusted_proxy(peer.ip())).then_some(peer.ip());
        let Some(admitted) = connections.admit(client) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(Peer(peer));
                tower::ServiceExt::oneshot(router.clone(), req)
            });
        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Errors are the client's (a reset, a timeout): not worth a line each.
            let _ = conn.await;
            drop(admitted);
        });
    }
    drop(forget);
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => tracing::warn!("shutdown: requests still running after {DRAIN:?} were dropped"),
    }
    Ok(())
}

/// Aborts its task when dropped: the server's helpers end with it.
struct Background(tokio::task::JoinHandle<()>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every minute, the rate limiter forgets clients whose buckets are full
/// again: memory follows the last minutes' clients, not every one ever seen.
fn forget_idle_clients(state: &AppState) -> Background {
    let state = state.clone();
    Background(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Some(limiter) = state.rate_limiter() {
                limiter.forget_idle();
            }
        }
    }))
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
