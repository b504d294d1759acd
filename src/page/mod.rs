//! The widget's effects on the host page: the consent cookie, clearing the
//! cookies of refused categories, releasing gated scripts and iframes, and
//! the events and callbacks a site listens to.

pub mod cookies;
pub mod gating;
pub mod outbox;
pub mod signals;
