//! Signing receipts the way the browser does, for tests: fixed P-256 keys,
//! RFC 6979 deterministic ECDSA (so the golden files are reproducible), raw
//! 64-byte r‖s signatures. Shared by the receipt crate's and the collector's
//! tests (`#[path]`-included there).
#![allow(dead_code)]

use consentry_receipt::json::Json;
use consentry_receipt::receipt::VERSION;
use consentry_receipt::{
    b64, Action, Context, Controller, Method, Notice, Purpose, Receipt, Subject, RECEIPT_TYP,
};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

pub const SITE: &str = "acme-landing";
pub const RECEIPT_ID: &str = "0b6c2a1e-8f7d-4c3b-9a1e-2f3d4c5b6a79";
pub const ISSUED_AT: &str = "2026-11-23T18:30:00.000Z";

/// Key A signs every golden receipt; key B is "someone else".
pub fn key_a() -> SigningKey {
    key_from_seed(1)
}

pub fn key_b() -> SigningKey {
    key_from_seed(2)
}

/// A fixed, valid P-256 secret scalar per seed (small seeds are far below the
/// group order).
pub fn key_from_seed(seed: u64) -> SigningKey {
    let mut secret = [0x11u8; 32];
    secret[24..].copy_from_slice(&seed.to_be_bytes());
    SigningKey::from_slice(&secret).expect("a valid scalar")
}

pub fn xy(key: &SigningKey) -> (Vec<u8>, Vec<u8>) {
    let point = key.verifying_key().to_encoded_point(false);
    (
        point.x().expect("x").to_vec(),
        point.y().expect("y").to_vec(),
    )
}

/// RFC 7638, computed here independently of the crate under test.
pub fn thumbprint_of(key: &SigningKey) -> String {
    use sha2::Digest;
    let (x, y) = xy(key);
    let jwk = format!(
        "{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{}\",\"y\":\"{}\"}}",
        b64::encode(&x),
        b64::encode(&y)
    );
    b64::encode(&sha2::Sha256::digest(jwk.as_bytes()))
}

pub fn header_json(key: &SigningKey, alg: &str, typ: &str) -> String {
    let (x, y) = xy(key);
    format!(
        "{{\"alg\":\"{alg}\",\"jwk\":{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{}\",\"y\":\"{}\"}},\"typ\":\"{typ}\"}}",
        b64::encode(&x),
        b64::encode(&y)
    )
}

/// A realistic receipt for `key`'s visitor.
pub fn receipt(key: &SigningKey) -> Receipt {
    receipt_with(key, SITE, RECEIPT_ID, ISSUED_AT)
}

pub fn receipt_with(key: &SigningKey, site: &str, id: &str, issued_at: &str) -> Receipt {
    Receipt {
        version: VERSION,
        receipt_id: id.into(),
        issued_at: issued_at.into(),
        site: site.into(),
        controller: Controller {
            name: "ACME Landing".into(),
            contact: Some("privacy@acme.example".into()),
            privacy_policy_url: "https://acme.example/privacy".into(),
            policy_version: Some("2026-11".into()),
        },
        subject: Subject {
            key: thumbprint_of(key),
            reference: None,
        },
        action: Action::Grant,
        method: Method::SavePreferences,
        purposes: vec![
            Purpose {
                id: "necessary".into(),
                granted: true,
                legal_basis: "legitimate_interests".into(),
            },
            Purpose {
                id: "analytics".into(),
                granted: true,
                legal_basis: "consent".into(),
            },
            Purpose {
                id: "marketing".into(),
                granted: false,
                legal_basis: "consent".into(),
            },
        ],
        notice: Notice {
            language: "en".into(),
            revision: 3,
            sha256: "5f1d8a6c2b9e0f3a4d7c6b5a49382716e5d4c3b2a1908f7e6d5c4b3a29180706".into(),
        },
        context: Context {
            page: "http://127.0.0.1:8080/".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36".into(),
            gpc: Some(false),
            form: None,
        },
        expires_at: "2027-05-23T18:30:00.000Z".into(),
        previous: None,
    }
}

pub fn canonical(value: &Json) -> String {
    value.canonical().expect("canonical")
}

/// `B64U(header).B64U(payload).B64U(sig)` signed by `key` over the first two parts.
pub fn sign_raw(key: &SigningKey, header: &str, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload.as_bytes())
    );
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64::encode(&sig.to_bytes()))
}

pub fn sign_receipt(key: &SigningKey, receipt: &Receipt) -> String {
    sign_with_typ(key, RECEIPT_TYP, &canonical(&receipt.to_json()))
}

pub fn sign_with_typ(key: &SigningKey, typ: &str, payload: &str) -> String {
    sign_raw(key, &header_json(key, "ES256", typ), payload)
}

/// Every file in `testdata/` the generator owns, with its exact bytes.
pub fn golden_files() -> Vec<(&'static str, Vec<u8>)> {
    let a = key_a();
    let b = key_b();
    let r = receipt(&a);
    let payload = canonical(&r.to_json());
    let valid = sign_receipt(&a, &r);

    // Same header and signature, payload changed after signing.
    let mut tampered = r.clone();
    tampered.purposes[2].granted = true;
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        b64::encode(canonical(&tampered.to_json()).as_bytes()),
        parts[2]
    );

    // Signed by key A, but the header carries key B's jwk.
    let wrong_key = sign_raw(&a, &header_json(&b, "ES256", RECEIPT_TYP), &payload);
    let wrong_alg = sign_raw(&a, &header_json(&a, "HS256", RECEIPT_TYP), &payload);
    let alg_none = format!(
        "{}.{}.",
        b64::encode(header_json(&a, "none", RECEIPT_TYP).as_bytes()),
        b64::encode(payload.as_bytes())
    );

    // Validly signed by B, but the payload names A as its subject.
    let key_mismatch = sign_receipt(&b, &r);

    // A receipt whose user agent makes it larger than 16 KiB, validly signed.
    let mut big = r.clone();
    big.context.user_agent = "X".repeat(16 * 1024);
    let oversized = sign_receipt(&a, &big);

    // Standard base64 with padding in the signature part.
    let bad_base64 = format!("{}.{}.{}==", parts[0], parts[1], parts[2].replace('-', "+"));

    let file = |s: String| s.into_bytes();
    vec![
        ("valid.jws", file(valid)),
        ("tampered_payload.jws", file(tampered_payload)),
        ("wrong_key.jws", file(wrong_key)),
        ("wrong_alg.jws", file(wrong_alg)),
        ("alg_none.jws", file(alg_none)),
        ("key_mismatch.jws", file(key_mismatch)),
        ("oversized.jws", file(oversized)),
        ("bad_base64.jws", file(bad_base64)),
        ("valid.payload.json", file(payload)),
        ("key_a.jwk.json", file(public_jwk(&a))),
    ]
}

pub fn public_jwk(key: &SigningKey) -> String {
    let (x, y) = xy(key);
    format!(
        "{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{}\",\"y\":\"{}\"}}\n",
        b64::encode(&x),
        b64::encode(&y)
    )
}

/// xorshift64*: a tiny deterministic generator, so a failing mutation is
/// reproducible from its index.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four random edits of `seed`.
pub fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    const INTERESTING: &[u8] = b".=-_+/{}\"\\\0\xff AZaz09";
    let mut out = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 => out.truncate(at),
            4 if at < out.len() => out[at] = INTERESTING[rng.below(INTERESTING.len())],
            5 => {
                // Swap two of the dot-separated parts.
                let mut parts: Vec<Vec<u8>> =
                    out.split(|&b| b == b'.').map(<[u8]>::to_vec).collect();
                if parts.len() >= 2 {
                    let (i, j) = (rng.below(parts.len()), rng.below(parts.len()));
                    parts.swap(i, j);
                }
                out = parts.join(&b'.');
            }
            _ => {
                // Duplicate a slice (grows toward the size limit).
                let end = (at + rng.below(64)).min(out.len());
                let piece = out[at..end].to_vec();
                out.splice(at..at, piece);
            }
        }
    }
    out
}
