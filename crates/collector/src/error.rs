use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use consentry_receipt::verify::{self, ErrorKind};
use serde::Serialize;

use crate::store::StoreError;

/// The one error type handlers return. The client gets a stable, short JSON
/// body `{"error": "<code>", "message": "<what to fix>"}`; internal causes go
/// to the log only.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppError {
    /// No route and no static file for this path.
    NotFound,
    /// Static files answer `GET` and `HEAD` only.
    MethodNotAllowed,
    /// A request we refuse, with a stable code and a message the site owner
    /// (or the widget's console) can act on.
    Api {
        status: StatusCode,
        code: &'static str,
        message: Cow<'static, str>,
    },
    /// Something failed on our side; the cause is logged, never sent.
    Internal(String),
    /// The store failed (it cannot be read or written now, its file was
    /// moved, its database is down or read-only): 503, which the widget's
    /// outbox takes as "send it later". The cause, which may name a path or
    /// a host, is logged, never sent.
    StoreUnavailable(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

impl AppError {
    pub fn api(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        AppError::Api {
            status,
            code,
            message: message.into(),
        }
    }

    /// A refused receipt: 413 for size, 400 for everything else, the
    /// verifier's code and message (naming the field for payload errors).
    pub fn from_verify(err: verify::Error) -> Self {
        let status = match err.kind() {
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        AppError::api(status, err.code(), err.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Api { status, .. } => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Every store error is a 503: nothing the client sent can fix it, and the
/// same request later is the right answer (a failed batch rolled back whole;
/// one whose COMMIT went unanswered is found again as a duplicate).
impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        AppError::StoreUnavailable(err.0)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (error, message) = match &self {
            AppError::NotFound => ("not found", None),
            AppError::MethodNotAllowed => ("method not allowed", None),
            AppError::Api { code, message, .. } => (*code, Some(message.as_ref())),
            AppError::Internal(cause) => {
                tracing::error!("internal error: {cause}");
                ("internal error", None)
            }
            AppError::StoreUnavailable(cause) => {
                tracing::error!("store unavailable: {cause}");
                (
                    "store_unavailable",
                    Some("the collector cannot store or read receipts right now; try again later"),
                )
            }
        };
        (status, Json(Body { error, message })).into_response()
    }
}
