//! Tiny builders over `web_sys` so the UI modules read like the markup they
//! make. Site texts only ever go through `text`/`set_text_content`, never
//! `innerHTML` (rule 12).

use wasm_bindgen::{JsCast, UnwrapThrowExt};
use web_sys::{Document, Element, HtmlElement};

pub fn document() -> Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect_throw("unreachable: the widget only boots in a page with a document")
}

/// An element with attributes. Attribute names and values here are the
/// widget's own constants or checked config values.
pub fn el(doc: &Document, tag: &str, attrs: &[(&str, &str)]) -> Element {
    let e = doc
        .create_element(tag)
        .expect_throw("unreachable: valid tag name");
    for (k, v) in attrs {
        let _ = e.set_attribute(k, v);
    }
    e
}

/// An element holding plain text.
pub fn text_el(doc: &Document, tag: &str, attrs: &[(&str, &str)], text: &str) -> Element {
    let e = el(doc, tag, attrs);
    e.set_text_content(Some(text));
    e
}

pub fn append(parent: &Element, children: &[&Element]) {
    for c in children {
        let _ = parent.append_child(c);
    }
}

/// A link to a checked http(s) URL (config validation guarantees it).
pub fn link(doc: &Document, href: &str, label: &str) -> Element {
    text_el(doc, "a", &[("href", href), ("rel", "noopener")], label)
}

pub fn focus(e: &Element) {
    if let Some(h) = e.dyn_ref::<HtmlElement>() {
        let _ = h.focus();
    }
}

pub fn log_error(msg: &str) {
    web_sys::console::error_1(&msg.into());
}

/// Joins fixed pieces into one string without the `format!` machinery.
pub fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}
