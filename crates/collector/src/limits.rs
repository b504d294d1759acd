//! What keeps one client from taking the collector from everyone else: who
//! the client is (its address, or behind a trusted proxy the address the
//! proxy saw), how many connections it may hold, and how many receipts and
//! notices it may send to a site per minute.
//!
//! Addresses are held in memory only, and only as a salted hash (the salt
//! is random per process): never stored, never logged. An IPv6 client is
//! counted by its /64, the block one subscriber gets, so a client cannot
//! escape its limit by walking its own prefix.
//!
//! Rate limits are GCRA buckets (`governor`) per (site, client) for the
//! receipt API's writes, and per client for its reads; the receipt's site is
//! known before the body is read from the request's `Origin`. A refused
//! request gets 429 with `Retry-After`, which the widget reads across
//! origins (CORS exposes it) and treats as "later".

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{HeaderValue, ORIGIN, RETRY_AFTER};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use serde::Deserialize;

use crate::{AppError, AppState, Sites};

/// The receipt API's writes a client may make to one site: a burst, then a
/// steady rate. A visitor's choice is one receipt and at most one notice;
/// 100 at once and 300 a minute is far beyond what the visitors behind one
/// address (an office, a carrier's NAT) make, and far below a flood.
pub const DEFAULT_WRITES: RateLimit = RateLimit {
    per_minute: 300,
    burst: 100,
};
/// The API's reads (a receipt, a notice, a history, checkpoints, proofs)
/// per client, on all sites together: a witness polls a few URLs a minute.
pub const READS: RateLimit = RateLimit {
    per_minute: 1200,
    burst: 300,
};
/// A request head must arrive within this, and a keep-alive connection idle
/// for this long is closed: hyper starts the same timer while it waits for
/// the next request on a connection.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections at most, all clients together: below the usual 1024
/// file descriptors a process gets, with room for the store's files.
pub const MAX_CONNECTIONS: usize = 900;
/// Open connections one client may hold: a browser opens 6 per host, many
/// visitors share an address behind NAT; a slowloris holds hundreds.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 100;

/// A per-minute quota with a burst, as the sites file writes it
/// (`rate_limit = { per_minute = 600, burst = 200 }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// A site's write limit in the sites file: a quota, or `"off"` (a load
/// test, a site behind a proxy that limits on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum RateLimitSetting {
    Quota(RateLimit),
    Off(Off),
}

/// The word `off`, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Off {
    Off,
}

impl RateLimit {
    fn quota(self) -> Option<Quota> {
        let per_minute = NonZeroU32::new(self.per_minute)?;
        let burst = NonZeroU32::new(self.burst)?;
        Some(Quota::per_minute(per_minute).allow_burst(burst))
    }

    /// A quota must let something through.
    pub fn check(self, site: &str) -> Result<(), String> {
        if self.per_minute == 0 || self.burst == 0 {
            return Err(format!(
                "sites.{site}.rate_limit: per_minute and burst are at least 1 \
                 (write rate_limit = \"off\" for no limit)"
            ));
        }
        Ok(())
    }
}

/// The deployment's limits, from the environment (see [`Limits::from_env`]).
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: HEADER_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_connections_per_client: MAX_CONNECTIONS_PER_CLIENT,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Limits {
    /// `CONSENTRY_TRUSTED_PROXIES` (addresses or networks, comma-separated),
    /// `CONSENTRY_MAX_CONNECTIONS`, `CONSENTRY_MAX_CONNECTIONS_PER_CLIENT`;
    /// each unset is its default, each malformed an error naming it.
    pub fn from_env() -> Result<Limits, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut limits = Limits::default();
        if let Some(list) = var("CONSENTRY_TRUSTED_PROXIES") {
            limits.trusted_proxies = parse_networks(&list)
                .map_err(|bad| format!("CONSENTRY_TRUSTED_PROXIES: {bad:?} is not an address or a network like 10.0.0.0/8"))?;
        }
        let count = |name: &str, default: usize| -> Result<usize, String> {
            match var(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name}: {v:?} is not a whole number above 0")),
            }
        };
        limits.max_connections = count("CONSENTRY_MAX_CONNECTIONS", MAX_CONNECTIONS)?;
        limits.max_connections_per_client = count(
            "CONSENTRY_MAX_CONNECTIONS_PER_CLIENT",
            MAX_CONNECTIONS_PER_CLIENT,
        )?;
        Ok(limits)
    }

    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that reached us from `peer`: the peer itself,
    /// or, when the peer is a trusted proxy, the nearest address in
    /// `X-Forwarded-For` that is not one (proxies append, so the right end
    /// is the one our own proxies wrote; anything left of it a client can
    /// forge).
    pub fn client(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.is_trusted_proxy(peer) {
            return peer;
        }
        let Some(list) = forwarded_for else {
            return peer;
        };
        let mut nearest = peer;
        for hop in list.rsplit(',') {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                // A malformed hop: what is left of it cannot be trusted.
                return nearest;
            };
            nearest = ip;
            if !self.is_trusted_proxy(ip) {
                return ip;
            }
        }
        nearest
    }
}

fn parse_networks(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| s.to_owned())
        })
        .collect()
}

/// A client as the limits count it: a salted hash of its address (its /64
/// for IPv6), so no address is ever held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(u64);

/// The salt client keys are hashed with: random per process.
#[derive(Debug, Default)]
struct Salt(RandomState);

impl Salt {
    fn key(&self, ip: IpAddr) -> ClientKey {
        let counted = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            },
            v4 => v4,
        };
        ClientKey(self.0.hash_one(counted))
    }
}

/// The peer of a request, set by the server on every connection it serves.
/// Absent when the router is driven in-process (tests): then nothing is
/// limited, since there is no client to tell apart.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// The buckets, and the salt keys are hashed with.
pub struct RateLimiter {
    salt: Salt,
    /// Per site: its write limit (`None`: off), by client.
    writes: BTreeMap<String, Option<DefaultKeyedRateLimiter<ClientKey>>>,
    reads: DefaultKeyedRateLimiter<ClientKey>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn new(sites: &Sites) -> RateLimiter {
        let keyed = |limit: RateLimit| {
            limit
                .quota()
                .map(governor::RateLimiter::keyed)
                .unwrap_or_else(|| governor::RateLimiter::keyed(fallback_quota()))
        };
        let writes = sites
            .ids()
            .map(|id| {
                let limiter = match sites.rate_limit(id) {
                    RateLimitSetting::Quota(limit) => Some(keyed(limit)),
                    RateLimitSetting::Off(_) => None,
                };
                (id.to_owned(), limiter)
            })
            .collect();
        RateLimiter {
            salt: Salt::default(),
            writes,
            reads: keyed(READS),
            clock: DefaultClock::default(),
        }
    }

    pub fn key(&self, ip: IpAddr) -> ClientKey {
        self.salt.key(ip)
    }

    /// `Err(wait)` when `client` must wait before writing to `site` again.
    fn write(&self, site: &str, client: ClientKey) -> Result<(), Duration> {
        match self.writes.get(site) {
            Some(Some(limiter)) => self.check(limiter, client),
            _ => Ok(()),
        }
    }

    fn read(&self, client: ClientKey) -> Result<(), Duration> {
        self.check(&self.reads, client)
    }

    fn check(
        &self,
        limiter: &DefaultKeyedRateLimiter<ClientKey>,
        client: ClientKey,
    ) -> Result<(), Duration> {
        limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets clients whose buckets are full again, so memory follows the
    /// clients of the last minutes, not every client ever seen.
    pub fn forget_idle(&self) {
        for limiter in self.writes.values().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        self.reads.retain_recent();
        self.reads.shrink_to_fit();
    }
}

/// Unreachable with a checked [`RateLimit`]: one a second.
fn fallback_quota() -> Quota {
    Quota::per_second(NonZeroU32::MIN)
}

/// Open connections, all clients and per client.
#[derive(Debug)]
pub struct Connections {
    salt: Salt,
    max: usize,
    max_per_client: usize,
    open: Mutex<(usize, HashMap<ClientKey, usize>)>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    connections: Arc<Connections>,
    client: Option<ClientKey>,
}

impl Connections {
    pub fn new(limits: &Limits) -> Arc<Connections> {
        Arc::new(Connections {
            salt: Salt::default(),
            max: limits.max_connections,
            max_per_client: limits.max_connections_per_client,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A place for a new connection from `client` (`None`: a trusted proxy,
    /// which carries many clients and is only held to the total), or `None`
    /// when the total or the client's share is reached: the connection is
    /// then closed at once.
    pub fn admit(self: &Arc<Self>, client: Option<IpAddr>) -> Option<Admitted> {
        let client = client.map(|ip| self.salt.key(ip));
        let mut open = self.open.lock().ok()?;
        if open.0 >= self.max {
            return None;
        }
        if let Some(client) = client {
            let mine = open.1.entry(client).or_insert(0);
            if *mine >= self.max_per_client {
                return None;
            }
            *mine += 1;
        }
        open.0 += 1;
        Some(Admitted {
            connections: Arc::clone(self),
            client,
        })
    }

    pub fn open(&self) -> usize {
        self.open.lock().map_or(0, |open| open.0)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let Ok(mut open) = self.connections.open.lock() else {
            return;
        };
        open.0 = open.0.saturating_sub(1);
        if let Some(client) = self.client {
            if let Some(mine) = open.1.get_mut(&client) {
                *mine -= 1;
                if *mine == 0 {
                    open.1.remove(&client);
                }
            }
        }
    }
}

/// The receipt API's writes: their site, from the `Origin`, before any body
/// is read. A request whose `Origin` no site lists is not counted: intake
/// refuses it without reading the body.
fn write_site<'a>(sites: &'a Sites, req: &Request) -> Option<&'a str> {
    let origin = req.headers().get(ORIGIN)?.to_str().ok()?;
    sites.first_allowing(origin)
}

/// The middleware: counts the request against its client's bucket and
/// answers 429 with `Retry-After` when it is empty.
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (Some(collector), Some(&Peer(peer))) = (state.collector(), req.extensions().get::<Peer>())
    else {
        return next.run(req).await;
    };
    let Some(limiter) = state.rate_limiter() else {
        return next.run(req).await;
    };
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let client = limiter.key(state.limits().client(peer.ip(), forwarded));
    let path = req.uri().path();
    let checked =
        if req.method() == Method::POST && (path == "/v1/receipts" || path == "/v1/notices") {
            match write_site(&collector.sites, &req) {
                Some(site) => limiter.write(site, client),
                None => Ok(()),
            }
        } else if path.starts_with("/v1/") || path.starts_with("/.well-known/") {
            limiter.read(client)
        } else {
            Ok(())
        };
    match checked {
        Ok(()) => next.run(req).await,
        Err(wait) => too_many(wait),
    }
}

fn too_many(wait: Duration) -> Response {
    // Whole seconds, rounded up: "0" would invite an immediate retry.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut res = AppError::api(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests from this client; retry in {seconds} s"),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        res.headers_mut().insert(RETRY_AFTER, value);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(proxies: &str) -> Limits {
        Limits {
            trusted_proxies: parse_networks(proxies).expect("networks"),
            ..Limits::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy_and_only_its_own_hops() {
        let l = limits("10.0.0.0/8, 192.168.1.5");
        // Not a proxy of ours: its header is the client's own words.
        assert_eq!(
            l.client(ip("203.0.113.9"), Some("198.51.100.1")),
            ip("203.0.113.9")
        );
        // Our proxy saw 198.51.100.7; what the client wrote before is ignored.
        assert_eq!(
            l.client(ip("10.1.2.3"), Some("1.2.3.4, 198.51.100.7")),
            ip("198.51.100.7")
        );
        // Two proxies of ours in a row.
        assert_eq!(
            l.client(ip("10.1.2.3"), Some("198.51.100.7, 192.168.1.5")),
            ip("198.51.100.7")
        );
        // No header, or garbage at the right end: the proxy itself.
        assert_eq!(l.client(ip("10.1.2.3"), None), ip("10.1.2.3"));
        assert_eq!(
            l.client(ip("10.1.2.3"), Some("1.2.3.4, nonsense")),
            ip("10.1.2.3")
        );
        assert!(parse_networks("10.0.0.0/8, not-a-net").is_err());
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_keys_hide_the_address() {
        let r = RateLimiter::new(&Sites::default());
        assert_eq!(
            r.key(ip("2001:db8:1:2::1")),
            r.key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(r.key(ip("2001:db8:1:2::1")), r.key(ip("2001:db8:1:3::1")));
        assert_eq!(r.key(ip("::ffff:192.0.2.1")), r.key(ip("192.0.2.1")));
        // Another process, another salt.
        assert_ne!(
            RateLimiter::new(&Sites::default()).key(ip("192.0.2.1")),
            r.key(ip("192.0.2.1"))
        );
    }

    #[test]
    fn a_burst_passes_then_the_client_waits_and_others_do_not() {
        let sites = Sites::parse(
            "[sites.s]\norigins = [\"https://s.example\"]\nrate_limit = { per_minute = 60, burst = 3 }\n\
             [sites.free]\norigins = [\"https://f.example\"]\nrate_limit = \"off\"\n",
            false,
        )
        .expect("sites");
        let r = RateLimiter::new(&sites);
        let (a, b) = (r.key(ip("192.0.2.1")), r.key(ip("192.0.2.2")));
        for _ in 0..3 {
            assert!(r.write("s", a).is_ok());
        }
        let wait = r.write("s", a).expect_err("the burst is spent");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(r.write("s", b).is_ok(), "another client is not held back");
        for _ in 0..1000 {
            assert!(r.write("free", a).is_ok());
        }
    }

    #[test]
    fn connections_are_capped_in_total_and_per_client() {
        let c = Connections::new(&Limits {
            max_connections: 3,
            max_connections_per_client: 2,
            ..Limits::default()
        });
        let (a, b) = (Some(ip("192.0.2.1")), Some(ip("192.0.2.2")));
        let a1 = c.admit(a).expect("first");
        let _a2 = c.admit(a).expect("second");
        assert!(c.admit(a).is_none(), "a's share is two");
        let _b1 = c.admit(b).expect("b has its own share");
        assert!(
            c.admit(None).is_none(),
            "the total is three, proxies included"
        );
        drop(a1);
        let _a3 = c.admit(a).expect("a place freed is a place again");
        assert_eq!(c.open(), 3);
    }
}
