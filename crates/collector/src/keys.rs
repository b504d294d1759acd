//! The collector's Ed25519 key: it countersigns every stored receipt, and its
//! public half is published at `/.well-known/jwks.json` so anyone can check a
//! countersignature without asking us.

use std::io::Write as _;
use std::path::Path;

use consentry_receipt::b64;
use consentry_receipt::json::{self, Json};
use consentry_receipt::verify::sha256;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The JWS header `typ` of a countersignature.
pub const COUNTERSIGNATURE_TYP: &str = "consentry-countersignature+jws";

pub struct Countersigner {
    key: SigningKey,
    verifying: VerifyingKey,
    public: [u8; 32],
    kid: String,
    /// `B64U(header) "."`, the same for every countersignature.
    header_prefix: String,
}

impl std::fmt::Debug for Countersigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Countersigner")
            .field("kid", &self.kid)
            .finish()
    }
}

impl Countersigner {
    /// Reads the key file (the 32-byte seed in base64url), or creates it with
    /// a fresh random seed and mode 0600 when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Countersigner, String> {
        let shown = path.display();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let seed = b64::decode(text.trim())
                    .filter(|seed| seed.len() == 32)
                    .ok_or_else(|| {
                        format!("key file {shown}: not a base64url 32-byte Ed25519 seed")
                    })?;
                Self::from_seed(&seed)
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut seed)
                    .map_err(|_| "no system randomness for a new key".to_owned())?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options
                    .open(path)
                    .map_err(|err| format!("cannot create key file {shown}: {err}"))?;
                writeln!(file, "{}", b64::encode(&seed))
                    .and_then(|()| file.sync_all())
                    .map_err(|err| format!("cannot write key file {shown}: {err}"))?;
                tracing::info!("created a new countersigning key in {shown}");
                Self::from_seed(&seed)
            }
            Err(err) => Err(format!("cannot read key file {shown}: {err}")),
        }
    }

    /// Reads the key file, which must exist: for the commands that work on a
    /// database the serving collector wrote (`verify`, `prune`). A new key
    /// there would make every countersignature look invalid, and a stray key
    /// file next to the database could later be picked up by `serve`.
    pub fn load_existing(path: &Path) -> Result<Countersigner, String> {
        if !path.exists() {
            return Err(format!(
                "no key file at {}: set CONSENTRY_KEY_FILE to the collector's key",
                path.display()
            ));
        }
        Self::load_or_create(path)
    }

    pub fn from_seed(seed: &[u8]) -> Result<Countersigner, String> {
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| "an Ed25519 seed is 32 bytes".to_owned())?;
        let key = SigningKey::from_bytes(seed);
        let verifying = key.verifying_key();
        let public = verifying.to_bytes();
        let kid = okp_thumbprint(&public);
        let header = Json::object(vec![
            ("alg", Some(Json::str("EdDSA"))),
            ("kid", Some(Json::str(&kid))),
            ("typ", Some(Json::str(COUNTERSIGNATURE_TYP))),
        ]);
        let header = header.canonical().map_err(|_| "header".to_owned())?;
        let header_prefix = format!("{}.", b64::encode(header.as_bytes()));
        Ok(Countersigner {
            key,
            verifying,
            public,
            kid,
            header_prefix,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// `{"keys":[…]}` for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64::encode(&self.public),
                "kid": self.kid,
                "alg": "EdDSA",
                "use": "sig",
            }]
        })
    }

    /// A JWS compact countersignature over `payload` (canonical JSON text).
    pub fn sign(&self, payload: &str) -> String {
        let mut jws = self.header_prefix.clone();
        jws.push_str(&b64::encode(payload.as_bytes()));
        let signature = self.key.sign(jws.as_bytes());
        jws.push('.');
        jws.push_str(&b64::encode(&signature.to_bytes()));
        jws
    }

    /// The payload of `jws` if it is our header and our signature, else `None`.
    pub fn verify(&self, jws: &str) -> Option<String> {
        let rest = jws.strip_prefix(&self.header_prefix)?;
        let (payload_b64, sig_b64) = rest.split_once('.')?;
        let signature = Signature::from_slice(&b64::decode(sig_b64)?).ok()?;
        let signed = &jws[..self.header_prefix.len() + payload_b64.len()];
        self.verifying
            .verify_strict(signed.as_bytes(), &signature)
            .ok()?;
        String::from_utf8(b64::decode(payload_b64)?).ok()
    }
}

/// RFC 7638 thumbprint of an Ed25519 OKP key (RFC 8037 member set).
fn okp_thumbprint(public: &[u8; 32]) -> String {
    let jwk = format!(
        "{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{}\"}}",
        b64::encode(public)
    );
    b64::encode(&sha256(jwk.as_bytes()))
}

/// The countersignature payload for one stored receipt: canonical JSON, so
/// anyone can rebuild it from the row and compare.
pub fn countersignature_payload(
    site: &str,
    seq: i64,
    receipt_id: &str,
    receipt_sha256: &str,
    received_at: &str,
    chain_hash: &str,
) -> String {
    let value = Json::object(vec![
        ("chain_hash", Some(Json::str(chain_hash))),
        ("receipt_id", Some(Json::str(receipt_id))),
        ("receipt_sha256", Some(Json::str(receipt_sha256))),
        ("received_at", Some(Json::str(received_at))),
        ("seq", Some(Json::int(u64::try_from(seq).unwrap_or(0)))),
        ("site", Some(Json::str(site))),
    ]);
    // Only strings and a small integer: always canonical.
    value.canonical().unwrap_or_default()
}

/// The `seq` a countersignature payload names, to tell a moved row from an
/// altered one.
pub fn payload_seq(payload: &str) -> Option<u32> {
    json::parse(payload).ok()?.get("seq")?.as_u32()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_countersignature_verifies_and_a_changed_one_does_not() {
        let signer = Countersigner::from_seed(&[7u8; 32]).expect("key");
        let payload =
            countersignature_payload("s", 1, "id", "aa", "2026-11-23T18:30:00.000Z", "bb");
        let jws = signer.sign(&payload);
        assert_eq!(signer.verify(&jws).as_deref(), Some(payload.as_str()));
        let other = countersignature_payload("s", 2, "id", "aa", "2026-11-23T18:30:00.000Z", "bb");
        let (head, _) = jws.rsplit_once('.').expect("dot");
        let (prefix, _) = head.rsplit_once('.').expect("dot");
        let forged = format!(
            "{prefix}.{}.{}",
            b64::encode(other.as_bytes()),
            jws.rsplit_once('.').expect("dot").1
        );
        assert_eq!(signer.verify(&forged), None);
        assert_eq!(payload_seq(&payload), Some(1));
        assert_eq!(signer.kid().len(), 43);
    }

    #[test]
    fn a_key_file_is_created_once_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("consentry-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("collector.key");
        let first = Countersigner::load_or_create(&path).expect("create");
        let again = Countersigner::load_or_create(&path).expect("read");
        assert_eq!(first.kid(), again.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
