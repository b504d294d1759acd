//! `cargo xtask test`: everything CI checks, in order, stopping at the first failure.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::ensure::{self, CHROMEDRIVER};
use crate::{build_collector, cargo, dist, postgres, run, target_dir, Result};

/// How long the collector may take to answer `/healthz` after it starts.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);
const E2E_DIR: &str = "tests/e2e";

pub fn test() -> Result {
    ensure::build_tools()?;
    ensure::browsers()?;
    ensure::ensure_python_module("cryptography", ensure::CRYPTOGRAPHY)?;

    step("clippy", || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
        // The widget's browser code only compiles for wasm32: lint it there
        // too, the shipped module with its panic handler, and its tests
        // without (their harness links std, which has one).
        let wasm_clippy = |targets: &[&str]| {
            run(cargo()
                .args([
                    "clippy",
                    "--target",
                    "wasm32-unknown-unknown",
                    "-p",
                    "consentry",
                ])
                .args(targets)
                .args(["--", "-D", "warnings"]))
        };
        wasm_clippy(&["--lib"])?;
        wasm_clippy(&["--all-targets", "--no-default-features"])
    })?;
    // A real PostgreSQL for the collector's store suite; stopped when `pg` drops.
    let pg = step("postgresql", postgres::start)?;
    step("host tests", || {
        run(cargo()
            .args(["test", "--workspace"])
            .env("CONSENTRY_TEST_POSTGRES_URL", &pg.url))
    })?;
    drop(pg);
    step("browser unit tests", browser_unit_tests)?;
    step("dist", || dist::build().map(|_| ()))?;
    let e2e = step("end-to-end tests", end_to_end)?;
    // Checked last, so a size overrun does not hide whether the widget works.
    step("size budget", dist::check_budgets)?;

    println!(
        "\nxtask test: OK — clippy, host tests, browser unit tests, dist, size budget passed; end-to-end {}",
        if e2e == Ran::Skipped { "SKIPPED (no test files)" } else { "passed" }
    );
    Ok(())
}

#[derive(PartialEq)]
enum Ran {
    Yes,
    Skipped,
}

/// Runs one step under a banner; its failure names the step.
fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("\n==> xtask test: {name}");
    f().map_err(|err| format!("step `{name}` failed: {err}").into())
}

/// The widget's `wasm_bindgen_test`s, in headless Chromium through chromedriver.
/// `webdriver.json` at the root adds our Chromium flags and binary path.
fn browser_unit_tests() -> Result {
    run(cargo()
        // `--tests`: unit and integration tests; the doc tests already ran
        // on the host. No panic handler: the test harness brings std's.
        .args([
            "test",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "consentry",
            "--tests",
            "--no-default-features",
        ])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("CHROMEDRIVER", CHROMEDRIVER)
        .env(
            "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
            crate::root().join("webdriver.json"),
        ))
}

/// The Playwright suite against the real collector serving the demo.
fn end_to_end() -> Result<Ran> {
    if !has_node_tests(Path::new(E2E_DIR)) {
        eprintln!("xtask: warning: no test files in {E2E_DIR}/, skipping the end-to-end tests");
        return Ok(Ran::Skipped);
    }
    let server_bin = build_collector()?;
    let port = free_port()?;
    let log_path = target_dir().join("e2e-collector.log");
    let log = File::create(&log_path)?;
    let token = crate::receipts_env::admin_token()?;
    let env = crate::receipts_env::prepare(&target_dir().join("e2e"), port, &token, true)?;
    // The tests read the collector's database with `verify`, as an auditor would.
    let database_url = env
        .iter()
        .find(|(name, _)| *name == "CONSENTRY_DATABASE_URL")
        .map(|(_, url)| url.clone())
        .unwrap_or_default();
    let child = Command::new(&server_bin)
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--static",
            "www",
            "--static",
        ])
        .arg(dist::dist_dir())
        .envs(env)
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|err| format!("cannot start the collector: {err}"))?;
    let mut server = Server(child);
    server
        .wait_healthy(port)
        .map_err(|err| format!("{err} (server log: {})", log_path.display()))?;

    let base_url = format!("http://127.0.0.1:{port}");
    eprintln!(
        "xtask: collector up at {base_url} (log: {})",
        log_path.display()
    );
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1", &format!("{E2E_DIR}/")])
        .env("CONSENTRY_BASE_URL", &base_url)
        .env("CONSENTRY_ADMIN_TOKEN", &token)
        .env("CONSENTRY_COLLECTOR_BIN", &server_bin)
        .env("CONSENTRY_DATABASE_URL", &database_url)
        .env("CONSENTRY_CHROMIUM", ensure::CHROMIUM))?;
    Ok(Ran::Yes)
}

/// A port nobody listens on right now. The server is another process, so it
/// cannot bind port 0 for us; the short race until it binds is acceptable here.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The collector process; killed when dropped, so no failure path leaks it.
struct Server(Child);

impl Server {
    fn wait_healthy(&mut self, port: u16) -> Result {
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait()? {
                return Err(format!("the collector exited early ({status})").into());
            }
            if healthz_ok(port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("the collector did not answer /healthz within {SERVER_START_TIMEOUT:?}").into())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn healthz_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut reply = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut reply).is_ok()
        && reply.starts_with("HTTP/1.1 200")
}

/// Whether `dir` holds a file `node --test <dir>` would run: node's default
/// patterns, `*.test.js`, `*-test.js`, `*_test.js`, `test-*.js`, `test.js`
/// (and `.mjs`/`.cjs`), searched recursively, skipping node_modules.
fn has_node_tests(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            return name != "node_modules" && has_node_tests(&path);
        }
        let Some(stem) = ["js", "mjs", "cjs"]
            .iter()
            .find_map(|ext| name.strip_suffix(&format!(".{ext}")))
        else {
            return false;
        };
        stem == "test"
            || stem.starts_with("test-")
            || [".test", "-test", "_test"]
                .iter()
                .any(|suffix| stem.ends_with(suffix))
    })
}
