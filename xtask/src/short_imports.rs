//! Short import names for the widget's wasm and its glue.
//!
//! wasm-bindgen names each import `__wbg_<name>_<16 hex digits>` and gives
//! it the path of its JS file as module; both are written twice, in the
//! wasm's import section and in the glue's import object, and the hex
//! digits do not compress: about 2.5 KB brotli of the page's budget for 95
//! imports. Once the glue is one module (`inline_js`), `shorten` renames
//! wasm-bindgen's imports and every module to `a`, `b`, … in both files. Nothing else in
//! the wasm refers to an import by name, so the rest is copied byte for
//! byte.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::Result;

/// Renames the imports of `wasm` and their modules, and the same names in
/// `glue` (the one JS module that instantiates it).
pub fn shorten(wasm: &Path, glue: &Path) -> Result {
    let bytes = fs::read(wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;
    let (renamed, names, modules) =
        rename_imports(&bytes).map_err(|e| format!("{}: {e}", wasm.display()))?;
    let js =
        fs::read_to_string(glue).map_err(|e| format!("cannot read {}: {e}", glue.display()))?;
    let js =
        rename_in_glue(&js, &names, &modules).map_err(|e| format!("{}: {e}", glue.display()))?;
    fs::write(wasm, renamed)?;
    fs::write(glue, js)?;
    Ok(())
}

type Names = HashMap<String, String>;

/// `a`, `b`, … `z`, `ba`, `bb`, …: the `n`th short name.
fn short(n: usize) -> String {
    let mut n = n;
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn name_for(map: &mut Names, old: &str) -> String {
    let next = map.len();
    map.entry(old.to_owned())
        .or_insert_with(|| short(next))
        .clone()
}

/// The module with its import section rewritten, and the renames made:
/// (import names, module names). Import names are renamed only when they
/// are wasm-bindgen's (`__wbg…`, `__wbindgen…`).
fn rename_imports(wasm: &[u8]) -> std::result::Result<(Vec<u8>, Names, Names), String> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err("not a wasm module".into());
    }
    let mut out = wasm[..8].to_vec();
    let (mut names, mut modules) = (Names::new(), Names::new());
    let mut r = Reader { b: wasm, at: 8 };
    while r.at < wasm.len() {
        let id = r.byte()?;
        let size = r.leb()? as usize;
        let body = r.take(size)?;
        let body = if id == 2 {
            import_section(body, &mut names, &mut modules)?
        } else {
            body.to_vec()
        };
        out.push(id);
        push_leb(&mut out, body.len() as u64);
        out.extend_from_slice(&body);
    }
    Ok((out, names, modules))
}

fn import_section(
    body: &[u8],
    names: &mut Names,
    modules: &mut Names,
) -> std::result::Result<Vec<u8>, String> {
    let mut r = Reader { b: body, at: 0 };
    let count = r.leb()?;
    let mut out = Vec::new();
    push_leb(&mut out, count);
    for _ in 0..count {
        let module = r.name()?;
        let field = r.name()?;
        let desc_start = r.at;
        match r.byte()? {
            0 => {
                r.leb()?; // type index
            }
            1 => {
                r.byte()?; // element type
                r.limits()?;
            }
            2 => r.limits()?,
            3 => {
                r.byte()?; // value type
                r.byte()?; // mutability
            }
            4 => {
                r.byte()?; // tag attribute
                r.leb()?; // type index
            }
            kind => return Err(format!("unknown import kind {kind}")),
        }
        let desc = &body[desc_start..r.at];
        // Only wasm-bindgen's own names: an import called `memory` would
        // also rename every `memory` identifier of the glue.
        let field = if field.starts_with("__wbg") {
            name_for(names, &field)
        } else {
            field
        };
        for name in [name_for(modules, &module), field] {
            push_leb(&mut out, name.len() as u64);
            out.extend_from_slice(name.as_bytes());
        }
        out.extend_from_slice(desc);
    }
    if r.at != body.len() {
        return Err("trailing bytes in the import section".into());
    }
    Ok(out)
}

/// The glue with every import name and module renamed: names where they
/// stand as whole identifiers (the import object's keys), modules where
/// they stand as string literals. A module the glue still imports from
/// (`from "…"`) cannot be renamed: an error, as `inline_js` should have
/// removed that import.
fn rename_in_glue(js: &str, names: &Names, modules: &Names) -> std::result::Result<String, String> {
    for old in modules.keys() {
        for q in ['"', '\''] {
            if js.contains(&format!("from {q}{old}{q}")) {
                return Err(format!(
                    "still imports {old}, whose import names are being renamed"
                ));
            }
        }
    }
    let mut out = String::with_capacity(js.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let first_is_digit = word.starts_with(|c: char| c.is_ascii_digit());
        match names.get(word.as_str()) {
            Some(new) if !first_is_digit => out.push_str(new),
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in js.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    let mut js = out;
    for (old, new) in modules {
        for q in ['"', '\''] {
            js = js.replace(&format!("{q}{old}{q}"), &format!("{q}{new}{q}"));
        }
    }
    for old in names.keys() {
        if js.contains(old.as_str()) {
            return Err(format!("{old} is left in the glue"));
        }
    }
    Ok(js)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> std::result::Result<u8, String> {
        let b = *self.b.get(self.at).ok_or("truncated")?;
        self.at += 1;
        Ok(b)
    }

    fn leb(&mut self) -> std::result::Result<u64, String> {
        let (mut value, mut shift) = (0u64, 0);
        loop {
            let b = self.byte()?;
            if shift > 63 {
                return Err("LEB128 number too long".into());
            }
            value |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
    }

    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or("truncated")?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn name(&mut self) -> std::result::Result<String, String> {
        let n = self.leb()? as usize;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a name that is not UTF-8".into())
    }

    /// Table and memory limits: flags, minimum, and the maximum when flag
    /// bit 0 says there is one (bit 1: shared, bit 2: 64-bit).
    fn limits(&mut self) -> std::result::Result<(), String> {
        let flags = self.byte()?;
        if flags > 7 {
            return Err(format!("unknown limits flags {flags}"));
        }
        self.leb()?;
        if flags & 1 == 1 {
            self.leb()?;
        }
        Ok(())
    }
}

fn push_leb(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with a function type, two function imports from one JS
    /// file, a memory import, and an export.
    fn module() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend([1, 4, 1, 0x60, 0, 0]); // type section: () -> ()
        let mut imports = vec![3];
        for (module, name, desc) in [
            ("./glue_bg.js", "__wbg_log_0123456789abcdef", &[0u8, 0][..]),
            ("./glue_bg.js", "__wbg_now_fedcba9876543210", &[0, 0][..]),
            ("./snippets/x/io.js", "memory", &[2, 1, 1, 2][..]),
        ] {
            for s in [module, name] {
                imports.push(s.len() as u8);
                imports.extend(s.as_bytes());
            }
            imports.extend(desc);
        }
        m.push(2);
        m.push(imports.len() as u8);
        m.extend(imports);
        m.extend([7, 5, 1, 1, b'f', 0, 0]); // export section: "f" = func 0
        m
    }

    #[test]
    fn imports_and_modules_get_short_names_and_the_rest_is_kept() {
        let (out, names, modules) = rename_imports(&module()).expect("renamed");
        assert_eq!(names["__wbg_log_0123456789abcdef"], "a");
        assert_eq!(names["__wbg_now_fedcba9876543210"], "b");
        assert!(!names.contains_key("memory"), "only wasm-bindgen's names");
        assert_eq!(modules["./glue_bg.js"], "a");
        assert_eq!(modules["./snippets/x/io.js"], "b");
        let (again, _, _) = rename_imports(&out).expect("still a module");
        assert_eq!(again, out, "short names stay as they are");
        assert!(
            out.ends_with(&[7, 5, 1, 1, b'f', 0, 0]),
            "the export section is untouched"
        );
        assert!(rename_imports(b"not wasm").is_err());
    }

    #[test]
    fn the_glue_gets_the_same_names_as_whole_identifiers_only() {
        let (_, names, modules) = rename_imports(&module()).expect("renamed");
        let js = "const i={\"./glue_bg.js\":{__wbg_log_0123456789abcdef:function(e){console.log(e)},\
                  __wbg_now_fedcba9876543210(){return Date.now()}},'./snippets/x/io.js':{memory:m}};\
                  const memoryx=1;";
        let out = rename_in_glue(js, &names, &modules).expect("renamed");
        assert_eq!(
            out,
            "const i={\"a\":{a:function(e){console.log(e)},b(){return Date.now()}},'b':{memory:m}};\
             const memoryx=1;"
        );
    }

    #[test]
    fn a_glue_that_still_imports_a_renamed_module_is_refused() {
        let (_, names, modules) = rename_imports(&module()).expect("renamed");
        let js = "import * as io from './snippets/x/io.js'; const i={__wbg_log_0123456789abcdef:1}";
        assert!(rename_in_glue(js, &names, &modules).is_err());
    }

    #[test]
    fn short_names_count_in_base_26() {
        assert_eq!(short(0), "a");
        assert_eq!(short(25), "z");
        assert_eq!(short(26), "ba");
        assert_eq!(short(27), "bb");
    }
}
