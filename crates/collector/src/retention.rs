//! Retention: a site keeps its receipts for `retention_days` (sites file),
//! then their personal data goes — the JWS (the visitor's key, user agent,
//! page, choices) and the subject key — while the row's hash, chain hash and
//! countersignature stay, so the chain still verifies and the audit can tell
//! a receipt deleted by policy from one removed by someone.
//!
//! `consentry-collector serve` runs a retention pass at start and then once a
//! day; `consentry-collector prune` runs one now.

use std::time::Duration;

use serde::Serialize;

use crate::store::{Store, StoreError};
use crate::Sites;

/// How often the serving collector prunes. Retention is counted in days, so
/// a receipt is never kept more than a day past its period.
pub const INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// A retention day, in the milliseconds receipts are timed in.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What one pass did for one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub site: String,
    pub retention_days: u32,
    /// Receipts received before this instant were pruned.
    pub cutoff: String,
    pub pruned: u64,
}

/// One retention pass over every site that sets `retention_days`; sites
/// without it keep everything.
pub async fn prune_sites(
    store: &Store,
    sites: &Sites,
    only: Option<&str>,
    now_ms: i64,
) -> Result<Vec<Pruned>, StoreError> {
    let now = consentry_receipt::receipt::format_rfc3339_utc(now_ms);
    let mut done = Vec::new();
    for id in sites.ids() {
        if only.is_some_and(|only| only != id) {
            continue;
        }
        let Some(days) = sites.get(id).and_then(|site| site.retention_days) else {
            continue;
        };
        let cutoff =
            consentry_receipt::receipt::format_rfc3339_utc(now_ms - i64::from(days) * DAY_MS);
        let pruned = store.prune(id, &cutoff, &now).await?;
        done.push(Pruned {
            site: id.to_owned(),
            retention_days: days,
            cutoff,
            pruned,
        });
    }
    Ok(done)
}

/// The serving collector's daily pass, logged; a failed pass is retried at
/// the next one and never stops the collector.
pub fn spawn(store: Store, sites: Sites) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(INTERVAL);
        loop {
            every.tick().await;
            match prune_sites(&store, &sites, None, crate::now_ms()).await {
                Ok(passes) => {
                    for p in passes.iter().filter(|p| p.pruned > 0) {
                        tracing::info!(
                            "retention: pruned {} receipts of {} received before {} ({} days)",
                            p.pruned,
                            p.site,
                            p.cutoff,
                            p.retention_days
                        );
                    }
                }
                Err(err) => tracing::error!("retention pass failed: {err}"),
            }
        }
    });
}
