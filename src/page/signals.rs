//! What the site hears: `consentry:*` events on `window` and the callbacks
//! registered with `consentry.on(...)`. What is said is written here as
//! JSON; `io.js` turns it into the objects the site gets, dispatches
//! the events and keeps the callbacks.

#[allow(unused_imports)]
use crate::prelude::*;

use consentry_receipt::json::Json;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsValue;

use crate::consent::ConsentState;

#[wasm_bindgen(module = "/src/page/io.js")]
extern "C" {
    pub fn subscribe(callback: &js_sys::Function) -> u32;
    pub fn unsubscribe(id: u32);
    fn detail(json: &str) -> JsValue;
    /// Tells the page: the event `name` with `json` as its detail, and for
    /// a change, every `on('change')` callback too.
    pub fn announce(name: &str, json: &str, change: bool);
    #[wasm_bindgen(js_name = pageLanguages)]
    fn page_languages_joined() -> String;
    #[wasm_bindgen(js_name = pageFacts)]
    fn page_facts_joined() -> String;
    #[wasm_bindgen(js_name = randomHex)]
    fn random_hex() -> String;
}

/// What the widget reads of the page (`io.js` `pageFacts`).
pub struct PageFacts {
    pub origin: String,
    pub path: String,
    pub host: String,
    pub https: bool,
    pub user_agent: String,
    /// `navigator.globalPrivacyControl`: `None` when the browser has none
    /// (recorded as no signal rather than as `false`).
    pub gpc: Option<bool>,
}

pub fn page_facts() -> PageFacts {
    let text = page_facts_joined();
    let mut lines = crate::config::pieces(&text, b'\n');
    let mut next = || lines.next().unwrap_or_default().to_owned();
    let (origin, path, host) = (next(), next(), next());
    let https = next() == "https:";
    let user_agent = next();
    let gpc = match next().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    PageFacts {
        origin,
        path,
        host,
        https,
        user_agent,
        gpc,
    }
}

/// `<html lang>`, then `navigator.languages`: what `language::pick` reads.
pub fn page_languages() -> Vec<String> {
    let mut tags = Vec::new();
    for tag in crate::config::pieces(&page_languages_joined(), b',') {
        if !tag.is_empty() {
            tags.push(tag.to_owned());
        }
    }
    tags
}

/// What a change adds to the consent: how it was made and what it changed.
pub struct ChangeDetail<'a> {
    pub action: &'a str,
    pub method: &'a str,
    pub granted: &'a [String],
    pub refused: &'a [String],
}

/// `getConsent()`'s shape, `{categories, revision, givenAt, expiresAt,
/// receiptId}` (`null` before a choice), plus a change's detail, as JSON.
pub fn consent_json(state: Option<&ConsentState>, change: Option<&ChangeDetail<'_>>) -> String {
    let Some(s) = state else {
        return String::from("null");
    };
    let mut fields = vec![
        ("categories", Some(ids(&s.granted))),
        ("revision", Some(Json::int(s.revision as u64))),
        ("givenAt", Some(Json::int(s.given_at))),
        ("expiresAt", Some(Json::int(s.expires_at))),
        ("receiptId", Some(Json::str(&s.receipt_id))),
    ];
    if let Some(c) = change {
        fields.push(("action", Some(Json::str(c.action))));
        fields.push(("method", Some(Json::str(c.method))));
        fields.push(("granted", Some(ids(c.granted))));
        fields.push(("refused", Some(ids(c.refused))));
    }
    // Canonical writing fails only on a number that is not a whole number.
    Json::object(fields).canonical().unwrap_or_default()
}

fn ids(list: &[String]) -> Json {
    let mut items = Vec::new();
    for id in list {
        items.push(Json::str(id));
    }
    Json::Arr(items)
}

/// A console error for the site owner (bad config, failed start).
pub fn log_error(msg: &str) {
    web_sys::console::error_1(&msg.into());
}

/// `getConsent()`'s value.
pub fn consent_object(state: Option<&ConsentState>) -> JsValue {
    detail(&consent_json(state, None))
}

/// 16 bytes from the browser's CSPRNG (`crypto.getRandomValues`); `None`
/// without it, never zeros.
pub fn random_bytes() -> Option<[u8; 16]> {
    let hex = random_hex();
    let digits = hex.as_bytes();
    if digits.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, pair) in digits.chunks(2).enumerate() {
        let nibble = |d: u8| (d as char).to_digit(16).unwrap_or(0) as u8;
        bytes[i % 16] = nibble(pair[0]) << 4 | nibble(pair[pair.len() - 1]);
    }
    Some(bytes)
}

/// The page a receipt records (origin and path, never the query or the
/// fragment) and the user agent.
pub fn page_context() -> (String, String) {
    let f = page_facts();
    (crate::config::concat(&[&f.origin, &f.path]), f.user_agent)
}

pub fn now_s() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}
