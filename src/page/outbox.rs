//! Proof of consent, the browser half: the visitor's key, signing, the
//! durable outbox and delivery to the collector (rule 8).
//!
//! A receipt goes through three places, so that neither a closed tab nor a
//! collector that is down loses it:
//! 1. the journal (synchronous `localStorage`), the moment the choice is made;
//! 2. the outbox (IndexedDB), once signed with the visitor's key;
//! 3. the collector, retried with backoff, on `online`, on the next page
//!    load, and by `sendBeacon` on `pagehide`, until it acknowledges.
//!
//! The collector de-duplicates by receipt id, so sending twice is harmless.

use gloo_events::EventListener;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use consentry_receipt::json::{self, Json};
use consentry_receipt::{b64, ids, Receipt};

use crate::config::Config;
use crate::proof::{self, Delivery, PublicKey};
use crate::ui::dom::concat;

#[wasm_bindgen(module = "/src/page/io.js")]
extern "C" {
    #[wasm_bindgen(js_name = idbGet)]
    fn idb_get(store: &str, key: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = idbPut)]
    fn idb_put(store: &str, key: &str, value: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = idbDelete)]
    fn idb_delete(store: &str, key: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = idbAll)]
    fn idb_all(store: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = beaconAll)]
    fn beacon_all();
    #[wasm_bindgen(js_name = visitorKey)]
    fn visitor_key(site: &str) -> js_sys::Promise;
    fn sign(private_key: &JsValue, text: &str) -> js_sys::Promise;
    fn sha256(text: &str) -> js_sys::Promise;
    fn post(url: &str, body: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = journalPut)]
    fn journal_put(id: &str, text: &str);
    #[wasm_bindgen(js_name = journalDelete)]
    fn journal_delete(id: &str);
    #[wasm_bindgen(js_name = journalAll)]
    fn journal_all() -> js_sys::Array;
}

struct Key {
    private: JsValue,
    x: String,
    y: String,
    thumbprint: String,
}

/// The visitor's latest receipt, for the preferences dialog.
#[derive(Clone)]
pub struct Latest {
    pub id: String,
    pub issued_at: String,
    pub granted: Vec<String>,
    /// The download: the JWS and, once acknowledged, the countersignature.
    pub file: String,
    pub confirmed: bool,
}

/// The receipts state the widget owns (present when the config has an
/// `endpoint`).
pub struct Proof {
    site: String,
    endpoint: String,
    notices_endpoint: Option<String>,
    notice_text: String,
    key: Option<Key>,
    notice_sha: Option<String>,
    notice_sent: bool,
    running: bool,
    again: bool,
    /// When the pending retry timer fires, if one is set.
    timer_due: Option<f64>,
    pub latest: Option<Latest>,
    /// The id of the visitor's last receipt: the next one's `previous`.
    pub last_id: String,
    _listeners: [EventListener; 2],
}

impl Proof {
    pub fn new(config: &Config, endpoint: &str, last_id: &str) -> Proof {
        let window = web_sys::window().expect_throw("unreachable: the widget runs in a window");
        let listeners = [
            // Nothing asynchronous may finish in pagehide; beacons may.
            EventListener::new(&window, "pagehide", |_| beacon_all()),
            EventListener::new(&window, "online", |_| kick()),
        ];
        Proof {
            site: config.id.clone(),
            endpoint: endpoint.to_owned(),
            notices_endpoint: proof::notices_endpoint(endpoint),
            notice_text: proof::notice(config).canonical().unwrap_or_default(),
            key: None,
            notice_sha: None,
            notice_sent: false,
            running: false,
            again: false,
            timer_due: None,
            latest: None,
            last_id: last_id.to_owned(),
            _listeners: listeners,
        }
    }

    /// Writes the receipt down synchronously; signing and sending follow.
    pub fn record(&mut self, receipt: Receipt) {
        let id = receipt.receipt_id.clone();
        if let Some(text) = proof::written(receipt) {
            journal_put(&id, &text);
        }
        self.last_id = id;
    }
}

/// The page context a receipt records: origin and path, never the query.
pub fn page_context(gpc: bool) -> (String, String, bool) {
    let window = web_sys::window();
    let location = window.as_ref().map(|w| w.location());
    let origin = location
        .as_ref()
        .and_then(|l| l.origin().ok())
        .unwrap_or_default();
    let path = location
        .as_ref()
        .and_then(|l| l.pathname().ok())
        .unwrap_or_default();
    let ua = window
        .and_then(|w| w.navigator().user_agent().ok())
        .unwrap_or_default();
    (concat(&[&origin, &path]), ua, gpc)
}

/// Starts processing (journal → outbox → collector) unless it is running; a
/// run in progress is asked to go round once more.
pub fn kick() {
    let start = crate::with_proof(|p| {
        if p.running {
            p.again = true;
            false
        } else {
            p.running = true;
            true
        }
    });
    if start == Some(true) {
        wasm_bindgen_futures::spawn_local(run());
    }
}

/// Loads the latest receipt kept from an earlier page.
pub fn load_latest(site: String) {
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(stored) = JsFuture::from(idb_get("receipts", &site)).await else {
            return;
        };
        if let Some(latest) = latest_from_js(&stored) {
            crate::with_proof(|p| {
                if p.latest.is_none() {
                    p.latest = Some(latest);
                }
            });
        }
    });
}

async fn run() {
    loop {
        if let Err(e) = step().await {
            web_sys::console::error_2(&"consentry: receipts:".into(), &e);
        }
        let again = crate::with_proof(|p| {
            let again = p.again;
            p.again = false;
            p.running = again;
            again
        });
        if again != Some(true) {
            break;
        }
    }
}

fn get(o: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn get_str(o: &JsValue, key: &str) -> String {
    get(o, key).as_string().unwrap_or_default()
}

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

async fn digest(text: &str) -> Result<Vec<u8>, JsValue> {
    let bytes = JsFuture::from(sha256(text)).await?;
    Ok(js_sys::Uint8Array::new(&bytes).to_vec())
}

/// One round: make sure of the key and the notice, sign what the journal
/// holds, then deliver what the outbox holds.
async fn step() -> Result<(), JsValue> {
    // A visitor with nothing to sign or send costs one IndexedDB read: no
    // key is made or loaded and nothing hashed before the first choice.
    let journal = journal_all();
    let outbox: js_sys::Array = JsFuture::from(idb_all("outbox"))
        .await?
        .dyn_into()
        .unwrap_or_default();
    if journal.length() == 0 && outbox.length() == 0 {
        return Ok(());
    }
    let Some((site, has_key, notice_text, notice_sha)) = crate::with_proof(|p| {
        (
            p.site.clone(),
            p.key.is_some(),
            p.notice_text.clone(),
            p.notice_sha.clone(),
        )
    }) else {
        return Ok(());
    };
    if !has_key && journal.length() > 0 {
        let k = JsFuture::from(visitor_key(&site)).await?;
        let (x, y) = (get_str(&k, "x"), get_str(&k, "y"));
        let thumbprint = b64::encode(&digest(&ids::thumbprint_input(&x, &y)).await?);
        let key = Key {
            private: get(&k, "privateKey"),
            x,
            y,
            thumbprint,
        };
        crate::with_proof(|p| p.key = Some(key));
    }
    let notice_sha = match notice_sha {
        Some(s) => s,
        None => {
            let s = ids::hex(&digest(&notice_text).await?);
            crate::with_proof(|p| p.notice_sha = Some(s.clone()));
            s
        }
    };
    send_notice(&notice_sha, &notice_text).await;
    sign_journal(&journal, &notice_sha).await?;
    deliver().await
}

/// The notice text, once per hash: the collector keeps it so the exact
/// wording can be shown later. Failure is retried with the next round.
async fn send_notice(sha: &str, text: &str) {
    let Some(Some((endpoint, sent))) =
        crate::with_proof(|p| p.notices_endpoint.clone().map(|e| (e, p.notice_sent)))
    else {
        return;
    };
    if sent {
        return;
    }
    let known = JsFuture::from(idb_get("notices", sha))
        .await
        .map(|v| v.is_truthy())
        .unwrap_or(false);
    let ok = known || {
        let reply = JsFuture::from(post(&endpoint, text))
            .await
            .unwrap_or(JsValue::NULL);
        let status = js_sys::Reflect::get_u32(&reply, 0)
            .ok()
            .and_then(|s| s.as_f64())
            .unwrap_or(0.0) as u16;
        let acked = proof::delivery(status) == Delivery::Acknowledged;
        if acked {
            let _ = JsFuture::from(idb_put("notices", sha, &JsValue::TRUE)).await;
        }
        acked
    };
    if ok {
        crate::with_proof(|p| p.notice_sent = true);
    }
}

async fn sign_journal(journal: &js_sys::Array, notice_sha: &str) -> Result<(), JsValue> {
    for entry in journal.iter() {
        let id = js_sys::Reflect::get_u32(&entry, 0)?
            .as_string()
            .unwrap_or_default();
        let text = js_sys::Reflect::get_u32(&entry, 1)?
            .as_string()
            .unwrap_or_default();
        let Some((private, x, y, thumbprint, endpoint)) = crate::with_proof(|p| {
            p.key.as_ref().map(|k| {
                (
                    k.private.clone(),
                    k.x.clone(),
                    k.y.clone(),
                    k.thumbprint.clone(),
                    p.endpoint.clone(),
                )
            })
        })
        .flatten() else {
            return Ok(());
        };
        let key = PublicKey { x: &x, y: &y };
        let (Some((issued_at, granted)), Some(input)) = (
            proof::summary(&text),
            proof::signing_input(&text, &key, &thumbprint, notice_sha),
        ) else {
            // Not ours or from an older format: it can never be signed.
            journal_delete(&id);
            continue;
        };
        let signature = JsFuture::from(sign(&private, &input)).await?;
        let jws = proof::jws(&input, &js_sys::Uint8Array::new(&signature).to_vec());
        let entry = object(&[
            ("id", JsValue::from_str(&id)),
            ("endpoint", JsValue::from_str(&endpoint)),
            ("jws", JsValue::from_str(&jws)),
            ("attempts", JsValue::from_f64(0.0)),
            ("due", JsValue::from_f64(0.0)),
        ]);
        JsFuture::from(idb_put("outbox", &id, &entry)).await?;
        journal_delete(&id);
        let latest = Latest {
            id: id.clone(),
            issued_at,
            granted,
            file: download_file(&id, &jws, None),
            confirmed: false,
        };
        keep_latest(latest).await;
    }
    Ok(())
}

/// What "Download receipt" saves: the signed receipt and, once the
/// collector acknowledged it, its countersigned answer.
fn download_file(id: &str, jws: &str, collector: Option<&str>) -> String {
    let answer = collector
        .and_then(|c| json::parse(c).ok())
        .unwrap_or(Json::Null);
    let file = Json::object(vec![
        ("receipt_id", Some(Json::str(id))),
        ("receipt", Some(Json::str(jws))),
        ("collector", Some(answer)),
    ]);
    file.canonical().unwrap_or_default()
}

fn latest_to_js(l: &Latest) -> JsValue {
    object(&[
        ("id", JsValue::from_str(&l.id)),
        ("issuedAt", JsValue::from_str(&l.issued_at)),
        ("granted", crate::page::signals::str_array(&l.granted)),
        ("file", JsValue::from_str(&l.file)),
        ("confirmed", JsValue::from_bool(l.confirmed)),
    ])
}

fn latest_from_js(v: &JsValue) -> Option<Latest> {
    if !v.is_object() {
        return None;
    }
    let granted = get(v, "granted")
        .dyn_into::<js_sys::Array>()
        .ok()?
        .iter()
        .filter_map(|g| g.as_string())
        .collect();
    Some(Latest {
        id: get_str(v, "id"),
        issued_at: get_str(v, "issuedAt"),
        granted,
        file: get_str(v, "file"),
        confirmed: get(v, "confirmed").is_truthy(),
    })
}

async fn keep_latest(latest: Latest) {
    let Some(site) = crate::with_proof(|p| {
        p.latest = Some(latest.clone());
        p.site.clone()
    }) else {
        return;
    };
    let _ = JsFuture::from(idb_put("receipts", &site, &latest_to_js(&latest))).await;
}

/// Sends every outbox entry that is due; schedules the next try for the rest.
async fn deliver() -> Result<(), JsValue> {
    let entries = JsFuture::from(idb_all("outbox")).await?;
    let entries: js_sys::Array = entries.dyn_into().unwrap_or_default();
    let now = js_sys::Date::now();
    let mut next_due: Option<f64> = None;
    for entry in entries.iter() {
        let id = get_str(&entry, "id");
        let due = get(&entry, "due").as_f64().unwrap_or(0.0);
        if due > now {
            next_due = Some(next_due.map_or(due, |n| n.min(due)));
            continue;
        }
        let (endpoint, jws) = (get_str(&entry, "endpoint"), get_str(&entry, "jws"));
        let reply = JsFuture::from(post(&endpoint, &jws)).await?;
        let status = js_sys::Reflect::get_u32(&reply, 0)?.as_f64().unwrap_or(0.0) as u16;
        let body = js_sys::Reflect::get_u32(&reply, 1)?
            .as_string()
            .unwrap_or_default();
        match proof::delivery(status) {
            Delivery::Acknowledged => {
                JsFuture::from(idb_delete("outbox", &id)).await?;
                let latest = crate::with_proof(|p| p.latest.clone()).flatten();
                if let Some(mut l) = latest.filter(|l| l.id == id) {
                    l.file = download_file(&id, &jws, Some(&body));
                    l.confirmed = true;
                    keep_latest(l).await;
                }
            }
            Delivery::Refused => {
                JsFuture::from(idb_delete("outbox", &id)).await?;
                let msg = concat(&["consentry: the collector refused receipt ", &id, ": "]);
                web_sys::console::error_2(&msg.into(), &body.into());
            }
            Delivery::Retry => {
                let attempts = get(&entry, "attempts").as_f64().unwrap_or(0.0) as u32 + 1;
                let due = now + proof::retry_delay_ms(attempts - 1, js_sys::Math::random()) as f64;
                let _ = js_sys::Reflect::set(&entry, &"attempts".into(), &JsValue::from(attempts));
                let _ = js_sys::Reflect::set(&entry, &"due".into(), &JsValue::from_f64(due));
                JsFuture::from(idb_put("outbox", &id, &entry)).await?;
                next_due = Some(next_due.map_or(due, |n| n.min(due)));
            }
        }
    }
    if let Some(due) = next_due {
        schedule(due);
    }
    Ok(())
}

/// Sets a timer for the next retry unless one fires sooner already. Timers
/// are never cleared, only left to fire (a `kick` too many is harmless), so
/// every callback runs once and is freed.
fn schedule(due: f64) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let needed = crate::with_proof(|p| {
        let sooner = p.timer_due.is_some_and(|t| t <= due);
        if !sooner {
            p.timer_due = Some(due);
        }
        !sooner
    });
    if needed != Some(true) {
        return;
    }
    let callback = Closure::once_into_js(|| {
        crate::with_proof(|p| p.timer_due = None);
        kick();
    });
    let delay = (due - js_sys::Date::now()).max(0.0) as i32;
    let _ = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), delay);
}
