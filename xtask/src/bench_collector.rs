//! `cargo xtask bench`, collector part: receipts per second and p50/p99
//! latency at 64 concurrent clients, on SQLite and on PostgreSQL, next to the
//! crypto limit measured in the same run (ES256 verifications per second on
//! one core × cores: each receipt costs one verification).
//!
//! The receipts are real (P-256 signed, pre-signed before the clock starts),
//! the server is the release collector on 127.0.0.1, and every run is
//! bounded in count and time. The load generator is the collector's
//! `loadgen` example.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{cargo, output, postgres, run, target_dir, Result};

/// Enough for several seconds of load per store: a short run is mostly
/// its start (an empty database, the first WAL checkpoints).
const RECEIPTS: usize = 40_000;
const CLIENTS: usize = 64;
/// Seconds per store at most, whatever the machine.
const MAX_SECONDS: u64 = 30;
const SITE: &str = "bench";

pub fn bench() -> Result {
    run(cargo().args([
        "build",
        "--profile",
        "server",
        "-p",
        "consentry-collector",
        "--bin",
        "consentry-collector",
        "--example",
        "loadgen",
    ]))?;
    let server = target_dir().join("server").join("consentry-collector");
    let loadgen = target_dir().join("server").join("examples").join("loadgen");

    let crypto = output(Command::new(&loadgen).arg("crypto")).ok_or("loadgen crypto failed")?;
    let one_core = field(&crypto, "es256_verify_per_s_one_core");
    let cores = field(&crypto, "cores");
    let limit = one_core * cores;

    let pg = postgres::start()?;
    let dir = target_dir().join("bench-collector");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let stores = [
        (
            "SQLite",
            format!("sqlite://{}", dir.join("bench.db").display()),
        ),
        ("PostgreSQL", pg.url.clone()),
    ];
    let mut rows = Vec::new();
    for (name, url) in stores {
        let result = one_store(&server, &loadgen, &dir, name, &url, Load::Store)?;
        rows.push((name, result));
    }
    drop(pg);
    let sqlite_url = format!("sqlite://{}", dir.join("ceiling.db").display());
    let ceiling = one_store(
        &server,
        &loadgen,
        &dir,
        "ceiling",
        &sqlite_url,
        Load::Ceiling,
    )?;
    let ceiling_rate = field(&ceiling, "receipts_per_s");

    println!("\nbench: collector, {RECEIPTS} pre-signed receipts, {CLIENTS} concurrent keep-alive clients, 127.0.0.1");
    println!("(the bench site's rate limit is off: one load generator is one client; connection caps at their defaults)");
    println!(
        "limit: ES256 verify {one_core:.0}/s on one core × {cores:.0} cores = {limit:.0} receipts/s"
    );
    println!(
        "ceiling: the collector reading and verifying receipts of an unlisted site, \
         refused before the store and the countersignature: {ceiling_rate:.0}/s = {:.0}% of the limit, \
         {:.0} µs of collector CPU each",
        100.0 * ceiling_rate / limit.max(1.0),
        1e6 * field(&ceiling, "server_cpu_s") / field(&ceiling, "ok").max(1.0),
    );
    println!(
        "{:<12} {:>12} {:>9} {:>11} {:>9} {:>9} {:>8} {:>11} {:>13} {:>10}",
        "store",
        "receipts/s",
        "of limit",
        "of ceiling",
        "p50 ms",
        "p99 ms",
        "failed",
        "client cpu",
        "server µs/rc",
        "of which"
    );
    for (name, r) in rows {
        let rate = field(&r, "receipts_per_s");
        let stored = field(&r, "ok").max(1.0);
        let of_ceiling = 100.0 * rate / ceiling_rate.max(1.0);
        let writer = field(&r, "writer_cpu_s");
        println!(
            "{name:<12} {rate:>12.0} {:>8.0}% {of_ceiling:>10.0}% {:>9.2} {:>9.2} {:>8.0} {:>10.0}% {:>13.0} {:>10}",
            100.0 * rate / limit.max(1.0),
            field(&r, "p50_ms"),
            field(&r, "p99_ms"),
            field(&r, "failed"),
            100.0 * field(&r, "client_cpu_s") / field(&r, "seconds").max(0.001),
            1e6 * field(&r, "server_cpu_s") / stored,
            if writer > 0.0 {
                format!("{:.0} writer", 1e6 * writer / stored)
            } else {
                String::new()
            },
        );
    }
    println!(
        "(of ceiling: the store's and the countersignature's cost together; \
         the load generator shares the machine with the server, so this is a floor; \
         client cpu is its own share, in % of one core; server µs/rc is the collector's \
         CPU time per stored receipt, against {:.0} µs for one ES256 verification: \
         50% of the limit needs the whole machine to spend at most 2 verifications' \
         time per receipt)",
        1e6 / one_core.max(1.0)
    );
    Ok(())
}

/// What one run posts.
#[derive(Clone, Copy)]
enum Load {
    /// Receipts of the configured site: stored, countersigned, 201.
    Store,
    /// Receipts of a site the sites file does not list: read and verified
    /// like the others, then 400 `unknown_site`. What the collector does
    /// before the store, so the most any store could let it reach.
    Ceiling,
}

/// Starts the collector on `url`, runs the load, stops the collector.
fn one_store(
    server: &Path,
    loadgen: &Path,
    dir: &Path,
    name: &str,
    url: &str,
    load: Load,
) -> Result<String> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let origin = format!("http://127.0.0.1:{port}");
    let sites = dir.join(format!("sites-{port}.toml"));
    fs::write(
        &sites,
        // One load generator is one client posting thousands a second: the
        // site's rate limit would refuse nearly all of it, so it is off here
        // (and the 64 connections stay under the per-client cap of 100).
        format!("[sites.{SITE}]\norigins = [\"{origin}\"]\nrate_limit = \"off\"\n"),
    )?;
    let log = fs::File::create(dir.join(format!("{}.log", name.to_lowercase())))?;
    let child = Command::new(server)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("CONSENTRY_SITES", &sites)
        .env("CONSENTRY_DATABASE_URL", url)
        .env("CONSENTRY_KEY_FILE", key_file(dir))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let pid = child.id();
    let _server = Stop(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("the {name} collector did not start").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("xtask: bench: {name}");
    let before = ServerCpu::read(pid);
    let (site, status) = match load {
        Load::Store => (SITE, "201"),
        Load::Ceiling => ("unlisted", "400"),
    };
    let result = output(Command::new(loadgen).args([
        "post",
        &format!("127.0.0.1:{port}"),
        &origin,
        site,
        &RECEIPTS.to_string(),
        &CLIENTS.to_string(),
        &MAX_SECONDS.to_string(),
        status,
    ]))
    .ok_or_else(|| format!("loadgen against {name} failed"))?;
    let used = ServerCpu::read(pid).since(&before);
    // Appended to the loadgen's JSON line, read back with `field`.
    Ok(format!(
        "{},\"server_cpu_s\":{:.3},\"writer_cpu_s\":{:.3}}}",
        result.trim_end().trim_end_matches('}'),
        used.total,
        used.writer
    ))
}

/// CPU seconds (user + system) the collector process has used, in all and
/// in its SQLite writer thread, from `/proc` (zero where there is none).
/// Per receipt, next to the cost of one verification, it says where a
/// receipt's time goes, which the throughput alone cannot.
struct ServerCpu {
    total: f64,
    writer: f64,
}

impl ServerCpu {
    fn read(pid: u32) -> ServerCpu {
        // utime and stime are the 12th and 13th fields after the command
        // name, in clock ticks (USER_HZ is 100 on every Linux ABI). The
        // process's own line also counts threads that have exited.
        let ticks = |stat: &str| -> f64 {
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return 0.0;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let get = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
            get(11).zip(get(12)).map_or(0.0, |(u, s)| (u + s) / 100.0)
        };
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let total = fs::read_to_string(proc_dir.join("stat")).map_or(0.0, |s| ticks(&s));
        let writer = fs::read_dir(proc_dir.join("task"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|task| {
                fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.trim() == "sqlite-writer")
            })
            .map(|task| fs::read_to_string(task.path().join("stat")).map_or(0.0, |s| ticks(&s)))
            .sum();
        ServerCpu { total, writer }
    }

    fn since(&self, before: &ServerCpu) -> ServerCpu {
        ServerCpu {
            total: self.total - before.total,
            writer: self.writer - before.writer,
        }
    }
}

fn key_file(dir: &Path) -> PathBuf {
    dir.join("collector.key")
}

/// The collector process, stopped when dropped.
struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A number field of a one-line JSON object, without a JSON parser.
fn field(json: &str, name: &str) -> f64 {
    json.split(&format!("\"{name}\":"))
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_number_field() {
        let line = "{\"ok\":5,\"receipts_per_s\":2232,\"p99_ms\":87.33}";
        assert_eq!(super::field(line, "receipts_per_s"), 2232.0);
        assert_eq!(super::field(line, "p99_ms"), 87.33);
        assert_eq!(super::field(line, "missing"), 0.0);
    }
}

#[cfg(test)]
mod run {
    /// The collector benchmark alone (`cargo xtask bench` also builds and
    /// measures the widget): `cargo test -p xtask -- --ignored collector_bench`.
    #[test]
    #[ignore = "builds the collector, starts PostgreSQL, runs for up to a minute"]
    fn collector_bench() {
        super::bench().expect("bench");
    }
}
