//! The receipt API, request by request, with the golden receipts and
//! receipts signed in-test the way the browser signs them.

mod support;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::Router;
use consentry_collector::store::Lookup;
use consentry_collector::{app, audit, retention, AppState, Sites, Store};
use serde_json::Value;
use support::common;
use tower::ServiceExt;

const ORIGIN: &str = "http://127.0.0.1:8080";
const TOKEN: &str = "test-admin-token";
/// One minute after the golden receipts were issued.
const NOW: i64 = 1_795_458_660_000;

fn now() -> i64 {
    NOW
}

struct Api {
    router: Router,
    store: Store,
    sites: Sites,
    _dir: support::TempDir,
}

async fn api_with(admin_token: Option<&str>) -> Api {
    let dir = support::TempDir::new("api");
    let sites = support::one_site(ORIGIN, Some(1095));
    let (collector, store) =
        support::collector_on(&support::sqlite_in(&dir), sites.clone(), admin_token).await;
    Api {
        router: app(AppState::new(Vec::new()).with_collector(collector.with_clock(now))),
        store,
        sites,
        _dir: dir,
    }
}

async fn api() -> Api {
    api_with(Some(TOKEN)).await
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("JSON: {}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }
}

impl Api {
    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let body = to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn post_receipt(&self, jws: impl Into<Vec<u8>>) -> Reply {
        self.send(
            Request::post("/v1/receipts")
                .header("content-type", "text/plain;charset=UTF-8")
                .header("origin", ORIGIN)
                .body(Body::from(jws.into()))
                .expect("request"),
        )
        .await
    }

    async fn get(&self, path: &str, authorization: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        self.send(req.body(Body::empty()).expect("request")).await
    }
}

fn golden(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../receipt/testdata")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn receipt_at(id: &str, issued_at: &str) -> String {
    support::signed(common::SITE, id, issued_at)
}

#[tokio::test]
async fn a_valid_receipt_is_stored_countersigned_and_a_resend_gets_the_same_answer() {
    let api = api().await;
    let first = api.post_receipt(golden("valid.jws")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let ack = first.json();
    assert_eq!(ack["receipt_id"], common::RECEIPT_ID);
    assert_eq!(ack["seq"], 1);
    assert_eq!(first.headers["access-control-allow-origin"], ORIGIN);

    let again = api.post_receipt(golden("valid.jws")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.body, first.body,
        "a duplicate gets the identical response"
    );

    let stored = api
        .get(&format!("/v1/receipts/{}", common::RECEIPT_ID), None)
        .await;
    assert_eq!(stored.status, StatusCode::OK);
    let stored = stored.json();
    assert_eq!(
        stored["jws"].as_str().map(str::as_bytes),
        Some(golden("valid.jws").as_slice())
    );
    assert_eq!(stored["countersignature"], ack["countersignature"]);
    let key = common::thumbprint_of(&common::key_a());
    assert_eq!(
        (&stored["subject_key"], &ack["subject_key"]),
        (&key.clone().into(), &key.into())
    );
    assert!(support::signer()
        .verify(ack["countersignature"].as_str().expect("str"))
        .is_some_and(|payload| payload.contains(common::RECEIPT_ID)));
}

#[tokio::test]
async fn each_broken_golden_receipt_gets_a_json_error_naming_the_reason() {
    let api = api().await;
    for (file, status, code) in [
        (
            "tampered_payload.jws",
            StatusCode::BAD_REQUEST,
            "bad_signature",
        ),
        ("wrong_key.jws", StatusCode::BAD_REQUEST, "bad_signature"),
        ("wrong_alg.jws", StatusCode::BAD_REQUEST, "unsupported_alg"),
        ("alg_none.jws", StatusCode::BAD_REQUEST, "unsupported_alg"),
        ("key_mismatch.jws", StatusCode::BAD_REQUEST, "key_mismatch"),
        ("bad_base64.jws", StatusCode::BAD_REQUEST, "bad_encoding"),
        ("oversized.jws", StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
    ] {
        let reply = api.post_receipt(golden(file)).await;
        assert_eq!(
            (reply.status, reply.error()),
            (status, code.to_owned()),
            "{file}"
        );
        assert!(reply.json()["message"].is_string(), "{file}");
    }
    // Nothing was written.
    let missing = api
        .get(&format!("/v1/receipts/{}", common::RECEIPT_ID), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_body_far_over_the_limit_gets_a_json_413() {
    let api = api().await;
    let reply = api.post_receipt(vec![b'a'; 200 * 1024]).await;
    assert_eq!(
        (reply.status, reply.error()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into())
    );
}

#[tokio::test]
async fn a_payload_error_names_the_field() {
    let api = api().await;
    let key = common::key_a();
    let mut r = common::receipt(&key);
    r.purposes.clear();
    let reply = api.post_receipt(common::sign_receipt(&key, &r)).await;
    assert_eq!(reply.error(), "bad_payload");
    assert!(reply.json()["message"]
        .as_str()
        .expect("message")
        .contains("purposes"));
}

#[tokio::test]
async fn receipts_from_another_origin_no_origin_or_an_unknown_site_are_refused() {
    let api = api().await;
    let post = |origin: Option<&str>, body: Vec<u8>| {
        let mut req = Request::post("/v1/receipts").header("content-type", "text/plain");
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.body(Body::from(body)).expect("request")
    };
    let other = api
        .send(post(Some("https://evil.example"), golden("valid.jws")))
        .await;
    assert_eq!(
        (other.status, other.error()),
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );
    assert!(other.headers.get("access-control-allow-origin").is_none());
    let none = api.send(post(None, golden("valid.jws"))).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);

    let key = common::key_a();
    let unknown = common::sign_receipt(
        &key,
        &common::receipt_with(&key, "someone-else", &support::uuid(), common::ISSUED_AT),
    );
    let reply = api.post_receipt(unknown).await;
    assert_eq!(
        (reply.status, reply.error()),
        (StatusCode::BAD_REQUEST, "unknown_site".into())
    );
}

#[tokio::test]
async fn a_receipt_from_the_future_or_older_than_thirty_days_is_refused() {
    let api = api().await;
    let future = api
        .post_receipt(receipt_at(&support::uuid(), "2026-11-23T18:42:00.000Z"))
        .await;
    assert_eq!(
        (future.status, future.error()),
        (StatusCode::BAD_REQUEST, "clock_skew".into())
    );
    let old = api
        .post_receipt(receipt_at(&support::uuid(), "2026-10-23T18:00:00.000Z"))
        .await;
    assert_eq!(old.error(), "clock_skew");
    let delayed = api
        .post_receipt(receipt_at(&support::uuid(), "2026-11-01T08:00:00.000Z"))
        .await;
    assert_eq!(
        delayed.status,
        StatusCode::CREATED,
        "a receipt kept offline for weeks: {}",
        delayed.text()
    );
}

#[tokio::test]
async fn a_different_receipt_reusing_an_id_is_a_conflict() {
    let api = api().await;
    let id = support::uuid();
    assert_eq!(
        api.post_receipt(receipt_at(&id, "2026-11-23T18:30:00.000Z"))
            .await
            .status,
        StatusCode::CREATED
    );
    let reply = api
        .post_receipt(receipt_at(&id, "2026-11-23T18:30:01.000Z"))
        .await;
    assert_eq!(
        (reply.status, reply.error()),
        (StatusCode::CONFLICT, "conflict".into())
    );
}

/// Someone who saw the visitor's receipt id (in the cookie, a form's hidden
/// field) posts a receipt of their own under it first: the visitor's
/// receipt is still stored, and the key tells the two apart.
#[tokio::test]
async fn a_receipt_id_squatted_by_another_key_still_takes_the_visitors_receipt() {
    let api = api().await;
    let id = support::uuid();
    let (visitor, squatter) = (common::key_a(), common::key_b());
    let (visitor_key, squatter_key) = (
        common::thumbprint_of(&visitor),
        common::thumbprint_of(&squatter),
    );
    let squat = support::signed_by(&squatter, common::SITE, &id, common::ISSUED_AT);
    let mine = support::signed_by(&visitor, common::SITE, &id, common::ISSUED_AT);

    let first = api.post_receipt(squat.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let second = api.post_receipt(mine.clone()).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    let ack = second.json();
    assert_eq!(
        (&ack["receipt_id"], &ack["seq"]),
        (&id.clone().into(), &2.into())
    );
    assert_eq!(ack["subject_key"], visitor_key.as_str());
    let again = api.post_receipt(mine.clone()).await;
    assert_eq!((again.status, &again.body), (StatusCode::OK, &second.body));

    let keyed = |key: &str| format!("/v1/receipts/{id}?key={key}");
    let got = api.get(&keyed(&visitor_key), None).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());
    let got = got.json();
    assert_eq!(got["jws"], mine.as_str());
    assert_eq!(got["subject_key"], visitor_key.as_str());
    assert_eq!(got["countersignature"], ack["countersignature"]);
    assert_eq!(
        api.get(&keyed(&squatter_key), None).await.json()["jws"],
        squat.as_str()
    );
    let nobody = common::thumbprint_of(&common::key_from_seed(3));
    assert_eq!(
        api.get(&keyed(&nobody), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(&keyed("not-a-key"), None).await.status,
        StatusCode::NOT_FOUND
    );

    let unkeyed = api.get(&format!("/v1/receipts/{id}"), None).await;
    assert_eq!(
        (unkeyed.status, unkeyed.error()),
        (StatusCode::CONFLICT, "ambiguous".into())
    );
    assert!(
        unkeyed.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("?key=") && m.contains("consentry_receipt_key")),
        "{}",
        unkeyed.text()
    );

    let bearer = format!("Bearer {TOKEN}");
    let export = api
        .get("/v1/export?site=acme-landing&format=ndjson", Some(&bearer))
        .await;
    let lines: Vec<Value> = export
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    let jws: Vec<&str> = lines
        .iter()
        .filter(|line| line["receipt_id"] == id.as_str())
        .filter_map(|line| line["jws"].as_str())
        .collect();
    assert_eq!(jws, [squat.as_str(), mine.as_str()]);
    let report = api
        .get("/v1/audit?site=acme-landing", Some(&bearer))
        .await
        .json();
    assert_eq!(
        (&report["ok"], &report["receipts"]),
        (&true.into(), &2.into())
    );
}

#[tokio::test]
async fn receipts_of_one_site_form_a_chain() {
    let api = api().await;
    let a = receipt_at(&support::uuid(), common::ISSUED_AT);
    let b = receipt_at(&support::uuid(), common::ISSUED_AT);
    let first = api.post_receipt(a.clone()).await.json();
    let second = api.post_receipt(b.clone()).await.json();
    use consentry_collector::store::{next_chain_hash, GENESIS};
    use consentry_receipt::verify::{hex, sha256};
    let h1 = next_chain_hash(&GENESIS, &sha256(a.as_bytes()));
    let h2 = next_chain_hash(&h1, &sha256(b.as_bytes()));
    assert_eq!(
        (first["seq"].clone(), second["seq"].clone()),
        (Value::from(1), Value::from(2))
    );
    assert_eq!(second["chain_hash"], hex(&h2));
}

#[tokio::test]
async fn other_content_types_are_refused() {
    let api = api().await;
    let reply = api
        .send(
            Request::post("/v1/receipts")
                .header("content-type", "application/json")
                .header("origin", ORIGIN)
                .body(Body::from(golden("valid.jws")))
                .expect("request"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_preflight_from_a_site_origin_is_allowed_and_from_elsewhere_is_not() {
    let api = api().await;
    let preflight = |origin: &str| {
        Request::options("/v1/receipts")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .expect("request")
    };
    let ok = api.send(preflight(ORIGIN)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers["access-control-allow-origin"], ORIGIN);
    assert!(ok.headers["access-control-allow-methods"]
        .to_str()
        .expect("str")
        .contains("POST"));
    assert!(ok
        .headers
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("origin"))));
    let evil = api.send(preflight("https://evil.example")).await;
    assert!(evil.headers.get("access-control-allow-origin").is_none());
}

fn notice_text() -> String {
    format!(
        "{{\"language\":\"en\",\"site\":\"{}\",\"texts\":{{\"title\":\"We use cookies\"}}}}",
        common::SITE
    )
}

#[tokio::test]
async fn a_canonical_notice_is_stored_once_and_shown_back_exactly() {
    let api = api().await;
    let post = |body: String| {
        Request::post("/v1/notices")
            .header("content-type", "text/plain")
            .header("origin", ORIGIN)
            .body(Body::from(body))
            .expect("request")
    };
    let first = api.send(post(notice_text())).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let sha = first.json()["sha256"].as_str().expect("sha").to_owned();
    assert_eq!(
        sha,
        consentry_receipt::verify::sha256_hex(notice_text().as_bytes())
    );
    assert_eq!(api.send(post(notice_text())).await.status, StatusCode::OK);
    let shown = api.get(&format!("/v1/notices/{sha}"), None).await;
    assert_eq!(shown.text(), notice_text());

    let spaced = api.send(post(notice_text().replace(":", ": "))).await;
    assert_eq!(
        (spaced.status, spaced.error()),
        (StatusCode::BAD_REQUEST, "bad_notice".into())
    );
}

fn pop(key: &p256::ecdsa::SigningKey, sub: &str, htu: &str, iat: i64) -> String {
    let payload = format!("{{\"htu\":\"{htu}\",\"iat\":{iat},\"sub\":\"{sub}\"}}");
    format!(
        "Consentry-PoP {}",
        common::sign_with_typ(key, "consentry-pop+jws", &payload)
    )
}

#[tokio::test]
async fn a_visitor_reads_their_own_history_with_proof_of_possession_and_no_one_else_can() {
    let api = api().await;
    api.post_receipt(golden("valid.jws")).await;
    let a = common::key_a();
    let key = common::thumbprint_of(&a);
    let path = format!("/v1/subjects/{key}/receipts");
    let iat = NOW / 1000;

    let mine = api.get(&path, Some(&pop(&a, &key, &path, iat))).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text());
    assert_eq!(mine.json()[0]["receipt_id"], common::RECEIPT_ID);

    let none = api.get(&path, None).await;
    assert_eq!(
        (none.status, none.error()),
        (StatusCode::UNAUTHORIZED, "pop_required".into())
    );
    let b = common::key_b();
    let stranger = api.get(&path, Some(&pop(&b, &key, &path, iat))).await;
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
    let stale = api.get(&path, Some(&pop(&a, &key, &path, iat - 600))).await;
    assert_eq!(stale.error(), "pop_expired");
    let elsewhere = api
        .get(&path, Some(&pop(&a, &key, "/v1/export", iat)))
        .await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_site_owner_exports_ndjson_and_csv_with_the_admin_token() {
    let api = api().await;
    api.post_receipt(golden("valid.jws")).await;
    api.post_receipt(receipt_at(&support::uuid(), common::ISSUED_AT))
        .await;
    let bearer = format!("Bearer {TOKEN}");

    let ndjson = api
        .get("/v1/export?site=acme-landing&format=ndjson", Some(&bearer))
        .await;
    assert_eq!(ndjson.status, StatusCode::OK);
    let lines: Vec<Value> = ndjson
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["receipt"]["purposes"][1]["id"], "analytics");
    assert_eq!(
        lines[0]["jws"].as_str().map(str::as_bytes),
        Some(golden("valid.jws").as_slice())
    );

    let csv = api
        .get("/v1/export?site=acme-landing&format=csv", Some(&bearer))
        .await;
    let text = csv.text();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].starts_with("seq,receipt_id,site,"));
    assert!(
        rows[1].contains(",necessary analytics,marketing,"),
        "{}",
        rows[1]
    );

    let anonymous = api.get("/v1/export?site=acme-landing", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let wrong = api
        .get("/v1/export?site=acme-landing", Some("Bearer nope"))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn export_and_audit_are_off_without_an_admin_token() {
    let api = api_with(None).await;
    let reply = api
        .get("/v1/export?site=acme-landing", Some("Bearer anything"))
        .await;
    assert_eq!(
        (reply.status, reply.error()),
        (StatusCode::SERVICE_UNAVAILABLE, "no_admin_token".into())
    );
}

#[tokio::test]
async fn the_audit_reports_an_intact_chain() {
    let api = api().await;
    api.post_receipt(golden("valid.jws")).await;
    api.post_receipt(receipt_at(&support::uuid(), common::ISSUED_AT))
        .await;
    let bearer = format!("Bearer {TOKEN}");
    let report = api
        .get("/v1/audit?site=acme-landing", Some(&bearer))
        .await
        .json();
    assert_eq!(
        report,
        serde_json::json!({"site": "acme-landing", "receipts": 2, "pruned": 0, "checkpoint_size": 2, "ok": true})
    );
    let all = api.get("/v1/audit", Some(&bearer)).await.json();
    assert_eq!(all[0]["ok"], true);
}

#[tokio::test]
async fn past_retention_a_receipt_loses_its_personal_data_and_the_chain_still_audits() {
    let api = api().await;
    let first = api.post_receipt(golden("valid.jws")).await.json();
    api.post_receipt(receipt_at(&support::uuid(), common::ISSUED_AT))
        .await;
    let id = first["receipt_id"].as_str().expect("id").to_owned();
    let bearer = format!("Bearer {TOKEN}");

    // Today nothing is past the site's 1095 days.
    let today = consentry_collector::now_ms();
    let passes = retention::prune_sites(&api.store, &support::signer(), &api.sites, None, today)
        .await
        .expect("prune");
    assert_eq!(passes[0].pruned, 0);
    assert_eq!(
        api.get(&format!("/v1/receipts/{id}"), None).await.status,
        StatusCode::OK
    );

    // 1096 days on, both go.
    let later = today + 1096 * 24 * 60 * 60 * 1000;
    let passes = retention::prune_sites(&api.store, &support::signer(), &api.sites, None, later)
        .await
        .expect("prune");
    assert_eq!(
        (passes[0].site.as_str(), passes[0].pruned),
        (common::SITE, 2)
    );

    let gone = api.get(&format!("/v1/receipts/{id}"), None).await;
    assert_eq!(
        (gone.status, gone.error()),
        (StatusCode::GONE, "pruned".into())
    );
    let Lookup::One(row) = api.store.get(&id, None).await.expect("get") else {
        panic!("the row is kept");
    };
    assert_eq!((row.jws.as_str(), row.subject_key.as_str()), ("", ""));
    assert_eq!(row.countersignature, first["countersignature"]);

    // Audited on that later day (this API's clock is pinned to the day the
    // golden receipts were signed, when a pruning is still in the future).
    let report = audit::audit_site(
        &api.store,
        support::signer().public_keys(),
        common::SITE,
        later,
        &[],
    )
    .await
    .expect("audit");
    assert!(
        report.ok && (report.receipts, report.pruned) == (2, 2),
        "{report:?}"
    );
    let line: Value = serde_json::from_str(
        api.get("/v1/export?site=acme-landing&format=ndjson", Some(&bearer))
            .await
            .text()
            .lines()
            .next()
            .expect("a line"),
    )
    .expect("json");
    assert_eq!(
        (line["jws"].as_str(), &line["receipt"]),
        (Some(""), &Value::Null)
    );
    assert!(line["pruned_at"].is_string(), "{line}");
    assert_eq!(line["jws_sha256"].as_str().map(str::len), Some(64));
}

#[tokio::test]
async fn the_countersigning_key_is_published_as_a_jwks() {
    let api = api().await;
    let jwks = api.get("/.well-known/jwks.json", None).await.json();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert_eq!(key["kid"], support::signer().kid());
}

#[tokio::test]
async fn without_sites_the_receipt_api_says_so_and_static_files_still_work() {
    let router = app(AppState::new(Vec::new()));
    let res = router
        .oneshot(
            Request::post("/v1/receipts")
                .header("content-type", "text/plain")
                .body(Body::from(golden("valid.jws")))
                .expect("req"),
        )
        .await
        .expect("infallible");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value =
        serde_json::from_slice(&to_bytes(res.into_body(), usize::MAX).await.expect("body"))
            .expect("json");
    assert_eq!(body["error"], "no_sites");
}

#[tokio::test]
async fn dotfiles_and_dot_directories_are_never_served_but_the_files_beside_them_are() {
    let www = support::TempDir::new("dotfiles");
    std::fs::write(www.0.join("page.txt"), "a page").expect("page");
    std::fs::write(www.0.join(".env"), "SECRET=1").expect(".env");
    std::fs::create_dir_all(www.0.join(".git")).expect(".git");
    std::fs::write(www.0.join(".git/config"), "[core]").expect(".git/config");
    std::fs::create_dir_all(www.0.join("sub/.hidden")).expect("sub/.hidden");
    std::fs::write(www.0.join("sub/.hidden/index.html"), "hidden").expect("hidden");
    let router = app(AppState::new(vec![www.0.clone()]));
    let get = |path: &'static str| {
        let router = router.clone();
        async move {
            let res = router
                .oneshot(Request::get(path).body(Body::empty()).expect("req"))
                .await
                .expect("infallible");
            let status = res.status();
            let body = to_bytes(res.into_body(), usize::MAX).await.expect("body");
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };

    assert_eq!(get("/page.txt").await, (StatusCode::OK, "a page".into()));
    let not_found = (StatusCode::NOT_FOUND, r#"{"error":"not found"}"#.to_owned());
    for path in [
        "/.env",
        "/.git/config",
        "/.git/",
        "/sub/.hidden/",
        // Encoded, as ServeDir decodes them.
        "/%2eenv",
        "/%2Egit/config",
        "/sub%2F.hidden/index.html",
    ] {
        assert_eq!(get(path).await, not_found, "{path}");
    }
}

/// The log's public face: a 201 carries its leaf index, the signed
/// checkpoint and an inclusion proof; the checkpoint route serves the latest
/// as text; proofs for earlier sizes verify; a bad query or an unknown site
/// is a JSON error.
#[tokio::test]
async fn acknowledgements_checkpoints_and_proofs_verify_with_the_public_key() {
    use consentry_collector::log::{self, Checkpoint};
    let api = api().await;
    let keys = support::signer().public_keys().clone();
    let origin = format!("{}/{}", support::LOG_ORIGIN, common::SITE);
    let known = keys.note_keys(&origin).expect("keys");
    let b64 = |v: &Value| -> Vec<log::Hash> {
        use base64::prelude::{Engine as _, BASE64_STANDARD};
        v.as_array()
            .expect("a list")
            .iter()
            .map(|h| {
                BASE64_STANDARD
                    .decode(h.as_str().expect("text"))
                    .expect("base64")
                    .try_into()
                    .expect("32 bytes")
            })
            .collect()
    };
    let mut acks = Vec::new();
    for _ in 0..5 {
        let jws = receipt_at(&support::uuid(), common::ISSUED_AT);
        let reply = api.post_receipt(jws.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        acks.push((jws, reply.json()));
    }
    for (i, (jws, ack)) in acks.iter().enumerate() {
        assert_eq!(ack["leaf_index"], i as u64);
        let head = Checkpoint::open(
            ack["checkpoint"].as_str().expect("text").as_bytes(),
            &origin,
            &known,
        )
        .expect("a signed checkpoint of this log");
        assert_eq!(head.size(), i as u64 + 1, "each POST was its own batch");
        log::verify_inclusion(
            &log::leaf_hash(jws.as_bytes()),
            i as u64,
            head.size(),
            &b64(&ack["inclusion_proof"]),
            head.root(),
        )
        .expect("the proof leads to the checkpoint");
    }

    let latest = api
        .get(&format!("/v1/sites/{}/checkpoint", common::SITE), None)
        .await;
    assert_eq!(latest.status, StatusCode::OK);
    assert!(latest.headers["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/plain"));
    let latest = Checkpoint::open(latest.text().as_bytes(), &origin, &known).expect("signed");
    assert_eq!(latest.size(), 5);
    let first = Checkpoint::open(
        acks[0].1["checkpoint"].as_str().expect("text").as_bytes(),
        &origin,
        &known,
    )
    .expect("signed");
    let consistency = api
        .get(
            &format!("/v1/sites/{}/proof/consistency?old=1&new=5", common::SITE),
            None,
        )
        .await
        .json();
    log::verify_consistency(
        1,
        5,
        &b64(&consistency["proof"]),
        first.root(),
        latest.root(),
    )
    .expect("the first checkpoint is a prefix of the latest");
    let inclusion = api
        .get(
            &format!("/v1/sites/{}/proof/inclusion?index=2&size=4", common::SITE),
            None,
        )
        .await
        .json();
    let at_four = Checkpoint::open(
        acks[3].1["checkpoint"].as_str().expect("text").as_bytes(),
        &origin,
        &known,
    )
    .expect("signed");
    log::verify_inclusion(
        &log::leaf_hash(acks[2].0.as_bytes()),
        2,
        4,
        &b64(&inclusion["proof"]),
        at_four.root(),
    )
    .expect("a proof for an earlier size");

    for (path, status, code) in [
        (
            format!("/v1/sites/{}/proof/inclusion?index=5&size=5", common::SITE),
            StatusCode::BAD_REQUEST,
            "out_of_range",
        ),
        (
            format!("/v1/sites/{}/proof/inclusion?index=1&size=9", common::SITE),
            StatusCode::BAD_REQUEST,
            "out_of_range",
        ),
        (
            format!("/v1/sites/{}/proof/consistency?old=x&new=5", common::SITE),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            format!("/v1/sites/{}/proof/inclusion?index=1", common::SITE),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            format!("/v1/sites/{}/proof/tlog?index=5", common::SITE),
            StatusCode::BAD_REQUEST,
            "out_of_range",
        ),
        (
            format!("/v1/sites/{}/proof/tlog?index=-1", common::SITE),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "/v1/sites/nobody/proof/tlog?index=0".to_owned(),
            StatusCode::NOT_FOUND,
            "no_log",
        ),
        (
            "/v1/sites/nobody/checkpoint".to_owned(),
            StatusCode::NOT_FOUND,
            "no_log",
        ),
        (
            "/v1/sites/..%2Fx/checkpoint".to_owned(),
            StatusCode::NOT_FOUND,
            "no_log",
        ),
    ] {
        let reply = api.get(&path, None).await;
        assert_eq!(
            (reply.status, reply.error()),
            (status, code.to_owned()),
            "{path}"
        );
    }

    // Leaf 3 as a C2SP tlog-proof: header, index, the path to the latest
    // checkpoint, an empty line, that checkpoint verbatim.
    let tlog = api
        .get(
            &format!("/v1/sites/{}/proof/tlog?index=3", common::SITE),
            None,
        )
        .await;
    assert_eq!(tlog.status, StatusCode::OK);
    assert!(tlog.headers["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/plain"));
    let text = tlog.text();
    let (head, note) = text
        .split_once("\n\n")
        .expect("proof, empty line, checkpoint");
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
    assert_eq!(lines.next(), Some("index 3"));
    let path: Vec<Value> = lines.map(Value::from).collect();
    let in_note = Checkpoint::open(note.as_bytes(), &origin, &known).expect("signed");
    assert_eq!(in_note.size(), 5, "the latest checkpoint");
    log::verify_inclusion(
        &log::leaf_hash(acks[3].0.as_bytes()),
        3,
        5,
        &b64(&Value::from(path)),
        in_note.root(),
    )
    .expect("the tlog-proof's path leads to its checkpoint");

    // A duplicate's answer proves the same leaf against the latest checkpoint.
    let again = api.post_receipt(acks[0].0.clone()).await;
    assert_eq!(again.status, StatusCode::OK);
    let again = again.json();
    assert_eq!(again["leaf_index"], 0);
    let head = Checkpoint::open(
        again["checkpoint"].as_str().expect("text").as_bytes(),
        &origin,
        &known,
    )
    .expect("signed");
    assert_eq!(head.size(), 5);
    log::verify_inclusion(
        &log::leaf_hash(acks[0].0.as_bytes()),
        0,
        5,
        &b64(&again["inclusion_proof"]),
        head.root(),
    )
    .expect("against the latest");
}
