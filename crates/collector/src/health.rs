//! `GET /healthz`: whether this collector can take receipts now, for load
//! balancers, orchestrators and `cargo xtask test` (which waits for it).
//!
//! With receipts on, the answer is a real probe of the store
//! ([`Store::probe`](crate::Store::probe): the SQLite file is still the one
//! opened, a read, and a write committed through the group commit), bounded
//! by [`PROBE_TIMEOUT`]. 200 `{"status":"ok"}` when it passes; 503
//! `{"status":"unavailable","reason":"…"}` when not, with a short fixed
//! reason (the cause, which may name a path or a host, goes to the log
//! only). With receipts off (no sites file) there is no store to probe: the
//! collector serves static files, and says ok.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::AppState;

/// A probe not answered by then is a failure: a store that hangs (a lock
/// held elsewhere, a disk or a database server that stopped answering) must
/// not hang the health check too. A healthy probe takes milliseconds; load
/// balancers commonly give a check 5 s.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

pub(crate) async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let ok = (
        StatusCode::OK,
        Json(Health {
            status: "ok",
            reason: None,
        }),
    );
    let Some(collector) = state.collector() else {
        return ok;
    };
    let reason = match tokio::time::timeout(PROBE_TIMEOUT, collector.store.probe()).await {
        Ok(Ok(())) => return ok,
        Ok(Err(failure)) => {
            tracing::warn!("health check: {}: {}", failure.reason, failure.cause);
            failure.reason
        }
        Err(_) => {
            tracing::warn!(
                "health check: the store did not answer within {} s",
                PROBE_TIMEOUT.as_secs()
            );
            "the store did not answer in time"
        }
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(Health {
            status: "unavailable",
            reason: Some(reason),
        }),
    )
}
