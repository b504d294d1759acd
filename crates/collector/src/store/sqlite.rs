//! SQLite: one file, WAL (readers never wait for the writer), and
//! `synchronous=FULL` so a committed batch survives a power cut.
//!
//! The writer and the reader keep their connections open for the life of
//! the process, so they hold the file itself, not its path: a file moved
//! away or replaced under a running collector would go on receiving its
//! receipts, unseen. [`DbFile`] remembers which file was opened and the
//! writer refuses every batch while the path names another one (or none).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use tokio::sync::mpsc;

use super::{
    answer, build_log, drain, node_key, now_rfc3339, plan, Appended, Head, Job, LegacyRow,
    NewReceipt, ProbeFailure, StoreError, StoredReceipt, Work, Written, BY_ID, BY_ID_AND_KEY,
    COLUMNS, HOLDS_RECEIPTS, INDEXES, INSERT_NOTICE, PROBE_READ, PROBE_WRITE, PRUNE_CHUNK,
    RECEIPTS_REBUILT, ROW_COLUMNS, SCHEMA,
};
use crate::keys::Countersigner;

fn connect(path: &str) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    // Another collector process (or the CLI) may hold the write lock for a
    // batch; wait for it rather than fail.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Creates a database file that does not exist yet with mode 0600 before
/// SQLite opens it: it holds every visitor's receipts, and SQLite would
/// create it 0644 (less the umask). SQLite gives the `-wal` and `-shm` files
/// the database file's mode, so they follow. An existing file keeps its mode.
fn create_private(path: &str) -> Result<(), StoreError> {
    // `:memory:` and `file:` URIs are not plain paths; SQLite makes those.
    if !is_plain_path(path) {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        // There already (or another process made it first): left as it is.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(StoreError(format!(
            "cannot create the database file {path}: {err}"
        ))),
    }
}

/// The database file the store opened, by device and inode: what its path
/// must still name for a batch to be written.
///
/// A file moved away (or deleted) fails the check until it is moved back.
/// A *new* file at the path (another database, an empty one, a restored
/// backup) fails it too, until the collector is restarted: the open
/// connections still hold the old file, and writing on into a file that no
/// path names would lose those receipts to everyone who opens the path.
/// Only the main file is checked: the `-wal` and `-shm` files follow it,
/// since SQLite names them after it and the open connections keep them.
/// Without Unix (no inode) and for `:memory:` or `file:` names, nothing is
/// checked.
pub(super) struct DbFile {
    path: PathBuf,
    /// `(device, inode)` at open; `None` when not checked.
    id: Option<(u64, u64)>,
}

impl DbFile {
    fn opened(path: &str) -> Result<DbFile, StoreError> {
        let path = PathBuf::from(path);
        let id = if is_plain_path(&path.to_string_lossy()) {
            file_id(&path).map_err(|err| {
                StoreError(format!(
                    "cannot read the database file {}: {err}",
                    path.display()
                ))
            })?
        } else {
            None
        };
        Ok(DbFile { path, id })
    }

    /// Whether the path still names the file opened. A `stat`: cheap
    /// enough to run before every batch.
    pub(super) fn check(&self) -> Result<(), ProbeFailure> {
        let Some(opened) = self.id else {
            return Ok(());
        };
        match file_id(&self.path) {
            Ok(Some(now)) if now == opened => Ok(()),
            Ok(_) => Err(ProbeFailure {
                reason: "the database path holds another file than the one opened; \
                    restart the collector to use it",
                cause: StoreError(format!(
                    "the database file {} is not the one this collector opened (another \
                    device or inode): receipts are refused rather than written into a file \
                    no path names; move the original back, or restart the collector to use \
                    the file now there",
                    self.path.display()
                )),
            }),
            Err(err) => Err(ProbeFailure {
                reason: "the database file was moved or deleted",
                cause: StoreError(format!(
                    "the database file {} is gone ({err}): receipts are refused until it is \
                    back at that path",
                    self.path.display()
                )),
            }),
        }
    }
}

/// `(device, inode)` of `path`; `None` where there are no inodes.
fn file_id(path: &std::path::Path) -> std::io::Result<Option<(u64, u64)>> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(Some((meta.dev(), meta.ino())))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Ok(None)
    }
}

/// A file path, not `:memory:` or a `file:` URI (which SQLite resolves).
fn is_plain_path(path: &str) -> bool {
    !(path.is_empty() || path == ":memory:" || path.starts_with("file:"))
}

pub(super) struct Reader {
    conn: Arc<Mutex<Connection>>,
    /// Shared with the writer, which checks it before each batch.
    file: Arc<DbFile>,
}

pub(super) fn open(
    path: &str,
    jobs: mpsc::Receiver<Job>,
    signer: Arc<Countersigner>,
    origin: super::Origin,
) -> Result<Reader, StoreError> {
    create_private(path)?;
    let mut writer = connect(path)?;
    // After the open: the file SQLite holds is the one recorded.
    let file = Arc::new(DbFile::opened(path)?);
    writer.execute_batch(SCHEMA)?;
    migrate(&mut writer, &signer, &origin)?;
    let reader = connect(path)?;
    let checked = Arc::clone(&file);
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || write_loop(writer, jobs, &checked, &signer, &origin))
        .map_err(|err| StoreError(format!("cannot start the writer thread: {err}")))?;
    Ok(Reader {
        conn: Arc::new(Mutex::new(reader)),
        file,
    })
}

/// An existing file, opened for reading only (see `Store::open_to_read`).
/// Not SQLite's read-only flag: reading a WAL database needs its `-shm`.
pub(super) fn open_to_read(path: &str) -> Result<Reader, StoreError> {
    if !std::path::Path::new(path).is_file() {
        return Err(StoreError(format!("no SQLite database at {path}")));
    }
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(Reader {
        conn: Arc::new(Mutex::new(conn)),
        file: Arc::new(DbFile::opened(path)?),
    })
}

/// Brings an older database to today's table, in one write transaction
/// (another process opening the file waits, then finds nothing to do):
/// - databases created before retention existed lack `pruned_at`;
/// - databases created when a receipt was its id alone have `receipt_id`
///   UNIQUE as a column constraint, which SQLite cannot drop: the table is
///   rebuilt (SQLite's documented way to change a table's constraints) with
///   every row and column as they were, then its indexes are made again;
/// - databases created before the tree (a hash chain only) gain the leaf
///   hashes, the nodes and a first signed checkpoint per site, their
///   receipts the leaves in seq order.
fn migrate(
    conn: &mut Connection,
    signer: &Countersigner,
    origin: &super::Origin,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (table, column) in [
        ("receipts", "pruned_at"),
        ("receipts", "leaf_hash"),
        ("site_heads", "tree"),
        ("site_heads", "checkpoint"),
    ] {
        let has: bool = tx.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |row| row.get(0),
        )?;
        if !has {
            tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT"))?;
        }
    }
    // A UNIQUE constraint's index has origin 'u' (ours are 'c': made by
    // CREATE INDEX; the primary key's is 'pk').
    let id_alone_unique: bool = tx.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_index_list('receipts') AS list \
         WHERE list.origin = 'u' AND (SELECT group_concat(info.name) \
         FROM pragma_index_info(list.name) AS info) = 'receipt_id'",
        [],
        |row| row.get(0),
    )?;
    if id_alone_unique {
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS receipts_rebuilt;
             {RECEIPTS_REBUILT};
             INSERT INTO receipts_rebuilt ({ROW_COLUMNS}) SELECT {ROW_COLUMNS} FROM receipts;
             DROP TABLE receipts;
             ALTER TABLE receipts_rebuilt RENAME TO receipts;"
        ))?;
    }
    for (_, index) in INDEXES {
        tx.execute_batch(index)?;
    }
    let unbuilt: Vec<(String, i64, String)> = tx
        .prepare(
            "SELECT site, seq, chain_hash FROM site_heads WHERE tree IS NULL AND seq > 0 ORDER BY site",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (site, head_seq, head_chain) in unbuilt {
        let rows: Vec<LegacyRow> = tx
            .prepare(
                "SELECT seq, jws, jws_sha256, leaf_hash, chain_hash FROM receipts WHERE site = ?1 ORDER BY seq",
            )?
            .query_map([&site], |row| {
                Ok(LegacyRow {
                    seq: row.get(0)?,
                    jws: row.get(1)?,
                    jws_sha256: row.get(2)?,
                    leaf_hash: row.get(3)?,
                    chain_hash: row.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let built = build_log(
            &site,
            (head_seq, &head_chain),
            rows,
            signer,
            &origin.of(&site),
        )?;
        let mut leaf =
            tx.prepare("UPDATE receipts SET leaf_hash = ?3 WHERE site = ?1 AND seq = ?2")?;
        for (seq, hash) in &built.leaves {
            leaf.execute(params![site, seq, hash])?;
        }
        let mut node = tx.prepare(
            "INSERT INTO log_nodes (site, level, idx, hash) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        )?;
        for n in &built.nodes {
            let (level, idx) = node_key(n.start, n.len);
            node.execute(params![site, level, idx, super::hex(&n.hash)])?;
        }
        tx.execute(
            "UPDATE site_heads SET seq = ?2, tree = ?3, checkpoint = ?4 WHERE site = ?1",
            params![
                site,
                built.tree.size() as i64,
                super::hex(&built.tree.to_bytes()),
                built.checkpoint
            ],
        )?;
        tracing::info!(
            "site {site}: built its log of {} receipts",
            built.tree.size()
        );
    }
    tx.commit()?;
    Ok(())
}

/// The one writer: a blocking thread, since every SQLite call blocks.
/// Each batch is refused whole while the path does not name the file the
/// store opened (see [`DbFile`]); a failed batch leaves the connection as
/// it was, so the next one succeeds as soon as the cause is gone.
fn write_loop(
    mut conn: Connection,
    mut jobs: mpsc::Receiver<Job>,
    file: &DbFile,
    signer: &Countersigner,
    origin: &super::Origin,
) {
    while let Some(first) = jobs.blocking_recv() {
        let batch = drain(first, &mut jobs);
        // Checked before BEGIN, not after COMMIT: a file moved in between
        // (a batch takes milliseconds) still has that batch, committed and
        // durable, and a retry of its receipts is answered as a duplicate.
        let outcome = match file.check() {
            Ok(()) => write_batch(&mut conn, &Work::of(&batch), signer, origin),
            Err(failure) => Err(failure.cause),
        };
        answer(batch, outcome);
    }
}

/// One transaction for the whole batch: receipts, notices, the probe's row.
fn write_batch(
    conn: &mut Connection,
    work: &Work<'_>,
    signer: &Countersigner,
    origin: &super::Origin,
) -> Result<Written, StoreError> {
    // IMMEDIATE takes the database write lock now: it is the head-row lock.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_rfc3339();
    let receipts = if work.receipts.is_empty() {
        Vec::new()
    } else {
        write_receipts(&tx, &work.receipts, signer, origin, &now)?
    };
    let mut notices = Vec::with_capacity(work.notices.len());
    if !work.notices.is_empty() {
        let mut insert = tx.prepare_cached(INSERT_NOTICE)?;
        for n in &work.notices {
            let inserted = insert.execute(params![n.sha256, n.site, n.text, n.received_at])?;
            notices.push(inserted == 1);
        }
    }
    if work.probe {
        tx.prepare_cached(PROBE_WRITE)?.execute([&now])?;
    }
    tx.commit()?;
    Ok(Written { receipts, notices })
}

fn write_receipts(
    tx: &Transaction<'_>,
    batch: &[&NewReceipt],
    signer: &Countersigner,
    origin: &super::Origin,
    now: &str,
) -> Result<Vec<Appended>, StoreError> {
    // One query for the whole batch's ids, every key's rows (a batch is far
    // below SQLite's 32 766 parameters).
    let mut existing: HashMap<String, Vec<StoredReceipt>> = HashMap::new();
    {
        let placeholders = vec!["?"; batch.len()].join(", ");
        let mut by_id = tx.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM receipts WHERE receipt_id IN ({placeholders})"
        ))?;
        let ids = batch.iter().map(|r| r.receipt_id.as_str());
        let rows = by_id.query_map(rusqlite::params_from_iter(ids), read_row)?;
        for row in rows {
            let row = row?;
            existing
                .entry(row.receipt_id.clone())
                .or_default()
                .push(row);
        }
    }
    let mut heads = BTreeMap::new();
    {
        let mut head =
            tx.prepare_cached("SELECT seq, chain_hash, tree FROM site_heads WHERE site = ?1")?;
        for r in batch {
            if heads.contains_key(&r.site) {
                continue;
            }
            let stored: Option<(i64, String, Option<String>)> = head
                .query_row([&r.site], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .optional()?;
            let value = match stored {
                Some((seq, chain, tree)) => Head::read(&r.site, seq, &chain, tree.as_deref())?,
                None => Head::genesis(),
            };
            heads.insert(r.site.clone(), value);
        }
    }
    let plan = plan(batch, existing, heads, signer, origin, now)?;
    {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO receipts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ))?;
        for row in plan.new_rows() {
            insert.execute(params![
                row.site,
                row.seq,
                row.receipt_id,
                row.jws,
                row.jws_sha256,
                row.subject_key,
                row.received_at,
                row.chain_hash,
                row.countersignature,
                row.issued_at,
                row.action,
                row.method,
                row.leaf_hash
            ])?;
        }
        let mut node = tx.prepare_cached(
            "INSERT INTO log_nodes (site, level, idx, hash) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (site, n) in &plan.nodes {
            let (level, idx) = node_key(n.start, n.len);
            node.execute(params![site, level, idx, super::hex(&n.hash)])?;
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO site_heads (site, seq, chain_hash, tree, checkpoint) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (site) DO UPDATE SET seq = excluded.seq, chain_hash = excluded.chain_hash,
             tree = excluded.tree, checkpoint = excluded.checkpoint",
        )?;
        for (site, head) in &plan.heads {
            upsert.execute(params![
                site,
                head.seq,
                head.chain,
                head.tree,
                &*head.checkpoint
            ])?;
        }
    }
    Ok(plan.outcomes)
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<StoredReceipt> {
    Ok(StoredReceipt {
        site: row.get(0)?,
        seq: row.get(1)?,
        receipt_id: row.get(2)?,
        jws: row.get(3)?,
        jws_sha256: row.get(4)?,
        subject_key: row.get(5)?,
        received_at: row.get(6)?,
        chain_hash: row.get(7)?,
        countersignature: row.get(8)?,
        issued_at: row.get(9)?,
        action: row.get(10)?,
        method: row.get(11)?,
        // NULL only before the migration at open has run.
        leaf_hash: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
        pruned_at: row.get(13)?,
    })
}

impl Reader {
    /// Runs `f` on the read connection in the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let conn = conn
                .lock()
                .map_err(|_| StoreError("sqlite reader poisoned".into()))?;
            f(&conn)
        })
        .await
        .map_err(|err| StoreError(format!("sqlite reader task: {err}")))?
    }

    /// `$1`, `$2` are named parameters to SQLite, numbered in order of
    /// appearance, so the statements PostgreSQL runs serve here too.
    pub(super) async fn by_id(
        &self,
        id: String,
        key: Option<String>,
    ) -> Result<Vec<StoredReceipt>, StoreError> {
        self.with(move |c| {
            let rows = match key {
                Some(key) => c
                    .prepare_cached(BY_ID_AND_KEY)?
                    .query_map(params![id, key], read_row)?
                    .collect::<Result<_, _>>()?,
                None => c
                    .prepare_cached(BY_ID)?
                    .query_map(params![id], read_row)?
                    .collect::<Result<_, _>>()?,
            };
            Ok(rows)
        })
        .await
    }

    pub(super) async fn by_subject(
        &self,
        key: String,
        limit: usize,
    ) -> Result<Vec<StoredReceipt>, StoreError> {
        self.with(move |c| {
            let sql = format!(
                "SELECT {ROW_COLUMNS} FROM receipts WHERE subject_key = ?1 \
                 ORDER BY received_at, site, seq LIMIT ?2"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![key, limit as i64], read_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub(super) async fn page(
        &self,
        site: String,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredReceipt>, StoreError> {
        self.with(move |c| {
            let sql = format!(
                "SELECT {ROW_COLUMNS} FROM receipts WHERE site = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![site, after, limit as i64], read_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub(super) async fn head(&self, site: String) -> Result<Option<(i64, String)>, StoreError> {
        self.with(move |c| {
            Ok(
                c.prepare_cached("SELECT seq, chain_hash FROM site_heads WHERE site = ?1")?
                    .query_row([site], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()?,
            )
        })
        .await
    }

    pub(super) async fn sites(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT site FROM site_heads ORDER BY site")?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Every kid the store knew before; `kids` are added only when they
    /// include all of those (else nothing is written).
    pub(super) async fn register_keys(
        &self,
        kids: Vec<String>,
        now: String,
    ) -> Result<Vec<String>, StoreError> {
        self.with(move |c| {
            let tx = c.unchecked_transaction()?;
            let known = tx
                .prepare("SELECT kid FROM signing_keys ORDER BY added_at, kid")?
                .query_map([], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            if known.iter().all(|k| kids.contains(k)) {
                for kid in &kids {
                    tx.execute(
                        "INSERT INTO signing_keys (kid, added_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                        params![kid, now],
                    )?;
                }
                tx.commit()?;
            }
            Ok(known)
        })
        .await
    }

    pub(super) async fn is_empty(&self) -> Result<bool, StoreError> {
        self.with(|c| {
            let holds: bool = c.query_row(HOLDS_RECEIPTS, [], |row| row.get(0))?;
            Ok(!holds)
        })
        .await
    }

    /// The file check of [`Store::probe`](super::Store::probe).
    pub(super) fn check_file(&self) -> Result<(), ProbeFailure> {
        self.file.check()
    }

    /// The probe's read, on the reader's connection.
    pub(super) async fn probe(&self) -> Result<(), StoreError> {
        self.with(|c| {
            c.prepare_cached(PROBE_READ)?
                .query_row([], |row| row.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }

    pub(super) async fn prune(
        &self,
        site: String,
        cutoff: String,
        now: String,
        record: String,
    ) -> Result<u64, StoreError> {
        // The one write on this connection: refused, like the writer's
        // batches, while the path names another file than the one opened.
        self.file.check().map_err(|failure| failure.cause)?;
        self.with(move |c| {
            let tx = c.unchecked_transaction()?;
            let pruned = tx
                .prepare_cached(
                    "UPDATE receipts SET jws = '', subject_key = '', pruned_at = ?3 \
                     WHERE site = ?1 AND seq IN (SELECT seq FROM receipts WHERE site = ?1 \
                     AND pruned_at IS NULL AND received_at < ?2 LIMIT ?4)",
                )?
                .execute(params![site, cutoff, now, PRUNE_CHUNK])?;
            if pruned > 0 {
                tx.execute(
                    "INSERT INTO prune_records (site, pruned_at, record) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                    params![site, now, record],
                )?;
            }
            tx.commit()?;
            Ok(pruned as u64)
        })
        .await
    }

    pub(super) async fn prune_records(&self, site: String) -> Result<Vec<String>, StoreError> {
        self.with(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT record FROM prune_records WHERE site = ?1 ORDER BY pruned_at",
            )?;
            let rows = stmt.query_map([site], |row| row.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub(super) async fn checkpoint(
        &self,
        site: String,
    ) -> Result<Option<(u64, String)>, StoreError> {
        self.with(move |c| {
            let found: Option<(i64, Option<String>)> = c
                .prepare_cached("SELECT seq, checkpoint FROM site_heads WHERE site = ?1")?
                .query_row([site], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            Ok(found.and_then(|(seq, text)| Some((u64::try_from(seq).ok()?, text?))))
        })
        .await
    }

    /// The stored hashes of these subtrees: a leaf's from its row, a larger
    /// one's from `log_nodes`. Absent ones are left out.
    pub(super) async fn subtrees(
        &self,
        site: String,
        needed: Vec<(u64, u64)>,
    ) -> Result<Vec<((u64, u64), String)>, StoreError> {
        self.with(move |c| {
            let mut leaf = c.prepare_cached(
                "SELECT leaf_hash FROM receipts WHERE site = ?1 AND seq = ?2 AND leaf_hash IS NOT NULL",
            )?;
            let mut node =
                c.prepare_cached("SELECT hash FROM log_nodes WHERE site = ?1 AND level = ?2 AND idx = ?3")?;
            let mut found = Vec::with_capacity(needed.len());
            for (start, len) in needed {
                let hash: Option<String> = if len == 1 {
                    leaf.query_row(params![site, start as i64 + 1], |row| row.get(0))
                        .optional()?
                } else {
                    let (level, idx) = node_key(start, len);
                    node.query_row(params![site, level, idx], |row| row.get(0))
                        .optional()?
                };
                if let Some(hash) = hash {
                    found.push(((start, len), hash));
                }
            }
            Ok(found)
        })
        .await
    }

    pub(super) async fn get_notice(&self, sha256: String) -> Result<Option<String>, StoreError> {
        self.with(move |c| {
            Ok(
                c.prepare_cached("SELECT text FROM notices WHERE sha256 = ?1")?
                    .query_row([sha256], |row| row.get(0))
                    .optional()?,
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::keys::Countersigner;
    use crate::store::{Origin, Store};

    /// Notices queued while the writer waits are written by its next batch,
    /// in one transaction, and a text repeated inside that batch is "new"
    /// only for its first copy.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn notices_queued_together_are_one_batch_and_each_text_is_new_once() {
        let dir = std::env::temp_dir().join(format!(
            "consentry-sqlite-notices-{}-{}",
            std::process::id(),
            crate::now_ms()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("consentry.db");
        let signer = Arc::new(Countersigner::from_seed(&[7u8; 32]).expect("key"));
        let origin = Origin::new("test.example/consentry").expect("origin");
        let store = Store::open(&format!("sqlite://{}", path.display()), signer, origin)
            .await
            .expect("open");

        // Another process holds the write lock: the writer's first batch
        // waits for it, and everything queued meanwhile is the next batch.
        let other = rusqlite::Connection::open(&path).expect("other");
        other.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let put = |i: usize| {
            let store = store.clone();
            let text = format!("{{\"site\":\"s\",\"v\":{}}}", i % 4);
            async move {
                let sha = consentry_receipt::verify::sha256_hex(text.as_bytes());
                store
                    .put_notice(&sha, "s", &text, "2026-11-23T18:30:00.000Z")
                    .await
            }
        };
        let first = tokio::spawn(put(0));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let rest: Vec<_> = (1..40).map(|i| tokio::spawn(put(i))).collect();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        other.execute_batch("COMMIT").expect("unlock");

        assert!(
            first.await.expect("task").expect("first"),
            "the first is new"
        );
        let mut new = 0;
        for task in rest {
            new += usize::from(task.await.expect("task").expect("put"));
        }
        // Texts 1, 2 and 3 are new once each; text 0 was stored first.
        assert_eq!(new, 3);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
