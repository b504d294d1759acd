//! One store test suite, run against SQLite (always, in a temp dir) and
//! PostgreSQL (when `CONSENTRY_TEST_POSTGRES_URL` names one: `cargo xtask
//! test` starts a real server and sets it).

mod support;

use consentry_collector::audit::{self, audit_site};
use consentry_collector::log;
use consentry_collector::retention;
use consentry_collector::store::{next_chain_hash, unhex32, Appended, Lookup, Proved, GENESIS};
use consentry_receipt::verify::{hex, sha256};
use support::common::{key_a, key_b, thumbprint_of};
use support::{new_receipt, signed, signed_by, uuid, Db};

const ISSUED: &str = "2026-11-23T18:30:00.000Z";

/// The audit as `GET /v1/audit` runs it today, for a site without a
/// retention policy.
async fn audit_now(store: &consentry_collector::Store, site: &str) -> audit::Report {
    audit_site(
        store,
        support::signer().public_keys(),
        site,
        consentry_collector::now_ms(),
        &[],
    )
    .await
    .expect("audit")
}

/// The audit failed, and named this row for this reason.
fn assert_bad_row(report: &audit::Report, seq: i64, reason: &str) {
    assert_eq!(
        (report.ok, report.seq, report.reason),
        (false, Some(seq), Some(reason)),
        "{report:?}"
    );
}

/// A prune record for tests that prune without judging the policy.
fn prune_record(site: &str, now: &str) -> String {
    retention::prune_record(&support::signer(), site, 1, now, now)
}

fn site(name: &str) -> String {
    format!("{name}-{}", support::unique())
}

/// The one receipt stored under `id`.
async fn only(
    store: &consentry_collector::Store,
    id: &str,
) -> consentry_collector::store::StoredReceipt {
    match store.get(id, None).await.expect("get") {
        Lookup::One(row) => *row,
        other => panic!("one receipt under {id}: {other:?}"),
    }
}

async fn append_n(store: &consentry_collector::Store, site: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = uuid();
        let outcome = store
            .append(new_receipt(&signed(site, &id, ISSUED)))
            .await
            .expect("append");
        assert!(matches!(outcome, Appended::New(..)), "{outcome:?}");
        ids.push(id);
    }
    ids
}

async fn appends_chain_and_countersign(db: Db) {
    let store = db.open().await;
    let site = site("chain");
    let first = signed(&site, &uuid(), ISSUED);
    let second = signed(&site, &uuid(), ISSUED);
    let Appended::New(a, _) = store.append(new_receipt(&first)).await.expect("append") else {
        panic!("first is new");
    };
    let Appended::New(b, _) = store.append(new_receipt(&second)).await.expect("append") else {
        panic!("second is new");
    };
    assert_eq!((a.seq, b.seq), (1, 2));
    let h1 = next_chain_hash(&GENESIS, &sha256(first.as_bytes()));
    let h2 = next_chain_hash(&h1, &sha256(second.as_bytes()));
    assert_eq!(a.chain_hash, hex(&h1));
    assert_eq!(b.chain_hash, hex(&h2));
    assert_eq!(unhex32(&b.chain_hash), Some(h2));
    assert!(support::signer().verify(&b.countersignature).is_some());
    assert_eq!(
        store.get(&b.receipt_id, None).await.expect("get"),
        Lookup::One(Box::new(b.clone()))
    );
    assert_eq!(
        store.head(&site).await.expect("head"),
        Some((2, b.chain_hash.clone()))
    );
    let report = audit_now(&store, &site).await;
    assert!(report.ok && report.receipts == 2, "{report:?}");
}

async fn the_same_receipt_twice_is_stored_once(db: Db) {
    let store = db.open().await;
    let site = site("dedupe");
    let jws = signed(&site, &uuid(), ISSUED);
    let Appended::New(row, _) = store.append(new_receipt(&jws)).await.expect("append") else {
        panic!("new");
    };
    assert_eq!(
        store.append(new_receipt(&jws)).await.expect("again"),
        Appended::Duplicate(row)
    );
    assert_eq!(store.head(&site).await.expect("head").map(|h| h.0), Some(1));
}

async fn another_receipt_with_a_stored_id_is_a_conflict(db: Db) {
    let store = db.open().await;
    let site = site("conflict");
    let id = uuid();
    store
        .append(new_receipt(&signed(&site, &id, ISSUED)))
        .await
        .expect("first");
    let other = signed(&site, &id, "2026-11-23T18:31:00.000Z");
    assert_eq!(
        store.append(new_receipt(&other)).await.expect("second"),
        Appended::Conflict
    );
}

/// Two stores on one database are two collector processes: their writers
/// race for the same site's head, and the chain must stay one chain.
async fn two_collectors_on_one_database_keep_one_chain(db: Db) {
    let one = db.open().await;
    let two = db.open().await;
    let site = site("concurrent");
    let mut tasks = Vec::new();
    for i in 0..80 {
        let store = if i % 2 == 0 { one.clone() } else { two.clone() };
        let jws = signed(&site, &uuid(), ISSUED);
        tasks.push(tokio::spawn(async move {
            store.append(new_receipt(&jws)).await
        }));
    }
    let mut acks = Vec::new();
    for task in tasks {
        match task.await.expect("join").expect("append") {
            Appended::New(row, inclusion) => acks.push((row, inclusion)),
            other => panic!("new: {other:?}"),
        }
    }
    let rows = one.page(&site, 0, 1000).await.expect("page");
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=80).collect::<Vec<_>>());
    let report = audit_now(&two, &site).await;
    assert!(report.ok && report.receipts == 80, "{report:?}");
    // One tree: every acknowledgement's proof leads to its own checkpoint,
    // and every one of those checkpoints is a prefix of the final tree.
    let keys = support::signer().public_keys().clone();
    let (_, latest) = one
        .checkpoint(&site)
        .await
        .expect("read")
        .expect("a checkpoint");
    let latest = audit::open_checkpoint(&latest, &site, &keys).expect("signed");
    assert_eq!(latest.size(), 80);
    for (row, inclusion) in &acks {
        let head = audit::open_checkpoint(&inclusion.checkpoint, &site, &keys).expect("signed");
        assert_eq!(head.size(), inclusion.tree_size);
        log::verify_inclusion(
            &log::leaf_hash(row.jws.as_bytes()),
            (row.seq - 1) as u64,
            head.size(),
            &inclusion.proof,
            head.root(),
        )
        .unwrap_or_else(|err| panic!("seq {}: {err}", row.seq));
        let Proved::Proof(proof) = two
            .consistency_proof(&site, head.size(), latest.size())
            .await
            .expect("read")
        else {
            panic!("in range");
        };
        log::verify_consistency(
            head.size(),
            latest.size(),
            &proof,
            head.root(),
            latest.root(),
        )
        .unwrap_or_else(|err| panic!("{} → 80: {err}", head.size()));
    }
}

/// An audit while receipts keep arriving checks the log up to the
/// checkpoint it read first: never a false alarm, and every one ok.
async fn an_audit_while_receipts_arrive_is_never_a_false_alarm(db: Db) {
    let store = db.open().await;
    let s = site("busy");
    append_n(&store, &s, 3).await;
    let writer = {
        let (store, s) = (store.clone(), s.clone());
        tokio::spawn(async move {
            for _ in 0..60 {
                store
                    .append(new_receipt(&signed(&s, &uuid(), ISSUED)))
                    .await
                    .expect("append");
            }
        })
    };
    let mut sizes = Vec::new();
    for _ in 0..20 {
        let report = audit_now(&store, &s).await;
        assert!(report.ok, "{report:?}");
        sizes.push(report.checkpoint_size);
        if writer.is_finished() {
            break;
        }
    }
    writer.await.expect("writer");
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    let last = audit_now(&store, &s).await;
    assert!(last.ok && last.checkpoint_size == 63, "{last:?}");
}

/// The truncation attack: someone with write access deletes the newest
/// receipts (where the latest withdrawals are) and puts back an older head
/// and checkpoint, both taken from the store itself. The log then audits as
/// a consistent log of fewer receipts; a checkpoint fetched before the
/// attack proves the tail was cut, and names both sizes.
async fn a_cut_tail_with_a_rewritten_head_is_caught_by_a_checkpoint_saved_before(db: Db) {
    let store = db.open().await;
    let keys = support::signer().public_keys().clone();
    let s = site("truncated");
    append_n(&store, &s, 4).await;
    let (_, at_four) = store
        .checkpoint(&s)
        .await
        .expect("read")
        .expect("checkpoint");
    let head_at_four = store.head(&s).await.expect("read").expect("head");
    let tree_at_four: String = {
        // What the attacker writes back: the head row as it was at 4.
        let rows = store.page(&s, 0, 4).await.expect("page");
        let mut tree = log::CompactRange::new();
        for row in &rows {
            tree.push(unhex32(&row.leaf_hash).expect("leaf"));
        }
        hex(&tree.to_bytes())
    };
    append_n(&store, &s, 3).await;
    let (_, at_seven) = store
        .checkpoint(&s)
        .await
        .expect("read")
        .expect("checkpoint");
    let (_, saved) =
        audit::saved_checkpoint("before.txt", &at_seven, &keys).expect("a valid checkpoint");

    db.tamper(&format!(
        "DELETE FROM receipts WHERE site = '{s}' AND seq > 4;
         DELETE FROM log_nodes WHERE site = '{s}' AND (idx + 1) * (1 << level) > 4;
         UPDATE site_heads SET seq = 4, chain_hash = '{}', tree = '{tree_at_four}', checkpoint = '{at_four}' \
         WHERE site = '{s}';",
        head_at_four.1
    ))
    .await;

    // Without a saved checkpoint the cut cannot be seen: that is why
    // witnesses keep them.
    let alone = audit_now(&store, &s).await;
    assert!(alone.ok && alone.receipts == 4, "{alone:?}");
    let report = audit_site(
        &store,
        &keys,
        &s,
        consentry_collector::now_ms(),
        std::slice::from_ref(&saved),
    )
    .await
    .expect("audit");
    assert!(!report.ok, "{report:?}");
    let result = &report.saved[0];
    assert!(!result.ok && result.size == 7, "{result:?}");
    let reason = result.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("counts 7 receipts and the log holds 4") && reason.contains("seq 5"),
        "{reason}"
    );
}

/// A receipt replaced in place, with its leaf hash and chain hash
/// recomputed to match: its countersignature (over the original bytes) no
/// longer fits, the tree no longer matches the signed checkpoint, and a
/// saved checkpoint names the first bad seq.
async fn a_replaced_leaf_is_named_and_breaks_the_checkpoint(db: Db) {
    let store = db.open().await;
    let keys = support::signer().public_keys().clone();
    let s = site("replaced");
    append_n(&store, &s, 6).await;
    let (_, text) = store
        .checkpoint(&s)
        .await
        .expect("read")
        .expect("checkpoint");
    let (_, saved) = audit::saved_checkpoint("saved.txt", &text, &keys).expect("valid");
    let rows = store.page(&s, 0, 10).await.expect("page");
    let other = signed(&s, &rows[2].receipt_id, "2026-11-23T18:31:00.000Z");
    let chain = next_chain_hash(
        &unhex32(&rows[1].chain_hash).expect("hex"),
        &sha256(other.as_bytes()),
    );
    db.tamper(&format!(
        "UPDATE receipts SET jws = '{other}', jws_sha256 = '{}', leaf_hash = '{}', chain_hash = '{}' \
         WHERE site = '{s}' AND seq = 3",
        hex(&sha256(other.as_bytes())),
        hex(&log::leaf_hash(other.as_bytes())),
        hex(&chain),
    ))
    .await;
    let report = audit_site(
        &store,
        &keys,
        &s,
        consentry_collector::now_ms(),
        std::slice::from_ref(&saved),
    )
    .await
    .expect("audit");
    assert_eq!(
        (report.ok, report.seq, report.reason),
        (false, Some(3), Some(audit::COUNTERSIGNATURE_INVALID)),
        "{report:?}"
    );
    let named: Vec<&str> = report.problems.iter().map(|p| p.reason).collect();
    assert!(named.contains(&audit::TREE_MISMATCH), "{named:?}");
    // Row 4 onwards chain on row 3's stored hash, which no longer fits
    // them either; only the replaced row and what follows from it are named.
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.seq.is_none_or(|seq| seq >= 3)),
        "{report:?}"
    );
    let reason = report.saved[0].reason.as_deref().unwrap_or_default();
    assert!(reason.contains("first bad one is seq 3"), "{reason}");
}

async fn the_audit_names_an_altered_a_removed_and_a_reordered_row(db: Db) {
    let store = db.open().await;
    let (altered, removed, reordered, last) = (
        site("altered"),
        site("removed"),
        site("reordered"),
        site("last"),
    );
    for s in [&altered, &removed, &reordered, &last] {
        append_n(&store, s, 5).await;
    }

    // Another valid receipt's bytes in row 3: its signature still verifies,
    // but the chain does not.
    let stranger = signed(&altered, &uuid(), ISSUED);
    db.tamper(&format!(
        "UPDATE receipts SET jws = '{stranger}' WHERE site = '{altered}' AND seq = 3"
    ))
    .await;
    // A forged signature part: the receipt itself no longer verifies.
    let row2 = store.page(&altered, 1, 1).await.expect("page").remove(0);
    let at = row2.jws.len() - 10;
    let swap = if &row2.jws[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{swap}{}", &row2.jws[..at], &row2.jws[at + 1..]);
    let report = audit_now(&store, &altered).await;
    assert_bad_row(&report, 3, audit::CHAIN_MISMATCH);
    db.tamper(&format!(
        "UPDATE receipts SET jws = '{forged}' WHERE site = '{altered}' AND seq = 2"
    ))
    .await;
    let report = audit_now(&store, &altered).await;
    assert_eq!(
        (report.seq, report.reason),
        (Some(2), Some(audit::SIGNATURE_INVALID)),
        "{report:?}"
    );

    db.tamper(&format!(
        "DELETE FROM receipts WHERE site = '{removed}' AND seq = 3"
    ))
    .await;
    let report = audit_now(&store, &removed).await;
    assert_bad_row(&report, 3, audit::MISSING_SEQ);

    db.tamper(&format!(
        "UPDATE receipts SET seq = -1 WHERE site = '{reordered}' AND seq = 2;
         UPDATE receipts SET seq = 2 WHERE site = '{reordered}' AND seq = 4;
         UPDATE receipts SET seq = 4 WHERE site = '{reordered}' AND seq = -1;"
    ))
    .await;
    let report = audit_now(&store, &reordered).await;
    assert_bad_row(&report, 2, audit::OUT_OF_ORDER);

    db.tamper(&format!(
        "DELETE FROM receipts WHERE site = '{last}' AND seq = 5"
    ))
    .await;
    // The last row has no row after it to show the gap: the signed
    // checkpoint, which counts it, does.
    let report = audit_now(&store, &last).await;
    assert_bad_row(&report, 5, audit::TAIL_MISSING);
}

async fn retention_keeps_the_chain_and_the_audit_catches_an_early_deletion(db: Db) {
    let store = db.open().await;
    let signer = support::signer();
    let s = site("retention");
    let old = append_n(&store, &s, 3).await;
    // received_at has millisecond precision: a cutoff between the batches.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cutoff = consentry_collector::store::now_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let kept = append_n(&store, &s, 2).await;
    let two_days_on = consentry_receipt::receipt::format_rfc3339_utc(
        consentry_collector::now_ms() + 2 * 24 * 60 * 60 * 1000,
    );
    // A one-day policy: the cutoff is more than a day before the pass.
    let record = retention::prune_record(&signer, &s, 1, &cutoff, &two_days_on);

    assert_eq!(
        store
            .prune(&s, &cutoff, &two_days_on, &record)
            .await
            .expect("prune"),
        3
    );
    assert_eq!(
        store
            .prune(&s, &cutoff, &two_days_on, &record)
            .await
            .expect("again"),
        0
    );
    assert_eq!(store.prune_records(&s).await.expect("records"), [record]);
    let pruned = only(&store, &old[0]).await;
    assert_eq!((pruned.jws.as_str(), pruned.subject_key.as_str()), ("", ""));
    assert_eq!(pruned.pruned_at.as_deref(), Some(two_days_on.as_str()));
    assert_eq!(pruned.jws_sha256.len(), 64);
    assert_eq!(pruned.leaf_hash.len(), 64, "the leaf stays, so proofs do");
    let still = only(&store, &kept[0]).await;
    assert!(still.pruned_at.is_none() && !still.jws.is_empty());
    let key = support::common::thumbprint_of(&support::common::key_a());
    let history = store.by_subject(&key, 100_000).await.expect("history");
    assert!(!history.iter().any(|r| old.contains(&r.receipt_id)));
    assert!(history.iter().any(|r| r.receipt_id == kept[0]));

    // Audited three days on, the signed record covers the three pruned
    // receipts, whatever the sites file says today…
    let three_days_on = consentry_collector::now_ms() + 3 * 24 * 60 * 60 * 1000;
    let report = audit_site(&store, signer.public_keys(), &s, three_days_on, &[])
        .await
        .expect("audit");
    assert!(
        report.ok && report.receipts == 5 && report.pruned == 3,
        "{report:?}"
    );
    // …but not audited before the date it claims to have been pruned, nor
    // with another collector's keys (a record the attacker signed).
    let stranger = consentry_collector::Countersigner::from_seed(&[9u8; 32]).expect("key");
    for (keys, at) in [
        (signer.public_keys(), consentry_collector::now_ms()),
        (stranger.public_keys(), three_days_on),
    ] {
        let report = audit_site(&store, keys, &s, at, &[]).await.expect("audit");
        assert_eq!(report.seq, Some(1), "{report:?}");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.reason == audit::PRUNED_EARLY),
            "{report:?}"
        );
    }

    // Someone deletes a receipt the record does not cover and calls it
    // pruned: named.
    let today = consentry_collector::store::now_rfc3339();
    db.tamper(&format!(
        "UPDATE receipts SET jws = '', subject_key = '', pruned_at = '{today}' \
         WHERE site = '{s}' AND seq = 4"
    ))
    .await;
    let report = audit_site(&store, signer.public_keys(), &s, three_days_on, &[])
        .await
        .expect("audit");
    assert_bad_row(&report, 4, audit::PRUNED_EARLY);
    // A record that claims a shorter wait than it states is refused: its
    // cutoff is not retention_days before its pruned_at.
    let lying = retention::prune_record(&signer, &s, 30, &today, &today);
    assert!(
        retention::read_prune_record(signer.public_keys(), &s, &lying, three_days_on).is_none()
    );
}

async fn notices_are_stored_once_per_hash(db: Db) {
    let store = db.open().await;
    let text = format!("{{\"site\":\"{}\",\"title\":\"Cookies\"}}", site("notice"));
    let sha = consentry_receipt::verify::sha256_hex(text.as_bytes());
    assert!(store
        .put_notice(&sha, "s", &text, ISSUED)
        .await
        .expect("put"));
    assert!(!store
        .put_notice(&sha, "s", &text, ISSUED)
        .await
        .expect("again"));
    assert_eq!(store.get_notice(&sha).await.expect("get"), Some(text));
}

async fn a_visitors_history_spans_sites_oldest_first(db: Db) {
    let store = db.open().await;
    let (s1, s2) = (site("history-a"), site("history-b"));
    let first = append_n(&store, &s1, 1).await;
    let second = append_n(&store, &s2, 1).await;
    let key = support::common::thumbprint_of(&support::common::key_a());
    let ids: Vec<String> = store
        .by_subject(&key, 100_000)
        .await
        .expect("history")
        .into_iter()
        .map(|r| r.receipt_id)
        .collect();
    let at = |id: &String| ids.iter().position(|x| x == id).expect("listed");
    assert!(at(&first[0]) < at(&second[0]));
}

/// A receipt id is public before its receipt is stored (the visitor's
/// cookie, a form's hidden field): someone who signs a receipt under it
/// with their own key first does not get the visitor's receipt refused.
async fn a_receipt_id_taken_first_by_another_key_still_stores_the_visitors_receipt(db: Db) {
    let store = db.open().await;
    let site = site("squatted");
    let id = uuid();
    let (visitor, squatter) = (thumbprint_of(&key_a()), thumbprint_of(&key_b()));
    let squat = signed_by(&key_b(), &site, &id, ISSUED);
    let mine = signed_by(&key_a(), &site, &id, ISSUED);

    let Appended::New(theirs, _) = store.append(new_receipt(&squat)).await.expect("squat") else {
        panic!("the squatter's receipt is new");
    };
    let Appended::New(row, _) = store.append(new_receipt(&mine)).await.expect("mine") else {
        panic!("the visitor's receipt is stored too");
    };
    assert_eq!((theirs.seq, row.seq), (1, 2));
    assert_eq!(
        (row.jws.as_str(), row.subject_key.as_str()),
        (mine.as_str(), visitor.as_str())
    );
    assert_eq!(
        store.get(&id, Some(&visitor)).await.expect("get"),
        Lookup::One(Box::new(row.clone()))
    );
    assert_eq!(
        store.get(&id, Some(&squatter)).await.expect("get"),
        Lookup::One(Box::new(theirs))
    );
    assert_eq!(store.get(&id, None).await.expect("get"), Lookup::Ambiguous);

    // The visitor's own rules are unchanged: a resend is a duplicate, other
    // bytes under their id and key a conflict.
    assert_eq!(
        store.append(new_receipt(&mine)).await.expect("again"),
        Appended::Duplicate(row.clone())
    );
    let other = signed_by(&key_a(), &site, &id, "2026-11-23T18:31:00.000Z");
    assert_eq!(
        store.append(new_receipt(&other)).await.expect("other"),
        Appended::Conflict
    );
    let history = store.by_subject(&visitor, 100_000).await.expect("history");
    assert!(history.contains(&row));
    let report = audit_now(&store, &site).await;
    assert!(report.ok && report.receipts == 2, "{report:?}");
}

/// Retention erases a receipt's key: a resend of the same bytes is still its
/// duplicate, and a new receipt under that id is stored (nothing to
/// conflict with).
async fn a_pruned_receipt_is_a_duplicate_of_itself_and_conflicts_with_nothing(db: Db) {
    let store = db.open().await;
    let site = site("pruned-id");
    let id = uuid();
    let old = signed(&site, &id, ISSUED);
    let Appended::New(..) = store.append(new_receipt(&old)).await.expect("old") else {
        panic!("new");
    };
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let now = consentry_collector::store::now_rfc3339();
    assert_eq!(
        store
            .prune(&site, &now, &now, &prune_record(&site, &now))
            .await
            .expect("prune"),
        1
    );
    let pruned = only(&store, &id).await;

    assert_eq!(
        store.append(new_receipt(&old)).await.expect("resend"),
        Appended::Duplicate(pruned)
    );
    let newer = signed(&site, &id, "2026-11-23T18:31:00.000Z");
    let Appended::New(row, _) = store.append(new_receipt(&newer)).await.expect("newer") else {
        panic!("a receipt under a pruned id is new");
    };
    assert_eq!(row.seq, 2);
    let key = thumbprint_of(&key_a());
    assert_eq!(
        store.get(&id, Some(&key)).await.expect("get"),
        Lookup::One(Box::new(row))
    );
}

/// What decides whether a new key may be made: empty means no receipt at all.
/// PostgreSQL keeps its rows across runs, so only SQLite starts empty here.
async fn a_store_holds_receipts_once_one_is_appended(db: Db) {
    let store = db.open().await;
    if matches!(db, Db::Sqlite(_)) {
        assert!(store.is_empty().await.expect("is_empty"), "a new store");
    }
    append_n(&store, &site("held"), 1).await;
    assert!(!store.is_empty().await.expect("is_empty"));
}

/// The proofs the collector serves come from its stored tree nodes, which
/// no checkpoint covers: an altered node makes every proof through it fail
/// for the visitor who checks it, and a lost one makes them unservable. The
/// audit names both, by the first leaf under the node, although every row
/// and the tree they make are intact.
async fn an_altered_or_lost_tree_node_is_named_by_the_audit(db: Db) {
    let store = db.open().await;
    let keys = support::signer().public_keys().clone();
    let s = site("nodes");
    append_n(&store, &s, 6).await;
    assert!(audit_now(&store, &s).await.ok);
    // Leaves 2..4 (level 1, idx 1) altered; leaves 0..4 (level 2) gone.
    db.tamper(&format!(
        "UPDATE log_nodes SET hash = '{}' WHERE site = '{s}' AND level = 1 AND idx = 1;
         DELETE FROM log_nodes WHERE site = '{s}' AND level = 2 AND idx = 0",
        "00".repeat(32)
    ))
    .await;
    let (_, text) = store
        .checkpoint(&s)
        .await
        .expect("read")
        .expect("checkpoint");
    let checkpoint = audit::open_checkpoint(&text, &s, &keys).expect("signed");
    let rows = store.page(&s, 0, 10).await.expect("page");
    let leaf = unhex32(&rows[0].leaf_hash).expect("hex");
    let Proved::Proof(proof) = store.inclusion_proof(&s, 0, 6).await.expect("proof") else {
        panic!("leaf 0 is in the log");
    };
    assert!(
        log::verify_inclusion(&leaf, 0, 6, &proof, checkpoint.root()).is_err(),
        "a proof through the altered node does not verify"
    );

    let report = audit_now(&store, &s).await;
    assert_eq!(
        (report.ok, report.reason),
        (false, Some(audit::NODE_MISMATCH)),
        "{report:?}"
    );
    let named: Vec<(Option<i64>, Option<i64>, &str)> = report
        .problems
        .iter()
        .map(|p| (p.seq, p.leaf_index, p.reason))
        .collect();
    assert_eq!(
        named,
        [
            (None, Some(2), audit::NODE_MISMATCH),
            (None, Some(0), audit::NODE_MISSING)
        ],
        "the rows and the tree are intact: only the nodes are named"
    );
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::Db::sqlite(stringify!($name))).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(db) = super::Db::postgres() {
                    super::$name(db).await;
                }
            })*
        }
    };
}

suite!(
    appends_chain_and_countersign,
    a_store_holds_receipts_once_one_is_appended,
    the_same_receipt_twice_is_stored_once,
    another_receipt_with_a_stored_id_is_a_conflict,
    two_collectors_on_one_database_keep_one_chain,
    the_audit_names_an_altered_a_removed_and_a_reordered_row,
    retention_keeps_the_chain_and_the_audit_catches_an_early_deletion,
    notices_are_stored_once_per_hash,
    a_visitors_history_spans_sites_oldest_first,
    a_receipt_id_taken_first_by_another_key_still_stores_the_visitors_receipt,
    a_pruned_receipt_is_a_duplicate_of_itself_and_conflicts_with_nothing,
    a_cut_tail_with_a_rewritten_head_is_caught_by_a_checkpoint_saved_before,
    a_replaced_leaf_is_named_and_breaks_the_checkpoint,
    an_audit_while_receipts_arrive_is_never_a_false_alarm,
    an_altered_or_lost_tree_node_is_named_by_the_audit,
);

/// A restarted or failed-over PostgreSQL drops every connection; the same
/// collector must keep working without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_reconnects_after_its_connections_are_dropped() {
    let Some(Db::Postgres(url)) = Db::postgres() else {
        return;
    };
    let app = format!("reconnect{}", support::unique());
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = Db::Postgres(format!("{url}{sep}application_name={app}"));
    let store = db.open().await;
    let site = site("reconnect");
    append_n(&store, &site, 1).await;

    Db::Postgres(url)
        .tamper(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{app}'"
        ))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let ids = append_n(&store, &site, 1).await;
    assert!(matches!(
        store
            .get(&ids[0], None)
            .await
            .expect("read after reconnect"),
        Lookup::One(_)
    ));
    assert_eq!(store.head(&site).await.expect("head").map(|h| h.0), Some(2));
}

/// A database written before retention and before the transparency log (a
/// hash chain only) has no `pruned_at`, no leaf hashes, no tree and no
/// checkpoint; opening it adds them, its receipts becoming the leaves in seq
/// order, and it verifies, with every row and the chain as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_from_before_retention_is_migrated_in_place() {
    let dir = support::TempDir::new("migrate");
    let path = dir.0.join("consentry.db");
    let url = format!("sqlite://{}", path.display());
    let s = site("migrate");
    {
        let store = consentry_collector::Store::open(&url, support::signer(), support::origin())
            .await
            .expect("open");
        append_n(&store, &s, 2).await;
    }
    // Back to the old tables: every column but pruned_at and leaf_hash, a
    // head row with the chain only.
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch(
        "CREATE TABLE old AS SELECT site, seq, receipt_id, jws, jws_sha256, subject_key, \
         received_at, chain_hash, countersignature, issued_at, action, method FROM receipts;
         DROP TABLE receipts;
         ALTER TABLE old RENAME TO receipts;
         DROP TABLE log_nodes;
         ALTER TABLE site_heads DROP COLUMN tree;
         ALTER TABLE site_heads DROP COLUMN checkpoint;",
    )
    .expect("downgrade");
    drop(conn);
    let read = consentry_collector::Store::open_to_read(&url).await;
    assert!(
        read.as_ref()
            .is_err_and(|err| err.0.contains("predates the transparency log")),
        "{read:?}"
    );

    let store = consentry_collector::Store::open(&url, support::signer(), support::origin())
        .await
        .expect("reopen");
    let (size, _) = store
        .checkpoint(&s)
        .await
        .expect("read")
        .expect("a first checkpoint");
    assert_eq!(size, 2);
    append_n(&store, &s, 1).await;
    let report = audit_now(&store, &s).await;
    assert!(
        report.ok && report.receipts == 3 && report.checkpoint_size == 3,
        "{report:?}"
    );
    for row in store.page(&s, 0, 10).await.expect("page") {
        assert_eq!(
            row.leaf_hash,
            hex(&log::leaf_hash(row.jws.as_bytes())),
            "seq {}",
            row.seq
        );
    }
}

/// The newest receipts of a chain-only database removed before the upgrade
/// (its head row still counting them): the tree is not built over the rest,
/// which would hide the removal, and opening names what is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_only_database_missing_its_newest_receipts_is_not_migrated() {
    let dir = support::TempDir::new("migrate-cut");
    let path = dir.0.join("consentry.db");
    let url = format!("sqlite://{}", path.display());
    let s = site("migrate-cut");
    {
        let store = consentry_collector::Store::open(&url, support::signer(), support::origin())
            .await
            .expect("open");
        append_n(&store, &s, 4).await;
    }
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch(&format!(
        "ALTER TABLE receipts DROP COLUMN leaf_hash;
         DROP TABLE log_nodes;
         ALTER TABLE site_heads DROP COLUMN tree;
         ALTER TABLE site_heads DROP COLUMN checkpoint;
         DELETE FROM receipts WHERE site = '{s}' AND seq = 4;"
    ))
    .expect("downgrade and cut");
    drop(conn);
    let opened = consentry_collector::Store::open(&url, support::signer(), support::origin()).await;
    let err = opened.expect_err("refused");
    assert!(
        err.0
            .contains("head row counts 4 receipts and the last one stored is seq 3"),
        "{err}"
    );
}

/// The receipts table as collectors made it while a receipt was its id
/// alone: `receipt_id` UNIQUE as a column constraint.
const RECEIPTS_WITH_UNIQUE_IDS: &str = "CREATE TABLE receipts (
    site TEXT NOT NULL,
    seq BIGINT NOT NULL,
    receipt_id TEXT NOT NULL UNIQUE,
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
    PRIMARY KEY (site, seq)
)";

/// `(name, origin)` of every index of `receipts` ('u': a UNIQUE constraint).
fn sqlite_indexes(path: &std::path::Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(path).expect("open");
    let mut stmt = conn
        .prepare("SELECT name, origin FROM pragma_index_list('receipts') ORDER BY name")
        .expect("prepare");
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

/// SQLite cannot drop a column's UNIQUE: opening a database made with it
/// rebuilds the table, keeping every row as it was (pruned ones too) and
/// its indexes, and then a receipt under an id another key took is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_where_an_id_alone_was_unique_is_rebuilt_with_every_row() {
    let dir = support::TempDir::new("unique-ids");
    let path = dir.0.join("consentry.db");
    let url = format!("sqlite://{}", path.display());
    let (s, p) = (site("unique-ids"), site("unique-ids-pruned"));
    let (ids, before) = {
        let store = consentry_collector::Store::open(&url, support::signer(), support::origin())
            .await
            .expect("open");
        let ids = append_n(&store, &s, 2).await;
        append_n(&store, &p, 1).await;
        let (now, later) = (
            consentry_collector::store::now_rfc3339(),
            consentry_receipt::receipt::format_rfc3339_utc(consentry_collector::now_ms() + 1000),
        );
        assert_eq!(
            store
                .prune(&p, &later, &now, &prune_record(&p, &now))
                .await
                .expect("prune"),
            1
        );
        let mut rows = store.page(&s, 0, 100).await.expect("page");
        rows.extend(store.page(&p, 0, 100).await.expect("page"));
        (ids, rows)
    };
    // Back to the table of the previous release, with its indexes.
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch(&format!(
        "ALTER TABLE receipts RENAME TO receipts_today;
         {RECEIPTS_WITH_UNIQUE_IDS};
         INSERT INTO receipts SELECT site, seq, receipt_id, jws, jws_sha256, subject_key, \
         received_at, chain_hash, countersignature, issued_at, action, method, pruned_at \
         FROM receipts_today;
         DROP TABLE receipts_today;
         CREATE INDEX receipts_by_subject ON receipts (subject_key);
         CREATE INDEX receipts_kept_by_age ON receipts (site, received_at) \
         WHERE pruned_at IS NULL;
         DROP TABLE log_nodes;
         ALTER TABLE site_heads DROP COLUMN tree;
         ALTER TABLE site_heads DROP COLUMN checkpoint;"
    ))
    .expect("downgrade");
    // That release kept no leaf hashes: the migration computes the kept
    // rows' from their JWS (the same as before), and gives the row whose
    // JWS retention had erased the leaf of its stored hash.
    let before: Vec<_> = before
        .into_iter()
        .map(|mut row| {
            if row.pruned_at.is_some() {
                row.leaf_hash = consentry_receipt::verify::hex(
                    &consentry_collector::store::pruned_before_the_log_leaf(&row.jws_sha256),
                );
            }
            row
        })
        .collect();
    drop(conn);
    assert!(sqlite_indexes(&path)
        .iter()
        .any(|(_, origin)| origin == "u"));

    for _ in 0..2 {
        // Twice: a migrated database opens as it is.
        let store = consentry_collector::Store::open(&url, support::signer(), support::origin())
            .await
            .expect("reopen");
        let mut rows = store.page(&s, 0, 100).await.expect("page");
        rows.extend(store.page(&p, 0, 100).await.expect("page"));
        assert_eq!(rows, before);
        let names: Vec<String> = sqlite_indexes(&path)
            .into_iter()
            .filter(|(_, origin)| origin != "pk")
            .map(|(name, origin)| {
                assert_eq!(origin, "c", "{name}");
                name
            })
            .collect();
        assert_eq!(
            names,
            [
                "receipts_by_id",
                "receipts_by_subject",
                "receipts_kept_by_age",
                "receipts_one_per_key"
            ]
        );
    }

    let store = consentry_collector::Store::open(&url, support::signer(), support::origin())
        .await
        .expect("reopen");
    let squat = signed_by(&key_b(), &s, &ids[0], ISSUED);
    let outcome = store.append(new_receipt(&squat)).await.expect("squat");
    assert!(
        matches!(&outcome, Appended::New(row, _) if row.seq == 3),
        "{outcome:?}"
    );
    let report = audit_now(&store, &s).await;
    assert!(report.ok && report.receipts == 3, "{report:?}");
}

/// PostgreSQL drops the old `receipts_receipt_id_key` constraint (in a
/// schema of its own here, so the other tests' table is left alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_where_an_id_alone_was_unique_drops_that_constraint() {
    let Some(Db::Postgres(url)) = Db::postgres() else {
        return;
    };
    let schema = format!("unique_ids_{}", support::unique());
    let admin = Db::Postgres(url.clone());
    admin.tamper(&format!("CREATE SCHEMA {schema}")).await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = Db::Postgres(format!("{url}{sep}options=-csearch_path%3D{schema}"));
    let s = site("unique-ids");
    let ids = {
        let store = db.open().await;
        append_n(&store, &s, 2).await
    };
    // Back to the table of the previous release: the id alone is unique.
    db.tamper(
        "DROP INDEX receipts_one_per_key; DROP INDEX receipts_by_id; \
         ALTER TABLE receipts ADD CONSTRAINT receipts_receipt_id_key UNIQUE (receipt_id);",
    )
    .await;

    let store = db.open().await;
    let again = db.open().await;
    let squat = signed_by(&key_b(), &s, &ids[0], ISSUED);
    let outcome = store.append(new_receipt(&squat)).await.expect("squat");
    assert!(
        matches!(&outcome, Appended::New(row, _) if row.seq == 3),
        "{outcome:?}"
    );
    let report = audit_now(&again, &s).await;
    assert!(report.ok && report.receipts == 3, "{report:?}");
    admin.tamper(&format!("DROP SCHEMA {schema} CASCADE")).await;
}

/// A PostgreSQL database from before the transparency log (a chain only),
/// opened by two collectors at once: one builds every site's tree under the
/// schema lock, the other finds it built, and the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_from_before_the_log_gets_its_trees_once() {
    let Some(Db::Postgres(url)) = Db::postgres() else {
        return;
    };
    let schema = format!("chain_only_{}", support::unique());
    let admin = Db::Postgres(url.clone());
    admin.tamper(&format!("CREATE SCHEMA {schema}")).await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = Db::Postgres(format!("{url}{sep}options=-csearch_path%3D{schema}"));
    let s = site("chain-only");
    {
        let store = db.open().await;
        append_n(&store, &s, 5).await;
    }
    db.tamper(
        "ALTER TABLE receipts DROP COLUMN leaf_hash; \
         ALTER TABLE site_heads DROP COLUMN tree, DROP COLUMN checkpoint; \
         DROP TABLE log_nodes; DROP TABLE prune_records;",
    )
    .await;

    let (one, two) = tokio::join!(db.open(), db.open());
    let (size, _) = two.checkpoint(&s).await.expect("read").expect("built");
    assert_eq!(size, 5);
    append_n(&one, &s, 1).await;
    let report = audit_now(&two, &s).await;
    assert!(
        report.ok && report.receipts == 6 && report.checkpoint_size == 6,
        "{report:?}"
    );
    for row in one.page(&s, 0, 10).await.expect("page") {
        assert_eq!(
            row.leaf_hash,
            hex(&log::leaf_hash(row.jws.as_bytes())),
            "seq {}",
            row.seq
        );
    }
    admin.tamper(&format!("DROP SCHEMA {schema} CASCADE")).await;
}
