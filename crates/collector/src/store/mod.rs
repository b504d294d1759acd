//! The append-only, tamper-evident receipt log: SQLite (one file, the
//! default) or PostgreSQL (several stateless collectors on one database).
//!
//! # Group commit
//!
//! Acknowledged means durable: a 201 is sent only after the receipt's
//! transaction has committed (SQLite `synchronous=FULL`, PostgreSQL's default
//! `synchronous_commit`). One fsync per receipt would cap us far below what
//! the crypto allows, so one writer per process takes every job waiting in
//! its queue (up to [`MAX_BATCH`]) into one transaction and answers them all
//! after its COMMIT. A job is a receipt, a notice (stored once per hash, so a
//! page of new visitors costs one fsync, not one each) or a health probe.
//!
//! # Health
//!
//! [`Store::probe`] is what `/healthz` asks: can this store be read and
//! written *now*? It reads on the reader's connection and writes one row of
//! the `health` table as a job of the group commit, so it passes only when a
//! batch commits through the very writer, connection, lock and disk that
//! receipts use (and costs no fsync of its own while receipts flow). On
//! SQLite it first checks that the database path still names the file the
//! store opened (device and inode): a file moved away or replaced would
//! otherwise take every receipt into the wrong database. The writer makes
//! that check before every batch too, and fails the batch while it does not
//! hold, so receipts are refused rather than written elsewhere; once the file
//! is back (or writable again, or the database reachable again) the next
//! batch succeeds, with no restart. Results are reused for [`PROBE_REUSE`],
//! so a flood of health checks costs one probe a second.
//!
//! # Logs
//!
//! Each site has its own log: `seq` 1, 2, 3…, and every receipt is leaf
//! `seq − 1` of the site's Merkle tree ([`crate::log`], RFC 6962 hashing of
//! the JWS bytes). The store keeps each leaf hash on its row, every complete
//! subtree of two or more leaves in `log_nodes` (so a proof for any earlier
//! size is O(log n) reads), and in the site's head row (`site_heads`) the
//! tree's right edge and the latest signed checkpoint. Every batch that
//! appends to a site signs a new checkpoint in the same transaction, so the
//! 201 carries a checkpoint and an inclusion proof that are already durable.
//!
//! The rows also keep the hash chain of the releases before the tree,
//! `chain_hash = SHA-256(previous chain_hash ‖ SHA-256(jws))` (32 zero bytes
//! before seq 1): each countersignature names it, and one hash per receipt
//! is cheaper than a second countersignature format.
//!
//! The head row is locked by every batch that appends to it (`BEGIN
//! IMMEDIATE` on SQLite, `SELECT … FOR UPDATE` on PostgreSQL), so several
//! writers — threads or collector processes — keep one contiguous log.
//!
//! # Which receipt is which
//!
//! A receipt is identified by its id *together with* its subject key (the
//! RFC 7638 thumbprint of the key that signed it). The id alone is public
//! before the receipt is stored — in the visitor's cookie, in a form's hidden
//! field, readable by any script on the page — so anyone could sign a
//! receipt under it first; only the holder of the private key can sign one
//! under its thumbprint. Same id and key: the same bytes are a duplicate,
//! other bytes a conflict. Same id, another key: another receipt, stored on
//! its own row, which changes nothing for the first.

mod postgres;
mod sqlite;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use consentry_receipt::verify::{hex, sha256};
use tokio::sync::{mpsc, oneshot};

use crate::keys::{countersignature_payload, Countersigner};
use crate::log::{self, Checkpoint, CompactRange, Hash, Recorder, Subtree};

/// Jobs (receipts, notices, probes) per transaction at most: enough to
/// amortize the fsync, small enough that a batch's latency stays a few
/// milliseconds.
pub const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer at most; beyond it callers wait, which is
/// the backpressure a flood needs.
const QUEUE: usize = 4096;
/// How long a probe's result is answered again without probing: health
/// checks come from every load balancer every few seconds, and a flood of
/// them must not become a flood of write transactions.
pub const PROBE_REUSE: Duration = Duration::from_secs(1);
/// Rows per page when reading a chain (export, audit): memory stays bounded
/// however long the chain is.
pub const PAGE: usize = 500;

/// Any receipt row, or any site head past genesis (PostgreSQL keeps a head
/// row at seq 0 to lock before a site's first receipt): the same SQL for
/// both databases.
const HOLDS_RECEIPTS: &str = "SELECT EXISTS (SELECT 1 FROM receipts) \
     OR EXISTS (SELECT 1 FROM site_heads WHERE seq > 0)";

/// The deployment's name for its logs, such as `consent.acme.example/consentry`:
/// site `shop`'s log is `consent.acme.example/consentry/shop`, the first line
/// of its checkpoints and their signature's key name. Configured once
/// (`CONSENTRY_LOG_ORIGIN`), never taken from a request: a witness keeps
/// checkpoints by this name, so it must not change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// A schema-less URL as C2SP asks: no scheme, no space, no `+`, no
    /// trailing `/`, short enough for any site id after it.
    pub fn new(prefix: &str) -> Result<Origin, String> {
        let bad = prefix.is_empty()
            || prefix.len() > 128
            || prefix.contains("://")
            || prefix.ends_with('/')
            || prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '+');
        if bad {
            return Err(format!(
                "log origin {prefix:?}: give the collector's host and path without a scheme, \
                 such as consent.acme.example/consentry (no spaces, no '+', no trailing '/')"
            ));
        }
        Ok(Origin(prefix.to_owned()))
    }

    /// The origin line of `site`'s log.
    pub fn of(&self, site: &str) -> String {
        format!("{}/{site}", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A verified receipt, ready to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReceipt {
    pub site: String,
    pub receipt_id: String,
    pub jws: String,
    pub jws_sha256: [u8; 32],
    pub subject_key: String,
    pub issued_at: String,
    pub action: String,
    pub method: String,
}

/// One row of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    pub site: String,
    pub seq: i64,
    pub receipt_id: String,
    pub jws: String,
    /// Lower-case hex.
    pub jws_sha256: String,
    pub subject_key: String,
    /// The collector's clock when the batch was written, RFC 3339 UTC.
    pub received_at: String,
    /// Lower-case hex.
    pub chain_hash: String,
    pub countersignature: String,
    pub issued_at: String,
    pub action: String,
    pub method: String,
    /// The receipt's leaf hash in its site's tree, lower-case hex: RFC 6962's
    /// `SHA-256(0x00 ‖ jws)`. Kept when retention erases the JWS, so every
    /// proof still verifies.
    pub leaf_hash: String,
    /// When the retention run deleted this receipt (RFC 3339 UTC): `jws` and
    /// `subject_key` are then empty, and `jws_sha256`, `chain_hash` and the
    /// countersignature remain, so the chain still verifies without the
    /// personal data. `None` while the receipt is kept.
    pub pruned_at: Option<String>,
}

/// Where a receipt sits in its site's log: the proof that leaf `seq − 1` is
/// in the tree a signed checkpoint names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    /// The signed checkpoint (C2SP tlog-checkpoint in a signed note).
    pub checkpoint: Arc<str>,
    /// That checkpoint's tree size.
    pub tree_size: u64,
    /// The audit path, sibling hashes from the leaf up.
    pub proof: Vec<Hash>,
}

/// What appending one receipt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, in the tree of the checkpoint its batch signed.
    New(StoredReceipt, Inclusion),
    /// The same bytes were stored before: here is that row, unchanged.
    Duplicate(StoredReceipt),
    /// A different receipt with this id and this subject key is stored:
    /// refuse, never overwrite.
    Conflict,
}

impl Appended {
    /// The row stored now, if this receipt was new.
    pub fn new_row(&self) -> Option<&StoredReceipt> {
        match self {
            Appended::New(row, _) => Some(row),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError(format!("sqlite: {err}"))
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(err: tokio_postgres::Error) -> Self {
        // The server's own message ("permission denied for table receipts",
        // "deadlock detected"…): the error's Display is only "db error".
        match err.as_db_error() {
            Some(db) => StoreError(format!("postgres: {} ({})", db.message(), db.code().code())),
            None => StoreError(format!("postgres: {err}")),
        }
    }
}

/// Why the store failed its probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    /// Short and fixed, safe to tell anyone (`/healthz` says it): never a
    /// path, a host or a server message.
    pub reason: &'static str,
    /// The whole cause, paths included, for the operator's log.
    pub cause: StoreError,
}

/// A notice text, stored once per hash (see [`Store::put_notice`]).
struct NewNotice {
    sha256: String,
    site: String,
    text: String,
    received_at: String,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// What the writer is asked to do. Every kind is written in the batch's one
/// transaction and answered after its COMMIT.
enum Job {
    Receipt(NewReceipt, Reply<Appended>),
    /// Answered `true` when the text was new.
    Notice(NewNotice, Reply<bool>),
    /// Answered when a batch holding a write of the `health` row committed.
    Probe(Reply<()>),
}

/// A batch's jobs by kind, in arrival order: what a backend writes.
struct Work<'a> {
    receipts: Vec<&'a NewReceipt>,
    notices: Vec<&'a NewNotice>,
    /// Some job is a probe: the `health` row is written once, whatever
    /// their number.
    probe: bool,
}

impl<'a> Work<'a> {
    fn of(batch: &'a [Job]) -> Work<'a> {
        let mut work = Work {
            receipts: Vec::new(),
            notices: Vec::new(),
            probe: false,
        };
        for job in batch {
            match job {
                Job::Receipt(receipt, _) => work.receipts.push(receipt),
                Job::Notice(notice, _) => work.notices.push(notice),
                Job::Probe(_) => work.probe = true,
            }
        }
        work
    }
}

/// What a committed batch did: one outcome per receipt and one "new" per
/// notice of its [`Work`], in order.
struct Written {
    receipts: Vec<Appended>,
    notices: Vec<bool>,
}

/// What [`Store::get`] found under a receipt id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// No receipt carries this id (or none of this key and none pruned).
    Missing,
    /// The one receipt asked for: kept, or pruned (`pruned_at` set).
    One(Box<StoredReceipt>),
    /// Several receipts carry this id (signed by different keys) and no key
    /// was given to choose between them.
    Ambiguous,
}

/// The store: cheap to clone, shared by every handler.
#[derive(Clone)]
pub struct Store {
    writer: mpsc::Sender<Job>,
    reader: Reader,
    /// The last probe's time and result (see [`PROBE_REUSE`]); the lock
    /// also lets only one probe run at a time.
    probed: Arc<tokio::sync::Mutex<Option<LastProbe>>>,
}

/// When a probe ran, and what it found.
type LastProbe = (Instant, Result<(), ProbeFailure>);

#[derive(Clone)]
enum Reader {
    Sqlite(Arc<sqlite::Reader>),
    Postgres(Arc<postgres::Reader>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.reader {
            Reader::Sqlite(_) => "Store(sqlite)",
            Reader::Postgres(_) => "Store(postgres)",
        })
    }
}

impl Store {
    /// Opens (and creates or migrates the tables of) `sqlite://PATH` or
    /// `postgres://…`, and starts this process's writer. `signer`
    /// countersigns each row and signs each checkpoint; `origin` names the
    /// sites' logs.
    pub async fn open(
        url: &str,
        signer: Arc<Countersigner>,
        origin: Origin,
    ) -> Result<Store, StoreError> {
        let (writer, jobs) = mpsc::channel(QUEUE);
        let reader = if let Some(path) = url.strip_prefix("sqlite://") {
            Reader::Sqlite(Arc::new(sqlite::open(path, jobs, signer, origin.clone())?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Reader::Postgres(Arc::new(
                postgres::open(url, jobs, signer, origin.clone()).await?,
            ))
        } else {
            return Err(StoreError(format!(
                "database URL must start with sqlite:// or postgres://, not {url:?}"
            )));
        };
        let store = Store::with(writer, reader);
        store.check_origin(&origin).await?;
        Ok(store)
    }

    /// Opens an existing store to read it, with no key: no table is made,
    /// nothing migrated, no writer started (appending fails). What `verify`
    /// uses, so an auditor needs only the database (or a copy of a SQLite
    /// file) and the collector's public keys.
    pub async fn open_to_read(url: &str) -> Result<Store, StoreError> {
        let (writer, _) = mpsc::channel(1);
        let reader = if let Some(path) = url.strip_prefix("sqlite://") {
            Reader::Sqlite(Arc::new(sqlite::open_to_read(path)?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Reader::Postgres(Arc::new(postgres::open_to_read(url).await?))
        } else {
            return Err(StoreError(format!(
                "database URL must start with sqlite:// or postgres://, not {url:?}"
            )));
        };
        let store = Store::with(writer, reader);
        // A database of a release before the tree has no leaf hashes.
        store.page("", 0, 1).await.map_err(|err| {
            StoreError(format!(
                "{err}: this database predates the transparency log; start this release's \
                 collector on it once (or on a copy) to build its logs, then verify"
            ))
        })?;
        Ok(store)
    }

    fn with(writer: mpsc::Sender<Job>, reader: Reader) -> Store {
        Store {
            writer,
            reader,
            probed: Arc::default(),
        }
    }

    /// Queues one job for the writer and waits for its answer.
    async fn ask<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let stopped = || StoreError("the store writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.writer.send(job(reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Appends one receipt; answers after the batch holding it has committed.
    pub async fn append(&self, receipt: NewReceipt) -> Result<Appended, StoreError> {
        self.ask(|reply| Job::Receipt(receipt, reply)).await
    }

    /// Whether the store can be read and written now (see the module docs,
    /// "Health"). Not bounded in time here: `/healthz` bounds it. A result
    /// younger than [`PROBE_REUSE`] is answered again; one probe runs at a
    /// time, and callers arriving meanwhile get its result.
    pub async fn probe(&self) -> Result<(), ProbeFailure> {
        let mut last = self.probed.lock().await;
        if let Some((at, result)) = &*last {
            if at.elapsed() < PROBE_REUSE {
                return result.clone();
            }
        }
        let result = self.probe_now().await;
        *last = Some((Instant::now(), result.clone()));
        result
    }

    async fn probe_now(&self) -> Result<(), ProbeFailure> {
        if let Reader::Sqlite(r) = &self.reader {
            r.check_file()?;
        }
        let read = async {
            match &self.reader {
                Reader::Sqlite(r) => r.probe().await,
                Reader::Postgres(r) => r.probe().await,
            }
        };
        let write = self.ask(Job::Probe);
        let (read, write) = tokio::join!(read, write);
        read.map_err(|cause| ProbeFailure {
            reason: "the store cannot be read",
            cause,
        })?;
        write.map_err(|cause| ProbeFailure {
            reason: "the store cannot be written",
            cause,
        })
    }

    /// The receipt `receipt_id` names: with `key` (a subject key
    /// thumbprint) exactly that visitor's; without it the only receipt
    /// carrying the id, or [`Lookup::Ambiguous`] when several do.
    ///
    /// Retention erased a pruned receipt's key, so it can no longer be told
    /// apart by key: with a key and no kept receipt of that key, a pruned
    /// receipt with the id is answered (it holds no personal data any more),
    /// so a visitor asking for a deleted receipt learns that it was deleted.
    pub async fn get(&self, receipt_id: &str, key: Option<&str>) -> Result<Lookup, StoreError> {
        let rows = match &self.reader {
            Reader::Sqlite(r) => {
                r.by_id(receipt_id.to_owned(), key.map(str::to_owned))
                    .await?
            }
            Reader::Postgres(r) => r.by_id(receipt_id, key).await?,
        };
        let mut rows = rows.into_iter();
        Ok(match (rows.next(), rows.next()) {
            (None, _) => Lookup::Missing,
            (Some(row), None) => Lookup::One(Box::new(row)),
            (Some(_), Some(_)) => Lookup::Ambiguous,
        })
    }

    /// One visitor's receipts on every site, oldest first (at most `limit`).
    pub async fn by_subject(
        &self,
        key: &str,
        limit: usize,
    ) -> Result<Vec<StoredReceipt>, StoreError> {
        match &self.reader {
            Reader::Sqlite(r) => r.by_subject(key.to_owned(), limit).await,
            Reader::Postgres(r) => r.by_subject(key, limit).await,
        }
    }

    /// Rows of `site` with `seq > after`, in seq order, at most `limit`.
    pub async fn page(
        &self,
        site: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredReceipt>, StoreError> {
        match &self.reader {
            Reader::Sqlite(r) => r.page(site.to_owned(), after, limit).await,
            Reader::Postgres(r) => r.page(site, after, limit).await,
        }
    }

    /// The site's head: last seq and chain hash (hex), if it has receipts.
    pub async fn head(&self, site: &str) -> Result<Option<(i64, String)>, StoreError> {
        match &self.reader {
            Reader::Sqlite(r) => r.head(site.to_owned()).await,
            Reader::Postgres(r) => r.head(site).await,
        }
    }

    /// Every site that has a chain.
    pub async fn sites(&self) -> Result<Vec<String>, StoreError> {
        match &self.reader {
            Reader::Sqlite(r) => r.sites().await,
            Reader::Postgres(r) => r.sites().await,
        }
    }

    /// Whether the store holds no receipt at all (no row, no site with a
    /// chain, pruned rows included): the one case in which a collector may
    /// start with a new key, since no countersignature names the old one.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        match &self.reader {
            Reader::Sqlite(r) => r.is_empty().await,
            Reader::Postgres(r) => r.is_empty().await,
        }
    }

    /// Stores a notice text once per hash; `true` when it is new. Written by
    /// the writer in its batch, like a receipt, and answered after COMMIT.
    pub async fn put_notice(
        &self,
        sha256: &str,
        site: &str,
        text: &str,
        received_at: &str,
    ) -> Result<bool, StoreError> {
        let notice = NewNotice {
            sha256: sha256.to_owned(),
            site: site.to_owned(),
            text: text.to_owned(),
            received_at: received_at.to_owned(),
        };
        self.ask(|reply| Job::Notice(notice, reply)).await
    }

    /// Deletes the personal data of `site`'s receipts received before
    /// `cutoff` (RFC 3339 UTC): their JWS and subject key. The row, its
    /// hashes and countersignature stay, marked `pruned_at = now`, so the log
    /// still verifies. `record` is the collector's signed prune record for
    /// this pass (see `retention::prune_record`): written in the same
    /// transaction as the first receipt it prunes, so no receipt is ever
    /// pruned without the record that says why. Returns how many receipts
    /// were pruned.
    pub async fn prune(
        &self,
        site: &str,
        cutoff: &str,
        now: &str,
        record: &str,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let pruned = match &self.reader {
                Reader::Sqlite(r) => {
                    r.prune(site.into(), cutoff.into(), now.into(), record.into())
                        .await?
                }
                Reader::Postgres(r) => r.prune(site, cutoff, now, record).await?,
            };
            total += pruned;
            if pruned < PRUNE_CHUNK as u64 {
                return Ok(total);
            }
        }
    }

    /// Records `keys`' kids as this store's signing keys, and refuses when
    /// the store names a key `keys` lack: then another collector on this
    /// database signs with a key file this one does not have (two collectors
    /// that each made a first key, or a key file not copied after a
    /// rotation), and its countersignatures and checkpoints would be checked
    /// against a JWKS that does not list its key. Only kids are kept: a
    /// verifier never takes keys from the database it checks.
    pub async fn register_keys(&self, keys: &crate::keys::PublicKeys) -> Result<(), StoreError> {
        let ours: Vec<String> = keys.kids().map(str::to_owned).collect();
        let now = now_rfc3339();
        let known = match &self.reader {
            Reader::Sqlite(r) => r.register_keys(ours.clone(), now).await?,
            Reader::Postgres(r) => r.register_keys(&ours, &now).await?,
        };
        let missing: Vec<&str> = known
            .iter()
            .map(String::as_str)
            .filter(|kid| !ours.iter().any(|o| o == kid))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(StoreError(format!(
            "this database's receipts are also signed with key {}, which the key file does not hold: \
             every collector on one database must use the same key file; copy it from the collector \
             that signs with that key (after `keys rotate`, give every collector the rotated file)",
            missing.join(", ")
        )))
    }

    /// Every signed prune record of `site`, oldest first.
    pub async fn prune_records(&self, site: &str) -> Result<Vec<String>, StoreError> {
        match &self.reader {
            Reader::Sqlite(r) => r.prune_records(site.to_owned()).await,
            Reader::Postgres(r) => r.prune_records(site).await,
        }
    }

    pub async fn get_notice(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        match &self.reader {
            Reader::Sqlite(r) => r.get_notice(sha256.to_owned()).await,
            Reader::Postgres(r) => r.get_notice(sha256).await,
        }
    }
}

impl Store {
    /// Every stored checkpoint names its log as `origin` does: a changed
    /// `CONSENTRY_LOG_ORIGIN` would start new logs under the old receipts,
    /// and every witness would see them vanish.
    async fn check_origin(&self, origin: &Origin) -> Result<(), StoreError> {
        for site in self.sites().await? {
            let Some((_, text)) = self.checkpoint(&site).await? else {
                continue;
            };
            let stored = text.lines().next().unwrap_or_default();
            if stored != origin.of(&site) {
                return Err(StoreError(format!(
                    "site {site}: its log is named {stored:?}, and CONSENTRY_LOG_ORIGIN names it {:?}; \
                     a log's name never changes: set CONSENTRY_LOG_ORIGIN back to {:?}",
                    origin.of(&site),
                    stored.strip_suffix(&format!("/{site}")).unwrap_or(stored)
                )));
            }
        }
        Ok(())
    }

    /// The latest signed checkpoint of `site` and its tree size; `None`
    /// before the site's first receipt.
    pub async fn checkpoint(&self, site: &str) -> Result<Option<(u64, String)>, StoreError> {
        match &self.reader {
            Reader::Sqlite(r) => r.checkpoint(site.to_owned()).await,
            Reader::Postgres(r) => r.checkpoint(site).await,
        }
    }

    /// The stored hashes of these complete subtrees of `site`'s tree, by
    /// `(start, len)`, as stored: `None` for one that is not a hash, absent
    /// for one not stored. (The audit compares them with the leaves.)
    pub async fn stored_subtrees(
        &self,
        site: &str,
        needed: Vec<(u64, u64)>,
    ) -> Result<HashMap<(u64, u64), Option<Hash>>, StoreError> {
        let found = match &self.reader {
            Reader::Sqlite(r) => r.subtrees(site.to_owned(), needed).await?,
            Reader::Postgres(r) => r.subtrees(site, &needed).await?,
        };
        Ok(found
            .into_iter()
            .map(|(key, text)| (key, unhex32(&text)))
            .collect())
    }

    /// The hashes of these complete subtrees of `site`'s tree, by `(start, len)`.
    async fn subtrees(
        &self,
        site: &str,
        needed: Vec<(u64, u64)>,
    ) -> Result<HashMap<(u64, u64), Hash>, StoreError> {
        let found = self.stored_subtrees(site, needed.clone()).await?;
        let mut hashes = HashMap::with_capacity(found.len());
        for (key, hash) in found {
            let hash = hash.ok_or_else(|| {
                StoreError(format!(
                    "site {site}: corrupt hash of leaves {}..{}",
                    key.0,
                    key.0 + key.1
                ))
            })?;
            hashes.insert(key, hash);
        }
        if let Some(&(start, len)) = needed.iter().find(|key| !hashes.contains_key(key)) {
            return Err(StoreError(format!(
                "site {site}: the log has no hash of leaves {start}..{}; run `consentry-collector verify`",
                start + len
            )));
        }
        Ok(hashes)
    }

    /// Runs `prove` over the stored hashes it needs: once with a
    /// [`Recorder`] to learn which, then over those fetched in one read.
    async fn prove(
        &self,
        site: &str,
        prove: impl Fn(&dyn ProofSource) -> Option<Vec<Hash>>,
    ) -> Result<Option<Vec<Hash>>, StoreError> {
        let recorder = Recorder::default();
        if prove(&recorder).is_none() {
            return Ok(None);
        }
        let hashes = self.subtrees(site, recorder.into_needed()).await?;
        prove(&hashes).map(Some).ok_or_else(|| {
            StoreError(format!(
                "site {site}: a proof read a hash it had not asked for"
            ))
        })
    }

    /// The inclusion proof of leaf `index` in `site`'s tree of `size` leaves
    /// (any size up to the latest checkpoint's).
    pub async fn inclusion_proof(
        &self,
        site: &str,
        index: u64,
        size: u64,
    ) -> Result<Proved, StoreError> {
        let tree_size = self.checkpoint(site).await?.map_or(0, |(size, _)| size);
        if size > tree_size || index >= size {
            return Ok(Proved::OutOfRange { tree_size });
        }
        Ok(
            match self.prove(site, |r| r.inclusion(index, size)).await? {
                Some(proof) => Proved::Proof(proof),
                None => Proved::OutOfRange { tree_size },
            },
        )
    }

    /// The consistency proof from `site`'s tree of `old` leaves to that of `new`.
    pub async fn consistency_proof(
        &self,
        site: &str,
        old: u64,
        new: u64,
    ) -> Result<Proved, StoreError> {
        let tree_size = self.checkpoint(site).await?.map_or(0, |(size, _)| size);
        if new > tree_size || old > new {
            return Ok(Proved::OutOfRange { tree_size });
        }
        Ok(match self.prove(site, |r| r.consistency(old, new)).await? {
            Some(proof) => Proved::Proof(proof),
            None => Proved::OutOfRange { tree_size },
        })
    }

    /// Where a stored receipt is, against the site's latest checkpoint: the
    /// acknowledgement of a duplicate carries this.
    pub async fn inclusion(&self, row: &StoredReceipt) -> Result<Inclusion, StoreError> {
        let Some((tree_size, checkpoint)) = self.checkpoint(&row.site).await? else {
            return Err(StoreError(format!("site {}: no checkpoint", row.site)));
        };
        let index = u64::try_from(row.seq - 1).unwrap_or(u64::MAX);
        match self
            .prove(&row.site, |r| r.inclusion(index, tree_size))
            .await?
        {
            Some(proof) => Ok(Inclusion {
                checkpoint: checkpoint.into(),
                tree_size,
                proof,
            }),
            None => Err(StoreError(format!(
                "site {}: seq {} is not in its checkpoint of {tree_size} leaves",
                row.site, row.seq
            ))),
        }
    }
}

/// A proof over some [`log::HashReader`], its error type erased, so one
/// closure runs against the recorder and against the fetched map.
trait ProofSource {
    fn inclusion(&self, index: u64, size: u64) -> Option<Vec<Hash>>;
    fn consistency(&self, old: u64, new: u64) -> Option<Vec<Hash>>;
}

impl<R: log::HashReader> ProofSource for R {
    fn inclusion(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        log::inclusion_proof(self, index, size).ok()
    }

    fn consistency(&self, old: u64, new: u64) -> Option<Vec<Hash>> {
        log::consistency_proof(self, old, new).ok()
    }
}

/// Takes the next batch: waits for one job, then whatever else is queued.
fn drain(first: Job, jobs: &mut mpsc::Receiver<Job>) -> Vec<Job> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

/// Answers every job of a batch: with its outcome after COMMIT, or with the
/// error that rolled the whole batch back (nothing half-written). A caller
/// that stopped waiting (a health check past its time) is skipped.
fn answer(batch: Vec<Job>, outcome: Result<Written, StoreError>) {
    let (mut receipts, mut notices) = match outcome {
        Ok(written) => (written.receipts.into_iter(), written.notices.into_iter()),
        Err(err) => {
            tracing::error!("store batch rolled back: {err}");
            for job in batch {
                match job {
                    Job::Receipt(_, reply) => {
                        let _ = reply.send(Err(err.clone()));
                    }
                    Job::Notice(_, reply) => {
                        let _ = reply.send(Err(err.clone()));
                    }
                    Job::Probe(reply) => {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
            }
            return;
        }
    };
    let lost = || StoreError("unreachable: the writer wrote fewer outcomes than jobs".into());
    for job in batch {
        match job {
            Job::Receipt(_, reply) => {
                let _ = reply.send(receipts.next().ok_or_else(lost));
            }
            Job::Notice(_, reply) => {
                let _ = reply.send(notices.next().ok_or_else(lost));
            }
            Job::Probe(reply) => {
                let _ = reply.send(Ok(()));
            }
        }
    }
}

/// The chain head before seq 1.
pub const GENESIS: [u8; 32] = [0; 32];

/// `SHA-256(previous ‖ SHA-256(jws))`.
pub fn next_chain_hash(previous: &[u8; 32], jws_sha256: &[u8; 32]) -> [u8; 32] {
    let mut input = [0u8; 64];
    input[..32].copy_from_slice(previous);
    input[32..].copy_from_slice(jws_sha256);
    sha256(&input)
}

pub fn unhex32(s: &str) -> Option<[u8; 32]> {
    unhex(s)?.try_into().ok()
}

/// A site's head, read under its lock: the last seq, the chain hash after
/// it, and the tree of `seq` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    seq: i64,
    chain: [u8; 32],
    tree: CompactRange,
}

impl Head {
    /// Before a site's first receipt.
    fn genesis() -> Head {
        Head {
            seq: 0,
            chain: GENESIS,
            tree: CompactRange::new(),
        }
    }

    /// From the head row's columns. A row that a collector of a release
    /// before the tree wrote (no `tree`), or a tree that does not hold `seq`
    /// leaves, is never appended to: the new leaf would get the wrong index.
    fn read(site: &str, seq: i64, chain: &str, tree: Option<&str>) -> Result<Head, StoreError> {
        let corrupt = |what: &str| StoreError(format!("site {site}: corrupt head row ({what})"));
        let chain = unhex32(chain).ok_or_else(|| corrupt("chain_hash"))?;
        let tree = match tree {
            Some(text) => unhex(text)
                .and_then(|bytes| CompactRange::from_bytes(&bytes).ok())
                .ok_or_else(|| corrupt("tree"))?,
            None if seq == 0 => CompactRange::new(),
            None => {
                return Err(StoreError(format!(
                    "site {site}: its log has no tree: a collector of an older release wrote to \
                     this database; run every collector on this release"
                )))
            }
        };
        if u64::try_from(seq).ok() != Some(tree.size()) {
            return Err(StoreError(format!(
                "site {site}: the head says {seq} receipts, its tree holds {}",
                tree.size()
            )));
        }
        Ok(Head { seq, chain, tree })
    }
}

/// A site's head after a batch, to write back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NewHead {
    seq: i64,
    /// Hex.
    chain: String,
    /// [`CompactRange::to_bytes`] in hex.
    tree: String,
    /// The checkpoint signed over `tree`.
    checkpoint: Arc<str>,
}

/// The pure part of a batch, shared by both backends: given what is stored
/// (rows with the batch's ids, and the heads of its sites, both read under
/// the lock), decide each job's outcome and build the new rows, tree nodes,
/// checkpoints and inclusion proofs.
struct Plan {
    /// One per receipt of the batch, in order; the `New` ones are the rows to
    /// insert (built once: a receipt's JWS is the bulk of the batch's bytes).
    outcomes: Vec<Appended>,
    /// The new head of every site that gained rows.
    heads: BTreeMap<String, NewHead>,
    /// The complete subtrees of two or more leaves this batch completed.
    nodes: Vec<(String, Subtree)>,
}

impl Plan {
    fn new_rows(&self) -> impl Iterator<Item = &StoredReceipt> {
        self.outcomes.iter().filter_map(Appended::new_row)
    }
}

/// What a receipt is, given the rows already holding its id (stored, or
/// added earlier in this batch): the same bytes are a duplicate of that row
/// (a pruned row keeps its `jws_sha256`, so a repost of a pruned receipt is
/// one too); other bytes under the same subject key are a conflict; rows of
/// other keys, and pruned rows of other bytes (their key is erased, so they
/// cannot be attributed), do not matter. `None`: a new receipt.
fn same_id<'a>(
    r: &NewReceipt,
    sha_hex: &str,
    rows: impl Iterator<Item = &'a StoredReceipt>,
) -> Option<Appended> {
    let mut conflict = false;
    for row in rows {
        if row.jws_sha256 == sha_hex {
            return Some(Appended::Duplicate(row.clone()));
        }
        conflict |= row.pruned_at.is_none() && row.subject_key == r.subject_key;
    }
    conflict.then_some(Appended::Conflict)
}

/// One site's part of a batch: every subtree hash a proof for one of the
/// batch's leaves can ask for. A leaf at or past the old size has on its
/// path only subtrees that are the old edge's blocks, the batch's leaves, or
/// subtrees this batch completed (a left sibling inside an old block would
/// put the leaf inside that block too), so the batch proves its own leaves
/// without reading the store.
struct SiteBatch {
    hashes: HashMap<(u64, u64), Hash>,
}

impl SiteBatch {
    fn new(tree: &CompactRange) -> SiteBatch {
        SiteBatch {
            hashes: tree.blocks().map(|b| ((b.start, b.len), b.hash)).collect(),
        }
    }
}

/// One decided receipt before its batch's checkpoint is signed.
enum Decided {
    New(StoredReceipt),
    Known(Appended),
}

/// `existing`: every stored row carrying one of the batch's receipt ids,
/// whatever its key, by id. `origin` names the sites' logs.
fn plan(
    batch: &[&NewReceipt],
    existing: HashMap<String, Vec<StoredReceipt>>,
    mut heads: BTreeMap<String, Head>,
    signer: &Countersigner,
    origin: &Origin,
    received_at: &str,
) -> Result<Plan, StoreError> {
    let mut decided: Vec<Decided> = Vec::with_capacity(batch.len());
    // Receipt id → indexes in `decided` of the rows this batch adds for it:
    // a second copy later in the same batch is a duplicate of that row, and
    // a receipt of another key under that id is a new row of its own.
    let mut added: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut batches: BTreeMap<String, SiteBatch> = BTreeMap::new();
    let mut nodes = Vec::new();
    for r in batch {
        let sha_hex = hex(&r.jws_sha256);
        let stored = existing.get(&r.receipt_id).into_iter().flatten();
        let earlier = added
            .get(r.receipt_id.as_str())
            .into_iter()
            .flatten()
            .filter_map(|&i| match &decided[i] {
                Decided::New(row) => Some(row),
                Decided::Known(_) => None,
            });
        if let Some(outcome) = same_id(r, &sha_hex, stored.chain(earlier)) {
            decided.push(Decided::Known(outcome));
            continue;
        }
        let head = heads.entry(r.site.clone()).or_insert_with(Head::genesis);
        let site_batch = batches
            .entry(r.site.clone())
            .or_insert_with(|| SiteBatch::new(&head.tree));
        let leaf = log::leaf_hash(r.jws.as_bytes());
        let index = head.tree.size();
        site_batch.hashes.insert((index, 1), leaf);
        head.tree.push_recording(leaf, |subtree| {
            site_batch
                .hashes
                .insert((subtree.start, subtree.len), subtree.hash);
            nodes.push((r.site.clone(), subtree));
        });
        head.seq += 1;
        let seq = head.seq;
        head.chain = next_chain_hash(&head.chain, &r.jws_sha256);
        let chain_hash = hex(&head.chain);
        let payload = countersignature_payload(
            &r.site,
            seq,
            &r.receipt_id,
            &sha_hex,
            received_at,
            &chain_hash,
        );
        added.entry(&r.receipt_id).or_default().push(decided.len());
        decided.push(Decided::New(StoredReceipt {
            site: r.site.clone(),
            seq,
            receipt_id: r.receipt_id.clone(),
            jws: r.jws.clone(),
            jws_sha256: sha_hex,
            subject_key: r.subject_key.clone(),
            received_at: received_at.to_owned(),
            chain_hash,
            countersignature: signer.sign(&payload),
            issued_at: r.issued_at.clone(),
            action: r.action.clone(),
            method: r.method.clone(),
            leaf_hash: hex(&leaf),
            pruned_at: None,
        }));
    }
    // One checkpoint per site that moved, over its whole tree.
    let mut new_heads = BTreeMap::new();
    for site in batches.keys() {
        let head = &heads[site];
        let checkpoint = sign_checkpoint(signer, &origin.of(site), site, &head.tree)?;
        new_heads.insert(
            site.clone(),
            NewHead {
                seq: head.seq,
                chain: hex(&head.chain),
                tree: hex(&head.tree.to_bytes()),
                checkpoint: checkpoint.into(),
            },
        );
    }
    let mut outcomes = Vec::with_capacity(decided.len());
    for d in decided {
        outcomes.push(match d {
            Decided::Known(outcome) => outcome,
            Decided::New(row) => {
                let head = &new_heads[&row.site];
                let tree_size = head.seq as u64;
                let proof =
                    log::inclusion_proof(&batches[&row.site].hashes, row.seq as u64 - 1, tree_size)
                        .map_err(|err| {
                            StoreError(format!("site {}: inclusion proof: {err:?}", row.site))
                        })?;
                let inclusion = Inclusion {
                    checkpoint: Arc::clone(&head.checkpoint),
                    tree_size,
                    proof,
                };
                Appended::New(row, inclusion)
            }
        });
    }
    Ok(Plan {
        outcomes,
        heads: new_heads,
        nodes,
    })
}

/// The signed checkpoint of `tree`, the log of `site` named `origin`.
fn sign_checkpoint(
    signer: &Countersigner,
    origin: &str,
    site: &str,
    tree: &CompactRange,
) -> Result<String, StoreError> {
    Checkpoint::new(origin, tree.size(), tree.root())
        .and_then(|c| signer.sign_note(&c.body(), origin))
        .map_err(|err| {
            StoreError(format!(
                "site {site}: cannot sign a checkpoint as {origin:?}: {err}"
            ))
        })
}

/// The leaf of a row from before the tree whose JWS retention had already
/// erased: its stored SHA-256 under a prefix no JWS starts with (a JWS
/// starts with `eyJ`). Only the migration makes these; `verify` checks a
/// pruned leaf by the checkpoint that covers it, whatever made it.
pub fn pruned_before_the_log_leaf(jws_sha256: &str) -> Hash {
    let mut data = b"consentry-pruned-before-the-log:".to_vec();
    data.extend_from_slice(jws_sha256.as_bytes());
    log::leaf_hash(&data)
}

/// One row as the migration to the tree reads it, in seq order.
struct LegacyRow {
    seq: i64,
    jws: String,
    jws_sha256: String,
    leaf_hash: Option<String>,
    chain_hash: String,
}

/// What the migration writes for one site: the leaf hash of every row that
/// has none, every complete subtree, and the head (tree and checkpoint).
struct BuiltLog {
    leaves: Vec<(i64, String)>,
    nodes: Vec<Subtree>,
    tree: CompactRange,
    checkpoint: String,
}

/// Builds a site's tree from its rows in seq order (the leaf of a kept row
/// is its JWS, as for every new receipt). A gap in seq is refused: a tree
/// built over it would give every later receipt the wrong leaf index and
/// make a removed receipt look like it never existed. So is a last row that
/// is not the one the head row (`head`: its seq and chain hash) names: the
/// newest receipts were removed, and a tree of the rest would hide it.
fn build_log(
    site: &str,
    head: (i64, &str),
    rows: Vec<LegacyRow>,
    signer: &Countersigner,
    origin: &str,
) -> Result<BuiltLog, StoreError> {
    let removed = |what: String| {
        StoreError(format!(
            "site {site}: {what}, so its log cannot be built without hiding the removal; \
             restore this database from a backup taken before it, or keep the collector on \
             the previous release while you investigate"
        ))
    };
    let mut tree = CompactRange::new();
    let mut leaves = Vec::new();
    let mut nodes = Vec::new();
    let mut last_chain = String::new();
    for row in rows {
        if u64::try_from(row.seq).ok() != Some(tree.size() + 1) {
            return Err(removed(format!(
                "receipt seq {} is missing",
                tree.size() + 1
            )));
        }
        last_chain.clone_from(&row.chain_hash);
        let leaf = match (&row.leaf_hash, row.jws.is_empty()) {
            (Some(stored), _) => unhex32(stored).ok_or_else(|| {
                StoreError(format!("site {site}: seq {}: corrupt leaf_hash", row.seq))
            })?,
            (None, false) => log::leaf_hash(row.jws.as_bytes()),
            (None, true) => pruned_before_the_log_leaf(&row.jws_sha256),
        };
        if row.leaf_hash.is_none() {
            leaves.push((row.seq, hex(&leaf)));
        }
        tree.push_recording(leaf, |subtree| nodes.push(subtree));
    }
    if i64::try_from(tree.size()).ok() != Some(head.0) || last_chain != head.1 {
        return Err(removed(format!(
            "its head row counts {} receipts and the last one stored is seq {}",
            head.0,
            tree.size()
        )));
    }
    let checkpoint = sign_checkpoint(signer, origin, site, &tree)?;
    Ok(BuiltLog {
        leaves,
        nodes,
        tree,
        checkpoint,
    })
}

/// `log_nodes`' key of a complete subtree of two or more leaves.
fn node_key(start: u64, len: u64) -> (i32, i64) {
    (len.trailing_zeros() as i32, (start / len) as i64)
}

/// A proof asked for, or why it cannot be made for this log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proved {
    Proof(Vec<Hash>),
    /// The index or sizes are not inside the log, which has `tree_size` leaves.
    OutOfRange {
        tree_size: u64,
    },
}

/// Lower-case hex to bytes; `None` for an odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    bytes
        .chunks(2)
        .map(|pair| u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok())
        .collect()
}

pub fn now_rfc3339() -> String {
    consentry_receipt::receipt::format_rfc3339_utc(crate::now_ms())
}

/// The receipts table, under a name (SQLite's migration builds a copy). No
/// key on `receipt_id` alone: a receipt is its id and its subject key (see
/// the module docs), kept unique by the `receipts_one_per_key` index.
macro_rules! receipts_table {
    ($name:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS ",
            $name,
            " (
    site TEXT NOT NULL,
    seq BIGINT NOT NULL,
    receipt_id TEXT NOT NULL,
    jws TEXT NOT NULL,
    jws_sha256 TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    received_at TEXT NOT NULL,
    chain_hash TEXT NOT NULL,
    countersignature TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    action TEXT NOT NULL,
    method TEXT NOT NULL,
    pruned_at TEXT,
    leaf_hash TEXT,
    PRIMARY KEY (site, seq)
)"
        )
    };
}

/// `leaf_hash` may be NULL only in a row written before the tree existed,
/// until the migration at open fills it in; `tree` and `checkpoint` likewise.
/// `log_nodes` holds the subtree of `2^level` leaves from leaf `idx ·
/// 2^level` (level ≥ 1; leaves are on their rows), hex.
///
/// The tables, the same on both stores (SQLite reads `BIGINT` as an
/// integer column, so one text serves both). Their indexes are [`INDEXES`],
/// made after the migrations.
const SCHEMA: &str = concat!(
    receipts_table!("receipts"),
    ";
CREATE TABLE IF NOT EXISTS site_heads (
    site TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    chain_hash TEXT NOT NULL,
    tree TEXT,
    checkpoint TEXT
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS prune_records (
    site TEXT NOT NULL,
    pruned_at TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (site, pruned_at)
);
CREATE TABLE IF NOT EXISTS log_nodes (
    site TEXT NOT NULL,
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (site, level, idx)
);
CREATE TABLE IF NOT EXISTS notices (
    sha256 TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    text TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS health (
    id INTEGER PRIMARY KEY,
    checked_at TEXT NOT NULL
);
"
);

/// A notice, once per hash: the writer learns "new" from the row count.
const INSERT_NOTICE: &str = "INSERT INTO notices (sha256, site, text, received_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING";
/// The probe's write: one row, rewritten by every batch holding a probe, so
/// the table never grows. Collectors sharing a PostgreSQL database share the
/// row too: a batch with a probe may wait for another's COMMIT, milliseconds,
/// as batches of one site already do for its head row.
const PROBE_WRITE: &str = "INSERT INTO health (id, checked_at) VALUES (1, $1) \
     ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at";
/// The probe's read: a table every store has, the row the last probe wrote.
const PROBE_READ: &str = "SELECT COUNT(*) FROM health";

/// Where SQLite's migration copies a table made when `receipt_id` was
/// UNIQUE on its own (a column constraint SQLite cannot drop).
const RECEIPTS_REBUILT: &str = receipts_table!("receipts_rebuilt");

/// The indexes of `receipts`, by name, run after `SCHEMA` and the
/// migrations (two of them need `pruned_at`, which older databases gain
/// first). PostgreSQL creates only the missing ones: CREATE INDEX locks the
/// table even when the index exists.
const INDEXES: [(&str, &str); 4] = [
    (
        "receipts_by_subject",
        "CREATE INDEX IF NOT EXISTS receipts_by_subject ON receipts (subject_key)",
    ),
    // Dedupe and `GET /v1/receipts/{id}` read every row of an id, pruned
    // ones too, which the partial index below does not hold.
    (
        "receipts_by_id",
        "CREATE INDEX IF NOT EXISTS receipts_by_id ON receipts (receipt_id)",
    ),
    // One kept receipt per id and key. Pruned rows are left out: their key
    // is erased, and a row of another key may still arrive under that id.
    (
        "receipts_one_per_key",
        "CREATE UNIQUE INDEX IF NOT EXISTS receipts_one_per_key \
         ON receipts (receipt_id, subject_key) WHERE pruned_at IS NULL",
    ),
    // Partial: a retention pass finds the receipts still kept and old
    // enough without walking the ever-growing pruned part of a chain, and
    // new rows land at its right edge.
    (
        "receipts_kept_by_age",
        "CREATE INDEX IF NOT EXISTS receipts_kept_by_age \
         ON receipts (site, received_at) WHERE pruned_at IS NULL",
    ),
];

macro_rules! inserted_columns {
    () => {
        "site, seq, receipt_id, jws, jws_sha256, subject_key, received_at, \
         chain_hash, countersignature, issued_at, action, method, leaf_hash"
    };
}
/// The columns an INSERT of a new row sets (`pruned_at` starts NULL), in
/// `StoredReceipt` order.
const COLUMNS: &str = inserted_columns!();
/// The columns every SELECT of a receipt row lists, in `StoredReceipt` order.
const ROW_COLUMNS: &str = concat!(inserted_columns!(), ", pruned_at");

/// `Store::get`'s rows: without a key, two at most (one is the answer, two
/// are ambiguous, however many squatters signed under the id); with a key,
/// that key's kept row, else a pruned row of the id (its key is erased).
const BY_ID: &str = concat!(
    "SELECT ",
    inserted_columns!(),
    ", pruned_at FROM receipts WHERE receipt_id = $1 ORDER BY site, seq LIMIT 2"
);
const BY_ID_AND_KEY: &str = concat!(
    "SELECT ",
    inserted_columns!(),
    ", pruned_at FROM receipts WHERE receipt_id = $1 \
     AND (subject_key = $2 OR pruned_at IS NOT NULL) \
     ORDER BY pruned_at IS NOT NULL, site, seq LIMIT 1"
);

/// Rows deleted per statement by a retention run: short write transactions,
/// so receipts keep arriving while a large backlog is pruned.
const PRUNE_CHUNK: i64 = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::new("test.example/consentry").expect("origin")
    }

    /// A head after `n` receipts, with the tree those receipts made.
    fn head_of(n: i64) -> Head {
        let mut head = Head::genesis();
        for i in 0..n {
            let jws = format!("earlier-{i}");
            head.tree.push(log::leaf_hash(jws.as_bytes()));
            head.chain = next_chain_hash(&head.chain, &sha256(jws.as_bytes()));
            head.seq += 1;
        }
        head
    }

    fn receipt(site: &str, id: &str, jws: &str) -> NewReceipt {
        signed_by("key", site, id, jws)
    }

    /// A receipt signed by the key whose thumbprint is `key`.
    fn signed_by(key: &str, site: &str, id: &str, jws: &str) -> NewReceipt {
        NewReceipt {
            site: site.into(),
            receipt_id: id.into(),
            jws: jws.into(),
            jws_sha256: sha256(jws.as_bytes()),
            subject_key: key.into(),
            issued_at: "2026-11-23T18:30:00.000Z".into(),
            action: "grant".into(),
            method: "banner".into(),
        }
    }

    fn row(outcome: &Appended) -> &StoredReceipt {
        match outcome {
            Appended::New(row, _) | Appended::Duplicate(row) => row,
            Appended::Conflict => panic!("conflict"),
        }
    }

    /// Two POSTs of one receipt can land in one batch (a retry racing the
    /// first attempt): the second is the first's duplicate, a different
    /// receipt under that id is a conflict, and neither takes a seq.
    #[test]
    fn a_batch_dedupes_within_itself_and_moves_only_the_heads_it_appends_to() {
        let signer = Countersigner::from_seed(&[7u8; 32]).expect("key");
        let a = receipt("one", "a", "jws-a");
        let a_again = receipt("one", "a", "jws-a");
        let a_other = receipt("one", "a", "jws-a-other");
        let b = receipt("one", "b", "jws-b");
        let stored = StoredReceipt {
            site: "two".into(),
            seq: 9,
            receipt_id: "c".into(),
            jws: "jws-c".into(),
            jws_sha256: hex(&sha256(b"jws-c")),
            subject_key: "key".into(),
            received_at: "2026-11-23T18:00:00.000Z".into(),
            chain_hash: hex(&GENESIS),
            countersignature: "cs".into(),
            issued_at: "2026-11-23T18:00:00.000Z".into(),
            action: "grant".into(),
            method: "banner".into(),
            leaf_hash: hex(&log::leaf_hash(b"jws-c")),
            pruned_at: None,
        };
        let c_again = receipt("two", "c", "jws-c");
        let existing = HashMap::from([("c".to_owned(), vec![stored.clone()])]);
        let heads = BTreeMap::from([("two".to_owned(), head_of(9))]);
        let now = "2026-11-23T18:30:01.000Z";

        let plan = plan(
            &[&a, &a_again, &a_other, &b, &c_again],
            existing,
            heads,
            &signer,
            &origin(),
            now,
        )
        .expect("plan");

        let [new_a, dup_a, conflict, new_b, dup_c] = &plan.outcomes[..] else {
            panic!("one outcome per receipt: {:?}", plan.outcomes);
        };
        assert!(matches!(new_a, Appended::New(..)));
        assert_eq!(dup_a, &Appended::Duplicate(row(new_a).clone()));
        assert_eq!(conflict, &Appended::Conflict);
        assert_eq!((row(new_a).seq, row(new_b).seq), (1, 2));
        assert_eq!(
            row(new_b).chain_hash,
            hex(&next_chain_hash(
                &next_chain_hash(&GENESIS, &a.jws_sha256),
                &b.jws_sha256
            ))
        );
        assert_eq!(dup_c, &Appended::Duplicate(stored));
        assert_eq!(plan.new_rows().count(), 2);
        // Site "two" only had a duplicate: its head is not rewritten.
        assert_eq!(plan.heads.keys().collect::<Vec<_>>(), ["one"]);
        assert_eq!(
            (plan.heads["one"].seq, &plan.heads["one"].chain),
            (2, &row(new_b).chain_hash)
        );
        let payload = signer.verify(&row(new_b).countersignature).expect("ours");
        assert!(payload.contains("\"seq\":2"), "{payload}");
    }

    /// A row as the store holds it: `receipt` appended at `seq`.
    fn stored(receipt: &NewReceipt, seq: i64) -> StoredReceipt {
        StoredReceipt {
            site: receipt.site.clone(),
            seq,
            receipt_id: receipt.receipt_id.clone(),
            jws: receipt.jws.clone(),
            jws_sha256: hex(&receipt.jws_sha256),
            subject_key: receipt.subject_key.clone(),
            received_at: "2026-11-23T18:00:00.000Z".into(),
            chain_hash: hex(&GENESIS),
            countersignature: "cs".into(),
            issued_at: receipt.issued_at.clone(),
            action: receipt.action.clone(),
            method: receipt.method.clone(),
            leaf_hash: hex(&log::leaf_hash(receipt.jws.as_bytes())),
            pruned_at: None,
        }
    }

    /// A squatter who read the visitor's receipt id (cookie, form field)
    /// signs a receipt under it with their own key before the visitor's
    /// arrives: the visitor's receipt is still stored, on its own row, and
    /// only the visitor's own receipts under that id are its duplicates or
    /// conflicts.
    #[test]
    fn a_receipt_under_an_id_another_key_took_first_is_stored_as_its_own_row() {
        let signer = Countersigner::from_seed(&[7u8; 32]).expect("key");
        let squatter = signed_by("k2", "one", "x", "jws-x-by-k2");
        let squatted = stored(&squatter, 9);
        let visitor = signed_by("k1", "one", "x", "jws-x-by-k1");
        let visitor_again = visitor.clone();
        let visitor_other = signed_by("k1", "one", "x", "jws-x-by-k1-other");
        let squatter_again = squatter.clone();
        let third = signed_by("k3", "one", "x", "jws-x-by-k3");
        let existing = HashMap::from([("x".to_owned(), vec![squatted.clone()])]);
        let heads = BTreeMap::from([("one".to_owned(), head_of(9))]);

        let plan = plan(
            &[
                &visitor,
                &visitor_again,
                &visitor_other,
                &squatter_again,
                &third,
            ],
            existing,
            heads,
            &signer,
            &origin(),
            "2026-11-23T18:30:01.000Z",
        )
        .expect("plan");

        let [new_visitor, dup_visitor, conflict, dup_squatter, new_third] = &plan.outcomes[..]
        else {
            panic!("one outcome per receipt: {:?}", plan.outcomes);
        };
        let Appended::New(row, _) = new_visitor else {
            panic!("the visitor's receipt is new: {new_visitor:?}");
        };
        assert_eq!(
            (row.seq, row.jws.as_str(), row.subject_key.as_str()),
            (10, "jws-x-by-k1", "k1")
        );
        assert_eq!(dup_visitor, &Appended::Duplicate(row.clone()));
        assert_eq!(conflict, &Appended::Conflict);
        assert_eq!(dup_squatter, &Appended::Duplicate(squatted));
        assert_eq!(
            new_third.new_row().map(|r| (r.seq, r.subject_key.as_str())),
            Some((11, "k3"))
        );
        assert_eq!(plan.heads["one"].seq, 11);
    }

    /// Retention blanked a row's JWS and key and kept its hash: a repost of
    /// those bytes is still that row's duplicate, and a receipt of other
    /// bytes under the id is new, since the pruned row cannot be
    /// attributed to any key.
    #[test]
    fn a_pruned_row_is_a_duplicate_by_its_hash_and_never_a_conflict() {
        let signer = Countersigner::from_seed(&[7u8; 32]).expect("key");
        let old = signed_by("k1", "one", "x", "jws-x-old");
        let pruned = StoredReceipt {
            jws: String::new(),
            subject_key: String::new(),
            pruned_at: Some("2029-11-23T18:00:00.000Z".into()),
            ..stored(&old, 4)
        };
        let repost = old.clone();
        let other = signed_by("k1", "one", "x", "jws-x-new");
        let other_again = other.clone();
        let existing = HashMap::from([("x".to_owned(), vec![pruned.clone()])]);
        let heads = BTreeMap::from([("one".to_owned(), head_of(4))]);

        let plan = plan(
            &[&repost, &other, &other_again],
            existing,
            heads,
            &signer,
            &origin(),
            "2029-11-23T18:30:01.000Z",
        )
        .expect("plan");

        assert_eq!(plan.outcomes[0], Appended::Duplicate(pruned));
        let row = plan.outcomes[1].new_row().expect("other bytes are new");
        assert_eq!((row.seq, row.jws.as_str()), (5, "jws-x-new"));
        assert_eq!(plan.outcomes[2], Appended::Duplicate(row.clone()));
    }

    /// A batch proves each of its leaves against the checkpoint it signs,
    /// with only the old edge in memory, whatever the old size: every proof
    /// verifies, the checkpoint opens with the collector's public key under
    /// the site's log name, and the nodes written are the complete
    /// subtrees the batch finished.
    #[test]
    fn a_batch_proves_its_leaves_against_the_checkpoint_it_signs() {
        let signer = Countersigner::from_seed(&[7u8; 32]).expect("key");
        for old in [0i64, 1, 5, 8, 13] {
            let batch: Vec<NewReceipt> = (0..7)
                .map(|i| receipt("one", &format!("id-{i}"), &format!("jws-{old}-{i}")))
                .collect();
            let refs: Vec<&NewReceipt> = batch.iter().collect();
            let heads = BTreeMap::from([("one".to_owned(), head_of(old))]);
            let plan = plan(
                &refs,
                HashMap::new(),
                heads,
                &signer,
                &origin(),
                "2026-11-23T18:30:01.000Z",
            )
            .expect("plan");
            let known = signer
                .public_keys()
                .note_keys(&origin().of("one"))
                .expect("keys");
            let head = &plan.heads["one"];
            let checkpoint =
                Checkpoint::open(head.checkpoint.as_bytes(), &origin().of("one"), &known)
                    .expect("the checkpoint opens");
            assert_eq!(checkpoint.size(), (old + 7) as u64);
            for outcome in &plan.outcomes {
                let Appended::New(row, inclusion) = outcome else {
                    panic!("all new: {outcome:?}");
                };
                assert_eq!(inclusion.tree_size, checkpoint.size());
                log::verify_inclusion(
                    &log::leaf_hash(row.jws.as_bytes()),
                    (row.seq - 1) as u64,
                    inclusion.tree_size,
                    &inclusion.proof,
                    checkpoint.root(),
                )
                .unwrap_or_else(|err| panic!("old size {old}, seq {}: {err}", row.seq));
                assert_eq!(row.leaf_hash, hex(&log::leaf_hash(row.jws.as_bytes())));
            }
            // Every node is a complete subtree ending inside the batch.
            for (_, n) in &plan.nodes {
                assert!(n.len >= 2 && n.start % n.len == 0);
                assert!(n.start + n.len > old as u64 && n.start + n.len <= (old + 7) as u64);
            }
        }
    }
}
