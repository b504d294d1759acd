//! The site config, checked two ways: the example configs (which are also
//! the demo's and the docs' configs) must pass both the JSON Schema, with a
//! real validator, and the widget's own Rust checks; and every kind of bad
//! config must be refused by the widget with the field path named.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

use consentry::config::{Config, Text};
use serde_json::{json, Value};

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn schema_validator() -> (boon::Schemas, boon::SchemaIndex) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pkg-config");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let schema = read(&dir.join("consentry.schema.json"));
    compiler
        .add_resource("consentry.schema.json", schema)
        .expect("add schema");
    let index = compiler
        .compile("consentry.schema.json", &mut schemas)
        .expect("schema compiles");
    (schemas, index)
}

fn examples() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pkg-config/examples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("examples dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            out.push((path.display().to_string(), read(&path)));
        }
    }
    assert!(out.len() >= 2, "example configs missing");
    out
}

fn widget_error(config: Value) -> String {
    match Config::parse(&config.to_string()) {
        Ok(_) => String::from("(accepted)"),
        Err(e) => e.message(),
    }
}

fn landing() -> Value {
    read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pkg-config/examples/landing.json"))
}

#[test]
fn every_example_config_passes_the_schema_and_the_widget() {
    let (schemas, index) = schema_validator();
    for (name, config) in examples() {
        if let Err(e) = schemas.validate(&config, index) {
            panic!("{name} fails the schema: {e}");
        }
        if let Err(e) = Config::parse(&config.to_string()) {
            panic!("{name} fails the widget: {}", e.message());
        }
    }
}

#[test]
fn defaults_are_the_texts_a_visitor_expects() {
    let c = Config::parse(&landing().to_string()).expect("valid");
    assert_eq!(&c.texts[Text::AcceptAll], "Accept all");
    assert_eq!(&c.texts[Text::RejectAll], "Reject all");
    assert_eq!(&c.texts[Text::Customize], "Customize");
    assert_eq!(&c.texts[Text::Save], "Save choices");
    assert_eq!(&c.texts[Text::Reopen], "Privacy settings");
    assert!(c.reopen_button);
}

/// A German page: German built-in texts, the site's German translations
/// over them, and the flat `texts` only for the default language.
#[test]
fn each_language_is_built_in_texts_then_the_site_translations() {
    let mut c = landing();
    c["texts"] = json!({"acceptAll": "Yes to all"});
    c["translations"] =
        json!({"de": {"rejectAll": "Nein danke"}, "ga": {"acceptAll": "Glac le gach rud"}});
    let mut config = Config::parse(&c.to_string()).expect("valid");
    assert_eq!(config.language, "en");
    assert_eq!(&config.texts[Text::AcceptAll], "Yes to all");
    assert_eq!(
        config.languages().iter().filter(|l| **l == "ga").count(),
        1,
        "a site language is offered"
    );
    let file = std::fs::read_to_string("src/lang/de.json").expect("de.json");
    let german = consentry::language::read_file("de", &file).expect("readable");
    config.use_language("de", Some(german));
    assert_eq!(config.language, "de");
    assert_eq!(&config.texts[Text::AcceptAll], "Alle akzeptieren");
    assert_eq!(&config.texts[Text::RejectAll], "Nein danke");
    config.use_language("ga", None);
    assert_eq!(&config.texts[Text::AcceptAll], "Glac le gach rud");
    assert_eq!(
        &config.texts[Text::RejectAll],
        "Reject all",
        "English under a partial translation"
    );
    // A site that names its texts' language: they are that language's.
    let mut c = landing();
    c["language"] = json!("de-AT");
    c["texts"] = json!({"acceptAll": "Passt"});
    let config = Config::parse(&c.to_string()).expect("valid");
    assert_eq!(config.forced_language.as_deref(), Some("de-at"));
    assert_eq!(config.default_language, "de-at");
    assert_eq!(&config.texts[Text::AcceptAll], "Passt");
    assert_eq!(consentry::language::built_in_file("de-at"), Some("de"));
}

/// The site's own texts given per language follow the language shown:
/// its own, then its base language's, then the default language's; a plain
/// string is the same in every language.
#[test]
fn site_texts_given_per_language_follow_the_language_shown() {
    let mut c = landing();
    c["categories"][1]["title"] =
        json!({"en": "Analytics", "de": "Statistik", "pt-BR": "Estatísticas"});
    c["categories"][1]["cookies"][0]["duration"] = json!({"en": "1 year", "de": "1 Jahr"});
    c["forms"][0]["purposes"][1]["label"] = json!({"en": "Product news", "fr": "Nouveautés"});
    let mut config = Config::parse(&c.to_string()).expect("valid");
    let shown = |config: &Config| {
        (
            config.categories[1].title.clone(),
            config.categories[1].cookies[0].duration.clone(),
            config.forms[0].purposes[1].label.clone(),
            config.categories[2].title.clone(),
        )
    };
    assert_eq!(
        shown(&config),
        (
            "Analytics".into(),
            "1 year".into(),
            "Product news".into(),
            "Marketing and embedded media".into()
        )
    );
    config.use_language("de", None);
    assert_eq!(
        shown(&config),
        (
            "Statistik".into(),
            "1 Jahr".into(),
            "Product news".into(),
            "Marketing and embedded media".into()
        )
    );
    config.use_language("pt-br", None);
    assert_eq!(config.categories[1].title, "Estatísticas");
    config.use_language("fr", None);
    assert_eq!(
        shown(&config),
        (
            "Analytics".into(),
            "1 year".into(),
            "Nouveautés".into(),
            "Marketing and embedded media".into()
        )
    );
    // The base language's text serves a regional variant.
    c["categories"][1]["title"] = json!({"en": "Analytics", "pt": "Análises"});
    let mut config = Config::parse(&c.to_string()).expect("valid");
    config.use_language("pt-br", None);
    assert_eq!(config.categories[1].title, "Análises");
    // A regional text serves its base language when the base has none: a
    // pt-BR page is shown the built-in `pt`.
    c["categories"][1]["title"] =
        json!({"en": "Analytics", "pt-BR": "Estatísticas", "de-AT": "Statistik"});
    let mut config = Config::parse(&c.to_string()).expect("valid");
    config.use_language("pt", None);
    assert_eq!(config.categories[1].title, "Estatísticas");
    config.use_language("fr", None);
    assert_eq!(config.categories[1].title, "Analytics");
    // The default language is the site's, and its text is the one shown first.
    let mut c = landing();
    c["defaultLanguage"] = json!("de");
    c["categories"][1]["title"] = json!({"de": "Statistik", "en": "Analytics"});
    let config = Config::parse(&c.to_string()).expect("valid");
    assert_eq!(config.categories[1].title, "Statistik");
}

#[test]
fn the_schema_lists_exactly_the_texts_of_the_widget() {
    let schema = read(Path::new("pkg-config/consentry.schema.json"));
    let mut listed: Vec<&str> = schema["$defs"]["texts"]["properties"]
        .as_object()
        .expect("texts.properties")
        .keys()
        .map(String::as_str)
        .collect();
    let mut table: Vec<&str> = consentry::config::TEXTS
        .iter()
        .map(|(k, _, _)| *k)
        .collect();
    listed.sort_unstable();
    table.sort_unstable();
    assert_eq!(
        listed, table,
        "pkg-config/consentry.schema.json texts vs src/config.rs TEXTS"
    );
}

#[test]
fn the_schema_lists_exactly_the_consent_mode_types() {
    let schema = read(Path::new("pkg-config/consentry.schema.json"));
    let map = &schema["properties"]["consentMode"]["oneOf"][1]["properties"]["map"];
    let listed: Vec<&str> = map["properties"]
        .as_object()
        .expect("map.properties")
        .keys()
        .map(String::as_str)
        .collect();
    let mut types = consentry::vendors::CONSENT_TYPES.to_vec();
    types.sort_unstable();
    assert_eq!(listed, types, "serde_json keeps keys sorted");
    assert_eq!(
        map["propertyNames"]["enum"],
        json!(consentry::vendors::CONSENT_TYPES)
    );
}

/// (what to change, the error the site owner must see). Each bad config is
/// also refused by the schema unless the schema cannot express the rule.
#[test]
fn bad_configs_are_refused_with_the_field_named() {
    let (schemas, index) = schema_validator();
    type Mutate = fn(&mut Value);
    let cases: Vec<(Mutate, &str, bool)> = vec![
        (
            |c| c["colour"] = json!("red"),
            "consentry: config.colour: unknown field; expected one of: $schema, id,",
            true,
        ),
        (
            |c| c["revision"] = json!("two"),
            "consentry: config.revision: must be a whole number, not a string",
            true,
        ),
        (
            |c| {
                c.as_object_mut().map(|o| o.remove("privacyPolicyUrl"));
            },
            "consentry: config.privacyPolicyUrl: is required",
            true,
        ),
        (
            |c| c["privacyPolicyUrl"] = json!("javascript:alert(1)"),
            "consentry: config.privacyPolicyUrl: must be an http(s) URL",
            true,
        ),
        (
            |c| c["privacyPolicyUrl"] = json!("//evil.example/privacy"),
            "consentry: config.privacyPolicyUrl: must be an http(s) URL",
            true,
        ),
        (
            |c| c["endpoint"] = json!("data:text/plain,hi"),
            "consentry: config.endpoint: must be an http(s) URL",
            true,
        ),
        (
            |c| c["lifetimeMonths"] = json!(14),
            "consentry: config.lifetimeMonths: must be between 1 and 13 months",
            true,
        ),
        (
            |c| c["lifetimeMonths"] = json!(0),
            "consentry: config.lifetimeMonths: must be between 1 and 13 months",
            true,
        ),
        (
            |c| c["categories"][2]["id"] = json!("analytics"),
            "consentry: config.categories[2].id: duplicate id",
            false,
        ),
        (
            |c| c["categories"][1]["id"] = json!("has space"),
            "consentry: config.categories[1].id: must be 1-64 letters",
            true,
        ),
        (
            |c| c["categories"][1]["cookies"][0]["provider"] = json!(7),
            "consentry: config.categories[1].cookies[0].provider: must be a string, not a number",
            true,
        ),
        (
            |c| c["categories"][0]["gpc"] = json!(true),
            "consentry: config.categories[0].gpc: a necessary category cannot be refused",
            false,
        ),
        (
            |c| c["consentMode"] = json!({"map": {"ads_storage": ["marketing"]}}),
            "consentry: config.consentMode.map.ads_storage: unknown field; expected one of: ad_storage,",
            true,
        ),
        (
            |c| c["consentMode"] = json!({"map": {"ad_storage": ["ads"]}}),
            "consentry: config.consentMode.map.ad_storage[0]: names no category of this config",
            false,
        ),
        (
            |c| c["consentMode"] = json!({"region": ["es"]}),
            "consentry: config.consentMode.region[0]: must be an ISO 3166 region code",
            true,
        ),
        (
            |c| c["consentMode"] = json!({"mode": "full"}),
            "consentry: config.consentMode.mode: must be \"basic\" or \"advanced\"",
            true,
        ),
        (
            |c| c["microsoft"] = json!({"uet": "yes"}),
            "consentry: config.microsoft.uet: must be true or false, not a string",
            true,
        ),
        (
            |c| c["categories"] = json!([]),
            "consentry: config.categories: must list at least one category",
            true,
        ),
        (
            |c| c["forms"][0]["purposes"][1]["id"] = json!("newsletter"),
            "consentry: config.forms[0].purposes[1].id: duplicate purpose id",
            false,
        ),
        (
            |c| c["forms"][0]["purposes"][0]["label"] = json!(""),
            "consentry: config.forms[0].purposes[0].label: must not be empty",
            true,
        ),
        (
            |c| c["theme"] = json!({"color": "red"}),
            "consentry: config.theme.color: only --consentry-* custom properties",
            true,
        ),
        (
            |c| c["theme"] = json!({"--consentry-bg": "url(https://tracker.example/p.gif)"}),
            "consentry: config.theme.--consentry-bg: must be a plain CSS value",
            false,
        ),
        (
            |c| c["texts"]["acceptAll"] = json!(["Accept"]),
            "consentry: config.texts.acceptAll: must be a string, not an array",
            true,
        ),
        (
            |c| c["language"] = json!("German"),
            "consentry: config.language: must be a language code such as \"de\"",
            true,
        ),
        (
            |c| {
                c["language"] = json!("ga");
                c["defaultLanguage"] = json!("en");
            },
            "consentry: config.language: has no built-in texts; add them under translations",
            false,
        ),
        (
            |c| c["translations"] = json!({"de": {"acceptAll": 1}}),
            "consentry: config.translations.de.acceptAll: must be a string, not a number",
            true,
        ),
        (
            |c| c["translations"] = json!({"de": {"accept": "Ja"}}),
            "consentry: config.translations.de.accept: unknown field; expected one of: bannerTitle,",
            true,
        ),
        (
            |c| c["translations"] = json!({"deutsch!": {}}),
            "consentry: config.translations.deutsch!: must be keyed by a language code",
            true,
        ),
        (
            |c| c["categories"][1]["title"] = json!({"de": "Statistik"}),
            "consentry: config.categories[1].title: has no text in the default language \"en\"",
            false,
        ),
        (
            |c| c["categories"][1]["title"] = json!({"en": "Analytics", "de": " "}),
            "consentry: config.categories[1].title.de: must not be empty",
            false,
        ),
        (
            |c| c["categories"][1]["title"] = json!({"en": "Analytics", "de": ""}),
            "consentry: config.categories[1].title.de: must not be empty",
            true,
        ),
        (
            |c| c["categories"][1]["cookies"][0]["purpose"] = json!({"en": "x", "deutsch!": "y"}),
            "consentry: config.categories[1].cookies[0].purpose.deutsch!: must be keyed by a language code",
            true,
        ),
        (
            |c| c["forms"][0]["purposes"][0]["label"] = json!({"en": 1}),
            "consentry: config.forms[0].purposes[0].label.en: must be a string, not a number",
            true,
        ),
        (
            |c| c["categories"][2]["description"] = json!(["Ads"]),
            "consentry: config.categories[2].description: must be a string or an object of texts by language code, not an array",
            true,
        ),
    ];
    for (i, (mutate, expected, schema_catches)) in cases.into_iter().enumerate() {
        let mut c = landing();
        mutate(&mut c);
        let got = widget_error(c.clone());
        assert!(
            got.starts_with(expected),
            "case {i}: expected `{expected}…`, got `{got}`"
        );
        assert_eq!(
            schemas.validate(&c, index).is_err(),
            schema_catches,
            "case {i}: schema disagrees ({expected})"
        );
    }
}
