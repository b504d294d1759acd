//! Reading what is stored: a receipt by its id (and visitor key), a notice
//! by its hash, and a visitor's own history, for a request signed by the
//! visitor's key.

use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use consentry_receipt::json::{self, Fields};
use consentry_receipt::receipt::is_uuid_v4;
use consentry_receipt::verify::{self, Limits, POP_TYP};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::intake::is_sha256_hex;
use crate::state::collector;
use crate::store::{Lookup, StoredReceipt};
use crate::{AppError, AppState};

/// Proof-of-possession tokens are fresh: a minute of clock drift and a few
/// of latency, not a reusable credential.
pub const POP_MAX_SKEW_S: i64 = 300;
/// A visitor's history is short; this bounds a pathological one.
const MAX_HISTORY: usize = 1000;

fn stored_json(row: &StoredReceipt) -> Value {
    json!({
        "receipt_id": row.receipt_id,
        "subject_key": row.subject_key,
        "site": row.site,
        "jws": row.jws,
        "received_at": row.received_at,
        "seq": row.seq,
        "leaf_index": row.seq - 1,
        "chain_hash": row.chain_hash,
        "countersignature": row.countersignature,
    })
}

pub(crate) async fn get_notice(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
) -> Result<Response, AppError> {
    let c = collector(&state)?;
    if !is_sha256_hex(&sha256) {
        return Err(AppError::NotFound);
    }
    let text = c
        .store
        .get_notice(&sha256)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(([(CONTENT_TYPE, "application/json")], text).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ReceiptQuery {
    key: Option<String>,
}

/// An RFC 7638 thumbprint as receipts carry it: SHA-256, base64url, 43
/// characters.
fn is_thumbprint(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /v1/receipts/{id}[?key=<subject key>]`. The id is a random UUID v4
/// (122 random bits) that only the visitor's browser and the site know: it
/// works like a secret link, so holding it is the permission to read the
/// receipt. A receipt is its id with its subject key: anyone can sign a
/// receipt under an id they have seen, so when several carry the id, `key`
/// (the form's `consentry_receipt_key` field, or the receipt's
/// `subject.key`) says which one.
pub(crate) async fn get_receipt(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ReceiptQuery>,
) -> Result<Json<Value>, AppError> {
    let c = collector(&state)?;
    let key = query.key.as_deref();
    if !is_uuid_v4(&id) || key.is_some_and(|key| !is_thumbprint(key)) {
        return Err(AppError::NotFound);
    }
    let row = match c.store.get(&id, key).await? {
        Lookup::One(row) => row,
        Lookup::Missing => return Err(AppError::NotFound),
        Lookup::Ambiguous => {
            return Err(AppError::api(
                StatusCode::CONFLICT,
                "ambiguous",
                "several receipts carry this id; add ?key=<the subject key from the form's \
                 consentry_receipt_key field or the receipt>",
            ))
        }
    };
    if let Some(pruned_at) = &row.pruned_at {
        return Err(AppError::api(
            StatusCode::GONE,
            "pruned",
            format!(
                "receipt {id} was deleted on {pruned_at} under the site's retention policy; \
                 its hash and countersignature remain in the chain (seq {})",
                row.seq
            ),
        ));
    }
    Ok(Json(stored_json(&row)))
}

/// `GET /v1/subjects/{key}/receipts` with `Authorization: Consentry-PoP
/// <jws>`: the visitor proves they hold the key whose thumbprint is `key` by
/// signing `{"htu","iat","sub"}` with it.
pub(crate) async fn subject_receipts(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let c = collector(&state)?;
    let unauthorized = |code: &'static str, message: &str| {
        AppError::api(StatusCode::UNAUTHORIZED, code, message.to_owned())
    };
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Consentry-PoP "))
        .ok_or_else(|| {
            unauthorized(
                "pop_required",
                "send Authorization: Consentry-PoP <JWS signed by the visitor key>",
            )
        })?;
    let signed = verify::verify_signed(token.trim().as_bytes(), POP_TYP, &Limits::default())
        .map_err(|err| unauthorized("pop_invalid", &err.to_string()))?;
    let payload = std::str::from_utf8(&signed.payload)
        .ok()
        .and_then(|text| json::parse(text).ok())
        .ok_or_else(|| unauthorized("pop_invalid", "proof payload is not JSON"))?;
    let fields = Fields::new(&payload, String::new(), &["iat", "sub", "htu"])
        .map_err(|err| unauthorized("pop_invalid", &format!("proof payload: {}", err.reason)))?;
    let iat = match fields.get("iat") {
        Some(json::Json::Num(n)) => n.parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| unauthorized("pop_invalid", "proof iat must be unix seconds"))?;
    let sub = fields.get("sub").and_then(json::Json::as_str);
    let htu = fields.get("htu").and_then(json::Json::as_str);
    if signed.thumbprint != key || sub != Some(key.as_str()) {
        return Err(unauthorized(
            "pop_invalid",
            "the proof is not signed by the key this path names",
        ));
    }
    if htu != Some(format!("/v1/subjects/{key}/receipts").as_str()) {
        return Err(unauthorized("pop_invalid", "proof htu is not this path"));
    }
    if ((c.clock)() / 1000 - iat).abs() > POP_MAX_SKEW_S {
        return Err(unauthorized(
            "pop_expired",
            "proof iat is more than 5 minutes from the collector's clock",
        ));
    }
    let rows = c.store.by_subject(&key, MAX_HISTORY).await?;
    Ok(Json(Value::Array(rows.iter().map(stored_json).collect())))
}
