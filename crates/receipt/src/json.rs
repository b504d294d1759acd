//! A small JSON reader and the RFC 8785 canonical writer, shared by the
//! widget (site config, receipts, notices) and the collector. The widget
//! ships to every visitor, and serde's generated code plus its error
//! formatting cost more than the rest of the widget together; this keeps
//! numbers as text (configs and receipts only have whole numbers) so no
//! float code is linked either.
//!
//! Objects keep their key order, duplicate keys are an error (JSON.parse would
//! silently keep the last one, hiding a site owner's mistake).

#[allow(unused_imports)]
use crate::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number as written; read it with `as_u32`.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// Nesting deeper than this is not a config; refusing it keeps the stack safe.
const MAX_DEPTH: u32 = 32;

impl Json {
    /// What the value is, in the words a site owner uses.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Num(_) => "a number",
            Json::Str(_) => "a string",
            Json::Arr(_) => "an array",
            Json::Obj(_) => "an object",
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Json::Num(n) => parse_num(n).and_then(|n| u32::try_from(n).ok()),
            _ => None,
        }
    }
}

/// Where parsing stopped and why; `offset` is in bytes from the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub reason: &'static str,
}

pub fn parse(text: &str) -> Result<Json, ParseError> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("unexpected text after the end"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> ParseError {
        ParseError {
            offset: self.i,
            reason,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, word: &[u8]) -> bool {
        if self.s.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: u32) -> Result<Json, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ if self.eat(b"true") => Ok(Json::Bool(true)),
            _ if self.eat(b"false") => Ok(Json::Bool(false)),
            _ if self.eat(b"null") => Ok(Json::Null),
            None => Err(self.err("unexpected end")),
            _ => Err(self.err("expected a value")),
        }
    }

    fn object(&mut self, depth: u32) -> Result<Json, ParseError> {
        self.i += 1;
        let mut fields: Vec<(String, Json)> = Vec::new();
        // Where each key starts, for the duplicate-key error.
        let mut at: Vec<usize> = Vec::new();
        let end = self.members(depth, &mut fields, &mut at);
        // Duplicates are looked for once, over the keys sorted, not key by
        // key against all before it: that was quadratic, and 9,000 short keys
        // in a 64 KiB notice cost 0.4 s. The error is the one a key-by-key
        // check gives: at the first key that repeats an earlier one, even
        // when the text after it has another error (the keys read before
        // that error are all here).
        if let Some(offset) = first_duplicate(&fields, &at) {
            return Err(ParseError {
                offset,
                reason: "duplicate key",
            });
        }
        end.map(|()| Json::Obj(fields))
    }

    /// The members of an object after its `{`, up to and with its `}`. A key
    /// goes into `fields` as soon as it is read (its value `null` until
    /// read), so a duplicate key counts even when what follows it is wrong.
    fn members(
        &mut self,
        depth: u32,
        fields: &mut Vec<(String, Json)>,
        at: &mut Vec<usize>,
    ) -> Result<(), ParseError> {
        self.ws();
        if self.eat(b"}") {
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a key in quotes"));
            }
            let start = self.i;
            let key = self.string()?;
            at.push(start);
            fields.push((key, Json::Null));
            self.ws();
            if !self.eat(b":") {
                return Err(self.err("expected ':'"));
            }
            self.ws();
            let v = self.value(depth + 1)?;
            if let Some(field) = fields.last_mut() {
                field.1 = v;
            }
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"}") {
                return Ok(());
            }
            return Err(self.err("expected ',' or '}'"));
        }
    }

    fn array(&mut self, depth: u32) -> Result<Json, ParseError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b"]") {
            return Ok(Json::Arr(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"]") {
                return Ok(Json::Arr(items));
            }
            return Err(self.err("expected ',' or ']'"));
        }
    }

    fn number(&mut self) -> Result<Json, ParseError> {
        let start = self.i;
        self.eat(b"-");
        let digits = |p: &mut Self| {
            let from = p.i;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.i += 1;
            }
            p.i > from
        };
        if self.eat(b"0") {
            if matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("leading zero in a number"));
            }
        } else if !digits(self) {
            return Err(self.err("expected a digit"));
        }
        if self.eat(b".") && !digits(self) {
            return Err(self.err("expected a digit after '.'"));
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            let _ = self.eat(b"+") || self.eat(b"-");
            if !digits(self) {
                return Err(self.err("expected a digit in the exponent"));
            }
        }
        let text = self
            .s
            .get(start..self.i)
            .and_then(|b| core::str::from_utf8(b).ok())
            .ok_or_else(|| self.err("invalid number"))?;
        Ok(Json::Num(text.to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut n = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("expected 4 hex digits after \\u")),
            };
            n = n * 16 + d as u32;
            self.i += 1;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated string"));
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.eat(b"\\u") {
                                    return Err(self.err("lone surrogate in \\u escape"));
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("lone surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code)
                                .ok_or_else(|| self.err("lone surrogate in \\u escape"))?
                        }
                        _ => return Err(self.err("unknown escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => {
                    return Err(ParseError {
                        offset: self.i - 1,
                        reason: "control character in string",
                    })
                }
                _ => out.push(c),
            }
        }
        // The input is a &str and escapes add whole chars, so this holds.
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8"))
    }
}

/// Why a value has no RFC 8785 form here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotCanonical;

impl Json {
    /// The RFC 8785 (JCS) canonical text: keys sorted by UTF-16 code units,
    /// no whitespace, minimal string escapes. Numbers must be integers within
    /// ±2^53 (all that receipts and notices carry): their canonical form is
    /// their plain decimal digits, so no float formatting is needed.
    pub fn canonical(&self) -> Result<String, NotCanonical> {
        let mut out = String::new();
        self.write_canonical(&mut out)?;
        Ok(out)
    }

    fn write_canonical(&self, out: &mut String) -> Result<(), NotCanonical> {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Num(n) => out.push_str(canonical_integer(n).ok_or(NotCanonical)?),
            Json::Str(s) => write_string(s, out),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_canonical(out)?;
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, &at) in key_order(fields).iter().enumerate() {
                    let Some((k, v)) = fields.get(at) else {
                        continue;
                    };
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(k, out);
                    out.push(':');
                    v.write_canonical(out)?;
                }
                out.push('}');
            }
        }
        Ok(())
    }

    pub fn str(s: &str) -> Json {
        Json::Str(s.to_owned())
    }

    pub fn int(n: u64) -> Json {
        let mut s = String::new();
        push_num(&mut s, n);
        Json::Num(s)
    }

    /// An object from `(key, value)` pairs, skipping `None` values (an absent
    /// optional field is left out, not written as null).
    pub fn object(fields: Vec<(&str, Option<Json>)>) -> Json {
        // A loop, not `filter_map(..).collect()`: smaller in the widget's wasm.
        let mut members = Vec::with_capacity(fields.len());
        for (k, v) in fields {
            if let Some(v) = v {
                members.push((k.to_owned(), v));
            }
        }
        Json::Obj(members)
    }

    /// The field `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The positions of `fields` in RFC 8785 member order: by the keys' UTF-16
/// code units, equal keys (possible only in a `Json` built in code) in their
/// own order. A bottom-up merge sort: O(n log n) on the thousands of keys an
/// untrusted notice can carry, where the insertion sort before it was
/// quadratic, and a few lines of wasm where std's sort is kilobytes.
fn key_order(fields: &[(String, Json)]) -> Vec<usize> {
    let n = fields.len();
    // `get` rather than indexing, which would put panic paths in the wasm:
    // every position here is in range, so "" and 0 below never happen.
    let key = |i: Option<&usize>| i.and_then(|&i| fields.get(i)).map_or("", |f| f.0.as_str());
    let mut from = Vec::new();
    for i in 0..n {
        from.push(i);
    }
    let mut width = 1;
    while width < n {
        let mut to = Vec::new();
        let mut lo = 0;
        while lo < n {
            // Merges the sorted runs `lo..mid` and `mid..hi`.
            let mid = n.min(lo + width);
            let hi = n.min(mid + width);
            let (mut l, mut r) = (lo, mid);
            while l < mid || r < hi {
                let (a, b) = (from.get(l), from.get(r));
                // The right run goes first only when strictly less: stable.
                let right = r < hi && (l == mid || key(b).encode_utf16().lt(key(a).encode_utf16()));
                let next = if right { b } else { a };
                to.push(next.copied().unwrap_or(0));
                if right {
                    r += 1;
                } else {
                    l += 1;
                }
            }
            lo = hi;
        }
        from = to;
        width *= 2;
    }
    from
}

/// Where the first key that repeats an earlier one starts (`at[i]` is where
/// `fields[i]`'s key starts, in text order). Sorted, equal keys are
/// neighbours in text order, so each later one of a pair is a repeat and the
/// first repeat is the one that comes first in the text.
fn first_duplicate(fields: &[(String, Json)], at: &[usize]) -> Option<usize> {
    let mut first = usize::MAX;
    let mut previous = None;
    for &i in &key_order(fields) {
        let key = fields.get(i).map(|f| &f.0);
        if key == previous {
            first = first.min(i);
        }
        previous = key;
    }
    at.get(first).copied()
}

fn canonical_integer(n: &str) -> Option<&str> {
    let digits = n.strip_prefix('-').unwrap_or(n);
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && n != "-0";
    let value = parse_num(digits)?;
    (plain && value <= (1u64 << 53)).then_some(n)
}

fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(char::from(HEX[(c as usize) >> 4]));
                out.push(char::from(HEX[(c as usize) & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A problem at a place in a JSON document: `path` is like
/// `categories[2].id` (empty for the whole document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub reason: String,
}

/// Appends a decimal number without the `format!` machinery (wasm size).
/// Divides by the constant 10 only, so no division-by-zero panic is linked.
pub fn push_num(out: &mut String, n: u64) {
    if n >= 10 {
        push_num(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Reads a decimal number as `str::parse::<u64>` does (an optional `+`, then
/// digits only), without its generic code and error type (wasm size).
pub fn parse_num(text: &str) -> Option<u64> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    let mut n = 0u64;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// One JSON object being read, with its path for errors. Unknown keys are
/// refused up front: a typo ("privacyPolicyURL") must not pass silently.
pub struct Fields<'a> {
    fields: &'a [(String, Json)],
    path: String,
}

pub trait JoinKey {
    fn join_key(self, key: &str) -> String;
}

impl JoinKey for String {
    fn join_key(mut self, key: &str) -> String {
        if !self.is_empty() {
            self.push('.');
        }
        self.push_str(key);
        self
    }
}

pub fn type_error(path: String, expected: &str, got: &Json) -> FieldError {
    let mut reason = String::from("must be ");
    reason.push_str(expected);
    reason.push_str(", not ");
    reason.push_str(got.kind());
    FieldError { path, reason }
}

impl<'a> Fields<'a> {
    pub fn new(value: &'a Json, path: String, allowed: &[&str]) -> Result<Fields<'a>, FieldError> {
        let Json::Obj(fields) = value else {
            return Err(type_error(path, "an object", value));
        };
        for (k, _) in fields {
            if !allowed.contains(&k.as_str()) {
                let mut reason = String::from("unknown field; expected one of: ");
                // Not `join`: its overflow checks link panic formatting.
                for (i, name) in allowed.iter().enumerate() {
                    if i > 0 {
                        reason.push_str(", ");
                    }
                    reason.push_str(name);
                }
                return Err(FieldError {
                    path: path.join_key(k),
                    reason,
                });
            }
        }
        Ok(Fields { fields, path })
    }

    pub fn path(&self, key: &str) -> String {
        self.path.clone().join_key(key)
    }

    pub fn index(&self, key: &str, i: usize) -> String {
        let mut p = self.path(key);
        p.push('[');
        push_num(&mut p, i as u64);
        p.push(']');
        p
    }

    /// `null` counts as absent, as `undefined` does in JS.
    pub fn get(&self, key: &str) -> Option<&'a Json> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .filter(|v| **v != Json::Null)
    }

    pub fn str(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::Str(s)) => Ok(Some(s.clone())),
            Some(v) => Err(type_error(self.path(key), "a string", v)),
        }
    }

    pub fn req_str(&self, key: &str) -> Result<String, FieldError> {
        self.str(key)?.ok_or_else(|| FieldError {
            path: self.path(key),
            reason: "is required".to_owned(),
        })
    }

    pub fn u32(&self, key: &str) -> Result<Option<u32>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u32()
                .map(Some)
                .ok_or_else(|| type_error(self.path(key), "a whole number", v)),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(type_error(self.path(key), "true or false", v)),
        }
    }

    pub fn arr(&self, key: &str) -> Result<&'a [Json], FieldError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Json::Arr(items)) => Ok(items),
            Some(v) => Err(type_error(self.path(key), "an array", v)),
        }
    }

    pub fn obj(&self, key: &str, allowed: &[&str]) -> Result<Option<Fields<'a>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Fields::new(v, self.path(key), allowed).map(Some),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn parses_what_json_parse_accepts() {
        let v = parse(r#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\u00e9\ud83d\ude00\n"} "#)
            .expect("valid");
        let Json::Obj(f) = v else { panic!("object") };
        assert_eq!(f[0].0, "a");
        assert_eq!(
            f[0].1,
            Json::Arr(vec![
                Json::Num("1".into()),
                Json::Num("-2.5e3".into()),
                Json::Bool(true),
                Json::Bool(false),
                Json::Null
            ])
        );
        assert_eq!(f[1].1, Json::Str("x\"é😀\n".into()));
    }

    #[test]
    fn refuses_what_json_parse_refuses_and_says_where() {
        for (text, offset) in [
            ("{", 1),
            ("[1,]", 3),
            ("{\"a\" 1}", 5),
            ("\"\u{1}\"", 1),
            ("01x", 1),
            ("[1] [", 4),
            ("tru", 0),
            ("\"\\ud800\"", 7),
        ] {
            let e = parse(text).expect_err(text);
            assert_eq!(e.offset, offset, "{text}: {}", e.reason);
        }
    }

    #[test]
    fn duplicate_keys_and_deep_nesting_are_errors() {
        assert_eq!(
            parse(r#"{"a":1,"a":2}"#).expect_err("dup").reason,
            "duplicate key"
        );
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert_eq!(parse(&deep).expect_err("deep").reason, "nested too deeply");
    }

    /// 9,000 distinct keys of one or two characters, among them the three
    /// whose UTF-16 order is not their code point order (U+00E9, U+FF61,
    /// U+1F600), in a scrambled order: a hostile notice's texts.
    fn nine_thousand_keys() -> Vec<String> {
        let mut alphabet: Vec<char> = (' '..='~').filter(|c| !matches!(c, '"' | '\\')).collect();
        alphabet.extend(['\u{e9}', '\u{ff61}', '\u{1f600}']);
        let mut keys: Vec<String> = alphabet.iter().map(char::to_string).collect();
        for a in &alphabet {
            keys.extend(alphabet.iter().map(|b| format!("{a}{b}")));
        }
        keys.truncate(9000);
        // 7919 is prime and does not divide 9000: a permutation.
        (0..keys.len())
            .map(|i| keys[i * 7919 % keys.len()].clone())
            .collect()
    }

    /// `{"k0":0,"k1":1,…}` and where each key's opening quote is.
    fn object_text(keys: &[String]) -> (String, Vec<usize>) {
        let mut text = String::from("{");
        let mut at = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            at.push(text.len());
            text.push_str(&format!("\"{k}\":{i}"));
        }
        text.push('}');
        (text, at)
    }

    #[test]
    fn nine_thousand_keys_parse_in_their_order_and_sort_by_utf_16_code_units() {
        let keys = nine_thousand_keys();
        let (text, _) = object_text(&keys);
        let v = parse(&text).expect("distinct keys");
        let Json::Obj(fields) = &v else {
            panic!("object")
        };
        assert!(fields.iter().map(|(k, _)| k).eq(keys.iter()));

        let mut sorted: Vec<(usize, &String)> = keys.iter().enumerate().collect();
        sorted.sort_by(|a, b| a.1.encode_utf16().cmp(b.1.encode_utf16()));
        let members: Vec<String> = sorted.iter().map(|(i, k)| format!("\"{k}\":{i}")).collect();
        let expected = format!("{{{}}}", members.join(","));
        assert_eq!(v.canonical().as_deref(), Ok(expected.as_str()));
        // Canonical text is its own canonical form.
        let again = parse(&expected).expect("canonical text parses");
        assert_eq!(again.canonical().as_deref(), Ok(expected.as_str()));
    }

    #[test]
    fn one_key_twice_among_nine_thousand_is_refused_where_it_repeats() {
        let mut keys = nine_thousand_keys();
        let first = keys[1234].clone();
        keys[8000] = first.clone();
        keys[8500] = first;
        let (text, at) = object_text(&keys);
        assert_eq!(
            parse(&text),
            Err(ParseError {
                offset: at[8000],
                reason: "duplicate key"
            })
        );
    }

    #[test]
    fn a_duplicate_key_is_the_error_even_when_the_text_after_it_is_broken_too() {
        // As when each key was checked as it was read: the first problem in
        // the text is the one reported.
        for (text, offset, reason) in [
            (r#"{"a":1,"a":2,"#, 7, "duplicate key"),
            (r#"{"a":1,"a""#, 7, "duplicate key"),
            (r#"{"a":1,"a":[1,]}"#, 7, "duplicate key"),
            (r#"{"a":{"b":1,"b":2},"a":0}"#, 12, "duplicate key"),
            (r#"{"a":1,"b":[1,],"a":2}"#, 14, "expected a value"),
            (r#"{"b":1,"a":1,"b":2,"a":2}"#, 13, "duplicate key"),
        ] {
            assert_eq!(parse(text), Err(ParseError { offset, reason }), "{text}");
        }
    }

    #[test]
    fn equal_keys_built_in_code_keep_their_order_in_the_canonical_form() {
        let v = Json::Obj(vec![
            ("b".into(), Json::int(1)),
            ("a".into(), Json::int(0)),
            ("b".into(), Json::int(2)),
        ]);
        assert_eq!(v.canonical().as_deref(), Ok(r#"{"a":0,"b":1,"b":2}"#));
    }

    #[test]
    fn canonical_form_follows_rfc_8785() {
        // Keys sort by UTF-16 code units: U+00E9, then U+1F600 (as D83D DE00),
        // then U+FF61 -- by code points U+FF61 would come before U+1F600.
        let text = r#"{"b": [1, "x\u0001\t\"", null], "a": {"\uff61": 1, "\ud83d\ude00": 2, "\u00e9": 3}}"#;
        let v = parse(text).expect("valid");
        let expected = "{\"a\":{\"\u{e9}\":3,\"\u{1f600}\":2,\"\u{ff61}\":1},\"b\":[1,\"x\\u0001\\t\\\"\",null]}";
        assert_eq!(v.canonical().expect("canonical"), expected);
    }

    #[test]
    fn only_plain_integers_have_a_canonical_form_here() {
        for bad in ["-0", "1.5", "1e3", "9007199254740993"] {
            assert_eq!(
                Json::Num(bad.into()).canonical(),
                Err(NotCanonical),
                "{bad}"
            );
        }
        assert_eq!(Json::Num("-42".into()).canonical().as_deref(), Ok("-42"));
    }

    #[test]
    fn numbers_are_written_and_read_as_std_does() {
        for n in [0, 7, 10, 99, 100, 4_294_967_296, u64::MAX - 1, u64::MAX] {
            let mut s = String::new();
            push_num(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        for text in [
            "",
            "+",
            "-",
            "0",
            "+0",
            "-0",
            "007",
            "42",
            "+42",
            "4 2",
            "1.5",
            "1e3",
            "x",
            "18446744073709551615",
            "18446744073709551616",
            "+18446744073709551615",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_num(text), text.parse::<u64>().ok(), "{text:?}");
        }
    }

    #[test]
    fn whole_numbers_read_as_u32() {
        assert_eq!(Json::Num("13".into()).as_u32(), Some(13));
        assert_eq!(Json::Num("1.5".into()).as_u32(), None);
        assert_eq!(Json::Num("-1".into()).as_u32(), None);
    }
}
