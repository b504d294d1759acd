//! The load generator behind `cargo xtask bench` (collector part).
//!
//! `loadgen crypto`: ES256 verifications per second on one core (the best of
//! three 1 s windows) and on all cores (ring, through the receipt crate's
//! verifier), one JSON line.
//!
//! `loadgen post ADDR ORIGIN SITE COUNT CONCURRENCY SECONDS [STATUS]`:
//! pre-signs COUNT real receipts for SITE (P-256, like the browser), then
//! POSTs them with CONCURRENCY keep-alive connections until all are sent or
//! SECONDS pass; prints receipts/s and p50/p99 latency as one JSON line.
//! Only answers with STATUS (default 201) count. `400` with a SITE the
//! collector does not know measures its ceiling: every receipt is read and
//! verified, then refused before the store and the countersignature.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use consentry_receipt::verify::{verify, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "../../receipt/tests/common/mod.rs"]
mod common;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("crypto") => crypto(),
        Some("post") if args.len() == 7 || args.len() == 8 => {
            let parse = |i: usize| args[i].parse::<u64>().unwrap_or_else(|_| usage());
            let expect = if args.len() == 8 { parse(7) } else { 201 };
            post(
                &args[1],
                &args[2],
                &args[3],
                parse(4) as usize,
                parse(5) as usize,
                Duration::from_secs(parse(6)),
                u16::try_from(expect).unwrap_or_else(|_| usage()),
            );
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen crypto | loadgen post ADDR ORIGIN SITE COUNT CONCURRENCY SECONDS [STATUS]"
    );
    std::process::exit(2)
}

/// Verifications per second of one real receipt for `window` on one thread.
fn verify_rate(jws: &[u8], window: Duration) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        for _ in 0..100 {
            assert!(verify(jws, &Limits::default()).is_ok());
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn crypto() {
    let key = common::key_a();
    let jws = common::sign_receipt(&key, &common::receipt(&key)).into_bytes();
    let window = Duration::from_millis(1000);
    // The best of three windows: on a shared VM a window can lose a tenth
    // of its time to other guests, and the limit is what the core can do.
    let one_core = (0..3)
        .map(|_| verify_rate(&jws, window))
        .fold(0.0, f64::max);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let jws = jws.clone();
            std::thread::spawn(move || verify_rate(&jws, window))
        })
        .collect();
    let all: f64 = threads.into_iter().map(|t| t.join().unwrap_or(0.0)).sum();
    println!(
        "{{\"es256_verify_per_s_one_core\":{one_core:.0},\"cores\":{cores},\"es256_verify_per_s_all_cores\":{all:.0}}}"
    );
}

fn now_rfc3339() -> String {
    consentry_receipt::receipt::format_rfc3339_utc(consentry_collector::now_ms())
}

/// A lower-case UUID v4, distinct per index and run.
fn uuid(i: usize, salt: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&salt.to_be_bytes());
    bytes[8..].copy_from_slice(&(i as u64).to_be_bytes());
    consentry_receipt::ids::uuid_v4(bytes)
}

fn post(
    addr: &str,
    origin: &str,
    site: &str,
    count: usize,
    concurrency: usize,
    limit: Duration,
    expect: u16,
) {
    let salt = consentry_collector::now_ms() as u64;
    let issued_at = now_rfc3339();
    let sign_start = Instant::now();
    // A few hundred visitors' keys, like a real site's traffic.
    let keys: Vec<_> = (1..=256).map(common::key_from_seed).collect();
    let requests: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            let key = &keys[i % keys.len()];
            let receipt = common::receipt_with(key, site, &uuid(i, salt), &issued_at);
            let jws = common::sign_receipt(key, &receipt);
            format!(
                "POST /v1/receipts HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{jws}",
                jws.len()
            )
            .into_bytes()
        })
        .collect();
    eprintln!(
        "loadgen: signed {count} receipts in {:.1?}",
        sign_start.elapsed()
    );

    // One thread: the client should take as little of the machine as it can.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = own_cpu_seconds();
    let start = Instant::now();
    let deadline = start + limit;
    let results: Vec<(Vec<Duration>, usize)> = runtime.block_on(async {
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let requests = Arc::clone(&requests);
                let next = Arc::clone(&next);
                let addr = addr.to_owned();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut failed = 0;
                    let Ok(mut stream) = TcpStream::connect(&addr).await else {
                        return (latencies, 1);
                    };
                    let _ = stream.set_nodelay(true);
                    let mut buf = Vec::with_capacity(4096);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= requests.len() || Instant::now() > deadline {
                            break;
                        }
                        let sent = Instant::now();
                        if stream.write_all(&requests[i]).await.is_err() {
                            failed += 1;
                            break;
                        }
                        match read_status(&mut stream, &mut buf).await {
                            Some(status) if status == expect => latencies.push(sent.elapsed()),
                            _ => failed += 1,
                        }
                    }
                    (latencies, failed)
                })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap_or_default());
        }
        out
    });
    let elapsed = start.elapsed().as_secs_f64();
    let client_cpu = own_cpu_seconds() - cpu_before;
    let failed: usize = results.iter().map(|r| r.1).sum();
    let mut latencies: Vec<Duration> = results.into_iter().flat_map(|r| r.0).collect();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{{\"ok\":{},\"failed\":{failed},\"seconds\":{elapsed:.2},\"receipts_per_s\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"client_cpu_s\":{client_cpu:.2}}}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
}

/// This process's CPU time (user + system) so far, in seconds, from
/// `/proc/self/stat`: the load generator's own share of the machine, which
/// the server did not get. 0 where there is no procfs.
fn own_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces, so split at the
    // last ')'): utime and stime are the 12th and 13th, in clock ticks.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // The kernel's USER_HZ is 100 on every Linux ABI.
    (ticks(11) + ticks(12)) / 100.0
}

/// Reads one HTTP/1.1 response (head and Content-Length body); its status.
async fn read_status(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<u16> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).ok()?;
            let status = head.split(' ').nth(1)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    if name.eq_ignore_ascii_case("content-length") {
                        value.trim().parse().ok()
                    } else {
                        None
                    }
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(status);
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
