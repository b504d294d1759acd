//! Consent checkboxes inside the site's own forms (rule 7): one unchecked box
//! per purpose in plain words, a policy link next to each, and a required
//! purpose that blocks submission with an inline message until ticked.
//!
//! The DOM half is the second part of `view.js`: the boxes, their listeners, which ticks are
//! the visitor's, and what goes out with the form's data. This side hands
//! it the config and writes each form's receipt when it asks.

#[allow(unused_imports)]
use crate::prelude::*;

use consentry_receipt::json::{self, Json};
use wasm_bindgen::prelude::*;

use crate::config::{Config, Form, Text};

#[wasm_bindgen(module = "/src/ui/view.js")]
extern "C" {
    /// Puts the boxes in the form `spec` names; why it cannot, if it cannot.
    #[wasm_bindgen(js_name = attach)]
    fn attach_js(spec: &str, submitted: &Submitted) -> Option<String>;
}

/// `submitted(selector, purposes)` when a form's data is taken: its
/// receipt; `submitted(selector)` for a held submission: the hand-over.
type Submitted = Closure<dyn Fn(String, Option<String>) -> JsValue>;

/// The one callback every form's listeners call, kept alive as long as the
/// widget (the listeners themselves live as long as the page).
pub struct Forms {
    submitted: Submitted,
}

impl Forms {
    pub fn new() -> Forms {
        Forms {
            submitted: Closure::new(submitted),
        }
    }

    /// Inserts the checkboxes into the form `config.forms[index]` names.
    pub fn attach(&self, config: &Config, index: usize, spec: &Form) -> Result<(), String> {
        let mut purposes = Vec::new();
        for p in &spec.purposes {
            purposes.push(Json::Arr(vec![
                Json::str(&p.id),
                Json::str(&p.label),
                Json::Bool(p.required),
            ]));
        }
        let spec = Json::Arr(vec![
            Json::str(&spec.selector),
            Json::int(index as u64),
            Json::str(&config.privacy_policy_url),
            Json::str(&config.texts[Text::PrivacyPolicy]),
            Json::str(&config.texts[Text::FormRequired]),
            Json::Arr(purposes),
        ]);
        // Canonical writing fails only on a number that is not a whole
        // number, and the index is one.
        match attach_js(&spec.canonical().unwrap_or_default(), &self.submitted) {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }
}

/// With `purposes` (`[[id, ticked by the visitor], …]`): writes the
/// receipt of the form's data, `[id, key]` (the visitor's key, once known),
/// `[id]` or null. Without: the promise that settles once the receipts are
/// handed to the network, or null when receipts are off.
fn submitted(selector: String, purposes: Option<String>) -> JsValue {
    let Some(text) = purposes else {
        return crate::hand_over().map_or(JsValue::NULL, JsValue::from);
    };
    let mut choices = Vec::new();
    if let Ok(Json::Arr(items)) = json::parse(&text) {
        for item in &items {
            if let Json::Arr(pair) = item {
                if let [Json::Str(id), Json::Bool(on)] = pair.as_slice() {
                    choices.push((id.clone(), *on));
                }
            }
        }
    }
    let Some((id, key)) = crate::form_submitted(&selector, &choices) else {
        return JsValue::NULL;
    };
    let receipt = js_sys::Array::new();
    receipt.push(&JsValue::from_str(&id));
    if let Some(k) = key {
        receipt.push(&JsValue::from_str(&k));
    }
    receipt.into()
}
