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
//! `vendors` (absent when no vendor is told) is `Config::vendors`, what the
//! core tells Google Consent Mode and the Microsoft tags before it releases
//! anything. `reopen` is absent when the site turned the button off; `receipts` says
//! whether the config has an `endpoint`; `journal` and `migrated` name the
//! records whose presence (or absence) means receipts are waiting, so the
//! core loads the full widget to send them.
//!
//! `view_model` is the other thing a checked config gives the JS side: what
//! `ui/view.js` draws the banner and the dialog from.

#[allow(unused_imports)]
use crate::prelude::*;

use consentry_receipt::json::Json;

use crate::config::{Config, Text};

/// The `localStorage` key of the record.
pub const KEY: &str = "consentry:checked";

/// The record for `text`, the config exactly as the page gave it, and the
/// `Config` read from it. `journal` and `migrated` are the courier's record
/// names.
pub fn record(text: &str, config: &Config, journal: &str, migrated: &str) -> String {
    let mut necessary = Vec::new();
    for c in config.categories.iter().filter(|c| c.necessary) {
        necessary.push(Json::str(&c.id));
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
        ("theme", Some(Json::str(&theme_css(config)))),
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
        (
            "vendors",
            config
                .vendors
                .as_deref()
                .and_then(|p| consentry_receipt::json::parse(p).ok()),
        ),
    ]);
    let record = Json::object(vec![("text", Some(Json::str(text))), ("view", Some(view))]);
    // Canonical writing fails only on a number that is not a whole number,
    // and every number here is one.
    record.canonical().unwrap_or_default()
}

/// The site's colours as CSS for the widget's shadow root. They apply to
/// the light scheme only: a brand colour picked for a white page rarely
/// keeps 4.5:1 contrast on a dark one, so dark mode keeps the built-in
/// accessible palette. Values were checked by `Config::validate` (no `;`,
/// braces, `<` or `url(`), so they cannot escape the declaration. Empty
/// when the site sets no colours.
pub fn theme_css(config: &Config) -> String {
    if config.theme.is_empty() {
        return String::new();
    }
    let mut css = String::from("@media not all and (prefers-color-scheme:dark){:host{");
    for (name, value) in &config.theme {
        css.push_str(name);
        css.push(':');
        css.push_str(value);
        css.push(';');
    }
    css.push_str("}}");
    css
}

/// What `ui/view.js` draws from, as JSON: the language of the texts and its
/// direction, every text by its config key, the
/// policy link, the reopen button's label (absent when the site turned the
/// button off), each category with its cookie table rows, and each form's
/// checkbox labels (by purpose id), which `setLanguage` redraws too: a form's
/// receipt records them as they are now.
///
/// ```text
/// {"lang":"en","dir":"ltr","texts":{"acceptAll":"Accept all",…},"policy":"/privacy","reopen":"Privacy settings",
///  "categories":[{"id":"analytics","title":"…","description":"…","necessary":false,
///                 "cookies":[["_ga","Google","…","2 years"]]}],
///  "forms":[[["newsletter","Send me the newsletter"]]]}
/// ```
pub fn view_model(config: &Config) -> String {
    let mut texts = Vec::new();
    for (key, _, text) in config.texts.all() {
        texts.push((key.to_owned(), Json::str(text)));
    }
    let mut categories = Vec::new();
    for c in &config.categories {
        let mut cookies = Vec::new();
        for k in &c.cookies {
            cookies.push(Json::Arr(vec![
                Json::str(&k.name),
                Json::str(&k.provider),
                Json::str(&k.purpose),
                Json::str(&k.duration),
            ]));
        }
        categories.push(Json::object(vec![
            ("id", Some(Json::str(&c.id))),
            ("title", Some(Json::str(&c.title))),
            ("description", Some(Json::str(&c.description))),
            ("necessary", Some(Json::Bool(c.necessary))),
            ("cookies", Some(Json::Arr(cookies))),
            ("service_of", c.service_of.as_deref().map(Json::str)),
            ("provider", c.provider.as_deref().map(Json::str)),
        ]));
    }
    let mut forms = Vec::new();
    for f in &config.forms {
        let mut labels = Vec::new();
        for p in &f.purposes {
            labels.push(Json::Arr(vec![Json::str(&p.id), Json::str(&p.label)]));
        }
        forms.push(Json::Arr(labels));
    }
    let model = Json::object(vec![
        ("lang", Some(Json::str(&config.language))),
        (
            "dir",
            Some(Json::str(if crate::language::is_rtl(&config.language) {
                "rtl"
            } else {
                "ltr"
            })),
        ),
        ("texts", Some(Json::Obj(texts))),
        ("policy", Some(Json::str(&config.privacy_policy_url))),
        (
            "reopen",
            config
                .reopen_button
                .then(|| Json::str(&config.texts[Text::Reopen])),
        ),
        ("categories", Some(Json::Arr(categories))),
        ("forms", Some(Json::Arr(forms))),
    ]);
    // As in `record`: no number here, so canonical writing cannot fail.
    model.canonical().unwrap_or_default()
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
        let record = record(TEXT, &config, "j:", "m");
        let v: serde_json::Value = serde_json::from_str(&record).expect("JSON");
        assert_eq!(v["text"], TEXT, "the text must be kept byte for byte");
        assert_eq!(
            v["view"],
            serde_json::json!({
                "revision": 3, "necessary": ["necessary"], "reopen": config.texts[Text::Reopen],
                "theme": "", "forms": ["#newsletter"], "receipts": true,
                "journal": "j:", "migrated": "m",
                "vendors": serde_json::from_str::<serde_json::Value>(
                    config.vendors.as_deref().expect("on by default")
                ).expect("JSON")
            })
        );
    }

    #[test]
    fn no_reopen_button_and_no_endpoint_are_said_so() {
        let text = r#"{"id":"a","privacyPolicyUrl":"/p","reopenButton":false,
            "categories":[{"id":"analytics","title":"A"}]}"#;
        let config = Config::parse(text).expect("valid");
        let v: serde_json::Value =
            serde_json::from_str(&record(text, &config, "j:", "m")).expect("JSON");
        assert!(v["view"].get("reopen").is_none());
        assert_eq!(v["view"]["receipts"], false);
        assert_eq!(v["view"]["necessary"], serde_json::json!([]));
    }

    #[test]
    fn the_view_model_holds_every_text_and_each_category_as_configured() {
        let text = r##"{"id":"a","privacyPolicyUrl":"/p","texts":{"acceptAll":"Yes"},
            "theme":{"--consentry-accent":"#123456"},
            "categories":[{"id":"necessary","title":"N","necessary":true},
              {"id":"analytics","title":"A","description":"D",
               "cookies":[{"name":"_ga","provider":"G","purpose":"P","duration":"2y"}]}]}"##;
        let config = Config::parse(text).expect("valid");
        let v: serde_json::Value = serde_json::from_str(&view_model(&config)).expect("JSON");
        assert_eq!(v["texts"]["acceptAll"], "Yes");
        for (key, _, text) in config.texts.all() {
            assert_eq!(v["texts"][key], text, "text {key}");
        }
        assert_eq!(v["policy"], "/p");
        assert_eq!(v["reopen"], config.texts[Text::Reopen]);
        assert_eq!(
            v["categories"],
            serde_json::json!([
                {"id": "necessary", "title": "N", "description": "", "necessary": true, "cookies": []},
                {"id": "analytics", "title": "A", "description": "D", "necessary": false,
                 "cookies": [["_ga", "G", "P", "2y"]]}
            ])
        );
        assert_eq!(
            theme_css(&config),
            "@media not all and (prefers-color-scheme:dark){:host{--consentry-accent:#123456;}}"
        );
    }
}
