//! Which language the widget speaks on this page, and the built-in texts of
//! each language. Pure, no `web_sys`.
//!
//! English is in the wasm (the `texts!` table in `config`); every other
//! built-in language is a file `src/lang/<code>.json` with exactly the
//! table's keys, which `cargo xtask dist` puts next to the widget as
//! `lang/<code>.json`. A page fetches only the file of the language it
//! shows (the host tests hold every file to the table).

#[allow(unused_imports)]
use crate::prelude::*;

use consentry_receipt::json::{self, Json};

use crate::config::{concat, Texts, TEXTS};

/// The languages with built-in texts. English needs no file.
pub const BUILT_IN: &[&str] = &[
    "en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "fi", "cs", "el", "ro", "hu", "ar",
    "he",
];

/// The language of the texts a config gives without saying which.
pub const ENGLISH: &str = "en";

/// A language tag as this widget compares them: lower case, `-` between
/// subtags (`pt_BR` and `pt-BR` are `pt-br`).
pub fn normalize(tag: &str) -> String {
    let mut out = String::new();
    for b in tag.trim().bytes() {
        out.push(match b {
            b'_' => '-',
            b => b.to_ascii_lowercase() as char,
        });
    }
    out
}

/// Whether `tag` looks like a BCP 47 language tag: a 2-3 letter language,
/// then subtags of 1-8 letters or digits.
pub fn is_tag(tag: &str) -> bool {
    let mut parts = crate::config::pieces(tag, b'-');
    let Some(first) = parts.next() else {
        return false;
    };
    (2..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The language subtag: `pt` of `pt-br`.
pub fn primary(tag: &str) -> &str {
    crate::config::cut(tag, b'-').map_or(tag, |(p, _)| p)
}

/// Right-to-left scripts among the languages a site may use.
pub fn is_rtl(tag: &str) -> bool {
    matches!(primary(tag), "ar" | "he" | "fa" | "ur" | "yi")
}

/// The code among `available` that serves `tag`: the tag itself, else its
/// language without region (`pt-BR` is served by `pt`).
pub fn serving<'a>(tag: &str, available: &[&'a str]) -> Option<&'a str> {
    let tag = normalize(tag);
    let find = |t: &str| available.iter().find(|a| **a == t).copied();
    find(&tag).or_else(|| find(primary(&tag)))
}

/// The language to show: the site's forced one, else the first of the
/// page's languages (`<html lang>`, then `navigator.languages`) that a
/// built-in file or the site's `translations` serve, else the default.
pub fn pick<'a>(
    forced: Option<&'a str>,
    page: &[String],
    default: &'a str,
    available: &[&'a str],
) -> &'a str {
    if let Some(f) = forced {
        return f;
    }
    page.iter()
        .find_map(|tag| serving(tag, available))
        .unwrap_or(default)
}

/// The built-in file a language's texts start from, if it has one:
/// `pt-br` starts from `pt`'s. English is in the wasm.
pub fn built_in_file(code: &str) -> Option<&'static str> {
    let found = serving(code, BUILT_IN)?;
    (found != ENGLISH).then_some(found)
}

/// Reads a built-in language file: an object with every key of the texts
/// table, each a string. The error names what is wrong, for the console.
pub fn read_file(code: &str, text: &str) -> Result<Texts, String> {
    let bad = |why: &str| Err(concat(&["lang/", code, ".json: ", why]));
    let Ok(Json::Obj(fields)) = json::parse(text) else {
        return bad("not a JSON object");
    };
    let mut texts = Texts::default();
    for (i, (key, _, _)) in TEXTS.iter().enumerate() {
        match fields.iter().find(|(k, _)| k == key) {
            Some((_, Json::Str(s))) => texts.set_index(i, s.clone()),
            _ => return Err(concat(&["lang/", code, ".json: no text \"", key, "\""])),
        }
    }
    Ok(texts)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn page(tags: &[&str]) -> Vec<String> {
        tags.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn the_page_language_wins_then_the_browser_then_the_default() {
        let available = ["en", "de", "fr", "pt"];
        assert_eq!(pick(None, &page(&["de"]), "en", &available), "de");
        assert_eq!(pick(None, &page(&["xx", "fr-CA"]), "en", &available), "fr");
        assert_eq!(pick(None, &page(&["pt_BR"]), "en", &available), "pt");
        assert_eq!(pick(None, &page(&["ja", "zh"]), "de", &available), "de");
        assert_eq!(pick(None, &page(&[]), "en", &available), "en");
        assert_eq!(pick(Some("fr"), &page(&["de"]), "en", &available), "fr");
    }

    #[test]
    fn a_regional_translation_of_the_site_is_preferred_to_the_base_language() {
        assert_eq!(serving("pt-BR", &["pt", "pt-br"]), Some("pt-br"));
        assert_eq!(serving("PT", &["pt", "pt-br"]), Some("pt"));
        assert_eq!(built_in_file("pt-br"), Some("pt"));
        assert_eq!(built_in_file("en-GB"), None);
        assert_eq!(built_in_file("ga"), None);
    }

    #[test]
    fn tags_and_scripts() {
        for good in ["en", "de-AT", "zh-Hant-TW", "es-419", "gsw"] {
            assert!(is_tag(good), "{good}");
        }
        for bad in ["", "e", "english", "de_", "de--at", "1a", "de-abcdefghi"] {
            assert!(!is_tag(bad), "{bad}");
        }
        assert!(is_rtl("ar") && is_rtl("he-IL") && !is_rtl("de"));
    }

    /// Every built-in file has exactly the table's keys, in its order, with
    /// the placeholders of the English text and nothing empty.
    #[test]
    fn every_built_in_language_file_matches_the_texts_table() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lang");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("src/lang")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".json"))
            .collect();
        files.sort();
        let mut expected: Vec<String> = BUILT_IN
            .iter()
            .filter(|c| **c != ENGLISH)
            .map(|c| concat(&[c, ".json"]))
            .collect();
        expected.sort();
        assert_eq!(files, expected, "src/lang/ vs BUILT_IN");
        let placeholders = |s: &str| -> Vec<String> {
            let mut found: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_owned()))
                .collect();
            found.sort();
            found
        };
        for file in files {
            let text = std::fs::read_to_string(dir.join(&file)).expect("read");
            let code = file.trim_end_matches(".json");
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            let keys: Vec<&str> = v
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            let table: Vec<&str> = TEXTS.iter().map(|(k, _, _)| *k).collect();
            let mut sorted_keys = keys.clone();
            sorted_keys.sort_unstable();
            let mut sorted_table = table.clone();
            sorted_table.sort_unstable();
            assert_eq!(sorted_keys, sorted_table, "{file}: keys");
            let texts = read_file(code, &text).expect("readable");
            for (key, _, english) in TEXTS {
                let t = texts.get(key).expect("key");
                assert!(!t.trim().is_empty(), "{file}: {key} is empty");
                assert_eq!(placeholders(t), placeholders(english), "{file}: {key}");
            }
        }
    }
}
