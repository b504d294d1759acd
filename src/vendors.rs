//! What the vendors' own consent APIs are told: Google Consent Mode v2,
//! Microsoft UET and Microsoft Clarity. Read from the config
//! (`consentMode`, `microsoft`) and turned into one plan for the page, the
//! same for the wasm and the loader's core (which keeps it in the checked
//! record, `checked.rs`): `src/page/apply.js` reads it against the granted
//! categories and makes the calls. Pure, no `web_sys`.
//!
//! ```text
//! {"gtag":{"ad_storage":["marketing"],…,"functionality_storage":false,"security_storage":true},
//!  "region":["ES"],"wait":500,"set":{"ads_data_redaction":true},"advanced":true,
//!  "uet":{"ad_storage":["marketing"]},
//!  "clarity":{"ad_Storage":["marketing"],"analytics_Storage":["analytics"]}}
//! ```
//!
//! A type is `true` (always granted: strictly necessary), `false` (no
//! category of this site grants it) or the categories that must all be
//! granted for it. `gtag` is absent when the site turned Consent Mode off;
//! `uet` and `clarity` are present only when the site turned them on.

#[allow(unused_imports)]
use crate::prelude::*;

use consentry_receipt::json::{type_error, Fields, Json};

use crate::config::{push_num, Category, ConfigError};

/// Google Consent Mode v2's seven types, in Google's order.
pub const CONSENT_TYPES: [&str; 7] = [
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
];

/// How long Google's tags wait for an update after a `default` that has no
/// choice in it yet (ms), as Google's examples use.
const DEFAULT_WAIT_MS: u32 = 500;

/// Reads `consentMode` (`false`, `true` or an object) and `microsoft` from
/// the config's top level, checked against its `categories`, and returns
/// the plan (see above) as JSON text; `None` when no vendor is told.
/// Checked and written in one pass: the wasm pays for each list it keeps.
pub fn read(o: &Fields<'_>, categories: &[Category]) -> Result<Option<String>, ConfigError> {
    let mut google = true;
    let mut c = None;
    match o.get("consentMode") {
        None | Some(Json::Bool(true)) => {}
        Some(Json::Bool(false)) => google = false,
        Some(Json::Obj(_)) => {
            c = o.obj(
                "consentMode",
                &[
                    "mode",
                    "map",
                    "region",
                    "waitForUpdate",
                    "adsDataRedaction",
                    "urlPassthrough",
                ],
            )?
        }
        Some(other) => {
            return Err(type_error(o.path("consentMode"), "false or an object", other).into())
        }
    }
    let (uet, clarity) = match o.obj("microsoft", &["uet", "clarity"])? {
        Some(m) => (
            m.bool("uet")?.unwrap_or(false),
            m.bool("clarity")?.unwrap_or(false),
        ),
        None => (false, false),
    };
    if !google && !uet && !clarity {
        return Ok(None);
    }
    let map = match &c {
        Some(c) => c.obj("map", &CONSENT_TYPES)?,
        None => None,
    };
    let plan = Plan {
        map: map.as_ref(),
        categories,
    };
    let mut out = String::from("{");
    if google {
        plan.types(&mut out, "gtag", &CONSENT_TYPES.map(|t| (t, t)))?;
        let (mut wait, mut region, mut advanced) = (DEFAULT_WAIT_MS, &[][..], false);
        let (mut redact, mut passthrough) = (false, false);
        if let Some(c) = &c {
            advanced = match c.str("mode")?.as_deref() {
                None | Some("basic") => false,
                Some("advanced") => true,
                Some(_) => {
                    return Err(ConfigError::at(
                        c.path("mode"),
                        "must be \"basic\" or \"advanced\"",
                    ))
                }
            };
            region = c.arr("region")?;
            wait = c.u32("waitForUpdate")?.unwrap_or(DEFAULT_WAIT_MS);
            redact = c.bool("adsDataRedaction")?.unwrap_or(false);
            passthrough = c.bool("urlPassthrough")?.unwrap_or(false);
        }
        out.push_str(",\"wait\":");
        push_num(&mut out, u64::from(wait));
        for (i, r) in region.iter().enumerate() {
            let Some(code) = r.as_str().filter(|code| is_region(code)) else {
                let mut at = String::from("consentMode");
                at.push_str(".region[");
                push_num(&mut at, i as u64);
                at.push(']');
                return Err(ConfigError::at(
                    at,
                    "must be an ISO 3166 region code such as \"ES\" or \"US-CA\"",
                ));
            };
            out.push_str(if i == 0 { ",\"region\":[\"" } else { ",\"" });
            // Checked above: a region code needs no escaping.
            out.push_str(code);
            out.push('"');
            if i + 1 == region.len() {
                out.push(']');
            }
        }
        if redact || passthrough {
            out.push_str(",\"set\":{");
            if redact {
                out.push_str("\"ads_data_redaction\":true");
            }
            if passthrough {
                out.push_str(if redact { "," } else { "" });
                out.push_str("\"url_passthrough\":true");
            }
            out.push('}');
        }
        if advanced {
            out.push_str(",\"advanced\":true");
        }
    }
    if uet {
        plan.types(&mut out, "uet", &[("ad_storage", "ad_storage")])?;
    }
    if clarity {
        plan.types(
            &mut out,
            "clarity",
            &[
                ("ad_Storage", "ad_storage"),
                ("analytics_Storage", "analytics_storage"),
            ],
        )?;
    }
    out.push('}');
    Ok(Some(out))
}

/// What the plan's grants are read from.
struct Plan<'a> {
    /// `consentMode.map`, keys already checked to be Consent Mode types.
    map: Option<&'a Fields<'a>>,
    categories: &'a [Category],
}

impl Plan<'_> {
    fn necessary(&self, id: &str) -> Option<bool> {
        self.categories
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.necessary)
    }

    /// `"name":{"as_named":<grant>,…}`.
    fn types(
        &self,
        out: &mut String,
        name: &str,
        types: &[(&str, &str)],
    ) -> Result<(), ConfigError> {
        out.push_str(if out.len() > 1 { ",\"" } else { "\"" });
        out.push_str(name);
        out.push_str("\":{");
        for (i, (as_named, t)) in types.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(as_named);
            out.push_str("\":");
            self.grant(out, t)?;
        }
        out.push('}');
        Ok(())
    }

    /// What grants `t`, as `true` / `false` / `["category",…]`: the site's
    /// map, else the default one (analytics → analytics_storage, marketing
    /// → the three ad types, functional or preferences → functionality and
    /// personalization; security_storage is strictly necessary). A
    /// necessary category is always granted, so it asks nothing.
    fn grant(&self, out: &mut String, t: &str) -> Result<(), ConfigError> {
        let mut ids: Vec<&str> = Vec::new();
        match self.map.and_then(|m| m.get(t)) {
            Some(list) => {
                let at = || {
                    let mut at = String::from("consentMode.map.");
                    at.push_str(t);
                    at
                };
                let Json::Arr(items) = list else {
                    return Err(type_error(at(), "an array of category ids", list).into());
                };
                if items.is_empty() {
                    return Err(ConfigError::at(at(), "must name at least one category"));
                }
                for (i, id) in items.iter().enumerate() {
                    match id.as_str().filter(|id| self.necessary(id).is_some()) {
                        Some(id) => ids.push(id),
                        None => {
                            let mut at = at();
                            at.push('[');
                            push_num(&mut at, i as u64);
                            at.push(']');
                            return Err(ConfigError::at(at, "names no category of this config"));
                        }
                    }
                }
            }
            None => {
                let default: &[&str] = match t {
                    "security_storage" => &[],
                    "analytics_storage" => &["analytics"],
                    "ad_storage" | "ad_user_data" | "ad_personalization" => &["marketing"],
                    _ => &["functional", "preferences"],
                };
                match default.iter().find(|id| self.necessary(id).is_some()) {
                    Some(id) => ids.push(id),
                    None if default.is_empty() => {}
                    None => {
                        out.push_str("false");
                        return Ok(());
                    }
                }
            }
        }
        ids.retain(|id| self.necessary(id) == Some(false));
        if ids.is_empty() {
            out.push_str("true");
            return Ok(());
        }
        for (i, id) in ids.iter().enumerate() {
            out.push(if i == 0 { '[' } else { ',' });
            // Category ids were checked: nothing in them needs escaping.
            out.push('"');
            out.push_str(id);
            out.push('"');
        }
        out.push(']');
        Ok(())
    }
}

/// `ES`, `US-CA`: an ISO 3166-1 alpha-2 code, optionally with an ISO 3166-2
/// subdivision, as Google's `region` takes them.
fn is_region(code: &str) -> bool {
    let b = code.as_bytes();
    let country = b.len() >= 2 && b[..2].iter().all(u8::is_ascii_uppercase);
    let rest = &b[2.min(b.len())..];
    country
        && (rest.is_empty()
            || (rest[0] == b'-'
                && (2..=4).contains(&rest.len())
                && rest[1..]
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn plan_of(extra: &str, categories: &str) -> serde_json::Value {
        let mut text = String::from(r#"{"id":"a","privacyPolicyUrl":"/p","categories":"#);
        text.push_str(categories);
        text.push_str(extra);
        text.push('}');
        let config = Config::parse(&text).expect("valid");
        match &config.vendors {
            Some(p) => serde_json::from_str(p).expect("JSON"),
            None => serde_json::Value::Null,
        }
    }

    const USUAL: &str = r#"[{"id":"necessary","title":"N","necessary":true},
        {"id":"analytics","title":"A"},{"id":"marketing","title":"M"}]"#;

    #[test]
    fn the_default_map_follows_the_usual_category_ids() {
        assert_eq!(
            plan_of("", USUAL),
            serde_json::json!({"gtag": {
                "ad_storage": ["marketing"], "ad_user_data": ["marketing"],
                "ad_personalization": ["marketing"], "analytics_storage": ["analytics"],
                "functionality_storage": false, "personalization_storage": false,
                "security_storage": true}, "wait": 500})
        );
        let with_functional = plan_of(
            "",
            r#"[{"id":"preferences","title":"P"},{"id":"functional","title":"F"}]"#,
        );
        assert_eq!(
            with_functional["gtag"]["functionality_storage"],
            serde_json::json!(["functional"])
        );
        assert_eq!(with_functional["gtag"]["ad_storage"], false);
    }

    #[test]
    fn a_site_map_wins_and_necessary_categories_ask_nothing() {
        let p = plan_of(
            r#","consentMode":{"mode":"advanced","map":{"analytics_storage":["analytics","marketing"],
               "functionality_storage":["necessary"]},"region":["ES","US-CA"],"waitForUpdate":0,
               "adsDataRedaction":true,"urlPassthrough":true},"microsoft":{"uet":true,"clarity":true}"#,
            USUAL,
        );
        assert_eq!(
            p["gtag"]["analytics_storage"],
            serde_json::json!(["analytics", "marketing"])
        );
        assert_eq!(p["gtag"]["functionality_storage"], true);
        assert_eq!(p["region"], serde_json::json!(["ES", "US-CA"]));
        assert_eq!(p["wait"], 0);
        assert_eq!(
            p["set"],
            serde_json::json!({"ads_data_redaction": true, "url_passthrough": true})
        );
        assert_eq!(p["advanced"], true);
        assert_eq!(p["uet"], serde_json::json!({"ad_storage": ["marketing"]}));
        assert_eq!(
            p["clarity"],
            serde_json::json!({"ad_Storage": ["marketing"],
                "analytics_Storage": ["analytics", "marketing"]})
        );
    }

    #[test]
    fn consent_mode_off_leaves_only_what_microsoft_needs() {
        assert_eq!(
            plan_of(r#","consentMode":false"#, USUAL),
            serde_json::Value::Null
        );
        let p = plan_of(
            r#","consentMode":false,"microsoft":{"clarity":true}"#,
            USUAL,
        );
        assert_eq!(
            p,
            serde_json::json!({"clarity": {"ad_Storage": ["marketing"],
                "analytics_Storage": ["analytics"]}})
        );
    }

    #[test]
    fn bad_consent_mode_settings_name_the_field() {
        for (extra, path) in [
            (r#","consentMode":"yes""#, "consentMode"),
            (r#","consentMode":{"mode":"full"}"#, "consentMode.mode"),
            (
                r#","consentMode":{"map":{"ads_storage":["marketing"]}}"#,
                "consentMode.map.ads_storage",
            ),
            (
                r#","consentMode":{"map":{"ad_storage":[]}}"#,
                "consentMode.map.ad_storage",
            ),
            (
                r#","consentMode":{"map":{"ad_storage":["ads"]}}"#,
                "consentMode.map.ad_storage[0]",
            ),
            (
                r#","consentMode":{"region":["es"]}"#,
                "consentMode.region[0]",
            ),
            (
                r#","consentMode":{"waitForUpdate":-1}"#,
                "consentMode.waitForUpdate",
            ),
            (r#","consentMode":{"colour":1}"#, "consentMode.colour"),
            (r#","microsoft":{"uet":"yes"}"#, "microsoft.uet"),
        ] {
            let mut text = String::from(r#"{"id":"a","privacyPolicyUrl":"/p","categories":"#);
            text.push_str(USUAL);
            text.push_str(extra);
            text.push('}');
            let e = Config::parse(&text).expect_err(extra);
            assert_eq!(e.path, path, "{extra}: {}", e.message());
        }
    }

    #[test]
    fn region_codes_are_iso_3166() {
        for ok in ["ES", "US-CA", "GB-ENG", "FR-75"] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in ["", "E", "es", "ESP", "US-", "US-CALIF", "US_CA"] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}
