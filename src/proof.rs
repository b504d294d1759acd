//! Proof of consent, the pure half: the notice (every text the visitor saw),
//! the receipt for a choice and the JWS around it. No `web_sys`: what
//! happens to a receipt after it is written is `crate::outbox` (decisions)
//! and `page::courier` (keys, signing, the network).
//!
//! A receipt is written down the moment the choice is made, before the
//! visitor's key is loaded or the notice hash is known (both are async in
//! the browser). `subject.key` and `notice.sha256` are filled in when it is
//! signed; `signing_input` does that.

#[allow(unused_imports)]
use crate::prelude::*;

use consentry_receipt::json::Json;
use consentry_receipt::receipt::format_rfc3339_utc;
use consentry_receipt::{
    b64, Action, Context, Controller, Method, Notice, Purpose, Receipt, Subject, RECEIPT_TYP,
};

use crate::config::Config;
use crate::consent::ConsentState;

/// Everything shown to the visitor that their consent rests on, as one JSON
/// document. Its canonical text is hashed into every receipt and stored by
/// the collector, so the exact wording can be shown years later.
pub fn notice(config: &Config) -> Json {
    // Every text the notice records, in the table's order.
    let mut members = Vec::new();
    for (key, in_notice, text) in config.texts.all() {
        if in_notice {
            members.push((key.to_owned(), Json::str(text)));
        }
    }
    let texts = Json::Obj(members);
    let mut categories = Vec::new();
    for c in &config.categories {
        let mut cookies = Vec::new();
        for k in &c.cookies {
            cookies.push(Json::object(vec![
                ("name", Some(Json::str(&k.name))),
                ("provider", Some(Json::str(&k.provider))),
                ("purpose", Some(Json::str(&k.purpose))),
                ("duration", Some(Json::str(&k.duration))),
            ]));
        }
        categories.push(Json::object(vec![
            ("id", Some(Json::str(&c.id))),
            ("title", Some(Json::str(&c.title))),
            ("description", Some(Json::str(&c.description))),
            ("necessary", Some(Json::Bool(c.necessary))),
            ("gpc", Some(Json::Bool(c.gpc))),
            ("cookies", Some(Json::Arr(cookies))),
            // A service's: absent for a category, as in notices before services.
            ("service_of", c.service_of.as_deref().map(Json::str)),
            ("provider", c.provider.as_deref().map(Json::str)),
        ]));
    }
    let mut forms = Vec::new();
    for f in &config.forms {
        let mut purposes = Vec::new();
        for p in &f.purposes {
            purposes.push(Json::object(vec![
                ("id", Some(Json::str(&p.id))),
                ("label", Some(Json::str(&p.label))),
                ("required", Some(Json::Bool(p.required))),
            ]));
        }
        forms.push(Json::object(vec![
            ("selector", Some(Json::str(&f.selector))),
            ("purposes", Some(Json::Arr(purposes))),
        ]));
    }
    Json::object(vec![
        ("site", Some(Json::str(&config.id))),
        ("language", Some(Json::str(&config.language))),
        ("revision", Some(Json::int(u64::from(config.revision)))),
        (
            "policy_version",
            config.policy_version.as_deref().map(Json::str),
        ),
        (
            "privacy_policy_url",
            Some(Json::str(&config.privacy_policy_url)),
        ),
        ("texts", Some(texts)),
        ("categories", Some(Json::Arr(categories))),
        ("forms", Some(Json::Arr(forms))),
    ])
}

/// Where and by whom a receipt is made: the parts of the page that go in.
pub struct Page<'a> {
    /// Origin and path only.
    pub page: &'a str,
    pub user_agent: &'a str,
    /// `navigator.globalPrivacyControl`, `None` when the browser has none.
    pub gpc: Option<bool>,
    pub now_ms: i64,
}

/// The receipt for a cookie choice: every category shown, granted or not.
pub fn for_choice(
    config: &Config,
    state: &ConsentState,
    action: Action,
    method: Method,
    previous: Option<&str>,
    page: &Page<'_>,
) -> Receipt {
    let mut purposes = Vec::new();
    for c in &config.categories {
        purposes.push(Purpose {
            id: c.id.clone(),
            granted: state.is_granted(&c.id),
            legal_basis: legal_basis(c.necessary).to_owned(),
        });
    }
    let expires_ms = state.expires_at as i64 * 1000;
    build(
        config,
        &state.receipt_id,
        action,
        method,
        purposes,
        None,
        previous,
        page,
        expires_ms,
    )
}

/// The receipt for a form's consent checkboxes.
pub fn for_form(
    config: &Config,
    receipt_id: &str,
    selector: &str,
    choices: &[(String, bool)],
    previous: Option<&str>,
    page: &Page<'_>,
) -> Receipt {
    let mut purposes = Vec::new();
    for (id, granted) in choices {
        purposes.push(Purpose {
            id: id.clone(),
            granted: *granted,
            legal_basis: legal_basis(false).to_owned(),
        });
    }
    let expires_ms = page.now_ms + (config.lifetime_ms() as i64);
    let method = Method::FormSubmit;
    build(
        config,
        receipt_id,
        Action::Grant,
        method,
        purposes,
        Some(selector),
        previous,
        page,
        expires_ms,
    )
}

/// Strictly necessary cookies are shown, not asked: their basis is the
/// site's legitimate interest; everything else rests on consent.
fn legal_basis(necessary: bool) -> &'static str {
    if necessary {
        "legitimate_interests"
    } else {
        "consent"
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    config: &Config,
    receipt_id: &str,
    action: Action,
    method: Method,
    purposes: Vec<Purpose>,
    form: Option<&str>,
    previous: Option<&str>,
    page: &Page<'_>,
    expires_ms: i64,
) -> Receipt {
    let controller = config.controller.as_ref();
    Receipt {
        version: consentry_receipt::receipt::VERSION,
        receipt_id: receipt_id.to_owned(),
        issued_at: format_rfc3339_utc(page.now_ms),
        site: config.id.clone(),
        controller: Controller {
            name: controller
                .map(|c| c.name.clone())
                .unwrap_or_else(|| config.id.clone()),
            contact: controller.and_then(|c| c.contact.clone()),
            privacy_policy_url: config.privacy_policy_url.clone(),
            policy_version: config.policy_version.clone(),
        },
        subject: Subject {
            key: String::new(),
            reference: None,
        },
        action,
        method,
        purposes,
        notice: Notice {
            language: config.language.clone(),
            revision: config.revision,
            sha256: String::new(),
        },
        context: Context {
            page: page.page.to_owned(),
            user_agent: page.user_agent.to_owned(),
            gpc: page.gpc,
            form: form.map(str::to_owned),
        },
        expires_at: format_rfc3339_utc(expires_ms),
        previous: previous.filter(|p| !p.is_empty()).map(str::to_owned),
    }
}

/// The visitor's public key as JWS wants it (`x`, `y`: base64url).
pub struct PublicKey<'a> {
    pub x: &'a str,
    pub y: &'a str,
}

fn jwk(key: &PublicKey<'_>) -> Json {
    Json::object(vec![
        ("crv", Some(Json::str("P-256"))),
        ("kty", Some(Json::str("EC"))),
        ("x", Some(Json::str(key.x))),
        ("y", Some(Json::str(key.y))),
    ])
}

/// Stand-ins for the two values a receipt gets only when it is signed. Same
/// length as the real values, and only ever replaced as a whole JSON member,
/// so the canonical text stays canonical.
const KEY_MEMBER: &str = "\"key\":\"-------------------------------------------\"";
const SHA_MEMBER: &str =
    "\"sha256\":\"----------------------------------------------------------------\"";

/// The longest stand-in, the 64 hex digits of a SHA-256.
const DASHES: &str = "----------------------------------------------------------------";

/// The receipt as written down at the moment of the choice: its canonical
/// text with `subject.key` and `notice.sha256` still to be filled in.
pub fn written(mut receipt: Receipt) -> Option<String> {
    // Not `repeat`: its overflow check links panic formatting.
    receipt.subject.key = DASHES.get(..43).unwrap_or(DASHES).to_owned();
    receipt.notice.sha256 = DASHES.to_owned();
    receipt.to_json().canonical().ok()
}

/// `issued_at` and the granted purpose ids of a written-down receipt, for
/// the preferences dialog.
pub fn summary(written: &str) -> Option<(String, Vec<String>)> {
    let v = consentry_receipt::json::parse(written).ok()?;
    let issued_at = v.get("issued_at")?.as_str()?.to_owned();
    let Json::Arr(purposes) = v.get("purposes")? else {
        return None;
    };
    let mut granted = Vec::new();
    for p in purposes {
        if p.get("granted") == Some(&Json::Bool(true)) {
            if let Some(id) = p.get("id").and_then(Json::as_str) {
                granted.push(id.to_owned());
            }
        }
    }
    Some((issued_at, granted))
}

/// Completes a written-down receipt (`subject.key`, `notice.sha256`) and
/// returns the JWS signing input, `B64U(header) "." B64U(payload)`.
pub fn signing_input(
    written: &str,
    key: &PublicKey<'_>,
    thumbprint: &str,
    notice_sha256: &str,
) -> Option<String> {
    if thumbprint.len() != 43 || notice_sha256.len() != 64 {
        return None;
    }
    let payload = replace_value(written, KEY_MEMBER, thumbprint)?;
    let payload = replace_value(&payload, SHA_MEMBER, notice_sha256)?;
    let header = Json::object(vec![
        ("alg", Some(Json::str("ES256"))),
        ("jwk", Some(jwk(key))),
        ("typ", Some(Json::str(RECEIPT_TYP))),
    ]);
    let mut out = b64::encode(header.canonical().ok()?.as_bytes());
    out.push('.');
    out.push_str(&b64::encode(payload.as_bytes()));
    Some(out)
}

/// Replaces the quoted value of `member` (`"name":"-----"`) by `value` of
/// the same length. A byte search, not `str::replace`: that pulls the
/// generic string searcher and its panic formatting into the wasm.
fn replace_value(text: &str, member: &str, value: &str) -> Option<String> {
    let at = text
        .as_bytes()
        .windows(member.len())
        .position(|w| w == member.as_bytes())?;
    let value_at = at + member.len() - value.len() - 1;
    let mut out = String::with_capacity(text.len());
    out.push_str(text.get(..value_at)?);
    out.push_str(value);
    out.push_str(text.get(value_at + value.len()..)?);
    Some(out)
}

/// The compact JWS from its signing input and the 64-byte r‖s signature.
pub fn jws(signing_input: &str, signature: &[u8]) -> String {
    let mut out = String::with_capacity(signing_input.len() + 90);
    out.push_str(signing_input);
    out.push('.');
    out.push_str(&b64::encode(signature));
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::config::Text;
    use crate::consent::{resolve, Choice};

    fn config() -> Config {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/pkg-config/examples/landing.json"
        ))
        .expect("example config");
        Config::parse(&text).expect("valid")
    }

    fn page() -> Page<'static> {
        Page {
            page: "https://acme.example/",
            user_agent: "Mozilla/5.0",
            gpc: Some(true),
            now_ms: 1_795_458_600_123,
        }
    }

    #[test]
    fn a_choice_receipt_lists_every_category_refusals_included() {
        let c = config();
        let mut state = resolve(
            &c,
            &Choice::Only(vec!["analytics".into()]),
            true,
            1_795_458_600,
        );
        state.receipt_id = "0b6c2a1e-8f7d-4c3b-9a1e-2f3d4c5b6a79".into();
        let r = for_choice(
            &c,
            &state,
            Action::Grant,
            Method::SavePreferences,
            None,
            &page(),
        );
        let got: Vec<(&str, bool, &str)> = r
            .purposes
            .iter()
            .map(|p| (p.id.as_str(), p.granted, p.legal_basis.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("necessary", true, "legitimate_interests"),
                ("analytics", true, "consent"),
                ("marketing", false, "consent"),
            ]
        );
        assert_eq!(r.context.gpc, Some(true));
        assert_eq!(r.issued_at, "2026-11-23T18:30:00.123Z");
        assert_eq!(r.controller.name, "ACME Analytics Ltd");
    }

    #[test]
    fn a_signed_receipt_reads_back_with_key_and_notice_filled_in() {
        let c = config();
        let mut state = resolve(&c, &Choice::AcceptAll, false, 1_795_458_600);
        state.receipt_id = "0b6c2a1e-8f7d-4c3b-9a1e-2f3d4c5b6a79".into();
        let r = for_choice(&c, &state, Action::Grant, Method::AcceptAll, None, &page());
        let key = PublicKey {
            x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        };
        let thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
        let text = written(r).expect("canonical");
        assert_eq!(
            summary(&text).map(|s| s.1),
            Some(vec![
                "necessary".into(),
                "analytics".into(),
                "marketing".into()
            ])
        );
        let input =
            signing_input(&text, &key, thumbprint, &"ab".repeat(32)).expect("placeholders present");
        let (header, payload) = input.split_once('.').expect("two parts");
        let header = String::from_utf8(b64::decode(header).expect("b64")).expect("utf8");
        assert!(
            header.starts_with("{\"alg\":\"ES256\",\"jwk\":{\"crv\":\"P-256\",\"kty\":\"EC\""),
            "{header}"
        );
        let payload = b64::decode(payload).expect("b64");
        let json = consentry_receipt::json::parse(core::str::from_utf8(&payload).expect("utf8"))
            .expect("json");
        let back = Receipt::from_json(&json).expect("a valid receipt");
        assert_eq!(back.subject.key, thumbprint);
        assert_eq!(back.notice.sha256, "ab".repeat(32));
    }

    #[test]
    fn what_the_widget_signs_is_what_the_collector_verifies() {
        use p256::ecdsa::signature::Signer;
        let c = config();
        let mut state = resolve(
            &c,
            &Choice::Only(vec!["marketing".into()]),
            false,
            1_795_458_600,
        );
        state.receipt_id = "0b6c2a1e-8f7d-4c3b-9a1e-2f3d4c5b6a79".into();
        let r = for_choice(
            &c,
            &state,
            Action::Update,
            Method::SavePreferences,
            None,
            &page(),
        );
        let secret = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).expect("scalar");
        let point = secret.verifying_key().to_encoded_point(false);
        let (x, y) = (
            b64::encode(point.x().expect("x")),
            b64::encode(point.y().expect("y")),
        );
        let key = PublicKey { x: &x, y: &y };
        let thumbprint =
            consentry_receipt::verify::thumbprint(point.x().expect("x"), point.y().expect("y"));
        let input = signing_input(
            &written(r).expect("canonical"),
            &key,
            &thumbprint,
            &"cd".repeat(32),
        )
        .expect("input");
        let signature: p256::ecdsa::Signature = secret.sign(input.as_bytes());
        let token = jws(&input, &signature.to_bytes());
        let limits = consentry_receipt::verify::Limits::default();
        let verified = consentry_receipt::verify::verify(token.as_bytes(), &limits)
            .expect("the collector accepts it");
        assert_eq!(verified.receipt.subject.key, thumbprint);
        assert_eq!(verified.receipt.method, Method::SavePreferences);
        assert!(verified
            .receipt
            .purposes
            .iter()
            .any(|p| p.id == "marketing" && p.granted));
    }

    #[test]
    fn the_notice_holds_every_text_and_changes_when_a_label_does() {
        let mut c = config();
        let before = notice(&c).canonical().expect("canonical");
        assert!(before.contains("\"acceptAll\":\"Accept all\""));
        assert!(before.contains("Send me the ACME newsletter by email"));
        assert!(before.contains("acme_session_*"));
        c.texts.set(Text::RejectAll, "No thanks".into());
        assert_ne!(notice(&c).canonical().expect("canonical"), before);
    }
}
