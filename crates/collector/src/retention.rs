//! Retention: a site keeps its receipts for `retention_days` (sites file),
//! then their personal data goes — the JWS (the visitor's key, user agent,
//! page, choices) and the subject key — while the row's leaf hash, hashes and
//! countersignature stay, so every proof still verifies and the audit can
//! tell a receipt deleted by policy from one removed by someone.
//!
//! `consentry-collector serve` runs a retention pass at start and then once a
//! day; `consentry-collector prune` runs one now.
//!
//! # Prune records
//!
//! Each pass that prunes writes a record signed by the collector's key, in
//! the same transaction as the rows it prunes: a countersignature-format
//! JWS over `{"cutoff","pruned_at","retention_days","site","typ":
//! "consentry-prune-record"}`. `verify` accepts a pruned receipt only when
//! a valid record of its site has a cutoff after the receipt's
//! (countersigned) `received_at`, at least `retention_days` before the
//! record's `pruned_at`: a deletion dressed up as retention needs the
//! private key, and today's sites file plays no part.

use std::time::Duration;

use consentry_receipt::json::{self, Json};
use consentry_receipt::receipt::{format_rfc3339_utc, parse_rfc3339_utc};
use serde::Serialize;

use crate::keys::{Countersigner, PublicKeys};
use crate::store::{Store, StoreError};
use crate::Sites;

/// The `typ` member of a prune record's payload (countersignatures have none).
pub const PRUNE_RECORD_TYP: &str = "consentry-prune-record";

/// The signed record of one retention pass over `site`.
pub fn prune_record(
    signer: &Countersigner,
    site: &str,
    retention_days: u32,
    cutoff: &str,
    pruned_at: &str,
) -> String {
    let payload = Json::object(vec![
        ("cutoff", Some(Json::str(cutoff))),
        ("pruned_at", Some(Json::str(pruned_at))),
        ("retention_days", Some(Json::int(u64::from(retention_days)))),
        ("site", Some(Json::str(site))),
        ("typ", Some(Json::str(PRUNE_RECORD_TYP))),
    ]);
    // Only strings and a small integer: always canonical.
    signer.sign(&payload.canonical().unwrap_or_default())
}

/// What a valid prune record allows: receipts of its site received before
/// `cutoff_ms` may be pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneRecord {
    pub cutoff_ms: i64,
    pub pruned_at_ms: i64,
}

/// A prune record of `site` signed by one of `keys`, self-consistent (its
/// cutoff at least `retention_days` before its `pruned_at`) and not dated
/// after `now_ms`; `None` for anything else.
pub fn read_prune_record(
    keys: &PublicKeys,
    site: &str,
    jws: &str,
    now_ms: i64,
) -> Option<PruneRecord> {
    let payload = json::parse(&keys.verify(jws)?).ok()?;
    let text = |name: &str| payload.get(name).and_then(Json::as_str);
    if text("typ")? != PRUNE_RECORD_TYP || text("site")? != site {
        return None;
    }
    let days = i64::from(payload.get("retention_days")?.as_u32()?);
    let cutoff_ms = parse_rfc3339_utc(text("cutoff")?)?;
    let pruned_at_ms = parse_rfc3339_utc(text("pruned_at")?)?;
    (days >= 1 && cutoff_ms <= pruned_at_ms - days * DAY_MS && pruned_at_ms <= now_ms).then_some(
        PruneRecord {
            cutoff_ms,
            pruned_at_ms,
        },
    )
}

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
    signer: &Countersigner,
    sites: &Sites,
    only: Option<&str>,
    now_ms: i64,
) -> Result<Vec<Pruned>, StoreError> {
    let now = format_rfc3339_utc(now_ms);
    let mut done = Vec::new();
    for id in sites.ids() {
        if only.is_some_and(|only| only != id) {
            continue;
        }
        let Some(days) = sites.get(id).and_then(|site| site.retention_days) else {
            continue;
        };
        let cutoff = format_rfc3339_utc(now_ms - i64::from(days) * DAY_MS);
        let record = prune_record(signer, id, days, &cutoff, &now);
        let pruned = store.prune(id, &cutoff, &now, &record).await?;
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
pub fn spawn(store: Store, signer: std::sync::Arc<Countersigner>, sites: Sites) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(INTERVAL);
        loop {
            every.tick().await;
            match prune_sites(&store, &signer, &sites, None, crate::now_ms()).await {
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
