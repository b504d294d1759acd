//! `consentry-collector witness`: watch collectors' logs from another
//! machine, so a log that loses, rewrites or forks its history is caught by
//! someone the collector's operator does not control.
//!
//! Each poll, for each checkpoint URL: fetch the signed checkpoint, check its
//! signature with the collector's keys, and compare it with the checkpoint
//! kept from the last poll. A bigger log must come with a consistency proof
//! (RFC 9162 §2.1.4) that the kept tree is a prefix of the new one; the same
//! size must be the same root; a smaller size is a rollback. Only a
//! consistent checkpoint replaces the kept one, so the kept file is always
//! the last head this witness could vouch for, and what an auditor compares
//! the collector against.
//!
//! The origin (the log's name, the checkpoint's first line) and the
//! collector's keys (`/.well-known/jwks.json`) are trusted on first use and
//! kept; `--jwks FILE` pins the keys instead. A later JWKS may add keys (a
//! `keys rotate`), never drop one: a dropped key would unpublish every
//! countersignature and checkpoint it made.
//!
//! The pure core, [`compare`], [`check_growth`], [`check_origin`] and
//! [`dropped_keys`], decides; [`Watcher::poll`] fetches and keeps.
//!
//! # The state directory
//!
//! One set of files per URL, all named by `<name>` = the lower-case hex
//! SHA-256 of the URL exactly as given (64 characters: no URL text ever
//! becomes a path, and two URLs never share files):
//!
//! - `<name>.url`: the URL, for the person reading the directory.
//! - `<name>.checkpoint`: the last consistent checkpoint, the bytes as
//!   received (hand it to anyone: it is signed).
//! - `<name>.origin`: the origin seen first.
//! - `<name>.jwks.json`: the collector's JWKS, as received, updated only when
//!   keys were added (absent with `--jwks`).
//! - `<name>.rejected-<size>-<hash>`: a checkpoint that was refused, the
//!   bytes as received, as evidence (`<size>` is its claimed size or
//!   `unparsed`, `<hash>` the first 16 hex digits of its SHA-256, so two
//!   different refused checkpoints never overwrite each other), and beside
//!   it `….proof.json`, the consistency proof that failed, when there was one.
//! - `<name>.rejected-jwks-<hash>.json`: a JWKS that dropped a kept key.
//! - `*.tmp`: a file being written; each file is written beside its final
//!   name, synced and renamed over it, so a crash leaves the old file or the
//!   new one.
//!
//! One witness per state directory: two would race on the same files.

use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use base64::prelude::{Engine as _, BASE64_STANDARD};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::keys::PublicKeys;
use crate::log::{self, Checkpoint, Hash};

/// Every key of a proof or a checkpoint is a hash; a consistency proof is at
/// most ~2 log2 n of them (128 for any log that fits in a u64), a checkpoint
/// under 2 KB and a JWKS a few hundred bytes per key: 64 KiB is far more
/// than any honest answer and keeps a hostile one from filling memory.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;
/// A host that has not accepted the connection by then is down; the rest of
/// [`REQUEST_TIMEOUT`] is left for a slow answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole request, connect to last byte, as the collector's own
/// `REQUEST_TIMEOUT`: a poll of n URLs ends within 3 ⌈n / 8⌉ such requests.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// URLs polled at once. Each has its own files and its own answers, so
/// they are independent; a witness of a hundred sites then waits on a slow
/// collector about 13 times, not a hundred, and stays a polite client.
pub const POLL_CONCURRENCY: usize = 8;

/// Every URL consistent (`first`, `new` or `unchanged`).
pub const EXIT_CONSISTENT: u8 = 0;
/// At least one inconsistency: the evidence is in the state directory.
pub const EXIT_INCONSISTENT: u8 = 1;
/// A mistyped command line, a URL that is not a checkpoint URL, an unreadable
/// `--jwks` file or a state directory that cannot be written.
pub const EXIT_USAGE: u8 = 2;
/// No inconsistency, but a collector could not be reached (or answered 5xx):
/// nothing was learned about it this time.
pub const EXIT_UNREACHABLE: u8 = 3;
/// No inconsistency, but a kept file could not be read or written: this
/// witness could not do its job for that URL.
pub const EXIT_LOCAL_ERROR: u8 = 4;

/// Watch collectors' logs: check that each checkpoint is signed by the
/// collector and extends the one kept from the last poll.
///
/// Each URL is a site's checkpoint URL,
/// `https://HOST[/PATH]/v1/sites/SITE/checkpoint`; the witness also fetches
/// `/v1/sites/SITE/proof/consistency` and `/.well-known/jwks.json` under the
/// same `https://HOST[/PATH]`. A log that grew must prove it still holds
/// everything kept; the same size must be the same root; a smaller one is a
/// rollback. Only a consistent checkpoint replaces the kept one. The log's
/// origin and the collector's keys are trusted on first use and kept in the
/// state directory (or the keys pinned with `--jwks`); later keys may be
/// added (`keys rotate`), never dropped. An inconsistency is logged with the
/// URL and both sizes, and the refused checkpoint is saved beside the kept
/// one as evidence. Redirects are not followed; HTTPS_PROXY, HTTP_PROXY and
/// NO_PROXY are honoured.
///
/// Prints one JSON line per URL per poll: `url`, `origin`, `size`,
/// `kept_size`, `status` (`first`, `new`, `unchanged`, `inconsistent`,
/// `unreachable` or `error`), `reason`, and `evidence` (the saved file) when
/// inconsistent.
///
/// Exit status with `--once`: 0 when every URL is consistent, 1 when any is
/// inconsistent, 3 when none is inconsistent but a collector was
/// unreachable, 4 when a kept file could not be read or written; 2 for a
/// mistyped command line, a URL that is not a checkpoint URL, an unreadable
/// `--jwks` file or a state directory that cannot be written. Without
/// `--once` it polls every `--interval` seconds until ctrl-c or SIGTERM, then
/// exits 1 if it saw an inconsistency while running, else 0 (2 at start as
/// above).
#[derive(clap::Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct Witness {
    /// Where the kept checkpoints, origins and keys are; made if missing.
    /// One file set per URL, named by the URL's SHA-256
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The collector's keys from this saved `/.well-known/jwks.json`, for
    /// every URL, instead of trusting the first JWKS fetched
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// Poll each URL once and exit (see the exit status above)
    #[arg(long, conflicts_with = "interval")]
    pub once: bool,
    /// Seconds between polls, without `--once`
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    /// Checkpoint URLs, `https://HOST[/PATH]/v1/sites/SITE/checkpoint`
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<String>,
}

impl Witness {
    /// `--once`: one poll, printed, and its exit status. Otherwise polls
    /// every `--interval` seconds until ctrl-c or SIGTERM.
    pub async fn run(self) -> std::io::Result<ExitCode> {
        self.run_until(crate::shutdown_signal()).await
    }

    /// [`run`](Self::run), stopping the loop when `shutdown` completes (a
    /// poll under way is abandoned: every file is replaced atomically).
    /// `--once` ignores `shutdown`.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<ExitCode> {
        let watcher = match self.start() {
            Ok(watcher) => watcher,
            Err(err) => {
                // Not an `Err`: `main` would exit 1, which means "inconsistent".
                eprintln!("error: {err}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        };
        if self.once {
            let reports = watcher.poll().await;
            print(&reports)?;
            return Ok(ExitCode::from(exit_status(&reports)));
        }
        let mut seen_inconsistent = false;
        tokio::pin!(shutdown);
        loop {
            let reports = tokio::select! {
                reports = watcher.poll() => reports,
                () = &mut shutdown => break,
            };
            print(&reports)?;
            seen_inconsistent |= exit_status(&reports) == EXIT_INCONSISTENT;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(self.interval)) => {}
                () = &mut shutdown => break,
            }
        }
        Ok(ExitCode::from(if seen_inconsistent {
            EXIT_INCONSISTENT
        } else {
            EXIT_CONSISTENT
        }))
    }

    /// Checks the command line before the first request: every URL a
    /// checkpoint URL given once, the `--jwks` file, and a state directory
    /// this witness can write (each URL's `.url` file is written now).
    pub fn start(&self) -> Result<Watcher, String> {
        let mut targets: Vec<Target> = Vec::with_capacity(self.urls.len());
        for url in &self.urls {
            let endpoints = Endpoints::from_checkpoint_url(url)?;
            if targets.iter().any(|t| t.endpoints.checkpoint == *url) {
                return Err(format!("{url} is given twice"));
            }
            targets.push(Target {
                name: state_name(url),
                endpoints,
            });
        }
        let pinned = match &self.jwks {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|err| format!("cannot read --jwks {}: {err}", path.display()))?;
                Some(
                    PublicKeys::from_jwks(&text)
                        .map_err(|err| format!("--jwks {}: {err}", path.display()))?,
                )
            }
            None => None,
        };
        let state = self.state.clone();
        std::fs::create_dir_all(&state)
            .map_err(|err| format!("cannot make the state directory {}: {err}", state.display()))?;
        for target in &targets {
            let path = state.join(format!("{}.url", target.name));
            if !path.exists() {
                write_atomic(
                    &path,
                    format!("{}\n", target.endpoints.checkpoint).as_bytes(),
                )
                .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
            }
            if pinned.is_none() && target.endpoints.is_plain_http_off_loopback() {
                tracing::warn!(
                    "{}: trusting the first JWKS over plain http: anyone on the way could hand \
                     this witness their own keys; use https, or pin the keys with --jwks",
                    target.endpoints.checkpoint
                );
            }
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            // A 4xx body names what the collector refused; we read it.
            .http_status_as_error(false)
            // The proof and the JWKS are fetched beside the URL given: a
            // redirect would move only the checkpoint.
            .max_redirects(0)
            .user_agent(concat!("consentry-witness/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Watcher {
            state,
            pinned,
            targets,
            agent,
        })
    }
}

/// The three URLs a witness reads for one site's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The checkpoint URL as given.
    pub checkpoint: String,
    /// `https://HOST[/PATH]`, the collector the site is on.
    pub base: String,
    /// The site id, the last part of the log's origin.
    pub site: String,
}

impl Endpoints {
    /// From `http(s)://HOST[/PATH]/v1/sites/SITE/checkpoint`, nothing after
    /// it (no query, no fragment, no trailing slash).
    pub fn from_checkpoint_url(url: &str) -> Result<Endpoints, String> {
        let bad = |why: &str| {
            format!("{url:?} is not a checkpoint URL like https://consent.example/v1/sites/shop/checkpoint: {why}")
        };
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| bad("it must start with https:// or http://"))?;
        if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(
                "it must have no query, fragment, space or control character",
            ));
        }
        let base_len = url.len() - rest.len();
        let Some(path) = rest.strip_suffix("/checkpoint") else {
            return Err(bad("it must end in /v1/sites/SITE/checkpoint"));
        };
        let Some((host_path, site)) = path.rsplit_once("/v1/sites/") else {
            return Err(bad("it must end in /v1/sites/SITE/checkpoint"));
        };
        if !crate::config::is_site_id(site) {
            return Err(bad(
                "the site must be 1 to 64 letters, digits, '-', '_' or '.'",
            ));
        }
        let host = host_path.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return Err(bad("it must name a host, without user or password"));
        }
        Ok(Endpoints {
            checkpoint: url.to_owned(),
            base: url[..base_len + host_path.len()].to_owned(),
            site: site.to_owned(),
        })
    }

    fn consistency(&self, old: u64, new: u64) -> String {
        format!(
            "{}/v1/sites/{}/proof/consistency?old={old}&new={new}",
            self.base, self.site
        )
    }

    fn jwks(&self) -> String {
        format!("{}/.well-known/jwks.json", self.base)
    }

    fn is_plain_http_off_loopback(&self) -> bool {
        let Some(rest) = self.base.strip_prefix("http://") else {
            return false;
        };
        let host = rest.split('/').next().unwrap_or_default();
        let host = host
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        !(host == "localhost" || host == "[::1]" || host.starts_with("127."))
    }
}

/// The state files' common name for `url`: its SHA-256 in lower-case hex.
pub fn state_name(url: &str) -> String {
    hex(&Sha256::digest(url.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Why a collector's answer contradicts what this witness kept, or cannot be
/// checked at all. Each message says what a DPO can do next.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inconsistency {
    /// Not a signed checkpoint, or no known key signed it.
    BadCheckpoint(String),
    /// The log's name changed since the first poll.
    OriginChanged { kept: String, new: String },
    /// A first checkpoint whose origin is not a log of the URL's site.
    WrongSite { origin: String, site: String },
    /// The JWKS is not a JWKS of Ed25519 keys.
    BadKeys(String),
    /// The JWKS no longer lists these kept kids.
    KeysDropped(Vec<String>),
    /// The log is smaller than the one kept.
    Rollback { kept: u64, new: u64 },
    /// Same size as the one kept, another root: two histories.
    Fork { size: u64 },
    /// The log grew but could not prove it still holds the kept tree.
    NotAnExtension { kept: u64, new: u64, why: String },
    /// The collector says the site has no log, after this witness kept a
    /// checkpoint of it: the whole log was removed.
    LogGone { kept: u64 },
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inconsistency::BadCheckpoint(why) => write!(
                f,
                "the checkpoint does not verify ({why}); if the collector's keys were just \
                 rotated, every collector must be restarted with the new key file"
            ),
            Inconsistency::OriginChanged { kept, new } => write!(
                f,
                "the log was named {kept} and is now named {new}: a log's name never changes, \
                 so this is another log under the same URL"
            ),
            Inconsistency::WrongSite { origin, site } => write!(
                f,
                "the checkpoint names the log {origin}, which is not a log of site {site}"
            ),
            Inconsistency::BadKeys(why) => {
                write!(
                    f,
                    "the collector's /.well-known/jwks.json is not usable: {why}"
                )
            }
            Inconsistency::KeysDropped(kids) => write!(
                f,
                "the collector's JWKS no longer lists key {}: whatever that key signed can no \
                 longer be checked by others; ask the operator to restore it to the key file",
                kids.join(", ")
            ),
            Inconsistency::Rollback { kept, new } => write!(
                f,
                "rollback: the log now has {}, but held {kept} when this witness kept its \
                 checkpoint; receipts were removed (or an old backup restored)",
                receipts(*new)
            ),
            Inconsistency::Fork { size } => write!(
                f,
                "fork: the log has the {} it had, but another root hash, so another history",
                receipts(*size)
            ),
            Inconsistency::LogGone { kept } => write!(
                f,
                "the collector answers that this site has no log, but it held {} when this \
                 witness kept its checkpoint: the whole log was removed (or the URL now \
                 reaches another collector)",
                receipts(*kept)
            ),
            Inconsistency::NotAnExtension { kept, new, why } => write!(
                f,
                "the log grew from {kept} to {} but does not prove it still holds the {kept} \
                 kept ({why}): history was rewritten",
                receipts(*new)
            ),
        }
    }
}

impl std::error::Error for Inconsistency {}

/// What a new checkpoint is, next to the one kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Nothing kept yet: keep this one.
    First,
    /// The same tree.
    Unchanged,
    /// A bigger tree: keep it once [`check_growth`] passes.
    Grew,
}

/// Compares a signed `new` checkpoint with the `kept` one (both of the same
/// origin). Only the sizes and roots: growth still needs [`check_growth`].
pub fn compare(kept: Option<&Checkpoint>, new: &Checkpoint) -> Result<Comparison, Inconsistency> {
    let Some(kept) = kept else {
        return Ok(Comparison::First);
    };
    match new.size().cmp(&kept.size()) {
        std::cmp::Ordering::Less => Err(Inconsistency::Rollback {
            kept: kept.size(),
            new: new.size(),
        }),
        std::cmp::Ordering::Equal if new.root() == kept.root() => Ok(Comparison::Unchanged),
        std::cmp::Ordering::Equal => Err(Inconsistency::Fork { size: new.size() }),
        std::cmp::Ordering::Greater => Ok(Comparison::Grew),
    }
}

/// Checks the collector's consistency proof that `kept` is a prefix of
/// `new` (RFC 9162 §2.1.4.2).
pub fn check_growth(
    kept: &Checkpoint,
    new: &Checkpoint,
    proof: &[Hash],
) -> Result<(), Inconsistency> {
    log::verify_consistency(kept.size(), new.size(), proof, kept.root(), new.root()).map_err(
        |err| Inconsistency::NotAnExtension {
            kept: kept.size(),
            new: new.size(),
            why: err.to_string(),
        },
    )
}

/// The origin a checkpoint claims, against the one kept; on first use it
/// must at least be a log of the URL's site (`…/<site>`).
pub fn check_origin(kept: Option<&str>, claimed: &str, site: &str) -> Result<(), Inconsistency> {
    match kept {
        Some(kept) if kept != claimed => Err(Inconsistency::OriginChanged {
            kept: kept.to_owned(),
            new: claimed.to_owned(),
        }),
        Some(_) => Ok(()),
        None if claimed
            .strip_suffix(site)
            .is_some_and(|prefix| prefix.ends_with('/')) =>
        {
            Ok(())
        }
        None => Err(Inconsistency::WrongSite {
            origin: claimed.to_owned(),
            site: site.to_owned(),
        }),
    }
}

/// The kept kids a new JWKS no longer lists, in kept order. A kid is the
/// key's RFC 7638 thumbprint, checked by [`PublicKeys::from_jwks`], so the
/// same kid is the same key.
pub fn dropped_keys<'a>(
    kept: impl IntoIterator<Item = &'a str>,
    new: impl IntoIterator<Item = &'a str> + Clone,
) -> Vec<String> {
    kept.into_iter()
        .filter(|k| !new.clone().into_iter().any(|n| n == *k))
        .map(str::to_owned)
        .collect()
}

/// A signed note's body, parsed but NOT verified: to learn which origin to
/// verify it under and, for evidence, what size it claims.
fn unverified(note: &[u8]) -> Result<Checkpoint, Inconsistency> {
    let not_a_checkpoint =
        || Inconsistency::BadCheckpoint("the answer is not a signed checkpoint note".to_owned());
    let text = std::str::from_utf8(note).map_err(|_| not_a_checkpoint())?;
    let (body, _signatures) = text.split_once("\n\n").ok_or_else(not_a_checkpoint)?;
    Checkpoint::parse_body(&format!("{body}\n"))
        .map_err(|err| Inconsistency::BadCheckpoint(err.to_string()))
}

/// `{"proof": ["<base64>", …]}`, each a 32-byte hash in standard base64.
fn parse_proof(body: &[u8]) -> Result<Vec<Hash>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "the proof answer is not JSON".to_owned())?;
    let list = value
        .get("proof")
        .and_then(serde_json::Value::as_array)
        .ok_or("the proof answer has no \"proof\" array")?;
    list.iter()
        .map(|h| {
            h.as_str()
                .and_then(|s| BASE64_STANDARD.decode(s).ok())
                .and_then(|b| Hash::try_from(b).ok())
                .ok_or_else(|| "a proof hash is not 32 bytes in standard base64".to_owned())
        })
        .collect()
}

/// What one poll found for one URL: printed as one JSON line.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Report {
    pub url: String,
    /// The log's origin: the one claimed by the checkpoint fetched, else the
    /// one kept.
    pub origin: Option<String>,
    /// The size of the checkpoint fetched (as claimed, when refused).
    pub size: Option<u64>,
    /// The size of the checkpoint kept before this poll.
    pub kept_size: Option<u64>,
    pub status: Status,
    pub reason: String,
    /// The file the refused answer was saved in, inside the state directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing was kept: this checkpoint is now.
    First,
    /// A bigger log, proved consistent, now kept.
    New,
    /// The same tree as kept.
    Unchanged,
    /// See [`Inconsistency`]; the kept checkpoint is untouched.
    Inconsistent,
    /// A network error, a timeout, or an answer other than 200 (4xx on a
    /// proof is an inconsistency): nothing learned.
    Unreachable,
    /// A kept file could not be read or written.
    Error,
}

/// The exit status of one poll: the worst of its reports, inconsistent
/// first.
pub fn exit_status(reports: &[Report]) -> u8 {
    let any = |s: Status| reports.iter().any(|r| r.status == s);
    if any(Status::Inconsistent) {
        EXIT_INCONSISTENT
    } else if any(Status::Error) {
        EXIT_LOCAL_ERROR
    } else if any(Status::Unreachable) {
        EXIT_UNREACHABLE
    } else {
        EXIT_CONSISTENT
    }
}

/// Fails only when stdout does.
fn print(reports: &[Report]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for report in reports {
        serde_json::to_writer(&mut out, report)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// A checked command line, ready to poll.
pub struct Watcher {
    state: PathBuf,
    /// `--jwks`: these keys for every URL, none fetched.
    pinned: Option<PublicKeys>,
    targets: Vec<Target>,
    agent: ureq::Agent,
}

struct Target {
    name: String,
    endpoints: Endpoints,
}

/// Why a poll of one URL did not keep its checkpoint.
enum Failure {
    Unreachable(String),
    Inconsistent {
        why: Inconsistency,
        /// (file name suffix, bytes): what to save as evidence.
        evidence: Vec<(String, Vec<u8>)>,
    },
    Local(String),
}

/// What was kept for one URL.
struct Kept {
    origin: Option<String>,
    /// The collector's keys from the kept JWKS (never with `--jwks`).
    keys: Option<PublicKeys>,
    checkpoint: Option<Checkpoint>,
}

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    /// The collector's `{"error","message"}`, or the status alone.
    fn refusal(&self) -> String {
        let value: Option<serde_json::Value> = serde_json::from_slice(&self.body).ok();
        let text = |k: &str| {
            value
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        match (text("error"), text("message")) {
            (Some(code), Some(message)) => format!("HTTP {} {code}: {message}", self.status),
            (Some(code), None) => format!("HTTP {} {code}", self.status),
            _ if (300..400).contains(&self.status) => format!(
                "HTTP {}: the witness follows no redirect; give it the final URL",
                self.status
            ),
            _ => format!("HTTP {}", self.status),
        }
    }
}

impl Watcher {
    /// Polls every URL, [`POLL_CONCURRENCY`] at a time, and keeps what is
    /// consistent; the reports come in the order the URLs were given.
    pub async fn poll(&self) -> Vec<Report> {
        let mut reports = Vec::with_capacity(self.targets.len());
        // Groups rather than a sliding window (`buffered`): its closure
        // makes the poll's future not provably Send, and `run` is spawned.
        for group in self.targets.chunks(POLL_CONCURRENCY) {
            let polls: Vec<_> = group.iter().map(|target| self.poll_one(target)).collect();
            reports.extend(futures_util::future::join_all(polls).await);
        }
        reports
    }

    async fn poll_one(&self, target: &Target) -> Report {
        let url = &target.endpoints.checkpoint;
        let mut report = Report {
            url: url.clone(),
            origin: None,
            size: None,
            kept_size: None,
            status: Status::Error,
            reason: String::new(),
            evidence: None,
        };
        match self.check(target, &mut report).await {
            Ok((status, reason)) => {
                report.status = status;
                report.reason = reason;
                if status != Status::Unchanged {
                    tracing::info!("{url}: {}", report.reason);
                }
            }
            Err(Failure::Unreachable(why)) => {
                report.status = Status::Unreachable;
                report.reason = why;
                tracing::warn!("{url}: unreachable, nothing learned: {}", report.reason);
            }
            Err(Failure::Local(why)) => {
                report.status = Status::Error;
                report.reason = why;
                tracing::error!("{url}: {}", report.reason);
            }
            Err(Failure::Inconsistent { why, evidence }) => {
                report.status = Status::Inconsistent;
                report.reason = why.to_string();
                let mut saved = Vec::new();
                for (suffix, bytes) in &evidence {
                    let file = format!("{}.{suffix}", target.name);
                    let path = self.state.join(&file);
                    let written = if path.exists() {
                        // Named by its hash: already saved by an earlier poll.
                        Ok(())
                    } else {
                        write_atomic(&path, bytes)
                    };
                    match written {
                        Ok(()) => saved.push(file),
                        Err(err) => {
                            tracing::error!(
                                "{url}: cannot save evidence {}: {err}",
                                path.display()
                            );
                        }
                    }
                }
                report.evidence = saved.into_iter().next();
                tracing::error!(
                    "{url}: INCONSISTENT: kept size {}, new size {}: {}{}",
                    size_text(report.kept_size),
                    size_text(report.size),
                    report.reason,
                    report
                        .evidence
                        .as_ref()
                        .map(|f| format!("; evidence in {}", self.state.join(f).display()))
                        .unwrap_or_default()
                );
            }
        }
        report
    }

    async fn check(
        &self,
        target: &Target,
        report: &mut Report,
    ) -> Result<(Status, String), Failure> {
        let ep = &target.endpoints;
        let kept = self.kept(target)?;
        report.origin.clone_from(&kept.origin);
        report.kept_size = kept.checkpoint.as_ref().map(Checkpoint::size);

        let reply = self.get(&ep.checkpoint).await?;
        if let (404, Some(kept_size)) = (reply.status, report.kept_size) {
            // Only the collector's own JSON error counts: a proxy's 404 page
            // is an outage, not a statement about the log.
            let says_no_log =
                serde_json::from_slice::<serde_json::Value>(&reply.body).is_ok_and(|v| {
                    v.get("error").and_then(serde_json::Value::as_str) == Some("no_log")
                });
            if says_no_log {
                let hash = hex(&Sha256::digest(&reply.body)[..8]);
                return Err(Failure::Inconsistent {
                    why: Inconsistency::LogGone { kept: kept_size },
                    evidence: vec![(format!("rejected-gone-{hash}"), reply.body)],
                });
            }
        }
        if reply.status != 200 {
            return Err(Failure::Unreachable(format!(
                "{}: {}",
                ep.checkpoint,
                reply.refusal()
            )));
        }
        let note = reply.body;
        let note_evidence = |note: &[u8]| {
            let size = unverified(note).map_or("unparsed".to_owned(), |c| c.size().to_string());
            let hash = hex(&Sha256::digest(note)[..8]);
            (format!("rejected-{size}-{hash}"), note.to_vec())
        };
        let refuse = |why: Inconsistency, extra: Vec<(String, Vec<u8>)>| {
            let mut evidence = vec![note_evidence(&note)];
            evidence.extend(extra);
            Failure::Inconsistent { why, evidence }
        };
        let claimed = unverified(&note).map_err(|why| refuse(why, Vec::new()))?;
        report.origin = Some(claimed.origin().to_owned());
        report.size = Some(claimed.size());
        check_origin(kept.origin.as_deref(), claimed.origin(), &ep.site)
            .map_err(|why| refuse(why, Vec::new()))?;

        // Fetched after the checkpoint: a rotated key is in the JWKS before
        // the collector signs with it, so this order never sees a checkpoint
        // by a key the JWKS does not list yet. (Several collectors behind one
        // URL can still disagree while they are restarted one by one: then
        // the next poll, once all run the new key file, passes.)
        let (keys, keys_to_keep) = match &self.pinned {
            Some(pinned) => (pinned.clone(), None),
            None => {
                let text = self.get_ok(&ep.jwks()).await?;
                let keys = std::str::from_utf8(&text)
                    .map_err(|_| "not UTF-8".to_owned())
                    .and_then(PublicKeys::from_jwks)
                    .map_err(|why| refuse(Inconsistency::BadKeys(why), Vec::new()))?;
                let added = match &kept.keys {
                    Some(old) => {
                        let listed: Vec<&str> = keys.kids().collect();
                        let dropped = dropped_keys(old.kids(), listed.iter().copied());
                        if !dropped.is_empty() {
                            let hash = hex(&Sha256::digest(&text)[..8]);
                            return Err(Failure::Inconsistent {
                                why: Inconsistency::KeysDropped(dropped),
                                evidence: vec![(format!("rejected-jwks-{hash}.json"), text)],
                            });
                        }
                        keys.kids().count() > old.kids().count()
                    }
                    None => true,
                };
                (keys, added.then_some(text))
            }
        };

        // `KnownKeys` is not `Send`: made and dropped in this one expression,
        // it never lives across an await (or `run` could not be spawned).
        let new = keys
            .note_keys(claimed.origin())
            .and_then(|known| Checkpoint::open(&note, claimed.origin(), &known))
            .map_err(|err| refuse(Inconsistency::BadCheckpoint(err.to_string()), Vec::new()))?;

        let comparison =
            compare(kept.checkpoint.as_ref(), &new).map_err(|why| refuse(why, Vec::new()))?;
        let mut result = match (comparison, &kept.checkpoint) {
            (Comparison::Grew, Some(old)) => {
                let proof = if old.size() == 0 {
                    Vec::new()
                } else {
                    let reply = self.get(&ep.consistency(old.size(), new.size())).await?;
                    let failed = |why: String| {
                        refuse(
                            Inconsistency::NotAnExtension {
                                kept: old.size(),
                                new: new.size(),
                                why,
                            },
                            vec![(
                                format!("{}.proof.json", note_evidence(&note).0),
                                reply.body.clone(),
                            )],
                        )
                    };
                    // A 4xx is the collector refusing to prove: an answer, not an outage.
                    if reply.status != 200 {
                        return Err(failed(reply.refusal()));
                    }
                    parse_proof(&reply.body).map_err(failed)?
                };
                check_growth(old, &new, &proof).map_err(|why| {
                    let body = serde_json::json!({
                        "proof": proof.iter().map(|h| BASE64_STANDARD.encode(h)).collect::<Vec<_>>()
                    });
                    refuse(
                        why,
                        vec![(
                            format!("{}.proof.json", note_evidence(&note).0),
                            body.to_string().into_bytes(),
                        )],
                    )
                })?;
                (
                    Status::New,
                    format!(
                        "grew from {} to {}, consistency proof verified",
                        old.size(),
                        receipts(new.size())
                    ),
                )
            }
            (Comparison::Unchanged, _) => (
                Status::Unchanged,
                format!("{}, the same root as kept", receipts(new.size())),
            ),
            // `compare` says `Grew` only next to a kept checkpoint.
            (Comparison::First, _) | (Comparison::Grew, None) => (
                Status::First,
                format!(
                    "first checkpoint kept: {}; origin and keys trusted from now on",
                    receipts(new.size())
                ),
            ),
        };

        if keys_to_keep.is_some() && kept.keys.is_some() {
            // A `keys rotate`: worth a line in the DPO's log.
            result.1.push_str(&format!(
                "; the collector published a new key, kept ({} keys)",
                keys.kids().count()
            ));
        }
        // Keys first: a kept checkpoint always verifies with the kept keys.
        if let Some(text) = keys_to_keep {
            self.keep(target, "jwks.json", &text)?;
        }
        if kept.origin.is_none() {
            self.keep(target, "origin", format!("{}\n", new.origin()).as_bytes())?;
        }
        if result.0 != Status::Unchanged {
            self.keep(target, "checkpoint", &note)?;
        }
        Ok(result)
    }

    fn path(&self, target: &Target, suffix: &str) -> PathBuf {
        self.state.join(format!("{}.{suffix}", target.name))
    }

    fn keep(&self, target: &Target, suffix: &str, bytes: &[u8]) -> Result<(), Failure> {
        let path = self.path(target, suffix);
        write_atomic(&path, bytes)
            .map_err(|err| Failure::Local(format!("cannot write {}: {err}", path.display())))
    }

    /// Reads what was kept; a file that was edited into nonsense is a local
    /// error naming it, never a fresh start (that would trust again).
    fn kept(&self, target: &Target) -> Result<Kept, Failure> {
        let read = |suffix: &str| -> Result<Option<Vec<u8>>, Failure> {
            let path = self.path(target, suffix);
            match std::fs::read(&path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(err) => Err(Failure::Local(format!(
                    "cannot read {}: {err}",
                    path.display()
                ))),
            }
        };
        let broken = |suffix: &str, why: String| {
            Failure::Local(format!(
                "kept file {} is damaged ({why}): restore it from a backup of the state \
                 directory; removing it would trust the collector afresh",
                self.path(target, suffix).display()
            ))
        };
        let origin = read("origin")?
            .map(|b| {
                String::from_utf8(b)
                    .ok()
                    .and_then(|s| s.strip_suffix('\n').map(str::to_owned))
                    .ok_or_else(|| broken("origin", "not one line".to_owned()))
            })
            .transpose()?;
        let keys = match self.pinned {
            Some(_) => None,
            None => read("jwks.json")?
                .map(|b| {
                    std::str::from_utf8(&b)
                        .map_err(|_| "not UTF-8".to_owned())
                        .and_then(PublicKeys::from_jwks)
                        .map_err(|why| broken("jwks.json", why))
                })
                .transpose()?,
        };
        let checkpoint = read("checkpoint")?
            .map(|b| unverified(&b).map_err(|why| broken("checkpoint", why.to_string())))
            .transpose()?;
        if let Some(c) = &checkpoint {
            if origin.as_deref() != Some(c.origin()) {
                return Err(broken(
                    "checkpoint",
                    "its origin is not the kept origin".to_owned(),
                ));
            }
        }
        Ok(Kept {
            origin,
            keys,
            checkpoint,
        })
    }

    /// A 200 answer's body; anything else is "unreachable".
    async fn get_ok(&self, url: &str) -> Result<Vec<u8>, Failure> {
        let reply = self.get(url).await?;
        if reply.status == 200 {
            Ok(reply.body)
        } else {
            Err(Failure::Unreachable(format!("{url}: {}", reply.refusal())))
        }
    }

    /// One GET. ureq blocks, so it runs on tokio's blocking pool: the
    /// runtime (and, in tests, the collector being watched) keeps running.
    async fn get(&self, url: &str) -> Result<Reply, Failure> {
        let agent = self.agent.clone();
        let owned = url.to_owned();
        let fetched = tokio::task::spawn_blocking(move || -> Result<Reply, ureq::Error> {
            let mut res = agent.get(&owned).call()?;
            let status = res.status().as_u16();
            let body = res
                .body_mut()
                .with_config()
                .limit(MAX_RESPONSE_BYTES)
                .read_to_vec()?;
            Ok(Reply { status, body })
        })
        .await
        .map_err(|err| Failure::Local(format!("the request task failed: {err}")))?;
        let reply = fetched.map_err(|err| match err {
            ureq::Error::BodyExceedsLimit(_) => Failure::Unreachable(format!(
                "{url}: the answer is over {MAX_RESPONSE_BYTES} bytes, far more than a collector sends"
            )),
            err => Failure::Unreachable(format!("{url}: {err}")),
        })?;
        if reply.status >= 500 {
            return Err(Failure::Unreachable(format!("{url}: {}", reply.refusal())));
        }
        Ok(reply)
    }
}

fn receipts(n: u64) -> String {
    if n == 1 {
        "1 receipt".to_owned()
    } else {
        format!("{n} receipts")
    }
}

fn size_text(size: Option<u64>) -> String {
    size.map_or("none".to_owned(), |s| s.to_string())
}

/// Writes `bytes` to `<path>.tmp`, syncs it and renames it over `path`,
/// then syncs the directory: a crash leaves the old file or the new one.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    let written = std::fs::File::create(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(err) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(err);
    }
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{consistency_proof, leaf_hash, root};

    const ORIGIN: &str = "consent.acme.example/consentry/shop";

    fn leaves(tag: u8, n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&[tag, i as u8])).collect()
    }

    fn head(leaves: &[Hash]) -> Checkpoint {
        Checkpoint::new(ORIGIN, leaves.len() as u64, root(leaves)).expect("a valid origin")
    }

    #[test]
    fn a_first_checkpoint_is_kept_and_the_same_one_is_unchanged() {
        let log = leaves(1, 5);
        assert_eq!(compare(None, &head(&log)), Ok(Comparison::First));
        assert_eq!(
            compare(Some(&head(&log)), &head(&log)),
            Ok(Comparison::Unchanged)
        );
    }

    #[test]
    fn a_grown_log_with_its_proof_is_consistent() {
        let log = leaves(1, 13);
        for old in 1..=13u64 {
            for new in old..=13 {
                let (kept, grown) = (head(&log[..old as usize]), head(&log[..new as usize]));
                let proof = consistency_proof(&log[..], old, new).expect("in range");
                assert_eq!(check_growth(&kept, &grown, &proof), Ok(()), "{old}→{new}");
                if new > old {
                    assert_eq!(compare(Some(&kept), &grown), Ok(Comparison::Grew));
                }
            }
        }
        // The empty tree grows into anything, with no proof at all.
        assert_eq!(check_growth(&head(&[]), &head(&log), &[]), Ok(()));
    }

    #[test]
    fn a_smaller_log_is_a_rollback_and_the_same_size_with_another_root_a_fork() {
        let log = leaves(1, 8);
        assert_eq!(
            compare(Some(&head(&log)), &head(&log[..5])),
            Err(Inconsistency::Rollback { kept: 8, new: 5 })
        );
        assert_eq!(
            compare(Some(&head(&log)), &head(&leaves(2, 8))),
            Err(Inconsistency::Fork { size: 8 })
        );
        let message = Inconsistency::Rollback { kept: 8, new: 5 }.to_string();
        assert!(message.contains("8") && message.contains("5"), "{message}");
    }

    #[test]
    fn a_rewritten_history_fails_its_proof_whatever_the_proof() {
        let (honest, forked) = (leaves(1, 11), leaves(2, 11));
        // The fork shares the first 4 receipts, then differs.
        let forked: Vec<Hash> = honest[..4].iter().chain(&forked[4..]).copied().collect();
        let kept = head(&honest[..6]);
        let grown = head(&forked);
        assert_eq!(compare(Some(&kept), &grown), Ok(Comparison::Grew));
        // Neither the fork's own proof nor the honest log's proves it.
        for proof in [
            consistency_proof(&forked[..], 6, 11).expect("in range"),
            consistency_proof(&honest[..], 6, 11).expect("in range"),
            Vec::new(),
        ] {
            let err = check_growth(&kept, &grown, &proof).expect_err("not an extension");
            assert!(
                matches!(
                    err,
                    Inconsistency::NotAnExtension {
                        kept: 6,
                        new: 11,
                        ..
                    }
                ),
                "{err:?}"
            );
        }
        // A proof for the right trees with one hash flipped fails too.
        let mut proof = consistency_proof(&honest[..], 6, 11).expect("in range");
        proof[0][0] ^= 1;
        assert!(check_growth(&kept, &head(&honest), &proof).is_err());
    }

    #[test]
    fn the_origin_is_kept_from_the_first_poll_and_must_name_the_site() {
        assert_eq!(check_origin(None, ORIGIN, "shop"), Ok(()));
        assert_eq!(check_origin(Some(ORIGIN), ORIGIN, "shop"), Ok(()));
        assert!(matches!(
            check_origin(None, "consent.acme.example/consentry/blog", "shop"),
            Err(Inconsistency::WrongSite { .. })
        ));
        // `…/eshop` is not a log of `shop`.
        assert!(check_origin(None, "consent.acme.example/eshop", "shop").is_err());
        assert!(check_origin(None, "shop", "shop").is_err());
        assert_eq!(
            check_origin(Some(ORIGIN), "evil.example/consentry/shop", "shop"),
            Err(Inconsistency::OriginChanged {
                kept: ORIGIN.to_owned(),
                new: "evil.example/consentry/shop".to_owned()
            })
        );
    }

    #[test]
    fn keys_may_be_added_but_never_dropped() {
        assert!(dropped_keys(["a", "b"], ["a", "b", "c"]).is_empty());
        assert!(dropped_keys(["a", "b"], ["b", "a"]).is_empty());
        assert_eq!(dropped_keys(["a", "b", "c"], ["c"]), ["a", "b"]);
    }

    #[test]
    fn checkpoint_urls_give_the_proof_and_jwks_urls_beside_them() {
        let ep =
            Endpoints::from_checkpoint_url("https://consent.acme.example/v1/sites/shop/checkpoint")
                .expect("a checkpoint URL");
        assert_eq!(ep.site, "shop");
        assert_eq!(ep.base, "https://consent.acme.example");
        assert_eq!(
            ep.consistency(3, 5),
            "https://consent.acme.example/v1/sites/shop/proof/consistency?old=3&new=5"
        );
        assert_eq!(
            ep.jwks(),
            "https://consent.acme.example/.well-known/jwks.json"
        );
        assert!(!ep.is_plain_http_off_loopback());

        let behind = Endpoints::from_checkpoint_url(
            "http://127.0.0.1:8080/consentry/v1/sites/a.b-c_d/checkpoint",
        )
        .expect("a checkpoint URL under a path");
        assert_eq!(behind.base, "http://127.0.0.1:8080/consentry");
        assert_eq!(behind.site, "a.b-c_d");
        assert!(!behind.is_plain_http_off_loopback());
        assert!(
            Endpoints::from_checkpoint_url("http://consent.example:80/v1/sites/s/checkpoint")
                .expect("a checkpoint URL")
                .is_plain_http_off_loopback()
        );

        for bad in [
            "consent.example/v1/sites/shop/checkpoint",
            "ftp://consent.example/v1/sites/shop/checkpoint",
            "https:///v1/sites/shop/checkpoint",
            "https://consent.example/v1/sites/shop/checkpoint/",
            "https://consent.example/v1/sites/shop/checkpoint?x=1",
            "https://consent.example/v1/sites/shop/checkpoint#x",
            "https://consent.example/v1/sites//checkpoint",
            "https://consent.example/v1/sites/../checkpoint",
            "https://consent.example/v1/sites/a/b/checkpoint",
            "https://consent.example/v1/sites/sh%6fp/checkpoint",
            "https://consent.example/v1/sites/sh op/checkpoint",
            "https://user:pw@consent.example/v1/sites/shop/checkpoint",
            "https://consent.example/v1/receipts",
        ] {
            assert!(Endpoints::from_checkpoint_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn state_names_are_the_urls_sha256_in_hex() {
        let url = "https://consent.acme.example/v1/sites/shop/checkpoint";
        let name = state_name(url);
        assert_eq!(name.len(), 64);
        assert!(name
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(name, state_name(url));
        assert_ne!(name, state_name(&url.replace("shop", "blog")));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            state_name("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_notes_body_is_read_unverified_and_anything_else_is_no_checkpoint() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let log = leaves(1, 3);
        let note = head(&log).sign(ORIGIN, &key).expect("a valid name");
        assert_eq!(unverified(note.as_bytes()), Ok(head(&log)));
        for bad in ["", "<html>hello</html>", "a\n3\nxyz\n\n— a sig\n"] {
            assert!(
                matches!(
                    unverified(bad.as_bytes()),
                    Err(Inconsistency::BadCheckpoint(_))
                ),
                "{bad:?}"
            );
        }
        assert!(unverified(&[0xff, b'\n', b'\n']).is_err());
    }

    #[test]
    fn a_proof_answer_is_a_list_of_32_byte_hashes() {
        let h = BASE64_STANDARD.encode([9u8; 32]);
        assert_eq!(
            parse_proof(format!("{{\"proof\":[\"{h}\",\"{h}\"]}}").as_bytes()),
            Ok(vec![[9u8; 32]; 2])
        );
        assert_eq!(parse_proof(b"{\"proof\":[]}"), Ok(Vec::new()));
        for bad in [
            "not json".to_owned(),
            "{}".to_owned(),
            "{\"proof\":\"x\"}".to_owned(),
            "{\"proof\":[1]}".to_owned(),
            format!("{{\"proof\":[\"{}\"]}}", BASE64_STANDARD.encode([9u8; 31])),
        ] {
            assert!(parse_proof(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    fn report(status: Status) -> Report {
        Report {
            url: "u".into(),
            origin: None,
            size: None,
            kept_size: None,
            status,
            reason: String::new(),
            evidence: None,
        }
    }

    #[test]
    fn the_exit_status_is_the_worst_report_inconsistent_first() {
        use Status::*;
        assert_eq!(exit_status(&[]), EXIT_CONSISTENT);
        assert_eq!(
            exit_status(&[report(First), report(New), report(Unchanged)]),
            EXIT_CONSISTENT
        );
        assert_eq!(
            exit_status(&[report(New), report(Unreachable)]),
            EXIT_UNREACHABLE
        );
        assert_eq!(
            exit_status(&[report(Unreachable), report(Error)]),
            EXIT_LOCAL_ERROR
        );
        assert_eq!(
            exit_status(&[report(Error), report(Inconsistent), report(Unreachable)]),
            EXIT_INCONSISTENT
        );
    }

    #[test]
    fn a_report_is_one_json_line_with_lower_case_status() {
        let mut r = report(Status::Inconsistent);
        r.size = Some(3);
        r.evidence = Some("x.rejected-3-00".into());
        let line = serde_json::to_string(&r).expect("serializable");
        assert_eq!(
            line,
            r#"{"url":"u","origin":null,"size":3,"kept_size":null,"status":"inconsistent","reason":"","evidence":"x.rejected-3-00"}"#
        );
        let line = serde_json::to_string(&report(Status::New)).expect("serializable");
        assert!(!line.contains("evidence"), "{line}");
    }

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temp() {
        let dir =
            std::env::temp_dir().join(format!("consentry-witness-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("a.checkpoint");
        write_atomic(&path, b"one").expect("write");
        write_atomic(&path, b"two").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["a.checkpoint"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
