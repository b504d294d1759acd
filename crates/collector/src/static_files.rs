//! Files from several directories, first match wins.
//!
//! tower-http's `ServeDir` does the file work (ranges, conditional requests,
//! `index.html` for directories, no path traversal); this module only walks
//! the directories in order, hides dotfiles and fixes the headers the widget
//! depends on. [`check_static_dirs`] keeps the key and the database out of
//! every served directory.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::{AppError, AppState, Config};

pub(crate) async fn serve(State(state): State<AppState>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return AppError::MethodNotAllowed.into_response();
    }
    // GET and HEAD carry no body, so the request can be rebuilt per directory.
    let (parts, _) = req.into_parts();
    if is_hidden(parts.uri.path()) {
        return AppError::NotFound.into_response();
    }
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

/// Whether a request path names a dotfile or passes through a dot-directory
/// (`.env`, `.git/config`): a site folder often holds a repository or secrets
/// there, and nothing the widget or the demo needs starts with a dot
/// (`/.well-known/jwks.json` is a route, answered before static files). Checked after percent-decoding,
/// as `ServeDir` decodes (`%2egit`, `a%2F.env`), and on both separators.
fn is_hidden(path: &str) -> bool {
    percent_decode(path.as_bytes())
        .split(|&b| b == b'/' || b == b'\\')
        .any(|segment| segment.first() == Some(&b'.'))
}

/// `%XX` escapes decoded to their bytes, anything else kept as it is.
fn percent_decode(path: &[u8]) -> Vec<u8> {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut decoded = Vec::with_capacity(path.len());
    let mut rest = path;
    while let Some((&b, tail)) = rest.split_first() {
        if let [b'%', hi, lo, after @ ..] = rest {
            if let (Some(hi), Some(lo)) = (hex(*hi), hex(*lo)) {
                decoded.push(hi << 4 | lo);
                rest = after;
                continue;
            }
        }
        decoded.push(b);
        rest = tail;
    }
    decoded
}

/// Refuses static directories that would serve the countersigning key or the
/// SQLite database (and its `-wal` and `-shm` files): `serve --static .` next
/// to the default `consentry.db` and `collector.key` would otherwise hand the
/// private key to anyone who asks for `/collector.key`.
///
/// A directory is refused when it is, or is an ancestor of, a directory
/// holding one of those files, both canonicalized (symlinks, `..`). Each file
/// is looked for where it is named and, when it is a symlink, where it really
/// is. A file that does not exist yet (the key before the first start) counts
/// by the directory it would be made in; the part of a path that does not
/// exist yet is taken as written. With PostgreSQL only the key file counts;
/// with receipts off (no sites file) only files that exist. The error names
/// the directory and the file.
pub fn check_static_dirs(static_dirs: &[PathBuf], config: &Config) -> Result<(), String> {
    let cwd = std::env::current_dir()
        .map_err(|err| format!("cannot read the working directory: {err}"))?;
    let mut secrets = secret_files(config);
    // Receipts off (no sites file): no key or database will be made, so
    // only ones already there (left from when receipts were on) count.
    if config.sites_file.is_none() {
        secrets.retain(|(_, file)| file.exists());
    }
    for static_dir in static_dirs {
        let served = resolve(&cwd.join(static_dir));
        for (what, file) in &secrets {
            let named_in = resolve(&cwd.join(file.parent().unwrap_or(Path::new(""))));
            let really_in = std::fs::canonicalize(file)
                .ok()
                .and_then(|real| real.parent().map(Path::to_path_buf));
            if std::iter::once(named_in)
                .chain(really_in)
                .any(|dir| dir.starts_with(&served))
            {
                return Err(format!(
                    "--static {}: that directory holds {what} {}, which must never be served; \
                     serve a directory without the key file and the database, or move them out of it",
                    static_dir.display(),
                    file.display()
                ));
            }
        }
    }
    Ok(())
}

/// The files a collector configured by `config` keeps private.
fn secret_files(config: &Config) -> Vec<(&'static str, PathBuf)> {
    let mut files = vec![("the countersigning key", config.key_file.clone())];
    if let Some(db) = config.database_url.strip_prefix("sqlite://") {
        // `:memory:` and `file:` URIs are not plain paths (see `store::sqlite`).
        if !(db.is_empty() || db == ":memory:" || db.starts_with("file:")) {
            for suffix in ["", "-wal", "-shm"] {
                files.push((
                    "the SQLite database",
                    PathBuf::from(format!("{db}{suffix}")),
                ));
            }
        }
    }
    files
}

/// `path` (absolute) canonicalized as far as it exists, the rest as written.
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(mut real) = existing.canonicalize() {
            for part in rest.iter().rev() {
                match part {
                    Component::ParentDir => {
                        real.pop();
                    }
                    Component::Normal(name) => real.push(name),
                    _ => {}
                }
            }
            return real;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            // Not even the root canonicalizes: compare the path as written.
            _ => return path.to_path_buf(),
        }
    }
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
