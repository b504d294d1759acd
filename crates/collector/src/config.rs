//! What the collector reads at start: the sites file, and where the store,
//! the signing key and the admin token come from (all from the environment,
//! so a container needs no command-line flags).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::limits::RateLimitSetting;

/// The sites this collector accepts receipts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sites {
    sites: BTreeMap<String, Site>,
    /// Each site's `rate_limit`, where the sites file sets one.
    rate_limits: BTreeMap<String, RateLimitSetting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Exact `Origin` values (`scheme://host[:port]`) the site's pages are
    /// served from. A receipt or notice from any other origin is refused, so
    /// one site cannot write into another site's chain from its own pages.
    pub origins: Vec<String>,
    /// How long the site keeps each receipt, in days from its arrival (e.g.
    /// 1095 = three years, a common limitation period for consent disputes;
    /// make it longer than the consent lifetime, `lifetimeMonths` in the widget
    /// config, plus that period). After it, the receipt's personal data is
    /// deleted and its hashes stay in the chain (see `retention`). Absent:
    /// receipts are kept for ever.
    #[serde(default)]
    pub retention_days: Option<u32>,
}

/// A site as the sites file writes it: [`Site`] and its rate limit.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteEntry {
    origins: Vec<String>,
    #[serde(default)]
    retention_days: Option<u32>,
    /// The receipts and notices one client may send this site:
    /// `{ per_minute = N, burst = M }`, or `"off"`. Absent:
    /// [`crate::limits::DEFAULT_WRITES`].
    #[serde(default)]
    rate_limit: Option<RateLimitSetting>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SitesFile {
    #[serde(default)]
    sites: BTreeMap<String, SiteEntry>,
}

impl Sites {
    /// Reads a sites file: TOML, or JSON when the name ends in `.json`.
    ///
    /// ```toml
    /// [sites.acme-landing]
    /// origins = ["https://acme.example", "http://127.0.0.1:8080"]
    /// retention_days = 1095
    /// ```
    pub fn load(path: &Path) -> Result<Sites, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read sites file {}: {err}", path.display()))?;
        let is_json = path.extension().is_some_and(|ext| ext == "json");
        Self::parse(&text, is_json).map_err(|err| format!("sites file {}: {err}", path.display()))
    }

    pub fn parse(text: &str, is_json: bool) -> Result<Sites, String> {
        let file: SitesFile = if is_json {
            serde_json::from_str(text).map_err(|err| err.to_string())?
        } else {
            toml::from_str(text).map_err(|err| err.to_string())?
        };
        let mut sites = Sites::default();
        for (id, entry) in file.sites {
            let site = Site {
                origins: entry.origins,
                retention_days: entry.retention_days,
            };
            if let Some(setting) = entry.rate_limit {
                if let RateLimitSetting::Quota(limit) = setting {
                    limit.check(&id)?;
                }
                sites.rate_limits.insert(id.clone(), setting);
            }
            if !is_site_id(&id) {
                return Err(format!(
                    "sites.{id:?}: a site id is 1 to 64 letters, digits, '-', '_' or '.' \
                     (it names the site's log, in checkpoints and URLs)"
                ));
            }
            if site.retention_days == Some(0) {
                return Err(format!(
                    "sites.{id}.retention_days: must be at least 1 (a receipt must outlive the visit that made it); leave it out to keep receipts for ever"
                ));
            }
            if site.origins.is_empty() {
                return Err(format!("sites.{id}.origins: list at least one origin"));
            }
            if let Some(bad) = site.origins.iter().find(|o| !is_origin(o)) {
                return Err(format!(
                    "sites.{id}.origins: {bad:?} is not an origin like https://example.com (no path, no trailing slash)"
                ));
            }
            sites.sites.insert(id, site);
        }
        Ok(sites)
    }

    /// The site's write limit per client.
    pub fn rate_limit(&self, id: &str) -> RateLimitSetting {
        self.rate_limits
            .get(id)
            .copied()
            .unwrap_or(RateLimitSetting::Quota(crate::limits::DEFAULT_WRITES))
    }

    /// The first site (by id) that lists `origin`: whose limits a write from
    /// that origin counts against, known before its body is read.
    pub fn first_allowing(&self, origin: &str) -> Option<&str> {
        self.sites
            .iter()
            .find(|(_, site)| site.origins.iter().any(|o| o == origin))
            .map(|(id, _)| id.as_str())
    }

    pub fn get(&self, id: &str) -> Option<&Site> {
        self.sites.get(id)
    }

    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// Whether any site lists `origin`: what CORS preflights are answered for.
    pub fn any_allows(&self, origin: &str) -> bool {
        self.sites
            .values()
            .any(|site| site.origins.iter().any(|o| o == origin))
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.sites.keys().map(String::as_str)
    }
}

impl FromIterator<(String, Site)> for Sites {
    fn from_iter<I: IntoIterator<Item = (String, Site)>>(sites: I) -> Sites {
        Sites {
            sites: sites.into_iter().collect(),
            rate_limits: BTreeMap::new(),
        }
    }
}

/// What a site id may be: it is the last part of its log's origin line and
/// a path segment of the log's URLs.
pub fn is_site_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && id != "."
        && id != ".."
}

fn is_origin(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|host| !host.is_empty() && !host.contains(['/', '?', '#', ' ']))
}

/// Where things are, from the environment:
///
/// - `CONSENTRY_SITES`: the sites file (default `sites.toml`). Receipts are
///   off when it is unset and `sites.toml` does not exist: the collector
///   then only serves static files and answers receipt routes with 503.
/// - `CONSENTRY_DATABASE_URL`: `sqlite://PATH` (default `sqlite://consentry.db`)
///   or `postgres://user:pass@host:port/db`.
/// - `CONSENTRY_KEY_FILE`: the Ed25519 countersigning key (default
///   `collector.key` next to the SQLite file, or in the working directory
///   for PostgreSQL); made, mode 0600, on the first start of an empty store
///   only. Missing while the store holds receipts: `serve` refuses to start.
/// - `CONSENTRY_ADMIN_TOKEN`: bearer token for export and audit; without it
///   those routes answer 503.
/// - `CONSENTRY_LOG_ORIGIN`: the name of this deployment's logs, its public
///   host and path without a scheme (`consent.acme.example/consentry`); site
///   `shop`'s checkpoints say `consent.acme.example/consentry/shop`. Set it
///   once, before the first receipt: a log's name never changes, and a
///   collector whose stored checkpoints name another refuses to start.
///   Unset: [`DEFAULT_LOG_ORIGIN`], with a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub sites_file: Option<PathBuf>,
    pub database_url: String,
    pub key_file: PathBuf,
    pub admin_token: Option<String>,
    pub log_origin: Option<String>,
}

/// The log name when `CONSENTRY_LOG_ORIGIN` is unset: right for a demo on
/// this machine, wrong for a deployment (see [`Config`]).
pub const DEFAULT_LOG_ORIGIN: &str = "localhost/consentry";

pub const DEFAULT_DATABASE_URL: &str = "sqlite://consentry.db";

impl Config {
    pub fn from_env() -> Config {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let sites_file = match var("CONSENTRY_SITES") {
            Some(path) => Some(PathBuf::from(path)),
            None => Some(PathBuf::from("sites.toml")).filter(|p| p.exists()),
        };
        let database_url =
            var("CONSENTRY_DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let key_file = var("CONSENTRY_KEY_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| default_key_file(&database_url));
        Config {
            sites_file,
            database_url,
            key_file,
            admin_token: var("CONSENTRY_ADMIN_TOKEN"),
            log_origin: var("CONSENTRY_LOG_ORIGIN"),
        }
    }

    /// The configured log name, or the default.
    pub fn origin(&self) -> Result<crate::store::Origin, String> {
        crate::store::Origin::new(self.log_origin.as_deref().unwrap_or(DEFAULT_LOG_ORIGIN))
            .map_err(|err| format!("CONSENTRY_LOG_ORIGIN: {err}"))
    }
}

/// `collector.key` in the SQLite file's directory, so a database and the key
/// that countersigned it travel together.
pub fn default_key_file(database_url: &str) -> PathBuf {
    let dir = database_url
        .strip_prefix("sqlite://")
        .map(Path::new)
        .and_then(Path::parent)
        .unwrap_or(Path::new(""));
    dir.join("collector.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_and_a_json_sites_file_read_the_same() {
        let toml =
            "[sites.acme-landing]\norigins = [\"http://127.0.0.1:8080\"]\nretention_days = 1095\n";
        let json = r#"{"sites":{"acme-landing":{"origins":["http://127.0.0.1:8080"],"retention_days":1095}}}"#;
        let a = Sites::parse(toml, false).expect("toml");
        assert_eq!(a, Sites::parse(json, true).expect("json"));
        assert!(a.any_allows("http://127.0.0.1:8080"));
        assert_eq!(
            a.get("acme-landing").and_then(|s| s.retention_days),
            Some(1095)
        );
    }

    #[test]
    fn an_origin_with_a_path_or_an_unknown_field_is_refused() {
        let err = Sites::parse("[sites.a]\norigins = [\"https://a.example/\"]\n", false)
            .expect_err("path");
        assert!(err.contains("sites.a.origins"), "{err}");
        assert!(Sites::parse(
            "[sites.a]\norigins = [\"https://a.example\"]\norigin = 1\n",
            false
        )
        .is_err());
    }

    #[test]
    fn the_key_file_sits_next_to_the_sqlite_file() {
        assert_eq!(
            default_key_file("sqlite:///var/lib/c/c.db"),
            Path::new("/var/lib/c/collector.key")
        );
        assert_eq!(
            default_key_file("sqlite://consentry.db"),
            Path::new("collector.key")
        );
        assert_eq!(
            default_key_file("postgres://x/y"),
            Path::new("collector.key")
        );
    }
}
