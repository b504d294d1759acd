//! The floating "Privacy settings" button: withdrawing must be as easy as
//! granting (rule 4), so it is on every page once a choice exists.

use web_sys::ShadowRoot;

use super::dom::{document, el};
use super::{on_click, Mounted};
use crate::config::{Config, Text};
use crate::Command;

/// A fixed icon (not site text), so setting it as markup is safe. The
/// loader's core draws the same button from the same file (`cargo xtask dist`
/// puts it in), so a returning visitor sees one button whichever part drew it.
const ICON: &str = include_str!("reopen.svg");

pub fn render(root: &ShadowRoot, config: &Config) -> Mounted {
    let doc = document();
    let b = el(
        &doc,
        "button",
        &[
            ("type", "button"),
            ("class", "reopen"),
            ("aria-label", &config.texts[Text::Reopen]),
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
