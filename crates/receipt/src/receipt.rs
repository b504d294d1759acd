//! The receipt payload: what a visitor agreed to (or refused), about which
//! texts, when, how and where. Field set after the Kantara Consent Receipt
//! v1.1 and ISO/IEC TS 27560 consent records; see DESIGN.md "The receipt".
//!
//! The widget builds it (`to_json`, then RFC 8785 canonical text); the
//! collector reads it back from the exact bytes it verified (`from_json`).
//! There is deliberately no IP address field, and `from_json` refuses
//! unknown fields, so none can be smuggled in.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::json::{FieldError, Fields, Json};

/// The payload format version this crate writes and reads.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Grant,
    Update,
    Withdraw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    AcceptAll,
    RejectAll,
    SavePreferences,
    FormSubmit,
    Api,
    /// A blocked embed's "Allow and load": grants what it names.
    Placeholder,
}

macro_rules! names {
    ($ty:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),* }
            }
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($name => Some($ty::$variant),)* _ => None }
            }
        }
    };
}

names!(Action { Grant = "grant", Update = "update", Withdraw = "withdraw" });
names!(Method {
    AcceptAll = "accept_all",
    RejectAll = "reject_all",
    SavePreferences = "save_preferences",
    FormSubmit = "form_submit",
    Api = "api",
    Placeholder = "placeholder",
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    pub name: String,
    pub contact: Option<String>,
    pub privacy_policy_url: String,
    pub policy_version: Option<String>,
}

/// The visitor, as a pseudonym: the RFC 7638 thumbprint of their signing
/// key. `reference` is what the site chooses to link (e.g. a salted hash of
/// a form's email); the widget never fills it on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub key: String,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    pub id: String,
    pub granted: bool,
    /// `consent` for everything asked; `legitimate_interests` for strictly
    /// necessary cookies, which are shown but not asked.
    pub legal_basis: String,
}

/// Which texts the visitor saw: the SHA-256 (lower-case hex) of the RFC 8785
/// canonical JSON of every text shown, stored by the collector once per hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub language: String,
    pub revision: u32,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Origin and path only: a query or fragment can carry personal data.
    pub page: String,
    pub user_agent: String,
    /// `navigator.globalPrivacyControl` at the time of the choice; `None`
    /// (no `gpc` field) when the browser has no such signal at all.
    pub gpc: Option<bool>,
    /// The site form's CSS selector, for form consent.
    pub form: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub version: u32,
    /// A random UUID v4.
    pub receipt_id: String,
    /// The visitor's clock, RFC 3339 UTC (`2026-11-23T18:30:00.000Z`).
    pub issued_at: String,
    pub site: String,
    pub controller: Controller,
    pub subject: Subject,
    pub action: Action,
    pub method: Method,
    /// Every purpose shown, refusals included.
    pub purposes: Vec<Purpose>,
    pub notice: Notice,
    pub context: Context,
    pub expires_at: String,
    /// The visitor's previous receipt id: a visitor's history is a chain.
    pub previous: Option<String>,
}

fn opt_str(s: &Option<String>) -> Option<Json> {
    s.as_deref().map(Json::str)
}

impl Receipt {
    pub fn to_json(&self) -> Json {
        let c = &self.controller;
        // A loop, not `map(..).collect()`: one less copy of Vec's iterator
        // code in the widget's wasm.
        let mut purposes = Vec::new();
        for p in &self.purposes {
            purposes.push(Json::object(vec![
                ("id", Some(Json::str(&p.id))),
                ("granted", Some(Json::Bool(p.granted))),
                ("legal_basis", Some(Json::str(&p.legal_basis))),
            ]));
        }
        Json::object(vec![
            ("version", Some(Json::int(u64::from(self.version)))),
            ("receipt_id", Some(Json::str(&self.receipt_id))),
            ("issued_at", Some(Json::str(&self.issued_at))),
            ("site", Some(Json::str(&self.site))),
            (
                "controller",
                Some(Json::object(vec![
                    ("name", Some(Json::str(&c.name))),
                    ("contact", opt_str(&c.contact)),
                    ("privacy_policy_url", Some(Json::str(&c.privacy_policy_url))),
                    ("policy_version", opt_str(&c.policy_version)),
                ])),
            ),
            (
                "subject",
                Some(Json::object(vec![
                    ("key", Some(Json::str(&self.subject.key))),
                    ("ref", opt_str(&self.subject.reference)),
                ])),
            ),
            ("action", Some(Json::str(self.action.as_str()))),
            ("method", Some(Json::str(self.method.as_str()))),
            ("purposes", Some(Json::Arr(purposes))),
            (
                "notice",
                Some(Json::object(vec![
                    ("language", Some(Json::str(&self.notice.language))),
                    ("revision", Some(Json::int(u64::from(self.notice.revision)))),
                    ("sha256", Some(Json::str(&self.notice.sha256))),
                ])),
            ),
            (
                "context",
                Some(Json::object(vec![
                    ("page", Some(Json::str(&self.context.page))),
                    ("user_agent", Some(Json::str(&self.context.user_agent))),
                    ("gpc", self.context.gpc.map(Json::Bool)),
                    ("form", opt_str(&self.context.form)),
                ])),
            ),
            ("expires_at", Some(Json::str(&self.expires_at))),
            ("previous", opt_str(&self.previous)),
        ])
    }

    /// Reads a payload strictly: unknown fields, wrong types, bad ids, bad
    /// timestamps and unknown actions or methods are all refused, with the
    /// field named.
    pub fn from_json(value: &Json) -> Result<Receipt, FieldError> {
        let o = Fields::new(
            value,
            String::new(),
            &[
                "version",
                "receipt_id",
                "issued_at",
                "site",
                "controller",
                "subject",
                "action",
                "method",
                "purposes",
                "notice",
                "context",
                "expires_at",
                "previous",
            ],
        )?;
        let bad = |path: String, reason: &str| FieldError {
            path,
            reason: reason.to_owned(),
        };
        let version = o
            .u32("version")?
            .ok_or_else(|| bad(o.path("version"), "is required"))?;
        if version != VERSION {
            return Err(bad(o.path("version"), "unsupported receipt version"));
        }
        let receipt_id = o.req_str("receipt_id")?;
        if !is_uuid_v4(&receipt_id) {
            return Err(bad(o.path("receipt_id"), "must be a lower-case UUID v4"));
        }
        let issued_at = timestamp(&o, "issued_at")?;
        let expires_at = timestamp(&o, "expires_at")?;
        let c = o
            .obj(
                "controller",
                &["name", "contact", "privacy_policy_url", "policy_version"],
            )?
            .ok_or_else(|| bad(o.path("controller"), "is required"))?;
        let controller = Controller {
            name: c.req_str("name")?,
            contact: c.str("contact")?,
            privacy_policy_url: c.req_str("privacy_policy_url")?,
            policy_version: c.str("policy_version")?,
        };
        let s = o
            .obj("subject", &["key", "ref"])?
            .ok_or_else(|| bad(o.path("subject"), "is required"))?;
        let subject = Subject {
            key: s.req_str("key")?,
            reference: s.str("ref")?,
        };
        if subject.key.len() != 43 || crate::b64::decode(&subject.key).is_none() {
            return Err(bad(
                s.path("key"),
                "must be a base64url SHA-256 JWK thumbprint",
            ));
        }
        let action = Action::parse(&o.req_str("action")?)
            .ok_or_else(|| bad(o.path("action"), "must be grant, update or withdraw"))?;
        let method = Method::parse(&o.req_str("method")?).ok_or_else(|| {
            bad(
                o.path("method"),
                "must be accept_all, reject_all, save_preferences, form_submit or api",
            )
        })?;
        let mut purposes = Vec::new();
        for (i, p) in o.arr("purposes")?.iter().enumerate() {
            let p = Fields::new(p, o.index("purposes", i), &["id", "granted", "legal_basis"])?;
            purposes.push(Purpose {
                id: p.req_str("id")?,
                granted: p
                    .bool("granted")?
                    .ok_or_else(|| bad(p.path("granted"), "is required"))?,
                legal_basis: p.req_str("legal_basis")?,
            });
        }
        if purposes.is_empty() {
            return Err(bad(o.path("purposes"), "must list every purpose shown"));
        }
        let n = o
            .obj("notice", &["language", "revision", "sha256"])?
            .ok_or_else(|| bad(o.path("notice"), "is required"))?;
        let notice = Notice {
            language: n.req_str("language")?,
            revision: n
                .u32("revision")?
                .ok_or_else(|| bad(n.path("revision"), "is required"))?,
            sha256: n.req_str("sha256")?,
        };
        if notice.sha256.len() != 64
            || !notice
                .sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(bad(n.path("sha256"), "must be 64 lower-case hex digits"));
        }
        let x = o
            .obj("context", &["page", "user_agent", "gpc", "form"])?
            .ok_or_else(|| bad(o.path("context"), "is required"))?;
        let context = Context {
            page: x.req_str("page")?,
            user_agent: x.req_str("user_agent")?,
            gpc: x.bool("gpc")?,
            form: x.str("form")?,
        };
        if context.page.contains(['?', '#']) {
            return Err(bad(
                x.path("page"),
                "must be origin and path only, without query or fragment",
            ));
        }
        let previous = o.str("previous")?;
        if previous.as_deref().is_some_and(|p| !is_uuid_v4(p)) {
            return Err(bad(o.path("previous"), "must be a lower-case UUID v4"));
        }
        Ok(Receipt {
            version,
            receipt_id,
            issued_at,
            site: o.req_str("site")?,
            controller,
            subject,
            action,
            method,
            purposes,
            notice,
            context,
            expires_at,
            previous,
        })
    }
}

fn timestamp(o: &Fields<'_>, key: &str) -> Result<String, FieldError> {
    let t = o.req_str(key)?;
    if parse_rfc3339_utc(&t).is_none() {
        return Err(FieldError {
            path: o.path(key),
            reason: "must be an RFC 3339 UTC time like 2026-11-23T18:30:00.000Z".to_owned(),
        });
    }
    Ok(t)
}

/// Lower-case 8-4-4-4-12 hex with version 4 and the RFC 4122 variant.
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => matches!(c, b'0'..=b'9' | b'a'..=b'f'),
        })
        && b.get(14) == Some(&b'4')
        && matches!(b.get(19), Some(b'8' | b'9' | b'a' | b'b'))
}

/// Milliseconds since the Unix epoch for `YYYY-MM-DDTHH:MM:SS[.fff]Z`, the
/// only form receipts use (what `Date.toISOString()` writes).
pub fn parse_rfc3339_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let (millis, rest) = if sep(19, b'.') {
        let digits = b
            .get(20..)?
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let frac = num(20, digits.min(3))? * [100, 10, 1][digits.min(3) - 1];
        (frac, 20 + digits)
    } else {
        (0, 19)
    };
    if b.get(rest..) != Some(b"Z") {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month[(month - 1) as usize] {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the Unix epoch, as
/// `Date.toISOString()` writes it (years 0000-9999).
pub fn format_rfc3339_utc(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut s = String::with_capacity(24);
    let parts: [(i64, u32, char); 7] = [
        (year, 4, '-'),
        (month, 2, '-'),
        (day, 2, 'T'),
        (in_day / 3_600_000, 2, ':'),
        (in_day / 60_000 % 60, 2, ':'),
        (in_day / 1000 % 60, 2, '.'),
        (in_day % 1000, 3, 'Z'),
    ];
    for (n, width, sep) in parts {
        let mut div = 10i64.pow(width - 1);
        while div > 0 {
            s.push(char::from(b'0' + (n / div % 10) as u8));
            div /= 10;
        }
        s.push(sep);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Receipt {
        Receipt {
            version: VERSION,
            receipt_id: "0b6c2a1e-8f7d-4c3b-9a1e-2f3d4c5b6a79".into(),
            issued_at: "2026-11-23T18:30:00.000Z".into(),
            site: "acme-landing".into(),
            controller: Controller {
                name: "ACME".into(),
                contact: Some("privacy@acme.example".into()),
                privacy_policy_url: "https://acme.example/privacy".into(),
                policy_version: None,
            },
            subject: Subject {
                key: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into(),
                reference: None,
            },
            action: Action::Grant,
            method: Method::AcceptAll,
            purposes: vec![Purpose {
                id: "analytics".into(),
                granted: true,
                legal_basis: "consent".into(),
            }],
            notice: Notice {
                language: "en".into(),
                revision: 1,
                sha256: "a".repeat(64),
            },
            context: Context {
                page: "https://acme.example/".into(),
                user_agent: "Mozilla/5.0".into(),
                gpc: Some(false),
                form: None,
            },
            expires_at: "2027-05-23T18:30:00.000Z".into(),
            previous: None,
        }
    }

    #[test]
    fn a_receipt_round_trips_through_its_canonical_json() {
        let r = sample();
        let text = r.to_json().canonical().expect("canonical");
        assert!(
            text.starts_with("{\"action\":\"grant\",\"context\":{"),
            "{text}"
        );
        assert!(
            !text.contains("null"),
            "absent optional fields are left out: {text}"
        );
        let back = Receipt::from_json(&crate::json::parse(&text).expect("json")).expect("valid");
        assert_eq!(back, r);
    }

    /// Global Privacy Control has three states: on, off, and a browser
    /// without it; the last is no `gpc` field, never a made-up `false`.
    #[test]
    fn no_gpc_signal_is_no_gpc_field() {
        for gpc in [Some(true), Some(false), None] {
            let mut r = sample();
            r.context.gpc = gpc;
            let text = r.to_json().canonical().expect("canonical");
            assert_eq!(text.contains("\"gpc\""), gpc.is_some(), "{text}");
            let back =
                Receipt::from_json(&crate::json::parse(&text).expect("json")).expect("valid");
            assert_eq!(back.context.gpc, gpc);
        }
    }

    #[test]
    fn a_payload_with_an_ip_address_field_is_refused() {
        let mut v = sample().to_json();
        if let Json::Obj(fields) = &mut v {
            fields.push(("ip".into(), Json::str("203.0.113.7")));
        }
        assert_eq!(Receipt::from_json(&v).expect_err("unknown").path, "ip");
    }

    #[test]
    fn timestamps_are_checked_and_counted_from_the_epoch() {
        assert_eq!(parse_rfc3339_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_utc("2000-03-01T00:00:00.5Z"),
            Some(951_868_800_500)
        );
        assert_eq!(
            parse_rfc3339_utc("2026-11-23T18:30:00.123Z"),
            Some(1_795_458_600_123)
        );
        for bad in [
            "2026-02-29T00:00:00Z",
            "2026-11-23 18:30:00Z",
            "2026-11-23T18:30:00+01:00",
            "2026-11-23T24:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_format_like_to_iso_string_and_parse_back() {
        for ms in [0, 951_868_800_500, 1_795_458_600_123, 253_402_300_799_999] {
            let text = format_rfc3339_utc(ms);
            assert_eq!(text.len(), 24, "{text}");
            assert_eq!(parse_rfc3339_utc(&text), Some(ms), "{text}");
        }
        assert_eq!(
            format_rfc3339_utc(1_795_458_600_123),
            "2026-11-23T18:30:00.123Z"
        );
    }

    #[test]
    fn uuids_must_be_version_4() {
        assert!(is_uuid_v4("0b6c2a1e-8f7d-4c3b-9a1e-2f3d4c5b6a79"));
        assert!(!is_uuid_v4("0b6c2a1e-8f7d-1c3b-9a1e-2f3d4c5b6a79"));
        assert!(!is_uuid_v4("0B6C2A1E-8F7D-4C3B-9A1E-2F3D4C5B6A79"));
    }
}
