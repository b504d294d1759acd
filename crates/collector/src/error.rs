use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The one error type handlers return. The client gets a stable, short JSON
/// body `{"error": "..."}`; any detail worth keeping goes to the log only.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppError {
    /// No route and no static file for this path.
    NotFound,
    /// Static files answer `GET` and `HEAD` only.
    MethodNotAllowed,
    /// Something failed on our side; the cause is logged, never sent.
    Internal(String),
}

#[derive(Serialize)]
struct Body {
    error: &'static str,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, error) = match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, "not found"),
            AppError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            AppError::Internal(cause) => {
                tracing::error!("internal error: {cause}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        };
        (status, Json(Body { error })).into_response()
    }
}
