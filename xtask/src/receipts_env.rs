//! The collector's receipts settings for the demo and the end-to-end run:
//! a sites file allowing the demo's origin, a SQLite database and a
//! countersigning key in a folder of their own, and an admin token.

use std::fs;
use std::io::Read as _;
use std::path::Path;

use crate::Result;

/// The site id of `pkg-config/examples/landing.json`, the demo's config.
const DEMO_SITE: &str = "acme-landing";

/// Writes `dir/sites.toml` and returns the environment the collector needs.
/// `fresh` starts from an empty database (tests); the demo keeps its receipts.
pub fn prepare(
    dir: &Path,
    port: u16,
    admin_token: &str,
    fresh: bool,
) -> Result<Vec<(&'static str, String)>> {
    if fresh && dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    let sites = format!(
        "# Written by cargo xtask: who may send receipts to this collector.\n\
         [sites.{DEMO_SITE}]\n\
         origins = [\"http://127.0.0.1:{port}\", \"http://localhost:{port}\"]\n\
         retention_days = 1095\n"
    );
    let sites_file = dir.join("sites.toml");
    fs::write(&sites_file, sites)?;
    Ok(vec![
        ("CONSENTRY_SITES", sites_file.display().to_string()),
        (
            "CONSENTRY_DATABASE_URL",
            format!("sqlite://{}", dir.join("consentry.db").display()),
        ),
        (
            "CONSENTRY_KEY_FILE",
            dir.join("collector.key").display().to_string(),
        ),
        ("CONSENTRY_ADMIN_TOKEN", admin_token.to_owned()),
        // The demo's logs are this machine's: named once, whatever the port.
        ("CONSENTRY_LOG_ORIGIN", "localhost/consentry".to_owned()),
    ])
}

/// `CONSENTRY_ADMIN_TOKEN` if set, else 32 random hex digits.
pub fn admin_token() -> Result<String> {
    if let Ok(token) = std::env::var("CONSENTRY_ADMIN_TOKEN") {
        if !token.is_empty() {
            return Ok(token);
        }
    }
    let mut bytes = [0u8; 16];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
