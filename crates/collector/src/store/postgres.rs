//! PostgreSQL: the scale-out store. Collectors are stateless; any number of
//! them can write to one database, because every batch locks the head rows
//! of the sites it appends to (`SELECT … FOR UPDATE`, in site order so two
//! writers never deadlock) before reading them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use futures_util::future::try_join_all;
use tokio::sync::mpsc;
use tokio_postgres::{Client, NoTls, Row};

use super::{
    answer, build_log, drain, hex, node_key, now_rfc3339, plan, Appended, Head, Job, LegacyRow,
    NewReceipt, Origin, StoreError, StoredReceipt, BY_ID, BY_ID_AND_KEY, COLUMNS, GENESIS,
    HOLDS_RECEIPTS, INDEXES, PRUNE_CHUNK, ROW_COLUMNS, SCHEMA,
};
use crate::keys::Countersigner;

/// Any fixed number: collectors starting together create the tables one at a time.
const SCHEMA_LOCK: i64 = 0x636f_6e73_656e_7472;

async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::error!("postgres connection: {err}");
        }
    });
    Ok(client)
}

/// The read connection, replaced when it drops (a restarted or failed-over
/// database), so a long-running collector recovers without a restart.
pub(super) struct Reader {
    url: String,
    client: tokio::sync::RwLock<Arc<Client>>,
}

pub(super) async fn open(
    url: &str,
    jobs: mpsc::Receiver<Job>,
    signer: Arc<Countersigner>,
    origin: Origin,
) -> Result<Reader, StoreError> {
    let mut writer = connect(url).await?;
    let tx = writer.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await?;
    tx.batch_execute(SCHEMA).await?;
    // Older databases lack `pruned_at` (made before retention existed) or
    // indexes, or still have `receipt_id` UNIQUE on its own (made when a
    // receipt was its id alone). Looked up first: ALTER TABLE and CREATE
    // INDEX lock the table even when there is nothing to do, and other
    // collectors are writing.
    let found = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'receipts' \
             AND column_name = 'pruned_at'), \
             EXISTS (SELECT 1 FROM information_schema.table_constraints \
             WHERE table_schema = current_schema() AND table_name = 'receipts' \
             AND constraint_name = 'receipts_receipt_id_key'), \
             ARRAY(SELECT indexname::text FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename = 'receipts'), \
             ARRAY(SELECT table_name::text || '.' || column_name::text \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name IN ('receipts', 'site_heads'))",
            &[],
        )
        .await?;
    let (has_pruned_at, id_alone_unique, indexes, columns): (bool, bool, Vec<String>, Vec<String>) =
        (found.get(0), found.get(1), found.get(2), found.get(3));
    if !has_pruned_at {
        tx.batch_execute("ALTER TABLE receipts ADD COLUMN pruned_at TEXT")
            .await?;
    }
    // Made before the tree: a hash chain only.
    for column in [
        "receipts.leaf_hash",
        "site_heads.tree",
        "site_heads.checkpoint",
    ] {
        if !columns.iter().any(|have| have == column) {
            let (table, name) = column.split_once('.').unwrap_or_default();
            tx.batch_execute(&format!("ALTER TABLE {table} ADD COLUMN {name} TEXT"))
                .await?;
        }
    }
    for (name, index) in INDEXES {
        if !indexes.iter().any(|have| have == name) {
            tx.batch_execute(index).await?;
        }
    }
    // Dropped after `receipts_one_per_key` exists, so receipts are never
    // left without a uniqueness rule.
    if id_alone_unique {
        tx.batch_execute("ALTER TABLE receipts DROP CONSTRAINT IF EXISTS receipts_receipt_id_key")
            .await?;
    }
    build_missing_logs(&tx, &signer, &origin).await?;
    tx.commit().await?;
    let reader = connect(url).await?;
    tokio::spawn(write_loop(url.to_owned(), writer, jobs, signer, origin));
    Ok(Reader {
        url: url.to_owned(),
        client: tokio::sync::RwLock::new(Arc::new(reader)),
    })
}

/// The sites whose receipts were written before the tree get their log:
/// leaf hashes, nodes, head and a first checkpoint (see `build_log`), under
/// their head rows' locks.
async fn build_missing_logs(
    tx: &tokio_postgres::Transaction<'_>,
    signer: &Countersigner,
    origin: &Origin,
) -> Result<(), StoreError> {
    let unbuilt = tx
        .query(
            "SELECT site, seq, chain_hash FROM site_heads WHERE tree IS NULL AND seq > 0 \
             ORDER BY site FOR UPDATE",
            &[],
        )
        .await?;
    for head in &unbuilt {
        let (site, head_seq, head_chain): (String, i64, String) =
            (head.get(0), head.get(1), head.get(2));
        let rows = tx
            .query(
                "SELECT seq, jws, jws_sha256, leaf_hash, chain_hash FROM receipts \
                 WHERE site = $1 ORDER BY seq",
                &[&site],
            )
            .await?
            .iter()
            .map(|row| LegacyRow {
                seq: row.get(0),
                jws: row.get(1),
                jws_sha256: row.get(2),
                leaf_hash: row.get(3),
                chain_hash: row.get(4),
            })
            .collect();
        let built = build_log(
            &site,
            (head_seq, &head_chain),
            rows,
            signer,
            &origin.of(&site),
        )?;
        for (seq, hash) in &built.leaves {
            tx.execute(
                "UPDATE receipts SET leaf_hash = $3 WHERE site = $1 AND seq = $2",
                &[&site, seq, hash],
            )
            .await?;
        }
        insert_nodes(tx, built.nodes.iter().map(|n| (site.as_str(), n))).await?;
        let size = built.tree.size() as i64;
        tx.execute(
            "UPDATE site_heads SET seq = $2, tree = $3, checkpoint = $4 WHERE site = $1",
            &[
                &site,
                &size,
                &hex(&built.tree.to_bytes()),
                &built.checkpoint,
            ],
        )
        .await?;
        tracing::info!("site {site}: built its log of {size} receipts");
    }
    Ok(())
}

/// One INSERT for every node: arrays unnested, not a round trip each.
async fn insert_nodes<'a>(
    tx: &tokio_postgres::Transaction<'_>,
    nodes: impl Iterator<Item = (&'a str, &'a crate::log::Subtree)>,
) -> Result<(), StoreError> {
    let (mut sites, mut levels, mut idxs, mut hashes) = (vec![], vec![], vec![], vec![]);
    for (site, n) in nodes {
        let (level, idx) = node_key(n.start, n.len);
        sites.push(site);
        levels.push(level);
        idxs.push(idx);
        hashes.push(hex(&n.hash));
    }
    if sites.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO log_nodes (site, level, idx, hash) \
         SELECT * FROM UNNEST($1::text[], $2::int[], $3::bigint[], $4::text[])",
        &[&sites, &levels, &idxs, &hashes],
    )
    .await?;
    Ok(())
}

/// A read connection only (see `Store::open_to_read`).
pub(super) async fn open_to_read(url: &str) -> Result<Reader, StoreError> {
    let reader = connect(url).await?;
    Ok(Reader {
        url: url.to_owned(),
        client: tokio::sync::RwLock::new(Arc::new(reader)),
    })
}

async fn write_loop(
    url: String,
    mut client: Client,
    mut jobs: mpsc::Receiver<Job>,
    signer: Arc<Countersigner>,
    origin: Origin,
) {
    while let Some(first) = jobs.recv().await {
        let batch = drain(first, &mut jobs);
        // A restarted or failed-over database: reconnect rather than fail
        // every batch from now on.
        if client.is_closed() {
            match connect(&url).await {
                Ok(fresh) => client = fresh,
                Err(err) => {
                    answer(batch, Err(err));
                    continue;
                }
            }
        }
        let receipts: Vec<&NewReceipt> = batch.iter().map(|job| &job.receipt).collect();
        let mut outcome = write_batch(&mut client, &receipts, &signer, &origin).await;
        // The batch rolled back as a whole. Once more: a receipt (same id,
        // same key) that another collector committed for another site in the
        // meantime (unique violation) is then seen as stored and answered as
        // a duplicate or a conflict.
        if outcome.is_err() && !client.is_closed() {
            outcome = write_batch(&mut client, &receipts, &signer, &origin).await;
        }
        answer(batch, outcome);
    }
}

async fn write_batch(
    client: &mut Client,
    batch: &[&NewReceipt],
    signer: &Countersigner,
    origin: &Origin,
) -> Result<Vec<Appended>, StoreError> {
    let tx = client.transaction().await?;
    let sites: BTreeSet<&str> = batch.iter().map(|r| r.site.as_str()).collect();
    let genesis = consentry_receipt::verify::hex(&GENESIS);
    let mut heads = BTreeMap::new();
    for site in sites {
        tx.execute(
            "INSERT INTO site_heads (site, seq, chain_hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
            &[&site, &genesis],
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT seq, chain_hash, tree FROM site_heads WHERE site = $1 FOR UPDATE",
                &[&site],
            )
            .await?;
        let tree: Option<String> = row.get(2);
        let head = Head::read(site, row.get(0), row.get(1), tree.as_deref())?;
        heads.insert(site.to_owned(), head);
    }
    // Read under the head locks: a concurrent writer of the same receipt
    // (same site) has committed or not started. Every key's rows of these ids.
    let ids: Vec<&str> = batch.iter().map(|r| r.receipt_id.as_str()).collect();
    let mut existing: HashMap<String, Vec<StoredReceipt>> = HashMap::new();
    let rows = tx
        .query(
            &format!("SELECT {ROW_COLUMNS} FROM receipts WHERE receipt_id = ANY($1)"),
            &[&ids],
        )
        .await?;
    for row in rows.iter().map(read_row) {
        existing
            .entry(row.receipt_id.clone())
            .or_default()
            .push(row);
    }

    let plan = plan(batch, existing, heads, signer, origin, &now_rfc3339())?;
    let insert = tx
        .prepare(&format!(
            "INSERT INTO receipts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .await?;
    // Pipelined: tokio-postgres sends them all before waiting for replies.
    try_join_all(plan.new_rows().map(|row| async {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 13] = [
            &row.site,
            &row.seq,
            &row.receipt_id,
            &row.jws,
            &row.jws_sha256,
            &row.subject_key,
            &row.received_at,
            &row.chain_hash,
            &row.countersignature,
            &row.issued_at,
            &row.action,
            &row.method,
            &row.leaf_hash,
        ];
        tx.execute(&insert, &params).await
    }))
    .await?;
    insert_nodes(&tx, plan.nodes.iter().map(|(site, n)| (site.as_str(), n))).await?;
    for (site, head) in &plan.heads {
        tx.execute(
            "UPDATE site_heads SET seq = $2, chain_hash = $3, tree = $4, checkpoint = $5 WHERE site = $1",
            &[site, &head.seq, &head.chain, &head.tree, &&*head.checkpoint],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(plan.outcomes)
}

fn read_row(row: &Row) -> StoredReceipt {
    StoredReceipt {
        site: row.get(0),
        seq: row.get(1),
        receipt_id: row.get(2),
        jws: row.get(3),
        jws_sha256: row.get(4),
        subject_key: row.get(5),
        received_at: row.get(6),
        chain_hash: row.get(7),
        countersignature: row.get(8),
        issued_at: row.get(9),
        action: row.get(10),
        method: row.get(11),
        // NULL only before the migration at open has run.
        leaf_hash: row.get::<_, Option<String>>(12).unwrap_or_default(),
        pruned_at: row.get(13),
    }
}

impl Reader {
    async fn client(&self) -> Result<Arc<Client>, StoreError> {
        let current = Arc::clone(&*self.client.read().await);
        if !current.is_closed() {
            return Ok(current);
        }
        let mut slot = self.client.write().await;
        if slot.is_closed() {
            *slot = Arc::new(connect(&self.url).await?);
        }
        Ok(Arc::clone(&*slot))
    }

    pub(super) async fn by_id(
        &self,
        id: &str,
        key: Option<&str>,
    ) -> Result<Vec<StoredReceipt>, StoreError> {
        let client = self.client().await?;
        let rows = match key {
            Some(key) => client.query(BY_ID_AND_KEY, &[&id, &key]).await?,
            None => client.query(BY_ID, &[&id]).await?,
        };
        Ok(rows.iter().map(read_row).collect())
    }

    pub(super) async fn by_subject(
        &self,
        key: &str,
        limit: usize,
    ) -> Result<Vec<StoredReceipt>, StoreError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM receipts WHERE subject_key = $1 \
             ORDER BY received_at, site, seq LIMIT $2"
        );
        let limit = limit as i64;
        let rows = self.client().await?.query(&sql, &[&key, &limit]).await?;
        Ok(rows.iter().map(read_row).collect())
    }

    pub(super) async fn page(
        &self,
        site: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredReceipt>, StoreError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM receipts WHERE site = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let limit = limit as i64;
        let rows = self
            .client()
            .await?
            .query(&sql, &[&site, &after, &limit])
            .await?;
        Ok(rows.iter().map(read_row).collect())
    }

    pub(super) async fn head(&self, site: &str) -> Result<Option<(i64, String)>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT seq, chain_hash FROM site_heads WHERE site = $1 AND seq > 0",
                &[&site],
            )
            .await?;
        Ok(row.map(|row| (row.get(0), row.get(1))))
    }

    pub(super) async fn sites(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT site FROM site_heads WHERE seq > 0 ORDER BY site",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    pub(super) async fn is_empty(&self) -> Result<bool, StoreError> {
        let row = self.client().await?.query_one(HOLDS_RECEIPTS, &[]).await?;
        Ok(!row.get::<_, bool>(0))
    }

    pub(super) async fn put_notice(
        &self,
        sha256: &str,
        site: &str,
        text: &str,
        received_at: &str,
    ) -> Result<bool, StoreError> {
        let inserted = self
            .client()
            .await?
            .execute(
                "INSERT INTO notices (sha256, site, text, received_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (sha256) DO NOTHING",
                &[&sha256, &site, &text, &received_at],
            )
            .await?;
        Ok(inserted == 1)
    }

    pub(super) async fn prune(
        &self,
        site: &str,
        cutoff: &str,
        now: &str,
        record: &str,
    ) -> Result<u64, StoreError> {
        // Its own connection: a transaction needs `&mut Client`, and the
        // shared reader serves other requests meanwhile.
        let mut client = connect(&self.url).await?;
        let tx = client.transaction().await?;
        let pruned = tx
            .execute(
                "UPDATE receipts SET jws = '', subject_key = '', pruned_at = $3 \
                 WHERE site = $1 AND seq IN (SELECT seq FROM receipts WHERE site = $1 \
                 AND pruned_at IS NULL AND received_at < $2 LIMIT $4)",
                &[&site, &cutoff, &now, &PRUNE_CHUNK],
            )
            .await?;
        if pruned > 0 {
            tx.execute(
                "INSERT INTO prune_records (site, pruned_at, record) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&site, &now, &record],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(pruned)
    }

    pub(super) async fn prune_records(&self, site: &str) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT record FROM prune_records WHERE site = $1 ORDER BY pruned_at",
                &[&site],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    pub(super) async fn checkpoint(&self, site: &str) -> Result<Option<(u64, String)>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT seq, checkpoint FROM site_heads WHERE site = $1 AND checkpoint IS NOT NULL",
                &[&site],
            )
            .await?;
        Ok(row.and_then(|row| Some((u64::try_from(row.get::<_, i64>(0)).ok()?, row.get(1)))))
    }

    /// The stored hashes of these subtrees (see the SQLite reader), two reads.
    pub(super) async fn subtrees(
        &self,
        site: &str,
        needed: &[(u64, u64)],
    ) -> Result<Vec<((u64, u64), String)>, StoreError> {
        let client = self.client().await?;
        let seqs: Vec<i64> = needed
            .iter()
            .filter(|(_, len)| *len == 1)
            .map(|(start, _)| *start as i64 + 1)
            .collect();
        let (levels, idxs): (Vec<i32>, Vec<i64>) = needed
            .iter()
            .filter(|(_, len)| *len > 1)
            .map(|&(start, len)| node_key(start, len))
            .unzip();
        let mut found = Vec::with_capacity(needed.len());
        if !seqs.is_empty() {
            for row in client
                .query(
                    "SELECT seq, leaf_hash FROM receipts WHERE site = $1 AND seq = ANY($2) \
                     AND leaf_hash IS NOT NULL",
                    &[&site, &seqs],
                )
                .await?
            {
                found.push((((row.get::<_, i64>(0) - 1) as u64, 1), row.get(1)));
            }
        }
        if !levels.is_empty() {
            for row in client
                .query(
                    "SELECT n.level, n.idx, n.hash FROM log_nodes n \
                     JOIN UNNEST($2::int[], $3::bigint[]) AS want(level, idx) \
                     ON n.level = want.level AND n.idx = want.idx WHERE n.site = $1",
                    &[&site, &levels, &idxs],
                )
                .await?
            {
                let len = 1u64 << row.get::<_, i32>(0);
                let start = row.get::<_, i64>(1) as u64 * len;
                found.push(((start, len), row.get(2)));
            }
        }
        Ok(found)
    }

    pub(super) async fn get_notice(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT text FROM notices WHERE sha256 = $1", &[&sha256])
            .await?;
        Ok(row.map(|row| row.get(0)))
    }
}
