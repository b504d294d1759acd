//! Everything the visitor sees. `view.js` draws the banner, the preferences
//! dialog and the reopen button in one open shadow root (site CSS cannot
//! break them; axe and screen readers still see them) and sends every click
//! back here as a command; `forms` puts consent checkboxes into the site's
//! own forms. The DOM work is JS because each DOM call made from Rust is a
//! web-sys import with its own glue; what to show stays decided in Rust.

pub mod dom;
pub mod forms;

use wasm_bindgen::prelude::*;

use crate::checked;
use crate::config::Config;
use crate::Command;

/// `shell.css` is what the shadow root always needs (the palette and the
/// reopen button); the loader's core, which draws the reopen button on a
/// returning visitor's page without the wasm, carries the same file, and the
/// same icon.
const STYLE: &str = concat!(include_str!("shell.css"), include_str!("style.css"));
const ICON: &str = include_str!("reopen.svg");

#[wasm_bindgen(module = "/src/ui/view.js")]
extern "C" {
    fn mount(model: &str, css: &str, icon: &str, command: &js_sys::Function) -> String;
    #[wasm_bindgen(js_name = showBanner)]
    fn show_banner(gpc: bool);
    #[wasm_bindgen(js_name = hideBanner)]
    fn hide_banner();
    #[wasm_bindgen(js_name = showReopen)]
    fn show_reopen();
    #[wasm_bindgen(js_name = hideReopen)]
    fn hide_reopen();
    #[wasm_bindgen(js_name = openPreferences)]
    fn open_preferences(granted: &str, summary: &str, receipt_id: &str, receipt_file: &str);
    #[wasm_bindgen(js_name = closePreferences)]
    fn close_preferences(refocus: bool);
    #[wasm_bindgen(js_name = warnScripted)]
    fn warn_scripted();
}

/// The widget's view on the page: only a mounted one can be told what to
/// show, and it keeps the function its clicks come back through.
pub struct View {
    _commands: Closure<dyn FnMut(String, String)>,
}

/// The visitor's latest receipt as the dialog shows it.
pub struct ReceiptPanel {
    pub summary: String,
    pub id: String,
    pub file: String,
}

impl View {
    pub fn mount(config: &Config) -> Result<View, String> {
        let commands = Closure::<dyn FnMut(String, String)>::new(on_command);
        let mut css = String::from(STYLE);
        css.push_str(&checked::theme_css(config));
        let failed = mount(
            &checked::view_model(config),
            &css,
            ICON,
            commands.as_ref().unchecked_ref(),
        );
        if !failed.is_empty() {
            return Err(failed);
        }
        Ok(View {
            _commands: commands,
        })
    }

    pub fn show_banner(&self, gpc: bool) {
        show_banner(gpc);
    }

    pub fn hide_banner(&self) {
        hide_banner();
    }

    pub fn show_reopen(&self) {
        show_reopen();
    }

    pub fn hide_reopen(&self) {
        hide_reopen();
    }

    /// `granted`: the optional categories whose toggles start on.
    pub fn open_preferences(&self, granted: &[String], receipt: Option<&ReceiptPanel>) {
        let mut on = String::new();
        for (i, id) in granted.iter().enumerate() {
            if i > 0 {
                on.push(',');
            }
            on.push_str(id);
        }
        match receipt {
            Some(r) => open_preferences(&on, &r.summary, &r.id, &r.file),
            None => open_preferences(&on, "", "", ""),
        }
    }

    /// `refocus`: focus goes back to where it was before the dialog opened.
    pub fn close_preferences(&self, refocus: bool) {
        close_preferences(refocus);
    }
}

/// A click in the view, as `view.js` names it. Category ids cannot hold a
/// `,` (`Config::validate`), so the saved selection comes joined by one.
fn on_command(name: String, arg: String) {
    let cmd = match name.as_str() {
        "accept" => Command::AcceptAll,
        "reject" => Command::RejectAll,
        "save" => {
            let mut ids = Vec::new();
            for id in arg.split(',').filter(|id| !id.is_empty()) {
                ids.push(id.to_owned());
            }
            Command::SavePreferences(ids)
        }
        "open" => Command::OpenPreferences,
        "close" => Command::ClosePreferences,
        _ => return,
    };
    crate::command(cmd)
}

/// Runs a widget command when `target` is clicked (an embed's placeholder).
/// A choice needs a person's click: a script's `click()` would otherwise be
/// recorded as the visitor's (the JS API is there for site code, and its
/// receipts say `api`).
pub fn on_click(target: &web_sys::Element, cmd: Command) -> gloo_events::EventListener {
    gloo_events::EventListener::new(target, "click", move |e| {
        if cmd.is_choice() && !e.is_trusted() {
            warn_scripted();
            return;
        }
        crate::command(cmd.clone())
    })
}
