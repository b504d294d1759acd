//! Puts the widget's JS snippets (`src/**/*.js`, which wasm-bindgen copies
//! under `snippets/` and the glue imports one by one) into the glue module
//! itself. The glue evaluates only once every module it imports has
//! arrived, so each snippet is one more request on the way to the banner;
//! measured in `cargo xtask bench`, seven files cost about 90 ms against
//! one at 4× CPU throttle. Brotli also does better on one file.
//!
//! Each snippet becomes a function scope returning its exports, evaluated
//! once in dependency order, as the module would have been; the import
//! statements (the glue's and the snippets' own) become reads of those
//! scopes. Snippets are ours and written plainly (`export function`,
//! `export async function`, `export const`, `import { … } from '…'`);
//! anything else is an error naming the file, never a silently broken
//! bundle.

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::Result;

struct Snippet {
    /// Relative to the glue's directory, with `/`: `snippets/<crate>/src/page/io.js`.
    path: String,
    /// The scope's variable name.
    var: String,
    body: String,
    exports: Vec<String>,
    /// The snippets this one imports (paths as above).
    needs: Vec<String>,
}

/// Inlines every snippet under `out/snippets/` into `out/<glue>` and
/// removes the folder.
pub fn inline_snippets(out: &Path, glue: &str, snippets: &[PathBuf]) -> Result {
    let mut parsed = Vec::new();
    for file in snippets {
        let rel = file
            .strip_prefix(out)
            .map_err(|_| format!("{} is not under {}", file.display(), out.display()))?;
        let path = rel.to_string_lossy().replace('\\', "/");
        let source = fs::read_to_string(file)?;
        parsed.push(parse(&path, &source)?);
    }
    let glue_file = out.join(glue);
    let glue_source = fs::read_to_string(&glue_file)?;
    let mut bundle = String::new();
    let mut done: Vec<String> = Vec::new();
    while done.len() < parsed.len() {
        let next = parsed
            .iter()
            .find(|s| !done.contains(&s.path) && s.needs.iter().all(|n| done.contains(n)));
        let Some(s) = next else {
            return Err("the JS snippets import each other in a cycle".into());
        };
        bundle.push_str(&scope(s));
        done.push(s.path.clone());
    }
    let rest = rewrite_imports(&glue_source, "", glue)?;
    bundle.push_str(&rest);
    fs::write(&glue_file, bundle)?;
    fs::remove_dir_all(out.join("snippets"))?;
    Ok(())
}

fn var_name(path: &str) -> String {
    let mut v = String::from("__consentry_");
    for c in path.trim_end_matches(".js").chars() {
        v.push(if c.is_ascii_alphanumeric() { c } else { '_' });
    }
    v
}

fn parse(path: &str, source: &str) -> Result<Snippet> {
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let mut exports = Vec::new();
    let mut needs = Vec::new();
    for line in source.lines() {
        if let Some(rest) = line.strip_prefix("export ") {
            let rest = rest.strip_prefix("async ").unwrap_or(rest);
            let name = ["function ", "const ", "let "]
                .iter()
                .find_map(|kw| rest.strip_prefix(kw))
                .map(|r| {
                    r.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$')
                        .collect::<String>()
                })
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("{path}: cannot read the export `{line}`"))?;
            exports.push(name);
        } else if line.starts_with("import ") {
            let (_, from) = import_parts(line, path)?;
            needs.push(resolve(dir, &from, path)?);
        } else if line.contains("export ") && line.trim_start().starts_with("export") {
            return Err(format!("{path}: an indented export `{line}` cannot be inlined").into());
        }
    }
    let mut body = String::new();
    for line in source.lines() {
        if line.starts_with("import ") {
            continue;
        }
        body.push_str(line.strip_prefix("export ").unwrap_or(line));
        body.push('\n');
    }
    let mut imports = String::new();
    for line in source.lines().filter(|l| l.starts_with("import ")) {
        imports.push_str(line);
        imports.push('\n');
    }
    let header = rewrite_imports(&imports, dir, path)?;
    Ok(Snippet {
        path: path.to_owned(),
        var: var_name(path),
        body: header + &body,
        exports,
        needs,
    })
}

fn scope(s: &Snippet) -> String {
    let mut out = format!("// {}\nconst {} = (() => {{\n", s.path, s.var);
    out.push_str(&s.body);
    out.push_str("return { ");
    out.push_str(&s.exports.join(", "));
    out.push_str(" };\n})();\n");
    out
}

/// `import { a, b as c } from 'x'` → (`{ a, b: c }`, `x`), and
/// `import * as n from "x"` → (`n`, `x`).
fn import_parts(line: &str, file: &str) -> Result<(String, String)> {
    let bad = || format!("{file}: cannot read the import `{line}`");
    let rest = line.strip_prefix("import ").ok_or_else(bad)?;
    let (what, from) = rest.split_once(" from ").ok_or_else(bad)?;
    let from = from.trim().trim_end_matches(';').trim();
    let quote = from.chars().next().ok_or_else(bad)?;
    if !(quote == '\'' || quote == '"') || !from.ends_with(quote) || from.len() < 2 {
        return Err(bad().into());
    }
    let from = from[1..from.len() - 1].to_owned();
    let what = what.trim();
    let binding = if let Some(name) = what.strip_prefix("* as ") {
        name.trim().to_owned()
    } else if what.starts_with('{') && what.ends_with('}') {
        what.replace(" as ", ": ")
    } else {
        return Err(bad().into());
    };
    Ok((binding, from))
}

/// `from`, relative to the directory `dir` of the importing file.
fn resolve(dir: &str, from: &str, file: &str) -> Result<String> {
    if !(from.starts_with("./") || from.starts_with("../")) {
        return Err(format!("{file}: imports `{from}`, which is not one of ours").into());
    }
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(dir).join(from).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts
                    .pop()
                    .ok_or_else(|| format!("{file}: `{from}` leaves the output folder"))?;
            }
            _ => {}
        }
    }
    Ok(parts.join("/"))
}

/// Every `import` line of `source` (a file in `dir`) that names a snippet
/// becomes a `const` read of its scope; other lines stay as they are.
fn rewrite_imports(source: &str, dir: &str, file: &str) -> Result<String> {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        if line.starts_with("import ") {
            let (binding, from) = import_parts(line, file)?;
            let target = resolve(dir, &from, file)?;
            if !target.starts_with("snippets/") {
                return Err(format!("{file}: imports `{from}`, which is not a snippet").into());
            }
            out.push_str(&format!("const {binding} = {};\n", var_name(&target)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_become_reads_of_the_snippet_scopes() {
        let line = "import { a, b as c } from './snippets/x/src/page/io.js';";
        assert_eq!(
            rewrite_imports(line, "", "glue").expect("an import we write"),
            "const { a, b: c } = __consentry_snippets_x_src_page_io;\n"
        );
        let ns = "import * as import1 from \"./snippets/x/src/ui/view.js\"";
        assert_eq!(
            rewrite_imports(ns, "", "glue").expect("an import we write"),
            "const import1 = __consentry_snippets_x_src_ui_view;\n"
        );
    }

    #[test]
    fn a_snippet_keeps_its_body_and_returns_its_exports() {
        let s = parse(
            "snippets/x/src/ui/forms.js",
            "import { submitHeld } from '../page/io.js';\nconst A = 1;\nexport function attach(s) {\n  return A;\n}\nexport async function later() {}\n",
        )
        .expect("a snippet as we write them");
        assert_eq!(s.exports, ["attach", "later"]);
        assert_eq!(s.needs, ["snippets/x/src/page/io.js"]);
        let js = scope(&s);
        assert!(js.contains("const { submitHeld } = __consentry_snippets_x_src_page_io;\n"));
        assert!(js.contains("\nfunction attach(s) {"));
        assert!(js.ends_with("return { attach, later };\n})();\n"));
    }

    #[test]
    fn what_cannot_be_inlined_is_named() {
        let err = parse("snippets/x/a.js", "export default 1;\n")
            .err()
            .expect("refused");
        assert!(err.to_string().contains("snippets/x/a.js"), "{err}");
        let err = parse("snippets/x/a.js", "import x from 'lib';\n")
            .err()
            .expect("refused");
        assert!(err.to_string().contains("import"), "{err}");
    }
}
