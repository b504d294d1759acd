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
    /// Reads the key file (the 32-byte seed in base64url); `Ok(None)` only
    /// when it does not exist. Unreadable (permission denied, a directory)
    /// or malformed is an error: only the caller, knowing whether the store
    /// is empty, may decide that a missing key means a new one.
    pub fn load(path: &Path) -> Result<Option<Countersigner>, String> {
        let shown = path.display();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let seed = b64::decode(text.trim())
                    .filter(|seed| seed.len() == 32)
                    .ok_or_else(|| {
                        format!("key file {shown}: not a base64url 32-byte Ed25519 seed")
                    })?;
                Self::from_seed(&seed).map(Some)
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(format!("cannot read key file {shown}: {err}")),
        }
    }

    /// Reads the key file, which must exist: for the commands that work on a
    /// database the serving collector wrote (`verify`, `prune`). A new key
    /// there would make every countersignature look invalid, and a stray key
    /// file next to the database could later be picked up by `serve`.
    pub fn load_existing(path: &Path) -> Result<Countersigner, String> {
        Self::load(path)?.ok_or_else(|| {
            format!(
                "no key file at {}: set CONSENTRY_KEY_FILE to the collector's key",
                path.display()
            )
        })
    }

    /// A fresh random key, in memory only: [`Countersigner::persist_new`]
    /// writes it once the caller knows the store is empty.
    pub fn generate() -> Result<Countersigner, String> {
        let mut seed = [0u8; 32];
        SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| "no system randomness for a new key".to_owned())?;
        Self::from_seed(&seed)
    }

    /// Writes the seed to a new key file, mode 0600. `create_new`: if the
    /// file appeared meanwhile (another collector starting on the same store)
    /// this fails with `AlreadyExists` and overwrites nothing. The file and
    /// its directory entry are synced before returning: every row signed
    /// from now on names this key, so it must survive a power cut too.
    pub fn persist_new(&self, path: &Path) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        let written =
            writeln!(file, "{}", b64::encode(&self.key.to_bytes())).and_then(|()| file.sync_all());
        if let Err(err) = written {
            // A half-written key would be refused as malformed at the next
            // start; nothing was signed with it yet, so it can go.
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(err);
        }
        #[cfg(unix)]
        {
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            };
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
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
    fn a_new_key_is_written_once_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!("consentry-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("collector.key");
        assert!(Countersigner::load(&path)
            .expect("missing is no error")
            .is_none());
        assert!(Countersigner::load_existing(&path).is_err());
        let first = Countersigner::generate().expect("generate");
        first.persist_new(&path).expect("persist");
        let again = Countersigner::load_existing(&path).expect("read");
        assert_eq!(first.kid(), again.kid());
        // Never overwritten, even by another new key.
        let other = Countersigner::generate().expect("generate");
        let err = other.persist_new(&path).expect_err("exists");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(
            Countersigner::load_existing(&path).expect("read").kid(),
            first.kid()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key\n").expect("write");
        let err = Countersigner::load(&path).expect_err("malformed");
        assert!(
            err.contains("not a base64url 32-byte Ed25519 seed"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
