//! Proof of consent, the browser half: one long-lived task, the courier,
//! owns the visitor's keys, the pending receipts, the retry timer and the
//! acknowledgement check, and hears from the widget only through messages
//! ([`Msg`]). What it decides comes from the pure `crate::outbox`.
//!
//! The widget writes each receipt into the journal (`localStorage`) itself,
//! synchronously, in the event handler of the visitor's action, so that a
//! page leaving right after loses nothing; then it wakes the courier. The
//! courier signs each entry once under a Web Lock (two tabs never sign one
//! entry twice), sends it, and removes it only on a verified acknowledgement
//! or on the collector's own verdict that the bytes can never be accepted.
//! POSTs run beside the courier and come back as messages, so a held form's
//! "sign and send this now" never waits behind a slow collector.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;
use core::cell::OnceCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use consentry_receipt::{b64, ids};

use super::mailbox::{self, Receiver, Sender};
use crate::config::concat;
use crate::outbox::{self, Answer, Countersignature, Entry, Latest, Problem, Step};
use crate::proof::{self, PublicKey};

#[wasm_bindgen(module = "/src/page/io.js")]
extern "C" {
    fn later(callback: &JsValue, ms: i32);
    #[wasm_bindgen(js_name = onOnline)]
    fn on_online(callback: &JsValue);
    #[wasm_bindgen(js_name = recordGet)]
    pub(crate) fn record_get(key: &str) -> Option<String>;
    #[wasm_bindgen(js_name = recordPut)]
    pub(crate) fn record_put(key: &str, text: &str);
    #[wasm_bindgen(js_name = recordDelete)]
    fn record_delete(key: &str);
    #[wasm_bindgen(js_name = recordsWith)]
    fn records_with(prefix: &str) -> js_sys::Array;
    fn persistent() -> bool;
    fn lock() -> js_sys::Promise;
    #[wasm_bindgen(js_name = holdPage)]
    fn hold_page(page: &str);
    #[wasm_bindgen(js_name = livePages)]
    fn live_pages() -> js_sys::Promise;
    #[wasm_bindgen(js_name = takeOld)]
    fn take_old(site: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = clearOld)]
    fn clear_old() -> js_sys::Promise;
    #[wasm_bindgen(js_name = visitorKey)]
    fn visitor_key(site: &str) -> js_sys::Promise;
    fn sign(private_key: &JsValue, text: &str) -> js_sys::Promise;
    fn sha256(text: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = verifyCountersignature)]
    fn verify_countersignature(
        url: &str,
        kid: &str,
        signature: &[u8],
        input: &str,
    ) -> js_sys::Promise;
    fn post(url: &str, body: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = setBeacons)]
    fn set_beacons(list: js_sys::Array);
}

pub(crate) const ENTRY: &str = "consentry:entry:";
const LATEST: &str = "consentry:latest:";
pub(crate) const MIGRATED: &str = "consentry:migrated";

/// What the widget and the browser tell the courier.
pub enum Msg {
    /// The journal has something new, a retry is due, the page is online.
    Wake,
    /// A page with a consent form: have the visitor's key ready before the
    /// visitor submits, so a held submission only waits for the signature.
    Prepare,
    /// A held form: call this once its receipt is handed to the network.
    Handed(js_sys::Function),
    /// A POST came back: `[status, body]` (status 0: no answer).
    Replied {
        id: String,
        notice: bool,
        answer: JsValue,
    },
}

/// The widget's side of receipts (present when the config has an
/// `endpoint`): what a new receipt on this page is written with, and the
/// courier's address.
pub struct Receipts {
    site: String,
    endpoint: String,
    /// The canonical notice of this page: what its receipts were shown
    /// (changed by `setLanguage`).
    pub notice: String,
    /// The visitor's last receipt id: the next one's `previous`.
    pub previous: String,
    courier: Sender<Msg>,
    /// The thumbprint of the visitor's key, once the courier has it: forms
    /// send it beside the receipt id.
    subject: Rc<OnceCell<String>>,
}

impl Receipts {
    pub fn start(site: &str, endpoint: &str, notice: String, previous: &str) -> Receipts {
        let origin = crate::page::signals::page_facts().origin;
        let endpoint = &outbox::absolute_endpoint(endpoint, &origin);
        let (tx, rx) = mailbox::channel();
        let subject = Rc::new(OnceCell::new());
        let courier = Courier {
            site: site.to_owned(),
            endpoint: endpoint.to_owned(),
            notice: notice.clone(),
            subject: Rc::clone(&subject),
            keys: Vec::new(),
            told: Vec::new(),
            timer_due: None,
            handed: Vec::new(),
            tx: tx.clone(),
            page: page_id(),
        };
        spawn_local(courier.run(rx));
        let online = tx.clone();
        // A receipt waiting for the network goes as soon as it is back.
        on_online(&Closure::<dyn FnMut()>::new(move || online.send(Msg::Wake)).into_js_value());
        Receipts {
            site: site.to_owned(),
            endpoint: endpoint.to_owned(),
            notice,
            previous: previous.to_owned(),
            courier: tx,
            subject,
        }
    }

    /// Journals a receipt synchronously and wakes the courier; `false` when
    /// it cannot be written down (then no receipt claims anything).
    pub fn record(&mut self, receipt: consentry_receipt::Receipt) -> bool {
        let Some(entry) = Entry::new(receipt, &self.endpoint, &self.notice) else {
            return false;
        };
        store(&entry);
        self.previous = entry.id;
        self.courier.send(Msg::Wake);
        true
    }

    pub fn send(&self, msg: Msg) {
        self.courier.send(msg);
    }

    pub fn subject_key(&self) -> Option<String> {
        self.subject.get().cloned()
    }

    /// The visitor's latest receipt on this site, for the dialog.
    pub fn latest(&self) -> Option<Latest> {
        let kept = record_get(&concat(&[LATEST, &self.site])).and_then(|t| Entry::parse(&t));
        let entries = journal();
        outbox::latest(&self.site, kept.as_ref(), entries.iter())
    }
}

struct Key {
    site: String,
    private: JsValue,
    x: String,
    y: String,
    thumbprint: String,
}

struct Courier {
    /// This page's site, endpoint and notice (for receipts journaled by
    /// earlier releases, which had none of their own).
    site: String,
    endpoint: String,
    notice: String,
    subject: Rc<OnceCell<String>>,
    keys: Vec<Key>,
    /// Console lines said on this page view: each is said once.
    told: Vec<String>,
    timer_due: Option<u64>,
    handed: Vec<js_sys::Function>,
    tx: Sender<Msg>,
    /// This page's id: its leases count while its Web Lock is held.
    page: String,
}

/// A page id for leases: only has to differ between the pages open at once.
fn page_id() -> String {
    let mut id = String::from("p");
    crate::config::push_num(&mut id, (js_sys::Math::random() * 1e15) as u64);
    id
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

fn entry_key(id: &str) -> String {
    concat(&[ENTRY, id])
}

fn load(id: &str) -> Option<Entry> {
    Entry::parse(&record_get(&entry_key(id))?)
}

fn store(e: &Entry) {
    record_put(&entry_key(&e.id), &e.to_text());
}

/// Every entry of the journal, in this format.
fn journal() -> Vec<Entry> {
    let mut entries = Vec::new();
    for t in records_with(ENTRY).iter() {
        if let Some(e) = t.as_string().and_then(|t| Entry::parse(&t)) {
            entries.push(e);
        }
    }
    entries
}

async fn digest(text: &str) -> Result<Vec<u8>, JsValue> {
    let bytes = JsFuture::from(sha256(text)).await?;
    Ok(bytes_of(&bytes))
}

/// The bytes of an `ArrayBuffer`, read one by one: `Uint8Array::to_vec`
/// asserts a length, which links panic formatting into the wasm, and these
/// are only digests and signatures (32 and 64 bytes).
fn bytes_of(buffer: &JsValue) -> Vec<u8> {
    let a = js_sys::Uint8Array::new(buffer);
    let mut out = Vec::new();
    for i in 0..a.length() {
        out.push(a.get_index(i));
    }
    out
}

fn get(o: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn get_str(o: &JsValue, key: &str) -> String {
    get(o, key).as_string().unwrap_or_default()
}

/// The journal lock, released when dropped.
struct Held(js_sys::Function);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.call0(&JsValue::UNDEFINED);
    }
}

async fn hold_lock() -> Result<Held, JsValue> {
    let release = JsFuture::from(lock()).await?;
    Ok(Held(release.dyn_into()?))
}

impl Courier {
    async fn run(mut self, mut rx: Receiver<Msg>) {
        hold_page(&self.page);
        if let Err(e) = self.migrate().await {
            web_sys::console::error_2(&"consentry: receipts:".into(), &e);
        }
        loop {
            let result = match rx.recv().await {
                Msg::Wake => self.round().await,
                Msg::Prepare => self.prepare().await,
                Msg::Handed(done) => {
                    self.handed.push(done);
                    self.round().await
                }
                Msg::Replied { id, notice, answer } => self.replied(&id, notice, &answer).await,
            };
            if let Err(e) = result {
                web_sys::console::error_2(&"consentry: receipts:".into(), &e);
            }
        }
    }

    fn tell(&mut self, line: String) {
        if !self.told.contains(&line) {
            web_sys::console::error_1(&JsValue::from_str(&line));
            self.told.push(line);
        }
    }

    /// Receipts left by an earlier release: unsigned ones in its journal,
    /// signed ones in its IndexedDB outbox. Moved once, never lost.
    async fn migrate(&mut self) -> Result<(), JsValue> {
        if record_get(MIGRATED).is_some() {
            return Ok(());
        }
        let _lock = hold_lock().await?;
        let old = JsFuture::from(take_old(&self.site)).await?;
        let unsigned: js_sys::Array = js_sys::Reflect::get_u32(&old, 0)?.dyn_into()?;
        for text in unsigned.iter().filter_map(|t| t.as_string()) {
            if let Some(e) = Entry::from_written(text, &self.endpoint, &self.notice) {
                store(&e);
            }
        }
        let latest = js_sys::Reflect::get_u32(&old, 2)?.as_string();
        if let Some(e) = latest.as_deref().and_then(Entry::from_download) {
            record_put(&concat(&[LATEST, &self.site]), &e.to_text());
        }
        let signed: js_sys::Array = js_sys::Reflect::get_u32(&old, 1)?.dyn_into()?;
        for pair in signed.iter() {
            let part = |i| {
                js_sys::Reflect::get_u32(&pair, i)
                    .ok()
                    .and_then(|v| v.as_string())
            };
            if let Some(e) =
                Entry::from_signed(&part(0).unwrap_or_default(), &part(1).unwrap_or_default())
            {
                store(&e);
            }
        }
        JsFuture::from(clear_old()).await?;
        record_put(MIGRATED, "1");
        Ok(())
    }

    async fn prepare(&mut self) -> Result<(), JsValue> {
        let _lock = hold_lock().await?;
        let site = self.site.clone();
        self.key(&site).await.map(|_| ())
    }

    /// The visitor's key for `site`, loaded (or made, once) on first use.
    async fn key(&mut self, site: &str) -> Result<&Key, JsValue> {
        if !self.keys.iter().any(|k| k.site == site) {
            let k = JsFuture::from(visitor_key(site)).await?;
            let (x, y) = (get_str(&k, "x"), get_str(&k, "y"));
            let thumbprint = b64::encode(&digest(&ids::thumbprint_input(&x, &y)).await?);
            if site == self.site {
                let _ = self.subject.set(thumbprint.clone());
            }
            self.keys.push(Key {
                site: site.to_owned(),
                private: get(&k, "privateKey"),
                x,
                y,
                thumbprint,
            });
        }
        self.keys
            .iter()
            .find(|k| k.site == site)
            .ok_or_else(|| JsValue::from_str("no visitor key"))
    }

    /// Signs an entry exactly as it was written: the key of its site, the
    /// hash of its own notice. Called with the journal lock held.
    async fn sign(&mut self, e: &mut Entry) -> Result<bool, JsValue> {
        e.notice_sha = ids::hex(&digest(&e.notice).await?);
        let key = self.key(&e.site).await?;
        let public = PublicKey {
            x: &key.x,
            y: &key.y,
        };
        let Some(input) = proof::signing_input(&e.written, &public, &key.thumbprint, &e.notice_sha)
        else {
            return Ok(false);
        };
        let signature = JsFuture::from(sign(&key.private, &input)).await?;
        e.jws = proof::jws(&input, &bytes_of(&signature));
        Ok(true)
    }

    /// One pass over the journal, under the lock: drop what is over, sign
    /// what is written, take what is due for sending. The POSTs start after
    /// the lock is released and answer as [`Msg::Replied`].
    async fn round(&mut self) -> Result<(), JsValue> {
        let lock = hold_lock().await?;
        let live: Option<Vec<String>> = JsFuture::from(live_pages())
            .await?
            .dyn_into::<js_sys::Array>()
            .ok()
            .map(|a| {
                let mut pages = Vec::new();
                for p in a.iter() {
                    if let Some(p) = p.as_string() {
                        pages.push(p);
                    }
                }
                pages
            });
        let t = now();
        let mut sending = Vec::new();
        let mut next: Option<u64> = None;
        for mut e in journal() {
            let mut step = outbox::next_step(&e, t, live.as_deref());
            if step == Step::Sign {
                if !self.sign(&mut e).await? {
                    // Not of this format: it can never be signed.
                    record_delete(&entry_key(&e.id));
                    continue;
                }
                step = outbox::next_step(&e, t, live.as_deref());
            }
            match step {
                Step::Done => record_delete(&entry_key(&e.id)),
                Step::DropExpired => {
                    record_delete(&entry_key(&e.id));
                    self.tell(concat(&[
                        "consentry: receipts: receipt ",
                        &e.id,
                        " expired before the collector acknowledged it; it was dropped",
                    ]));
                }
                Step::WaitUntil(at) => next = Some(next.map_or(at, |n| n.min(at))),
                Step::Send { receipt, notice } => {
                    outbox::lease(&mut e, t, &self.page);
                    store(&e);
                    sending.push((e, receipt, notice));
                }
                Step::Sign => {}
            }
        }
        drop(lock);
        if !sending.is_empty() && !persistent() {
            self.tell(
                "consentry: receipts: this page cannot store data (private mode or a sandboxed \
                 frame): receipts are signed and sent, but cannot survive a reload"
                    .into(),
            );
        }
        for (e, receipt, notice) in &sending {
            if *notice {
                if let Some(url) = outbox::notices_endpoint(&e.endpoint) {
                    self.send(&e.id, true, &url, &e.notice);
                }
            }
            if *receipt {
                self.send(&e.id, false, &e.endpoint, &e.jws);
            }
        }
        // Every POST of this round has been handed to the network.
        for done in self.handed.drain(..) {
            let _ = done.call0(&JsValue::UNDEFINED);
        }
        self.refresh_beacons();
        if let Some(at) = next {
            self.schedule(at);
        }
        Ok(())
    }

    fn send(&self, id: &str, notice: bool, url: &str, body: &str) {
        let reply = post(url, body);
        let tx = self.tx.clone();
        let id = id.to_owned();
        spawn_local(async move {
            let answer = JsFuture::from(reply).await.unwrap_or(JsValue::NULL);
            tx.send(Msg::Replied { id, notice, answer });
        });
    }

    /// What `pagehide` beacons: every signed receipt not yet acknowledged.
    fn refresh_beacons(&self) {
        let list = js_sys::Array::new();
        for e in journal() {
            if e.is_signed() && !e.is_acknowledged() {
                let pair = js_sys::Array::of2(&e.endpoint.into(), &e.jws.into());
                list.push(&pair);
            }
        }
        set_beacons(list);
    }

    async fn replied(&mut self, id: &str, notice: bool, answer: &JsValue) -> Result<(), JsValue> {
        // Gone: another tab (or an earlier answer) finished it.
        let Some(mut e) = load(id) else {
            return Ok(());
        };
        let part = |i| js_sys::Reflect::get_u32(answer, i).unwrap_or(JsValue::UNDEFINED);
        let status = part(0).as_f64().unwrap_or(0.0) as u16;
        let body = part(1).as_string().unwrap_or_default();
        let problem = if notice {
            match outbox::read_notice_answer(status, &body) {
                Some(stored) => {
                    if !stored {
                        self.tell(concat(&[
                            "consentry: receipts: the collector refused the notice of receipt ",
                            id,
                            ": ",
                            &body,
                        ]));
                    }
                    e.notice_stored = true;
                    None
                }
                None => Some(Problem::NotCollector(status)),
            }
        } else {
            let sent = ids::hex(&digest(&e.jws).await?);
            match outbox::read_answer(status, &body, id, &sent) {
                Answer::Acknowledgement(c) => {
                    if self.verified(&e.endpoint, &c).await? {
                        e.acknowledge(&body);
                        self.keep_latest(&e);
                        None
                    } else {
                        Some(Problem::BadAcknowledgement)
                    }
                }
                Answer::Refused(why) => {
                    record_delete(&entry_key(id));
                    self.tell(concat(&[
                        "consentry: receipts: the collector refused receipt ",
                        id,
                        " for good: ",
                        &why,
                    ]));
                    self.refresh_beacons();
                    return Ok(());
                }
                Answer::Retry(p) => Some(p),
            }
        };
        if let Some(p) = problem {
            self.tell(outbox::problem_message(&p, &e.endpoint));
            outbox::retry_later(&mut e, now(), js_sys::Math::random());
            self.schedule(e.retry_at);
        }
        if e.is_done() {
            record_delete(&entry_key(id));
        } else {
            store(&e);
        }
        self.refresh_beacons();
        Ok(())
    }

    /// Whether `c` verifies with the collector's published key.
    async fn verified(&mut self, endpoint: &str, c: &Countersignature) -> Result<bool, JsValue> {
        let Some(url) = outbox::jwks_url(endpoint) else {
            return Ok(false);
        };
        let verdict = JsFuture::from(verify_countersignature(
            &url,
            &c.kid,
            &c.signature,
            &c.signing_input,
        ))
        .await?;
        Ok(verdict.as_bool().unwrap_or_else(|| {
            // No Ed25519 in this browser's WebCrypto: the receipt id and the
            // hash of the bytes sent were checked; say so.
            self.tell(
                "consentry: receipts: this browser cannot check the collector's Ed25519 \
                 countersignature; receipt id and hash checked only"
                    .into(),
            );
            true
        }))
    }

    /// The newest acknowledged receipt stays for the dialog and its
    /// download once it leaves the journal.
    fn keep_latest(&self, e: &Entry) {
        let key = concat(&[LATEST, &e.site]);
        let kept = record_get(&key).and_then(|t| Entry::parse(&t));
        // A slice iterator, as in `Receipts::latest`: one `latest` in the wasm.
        if outbox::latest(&e.site, kept.as_ref(), core::slice::from_ref(e).iter())
            .is_some_and(|l| l.id == e.id)
        {
            record_put(&key, &e.to_text());
        }
    }

    /// A wake-up at `at` unless one comes sooner already. Timers are never
    /// cleared, only left to fire (a wake too many is harmless).
    fn schedule(&mut self, at: u64) {
        if self.timer_due.is_some_and(|t| t <= at && t > now()) {
            return;
        }
        self.timer_due = Some(at);
        let tx = self.tx.clone();
        let callback = Closure::once_into_js(move || tx.send(Msg::Wake));
        let delay = at.saturating_sub(now()).min(i32::MAX as u64) as i32;
        later(&callback, delay);
    }
}
