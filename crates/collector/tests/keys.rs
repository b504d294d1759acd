//! The countersigning key across restarts, as an operator meets it: made on
//! the first start of an empty store only, never silently replaced once
//! receipts name it, and kept (with the database) readable by its owner only.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::CollectorDir;

/// `consentry-collector serve` on `dir` (with `static_args`), expected to stop
/// at once: its exit status and stderr. A collector that starts anyway is
/// killed after 30 s and fails the test.
fn serve_refused(dir: &CollectorDir, static_args: &[&str]) -> (bool, String) {
    let args = [&["serve", "--addr", "127.0.0.1:0"], static_args].concat();
    let mut child = dir
        .command(&args, true)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the collector started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    (status.success(), stderr)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn a_collector_whose_key_file_went_missing_refuses_to_start_until_it_is_back() {
    let setup = CollectorDir::new("key-missing");
    let collector = setup.open(None).await.expect("first start");
    CollectorDir::store_one_receipt(&collector).await;
    let jwks = collector.signer().jwks();
    drop(collector);

    // The operator moves the key away (a lost volume, a wrong mount).
    let moved = setup.path("moved.key");
    std::fs::rename(setup.key_file(), &moved).expect("move the key");

    let err = setup
        .open(None)
        .await
        .expect_err("no new key over receipts");
    let shown = setup.key_file().display().to_string();
    assert!(err.contains(&shown), "names the key file: {err}");
    assert!(
        err.contains("Restore the key file") && err.contains("CONSENTRY_KEY_FILE"),
        "says what to do: {err}"
    );
    assert!(!setup.key_file().exists(), "no key is created in its place");

    let (started, stderr) = serve_refused(&setup, &[]);
    assert!(!started, "serve exits with an error");
    assert!(
        stderr.contains(&shown),
        "serve names the key file: {stderr}"
    );
    assert!(!setup.key_file().exists(), "serve creates no key either");

    // The key is back: the same key, the same published JWKS.
    std::fs::rename(&moved, setup.key_file()).expect("restore the key");
    let collector = setup.open(None).await.expect("starts with its key");
    assert_eq!(collector.signer().jwks(), jwks);
    let report = consentry_collector::audit::verify_database(&setup.config(None), None)
        .await
        .expect("verify");
    assert!(report.iter().all(|site| site.ok), "earlier receipts verify");
}

#[test]
fn serve_refuses_to_serve_the_directory_holding_its_key_and_database() {
    let setup = CollectorDir::new("key-static");
    let served = setup.dir.0.display().to_string();

    let (started, stderr) = serve_refused(&setup, &["--static", &served]);
    assert!(!started, "serve exits with an error");
    assert!(
        stderr.contains(&format!("--static {served}")),
        "names the directory: {stderr}"
    );
    assert!(
        stderr.contains(&setup.key_file().display().to_string()),
        "names the key file: {stderr}"
    );
    assert!(!setup.key_file().exists(), "no key is made to be served");
    assert!(!setup.database().exists(), "no database either");
}

#[tokio::test]
async fn a_fresh_store_starts_with_a_new_key_and_keeps_it() {
    let setup = CollectorDir::new("key-fresh");
    assert!(!setup.key_file().exists());
    let collector = setup.open(None).await.expect("first start");
    assert!(
        setup.key_file().exists(),
        "the key is made for an empty store"
    );
    let jwks = collector.signer().jwks();
    CollectorDir::store_one_receipt(&collector).await;
    #[cfg(unix)]
    {
        assert_eq!(mode(&setup.key_file()), 0o600, "the key is private");
        assert_eq!(mode(&setup.database()), 0o600, "the database is private");
        // SQLite gives its WAL and shared-memory files the database's mode.
        for suffix in ["-wal", "-shm"] {
            let side = setup.path(&format!("consentry.db{suffix}"));
            if side.exists() {
                assert_eq!(mode(&side), 0o600, "{}", side.display());
            }
        }
    }
    drop(collector);
    let again = setup.open(None).await.expect("second start");
    assert_eq!(
        again.signer().jwks(),
        jwks,
        "the same key at the next start"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_existing_database_file_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let setup = CollectorDir::new("db-mode");
    std::fs::write(setup.database(), b"").expect("an empty database file");
    std::fs::set_permissions(setup.database(), std::fs::Permissions::from_mode(0o640))
        .expect("chmod");
    let _collector = setup.open(None).await.expect("start");
    assert_eq!(
        mode(&setup.database()),
        0o640,
        "the operator's choice stays"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_unreadable_key_file_is_an_error_not_a_new_key() {
    use std::os::unix::fs::PermissionsExt;
    for with_receipts in [false, true] {
        let setup = CollectorDir::new("key-unreadable");
        let collector = setup.open(None).await.expect("first start");
        if with_receipts {
            CollectorDir::store_one_receipt(&collector).await;
        }
        drop(collector);
        let before = std::fs::read(setup.key_file()).expect("key");
        std::fs::set_permissions(setup.key_file(), std::fs::Permissions::from_mode(0o000))
            .expect("chmod 000");
        if std::fs::read(setup.key_file()).is_ok() {
            // Root reads a mode-000 file: nothing to test here.
            eprintln!("the key file is readable after chmod 000 (running as root?): skipped");
            return;
        }
        let err = setup.open(None).await.expect_err("unreadable key");
        assert!(err.contains("cannot read key file"), "{err}");
        assert!(
            err.contains(&setup.key_file().display().to_string()),
            "{err}"
        );
        std::fs::set_permissions(setup.key_file(), std::fs::Permissions::from_mode(0o600))
            .expect("chmod 600");
        assert_eq!(
            std::fs::read(setup.key_file()).expect("key"),
            before,
            "the key file is left as it was"
        );
    }
}

/// A second collector on the same database with another key file (it made
/// a first key of its own, or was not given the rotated file) is refused
/// at start, naming the key it lacks; with the same file it starts.
#[tokio::test]
async fn a_collector_with_another_key_file_than_the_database_names_is_refused() {
    let setup = CollectorDir::new("key-other");
    let collector = setup.open(None).await.expect("first start");
    CollectorDir::store_one_receipt(&collector).await;
    let kid = collector.signer().kid().to_owned();
    drop(collector);

    let other = setup.path("other.key");
    consentry_collector::Countersigner::from_seed(&[5u8; 32])
        .expect("key")
        .persist_new(&other)
        .expect("write");
    let mut config = setup.config(None);
    config.key_file = other;
    let err = consentry_collector::Collector::open(&config)
        .await
        .expect_err("refused");
    assert!(
        err.contains(&kid) && err.contains("same key file"),
        "names the missing key and what to do: {err}"
    );
    setup
        .open(None)
        .await
        .expect("with the database's key file it starts");
}
