//! Consentry: a consent banner, a preferences dialog and form consent that
//! ask the way the GDPR wants it asked. Rust compiled to WebAssembly, put on
//! a page with one script tag:
//!
//! ```html
//! <script src="/consentry.js" data-config="/consentry.config.json" defer></script>
//! ```
//!
//! or driven from an ES module:
//!
//! ```js
//! import { init, isGranted } from 'consentry';
//! await init({ id: 'acme', privacyPolicyUrl: '/privacy', categories: [...] });
//! ```
//!
//! # Layout
//! - `config`: the site config, its defaults and its checks (pure)
//! - `checked`: what a checked config leaves for the loader's core, and the
//!   view model the JS view draws from (pure)
//! - `language`: which language a page gets, and reading the built-in
//!   language files `lang/<code>.json` (pure)
//! - `consent`: choices, the `consentry` cookie format, when to ask again (pure)
//! - `proof`: the notice, the receipt of a choice, its JWS, the retry policy (pure)
//! - `outbox`: a receipt's journal entry and every delivery decision (pure)
//! - `vendors`: what Google Consent Mode, Microsoft UET and Clarity are
//!   told, as one plan for `page/apply.js` (pure)
//! - `widget`: the one owned `Widget` state (browser only)
//! - `ui`: what the visitor sees: banner, preferences dialog, reopen button
//!   and embed placeholders (drawn by `ui/view.js`), form checkboxes
//!   (also in `ui/view.js`, their receipts in `ui/forms.rs`)
//! - `page`: cookies, gating (each choice sent to the loader's core, whose
//!   `page/apply.js` changes the page), events for the site, and the
//!   courier task that signs and delivers receipts (each with its small JS
//!   file for the browser calls)
//!
//! This file is the whole JS API; every export is documented here. On a
//! returning visitor's page the consent core (`pkg-config/core.js`, in the
//! loader and the npm module) answers `getConsent`, `isGranted` and `on`
//! itself and loads this module for anything else (`init`'s `adopt`). Some
//! calls are the core's alone, on every page: `acceptedService(id[,
//! category])`, `isGranted(id)` of a service the page's config names, of
//! that category when one is given; `validConsent()`; `getConfig()`, the
//! page's config frozen; `getUserPreferences()`, as vanilla-cookieconsent
//! names the choice; `eraseCookies(names | pattern, path?, domain?)`;
//! `loadScript(src, attributes?)`, with the nonce of the page's scripts and,
//! under Trusted Types, through the one policy `consentry`; and
//! `on('ready' | 'form', callback)`.

// The wasm links no std (see the panic handler below); the host build of
// the pure modules, their tests and the cdylib a host `cargo build` makes,
// keeps it.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;
#[cfg(all(test, target_arch = "wasm32"))]
extern crate std;

/// What std's prelude gives, for `no_std` (each module takes it whole).
#[allow(unused_imports)]
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}
use prelude::*;

pub mod checked;
pub mod config;
pub mod consent;
pub mod language;
pub mod outbox;
pub mod proof;
pub mod vendors;

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(target_arch = "wasm32")]
mod page;
#[cfg(target_arch = "wasm32")]
mod ui;
#[cfg(target_arch = "wasm32")]
mod widget;

#[cfg(target_arch = "wasm32")]
pub use web::*;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// A panic stops the module (the loader reports the error): without std's
/// handler, no panic message is formatted, which is what keeps `core::fmt`
/// out of the wasm. Off in the browser tests, whose harness brings std.
#[cfg(all(target_arch = "wasm32", feature = "panic-handler"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// What the visitor's clicks ask the widget to do. Every command but
/// opening and closing the dialog is a choice recorded as the visitor's, so
/// `ui/view.js` sends it only for a person's click (a trusted event).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    AcceptAll,
    RejectAll,
    /// The dialog's "Save choices", with the categories toggled on.
    SavePreferences(Vec<String>),
    OpenPreferences,
    ClosePreferences,
    /// Grant one category (an embed's "Allow and load").
    Grant(String),
}

#[cfg(target_arch = "wasm32")]
mod web {
    use core::cell::RefCell;

    use crate::prelude::*;

    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    use crate::config::Config;
    use crate::consent::{Choice, ConsentState, Method};
    use crate::language;
    use crate::page::signals::log_error;
    use crate::page::{cookies, gating, signals};
    use crate::widget::Widget;
    use crate::Command;

    /// The one widget of the page, and where it is in starting.
    enum Slot {
        Empty,
        /// `init` was called; the texts of the page's language are loading.
        Starting(Pending),
        Running(Widget),
    }

    /// A checked config waiting for its language file (`resume`).
    struct Pending {
        text: String,
        config: Config,
        code: String,
        file: &'static str,
        adopt: bool,
        /// The visitor's stored choice, when current, read once at `init`.
        state: Option<ConsentState>,
        core: gating::Core,
    }

    /// The page's one widget. Without std there is no `thread_local!`;
    /// wasm-bindgen's own lazy cell is what its glue keeps per-thread state
    /// in (Sync where wasm has no threads, which is this build: `atomics` is
    /// off), and wasm-bindgen is pinned in Cargo.toml.
    static WIDGET: wasm_bindgen::__rt::LazyCell<RefCell<Slot>> =
        wasm_bindgen::__rt::LazyCell::new(|| RefCell::new(Slot::Empty));

    const NOT_STARTED: &str = "consentry: not started yet: call init(config) first";

    /// Runs `f` on the widget. Never panics: before `init`, or if a site
    /// callback re-enters mid-update, it logs and returns `None`.
    fn with_widget<R>(f: impl FnOnce(&mut Widget) -> R) -> Option<R> {
        match WIDGET.try_borrow_mut() {
            Ok(mut guard) => {
                match &mut *guard {
                    Slot::Running(w) => Some(f(w)),
                    Slot::Starting(_) => {
                        log_error("consentry: still starting (loading its texts); the loader waits for it");
                        None
                    }
                    Slot::Empty => {
                        log_error(NOT_STARTED);
                        None
                    }
                }
            }
            Err(_) => {
                log_error(
                    "consentry: called while the widget was busy; try again from a setTimeout",
                );
                None
            }
        }
    }

    fn choose(choice: Choice, method: Method) {
        if let Some(outcome) = with_widget(|w| w.choose(&choice, method)) {
            outcome.run();
        }
    }

    /// Handles a UI event (see `Command`).
    pub(crate) fn command(cmd: Command) {
        match cmd {
            Command::AcceptAll => choose(Choice::AcceptAll, Method::AcceptAll),
            Command::RejectAll => choose(Choice::RejectAll, Method::RejectAll),
            Command::SavePreferences(ids) => choose(Choice::Only(ids), Method::SavePreferences),
            Command::OpenPreferences => {
                with_widget(|w| w.open_preferences());
            }
            Command::ClosePreferences => {
                with_widget(|w| w.close_preferences());
            }
            Command::Grant(id) => grant_one(id),
        }
    }

    /// Adds one category to what is already granted (an embed's "Allow and
    /// load").
    fn grant_one(id: String) {
        let ids = with_widget(|w| {
            let mut ids: Vec<String> = w.state().map(|s| s.granted.clone()).unwrap_or_default();
            ids.push(id);
            ids
        });
        if let Some(ids) = ids {
            choose(Choice::Only(ids), Method::Placeholder);
        }
    }

    /// A form's data is being sent: its receipt is written down now, and its
    /// id (with the visitor's key, once known) returned for the form's data.
    /// (`ui/view.js` tells the page with a `consentry:form` event.)
    pub(crate) fn form_submitted(
        selector: &str,
        purposes: &[(String, bool)],
    ) -> Option<(String, Option<String>)> {
        with_widget(|w| w.record_form(selector, purposes)).flatten()
    }

    /// A held form's receipt: settles once it is handed to the network.
    pub(crate) fn hand_over() -> Option<js_sys::Promise> {
        with_widget(|w| w.hand_over()).flatten()
    }

    /// Starts the widget with a site config: a plain object as in
    /// `consentry.config.json`, or that JSON as text. A bad config logs one
    /// console error naming the field, and nothing is shown: gated content
    /// stays blocked. Returns nothing when the widget is on the page at
    /// once; for a built-in language other than English, the code of the
    /// file `lang/<code>.json` it waits for: the loader fetches it (often
    /// already has, guessing from the page) and gives its text to `resume`.
    ///
    /// `adopt` and `core` are the loader's core's: it applied the
    /// visitor's stored choice on this page without the wasm, and hands
    /// over now (`adopt`); `core` is `{apply, shell}`, how it changes
    /// the page for a choice (`page/gating.rs`) and what the view draws the
    /// reopen button with. Without `core` (the glue imported on its own) the
    /// widget asks and records, but releases nothing and tells no vendor.
    #[wasm_bindgen]
    pub fn init(config: JsValue, adopt: Option<bool>, core: JsValue) -> Option<String> {
        let done = None;
        let empty = WIDGET.try_borrow().is_ok_and(|w| matches!(*w, Slot::Empty));
        if !empty {
            log_error("consentry: init was already called; call reset() to ask again");
            return done;
        }
        // One reader for every way in: the loader passes the JSON text as
        // written (so errors point into it), `init(object)` is stringified.
        let text = match config.as_string() {
            Some(t) => Some(t),
            None => js_sys::JSON::stringify(&config)
                .ok()
                .and_then(|s| s.as_string()),
        };
        let Some(text) = text.filter(|_| config.is_object() || config.is_string()) else {
            log_error("consentry: init(config): config must be an object or JSON text");
            return done;
        };
        let config = match Config::parse(&text) {
            Ok(c) => c,
            Err(e) => {
                log_error(&e.message());
                return done;
            }
        };
        let state = cookies::load_state().filter(|s| s.is_current(&config, signals::now_s()));
        // The vendors' `default`, before the widget waits for a language
        // file and before any gated tag runs; the loader's core has said it
        // already when it adopts.
        let core = gating::Core(core);
        if adopt != Some(true) {
            let plan = config.vendors.as_deref().unwrap_or_default();
            core.tell(plan, state.as_ref(), true);
        }
        let code = language::pick(
            config.forced_language.as_deref(),
            &signals::page_languages(),
            &config.default_language,
            &config.languages(),
        )
        .to_owned();
        match language::built_in_file(&code) {
            None => {
                start(text, config, &code, None, state, adopt == Some(true), core);
                done
            }
            Some(file) => {
                set_slot(Slot::Starting(Pending {
                    text,
                    config,
                    code,
                    file,
                    adopt: adopt == Some(true),
                    state,
                    core,
                }));
                Some(file.to_owned())
            }
        }
    }

    /// The page's language file that `init` named, fetched (its `text`, or
    /// why it could not be): the widget goes on the page.
    #[wasm_bindgen]
    pub fn resume(text: Option<String>, error: Option<String>) {
        let pending = WIDGET.try_borrow_mut().ok().and_then(|mut slot| {
            // Taken out: `start` puts the running widget in its place.
            match core::mem::replace(&mut *slot, Slot::Empty) {
                Slot::Starting(p) => Some(p),
                other => {
                    *slot = other;
                    None
                }
            }
        });
        let Some(p) = pending else {
            log_error("consentry: resume: no init is waiting for its texts");
            return;
        };
        let texts = built_in_texts(p.file, text, error);
        start(p.text, p.config, &p.code, texts, p.state, p.adopt, p.core);
    }

    /// A fetched language file read, or why not said on the console (the
    /// widget then speaks the site's default language: better a banner the
    /// visitor may not read than none they can answer).
    fn built_in_texts(
        file: &str,
        text: Option<String>,
        error: Option<String>,
    ) -> Option<crate::config::Texts> {
        let read = match (text, error) {
            (Some(text), _) => language::read_file(file, &text),
            (None, why) => Err(why.unwrap_or_default()),
        };
        match read {
            Ok(t) => Some(t),
            Err(why) => {
                log_error(&crate::config::concat(&[
                    "consentry: could not load the texts of \"",
                    file,
                    "\" (",
                    &why,
                    "); showing the default language",
                ]));
                None
            }
        }
    }

    fn set_slot(slot: Slot) {
        if let Ok(mut s) = WIDGET.try_borrow_mut() {
            *s = slot;
        }
    }

    /// Mounts the widget in `code` (its built-in `texts` loaded, when it
    /// has a file; without them, the default language).
    fn start(
        text: String,
        mut config: Config,
        code: &str,
        texts: Option<crate::config::Texts>,
        state: Option<ConsentState>,
        adopt: bool,
        core: gating::Core,
    ) {
        match texts {
            Some(t) => config.use_language(code, Some(t)),
            None if language::built_in_file(code).is_some() => {
                // The default language, unless it too needs a file: then
                // English, so the notice never names a language whose
                // texts were not shown.
                let default = config.default_language.clone();
                let fallback = match language::built_in_file(&default) {
                    Some(_) => language::ENGLISH,
                    None => &default,
                };
                config.use_language(fallback, None);
            }
            None => config.use_language(code, None),
        }
        match Widget::mount(config, state, adopt, core) {
            Ok((widget, outcome)) => {
                keep_checked(&text, widget.config());
                set_slot(Slot::Running(widget));
                outcome.run();
            }
            Err(reason) => {
                set_slot(Slot::Empty);
                log_error(&crate::config::concat(&["consentry: ", &reason]));
            }
        }
    }

    /// Switches the banner and the dialog to another language without a
    /// reload: a built-in one or one of the site's `translations`; the next
    /// receipt's notice is in its texts. For a built-in language with a file,
    /// returns the file's code and switches once called again with its
    /// `text` (the loader does both; `window.consentry`'s `setLanguage`
    /// returns a promise of the switch).
    #[wasm_bindgen(js_name = setLanguage)]
    pub fn set_language(code: &str, text: Option<String>) -> Option<String> {
        let found = match with_widget(|w| {
            language::serving(code, &w.config().languages()).map(str::to_owned)
        }) {
            None => return None,
            Some(Some(found)) => found,
            Some(None) => {
                log_error(&crate::config::concat(&[
                    "consentry: setLanguage(\"",
                    code,
                    "\"): no texts in this language; add them to the config's translations",
                ]));
                return None;
            }
        };
        let Some(file) = language::built_in_file(&found) else {
            with_widget(|w| w.set_language(&found, None));
            return None;
        };
        if text.is_none() {
            return Some(file.to_owned());
        }
        if let Some(texts) = built_in_texts(file, text, None) {
            with_widget(|w| w.set_language(&found, Some(texts)));
        }
        None
    }

    /// Leaves the checked config for the loader's core on the next pages
    /// (see `checked`). Only a config that mounted gets there.
    fn keep_checked(text: &str, config: &Config) {
        use crate::page::courier::{record_get, record_put, ENTRY, MIGRATED};
        let record = crate::checked::record(text, config, ENTRY, MIGRATED);
        // Most pages find it there already: no write to storage then.
        if !record.is_empty() && record_get(crate::checked::KEY).as_deref() != Some(&record) {
            record_put(crate::checked::KEY, &record);
        }
    }

    /// Shows the banner (first layer) again.
    #[wasm_bindgen]
    pub fn show() {
        with_widget(|w| w.show_banner());
    }

    /// Hides the banner without a choice (which is no consent: nothing is
    /// granted, and `show()` brings it back).
    #[wasm_bindgen]
    pub fn hide() {
        with_widget(|w| w.hide_banner());
    }

    /// Closes the preferences dialog without a choice.
    #[wasm_bindgen(js_name = hidePreferences)]
    pub fn hide_preferences() {
        with_widget(|w| w.close_preferences());
    }

    /// Opens the preferences dialog.
    #[wasm_bindgen(js_name = showPreferences)]
    pub fn show_preferences() {
        with_widget(|w| w.open_preferences());
    }

    /// Grants every category, as if the visitor clicked "Accept all".
    #[wasm_bindgen(js_name = acceptAll)]
    pub fn accept_all() {
        choose(Choice::AcceptAll, Method::Api);
    }

    /// Refuses every optional category (a withdrawal if any was granted).
    #[wasm_bindgen(js_name = rejectAll)]
    pub fn reject_all() {
        choose(Choice::RejectAll, Method::Api);
    }

    /// Grants exactly these category and service ids (a category: all its
    /// services); every other optional one is refused.
    #[wasm_bindgen(js_name = acceptCategories)]
    pub fn accept_categories(ids: JsValue) {
        let mut list = Vec::new();
        let strings = ids.dyn_ref::<js_sys::Array>().is_some_and(|a| {
            a.iter()
                .all(|v| v.as_string().map(|id| list.push(id)).is_some())
        });
        if !strings {
            log_error(
                "consentry: acceptCategories(ids): ids must be an array of category id strings",
            );
            return;
        }
        let ids = list;
        let unknown = with_widget(|w| {
            ids.iter()
                .find(|id| w.config().category(id).is_none())
                .cloned()
        });
        match unknown {
            None => {}
            Some(Some(id)) => {
                log_error(&crate::config::concat(&[
                    "consentry: acceptCategories: unknown category \"",
                    &id,
                    "\"",
                ]));
            }
            Some(None) => choose(Choice::Only(ids), Method::Api),
        }
    }

    /// The current consent: `{categories, revision, givenAt, expiresAt,
    /// receiptId}`, or `null` before the visitor chose.
    #[wasm_bindgen(js_name = getConsent)]
    pub fn get_consent() -> JsValue {
        with_widget(|w| signals::consent_object(w.state())).unwrap_or(JsValue::NULL)
    }

    /// Whether a category may run now.
    #[wasm_bindgen(js_name = isGranted)]
    pub fn is_granted(id: &str) -> bool {
        with_widget(|w| {
            // Strictly necessary is on from the start: it needs no consent.
            w.config().category(id).is_some_and(|c| c.necessary)
                || w.state().is_some_and(|s| s.is_granted(id))
        })
        .unwrap_or(false)
    }

    /// Calls `callback(detail)` on every change (`event` must be
    /// `"change"`). Returns an id for `off`; the loader wraps this so
    /// `on()` returns an unsubscribe function.
    #[wasm_bindgen]
    pub fn on(event: &str, callback: js_sys::Function) -> u32 {
        if event != "change" {
            log_error("consentry: on(event, callback): the only event is \"change\"");
            return 0;
        }
        with_widget(|_| signals::subscribe(&callback)).unwrap_or(0)
    }

    /// Removes a callback registered with `on`.
    #[wasm_bindgen]
    pub fn off(id: u32) {
        with_widget(|_| signals::unsubscribe(id));
    }

    /// Draws the placeholders of gated embeds the page inserted after load
    /// (the loader's core watches for them and calls this).
    #[wasm_bindgen(js_name = drawPlaceholders)]
    pub fn draw_placeholders() {
        with_widget(|w| w.sync_frames());
    }

    /// Forgets the visitor's choice and shows the banner again.
    #[wasm_bindgen]
    pub fn reset() {
        if let Some(outcome) = with_widget(|w| w.reset()) {
            outcome.run();
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) use web::{command, form_submitted, hand_over};
