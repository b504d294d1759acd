//! `cargo xtask bench`: what a visitor downloads for the widget, next to two
//! widely used open-source consent banners at pinned versions; where the
//! widget's bytes go; what each banner costs a page in a browser (bytes per
//! scenario, time until "Accept all" is visible, the gated script on a
//! returning visit, the click, long tasks, layout shift: `xtask/bench/widget.mjs`);
//! then the collector (`bench_collector`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::dist::{self, Sizes};
use crate::{ensure, output, run, target_dir, Result};

/// The packages we compare with, and the files a page loads from each.
const OTHERS: [(&str, &str, &[&str]); 2] = [
    (
        "vanilla-cookieconsent",
        "3.1.0",
        &["dist/cookieconsent.umd.js", "dist/cookieconsent.css"],
    ),
    // klaro's default build injects its CSS from the script.
    ("klaro", "0.7.22", &["dist/klaro.js"]),
];

/// The browser half of the bench (a Node script, run from the repository root).
const BROWSER_BENCH: &str = "xtask/bench/widget.mjs";

/// Rows of the `twiggy top --retained` table: enough to see where a cut pays.
const TWIGGY_ROWS: usize = 20;

pub fn bench() -> Result {
    ensure::build_tools()?;
    dist::build()?;

    let prefix = target_dir().join("bench-npm");
    let modules = prefix.join("node_modules");
    let missing: Vec<String> = OTHERS
        .iter()
        .filter(|(name, version, _)| {
            installed_version(&modules.join(name)).as_deref() != Some(*version)
        })
        .map(|(name, version, _)| format!("{name}@{version}"))
        .collect();
    if !missing.is_empty() {
        std::fs::create_dir_all(&prefix)?;
        run(Command::new("npm")
            .args(["install", "--no-save", "--no-package-lock", "--prefix"])
            .arg(&prefix)
            .args(&missing))?;
    }

    let consentry: Vec<PathBuf> = dist::widget_files(&dist::dist_dir());
    let mut rows = vec![("consentry (this build)".to_owned(), consentry.clone())];
    for (name, version, files) in OTHERS {
        let files = files.iter().map(|f| modules.join(name).join(f)).collect();
        rows.push((format!("{name} {version}"), files));
    }

    dist::print_header(
        "bench: bytes a page downloads for the consent widget (CSS included)",
        "widget",
    );
    // Each file's brotli size, handed to the browser bench so its tables and
    // this one agree to the byte.
    let mut measured = String::new();
    for (name, files) in rows {
        let mut total = Sizes::default();
        for file in &files {
            let bytes = std::fs::read(file)
                .map_err(|err| format!("cannot read {}: {err}", file.display()))?;
            let sizes = Sizes::of(&bytes)?;
            let _ = writeln!(measured, "{}\t{}", file.display(), sizes.brotli);
            total = total.add(sizes);
        }
        dist::print_row(&name, total);
    }

    breakdown(&consentry)?;
    twiggy()?;

    // A browser bench that cannot measure is reported after the collector's,
    // which does not depend on it.
    let browser = browser_bench(&measured, &modules);
    crate::bench_collector::bench()?;
    browser
}

/// The widget's files one by one, with what each is, and the CSS (today
/// compiled into the wasm) on its own.
fn breakdown(files: &[PathBuf]) -> Result {
    let dist = dist::dist_dir();
    println!("\nbench: where the widget's bytes go (target/dist, each file compressed on its own)");
    println!(
        "{:<40} {:<34} {:>8} {:>10} {:>7}",
        "file", "what", "raw", "brotli 11", "share"
    );
    let mut sized = Vec::new();
    for file in files {
        let bytes =
            std::fs::read(file).map_err(|err| format!("cannot read {}: {err}", file.display()))?;
        sized.push((file, Sizes::of(&bytes)?));
    }
    let total: usize = sized.iter().map(|(_, s)| s.brotli).sum();
    for (file, s) in &sized {
        let rel = file.strip_prefix(&dist).unwrap_or(file);
        let name = file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        println!(
            "{name:<40} {:<34} {:>8} {:>10} {:>6.1}%",
            role(rel),
            s.raw,
            s.brotli,
            s.brotli as f64 * 100.0 / total.max(1) as f64
        );
    }
    println!("{:<40} {:<34} {:>8} {total:>10}", "total", "", "");

    // The stylesheet counts inside whichever module embeds it verbatim; shown
    // alone so a change to it can be judged (a separate .css file would be
    // listed above instead).
    let css = Path::new("src/ui/style.css");
    if let Ok(text) = std::fs::read(css) {
        let probe = &text[..text.len().min(64)];
        let host = files.iter().find(|f| {
            f.extension().is_some_and(|e| e == "wasm")
                && std::fs::read(f).is_ok_and(|w| w.windows(probe.len()).any(|x| x == probe))
        });
        if let Some(host) = host {
            let s = Sizes::of(&text)?;
            println!(
                "{:<40} {:<34} {:>8} {:>10}",
                "src/ui/style.css",
                format!(
                    "CSS, inside {}",
                    host.file_name().unwrap_or_default().to_string_lossy()
                ),
                s.raw,
                s.brotli
            );
        }
    }

    // The widget's JS (src/**/*.js) is inside the glue (see
    // `inline_js`); each file minified and compressed alone, to judge a
    // change to one of them.
    let min_dir = crate::target_dir().join("bench-twiggy/js");
    std::fs::create_dir_all(&min_dir)?;
    for js in source_js(Path::new("src")) {
        let out = min_dir.join(js.file_name().unwrap_or_default());
        dist::minify(&js, &out, true)?;
        let s = Sizes::of(&std::fs::read(&out)?)?;
        println!(
            "{:<40} {:<34} {:>8} {:>10}",
            js.display(),
            "JS, minified, inside the glue",
            s.raw,
            s.brotli
        );
    }

    // Every import is a function the JS glue writes: the price of each
    // distinct web-sys/js-sys call.
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "wasm"))
    {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        match std::fs::read(file).ok().and_then(|w| import_count(&w)) {
            Some(n) => println!("{name}: {n} imports, each a function in its JS glue"),
            None => println!("{name}: imports not readable (not a wasm module?)"),
        }
    }
    Ok(())
}

/// The `.js` files under `dir`, sorted.
fn source_js(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "js") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// How many imports a wasm module declares: the count that opens its import
/// section (id 2), found by walking the section headers.
fn import_count(wasm: &[u8]) -> Option<u32> {
    fn leb(bytes: &[u8], at: &mut usize) -> Option<u32> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let byte = *bytes.get(*at)?;
            *at += 1;
            value |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    if wasm.get(..4)? != b"\0asm" {
        return None;
    }
    let mut at = 8;
    while at < wasm.len() {
        let id = *wasm.get(at)?;
        at += 1;
        let size = leb(wasm, &mut at)? as usize;
        if id == 2 {
            return leb(wasm, &mut at);
        }
        at += size;
    }
    Some(0)
}

/// What a file in target/dist is, from its name: parts added later fall
/// into the same few kinds.
fn role(rel: &Path) -> &'static str {
    let name = rel.to_string_lossy();
    if name.ends_with(".wasm") {
        "wasm module"
    } else if name.ends_with(".css") {
        "CSS"
    } else if let Some(stem) = name.strip_suffix(".js") {
        if dist::dist_dir().join(format!("{stem}_bg.wasm")).exists() {
            "JS glue (wasm-bindgen) + widget JS"
        } else {
            "loader (the script tag)"
        }
    } else {
        "other"
    }
}

/// `twiggy top --retained` of the optimised wasm with its names kept: the
/// same cargo artifact `dist` uses, through `wasm-bindgen --keep-debug` and
/// dist's wasm-opt passes with `-g`, in `target/bench-twiggy/`. Optional: a machine without
/// twiggy gets one line.
fn twiggy() -> Result {
    if output(Command::new("twiggy").arg("--version")).is_none() {
        println!(
            "\ntwiggy: not installed, wasm breakdown skipped (`cargo install twiggy` adds it)"
        );
        return Ok(());
    }
    let out = target_dir().join("bench-twiggy");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(&out)?;
    let wasm = target_dir().join("wasm32-unknown-unknown/release/consentry.wasm");
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--keep-debug",
            "--out-name",
            "consentry-core",
            "--out-dir",
        ])
        .arg(&out)
        .arg(&wasm))?;
    let named = out.join("consentry-core_bg.wasm");
    // The features come from the module's target_features section (dist
    // keeps it for wasm-bindgen), the set dist passes by name; -g keeps the
    // names twiggy reports and otherwise optimises the same.
    run(Command::new("node_modules/.bin/wasm-opt")
        .args(crate::dist::WASM_OPT_PASSES)
        .args(["-g", "--strip-producers", "--strip-target-features"])
        .arg(&named)
        .arg("-o")
        .arg(&named))?;
    let csv = output(
        Command::new("twiggy")
            .args(["top", "--retained", "-n", "1000000", "-f", "csv"])
            .arg(&named),
    )
    .ok_or("`twiggy top` failed on target/bench-twiggy/consentry-core_bg.wasm")?;

    // Name,ShallowSize,ShallowSizePercent,RetainedSize,RetainedSizePercent
    let mut items = Vec::new();
    let mut names_section = 0;
    for line in csv.lines().skip(1) {
        let cells = csv_cells(line);
        let (Some(name), Some(shallow), Some(retained)) = (
            cells.first(),
            cells.get(1).and_then(|c| c.parse::<usize>().ok()),
            cells.get(3).and_then(|c| c.parse::<usize>().ok()),
        ) else {
            continue;
        };
        if name.ends_with(" subsection") || name.starts_with("custom section") {
            names_section += shallow;
        } else {
            items.push((retained, shallow, name.clone()));
        }
    }
    let file_size = std::fs::metadata(&named)?.len() as usize;
    let code = file_size.saturating_sub(names_section);
    let shipped = std::fs::metadata(dist::dist_dir().join("consentry-core_bg.wasm"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "\ntwiggy top --retained of the optimised wasm, names kept (target/bench-twiggy/consentry-core_bg.wasm)\n\
         {code} bytes of code and data without the {names_section} of names (target/dist's stripped module: {shipped}); \
         raw bytes, before brotli; % of the code and data"
    );
    println!("{:>9} {:>9} {:>6}  item", "retained", "shallow", "%");
    items.sort_by_key(|item| std::cmp::Reverse(item.0));
    for (retained, shallow, name) in items.iter().take(TWIGGY_ROWS) {
        println!(
            "{retained:>9} {shallow:>9} {:>5.1}%  {}",
            *retained as f64 * 100.0 / code.max(1) as f64,
            readable(name)
        );
    }
    Ok(())
}

/// One CSV line as twiggy writes it: fields in double quotes when they hold
/// a comma or a quote, a quote inside doubled.
fn csv_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// A Rust symbol without its `::h0123…` hash, cut to fit a line.
fn readable(name: &str) -> String {
    let name = match name.rfind("::h") {
        Some(i) if name.len() - i == 19 && name[i + 3..].bytes().all(|b| b.is_ascii_hexdigit()) => {
            &name[..i]
        }
        _ => name,
    };
    if name.chars().count() > 100 {
        let cut: String = name.chars().take(99).collect();
        format!("{cut}…")
    } else {
        name.to_owned()
    }
}

/// Runs `xtask/bench/widget.mjs` (Playwright and the system Chromium) on
/// target/dist and the installed banners, with the brotli sizes measured above.
fn browser_bench(measured: &str, modules: &Path) -> Result {
    ensure::browsers()?;
    let dir = target_dir().join("bench-widget");
    std::fs::create_dir_all(&dir)?;
    let sizes = dir.join("sizes.tsv");
    std::fs::write(&sizes, measured)?;
    run(Command::new("node")
        .arg(BROWSER_BENCH)
        .arg("--dist")
        .arg(dist::dist_dir())
        .arg("--modules")
        .arg(modules)
        .arg("--sizes")
        .arg(&sizes)
        .env("CONSENTRY_CHROMIUM", ensure::CHROMIUM))
    .map_err(|err| {
        format!("the browser bench could not measure (its reason is above): {err}").into()
    })
}

/// The `version` field of an installed package's package.json, found without a JSON parser.
fn installed_version(package_dir: &Path) -> Option<String> {
    let manifest = std::fs::read_to_string(package_dir.join("package.json")).ok()?;
    let after_key = manifest.split("\"version\"").nth(1)?;
    let value = after_key.split('"').nth(1)?;
    Some(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_twiggy_csv_cells() {
        assert_eq!(
            csv_cells(r#""""function names"" subsection",58019,26.6,58019,26.6"#),
            [
                r#""function names" subsection"#,
                "58019",
                "26.6",
                "58019",
                "26.6"
            ]
        );
        assert_eq!(
            csv_cells(r#""core::fmt::write<A, B>::h0123456789abcdef",10,0.1,20,0.2"#)[0],
            "core::fmt::write<A, B>::h0123456789abcdef"
        );
    }

    #[test]
    fn counts_the_imports_of_a_module() {
        // magic, version, a custom section (id 0, 3 bytes), an import section
        // (id 2) declaring 130 imports (LEB128 0x82 0x01), truncated after it.
        let wasm = b"\0asm\x01\0\0\0\0\x03\x01a\0\x02\x05\x82\x01";
        assert_eq!(import_count(wasm), Some(130));
        assert_eq!(import_count(b"\0asm\x01\0\0\0"), Some(0));
        assert_eq!(import_count(b"not wasm"), None);
    }

    #[test]
    fn symbols_lose_their_hash_only() {
        assert_eq!(
            readable("consentry::outbox::Entry::parse::hb6b0c67b14e602e0"),
            "consentry::outbox::Entry::parse"
        );
        assert_eq!(readable("init externref shim"), "init externref shim");
        assert_eq!(readable("a::hello"), "a::hello");
    }
}
