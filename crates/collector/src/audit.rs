//! Recomputing a site's chain from seq 1: every receipt signature, every
//! chain hash and every countersignature, reporting the first bad row. What
//! `GET /v1/audit` and `consentry-collector verify` run.

use consentry_receipt::verify::{hex, sha256, verify, Limits};
use serde::Serialize;

use crate::keys::{countersignature_payload, payload_seq, Countersigner};
use crate::store::{next_chain_hash, Store, StoreError, GENESIS, PAGE};

/// `{"site","receipts","ok":true}`, or the first bad row with `ok: false`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub site: String,
    /// Rows checked before the verdict.
    pub receipts: i64,
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

pub async fn audit_site(
    store: &Store,
    signer: &Countersigner,
    site: &str,
) -> Result<Report, StoreError> {
    let mut report = Report {
        site: site.to_owned(),
        receipts: 0,
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
            if verify(row.jws.as_bytes(), &Limits::default()).is_err() {
                return fail(report, row.seq, id, SIGNATURE_INVALID);
            }
            let Some(signed) = signer.verify(&row.countersignature) else {
                return fail(report, row.seq, id, COUNTERSIGNATURE_INVALID);
            };
            // A valid countersignature naming another seq: the row was moved.
            if payload_seq(&signed).map(i64::from) != Some(row.seq) {
                return fail(report, row.seq, id, OUT_OF_ORDER);
            }
            let jws_sha256 = sha256(row.jws.as_bytes());
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
/// `site`'s), checked with `config`'s key. The key file must exist: a new
/// key would report every countersignature as invalid.
pub async fn verify_database(
    config: &crate::Config,
    site: Option<String>,
) -> Result<Vec<Report>, String> {
    if !config.key_file.exists() {
        return Err(format!(
            "no key file at {}: set CONSENTRY_KEY_FILE to the collector's key",
            config.key_file.display()
        ));
    }
    let signer = std::sync::Arc::new(Countersigner::load_or_create(&config.key_file)?);
    let store = Store::open(&config.database_url, std::sync::Arc::clone(&signer))
        .await
        .map_err(|err| err.to_string())?;
    let sites = match site {
        Some(site) => vec![site],
        None => store.sites().await.map_err(|err| err.to_string())?,
    };
    let mut reports = Vec::new();
    for site in sites {
        reports.push(
            audit_site(&store, &signer, &site)
                .await
                .map_err(|err| err.to_string())?,
        );
    }
    Ok(reports)
}
