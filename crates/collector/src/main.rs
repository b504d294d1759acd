//! The `consentry-collector` command line: parsing and dispatch only. Each
//! command is one struct below, and its doc comments are its `--help`; the
//! work is in the library.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use consentry_collector::{
    audit, retention, AppState, Collector, Config, Countersigner, PublicKeys, Sites, Store,
};

// Receipts, request bodies and rows are allocated on one thread and freed on
// another (handler → writer → handler); mimalloc's per-thread free lists take
// a tenth of the collector's CPU off glibc's arenas in `cargo xtask bench`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Consentry collector: receives, checks and keeps signed consent
/// receipts in a transparency log per site (a Merkle tree with signed
/// checkpoints), and serves static files.
///
/// Every command is configured from the environment: CONSENTRY_SITES (the
/// sites file), CONSENTRY_DATABASE_URL, CONSENTRY_KEY_FILE,
/// CONSENTRY_ADMIN_TOKEN, CONSENTRY_LOG_ORIGIN and CONSENTRY_LOG.
/// `consentry-collector serve --help` describes each one, and `--addr` and
/// `--static DIR`. `verify` and `witness` need public keys only.
#[derive(Parser)]
// `propagate_version`: `--version` on every command, not only the root.
#[command(name = "consentry-collector", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Serve(Serve),
    Verify(Verify),
    Prune(Prune),
    Keys(Keys),
    Witness(consentry_collector::witness::Witness),
}

/// Serve the receipt API and static files (`--static DIR`) until ctrl-c or
/// SIGTERM.
///
/// Receipts are on when a sites file is configured; without one only static
/// files are served and the receipt routes answer 503. A retention pass runs
/// at start and then daily.
///
/// Environment:
///
/// CONSENTRY_SITES: the sites file, TOML (or JSON when it ends in `.json`);
/// default `sites.toml` when it exists.
///
/// CONSENTRY_DATABASE_URL: `sqlite://PATH` (default `sqlite://consentry.db`)
/// or `postgres://user:pass@host:port/db`.
///
/// CONSENTRY_KEY_FILE: the Ed25519 countersigning keys, one seed per line,
/// oldest first, the last one signing (`keys rotate` adds one); default
/// `collector.key` next to the SQLite file (in the working directory for
/// PostgreSQL). Made, mode 0600, on the first start of an empty store only:
/// missing while the store holds receipts, `serve` refuses to start.
///
/// CONSENTRY_ADMIN_TOKEN: bearer token for export and audit; unset, both
/// answer 503.
///
/// CONSENTRY_LOG_ORIGIN: the name of this deployment's logs, its public host
/// and path without a scheme (`consent.acme.example/consentry`): site S's
/// checkpoints name `<origin>/S`. Set it once, before the first receipt; a
/// collector whose stored checkpoints name another refuses to start.
/// Default `localhost/consentry`, with a warning.
///
/// CONSENTRY_TRUSTED_PROXIES: the load balancers in front (addresses or
/// networks, comma-separated); only from them is `X-Forwarded-For` believed
/// to name the client. CONSENTRY_MAX_CONNECTIONS (default 900) and
/// CONSENTRY_MAX_CONNECTIONS_PER_CLIENT (default 100) cap open connections.
/// Rate limits are per site in the sites file (`rate_limit`).
///
/// CONSENTRY_LOG: the log level (default `info`: one line per request, never
/// an IP address).
///
/// CONSENTRY_PORT: the port on 127.0.0.1 when `--addr` is not given (default
/// 8080).
#[derive(Args)]
// A flag given twice keeps its last value, as the hand-written parser did.
#[command(args_override_self = true)]
struct Serve {
    /// Address to listen on; without it 127.0.0.1 and the port in
    /// CONSENTRY_PORT (8080 when unset)
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// A directory served at `/`; repeat it for more, the first one holding a
    /// path wins. Dotfiles are never served, and a directory holding the key
    /// file or the SQLite database is refused
    #[arg(long = "static", value_name = "DIR")]
    static_dirs: Vec<PathBuf>,
}

/// Recompute every site's log (or one site's) with public keys only, and
/// print one JSON report per site.
///
/// Each log is recomputed from seq 1: every visitor signature, leaf hash,
/// chain hash and countersignature, the Merkle tree and the site's signed
/// checkpoint. Every bad leaf is named (seq, leaf index, receipt id), not
/// only the first. No private key is needed: give the collector's saved
/// `/.well-known/jwks.json` with --jwks; without it the public halves of
/// CONSENTRY_KEY_FILE are used. A receipt pruned by retention passes when a
/// prune record signed by one of those keys covers it.
///
/// Checkpoints saved earlier (--checkpoint, by a witness or a DPO) and
/// visitors' receipt files (--receipt) are proved consistent with the log: a
/// deleted tail, a rollback, a replaced or reordered leaf or a fork fails
/// them, and the report names the checkpoint's size and the log's.
///
/// Exit status: 0 when every log and every saved file is intact, 1 when any
/// is bad or the database cannot be read, 2 for a mistyped command line.
#[derive(Args)]
#[command(args_override_self = true)]
struct Verify {
    /// Only this site's log
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
    /// The database to check, instead of CONSENTRY_DATABASE_URL: the
    /// collector's, or a copy of its SQLite file (sqlite://PATH)
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// The collector's public keys: a saved /.well-known/jwks.json
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// A checkpoint saved earlier (text, as GET /v1/sites/{site}/checkpoint
    /// served it); repeat for more
    #[arg(long = "checkpoint", value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
    /// A visitor's downloaded receipt file; repeat for more
    #[arg(long = "receipt", value_name = "FILE")]
    receipts: Vec<PathBuf>,
}

/// Run one retention pass now and print one JSON line per site.
///
/// The serving collector runs one at start and daily. The receipts of each
/// site older than its `retention_days` lose their personal data (the JWS and
/// the visitor key); their leaf hashes, chain hashes and countersignatures
/// stay, so every proof still verifies. Each pass that prunes writes a prune
/// record signed by the collector's key, by which `verify` tells a receipt
/// pruned by policy from one removed. Needs the sites file (CONSENTRY_SITES),
/// the existing key file (never a new key beside the database) and the same
/// CONSENTRY_LOG_ORIGIN as `serve`.
#[derive(Args)]
#[command(args_override_self = true)]
struct Prune {
    /// Only this site (it must be in the sites file)
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
}

/// Manage the countersigning keys in the key file (CONSENTRY_KEY_FILE).
#[derive(Args)]
struct Keys {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand)]
enum KeysCommand {
    Rotate(Rotate),
}

/// Add a new countersigning key to the key file and print
/// `{"keys":N,"kid":"…"}` (the new key's kid).
///
/// The key file is CONSENTRY_KEY_FILE, or `collector.key` next to the SQLite
/// file of CONSENTRY_DATABASE_URL, as for `serve`. It must exist: the first
/// key is made by `serve` on an empty store, never here. The new key is
/// appended (one seed per line, oldest first) and the file replaced
/// atomically, mode 0600. Every old key stays: the JWKS keeps publishing
/// them, so every earlier countersignature keeps verifying.
///
/// A running collector signs with the new key from its next start: restart
/// each collector after rotating. With several collectors, rotate once and
/// give every one of them the same new file.
#[derive(Args)]
struct Rotate {}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    // Before the logger: `--help`, `--version` and a usage error (exit 2)
    // print and exit here.
    let cli = Cli::parse();
    let level = std::env::var("CONSENTRY_LOG")
        .ok()
        .and_then(|l| l.parse().ok());
    tracing_subscriber::fmt()
        .with_max_level(level.unwrap_or(tracing::Level::INFO))
        .with_target(false)
        // Colours only on a terminal, so log files (`cargo xtask test` keeps one) stay plain.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();

    let config = Config::from_env();
    match cli.command {
        Command::Serve(serve) => serve.run(config).await,
        Command::Verify(verify) => verify.run(config).await,
        Command::Prune(prune) => prune.run(config).await,
        Command::Keys(Keys {
            command: KeysCommand::Rotate(rotate),
        }) => rotate.run(&config),
        Command::Witness(witness) => Ok(witness.run().await?),
    }
}

impl Serve {
    async fn run(self, config: Config) -> anyhow::Result<ExitCode> {
        let addr = self.addr.unwrap_or_else(|| {
            let port = std::env::var("CONSENTRY_PORT").unwrap_or_else(|_| "8080".into());
            format!("127.0.0.1:{port}")
        });
        consentry_collector::check_static_dirs(&self.static_dirs, &config)
            .map_err(anyhow::Error::msg)?;
        let limits = consentry_collector::limits::Limits::from_env().map_err(anyhow::Error::msg)?;
        let mut state = AppState::new(self.static_dirs).with_limits(limits);
        match Collector::open(&config).await.map_err(anyhow::Error::msg)? {
            Some(collector) => {
                if config.log_origin.is_none() {
                    tracing::warn!(
                        "CONSENTRY_LOG_ORIGIN is not set: the sites' logs are named {}/<site>; \
                         set it to this collector's public host and path before the first real \
                         receipt, since a log's name never changes",
                        consentry_collector::DEFAULT_LOG_ORIGIN
                    );
                }
                retention::spawn(
                    collector.store().clone(),
                    collector.signer_arc(),
                    collector.sites().clone(),
                );
                state = state.with_collector(collector);
            }
            None => tracing::warn!("no sites file (CONSENTRY_SITES): receipts are off"),
        }
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        tracing::info!("listening on http://{}", listener.local_addr()?);
        consentry_collector::run(listener, state, consentry_collector::shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    }
}

impl Verify {
    async fn run(self, mut config: Config) -> anyhow::Result<ExitCode> {
        if let Some(url) = &self.database {
            // The key file travels with the database it signed.
            if std::env::var_os("CONSENTRY_KEY_FILE").is_none() {
                config.key_file = consentry_collector::config_key_file(url);
            }
        }
        let database_url = self.database.unwrap_or(config.database_url);
        let keys = match &self.jwks {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                PublicKeys::from_jwks(&text)
                    .map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?
            }
            None => Countersigner::load_existing(&config.key_file)
                .map_err(|err| {
                    anyhow::anyhow!("{err} (or give the collector's public keys with --jwks FILE)")
                })?
                .public_keys()
                .clone(),
        };
        // Files that cannot even be read as what they claim fail on their own line.
        let mut ok = true;
        let mut saved: BTreeMap<String, Vec<audit::Saved>> = BTreeMap::new();
        let files = self
            .checkpoints
            .iter()
            .map(|p| {
                (
                    p,
                    audit::saved_checkpoint as fn(&str, &str, &PublicKeys) -> _,
                )
            })
            .chain(
                self.receipts
                    .iter()
                    .map(|p| (p, audit::saved_receipt as fn(&str, &str, &PublicKeys) -> _)),
            );
        for (path, read) in files {
            let label = path.display().to_string();
            let result = std::fs::read_to_string(path)
                .map_err(|err| format!("{label}: {err}"))
                .and_then(|text| read(&label, &text, &keys));
            match result {
                Ok((site, one)) => saved.entry(site).or_default().push(one),
                Err(reason) => {
                    ok = false;
                    println!(
                        "{}",
                        serde_json::json!({ "file": label, "ok": false, "reason": reason })
                    );
                }
            }
        }
        let store = Store::open_to_read(&database_url)
            .await
            .map_err(|err| anyhow::anyhow!("cannot open {database_url}: {err}"))?;
        let reports = audit::verify_store(&store, &keys, self.site, &saved)
            .await
            .map_err(anyhow::Error::msg)?;
        for report in &reports {
            println!("{}", serde_json::to_string(report)?);
            ok &= report.ok;
        }
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

impl Prune {
    async fn run(self, config: Config) -> anyhow::Result<ExitCode> {
        let sites_file = config
            .sites_file
            .as_ref()
            .context("no sites file (CONSENTRY_SITES): retention is set per site there")?;
        let sites = Sites::load(sites_file).map_err(anyhow::Error::msg)?;
        if let Some(site) = &self.site {
            if sites.get(site).is_none() {
                bail!("site {site:?} is not in the sites file");
            }
        }
        // Each pass signs its prune record: with the existing key, never a
        // new one beside the database.
        let signer =
            Arc::new(Countersigner::load_existing(&config.key_file).map_err(anyhow::Error::msg)?);
        let origin = config.origin().map_err(anyhow::Error::msg)?;
        let store = Store::open(&config.database_url, Arc::clone(&signer), origin)
            .await
            .map_err(|err| anyhow::anyhow!("cannot open the store: {err}"))?;
        store
            .register_keys(signer.public_keys())
            .await
            .map_err(|err| anyhow::anyhow!("key file {}: {err}", config.key_file.display()))?;
        let passes = retention::prune_sites(
            &store,
            &signer,
            &sites,
            self.site.as_deref(),
            consentry_collector::now_ms(),
        )
        .await
        .map_err(|err| anyhow::anyhow!("retention pass failed: {err}"))?;
        for pass in &passes {
            println!("{}", serde_json::to_string(pass)?);
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl Rotate {
    fn run(self, config: &Config) -> anyhow::Result<ExitCode> {
        let signer = Countersigner::rotate(&config.key_file).map_err(anyhow::Error::msg)?;
        let line = serde_json::json!({ "keys": signer.key_count(), "kid": signer.kid() });
        println!("{line}");
        tracing::info!(
            "added key {} to {}: restart each collector to sign with it",
            signer.kid(),
            config.key_file.display()
        );
        Ok(ExitCode::SUCCESS)
    }
}
