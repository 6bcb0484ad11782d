//! What the benchmarks share: the real server binary on a fresh port, a client, and sizes that
//! are small in smoke runs (`cargo test --all-targets` builds benches in debug) and large under
//! `cargo bench`.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn env_or(name: &str, debug: usize, release: usize) -> usize {
    let default = if cfg!(debug_assertions) {
        debug
    } else {
        release
    };
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The real server binary on a fresh port and data directory.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(data_dir: &std::path::Path) -> (Server, Duration) {
        Server::start_with(data_dir, &[])
    }

    /// Starts the server with more flags.
    pub fn start_with(data_dir: &std::path::Path, flags: &[&str]) -> (Server, Duration) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_runnel"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .args(flags)
            // More server flags for an experiment (`SERVER_ARGS="--log-segment-bytes 1000000000"`).
            .args(
                std::env::var("SERVER_ARGS")
                    .unwrap_or_default()
                    .split_whitespace(),
            )
            .env("RUNNEL_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the runnel binary starts");
        // The server says when it listens, after the log is replayed.
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        for line in lines.by_ref() {
            if line.unwrap().contains("listening on") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        (Server { child, port }, started.elapsed())
    }

    pub fn conn(&self) -> String {
        format!("host=127.0.0.1 port={} user=bench dbname=bench", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn connect(conn: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {conn}: {e}"));
    tokio::spawn(connection);
    client
}

/// A memory figure (kB) of process `pid` ("self" for this one) from /proc: `VmRSS:` (resident
/// now) or `VmHWM:` (the peak); 0 where /proc cannot say.
pub fn proc_status_kb(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
