//! What the site hears: `consentry:*` events on `window` and the callbacks
//! registered with `consentry.on(...)`.

use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit};

use crate::consent::ConsentState;

/// `getConsent()`'s shape: `{categories, revision, givenAt, expiresAt, receiptId}`.
pub fn consent_object(state: Option<&ConsentState>) -> JsValue {
    let Some(s) = state else { return JsValue::NULL };
    let o = js_sys::Object::new();
    let cats = js_sys::Array::new();
    for g in &s.granted {
        cats.push(&JsValue::from_str(g));
    }
    set(&o, "categories", &cats);
    set(&o, "revision", &JsValue::from(s.revision));
    set(&o, "givenAt", &iso(s.given_at));
    set(&o, "expiresAt", &iso(s.expires_at));
    set(&o, "receiptId", &JsValue::from_str(&s.receipt_id));
    o.into()
}

pub fn set(o: &js_sys::Object, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(o, &JsValue::from_str(key), value);
}

pub fn str_array(items: &[String]) -> JsValue {
    let a = js_sys::Array::new();
    for i in items {
        a.push(&JsValue::from_str(i));
    }
    a.into()
}

fn iso(unix_s: u64) -> JsValue {
    js_sys::Date::new(&JsValue::from_f64(unix_s as f64 * 1000.0))
        .to_iso_string()
        .into()
}

/// 16 bytes from the browser's CSPRNG (`crypto.getRandomValues`, which,
/// unlike `randomUUID`, also works on plain-http pages); `None` without it,
/// never zeros.
pub fn random_bytes() -> Option<[u8; 16]> {
    let mut bytes = [0u8; 16];
    let crypto = web_sys::window()?.crypto().ok()?;
    crypto.get_random_values_with_u8_array(&mut bytes).ok()?;
    Some(bytes)
}

/// The page a receipt records (origin and path, never the query or the
/// fragment) and the user agent.
pub fn page_context() -> (String, String) {
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
    (crate::ui::dom::concat(&[&origin, &path]), ua)
}

pub fn now_s() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

pub fn dispatch(name: &str, detail: &JsValue) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let init = CustomEventInit::new();
    init.set_detail(detail);
    if let Ok(e) = CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = window.dispatch_event(&e);
    }
}

/// Calls a site callback; an exception in it is the site's bug, reported but
/// never allowed to stop the widget.
pub fn call(cb: &js_sys::Function, detail: &JsValue) {
    if let Err(e) = cb.call1(&JsValue::UNDEFINED, detail) {
        web_sys::console::error_2(&"consentry: an on('change') callback threw:".into(), &e);
    }
}
