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
    consentry::init(JsValue::from_str(&bad));
    assert!(shadow().is_none(), "a bad config must not render anything");
    assert!(consentry::get_consent().is_null());

    consentry::init(JsValue::from_str(CONFIG));
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
}
