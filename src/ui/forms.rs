//! Consent checkboxes inside the site's own forms (rule 7): one unchecked box
//! per purpose in plain words, a policy link next to each, and a required
//! purpose that blocks submission with an inline message until ticked.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_events::{EventListener, EventListenerOptions, EventListenerPhase};
use wasm_bindgen::JsCast;
use web_sys::{Element, Event, FormData, HtmlInputElement, SubmitEvent};

use super::dom::{append, concat, document, el, focus, link, text_el};
use crate::config::{push_num, Config, Form, Text};

/// Light-DOM styles: the site's own CSS still applies; these only keep the
/// box, the label and the link on one readable line.
const ROW_STYLE: &str = "display:flex;align-items:flex-start;gap:8px;margin:8px 0;flex-wrap:wrap";
const ERROR_STYLE: &str = "flex-basis:100%;margin:2px 0 0 28px;color:#b91c1c;font-weight:600";

/// Keeps the form's listeners alive as long as the widget.
pub struct FormConsent {
    _listeners: Vec<EventListener>,
    _state: Rc<RefCell<FormState>>,
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
            &config.texts[Text::PrivacyPolicy],
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
                &config.texts[Text::FormRequired],
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

    let state = Rc::new(RefCell::new(FormState {
        selector: spec.selector.clone(),
        ticked: Vec::new(),
        last: None,
        hold: None,
        warned: false,
    }));
    let mut listeners = Vec::new();
    // Capture phase, so a required purpose stops the submit before the
    // site's own handlers see it.
    let opts = EventListenerOptions {
        phase: EventListenerPhase::Capture,
        passive: false,
    };
    let (s, f) = (Rc::clone(&state), form.clone());
    listeners.push(EventListener::new_with_options(
        &form,
        "submit",
        opts,
        move |e| on_submit(&f, &s, e),
    ));
    // Whenever the form's data is taken to be sent — a native submit,
    // `requestSubmit()`, `submit()`, or site code's `new FormData(form)` —
    // its receipt goes into that data.
    let (s, f) = (Rc::clone(&state), form.clone());
    listeners.push(EventListener::new(&form, "formdata", move |e| {
        // `FormDataEvent.formData` (web-sys has no binding for the event).
        let data = js_sys::Reflect::get(e, &"formData".into()).ok();
        if let Some(data) = data.and_then(|d| d.dyn_into::<FormData>().ok()) {
            fill_form_data(&f, &s, &data);
        }
    }));
    // Only a person's tick is consent; ticking a required box clears its
    // message at once.
    let s = Rc::clone(&state);
    listeners.push(EventListener::new(&form, "change", move |e| {
        let Some(input) = e
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(purpose) = input.get_attribute("data-purpose") else {
            return;
        };
        if e.is_trusted() {
            if let Ok(mut st) = s.try_borrow_mut() {
                st.ticked.retain(|(p, _)| *p != purpose);
                st.ticked.push((purpose, input.checked()));
            }
        }
        if input.has_attribute("data-required") && input.checked() {
            set_invalid(&input, false);
        }
    }));
    Ok(FormConsent {
        _listeners: listeners,
        _state: state,
    })
}

/// A form's data taken again this soon with the same choices is the same
/// submission (a site that reads `new FormData(form)` before sending it, a
/// held submission sent on): it carries the same receipt.
const SAME_SUBMISSION_MS: f64 = 2_000.0;
/// The longest a native submission waits for its receipt to be signed and
/// handed to the network; past it the form goes, and the journal sends the
/// receipt from the site's next page.
const HOLD_MS: u32 = 300;

/// What one form's listeners share.
struct FormState {
    selector: String,
    /// Each purpose as the visitor last set it by a trusted input event.
    ticked: Vec<(String, bool)>,
    /// The last data taken from this form.
    last: Option<Taken>,
    /// Registered during a submit, runs after every site handler.
    hold: Option<EventListener>,
    warned: bool,
}

/// A receipt id and, once known, the visitor's key.
type Receipt = (String, Option<String>);

/// The choices, receipt and time of data taken from a form.
type Taken = (Vec<(String, bool)>, Option<Receipt>, f64);

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

/// Whether the visitor ticked this box themselves (a script's `checked =
/// true` fires no event, so it never counts).
fn ticked(state: &RefCell<FormState>, b: &HtmlInputElement) -> bool {
    let purpose = b.get_attribute("data-purpose").unwrap_or_default();
    b.checked()
        && state
            .try_borrow()
            .is_ok_and(|s| s.ticked.iter().any(|(p, on)| *p == purpose && *on))
}

fn on_submit(form: &Element, state: &Rc<RefCell<FormState>>, e: &Event) {
    let boxes = boxes(form);
    let mut missing: Vec<&HtmlInputElement> = Vec::new();
    for b in &boxes {
        if b.has_attribute("data-required") && !ticked(state, b) {
            missing.push(b);
        }
    }
    if let Some(first) = missing.first() {
        e.prevent_default();
        e.stop_immediate_propagation();
        for b in &missing {
            set_invalid(b, true);
        }
        focus(first);
        return;
    }
    // Added now, a window listener runs after every handler the site has,
    // wherever and whenever it registered them: it holds the submission
    // only if none of them took the form over.
    let Some(window) = web_sys::window() else {
        return;
    };
    let (s, f) = (Rc::clone(state), form.clone());
    let hold = EventListener::once_with_options(
        &window,
        "submit",
        EventListenerOptions::enable_prevent_default(),
        move |e| hold_submission(&f, &s, e),
    );
    if let Ok(mut st) = state.try_borrow_mut() {
        st.hold = Some(hold);
    }
}

/// A native submission nobody else cancelled: hold it, write and sign the
/// receipt, hand it to the network, then send the form on (at most
/// `HOLD_MS` later) — a form posting to a CRM leaves the site for good, and
/// its receipt must not stay behind in this page.
fn hold_submission(form: &Element, state: &Rc<RefCell<FormState>>, e: &Event) {
    let ours = e
        .target()
        .is_some_and(|t| t.dyn_ref::<Element>() == Some(form));
    // Prevented: the site sends the data itself (its `new FormData` gets
    // the receipt) or not at all.
    if !ours || e.default_prevented() || receipt_for(form, state).is_none() {
        return;
    }
    let Some(handed) = crate::hand_over() else {
        return;
    };
    e.prevent_default();
    let submitter = e.dyn_ref::<SubmitEvent>().and_then(SubmitEvent::submitter);
    crate::page::courier::submit_held(form, submitter, &handed, HOLD_MS);
}

/// The receipt for the form's current choices: the one of this submission
/// if it was just made, else a new one.
fn receipt_for(form: &Element, state: &Rc<RefCell<FormState>>) -> Option<Receipt> {
    let mut purposes: Vec<(String, bool)> = Vec::new();
    for b in &boxes(form) {
        if let Some(id) = b.get_attribute("data-purpose") {
            purposes.push((id, ticked(state, b)));
        }
    }
    let now = js_sys::Date::now();
    let (selector, same) = {
        let st = state.try_borrow().ok()?;
        let same = st
            .last
            .as_ref()
            .filter(|(p, _, at)| *p == purposes && now - at < SAME_SUBMISSION_MS)
            .map(|(_, r, _)| r.clone());
        (st.selector.clone(), same)
    };
    if let Some(r) = same {
        return r;
    }
    let r = crate::form_submitted(FormChoice {
        selector,
        purposes: purposes.clone(),
    });
    if let Ok(mut st) = state.try_borrow_mut() {
        st.last = Some((purposes, r.clone(), now));
    }
    r
}

/// `consentry_receipt_id` and `consentry_receipt_key` (the visitor's key:
/// together they name this receipt and no other) go out with the form, so
/// the site can link its record (a newsletter signup) to the signed proof.
/// A box a script ticked is taken out: the data never says "yes" where the
/// receipt cannot.
fn fill_form_data(form: &Element, state: &Rc<RefCell<FormState>>, data: &FormData) {
    let mut scripted = false;
    for b in boxes(form) {
        if b.checked() && !ticked(state, &b) {
            data.delete(&b.name());
            scripted = true;
        }
    }
    if scripted {
        if let Ok(mut st) = state.try_borrow_mut() {
            if !st.warned {
                st.warned = true;
                web_sys::console::warn_1(
                    &"consentry: a consent box ticked by a script is not the visitor's consent; \
                      it was left out of the form's data"
                        .into(),
                );
            }
        }
    }
    if let Some((id, key)) = receipt_for(form, state) {
        let _ = data.set_with_str("consentry_receipt_id", &id);
        if let Some(k) = key {
            let _ = data.set_with_str("consentry_receipt_key", &k);
        }
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
