//! Checking a receipt as the collector receives it (feature `verify`).
//!
//! Everything is checked over the exact bytes received: the signature covers
//! `B64U(header) "." B64U(payload)` as they arrived, and the payload is read
//! from the decoded bytes without ever being re-serialized first.
//!
//! ```
//! # #[cfg(feature = "verify")] {
//! use consentry_receipt::verify::{verify, ErrorKind, Limits};
//!
//! let err = verify(b"not.a.receipt", &Limits::default()).unwrap_err();
//! assert_eq!(err.kind(), &ErrorKind::BadEncoding);
//! # }
//! ```

#[allow(unused_imports)]
use crate::prelude::*;

use core::fmt;

use ring::digest;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

use crate::json::{self, Fields, Json};
use crate::{b64, Receipt, RECEIPT_TYP};

/// The JWS header `typ` of a proof-of-possession token: a visitor asking for
/// their own receipts signs one with the same key.
pub const POP_TYP: &str = "consentry-pop+jws";

/// Bounds applied before any parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A real receipt is 1–3 KiB (a dozen purposes, a long user agent); 16 KiB
    /// leaves room for that and keeps a flood of junk cheap to refuse.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 16 * 1024,
        }
    }
}

/// A receipt whose signature, key and payload all checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub receipt: Receipt,
    /// SHA-256 of the JWS bytes exactly as received: the chain links these.
    pub jws_sha256: [u8; 32],
    /// RFC 7638 thumbprint of the signing key (equals `receipt.subject.key`).
    pub thumbprint: String,
}

/// Any ES256 JWS in our header form (`alg`, `typ`, `jwk` and nothing else)
/// whose signature checked out; the payload is not interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The decoded payload bytes, exactly as signed.
    pub payload: Vec<u8>,
    pub jws_sha256: [u8; 32],
    pub thumbprint: String,
}

/// Why a receipt was refused. Opaque: match on [`Error::kind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Larger than [`Limits::max_bytes`].
    TooLarge,
    /// Not three dot-separated parts of text.
    Malformed,
    /// A part is not strict base64url (no padding, no `+` or `/`).
    BadEncoding,
    /// The header is not the JSON object `{"alg","jwk","typ"}` with our `typ`.
    BadHeader,
    /// `alg` is not ES256 (`none` and HMAC are refused here, by name).
    UnsupportedAlg,
    /// The `jwk` is not an uncompressed P-256 public key.
    BadKey,
    /// The signature does not verify with the `jwk` (or the point is not on
    /// the curve: ring refuses both the same way).
    BadSignature,
    /// The payload is not a valid receipt; `path` names the field.
    BadPayload { path: String },
    /// The key that signed is not the key the payload names (`subject.key`).
    KeyMismatch,
}

impl Error {
    fn new(kind: ErrorKind, reason: &str) -> Error {
        Error {
            kind,
            reason: reason.to_owned(),
        }
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// A stable, short code for JSON error bodies and logs.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Malformed => "malformed",
            ErrorKind::BadEncoding => "bad_encoding",
            ErrorKind::BadHeader => "bad_header",
            ErrorKind::UnsupportedAlg => "unsupported_alg",
            ErrorKind::BadKey => "bad_key",
            ErrorKind::BadSignature => "bad_signature",
            ErrorKind::BadPayload { .. } => "bad_payload",
            ErrorKind::KeyMismatch => "key_mismatch",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::BadPayload { path } if !path.is_empty() => {
                write!(f, "receipt payload: {path}: {}", self.reason)
            }
            _ => f.write_str(&self.reason),
        }
    }
}

impl core::error::Error for Error {}

/// Checks a visitor-signed receipt: size, structure, strict encoding, header,
/// key, ES256 signature over the exact bytes, payload schema, and that the
/// signing key is the one the payload names. Clock skew is the caller's
/// business (only it knows what "now" is).
pub fn verify(jws: &[u8], limits: &Limits) -> Result<Verified, Error> {
    let signed = verify_signed(jws, RECEIPT_TYP, limits)?;
    let text = core::str::from_utf8(&signed.payload).map_err(|_| {
        Error::new(
            ErrorKind::BadPayload {
                path: String::new(),
            },
            "receipt payload is not UTF-8",
        )
    })?;
    let value = json::parse(text).map_err(|err| {
        Error::new(
            ErrorKind::BadPayload {
                path: String::new(),
            },
            &format!(
                "receipt payload is not JSON: {} at byte {}",
                err.reason, err.offset
            ),
        )
    })?;
    let receipt = Receipt::from_json(&value)
        .map_err(|err| Error::new(ErrorKind::BadPayload { path: err.path }, &err.reason))?;
    if receipt.subject.key != signed.thumbprint {
        return Err(Error::new(
            ErrorKind::KeyMismatch,
            "subject.key is not the thumbprint of the key that signed the receipt",
        ));
    }
    Ok(Verified {
        receipt,
        jws_sha256: signed.jws_sha256,
        thumbprint: signed.thumbprint,
    })
}

/// Checks an ES256 JWS in our header form with header `typ` = `typ`, and
/// returns its payload bytes uninterpreted. Used for receipts and for
/// proof-of-possession tokens ([`POP_TYP`]).
pub fn verify_signed(jws: &[u8], typ: &str, limits: &Limits) -> Result<Signed, Error> {
    if jws.len() > limits.max_bytes {
        return Err(Error::new(
            ErrorKind::TooLarge,
            "receipt is larger than the limit",
        ));
    }
    let text = core::str::from_utf8(jws)
        .map_err(|_| Error::new(ErrorKind::Malformed, "receipt is not ASCII text"))?;
    let mut parts = text.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::new(
            ErrorKind::Malformed,
            "receipt must be a JWS compact string: three parts separated by dots",
        ));
    };
    let bad_b64 = || Error::new(ErrorKind::BadEncoding, "a JWS part is not strict base64url");
    let header = b64::decode(header_b64).ok_or_else(bad_b64)?;
    let payload = b64::decode(payload_b64).ok_or_else(bad_b64)?;
    let signature = b64::decode(sig_b64).ok_or_else(bad_b64)?;

    let point = read_header(&header, typ)?;
    if signature.len() != 64 {
        return Err(Error::new(
            ErrorKind::BadSignature,
            "ES256 signature must be 64 bytes (r‖s)",
        ));
    }
    // The signing input is the received text up to the second dot, untouched.
    let signing_input = &jws[..header_b64.len() + 1 + payload_b64.len()];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point.uncompressed)
        .verify(signing_input, &signature)
        .map_err(|_| Error::new(ErrorKind::BadSignature, "signature does not verify"))?;

    Ok(Signed {
        payload,
        jws_sha256: sha256(jws),
        thumbprint: point.thumbprint,
    })
}

struct Point {
    uncompressed: Vec<u8>,
    thumbprint: String,
}

fn read_header(header: &[u8], typ: &str) -> Result<Point, Error> {
    let bad = |reason: &str| Error::new(ErrorKind::BadHeader, reason);
    let text = core::str::from_utf8(header).map_err(|_| bad("JWS header is not UTF-8"))?;
    let value = json::parse(text).map_err(|_| bad("JWS header is not JSON"))?;
    // `alg` first, so `none` and HS256 are named as such.
    match value.get("alg").and_then(Json::as_str) {
        Some("ES256") => {}
        Some(_) => {
            return Err(Error::new(
                ErrorKind::UnsupportedAlg,
                "JWS alg must be ES256",
            ))
        }
        None => return Err(bad("JWS header needs alg")),
    }
    let fields = Fields::new(&value, String::new(), &["alg", "typ", "jwk"])
        .map_err(|_| bad("JWS header must hold only alg, typ and jwk"))?;
    if fields.get("typ").and_then(Json::as_str) != Some(typ) {
        return Err(bad("JWS typ is not the expected one"));
    }
    let jwk = fields
        .get("jwk")
        .ok_or_else(|| bad("JWS header needs jwk"))?;
    read_jwk(jwk)
}

fn read_jwk(jwk: &Json) -> Result<Point, Error> {
    let bad = |reason: &str| Error::new(ErrorKind::BadKey, reason);
    let fields = Fields::new(jwk, "jwk".to_owned(), &["kty", "crv", "x", "y"])
        .map_err(|_| bad("jwk must hold only kty, crv, x and y"))?;
    let get = |key: &str| fields.get(key).and_then(Json::as_str);
    if get("kty") != Some("EC") || get("crv") != Some("P-256") {
        return Err(bad("jwk must be kty EC, crv P-256"));
    }
    let coordinate = |key: &str| {
        get(key)
            .and_then(b64::decode)
            .filter(|bytes| bytes.len() == 32)
            .ok_or_else(|| bad("jwk x and y must be 32-byte base64url"))
    };
    let (x, y) = (coordinate("x")?, coordinate("y")?);
    let mut uncompressed = Vec::with_capacity(65);
    uncompressed.push(0x04);
    uncompressed.extend_from_slice(&x);
    uncompressed.extend_from_slice(&y);
    Ok(Point {
        uncompressed,
        thumbprint: thumbprint(&x, &y),
    })
}

/// RFC 7638 thumbprint of a P-256 public key: base64url SHA-256 of
/// `{"crv":"P-256","kty":"EC","x":…,"y":…}` (members sorted, no spaces).
pub fn thumbprint(x: &[u8], y: &[u8]) -> String {
    let jwk = crate::ids::thumbprint_input(&b64::encode(x), &b64::encode(y));
    b64::encode(&sha256(jwk.as_bytes()))
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

pub use crate::ids::hex;

/// Lower-case hex SHA-256, as in `notice.sha256`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha256(bytes))
}
