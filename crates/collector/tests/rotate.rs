//! `consentry-collector keys rotate` as an operator runs it: a collector
//! signs with the new key from its next start, publishes the old key and the
//! new one, and every countersignature made before the rotation keeps
//! verifying: in the audit, in `verify`, and for anyone holding the JWKS.

mod support;

use std::process::Output;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use consentry_collector::{app, audit, AppState, Collector, Countersigner};
use consentry_receipt::b64;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use support::CollectorDir;
use tower::ServiceExt;

const TOKEN: &str = "test-admin-token";

/// Every file in `dir`, by name.
fn files(dir: &CollectorDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&dir.dir.0)
        .expect("read dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

async fn open(dir: &CollectorDir) -> Collector {
    dir.open(Some(TOKEN)).await.expect("open")
}

fn run(dir: &CollectorDir, args: &[&str], key_file: bool) -> Output {
    dir.command(args, key_file).output().expect("run")
}

/// The `kid` a countersignature's header names.
fn kid_of(countersignature: &str) -> String {
    let (header, _) = countersignature.split_once('.').expect("a JWS");
    let header: Value =
        serde_json::from_slice(&b64::decode(header).expect("base64url")).expect("JSON header");
    header["kid"].as_str().expect("a kid").to_owned()
}

/// What anyone holding the JWKS does, with no collector code: find the key
/// the header names and check the Ed25519 signature over the signing input.
fn verifies_with_jwks(jwks: &Value, countersignature: &str) -> bool {
    let kid = kid_of(countersignature);
    let Some(key) = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["kid"] == kid.as_str())
    else {
        return false;
    };
    let x: [u8; 32] = b64::decode(key["x"].as_str().expect("x"))
        .expect("base64url")
        .try_into()
        .expect("32 bytes");
    let public = VerifyingKey::from_bytes(&x).expect("a public key");
    let (signing_input, signature) = countersignature.rsplit_once('.').expect("a JWS");
    let signature =
        Signature::from_slice(&b64::decode(signature).expect("base64url")).expect("64 bytes");
    public
        .verify_strict(signing_input.as_bytes(), &signature)
        .is_ok()
}

async fn get(collector: Collector, path: &str) -> (StatusCode, Value) {
    let router = app(AppState::new(Vec::new()).with_collector(collector));
    let req = Request::get(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("request");
    let res = router.oneshot(req).await.expect("infallible");
    let status = res.status();
    let body = to_bytes(res.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&body).expect("JSON"))
}

#[tokio::test]
async fn after_keys_rotate_new_receipts_name_the_new_key_and_old_ones_still_verify() {
    let setup = CollectorDir::new("rotate");
    let collector = open(&setup).await;
    let first = CollectorDir::store_one_receipt(&collector).await;
    let old_kid = collector.signer().kid().to_owned();
    assert_eq!(kid_of(&first.countersignature), old_kid);
    // A witness's copy of the checkpoint, signed by the old key.
    let (_, before) = collector
        .store()
        .checkpoint(support::common::SITE)
        .await
        .expect("read")
        .expect("a checkpoint");
    std::fs::write(setup.path("before.checkpoint"), &before).expect("save");
    drop(collector);

    let out = run(&setup, &["keys", "rotate"], true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "keys rotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    let printed: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(printed["keys"], 2, "{printed}");
    let new_kid = printed["kid"].as_str().expect("kid").to_owned();
    assert_ne!(new_kid, old_kid);
    assert!(
        !files(&setup).iter().any(|name| name.contains("rotating")),
        "no temporary file is left: {:?}",
        files(&setup)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(setup.key_file())
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the rotated key file is private");
    }

    // The next start signs with the new key and publishes both.
    let collector = open(&setup).await;
    assert_eq!(collector.signer().kid(), new_kid);
    let second = CollectorDir::store_one_receipt(&collector).await;
    assert_eq!(kid_of(&first.countersignature), old_kid, "unchanged row");
    assert_eq!(kid_of(&second.countersignature), new_kid);

    let (status, jwks) = get(collector, "/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK);
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(kids, [old_kid.as_str(), new_kid.as_str()], "newest last");
    assert!(verifies_with_jwks(&jwks, &first.countersignature));
    assert!(verifies_with_jwks(&jwks, &second.countersignature));

    // GET /v1/audit, the library's verify and the binary's verify agree.
    let (status, audit) = get(open(&setup).await, "/v1/audit?site=acme-landing").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert_eq!(audit["ok"], true, "{audit}");
    assert_eq!(audit["receipts"], 2, "{audit}");
    let reports = audit::verify_database(&setup.config(None), None)
        .await
        .expect("verify");
    assert_eq!(reports.len(), 1);
    assert!(reports[0].ok, "{:?}", reports[0]);
    assert_eq!(reports[0].receipts, 2);
    let out = run(&setup, &["verify"], true);
    assert!(
        out.status.success(),
        "verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // An auditor with a copy of the database and the saved JWKS, no key:
    // the new checkpoint (new key) and the one saved before (old key) both
    // verify, and the saved one is consistent with today's log.
    let audit_dir = support::TempDir::new("rotate-auditor");
    let copy = audit_dir.0.join("copy.db");
    std::fs::copy(setup.path("consentry.db"), &copy).expect("copy");
    std::fs::write(audit_dir.0.join("jwks.json"), jwks.to_string()).expect("jwks");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_consentry-collector"))
        .arg("verify")
        .arg("--database")
        .arg(format!("sqlite://{}", copy.display()))
        .arg("--jwks")
        .arg(audit_dir.0.join("jwks.json"))
        .arg("--checkpoint")
        .arg(setup.path("before.checkpoint"))
        .env_remove("CONSENTRY_KEY_FILE")
        .env_remove("CONSENTRY_SITES")
        .output()
        .expect("verify");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify --jwks: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("one report");
    assert_eq!(
        (
            &report["checkpoint_size"],
            &report["saved"][0]["size"],
            &report["saved"][0]["ok"]
        ),
        (&Value::from(2), &Value::from(1), &Value::Bool(true)),
        "{report}"
    );
    assert!(
        !audit_dir.0.join("collector.key").exists(),
        "no key was made"
    );

    // A countersignature by a key the collector never had (its kid is not
    // in the key file, over the row's true payload) is a bad row.
    let stranger = Countersigner::from_seed(&[9u8; 32]).expect("key");
    let (_, rest) = first.countersignature.split_once('.').expect("JWS");
    let (payload, _) = rest.split_once('.').expect("JWS");
    let payload = String::from_utf8(b64::decode(payload).expect("base64url")).expect("UTF-8");
    let forged = stranger.sign(&payload);
    assert!(
        !verifies_with_jwks(&jwks, &forged),
        "not in the JWKS either"
    );
    let conn = rusqlite::Connection::open(setup.path("consentry.db")).expect("open");
    conn.execute(
        "UPDATE receipts SET countersignature = ?1 WHERE seq = 1",
        [&forged],
    )
    .expect("tamper");
    drop(conn);
    let reports = audit::verify_database(&setup.config(None), None)
        .await
        .expect("verify");
    assert!(!reports[0].ok);
    assert_eq!(reports[0].seq, Some(1));
    assert_eq!(reports[0].reason, Some(audit::COUNTERSIGNATURE_INVALID));
    let (_, audit) = get(open(&setup).await, "/v1/audit?site=acme-landing").await;
    assert_eq!(audit["ok"], false, "{audit}");
    assert_eq!(audit["reason"], audit::COUNTERSIGNATURE_INVALID, "{audit}");
    let out = run(&setup, &["verify"], true);
    assert_eq!(out.status.code(), Some(1), "verify fails on the bad row");
}

#[tokio::test]
async fn keys_rotate_without_a_key_file_fails_naming_it_and_creates_nothing() {
    let setup = CollectorDir::new("rotate-missing");
    for with_env in [true, false] {
        // CONSENTRY_KEY_FILE, or the default beside the SQLite file: the same
        // path here.
        let out = run(&setup, &["keys", "rotate"], with_env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "refused");
        assert!(out.stdout.is_empty(), "nothing printed on stdout");
        assert!(
            stderr.contains(&setup.key_file().display().to_string()),
            "names the key file: {stderr}"
        );
        assert_eq!(files(&setup), ["sites.toml"], "nothing is created");
    }
}
