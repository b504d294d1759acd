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
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        AppError::Internal(err.to_string())
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
        };
        (status, Json(Body { error, message })).into_response()
    }
}
