//! The golden receipts in `testdata/`: each file's expected outcome, and the
//! deterministic generator that wrote them (`regenerate_golden`, ignored:
//! run it with `cargo test -p consentry-receipt --features verify --test
//! golden -- --ignored regenerate_golden` after a format change).
//!
//! Also a bounded mutation run over the golden receipts (what the fuzz target
//! does, in plain `cargo test`), and the fuzz regressions.

mod common;

use std::path::{Path, PathBuf};

use consentry_receipt::verify::{verify, ErrorKind, Limits};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(testdata().join(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

fn kind_of(name: &str) -> ErrorKind {
    verify(&read(name), &Limits::default())
        .expect_err(name)
        .kind()
        .clone()
}

#[test]
fn the_valid_golden_receipt_verifies_and_names_its_signer() {
    let v = verify(&read("valid.jws"), &Limits::default()).expect("valid.jws verifies");
    assert_eq!(v.receipt.site, common::SITE);
    assert_eq!(v.receipt.receipt_id, common::RECEIPT_ID);
    assert_eq!(v.thumbprint, v.receipt.subject.key);
    assert_eq!(v.thumbprint, common::thumbprint_of(&common::key_a()));
    let jws = read("valid.jws");
    assert_eq!(v.jws_sha256, consentry_receipt::verify::sha256(&jws));
}

#[test]
fn each_broken_golden_receipt_is_refused_for_its_own_reason() {
    assert_eq!(kind_of("tampered_payload.jws"), ErrorKind::BadSignature);
    assert_eq!(kind_of("wrong_key.jws"), ErrorKind::BadSignature);
    assert_eq!(kind_of("wrong_alg.jws"), ErrorKind::UnsupportedAlg);
    assert_eq!(kind_of("alg_none.jws"), ErrorKind::UnsupportedAlg);
    assert_eq!(kind_of("oversized.jws"), ErrorKind::TooLarge);
    assert_eq!(kind_of("bad_base64.jws"), ErrorKind::BadEncoding);
    assert_eq!(kind_of("key_mismatch.jws"), ErrorKind::KeyMismatch);
}

#[test]
fn a_signed_receipt_with_a_bad_field_names_the_field() {
    let mut r = common::receipt(&common::key_a());
    r.purposes.clear();
    let jws = common::sign_receipt(&common::key_a(), &r);
    let err = verify(jws.as_bytes(), &Limits::default()).expect_err("no purposes");
    assert_eq!(
        err.kind(),
        &ErrorKind::BadPayload {
            path: "purposes".into()
        }
    );
    assert!(err.to_string().contains("purposes"), "{err}");
}

#[test]
fn the_golden_files_are_what_the_generator_writes() {
    for (name, bytes) in common::golden_files() {
        assert_eq!(
            read(name),
            bytes,
            "testdata/{name} is stale: run the ignored regenerate_golden test"
        );
    }
}

#[test]
#[ignore = "writes crates/receipt/testdata/"]
fn regenerate_golden() {
    for (name, bytes) in common::golden_files() {
        std::fs::write(testdata().join(name), bytes).expect("write");
    }
}

/// Every file in `testdata/fuzz-regressions/` once crashed or misbehaved; the
/// verifier must now answer each with an error (or a result), never panic.
#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = testdata().join("fuzz-regressions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let bytes = std::fs::read(entry.path()).expect("read");
        let _ = verify(&bytes, &Limits::default());
    }
}

/// A bounded stand-in for `cargo fuzz` that runs everywhere: 20 000 mutated
/// variants of the golden receipts (bit flips, byte insertions and removals,
/// part swaps, truncations). None may panic, and none but the original may
/// verify: every mutation of a signed receipt must be refused.
#[test]
fn twenty_thousand_mutations_of_the_golden_receipts_never_verify_or_panic() {
    let valid = read("valid.jws");
    let seeds = [
        valid.clone(),
        read("tampered_payload.jws"),
        read("wrong_alg.jws"),
        read("bad_base64.jws"),
    ];
    let mut rng = common::Rng(0x5eed_c0de_u64);
    for i in 0..20_000 {
        let seed = &seeds[i % seeds.len()];
        let mutated = common::mutate(seed, &mut rng);
        let result = verify(&mutated, &Limits::default());
        if mutated != valid {
            assert!(
                result.is_err(),
                "mutation {i} verified: {:?}",
                String::from_utf8_lossy(&mutated)
            );
        }
    }
}
