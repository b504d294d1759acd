//! How hashes, receipt ids and key thumbprints are written: the few text
//! forms the widget and the collector must agree on byte for byte.

#[allow(unused_imports)]
use crate::prelude::*;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex, the form receipts and the collector's API use for hashes.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// A random (version 4) UUID from 16 random bytes, lower-case hex: the id of
/// a consent receipt.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let digits = hex(&bytes);
    let mut s = String::with_capacity(36);
    for (i, c) in digits.chars().enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            s.push('-');
        }
        s.push(c);
    }
    s
}

/// The RFC 7638 thumbprint input of a P-256 key (`x`, `y` base64url): the
/// required members, sorted, no spaces. Its SHA-256, base64url, is the
/// receipt's `subject.key`.
pub fn thumbprint_input(x_b64: &str, y_b64: &str) -> String {
    let mut jwk = String::from("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"");
    jwk.push_str(x_b64);
    jwk.push_str("\",\"y\":\"");
    jwk.push_str(y_b64);
    jwk.push_str("\"}");
    jwk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_ids_are_version_4_uuids() {
        let id = uuid_v4([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        assert!(crate::receipt::is_uuid_v4(&uuid_v4([0x5a; 16])));
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
