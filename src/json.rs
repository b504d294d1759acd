//! A small JSON reader for the site config. The widget ships to every
//! visitor, and serde's generated code plus its error formatting cost more
//! than the rest of the widget together; this keeps numbers as text (the
//! config only has whole numbers) so no float code is linked either.
//!
//! Objects keep their key order, duplicate keys are an error (JSON.parse would
//! silently keep the last one, hiding a site owner's mistake).

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
            Json::Num(n) => n.parse().ok(),
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
    let mut p = Parser { s: text.as_bytes(), i: 0 };
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
        ParseError { offset: self.i, reason }
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
        self.ws();
        if self.eat(b"}") {
            return Ok(Json::Obj(fields));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a key in quotes"));
            }
            let at = self.i;
            let key = self.string()?;
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(ParseError { offset: at, reason: "duplicate key" });
            }
            self.ws();
            if !self.eat(b":") {
                return Err(self.err("expected ':'"));
            }
            self.ws();
            let v = self.value(depth + 1)?;
            fields.push((key, v));
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"}") {
                return Ok(Json::Obj(fields));
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
        let text = self.s.get(start..self.i).and_then(|b| core::str::from_utf8(b).ok()).ok_or_else(|| self.err("invalid number"))?;
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
            let Some(c) = self.peek() else { return Err(self.err("unterminated string")) };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else { return Err(self.err("unterminated string")) };
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
                            char::from_u32(code).ok_or_else(|| self.err("lone surrogate in \\u escape"))?
                        }
                        _ => return Err(self.err("unknown escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err(ParseError { offset: self.i - 1, reason: "control character in string" }),
                _ => out.push(c),
            }
        }
        // The input is a &str and escapes add whole chars, so this holds.
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8"))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn parses_what_json_parse_accepts() {
        let v = parse(r#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\u00e9\ud83d\ude00\n"} "#).expect("valid");
        let Json::Obj(f) = v else { panic!("object") };
        assert_eq!(f[0].0, "a");
        assert_eq!(f[0].1, Json::Arr(vec![
            Json::Num("1".into()), Json::Num("-2.5e3".into()), Json::Bool(true), Json::Bool(false), Json::Null
        ]));
        assert_eq!(f[1].1, Json::Str("x\"é😀\n".into()));
    }

    #[test]
    fn refuses_what_json_parse_refuses_and_says_where() {
        for (text, offset) in [("{", 1), ("[1,]", 3), ("{\"a\" 1}", 5), ("\"\u{1}\"", 1), ("01x", 1), ("[1] [", 4), ("tru", 0), ("\"\\ud800\"", 7)] {
            let e = parse(text).expect_err(text);
            assert_eq!(e.offset, offset, "{text}: {}", e.reason);
        }
    }

    #[test]
    fn duplicate_keys_and_deep_nesting_are_errors() {
        assert_eq!(parse(r#"{"a":1,"a":2}"#).expect_err("dup").reason, "duplicate key");
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert_eq!(parse(&deep).expect_err("deep").reason, "nested too deeply");
    }

    #[test]
    fn whole_numbers_read_as_u32() {
        assert_eq!(Json::Num("13".into()).as_u32(), Some(13));
        assert_eq!(Json::Num("1.5".into()).as_u32(), None);
        assert_eq!(Json::Num("-1".into()).as_u32(), None);
    }
}
