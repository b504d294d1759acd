//! Installs the tools the other commands need, only when missing, saying
//! what it does. This is what lets `cargo xtask test` work on a fresh machine.

use std::path::Path;
use std::process::Command;

use crate::{output, run, Result};

/// Chromium and its WebDriver: Debian installs both under /usr/bin.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Python's `cryptography`, for the collector's independent log checker
/// (`crates/collector/tests/independent/check_log.py`). Pinned so a fresh
/// machine checks with the release the checker was written against.
pub const CRYPTOGRAPHY: &str = "48.0.0";

/// What `dist` needs: the wasm target, the matching wasm-bindgen CLI, and
/// the npm dev tools (binaryen's `wasm-opt`).
pub fn build_tools() -> Result {
    wasm_target()?;
    wasm_bindgen()?;
    npm_packages()
}

/// What the browser tests need on top of the build tools.
pub fn browsers() -> Result {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return Ok(());
    }
    ensure_apt(&["chromium", "chromium-driver"])
}

fn wasm_target() -> Result {
    let Some(installed) = output(Command::new("rustup").args(["target", "list", "--installed"]))
    else {
        // A toolchain without rustup (a distro package): the build says if the target is missing.
        eprintln!("xtask: rustup not found; assuming wasm32-unknown-unknown is installed");
        return Ok(());
    };
    if installed
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    eprintln!("xtask: installing the wasm32-unknown-unknown target");
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// The wasm-bindgen CLI must be exactly the version of the `wasm-bindgen`
/// crate in Cargo.lock: the two halves share an unstable, unversioned format.
fn wasm_bindgen() -> Result {
    let lock = std::fs::read_to_string("Cargo.lock")
        .map_err(|err| format!("cannot read Cargo.lock: {err}"))?;
    let wanted =
        locked_version(&lock, "wasm-bindgen").ok_or("Cargo.lock has no wasm-bindgen package")?;
    let installed = output(Command::new("wasm-bindgen").arg("--version"));
    let installed = installed
        .as_deref()
        .and_then(|v| v.split_whitespace().nth(1));
    if installed == Some(wanted.as_str()) {
        return Ok(());
    }
    eprintln!(
        "xtask: installing wasm-bindgen-cli {wanted} (found {})",
        installed.unwrap_or("none")
    );
    let install = |locked: bool| {
        let mut cmd = crate::cargo();
        cmd.args(["install", "wasm-bindgen-cli", "--version", &wanted]);
        if locked {
            cmd.arg("--locked");
        }
        run(&mut cmd)
    };
    // `--locked` is reproducible, but fails when a registry mirror lacks one of
    // the exact versions the CLI's lockfile names; then let cargo resolve.
    install(true).or_else(|err| {
        eprintln!("xtask: {err}; retrying without --locked");
        install(false)
    })
}

/// The version of package `name` in a Cargo.lock (each `name = ` line is
/// followed by its `version = ` line).
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    lines.by_ref().find(|line| *line == wanted)?;
    let version = lines
        .next()?
        .strip_prefix("version = \"")?
        .strip_suffix('"')?;
    Some(version.to_owned())
}

/// `npm ci` when node_modules is missing or older than package-lock.json.
fn npm_packages() -> Result {
    if output(Command::new("npm").arg("--version")).is_none() {
        ensure_apt(&["nodejs", "npm"])?;
    }
    // npm ci writes node_modules/.package-lock.json last, so its age is the install's age.
    let modified = |path: &str| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    match (
        modified("node_modules/.package-lock.json"),
        modified("package-lock.json"),
    ) {
        (Some(installed), Some(locked)) if installed >= locked => Ok(()),
        (_, Some(_)) => {
            eprintln!("xtask: installing npm dev tools (node_modules missing or older than package-lock.json)");
            run(Command::new("npm").arg("ci"))
        }
        (_, None) => {
            eprintln!("xtask: package-lock.json missing; creating it with npm install");
            run(Command::new("npm").arg("install"))
        }
    }
}

/// Installs `module` (the pip package of the same name) at `version` unless
/// python3 imports it already; any installed version is kept, as a machine's
/// own Python packages are not ours to replace.
pub fn ensure_python_module(module: &str, version: &str) -> Result {
    let import = format!("import {module}");
    let imports = || output(Command::new("python3").args(["-c", &import])).is_some();
    if imports() {
        return Ok(());
    }
    if output(Command::new("python3").arg("--version")).is_none() {
        ensure_apt(&["python3"])?;
    }
    if output(Command::new("python3").args(["-m", "pip", "--version"])).is_none() {
        ensure_apt(&["python3-pip"])?;
    }
    eprintln!("xtask: installing the Python module {module} {version}");
    let wanted = format!("{module}=={version}");
    run(Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", &wanted])
        // Debian 12's python3 refuses pip (PEP 668, "externally managed").
        // pip still installs beside apt's packages (/usr/local, or the user
        // site when not root), and apt has no copy of this module, or the
        // import above would have found it.
        .env("PIP_BREAK_SYSTEM_PACKAGES", "1"))?;
    if imports() {
        Ok(())
    } else {
        Err(format!("pip installed {wanted}, but python3 still cannot import {module}").into())
    }
}

/// Installs the Debian packages among `packages` that are not installed yet.
/// Later issues add theirs here (PostgreSQL for the collector's store tests).
pub fn ensure_apt(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|pkg| {
            let status = output(Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]));
            status.as_deref() != Some("install ok installed")
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if output(Command::new("apt-get").arg("--version")).is_none() {
        return Err(format!(
            "please install these packages (no apt-get here): {}",
            missing.join(" ")
        )
        .into());
    }
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    // apt-get needs root; use sudo only when we are not root already.
    let is_root = output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    let apt_get = || {
        let mut cmd = Command::new(if is_root { "apt-get" } else { "sudo" });
        if !is_root {
            cmd.arg("apt-get");
        }
        cmd.env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(apt_get().arg("update"))?;
    run(apt_get().args(["install", "-y"]).args(&missing))
}

#[cfg(test)]
mod tests {
    use super::locked_version;

    #[test]
    fn finds_a_package_version_in_a_lockfile() {
        let lock = "[[package]]\nname = \"wasm-bindgen-macro\"\nversion = \"0.1.0\"\n\n\
                    [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\nsource = \"registry\"\n";
        assert_eq!(
            locked_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(locked_version(lock, "serde"), None);
    }
}
