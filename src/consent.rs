//! The consent model: what a visitor chose, how it is stored in the
//! `consentry` cookie, and when to ask again. Pure, no `web_sys`.
//!
//! The cookie value is a small query string a site's server can parse with
//! any standard library:
//!
//! ```text
//! consentry=v=1&r=3&t=1763900000&e=1779900000&c=necessary|analytics&id=<receipt id>
//! ```
//!
//! `r` is the config revision, `t`/`e` the time of the choice and its expiry
//! (Unix seconds), `c` the granted category ids, `id` the latest receipt id
//! (empty until receipts are on).

#[allow(unused_imports)]
use crate::prelude::*;

use crate::config::{cut, parse_num, pieces, push_num, Config};

pub const COOKIE_NAME: &str = "consentry";
const FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, PartialEq)]
pub struct ConsentState {
    pub revision: u32,
    /// Granted category ids, necessary ones included, in config order.
    pub granted: Vec<String>,
    /// Unix seconds.
    pub given_at: u64,
    pub expires_at: u64,
    pub receipt_id: String,
}

/// What the visitor (or the site's code) asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    AcceptAll,
    RejectAll,
    /// Exactly these optional categories; unknown ids are ignored.
    Only(Vec<String>),
}

/// How the choice was made and what kind it is, as the receipt records them.
pub use consentry_receipt::{Action, Method};

/// The difference between two states, for the page: what to release, what
/// to clean up.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Change {
    pub newly_granted: Vec<String>,
    pub newly_refused: Vec<String>,
}

impl ConsentState {
    pub fn is_granted(&self, id: &str) -> bool {
        self.granted.iter().any(|g| g == id)
    }

    /// The cookie value (see the module docs).
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(96);
        s.push_str("v=");
        s.push_str(FORMAT_VERSION);
        s.push_str("&r=");
        push_num(&mut s, self.revision as u64);
        s.push_str("&t=");
        push_num(&mut s, self.given_at);
        s.push_str("&e=");
        push_num(&mut s, self.expires_at);
        s.push_str("&c=");
        for (i, id) in self.granted.iter().enumerate() {
            if i > 0 {
                s.push('|');
            }
            s.push_str(id);
        }
        s.push_str("&id=");
        s.push_str(&self.receipt_id);
        s
    }

    /// Reads a cookie value; anything malformed is "no stored consent".
    pub fn decode(value: &str) -> Option<ConsentState> {
        let (mut v, mut r, mut t, mut e, mut c, mut id) = (None, None, None, None, None, None);
        for pair in pieces(value, b'&') {
            let (k, val) = cut(pair, b'=')?;
            match k {
                "v" => v = Some(val),
                "r" => r = Some(u32::try_from(parse_num(val)?).ok()?),
                "t" => t = Some(parse_num(val)?),
                "e" => e = Some(parse_num(val)?),
                "c" => c = Some(val),
                "id" => id = Some(val),
                _ => {}
            }
        }
        if v? != FORMAT_VERSION {
            return None;
        }
        let mut granted: Vec<String> = Vec::new();
        for id in pieces(c?, b'|') {
            if !id.is_empty() {
                granted.push(id.to_owned());
            }
        }
        if granted.iter().any(|g| !crate::config::is_valid_id(g)) {
            return None;
        }
        let id = id.unwrap_or("");
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        Some(ConsentState {
            revision: r?,
            granted,
            given_at: t?,
            expires_at: e?,
            receipt_id: id.to_owned(),
        })
    }

    /// A stored choice is used only if it answers this config revision and
    /// has not expired (rule 9).
    pub fn is_current(&self, config: &Config, now: u64) -> bool {
        self.revision == config.revision && now < self.expires_at && self.expires_at > self.given_at
    }
}

/// The state a choice leads to. Necessary categories are always granted.
/// With Global Privacy Control on (rule 10), "Accept all" leaves the
/// categories marked `gpc` refused; only ticking one explicitly grants it.
/// `Only` takes category and service ids: a category named grants all its
/// services, and a category with services is granted only when every one
/// of them is (some on is "mixed": the category's own content stays off).
pub fn resolve(config: &Config, choice: &Choice, gpc: bool, now: u64) -> ConsentState {
    let mut granted: Vec<String> = Vec::new();
    for c in &config.categories {
        let named = |ids: &[String]| {
            ids.contains(&c.id) || c.service_of.as_ref().is_some_and(|s| ids.contains(s))
        };
        let on = match choice {
            _ if c.necessary => true,
            Choice::AcceptAll => !(gpc && c.gpc),
            Choice::RejectAll => false,
            Choice::Only(ids) => named(ids),
        };
        if on {
            granted.push(c.id.clone());
        }
    }
    // A category with services is granted exactly when all of them are.
    let mut granted_all = Vec::new();
    for c in &config.categories {
        let mut services = config
            .categories
            .iter()
            .filter(|s| s.service_of.as_ref() == Some(&c.id))
            .peekable();
        let on = match services.peek() {
            Some(_) => services.all(|s| granted.contains(&s.id)),
            None => granted.contains(&c.id),
        };
        if on {
            granted_all.push(c.id.clone());
        }
    }
    let granted = granted_all;
    let lifetime_s = (config.lifetime_ms() / 1000.0) as u64;
    ConsentState {
        revision: config.revision,
        granted,
        given_at: now,
        expires_at: now + lifetime_s,
        receipt_id: String::new(),
    }
}

/// Compares against the previous state; with none, every optional category
/// not granted counts as refused (its cookies may predate the banner).
pub fn change(config: &Config, previous: Option<&ConsentState>, next: &ConsentState) -> Change {
    let mut out = Change::default();
    for c in config.optional_categories() {
        let was = previous.is_some_and(|p| p.is_granted(&c.id));
        let now = next.is_granted(&c.id);
        if now && !was {
            out.newly_granted.push(c.id.clone());
        } else if !now && (was || previous.is_none()) {
            out.newly_refused.push(c.id.clone());
        }
    }
    out
}

/// First answer = grant; taking back anything without granting anything new
/// = withdraw; any other change = update.
pub fn action(previous: Option<&ConsentState>, change: &Change) -> Action {
    match previous {
        None => Action::Grant,
        Some(_) if !change.newly_refused.is_empty() && change.newly_granted.is_empty() => {
            Action::Withdraw
        }
        Some(_) => Action::Update,
    }
}

pub use consentry_receipt::ids::uuid_v4;

/// Does a cookie name match a disclosure entry (`_ga` or `_ga_*`)?
pub fn cookie_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Every Domain attribute a cookie of this page could have been set with:
/// none (host-only), then the host and each parent domain, with and without
/// the leading dot. Deleting needs the exact one, so we try them all.
pub fn domain_variants(hostname: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    // An IP address has no parent domains (and takes no Domain attribute).
    // Bytes, not `contains(char)`: core's searcher is sizeable in the wasm.
    let is_ip = hostname.bytes().any(|b| b == b':')
        || hostname.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if hostname.is_empty() || is_ip {
        return out;
    }
    let mut rest = hostname;
    loop {
        out.push(rest.to_owned());
        let mut dotted = String::from(".");
        dotted.push_str(rest);
        out.push(dotted);
        match cut(rest, b'.') {
            Some((_, parent)) if parent.bytes().any(|b| b == b'.') => rest = parent,
            _ => break,
        }
    }
    out
}

/// "/" and every prefix of the page's path, for the same reason.
pub fn path_variants(pathname: &str) -> Vec<String> {
    let mut out = vec![String::from("/")];
    let mut acc = String::new();
    for seg in pieces(pathname, b'/').filter(|s| !s.is_empty()) {
        acc.push('/');
        acc.push_str(seg);
        out.push(acc.clone());
        let mut slash = acc.clone();
        slash.push('/');
        out.push(slash);
    }
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// Marketing with two services, as `categories[].services[]` writes them.
    fn with_services() -> Config {
        Config::parse(
            r#"{"id":"t","privacyPolicyUrl":"/p","categories":[
              {"id":"necessary","title":"N","necessary":true},
              {"id":"marketing","title":"M","gpc":true,"services":[
                {"id":"youtube","name":"YouTube","provider":"Google"},
                {"id":"adnet","name":"Ad network"}]}]}"#,
        )
        .expect("valid")
    }

    fn granted(config: &Config, choice: Choice, gpc: bool) -> Vec<String> {
        resolve(config, &choice, gpc, 1).granted
    }

    #[test]
    fn a_category_is_granted_only_with_every_one_of_its_services() {
        let c = with_services();
        let only = |ids: &[&str]| Choice::Only(ids.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(
            granted(&c, only(&["youtube"]), false),
            ["necessary", "youtube"]
        );
        assert_eq!(
            granted(&c, only(&["youtube", "adnet"]), false),
            ["necessary", "marketing", "youtube", "adnet"]
        );
        assert_eq!(
            granted(&c, only(&["marketing"]), false),
            ["necessary", "marketing", "youtube", "adnet"],
            "the category's toggle grants all its services"
        );
        assert_eq!(
            granted(&c, Choice::AcceptAll, true),
            ["necessary"],
            "a service refused up front under GPC, as its category"
        );
        let services: Vec<_> = c
            .categories
            .iter()
            .filter_map(|s| s.service_of.as_deref())
            .collect();
        assert_eq!(services, ["marketing", "marketing"]);
        let next = resolve(&c, &only(&["youtube"]), false, 1);
        let first = change(&c, None, &next);
        assert_eq!(first.newly_granted, ["youtube"]);
        assert_eq!(first.newly_refused, ["marketing", "adnet"]);
    }

    #[test]
    fn a_bad_service_is_named_where_it_is_written() {
        let bad = |services: &str| {
            let mut text = String::from(
                r#"{"id":"t","privacyPolicyUrl":"/p","categories":[{"id":"a","title":"A"},{"id":"m","title":"M","services":"#,
            );
            text.push_str(services);
            text.push_str("}]}");
            Config::parse(&text).expect_err(services).path
        };
        assert_eq!(
            bad(r#"[{"id":"x","name":""}]"#),
            "categories[1].services[0].name"
        );
        assert_eq!(
            bad(r#"[{"id":"x","name":"X"},{"id":"a","name":"Y"}]"#),
            "categories[1].services[1].id"
        );
        assert_eq!(bad(r#"[{"id":"x"}]"#), "categories[1].services[0].name");
        assert_eq!(
            bad(r#"[{"id":"x","name":"X","kind":1}]"#),
            "categories[1].services[0].kind"
        );
    }

    fn config() -> Config {
        let json = serde_json::json!({
            "id": "t", "revision": 2, "privacyPolicyUrl": "https://x.example/privacy",
            "categories": [
                {"id": "necessary", "title": "Necessary", "necessary": true},
                {"id": "analytics", "title": "Analytics"},
                {"id": "marketing", "title": "Marketing", "gpc": true}
            ]
        });
        Config::parse(&json.to_string()).expect("valid config")
    }

    #[test]
    fn rejecting_all_keeps_only_necessary() {
        let s = resolve(&config(), &Choice::RejectAll, false, 100);
        assert_eq!(s.granted, ["necessary"]);
    }

    #[test]
    fn choosing_some_grants_exactly_those_and_ignores_unknown_ids() {
        let s = resolve(
            &config(),
            &Choice::Only(vec!["marketing".into(), "nope".into()]),
            false,
            100,
        );
        assert_eq!(s.granted, ["necessary", "marketing"]);
    }

    #[test]
    fn cookie_value_round_trips_and_uses_only_cookie_safe_bytes() {
        let mut s = resolve(&config(), &Choice::AcceptAll, false, 1_763_900_000);
        s.receipt_id = "0b6c2a1e-8f7d-4c3b-9a1e-2f3d4c5b6a79".into();
        let v = s.encode();
        assert!(v.bytes().all(|b| b > 0x20
            && b < 0x7f
            && b != b';'
            && b != b','
            && b != b'"'
            && b != b'\\'));
        assert_eq!(ConsentState::decode(&v), Some(s));
    }

    #[test]
    fn malformed_cookie_means_no_stored_consent() {
        for bad in [
            "",
            "v=2&r=1&t=1&e=2&c=a&id=",
            "v=1&r=x&t=1&e=2&c=a",
            "v=1&r=1&t=1&e=2&c=<b>",
            "garbage",
        ] {
            assert_eq!(ConsentState::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_new_revision_or_expiry_asks_again() {
        let c = config();
        let s = resolve(&c, &Choice::AcceptAll, false, 1000);
        assert!(s.is_current(&c, 1001));
        assert!(!s.is_current(&c, s.expires_at));
        let mut newer = c.clone();
        newer.revision = 3;
        assert!(!s.is_current(&newer, 1001));
    }

    #[test]
    fn global_privacy_control_keeps_sharing_categories_out_of_accept_all() {
        let c = config();
        assert_eq!(
            resolve(&c, &Choice::AcceptAll, true, 1).granted,
            ["necessary", "analytics"]
        );
        let explicit = Choice::Only(vec!["marketing".into()]);
        assert_eq!(
            resolve(&c, &explicit, true, 1).granted,
            ["necessary", "marketing"]
        );
    }

    #[test]
    fn default_lifetime_is_six_months() {
        let s = resolve(&config(), &Choice::AcceptAll, false, 0);
        let days = s.expires_at / 86_400;
        assert!((181..=183).contains(&days), "{days}");
    }

    #[test]
    fn withdrawing_is_recognised_and_lists_what_to_clean() {
        let c = config();
        let before = resolve(&c, &Choice::AcceptAll, false, 1);
        let after = resolve(&c, &Choice::RejectAll, false, 2);
        let ch = change(&c, Some(&before), &after);
        assert_eq!(ch.newly_refused, ["analytics", "marketing"]);
        assert_eq!(action(Some(&before), &ch), Action::Withdraw);
        assert_eq!(action(None, &change(&c, None, &after)), Action::Grant);
    }

    #[test]
    fn cookie_patterns_match_families() {
        assert!(cookie_matches("_ga_*", "_ga_ABC123"));
        assert!(cookie_matches("_ga", "_ga"));
        assert!(!cookie_matches("_ga", "_gat"));
    }

    #[test]
    fn domain_and_path_variants_cover_parents() {
        assert_eq!(
            domain_variants("www.shop.example.com"),
            [
                "",
                "www.shop.example.com",
                ".www.shop.example.com",
                "shop.example.com",
                ".shop.example.com",
                "example.com",
                ".example.com"
            ]
        );
        assert_eq!(domain_variants("127.0.0.1"), [""]);
        assert_eq!(path_variants("/a/b"), ["/", "/a", "/a/", "/a/b", "/a/b/"]);
    }
}
