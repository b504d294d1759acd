//! The binary as an operator runs it: `serve` configured from the environment
//! on a real port, and `verify` over a database, before and after tampering;
//! its `--help`, `--version` and the errors for a mistyped command line.

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{common, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_consentry-collector");

/// The collector process, killed on drop so a failing test leaks nothing.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    reply
}

/// The binary run to its end with `args` and no configuration at all.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("CONSENTRY_SITES")
        .env_remove("CONSENTRY_DATABASE_URL")
        .output()
        .expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn wait_until_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the collector did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn help_names_every_command_and_the_environment_it_reads() {
    let (code, help, _) = run(&["--help"]);
    assert_eq!(code, Some(0), "{help}");
    for word in [
        "serve",
        "verify",
        "prune",
        "--static",
        "CONSENTRY_SITES",
        "--version",
    ] {
        assert!(help.contains(word), "{word} missing from --help:\n{help}");
    }
}

#[test]
fn serve_help_describes_addr_static_dirs_and_every_variable() {
    let (code, help, _) = run(&["serve", "--help"]);
    assert_eq!(code, Some(0), "{help}");
    for word in [
        "--addr <HOST:PORT>",
        "--static <DIR>",
        "first one holding a path wins",
        "CONSENTRY_PORT",
        "8080",
        "CONSENTRY_SITES",
        "CONSENTRY_DATABASE_URL",
        "CONSENTRY_KEY_FILE",
        "CONSENTRY_ADMIN_TOKEN",
        "CONSENTRY_LOG",
    ] {
        assert!(
            help.contains(word),
            "{word} missing from serve --help:\n{help}"
        );
    }
}

#[test]
fn verify_and_prune_help_tell_their_flags_and_verify_its_exit_status() {
    let (code, help, _) = run(&["verify", "--help"]);
    assert_eq!(code, Some(0), "{help}");
    assert!(
        help.contains("--site <SITE>") && help.contains("--database <URL>"),
        "{help}"
    );
    assert!(help.contains("1 when any is bad"), "{help}");
    let (code, help, _) = run(&["prune", "--help"]);
    assert_eq!(code, Some(0), "{help}");
    assert!(
        help.contains("--site <SITE>") && help.contains("retention_days"),
        "{help}"
    );
}

#[test]
fn version_prints_the_crate_version_on_the_root_and_on_a_command() {
    let version = env!("CARGO_PKG_VERSION");
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.trim(), format!("consentry-collector {version}"));
    // clap names a command's version after the command.
    let (code, out, _) = run(&["serve", "--version"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.trim(), format!("consentry-collector-serve {version}"));
}

#[test]
fn a_mistyped_flag_is_a_usage_error_that_names_it_and_suggests_the_real_one() {
    let (code, out, err) = run(&["serve", "--stattic", "x"]);
    assert_eq!(code, Some(2), "clap's usage error: {err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("'--stattic'"), "{err}");
    assert!(
        err.contains("'--static'"),
        "the tip names the flag that was meant: {err}"
    );
}

#[test]
fn a_flag_without_its_value_is_a_usage_error_that_names_it() {
    let (code, _, err) = run(&["verify", "--site"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--site"), "{err}");
}

#[test]
fn no_command_or_an_unknown_one_is_a_usage_error() {
    for args in [&[][..], &["sever"]] {
        let (code, _, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("Usage: consentry-collector"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn serve_listens_on_the_last_addr_and_the_first_static_dir_holding_a_path_wins() {
    let dir = TempDir::new("cli-static");
    let (first, second) = (dir.0.join("first"), dir.0.join("second"));
    std::fs::create_dir_all(&first).expect("first");
    std::fs::create_dir_all(&second).expect("second");
    std::fs::write(first.join("both.txt"), "from first").expect("write");
    std::fs::write(second.join("both.txt"), "from second").expect("write");
    std::fs::write(second.join("only.txt"), "only in second").expect("write");
    let port = free_port();
    let child = Command::new(BIN)
        .arg("serve")
        // An address given twice: the last one is used, as before clap.
        .args([
            "--addr",
            "not an address",
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--static")
        .arg(&first)
        .arg("--static")
        .arg(&second)
        // No sites file (none in this directory either): static files only.
        .current_dir(&dir.0)
        .env_remove("CONSENTRY_SITES")
        .env(
            "CONSENTRY_DATABASE_URL",
            format!("sqlite://{}", dir.0.join("c.db").display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let _server = Server(child);
    wait_until_listening(port);
    let get = |path: &str| {
        http(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
    };
    let both = get("/both.txt");
    assert!(
        both.starts_with("HTTP/1.1 200") && both.ends_with("from first"),
        "{both}"
    );
    let only = get("/only.txt");
    assert!(
        only.starts_with("HTTP/1.1 200") && only.ends_with("only in second"),
        "{only}"
    );
}

fn now_rfc3339() -> String {
    consentry_receipt::receipt::format_rfc3339_utc(consentry_collector::now_ms())
}

#[test]
fn serve_takes_receipts_from_the_environment_config_and_verify_checks_the_chain() {
    let dir = TempDir::new("cli");
    let sites = dir.0.join("sites.toml");
    std::fs::write(
        &sites,
        "[sites.acme-landing]\norigins = [\"http://127.0.0.1:8080\"]\nretention_days = 30\n",
    )
    .expect("sites");
    let db = format!("sqlite://{}", dir.0.join("c.db").display());
    let port = free_port();
    let child = Command::new(BIN)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("CONSENTRY_SITES", &sites)
        .env("CONSENTRY_DATABASE_URL", &db)
        .env_remove("CONSENTRY_KEY_FILE")
        .env("CONSENTRY_ADMIN_TOKEN", "t0ken")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let _server = Server(child);
    wait_until_listening(port);

    // Receipts dated now, so the real clock accepts them.
    let ids = [support::uuid(), support::uuid(), support::uuid()];
    for id in &ids {
        let jws = support::signed(common::SITE, id, &now_rfc3339());
        let reply = http(
            port,
            &format!(
                "POST /v1/receipts HTTP/1.1\r\nHost: x\r\nOrigin: http://127.0.0.1:8080\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{jws}",
                jws.len()
            ),
        );
        assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    }
    let key_file = dir.0.join("collector.key");
    assert!(key_file.exists(), "the key is created next to the database");

    let verify = || {
        Command::new(BIN)
            .args(["verify", "--database", &db])
            .env_remove("CONSENTRY_KEY_FILE")
            .output()
            .expect("verify")
    };
    let out = verify();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{report}");
    assert_eq!(
        report.trim(),
        "{\"site\":\"acme-landing\",\"receipts\":3,\"pruned\":0,\"checkpoint_size\":3,\"ok\":true}"
    );

    // A mistyped site is not "ok, 0 receipts".
    let out = Command::new(BIN)
        .args(["verify", "--database", &db, "--site", "acme-landnig"])
        .env_remove("CONSENTRY_KEY_FILE")
        .output()
        .expect("verify");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("the store has no log for this site"),
        "{report}"
    );

    // A retention pass now: nothing is 30 days old yet.
    let out = Command::new(BIN)
        .args(["prune", "--site", common::SITE])
        .env("CONSENTRY_SITES", &sites)
        .env("CONSENTRY_DATABASE_URL", &db)
        .env_remove("CONSENTRY_KEY_FILE")
        .output()
        .expect("prune");
    let pass = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{pass}");
    assert!(
        pass.starts_with("{\"site\":\"acme-landing\",\"retention_days\":30,\"cutoff\":")
            && pass.trim_end().ends_with("\"pruned\":0}"),
        "{pass}"
    );
    let unknown = Command::new(BIN)
        .args(["prune", "--site", "nope"])
        .env("CONSENTRY_SITES", &sites)
        .env("CONSENTRY_DATABASE_URL", &db)
        .output()
        .expect("prune");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("\"nope\" is not in the sites file"));
    // Never a new key beside the database: a wrong CONSENTRY_KEY_FILE stops.
    let no_key = Command::new(BIN)
        .args(["prune"])
        .env("CONSENTRY_SITES", &sites)
        .env("CONSENTRY_DATABASE_URL", &db)
        .env("CONSENTRY_KEY_FILE", dir.0.join("elsewhere.key"))
        .output()
        .expect("prune");
    assert!(!no_key.status.success());
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("no key file at"));
    assert!(!dir.0.join("elsewhere.key").exists());

    let conn = rusqlite::Connection::open(dir.0.join("c.db")).expect("open");
    conn.execute("DELETE FROM receipts WHERE seq = 2", [])
        .expect("tamper");
    let out = verify();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "a broken chain exits non-zero");
    assert!(
        report.contains("\"reason\":\"missing seq (row removed)\"") && report.contains("\"seq\":2"),
        "{report}"
    );
}
