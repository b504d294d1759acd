//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): a signed tree
//! head as the body of a signed note.
//!
//! ```text
//! consent.acme.example/consentry/shop
//! 42
//! qD7+3b6m2Y1Jvq4y3vq4y3vq4y3vq4y3vq4y3vq4y3s=
//!
//! — consent.acme.example/consentry/shop AbCd…
//! ```
//!
//! The body is the origin line, the tree size in decimal and the root hash in
//! standard base64, each ending in a newline. The spec allows extension lines
//! after the hash; this log writes none, so it refuses them too, and parses
//! exactly what it writes: anything else is an [`Error`].

use base64::prelude::{Engine as _, BASE64_STANDARD};
use ed25519_dalek::SigningKey;

use super::note::{self, KnownKeys};
use super::tree::Hash;
use super::Error;

/// The longest origin line, in bytes. Ours are `host/consentry/<site>`, well
/// under it; the cap keeps a hostile checkpoint from being large for nothing.
pub const MAX_ORIGIN_LEN: usize = 256;

/// A tree head: which log, how many leaves, and the root of those leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

/// The origin line: 1 to [`MAX_ORIGIN_LEN`] bytes, no whitespace and no
/// control character (so no trailing space, no `\r`).
fn check_origin(origin: &str) -> Result<(), Error> {
    if origin.is_empty()
        || origin.len() > MAX_ORIGIN_LEN
        || origin.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::new(
            "checkpoint: the origin is 1 to 256 bytes without spaces or control characters",
        ));
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint for the tree of `size` leaves with head `root`.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, Error> {
        check_origin(origin)?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// `<origin>\n<size>\n<base64 root>\n`, the text the note signs.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64_STANDARD.encode(self.root)
        )
    }

    /// Reads a body exactly as [`body`](Self::body) writes it.
    pub fn parse_body(text: &str) -> Result<Self, Error> {
        let Some(text) = text.strip_suffix('\n') else {
            return Err(Error::new("checkpoint: the body ends in a newline"));
        };
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root), None) =
            (lines.next(), lines.next(), lines.next(), lines.next())
        else {
            return Err(Error::new("checkpoint: the body is exactly three lines"));
        };
        check_origin(origin)?;
        // Decimal digits only (`u64::from_str` would take a `+`), no leading zero.
        let canonical = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size = canonical
            .then(|| size.parse::<u64>().ok())
            .flatten()
            .ok_or(Error::new(
                "checkpoint: the size is a decimal without leading zeros",
            ))?;
        // 44 characters of padded standard base64; the decoder refuses
        // non-zero trailing bits, so one root has one spelling.
        let root: Hash = (root.len() == 44)
            .then(|| BASE64_STANDARD.decode(root).ok())
            .flatten()
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::new(
                "checkpoint: the root is 32 bytes in standard base64",
            ))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// The signed note: this body signed by `key` under the log's key name
    /// (by convention the origin itself).
    pub fn sign(&self, key_name: &str, key: &SigningKey) -> Result<String, Error> {
        note::sign(&self.body(), key_name, key)
    }

    /// Checks a signed checkpoint against the known keys and the origin the
    /// reader expects (a checkpoint of another log proves nothing here).
    pub fn open(signed: &[u8], origin: &str, known: &KnownKeys) -> Result<Self, Error> {
        let verified = note::open(signed, known)?;
        let checkpoint = Self::parse_body(&verified.text)?;
        if checkpoint.origin != origin {
            return Err(Error::new("checkpoint: another log's origin"));
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::{leaf_hash, root, EMPTY_ROOT};
    use super::*;

    const ORIGIN: &str = "consent.acme.example/consentry/shop";

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn known() -> KnownKeys {
        KnownKeys::from_keys([(ORIGIN, &key().verifying_key())]).expect("well-formed keys")
    }

    #[test]
    fn the_body_is_the_c2sp_format() {
        let c = Checkpoint::new(ORIGIN, 0, EMPTY_ROOT).expect("a valid origin");
        assert_eq!(
            c.body(),
            "consent.acme.example/consentry/shop\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        );
        assert_eq!(Checkpoint::parse_body(&c.body()).expect("a good body"), c);
    }

    #[test]
    fn a_signed_checkpoint_round_trips() {
        let leaves: Vec<_> = (0..42u8).map(|i| leaf_hash(&[i])).collect();
        let c = Checkpoint::new(ORIGIN, 42, root(&leaves)).expect("a valid origin");
        let signed = c.sign(ORIGIN, &key()).expect("a valid name and text");
        assert!(signed.starts_with(&c.body()));
        assert!(signed.contains(&format!("\n\n— {ORIGIN} ")));
        assert_eq!(
            Checkpoint::open(signed.as_bytes(), ORIGIN, &known()).expect("signed by a known key"),
            c
        );
    }

    /// Self-derived (Ed25519 is deterministic, the key is fixed): if this
    /// changes, every checkpoint a witness holds would stop verifying.
    #[test]
    fn a_signed_checkpoint_is_stable_byte_for_byte() {
        let c = Checkpoint::new(ORIGIN, 1, leaf_hash(b"")).expect("a valid origin");
        let signed = c.sign(ORIGIN, &key()).expect("a valid name and text");
        let vkey = note::verifier_key(ORIGIN, &key().verifying_key()).expect("a valid name");
        assert_eq!(
            (signed.as_str(), vkey.as_str()),
            (GOLDEN_NOTE, GOLDEN_VKEY),
            "{signed}{vkey}"
        );
        let parsed = KnownKeys::parse([GOLDEN_VKEY]).expect("well-formed keys");
        assert_eq!(
            Checkpoint::open(GOLDEN_NOTE.as_bytes(), ORIGIN, &parsed)
                .expect("signed by a known key"),
            c
        );
    }

    const GOLDEN_NOTE: &str = "consent.acme.example/consentry/shop\n\
        1\n\
        bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n\
        \n\
        — consent.acme.example/consentry/shop 9CPKN/X4rU7w6VfsdS3+xewNFH3Ay553yY1a2NPkgHnoietAT+aDv2bh7fti7rREQpy+un5vCukMBNMGmBq0hWbmQws=\n";
    const GOLDEN_VKEY: &str =
        "consent.acme.example/consentry/shop+f423ca37+AepKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";

    #[test]
    fn a_tampered_or_foreign_checkpoint_fails() {
        let c = Checkpoint::new(ORIGIN, 5, [1; 32]).expect("a valid origin");
        let signed = c.sign(ORIGIN, &key()).expect("a valid name and text");
        let bigger = signed.replacen("\n5\n", "\n6\n", 1);
        assert!(Checkpoint::open(bigger.as_bytes(), ORIGIN, &known()).is_err());
        assert!(Checkpoint::open(
            signed.as_bytes(),
            "consent.acme.example/consentry/blog",
            &known()
        )
        .is_err());
        let by_other = c
            .sign(ORIGIN, &SigningKey::from_bytes(&[8; 32]))
            .expect("well-formed bytes");
        assert!(Checkpoint::open(by_other.as_bytes(), ORIGIN, &known()).is_err());
    }

    #[test]
    fn bodies_not_written_exactly_so_are_refused() {
        let good = Checkpoint::new(ORIGIN, 10, [0; 32])
            .expect("a valid origin")
            .body();
        assert!(Checkpoint::parse_body(&good).is_ok());
        let root = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let bad = [
            good.trim_end().to_owned(),
            format!("{good}ext\n"),
            format!("{good}\n"),
            good.replace("\n10\n", "\n010\n"),
            good.replace("\n10\n", "\n+10\n"),
            good.replace("\n10\n", "\n 10\n"),
            good.replace("\n10\n", "\n10 \n"),
            good.replace("\n10\n", "\n\n"),
            good.replace("\n10\n", "\n18446744073709551616\n"),
            good.replace("\n10\n", "\n0x0a\n"),
            good.replace(ORIGIN, &format!("{ORIGIN} ")),
            good.replace(ORIGIN, ""),
            good.replace(ORIGIN, &"a".repeat(MAX_ORIGIN_LEN + 1)),
            good.replace(root, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            good.replace(root, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB="),
            good.replace(root, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="),
            good.replace(root, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            good.replace(root, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_="),
            good.replace('\n', "\r\n"),
        ];
        for body in &bad {
            assert!(Checkpoint::parse_body(body).is_err(), "{body:?}");
        }
        assert!(Checkpoint::parse_body(&good.replace(ORIGIN, &"a".repeat(MAX_ORIGIN_LEN))).is_ok());
        assert!(Checkpoint::new("has space", 1, [0; 32]).is_err());
        assert!(
            Checkpoint::parse_body(&good.replace("\n10\n", "\n18446744073709551615\n")).is_ok()
        );
    }
}
