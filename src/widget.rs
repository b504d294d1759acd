//! The one `Widget` value: the checked config, the visitor's consent state,
//! and everything the widget has put on the page. `lib.rs` keeps it behind a
//! single static cell and every JS export and UI event goes through it.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::config::Config;
use crate::consent::{self, Choice, ConsentState, Method};
use crate::page::courier::{Msg, Receipts};
use crate::page::{cookies, gating, signals};
use crate::proof;
use crate::ui::{forms, View};
use consentry_receipt::Receipt;

pub struct Widget {
    config: Config,
    state: Option<ConsentState>,
    /// `navigator.globalPrivacyControl`: `None` when the browser has none.
    gpc: Option<bool>,
    view: View,
    _forms: forms::Forms,
    /// Signed receipts, when the config names an `endpoint`.
    receipts: Option<Receipts>,
    /// What the vendors' consent APIs are told (`Config::vendors`; empty
    /// when none is on).
    vendors: String,
    /// Where each choice goes to change the page: the loader's core.
    core: gating::Core,
}

/// The event a choice is told with; its callbacks hear it too.
const CHANGE: &str = "consentry:change";

/// What must happen after the widget is released: running gated scripts,
/// events and site callbacks can all call back into `window.consentry`.
pub struct Outcome {
    state: Option<ConsentState>,
    /// `None` when the loader's core already told the page (see `mount`).
    event: Option<&'static str>,
    /// The event's detail, as JSON (`signals::consent_json`).
    detail: String,
    /// The page is changed (a choice, a withdrawal, a reset): the vendors
    /// hear an update and gated content is released.
    update: Option<(gating::Core, String)>,
}

impl Outcome {
    pub fn run(self) {
        if let Some((core, plan)) = &self.update {
            core.tell(plan, self.state.as_ref(), false);
        }
        if let Some(event) = self.event {
            signals::announce(event, &self.detail, event == CHANGE);
        }
    }
}

impl Widget {
    /// Puts the widget on the page. A stored, current choice (`state`, read
    /// at `init`) is applied
    /// silently; otherwise the banner asks. `adopted`: the loader's core has
    /// applied the stored choice on this page already and said `ready`, and
    /// hands the page over to the widget now (the visitor or the site asked
    /// for more than the core does), so `ready` is not said twice.
    pub fn mount(
        config: Config,
        state: Option<ConsentState>,
        adopted: bool,
        core: gating::Core,
    ) -> Result<(Widget, Outcome), String> {
        let view = View::mount(&config, &core.0)?;
        if state.is_none() {
            // Expired or never given: optional cookies left from before have
            // no consent behind them.
            clear_optional_cookies(&config);
        }
        let forms_attached = forms::Forms::new();
        for (i, spec) in config.forms.iter().enumerate() {
            if let Err(reason) = forms_attached.attach(&config, i, spec) {
                let mut path = String::from("forms[");
                crate::config::push_num(&mut path, i as u64);
                path.push_str("].selector");
                signals::log_error(&crate::config::concat(&[
                    "consentry: config.",
                    &path,
                    ": ",
                    &reason,
                ]));
            }
        }
        let last_id = state
            .as_ref()
            .map(|s| s.receipt_id.clone())
            .unwrap_or_default();
        let receipts = config.endpoint.as_deref().map(|e| {
            let notice = proof::notice(&config).canonical().unwrap_or_default();
            let r = Receipts::start(&config.id, e, notice, &last_id);
            // Receipts left unsigned or unsent by an earlier page go out now.
            r.send(Msg::Wake);
            if !config.forms.is_empty() {
                r.send(Msg::Prepare);
            }
            r
        });
        let w = Widget {
            receipts,
            vendors: config.vendors.clone().unwrap_or_default(),
            core,
            gpc: signals::page_facts().gpc,
            config,
            state,
            view,
            _forms: forms_attached,
        };
        if w.state.is_some() {
            w.view.show_reopen();
        } else {
            w.show_banner();
        }
        w.sync_frames();
        let outcome = Outcome {
            state: w.state.clone(),
            event: (!adopted).then_some("consentry:ready"),
            detail: signals::consent_json(w.state.as_ref(), None),
            // `init` has told the page already.
            update: None,
        };
        Ok((w, outcome))
    }

    pub fn state(&self) -> Option<&ConsentState> {
        self.state.as_ref()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the banner and the dialog say the opt-out was honoured (as
    /// California requires): the browser sends Global Privacy Control and
    /// the config has categories it refuses.
    fn gpc_honoured(&self) -> bool {
        self.gpc == Some(true) && self.config.categories.iter().any(|c| c.gpc)
    }

    pub fn show_banner(&self) {
        self.view.show_banner(self.gpc_honoured());
    }

    pub fn hide_banner(&self) {
        self.view.hide_banner();
    }

    pub fn open_preferences(&self) {
        let granted = self.state.as_ref().map_or(&[][..], |s| &s.granted[..]);
        let latest = self.receipts.as_ref().and_then(Receipts::latest);
        self.view
            .open_preferences(granted, latest.as_ref(), self.gpc_honoured());
    }

    pub fn sync_frames(&self) {
        let granted = self.state.as_ref().map_or(&[][..], |s| &s.granted[..]);
        self.view.sync_frames(granted);
    }

    /// Speaks `code` from now on (`setLanguage`): what is shown is drawn
    /// again, and the next receipts' notice is of these texts.
    pub fn set_language(&mut self, code: &str, built_in: Option<crate::config::Texts>) {
        self.config.use_language(code, built_in);
        if self.view.retext(&self.config) {
            self.view.close_preferences(false);
            self.open_preferences();
        }
        if let Some(r) = self.receipts.as_mut() {
            r.notice = proof::notice(&self.config).canonical().unwrap_or_default();
        }
    }

    pub fn close_preferences(&self) {
        self.view.close_preferences(true);
    }

    /// Records a choice: cookie, page clean-up, UI, and the outcome to run.
    pub fn choose(&mut self, choice: &Choice, method: Method) -> Outcome {
        let now = signals::now_s();
        let mut next = consent::resolve(&self.config, choice, self.gpc == Some(true), now);
        let change = consent::change(&self.config, self.state.as_ref(), &next);
        let action = consent::action(self.state.as_ref(), &change);
        if let Some(id) = self.new_receipt_id() {
            next.receipt_id = id;
            self.record(&next, action, method);
        }
        cookies::save_state(&self.config, &next, now);
        cookies::clear_categories(&self.config, &change.newly_refused);
        self.state = Some(next);
        self.view.hide_banner();
        // Before closing the dialog: focus falls back to the reopen button.
        self.view.show_reopen();
        self.view.close_preferences(true);
        self.sync_frames();

        let detail = signals::ChangeDetail {
            action: action.as_str(),
            method: method.as_str(),
            granted: &change.newly_granted,
            refused: &change.newly_refused,
        };
        Outcome {
            state: self.state.clone(),
            event: Some(CHANGE),
            detail: signals::consent_json(self.state.as_ref(), Some(&detail)),
            update: Some((self.core.clone(), self.vendors.clone())),
        }
    }

    /// A fresh receipt id when receipts are on; never one made of zeros.
    fn new_receipt_id(&self) -> Option<String> {
        self.receipts.as_ref()?;
        match signals::random_bytes() {
            Some(bytes) => Some(consent::uuid_v4(bytes)),
            None => {
                signals::log_error(
                    "consentry: receipts: crypto.getRandomValues is unavailable, so no receipt is made",
                );
                None
            }
        }
    }

    /// Writes down the receipt for a cookie choice (rule 8).
    fn record(&mut self, next: &ConsentState, action: consent::Action, method: Method) {
        self.write_receipt(|config, previous, page| {
            proof::for_choice(config, next, action, method, previous, page)
        });
    }

    /// Writes down the receipt for a form's consent checkboxes; returns its
    /// id and the visitor's key (once known) for the form's data.
    pub fn record_form(
        &mut self,
        selector: &str,
        choices: &[(String, bool)],
    ) -> Option<(String, Option<String>)> {
        let id = self.new_receipt_id()?;
        self.write_receipt(|config, previous, page| {
            proof::for_form(config, &id, selector, choices, previous, page)
        })
        .then(|| {
            (
                id.clone(),
                self.receipts.as_ref().and_then(Receipts::subject_key),
            )
        })
    }

    /// Asks the courier to sign and send what the journal holds now; the
    /// promise settles once it is handed to the network (a held form waits
    /// for it, at most a few hundred ms).
    pub fn hand_over(&self) -> Option<js_sys::Promise> {
        let receipts = self.receipts.as_ref()?;
        let mut resolve = None;
        let promise = js_sys::Promise::new(&mut |res, _| resolve = Some(res));
        receipts.send(Msg::Handed(resolve?));
        Some(promise)
    }

    /// Builds a receipt in this page's context, fixed now, and journals it;
    /// false when receipts are off (no `endpoint`) or it cannot be written.
    fn write_receipt(
        &mut self,
        build: impl FnOnce(&Config, Option<&str>, &proof::Page<'_>) -> Receipt,
    ) -> bool {
        let Some(r) = self.receipts.as_mut() else {
            return false;
        };
        let (page, user_agent) = signals::page_context();
        let ctx = proof::Page {
            page: &page,
            user_agent: &user_agent,
            gpc: self.gpc,
            now_ms: js_sys::Date::now() as i64,
        };
        let previous = r.previous.clone();
        r.record(build(&self.config, Some(&previous), &ctx))
    }

    /// Forgets the choice: the banner asks again, and the vendors hear
    /// that nothing optional is granted now.
    pub fn reset(&mut self) -> Outcome {
        cookies::forget_state(&self.config);
        clear_optional_cookies(&self.config);
        self.state = None;
        self.view.close_preferences(false);
        self.view.hide_reopen();
        self.show_banner();
        Outcome {
            state: None,
            event: None,
            detail: String::new(),
            update: Some((self.core.clone(), self.vendors.clone())),
        }
    }
}

/// Deletes the cookies of every optional category. (A loop, not a
/// `map().collect()`: each collect is its own copy of Vec's code in the wasm.)
fn clear_optional_cookies(config: &Config) {
    let mut all = Vec::new();
    for c in config.optional_categories() {
        all.push(c.id.clone());
    }
    cookies::clear_categories(config, &all);
}
