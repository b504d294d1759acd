//! A throwaway PostgreSQL server for the collector's store tests and
//! benchmark: Debian's binaries, a temp data dir, 127.0.0.1 on a free port,
//! stopped and deleted when the guard drops (also on failure and panic).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::ensure::ensure_apt;
use crate::{output, run, Result};

/// How long the server may take to accept connections after `pg_ctl start`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const DATABASE: &str = "consentry_test";

/// A running server; `url` is what `CONSENTRY_TEST_POSTGRES_URL` gets.
pub struct Postgres {
    pub url: String,
    bin: PathBuf,
    dir: PathBuf,
    started: bool,
}

/// Installs PostgreSQL if missing, then initdb, start, wait, createdb.
pub fn start() -> Result<Postgres> {
    ensure_apt(&["postgresql"])?;
    let bin = find_bin()?;
    let dir = std::env::temp_dir().join(format!("consentry-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    // The guard exists from here on, so every early return cleans up.
    let mut pg = Postgres {
        url: String::new(),
        bin,
        dir,
        started: false,
    };
    if is_root() {
        // initdb refuses to run as root; the server runs as `postgres`.
        run(Command::new("chown").arg("postgres:postgres").arg(&pg.dir))?;
    }
    let data = pg.dir.join("data");
    run(pg.as_postgres("initdb").arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    ]))?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=200",
        pg.dir.display()
    );
    run(pg
        .as_postgres("pg_ctl")
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(pg.dir.join("server.log"))
        .args(["-o", &options, "-w", "-t", "30", "start"]))?;
    pg.started = true;

    let port_text = port.to_string();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let ready = pg
            .as_postgres("pg_isready")
            .args(["-h", "127.0.0.1", "-p", &port_text, "-U", "postgres"])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "PostgreSQL did not accept connections within {READY_TIMEOUT:?} (log: {})",
                pg.dir.join("server.log").display()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    run(pg.as_postgres("createdb").args([
        "-h",
        "127.0.0.1",
        "-p",
        &port_text,
        "-U",
        "postgres",
        DATABASE,
    ]))?;
    pg.url = format!("postgres://postgres@127.0.0.1:{port}/{DATABASE}");
    eprintln!("xtask: PostgreSQL up at {}", pg.url);
    Ok(pg)
}

impl Postgres {
    /// A PostgreSQL binary, run as the `postgres` user when we are root.
    fn as_postgres(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.started {
            let _ = self
                .as_postgres("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "-t", "30", "stop"])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `/usr/lib/postgresql/<newest version>/bin`.
fn find_bin() -> Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map_err(|err| format!("cannot read {}: {err}", root.display()))?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| format!("no PostgreSQL with initdb under {}", root.display()).into())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}

#[cfg(test)]
mod tests {
    /// Needs Debian's PostgreSQL (and root or a normal user): run with
    /// `cargo test -p xtask -- --ignored`.
    #[test]
    #[ignore = "starts a real PostgreSQL server"]
    fn a_server_starts_answers_and_is_gone_after_drop() {
        let pg = super::start().expect("start");
        let port = pg
            .url
            .split(':')
            .nth(2)
            .and_then(|p| p.split('/').next())
            .expect("port")
            .to_owned();
        let dir = pg.dir.clone();
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().expect("u16"))).is_ok()
        );
        drop(pg);
        assert!(!dir.exists());
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().expect("u16"))).is_err()
        );
    }
}
