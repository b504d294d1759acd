//! The first layer: title, short text, policy link, and three buttons.
//! "Accept all" and "Reject all" share one class, so they cannot drift apart
//! in prominence (rule 2). There is deliberately no close button: closing is
//! not a choice (rule 3).

use web_sys::ShadowRoot;

use super::dom::{append, button, document, el, link, text_el};
use super::{on_click, Mounted};
use crate::config::{Config, Text};
use crate::Command;

pub fn render(root: &ShadowRoot, config: &Config, gpc: bool) -> Mounted {
    let doc = document();
    let t = &config.texts;
    let banner = el(
        &doc,
        "section",
        &[
            ("class", "card banner"),
            ("role", "dialog"),
            ("aria-modal", "false"),
            ("aria-labelledby", "cs-banner-title"),
            ("aria-describedby", "cs-banner-desc"),
        ],
    );
    let title = text_el(
        &doc,
        "h2",
        &[("id", "cs-banner-title")],
        &t[Text::BannerTitle],
    );
    let desc = text_el(
        &doc,
        "p",
        &[("id", "cs-banner-desc")],
        &t[Text::BannerDescription],
    );
    let _ = desc.append_with_str_1(" ");
    let _ = desc.append_child(&link(
        &doc,
        &config.privacy_policy_url,
        &t[Text::PrivacyPolicy],
    ));
    append(&banner, &[&title, &desc]);
    if gpc {
        append(
            &banner,
            &[&text_el(
                &doc,
                "p",
                &[("class", "gpc")],
                &t[Text::GpcHonoured],
            )],
        );
    }
    let actions = el(&doc, "div", &[("class", "actions")]);
    let accept = button(&doc, "btn choice", &t[Text::AcceptAll]);
    let reject = button(&doc, "btn choice", &t[Text::RejectAll]);
    let customize = button(&doc, "btn secondary", &t[Text::Customize]);
    append(&actions, &[&accept, &reject, &customize]);
    append(&banner, &[&actions]);
    let listeners = vec![
        on_click(&accept, Command::AcceptAll),
        on_click(&reject, Command::RejectAll),
        on_click(&customize, Command::OpenPreferences),
    ];
    let _ = root.append_child(&banner);
    Mounted {
        element: banner,
        _listeners: listeners,
    }
}
