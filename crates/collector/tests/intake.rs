//! Cheap before expensive: a receipt or notice from an origin no site lists
//! is refused before its body is read, and a notice with thousands of keys
//! from a site's own origin is parsed, checked and stored.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::Router;
use consentry_collector::{app, AppState, Sites};
use serde_json::Value;
use support::common;
use tower::ServiceExt;

/// The origin of `common::SITE`'s pages.
const ORIGIN: &str = "http://127.0.0.1:8080";
/// The origin of another site on the same collector.
const OTHER_ORIGIN: &str = "https://other.example";
/// A page no site lists.
const FOREIGN: &str = "https://evil.example";
/// The collector's limit on a notice (`intake::MAX_NOTICE_BYTES`).
const MAX_NOTICE_BYTES: usize = 64 * 1024;
/// One minute after the golden receipts were issued.
const NOW: i64 = 1_795_458_660_000;

fn now() -> i64 {
    NOW
}

struct Api {
    router: Router,
    _dir: support::TempDir,
}

/// A collector for two sites, `common::SITE` on [`ORIGIN`] and `other` on
/// [`OTHER_ORIGIN`], read from a sites file as an operator writes it.
async fn api() -> Api {
    let dir = support::TempDir::new("intake");
    let sites = Sites::parse(
        &format!(
            "[sites.{}]\norigins = [\"{ORIGIN}\"]\n\n[sites.other]\norigins = [\"{OTHER_ORIGIN}\"]\n",
            common::SITE
        ),
        false,
    )
    .expect("sites");
    let (collector, _) = support::collector_on(&support::sqlite_in(&dir), sites, None).await;
    Api {
        router: app(AppState::new(Vec::new()).with_collector(collector.with_clock(now))),
        _dir: dir,
    }
}

struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }

    fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or("").to_owned()
    }
}

impl Api {
    async fn post(&self, path: &str, origin: Option<&str>, body: Body) -> Reply {
        let mut req = Request::post(path).header("content-type", "text/plain");
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        let res = self
            .router
            .clone()
            .oneshot(req.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = res.status();
        let body = to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Reply { status, body }
    }

    async fn get(&self, path: &str) -> Reply {
        let res = self
            .router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = res.status();
        let body = to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Reply { status, body }
    }
}

/// A body that notes whether anyone read from it (it holds nothing).
fn watched_body() -> (Body, Arc<AtomicBool>) {
    let read = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&read);
    let stream = futures_util::stream::poll_fn(move |_| {
        flag.store(true, Ordering::SeqCst);
        Poll::<Option<Result<Bytes, std::io::Error>>>::Ready(None)
    });
    (Body::from_stream(stream), read)
}

/// A canonical notice for `site` of exactly 64 KiB (the limit), its texts
/// 9,000 one- and two-character keys and a title that fills the rest: what
/// the quadratic key checks were attacked with.
fn big_notice(site: &str) -> String {
    let alphabet: Vec<char> = (b' '..=b'~')
        .map(char::from)
        .filter(|c| !matches!(c, '"' | '\\'))
        .collect();
    let mut keys: Vec<String> = alphabet.iter().map(char::to_string).collect();
    for a in &alphabet {
        keys.extend(alphabet.iter().map(|b| format!("{a}{b}")));
    }
    keys.truncate(9000);
    let notice = |title: &str| {
        let mut members: Vec<(&str, String)> =
            keys.iter().map(|k| (k.as_str(), "0".into())).collect();
        members.push(("title", format!("\"{title}\"")));
        // ASCII only, so byte order is RFC 8785's UTF-16 order.
        members.sort();
        let texts: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!(
            "{{\"language\":\"en\",\"site\":\"{site}\",\"texts\":{{{}}}}}",
            texts.join(",")
        )
    };
    let short = notice("").len();
    let full = notice(&"x".repeat(MAX_NOTICE_BYTES - short));
    assert_eq!(full.len(), MAX_NOTICE_BYTES);
    full
}

#[tokio::test]
async fn a_big_notice_from_a_foreign_origin_is_refused_without_being_parsed() {
    let api = api().await;
    let big = api
        .post(
            "/v1/notices",
            Some(FOREIGN),
            Body::from(big_notice(common::SITE)),
        )
        .await;
    assert_eq!(
        (big.status, big.error()),
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );
    assert!(big.message().contains(FOREIGN), "{}", big.message());

    // Not even JSON: from a site's origin that is a 400, from a foreign one
    // still the 403, so the origin was checked before the body was parsed.
    let junk = b"{\"site\": not json at all \xff".to_vec();
    let ours = api
        .post("/v1/notices", Some(ORIGIN), Body::from(junk.clone()))
        .await;
    assert_eq!(
        (ours.status, ours.error()),
        (StatusCode::BAD_REQUEST, "bad_notice".into())
    );
    let foreign = api
        .post("/v1/notices", Some(FOREIGN), Body::from(junk.clone()))
        .await;
    assert_eq!(
        (foreign.status, foreign.error()),
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );
    let without = api.post("/v1/notices", None, Body::from(junk)).await;
    assert_eq!(
        (without.status, without.error()),
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );

    // Nor was it read.
    let (body, read) = watched_body();
    let unread = api.post("/v1/notices", Some(FOREIGN), body).await;
    assert_eq!(unread.status, StatusCode::FORBIDDEN);
    assert!(!read.load(Ordering::SeqCst), "the body was read");
}

#[tokio::test]
async fn a_receipt_from_a_foreign_origin_is_refused_before_its_body_is_looked_at() {
    let api = api().await;
    let garbage = api
        .post(
            "/v1/receipts",
            Some(FOREIGN),
            Body::from("this.is not-a.receipt"),
        )
        .await;
    assert_eq!(
        (garbage.status, garbage.error()),
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );
    // Over the size limit, which a site's origin hears as 413.
    let huge = api
        .post(
            "/v1/receipts",
            Some(FOREIGN),
            Body::from(vec![b'a'; 200 * 1024]),
        )
        .await;
    assert_eq!(huge.status, StatusCode::FORBIDDEN);
    let (body, read) = watched_body();
    let unread = api.post("/v1/receipts", None, body).await;
    assert_eq!(
        (unread.status, unread.error()),
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );
    assert!(!read.load(Ordering::SeqCst), "the body was read");

    // From a site's origin the same garbage is read and refused for itself.
    let ours = api
        .post(
            "/v1/receipts",
            Some(ORIGIN),
            Body::from("this.is not-a.receipt"),
        )
        .await;
    assert_eq!(ours.status, StatusCode::BAD_REQUEST, "{}", ours.error());
}

#[tokio::test]
async fn a_big_notice_from_its_sites_origin_is_stored_and_shown_back_exactly() {
    let api = api().await;
    let notice = big_notice(common::SITE);
    let stored = api
        .post("/v1/notices", Some(ORIGIN), Body::from(notice.clone()))
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.message());
    let sha = stored.json()["sha256"].as_str().expect("sha256").to_owned();
    assert_eq!(
        sha,
        consentry_receipt::verify::sha256_hex(notice.as_bytes())
    );
    let shown = api.get(&format!("/v1/notices/{sha}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(String::from_utf8_lossy(&shown.body), notice);

    // One key twice among the 9,000 is refused, as a JSON.parse would have
    // hidden it.
    let twice = notice.replacen("\"ab\":0", "\"ac\":0", 1);
    let refused = api
        .post("/v1/notices", Some(ORIGIN), Body::from(twice))
        .await;
    assert_eq!(
        (refused.status, refused.error()),
        (StatusCode::BAD_REQUEST, "bad_notice".into())
    );
}

#[tokio::test]
async fn an_origin_some_site_allows_is_still_checked_against_the_site_named() {
    let api = api().await;
    // `other`'s page posts a notice and a receipt for `common::SITE`: past
    // the first check (some site allows it), refused by the second.
    let notice = api
        .post(
            "/v1/notices",
            Some(OTHER_ORIGIN),
            Body::from(big_notice(common::SITE)),
        )
        .await;
    assert_eq!(
        (notice.status, notice.error()),
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );
    assert!(
        notice.message().contains(common::SITE),
        "{}",
        notice.message()
    );
    let jws = support::signed(common::SITE, &support::uuid(), common::ISSUED_AT);
    let receipt = api
        .post("/v1/receipts", Some(OTHER_ORIGIN), Body::from(jws.clone()))
        .await;
    assert_eq!(
        (receipt.status, receipt.error()),
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );
    let ours = api
        .post("/v1/receipts", Some(ORIGIN), Body::from(jws))
        .await;
    assert_eq!(ours.status, StatusCode::CREATED, "{}", ours.message());
}
