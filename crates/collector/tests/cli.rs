//! The binary as an operator runs it: `serve` configured from the environment
//! on a real port, and `verify` over a database, before and after tampering.

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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the collector did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

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
        "{\"site\":\"acme-landing\",\"receipts\":3,\"pruned\":0,\"ok\":true}"
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
