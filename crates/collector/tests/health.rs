//! The store broken under a running collector: `/healthz` says 503 and
//! receipts are refused with 503 (never written anywhere else), and both
//! recover on their own when the store does. SQLite: the file moved away,
//! another file put in its place, the file made unwritable, a write lock
//! held elsewhere. PostgreSQL (when `CONSENTRY_TEST_POSTGRES_URL` is set):
//! connections terminated, the database refusing connections, the database
//! read-only. Every request is bounded in time.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::Router;
use consentry_collector::{app, AppState, Store};
use serde_json::Value;
use support::common;
use tower::ServiceExt;

const ORIGIN: &str = "http://127.0.0.1:8080";
/// One minute after `common::ISSUED_AT`, the receipts' issue time.
const NOW: i64 = 1_795_458_660_000;
/// Any one request: far above a healthy answer (milliseconds) and above the
/// health check's own 2 s bound.
const REQUEST_BOUND: Duration = Duration::from_secs(5);
/// How long a recovery (or a failure) may take to show: a probe's result is
/// reused for 1 s, and PostgreSQL connections take a moment to be seen closed.
const SETTLE: Duration = Duration::from_secs(8);

fn now() -> i64 {
    NOW
}

/// A collector serving one site from the store at `url`.
struct Running {
    router: Router,
    _store: Store,
}

async fn collector_on(url: &str) -> Running {
    let (collector, store) =
        support::collector_on(url, support::one_site(ORIGIN, None), None).await;
    Running {
        router: app(AppState::new(Vec::new()).with_collector(collector.with_clock(now))),
        _store: store,
    }
}

impl Running {
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let what = format!("{} {}", req.method(), req.uri());
        let answer = async {
            let res = self.router.clone().oneshot(req).await.expect("infallible");
            let status = res.status();
            let body = to_bytes(res.into_body(), usize::MAX).await.expect("body");
            let json = serde_json::from_slice(&body)
                .unwrap_or_else(|_| panic!("{what}: not JSON: {}", String::from_utf8_lossy(&body)));
            (status, json)
        };
        tokio::time::timeout(REQUEST_BOUND, answer)
            .await
            .unwrap_or_else(|_| panic!("{what} did not answer within {REQUEST_BOUND:?}"))
    }

    async fn health(&self) -> (StatusCode, Value) {
        self.send(
            Request::get("/healthz")
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    /// POSTs a fresh receipt, as the widget does.
    async fn post_receipt(&self) -> (StatusCode, Value) {
        let jws = support::signed(common::SITE, &support::uuid(), common::ISSUED_AT);
        self.send(
            Request::post("/v1/receipts")
                .header("content-type", "text/plain;charset=UTF-8")
                .header("origin", ORIGIN)
                .body(Body::from(jws))
                .expect("request"),
        )
        .await
    }

    /// `/healthz` until it answers 200 `{"status":"ok"}` (within [`SETTLE`]).
    async fn health_is_ok(&self) {
        self.health_until(|status, body| {
            status == StatusCode::OK && *body == serde_json::json!({"status": "ok"})
        })
        .await;
    }

    /// `/healthz` until it answers 503 with a reason containing `reason`
    /// (within [`SETTLE`]).
    async fn health_is_unavailable(&self, reason: &str) {
        self.health_until(|status, body| {
            status == StatusCode::SERVICE_UNAVAILABLE
                && body["status"] == "unavailable"
                && body["reason"].as_str().is_some_and(|r| r.contains(reason))
        })
        .await;
    }

    async fn health_until(&self, done: impl Fn(StatusCode, &Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let (status, body) = self.health().await;
            if done(status, &body) {
                return body;
            }
            assert!(
                start.elapsed() < SETTLE,
                "/healthz still {status} {body} after {SETTLE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A receipt refused as the widget expects to be told "later".
    async fn receipt_is_refused(&self) {
        let (status, body) = self.post_receipt().await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("store_unavailable")),
            "{body}"
        );
    }

    /// A receipt stored now; its seq.
    async fn receipt_is_stored(&self) -> i64 {
        let (status, body) = self.post_receipt().await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["seq"].as_i64().expect("seq")
    }
}

/// SQLite names its side files after the database file.
fn with_side_files(db: &Path) -> [PathBuf; 3] {
    let side = |suffix: &str| PathBuf::from(format!("{}{suffix}", db.display()));
    [db.to_owned(), side("-wal"), side("-shm")]
}

fn move_database(from: &Path, to: &Path) {
    for (a, b) in with_side_files(from).iter().zip(with_side_files(to).iter()) {
        if a.exists() {
            std::fs::rename(a, b).unwrap_or_else(|err| panic!("move {}: {err}", a.display()));
        }
    }
}

/// Receipts in the file at `db`, read by a connection of its own.
fn receipts_in(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open the file");
    conn.query_row("SELECT COUNT(*) FROM receipts", [], |row| row.get(0))
        .expect("count")
}

fn sqlite_url(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_database_file_is_refused_until_it_is_back_and_never_written_meanwhile() {
    let dir = support::TempDir::new("health-moved");
    let db = dir.0.join("consentry.db");
    let moved = dir.0.join("moved-away.db");
    let running = collector_on(&sqlite_url(&db)).await;
    assert_eq!(running.receipt_is_stored().await, 1);
    running.health_is_ok().await;

    move_database(&db, &moved);
    running
        .health_is_unavailable("the database file was moved or deleted")
        .await;
    running.receipt_is_refused().await;
    let dir_name = dir.0.display().to_string();
    let (_, refused) = running.post_receipt().await;
    let (_, health) = running.health().await;
    assert!(
        !refused.to_string().contains(&dir_name) && !health.to_string().contains(&dir_name),
        "a path was sent to the client: {refused} {health}"
    );
    assert_eq!(receipts_in(&moved), 1, "a receipt went into the moved file");

    // Another file at the path is another database: refused too, until a
    // restart, and the moved file still gets nothing.
    std::fs::write(&db, b"").expect("a new file at the path");
    running
        .health_is_unavailable("holds another file than the one opened")
        .await;
    running.receipt_is_refused().await;
    assert_eq!(std::fs::metadata(&db).expect("new file").len(), 0);
    assert_eq!(receipts_in(&moved), 1);
    std::fs::remove_file(&db).expect("remove the new file");

    move_database(&moved, &db);
    running.health_is_ok().await;
    assert_eq!(running.receipt_is_stored().await, 2);
    assert_eq!(receipts_in(&db), 2);
}

/// `chattr +i`: as root, the one way here to make a file that is already
/// open unwritable (chmod stops neither root nor a process holding the file
/// open, which the collector always does). Undone on drop.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// `None` where `chattr` is missing, not permitted (not root) or not
    /// supported by the file system.
    fn make(files: &[PathBuf]) -> Option<Immutable> {
        let mut made = Immutable(Vec::new());
        for file in files {
            let ok = std::process::Command::new("chattr")
                .arg("+i")
                .arg(file)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return None;
            }
            made.0.push(file.clone());
        }
        Some(made)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(file)
                .status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_file_that_cannot_be_written_is_a_503_until_it_can() {
    let dir = support::TempDir::new("health-unwritable");
    let db = dir.0.join("consentry.db");
    let running = collector_on(&sqlite_url(&db)).await;
    assert_eq!(running.receipt_is_stored().await, 1);

    // The database file and its write-ahead log, where every commit goes.
    let [main, wal, _] = with_side_files(&db);
    let Some(locked) = Immutable::make(&[main, wal]) else {
        eprintln!(
            "chattr +i is not available here (needs root and a file system with the \
             immutable flag): skipping the unwritable-file case"
        );
        return;
    };
    running
        .health_is_unavailable("the store cannot be written")
        .await;
    running.receipt_is_refused().await;
    assert_eq!(receipts_in(&db), 1);

    drop(locked);
    running.health_is_ok().await;
    assert_eq!(running.receipt_is_stored().await, 2);
    assert_eq!(receipts_in(&db), 2);
}

/// A store that hangs (here: another process holds the write lock, and the
/// writer waits for it) does not hang the health check: 503 within its
/// bound, and 200 once the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_elsewhere_is_a_503_within_the_health_checks_bound() {
    let dir = support::TempDir::new("health-locked");
    let db = dir.0.join("consentry.db");
    let running = collector_on(&sqlite_url(&db)).await;
    assert_eq!(running.receipt_is_stored().await, 1);
    // Past the reuse of the last probe's result.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let other = rusqlite::Connection::open(&db).expect("another connection");
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let start = Instant::now();
    let (status, body) = running.health().await;
    let took = start.elapsed();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["reason"], "the store did not answer in time", "{body}");
    assert!(took < Duration::from_secs(3), "the check took {took:?}");

    other.execute_batch("COMMIT").expect("release the lock");
    running.health_is_ok().await;
    assert_eq!(running.receipt_is_stored().await, 2);
}

/// A database of this test's own, so refusing connections or writes
/// touches no other test; dropped at the end, even after a failure.
struct OwnDatabase {
    admin: String,
    name: String,
}

impl OwnDatabase {
    async fn create(admin: &str) -> OwnDatabase {
        let name = format!("consentry_health_{}", support::unique());
        admin_sql(admin, &format!("CREATE DATABASE {name}")).await;
        OwnDatabase {
            admin: admin.to_owned(),
            name,
        }
    }

    /// The admin URL with this database's name in place of its own.
    fn url(&self) -> String {
        let (base, query) = match self.admin.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (self.admin.as_str(), None),
        };
        let authority_end = base
            .find("://")
            .map(|scheme| scheme + 3)
            .and_then(|start| base[start..].find('/').map(|slash| start + slash))
            .unwrap_or(base.len());
        let mut url = format!("{}/{}", &base[..authority_end], self.name);
        if let Some(query) = query {
            url = format!("{url}?{query}");
        }
        url
    }

    async fn sql(&self, sql: &str) {
        admin_sql(&self.admin, &sql.replace("{db}", &self.name)).await;
    }

    /// Ends every connection to this database (the collector's included).
    async fn terminate_connections(&self) {
        self.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{db}' AND pid <> pg_backend_pid()",
        )
        .await;
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop cannot await: a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(admin_sql(
                    &admin,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ));
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// One statement on its own connection (CREATE DATABASE refuses a
/// transaction block), bounded in time.
async fn admin_sql(admin: &str, sql: &str) {
    let run = async {
        let (client, connection) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
            .await
            .expect("connect as admin");
        tokio::spawn(connection);
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    };
    tokio::time::timeout(REQUEST_BOUND, run)
        .await
        .unwrap_or_else(|_| panic!("{sql}: no answer within {REQUEST_BOUND:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_that_refuses_connections_or_writes_is_a_503_until_it_recovers() {
    let Some(support::Db::Postgres(admin)) = support::Db::postgres() else {
        return;
    };
    let db = OwnDatabase::create(&admin).await;
    let running = collector_on(&db.url()).await;
    assert_eq!(running.receipt_is_stored().await, 1);
    running.health_is_ok().await;

    // Connections dropped (a restart, a failover): the next request
    // reconnects, nothing to see.
    db.terminate_connections().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(running.receipt_is_stored().await, 2);
    running.health_is_ok().await;

    // The database down for good: no connection can be made.
    db.sql("ALTER DATABASE {db} ALLOW_CONNECTIONS false").await;
    db.terminate_connections().await;
    running.health_is_unavailable("the store cannot be").await;
    running.receipt_is_refused().await;
    db.sql("ALTER DATABASE {db} ALLOW_CONNECTIONS true").await;
    running.health_is_ok().await;
    assert_eq!(running.receipt_is_stored().await, 3);

    // Read-only (a replica after a failover, a disk-full emergency): the
    // collector reconnects into sessions that refuse every write.
    db.sql("ALTER DATABASE {db} SET default_transaction_read_only = on")
        .await;
    db.terminate_connections().await;
    running
        .health_is_unavailable("the store cannot be written")
        .await;
    running.receipt_is_refused().await;
    // Writable again for new sessions only: the writer dropped the session
    // that failed, so the next batch gets a writable one, with no restart.
    db.sql("ALTER DATABASE {db} RESET default_transaction_read_only")
        .await;
    running.health_is_ok().await;
    assert_eq!(running.receipt_is_stored().await, 4);
    drop(running);
}
