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

/// Replaces `{name}` placeholders in a site text. Unknown names stay as
/// written, so a typo is visible rather than silently dropped.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    // Bytes, not `find(char)`: core's char searcher links panic formatting.
    while let Some(open) = rest.bytes().position(|b| b == b'{') {
        let (Some(before), Some(after)) = (rest.get(..open), rest.get(open..)) else {
            break;
        };
        out.push_str(before);
        let close = after.bytes().position(|b| b == b'}');
        let name = close.and_then(|c| after.get(1..c));
        match name.and_then(|n| values.iter().find(|(k, _)| *k == n)) {
            Some((k, v)) => {
                out.push_str(v);
                rest = after.get(k.len() + 2..).unwrap_or("");
            }
            None => {
                out.push('{');
                rest = after.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}
