//! Files from several directories, first match wins.
//!
//! tower-http's `ServeDir` does the file work (ranges, conditional requests,
//! `index.html` for directories, no path traversal); this module only walks
//! the directories in order and fixes the headers the widget depends on.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::{AppError, AppState};

pub(crate) async fn serve(State(state): State<AppState>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return AppError::MethodNotAllowed.into_response();
    }
    // GET and HEAD carry no body, so the request can be rebuilt per directory.
    let (parts, _) = req.into_parts();
    let content_type = content_type_for(parts.uri.path());

    for dir in state.static_dirs() {
        let attempt = Request::from_parts(parts.clone(), Body::empty());
        let res = match ServeDir::new(dir).oneshot(attempt).await {
            Ok(res) => res,
            Err(never) => match never {},
        };
        if res.status() == StatusCode::NOT_FOUND {
            continue;
        }
        let found = res.status().is_success();
        let mut res = res.into_response();
        let headers = res.headers_mut();
        // The demo and the tests always load the freshly built widget; `no-cache`
        // still allows a 304 revalidation, so it costs little.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let (Some(content_type), true) = (content_type, found) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        return res;
    }
    AppError::NotFound.into_response()
}

/// The types the widget cannot do without, pinned rather than guessed:
/// `WebAssembly.instantiateStreaming` refuses anything but `application/wasm`,
/// and module scripts need a JavaScript type.
fn content_type_for(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.').map(|(_, ext)| ext)?;
    match extension {
        "wasm" => Some("application/wasm"),
        "js" | "mjs" => Some("text/javascript"),
        "json" => Some("application/json"),
        _ => None,
    }
}
