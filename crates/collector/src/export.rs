//! The site owner's routes, behind the admin token: `GET /v1/export`
//! (NDJSON or CSV, streamed page by page) and `GET /v1/audit` (the same
//! check as `consentry-collector verify`).

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use consentry_receipt::json::{self};
use consentry_receipt::{b64, Receipt};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::audit_site;
use crate::state::collector;
use crate::store::{StoredReceipt, PAGE};
use crate::{AppError, AppState, Collector};

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
                r.context.gpc.map(|g| g.to_string()).unwrap_or_default(),
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
