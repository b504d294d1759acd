//! What the collector's tests share: temp dirs, fresh receipt ids, receipts
//! signed like the browser signs them, and raw SQL for tampering.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use consentry_collector::store::NewReceipt;
use consentry_collector::{Countersigner, Store};
use consentry_receipt::verify::{verify, Limits};

#[path = "../../../receipt/tests/common/mod.rs"]
pub mod common;

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "consentry-collector-{name}-{}-{}",
            std::process::id(),
            unique()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Distinct across tests, processes and runs (PostgreSQL keeps its rows).
pub fn unique() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos
        ^ (u64::from(std::process::id()) << 40)
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// A fresh lower-case UUID v4.
pub fn uuid() -> String {
    let a = unique();
    let b = unique().rotate_left(17) ^ 0x5555_aaaa_1234_5678;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    consentry_receipt::ids::uuid_v4(bytes)
}

pub fn signer() -> Arc<Countersigner> {
    Arc::new(Countersigner::from_seed(&[42u8; 32]).expect("seed"))
}

/// The tests' log name: site `s`'s log is `test.example/consentry/s`.
pub const LOG_ORIGIN: &str = "test.example/consentry";

pub fn origin() -> consentry_collector::store::Origin {
    consentry_collector::store::Origin::new(LOG_ORIGIN).expect("origin")
}

/// A receipt signed by key A for `site`, as the store receives it.
pub fn signed(site: &str, id: &str, issued_at: &str) -> String {
    signed_by(&common::key_a(), site, id, issued_at)
}

/// A receipt signed by `key` (its visitor, or someone reusing an id).
pub fn signed_by(key: &p256::ecdsa::SigningKey, site: &str, id: &str, issued_at: &str) -> String {
    common::sign_receipt(key, &common::receipt_with(key, site, id, issued_at))
}

pub fn new_receipt(jws: &str) -> NewReceipt {
    let v = verify(jws.as_bytes(), &Limits::default()).expect("a valid receipt");
    NewReceipt {
        site: v.receipt.site.clone(),
        receipt_id: v.receipt.receipt_id.clone(),
        jws: jws.to_owned(),
        jws_sha256: v.jws_sha256,
        subject_key: v.thumbprint,
        issued_at: v.receipt.issued_at.clone(),
        action: v.receipt.action.as_str().to_owned(),
        method: v.receipt.method.as_str().to_owned(),
    }
}

/// Where a store suite runs: SQLite in a temp dir, or the PostgreSQL that
/// `cargo xtask test` started (`CONSENTRY_TEST_POSTGRES_URL`).
pub enum Db {
    Sqlite(TempDir),
    Postgres(String),
}

impl Db {
    pub fn sqlite(name: &str) -> Db {
        Db::Sqlite(TempDir::new(name))
    }

    /// `None` (the test then passes vacuously, saying so) without PostgreSQL.
    pub fn postgres() -> Option<Db> {
        match std::env::var("CONSENTRY_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Db::Postgres(url)),
            _ => {
                eprintln!("CONSENTRY_TEST_POSTGRES_URL not set: skipping the PostgreSQL run (cargo xtask test sets it)");
                None
            }
        }
    }

    pub fn url(&self) -> String {
        match self {
            Db::Sqlite(dir) => format!("sqlite://{}", dir.0.join("consentry.db").display()),
            Db::Postgres(url) => url.clone(),
        }
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.url(), signer(), origin())
            .await
            .expect("open store")
    }

    /// Runs raw SQL behind the collector's back: how an attacker with
    /// database access would edit the log.
    pub async fn tamper(&self, sql: &str) {
        match self {
            Db::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.0.join("consentry.db")).expect("open");
                conn.execute_batch(sql).expect("tamper");
            }
            Db::Postgres(url) => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .expect("connect");
                tokio::spawn(connection);
                client.batch_execute(sql).await.expect("tamper");
            }
        }
    }
}

/// `common::SITE` alone, on `origin`.
pub fn one_site(origin: &str, retention_days: Option<u32>) -> consentry_collector::Sites {
    [(
        common::SITE.to_owned(),
        consentry_collector::Site {
            origins: vec![origin.to_owned()],
            retention_days,
        },
    )]
    .into_iter()
    .collect()
}

/// A collector for `sites` on the store at `url` (opened, migrated), with
/// the tests' countersigning key, and that store.
pub async fn collector_on(
    url: &str,
    sites: consentry_collector::Sites,
    admin_token: Option<&str>,
) -> (consentry_collector::Collector, Store) {
    let signer = signer();
    let store = Store::open(url, Arc::clone(&signer), origin())
        .await
        .expect("open the store");
    let collector = consentry_collector::Collector::new(
        sites,
        store.clone(),
        signer,
        admin_token.map(str::to_owned),
    );
    (collector, store)
}

/// The URL of a SQLite store in `dir`.
pub fn sqlite_in(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.0.join("consentry.db").display())
}

/// A collector's files in one directory, as an operator lays them out: the
/// sites file, the SQLite store and the countersigning key.
pub struct CollectorDir {
    pub dir: TempDir,
}

impl CollectorDir {
    pub fn new(name: &str) -> CollectorDir {
        let dir = TempDir::new(name);
        std::fs::write(
            dir.0.join("sites.toml"),
            "[sites.acme-landing]\norigins = [\"http://127.0.0.1:8080\"]\n",
        )
        .expect("sites");
        CollectorDir { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    pub fn key_file(&self) -> PathBuf {
        self.path("collector.key")
    }

    pub fn database(&self) -> PathBuf {
        self.path("consentry.db")
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.database().display())
    }

    pub fn config(&self, admin_token: Option<&str>) -> consentry_collector::Config {
        consentry_collector::Config {
            sites_file: Some(self.path("sites.toml")),
            database_url: self.database_url(),
            key_file: self.key_file(),
            admin_token: admin_token.map(str::to_owned),
            log_origin: Some(LOG_ORIGIN.to_owned()),
        }
    }

    pub async fn open(
        &self,
        admin_token: Option<&str>,
    ) -> Result<consentry_collector::Collector, String> {
        consentry_collector::Collector::open(&self.config(admin_token))
            .await
            .map(|collector| collector.expect("a sites file is configured"))
    }

    /// The collector binary with `args`, configured for this directory;
    /// without `CONSENTRY_KEY_FILE` when `key_file` is false (then the
    /// default beside the database is used).
    pub fn command(&self, args: &[&str], key_file: bool) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_consentry-collector"));
        command
            .args(args)
            .env("CONSENTRY_SITES", self.path("sites.toml"))
            .env("CONSENTRY_DATABASE_URL", self.database_url())
            .env("CONSENTRY_LOG_ORIGIN", LOG_ORIGIN)
            .env_remove("CONSENTRY_ADMIN_TOKEN");
        if key_file {
            command.env("CONSENTRY_KEY_FILE", self.key_file());
        } else {
            command.env_remove("CONSENTRY_KEY_FILE");
        }
        command
    }

    /// Stores one receipt signed in the browser's way and returns its row.
    pub async fn store_one_receipt(
        collector: &consentry_collector::Collector,
    ) -> consentry_collector::store::StoredReceipt {
        let jws = signed(common::SITE, &uuid(), common::ISSUED_AT);
        let appended = collector
            .store()
            .append(new_receipt(&jws))
            .await
            .expect("append");
        appended.new_row().expect("a new row").clone()
    }
}
