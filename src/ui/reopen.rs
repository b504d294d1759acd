//! The floating "Privacy settings" button: withdrawing must be as easy as
//! granting (rule 4), so it is on every page once a choice exists.

use web_sys::ShadowRoot;

use super::dom::{document, el};
use super::{on_click, Mounted};
use crate::config::Config;
use crate::Command;

/// A fixed icon (not site text), so setting it as markup is safe.
const ICON: &str = r#"<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M12 3l7 3v5c0 4.5-3 8.3-7 10-4-1.7-7-5.5-7-10V6z"/><path d="M9 12l2 2 4-4"/></svg>"#;

pub fn render(root: &ShadowRoot, config: &Config) -> Mounted {
    let doc = document();
    let b = el(
        &doc,
        "button",
        &[
            ("type", "button"),
            ("class", "reopen"),
            ("aria-label", &config.texts.reopen),
        ],
    );
    b.set_inner_html(ICON);
    let listeners = vec![on_click(&b, Command::OpenPreferences)];
    let _ = root.append_child(&b);
    Mounted {
        element: b,
        _listeners: listeners,
    }
}
