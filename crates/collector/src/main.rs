//! `consentry-collector serve [--addr 127.0.0.1:8080] [--static DIR]...`
//!
//! Without `--addr` the port comes from `CONSENTRY_PORT` (default 8080), on
//! 127.0.0.1. Each `--static DIR` is served at `/`; the first one holding a path wins.

use std::path::PathBuf;

use anyhow::{bail, Context};

const USAGE: &str = "usage: consentry-collector serve [--addr HOST:PORT] [--static DIR]...";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Colours only on a terminal, so log files (`cargo xtask test` keeps one) stay plain.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(ansi)
        .init();

    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some("serve") {
        bail!(USAGE);
    }
    let mut addr = None;
    let mut static_dirs = Vec::new();
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{arg} needs a value\n{USAGE}"))?;
        match arg.as_str() {
            "--addr" => addr = Some(value),
            "--static" => static_dirs.push(PathBuf::from(value)),
            _ => bail!("unknown argument {arg}\n{USAGE}"),
        }
    }
    let addr = match addr {
        Some(addr) => addr,
        None => format!(
            "127.0.0.1:{}",
            std::env::var("CONSENTRY_PORT").as_deref().unwrap_or("8080")
        ),
    };

    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let state = consentry_collector::AppState::new(static_dirs);
    consentry_collector::run(listener, state, consentry_collector::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
