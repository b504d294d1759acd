//! PostgreSQL: the scale-out store. Collectors are stateless; any number of
//! them can write to one database, because every batch locks the head rows
//! of the sites it appends to (`SELECT … FOR UPDATE`, in site order so two
//! writers never deadlock) before reading them.
//!
//! # Connections
//!
//! Every connection (the writer's, the reader's, a retention pass's) is
//! made by one [`Connector`], from the URL with these defaults:
//!
//! - **connect timeout** 10 s ([`CONNECT_TIMEOUT`]) unless the URL sets
//!   `connect_timeout`, bounding the whole connect (TCP, TLS, login), not
//!   only the TCP attempt tokio-postgres bounds;
//! - **statement timeout** 30 s ([`STATEMENT_TIMEOUT`]), `SET` after login
//!   (a startup `options` parameter is refused by PgBouncer), unless the
//!   URL's `options` set `statement_timeout`; the migration at start lifts it
//!   for its own transaction;
//! - **TLS** as the URL's `sslmode` asks (see [`TlsMode`]): rustls on ring,
//!   verifying the server's certificate and host name against Mozilla's
//!   roots, or the CA file `sslrootcert` names.
//!
//! A failed batch (after its one retry, or given up on after
//! [`BATCH_TIMEOUT`]) drops the writer's connection, and the next batch
//! connects afresh: a session left on a read-only server by a
//! failover, or holding a setting changed since, never outlives the failure.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::try_join_all;
use tokio::sync::mpsc;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls, Row, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{
    answer, build_log, drain, hex, node_key, now_rfc3339, plan, Appended, Head, Job, LegacyRow,
    NewReceipt, Origin, StoreError, StoredReceipt, Work, Written, BY_ID, BY_ID_AND_KEY, COLUMNS,
    GENESIS, HOLDS_RECEIPTS, INDEXES, INSERT_NOTICE, PROBE_READ, PROBE_WRITE, PRUNE_CHUNK,
    ROW_COLUMNS, SCHEMA,
};
use crate::keys::Countersigner;

/// Any fixed number: collectors starting together create the tables one at a time.
const SCHEMA_LOCK: i64 = 0x636f_6e73_656e_7472;

/// A connection not made by then is given up (libpq has no default; ours
/// is generous for a database across a network and short enough that a
/// writer facing a dead address answers its batch within the widget's
/// patience, which sends it again later).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Every statement the collector runs takes milliseconds (a batch's, a
/// page of an export of 500 rows, a prune chunk of 1000): one still running
/// after 30 s waits on a lock someone forgot, or a server in trouble, and
/// holding the writer that long helps no one.
pub const STATEMENT_TIMEOUT: &str = "30s";
/// A batch not committed by then is given up and its connection dropped:
/// the server or the network hangs, where the server's statement timeout
/// cannot fire. Receipts answered so may still have committed; their
/// retries are then answered as duplicates.
const BATCH_TIMEOUT: Duration = Duration::from_secs(30);

/// What `sslmode` asks, in libpq's words; tokio-postgres itself knows only
/// `disable`, `prefer` and `require`, and never verifies anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    /// `disable`, `allow`, or no `sslmode`: plain TCP, as this collector
    /// always connected. (`allow` would try TLS after a refusal; a server
    /// that demands TLS wants `require`.)
    Off,
    /// `prefer`: TLS when the server offers it, plain TCP when it does not
    /// (libpq's default, kept for URLs that say so). Unlike libpq, a server
    /// that offers TLS must pass verification: an unverifiable certificate
    /// is an error, never a silent plain connection.
    Prefer,
    /// `require`, `verify-ca`, `verify-full`: TLS or no connection, and the
    /// certificate's chain and host name are verified in all three (libpq's
    /// `require` checks neither, `verify-ca` not the name: stricter here,
    /// since a receipt store is worth an attacker's while).
    Require,
}

/// How every connection to the store is made (see the module docs).
pub(super) struct Connector {
    config: Config,
    tls: Option<MakeRustlsConnect>,
    /// The whole connect's bound: `connect_timeout` per address tried.
    timeout: Duration,
    /// Run after login, unless the URL's own `options` set the timeout.
    setup: Option<String>,
}

impl Connector {
    /// Never echoes the URL, which may hold a password.
    pub(super) fn new(url: &str) -> Result<Connector, StoreError> {
        let (rest, mode, root_file) = tls_settings(url)?;
        let mut config: Config = rest
            .parse()
            .map_err(|err| StoreError(format!("postgres URL: {err}")))?;
        config.ssl_mode(match mode {
            TlsMode::Off => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require => SslMode::Require,
        });
        let per_attempt = match config.get_connect_timeout() {
            Some(set) => *set,
            None => {
                config.connect_timeout(CONNECT_TIMEOUT);
                CONNECT_TIMEOUT
            }
        };
        let addresses = config.get_hosts().len().max(config.get_hostaddrs().len());
        let timeout = per_attempt.saturating_mul(u32::try_from(addresses.max(1)).unwrap_or(1));
        let setup = match config.get_options() {
            Some(options) if options.contains("statement_timeout") => None,
            _ => Some(format!("SET statement_timeout = '{STATEMENT_TIMEOUT}'")),
        };
        let tls = match mode {
            TlsMode::Off => None,
            TlsMode::Prefer | TlsMode::Require => Some(rustls_connector(root_file.as_deref())?),
        };
        Ok(Connector {
            config,
            tls,
            timeout,
            setup,
        })
    }

    async fn connect(&self) -> Result<Client, StoreError> {
        let connecting = async {
            let client = match &self.tls {
                None => drive(self.config.connect(NoTls).await?),
                Some(tls) => drive(self.config.connect(tls.clone()).await?),
            };
            if let Some(setup) = &self.setup {
                client.batch_execute(setup).await?;
            }
            Ok(client)
        };
        tokio::time::timeout(self.timeout, connecting)
            .await
            .map_err(|_| {
                StoreError(format!(
                    "postgres: no connection within {} s",
                    self.timeout.as_secs()
                ))
            })?
    }
}

/// Runs a connection's I/O on its own task; the client is what is used.
fn drive<T>((client, connection): (Client, tokio_postgres::Connection<Socket, T>)) -> Client
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::error!("postgres connection: {err}");
        }
    });
    client
}

/// Takes `sslmode` and `sslrootcert` out of the URL's query (tokio-postgres
/// refuses libpq's `verify-ca`, `verify-full` and `allow`, and knows no
/// `sslrootcert`): the rest of the URL, the mode, and the CA file if any.
fn tls_settings(url: &str) -> Result<(String, TlsMode, Option<String>), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), TlsMode::Off, None));
    };
    let (mut mode, mut root_file, mut kept) = (TlsMode::Off, None, Vec::new());
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                mode = match percent_decode(value).as_deref() {
                    Some("disable" | "allow") => TlsMode::Off,
                    Some("prefer") => TlsMode::Prefer,
                    Some("require" | "verify-ca" | "verify-full") => TlsMode::Require,
                    _ => {
                        return Err(StoreError(format!(
                            "postgres URL: sslmode {value:?} is not one of disable, allow, \
                             prefer, require, verify-ca, verify-full"
                        )))
                    }
                }
            }
            "sslrootcert" => {
                root_file = Some(percent_decode(value).ok_or_else(|| {
                    StoreError("postgres URL: sslrootcert is not a valid path".into())
                })?);
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, root_file))
}

/// `%XX` escapes decoded (what a path in a URL's query needs); `None` for a
/// bad escape or bytes that are not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The TLS connector: rustls with ring (already built for the receipt
/// crate and the witness client), no process-wide provider needed. The
/// roots are Mozilla's (`webpki-roots`, compiled in: a container's system
/// store is often empty), or exactly the certificates of the PEM file
/// `sslrootcert` names (a managed database's own CA, such as RDS's);
/// libpq's `sslrootcert=system` means Mozilla's roots here.
fn rustls_connector(root_file: Option<&str>) -> Result<MakeRustlsConnect, StoreError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let roots = match root_file {
        None | Some("system") => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        Some(path) => {
            let bad = |err: &dyn std::fmt::Display| {
                StoreError(format!("postgres sslrootcert {path}: {err}"))
            };
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path).map_err(|err| bad(&err))? {
                roots
                    .add(cert.map_err(|err| bad(&err))?)
                    .map_err(|err| bad(&err))?;
            }
            if roots.is_empty() {
                return Err(bad(&"no certificate in the file"));
            }
            roots
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|err| StoreError(format!("postgres TLS: {err}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The read connection, replaced when it drops (a restarted or failed-over
/// database), so a long-running collector recovers without a restart.
pub(super) struct Reader {
    connector: Arc<Connector>,
    client: tokio::sync::RwLock<Arc<Client>>,
}

pub(super) async fn open(
    url: &str,
    jobs: mpsc::Receiver<Job>,
    signer: Arc<Countersigner>,
    origin: Origin,
) -> Result<Reader, StoreError> {
    let connector = Arc::new(Connector::new(url)?);
    let mut writer = connector.connect().await?;
    let tx = writer.transaction().await?;
    // This transaction may wait for another collector's migration and then
    // build indexes or logs over a large database: no statement timeout for
    // it (an operator watches a start).
    tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
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
    let reader = connector.connect().await?;
    tokio::spawn(write_loop(
        Arc::clone(&connector),
        writer,
        jobs,
        signer,
        origin,
    ));
    Ok(Reader {
        connector,
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
    let connector = Arc::new(Connector::new(url)?);
    let reader = connector.connect().await?;
    Ok(Reader {
        connector,
        client: tokio::sync::RwLock::new(Arc::new(reader)),
    })
}

async fn write_loop(
    connector: Arc<Connector>,
    client: Client,
    mut jobs: mpsc::Receiver<Job>,
    signer: Arc<Countersigner>,
    origin: Origin,
) {
    let mut kept = Some(client);
    while let Some(first) = jobs.recv().await {
        let batch = drain(first, &mut jobs);
        // A restarted or failed-over database, or a connection dropped after
        // a failure: connect anew rather than fail every batch from now on.
        let mut client = match kept.take().filter(|c| !c.is_closed()) {
            Some(client) => client,
            None => match connector.connect().await {
                Ok(fresh) => fresh,
                Err(err) => {
                    answer(batch, Err(err));
                    continue;
                }
            },
        };
        let work = Work::of(&batch);
        let mut outcome = bounded(write_batch(&mut client, &work, &signer, &origin)).await;
        // The batch rolled back as a whole. Once more: a receipt (same id,
        // same key) that another collector committed for another site in the
        // meantime (unique violation) is then seen as stored and answered as
        // a duplicate or a conflict. Not after a timeout: that connection
        // hangs.
        if matches!(outcome, Err(Failed::Rolled(_))) && !client.is_closed() {
            outcome = bounded(write_batch(&mut client, &work, &signer, &origin)).await;
        }
        let outcome = match outcome {
            Ok(written) => {
                kept = Some(client);
                Ok(written)
            }
            // Dropped, not kept (see the module docs).
            Err(Failed::Rolled(err) | Failed::Hung(err)) => Err(err),
        };
        answer(batch, outcome);
    }
}

/// How a batch failed: rolled back by an error, or given up on.
enum Failed {
    Rolled(StoreError),
    Hung(StoreError),
}

async fn bounded(
    batch: impl std::future::Future<Output = Result<Written, StoreError>>,
) -> Result<Written, Failed> {
    match tokio::time::timeout(BATCH_TIMEOUT, batch).await {
        Ok(outcome) => outcome.map_err(Failed::Rolled),
        Err(_) => Err(Failed::Hung(StoreError(format!(
            "postgres: the batch did not commit within {} s",
            BATCH_TIMEOUT.as_secs()
        )))),
    }
}

/// One transaction for the whole batch: receipts, notices, the probe's row.
async fn write_batch(
    client: &mut Client,
    work: &Work<'_>,
    signer: &Countersigner,
    origin: &Origin,
) -> Result<Written, StoreError> {
    let tx = client.transaction().await?;
    let now = now_rfc3339();
    let receipts = if work.receipts.is_empty() {
        Vec::new()
    } else {
        write_receipts(&tx, &work.receipts, signer, origin, &now).await?
    };
    let notices = if work.notices.is_empty() {
        Vec::new()
    } else {
        let insert = tx.prepare(INSERT_NOTICE).await?;
        // Pipelined, in order: a second copy of a text in the batch finds
        // the first one's row and is answered "not new".
        try_join_all(work.notices.iter().map(|n| async {
            tx.execute(&insert, &[&n.sha256, &n.site, &n.text, &n.received_at])
                .await
        }))
        .await?
        .into_iter()
        .map(|inserted| inserted == 1)
        .collect()
    };
    if work.probe {
        tx.execute(PROBE_WRITE, &[&now]).await?;
    }
    tx.commit().await?;
    Ok(Written { receipts, notices })
}

async fn write_receipts(
    tx: &tokio_postgres::Transaction<'_>,
    batch: &[&NewReceipt],
    signer: &Countersigner,
    origin: &Origin,
    now: &str,
) -> Result<Vec<Appended>, StoreError> {
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

    let plan = plan(batch, existing, heads, signer, origin, now)?;
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
    insert_nodes(tx, plan.nodes.iter().map(|(site, n)| (site.as_str(), n))).await?;
    for (site, head) in &plan.heads {
        tx.execute(
            "UPDATE site_heads SET seq = $2, chain_hash = $3, tree = $4, checkpoint = $5 WHERE site = $1",
            &[site, &head.seq, &head.chain, &head.tree, &&*head.checkpoint],
        )
        .await?;
    }
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
            *slot = Arc::new(self.connector.connect().await?);
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

    /// Every kid the store knew before; `kids` are added only when they
    /// include all of those (else nothing is written). Its own connection:
    /// the lock that makes the check and the insert one step needs a
    /// transaction, which the shared reader cannot hold.
    pub(super) async fn register_keys(
        &self,
        kids: &[String],
        now: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut client = self.connector.connect().await?;
        let tx = client.transaction().await?;
        tx.batch_execute("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            .await?;
        let known: Vec<String> = tx
            .query("SELECT kid FROM signing_keys ORDER BY added_at, kid", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if known.iter().all(|k| kids.contains(k)) {
            tx.execute(
                "INSERT INTO signing_keys (kid, added_at) SELECT kid, $2 FROM UNNEST($1::text[]) AS k(kid) \
                 ON CONFLICT DO NOTHING",
                &[&kids, &now],
            )
            .await?;
            tx.commit().await?;
        }
        Ok(known)
    }

    pub(super) async fn is_empty(&self) -> Result<bool, StoreError> {
        let row = self.client().await?.query_one(HOLDS_RECEIPTS, &[]).await?;
        Ok(!row.get::<_, bool>(0))
    }

    /// The probe's read, on the reader's connection (reconnecting if it
    /// dropped, as every read does).
    pub(super) async fn probe(&self) -> Result<(), StoreError> {
        self.client().await?.query_one(PROBE_READ, &[]).await?;
        Ok(())
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
        let mut client = self.connector.connect().await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA (P-256), as a `sslrootcert` file would hold one.
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBjjCCATWgAwIBAgIUfuzLBknA8UVp1SCzFX162LZDODMwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRY29uc2VudHJ5IHRlc3QgQ0EwIBcNMjYxMjAyMDEzMjE1WhgP
MjEyNjExMDgwMTMyMTVaMBwxGjAYBgNVBAMMEWNvbnNlbnRyeSB0ZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExXjGcBkzzUhbtzpHOEA6hV0/Dz3xu2GA
JVjfpIsjjQl3gziWY3ZOlI8eIvNtepWpETbjXtnNBMzctOg3vRAYa6NTMFEwHQYD
VR0OBBYEFEZyGa56S1jGTyv03aCAQjz9wfbxMB8GA1UdIwQYMBaAFEZyGa56S1jG
Tyv03aCAQjz9wfbxMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIg
B5Ksu/8806LGEzw/8tUgev8EAOdXEFAwS5UAL6urcx8CIEq3kGVu/M96/slh+ugZ
eL4tfzeMnyVGfUyH/NLkw0hz
-----END CERTIFICATE-----
";

    fn with_param(url: &str, param: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{param}")
    }

    fn error_of(url: &str) -> String {
        match Connector::new(url) {
            Ok(_) => panic!("{url} was accepted"),
            Err(err) => err.0,
        }
    }

    #[test]
    fn the_urls_sslmode_picks_the_connector() {
        let base = "postgres://consentry:secret@db.example:5432/consentry";
        for (query, tls, mode) in [
            ("", false, SslMode::Disable),
            ("?sslmode=disable", false, SslMode::Disable),
            ("?sslmode=allow", false, SslMode::Disable),
            ("?sslmode=prefer", true, SslMode::Prefer),
            ("?sslmode=require", true, SslMode::Require),
            ("?sslmode=verify-ca", true, SslMode::Require),
            ("?sslmode=verify-full", true, SslMode::Require),
            (
                "?application_name=shop&sslmode=verify-full&connect_timeout=3",
                true,
                SslMode::Require,
            ),
        ] {
            let url = format!("{base}{query}");
            let connector = Connector::new(&url).unwrap_or_else(|err| panic!("{url}: {err}"));
            assert_eq!(connector.tls.is_some(), tls, "{query}");
            assert_eq!(connector.config.get_ssl_mode(), mode, "{query}");
            assert_eq!(connector.config.get_dbname(), Some("consentry"), "{query}");
        }
        let kept = Connector::new(&format!(
            "{base}?application_name=shop&sslmode=verify-full&connect_timeout=3"
        ))
        .expect("accepted");
        assert_eq!(kept.config.get_application_name(), Some("shop"));
        assert_eq!(
            kept.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );

        let refused = error_of(&format!("{base}?sslmode=verify-everything"));
        assert!(refused.contains("sslmode"), "{refused}");
        assert!(
            !refused.contains("secret"),
            "the password leaked: {refused}"
        );
    }

    #[test]
    fn timeouts_have_defaults_and_yield_to_the_url() {
        let plain = Connector::new("postgres://u@db.example/consentry").expect("plain");
        assert_eq!(plain.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(plain.timeout, CONNECT_TIMEOUT);
        assert_eq!(
            plain.setup.as_deref(),
            Some("SET statement_timeout = '30s'")
        );
        // Two hosts: each gets its connect timeout.
        let two = Connector::new("postgres://u@db1.example,db2.example/c?connect_timeout=4")
            .expect("two hosts");
        assert_eq!(two.timeout, Duration::from_secs(8));
        let own =
            Connector::new("postgres://u@db.example/consentry?options=-c%20statement_timeout%3D5s")
                .expect("own timeout");
        assert_eq!(own.config.get_options(), Some("-c statement_timeout=5s"));
        assert_eq!(own.setup, None);
    }

    #[test]
    fn sslrootcert_names_the_roots_and_a_bad_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("consentry-pg-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, CA_PEM).expect("write ca");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write empty");
        let base = "postgres://u@db.example/consentry?sslmode=verify-full&sslrootcert=";

        let connector = Connector::new(&format!("{base}{}", ca.display())).expect("the CA file");
        assert!(connector.tls.is_some());
        let missing = error_of(&format!("{base}{}", dir.join("gone.pem").display()));
        assert!(missing.contains("gone.pem"), "{missing}");
        let none = error_of(&format!("{base}{}", empty.display()));
        assert!(none.contains("no certificate"), "{none}");
        // A path in a URL may be escaped.
        let escaped = ca.display().to_string().replace('/', "%2F");
        assert!(Connector::new(&format!("{base}{escaped}")).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Against the test server (no TLS): `require` really asks for TLS (and
    /// fails there), `prefer` falls back to plain TCP, and every connection
    /// has the statement timeout.
    #[tokio::test]
    async fn against_a_server_without_tls_require_fails_and_prefer_connects() {
        let Ok(url) = std::env::var("CONSENTRY_TEST_POSTGRES_URL") else {
            eprintln!("CONSENTRY_TEST_POSTGRES_URL not set: skipping");
            return;
        };
        let required = Connector::new(&with_param(&url, "sslmode=require")).expect("require");
        let err = required
            .connect()
            .await
            .expect_err("no TLS on the test server");
        assert!(err.0.contains("TLS"), "{err}");

        let preferred = Connector::new(&with_param(&url, "sslmode=prefer")).expect("prefer");
        let client = preferred.connect().await.expect("plain fallback");
        let row = client
            .query_one("SHOW statement_timeout", &[])
            .await
            .expect("show");
        assert_eq!(row.get::<_, String>(0), STATEMENT_TIMEOUT);
    }
}
