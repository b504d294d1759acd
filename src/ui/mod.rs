//! Everything the visitor sees. `view.js` draws the banner, the preferences
//! dialog and the reopen button in one open shadow root (site CSS cannot
//! break them; axe and screen readers still see them) and the placeholders
//! of blocked embeds, and sends every click back here as a command (a
//! choice only from a person's click); `forms` puts consent checkboxes into the site's
//! own forms. The DOM work is JS because each DOM call made from Rust is a
//! web-sys import with its own glue; what to show stays decided in Rust.

#[allow(unused_imports)]
use crate::prelude::*;

pub mod forms;

use wasm_bindgen::prelude::*;

use crate::checked;
use crate::config::{id_list, Config};
use crate::outbox::Latest;
use crate::Command;

/// The banner's and the dialog's style. `shell.css` (the palette and the
/// reopen button, with `reopen.svg` in it as a CSS mask) is the loader's
/// core's, which draws the reopen button on a returning visitor's page
/// without the wasm: it hands it to the view (`init`'s `core`), so a first
/// visit fetches it once.
const STYLE: &str = include_str!("style.css");

#[wasm_bindgen(module = "/src/ui/view.js")]
extern "C" {
    fn mount(model: &str, css: &str, core: &JsValue, command: &js_sys::Function) -> String;
    fn retext(model: &str) -> bool;
    #[wasm_bindgen(js_name = showBanner)]
    fn show_banner(gpc: bool);
    #[wasm_bindgen(js_name = hideBanner)]
    fn hide_banner();
    #[wasm_bindgen(js_name = showReopen)]
    fn show_reopen();
    #[wasm_bindgen(js_name = hideReopen)]
    fn hide_reopen();
    #[wasm_bindgen(js_name = openPreferences)]
    fn open_preferences(
        granted: &str,
        receipt: &str,
        issued_at: &str,
        receipt_granted: &str,
        receipt_file: &str,
        gpc: bool,
    );
    #[wasm_bindgen(js_name = closePreferences)]
    fn close_preferences(refocus: bool);
    #[wasm_bindgen(js_name = syncFrames)]
    fn sync_frames(granted: &str);
}

/// The widget's view on the page: only a mounted one can be told what to
/// show, and it keeps the function its clicks come back through.
pub struct View {
    _commands: Closure<dyn FnMut(String, String)>,
}

impl View {
    pub fn mount(config: &Config, core: &JsValue) -> Result<View, String> {
        let commands = Closure::<dyn FnMut(String, String)>::new(on_command);
        let mut css = String::from(STYLE);
        css.push_str(&checked::theme_css(config));
        let failed = mount(
            &checked::view_model(config),
            &css,
            core,
            commands.as_ref().unchecked_ref(),
        );
        if !failed.is_empty() {
            return Err(failed);
        }
        Ok(View {
            _commands: commands,
        })
    }

    /// Draws what is shown again in the config's texts now (another
    /// language); true when the dialog was open.
    pub fn retext(&self, config: &Config) -> bool {
        retext(&checked::view_model(config))
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

    /// `granted`: the optional categories whose toggles start on;
    /// `latest`: the visitor's latest receipt, shown with its download;
    /// `gpc`: say that Global Privacy Control was honoured.
    pub fn open_preferences(&self, granted: &[String], latest: Option<&Latest>, gpc: bool) {
        let on = id_list(granted);
        match latest {
            Some(l) => {
                open_preferences(&on, &l.id, &l.issued_at, &id_list(&l.granted), &l.file, gpc)
            }
            None => open_preferences(&on, "", "", "", "", gpc),
        }
    }

    /// Loads the blocked embeds `granted` allows and puts a placeholder
    /// before each other one (rule 3).
    pub fn sync_frames(&self, granted: &[String]) {
        sync_frames(&id_list(granted));
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
        "grant" => Command::Grant(arg),
        "close" => Command::ClosePreferences,
        _ => return,
    };
    crate::command(cmd)
}
