//! `consentry-collector serve [--addr 127.0.0.1:8080] [--static DIR]...`
//! `consentry-collector verify [--site S] [--database URL]`
//! `consentry-collector prune [--site S]`
//!
//! `serve`: without `--addr` the port comes from `CONSENTRY_PORT` (default
//! 8080), on 127.0.0.1. Each `--static DIR` is served at `/`; the first one
//! holding a path wins. Receipts are on when a sites file is configured; the
//! environment is described at `Config::from_env` (`CONSENTRY_SITES`,
//! `CONSENTRY_DATABASE_URL`, `CONSENTRY_KEY_FILE`, `CONSENTRY_ADMIN_TOKEN`).
//! `CONSENTRY_LOG` sets the log level (`info`: one line per request, no IP).
//!
//! `verify`: recompute every chain (or one site's), print one JSON report per
//! site, exit 1 if any is bad.
//!
//! `prune`: one retention pass now (the serving collector runs one at start
//! and daily): the receipts of each site older than its `retention_days`
//! lose their personal data, keeping the hashes that chain them. One JSON
//! line per site.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};

use consentry_collector::{
    audit, config_key_file, retention, AppState, Collector, Config, Countersigner, Sites, Store,
};

// Receipts, request bodies and rows are allocated on one thread and freed on
// another (handler → writer → handler); mimalloc's per-thread free lists take
// a tenth of the collector's CPU off glibc's arenas in `cargo xtask bench`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: consentry-collector serve [--addr HOST:PORT] [--static DIR]...
       consentry-collector verify [--site SITE] [--database URL]
       consentry-collector prune [--site SITE]";

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
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

    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let allowed: &[&str] = match command.as_str() {
        "serve" => &["--addr", "--static"],
        "verify" => &["--site", "--database"],
        "prune" => &["--site"],
        _ => bail!(USAGE),
    };
    let mut options: Vec<(String, String)> = Vec::new();
    while let Some(name) = args.next() {
        if !allowed.contains(&name.as_str()) {
            bail!("unknown argument {name}\n{USAGE}");
        }
        let value = args
            .next()
            .with_context(|| format!("{name} needs a value\n{USAGE}"))?;
        options.push((name, value));
    }
    let last = |name: &str| {
        options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut config = Config::from_env();

    if command == "verify" {
        if let Some(url) = last("--database") {
            if std::env::var_os("CONSENTRY_KEY_FILE").is_none() {
                config.key_file = config_key_file(&url);
            }
            config.database_url = url;
        }
        let reports = audit::verify_database(&config, last("--site"))
            .await
            .map_err(anyhow::Error::msg)?;
        for report in &reports {
            println!("{}", serde_json::to_string(report)?);
        }
        let ok = reports.iter().all(|r| r.ok);
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }

    if command == "prune" {
        let sites_file = config
            .sites_file
            .as_ref()
            .context("no sites file (CONSENTRY_SITES): retention is set per site there")?;
        let sites = Sites::load(sites_file).map_err(anyhow::Error::msg)?;
        let site = last("--site");
        if let Some(site) = &site {
            if sites.get(site).is_none() {
                bail!("site {site:?} is not in the sites file");
            }
        }
        // Pruning writes no countersignature, but the store's writer holds
        // the key: the existing one, never a new one beside the database.
        let signer = Countersigner::load_existing(&config.key_file).map_err(anyhow::Error::msg)?;
        let store = Store::open(&config.database_url, Arc::new(signer))
            .await
            .map_err(|err| anyhow::anyhow!("cannot open the store: {err}"))?;
        let passes = retention::prune_sites(
            &store,
            &sites,
            site.as_deref(),
            consentry_collector::now_ms(),
        )
        .await
        .map_err(|err| anyhow::anyhow!("retention pass failed: {err}"))?;
        for pass in &passes {
            println!("{}", serde_json::to_string(pass)?);
        }
        return Ok(ExitCode::SUCCESS);
    }

    let port = std::env::var("CONSENTRY_PORT").unwrap_or_else(|_| "8080".into());
    let addr = last("--addr").unwrap_or_else(|| format!("127.0.0.1:{port}"));
    let static_dirs = options
        .iter()
        .filter(|(n, _)| n == "--static")
        .map(|(_, v)| v.into())
        .collect();
    let mut state = AppState::new(static_dirs);
    match Collector::open(&config).await.map_err(anyhow::Error::msg)? {
        Some(collector) => {
            retention::spawn(collector.store().clone(), collector.sites().clone());
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
