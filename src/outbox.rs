//! The outbox's decisions, pure: what a journal entry holds, what to do with
//! it next, what the collector's answer means, and whether an
//! acknowledgement really is the collector's countersignature over these
//! bytes. The browser half (`page::courier`) only stores, signs, sends and
//! schedules what this module decides, so every rule of rule 8 in DESIGN.md
//! is a host test here.
//!
//! An entry's life, in one `localStorage` item per receipt:
//! 1. **written** in the event handler of the visitor's action: the receipt
//!    as decided then (with two blanks: the visitor's key and the notice
//!    hash), the endpoint and the notice snapshot of that page;
//! 2. **signed** once: the JWS is kept and every retry sends those bytes;
//! 3. **acknowledged**: the collector's countersignature over exactly those
//!    bytes verified against its published keys;
//! 4. gone once acknowledged and its notice stored, or when the collector
//!    says the bytes can never be accepted, or when the receipt has expired.

#[allow(unused_imports)]
use crate::prelude::*;

use consentry_receipt::json::{self, Json};
use consentry_receipt::receipt::parse_rfc3339_utc;
use consentry_receipt::{b64, Receipt};

use crate::config::{parse_num, pieces, push_num};

/// While one tab sends an entry, the others leave it alone for this long: a
/// POST that has not answered by then is taken for lost.
pub const LEASE_MS: u64 = 20_000;

/// One receipt on its way to the collector.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub site: String,
    /// The collector's `/v1/receipts` URL of the page where the choice was made.
    pub endpoint: String,
    /// The receipt as written at the moment of the choice (`proof::written`).
    pub written: String,
    /// The canonical notice: every text that page showed, and (once signed)
    /// its SHA-256 in hex.
    pub notice: String,
    pub notice_sha: String,
    /// The receipt signed, once: every retry sends these bytes.
    pub jws: String,
    /// `expires_at` of the receipt, ms since the epoch.
    pub expires_ms: u64,
    pub attempts: u32,
    pub retry_at: u64,
    /// A tab is sending it until then, if that tab is still open: the id of
    /// its page (see [`next_step`]).
    pub lease_until: u64,
    pub lease_owner: String,
    /// The collector's acknowledgement, once verified (its JSON body).
    pub ack: String,
    pub notice_stored: bool,
}

/// The first line of an entry's text: its format, so a later release can
/// tell (and move) entries written by this one.
const FORMAT: &str = "consentry-entry-1";

impl Entry {
    /// The entry for a receipt written now; `None` when the receipt cannot
    /// be written down (it then never claims anything).
    pub fn new(receipt: Receipt, endpoint: &str, notice: &str) -> Option<Entry> {
        Entry::from_written(crate::proof::written(receipt)?, endpoint, notice)
    }

    /// An entry from a receipt's written-down text (`proof::written`), as
    /// this release journals it and earlier ones did (with no endpoint or
    /// notice of their own: those take the current page's, as they would
    /// have been signed before).
    pub fn from_written(written: String, endpoint: &str, notice: &str) -> Option<Entry> {
        let (id, site, expires_ms) = identity(&written)?;
        Some(Entry {
            id,
            site,
            endpoint: endpoint.to_owned(),
            notice: notice.to_owned(),
            written,
            notice_sha: String::new(),
            jws: String::new(),
            expires_ms,
            attempts: 0,
            retry_at: 0,
            lease_until: 0,
            lease_owner: String::new(),
            ack: String::new(),
            // No notices endpoint beside a custom endpoint: nothing to send.
            notice_stored: notices_endpoint(endpoint).is_none(),
        })
    }

    /// A receipt an earlier release had signed and kept in its IndexedDB
    /// outbox: its notice went out with it then.
    pub fn from_signed(endpoint: &str, jws: &str) -> Option<Entry> {
        let payload = b64::decode(pieces(jws, b'.').nth(1)?)?;
        let written = String::from_utf8(payload).ok()?;
        let mut e = Entry::from_written(written, endpoint, "")?;
        e.jws = jws.to_owned();
        e.notice_stored = true;
        Some(e)
    }

    /// One field per line. No field holds a newline: ids, site ids and
    /// URLs are checked, a JWS is base64url, canonical JSON escapes every
    /// control character, and the acknowledgement's newlines (which JSON
    /// never needs) are dropped when it is kept.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(
            self.written.len() + self.notice.len() + self.jws.len() + self.ack.len() + 256,
        );
        let mut line = |part: &str| {
            out.push_str(part);
            out.push('\n');
        };
        line(FORMAT);
        line(&self.id);
        line(&self.site);
        line(&self.endpoint);
        for n in [
            self.expires_ms,
            u64::from(self.attempts),
            self.retry_at,
            self.lease_until,
            u64::from(self.notice_stored),
        ] {
            let mut num = String::new();
            push_num(&mut num, n);
            line(&num);
        }
        line(&self.lease_owner);
        line(&self.notice_sha);
        line(&self.jws);
        line(&self.ack);
        line(&self.written);
        line(&self.notice);
        out
    }

    /// Reads an entry back; `None` for anything that is not one of ours in
    /// this format (it can then never be signed or sent).
    pub fn parse(text: &str) -> Option<Entry> {
        let mut lines = pieces(text, b'\n');
        let mut next = || lines.next().map(str::to_owned);
        if next()? != FORMAT {
            return None;
        }
        let (id, site, endpoint) = (next()?, next()?, next()?);
        let mut num = || -> Option<u64> { parse_num(&next()?) };
        let (expires_ms, attempts, retry_at, lease_until, notice_stored) =
            (num()?, num()?, num()?, num()?, num()? == 1);
        Some(Entry {
            id,
            site,
            endpoint,
            expires_ms,
            attempts: u32::try_from(attempts).ok()?,
            retry_at,
            lease_until,
            notice_stored,
            lease_owner: next()?,
            notice_sha: next()?,
            jws: next()?,
            ack: next()?,
            written: next()?,
            notice: next()?,
        })
    }

    /// Keeps the collector's acknowledgement (a JSON text).
    pub fn acknowledge(&mut self, body: &str) {
        let mut ack = String::with_capacity(body.len());
        for c in body.chars() {
            if c != '\n' && c != '\r' {
                ack.push(c);
            }
        }
        self.ack = ack;
    }

    /// The latest receipt of a release before this one, from its download
    /// file (`{"receipt": jws, "collector": acknowledgement}`).
    pub fn from_download(file: &str) -> Option<Entry> {
        let v = json::parse(file).ok()?;
        let mut e = Entry::from_signed("", v.get("receipt")?.as_str()?)?;
        if let Some(ack) = v.get("collector").filter(|a| **a != Json::Null) {
            e.ack = ack.canonical().ok()?;
        }
        Some(e)
    }

    pub fn is_signed(&self) -> bool {
        !self.jws.is_empty()
    }

    pub fn is_acknowledged(&self) -> bool {
        !self.ack.is_empty()
    }

    /// Acknowledged and its notice stored: nothing is left to do.
    pub fn is_done(&self) -> bool {
        self.is_acknowledged() && self.notice_stored
    }
}

/// A receipt's id, site and `expires_at` (ms) from its JSON text.
fn identity(receipt: &str) -> Option<(String, String, u64)> {
    let v = json::parse(receipt).ok()?;
    let text = |k: &str| Some(v.get(k)?.as_str()?.to_owned());
    let expires = parse_rfc3339_utc(v.get("expires_at")?.as_str()?)?;
    Some((
        text("receipt_id")?,
        text("site")?,
        u64::try_from(expires).ok()?,
    ))
}

/// What to do with an entry now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Past its `expires_at` and never acknowledged: it proves nothing any more.
    DropExpired,
    Sign,
    /// POST what is still missing at the collector.
    Send {
        receipt: bool,
        notice: bool,
    },
    /// Nothing before this time (a retry's backoff, another tab's lease).
    WaitUntil(u64),
    /// Nothing left to do: remove it.
    Done,
}

/// `live`: the pages of this site whose courier is running (their Web
/// Locks), or `None` where the browser cannot tell: then a lease simply runs
/// out. A lease of a page that was closed or reloaded ends with it, so the
/// next page sends at once instead of waiting out the lease.
pub fn next_step(e: &Entry, now: u64, live: Option<&[String]>) -> Step {
    if e.is_done() {
        return Step::Done;
    }
    if now >= e.expires_ms && !e.is_acknowledged() {
        return Step::DropExpired;
    }
    if !e.is_signed() {
        return Step::Sign;
    }
    let leased = live.is_none_or(|pages| pages.contains(&e.lease_owner));
    let lease = if leased { e.lease_until } else { 0 };
    let not_before = lease.max(e.retry_at);
    if not_before > now {
        return Step::WaitUntil(not_before);
    }
    Step::Send {
        receipt: !e.is_acknowledged(),
        notice: !e.notice_stored,
    }
}

/// Taken for sending by the page `owner`: the others wait while it is open.
pub fn lease(e: &mut Entry, now: u64, owner: &str) {
    e.lease_until = now + LEASE_MS;
    e.lease_owner = owner.to_owned();
}

/// A try that must be repeated: backoff from the attempts so far.
pub fn retry_later(e: &mut Entry, now: u64, random: f64) {
    e.retry_at = now + retry_delay_ms(e.attempts, random);
    e.attempts = e.attempts.saturating_add(1);
    e.lease_until = 0;
}

/// What the collector's answer to a POST means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200/201 with a countersignature: to be verified before it counts.
    Acknowledgement(Countersignature),
    /// The collector's own JSON error saying these bytes can never be
    /// accepted: the receipt is dropped, and the console says why.
    Refused(String),
    /// Anything else: kept and tried again later.
    Retry(Problem),
}

/// Why a receipt is still waiting, in words a site owner can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No answer at all: offline, DNS, CORS, a closed port.
    Network,
    /// An answer that is not the collector's JSON (a proxy's 404 page, a
    /// wrong endpoint URL).
    NotCollector(u16),
    /// The collector's JSON error that a later try can get past.
    Collector(u16, String),
    /// A 2xx whose acknowledgement does not hold: not a countersignature
    /// over this receipt by one of the collector's published keys.
    BadAcknowledgement,
}

/// The collector's error codes that say the bytes themselves are bad, so no
/// retry can ever succeed (crates/receipt `verify::Error::code`). Everything
/// else — a site missing from the sites file, a disallowed origin, clock
/// skew, a payload a newer widget writes that this collector does not know,
/// a conflict, a size limit a proxy may impose — can be fixed on the
/// collector's side, so the receipt waits for that.
pub const PERMANENT: [&str; 7] = [
    "malformed",
    "bad_encoding",
    "bad_header",
    "unsupported_alg",
    "bad_key",
    "bad_signature",
    "key_mismatch",
];

/// Reads an answer to `POST /v1/receipts` (status 0: no answer at all).
pub fn read_answer(status: u16, body: &str, receipt_id: &str, jws_sha256: &str) -> Answer {
    if status == 0 {
        return Answer::Retry(Problem::Network);
    }
    let Ok(value) = json::parse(body) else {
        return Answer::Retry(Problem::NotCollector(status));
    };
    if status == 200 || status == 201 {
        return match countersignature(&value, receipt_id, jws_sha256) {
            Some(c) => Answer::Acknowledgement(c),
            None => Answer::Retry(Problem::BadAcknowledgement),
        };
    }
    let code = value.get("error").and_then(Json::as_str);
    match code {
        Some(code) if (400..500).contains(&status) && PERMANENT.contains(&code) => {
            let message = value.get("message").and_then(Json::as_str).unwrap_or(code);
            Answer::Refused(message.to_owned())
        }
        Some(code) => Answer::Retry(Problem::Collector(status, code.to_owned())),
        None => Answer::Retry(Problem::NotCollector(status)),
    }
}

/// Reads an answer to `POST /v1/notices`: `Some(true)` stored (or known),
/// `Some(false)` refused for good (`bad_notice`, `too_large`: nothing to
/// retry), `None` try again.
pub fn read_notice_answer(status: u16, body: &str) -> Option<bool> {
    match status {
        200 | 201 => Some(true),
        400..=499 => {
            let value = json::parse(body).ok()?;
            let code = value.get("error").and_then(Json::as_str)?;
            (code == "bad_notice" || code == "too_large").then_some(false)
        }
        _ => None,
    }
}

/// An EdDSA countersignature to check with the collector's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Countersignature {
    /// `B64U(header) "." B64U(payload)`, what the signature covers.
    pub signing_input: String,
    pub kid: String,
    pub signature: Vec<u8>,
}

/// The acknowledgement's countersignature, if it is one over this receipt:
/// an EdDSA JWS whose payload names `receipt_id` and the SHA-256 of the
/// exact bytes sent. Whether the signature itself verifies is the browser's
/// (WebCrypto's) job.
fn countersignature(ack: &Json, receipt_id: &str, jws_sha256: &str) -> Option<Countersignature> {
    let token = ack.get("countersignature")?.as_str()?;
    let mut parts = pieces(token, b'.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = json::parse(core::str::from_utf8(&b64::decode(header)?).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "EdDSA" {
        return None;
    }
    let claims = json::parse(core::str::from_utf8(&b64::decode(payload)?).ok()?).ok()?;
    if claims.get("receipt_id")?.as_str()? != receipt_id
        || claims.get("receipt_sha256")?.as_str()? != jws_sha256
    {
        return None;
    }
    let signature_bytes = b64::decode(signature).filter(|s| s.len() == 64)?;
    // The signing input is the token up to its last '.'.
    let input_len = token.len() - signature.len() - 1;
    Some(Countersignature {
        signing_input: token.get(..input_len)?.to_owned(),
        kid: header.get("kid")?.as_str()?.to_owned(),
        signature: signature_bytes,
    })
}

/// The endpoint as an entry keeps it: a site path (`/v1/receipts`, which
/// the config allows) taken on this page's origin, so the entry names the
/// same collector from whichever page later sends it.
pub fn absolute_endpoint(endpoint: &str, page_origin: &str) -> String {
    if endpoint.starts_with('/') {
        let mut url = String::from(page_origin);
        url.push_str(endpoint);
        url
    } else {
        endpoint.to_owned()
    }
}

/// `https://collector.example/.well-known/jwks.json` for an endpoint on
/// that origin (endpoints are checked http(s) URLs).
pub fn jwks_url(endpoint: &str) -> Option<String> {
    // The third '/' ends the origin: "https:" "" "host:port" "/…".
    let host_end = endpoint
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'/')
        .nth(2)
        .map_or(endpoint.len(), |(i, _)| i);
    let mut url = String::from(endpoint.get(..host_end)?);
    url.push_str("/.well-known/jwks.json");
    Some(url)
}

/// A console line for a receipt that is still waiting.
pub fn problem_message(p: &Problem, endpoint: &str) -> String {
    let mut m = String::from("consentry: receipts: ");
    match p {
        Problem::Network => {
            m.push_str("the collector at ");
            m.push_str(endpoint);
            m.push_str(" cannot be reached (offline, down, or CORS)");
        }
        Problem::NotCollector(status) => {
            m.push_str(endpoint);
            m.push_str(" answered ");
            push_num(&mut m, u64::from(*status));
            m.push_str(
                " without the collector's JSON: is `endpoint` the collector's /v1/receipts URL?",
            );
        }
        Problem::Collector(status, code) => {
            m.push_str("the collector answered ");
            push_num(&mut m, u64::from(*status));
            m.push(' ');
            m.push_str(code);
            m.push_str(hint(code));
        }
        Problem::BadAcknowledgement => {
            m.push_str(endpoint);
            m.push_str(
                " answered without a countersignature that verifies with its published keys",
            );
        }
    }
    m.push_str("; the receipt is kept and sent again later");
    m
}

fn hint(code: &str) -> &'static str {
    match code {
        "unknown_site" => " (add the config's `id` to the collector's sites file)",
        "origin_not_allowed" => " (add this page's origin to the site in the sites file)",
        "clock_skew" => " (the visitor's clock or the collector's is off)",
        "bad_payload" => " (is the collector older than the widget?)",
        _ => "",
    }
}

/// The visitor's latest receipt, for the preferences dialog and its download.
#[derive(Debug, Clone, PartialEq)]
pub struct Latest {
    pub id: String,
    pub issued_at: String,
    pub granted: Vec<String>,
    /// What "Download receipt" saves.
    pub file: String,
    pub confirmed: bool,
}

impl Latest {
    /// A signed entry, acknowledged or not yet.
    pub fn of(e: &Entry) -> Option<Latest> {
        if !e.is_signed() {
            return None;
        }
        let (issued_at, granted) = crate::proof::summary(&e.written)?;
        Some(Latest {
            id: e.id.clone(),
            issued_at,
            granted,
            file: download_file(&e.id, &e.jws, &e.ack),
            confirmed: e.is_acknowledged(),
        })
    }
}

/// The newest of the kept latest receipt (an acknowledged entry) and the
/// site's signed entries (RFC 3339 UTC times of one format sort as text).
pub fn latest<'a>(
    site: &str,
    kept: Option<&'a Entry>,
    entries: impl Iterator<Item = &'a Entry>,
) -> Option<Latest> {
    let mut best: Option<Latest> = None;
    for e in kept.into_iter().chain(entries.filter(|e| e.site == site)) {
        if let Some(l) = Latest::of(e) {
            if best.as_ref().is_none_or(|b| l.issued_at > b.issued_at) {
                best = Some(l);
            }
        }
    }
    best
}

/// What "Download receipt" saves: the signed receipt and, once the
/// collector acknowledged it, its countersigned answer.
pub fn download_file(id: &str, jws: &str, ack: &str) -> String {
    let answer = json::parse(ack).unwrap_or(Json::Null);
    Json::object(vec![
        ("receipt_id", Some(Json::str(id))),
        ("receipt", Some(Json::str(jws))),
        ("collector", Some(answer)),
    ])
    .canonical()
    .unwrap_or_default()
}

/// Exponential backoff with full jitter: 2 s, 4 s, 8 s … capped at 10
/// minutes, each spread over [½, 1] of its step so that many visitors coming
/// back online do not retry in lock-step. `random` is in [0, 1).
pub fn retry_delay_ms(attempt: u32, random: f64) -> u64 {
    const BASE_MS: u64 = 2_000;
    const CAP_MS: u64 = 600_000;
    let step = BASE_MS.saturating_mul(1u64 << attempt.min(20)).min(CAP_MS);
    let jitter = (random.clamp(0.0, 1.0) * (step / 2) as f64) as u64;
    step / 2 + jitter
}

/// The notices endpoint next to the receipts endpoint (`…/v1/receipts` →
/// `…/v1/notices`).
pub fn notices_endpoint(receipts_endpoint: &str) -> Option<String> {
    let base = receipts_endpoint.strip_suffix("/receipts")?;
    let mut out = String::from(base);
    out.push_str("/notices");
    Some(out)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::consent::{resolve, Choice};
    use consentry_receipt::{Action, Method};

    const ID: &str = "0b6c2a1e-8f7d-4c3b-9a1e-2f3d4c5b6a79";
    const NOW: u64 = 1_795_458_600_123;

    fn entry() -> Entry {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/pkg-config/examples/landing.json"
        ))
        .expect("example config");
        let config = Config::parse(&text).expect("valid");
        let mut state = resolve(&config, &Choice::AcceptAll, false, NOW / 1000);
        state.receipt_id = ID.into();
        let page = crate::proof::Page {
            page: "https://acme.example/",
            user_agent: "UA",
            gpc: Some(false),
            now_ms: NOW as i64,
        };
        let r = crate::proof::for_choice(
            &config,
            &state,
            Action::Grant,
            Method::AcceptAll,
            None,
            &page,
        );
        Entry::new(r, "https://c.example/v1/receipts", "{\"texts\":{}}").expect("entry")
    }

    fn signed() -> Entry {
        let mut e = entry();
        e.jws = "h.p.s".into();
        e.notice_sha = "ab".repeat(32);
        e
    }

    /// A countersignature as the collector writes one (the signature bytes
    /// are not checked here: that is WebCrypto's part).
    fn ack(receipt_id: &str, sha: &str, alg: &str) -> String {
        let header = b64::encode(
            ("{\"alg\":\"".to_owned()
                + alg
                + "\",\"kid\":\"k1\",\"typ\":\"consentry-countersignature+jws\"}")
                .as_bytes(),
        );
        let claims = "{\"receipt_id\":\"".to_owned()
            + receipt_id
            + "\",\"receipt_sha256\":\""
            + sha
            + "\",\"seq\":3}";
        let token = header + "." + &b64::encode(claims.as_bytes()) + "." + &b64::encode(&[7u8; 64]);
        "{\"countersignature\":\"".to_owned() + &token + "\",\"receipt_id\":\"" + receipt_id + "\"}"
    }

    #[test]
    fn an_entry_reads_back_exactly_as_written() {
        let mut e = signed();
        e.attempts = 3;
        e.retry_at = NOW + 5;
        e.acknowledge("{\n  \"seq\": 1\n}");
        assert_eq!(e.ack, "{  \"seq\": 1}", "one line, the same JSON");
        assert_eq!(Entry::parse(&e.to_text()), Some(e.clone()));
        assert_eq!(
            Entry::parse("{\"id\":\"x\"}"),
            None,
            "not ours: never signed"
        );
    }

    #[test]
    fn receipts_kept_by_earlier_releases_move_into_the_journal() {
        let e = entry();
        let old = Entry::from_written(e.written.clone(), &e.endpoint, "{}").expect("old journal");
        assert_eq!((old.id.as_str(), old.expires_ms), (ID, e.expires_ms));
        let jws = "eyJhbGciOiJFUzI1NiJ9.".to_owned() + &b64::encode(e.written.as_bytes()) + ".c2ln";
        let signed = Entry::from_signed(&e.endpoint, &jws).expect("old outbox");
        assert_eq!(signed.jws, jws, "the bytes signed then are the bytes sent");
        assert_eq!(
            next_step(&signed, NOW, None),
            Step::Send {
                receipt: true,
                notice: false
            }
        );
        assert!(Entry::from_signed(&e.endpoint, "not a jws").is_none());
        let file = download_file(ID, &jws, "{\"seq\":4}");
        let latest = Entry::from_download(&file).expect("old latest receipt");
        assert_eq!(
            (latest.jws.as_str(), latest.ack.as_str()),
            (jws.as_str(), "{\"seq\":4}")
        );
        assert!(latest.is_done());
    }

    #[test]
    fn a_written_entry_is_signed_then_sent_then_done() {
        let mut e = entry();
        assert_eq!(next_step(&e, NOW, None), Step::Sign);
        e.jws = "h.p.s".into();
        assert_eq!(
            next_step(&e, NOW, None),
            Step::Send {
                receipt: true,
                notice: true
            }
        );
        e.notice_stored = true;
        assert_eq!(
            next_step(&e, NOW, None),
            Step::Send {
                receipt: true,
                notice: false
            }
        );
        e.ack = "{}".into();
        assert_eq!(next_step(&e, NOW, None), Step::Done);
    }

    #[test]
    fn a_leased_or_backed_off_entry_waits_and_an_expired_one_is_dropped() {
        let mut e = signed();
        lease(&mut e, NOW, "page-a");
        assert_eq!(
            next_step(&e, NOW + 1, None),
            Step::WaitUntil(NOW + LEASE_MS)
        );
        let open = ["page-a".to_owned(), "page-b".to_owned()];
        assert_eq!(
            next_step(&e, NOW + 1, Some(&open)),
            Step::WaitUntil(NOW + LEASE_MS),
            "another open tab is sending it"
        );
        assert!(
            matches!(next_step(&e, NOW + 1, Some(&open[1..])), Step::Send { .. }),
            "the page that took it was closed: send it now"
        );
        retry_later(&mut e, NOW, 0.0);
        assert_eq!(
            (e.attempts, e.lease_until),
            (1, 0),
            "a retry ends the lease"
        );
        assert_eq!(next_step(&e, NOW, None), Step::WaitUntil(NOW + 1_000));
        retry_later(&mut e, NOW, 0.0);
        assert_eq!(
            next_step(&e, NOW, None),
            Step::WaitUntil(NOW + 2_000),
            "backoff grows"
        );
        assert_eq!(next_step(&e, e.expires_ms, None), Step::DropExpired);
        e.ack = "{}".into();
        assert_ne!(
            next_step(&e, e.expires_ms, None),
            Step::DropExpired,
            "an acknowledged receipt is stored: only its notice is left"
        );
    }

    #[test]
    fn only_the_collectors_own_verdict_on_the_bytes_drops_a_receipt() {
        let sha = "cd".repeat(32);
        let answer = |status, body: &str| read_answer(status, body, ID, &sha);
        let bad_sig = "{\"error\":\"bad_signature\",\"message\":\"signature does not verify\"}";
        assert_eq!(
            answer(400, bad_sig),
            Answer::Refused("signature does not verify".into())
        );
        assert_eq!(
            answer(400, "{\"error\":\"malformed\"}"),
            Answer::Refused("malformed".into())
        );
        for (status, body) in [
            (400, "{\"error\":\"unknown_site\",\"message\":\"…\"}"),
            (403, "{\"error\":\"origin_not_allowed\"}"),
            (400, "{\"error\":\"clock_skew\"}"),
            (400, "{\"error\":\"bad_payload\"}"),
            (409, "{\"error\":\"conflict\"}"),
            (413, "{\"error\":\"too_large\"}"),
            (429, "{\"error\":\"rate_limited\"}"),
            (503, "{\"error\":\"no_sites\"}"),
            (401, "{\"error\":\"unauthorized\"}"),
        ] {
            assert!(
                matches!(answer(status, body), Answer::Retry(Problem::Collector(s, _)) if s == status),
                "{status} {body} must be kept"
            );
        }
        for status in [404, 405, 502, 403, 200] {
            assert_eq!(
                answer(status, "<html>Not Found</html>"),
                Answer::Retry(Problem::NotCollector(status)),
                "a proxy's page is never the collector's verdict"
            );
        }
        assert_eq!(
            answer(400, bad_sig.replace("error", "err").as_str()),
            Answer::Retry(Problem::NotCollector(400))
        );
        assert_eq!(answer(0, ""), Answer::Retry(Problem::Network));
    }

    #[test]
    fn an_acknowledgement_counts_only_for_these_exact_bytes() {
        let sha = "cd".repeat(32);
        let Answer::Acknowledgement(c) = read_answer(201, &ack(ID, &sha, "EdDSA"), ID, &sha) else {
            panic!("a countersignature over this receipt");
        };
        assert_eq!(c.kid, "k1");
        assert_eq!(c.signature, vec![7u8; 64]);
        assert_eq!(c.signing_input.matches('.').count(), 1);
        let bad = Answer::Retry(Problem::BadAcknowledgement);
        assert_eq!(
            read_answer(200, &ack(ID, &"00".repeat(32), "EdDSA"), ID, &sha),
            bad,
            "other bytes"
        );
        let other_id = "1b6c2a1e-8f7d-4c3b-9a1e-2f3d4c5b6a79";
        assert_eq!(
            read_answer(200, &ack(other_id, &sha, "EdDSA"), ID, &sha),
            bad,
            "another receipt"
        );
        assert_eq!(
            read_answer(200, &ack(ID, &sha, "none"), ID, &sha),
            bad,
            "not EdDSA"
        );
        assert_eq!(
            read_answer(201, "{\"seq\":1}", ID, &sha),
            bad,
            "no countersignature"
        );
    }

    #[test]
    fn notices_are_retried_unless_the_collector_refuses_the_text_itself() {
        assert_eq!(read_notice_answer(201, ""), Some(true));
        assert_eq!(read_notice_answer(200, ""), Some(true));
        assert_eq!(
            read_notice_answer(400, "{\"error\":\"bad_notice\"}"),
            Some(false)
        );
        assert_eq!(read_notice_answer(404, "<html>"), None);
        assert_eq!(
            read_notice_answer(403, "{\"error\":\"origin_not_allowed\"}"),
            None
        );
        assert_eq!(read_notice_answer(0, ""), None);
    }

    #[test]
    fn the_collectors_keys_are_published_at_its_origin() {
        let on_page = absolute_endpoint("/v1/receipts", "https://www.acme.example");
        assert_eq!(on_page, "https://www.acme.example/v1/receipts");
        assert_eq!(
            absolute_endpoint("https://c.example/v1/receipts", "https://www.acme.example"),
            "https://c.example/v1/receipts"
        );
        assert_eq!(
            jwks_url(&on_page).as_deref(),
            Some("https://www.acme.example/.well-known/jwks.json")
        );
        assert_eq!(
            jwks_url("https://c.example:8443/v1/receipts").as_deref(),
            Some("https://c.example:8443/.well-known/jwks.json")
        );
        assert_eq!(
            jwks_url("http://127.0.0.1:9/x").as_deref(),
            Some("http://127.0.0.1:9/.well-known/jwks.json")
        );
    }

    #[test]
    fn the_latest_receipt_is_the_newest_signed_one_of_the_site() {
        assert_eq!(
            latest("acme-landing", None, [entry()].iter()),
            None,
            "unsigned: nothing to download"
        );
        let e = signed();
        let l = latest("acme-landing", None, [e.clone()].iter()).expect("signed");
        assert_eq!((l.id.as_str(), l.confirmed), (ID, false));
        let mut older = e.clone();
        older.written = older.written.replace("2026-11-23", "2020-01-01");
        older.acknowledge("{\"seq\":1}");
        assert_eq!(
            latest("acme-landing", Some(&older), [e.clone()].iter()),
            Some(l)
        );
        let kept = latest("other-site", Some(&older), [e].iter()).expect("kept");
        assert!(kept.confirmed && kept.issued_at.starts_with("2020"));
        assert!(
            kept.file.contains("\"collector\":{\"seq\":1}"),
            "{}",
            kept.file
        );
    }

    #[test]
    fn a_waiting_receipt_tells_the_site_owner_what_to_fix() {
        let m = problem_message(&Problem::Collector(400, "unknown_site".into()), "x");
        assert!(
            m.contains("400 unknown_site") && m.contains("sites file"),
            "{m}"
        );
        let m = problem_message(&Problem::NotCollector(404), "https://c.example/v1/receipts");
        assert!(
            m.contains("https://c.example/v1/receipts answered 404"),
            "{m}"
        );
        assert!(m.ends_with("kept and sent again later"));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(
            (retry_delay_ms(0, 0.0), retry_delay_ms(0, 0.999_999)),
            (1_000, 1_999)
        );
        assert_eq!(retry_delay_ms(3, 0.0), 8_000);
        assert!(retry_delay_ms(30, 0.999) <= 600_000);
        assert!(retry_delay_ms(30, 0.0) >= 300_000);
    }

    #[test]
    fn notices_go_next_to_receipts() {
        assert_eq!(
            notices_endpoint("https://c.example/v1/receipts").as_deref(),
            Some("https://c.example/v1/notices")
        );
        assert_eq!(
            notices_endpoint("/v1/receipts").as_deref(),
            Some("/v1/notices")
        );
        assert_eq!(notices_endpoint("/collect"), None);
    }
}
