//! Recomputing a site's log from seq 1 with public keys only: every receipt
//! signature, every leaf hash and the tree they make, every chain hash and
//! countersignature, and the site's signed checkpoint; checkpoints saved
//! earlier by anyone (a witness, a DPO, a visitor's receipt file) are checked
//! against the same pass. What `GET /v1/audit` and `consentry-collector
//! verify` run.
//!
//! Every bad leaf is reported (its seq, leaf index and receipt id), not only
//! the first: after a bad row the pass goes on from that row's stored chain
//! hash, so one altered row names one row.
//!
//! The pass stops at the size of the site's latest checkpoint, read before
//! the rows: receipts appended while it runs are in a later checkpoint, so a
//! log being appended to is never a false alarm.
//!
//! The proofs the collector serves are read from stored tree nodes
//! (`log_nodes`), not from the leaves: each one the pass completes is
//! compared with the one recomputed, so a node altered or lost (which no
//! checkpoint shows) is caught here rather than by a visitor whose proof
//! then fails.
//!
//! A receipt deleted by the site's retention policy (`pruned_at` set, JWS
//! gone) is checked by its stored hashes: the tree, the chain and the
//! countersignature still prove it existed, and the audit says how many were
//! pruned. Only a signed prune record makes a deletion policy (see
//! `retention`); one without is a bad row, like any other removal.

use std::collections::{BTreeMap, BTreeSet};

use consentry_receipt::receipt::parse_rfc3339_utc;
use consentry_receipt::verify::{hex, sha256, verify, Limits};
use serde::Serialize;

use crate::keys::{countersignature_payload, payload_seq, PublicKeys};
use crate::log::{self, Checkpoint, CompactRange, Hash, Subtree};
use crate::store::{next_chain_hash, unhex32, Store, StoreError, StoredReceipt, GENESIS, PAGE};

/// `{"site","receipts","ok":true,…}`; with `ok: false`, the first problem in
/// `seq`, `receipt_id` and `reason`, and every one in `problems`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub site: String,
    /// Rows checked.
    pub receipts: i64,
    /// Of those, receipts deleted under the site's retention policy.
    pub pruned: i64,
    /// The size of the signed checkpoint the pass checked the log against.
    pub checkpoint_size: u64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Every problem, in seq order, the log-wide ones last (at most
    /// [`MAX_PROBLEMS`]; `problems_total` counts them all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    #[serde(skip_serializing_if = "is_zero")]
    pub problems_total: u64,
    /// The saved checkpoints checked against this log, as asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub saved: Vec<SavedResult>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One bad leaf, or a problem of the log as a whole (no seq).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf_index: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_id: Option<String>,
    pub reason: &'static str,
}

/// Problems listed per site at most: a wholesale rewrite names the first
/// thousand, and counts the rest.
pub const MAX_PROBLEMS: usize = 1000;

pub const CHAIN_MISMATCH: &str = "chain hash mismatch";
pub const SIGNATURE_INVALID: &str = "signature invalid";
pub const COUNTERSIGNATURE_INVALID: &str = "countersignature invalid";
pub const MISSING_SEQ: &str = "missing seq (row removed)";
pub const OUT_OF_ORDER: &str = "out of order";
pub const PRUNED_EARLY: &str =
    "receipt deleted with no signed prune record covering it (before its retention period ended, or not by the collector)";
pub const LEAF_MISMATCH: &str = "leaf hash is not the receipt's";
pub const NO_CHECKPOINT: &str = "the log has receipts but no checkpoint";
pub const CHECKPOINT_INVALID: &str =
    "the stored checkpoint is not signed by any of the collector's keys, or is not this site's";
pub const TREE_MISMATCH: &str =
    "the receipts make another tree than the signed checkpoint (a receipt was replaced, reordered or removed)";
pub const TAIL_MISSING: &str =
    "receipts the signed checkpoint counts are gone (the log was truncated)";
pub const NO_LOG: &str = "the store has no log for this site";
pub const HEAD_BEHIND: &str = "the site's head row is behind its signed checkpoint";
pub const NODE_MISMATCH: &str =
    "a stored tree node is not the hash of its receipts: inclusion and consistency proofs served from it do not verify";
pub const NODE_MISSING: &str =
    "a stored tree node is missing: the collector cannot serve proofs that need it";

/// A checkpoint someone kept, to be proved consistent with the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// What to call it in the report (its file name).
    pub label: String,
    pub size: u64,
    pub root: Hash,
    /// A receipt it was kept for (a visitor's receipt file): its leaf index
    /// and leaf hash, which the log must still hold there.
    pub leaf: Option<(u64, Hash)>,
}

impl Saved {
    fn of(label: &str, checkpoint: &Checkpoint, leaf: Option<(u64, Hash)>) -> Saved {
        Saved {
            label: label.to_owned(),
            size: checkpoint.size(),
            root: *checkpoint.root(),
            leaf,
        }
    }
}

/// What the log says of one saved checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedResult {
    pub label: String,
    pub size: u64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A pruned row is legitimate only when a signed prune record of its site
/// covers it: received (a countersigned time) before the record's cutoff.
/// `pruned_before` is the latest cutoff of the site's valid records.
fn pruned_by_policy(row: &StoredReceipt, pruned_before: Option<i64>) -> bool {
    let Some(cutoff) = pruned_before else {
        return false;
    };
    row.jws.is_empty()
        && parse_rfc3339_utc(&row.received_at).is_some_and(|received| received < cutoff)
}

/// The pass over one site's rows: what it has recomputed so far.
struct Pass<'a> {
    report: Report,
    keys: &'a PublicKeys,
    previous: [u8; 32],
    tree: CompactRange,
    /// Subtrees of two or more leaves completed by this page's rows, to be
    /// compared with the stored nodes.
    completed: Vec<Subtree>,
    /// The sizes saved checkpoints ask about, and the root at each.
    roots: BTreeMap<u64, Hash>,
    /// Leaf index → leaf hash, for the receipts of saved receipt files.
    leaves_wanted: BTreeMap<u64, Hash>,
    leaves_found: BTreeMap<u64, Hash>,
    /// The first seq with a row problem, to name where a saved checkpoint
    /// stops matching.
    first_bad_seq: Option<i64>,
    /// The latest cutoff of the site's valid prune records.
    pruned_before: Option<i64>,
}

impl Pass<'_> {
    fn problem(&mut self, seq: Option<i64>, receipt_id: Option<&str>, reason: &'static str) {
        let r = &mut self.report;
        r.ok = false;
        r.problems_total += 1;
        if let Some(seq) = seq {
            self.first_bad_seq.get_or_insert(seq);
        }
        if r.reason.is_none() {
            r.seq = seq;
            r.receipt_id = receipt_id.map(str::to_owned);
            r.reason = Some(reason);
        }
        if r.problems.len() < MAX_PROBLEMS {
            r.problems.push(Problem {
                seq,
                leaf_index: seq.map(|s| s - 1),
                receipt_id: receipt_id.map(str::to_owned),
                reason,
            });
        }
    }

    /// A stored node of leaves `start..` that is not the recomputed one.
    fn node_problem(&mut self, start: u64, reason: &'static str) {
        let r = &mut self.report;
        r.ok = false;
        r.problems_total += 1;
        r.reason.get_or_insert(reason);
        if r.problems.len() < MAX_PROBLEMS {
            r.problems.push(Problem {
                seq: None,
                leaf_index: i64::try_from(start).ok(),
                receipt_id: None,
                reason,
            });
        }
    }

    /// The stored nodes of the subtrees completed since the last call,
    /// against the recomputed ones (one read per page of rows).
    async fn check_nodes(&mut self, store: &Store) -> Result<(), StoreError> {
        let completed = core::mem::take(&mut self.completed);
        if completed.is_empty() {
            return Ok(());
        }
        let keys = completed.iter().map(|n| (n.start, n.len)).collect();
        let stored = store.stored_subtrees(&self.report.site, keys).await?;
        for node in completed {
            match stored.get(&(node.start, node.len)) {
                Some(Some(hash)) if *hash == node.hash => {}
                Some(Some(_)) | Some(None) => self.node_problem(node.start, NODE_MISMATCH),
                None => self.node_problem(node.start, NODE_MISSING),
            }
        }
        Ok(())
    }

    /// One row: the first thing wrong with it is its problem. Its leaf is
    /// added to the tree whatever it is, so the tree is the stored one.
    fn row(&mut self, row: &StoredReceipt) {
        let expected = i64::try_from(self.tree.size()).unwrap_or(i64::MAX) + 1;
        if row.seq != expected {
            // Rows come in seq order, so a gap means rows are gone; the leaf
            // indexes after it are then all wrong, which the checkpoint shows.
            for missing in expected..row.seq.min(expected + MAX_PROBLEMS as i64) {
                self.problem(Some(missing), None, MISSING_SEQ);
            }
        }
        let (leaf, checked) = self.check_row(row);
        if let Err(reason) = checked {
            self.problem(Some(row.seq), Some(&row.receipt_id), reason);
        }
        let index = self.tree.size();
        if self.leaves_wanted.contains_key(&index) {
            self.leaves_found.insert(index, leaf);
        }
        let completed = &mut self.completed;
        self.tree
            .push_recording(leaf, |subtree| completed.push(subtree));
        if let Some(root) = self.roots.get_mut(&self.tree.size()) {
            *root = self.tree.root();
        }
        self.report.receipts += 1;
    }

    /// The row's leaf (recomputed from its JWS while kept, as stored once
    /// pruned) and its verdict. Moves the chain on to the row's stored chain
    /// hash, so the next row is judged on its own.
    fn check_row(&mut self, row: &StoredReceipt) -> (Hash, Result<(), &'static str>) {
        let stored_leaf = unhex32(&row.leaf_hash).unwrap_or([0; 32]);
        let previous = self.previous;
        self.previous = unhex32(&row.chain_hash).unwrap_or([0; 32]);
        let (jws_sha256, leaf) = if row.pruned_at.is_some() {
            if !pruned_by_policy(row, self.pruned_before) {
                return (stored_leaf, Err(PRUNED_EARLY));
            }
            self.report.pruned += 1;
            let Some(sha) = unhex32(&row.jws_sha256) else {
                return (stored_leaf, Err(CHAIN_MISMATCH));
            };
            (sha, stored_leaf)
        } else {
            let leaf = log::leaf_hash(row.jws.as_bytes());
            if verify(row.jws.as_bytes(), &Limits::default()).is_err() {
                return (leaf, Err(SIGNATURE_INVALID));
            }
            (sha256(row.jws.as_bytes()), leaf)
        };
        // By the key the header names; a kid not in the JWKS is a bad
        // countersignature like any other.
        let Some(signed) = self.keys.verify(&row.countersignature) else {
            return (leaf, Err(COUNTERSIGNATURE_INVALID));
        };
        // A valid countersignature naming another seq: the row was moved.
        if payload_seq(&signed).map(i64::from) != Some(row.seq) {
            return (leaf, Err(OUT_OF_ORDER));
        }
        if hex(&next_chain_hash(&previous, &jws_sha256)) != row.chain_hash {
            return (leaf, Err(CHAIN_MISMATCH));
        }
        let expected_payload = countersignature_payload(
            &self.report.site,
            row.seq,
            &row.receipt_id,
            &hex(&jws_sha256),
            &row.received_at,
            &row.chain_hash,
        );
        if signed != expected_payload {
            return (leaf, Err(COUNTERSIGNATURE_INVALID));
        }
        if stored_leaf != leaf {
            return (leaf, Err(LEAF_MISMATCH));
        }
        (leaf, Ok(()))
    }
}

/// The signed checkpoint of a site's log, opened with `keys` under its own
/// origin line, which must name this site (`…/<site>`).
pub fn open_checkpoint(text: &str, site: &str, keys: &PublicKeys) -> Option<Checkpoint> {
    let origin = text.lines().next()?;
    if origin.rsplit_once('/').map(|(_, s)| s) != Some(site) {
        return None;
    }
    let known = keys.note_keys(origin).ok()?;
    Checkpoint::open(text.as_bytes(), origin, &known).ok()
}

/// Audits one site's log at `now_ms` with the collector's public keys, and
/// proves each of `saved` consistent with it. A pruned receipt is judged by
/// the site's signed prune records (see `retention`).
pub async fn audit_site(
    store: &Store,
    keys: &PublicKeys,
    site: &str,
    now_ms: i64,
    saved: &[Saved],
) -> Result<Report, StoreError> {
    let pruned_before = store
        .prune_records(site)
        .await?
        .iter()
        .filter_map(|jws| crate::retention::read_prune_record(keys, site, jws, now_ms))
        .map(|record| record.cutoff_ms)
        .max();
    let mut pass = Pass {
        report: Report {
            site: site.to_owned(),
            receipts: 0,
            pruned: 0,
            checkpoint_size: 0,
            ok: true,
            seq: None,
            receipt_id: None,
            reason: None,
            problems: Vec::new(),
            problems_total: 0,
            saved: Vec::new(),
        },
        keys,
        previous: GENESIS,
        tree: CompactRange::new(),
        completed: Vec::new(),
        roots: saved.iter().map(|s| (s.size, log::EMPTY_ROOT)).collect(),
        leaves_wanted: saved.iter().filter_map(|s| s.leaf).collect(),
        leaves_found: BTreeMap::new(),
        first_bad_seq: None,
        pruned_before,
    };
    // First the checkpoint, then the rows up to its size (see the module docs).
    let stored = store.checkpoint(site).await?;
    let signed = match &stored {
        Some((_, text)) => open_checkpoint(text, site, keys),
        None => None,
    };
    // Without a checkpoint to stop at, everything stored is checked.
    let until = match (&stored, &signed) {
        (_, Some(checkpoint)) => i64::try_from(checkpoint.size()).unwrap_or(i64::MAX),
        (Some((size, _)), None) => i64::try_from(*size).unwrap_or(i64::MAX),
        (None, None) => i64::MAX,
    };
    let mut last = 0;
    loop {
        let rows = store.page(site, last, PAGE).await?;
        let Some(end) = rows.last().map(|row| row.seq) else {
            break;
        };
        for row in &rows {
            if row.seq > until {
                break;
            }
            pass.row(row);
        }
        pass.check_nodes(store).await?;
        if end >= until {
            break;
        }
        last = end;
    }
    let size = pass.tree.size();
    match (&stored, &signed) {
        (None, _) if size > 0 => pass.problem(None, None, NO_CHECKPOINT),
        (None, _) => {}
        (Some(_), None) => pass.problem(None, None, CHECKPOINT_INVALID),
        (Some(_), Some(checkpoint)) => {
            pass.report.checkpoint_size = checkpoint.size();
            if size < checkpoint.size() {
                let first = i64::try_from(size).unwrap_or(i64::MAX) + 1;
                pass.problem(Some(first), None, TAIL_MISSING);
            } else if &pass.tree.root() != checkpoint.root() {
                pass.problem(None, None, TREE_MISMATCH);
            }
        }
    }
    // The unsigned head row only ever moves forward past the checkpoint.
    if let Some((head_seq, _)) = store.head(site).await? {
        if u64::try_from(head_seq).unwrap_or(0) < pass.report.checkpoint_size {
            pass.problem(None, None, HEAD_BEHIND);
        }
    }
    let results = saved
        .iter()
        .map(|s| saved_result(&pass, s))
        .collect::<Vec<_>>();
    for result in &results {
        if !result.ok {
            pass.report.ok = false;
        }
    }
    pass.report.saved = results;
    Ok(pass.report)
}

/// One saved checkpoint against the pass: the log must hold at least its
/// size, with the same root there, and a receipt file's leaf where it was.
fn saved_result(pass: &Pass<'_>, s: &Saved) -> SavedResult {
    let size = pass.tree.size();
    let first_bad = pass
        .first_bad_seq
        .filter(|seq| u64::try_from(*seq).is_ok_and(|seq| seq <= s.size));
    let reason = if s.size > size {
        Some(format!(
            "the checkpoint counts {} receipts and the log holds {size}: receipts from seq {} on are gone",
            s.size,
            size + 1
        ))
    } else if pass.roots.get(&s.size) != Some(&s.root) {
        Some(match first_bad {
            Some(seq) => format!(
                "the log's first {} receipts are not the ones this checkpoint signed; the first bad one is seq {seq}",
                s.size
            ),
            None => format!(
                "the log's first {} receipts are not the ones this checkpoint signed (rewritten, reordered or forked)",
                s.size
            ),
        })
    } else if let Some((index, hash)) = s.leaf {
        (pass.leaves_found.get(&index) != Some(&hash))
            .then(|| format!("leaf {index} of the log is not this receipt"))
    } else {
        None
    };
    SavedResult {
        label: s.label.clone(),
        size: s.size,
        ok: reason.is_none(),
        reason,
    }
}

/// Which site a saved checkpoint is of: the last part of its origin line.
pub fn checkpoint_site(text: &str) -> Option<&str> {
    text.lines().next()?.rsplit_once('/').map(|(_, site)| site)
}

/// `consentry-collector verify`: every log in the store (or only `site`'s),
/// with public keys only, and the saved checkpoints by site.
pub async fn verify_store(
    store: &Store,
    keys: &PublicKeys,
    site: Option<String>,
    saved: &BTreeMap<String, Vec<Saved>>,
) -> Result<Vec<Report>, String> {
    let named = site.clone();
    let mut sites: BTreeSet<String> = match site {
        Some(site) => BTreeSet::from([site]),
        None => store
            .sites()
            .await
            .map_err(|err| err.to_string())?
            .into_iter()
            .collect(),
    };
    // A saved checkpoint of a site the store no longer has at all is a
    // report too: the whole log is gone.
    sites.extend(saved.keys().cloned());
    let mut reports = Vec::new();
    for site in sites {
        let asked = saved.get(&site).map_or(&[][..], Vec::as_slice);
        let mut report = audit_site(store, keys, &site, crate::now_ms(), asked)
            .await
            .map_err(|err| err.to_string())?;
        // A site asked for by name that has no log at all is a mistyped
        // name or a log removed whole, never "ok, 0 receipts".
        if named.as_deref() == Some(site.as_str())
            && report.receipts == 0
            && report.checkpoint_size == 0
        {
            report.ok = false;
            report.reason.get_or_insert(NO_LOG);
            report.problems_total += 1;
            report.problems.push(Problem {
                seq: None,
                leaf_index: None,
                receipt_id: None,
                reason: NO_LOG,
            });
        }
        reports.push(report);
    }
    Ok(reports)
}

/// A checkpoint file someone kept (a witness's, a DPO's): it must be signed
/// by one of `keys` under its own origin. Returns its site.
pub fn saved_checkpoint(
    label: &str,
    text: &str,
    keys: &PublicKeys,
) -> Result<(String, Saved), String> {
    let site = checkpoint_site(text)
        .ok_or_else(|| format!("{label}: not a checkpoint (its first line names no log)"))?
        .to_owned();
    let checkpoint = open_checkpoint(text, &site, keys).ok_or_else(|| {
        format!("{label}: not signed by any key of the JWKS under its origin, or malformed")
    })?;
    Ok((site, Saved::of(label, &checkpoint, None)))
}

/// A visitor's "Download receipt" file, `{"receipt_id", "receipt": JWS,
/// "collector": acknowledgement}`: the receipt must verify, the
/// countersignature must be the collector's over these bytes at this seq,
/// and the inclusion proof must lead to the signed checkpoint. Then the log
/// must still hold that checkpoint's tree, and the receipt at its leaf.
pub fn saved_receipt(
    label: &str,
    text: &str,
    keys: &PublicKeys,
) -> Result<(String, Saved), String> {
    let bad = |what: &str| format!("{label}: {what}");
    let file: serde_json::Value =
        serde_json::from_str(text).map_err(|err| bad(&format!("not JSON: {err}")))?;
    let jws = file
        .get("receipt")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| bad("no \"receipt\" (the signed receipt)"))?;
    let ack = file
        .get("collector")
        .filter(|a| a.is_object())
        .ok_or_else(|| bad("no \"collector\" acknowledgement: the receipt was not stored yet when the file was saved"))?;
    let field = |name: &str| ack.get(name).and_then(serde_json::Value::as_str);
    let verified = verify(jws.as_bytes(), &Limits::default()).map_err(|err| {
        bad(&format!(
            "the receipt's own signature does not verify: {err:?}"
        ))
    })?;
    let site = verified.receipt.site.clone();
    let leaf_index = ack
        .get("leaf_index")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| bad("no leaf_index: saved from a collector before the transparency log"))?;
    let signed = field("countersignature")
        .and_then(|cs| keys.verify(cs))
        .ok_or_else(|| bad("the countersignature is not by any key of the JWKS"))?;
    let payload: serde_json::Value = serde_json::from_str(&signed)
        .map_err(|_| bad("the countersignature's payload is not JSON"))?;
    let names = |name: &str, value: &str| {
        payload.get(name).and_then(serde_json::Value::as_str) == Some(value)
    };
    if !names("receipt_sha256", &hex(&verified.jws_sha256))
        || !names("receipt_id", &verified.receipt.receipt_id)
        || !names("site", &site)
        || payload.get("seq").and_then(serde_json::Value::as_u64) != Some(leaf_index + 1)
    {
        return Err(bad(
            "the countersignature is over another receipt or another seq",
        ));
    }
    let checkpoint = field("checkpoint")
        .and_then(|text| open_checkpoint(text, &site, keys))
        .ok_or_else(|| bad("the checkpoint is missing, or not signed by any key of the JWKS"))?;
    let proof = ack
        .get("inclusion_proof")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| bad("no inclusion_proof"))?
        .iter()
        .map(|h| {
            use base64::prelude::{Engine as _, BASE64_STANDARD};
            h.as_str()
                .and_then(|h| BASE64_STANDARD.decode(h).ok())
                .and_then(|h| <Hash>::try_from(h).ok())
        })
        .collect::<Option<Vec<Hash>>>()
        .ok_or_else(|| bad("the inclusion proof holds something that is not a base64 hash"))?;
    let leaf = log::leaf_hash(jws.as_bytes());
    log::verify_inclusion(
        &leaf,
        leaf_index,
        checkpoint.size(),
        &proof,
        checkpoint.root(),
    )
    .map_err(|err| {
        bad(&format!(
            "the inclusion proof does not lead to the checkpoint: {err}"
        ))
    })?;
    Ok((
        site,
        Saved::of(label, &checkpoint, Some((leaf_index, leaf))),
    ))
}

/// `verify` as the collector's own machine runs it: the database and key
/// file of `config`, the key file read for its public keys only.
pub async fn verify_database(
    config: &crate::Config,
    site: Option<String>,
) -> Result<Vec<Report>, String> {
    let keys = crate::Countersigner::load_existing(&config.key_file)?
        .public_keys()
        .clone();
    let store = Store::open_to_read(&config.database_url)
        .await
        .map_err(|err| err.to_string())?;
    verify_store(&store, &keys, site, &BTreeMap::new()).await
}
