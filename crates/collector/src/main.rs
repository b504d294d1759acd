//! `consentry-collector serve [--addr 127.0.0.1:8080] [--static DIR]...`
//! `consentry-collector verify [--site S] [--database URL]`
//!
//! `serve`: without `--addr` the port comes from `CONSENTRY_PORT` (default
//! 8080), on 127.0.0.1. Each `--static DIR` is served at `/`; the first one
//! holding a path wins. Receipts are on when a sites file is configured (see
//! `Config::from_env`: `CONSENTRY_SITES`, `CONSENTRY_DATABASE_URL`,
//! `CONSENTRY_KEY_FILE`, `CONSENTRY_ADMIN_TOKEN`). `CONSENTRY_LOG` sets the
//! log level (`info` by default: one line per request, never an IP).
//!
//! `verify`: recompute every chain (or one site's), print one JSON report per
//! site, exit 1 if any is bad.

use std::path::PathBuf;

use anyhow::{bail, Context};
use consentry_collector::{
    audit, config_key_file, AppState, Collector, Config, Countersigner, Store,
};

const USAGE: &str = "usage: consentry-collector serve [--addr HOST:PORT] [--static DIR]...
       consentry-collector verify [--site SITE] [--database URL]";

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    // Colours only on a terminal, so log files (`cargo xtask test` keeps one) stay plain.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    // CONSENTRY_LOG=warn drops the per-request lines (default info).
    let level = std::env::var("CONSENTRY_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();

    let mut args = std::env::args().skip(1);
    let command = args.next();
    let mut options: Vec<(String, String)> = Vec::new();
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{arg} needs a value\n{USAGE}"))?;
        options.push((arg, value));
    }
    let option = |name: &str| {
        options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut config = Config::from_env();

    match command.as_deref() {
        Some("serve") => {
            if let Some((bad, _)) = options
                .iter()
                .find(|(n, _)| n != "--addr" && n != "--static")
            {
                bail!("unknown argument {bad}\n{USAGE}");
            }
            let addr = option("--addr").unwrap_or_else(|| {
                format!(
                    "127.0.0.1:{}",
                    std::env::var("CONSENTRY_PORT").as_deref().unwrap_or("8080")
                )
            });
            let static_dirs = options
                .iter()
                .filter(|(n, _)| n == "--static")
                .map(|(_, v)| PathBuf::from(v))
                .collect();
            let mut state = AppState::new(static_dirs);
            match Collector::open(&config).await.map_err(anyhow::Error::msg)? {
                Some(collector) => state = state.with_collector(collector),
                None => tracing::warn!("no sites file (CONSENTRY_SITES): receipts are off"),
            }
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            tracing::info!("listening on http://{}", listener.local_addr()?);
            consentry_collector::run(listener, state, consentry_collector::shutdown_signal())
                .await?;
            tracing::info!("stopped");
            Ok(std::process::ExitCode::SUCCESS)
        }
        Some("verify") => {
            if let Some((bad, _)) = options
                .iter()
                .find(|(n, _)| n != "--site" && n != "--database")
            {
                bail!("unknown argument {bad}\n{USAGE}");
            }
            if let Some(url) = option("--database") {
                if std::env::var_os("CONSENTRY_KEY_FILE").is_none() {
                    config.key_file = config_key_file(&url);
                }
                config.database_url = url;
            }
            if !config.key_file.exists() {
                bail!(
                    "no key file at {}: set CONSENTRY_KEY_FILE",
                    config.key_file.display()
                );
            }
            let signer = std::sync::Arc::new(
                Countersigner::load_or_create(&config.key_file).map_err(anyhow::Error::msg)?,
            );
            let store = Store::open(&config.database_url, std::sync::Arc::clone(&signer)).await?;
            let sites = match option("--site") {
                Some(site) => vec![site],
                None => store.sites().await?,
            };
            let mut all_ok = true;
            for site in sites {
                let report = audit::audit_site(&store, &signer, &site).await?;
                all_ok &= report.ok;
                println!("{}", serde_json::to_string(&report)?);
            }
            Ok(if all_ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            })
        }
        _ => bail!(USAGE),
    }
}
