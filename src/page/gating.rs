//! Script and iframe gating (rule 3). The site marks content with
//! `data-category`; nothing of a category runs before that category is
//! granted, and `data-category="!id"` runs only once it is refused.

use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlScriptElement};

use crate::config::{is_http_url, Config, Text};
use crate::consent::ConsentState;
use crate::ui::dom::{append, document, el, fill, text_el};
use crate::Command;

const GATED_SCRIPTS: &str = "script[type=\"text/plain\"][data-category]";
const GATED_FRAMES: &str = "iframe[data-category][data-src]";

/// Runs every gated script the state allows. Must be called with no borrow
/// of the widget held: an inline script runs the moment it is inserted, and
/// may call `window.consentry`.
pub fn release_scripts(state: &ConsentState) {
    let doc = document();
    let Ok(list) = doc.query_selector_all(GATED_SCRIPTS) else {
        return;
    };
    // Collected first: running one script may add or remove others.
    let mut due = Vec::new();
    for i in 0..list.length() {
        let Some(s) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
            continue;
        };
        let cat = s.get_attribute("data-category").unwrap_or_default();
        let run = match cat.strip_prefix('!') {
            Some(refused) => !state.is_granted(refused),
            None => state.is_granted(&cat),
        };
        if run {
            due.push(s);
        }
    }
    for old in due {
        run_script(&old);
    }
}

/// A `type="text/plain"` script never runs, even if its type is changed
/// later, so a fresh element takes its place.
fn run_script(old: &Element) {
    let doc = document();
    let Ok(fresh) = doc.create_element("script") else {
        return;
    };
    let attrs = old.attributes();
    for i in 0..attrs.length() {
        let Some(a) = attrs.item(i) else { continue };
        match a.name().as_str() {
            "type" => {}
            // `data-type="module"` keeps a gated module a module.
            "data-type" => {
                let _ = fresh.set_attribute("type", &a.value());
            }
            name => {
                let _ = fresh.set_attribute(name, &a.value());
            }
        }
    }
    if let Some(s) = fresh.dyn_ref::<HtmlScriptElement>() {
        if old.has_attribute("src") {
            // Keep execution order close to the author's intent.
            s.set_async(false);
        } else {
            let _ = s.set_text(&old.text_content().unwrap_or_default());
        }
    }
    let _ = old.replace_with_with_node_1(&fresh);
}

/// A placeholder for a blocked iframe: who hosts it, which category it needs,
/// and a button to allow that category and load it.
pub struct Placeholder {
    frame: Element,
    element: Element,
    _click: EventListener,
}

impl Drop for Placeholder {
    fn drop(&mut self) {
        self.element.remove();
    }
}

/// Puts placeholders before blocked iframes that have none yet, and loads
/// the ones whose category is granted.
pub fn sync_frames(
    config: &Config,
    state: Option<&ConsentState>,
    placeholders: &mut Vec<Placeholder>,
) {
    let doc = document();
    let Ok(list) = doc.query_selector_all(GATED_FRAMES) else {
        return;
    };
    for i in 0..list.length() {
        let Some(frame) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
            continue;
        };
        let cat = frame.get_attribute("data-category").unwrap_or_default();
        if state.is_some_and(|s| s.is_granted(&cat)) {
            load_frame(&frame);
            placeholders.retain(|p| !p.frame.is_same_node(Some(&frame)));
        } else if !placeholders
            .iter()
            .any(|p| p.frame.is_same_node(Some(&frame)))
        {
            placeholders.push(placeholder(config, &frame, &cat));
        }
    }
}

fn load_frame(frame: &Element) {
    let src = frame.get_attribute("data-src").unwrap_or_default();
    if !is_http_url(&src) && !src.starts_with("./") && !src.starts_with("../") {
        crate::ui::dom::log_error(
            "consentry: iframe data-src must be an http(s) or relative URL; not loaded",
        );
        return;
    }
    let _ = frame.remove_attribute("data-src");
    let _ = frame.remove_attribute("hidden");
    let _ = frame.set_attribute("src", &src);
}

fn placeholder(config: &Config, frame: &Element, cat: &str) -> Placeholder {
    let doc = document();
    let provider = frame
        .get_attribute("data-provider")
        .unwrap_or_else(|| "a third party".to_owned());
    let cat_title = config
        .category(cat)
        .map(|c| c.title.as_str())
        .unwrap_or(cat);
    let message = fill(
        &config.texts[Text::EmbedBlocked],
        &[("provider", &provider), ("category", cat_title)],
    );
    let mut style = String::from(
        "display:flex;flex-direction:column;align-items:center;justify-content:center;gap:12px;padding:16px;\
         box-sizing:border-box;max-width:100%;text-align:center;background:#f3f4f6;color:#1f2937;\
         border:1px solid #d1d5db;border-radius:8px;font:15px/1.5 system-ui,sans-serif",
    );
    for (attr, prop) in [("width", ";width:"), ("height", ";height:")] {
        if let Some(v) = frame
            .get_attribute(attr)
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        {
            style.push_str(prop);
            style.push_str(&v);
            style.push_str("px");
        }
    }
    let element = el(
        &doc,
        "div",
        &[("class", "consentry-embed-placeholder"), ("style", &style)],
    );
    let _ = element.set_attribute("role", "group");
    let _ = element.set_attribute("aria-label", &provider);
    let text = text_el(&doc, "p", &[("style", "margin:0")], &message);
    let button = text_el(&doc, "button", &[
        ("type", "button"),
        ("style", "font:600 15px/1.2 system-ui,sans-serif;padding:10px 18px;border-radius:8px;border:0;background:#1d4ed8;color:#fff;cursor:pointer;min-height:44px"),
    ], &config.texts[Text::EmbedLoad]);
    append(&element, &[&text, &button]);
    let _ = frame.set_attribute("hidden", "");
    let _ = frame.before_with_node_1(&element);
    let click = crate::ui::on_click(&button, Command::Grant(cat.to_owned()));
    Placeholder {
        frame: frame.clone(),
        element,
        _click: click,
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen::JsValue;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn state(granted: &[&str]) -> ConsentState {
        ConsentState {
            revision: 1,
            granted: granted.iter().map(|s| (*s).to_owned()).collect(),
            given_at: 1,
            expires_at: 2,
            receipt_id: String::new(),
        }
    }

    fn gated(category: &str, flag: &str) -> Element {
        let doc = document();
        let s = el(
            &doc,
            "script",
            &[("type", "text/plain"), ("data-category", category)],
        );
        let mut code = String::from("window.");
        code.push_str(flag);
        code.push_str(" = (window.");
        code.push_str(flag);
        code.push_str(" || 0) + 1;");
        s.set_text_content(Some(&code));
        let _ = doc.body().expect("body").append_child(&s);
        s
    }

    fn count(flag: &str) -> f64 {
        let w = web_sys::window().expect("window");
        js_sys::Reflect::get(&w, &JsValue::from_str(flag))
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    }

    #[wasm_bindgen_test]
    fn granted_scripts_run_once_and_refused_ones_never() {
        gated("stats", "statsRan");
        gated("ads", "adsRan");
        gated("!stats", "statsRefusedRan");
        release_scripts(&state(&["necessary"]));
        assert_eq!(
            (count("statsRan"), count("adsRan"), count("statsRefusedRan")),
            (0.0, 0.0, 1.0)
        );
        release_scripts(&state(&["necessary", "stats"]));
        release_scripts(&state(&["necessary", "stats"]));
        assert_eq!(
            (count("statsRan"), count("adsRan"), count("statsRefusedRan")),
            (1.0, 0.0, 1.0)
        );
    }

    #[wasm_bindgen_test]
    fn placeholder_texts_fill_known_names_and_keep_typos_visible() {
        let values = [("provider", "VideoHost"), ("category", "Marketing")];
        assert_eq!(
            fill("{provider} needs {category}.", &values),
            "VideoHost needs Marketing."
        );
        assert_eq!(fill("{provder} {", &values), "{provder} {");
    }
}
