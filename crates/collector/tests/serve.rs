//! Starts the real collector on `127.0.0.1:0` and talks HTTP/1.1 to it over a
//! plain socket, the way a browser loading the demo page would.

use std::path::PathBuf;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal client: one request per connection, read until the server closes.
async fn send(addr: std::net::SocketAddr, method: &str, path: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");

    let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.lines();
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("consentry-collector-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.0.join(name), contents).expect("write file");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the server with `dirs` and returns its address; it stops when the test ends.
async fn start(dirs: &[&TempDir]) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let state = consentry_collector::AppState::new(dirs.iter().map(|d| d.0.clone()).collect());
    tokio::spawn(consentry_collector::run(
        listener,
        state,
        std::future::pending(),
    ));
    addr
}

#[tokio::test]
async fn healthz_says_ok() {
    let addr = start(&[]).await;
    let reply = send(addr, "GET", "/healthz").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.body, r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn the_widget_files_are_served_with_the_types_browsers_require() {
    let dist = TempDir::new("types");
    dist.write("consentry-core_bg.wasm", "\0asm");
    dist.write("consentry.js", "console.log(1)");
    dist.write("consentry.config.json", "{}");
    let addr = start(&[&dist]).await;

    for (path, content_type) in [
        ("/consentry-core_bg.wasm", "application/wasm"),
        ("/consentry.js", "text/javascript"),
        ("/consentry.config.json", "application/json"),
    ] {
        let reply = send(addr, "GET", path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
        assert_eq!(reply.header("cache-control"), Some("no-cache"), "{path}");
    }
    assert_eq!(
        send(addr, "GET", "/consentry.js").await.body,
        "console.log(1)"
    );
}

#[tokio::test]
async fn the_first_directory_holding_a_path_wins_and_the_next_fills_in() {
    let www = TempDir::new("www");
    let dist = TempDir::new("dist");
    www.write("index.html", "<h1>demo</h1>");
    www.write("shared.txt", "from www");
    dist.write("shared.txt", "from dist");
    dist.write("consentry.js", "loader");
    let addr = start(&[&www, &dist]).await;

    assert_eq!(send(addr, "GET", "/").await.body, "<h1>demo</h1>");
    assert_eq!(send(addr, "GET", "/shared.txt").await.body, "from www");
    assert_eq!(send(addr, "GET", "/consentry.js").await.body, "loader");
}

#[tokio::test]
async fn unknown_paths_and_methods_get_a_json_error() {
    let www = TempDir::new("errors");
    www.write("index.html", "home");
    let addr = start(&[&www]).await;

    let missing = send(addr, "GET", "/nope.js").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body, r#"{"error":"not found"}"#);

    let escape = send(addr, "GET", "/../../etc/passwd").await;
    assert_eq!(escape.status, 404);

    let post = send(addr, "POST", "/index.html").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.body, r#"{"error":"method not allowed"}"#);
}

/// A collector's folder laid out for the static-directory check: the key and
/// the database in `data/`, inside `site/`, with `www/` beside `data/`.
fn laid_out(root: &TempDir, database_url: Option<&str>) -> consentry_collector::Config {
    for dir in ["site/data", "site/www"] {
        std::fs::create_dir_all(root.0.join(dir)).expect("dirs");
    }
    let data = root.0.join("site/data");
    consentry_collector::Config {
        // Receipts on: the key and the database will be made there.
        sites_file: Some(root.0.join("site/sites.toml")),
        database_url: database_url.map_or_else(
            || format!("sqlite://{}", data.join("consentry.db").display()),
            str::to_owned,
        ),
        key_file: data.join("collector.key"),
        admin_token: None,
        log_origin: None,
    }
}

#[test]
fn a_static_dir_holding_the_key_or_the_database_is_refused_and_a_sibling_is_not() {
    let root = TempDir::new("static-check");
    let config = laid_out(&root, None);
    let check = |dir: &str| consentry_collector::check_static_dirs(&[root.0.join(dir)], &config);

    // The key does not exist yet: its directory counts.
    for refused in ["site/data", "site", "site/data/../../site", ""] {
        let err = check(refused).expect_err(refused);
        assert!(
            err.contains(&root.0.join(refused).display().to_string())
                && err.contains("collector.key"),
            "{refused}: names the directory and the key file: {err}"
        );
    }
    check("site/www").expect("a sibling of the key's directory is served");
    check("site/data-public").expect("a name that only starts alike is served");

    // The database alone, the key kept elsewhere.
    let elsewhere = root.0.join("site/www/../secrets/collector.key");
    let config = consentry_collector::Config {
        key_file: elsewhere,
        ..config
    };
    let err = consentry_collector::check_static_dirs(&[root.0.join("site/data")], &config)
        .expect_err("the database's directory");
    assert!(err.contains("consentry.db"), "names the database: {err}");
    let err = consentry_collector::check_static_dirs(&[root.0.join("site/secrets")], &config)
        .expect_err("the key's directory, named through ..");
    assert!(err.contains("collector.key"), "{err}");
}

#[test]
fn with_receipts_off_only_a_key_or_database_already_there_keeps_a_static_dir_out() {
    let root = TempDir::new("static-check-off");
    let config = consentry_collector::Config {
        sites_file: None,
        ..laid_out(&root, None)
    };
    consentry_collector::check_static_dirs(&[root.0.join("site")], &config)
        .expect("static files only: no key or database will be made");
    std::fs::write(&config.key_file, "seed").expect("a key left from before");
    let err = consentry_collector::check_static_dirs(&[root.0.join("site")], &config)
        .expect_err("a key left from before is never served");
    assert!(err.contains("collector.key"), "{err}");
}

#[test]
fn with_postgres_only_the_key_file_keeps_a_static_dir_out() {
    let root = TempDir::new("static-check-pg");
    let config = laid_out(&root, Some("postgres://u:p@127.0.0.1:5432/db"));
    consentry_collector::check_static_dirs(&[root.0.join("site/www")], &config)
        .expect("no SQLite file to keep out");
    consentry_collector::check_static_dirs(&[root.0.join("site")], &config)
        .expect_err("the key is in there");
}

#[cfg(unix)]
#[test]
fn a_key_symlinked_from_a_static_dir_is_refused_where_it_really_is_too() {
    let root = TempDir::new("static-check-link");
    let config = laid_out(&root, None);
    std::fs::write(&config.key_file, "seed").expect("key");
    let link = root.0.join("site/www/collector.key");
    std::os::unix::fs::symlink(&config.key_file, &link).expect("symlink");
    let served_link = consentry_collector::Config {
        key_file: link,
        ..config.clone()
    };
    consentry_collector::check_static_dirs(&[root.0.join("site/www")], &served_link)
        .expect_err("the link is in www");
    consentry_collector::check_static_dirs(&[root.0.join("site/data")], &served_link)
        .expect_err("the key it points at is in data");
}
