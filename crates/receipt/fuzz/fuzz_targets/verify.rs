//! `cargo +nightly fuzz run verify` (from `crates/receipt/`): the verifier on
//! arbitrary bytes must answer, never panic. A crash found here is copied to
//! `testdata/fuzz-regressions/`, which plain `cargo test` replays
//! (`tests/golden.rs`); the same test file also runs 20 000 bounded mutations
//! of the golden receipts, so CI exercises this without nightly.
#![no_main]

use consentry_receipt::verify::{verify, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = verify(data, &Limits::default());
});
