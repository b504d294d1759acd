//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, over
//! the `signed_note` crate (Cloudflare Azul's port of Go's `sumdb/note`).
//!
//! What this module adds is the collector's shape: sign with the
//! `ed25519_dalek::SigningKey` the collector already holds (never a
//! `PRIVATE+KEY+…` string), and one fixed [`Error`] per refusal. The key name
//! is the deployment's log name (e.g. `consent.acme.example/consentry/shop`),
//! not the JWKS `kid`.
//!
//! A note is `text` (ending in a newline), a blank line, then one line per
//! signature: `— <key name> <base64(key hash (4 bytes, big-endian) || signature)>`.
//! The key hash is the first 4 bytes of
//! `SHA-256(key name || 0x0A || 0x01 || public key)`, 0x01 being Ed25519.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, NoteError, StandardVerifier, VerifierList};

use super::Error;

/// The Ed25519 signature type of C2SP signed-note ("Signatures").
const ALG_ED25519: u8 = 0x01;

/// `0x01 || public key`: the key bytes the key hash and the verifier key cover.
fn encoded_key(key: &VerifyingKey) -> [u8; 33] {
    let mut out = [0; 33];
    out[0] = ALG_ED25519;
    out[1..].copy_from_slice(key.as_bytes());
    out
}

/// A key name per C2SP signed-note ("Format"): non-empty, no Unicode space,
/// no `+` (it separates the fields of a verifier key).
fn check_name(name: &str) -> Result<(), Error> {
    if signed_note::is_key_name_valid(name) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Error::new(
            "note: a key name is non-empty, without spaces or '+'",
        ))
    }
}

/// The 4-byte key hash: `SHA-256(name || 0x0A || 0x01 || public key)[:4]`
/// read big-endian (C2SP signed-note, "Signatures").
pub fn key_hash(name: &str, key: &VerifyingKey) -> u32 {
    signed_note::key_id(name, &encoded_key(key))
}

/// The verifier key a witness or DPO configures:
/// `<name>+<8 hex digits of the key hash>+<base64(0x01 || public key)>`.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> Result<String, Error> {
    check_name(name)?;
    Ok(signed_note::new_ed25519_verifier_key(name, key))
}

/// Signs with the collector's key under a log name, for `signed_note`.
struct NoteSigner<'a> {
    name: &'a str,
    id: u32,
    key: &'a SigningKey,
}

impl signed_note::Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

/// Signs `text` (well-formed: UTF-8, ending in a newline, no control
/// character but newlines) as the note's only signature.
pub fn sign(text: &str, name: &str, key: &SigningKey) -> Result<String, Error> {
    check_name(name)?;
    let signer = NoteSigner {
        name,
        id: key_hash(name, &key.verifying_key()),
        key,
    };
    let mut note = Note::new(text.as_bytes(), &[]).map_err(|_| malformed())?;
    note.add_sigs(&[&signer])
        .map_err(|_| Error::new("note: signing failed"))?;
    String::from_utf8(note.to_bytes()).map_err(|_| malformed())
}

fn malformed() -> Error {
    Error::new("note: malformed (text must be UTF-8, end in a newline, hold no control characters)")
}

/// The verifier keys a reader trusts.
pub struct KnownKeys {
    list: VerifierList,
}

impl KnownKeys {
    /// From verifier key texts (see [`verifier_key`]); each must be
    /// well-formed, Ed25519, and its key hash must match its name and key.
    pub fn parse<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Self, Error> {
        let mut list: Vec<Box<dyn signed_note::Verifier>> = Vec::new();
        for text in texts {
            let v = StandardVerifier::new(text)
                .map_err(|_| Error::new("note: malformed verifier key"))?;
            list.push(Box::new(v));
        }
        Ok(Self {
            list: VerifierList::new(list),
        })
    }

    /// From (name, public key) pairs, as the collector knows its own keys.
    pub fn from_keys<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a VerifyingKey)>,
    ) -> Result<Self, Error> {
        let texts = keys
            .into_iter()
            .map(|(name, key)| verifier_key(name, key))
            .collect::<Result<Vec<_>, _>>()?;
        Self::parse(texts.iter().map(String::as_str))
    }
}

/// A note whose signatures checked out.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The known keys that signed it: (name, key hash).
    pub signers: Vec<(String, u32)>,
}

/// Parses a signed note and checks it against the known keys: signatures by
/// unknown keys are ignored, a known key's bad signature fails the note, and
/// at least one known key must have signed (C2SP signed-note,
/// "Verifying"). Parsing is exact: a missing blank line, a malformed
/// signature line, over 100 signatures or over 1 MB is refused.
pub fn open(msg: &[u8], known: &KnownKeys) -> Result<Verified, Error> {
    let note = Note::from_bytes(msg).map_err(|_| Error::new("note: malformed"))?;
    let (verified, _unknown) = note.verify(&known.list).map_err(|e| match e {
        NoteError::UnverifiedNote => Error::new("note: no signature by a known key"),
        NoteError::InvalidSignature { .. } => Error::new("note: a known key's signature is bad"),
        _ => Error::new("note: a signature could not be checked"),
    })?;
    let text = String::from_utf8(note.text().to_vec()).map_err(|_| malformed())?;
    Ok(Verified {
        text,
        signers: verified
            .iter()
            .map(|s| (s.name().to_owned(), s.id()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use base64::prelude::{Engine as _, BASE64_STANDARD};

    use super::*;

    // Go's golang.org/x/mod/sumdb/note documentation example (also the
    // `signed_note` crate's): a fixed key, and the exact note it signs.
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                           then you don't know what your problem is.\n\
                           \n\
                           — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn go_key() -> SigningKey {
        let b64 = GO_SKEY.splitn(5, '+').nth(4).expect("5 fields");
        let bytes = BASE64_STANDARD.decode(b64).expect("base64");
        assert_eq!(bytes[0], ALG_ED25519);
        SigningKey::from_bytes(bytes[1..].try_into().expect("32 bytes"))
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn the_go_note_vector_is_reproduced_byte_for_byte() {
        let key = go_key();
        assert_eq!(key_hash("PeterNeumann", &key.verifying_key()), 0xc74f20a3);
        assert_eq!(
            verifier_key("PeterNeumann", &key.verifying_key()).expect("a valid name"),
            GO_VKEY
        );
        assert_eq!(
            sign(GO_TEXT, "PeterNeumann", &key).expect("a valid name and text"),
            GO_NOTE
        );

        let known = KnownKeys::parse([GO_VKEY]).expect("well-formed keys");
        let opened = open(GO_NOTE.as_bytes(), &known).expect("signed by a known key");
        assert_eq!(opened.text, GO_TEXT);
        assert_eq!(
            opened.signers,
            vec![("PeterNeumann".to_owned(), 0xc74f20a3)]
        );
    }

    #[test]
    fn a_signed_note_round_trips() {
        let k = key(1);
        let name = "consent.acme.example/consentry/shop";
        let note = sign("hello\nworld\n", name, &k).expect("a valid name and text");
        let known = KnownKeys::from_keys([(name, &k.verifying_key())]).expect("well-formed keys");
        let opened = open(note.as_bytes(), &known).expect("signed by a known key");
        assert_eq!(opened.text, "hello\nworld\n");
        assert_eq!(opened.signers[0].0, name);
    }

    #[test]
    fn a_tampered_body_fails() {
        let known = KnownKeys::parse([GO_VKEY]).expect("well-formed keys");
        let tampered = GO_NOTE.replacen("answer", "ANSWER", 1);
        assert!(open(tampered.as_bytes(), &known).is_err());
    }

    #[test]
    fn a_note_by_an_unknown_key_alone_fails_and_next_to_a_known_one_is_ignored() {
        let known = KnownKeys::parse([GO_VKEY]).expect("well-formed keys");
        let by_other = sign(GO_TEXT, "Other", &key(2)).expect("a valid name and text");
        assert!(open(by_other.as_bytes(), &known).is_err());
        // Same name, another key: not the known key either.
        let impostor = sign(GO_TEXT, "PeterNeumann", &key(3)).expect("a valid name and text");
        assert!(open(impostor.as_bytes(), &known).is_err());

        // Both signatures on one note: the unknown one is skipped.
        let other_line = by_other.rsplit_once("\n\n").expect("a signature block").1;
        let cosigned = format!("{GO_NOTE}{other_line}");
        let opened = open(cosigned.as_bytes(), &known).expect("signed by a known key");
        assert_eq!(opened.signers.len(), 1);
        // Unless the cosigner is known too: then both count.
        let other_vkey = verifier_key("Other", &key(2).verifying_key()).expect("a valid name");
        let both = KnownKeys::parse([GO_VKEY, other_vkey.as_str()]).expect("well-formed keys");
        assert_eq!(
            open(cosigned.as_bytes(), &both)
                .expect("signed by a known key")
                .signers
                .len(),
            2
        );
    }

    #[test]
    fn malformed_notes_and_keys_are_refused() {
        let known = KnownKeys::parse([GO_VKEY]).expect("well-formed keys");
        let bad = [
            GO_NOTE.trim_end_matches('\n').to_owned(),
            GO_NOTE.replace("\n\n", "\n"),
            GO_NOTE.replace("— ", "-- "),
            GO_NOTE.replace("=\n", "= \n"),
            GO_NOTE.replace("PeterNeumann x", "PeterNeumann  x"),
            GO_NOTE.replace("\nthen", "\r\nthen"),
            format!("{GO_NOTE}\n"),
            String::new(),
        ];
        for msg in &bad {
            assert!(open(msg.as_bytes(), &known).is_err(), "{msg:?}");
        }
        assert!(sign("no newline", "a", &key(1)).is_err());
        assert!(sign("x\n", "has space", &key(1)).is_err());
        assert!(sign("x\n", "a+b", &key(1)).is_err());
        assert!(sign("x\n", "", &key(1)).is_err());
        assert!(KnownKeys::parse([
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        ])
        .is_err());
        assert!(KnownKeys::parse(["PeterNeumann+c74f20a3"]).is_err());
        assert!(
            KnownKeys::parse(["Other+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"])
                .is_err()
        );
    }
}
