//! The widget's JS API in a real browser page: what a landing-page builder
//! calling `consentry.*` sees. All tests share one page and one widget
//! (wasm-bindgen-test runs them in one instance), so the flow is one test.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, ShadowRoot};

wasm_bindgen_test_configure!(run_in_browser);

const CONFIG: &str = include_str!("../pkg-config/examples/landing.json");

fn shadow() -> Option<ShadowRoot> {
    let doc = web_sys::window()?.document()?;
    doc.get_element_by_id("consentry-root")?.shadow_root()
}

fn banner() -> Option<Element> {
    shadow()?.query_selector("section[role=dialog]").ok()?
}

fn buttons(scope: &Element) -> Vec<(String, String)> {
    let list = scope.query_selector_all("button").expect("query");
    (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<Element>().ok())
        .map(|b| (b.text_content().unwrap_or_default(), b.class_name()))
        .collect()
}

#[wasm_bindgen_test]
fn a_bad_config_shows_nothing_then_a_good_one_runs_the_whole_api() {
    // A duplicate id is refused: nothing rendered, the API says it has not started.
    let bad = CONFIG.replace("\"id\": \"marketing\"", "\"id\": \"analytics\"");
    consentry::init(JsValue::from_str(&bad), None, JsValue::UNDEFINED);
    assert!(shadow().is_none(), "a bad config must not render anything");
    assert!(consentry::get_consent().is_null());

    // The loader's core changes the page for each choice: here a function
    // that writes down what it was sent.
    let apply = js_sys::Function::new_with_args(
        "plan, ids, first",
        "(window.applied = window.applied || []).push([ids, first, JSON.parse(plan).gtag.analytics_storage])",
    );
    let core = js_sys::Object::new();
    js_sys::Reflect::set(&core, &"apply".into(), &apply).expect("apply");
    consentry::init(JsValue::from_str(CONFIG), None, core.into());
    let b = banner().expect("the banner is shown when there is no stored choice");
    let labels = buttons(&b);
    let names: Vec<&str> = labels.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, ["Accept all", "Reject all", "Customize"]);
    assert_eq!(
        labels[0].1, labels[1].1,
        "Accept and Reject must look the same"
    );
    assert!(consentry::get_consent().is_null(), "no choice yet");

    consentry::accept_categories(js_sys::Array::of1(&"analytics".into()).into());
    assert!(consentry::is_granted("analytics"));
    assert!(!consentry::is_granted("marketing"));
    assert!(banner().is_none(), "the banner leaves after a choice");
    let reopen = shadow().and_then(|s| s.query_selector("button.reopen").ok().flatten());
    assert_eq!(
        reopen
            .and_then(|r| r.get_attribute("aria-label"))
            .as_deref(),
        Some("Privacy settings")
    );

    consentry::reject_all();
    assert!(!consentry::is_granted("analytics"));
    assert!(consentry::is_granted("necessary"));

    consentry::reset();
    assert!(consentry::get_consent().is_null());
    assert!(banner().is_some(), "reset asks again");

    let applied = js_sys::Reflect::get(&web_sys::window().expect("window"), &"applied".into())
        .expect("applied");
    assert_eq!(
        js_sys::JSON::stringify(&applied)
            .ok()
            .and_then(|s| s.as_string())
            .as_deref(),
        Some(
            r#"[[null,true,["analytics"]],["necessary,analytics",false,["analytics"]],["necessary",false,["analytics"]],[null,false,["analytics"]]]"#
        ),
        "the default before a choice, an update on each choice and on reset"
    );
}

// The golden receipts of crates/receipt/testdata, checked with the very
// WebCrypto the widget signs with: the browser's ECDSA (raw r‖s over the
// exact signing input) and the Rust verifier agree on what is valid.
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export async function webCryptoVerifies(jws) {
  const [h, p, s] = jws.trim().split('.');
  const bytes = (b64u) => Uint8Array.from(atob(b64u.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const header = JSON.parse(new TextDecoder().decode(bytes(h)));
  const key = await crypto.subtle.importKey('jwk', header.jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, bytes(s), new TextEncoder().encode(h + '.' + p));
}
"#)]
extern "C" {
    #[wasm_bindgen::prelude::wasm_bindgen(js_name = webCryptoVerifies)]
    fn web_crypto_verifies(jws: &str) -> js_sys::Promise;
}

async fn verifies(jws: &str) -> bool {
    wasm_bindgen_futures::JsFuture::from(web_crypto_verifies(jws))
        .await
        .ok()
        .and_then(|v| v.as_bool())
        == Some(true)
}

#[wasm_bindgen_test]
async fn the_golden_receipts_verify_in_the_browser_exactly_as_in_rust() {
    assert!(
        verifies(include_str!("../crates/receipt/testdata/valid.jws")).await,
        "valid.jws"
    );
    assert!(
        !verifies(include_str!(
            "../crates/receipt/testdata/tampered_payload.jws"
        ))
        .await,
        "tampered_payload.jws"
    );
    assert!(
        !verifies(include_str!("../crates/receipt/testdata/wrong_key.jws")).await,
        "wrong_key.jws"
    );
}
