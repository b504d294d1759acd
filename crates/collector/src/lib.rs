//! The Consentry collector: receives the widget's signed consent receipts,
//! checks them, keeps them in an append-only, tamper-evident log (one hash
//! chain per site), countersigns them, and serves exports, audits and a
//! visitor's own history (see `DESIGN.md`). It also serves the widget and the
//! demo page as static files.
//!
//! The server is a library function, [`run`], so tests start the real thing on
//! `127.0.0.1:0`; `main.rs` only parses arguments and waits for a signal.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use consentry_collector::{AppState, Collector, Config};
//!
//! let mut state = AppState::new(vec!["www".into(), "target/dist".into()]);
//! // Receipts on, when CONSENTRY_SITES (or ./sites.toml) names the sites.
//! if let Some(collector) = Collector::open(&Config::from_env()).await? {
//!     state = state.with_collector(collector);
//! }
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! consentry_collector::run(listener, state, consentry_collector::shutdown_signal()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - [`AppState`]: what every handler shares: static directories and, when
//!   sites are configured, the [`Collector`] (sites, store, key, admin token).
//! - [`app`]: the router: the receipt API under `/v1`, `/.well-known/jwks.json`,
//!   `GET /healthz`, static files as the fallback.
//! - [`run`]: serve a bound listener until a shutdown future completes.
//! - `config`: [`Config`] from the environment, [`Sites`] from the sites file.
//! - `keys`: [`Countersigner`], the Ed25519 keys: the newest countersigns
//!   every new row, every one is published and verifies the rows it signed.
//! - `store`: [`Store`], SQLite or PostgreSQL, group commit, one chain per site.
//! - `audit`: recompute a chain and name the first bad row ([`audit::Report`]).
//! - [`log`]: the pure per-site Merkle log: RFC 6962 tree, proofs, C2SP checkpoints.
//! - `routes`: the receipt API handlers.
//! - `error`: [`AppError`], the one error type handlers return, as JSON.
//! - `static_files`: files from several directories, first match wins, never
//!   a dotfile; [`check_static_dirs`] refuses a directory holding the key or
//!   the database.
//! - [`witness`]: `consentry-collector witness`: polls collectors' signed
//!   checkpoints from elsewhere and checks that each log only grows.

pub mod audit;
mod config;
mod error;
mod keys;
pub mod log;
pub mod retention;
mod routes;
mod static_files;
pub mod store;
pub mod witness;

pub use config::{default_key_file as config_key_file, Config, Site, Sites, DEFAULT_LOG_ORIGIN};
pub use error::AppError;
pub use keys::{Countersigner, PublicKeys};
pub use static_files::check_static_dirs;
pub use store::Store;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
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

/// The largest request body read at all: a notice (64 KiB). Receipts have
/// their own, smaller limit in the verifier (16 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A request that has not produced its response head by then gets 408: a
/// slow client must not hold a connection and a store slot forever. Export
/// and audit are exempt (see [`app`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler shares. Cheap to clone: the contents sit behind an `Arc`.
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
    /// `None` when no sites are configured: the receipt API answers 503 and
    /// the collector only serves static files (how the demo began).
    collector: Option<Collector>,
}

/// The receipt side: which sites, where receipts go, which key countersigns.
#[derive(Debug)]
pub struct Collector {
    pub(crate) sites: Sites,
    pub(crate) store: Store,
    pub(crate) signer: Arc<Countersigner>,
    pub(crate) admin_token: Option<String>,
    /// Milliseconds since the Unix epoch; tests pin it to check clock skew.
    pub(crate) clock: fn() -> i64,
}

impl Collector {
    /// Reads the sites file, loads the key and opens the store.
    /// `Ok(None)` when `config` names no sites file.
    ///
    /// A new key is made only for an empty store: with receipts in it, a
    /// missing key file is an error, since every countersignature there
    /// names the old key and a new one would silently unpublish it from
    /// `/.well-known/jwks.json`.
    pub async fn open(config: &Config) -> Result<Option<Collector>, String> {
        let Some(path) = &config.sites_file else {
            return Ok(None);
        };
        let sites = Sites::load(path)?;
        let (signer, store) = open_signer_and_store(config).await?;
        Ok(Some(Collector::new(
            sites,
            store,
            signer,
            config.admin_token.clone(),
        )))
    }

    pub fn new(
        sites: Sites,
        store: Store,
        signer: Arc<Countersigner>,
        admin_token: Option<String>,
    ) -> Collector {
        Collector {
            sites,
            store,
            signer,
            admin_token,
            clock: now_ms,
        }
    }

    /// Replaces the clock (milliseconds since the epoch), for tests.
    pub fn with_clock(mut self, clock: fn() -> i64) -> Collector {
        self.clock = clock;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn signer(&self) -> &Countersigner {
        &self.signer
    }

    /// The signer, shared (the retention task signs its prune records).
    pub fn signer_arc(&self) -> Arc<Countersigner> {
        Arc::clone(&self.signer)
    }

    pub fn sites(&self) -> &Sites {
        &self.sites
    }
}

async fn open_store(config: &Config, signer: &Arc<Countersigner>) -> Result<Store, String> {
    Store::open(&config.database_url, Arc::clone(signer), config.origin()?)
        .await
        .map_err(|err| format!("cannot open the store: {err}"))
}

/// The key file, or a new key when it is missing and the store is empty.
/// The store needs its signer to open, so a new key is first held in
/// memory (nothing is signed before this returns) and written only once the
/// store was seen empty.
async fn open_signer_and_store(config: &Config) -> Result<(Arc<Countersigner>, Store), String> {
    let key_file = &config.key_file;
    if let Some(signer) = Countersigner::load(key_file)? {
        let signer = Arc::new(signer);
        let store = open_store(config, &signer).await?;
        return Ok((signer, store));
    }
    let pending = Arc::new(Countersigner::generate()?);
    let store = open_store(config, &pending).await?;
    let empty = store
        .is_empty()
        .await
        .map_err(|err| format!("cannot read the store: {err}"))?;
    if !empty {
        return Err(format!(
            "no key file at {}, but the store already holds countersigned receipts: \
             they name that key, and a new one would make every one of them fail to verify. \
             Restore the key file there, or point CONSENTRY_KEY_FILE at it",
            key_file.display()
        ));
    }
    match pending.persist_new(key_file) {
        Ok(()) => {
            tracing::info!(
                "created a new countersigning key in {} for an empty store",
                key_file.display()
            );
            Ok((pending, store))
        }
        // Another collector on the same store wrote its new key first: use
        // that one, so both countersign with the key the JWKS will publish.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            drop(store);
            let signer = Arc::new(Countersigner::load_existing(key_file)?);
            let store = open_store(config, &signer).await?;
            Ok((signer, store))
        }
        Err(err) => Err(format!(
            "cannot create key file {}: {err}",
            key_file.display()
        )),
    }
}

impl AppState {
    /// A state serving `static_dirs` (first match wins), receipts off.
    pub fn new(static_dirs: Vec<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                static_dirs,
                collector: None,
            }),
        }
    }

    /// The same static directories, with receipts on.
    pub fn with_collector(self, collector: Collector) -> Self {
        let static_dirs = self.inner.static_dirs.clone();
        Self {
            inner: Arc::new(Inner {
                static_dirs,
                collector: Some(collector),
            }),
        }
    }

    pub(crate) fn static_dirs(&self) -> &[PathBuf] {
        &self.inner.static_dirs
    }

    pub(crate) fn collector(&self) -> Option<&Collector> {
        self.inner.collector.as_ref()
    }
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

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
        .route("/v1/receipts", post(routes::post_receipt))
        .route("/v1/receipts/{id}", get(routes::get_receipt))
        .route("/v1/notices", post(routes::post_notice))
        .route("/v1/notices/{sha256}", get(routes::get_notice))
        .route("/v1/subjects/{key}/receipts", get(routes::subject_receipts))
        .route("/v1/sites/{site}/checkpoint", get(routes::checkpoint))
        .route(
            "/v1/sites/{site}/proof/inclusion",
            get(routes::inclusion_proof),
        )
        .route(
            "/v1/sites/{site}/proof/consistency",
            get(routes::consistency_proof),
        )
        .route("/.well-known/jwks.json", get(routes::jwks))
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
        .route("/v1/export", get(routes::export))
        .route("/v1/audit", get(routes::audit));

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
