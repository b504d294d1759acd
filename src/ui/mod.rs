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

/// `shell.css` is what the shadow root always needs (the palette and the
/// reopen button); the loader's core, which draws the reopen button on a
/// returning visitor's page without the wasm, carries the same file.
const STYLE: &str = concat!(include_str!("shell.css"), include_str!("style.css"));

/// The widget's host element and its shadow root. Dropping it removes the
/// widget from the page.
pub struct Shell {
    host: Element,
    pub root: ShadowRoot,
}

impl Shell {
    pub fn mount(config: &Config) -> Result<Shell, &'static str> {
        let doc = document();
        let body = doc
            .body()
            .ok_or("the page has no <body> yet; load consentry.js with `defer`")?;
        let host = el(
            &doc,
            "div",
            &[("id", "consentry-root"), ("data-nosnippet", "")],
        );
        let root = host
            .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
            .map_err(|_| "could not attach a shadow root to #consentry-root")?;
        let style = el(&doc, "style", &[]);
        style.set_text_content(Some(STYLE));
        let _ = root.append_child(&style);
        let theme = theme_css(config);
        if !theme.is_empty() {
            let style = el(&doc, "style", &[]);
            style.set_text_content(Some(&theme));
            let _ = root.append_child(&style);
        }
        let _ = body.append_child(&host);
        Ok(Shell { host, root })
    }
}

/// The site's colours apply to the light scheme only: a brand colour picked
/// for a white page rarely keeps 4.5:1 contrast on a dark one, so dark mode
/// keeps the built-in accessible palette. Values were checked by
/// `Config::validate` (no `;`, braces, `<` or `url(`), so they cannot
/// escape the declaration.
/// Empty when the site sets no colours.
pub fn theme_css(config: &Config) -> String {
    if config.theme.is_empty() {
        return String::new();
    }
    let mut css = String::from("@media not all and (prefers-color-scheme:dark){:host{");
    for (name, value) in &config.theme {
        css.push_str(name);
        css.push(':');
        css.push_str(value);
        css.push(';');
    }
    css.push_str("}}");
    css
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

/// Runs a widget command when `target` is clicked. A choice needs a
/// person's click: a script's `click()` would otherwise be recorded as the
/// visitor's `accept_all` (the JS API is there for site code, and its
/// receipts say `api`).
pub fn on_click(target: &Element, cmd: crate::Command) -> gloo_events::EventListener {
    gloo_events::EventListener::new(target, "click", move |e| {
        if cmd.is_choice() && !e.is_trusted() {
            web_sys::console::warn_1(
                &"consentry: a scripted click on a consent button does nothing; call \
                  consentry.acceptAll(), rejectAll() or acceptCategories() (their receipts say \"api\")"
                    .into(),
            );
            return;
        }
        crate::command(cmd.clone())
    })
}
