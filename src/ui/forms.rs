//! Consent checkboxes inside the site's own forms (rule 7): one unchecked box
//! per purpose in plain words, a policy link next to each, and a required
//! purpose that blocks submission with an inline message until ticked.

use gloo_events::{EventListener, EventListenerOptions, EventListenerPhase};
use wasm_bindgen::JsCast;
use web_sys::{Element, Event, HtmlInputElement};

use super::dom::{append, concat, document, el, focus, link, text_el};
use crate::config::{push_num, Config, Form};

/// Light-DOM styles: the site's own CSS still applies; these only keep the
/// box, the label and the link on one readable line.
const ROW_STYLE: &str = "display:flex;align-items:flex-start;gap:8px;margin:8px 0;flex-wrap:wrap";
const ERROR_STYLE: &str = "flex-basis:100%;margin:2px 0 0 28px;color:#b91c1c;font-weight:600";

/// Keeps the form's listeners alive as long as the widget.
pub struct FormConsent {
    _listeners: Vec<EventListener>,
}

/// What the visitor ticked when the form went out.
pub struct FormChoice {
    pub selector: String,
    pub purposes: Vec<(String, bool)>,
}

/// Inserts the checkboxes into the form `config.forms[index]` names.
pub fn attach(config: &Config, index: usize, spec: &Form) -> Result<FormConsent, &'static str> {
    let doc = document();
    let found = doc
        .query_selector(&spec.selector)
        .map_err(|_| "is not a valid CSS selector")?;
    let form = found.ok_or("matches no form on this page")?;
    if form.tag_name() != "FORM" {
        return Err("must match a <form> element");
    }
    let block = el(
        &doc,
        "div",
        &[
            ("class", "consentry-form-consent"),
            ("data-consentry-form", ""),
        ],
    );
    for p in &spec.purposes {
        let mut id = String::from("consentry-");
        push_num(&mut id, index as u64);
        id.push('-');
        id.push_str(&p.id);
        let err_id = concat(&[&id, "-error"]);
        let row = el(
            &doc,
            "div",
            &[("class", "consentry-purpose"), ("style", ROW_STYLE)],
        );
        let name = concat(&["consentry_", &p.id]);
        let input = el(
            &doc,
            "input",
            &[
                ("type", "checkbox"),
                ("id", &id),
                ("name", &name),
                ("value", "yes"),
                ("data-purpose", &p.id),
                ("style", "width:20px;height:20px;margin:2px 0 0"),
            ],
        );
        if p.required {
            let _ = input.set_attribute("data-required", "");
            let _ = input.set_attribute("aria-required", "true");
        }
        let label = text_el(
            &doc,
            "label",
            &[("for", &id), ("style", "flex:1 1 12rem")],
            &p.label,
        );
        let policy = link(
            &doc,
            &config.privacy_policy_url,
            &config.texts.privacy_policy,
        );
        append(&row, &[&input, &label, &policy]);
        if p.required {
            let error = text_el(
                &doc,
                "p",
                &[
                    ("id", &err_id),
                    ("class", "consentry-error"),
                    ("role", "alert"),
                    ("style", ERROR_STYLE),
                ],
                &config.texts.form_required,
            );
            let _ = error.set_attribute("hidden", "");
            append(&row, &[&error]);
        }
        append(&block, &[&row]);
    }
    let submit = form
        .query_selector("button[type=submit],input[type=submit],button:not([type])")
        .ok()
        .flatten();
    let _ = match submit {
        Some(s) => s.before_with_node_1(&block),
        None => form.append_child(&block).map(|_| ()),
    };

    let mut listeners = Vec::new();
    // Capture phase, so a required purpose stops the submit before the
    // site's own handlers see it.
    let opts = EventListenerOptions {
        phase: EventListenerPhase::Capture,
        passive: false,
    };
    let selector = spec.selector.clone();
    let checked_form = form.clone();
    listeners.push(EventListener::new_with_options(
        &form,
        "submit",
        opts,
        move |e| {
            on_submit(&checked_form, &selector, e);
        },
    ));
    // Ticking a required box clears its message at once.
    listeners.push(EventListener::new(&form, "change", |e| {
        if let Some(input) = e
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        {
            if input.has_attribute("data-required") && input.checked() {
                set_invalid(&input, false);
            }
        }
    }));
    Ok(FormConsent {
        _listeners: listeners,
    })
}

fn boxes(form: &Element) -> Vec<HtmlInputElement> {
    let mut out = Vec::new();
    if let Ok(list) = form.query_selector_all("input[data-purpose]") {
        for i in 0..list.length() {
            if let Some(input) = list
                .item(i)
                .and_then(|n| n.dyn_into::<HtmlInputElement>().ok())
            {
                out.push(input);
            }
        }
    }
    out
}

fn on_submit(form: &Element, selector: &str, e: &Event) {
    let boxes = boxes(form);
    let missing: Vec<&HtmlInputElement> = boxes
        .iter()
        .filter(|b| b.has_attribute("data-required") && !b.checked())
        .collect();
    if let Some(first) = missing.first() {
        e.prevent_default();
        e.stop_immediate_propagation();
        for b in &missing {
            set_invalid(b, true);
        }
        focus(first);
        return;
    }
    let purposes = boxes
        .iter()
        .filter_map(|b| b.get_attribute("data-purpose").map(|id| (id, b.checked())))
        .collect();
    if let Some(id) = crate::form_submitted(FormChoice {
        selector: selector.to_owned(),
        purposes,
    }) {
        set_receipt_field(form, &id);
    }
}

/// `consentry_receipt_id` goes out with the form, so the site can link its
/// record (a newsletter signup) to the signed proof. Added during the submit
/// event, it is part of the data the browser sends.
fn set_receipt_field(form: &Element, id: &str) {
    let existing = form
        .query_selector("input[name=consentry_receipt_id]")
        .ok()
        .flatten();
    let field = existing.unwrap_or_else(|| {
        let f = el(
            &document(),
            "input",
            &[("type", "hidden"), ("name", "consentry_receipt_id")],
        );
        let _ = form.append_child(&f);
        f
    });
    if let Some(input) = field.dyn_ref::<HtmlInputElement>() {
        input.set_value(id);
    }
}

fn set_invalid(input: &HtmlInputElement, invalid: bool) {
    let Some(id) = input.get_attribute("id") else {
        return;
    };
    let err_id = concat(&[&id, "-error"]);
    let error = document().get_element_by_id(&err_id);
    if invalid {
        let _ = input.set_attribute("aria-invalid", "true");
        let _ = input.set_attribute("aria-describedby", &err_id);
        if let Some(e) = error {
            let _ = e.remove_attribute("hidden");
        }
    } else {
        let _ = input.remove_attribute("aria-invalid");
        let _ = input.remove_attribute("aria-describedby");
        if let Some(e) = error {
            let _ = e.set_attribute("hidden", "");
        }
    }
}
