//! The Consentry collector: receives the widget's signed consent receipts,
//! checks them, appends them to each site's transparency log (an RFC 6962
//! Merkle tree with signed C2SP checkpoints), countersigns them, and serves
//! exports, audits, proofs and a visitor's own history (see `DESIGN.md`). It
//! also serves the widget and the demo page as static files.
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
//! - `state`: [`AppState`], what every handler shares, and [`Collector`]:
//!   the sites, the store, the keys, opened so that a missing key is never
//!   replaced over stored receipts.
//! - `server`: [`app`], the router (every route, CORS, timeouts, the request
//!   log without addresses), and [`run`], serving it until shutdown.
//! - `intake`: `POST /v1/receipts` and `POST /v1/notices`: every check before
//!   the store, and the acknowledgement.
//! - `lookup`: a receipt by id and visitor key, a notice by hash, a
//!   visitor's own history (proof of possession).
//! - `export`: the site owner's export (NDJSON, CSV) and audit, behind the
//!   admin token.
//! - `transparency`: what anyone may fetch to check a log: checkpoints,
//!   inclusion and consistency proofs, a receipt's C2SP tlog-proof, the JWKS.
//! - [`log`]: the pure per-site log: RFC 6962 tree, proofs, C2SP notes and
//!   checkpoints.
//! - [`store`]: [`Store`], SQLite or PostgreSQL: group commit, the tree and a
//!   signed checkpoint per batch, proofs from stored subtrees, migrations.
//! - [`audit`]: recompute a log with public keys only and name every bad
//!   leaf; saved checkpoints and visitors' receipt files against it.
//! - [`witness`]: `consentry-collector witness`: keep collectors'
//!   checkpoints and fail on a log that shrinks, forks or is rewritten.
//! - [`retention`]: prune personal data past a site's retention, with a
//!   signed prune record.
//! - `keys`: [`Countersigner`], the Ed25519 keys (the newest signs), and
//!   [`PublicKeys`], all an auditor needs (from the key file or a JWKS).
//! - [`limits`]: who a client is (trusted proxies), its connection share and
//!   rate limits, held in memory as salted hashes only.
//! - `config`: [`Config`] from the environment, [`Sites`] from the sites file.
//! - `error`: [`AppError`], the one error type handlers return, as JSON.
//! - `health`: `GET /healthz`, a real probe of the store (the file it opened,
//!   a read, a write through the group commit), bounded to 2 s.
//! - `static_files`: files from several directories, first match wins, never
//!   a dotfile; [`check_static_dirs`] refuses a directory holding the key or
//!   the database.

pub mod audit;
mod config;
mod error;
mod export;
mod health;
mod intake;
mod keys;
pub mod limits;
pub mod log;
mod lookup;
pub mod retention;
mod server;
mod state;
mod static_files;
pub mod store;
mod transparency;
pub mod witness;

pub use config::{default_key_file as config_key_file, Config, Site, Sites, DEFAULT_LOG_ORIGIN};
pub use error::AppError;
pub use keys::{Countersigner, PublicKeys};
pub use server::{app, run, shutdown_signal, MAX_BODY_BYTES, REQUEST_TIMEOUT};
pub use state::{now_ms, AppState, Collector};
pub use static_files::check_static_dirs;
pub use store::Store;
