//! The collector's Ed25519 keys: the newest countersigns every stored
//! receipt, and the public half of every key, old and new, is published at
//! `/.well-known/jwks.json` so anyone can check any countersignature without
//! asking us.
//!
//! # The key file
//!
//! One base64url 32-byte Ed25519 seed per line, oldest first; the last line
//! is the key that signs. A file from before rotation existed holds one line,
//! so it reads as one key with the kid it always had. Only private seeds are
//! in it (mode 0600); the JWKS is derived from them.
//!
//! Why one file and not a sibling file of old keys: several collectors on one
//! PostgreSQL must sign with keys the others publish, and they are given one
//! key file to share (see the README). With everything in that one file,
//! rotating is "rotate once, distribute the same file, restart", and no
//! collector can hold a signing key without the keys before it, or the other
//! way round.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use consentry_receipt::b64;
use consentry_receipt::json::{self, Json};
use consentry_receipt::verify::sha256;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The JWS header `typ` of a countersignature.
pub const COUNTERSIGNATURE_TYP: &str = "consentry-countersignature+jws";

/// Every key the collector has countersigned with, oldest first. Never
/// empty: the last one signs, all of them verify.
pub struct Countersigner {
    keys: Vec<Key>,
    /// The public halves, in the same order: what verifies and is published.
    public: PublicKeys,
}

/// One Ed25519 key and what is derived from it once.
struct Key {
    signing: SigningKey,
    kid: String,
    /// `B64U(header) "."`, the same for every countersignature by this key.
    /// The header names the kid, so it also tells which key made a token.
    header_prefix: String,
}

/// The public half of every key the collector has signed with, oldest
/// first: all an auditor, a witness or a visitor needs to check a
/// countersignature, a checkpoint or a prune record. Built from the key file
/// or from a saved `/.well-known/jwks.json`, which list the same keys.
#[derive(Clone, Debug)]
pub struct PublicKeys {
    keys: Vec<PublicKey>,
}

#[derive(Clone, Debug)]
struct PublicKey {
    verifying: VerifyingKey,
    kid: String,
    header_prefix: String,
}

impl std::fmt::Debug for Countersigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Countersigner")
            .field("kids", &self.kids().collect::<Vec<_>>())
            .finish()
    }
}

impl Countersigner {
    /// Reads the key file (one base64url 32-byte seed per line, oldest
    /// first); `Ok(None)` only when it does not exist. Unreadable (permission
    /// denied, a directory) or malformed is an error: only the caller,
    /// knowing whether the store is empty, may decide that a missing key
    /// means a new one.
    pub fn load(path: &Path) -> Result<Option<Countersigner>, String> {
        let shown = path.display();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let seeds =
                    parse_key_file(&text).map_err(|err| format!("key file {shown}: {err}"))?;
                Self::from_seeds(&seeds)
                    .map(Some)
                    .map_err(|err| format!("key file {shown}: {err}"))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(format!("cannot read key file {shown}: {err}")),
        }
    }

    /// Reads the key file, which must exist: for the commands that work on a
    /// database the serving collector wrote (`verify`, `prune`, `keys
    /// rotate`). A new key there would make every countersignature look
    /// invalid, and a stray key file next to the database could later be
    /// picked up by `serve`.
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
        Self::from_seeds(&[random_seed()?])
    }

    /// Writes the seeds to a new key file, mode 0600. `create_new`: if the
    /// file appeared meanwhile (another collector starting on the same store)
    /// this fails with `AlreadyExists` and overwrites nothing. The file and
    /// its directory entry are synced before returning: every row signed
    /// from now on names this key, so it must survive a power cut too.
    pub fn persist_new(&self, path: &Path) -> std::io::Result<()> {
        let mut file = create_private(path)?;
        let written = file
            .write_all(self.key_file_text().as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(err) = written {
            // A half-written key would be refused as malformed at the next
            // start; nothing was signed with it yet, so it can go.
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(err);
        }
        sync_dir(path)
    }

    /// `consentry-collector keys rotate`: appends a fresh key to the existing
    /// key file at `path` and returns every key, the new one last (its
    /// [`kid`](Countersigner::kid)). A missing file is an error: the first
    /// key is made only by `serve`, for an empty store.
    ///
    /// Atomic: the new file is written beside the old one (mode 0600),
    /// synced, and renamed over it, so a crash leaves the old file or the new
    /// one, never half of either. That temporary file, made with
    /// `create_new`, also stops a second rotation running at the same time:
    /// both would append to the same old file, and one new key would be lost
    /// after being printed. A symlinked key file is resolved first, so the
    /// link keeps pointing at the (replaced) file.
    pub fn rotate(path: &Path) -> Result<Countersigner, String> {
        let shown = path.display();
        let target = std::fs::canonicalize(path).map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "no key file at {shown}: `keys rotate` adds a key to the collector's key file and never makes the first one \
                     (`serve` does, on an empty store); set CONSENTRY_KEY_FILE to the collector's key"
                )
            } else {
                format!("cannot read key file {shown}: {err}")
            }
        })?;
        let temp = rotating_path(&target);
        let mut file = create_private(&temp).map_err(|err| {
            if err.kind() == std::io::ErrorKind::AlreadyExists {
                format!(
                    "{} exists: another `keys rotate` is writing the key file, or one was interrupted; \
                     if none is running, remove it and rotate again",
                    temp.display()
                )
            } else {
                format!("cannot write {}: {err}", temp.display())
            }
        })?;
        let mut renamed = false;
        let result = (|| {
            // Read only now, holding the temporary file: see above.
            let current = Self::load_existing(&target)?;
            let mut seeds: Vec<[u8; 32]> =
                current.keys.iter().map(|k| k.signing.to_bytes()).collect();
            seeds.push(random_seed()?);
            let rotated = Self::from_seeds(&seeds)?;
            let write_err = |err: std::io::Error| format!("cannot write {}: {err}", temp.display());
            file.write_all(rotated.key_file_text().as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(write_err)?;
            std::fs::rename(&temp, &target)
                .map_err(|err| format!("cannot replace key file {shown}: {err}"))?;
            renamed = true;
            sync_dir(&target)
                .map_err(|err| format!("cannot sync the directory of {shown}: {err}"))?;
            Ok(rotated)
        })();
        if result.is_err() && !renamed {
            drop(file);
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    pub fn from_seed(seed: &[u8]) -> Result<Countersigner, String> {
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| "an Ed25519 seed is 32 bytes".to_owned())?;
        Self::from_seeds(&[seed])
    }

    /// Every key, oldest first; the last one signs. Refuses none at all, and
    /// the same key twice (the JWKS would name one kid twice).
    pub fn from_seeds(seeds: &[[u8; 32]]) -> Result<Countersigner, String> {
        if seeds.is_empty() {
            return Err("no key".to_owned());
        }
        let mut keys: Vec<Key> = Vec::with_capacity(seeds.len());
        for seed in seeds {
            let key = Key::from_seed(seed)?;
            if keys.iter().any(|k| k.kid == key.kid) {
                return Err(format!("key {} is listed twice", key.kid));
            }
            keys.push(key);
        }
        let public = PublicKeys {
            keys: keys
                .iter()
                .map(|k| PublicKey::new(k.signing.verifying_key()))
                .collect::<Result<_, _>>()?,
        };
        Ok(Countersigner { keys, public })
    }

    /// The key that signs: the newest.
    fn newest(&self) -> &Key {
        // `from_seeds` refuses an empty list, and nothing removes a key.
        &self.keys[self.keys.len() - 1]
    }

    /// The kid of the key that signs new countersignatures (the newest).
    pub fn kid(&self) -> &str {
        &self.newest().kid
    }

    /// Every kid, oldest first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// How many keys: one until the first `keys rotate`.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// `{"keys":[…]}` for `/.well-known/jwks.json`: see [`PublicKeys::jwks`].
    pub fn jwks(&self) -> serde_json::Value {
        self.public.jwks()
    }

    /// The public half of every key.
    pub fn public_keys(&self) -> &PublicKeys {
        &self.public
    }

    /// A JWS compact countersignature over `payload` (canonical JSON text),
    /// by the newest key, named in its header.
    pub fn sign(&self, payload: &str) -> String {
        let key = self.newest();
        let mut jws = key.header_prefix.clone();
        jws.push_str(&b64::encode(payload.as_bytes()));
        let signature = key.signing.sign(jws.as_bytes());
        jws.push('.');
        jws.push_str(&b64::encode(&signature.to_bytes()));
        jws
    }

    /// See [`PublicKeys::verify`].
    pub fn verify(&self, jws: &str) -> Option<String> {
        self.public.verify(jws)
    }

    /// Signs a C2SP signed note (a checkpoint) with the
    /// newest key under the key name `name` (the log's origin).
    pub fn sign_note(&self, text: &str, name: &str) -> Result<String, crate::log::Error> {
        crate::log::note::sign(text, name, &self.newest().signing)
    }

    /// The key file's text: one seed per line, oldest first.
    fn key_file_text(&self) -> String {
        let mut text = String::new();
        for key in &self.keys {
            text.push_str(&b64::encode(&key.signing.to_bytes()));
            text.push('\n');
        }
        text
    }
}

impl PublicKey {
    fn new(verifying: VerifyingKey) -> Result<PublicKey, String> {
        let kid = okp_thumbprint(verifying.as_bytes());
        let header = Json::object(vec![
            ("alg", Some(Json::str("EdDSA"))),
            ("kid", Some(Json::str(&kid))),
            ("typ", Some(Json::str(COUNTERSIGNATURE_TYP))),
        ]);
        let header = header.canonical().map_err(|_| "header".to_owned())?;
        let header_prefix = format!("{}.", b64::encode(header.as_bytes()));
        Ok(PublicKey {
            verifying,
            kid,
            header_prefix,
        })
    }
}

impl PublicKeys {
    /// Reads a saved `/.well-known/jwks.json`. Every key must be an Ed25519
    /// OKP key whose `kid`, when given, is its RFC 7638 thumbprint (the kid
    /// our countersignatures name): a JWKS that lies about a kid is refused,
    /// not trusted for that kid. Keys of other types are named and refused,
    /// as this is a collector's JWKS and holds none.
    pub fn from_jwks(text: &str) -> Result<PublicKeys, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
        let list = value
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .ok_or("no \"keys\" array (save the collector's /.well-known/jwks.json)")?;
        let mut keys: Vec<PublicKey> = Vec::with_capacity(list.len());
        for (i, jwk) in list.iter().enumerate() {
            let member = |name: &str| jwk.get(name).and_then(serde_json::Value::as_str);
            if member("kty") != Some("OKP") || member("crv") != Some("Ed25519") {
                return Err(format!("key {i}: not an Ed25519 (OKP) key"));
            }
            let x = member("x")
                .and_then(b64::decode)
                .and_then(|x| <[u8; 32]>::try_from(x).ok())
                .ok_or_else(|| format!("key {i}: \"x\" is not a base64url 32-byte public key"))?;
            let verifying = VerifyingKey::from_bytes(&x)
                .map_err(|_| format!("key {i}: \"x\" is not an Ed25519 public key"))?;
            let key = PublicKey::new(verifying)?;
            if let Some(kid) = member("kid") {
                if kid != key.kid {
                    return Err(format!(
                        "key {i}: kid {kid} is not the key's thumbprint {}",
                        key.kid
                    ));
                }
            }
            if !keys.iter().any(|k| k.kid == key.kid) {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Err("no key in the JWKS".to_owned());
        }
        Ok(PublicKeys { keys })
    }

    /// `{"keys":[…]}` for `/.well-known/jwks.json`: every key, oldest first
    /// and the signing key last, so every countersignature ever made stays
    /// verifiable by anyone holding it.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": b64::encode(k.verifying.as_bytes()),
                    "kid": k.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Every kid, oldest first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The payload of `jws` if its header is exactly the one one of these
    /// keys writes (so its `kid` is one we know) and that key's signature
    /// verifies; else `None`. The header bytes are compared as received,
    /// never parsed and re-serialized; a kid we do not know matches no key.
    pub fn verify(&self, jws: &str) -> Option<String> {
        // Newest first: most rows in a long-lived store are recent.
        let key = self
            .keys
            .iter()
            .rev()
            .find(|k| jws.starts_with(&k.header_prefix))?;
        let rest = &jws[key.header_prefix.len()..];
        let (payload_b64, sig_b64) = rest.split_once('.')?;
        let signature = Signature::from_slice(&b64::decode(sig_b64)?).ok()?;
        let signed = &jws[..key.header_prefix.len() + payload_b64.len()];
        key.verifying
            .verify_strict(signed.as_bytes(), &signature)
            .ok()?;
        String::from_utf8(b64::decode(payload_b64)?).ok()
    }

    /// Every key as a signed-note verifier under the key name `name` (a
    /// log's origin): a checkpoint signed by any key, old or new, opens.
    pub fn note_keys(&self, name: &str) -> Result<crate::log::KnownKeys, crate::log::Error> {
        crate::log::KnownKeys::from_keys(self.keys.iter().map(|k| (name, &k.verifying)))
    }
}

impl Key {
    fn from_seed(seed: &[u8; 32]) -> Result<Key, String> {
        let signing = SigningKey::from_bytes(seed);
        let public = PublicKey::new(signing.verifying_key())?;
        Ok(Key {
            signing,
            kid: public.kid.clone(),
            header_prefix: public.header_prefix.clone(),
        })
    }
}

/// The seeds of a key file, oldest first. Blank lines (a trailing newline,
/// an editor's extra one) are skipped; anything else must be a seed, and a
/// bad line is named by its number.
fn parse_key_file(text: &str) -> Result<Vec<[u8; 32]>, String> {
    let mut seeds = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let seed = b64::decode(line)
            .and_then(|seed| <[u8; 32]>::try_from(seed).ok())
            .ok_or_else(|| format!("line {}: not a base64url 32-byte Ed25519 seed", i + 1))?;
        seeds.push(seed);
    }
    if seeds.is_empty() {
        return Err("empty: not a base64url 32-byte Ed25519 seed".to_owned());
    }
    Ok(seeds)
}

fn random_seed() -> Result<[u8; 32], String> {
    let mut seed = [0u8; 32];
    SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| "no system randomness for a new key".to_owned())?;
    Ok(seed)
}

/// A new file readable by its owner only (0600 on Unix); fails if it exists.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// `collector.key.rotating` beside `collector.key`: the same directory, so
/// the rename is atomic (one file system).
fn rotating_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.file_name().unwrap_or_default().to_os_string();
    name.push(".rotating");
    key_file.with_file_name(name)
}

/// Syncs the directory holding `path`, so a new or renamed entry survives a
/// power cut. Nothing to do off Unix.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
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

    /// The seed `[7; 32]`, its kid and its JWKS as the collector computed
    /// them before keys could be rotated: an existing deployment's one-line
    /// key file must keep the key, and the kid, its receipts name.
    const SEED_7: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";
    const KID_7: &str = "--6IM5l0OosLj9yWskISYhUA3n_3CURQkmrYMSha_ck";
    const JWKS_7: &str = r#"{"keys":[{"alg":"EdDSA","crv":"Ed25519","kid":"--6IM5l0OosLj9yWskISYhUA3n_3CURQkmrYMSha_ck","kty":"OKP","use":"sig","x":"6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw"}]}"#;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("consentry-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn a_one_line_key_file_of_today_reads_as_one_key_with_the_same_kid() {
        let dir = temp_dir("one-line");
        let path = dir.join("collector.key");
        std::fs::write(&path, format!("{SEED_7}\n")).expect("write");
        let signer = Countersigner::load_existing(&path).expect("read");
        assert_eq!(signer.key_count(), 1);
        assert_eq!(signer.kid(), KID_7);
        assert_eq!(signer.kids().collect::<Vec<_>>(), [KID_7]);
        assert_eq!(signer.jwks().to_string(), JWKS_7);
        // What it signs is what the same key signed before.
        let payload =
            countersignature_payload("s", 1, "id", "aa", "2026-11-23T18:30:00.000Z", "bb");
        let old = Countersigner::from_seed(&[7u8; 32]).expect("key");
        assert_eq!(signer.sign(&payload), old.sign(&payload));
        // Without a trailing newline too, as a hand-made file may be.
        std::fs::write(&path, SEED_7).expect("write");
        assert_eq!(
            Countersigner::load_existing(&path).expect("read").kid(),
            KID_7
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn with_several_keys_the_last_signs_and_every_one_verifies() {
        let old = Countersigner::from_seed(&[7u8; 32]).expect("key");
        let both = Countersigner::from_seeds(&[[7u8; 32], [8u8; 32]]).expect("keys");
        let newest = Countersigner::from_seed(&[8u8; 32]).expect("key");
        assert_eq!(both.key_count(), 2);
        assert_eq!(both.kid(), newest.kid());
        assert_eq!(both.kids().collect::<Vec<_>>(), [old.kid(), newest.kid()]);
        let keys = both.jwks()["keys"].as_array().expect("keys").clone();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], old.kid(), "oldest first");
        assert_eq!(keys[1]["kid"], newest.kid(), "the signing key last");

        let payload =
            countersignature_payload("s", 1, "id", "aa", "2026-11-23T18:30:00.000Z", "bb");
        let by_old = old.sign(&payload);
        let by_new = both.sign(&payload);
        assert_eq!(by_new, newest.sign(&payload), "signed by the newest key");
        assert_eq!(both.verify(&by_old).as_deref(), Some(payload.as_str()));
        assert_eq!(both.verify(&by_new).as_deref(), Some(payload.as_str()));
        // The old key alone does not know the new kid.
        assert_eq!(old.verify(&by_new), None);
        // A kid we know on another key's signature is refused.
        let (_, rest) = by_new.split_once('.').expect("dot");
        let (old_header, _) = by_old.split_once('.').expect("dot");
        assert_eq!(both.verify(&format!("{old_header}.{rest}")), None);

        // The key file text round-trips, oldest first.
        assert_eq!(
            parse_key_file(&both.key_file_text()).expect("parse"),
            [[7u8; 32], [8u8; 32]]
        );
        assert!(Countersigner::from_seeds(&[[7u8; 32], [7u8; 32]])
            .expect_err("twice")
            .contains("listed twice"));
        assert!(Countersigner::from_seeds(&[]).is_err());
        let err = parse_key_file(&format!("{SEED_7}\nnope\n")).expect_err("bad line");
        assert!(
            err.contains("line 2: not a base64url 32-byte Ed25519 seed"),
            "{err}"
        );
    }

    #[test]
    fn rotating_appends_a_key_and_refuses_a_missing_file_or_a_rotation_under_way() {
        let dir = temp_dir("rotate");
        let path = dir.join("collector.key");
        let err = Countersigner::rotate(&path).expect_err("no key file");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(!path.exists(), "no first key is made by rotating");
        std::fs::write(&path, format!("{SEED_7}\n")).expect("write");
        let rotated = Countersigner::rotate(&path).expect("rotate");
        assert_eq!(rotated.key_count(), 2);
        let again = Countersigner::load_existing(&path).expect("read");
        assert_eq!(
            again.kids().collect::<Vec<_>>(),
            rotated.kids().collect::<Vec<_>>()
        );
        assert_eq!(again.kids().next(), Some(KID_7));
        assert!(!rotating_path(&path).exists(), "the temporary file is gone");

        std::fs::write(rotating_path(&path), "").expect("a rotation under way");
        let err = Countersigner::rotate(&path).expect_err("two at once");
        assert!(err.contains("another `keys rotate`"), "{err}");
        assert_eq!(
            Countersigner::load_existing(&path)
                .expect("read")
                .key_count(),
            2
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
