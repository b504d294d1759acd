//! Intake: `POST /v1/receipts` and `POST /v1/notices`, every check a
//! receipt or notice passes before the store (an `Origin` some site allows,
//! before the body is read; content type, size, the signature over the exact
//! bytes, the site, the site's `Origin`, the clock), and the acknowledgement
//! a stored receipt gets. Every failure is a 4xx with a
//! stable JSON error code (see [`AppError`]); nothing is written unless
//! every check passed.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use consentry_receipt::json::{self};
use consentry_receipt::receipt::parse_rfc3339_utc;
use consentry_receipt::verify::{self, sha256_hex, Limits};
use serde::Serialize;
use serde_json::json;

use crate::config::Site;
use crate::state::collector;
use crate::store::{now_rfc3339, Appended, Inclusion, NewReceipt, StoredReceipt};
use crate::transparency::hashes_b64;
use crate::{AppError, AppState, Collector};

/// How far ahead of our clock a receipt's `issued_at` may be: visitors'
/// clocks drift, but a receipt "from tomorrow" is a forgery or a broken clock.
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1000;
/// How old a receipt may be on arrival. The widget's outbox keeps receipts
/// while the visitor is offline or the collector is down and sends them on
/// the next visit, which can be weeks later; older than this is more likely
/// a replay of a harvested receipt than a delayed one.
pub const MAX_AGE_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// A notice is every text of the banner and dialogs; 64 KiB is generous.
pub const MAX_NOTICE_BYTES: usize = 64 * 1024;

/// `text/plain` (what `navigator.sendBeacon` sends without a preflight) or
/// `application/jose` (RFC 7515's media type for compact JWS).
fn check_content_type(headers: &HeaderMap) -> Result<(), AppError> {
    let value = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("text/plain")
        || essence.eq_ignore_ascii_case("application/jose")
    {
        Ok(())
    } else {
        Err(AppError::api(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the receipt as text/plain or application/jose",
        ))
    }
}

/// The request's `Origin`, which must be one that some site lists. Checked
/// before the body is read: from any other page on the web, a receipt or a
/// notice then costs a header lookup, not reading and parsing up to 64 KiB.
fn check_any_origin<'h>(headers: &'h HeaderMap, c: &Collector) -> Result<&'h str, AppError> {
    match request_origin(headers)? {
        origin if c.sites.any_allows(origin) => Ok(origin),
        origin => Err(AppError::api(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!("origin {origin} is not allowed for any site of this collector"),
        )),
    }
}

/// The `Origin` header; a browser sends it with every cross-origin POST and
/// `sendBeacon`, so a request without one is not from a site's page.
fn request_origin(headers: &HeaderMap) -> Result<&str, AppError> {
    headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AppError::api(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "an Origin header is required",
            )
        })
}

/// The request's `Origin` must be one of the site's: a page of another site
/// cannot write into this site's chain.
fn check_origin(origin: &str, site_id: &str, site: &Site) -> Result<(), AppError> {
    if site.origins.iter().any(|o| o == origin) {
        Ok(())
    } else {
        Err(AppError::api(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!("origin {origin} is not allowed for site {site_id}"),
        ))
    }
}

fn site<'a>(c: &'a Collector, id: &str) -> Result<&'a Site, AppError> {
    c.sites.get(id).ok_or_else(|| {
        AppError::api(
            StatusCode::BAD_REQUEST,
            "unknown_site",
            format!("site {id:?} is not in this collector's sites file"),
        )
    })
}

/// Reads a request body up to `limit` bytes; beyond that a JSON 413 (the
/// `DefaultBodyLimit` rejection would be plain text).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, AppError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        AppError::api(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "request body is larger than the limit",
        )
    })
}

/// What the widget keeps: the acknowledgement. A duplicate gets the same
/// row's fields, proved against the site's latest checkpoint.
/// A struct rather than `json!`: no map built per receipt on the hot path.
/// Members in the order `json!` would give them (sorted).
#[derive(Serialize)]
struct Acknowledgement<'a> {
    chain_hash: &'a str,
    /// The site log's signed checkpoint that `inclusion_proof` leads to.
    checkpoint: &'a str,
    countersignature: &'a str,
    /// Standard base64 hashes, from the leaf up (RFC 9162 audit path).
    inclusion_proof: Vec<String>,
    /// `seq − 1`: the receipt's leaf in its site's tree.
    leaf_index: i64,
    receipt_id: &'a str,
    received_at: &'a str,
    seq: i64,
    /// With `receipt_id`, what names this receipt (`GET
    /// /v1/receipts/{id}?key=…`).
    subject_key: &'a str,
}

/// `subject_key` is the thumbprint of the key that signed the bytes just
/// received: the row's own, and still there when retention has erased the
/// row's copy, so a duplicate's answer stays identical.
fn acknowledgement<'a>(
    row: &'a StoredReceipt,
    inclusion: &'a Inclusion,
    subject_key: &'a str,
) -> Acknowledgement<'a> {
    Acknowledgement {
        chain_hash: &row.chain_hash,
        checkpoint: &inclusion.checkpoint,
        countersignature: &row.countersignature,
        inclusion_proof: hashes_b64(&inclusion.proof),
        leaf_index: row.seq - 1,
        receipt_id: &row.receipt_id,
        received_at: &row.received_at,
        seq: row.seq,
        subject_key,
    }
}

/// `POST /v1/receipts`: an Origin some site allows → verify → known site →
/// the site's Origin → clock skew → dedupe → append to the site's chain →
/// countersign → 201.
pub(crate) async fn post_receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let c = collector(&state)?;
    let origin = check_any_origin(&headers, c)?;
    check_content_type(&headers)?;
    // One byte over the verifier's limit is enough to say "too large".
    let body = read_body(body, Limits::default().max_bytes + 1).await?;
    let verified = verify::verify(&body, &Limits::default()).map_err(AppError::from_verify)?;
    let r = &verified.receipt;
    check_origin(origin, &r.site, site(c, &r.site)?)?;

    let now = (c.clock)();
    let issued = parse_rfc3339_utc(&r.issued_at).unwrap_or(i64::MIN);
    if issued > now + MAX_FUTURE_MS {
        return Err(AppError::api(
            StatusCode::BAD_REQUEST,
            "clock_skew",
            "issued_at is more than 10 minutes ahead of the collector's clock",
        ));
    }
    if issued < now - MAX_AGE_MS {
        return Err(AppError::api(
            StatusCode::BAD_REQUEST,
            "clock_skew",
            "issued_at is more than 30 days old",
        ));
    }

    // verify() accepted it, so it is ASCII and this never fails.
    let jws = std::str::from_utf8(&body)
        .map_err(|_| {
            AppError::api(
                StatusCode::BAD_REQUEST,
                "malformed",
                "the receipt is not UTF-8 text",
            )
        })?
        .to_owned();
    let appended = c
        .store
        .append(NewReceipt {
            site: r.site.clone(),
            receipt_id: r.receipt_id.clone(),
            jws,
            jws_sha256: verified.jws_sha256,
            subject_key: verified.thumbprint.clone(),
            issued_at: r.issued_at.clone(),
            action: r.action.as_str().to_owned(),
            method: r.method.as_str().to_owned(),
        })
        .await?;
    let key = &verified.thumbprint;
    match appended {
        Appended::New(row, inclusion) => Ok((
            StatusCode::CREATED,
            Json(acknowledgement(&row, &inclusion, key)),
        )
            .into_response()),
        // The same fields, proved against the site's latest checkpoint.
        Appended::Duplicate(row) => {
            let inclusion = c.store.inclusion(&row).await?;
            Ok((StatusCode::OK, Json(acknowledgement(&row, &inclusion, key))).into_response())
        }
        Appended::Conflict => Err(AppError::api(
            StatusCode::CONFLICT,
            "conflict",
            "a different receipt with this receipt_id and this visitor key is already stored",
        )),
    }
}

/// `POST /v1/notices`: the canonical JSON of the texts a visitor saw, stored
/// once per SHA-256 so the exact wording can be shown years later. The
/// Origin is checked twice, as for receipts: against all sites before the
/// body is read, then against the site the notice names.
pub(crate) async fn post_notice(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let c = collector(&state)?;
    let origin = check_any_origin(&headers, c)?;
    let body = read_body(body, MAX_NOTICE_BYTES).await?;
    let bad =
        |message: &str| AppError::api(StatusCode::BAD_REQUEST, "bad_notice", message.to_owned());
    let text = std::str::from_utf8(&body).map_err(|_| bad("notice is not UTF-8"))?;
    let value = json::parse(text).map_err(|_| bad("notice is not JSON"))?;
    if value.canonical().ok().as_deref() != Some(text) {
        return Err(bad(
            "notice must be RFC 8785 canonical JSON (its hash is over the exact text)",
        ));
    }
    let site_id = value
        .get("site")
        .and_then(json::Json::as_str)
        .ok_or_else(|| bad("notice.site is required"))?;
    check_origin(origin, site_id, site(c, site_id)?)?;
    let sha256 = sha256_hex(text.as_bytes());
    let new = c
        .store
        .put_notice(&sha256, site_id, text, &now_rfc3339())
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "sha256": sha256 }))).into_response())
}

pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
