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
//! - `consent`: choices, the `consentry` cookie format, when to ask again (pure)
//! - `proof`: the notice, the receipt of a choice, its JWS, the retry policy (pure)
//! - `outbox`: a receipt's journal entry and every delivery decision (pure)
//! - `widget`: the one owned `Widget` state (browser only)
//! - `ui`: what the visitor sees: banner, preferences dialog, reopen button
//!   and embed placeholders (drawn by `ui/view.js`), form checkboxes
//!   (also in `ui/view.js`, their receipts in `ui/forms.rs`)
//! - `page`: cookies, script gating, events for the site, and the courier
//!   task that signs and delivers receipts (each with its small JS file for
//!   the browser calls)
//!
//! This file is the whole JS API; every export is documented here. On a
//! returning visitor's page the consent core (`pkg-config/core.js`, in the
//! loader and the npm module) answers `getConsent`, `isGranted` and `on`
//! itself and loads this module for anything else (`init`'s `adopt`).

pub mod checked;
pub mod config;
pub mod consent;
pub mod outbox;
pub mod proof;

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
    use std::cell::RefCell;

    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    use crate::config::Config;
    use crate::consent::{Choice, Method};
    use crate::page::signals;
    use crate::page::signals::log_error;
    use crate::widget::Widget;
    use crate::Command;

    thread_local! {
        static WIDGET: RefCell<Option<Widget>> = const { RefCell::new(None) };
    }

    const NOT_STARTED: &str = "consentry: not started yet: call init(config) first";

    /// Runs `f` on the widget. Never panics: before `init`, or if a site
    /// callback re-enters mid-update, it logs and returns `None`.
    fn with_widget<R>(f: impl FnOnce(&mut Widget) -> R) -> Option<R> {
        // `try_with`, not `with`: the thread-local is never gone while the
        // page runs, and `with`'s panic path costs bytes in the wasm.
        WIDGET
            .try_with(|cell| match cell.try_borrow_mut() {
                Ok(mut guard) => match guard.as_mut() {
                    Some(w) => Some(f(w)),
                    None => {
                        log_error(NOT_STARTED);
                        None
                    }
                },
                Err(_) => {
                    log_error(
                        "consentry: called while the widget was busy; try again from a setTimeout",
                    );
                    None
                }
            })
            .ok()
            .flatten()
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

    /// Adds one category to what is already granted.
    fn grant_one(id: String) {
        let ids = with_widget(|w| {
            let mut ids: Vec<String> = w.state().map(|s| s.granted.clone()).unwrap_or_default();
            ids.push(id);
            ids
        });
        if let Some(ids) = ids {
            choose(Choice::Only(ids), Method::Api);
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
    /// `consentry.config.json`, or that JSON as text. A bad config logs one console error naming
    /// the field, and nothing is shown: gated content stays blocked.
    ///
    /// `adopt` is the classic loader's: its core applied the visitor's
    /// stored choice on this page without the wasm, and hands over now.
    #[wasm_bindgen]
    pub fn init(config: JsValue, adopt: Option<bool>) {
        let started = WIDGET
            .try_with(|cell| cell.try_borrow().map(|w| w.is_some()).unwrap_or(true))
            .unwrap_or(true);
        if started {
            log_error("consentry: init was already called; call reset() to ask again");
            return;
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
            return;
        };
        let config = match Config::parse(&text) {
            Ok(c) => c,
            Err(e) => {
                log_error(&e.message());
                return;
            }
        };
        match Widget::mount(config, adopt == Some(true)) {
            Ok((widget, outcome)) => {
                keep_checked(&text, widget.config());
                let _ = WIDGET.try_with(|cell| {
                    if let Ok(mut slot) = cell.try_borrow_mut() {
                        *slot = Some(widget);
                    }
                });
                outcome.run();
            }
            Err(reason) => log_error(&crate::config::concat(&["consentry: ", &reason])),
        }
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

    /// Grants exactly these category ids; every other optional one is refused.
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

    /// Forgets the visitor's choice and shows the banner again.
    #[wasm_bindgen]
    pub fn reset() {
        with_widget(|w| w.reset());
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) use web::{command, form_submitted, hand_over};
