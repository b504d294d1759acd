//! `cargo xtask bench`: what a visitor downloads for the widget, next to two
//! widely used open-source consent banners at pinned versions.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::dist::{self, Sizes};
use crate::{ensure, run, target_dir, Result};

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
    let mut rows = vec![("consentry (this build)".to_owned(), consentry)];
    for (name, version, files) in OTHERS {
        let files = files.iter().map(|f| modules.join(name).join(f)).collect();
        rows.push((format!("{name} {version}"), files));
    }

    dist::print_header(
        "bench: bytes a page downloads for the consent widget (CSS included)",
        "widget",
    );
    for (name, files) in rows {
        let mut total = Sizes::default();
        for file in &files {
            let bytes = std::fs::read(file)
                .map_err(|err| format!("cannot read {}: {err}", file.display()))?;
            total = total.add(Sizes::of(&bytes)?);
        }
        dist::print_row(&name, total);
    }
    crate::bench_collector::bench()?;
    Ok(())
}

/// The `version` field of an installed package's package.json, found without a JSON parser.
fn installed_version(package_dir: &Path) -> Option<String> {
    let manifest = std::fs::read_to_string(package_dir.join("package.json")).ok()?;
    let after_key = manifest.split("\"version\"").nth(1)?;
    let value = after_key.split('"').nth(1)?;
    Some(value.to_owned())
}
