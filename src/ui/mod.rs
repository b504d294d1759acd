//! Everything the visitor sees. The banner, the preferences dialog and the
//! reopen button live in one open shadow root so site CSS cannot break them
//! (and axe and screen readers still see them); form checkboxes go into the
//! site's own form.

pub mod banner;
pub mod dom;
pub mod forms;
pub mod preferences;
pub mod reopen;

use web_sys::{Element, ShadowRoot, ShadowRootInit, ShadowRootMode};

use crate::config::Config;
use dom::{document, el};

const STYLE: &str = include_str!("style.css");

/// The widget's host element and its shadow root. Dropping it removes the
/// widget from the page.
pub struct Shell {
    host: Element,
    pub root: ShadowRoot,
}

impl Shell {
    pub fn mount(config: &Config) -> Result<Shell, &'static str> {
        let doc = document();
        let body = doc.body().ok_or("the page has no <body> yet; load consentry.js with `defer`")?;
        let host = el(&doc, "div", &[("id", "consentry-root"), ("data-nosnippet", "")]);
        let root = host
            .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
            .map_err(|_| "could not attach a shadow root to #consentry-root")?;
        let style = el(&doc, "style", &[]);
        style.set_text_content(Some(STYLE));
        let _ = root.append_child(&style);
        if let Some(h) = wasm_bindgen::JsCast::dyn_ref::<web_sys::HtmlElement>(&host) {
            let css = h.style();
            for (name, value) in &config.theme {
                let _ = css.set_property(name, value);
            }
        }
        let _ = body.append_child(&host);
        Ok(Shell { host, root })
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        self.host.remove();
    }
}

/// A rendered piece of UI: its element leaves the page when the value drops,
/// and so do its listeners.
pub struct Mounted {
    pub element: Element,
    pub _listeners: Vec<gloo_events::EventListener>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.element.remove();
    }
}

/// Runs a widget command when `target` is clicked.
pub fn on_click(target: &Element, cmd: crate::Command) -> gloo_events::EventListener {
    gloo_events::EventListener::new(target, "click", move |_| crate::command(cmd.clone()))
}
