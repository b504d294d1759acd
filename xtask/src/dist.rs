//! `cargo xtask dist`: the widget, built, optimized and measured, in `target/dist/`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, run, target_dir, Result};

/// What each kind of visit fetches for the widget (issue 12): every file,
/// brotli -q 11 each on its own as served, summed. A returning visitor with
/// a current choice and nothing waiting gets the loader alone, which applies
/// the choice itself; any other visit loads the wasm too. A page in another
/// built-in language than English also fetches its `lang/<code>.json`; the
/// budgets, like issue 13's, count the demo's English page.
///
/// `budget` is what `cargo xtask test` enforces: issue 12's targets plus
/// the 2 KB issue 13 adds to each for languages. `target` is issue 12's own
/// goal, printed with whether it is met. The first visit still loads the
/// whole wasm (the banner is not a part of its own yet), so its budget is
/// for now the whole visit's, a ceiling that catches regressions.
struct Visit {
    what: &'static str,
    files: fn(&Path) -> Vec<PathBuf>,
    budget: usize,
    target: usize,
}

const VISITS: [Visit; 3] = [
    Visit {
        what: "returning visitor (choice stored, nothing waiting)",
        files: loader_only,
        budget: 18 * 1024,
        target: 16 * 1024,
    },
    Visit {
        what: "first visit, until the banner is shown",
        files: widget_files,
        // A ceiling until the banner loads apart from the rest (issue 13:
        // 30 KB once it does).
        budget: 62 * 1024,
        target: 28 * 1024,
    },
    Visit {
        what: "everything a visit can load",
        files: widget_files,
        budget: 62 * 1024,
        target: 60 * 1024,
    },
];

fn loader_only(out: &Path) -> Vec<PathBuf> {
    vec![out.join(WIDGET_FILES[0])]
}

/// What a page loads for the widget, in load order; CSS is inside the wasm.
pub const WIDGET_FILES: [&str; 3] = [
    "consentry.js",
    "consentry-core.js",
    "consentry-core_bg.wasm",
];

/// The features rustc enables by default for wasm32-unknown-unknown
/// (`rustc --print cfg --target wasm32-unknown-unknown`). wasm-opt must accept
/// them to read the module, and must not emit more than browsers run.
const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
];

/// How wasm-opt shrinks the module, measured on it (brotli bytes of the
/// wasm): `-Oz` alone 51,560; these 51,149. Rust puts the stack first
/// (wasm-ld's `--stack-first`) and data above it, so nothing lives in the
/// low 1 KB `--low-memory-unused` lets loads and stores fold offsets into;
/// flattening and re-looping the control flow before two `-Oz` rounds
/// finds what one round leaves.
pub const WASM_OPT_PASSES: [&str; 5] = [
    "--low-memory-unused",
    "--flatten",
    "--rereloop",
    "-Oz",
    "-Oz",
];

pub fn dist_dir() -> PathBuf {
    target_dir().join("dist")
}

/// `cargo xtask dist`: build, measure, and fail over budget.
pub fn dist() -> Result {
    build()?;
    check_budgets()
}

/// Builds the widget into `target/dist/`, prints its sizes and returns their total.
pub fn build() -> Result<Sizes> {
    let out = dist_dir();
    // Start empty, so a file the pipeline no longer makes cannot linger and be served.
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    fs::create_dir_all(&out)?;

    // Whatever the profile says, keep the `target_features` section that `strip = true`
    // would drop: wasm-bindgen reads it to use reference types, and warns without it.
    // wasm-opt below strips the names and the other sections browsers ignore.
    run(cargo()
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "consentry",
            "--lib",
        ])
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo"))?;
    let wasm = target_dir().join("wasm32-unknown-unknown/release/consentry.wasm");
    // `--target web`: an ES module with an `init` that fetches the wasm next to it,
    // which both the classic loader and the npm package import. The .d.ts files stay for npm users.
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--out-name",
            "consentry-core",
            "--out-dir",
        ])
        .arg(&out)
        .arg(&wasm))?;

    let core_wasm = out.join("consentry-core_bg.wasm");
    run(Command::new("node_modules/.bin/wasm-opt")
        .args(WASM_OPT_PASSES)
        .args(WASM_FEATURES)
        .args([
            "--strip-debug",
            "--strip-producers",
            "--strip-target-features",
        ])
        .arg(&core_wasm)
        .arg("-o")
        .arg(&core_wasm))?;
    // A wrong feature flag yields a module browsers refuse; catch it here, not in a test page.
    run(Command::new("node")
        .args(["-e", "if (!WebAssembly.validate(require('fs').readFileSync(process.argv[1]))) { console.error('invalid wasm after wasm-opt'); process.exit(1) }"])
        .arg(&core_wasm))?;

    // One module on the way to the banner, not one per snippet.
    crate::inline_js::inline_snippets(&out, "consentry-core.js", &snippets(&out))?;
    // Then the import names, written in both files, can be short.
    crate::short_imports::shorten(&core_wasm, &out.join("consentry-core.js"))?;
    run(Command::new("node")
        .args(["-e", "if (!WebAssembly.validate(require('fs').readFileSync(process.argv[1]))) { console.error('invalid wasm after shortening its imports'); process.exit(1) }"])
        .arg(&core_wasm))?;
    // Every JS library ships minified; for us it is a fifth of the budget.
    let core_js = out.join("consentry-core.js");
    minify(&core_js, &core_js, true)?;
    // Before the loader, which carries the hashes of what it fetches.
    language_files(&out)?;
    if Path::new("pkg-config/consentry.js").exists() {
        let loader = out.join("consentry.loader.js");
        fs::write(&loader, loader_source(&out)?)?;
        minify(&loader, &out.join("consentry.js"), false)?;
        fs::remove_file(&loader)?;
    } else {
        eprintln!("xtask: note: no pkg-config/consentry.js yet, skipping the classic loader");
    }
    copy_if_exists(
        "pkg-config/examples/landing.json",
        &out.join("consentry.config.json"),
        "the demo config",
    )?;
    write_integrity(&out)?;
    npm_package(&out)?;

    let files = widget_files(&out);
    print_sizes("target/dist (what a page loads for the widget)", &files)
}

/// `template` (the classic loader or the npm module) with a `token` replaced:
/// an error naming both when the token is missing, so a renamed token cannot
/// ship a file with the placeholder left in.
fn put_in(template: &str, source: &str, token: &str, value: &str) -> Result<String> {
    if !source.contains(token) {
        return Err(
            format!("{template} lacks the {token} that `cargo xtask dist` replaces").into(),
        );
    }
    Ok(source.replace(token, value))
}

/// The consent core (pkg-config/core.js), with what it draws put in from the
/// one source the wasm uses too: the shell's CSS with the reopen button's
/// icon in it, and what a choice does to the page (src/page/apply.js); and the built-in
/// languages that have a file (src/lang/).
fn core_source() -> Result<String> {
    let template = "pkg-config/core.js";
    let mut core = fs::read_to_string(template)?;
    core = put_in(
        template,
        &core,
        "'__CONSENTRY_LANGUAGE_FILES__'",
        &js_string(&language_codes()?.join(",")),
    )?;
    let read =
        |file: &str| fs::read_to_string(file).map_err(|err| format!("cannot read {file}: {err}"));
    let icon = svg_data_url(read("src/ui/reopen.svg")?.trim_end());
    let shell = put_in(
        "src/ui/shell.css",
        &read("src/ui/shell.css")?,
        "url(reopen.svg)",
        &format!("url(\"{icon}\")"),
    )?;
    core = put_in(
        template,
        &core,
        "'__CONSENTRY_SHELL_CSS__'",
        &js_string(shell.trim_end()),
    )?;
    put_in(template, &core, "/*__CONSENTRY_APPLY__*/", &apply_source()?)
}

/// `svg` as a `data:` URL for a CSS `url("…")`: only what a URL or the
/// quotes around it cannot hold is escaped, so it stays readable and small.
fn svg_data_url(svg: &str) -> String {
    let mut url = String::from("data:image/svg+xml,");
    for c in svg.chars() {
        match c {
            '"' => url.push('\''),
            '#' => url.push_str("%23"),
            '%' => url.push_str("%25"),
            '<' => url.push_str("%3C"),
            '>' => url.push_str("%3E"),
            '\n' | '\r' => url.push(' '),
            c => url.push(c),
        }
    }
    url
}

/// src/page/apply.js as plain script for the core: the same file the wasm
/// imports as a module, its `export`s dropped (the core is a script in the
/// classic loader and the body of the npm module, and exports nothing of it).
fn apply_source() -> Result<String> {
    let file = "src/page/apply.js";
    let text = fs::read_to_string(file).map_err(|err| format!("cannot read {file}: {err}"))?;
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("import ") {
            return Err(format!("{file} must stay self-contained: the core has no modules").into());
        }
        out.push_str(line.strip_prefix("export ").unwrap_or(line));
        out.push('\n');
    }
    Ok(out)
}

/// `template` with the consent core put in: the classic loader and the npm
/// module carry the same core.
fn with_core(template: &str) -> Result<String> {
    let source = fs::read_to_string(template)?;
    put_in(template, &source, "/*__CONSENTRY_CORE__*/", &core_source()?)
}

/// The classic loader, with its core and the Subresource Integrity hashes
/// of the files it fetches from `out`: it holds them to those bytes.
fn loader_source(out: &Path) -> Result<String> {
    let template = "pkg-config/consentry.js";
    let mut loader = with_core(template)?;
    for (token, file) in [
        ("'__CONSENTRY_SRI_CORE__'", "consentry-core.js"),
        ("'__CONSENTRY_SRI_WASM__'", "consentry-core_bg.wasm"),
        ("'__CONSENTRY_SRI_LANG__'", LANGUAGE_HASHES),
    ] {
        loader = put_in(template, &loader, token, &js_string(&sri(&out.join(file))?))?;
    }
    Ok(loader)
}

/// Where the hashes of the language files are, under `out`: one file the
/// loader holds to its own hash, fetched only by a page that needs a
/// language file, rather than sixteen hashes on every page.
const LANGUAGE_HASHES: &str = "lang/integrity.json";

/// The Subresource Integrity value of a file: `sha256-` and its SHA-256 in
/// base64 (sha256 rather than sha384: the loader carries three of them on
/// every page, and each byte of a hash is incompressible).
fn sri(path: &Path) -> Result<String> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let bytes = fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let digest = sha2::Sha256::digest(&bytes);
    Ok(format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    ))
}

/// `{"<name>": "<integrity>", …}` of `files` (relative to `dir`), in order.
fn integrity_json(dir: &Path, files: &[String]) -> Result<String> {
    let mut json = String::from("{");
    for (i, name) in files.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!("\"{name}\":\"{}\"", sri(&dir.join(name))?));
    }
    json.push('}');
    Ok(json)
}

/// `integrity.json` in `out`: the hash of every file a page may fetch for
/// the widget, the one for the script tag's `integrity` attribute first.
/// Printed too, so a site can copy it.
fn write_integrity(out: &Path) -> Result {
    let mut files: Vec<String> = WIDGET_FILES.iter().map(|f| f.to_string()).collect();
    files.push(LANGUAGE_HASHES.to_string());
    for code in language_codes()? {
        files.push(format!("lang/{code}.json"));
    }
    files.retain(|f| out.join(f).exists());
    let json = integrity_json(out, &files)?;
    fs::write(out.join("integrity.json"), &json)?;
    if out.join(WIDGET_FILES[0]).exists() {
        println!(
            "\nintegrity of the script tag (all files in target/dist/integrity.json): {}",
            sri(&out.join(WIDGET_FILES[0]))?
        );
    }
    Ok(())
}

/// `text` as a single-quoted JS string literal.
fn js_string(text: &str) -> String {
    let mut s = String::from("'");
    for c in text.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\'' => s.push_str("\\'"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\u{2028}' => s.push_str("\\u2028"),
            '\u{2029}' => s.push_str("\\u2029"),
            c => s.push(c),
        }
    }
    s.push('\'');
    s
}

/// Everything a page loads for the widget: `WIDGET_FILES` (the JS
/// snippets are inside the glue, see `inline_js`).
pub fn widget_files(out: &Path) -> Vec<PathBuf> {
    WIDGET_FILES
        .iter()
        .map(|f| out.join(f))
        .filter(|p| p.exists())
        .collect()
}

/// The JS files wasm-bindgen copied under `snippets/` (`src/**/*.js`).
fn snippets(out: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "js") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&out.join("snippets"), &mut found);
    found.sort();
    found
}

/// Prints what each kind of visit fetches and fails when one is over its budget.
pub fn check_budgets() -> Result {
    let out = dist_dir();
    println!("\nbudgets: bytes brotli a page fetches for the widget, per visit");
    let mut over = Vec::new();
    for visit in &VISITS {
        let mut brotli = 0;
        for file in (visit.files)(&out) {
            let bytes =
                fs::read(&file).map_err(|err| format!("cannot read {}: {err}", file.display()))?;
            brotli += Sizes::of(&bytes)?.brotli;
        }
        let goal = if brotli > visit.target {
            format!("; issue 12's target {} not met", visit.target)
        } else {
            format!("; issue 12's target {} met", visit.target)
        };
        println!(
            "{:<52} {brotli:>7} of {:>6} ({}%){goal}",
            visit.what,
            visit.budget,
            brotli * 100 / visit.budget
        );
        if brotli > visit.budget {
            over.push(format!(
                "{}: {brotli} bytes, over its {}",
                visit.what, visit.budget
            ));
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "over budget (try `cargo xtask bench` for the breakdown): {}",
            over.join("; ")
        )
        .into())
    }
}

/// The codes of the built-in language files, `src/lang/<code>.json`, sorted.
fn language_codes() -> Result<Vec<String>> {
    let mut codes: Vec<String> = fs::read_dir("src/lang")
        .map_err(|err| format!("cannot read src/lang: {err}"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_owned)
        })
        .collect();
    codes.sort();
    Ok(codes)
}

/// `target/dist/lang/<code>.json`: the built-in texts of each language but
/// English (which is in the wasm), from `src/lang/`, without the
/// whitespace; a page fetches the one it shows (src/language.rs).
fn language_files(out: &Path) -> Result {
    let dir = out.join("lang");
    fs::create_dir_all(&dir)?;
    let mut entries: Vec<PathBuf> = fs::read_dir("src/lang")
        .map_err(|err| format!("cannot read src/lang: {err}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    let mut names = Vec::new();
    for path in entries {
        let text = fs::read_to_string(&path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        if let Some(name) = path.file_name() {
            fs::write(dir.join(name), compact_json(&text))?;
            names.push(name.to_string_lossy().into_owned());
        }
    }
    // What the loader fetches each file with: `{"de.json": "sha256-…", …}`.
    fs::write(out.join(LANGUAGE_HASHES), integrity_json(&dir, &names)?)?;
    Ok(())
}

/// `text` (JSON) without the whitespace between its tokens; strings are
/// kept byte for byte.
fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// `target/dist/npm/`: the npm package, from the template in `pkg-config/`
/// plus the wasm-bindgen output it imports.
fn npm_package(out: &Path) -> Result {
    if !Path::new("pkg-config/package.json").exists() {
        eprintln!("xtask: note: no pkg-config/package.json yet, skipping the npm package");
        return Ok(());
    }
    let npm = out.join("npm");
    fs::create_dir_all(&npm)?;
    // Hand-written files from the template, then the built ones; a file the
    // template's `files` list names but nobody wrote yet is simply absent.
    let template = [
        "package.json",
        "index.d.ts",
        "README.md",
        "consentry.schema.json",
    ]
    .map(|name| Path::new("pkg-config").join(name));
    let built = [
        "consentry.js",
        "consentry-core.js",
        "consentry-core.d.ts",
        "consentry-core_bg.wasm",
        "consentry-core_bg.wasm.d.ts",
    ]
    .map(|name| out.join(name));
    for from in template.iter().chain(&built).filter(|from| from.exists()) {
        if let Some(name) = from.file_name() {
            fs::copy(from, npm.join(name))?;
        }
    }
    let lang = npm.join("lang");
    fs::create_dir_all(&lang)?;
    for entry in fs::read_dir(out.join("lang"))?.flatten() {
        fs::copy(entry.path(), lang.join(entry.file_name()))?;
    }
    // The module with the same core as the classic loader.
    fs::write(npm.join("index.js"), with_core("pkg-config/index.js")?)?;
    // The config's TypeScript type, made from the schema (one source): a
    // config the schema refuses does not compile (tests/e2e/npm.test.mjs).
    run(Command::new("node_modules/.bin/json2ts")
        .args(["-i", "pkg-config/consentry.schema.json", "-o"])
        .arg(npm.join("config.d.ts"))
        .args([
            "--bannerComment",
            "// Made by `cargo xtask dist` from consentry.schema.json: do not edit.",
        ]))?;
    Ok(())
}

/// terser (pinned in package.json): compress and mangle, no comments kept.
pub fn minify(from: &Path, to: &Path, module: bool) -> Result {
    let mut cmd = Command::new("node_modules/.bin/terser");
    cmd.arg(from)
        .args(["--compress", "--mangle", "--comments", "false", "--output"])
        .arg(to);
    if module {
        cmd.arg("--module");
    }
    run(&mut cmd)
}

fn copy_if_exists(from: &str, to: &Path, what: &str) -> Result {
    if Path::new(from).exists() {
        fs::copy(from, to).map_err(|err| format!("cannot copy {from}: {err}"))?;
    } else {
        eprintln!("xtask: warning: {from} ({what}) does not exist yet, skipped");
    }
    Ok(())
}

/// Bytes on disk and on the wire.
#[derive(Clone, Copy, Default)]
pub struct Sizes {
    pub raw: usize,
    pub gzip: usize,
    pub brotli: usize,
}

impl Sizes {
    pub fn of(bytes: &[u8]) -> Result<Sizes> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes)?;
        let gzip = gz.finish()?.len();
        // Quality 11 with a 4 MiB window (lgwin 22): what `brotli -q 11` and CDNs' static compression use.
        let mut br = brotli::CompressorWriter::new(Vec::new(), 4096, 11, 22);
        br.write_all(bytes)?;
        let brotli = br.into_inner().len();
        Ok(Sizes {
            raw: bytes.len(),
            gzip,
            brotli,
        })
    }

    pub fn add(self, other: Sizes) -> Sizes {
        Sizes {
            raw: self.raw + other.raw,
            gzip: self.gzip + other.gzip,
            brotli: self.brotli + other.brotli,
        }
    }
}

pub fn print_header(title: &str, first_column: &str) {
    println!("\n{title}");
    println!(
        "{first_column:<40} {:>10} {:>10} {:>10}",
        "raw", "gzip -9", "brotli 11"
    );
}

pub fn print_row(name: &str, s: Sizes) {
    println!("{name:<40} {:>10} {:>10} {:>10}", s.raw, s.gzip, s.brotli);
}

/// Prints one row per file (each compressed on its own, as served) and a total.
pub fn print_sizes(title: &str, files: &[PathBuf]) -> Result<Sizes> {
    print_header(title, "file");
    let mut total = Sizes::default();
    for file in files {
        let bytes =
            fs::read(file).map_err(|err| format!("cannot read {}: {err}", file.display()))?;
        let sizes = Sizes::of(&bytes)?;
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        print_row(&name, sizes);
        total = total.add(sizes);
    }
    print_row("total", total);
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::compact_json;

    #[test]
    fn compact_json_drops_the_whitespace_between_tokens_only() {
        let text = "{\n  \"a b\": \"x \\\" y\\\\\",\n  \"c\": [1, 2]\n}\n";
        assert_eq!(compact_json(text), "{\"a b\":\"x \\\" y\\\\\",\"c\":[1,2]}");
    }
}
