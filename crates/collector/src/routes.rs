//! The receipt API. Every failure is a 4xx with a stable JSON error code
//! (see [`AppError`]); nothing is written unless every check passed.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use consentry_receipt::json::{self, Fields};
use consentry_receipt::receipt::{is_uuid_v4, parse_rfc3339_utc};
use consentry_receipt::verify::{self, sha256_hex, Limits, POP_TYP};
use consentry_receipt::{b64, Receipt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::audit::audit_site;
use crate::config::Site;
use crate::log::Hash;
use crate::store::{
    now_rfc3339, Appended, Inclusion, Lookup, NewReceipt, Proved, StoredReceipt, PAGE,
};
use crate::{AppError, AppState, Collector};
use base64::prelude::{Engine as _, BASE64_STANDARD};

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
/// Proof-of-possession tokens are fresh: a minute of clock drift and a few
/// of latency, not a reusable credential.
pub const POP_MAX_SKEW_S: i64 = 300;
/// A visitor's history is short; this bounds a pathological one.
const MAX_HISTORY: usize = 1000;

fn collector(state: &AppState) -> Result<&Collector, AppError> {
    state.collector().ok_or_else(|| {
        AppError::api(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_sites",
            "no sites configured: set CONSENTRY_SITES to a sites file",
        )
    })
}

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

/// The request's `Origin` must be one of the site's: a page of another site
/// cannot write into this site's chain.
fn check_origin(headers: &HeaderMap, site_id: &str, site: &Site) -> Result<(), AppError> {
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    match origin {
        Some(origin) if site.origins.iter().any(|o| o == origin) => Ok(()),
        Some(origin) => Err(AppError::api(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!("origin {origin} is not allowed for site {site_id}"),
        )),
        None => Err(AppError::api(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "an Origin header is required",
        )),
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

/// What the widget keeps: the acknowledgement, identical for a duplicate.
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

/// Hashes as C2SP writes them: standard base64 with padding.
fn hashes_b64(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| BASE64_STANDARD.encode(h)).collect()
}

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

/// `POST /v1/receipts`: verify → known site → allowed Origin → clock skew →
/// dedupe → append to the site's chain → countersign → 201.
pub(crate) async fn post_receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let c = collector(&state)?;
    check_content_type(&headers)?;
    // One byte over the verifier's limit is enough to say "too large".
    let body = read_body(body, Limits::default().max_bytes + 1).await?;
    let verified = verify::verify(&body, &Limits::default()).map_err(AppError::from_verify)?;
    let r = &verified.receipt;
    check_origin(&headers, &r.site, site(c, &r.site)?)?;

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
/// once per SHA-256 so the exact wording can be shown years later.
pub(crate) async fn post_notice(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let c = collector(&state)?;
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
    check_origin(&headers, site_id, site(c, site_id)?)?;
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

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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

/// Bearer token check for export and audit, constant-time in the token's
/// content (its length is not a secret worth hiding).
fn check_admin(c: &Collector, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(expected) = c.admin_token.as_deref() else {
        return Err(AppError::api(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_admin_token",
            "set CONSENTRY_ADMIN_TOKEN to enable export and audit",
        ));
    };
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let same = given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(AppError::api(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <CONSENTRY_ADMIN_TOKEN>",
        ))
    }
}

#[derive(Deserialize)]
pub(crate) struct ExportQuery {
    site: String,
    format: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Ndjson,
    Csv,
}

/// `GET /v1/export?site=…&format=ndjson|csv`: one line per receipt, streamed
/// page by page, so memory stays flat however long the chain is.
pub(crate) async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ExportQuery>,
) -> Result<Response, AppError> {
    let c = collector(&state)?;
    check_admin(c, &headers)?;
    let format = match query.format.as_deref() {
        None | Some("ndjson") => Format::Ndjson,
        Some("csv") => Format::Csv,
        Some(_) => {
            return Err(AppError::api(
                StatusCode::BAD_REQUEST,
                "bad_format",
                "format must be ndjson or csv",
            ))
        }
    };
    let store = c.store.clone();
    let site = query.site;
    // (after seq, header written, done)
    let stream =
        futures_util::stream::unfold((0i64, false, false), move |(after, header, done)| {
            let store = store.clone();
            let site = site.clone();
            async move {
                if done {
                    return None;
                }
                let mut chunk = String::new();
                if format == Format::Csv && !header {
                    chunk.push_str(CSV_HEADER);
                }
                let rows = match store.page(&site, after, PAGE).await {
                    Ok(rows) => rows,
                    Err(err) => {
                        tracing::error!("export of {site} failed: {err}");
                        return Some((Err(err), (after, true, true)));
                    }
                };
                let last = rows.last().map(|row| row.seq);
                for row in &rows {
                    match format {
                        Format::Ndjson => ndjson_line(row, &mut chunk),
                        Format::Csv => csv_line(row, &mut chunk),
                    }
                }
                let next = (
                    last.unwrap_or(after),
                    true,
                    last.is_none() || rows.len() < PAGE,
                );
                Some((Ok::<_, crate::store::StoreError>(Bytes::from(chunk)), next))
            }
        });
    let content_type = match format {
        Format::Ndjson => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    let mut res = Response::new(Body::from_stream(stream));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(res)
}

/// The payload of a stored JWS (verified on the way in).
fn payload_text(jws: &str) -> Option<String> {
    let part = jws.split('.').nth(1)?;
    String::from_utf8(b64::decode(part)?).ok()
}

fn ndjson_line(row: &StoredReceipt, out: &mut String) {
    let receipt: Value = payload_text(&row.jws)
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    let line = json!({
        "seq": row.seq,
        "receipt_id": row.receipt_id,
        "site": row.site,
        "received_at": row.received_at,
        "chain_hash": row.chain_hash,
        "countersignature": row.countersignature,
        "receipt": receipt,
        "jws": row.jws,
        "jws_sha256": row.jws_sha256,
        "pruned_at": row.pruned_at,
    });
    out.push_str(&line.to_string());
    out.push('\n');
}

const CSV_HEADER: &str = "seq,receipt_id,site,received_at,issued_at,action,method,subject_key,\
granted,refused,notice_language,notice_revision,notice_sha256,page,gpc,form,previous,\
chain_hash,countersignature,jws,jws_sha256,pruned_at\r\n";

fn csv_line(row: &StoredReceipt, out: &mut String) {
    let receipt = payload_text(&row.jws)
        .and_then(|text| json::parse(&text).ok())
        .and_then(|value| Receipt::from_json(&value).ok());
    // A row whose JWS no longer parses (the audit will say why) is still
    // exported, with its payload columns empty: an export never drops a row.
    let payload: [String; 13] = match &receipt {
        Some(r) => {
            let list = |granted: bool| {
                r.purposes
                    .iter()
                    .filter(|p| p.granted == granted)
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            [
                r.issued_at.clone(),
                r.action.as_str().to_owned(),
                r.method.as_str().to_owned(),
                r.subject.key.clone(),
                list(true),
                list(false),
                r.notice.language.clone(),
                r.notice.revision.to_string(),
                r.notice.sha256.clone(),
                r.context.page.clone(),
                r.context.gpc.to_string(),
                r.context.form.clone().unwrap_or_default(),
                r.previous.clone().unwrap_or_default(),
            ]
        }
        None => Default::default(),
    };
    let fields = [
        row.seq.to_string(),
        row.receipt_id.clone(),
        row.site.clone(),
        row.received_at.clone(),
    ]
    .into_iter()
    .chain(payload)
    .chain([
        row.chain_hash.clone(),
        row.countersignature.clone(),
        row.jws.clone(),
        row.jws_sha256.clone(),
        row.pruned_at.clone().unwrap_or_default(),
    ]);
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&field, out);
    }
    out.push_str("\r\n");
}

/// RFC 4180 quoting, and a leading `'` before `= + - @` so a spreadsheet
/// never runs a visitor-supplied value (a user agent, a form selector) as a
/// formula.
fn csv_field(value: &str, out: &mut String) {
    let formula = value.starts_with(['=', '+', '-', '@']);
    if formula || value.contains([',', '"', '\r', '\n']) {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    site: Option<String>,
}

/// `GET /v1/audit[?site=…]`: one report, or one per site.
pub(crate) async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, AppError> {
    let c = collector(&state)?;
    check_admin(c, &headers)?;
    let keys = c.signer.public_keys();
    if let Some(site) = query.site {
        let report = audit_site(&c.store, keys, &site, (c.clock)(), &[]).await?;
        return Ok(Json(json!(report)));
    }
    let mut reports = Vec::new();
    for site in c.store.sites().await? {
        reports.push(audit_site(&c.store, keys, &site, (c.clock)(), &[]).await?);
    }
    Ok(Json(json!(reports)))
}

/// A site id as the sites file allows it; anything else has no log here.
fn log_site(site: &str) -> Result<(), AppError> {
    if crate::config::is_site_id(site) {
        Ok(())
    } else {
        Err(no_log(site))
    }
}

fn no_log(site: &str) -> AppError {
    AppError::api(
        StatusCode::NOT_FOUND,
        "no_log",
        format!("site {site:?} has no log on this collector (no receipt yet, or not a site id)"),
    )
}

/// `GET /v1/sites/{site}/checkpoint`: the latest signed checkpoint of the
/// site's log, C2SP tlog-checkpoint in a signed note, as text. Public: it
/// holds a size and a hash, and witnesses must be able to poll it.
pub(crate) async fn checkpoint(
    State(state): State<AppState>,
    Path(site): Path<String>,
) -> Result<Response, AppError> {
    let c = collector(&state)?;
    log_site(&site)?;
    let Some((_, text)) = c.store.checkpoint(&site).await? else {
        return Err(no_log(&site));
    };
    Ok((
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        text,
    )
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct InclusionQuery {
    index: u64,
    size: u64,
}

#[derive(Deserialize)]
pub(crate) struct ConsistencyQuery {
    old: u64,
    new: u64,
}

fn proved(site: &str, proved: Proved, what: String) -> Result<Json<Value>, AppError> {
    match proved {
        Proved::Proof(proof) => Ok(Json(json!({ "proof": hashes_b64(&proof) }))),
        Proved::OutOfRange { tree_size: 0 } => Err(no_log(site)),
        Proved::OutOfRange { tree_size } => Err(AppError::api(
            StatusCode::BAD_REQUEST,
            "out_of_range",
            format!("{what} is not inside the log of site {site}, which has {tree_size} receipts"),
        )),
    }
}

/// `GET /v1/sites/{site}/proof/inclusion?index=N&size=M`: the audit path of
/// leaf N in the tree of M leaves, `{"proof": [base64, …]}` from the leaf up.
pub(crate) async fn inclusion_proof(
    State(state): State<AppState>,
    Path(site): Path<String>,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<Value>, AppError> {
    let c = collector(&state)?;
    log_site(&site)?;
    let result = c.store.inclusion_proof(&site, q.index, q.size).await?;
    proved(
        &site,
        result,
        format!("leaf {} of a tree of {}", q.index, q.size),
    )
}

/// `GET /v1/sites/{site}/proof/consistency?old=N&new=M`: the proof that the
/// tree of N leaves is a prefix of the tree of M (RFC 9162 §2.1.4).
pub(crate) async fn consistency_proof(
    State(state): State<AppState>,
    Path(site): Path<String>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<Value>, AppError> {
    let c = collector(&state)?;
    log_site(&site)?;
    let result = c.store.consistency_proof(&site, q.old, q.new).await?;
    proved(
        &site,
        result,
        format!("a tree of {} growing to {}", q.old, q.new),
    )
}

/// `GET /.well-known/jwks.json`: every key in the key file, the one that
/// countersigns now last, so countersignatures made before a `keys rotate`
/// keep verifying for anyone holding it.
pub(crate) async fn jwks(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    Ok(Json(collector(&state)?.signer.jwks()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_whose_jws_no_longer_parses_is_still_exported() {
        let row = StoredReceipt {
            site: "s".into(),
            seq: 7,
            receipt_id: "id".into(),
            jws: "garbage".into(),
            jws_sha256: "aa".into(),
            subject_key: "k".into(),
            received_at: "t".into(),
            chain_hash: "cc".into(),
            countersignature: "cs".into(),
            issued_at: "t".into(),
            action: "grant".into(),
            method: "api".into(),
            leaf_hash: String::new(),
            pruned_at: None,
        };
        let mut line = String::new();
        csv_line(&row, &mut line);
        assert!(line.starts_with("7,id,s,t,"), "{line}");
        assert_eq!(line.split(',').count(), CSV_HEADER.split(',').count());
        assert!(line.ends_with(",cc,cs,garbage,aa,\r\n"), "{line}");
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        let mut out = String::new();
        csv_field("a,b", &mut out);
        out.push('|');
        csv_field("say \"hi\"", &mut out);
        out.push('|');
        csv_field("=HYPERLINK(1)", &mut out);
        out.push('|');
        csv_field("plain", &mut out);
        assert_eq!(out, "\"a,b\"|\"say \"\"hi\"\"\"|\"'=HYPERLINK(1)\"|plain");
    }
}
