//! The one `Widget` value: the checked config, the visitor's consent state,
//! and everything the widget has put on the page. `lib.rs` keeps it behind a
//! single `thread_local!` and every JS export and UI event goes through it.

use gloo_events::EventListener;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use crate::config::Config;
use crate::consent::{self, Choice, ConsentState, Method};
use crate::page::outbox::{self, Proof};
use crate::page::{cookies, gating, signals};
use crate::proof;
use crate::ui::{banner, dom, forms, preferences, reopen, Mounted, Shell};
use consentry_receipt::Receipt;

pub struct Widget {
    config: Config,
    state: Option<ConsentState>,
    gpc: bool,
    shell: Shell,
    banner: Option<Mounted>,
    preferences: Option<Mounted>,
    reopen: Option<Mounted>,
    return_focus: Option<Element>,
    placeholders: Vec<gating::Placeholder>,
    _forms: Vec<forms::FormConsent>,
    callbacks: Vec<(u32, js_sys::Function)>,
    next_callback: u32,
    _open_links: EventListener,
    /// Signed receipts, when the config names an `endpoint`.
    pub proof: Option<Proof>,
}

/// What must happen after the widget is released: running gated scripts,
/// events and site callbacks can all call back into `window.consentry`.
pub struct Outcome {
    state: Option<ConsentState>,
    event: &'static str,
    detail: JsValue,
    callbacks: Vec<js_sys::Function>,
    /// A receipt was written down: sign and send it.
    receipt: bool,
}

impl Outcome {
    pub fn run(self) {
        if let Some(s) = &self.state {
            gating::release_scripts(s);
        }
        signals::dispatch(self.event, &self.detail);
        for cb in &self.callbacks {
            signals::call(cb, &self.detail);
        }
        if self.receipt {
            outbox::kick();
        }
    }
}

impl Widget {
    /// Puts the widget on the page. A stored, current choice is applied
    /// silently; otherwise the banner asks.
    pub fn mount(config: Config) -> Result<(Widget, Outcome), &'static str> {
        let shell = Shell::mount(&config)?;
        let now = signals::now_s();
        let state = cookies::load_state().filter(|s| s.is_current(&config, now));
        if state.is_none() {
            // Expired or never given: optional cookies left from before have
            // no consent behind them.
            let all: Vec<String> = config.optional_categories().map(|c| c.id.clone()).collect();
            cookies::clear_categories(&config, &all);
        }
        let mut forms_attached = Vec::new();
        for (i, spec) in config.forms.iter().enumerate() {
            match forms::attach(&config, i, spec) {
                Ok(f) => forms_attached.push(f),
                Err(reason) => {
                    let mut path = String::from("forms[");
                    crate::config::push_num(&mut path, i as u64);
                    path.push_str("].selector");
                    dom::log_error(&dom::concat(&["consentry: config.", &path, ": ", reason]));
                }
            }
        }
        let open_links = EventListener::new(&dom::document(), "click", |e| {
            let opener = e
                .target()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .and_then(|t| t.closest("[data-consentry-open]").ok().flatten());
            if opener.is_some() {
                e.prevent_default();
                crate::command(crate::Command::OpenPreferences);
            }
        });
        let last_id = state
            .as_ref()
            .map(|s| s.receipt_id.clone())
            .unwrap_or_default();
        let proof = config
            .endpoint
            .as_deref()
            .map(|e| Proof::new(&config, e, &last_id));
        if proof.is_some() {
            outbox::load_latest(config.id.clone());
        }
        let mut w = Widget {
            proof,
            gpc: gpc_signal(),
            config,
            state,
            shell,
            banner: None,
            preferences: None,
            reopen: None,
            return_focus: None,
            placeholders: Vec::new(),
            _forms: forms_attached,
            callbacks: Vec::new(),
            next_callback: 1,
            _open_links: open_links,
        };
        if w.state.is_some() {
            w.show_reopen();
        } else {
            w.show_banner();
        }
        gating::sync_frames(&w.config, w.state.as_ref(), &mut w.placeholders);
        let detail = signals::consent_object(w.state.as_ref());
        // Receipts left unsigned or unsent by an earlier page go out now.
        let receipt = w.proof.is_some();
        let outcome = Outcome {
            state: w.state.clone(),
            event: "consentry:ready",
            detail,
            callbacks: Vec::new(),
            receipt,
        };
        Ok((w, outcome))
    }

    pub fn state(&self) -> Option<&ConsentState> {
        self.state.as_ref()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn show_banner(&mut self) {
        if self.banner.is_none() {
            self.banner = Some(banner::render(&self.shell.root, &self.config, self.gpc));
        }
    }

    fn show_reopen(&mut self) {
        if self.config.reopen_button && self.reopen.is_none() {
            self.reopen = Some(reopen::render(&self.shell.root, &self.config));
        }
    }

    pub fn open_preferences(&mut self) {
        if self.preferences.is_some() {
            return;
        }
        self.return_focus = self.focused_element();
        let latest = self.proof.as_ref().and_then(|p| p.latest.as_ref());
        self.preferences = Some(preferences::render(
            &self.shell.root,
            &self.config,
            self.state.as_ref(),
            latest,
        ));
    }

    /// The element focus should go back to: inside our shadow root the
    /// document only reports the host.
    fn focused_element(&self) -> Option<Element> {
        let active = dom::document().active_element()?;
        if active.id() == "consentry-root" {
            return self.shell.root.active_element();
        }
        Some(active)
    }

    pub fn close_preferences(&mut self) {
        if self.preferences.take().is_none() {
            return;
        }
        let target = self.return_focus.take().filter(|e| e.is_connected());
        let fallback = self.reopen.as_ref().map(|r| r.element.clone());
        if let Some(e) = target.or(fallback) {
            dom::focus(&e);
        }
    }

    /// The ids the preferences dialog has switched on.
    pub fn preferences_selection(&self) -> Option<Vec<String>> {
        let p = self.preferences.as_ref()?;
        Some(preferences::checked_categories(&p.element))
    }

    /// Records a choice: cookie, page clean-up, UI, and the outcome to run.
    pub fn choose(&mut self, choice: &Choice, method: Method) -> Outcome {
        let now = signals::now_s();
        let mut next = consent::resolve(&self.config, choice, self.gpc, now);
        next.receipt_id = consent::uuid_v4(signals::random_bytes());
        let change = consent::change(&self.config, self.state.as_ref(), &next);
        let action = consent::action(self.state.as_ref(), &change);
        let receipt = self.record(&next, action, method);
        cookies::save_state(&self.config, &next, now);
        cookies::clear_categories(&self.config, &change.newly_refused);
        self.state = Some(next);
        self.banner = None;
        self.show_reopen();
        self.close_preferences();
        gating::sync_frames(&self.config, self.state.as_ref(), &mut self.placeholders);

        let detail = signals::consent_object(self.state.as_ref());
        if let Ok(o) = detail.clone().dyn_into::<js_sys::Object>() {
            signals::set(&o, "action", &JsValue::from_str(action.as_str()));
            signals::set(&o, "method", &JsValue::from_str(method.as_str()));
            signals::set(&o, "granted", &signals::str_array(&change.newly_granted));
            signals::set(&o, "refused", &signals::str_array(&change.newly_refused));
        }
        Outcome {
            state: self.state.clone(),
            event: "consentry:change",
            detail,
            callbacks: self.callbacks.iter().map(|(_, f)| f.clone()).collect(),
            receipt,
        }
    }

    /// Writes down the receipt for a cookie choice (rule 8).
    fn record(&mut self, next: &ConsentState, action: consent::Action, method: Method) -> bool {
        self.write_receipt(|config, previous, page| {
            proof::for_choice(config, next, action, method, previous, page)
        })
    }

    /// Writes down the receipt for a form's consent checkboxes; returns its
    /// id for the form's hidden field.
    pub fn record_form(&mut self, selector: &str, choices: &[(String, bool)]) -> Option<String> {
        let id = consent::uuid_v4(signals::random_bytes());
        self.write_receipt(|config, previous, page| {
            proof::for_form(config, &id, selector, choices, previous, page)
        })
        .then_some(id.clone())
    }

    /// Builds a receipt in this page's context and journals it; false when
    /// receipts are off (no `endpoint`).
    fn write_receipt(
        &mut self,
        build: impl FnOnce(&Config, Option<&str>, &proof::Page<'_>) -> Receipt,
    ) -> bool {
        let Some(p) = self.proof.as_mut() else {
            return false;
        };
        let (page, user_agent, gpc) = outbox::page_context(self.gpc);
        let ctx = proof::Page {
            page: &page,
            user_agent: &user_agent,
            gpc,
            now_ms: js_sys::Date::now() as i64,
        };
        let previous = p.last_id.clone();
        p.record(build(&self.config, Some(&previous), &ctx));
        true
    }

    /// Forgets the choice: the banner asks again.
    pub fn reset(&mut self) {
        cookies::forget_state(&self.config);
        let all: Vec<String> = self
            .config
            .optional_categories()
            .map(|c| c.id.clone())
            .collect();
        cookies::clear_categories(&self.config, &all);
        self.state = None;
        self.preferences = None;
        self.return_focus = None;
        self.reopen = None;
        self.show_banner();
    }

    pub fn subscribe(&mut self, cb: js_sys::Function) -> u32 {
        let id = self.next_callback;
        self.next_callback += 1;
        self.callbacks.push((id, cb));
        id
    }

    pub fn unsubscribe(&mut self, id: u32) {
        self.callbacks.retain(|(i, _)| *i != id);
    }
}

/// `navigator.globalPrivacyControl`, read defensively: most browsers do not
/// have it at all.
fn gpc_signal() -> bool {
    let Some(w) = web_sys::window() else {
        return false;
    };
    js_sys::Reflect::get(&w.navigator(), &JsValue::from_str("globalPrivacyControl"))
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}
