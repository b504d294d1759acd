//! The Consentry consent receipt format, shared by the widget (which builds
//! and signs receipts in the visitor's browser) and the collector (which
//! verifies, chains and countersigns them).
//!
//! A receipt is a JWS compact string (RFC 7515) signed with ES256 by a key
//! that never leaves the visitor's browser; its payload is the canonical
//! (RFC 8785) JSON of a [`Receipt`].
//!
//! # Layout
//! - `json`: a small JSON reader, a path-naming field reader, and the RFC
//!   8785 canonical writer (no serde: the widget must stay small)
//! - `b64`: strict base64url without padding
//! - `receipt`: the payload type, its writer and its strict reader
//! - `verify` (feature `verify`, off by default so the widget never links
//!   `ring`): signature, key and payload checks over the exact bytes received
//!
//! Pure: no browser and no I/O, so plain `cargo test` covers it. `no_std`
//! (with `alloc`): the widget links no std, whose panic and formatting
//! machinery cost its wasm ~2 KB.

#![no_std]

extern crate alloc;
#[cfg(any(test, feature = "verify"))]
extern crate std;

/// What std's prelude gives, for `no_std` (each module takes it whole).
#[allow(unused_imports)]
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}

pub mod b64;
pub mod ids;
pub mod json;
pub mod receipt;
#[cfg(feature = "verify")]
pub mod verify;

pub use receipt::{Action, Context, Controller, Method, Notice, Purpose, Receipt, Subject};

/// The JWS header `typ` of a visitor-signed receipt.
pub const RECEIPT_TYP: &str = "consentry-receipt+jws";
