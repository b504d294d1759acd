//! An outsider checks the log. `tests/independent/check_log.py` was written
//! from RFC 9162 and the C2SP signed-note and tlog-checkpoint specs with
//! Python's `cryptography`, sharing no code with the collector: it must
//! accept the checkpoints and proofs the collector hands out, and refuse
//! each of them once tampered with.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64_STANDARD;
use base64::Engine as _;
use consentry_collector::{app, AppState};
use serde_json::{json, Value};
use support::common;
use tower::ServiceExt;

const ORIGIN: &str = "http://127.0.0.1:8080";
/// One minute after `common::ISSUED_AT`, so every receipt is fresh.
const NOW: i64 = 1_795_458_660_000;
/// Seven leaves: old trees of 1, 2 and 4 (a complete subtree, where the
/// consistency proof leaves out the old root) and of 3, 5 and 6 (where it
/// does not), and inclusion paths of two and three hashes.
const RECEIPTS: usize = 7;
const CHECKER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/independent/check_log.py"
);

fn now() -> i64 {
    NOW
}

fn log_origin() -> String {
    format!("{}/{}", support::LOG_ORIGIN, common::SITE)
}

async fn send(router: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let res = router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let body = to_bytes(res.into_body(), usize::MAX).await.expect("body");
    (status, body.to_vec())
}

async fn get(router: &Router, path: &str) -> (StatusCode, Vec<u8>) {
    send(
        router,
        Request::get(path).body(Body::empty()).expect("request"),
    )
    .await
}

async fn get_json(router: &Router, path: &str) -> Value {
    let (status, body) = get(router, path).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).expect("JSON")
}

/// The tree size a checkpoint states: its second line.
fn size_of(checkpoint: &str) -> u64 {
    checkpoint
        .lines()
        .nth(1)
        .and_then(|line| line.parse().ok())
        .expect("a checkpoint's second line is its size")
}

/// The root hash a checkpoint states: its third line.
fn root_of(checkpoint: &str) -> [u8; 32] {
    let line = checkpoint.lines().nth(2).expect("a third line");
    BASE64_STANDARD
        .decode(line)
        .expect("base64")
        .try_into()
        .expect("32 bytes")
}

/// What an auditor collects from a running collector after seven visitors
/// consented: each acknowledgement's checkpoint and inclusion proof, the
/// latest checkpoint, an inclusion proof of every receipt against it, a
/// consistency proof from every earlier checkpoint to it, and the JWKS.
async fn what_an_auditor_collects() -> Value {
    let dir = support::TempDir::new("independent");
    let sites = support::one_site(ORIGIN, None);
    let (collector, _) = support::collector_on(&support::sqlite_in(&dir), sites, None).await;
    let router = app(AppState::new(Vec::new()).with_collector(collector.with_clock(now)));

    let mut acks = Vec::new();
    for i in 0..RECEIPTS {
        let jws = support::signed(common::SITE, &support::uuid(), common::ISSUED_AT);
        let (status, body) = send(
            &router,
            Request::post("/v1/receipts")
                .header("content-type", "text/plain;charset=UTF-8")
                .header("origin", ORIGIN)
                .body(Body::from(jws.clone()))
                .expect("request"),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let ack: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(ack["leaf_index"], i, "leaf index = seq − 1");
        acks.push((jws, ack));
    }

    let site = common::SITE;
    let (status, body) = get(&router, &format!("/v1/sites/{site}/checkpoint")).await;
    assert_eq!(status, StatusCode::OK);
    let checkpoint = String::from_utf8(body).expect("a checkpoint is text");
    let size = size_of(&checkpoint);
    assert_eq!(size, RECEIPTS as u64);

    let mut receipts = Vec::new();
    for (jws, ack) in &acks {
        receipts.push(json!({
            "jws": jws,
            "leaf_index": ack["leaf_index"],
            "inclusion_proof": ack["inclusion_proof"],
            "checkpoint": ack["checkpoint"],
        }));
    }
    for (index, (jws, _)) in acks.iter().enumerate() {
        let proof = get_json(
            &router,
            &format!("/v1/sites/{site}/proof/inclusion?index={index}&size={size}"),
        )
        .await;
        receipts.push(json!({
            "jws": jws,
            "leaf_index": index,
            "inclusion_proof": proof["proof"],
        }));
    }
    let mut consistency = Vec::new();
    for (_, ack) in &acks {
        let old = ack["checkpoint"].as_str().expect("a checkpoint");
        let proof = get_json(
            &router,
            &format!(
                "/v1/sites/{site}/proof/consistency?old={}&new={size}",
                size_of(old)
            ),
        )
        .await;
        consistency.push(json!({ "old_checkpoint": old, "proof": proof["proof"] }));
    }

    let mut tlog_proofs = Vec::new();
    for (index, (jws, _)) in acks.iter().enumerate() {
        let (status, body) = get(
            &router,
            &format!("/v1/sites/{site}/proof/tlog?index={index}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", text(&body));
        let proof = String::from_utf8(body).expect("a tlog-proof is text");
        assert!(
            proof.ends_with(&checkpoint),
            "against the latest checkpoint:\n{proof}"
        );
        tlog_proofs.push(json!({ "jws": jws, "proof": proof }));
    }

    json!({
        "origin": log_origin(),
        "jwks": get_json(&router, "/.well-known/jwks.json").await,
        "checkpoint": checkpoint,
        "receipts": receipts,
        "consistency": consistency,
        "tlog_proofs": tlog_proofs,
    })
}

/// Fails, never skips, on a machine without the checker's runtime: a test
/// that passes because it could not run proves nothing.
fn python_with_cryptography() {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import cryptography.hazmat.primitives.asymmetric.ed25519",
        ])
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run python3 ({err}): `cargo xtask test` installs it and its `cryptography` module")
        });
    assert!(
        probe.status.success(),
        "python3 has no `cryptography` module: `cargo xtask test` installs it \
         (or `python3 -m pip install cryptography`)\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
}

fn check(input: &Value, dir: &Path) -> Output {
    let file = dir.join("input.json");
    std::fs::write(&file, serde_json::to_vec_pretty(input).expect("JSON")).expect("write input");
    Command::new("python3")
        .arg(CHECKER)
        .arg(&file)
        .output()
        .expect("run check_log.py")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_accepted(input: &Value, dir: &Path, what: &str) -> String {
    let out = check(input, dir);
    assert!(
        out.status.success(),
        "{what}: the checker refused it: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Exit status 1 (a verdict, not a crash or bad input) naming `reason`.
fn assert_refused(input: &Value, dir: &Path, what: &str, reason: &str) {
    let out = check(input, dir);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: expected a refusal, got: {stderr}"
    );
    assert!(
        stderr.contains(reason),
        "{what}: the refusal should say {reason:?}: {stderr}"
    );
}

/// `b64` (a standard base64 string) with byte `at` flipped.
fn flipped(b64: &Value, at: usize) -> Value {
    let mut bytes = BASE64_STANDARD
        .decode(b64.as_str().expect("base64 text"))
        .expect("base64");
    bytes[at] ^= 0x01;
    BASE64_STANDARD.encode(bytes).into()
}

/// The first signature line's base64 with byte `at` flipped: byte 0 is the
/// key ID, bytes 4.. the Ed25519 signature.
fn signature_flipped(note: &str, at: usize) -> String {
    let (body, signatures) = note.rsplit_once("\n\n").expect("a signed note");
    let (line, rest) = signatures.split_once('\n').expect("a signature line");
    let (name, sig) = line.rsplit_once(' ').expect("— <name> <signature>");
    let sig = flipped(&sig.into(), at);
    format!("{body}\n\n{name} {}\n{rest}", sig.as_str().expect("base64"))
}

/// A checkpoint the collector's own key signed under this log's name, for
/// `origin` at `size` with `root`: what a collector showing two different
/// histories (a split view), or reusing one site's checkpoint for another,
/// would hand out.
fn signed_by_the_collector(origin: &str, size: u64, root: [u8; 32]) -> Value {
    let body = format!("{origin}\n{size}\n{}\n", BASE64_STANDARD.encode(root));
    support::signer()
        .sign_note(&body, &log_origin())
        .expect("sign")
        .into()
}

#[tokio::test]
async fn an_independent_checker_accepts_the_collectors_checkpoints_and_proofs() {
    python_with_cryptography();
    let input = what_an_auditor_collects().await;
    let dir = support::TempDir::new("independent-ok");

    let summary = assert_accepted(&input, &dir.0, "the collector's log");
    assert_eq!(
        summary.trim_end(),
        format!(
            "ok: checkpoint of size {RECEIPTS} signed under {}, {} inclusion proofs, {RECEIPTS} consistency proofs, {RECEIPTS} tlog-proofs",
            log_origin(),
            2 * RECEIPTS
        ),
        "every proof was checked"
    );

    // c2sp.org/signed-note: a signature by a key the checker does not know
    // (a witness's cosignature) is ignored, not a failure.
    let mut cosigned = input.clone();
    let note = cosigned["checkpoint"].as_str().expect("note").to_owned();
    let witness = BASE64_STANDARD.encode([0xAB; 68]);
    cosigned["checkpoint"] = format!("{note}— witness.example/w1 {witness}\n").into();
    assert_accepted(&cosigned, &dir.0, "a checkpoint with a witness cosignature");
}

#[tokio::test]
async fn the_independent_checker_refuses_every_tampered_part() {
    python_with_cryptography();
    let input = what_an_auditor_collects().await;
    let dir = support::TempDir::new("independent-tampered");
    let latest = input["checkpoint"].as_str().expect("note").to_owned();
    // The first fetched proof: leaf 0 against the latest checkpoint.
    let fetched = RECEIPTS;

    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "a flipped byte in an inclusion proof",
            Box::new(move |v| {
                let p = &mut v["receipts"][fetched]["inclusion_proof"][0];
                *p = flipped(p, 7);
            }),
            "receipts[7]: the inclusion proof of leaf 0",
        ),
        (
            "an inclusion proof from an acknowledgement, tampered",
            Box::new(|v| {
                let p = &mut v["receipts"][RECEIPTS - 1]["inclusion_proof"][1];
                *p = flipped(p, 31);
            }),
            "receipts[6]: the inclusion proof of leaf 6",
        ),
        (
            "another receipt's bytes",
            Box::new(move |v| {
                v["receipts"][fetched]["jws"] = v["receipts"][fetched + 1]["jws"].clone();
            }),
            "receipts[7]: the inclusion proof",
        ),
        (
            "the wrong leaf index",
            Box::new(move |v| v["receipts"][fetched + 2]["leaf_index"] = 3.into()),
            "receipts[9]: the inclusion proof of leaf 3",
        ),
        (
            "an inclusion proof cut short",
            Box::new(move |v| {
                let proof = v["receipts"][fetched]["inclusion_proof"]
                    .as_array_mut()
                    .expect("a list");
                proof.pop();
            }),
            "receipts[7]: the inclusion proof",
        ),
        (
            "a larger tree size in the signed checkpoint",
            Box::new(|v| {
                let note = v["checkpoint"].as_str().expect("note");
                v["checkpoint"] = note
                    .replacen(
                        &format!("\n{RECEIPTS}\n"),
                        &format!("\n{}\n", RECEIPTS + 1),
                        1,
                    )
                    .into();
            }),
            "checkpoint: the signature by JWKS key",
        ),
        (
            "a changed signature byte",
            Box::new(|v| {
                v["checkpoint"] =
                    signature_flipped(v["checkpoint"].as_str().expect("note"), 20).into();
            }),
            "checkpoint: the signature by JWKS key",
        ),
        (
            "a signature whose key ID is not the JWKS key's",
            Box::new(|v| {
                v["checkpoint"] =
                    signature_flipped(v["checkpoint"].as_str().expect("note"), 0).into();
            }),
            "checkpoint: no signature by a JWKS key",
        ),
        (
            "an unsigned checkpoint",
            Box::new(|v| {
                let note = v["checkpoint"].as_str().expect("note");
                let (body, _) = note.rsplit_once("\n\n").expect("a signed note");
                v["checkpoint"] = format!("{body}\n\n").into();
            }),
            "checkpoint: no signature lines",
        ),
        (
            "a JWKS that does not hold the signing key",
            Box::new(|v| {
                let x = v["jwks"]["keys"][0]["x"].as_str().expect("x");
                let mut key = consentry_receipt::b64::decode(x).expect("base64url");
                key[0] ^= 0x01;
                v["jwks"]["keys"][0]["x"] = consentry_receipt::b64::encode(&key).into();
            }),
            "checkpoint: no signature by a JWKS key",
        ),
        (
            "the log of another site",
            Box::new(|v| v["origin"] = format!("{}/someone-else", support::LOG_ORIGIN).into()),
            "checkpoint: no signature by a JWKS key under the key name",
        ),
        (
            "a checkpoint of another log, signed under this log's name",
            Box::new(move |v| {
                let root = root_of(&latest);
                v["checkpoint"] = signed_by_the_collector(
                    &format!("{}/someone-else", support::LOG_ORIGIN),
                    RECEIPTS as u64,
                    root,
                );
            }),
            "checkpoint: origin line",
        ),
        (
            "a validly signed checkpoint of another tree (a split view)",
            Box::new(|v| {
                v["checkpoint"] = signed_by_the_collector(&log_origin(), RECEIPTS as u64, [7; 32]);
            }),
            "receipts[7]: the inclusion proof",
        ),
        (
            "a flipped byte in a consistency proof",
            Box::new(|v| {
                // From the tree of 3: not a complete subtree, so its proof
                // holds the hashes both roots are rebuilt from.
                let p = &mut v["consistency"][2]["proof"][0];
                *p = flipped(p, 0);
            }),
            "consistency[2]: the consistency proof",
        ),
        (
            "a consistency proof cut short",
            Box::new(|v| {
                let proof = v["consistency"][3]["proof"].as_array_mut().expect("a list");
                proof.pop();
            }),
            "consistency[3]: the consistency proof",
        ),
        (
            "an old checkpoint the log has since rewritten",
            Box::new(|v| {
                v["consistency"][4]["old_checkpoint"] =
                    signed_by_the_collector(&log_origin(), 5, [5; 32]);
            }),
            "consistency[4]: the consistency proof does not show the tree of size 5",
        ),
        (
            "an old checkpoint with a changed signature byte",
            Box::new(|v| {
                let old = v["consistency"][1]["old_checkpoint"]
                    .as_str()
                    .expect("note");
                v["consistency"][1]["old_checkpoint"] = signature_flipped(old, 40).into();
            }),
            "consistency[1].old_checkpoint: the signature by JWKS key",
        ),
        (
            "a flipped byte in a tlog-proof's hash line",
            Box::new(|v| {
                let proof = v["tlog_proofs"][3]["proof"].as_str().expect("text");
                let line = proof.lines().nth(2).expect("a hash line");
                let bad = flipped(&line.into(), 9);
                v["tlog_proofs"][3]["proof"] = proof
                    .replacen(line, bad.as_str().expect("base64"), 1)
                    .into();
            }),
            "tlog_proofs[3]: the proof of leaf 3",
        ),
        (
            "a tlog-proof naming another index",
            Box::new(|v| {
                let proof = v["tlog_proofs"][2]["proof"].as_str().expect("text");
                v["tlog_proofs"][2]["proof"] =
                    proof.replacen("\nindex 2\n", "\nindex 3\n", 1).into();
            }),
            "tlog_proofs[2]: the proof of leaf 3",
        ),
        (
            "a tlog-proof for another receipt",
            Box::new(|v| v["tlog_proofs"][1]["jws"] = v["tlog_proofs"][0]["jws"].clone()),
            "tlog_proofs[1]: the proof of leaf 1",
        ),
        (
            "a tlog-proof whose index has a leading zero",
            Box::new(|v| {
                let proof = v["tlog_proofs"][2]["proof"].as_str().expect("text");
                v["tlog_proofs"][2]["proof"] =
                    proof.replacen("\nindex 2\n", "\nindex 02\n", 1).into();
            }),
            "tlog_proofs[2]: no 'index N' line",
        ),
        (
            "a tlog-proof of another version",
            Box::new(|v| {
                let proof = v["tlog_proofs"][0]["proof"].as_str().expect("text");
                v["tlog_proofs"][0]["proof"] = proof.replacen("@v1", "@v2", 1).into();
            }),
            "tlog_proofs[0]: the first line is not",
        ),
        (
            "a tlog-proof whose checkpoint signature was changed",
            Box::new(|v| {
                let proof = v["tlog_proofs"][4]["proof"].as_str().expect("text");
                let (head, note) = proof.split_once("\n\n").expect("proof, empty line, note");
                v["tlog_proofs"][4]["proof"] =
                    format!("{head}\n\n{}", signature_flipped(note, 20)).into();
            }),
            "tlog_proofs[4]: checkpoint: the signature by JWKS key",
        ),
    ];

    for (what, tamper, reason) in &cases {
        let mut tampered = input.clone();
        tamper(&mut tampered);
        assert_ne!(&tampered, &input, "{what}: the case changes nothing");
        assert_refused(&tampered, &dir.0, what, reason);
    }
}
