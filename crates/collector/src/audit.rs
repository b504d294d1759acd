//! Recomputing a site's chain from seq 1: every receipt signature, every
//! chain hash and every countersignature, reporting the first bad row. What
//! `GET /v1/audit` and `consentry-collector verify` run.
//!
//! A receipt deleted by the site's retention policy (`pruned_at` set, JWS
//! gone) is checked by its stored hash: the chain and the countersignature
//! still prove it existed, and the audit says how many were pruned. One
//! deleted before its retention period ended is a bad row, like any other
//! removal.

use consentry_receipt::receipt::parse_rfc3339_utc;
use consentry_receipt::verify::{hex, sha256, verify, Limits};
use serde::Serialize;

use crate::keys::{countersignature_payload, payload_seq, Countersigner};
use crate::store::{next_chain_hash, unhex32, Store, StoreError, StoredReceipt, GENESIS, PAGE};

/// `{"site","receipts","ok":true}`, or the first bad row with `ok: false`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub site: String,
    /// Rows checked before the verdict.
    pub receipts: i64,
    /// Of those, receipts deleted under the site's retention policy.
    pub pruned: i64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

pub const CHAIN_MISMATCH: &str = "chain hash mismatch";
pub const SIGNATURE_INVALID: &str = "signature invalid";
pub const COUNTERSIGNATURE_INVALID: &str = "countersignature invalid";
pub const MISSING_SEQ: &str = "missing seq (row removed)";
pub const OUT_OF_ORDER: &str = "out of order";
pub const PRUNED_EARLY: &str = "receipt deleted before the site's retention period ended";

/// A pruned row is legitimate only when it was received at least
/// `retention_days` before it was pruned, and pruned no later than now:
/// `pruned_at` is not countersigned, and a date in the future is how a
/// deletion inside the retention period would be dressed up as policy.
fn pruned_by_policy(row: &StoredReceipt, retention_days: Option<u32>, now_ms: i64) -> bool {
    let (Some(days), Some(pruned_at)) = (retention_days, row.pruned_at.as_deref()) else {
        return false;
    };
    match (
        parse_rfc3339_utc(&row.received_at),
        parse_rfc3339_utc(pruned_at),
    ) {
        (Some(received), Some(pruned)) => {
            row.jws.is_empty()
                && pruned >= received + i64::from(days) * crate::retention::DAY_MS
                && pruned <= now_ms
        }
        _ => false,
    }
}

/// Audits one site's chain at `now_ms`. `retention_days` is the site's
/// policy from the sites file: what makes a pruned receipt legitimate.
pub async fn audit_site(
    store: &Store,
    signer: &Countersigner,
    site: &str,
    retention_days: Option<u32>,
    now_ms: i64,
) -> Result<Report, StoreError> {
    let mut report = Report {
        site: site.to_owned(),
        receipts: 0,
        pruned: 0,
        ok: true,
        seq: None,
        receipt_id: None,
        reason: None,
    };
    let fail = |mut report: Report, seq: i64, id: Option<String>, reason| {
        report.ok = false;
        report.seq = Some(seq);
        report.receipt_id = id;
        report.reason = Some(reason);
        Ok(report)
    };
    let mut previous = GENESIS;
    let mut last = 0;
    loop {
        let rows = store.page(site, last, PAGE).await?;
        let Some(end) = rows.last().map(|row| row.seq) else {
            break;
        };
        for row in rows {
            let expected = last + 1;
            let id = Some(row.receipt_id.clone());
            if row.seq != expected {
                // Rows come in seq order, so a gap means a row is gone.
                return fail(report, expected, None, MISSING_SEQ);
            }
            let jws_sha256 = if row.pruned_at.is_some() {
                if !pruned_by_policy(&row, retention_days, now_ms) {
                    return fail(report, row.seq, id, PRUNED_EARLY);
                }
                let Some(stored) = unhex32(&row.jws_sha256) else {
                    return fail(report, row.seq, id, CHAIN_MISMATCH);
                };
                report.pruned += 1;
                stored
            } else {
                if verify(row.jws.as_bytes(), &Limits::default()).is_err() {
                    return fail(report, row.seq, id, SIGNATURE_INVALID);
                }
                sha256(row.jws.as_bytes())
            };
            // By the key the header names; a kid not in the key file is a
            // bad countersignature like any other.
            let Some(signed) = signer.verify(&row.countersignature) else {
                return fail(report, row.seq, id, COUNTERSIGNATURE_INVALID);
            };
            // A valid countersignature naming another seq: the row was moved.
            if payload_seq(&signed).map(i64::from) != Some(row.seq) {
                return fail(report, row.seq, id, OUT_OF_ORDER);
            }
            let chain = next_chain_hash(&previous, &jws_sha256);
            if hex(&chain) != row.chain_hash {
                return fail(report, row.seq, id, CHAIN_MISMATCH);
            }
            let expected_payload = countersignature_payload(
                site,
                row.seq,
                &row.receipt_id,
                &hex(&jws_sha256),
                &row.received_at,
                &row.chain_hash,
            );
            if signed != expected_payload {
                return fail(report, row.seq, id, COUNTERSIGNATURE_INVALID);
            }
            previous = chain;
            last = row.seq;
            report.receipts += 1;
        }
        debug_assert_eq!(last, end);
    }
    // The head remembers how long the chain was: a removed last row shows here.
    if let Some((head_seq, head_chain)) = store.head(site).await? {
        if head_seq > last {
            return fail(report, last + 1, None, MISSING_SEQ);
        }
        if head_chain != hex(&previous) && last > 0 {
            return fail(report, last, None, CHAIN_MISMATCH);
        }
    }
    Ok(report)
}

/// `consentry-collector verify`: every chain in `config`'s database (or only
/// `site`'s), checked with `config`'s keys: each countersignature by the key
/// its header names, old keys included, so rows signed before a `keys
/// rotate` still verify. The key file must exist: a new key would report
/// every countersignature as invalid.
pub async fn verify_database(
    config: &crate::Config,
    site: Option<String>,
) -> Result<Vec<Report>, String> {
    let signer = std::sync::Arc::new(Countersigner::load_existing(&config.key_file)?);
    let store = Store::open(
        &config.database_url,
        std::sync::Arc::clone(&signer),
        config.origin()?,
    )
    .await
    .map_err(|err| err.to_string())?;
    let sites = match site {
        Some(site) => vec![site],
        None => store.sites().await.map_err(|err| err.to_string())?,
    };
    let mut reports = Vec::new();
    // The retention policy comes from the sites file, when there is one.
    let sites_file = match &config.sites_file {
        Some(path) => crate::Sites::load(path)?,
        None => crate::Sites::default(),
    };
    for site in sites {
        let retention = sites_file.get(&site).and_then(|s| s.retention_days);
        reports.push(
            audit_site(&store, &signer, &site, retention, crate::now_ms())
                .await
                .map_err(|err| err.to_string())?,
        );
    }
    Ok(reports)
}
