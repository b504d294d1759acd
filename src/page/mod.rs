//! The widget's effects on the host page: the consent cookie, clearing the
//! cookies of refused categories, releasing gated scripts (the view loads
//! blocked iframes, `ui/view.js`), the
//! events and callbacks a site listens to, and the courier that signs and
//! delivers receipts.

#[allow(unused_imports)]
use crate::prelude::*;

pub mod cookies;
pub mod courier;
pub mod gating;
mod mailbox;
pub mod signals;
