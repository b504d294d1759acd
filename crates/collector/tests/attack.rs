//! The collector as an attacker meets it, over real TCP on 127.0.0.0/8: a
//! slowloris holding hundreds of half-sent requests, an idle keep-alive
//! connection, and one client flooding receipts. Another client, from
//! 127.0.0.2, must be served throughout. Every loop is bounded in count and
//! time; nothing here measures speed.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consentry_collector::limits::Limits;
use consentry_collector::store::now_rfc3339;
use consentry_collector::{AppState, Sites};
use support::common;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const ORIGIN: &str = "http://127.0.0.1:8080";
/// How long any one step may take before the test gives up: a bound, not a
/// measurement.
const BOUND: Duration = Duration::from_secs(10);

/// What the collector logged, to show no address is in it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut all) = self.0.lock() {
            all.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured_log() -> Captured {
    static LOG: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        let writer = log.clone();
        let _ = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init();
        log
    })
    .clone()
}

struct Running {
    addr: SocketAddr,
    dir: support::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A collector served by `run` on 127.0.0.1 with `limits` and a sites file.
async fn serve(name: &str, limits: Limits, sites_toml: &str) -> Running {
    let _ = captured_log();
    let dir = support::TempDir::new(name);
    let sites = Sites::parse(sites_toml, false).expect("sites");
    let (collector, _) = support::collector_on(&support::sqlite_in(&dir), sites, None).await;
    let state = AppState::new(Vec::new())
        .with_limits(limits)
        .with_collector(collector);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(consentry_collector::run(listener, state, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        dir,
        _stop: stop,
    }
}

fn sites(rate_limit: &str) -> String {
    format!(
        "[sites.{}]\norigins = [\"{ORIGIN}\"]\nrate_limit = {rate_limit}\n",
        common::SITE
    )
}

/// A connection from `source` (any 127.x address: loopback is a /8).
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source address"))
        .expect("bind the source address");
    tokio::time::timeout(BOUND, socket.connect(to))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// One response read off `stream`: status, headers (lower-case), body.
async fn read_response(stream: &mut TcpStream) -> (u16, String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tokio::time::timeout(BOUND, stream.read(&mut chunk))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(
            n > 0,
            "closed before a response: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let status = head[9..12].parse().expect("status");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().expect("length"));
    while buf.len() < head_end + length {
        let n = tokio::time::timeout(BOUND, stream.read(&mut chunk))
            .await
            .expect("the body in time")
            .expect("read");
        assert!(n > 0, "closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    (status, head, body)
}

async fn post_receipt(stream: &mut TcpStream) -> (u16, String, String) {
    let jws = support::signed(common::SITE, &support::uuid(), &now_rfc3339());
    let request = format!(
        "POST /v1/receipts HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{jws}",
        jws.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    read_response(stream).await
}

async fn get(stream: &mut TcpStream, path: &str) -> (u16, String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    read_response(stream).await
}

/// Whether the server has closed `stream` (EOF or reset) within `within`.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(within, stream.read(&mut byte)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

fn short_timeouts() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(1),
        max_connections_per_client: 50,
        ..Limits::default()
    }
}

/// 300 connections from one client, each with half a request head: those
/// past its share are closed at once, the rest when their head is late;
/// meanwhile another client's health check and receipt are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_is_cut_off_and_another_client_is_served_meanwhile() {
    let server = serve("slowloris", short_timeouts(), &sites("\"off\"")).await;
    let mut attack = Vec::new();
    for _ in 0..300 {
        let mut stream = connect_from("127.0.0.1", server.addr).await;
        // Writes to a connection the server already closed may fail: fine.
        let _ = stream
            .write_all(b"POST /v1/receipts HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n")
            .await;
        attack.push(stream);
    }

    let mut other = connect_from("127.0.0.2", server.addr).await;
    let (status, _, body) = get(&mut other, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = post_receipt(&mut other).await;
    assert_eq!(status, 201, "another client's receipt is stored: {body}");

    // After the header timeout (1 s here), every half-open connection is
    // closed by the server: none is left holding a place.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut still_open = 0;
    for stream in &mut attack {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !closed_by_server(stream, left).await {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "the server closed every half-sent request");

    // And the attacker's address is served again once its share is free.
    let mut again = connect_from("127.0.0.1", server.addr).await;
    assert_eq!(get(&mut again, "/healthz").await.0, 200);
}

/// A keep-alive connection that has had its answer and sends nothing more
/// is closed after the timeout, not kept for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = serve("idle", short_timeouts(), &sites("\"off\"")).await;
    let mut stream = connect_from("127.0.0.1", server.addr).await;
    assert_eq!(get(&mut stream, "/healthz").await.0, 200);
    assert_eq!(
        get(&mut stream, "/healthz").await.0,
        200,
        "kept alive between requests"
    );
    assert!(
        closed_by_server(&mut stream, Duration::from_secs(5)).await,
        "idle past the timeout: closed"
    );
}

/// One client posting far past its site's limit gets 429 with a
/// `Retry-After` the widget can read across origins, while another
/// client's receipt is stored; neither address is in the store or the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_client_is_refused_and_another_is_served() {
    let server = serve(
        "flood",
        Limits::default(),
        &sites("{ per_minute = 60, burst = 10 }"),
    )
    .await;
    let mut flood = connect_from("127.0.0.1", server.addr).await;
    let (mut stored, mut refused, mut retry_after) = (0, 0, None);
    for _ in 0..40 {
        let (status, head, body) = post_receipt(&mut flood).await;
        match status {
            201 => stored += 1,
            429 => {
                refused += 1;
                assert!(body.contains("\"rate_limited\""), "{body}");
                assert!(
                    head.contains("access-control-expose-headers: retry-after"),
                    "CORS lets the widget read Retry-After: {head}"
                );
                retry_after = head
                    .lines()
                    .find_map(|l| l.strip_prefix("retry-after:"))
                    .map(|v| v.trim().parse::<u64>().expect("whole seconds"));
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(stored, 10, "the burst passes");
    assert_eq!(refused, 30);
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{retry_after:?}"
    );

    let mut other = connect_from("127.0.0.2", server.addr).await;
    let (status, _, body) = post_receipt(&mut other).await;
    assert_eq!(status, 201, "another client is not held back: {body}");

    // The store and the log hold no client address.
    let db = std::fs::read(server.dir.0.join("consentry.db")).expect("database");
    let wal = std::fs::read(server.dir.0.join("consentry.db-wal")).unwrap_or_default();
    let log = captured_log()
        .0
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    for bytes in [&db, &wal, &log] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("127.0.0.1:") && !text.contains("127.0.0.2"),
            "an address was kept"
        );
    }
    assert!(
        String::from_utf8_lossy(&log).contains("POST /v1/receipts 429"),
        "the refusals are logged, without the client"
    );
}
