//! `document.cookie`: reading the `consentry` cookie, writing it, and
//! deleting the cookies of refused categories. Any failure (sandboxed
//! iframe, cookies disabled) means "no stored consent", never a crash.

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

use crate::config::{cut, pieces, push_num, Config};
use crate::consent::{cookie_matches, domain_variants, path_variants, ConsentState, COOKIE_NAME};

#[wasm_bindgen(module = "/src/page/io.js")]
extern "C" {
    /// Every `name=value` pair the page can see.
    #[wasm_bindgen(js_name = cookies)]
    fn read_all() -> String;
    #[wasm_bindgen(js_name = setCookie)]
    fn write(line: &str);
}

pub fn load_state() -> Option<ConsentState> {
    pieces(&read_all(), b';').find_map(|pair| {
        let (k, v) = cut(pair.trim(), b'=')?;
        if k != COOKIE_NAME {
            return None;
        }
        let decoded = js_sys::decode_uri_component(v).ok()?.as_string()?;
        ConsentState::decode(&decoded)
    })
}

pub fn save_state(config: &Config, state: &ConsentState, now: u64) {
    let mut line = String::from(COOKIE_NAME);
    line.push('=');
    // Every byte of `encode()` is cookie-safe already; no escaping needed.
    line.push_str(&state.encode());
    line.push_str(";path=");
    line.push_str(config.cookie.path.as_deref().unwrap_or("/"));
    if let Some(domain) = &config.cookie.domain {
        line.push_str(";domain=");
        line.push_str(domain);
    }
    line.push_str(";max-age=");
    push_num(&mut line, state.expires_at.saturating_sub(now));
    line.push_str(";samesite=lax");
    if crate::page::signals::page_facts().https {
        line.push_str(";secure");
    }
    write(&line);
}

pub fn forget_state(config: &Config) {
    let mut line = String::from(COOKIE_NAME);
    line.push_str("=;max-age=0;path=");
    line.push_str(config.cookie.path.as_deref().unwrap_or("/"));
    if let Some(domain) = &config.cookie.domain {
        line.push_str(";domain=");
        line.push_str(domain);
    }
    write(&line);
}

/// Deletes every cookie the page can see that the given categories disclose.
/// A cookie is deleted only with the exact Domain and Path it was set with,
/// which the page cannot read, so every variant is tried.
pub fn clear_categories(config: &Config, categories: &[String]) {
    let mut patterns: Vec<&str> = Vec::new();
    for c in &config.categories {
        if !c.necessary && categories.contains(&c.id) {
            for k in &c.cookies {
                patterns.push(&k.name);
            }
        }
    }
    if patterns.is_empty() {
        return;
    }
    let all = read_all();
    let mut names: Vec<&str> = Vec::new();
    for pair in pieces(&all, b';') {
        if let Some((n, _)) = cut(pair.trim(), b'=') {
            if n != COOKIE_NAME && patterns.iter().any(|p| cookie_matches(p, n)) {
                names.push(n);
            }
        }
    }
    if names.is_empty() {
        return;
    }
    let page = crate::page::signals::page_facts();
    let domains = domain_variants(&page.host);
    let paths = path_variants(&page.path);
    for name in names {
        for d in &domains {
            for p in &paths {
                let mut line = String::from(name);
                line.push_str("=;expires=Thu, 01 Jan 1970 00:00:00 GMT;max-age=0;path=");
                line.push_str(p);
                if !d.is_empty() {
                    line.push_str(";domain=");
                    line.push_str(d);
                }
                write(&line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use crate::consent::{resolve, Choice};

    fn config() -> Config {
        Config::parse(
            r#"{"id":"t","privacyPolicyUrl":"/p","categories":[
                {"id":"necessary","title":"N","necessary":true,
                 "cookies":[{"name":"session","provider":"x","purpose":"x","duration":"x"}]},
                {"id":"analytics","title":"A",
                 "cookies":[{"name":"_ga_*","provider":"x","purpose":"x","duration":"x"}]}]}"#,
        )
        .expect("valid")
    }

    fn set(line: &str) {
        write(line);
    }

    fn names() -> String {
        read_all()
    }

    #[wasm_bindgen_test]
    fn the_consent_cookie_round_trips_through_the_browser() {
        let c = config();
        let state = resolve(&c, &Choice::AcceptAll, false, 1_763_900_000);
        save_state(&c, &state, 1_763_900_000);
        assert_eq!(load_state(), Some(state));
        forget_state(&c);
        assert_eq!(load_state(), None);
    }

    #[wasm_bindgen_test]
    fn refusing_a_category_deletes_its_cookies_on_every_path_but_spares_others() {
        set("_ga_ONE=1;path=/");
        let mut here = String::from("_ga_TWO=2;path=");
        let path = web_sys::window()
            .expect("window")
            .location()
            .pathname()
            .expect("path");
        here.push_str(&path);
        set(&here);
        set("session=keep;path=/");
        assert!(names().contains("_ga_ONE") && names().contains("_ga_TWO"));
        clear_categories(&config(), &["analytics".to_owned()]);
        let left = names();
        assert!(!left.contains("_ga_"), "left: {left}");
        assert!(
            left.contains("session=keep"),
            "a necessary cookie was deleted: {left}"
        );
        set("session=;max-age=0;path=/");
    }

    #[wasm_bindgen_test]
    fn a_garbled_consent_cookie_means_no_stored_consent() {
        set("consentry=%E0%A4%A;path=/");
        assert_eq!(load_state(), None);
        set("consentry=v=1&r=1;path=/");
        assert_eq!(load_state(), None);
        set("consentry=;max-age=0;path=/");
    }
}
