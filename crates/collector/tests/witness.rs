//! `consentry-collector witness` against real collectors on `127.0.0.1:0`:
//! a log that grows is followed; a log restored from an old backup, or
//! another log under the same key and name (a second database), is caught,
//! and the checkpoint the witness kept stays as it was.
//!
//! One address can be answered by one collector, then another (a
//! [`Host`]): what a witness sees when the operator swaps the database
//! behind the same URL.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::IntoResponse as _;
use axum::Router;
use consentry_collector::witness::{Report, Status, Witness};
use consentry_collector::{app, AppState, Collector, Countersigner, Store};
use support::{common, TempDir};
use tower::ServiceExt;

const BIN: &str = env!("CARGO_BIN_EXE_consentry-collector");

/// One collector: its database and the key it signs with.
struct Log {
    store: Store,
    collector_app: Router,
    _dir: TempDir,
    db: PathBuf,
}

impl Log {
    /// A collector over a new SQLite database, countersigning with `seeds`
    /// (the last signs), under the tests' log origin.
    async fn new(seeds: &[[u8; 32]]) -> Log {
        let dir = TempDir::new("witness-log");
        let db = dir.0.join("consentry.db");
        Log::over(dir, db, seeds).await
    }

    /// Another collector over the same database file.
    async fn over(dir: TempDir, db: PathBuf, seeds: &[[u8; 32]]) -> Log {
        let signer = Arc::new(Countersigner::from_seeds(seeds).expect("keys"));
        let url = format!("sqlite://{}", db.display());
        let store = Store::open(&url, Arc::clone(&signer), support::origin())
            .await
            .expect("store");
        let sites = support::one_site("http://127.0.0.1:8080", None);
        let collector = Collector::new(sites, store.clone(), signer, None);
        Log {
            store,
            collector_app: app(AppState::new(Vec::new()).with_collector(collector)),
            _dir: dir,
            db,
        }
    }

    /// Appends `n` fresh receipts, each signed like the browser signs it.
    async fn append(&self, n: usize) {
        for _ in 0..n {
            let jws = support::signed(common::SITE, &support::uuid(), common::ISSUED_AT);
            self.store
                .append(support::new_receipt(&jws))
                .await
                .expect("append");
        }
    }

    /// A consistent copy of the database as it is now: an operator's backup.
    fn backup(&self) -> (TempDir, PathBuf) {
        let dir = TempDir::new("witness-backup");
        let copy = dir.0.join("consentry.db");
        let conn = rusqlite::Connection::open(&self.db).expect("open");
        conn.execute("VACUUM INTO ?1", [copy.display().to_string()])
            .expect("vacuum into");
        (dir, copy)
    }

    async fn checkpoint(&self) -> String {
        self.store
            .checkpoint(common::SITE)
            .await
            .expect("read")
            .expect("a checkpoint")
            .1
    }
}

/// An address on 127.0.0.1 whose answers come from whichever collector is
/// behind it now. Stops when dropped.
struct Host {
    addr: SocketAddr,
    behind: Arc<RwLock<Router>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A collector's checkpoint request that waits for another collector's
/// (`Waits`: up to [`GATE_WAIT`], then a 503) or lets it go (`Opens`).
#[derive(Clone)]
enum Gate {
    None,
    Waits(Arc<tokio::sync::Notify>),
    Opens(Arc<tokio::sync::Notify>),
}

/// Far longer than a poll of two logs takes, far shorter than the test's
/// patience.
const GATE_WAIT: Duration = Duration::from_secs(5);

impl Host {
    async fn start(log: &Log) -> Host {
        Host::gated(log, Gate::None).await
    }

    async fn gated(log: &Log, gate: Gate) -> Host {
        let behind = Arc::new(RwLock::new(log.collector_app.clone()));
        let front = {
            let behind = Arc::clone(&behind);
            Router::new().fallback(move |req: Request| {
                let router = behind.read().expect("not poisoned").clone();
                let gate = gate.clone();
                async move {
                    if req.uri().path().ends_with("/checkpoint") {
                        match gate {
                            Gate::None => {}
                            Gate::Opens(other) => other.notify_one(),
                            Gate::Waits(other) => {
                                if tokio::time::timeout(GATE_WAIT, other.notified())
                                    .await
                                    .is_err()
                                {
                                    return axum::http::StatusCode::SERVICE_UNAVAILABLE
                                        .into_response();
                                }
                            }
                        }
                    }
                    router
                        .oneshot(req)
                        .await
                        .unwrap_or_else(|never| match never {})
                }
            })
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, front)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Host {
            addr,
            behind,
            _stop: stop,
        }
    }

    /// From now on, `log` answers at this address.
    fn swap(&self, log: &Log) {
        *self.behind.write().expect("not poisoned") = log.collector_app.clone();
    }

    fn url(&self) -> String {
        format!("http://{}/v1/sites/{}/checkpoint", self.addr, common::SITE)
    }
}

fn witness(state: &Path, urls: &[&str]) -> Witness {
    Witness {
        state: state.to_owned(),
        jwks: None,
        once: true,
        interval: 60,
        urls: urls.iter().map(|u| (*u).to_owned()).collect(),
    }
}

/// One poll, as `--once` does it: the reports and the exit status.
async fn poll(w: &Witness) -> Vec<Report> {
    w.start().expect("a valid command line").poll().await
}

async fn run(w: Witness) -> ExitCode {
    w.run().await.expect("stdout is writable")
}

/// The state file `<sha256(url)>.<suffix>`.
fn kept(state: &Path, url: &str, suffix: &str) -> PathBuf {
    state.join(format!(
        "{}.{suffix}",
        consentry_collector::witness::state_name(url)
    ))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn origin() -> String {
    format!("{}/{}", support::LOG_ORIGIN, common::SITE)
}

#[tokio::test]
async fn the_first_poll_keeps_the_checkpoint_its_origin_and_the_keys() {
    let log = Log::new(&[[42; 32]]).await;
    log.append(2).await;
    let host = Host::start(&log).await;
    let state = TempDir::new("witness-state");
    let url = host.url();

    let reports = poll(&witness(&state.0, &[&url])).await;
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.status, Status::First, "{r:?}");
    assert_eq!(
        (r.size, r.kept_size, r.origin.as_deref()),
        (Some(2), None, Some(origin().as_str()))
    );
    assert_eq!(
        read(&kept(&state.0, &url, "checkpoint")),
        log.checkpoint().await
    );
    assert_eq!(
        read(&kept(&state.0, &url, "origin")),
        format!("{}\n", origin())
    );
    assert_eq!(read(&kept(&state.0, &url, "url")), format!("{url}\n"));
    let jwks: serde_json::Value =
        serde_json::from_str(&read(&kept(&state.0, &url, "jwks.json"))).expect("JSON");
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));

    // Polled again, nothing changed and nothing is rewritten.
    let reports = poll(&witness(&state.0, &[&url])).await;
    assert_eq!(reports[0].status, Status::Unchanged, "{:?}", reports[0]);
    assert_eq!(run(witness(&state.0, &[&url])).await, ExitCode::SUCCESS);
}

/// The URLs of one poll are polled together: a collector that answers only
/// once another has been asked too gets its answer. Polled one after the
/// other, the first would have waited in vain and been reported unreachable.
#[tokio::test]
async fn the_urls_of_a_poll_are_polled_together() {
    let (slow, other) = (Log::new(&[[1; 32]]).await, Log::new(&[[2; 32]]).await);
    slow.append(2).await;
    other.append(3).await;
    let asked = Arc::new(tokio::sync::Notify::new());
    let slow_host = Host::gated(&slow, Gate::Waits(Arc::clone(&asked))).await;
    let other_host = Host::gated(&other, Gate::Opens(asked)).await;
    let state = TempDir::new("witness-together");
    let (first, second) = (slow_host.url(), other_host.url());

    let reports = poll(&witness(&state.0, &[&first, &second])).await;
    let seen: Vec<(&str, Status, Option<u64>)> = reports
        .iter()
        .map(|r| (r.url.as_str(), r.status, r.size))
        .collect();
    assert_eq!(
        seen,
        [
            (first.as_str(), Status::First, Some(2)),
            (second.as_str(), Status::First, Some(3))
        ],
        "both answered, reported in the order given: {reports:?}"
    );
}

#[tokio::test]
async fn a_grown_log_proves_it_holds_the_kept_one_and_its_checkpoint_is_kept() {
    let log = Log::new(&[[42; 32]]).await;
    log.append(3).await;
    let host = Host::start(&log).await;
    let state = TempDir::new("witness-state");
    let url = host.url();
    assert_eq!(run(witness(&state.0, &[&url])).await, ExitCode::SUCCESS);

    log.append(4).await;
    let reports = poll(&witness(&state.0, &[&url])).await;
    let r = &reports[0];
    assert_eq!(r.status, Status::New, "{r:?}");
    assert_eq!((r.kept_size, r.size), (Some(3), Some(7)));
    assert_eq!(
        read(&kept(&state.0, &url, "checkpoint")),
        log.checkpoint().await
    );

    // One receipt at a time, across tree shapes: each step is proved.
    for _ in 0..5 {
        log.append(1).await;
        assert_eq!(run(witness(&state.0, &[&url])).await, ExitCode::SUCCESS);
    }
    assert!(read(&kept(&state.0, &url, "checkpoint")).contains("\n12\n"));
}

#[tokio::test]
async fn a_log_restored_from_an_old_backup_is_a_rollback_and_the_kept_checkpoint_stays() {
    let log = Log::new(&[[42; 32]]).await;
    log.append(2).await;
    let (backup_dir, backup_db) = log.backup();
    log.append(3).await;
    let host = Host::start(&log).await;
    let state = TempDir::new("witness-state");
    let url = host.url();
    assert_eq!(run(witness(&state.0, &[&url])).await, ExitCode::SUCCESS);
    let kept_before = read(&kept(&state.0, &url, "checkpoint"));

    // The same key signs the old head: its signature is fine, its size is not.
    let restored = Log::over(backup_dir, backup_db, &[[42; 32]]).await;
    host.swap(&restored);
    let reports = poll(&witness(&state.0, &[&url])).await;
    let r = &reports[0];
    assert_eq!(r.status, Status::Inconsistent, "{r:?}");
    assert_eq!((r.kept_size, r.size), (Some(5), Some(2)));
    assert!(r.reason.contains("rollback"), "{}", r.reason);
    assert_eq!(read(&kept(&state.0, &url, "checkpoint")), kept_before);
    let evidence = state.0.join(r.evidence.as_deref().expect("evidence saved"));
    assert_eq!(read(&evidence), restored.checkpoint().await);
    assert!(evidence.to_string_lossy().contains(&format!(
        "{}.rejected-2-",
        consentry_collector::witness::state_name(&url)
    )));

    assert_eq!(run(witness(&state.0, &[&url])).await, ExitCode::FAILURE);
    assert_eq!(read(&kept(&state.0, &url, "checkpoint")), kept_before);
}

/// A log removed whole (its rows and head deleted) answers `no_log`: with a
/// checkpoint kept, that is an inconsistency, not an outage.
#[tokio::test]
async fn a_log_removed_whole_after_a_checkpoint_was_kept_is_inconsistent() {
    let log = Log::new(&[[42; 32]]).await;
    log.append(3).await;
    let host = Host::start(&log).await;
    let state = TempDir::new("witness-state");
    let url = host.url();
    assert_eq!(run(witness(&state.0, &[&url])).await, ExitCode::SUCCESS);
    let kept_before = read(&kept(&state.0, &url, "checkpoint"));

    let empty = Log::new(&[[42; 32]]).await;
    host.swap(&empty);
    let reports = poll(&witness(&state.0, &[&url])).await;
    let r = &reports[0];
    assert_eq!(r.status, Status::Inconsistent, "{r:?}");
    assert_eq!(r.kept_size, Some(3));
    assert!(
        r.reason.contains("the whole log was removed"),
        "{}",
        r.reason
    );
    assert!(r.evidence.is_some(), "the answer is kept as evidence");
    assert_eq!(read(&kept(&state.0, &url, "checkpoint")), kept_before);
    assert_eq!(run(witness(&state.0, &[&url])).await, ExitCode::FAILURE);
}

#[tokio::test]
async fn a_second_database_under_the_same_key_and_name_is_a_fork() {
    let log = Log::new(&[[42; 32]]).await;
    log.append(3).await;
    let host = Host::start(&log).await;
    let state = TempDir::new("witness-state");
    let url = host.url();
    assert_eq!(run(witness(&state.0, &[&url])).await, ExitCode::SUCCESS);
    let kept_before = read(&kept(&state.0, &url, "checkpoint"));

    // Same key, same origin, three other receipts: a validly signed head of
    // another history at the very same size.
    let other = Log::new(&[[42; 32]]).await;
    other.append(3).await;
    host.swap(&other);
    let reports = poll(&witness(&state.0, &[&url])).await;
    let r = &reports[0];
    assert_eq!(r.status, Status::Inconsistent, "{r:?}");
    assert_eq!((r.kept_size, r.size), (Some(3), Some(3)));
    assert!(r.reason.starts_with("fork"), "{}", r.reason);
    assert_eq!(read(&kept(&state.0, &url, "checkpoint")), kept_before);

    // Grown past the kept size, the other history cannot prove it holds ours.
    other.append(4).await;
    let reports = poll(&witness(&state.0, &[&url])).await;
    let r = &reports[0];
    assert_eq!(r.status, Status::Inconsistent, "{r:?}");
    assert_eq!((r.kept_size, r.size), (Some(3), Some(7)));
    assert!(r.reason.contains("does not prove"), "{}", r.reason);
    let evidence = state.0.join(r.evidence.as_deref().expect("evidence saved"));
    assert_eq!(read(&evidence), other.checkpoint().await);
    let mut proof = evidence.into_os_string();
    proof.push(".proof.json");
    assert!(read(Path::new(&proof)).starts_with("{\"proof\":["));
    assert_eq!(read(&kept(&state.0, &url, "checkpoint")), kept_before);
    assert_eq!(run(witness(&state.0, &[&url])).await, ExitCode::FAILURE);
}

#[tokio::test]
async fn a_rotated_key_is_added_to_the_kept_keys_and_a_dropped_one_is_refused() {
    let log = Log::new(&[[42; 32]]).await;
    log.append(1).await;
    let host = Host::start(&log).await;
    let state = TempDir::new("witness-state");
    let url = host.url();
    assert_eq!(run(witness(&state.0, &[&url])).await, ExitCode::SUCCESS);

    // `keys rotate` and a restart: the same database, a second key signing.
    let Log { _dir: dir, db, .. } = log;
    let rotated = Log::over(dir, db, &[[42; 32], [43; 32]]).await;
    rotated.append(1).await;
    host.swap(&rotated);
    let reports = poll(&witness(&state.0, &[&url])).await;
    assert_eq!(reports[0].status, Status::New, "{:?}", reports[0]);
    assert!(
        reports[0].reason.contains("new key"),
        "{}",
        reports[0].reason
    );
    let jwks = read(&kept(&state.0, &url, "jwks.json"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&jwks).expect("JSON")["keys"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // The old key gone from the key file: everything it signed is unpublished.
    let Log { _dir: dir, db, .. } = rotated;
    let dropped = Log::over(dir, db, &[[43; 32]]).await;
    dropped.append(1).await;
    host.swap(&dropped);
    let kept_before = read(&kept(&state.0, &url, "checkpoint"));
    let reports = poll(&witness(&state.0, &[&url])).await;
    let r = &reports[0];
    assert_eq!(r.status, Status::Inconsistent, "{r:?}");
    let old_kid = Countersigner::from_seed(&[42; 32])
        .expect("key")
        .kid()
        .to_owned();
    assert!(r.reason.contains(&old_kid), "{}", r.reason);
    assert!(r
        .evidence
        .as_deref()
        .is_some_and(|f| f.contains(".rejected-jwks-")));
    assert_eq!(read(&kept(&state.0, &url, "jwks.json")), jwks);
    assert_eq!(read(&kept(&state.0, &url, "checkpoint")), kept_before);
}

#[tokio::test]
async fn pinned_keys_that_did_not_sign_the_checkpoint_keep_nothing() {
    let log = Log::new(&[[42; 32]]).await;
    log.append(1).await;
    let host = Host::start(&log).await;
    let state = TempDir::new("witness-state");
    let url = host.url();
    let jwks = state.0.join("pinned.json");
    let other = Countersigner::from_seed(&[9; 32]).expect("key");
    std::fs::write(&jwks, other.jwks().to_string()).expect("write");

    let mut w = witness(&state.0, &[&url]);
    w.jwks = Some(jwks.clone());
    let reports = poll(&w).await;
    let r = &reports[0];
    assert_eq!(r.status, Status::Inconsistent, "{r:?}");
    assert!(r.reason.contains("does not verify"), "{}", r.reason);
    assert!(!kept(&state.0, &url, "checkpoint").exists());
    assert!(!kept(&state.0, &url, "jwks.json").exists());

    // Pinned to the collector's own JWKS, it is kept, and no JWKS is fetched.
    std::fs::write(&jwks, support::signer().jwks().to_string()).expect("write");
    assert_eq!(run(w).await, ExitCode::SUCCESS);
    assert!(kept(&state.0, &url, "checkpoint").exists());
    assert!(!kept(&state.0, &url, "jwks.json").exists());
}

#[tokio::test]
async fn an_unreachable_collector_is_reported_apart_from_an_inconsistent_one() {
    let log = Log::new(&[[42; 32]]).await;
    log.append(1).await;
    let host = Host::start(&log).await;
    let state = TempDir::new("witness-state");
    // A port that was just free: nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let down = format!("http://{closed}/v1/sites/{}/checkpoint", common::SITE);
    // A collector without that site's log answers 404.
    let missing = format!("http://{}/v1/sites/no-such-site/checkpoint", host.addr);

    let reports = poll(&witness(&state.0, &[&host.url(), &down, &missing])).await;
    let statuses: Vec<_> = reports.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [Status::First, Status::Unreachable, Status::Unreachable]
    );
    assert!(
        reports[2].reason.contains("404 no_log"),
        "{}",
        reports[2].reason
    );
    assert!(!kept(&state.0, &down, "checkpoint").exists());
    assert_eq!(
        run(witness(&state.0, &[&host.url(), &down])).await,
        ExitCode::from(3)
    );
}

#[tokio::test]
async fn a_url_that_is_no_checkpoint_url_or_an_unreadable_jwks_is_a_usage_error() {
    let state = TempDir::new("witness-state");
    let bad = "http://127.0.0.1:1/v1/receipts".to_owned();
    assert!(witness(&state.0, &[&bad]).start().is_err());
    assert_eq!(run(witness(&state.0, &[&bad])).await, ExitCode::from(2));

    let url = format!("http://127.0.0.1:1/v1/sites/{}/checkpoint", common::SITE);
    assert_eq!(
        run(witness(&state.0, &[&url, &url])).await,
        ExitCode::from(2)
    );
    let mut w = witness(&state.0, &[&url]);
    w.jwks = Some(state.0.join("missing.json"));
    let err = w.start().err().expect("no such file");
    assert!(err.contains("missing.json"), "{err}");
    assert_eq!(run(w).await, ExitCode::from(2));
}

/// Waits (at most 20 s) until `done` holds, checking every 50 ms.
async fn until(mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn without_once_it_keeps_polling_and_exits_1_after_an_inconsistency() {
    let log = Log::new(&[[42; 32]]).await;
    log.append(1).await;
    let (backup_dir, backup_db) = log.backup();
    let host = Host::start(&log).await;
    let state = TempDir::new("witness-state");
    let url = host.url();
    let mut w = witness(&state.0, &[&url]);
    w.once = false;
    w.interval = 1;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(w.run_until(async {
        let _ = stopped.await;
    }));

    let checkpoint = kept(&state.0, &url, "checkpoint");
    until(|| checkpoint.exists()).await;
    log.append(2).await;
    until(|| std::fs::read_to_string(&checkpoint).is_ok_and(|c| c.contains("\n3\n"))).await;

    let restored = Log::over(backup_dir, backup_db, &[[42; 32]]).await;
    host.swap(&restored);
    let evidence_of = |dir: &Path| {
        std::fs::read_dir(dir)
            .expect("list")
            .any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().contains(".rejected-1-")))
    };
    until(|| evidence_of(&state.0)).await;
    let _ = stop.send(());
    let code = running
        .await
        .expect("no panic")
        .expect("stdout is writable");
    assert_eq!(code, ExitCode::FAILURE);
    assert!(read(&checkpoint).contains("\n3\n"));
}

/// Needs `Command::Witness` in `main.rs`.
#[tokio::test]
async fn the_binary_prints_one_json_line_per_url_and_exits_3_when_one_is_down() {
    let log = Log::new(&[[42; 32]]).await;
    log.append(1).await;
    let host = Host::start(&log).await;
    let state = TempDir::new("witness-state");
    let down = format!("http://127.0.0.1:1/v1/sites/{}/checkpoint", common::SITE);
    let args = vec![
        "witness".to_owned(),
        "--once".to_owned(),
        "--state".to_owned(),
        state.0.display().to_string(),
        host.url(),
        down,
    ];
    // The collector being watched runs on this test's runtime: wait for the
    // binary off it.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .env("CONSENTRY_LOG", "error")
            .output()
    })
    .await
    .expect("no panic")
    .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["status"], "first");
    assert_eq!(lines[0]["url"], host.url());
    assert_eq!(lines[0]["origin"], origin());
    assert_eq!(lines[0]["size"], 1);
    assert_eq!(lines[1]["status"], "unreachable");

    let help = std::process::Command::new(BIN)
        .args(["witness", "--help"])
        .output()
        .expect("the binary runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--state <DIR>") && help.contains("Exit status"),
        "{help}"
    );
}
