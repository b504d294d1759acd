//! What every handler shares: the static directories and, with sites
//! configured, the [`Collector`]: the sites file, the store and the keys,
//! opened so that a missing key is never replaced over stored receipts.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;

use crate::limits::{Limits, RateLimiter};
use crate::{AppError, Config, Countersigner, Sites, Store};

/// What every handler shares. Cheap to clone: the contents sit behind an `Arc`.
#[derive(Clone, Debug, Default)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Clone, Debug, Default)]
struct Inner {
    /// Directories served at `/`, in order: a path is looked up in the first
    /// one, then the next, so the demo page (`www/`) can sit on top of the
    /// built widget (`target/dist/`). Empty means no static files at all.
    static_dirs: Vec<PathBuf>,
    /// `None` when no sites are configured: the receipt API answers 503 and
    /// the collector only serves static files (how the demo began).
    collector: Option<Arc<Collector>>,
    /// Connection caps, timeouts and trusted proxies.
    limits: Limits,
    /// The clients' buckets, for the collector's sites.
    rate_limiter: Option<Arc<RateLimiter>>,
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
        // Only now, with the key decided: a key made for an empty store is
        // named in the store once it is written to its file.
        store
            .register_keys(signer.public_keys())
            .await
            .map_err(|err| format!("key file {}: {err}", config.key_file.display()))?;
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
    /// A state serving `static_dirs` (first match wins), receipts off,
    /// default limits.
    pub fn new(static_dirs: Vec<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                static_dirs,
                ..Inner::default()
            }),
        }
    }

    /// The same, with receipts on: the collector's sites set the rate limits.
    pub fn with_collector(self, collector: Collector) -> Self {
        let mut inner = (*self.inner).clone();
        inner.rate_limiter = Some(Arc::new(RateLimiter::new(&collector.sites)));
        inner.collector = Some(Arc::new(collector));
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The same, with these limits (from [`Limits::from_env`]).
    pub fn with_limits(self, limits: Limits) -> Self {
        let mut inner = (*self.inner).clone();
        inner.limits = limits;
        Self {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub(crate) fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.inner.rate_limiter.as_deref()
    }

    pub(crate) fn static_dirs(&self) -> &[PathBuf] {
        &self.inner.static_dirs
    }

    pub(crate) fn collector(&self) -> Option<&Collector> {
        self.inner.collector.as_deref()
    }
}

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The collector, or the JSON 503 every receipt route answers without one.
pub(crate) fn collector(state: &AppState) -> Result<&Collector, AppError> {
    state.collector().ok_or_else(|| {
        AppError::api(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_sites",
            "no sites configured: set CONSENTRY_SITES to a sites file",
        )
    })
}
