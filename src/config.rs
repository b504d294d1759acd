//! The site config: what a site owner writes (JSON) and what the widget checks
//! before it shows anything.
//!
//! Pure: no `web_sys`, so `cargo test` covers it. The JSON Schema in
//! `pkg-config/consentry.schema.json` describes the same shape; the host tests
//! validate every example config against both.
//!
//! All defaults live in this file, in one place (`Texts::default`,
//! `default_*` functions), so a site only writes what it changes.

#[allow(unused_imports)]
use crate::prelude::*;

use consentry_receipt::json::{self, type_error, FieldError, Fields, JoinKey, Json};

use crate::language;
pub use consentry_receipt::json::{parse_num, push_num};

/// The longest consent lifetime a site may configure. Regulators (CNIL,
/// Garante) treat 13 months as the ceiling before consent must be asked again.
pub const MAX_LIFETIME_MONTHS: u32 = 13;
const DEFAULT_LIFETIME_MONTHS: u32 = 6;

#[derive(Debug, Clone)]
pub struct Config {
    /// Ignored: lets editors find the schema.
    pub schema: Option<String>,
    /// The site id; receipts and the collector's sites file use it.
    pub id: String,
    /// Bumped by the site owner when the texts or categories change in a way
    /// that needs fresh consent; a stored choice of another revision asks again.
    pub revision: u32,
    /// The language of `texts`, recorded in the notice: the one in use on
    /// this page (`use_language`).
    pub language: String,
    /// The site's `language`: every visitor gets it, whatever their page and
    /// browser say.
    pub forced_language: Option<String>,
    /// The language of the flat `texts` (`defaultLanguage`, else `language`,
    /// else English), and the one shown when no other fits.
    pub default_language: String,
    /// The flat `texts`: what the site changed in its default language.
    pub overrides: Vec<(usize, String)>,
    /// The site's `translations`: per language code, the texts it set.
    pub translations: Vec<(String, Vec<(usize, String)>)>,
    pub privacy_policy_url: String,
    /// The policy version the texts refer to (a date or a number).
    pub policy_version: Option<String>,
    pub controller: Option<Controller>,
    /// Where receipts are posted (the collector's `/v1/receipts`).
    pub endpoint: Option<String>,
    pub lifetime_months: u32,
    pub cookie: CookieOptions,
    /// Show the floating "Privacy settings" button after a choice. Sites that
    /// put `data-consentry-open` on their own link may turn it off.
    pub reopen_button: bool,
    pub texts: Texts,
    pub categories: Vec<Category>,
    pub forms: Vec<Form>,
    /// CSS custom properties (`--consentry-*`) set on the widget's host.
    pub theme: Vec<(String, String)>,
    /// What Google Consent Mode, Microsoft UET and Clarity are told: the
    /// plan of `vendors` as JSON, `None` when no vendor is on.
    pub vendors: Option<String>,
    /// The config's text when it gives some of the site's own texts per
    /// language (see `SiteTexts`): `use_language` reads it again in the
    /// language shown. Empty otherwise.
    pub source: String,
}

/// Reads the site's own texts (a category's title, a cookie's purpose, a
/// form checkbox's label), each a string or an object of texts by language
/// code (`{"en": "Statistics", "de": "Statistik"}`) that must hold one in
/// the default language, in the language `want`: its own text, else its
/// base language's (`pt` for `pt-br`), else another variant's of that base,
/// else the default language's.
struct SiteTexts<'a> {
    default: &'a str,
    want: &'a str,
    /// Whether an object of texts by language was read.
    localized: bool,
}

impl SiteTexts<'_> {
    /// `f.key`; `required` or not. Each text an object gives must say
    /// something.
    fn read(
        &mut self,
        f: &Fields<'_>,
        key: &str,
        required: bool,
    ) -> Result<Option<String>, ConfigError> {
        let at = f.path(key);
        let by_language = match f.get(key) {
            None if required => return Err(ConfigError::at(at, "is required")),
            None => return Ok(None),
            Some(Json::Str(text)) => return Ok(Some(text.clone())),
            Some(Json::Obj(by_language)) => by_language,
            Some(v) => {
                let expected = "a string or an object of texts by language code";
                return Err(type_error(at, expected, v).into());
            }
        };
        self.localized = true;
        // By preference: 0 the language wanted, 1 its base, 2 another
        // variant of the base, 3 the default.
        let mut best: Option<(usize, &String)> = None;
        let mut has_default = false;
        for (code, text) in by_language {
            let here = at.clone().join_key(code);
            if !language::is_tag(code) {
                return Err(ConfigError::at(here, LANGUAGE_KEYS));
            }
            let Json::Str(text) = text else {
                return Err(type_error(here, "a string", text).into());
            };
            if text.trim().is_empty() {
                return Err(ConfigError::at(here, "must not be empty"));
            }
            let code = language::normalize(code);
            has_default |= code == self.default;
            // A regional text (`pt-br`) serves its base language (`pt`, the
            // built-in one a `pt-BR` page gets) when there is no `pt` one.
            let wanted = language::primary(self.want);
            let rank = if code == self.want {
                0
            } else if code == wanted {
                1
            } else if language::primary(&code) == wanted {
                2
            } else if code == self.default {
                3
            } else {
                continue;
            };
            if best.is_none_or(|(b, _)| rank < b) {
                best = Some((rank, text));
            }
        }
        if !has_default {
            return Err(ConfigError::at(
                at,
                &concat(&["has no text in the default language \"", self.default, "\""]),
            ));
        }
        Ok(best.map(|(_, text)| text.clone()))
    }

    fn req(&mut self, f: &Fields<'_>, key: &str) -> Result<String, ConfigError> {
        Ok(self.read(f, key, true)?.unwrap_or_default())
    }
}

/// Why a key of `translations` or of a site text by language is refused.
const LANGUAGE_KEYS: &str = "must be keyed by a language code such as \"de\" or \"pt-BR\"";

#[derive(Debug, Clone)]
pub struct Controller {
    pub name: String,
    pub contact: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CookieOptions {
    /// Defaults to the page's host only (no Domain attribute).
    pub domain: Option<String>,
    pub path: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Category {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Strictly necessary: always on, shown disabled, never asked.
    pub necessary: bool,
    /// Refused up front when the browser sends Global Privacy Control
    /// (sale/sharing/targeted advertising).
    pub gpc: bool,
    pub cookies: Vec<CookieInfo>,
    /// For a service (`categories[].services[]`, consent per service): the
    /// category it belongs to. A service is kept as a category of its own
    /// right after its category (its `name` the title, its `purpose` the
    /// description, necessary and gpc as its category's), so choices,
    /// cookies, receipts and the notice treat it as one; its category counts
    /// as granted only while every one of its services is.
    pub service_of: Option<String>,
    /// A service's provider.
    pub provider: Option<String>,
}

/// One row of the cookie disclosure table. `name` may end in `*` to match a
/// family (`_ga_*`); those are what get cleared when the category is refused.
#[derive(Debug, Clone)]
pub struct CookieInfo {
    pub name: String,
    pub provider: String,
    pub purpose: String,
    pub duration: String,
}

#[derive(Debug, Clone)]
pub struct Form {
    /// CSS selector of the site's own `<form>`.
    pub selector: String,
    pub purposes: Vec<FormPurpose>,
}

#[derive(Debug, Clone)]
pub struct FormPurpose {
    pub id: String,
    /// Plain words, one purpose: "Send me the ACME newsletter by email".
    pub label: String,
    /// The form cannot be sent without it (e.g. the newsletter signup itself);
    /// optional purposes never block.
    pub required: bool,
}

/// Every text the widget shows, in one table: the variant the code uses,
/// the key in the config's `texts` (and in the notice), whether the notice
/// records it (what consent rests on: not the dialog's close button or the
/// reopen button's label), and the English default. The defaults, the keys
/// a config may set, the notice and the schema's list (tested) all come from
/// here.
macro_rules! texts {
    ($($name:ident $key:literal $notice:literal $default:literal,)*) => {
        /// One of the widget's texts; `config.texts[Text::AcceptAll]`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Text {
            $($name,)*
        }

        /// `(key, recorded in the notice, English default)`, in `Text` order.
        pub const TEXTS: &[(&str, bool, &str)] = &[$(($key, $notice, $default),)*];
    };
}

texts! {
    BannerTitle "bannerTitle" true "We value your privacy",
    BannerDescription "bannerDescription" true "We use cookies that are strictly necessary to run this site. With your permission we would also like to use optional cookies to understand how the site is used and to show relevant content. You can change your choice at any time.",
    AcceptAll "acceptAll" true "Accept all",
    RejectAll "rejectAll" true "Reject all",
    Customize "customize" true "Customize",
    PreferencesTitle "preferencesTitle" true "Privacy preferences",
    PreferencesDescription "preferencesDescription" true "Choose which optional cookies we may use. Nothing optional is on until you turn it on.",
    Save "save" true "Save choices",
    Close "close" false "Close",
    PrivacyPolicy "privacyPolicy" true "Privacy policy",
    Reopen "reopen" false "Privacy settings",
    AlwaysOn "alwaysOn" true "Always on",
    CookieName "cookieName" true "Name",
    CookieProvider "cookieProvider" true "Provider",
    CookiePurpose "cookiePurpose" true "Purpose",
    CookieDuration "cookieDuration" true "Duration",
    FormRequired "formRequired" true "Please tick this box to continue.",
    EmbedBlocked "embedBlocked" true "This content is hosted by {provider}, which may set cookies. It loads only if you allow {category} cookies.",
    EmbedLoad "embedLoad" true "Allow and load",
    GpcHonoured "gpcHonoured" true "Your browser's Global Privacy Control signal is honoured: optional cookies for sale or sharing stay off.",
    ReceiptTitle "receiptTitle" true "Your consent receipt",
    ReceiptSummary "receiptSummary" true "Receipt {id}, signed in this browser on {date}. Allowed: {allowed}.",
    ReceiptDownload "receiptDownload" true "Download receipt",
}

/// The texts of a config: the defaults, with what the site replaced.
#[derive(Debug, Clone)]
pub struct Texts(Vec<String>);

impl Default for Texts {
    fn default() -> Self {
        let mut all = Vec::new();
        for (_, _, default) in TEXTS {
            all.push((*default).to_owned());
        }
        Texts(all)
    }
}

impl core::ops::Index<Text> for Texts {
    type Output = str;

    fn index(&self, t: Text) -> &str {
        self.0.get(t as usize).map_or("", String::as_str)
    }
}

impl Texts {
    /// Replaces one text (the config reader, and tests).
    pub fn set(&mut self, t: Text, value: String) {
        self.set_index(t as usize, value);
    }

    /// Replaces the text at `i`, the position of its key in `TEXTS`.
    pub fn set_index(&mut self, i: usize, value: String) {
        if let Some(slot) = self.0.get_mut(i) {
            *slot = value;
        }
    }

    /// The text of a config key.
    pub fn get(&self, key: &str) -> Option<&str> {
        let i = TEXTS.iter().position(|(k, _, _)| *k == key)?;
        self.0.get(i).map(String::as_str)
    }

    /// Every text with its key and whether the notice records it.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, bool, &str)> {
        TEXTS
            .iter()
            .zip(&self.0)
            .map(|((key, notice, _), v)| (*key, *notice, v.as_str()))
    }
}

/// A config problem, printed as `consentry: config.<path>: <reason>` so the
/// site owner knows which field to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub reason: String,
}

impl From<FieldError> for ConfigError {
    fn from(e: FieldError) -> Self {
        ConfigError {
            path: e.path,
            reason: e.reason,
        }
    }
}

impl ConfigError {
    #[inline(never)]
    pub(crate) fn at(path: String, reason: &str) -> Self {
        ConfigError {
            path,
            reason: reason.to_owned(),
        }
    }

    /// The one line the console shows.
    pub fn message(&self) -> String {
        let mut m = String::from("consentry: config");
        if !self.path.is_empty() {
            m.push('.');
            m.push_str(&self.path);
        }
        m.push_str(": ");
        m.push_str(&self.reason);
        m
    }
}

impl Config {
    /// Reads a config from JSON text (the inline script, the fetched file,
    /// or `JSON.stringify` of the object given to `init`) and checks it.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::read(text, None)
    }

    /// `parse`, with the site's own texts in language `want` (by default,
    /// the forced or the default language).
    fn read(text: &str, want: Option<&str>) -> Result<Config, ConfigError> {
        let value = json::parse(text).map_err(|e| {
            let mut reason = String::from("not valid JSON: ");
            reason.push_str(e.reason);
            reason.push_str(" at byte ");
            push_num(&mut reason, e.offset as u64);
            ConfigError {
                path: String::new(),
                reason,
            }
        })?;
        Config::from_json(&value, text, want)
    }

    fn from_json(value: &Json, text: &str, want: Option<&str>) -> Result<Config, ConfigError> {
        let o = Fields::new(
            value,
            String::new(),
            &[
                "$schema",
                "id",
                "revision",
                "language",
                "defaultLanguage",
                "translations",
                "privacyPolicyUrl",
                "policyVersion",
                "controller",
                "endpoint",
                "lifetimeMonths",
                "cookie",
                "reopenButton",
                "texts",
                "categories",
                "forms",
                "theme",
                "consentMode",
                "microsoft",
            ],
        )?;
        let _ = o.str("$schema")?;
        let controller = match o.obj("controller", &["name", "contact"])? {
            Some(c) => Some(Controller {
                name: c.req_str("name")?,
                contact: c.str("contact")?,
            }),
            None => None,
        };
        let cookie = match o.obj("cookie", &["domain", "path"])? {
            Some(c) => CookieOptions {
                domain: c.str("domain")?,
                path: c.str("path")?,
            },
            None => CookieOptions::default(),
        };
        let forced_language = o.str("language")?;
        let default_language = o.str("defaultLanguage")?;
        for (key, tag) in [
            ("language", &forced_language),
            ("defaultLanguage", &default_language),
        ] {
            if tag.as_deref().is_some_and(|t| !language::is_tag(t)) {
                return Err(ConfigError::at(
                    o.path(key),
                    "must be a language code such as \"de\" or \"pt-BR\"",
                ));
            }
        }
        let default_language = default_language
            .or_else(|| forced_language.clone())
            .map_or_else(|| language::ENGLISH.to_owned(), |t| language::normalize(&t));
        let want = want.map_or_else(
            || {
                forced_language
                    .as_deref()
                    .map_or_else(|| default_language.clone(), language::normalize)
            },
            str::to_owned,
        );
        let mut site = SiteTexts {
            default: &default_language,
            want: &want,
            localized: false,
        };
        let mut categories = Vec::new();
        for (i, item) in o.arr("categories")?.iter().enumerate() {
            let c = Fields::new(
                item,
                o.index("categories", i),
                &[
                    "id",
                    "title",
                    "description",
                    "necessary",
                    "gpc",
                    "cookies",
                    "services",
                ],
            )?;
            let category = Category {
                id: c.req_str("id")?,
                title: site.req(&c, "title")?,
                description: site.read(&c, "description", false)?.unwrap_or_default(),
                necessary: c.bool("necessary")?.unwrap_or(false),
                gpc: c.bool("gpc")?.unwrap_or(false),
                cookies: cookies(&c, &mut site)?,
                service_of: None,
                provider: None,
            };
            let mut services = Vec::new();
            for (j, s) in c.arr("services")?.iter().enumerate() {
                let s = Fields::new(
                    s,
                    c.index("services", j),
                    &["id", "name", "provider", "purpose", "cookies"],
                )?;
                services.push(Category {
                    id: s.req_str("id")?,
                    title: site.req(&s, "name")?,
                    description: site.read(&s, "purpose", false)?.unwrap_or_default(),
                    necessary: category.necessary,
                    gpc: category.gpc,
                    cookies: cookies(&s, &mut site)?,
                    service_of: Some(category.id.clone()),
                    provider: s.str("provider")?,
                });
            }
            categories.push(category);
            categories.append(&mut services);
        }
        if o.get("categories").is_none() {
            return Err(ConfigError::at(o.path("categories"), "is required"));
        }
        let mut forms = Vec::new();
        for (i, item) in o.arr("forms")?.iter().enumerate() {
            let f = Fields::new(item, o.index("forms", i), &["selector", "purposes"])?;
            let mut purposes = Vec::new();
            for (j, p) in f.arr("purposes")?.iter().enumerate() {
                let p = Fields::new(p, f.index("purposes", j), &["id", "label", "required"])?;
                purposes.push(FormPurpose {
                    id: p.req_str("id")?,
                    label: site.req(&p, "label")?,
                    required: p.bool("required")?.unwrap_or(false),
                });
            }
            forms.push(Form {
                selector: f.req_str("selector")?,
                purposes,
            });
        }
        let mut theme = Vec::new();
        if let Some(t) = o.get("theme") {
            let Json::Obj(props) = t else {
                return Err(type_error(o.path("theme"), "an object", t).into());
            };
            for (name, v) in props {
                let Json::Str(v) = v else {
                    return Err(type_error(o.path("theme").join_key(name), "a string", v).into());
                };
                theme.push((name.clone(), v.clone()));
            }
        }
        let mut translations = Vec::new();
        if let Some(t) = o.get("translations") {
            let Json::Obj(langs) = t else {
                return Err(type_error(o.path("translations"), "an object", t).into());
            };
            for (code, texts) in langs {
                let at = o.path("translations").join_key(code);
                if !language::is_tag(code) {
                    return Err(ConfigError::at(at, LANGUAGE_KEYS));
                }
                let code = language::normalize(code);
                if translations.iter().any(|(c, _)| *c == code) {
                    return Err(ConfigError::at(at, "is given twice"));
                }
                translations.push((code, overrides(texts, at)?));
            }
        }
        let source = if site.localized {
            text.to_owned()
        } else {
            String::new()
        };
        let flat = match o.get("texts") {
            Some(t) => overrides(t, o.path("texts"))?,
            None => Vec::new(),
        };
        let mut config = Config {
            schema: None,
            id: o.req_str("id")?,
            revision: o.u32("revision")?.unwrap_or(1),
            language: default_language.clone(),
            forced_language: None,
            default_language,
            overrides: flat,
            translations,
            privacy_policy_url: o.req_str("privacyPolicyUrl")?,
            policy_version: o.str("policyVersion")?,
            controller,
            endpoint: o.str("endpoint")?,
            lifetime_months: o.u32("lifetimeMonths")?.unwrap_or(DEFAULT_LIFETIME_MONTHS),
            cookie,
            reopen_button: o.bool("reopenButton")?.unwrap_or(true),
            texts: Texts::default(),
            categories,
            forms,
            theme,
            vendors: None,
            source,
        };
        config.vendors = crate::vendors::read(&o, &config.categories)?;
        if let Some(forced) = forced_language {
            let Some(code) = language::serving(&forced, &config.languages()).map(str::to_owned)
            else {
                return Err(ConfigError::at(
                    o.path("language"),
                    "has no built-in texts; add them under translations",
                ));
            };
            config.forced_language = Some(code);
        }
        let first = config
            .forced_language
            .clone()
            .unwrap_or_else(|| config.default_language.clone());
        config.show_texts(&first, None);
        config.validate()?;
        Ok(config)
    }

    /// Every language this config can be shown in: the built-in ones, the
    /// site's translations and its default language.
    pub fn languages(&self) -> Vec<&str> {
        let mut all: Vec<&str> = language::BUILT_IN.to_vec();
        for code in self
            .translations
            .iter()
            .map(|(c, _)| c.as_str())
            .chain([self.default_language.as_str()])
        {
            if !all.contains(&code) {
                all.push(code);
            }
        }
        all
    }

    /// Shows the config in `code` (one of `languages`): English, then
    /// `built_in` (the language's file, when it has one), then the flat
    /// `texts` if `code` is the default language, then its translations.
    /// The site's own texts given per language are read again in `code`.
    pub fn use_language(&mut self, code: &str, built_in: Option<Texts>) {
        let shown_already = self.language == code;
        self.show_texts(code, built_in);
        // The same text, checked when it was first read: it reads again,
        // unless its texts are in this language already (a page in the
        // default language: no second read at start).
        if self.source.is_empty() || shown_already {
            return;
        }
        if let Ok(again) = Config::read(&self.source, Some(code)) {
            self.categories = again.categories;
            self.forms = again.forms;
        }
    }

    /// The widget's own texts in `code`.
    fn show_texts(&mut self, code: &str, built_in: Option<Texts>) {
        let mut texts = built_in.unwrap_or_default();
        let mut apply = |set: &[(usize, String)]| {
            for (i, v) in set {
                texts.set_index(*i, v.clone());
            }
        };
        if code == self.default_language {
            apply(&self.overrides);
        }
        if let Some((_, set)) = self.translations.iter().find(|(c, _)| c == code) {
            apply(set);
        }
        self.texts = texts;
        self.language = code.to_owned();
    }

    /// The rules of a usable, lawful config. Returns the first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let e = |path: &str, reason: &str| Err(ConfigError::at(path.to_owned(), reason));
        if !is_valid_id(&self.id) {
            return e("id", "must be 1-64 letters, digits, '-' or '_'");
        }
        if !is_http_url(&self.privacy_policy_url) {
            return e("privacyPolicyUrl", "must be an http(s) URL");
        }
        if let Some(endpoint) = &self.endpoint {
            if !is_http_url(endpoint) {
                return e("endpoint", "must be an http(s) URL");
            }
        }
        if self.lifetime_months == 0 || self.lifetime_months > MAX_LIFETIME_MONTHS {
            return e("lifetimeMonths", "must be between 1 and 13 months");
        }
        if self.categories.is_empty() {
            return e("categories", "must list at least one category");
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, cat) in self.categories.iter().enumerate() {
            let at = |field: &str| self.entry_path(i, field);
            if !is_valid_id(&cat.id) {
                return Err(ConfigError::at(
                    at("id"),
                    "must be 1-64 letters, digits, '-' or '_'",
                ));
            }
            if seen.contains(&cat.id.as_str()) {
                return Err(ConfigError::at(at("id"), "duplicate id"));
            }
            seen.push(&cat.id);
            if cat.title.trim().is_empty() {
                return Err(ConfigError::at(at("title"), "must not be empty"));
            }
            if cat.necessary && cat.gpc {
                return Err(ConfigError::at(
                    at("gpc"),
                    "a necessary category cannot be refused by Global Privacy Control",
                ));
            }
        }
        let mut purposes: Vec<&str> = Vec::new();
        for (i, form) in self.forms.iter().enumerate() {
            if form.selector.trim().is_empty() {
                return Err(ConfigError::at(
                    indexed("forms", i, "selector"),
                    "must not be empty",
                ));
            }
            if form.purposes.is_empty() {
                return Err(ConfigError::at(
                    indexed("forms", i, "purposes"),
                    "must list at least one purpose",
                ));
            }
            for (j, p) in form.purposes.iter().enumerate() {
                let mut at = indexed("forms", i, "purposes");
                at.push('[');
                push_num(&mut at, j as u64);
                at.push(']');
                if !is_valid_id(&p.id) {
                    at.push_str(".id");
                    return Err(ConfigError::at(
                        at,
                        "must be 1-64 letters, digits, '-' or '_'",
                    ));
                }
                if purposes.contains(&p.id.as_str()) {
                    at.push_str(".id");
                    return Err(ConfigError::at(at, "duplicate purpose id"));
                }
                purposes.push(&p.id);
                if p.label.trim().is_empty() {
                    at.push_str(".label");
                    return Err(ConfigError::at(at, "must not be empty"));
                }
            }
        }
        for (name, value) in &self.theme {
            let mut at = String::from("theme.");
            at.push_str(name);
            if !name.starts_with("--consentry-")
                || !name
                    .bytes()
                    .skip(2)
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(ConfigError::at(
                    at,
                    "only --consentry-* custom properties can be set",
                ));
            }
            if value
                .as_bytes()
                .windows(4)
                .any(|w| w.eq_ignore_ascii_case(b"url("))
                || value
                    .bytes()
                    .any(|b| matches!(b, b';' | b'{' | b'}' | b'<' | b'\\'))
            {
                return Err(ConfigError::at(
                    at,
                    "must be a plain CSS value (a colour, length or font list)",
                ));
            }
        }
        Ok(())
    }

    /// Where `categories[i]` (services kept flat) is written in the config:
    /// `categories[k].field`, or `categories[k].services[j].field` (a
    /// service's title is its `name`).
    #[inline(never)]
    fn entry_path(&self, i: usize, field: &str) -> String {
        let (mut k, mut j) = (0, 0);
        for (n, c) in self.categories.iter().take(i + 1).enumerate() {
            match c.service_of {
                None if n > 0 => (k, j) = (k + 1, 0),
                None => {}
                Some(_) => j += 1,
            }
        }
        let mut at = String::from("categories[");
        push_num(&mut at, k as u64);
        at.push(']');
        if j > 0 {
            at.push_str(".services[");
            push_num(&mut at, j as u64 - 1);
            at.push(']');
        }
        at.push('.');
        at.push_str(if j > 0 && field == "title" {
            "name"
        } else {
            field
        });
        at
    }

    /// The categories a visitor can choose (everything but necessary).
    pub fn optional_categories(&self) -> impl Iterator<Item = &Category> {
        self.categories.iter().filter(|c| !c.necessary)
    }

    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// Consent lifetime in milliseconds (a month counted as 1/12 of a
    /// Gregorian year, so 13 months never exceeds 13 calendar months).
    pub fn lifetime_ms(&self) -> f64 {
        self.lifetime_months as f64 * 30.436_875 * 86_400_000.0
    }
}

/// The `cookies` of a category or a service.
/// The cookie table of category `at` (in `categories` as kept).
fn cookies(c: &Fields<'_>, site: &mut SiteTexts<'_>) -> Result<Vec<CookieInfo>, ConfigError> {
    let mut cookies = Vec::new();
    for (j, k) in c.arr("cookies")?.iter().enumerate() {
        let k = Fields::new(
            k,
            c.index("cookies", j),
            &["name", "provider", "purpose", "duration"],
        )?;
        cookies.push(CookieInfo {
            name: k.req_str("name")?,
            provider: k.req_str("provider")?,
            purpose: site.req(&k, "purpose")?,
            duration: site.req(&k, "duration")?,
        });
    }
    Ok(cookies)
}

fn indexed(list: &str, i: usize, field: &str) -> String {
    let mut s = String::from(list);
    s.push('[');
    push_num(&mut s, i as u64);
    s.push_str("].");
    s.push_str(field);
    s
}

/// `text.split_once(sep)` for an ASCII `sep`, without core's char searcher,
/// whose slicing links panic formatting into the wasm.
pub fn cut(text: &str, sep: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == sep)?;
    // An ASCII byte is a char boundary, so both halves are there.
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// `text.split(sep)` for an ASCII `sep`, as [`cut`] is `split_once`.
pub fn pieces(text: &str, sep: u8) -> Pieces<'_> {
    Pieces {
        rest: Some(text),
        sep,
    }
}

/// The iterator of [`pieces`].
pub struct Pieces<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match cut(rest, self.sep) {
            Some((piece, after)) => {
                self.rest = Some(after);
                Some(piece)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Joins fixed pieces into one string without the `format!` machinery.
pub fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// Category ids joined by `,`, as the JS side takes a list: an id never
/// holds one (`is_valid_id`). (Not `join`: its overflow checks link panic
/// formatting into the wasm.)
pub fn id_list(ids: &[String]) -> String {
    let mut out = String::new();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(id);
    }
    out
}

pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Only absolute http(s) URLs, or site-relative paths ("/privacy"), may become
/// a link or an endpoint: never `javascript:`, `data:` or protocol-relative.
pub fn is_http_url(url: &str) -> bool {
    let u = url.trim();
    if u.len() != url.len() || u.is_empty() || u.bytes().any(|b| b.is_ascii_control() || b == b' ')
    {
        return false;
    }
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let scheme_len = if lower.starts_with("https://") { 8 } else { 7 };
        return u
            .get(scheme_len..)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    }
    u.starts_with('/') && !u.starts_with("//") && !u.starts_with("/\\")
}

/// The texts a site set in one object (`texts`, or one language of
/// `translations`), by their place in `TEXTS`.
fn overrides(value: &Json, path: String) -> Result<Vec<(usize, String)>, ConfigError> {
    let mut keys = Vec::new();
    for (key, _, _) in TEXTS {
        keys.push(*key);
    }
    let f = Fields::new(value, path, &keys)?;
    let mut set = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        if let Some(v) = f.str(key)? {
            set.push((i, v));
        }
    }
    Ok(set)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn cut_and_pieces_split_as_std_does() {
        for text in ["", "=", "a", "a=b", "a=b=c", "=b", "a=", "é=ü;x", ";;a;;"] {
            assert_eq!(cut(text, b'='), text.split_once('='), "{text:?}");
            assert!(pieces(text, b';').eq(text.split(';')), "{text:?}");
        }
    }
}
