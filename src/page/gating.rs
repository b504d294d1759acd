//! Gated content and the vendors' consent APIs (rule 3). The site marks
//! content with `data-category`; nothing of a category runs before that
//! category is granted, and `data-category="!id"` runs only once it is
//! refused. The page is changed by the loader's core (`page/apply.js`, put
//! into it), which watches for content inserted later too: the wasm
//! decides, and sends each decision to the core's `apply` function, given
//! to `init`. Blocked iframes' placeholders are the view's (`ui/view.js`,
//! `View::sync_frames`).

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

use crate::config::id_list;
use crate::consent::ConsentState;
use crate::page::signals::log_error;

#[wasm_bindgen(module = "/src/page/io.js")]
extern "C" {
    #[wasm_bindgen(js_name = tellCore)]
    fn tell_core(core: &JsValue, plan: &str, ids: Option<&str>, first: bool) -> bool;
}

/// What the loader's core hands the wasm at `init`: its `apply(plan, ids,
/// first)`, and the shell CSS (the reopen button's icon in it) the view
/// draws with. Undefined when the module runs without the core (its own
/// tests, a page that imports the glue itself): then nothing is released
/// and no vendor told.
#[derive(Clone)]
pub struct Core(pub JsValue);

impl Core {
    /// Tells Google Consent Mode and the Microsoft tags the consent of
    /// `state` (`plan`: `Config::vendors`, empty when none is on) and runs
    /// and loads every gated element it allows (none before a choice).
    /// `first` is the page's `default`, said before any gated tag can run;
    /// later calls are updates. Must be called with no borrow of the widget
    /// held: an inline script runs the moment it is inserted, and may call
    /// `window.consentry`.
    pub fn tell(&self, plan: &str, state: Option<&ConsentState>, first: bool) {
        let ids = state.map(|s| id_list(&s.granted));
        if !tell_core(&self.0, plan, ids.as_deref(), first) {
            log_error("consentry: the page could not be changed for the choice (the loader's apply threw)");
        }
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen::JsValue;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use crate::config::is_http_url;

    #[wasm_bindgen(module = "/src/ui/view.js")]
    extern "C" {
        fn fill(template: &str, values: &JsValue) -> String;
    }

    // The core's file, as a module: the wasm itself never imports it.
    #[wasm_bindgen(module = "/src/page/apply.js")]
    extern "C" {
        #[wasm_bindgen(js_name = srcAllowed)]
        fn frame_src_allowed(src: &str) -> bool;
        #[wasm_bindgen(js_name = releaseGated)]
        fn release(granted: Option<&str>);
    }

    fn release_gated(state: Option<&ConsentState>) {
        release(state.map(|s| id_list(&s.granted)).as_deref());
    }

    fn state(granted: &[&str]) -> ConsentState {
        ConsentState {
            revision: 1,
            granted: granted.iter().map(|s| (*s).to_owned()).collect(),
            given_at: 1,
            expires_at: 2,
            receipt_id: String::new(),
        }
    }

    fn gated(category: &str, flag: &str) {
        let doc = web_sys::window()
            .and_then(|w| w.document())
            .expect("document");
        let s = doc.create_element("script").expect("script");
        s.set_attribute("type", "text/plain").expect("type");
        s.set_attribute("data-category", category)
            .expect("category");
        let mut code = String::from("window.");
        code.push_str(flag);
        code.push_str(" = (window.");
        code.push_str(flag);
        code.push_str(" || 0) + 1;");
        s.set_text_content(Some(&code));
        doc.body()
            .expect("body")
            .append_child(&s)
            .expect("appended");
    }

    fn count(flag: &str) -> f64 {
        let w = web_sys::window().expect("window");
        js_sys::Reflect::get(&w, &JsValue::from_str(flag))
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    }

    #[wasm_bindgen_test]
    fn granted_scripts_run_once_and_refused_ones_never() {
        gated("stats", "statsRan");
        gated("ads", "adsRan");
        gated("!stats", "statsRefusedRan");
        release_gated(None);
        assert_eq!(
            count("statsRefusedRan"),
            0.0,
            "nothing runs before a choice"
        );
        release_gated(Some(&state(&["necessary"])));
        assert_eq!(
            (count("statsRan"), count("adsRan"), count("statsRefusedRan")),
            (0.0, 0.0, 1.0)
        );
        release_gated(Some(&state(&["necessary", "stats"])));
        release_gated(Some(&state(&["necessary", "stats"])));
        assert_eq!(
            (count("statsRan"), count("adsRan"), count("statsRefusedRan")),
            (1.0, 0.0, 1.0)
        );
    }

    #[wasm_bindgen_test]
    fn placeholder_texts_fill_known_names_and_keep_typos_visible() {
        let values = js_sys::JSON::parse(r#"{"provider":"VideoHost","category":"Marketing"}"#)
            .expect("JSON");
        assert_eq!(
            fill("{provider} needs {category}.", &values),
            "VideoHost needs Marketing."
        );
        assert_eq!(
            fill("{provder} { {constructor}", &values),
            "{provder} { {constructor}"
        );
        assert_eq!(fill("{a{provider}}", &values), "{aVideoHost}");
    }

    /// An embed's `data-src` passes the view's check exactly when it would
    /// pass the config's URL check, or is `./`/`../` relative.
    #[wasm_bindgen_test]
    fn an_embed_src_is_checked_as_the_config_checks_urls() {
        for src in [
            "https://video.example/embed/1",
            "HTTP://video.example",
            "/embed/video.html",
            "./video.html",
            "../video.html",
            "",
            "https://",
            "https:///x",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "data:text/html,hi",
            " https://video.example",
            "https://video.example/a b",
            "https://video.example/\u{7f}",
            "\u{a0}/embed",
            "video.html",
        ] {
            let rust = is_http_url(src) || src.starts_with("./") || src.starts_with("../");
            assert_eq!(frame_src_allowed(src), rust, "{src:?}");
        }
    }
}
