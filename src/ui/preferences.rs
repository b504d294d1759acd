//! The second layer: every category with its description and cookie table,
//! a toggle per optional category (unchecked unless the visitor granted it:
//! rule 1), "Reject all" / "Accept all" / "Save choices", and the policy link.
//!
//! A modal dialog: `aria-modal`, focus kept inside, Escape closes, and the
//! caller gives focus back to where it was.

use gloo_events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement, KeyboardEvent, ShadowRoot};

use super::dom::{append, button, concat, document, el, fill, focus, link, text_el};
use super::{on_click, Mounted};
use crate::config::{Category, Config, Text};
use crate::consent::ConsentState;
use crate::outbox::Latest;
use crate::Command;

const FOCUSABLE: &str = "button:not([disabled]),input:not([disabled]),a[href]";

pub fn render(
    root: &ShadowRoot,
    config: &Config,
    state: Option<&ConsentState>,
    latest: Option<&Latest>,
) -> Mounted {
    let doc = document();
    let t = &config.texts;
    let overlay = el(&doc, "div", &[("class", "overlay")]);
    let dialog = el(
        &doc,
        "div",
        &[
            ("class", "card prefs"),
            ("role", "dialog"),
            ("aria-modal", "true"),
            ("aria-labelledby", "cs-prefs-title"),
            ("aria-describedby", "cs-prefs-desc"),
        ],
    );
    let close = el(
        &doc,
        "button",
        &[
            ("type", "button"),
            ("class", "close"),
            ("aria-label", &t[Text::Close]),
        ],
    );
    close.set_text_content(Some("\u{d7}"));
    let title = text_el(
        &doc,
        "h2",
        &[("id", "cs-prefs-title")],
        &t[Text::PreferencesTitle],
    );
    let desc = text_el(
        &doc,
        "p",
        &[("id", "cs-prefs-desc")],
        &t[Text::PreferencesDescription],
    );
    let _ = desc.append_with_str_1(" ");
    let _ = desc.append_child(&link(
        &doc,
        &config.privacy_policy_url,
        &t[Text::PrivacyPolicy],
    ));
    append(&dialog, &[&close, &title, &desc]);
    for cat in &config.categories {
        let granted = cat.necessary || state.is_some_and(|s| s.is_granted(&cat.id));
        append(&dialog, &[&category(cat, granted, config)]);
    }
    if let Some(l) = latest {
        append(&dialog, &[&receipt(l, config)]);
    }
    let actions = el(&doc, "div", &[("class", "actions")]);
    let reject = button(&doc, "btn choice", &t[Text::RejectAll]);
    let accept = button(&doc, "btn choice", &t[Text::AcceptAll]);
    let save = button(&doc, "btn secondary", &t[Text::Save]);
    append(&actions, &[&reject, &accept, &save]);
    append(&dialog, &[&actions]);
    append(&overlay, &[&dialog]);

    let mut listeners = vec![
        on_click(&close, Command::ClosePreferences),
        on_click(&reject, Command::RejectAll),
        on_click(&accept, Command::AcceptAll),
        on_click(&save, Command::SavePreferences),
    ];
    let trap_root = dialog.clone();
    let opts = EventListenerOptions::enable_prevent_default();
    listeners.push(EventListener::new_with_options(
        &dialog,
        "keydown",
        opts,
        move |e| {
            if let Some(k) = e.dyn_ref::<KeyboardEvent>() {
                keydown(&trap_root, k);
            }
        },
    ));
    let _ = root.append_child(&overlay);
    focus(&close);
    Mounted {
        element: overlay,
        _listeners: listeners,
    }
}

fn category(cat: &Category, granted: bool, config: &Config) -> Element {
    let doc = document();
    let id = concat(&["cs-cat-", &cat.id]);
    let desc_id = concat(&[&id, "-desc"]);
    let section = el(&doc, "section", &[("class", "cat")]);
    let head = el(&doc, "div", &[("class", "cat-head")]);
    let label = el(&doc, "label", &[("for", &id)]);
    let input = el(
        &doc,
        "input",
        &[
            ("type", "checkbox"),
            ("id", &id),
            ("data-category", &cat.id),
        ],
    );
    if !cat.description.is_empty() {
        let _ = input.set_attribute("aria-describedby", &desc_id);
    }
    if let Some(i) = input.dyn_ref::<HtmlInputElement>() {
        i.set_checked(granted);
        i.set_disabled(cat.necessary);
    }
    append(&label, &[&input]);
    let _ = label.append_with_str_1(&cat.title);
    append(&head, &[&label]);
    if cat.necessary {
        append(
            &head,
            &[&text_el(
                &doc,
                "span",
                &[("class", "always")],
                &config.texts[Text::AlwaysOn],
            )],
        );
    }
    append(&section, &[&head]);
    if !cat.description.is_empty() {
        append(
            &section,
            &[&text_el(&doc, "p", &[("id", &desc_id)], &cat.description)],
        );
    }
    if !cat.cookies.is_empty() {
        append(&section, &[&cookie_table(cat, config)]);
    }
    section
}

/// The visitor's latest receipt: what they agreed to, and the file that
/// proves it (the JWS, and the collector's countersignature once it has
/// acknowledged it).
fn receipt(latest: &Latest, config: &Config) -> Element {
    let doc = document();
    let t = &config.texts;
    let section = el(
        &doc,
        "section",
        &[
            ("class", "cat receipt"),
            ("aria-labelledby", "cs-receipt-title"),
        ],
    );
    // Not `join`: its overflow checks link panic formatting.
    let mut allowed = String::new();
    let granted = config
        .categories
        .iter()
        .filter(|c| latest.granted.contains(&c.id));
    for (i, c) in granted.enumerate() {
        if i > 0 {
            allowed.push_str(", ");
        }
        allowed.push_str(&c.title);
    }
    let date = latest.issued_at.get(..10).unwrap_or(&latest.issued_at);
    let summary = fill(
        &t[Text::ReceiptSummary],
        &[("id", &latest.id), ("date", date), ("allowed", &allowed)],
    );
    let mut name = String::from("consentry-receipt-");
    name.push_str(&latest.id);
    name.push_str(".json");
    let mut href = String::from("data:application/json;charset=utf-8,");
    href.push_str(&String::from(js_sys::encode_uri_component(&latest.file)));
    let download = text_el(
        &doc,
        "a",
        &[("href", &href), ("download", &name)],
        &t[Text::ReceiptDownload],
    );
    append(
        &section,
        &[
            &text_el(
                &doc,
                "h3",
                &[("id", "cs-receipt-title")],
                &t[Text::ReceiptTitle],
            ),
            &text_el(&doc, "p", &[], &summary),
            &download,
        ],
    );
    section
}

/// The disclosure (rule 6): name, provider, purpose, duration of each cookie.
fn cookie_table(cat: &Category, config: &Config) -> Element {
    let doc = document();
    let t = &config.texts;
    let table = el(&doc, "table", &[("aria-label", &cat.title)]);
    let head = el(&doc, "tr", &[]);
    for h in [
        &t[Text::CookieName],
        &t[Text::CookieProvider],
        &t[Text::CookiePurpose],
        &t[Text::CookieDuration],
    ] {
        append(&head, &[&text_el(&doc, "th", &[("scope", "col")], h)]);
    }
    let thead = el(&doc, "thead", &[]);
    append(&thead, &[&head]);
    let tbody = el(&doc, "tbody", &[]);
    for c in &cat.cookies {
        let row = el(&doc, "tr", &[]);
        for cell in [&c.name, &c.provider, &c.purpose, &c.duration] {
            append(&row, &[&text_el(&doc, "td", &[], cell)]);
        }
        append(&tbody, &[&row]);
    }
    append(&table, &[&thead, &tbody]);
    table
}

fn keydown(dialog: &Element, e: &KeyboardEvent) {
    match e.key().as_str() {
        "Escape" => {
            e.prevent_default();
            crate::command(Command::ClosePreferences);
        }
        "Tab" => trap_tab(dialog, e),
        _ => {}
    }
}

/// Keeps Tab and Shift+Tab cycling inside the dialog.
fn trap_tab(dialog: &Element, e: &KeyboardEvent) {
    let Ok(list) = dialog.query_selector_all(FOCUSABLE) else {
        return;
    };
    let n = list.length();
    if n == 0 {
        return;
    }
    let (Some(first), Some(last)) = (list.item(0), list.item(n - 1)) else {
        return;
    };
    let active = dialog
        .get_root_node()
        .dyn_into::<ShadowRoot>()
        .ok()
        .and_then(|r| r.active_element());
    let active_node: Option<web_sys::Node> = active.map(Into::into);
    let at = |n: &web_sys::Node| {
        active_node
            .as_ref()
            .is_some_and(|a| a.is_same_node(Some(n)))
    };
    let inside = active_node
        .as_ref()
        .is_some_and(|a| dialog.contains(Some(a)));
    let target = if e.shift_key() {
        (at(&first) || !inside).then_some(last)
    } else {
        (at(&last) || !inside).then_some(first)
    };
    if let Some(t) = target.and_then(|t| t.dyn_into::<Element>().ok()) {
        e.prevent_default();
        focus(&t);
    }
}

/// The optional categories whose toggles are on.
pub fn checked_categories(dialog: &Element) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(list) = dialog.query_selector_all("input[data-category]") else {
        return out;
    };
    for i in 0..list.length() {
        let Some(input) = list
            .item(i)
            .and_then(|n| n.dyn_into::<HtmlInputElement>().ok())
        else {
            continue;
        };
        if input.checked() && !input.disabled() {
            if let Some(id) = input.get_attribute("data-category") {
                out.push(id);
            }
        }
    }
    out
}
