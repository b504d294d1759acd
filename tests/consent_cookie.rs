//! The `consentry` cookie vectors (tests/vectors/consent-cookie.json) hold
//! the wasm's reader to the answers the loader's core gives on a returning
//! visit without the wasm (tests/e2e/core.test.mjs runs the same file).

use consentry::config::Config;
use consentry::consent::ConsentState;

#[test]
fn the_wasm_reads_every_cookie_vector_as_the_vectors_say() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("vectors/consent-cookie.json")).expect("JSON");
    let revision = vectors["revision"].as_u64().expect("revision");
    let now = vectors["now"].as_u64().expect("now");
    let mut text = String::from(r#"{"id":"t","privacyPolicyUrl":"/p","revision":"#);
    text.push_str(&revision.to_string());
    text.push_str(r#","categories":[{"id":"analytics","title":"A"}]}"#);
    let config = Config::parse(&text).expect("config");
    let cases = vectors["cases"].as_array().expect("cases");
    assert!(cases.len() > 20);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let value = case["value"].as_str().expect("value");
        let state = ConsentState::decode(value);
        let want = &case["state"];
        match (&state, want.is_null()) {
            (None, true) => {}
            (Some(s), false) => {
                let granted: Vec<&str> = want["granted"]
                    .as_array()
                    .expect("granted")
                    .iter()
                    .map(|g| g.as_str().expect("id"))
                    .collect();
                assert_eq!(s.granted, granted, "{name}");
                assert_eq!(Some(s.revision as u64), want["revision"].as_u64(), "{name}");
                assert_eq!(Some(s.given_at), want["given_at"].as_u64(), "{name}");
                assert_eq!(Some(s.expires_at), want["expires_at"].as_u64(), "{name}");
                assert_eq!(
                    Some(s.receipt_id.as_str()),
                    want["receipt_id"].as_str(),
                    "{name}"
                );
            }
            _ => panic!("{name}: decoded {state:?}, the vector says {want}"),
        }
        let current = state.is_some_and(|s| s.is_current(&config, now));
        assert_eq!(Some(current), case["current"].as_bool(), "{name}");
    }
}
