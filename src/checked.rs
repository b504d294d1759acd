//! The checked-config record: once the full widget has read and checked a
//! config, it leaves the config's text and the little the loader's core
//! needs from it in `localStorage`, so a returning visitor's next page can
//! apply the stored choice without loading the wasm. The core uses the view
//! only when the page's config text is byte-for-byte the text checked here,
//! so a changed config is always read and checked again (and a bad one logs
//! its error the first time it is seen). Pure, no `web_sys`.
//!
//! ```text
//! consentry:checked = {"text":"<config as written>","view":{
//!   "revision":3,"necessary":["necessary"],"reopen":"Privacy settings",
//!   "theme":"<css>","forms":["#newsletter"],"receipts":true,
//!   "journal":"consentry:entry:","migrated":"consentry:migrated"}}
//! ```
//!
//! `reopen` is absent when the site turned the button off; `receipts` says
//! whether the config has an `endpoint`; `journal` and `migrated` name the
//! records whose presence (or absence) means receipts are waiting, so the
//! core loads the full widget to send them.

use consentry_receipt::json::Json;

use crate::config::{Config, Text};

/// The `localStorage` key of the record.
pub const KEY: &str = "consentry:checked";

/// The record for `text`, the config exactly as the page gave it, and the
/// `Config` read from it. `theme` is the CSS the shell adds for the site's
/// colours (see `ui::theme_css`); `journal` and `migrated` are the courier's
/// record names.
pub fn record(text: &str, config: &Config, theme: &str, journal: &str, migrated: &str) -> String {
    let mut necessary = Vec::new();
    for c in config.categories.iter().filter(|c| c.necessary) {
        necessary.push(Json::str(&c.id));
    }
    let mut forms = Vec::new();
    for f in &config.forms {
        forms.push(Json::str(&f.selector));
    }
    let view = Json::object(vec![
        ("revision", Some(Json::int(config.revision as u64))),
        ("necessary", Some(Json::Arr(necessary))),
        (
            "reopen",
            config
                .reopen_button
                .then(|| Json::str(&config.texts[Text::Reopen])),
        ),
        ("theme", Some(Json::str(theme))),
        (
            "forms",
            Some(Json::Arr(
                config
                    .forms
                    .iter()
                    .map(|f| Json::str(&f.selector))
                    .collect(),
            )),
        ),
        ("receipts", Some(Json::Bool(config.endpoint.is_some()))),
        ("journal", Some(Json::str(journal))),
        ("migrated", Some(Json::str(migrated))),
    ]);
    let record = Json::object(vec![("text", Some(Json::str(text))), ("view", Some(view))]);
    // Canonical writing fails only on a number that is not a whole number,
    // and every number here is one.
    record.canonical().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r##"{"id":"acme","revision":3,"privacyPolicyUrl":"/privacy",
        "endpoint":"/v1/receipts",
        "forms":[{"selector":"#newsletter","purposes":[{"id":"newsletter","label":"News"}]}],
        "categories":[{"id":"necessary","title":"N","necessary":true},{"id":"analytics","title":"A"}]}"##;

    #[test]
    fn the_record_keeps_the_text_as_written_and_what_the_core_needs() {
        let config = Config::parse(TEXT).expect("valid");
        let record = record(TEXT, &config, ":host{}", "j:", "m");
        let v: serde_json::Value = serde_json::from_str(&record).expect("JSON");
        assert_eq!(v["text"], TEXT, "the text must be kept byte for byte");
        assert_eq!(
            v["view"],
            serde_json::json!({
                "revision": 3, "necessary": ["necessary"], "reopen": config.texts[Text::Reopen],
                "theme": ":host{}", "forms": ["#newsletter"], "receipts": true,
                "journal": "j:", "migrated": "m"
            })
        );
    }

    #[test]
    fn no_reopen_button_and_no_endpoint_are_said_so() {
        let text = r#"{"id":"a","privacyPolicyUrl":"/p","reopenButton":false,
            "categories":[{"id":"analytics","title":"A"}]}"#;
        let config = Config::parse(text).expect("valid");
        let v: serde_json::Value =
            serde_json::from_str(&record(text, &config, "", "j:", "m")).expect("JSON");
        assert!(v["view"].get("reopen").is_none());
        assert_eq!(v["view"]["receipts"], false);
        assert_eq!(v["view"]["necessary"], serde_json::json!([]));
    }
}
