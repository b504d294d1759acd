//! `cargo xtask <command>`: the build pipeline, tests and benchmarks.
//!
//! - `dist`: build the widget into `target/dist/` and print its sizes.
//! - `demo [--port N]`: `dist`, then serve `www/` + `target/dist/` with the collector.
//! - `test`: clippy, host tests, browser unit tests, `dist`, Playwright end to end.
//! - `bench`: the widget against other consent banners (bytes per visit, timings at 4× throttle), then the collector's throughput.
//!
//! Every command first installs what it needs and is missing (see `ensure`),
//! so a fresh machine only needs Rust, and Debian's `apt-get` for the browser.
//! No clap: four commands and one flag are parsed by hand.

mod bench;
mod bench_collector;
mod dist;
mod ensure;
mod inline_js;
mod postgres;
mod receipts_env;
mod short_imports;
mod test;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Errors are only ever printed, so a boxed error carrying a message is enough.
type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  dist              build the widget into target/dist/ and print its sizes
  demo [--port N]   dist, then serve the demo page (port: --port, $CONSENTRY_PORT or 8080)
  test              clippy, host tests, browser unit tests, dist, end-to-end tests
  bench             the widget against vanilla-cookieconsent and klaro (bytes per visit, timings at 4× throttle), then the collector";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Every path below is relative to the repository root.
    if let Err(err) = std::env::set_current_dir(root()) {
        eprintln!("xtask: cannot enter {}: {err}", root().display());
        return ExitCode::FAILURE;
    }
    let result = match args.first().map(String::as_str) {
        Some("dist") => ensure::build_tools().and_then(|()| dist::dist()),
        Some("demo") => demo(&args[1..]),
        Some("test") => test::test(),
        Some("bench") => bench::bench(),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("\nxtask: error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root: xtask lives in `<root>/xtask`.
fn root() -> &'static Path {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir)
}

/// Cargo's output directory, honouring `CARGO_TARGET_DIR` like cargo does.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// The cargo that runs us (`cargo xtask` sets `$CARGO`), so toolchain overrides carry over.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cmd` with inherited stdio, echoing it first; a non-zero exit is an error.
fn run(cmd: &mut Command) -> Result {
    let shown = show(cmd);
    eprintln!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|err| format!("cannot start `{shown}`: {err}"))?;
    if !status.success() {
        return Err(format!("`{shown}` failed ({status})").into());
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its stdout, or `None` if it cannot start or fails.
fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn show(cmd: &Command) -> String {
    let mut shown = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let _ = write!(shown, " {}", arg.to_string_lossy());
    }
    shown
}

/// `cargo xtask demo [--port N]`: build, then serve the demo in the foreground.
fn demo(args: &[String]) -> Result {
    let port = match args {
        [] => std::env::var("CONSENTRY_PORT").unwrap_or_else(|_| "8080".into()),
        [flag, port] if flag == "--port" => port.clone(),
        _ => return Err(format!("unexpected arguments {args:?}\n{USAGE}").into()),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("not a port number: {port}"))?;

    ensure::build_tools()?;
    // Over budget is worth a warning here, not a reason to hide the demo.
    dist::build()?;
    if let Err(err) = dist::check_budgets() {
        eprintln!("xtask: warning: {err}");
    }
    let server = build_collector()?;
    let addr = format!("127.0.0.1:{port}");
    let token = receipts_env::admin_token()?;
    let env = receipts_env::prepare(&target_dir().join("demo"), port, &token, false)?;
    println!("\nConsentry demo: http://{addr}/  (ctrl-c stops it)");
    println!("Receipts: target/demo/consentry.db; export and audit with the admin token:");
    println!("  curl -H 'Authorization: Bearer {token}' 'http://{addr}/v1/export?site=acme-landing&format=ndjson'\n");
    run(Command::new(server)
        .args(["serve", "--addr", &addr, "--static", "www", "--static"])
        .arg(target_dir().join("dist"))
        .envs(env))
}

/// Builds the collector with the `server` profile (speed, not size) and
/// returns the binary. Tests start this binary directly rather than through
/// `cargo run`, so stopping it never leaves an orphaned server behind.
fn build_collector() -> Result<PathBuf> {
    run(cargo().args(["build", "--profile", "server", "-p", "consentry-collector"]))?;
    Ok(target_dir().join("server").join("consentry-collector"))
}
