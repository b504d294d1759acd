//! What anyone may fetch to check a site's log without trusting us: the
//! latest signed checkpoint, inclusion and consistency proofs for any size
//! up to it, a receipt's proof as one C2SP tlog-proof text, and every
//! public key (`/.well-known/jwks.json`). Public: they
//! hold sizes and hashes, no personal data, and witnesses must poll them.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::prelude::{Engine as _, BASE64_STANDARD};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::log::Hash;
use crate::state::collector;
use crate::store::Proved;
use crate::{AppError, AppState};

/// Hashes as C2SP writes them: standard base64 with padding.
pub(crate) fn hashes_b64(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| BASE64_STANDARD.encode(h)).collect()
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
    Ok(plain_text(text))
}

/// `GET /v1/sites/{site}/proof/tlog?index=N`: that leaf in a C2SP
/// tlog-proof (c2sp.org/tlog-proof@v1): its index, its inclusion proof and
/// the site's latest signed checkpoint it leads to, in one text a visitor or
/// an auditor keeps beside the receipt and checks offline with any tool of
/// the spec (the entry is the receipt's JWS, as posted).
pub(crate) async fn tlog_proof(
    State(state): State<AppState>,
    Path(site): Path<String>,
    q: Result<Query<TlogProofQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let q = query(q, "?index=N")?;
    let c = collector(&state)?;
    log_site(&site)?;
    let Some((size, checkpoint)) = c.store.checkpoint(&site).await? else {
        return Err(no_log(&site));
    };
    // The checkpoint read first: the log only grows, so a proof at its
    // size can always be made.
    let result = c.store.inclusion_proof(&site, q.index, size).await?;
    let proof = match result {
        Proved::Proof(proof) => proof,
        other => {
            return proved(&site, other, format!("leaf {}", q.index))
                .map(IntoResponse::into_response)
        }
    };
    Ok(plain_text(crate::log::tlog_proof(
        q.index,
        &proof,
        &checkpoint,
    )))
}

/// A text answer that is never cached: it changes with every checkpoint.
fn plain_text(text: String) -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        text,
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct InclusionQuery {
    index: u64,
    size: u64,
}

#[derive(Deserialize)]
pub(crate) struct TlogProofQuery {
    index: u64,
}

#[derive(Deserialize)]
pub(crate) struct ConsistencyQuery {
    old: u64,
    new: u64,
}

/// The query, or a JSON 400 saying what it must be (axum's own rejection
/// is plain text).
fn query<T>(q: Result<Query<T>, QueryRejection>, usage: &str) -> Result<T, AppError> {
    q.map(|Query(q)| q).map_err(|_| {
        AppError::api(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("give the sizes as whole numbers: {usage}"),
        )
    })
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
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    let q = query(q, "?index=N&size=M")?;
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
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    let q = query(q, "?old=N&new=M")?;
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
