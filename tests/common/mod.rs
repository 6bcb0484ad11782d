//! Test support: a real Runnel server on an ephemeral loopback port, and clients for it.

#![allow(dead_code)]

pub mod chromium;
pub mod kafka;

use std::net::SocketAddr;
use std::sync::Arc;

use runnel::coord::{Config, Coordinator};
use tokio_postgres::SimpleQueryMessage;

/// The rows of `sql` (simple query protocol) as text, null as None, sorted: an answer to
/// compare as a multiset.
pub async fn text_rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let mut out: Vec<Vec<Option<String>>> = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// Fetches the changes of subscription cursor `c` until they add up to `want` (sorted rows),
/// after showing each change to `check(time, diff, row)`. Panics if they never do (20 s).
pub async fn subscription_adds_up_to(
    client: &tokio_postgres::Client,
    want: &[Vec<Option<String>>],
    mut check: impl FnMut(u64, i64, &[Option<String>]),
) {
    let mut sums: std::collections::BTreeMap<Vec<Option<String>>, i64> = Default::default();
    for _ in 0..40 {
        for m in client
            .simple_query("FETCH ALL c WITH (timeout = '0.5s')")
            .await
            .unwrap()
        {
            if let SimpleQueryMessage::Row(r) = m {
                let time: u64 = r.get(0).unwrap().parse().unwrap();
                let diff: i64 = r.get(1).unwrap().parse().unwrap();
                let row: Vec<Option<String>> =
                    (2..r.len()).map(|i| r.get(i).map(str::to_string)).collect();
                check(time, diff, &row);
                *sums.entry(row).or_default() += diff;
            }
        }
        let rows: Vec<_> = sums
            .iter()
            .flat_map(|(r, n)| std::iter::repeat_n(r.clone(), (*n).max(0) as usize))
            .collect();
        if rows == want {
            return;
        }
    }
    panic!("the subscription never added up to what was expected");
}

/// A running server; it stops when the test process exits.
pub struct TestServer {
    pub addr: SocketAddr,
    pub coord: Arc<Coordinator>,
    pub data_dir: std::path::PathBuf,
}

/// A fresh data directory for one test server.
pub fn temp_data_dir() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("runnel-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

impl TestServer {
    pub fn start(workers: usize) -> TestServer {
        // The server gets its own thread and runtime, like the real binary, so tests can be
        // async themselves.
        let data_dir = temp_data_dir();
        let config = Config {
            // ksqlDB's statements name no broker (the README's examples use them).
            kafka_broker: std::env::var("RUNNEL_TEST_KAFKA").ok(),
            ..Config::new(workers, &data_dir)
        };
        let coord = Coordinator::start(&config).expect("the server starts");
        let c = Arc::clone(&coord);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(runnel::parse::STACK_SIZE)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = runnel::server::bind("127.0.0.1:0".parse().unwrap())
                    .await
                    .unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let _ = runnel::server::serve(listener, c, Default::default()).await;
            });
        });
        TestServer {
            addr: rx.recv().unwrap(),
            coord,
            data_dir,
        }
    }

    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "host={} port={} user=materialize dbname={db}",
            self.addr.ip(),
            self.addr.port()
        )
    }

    pub async fn connect(&self, db: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.conn_string(db), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }
}

/// The real `runnel` binary, started as its own process on a free loopback port.
pub struct Process {
    child: std::process::Child,
    pub port: u16,
    /// Where the server's log output goes.
    pub output: std::path::PathBuf,
}

impl Process {
    /// Starts the binary on `data_dir` and waits until it listens.
    pub async fn start(data_dir: &std::path::Path, args: &[&str]) -> Process {
        match Process::try_start(data_dir, args).await {
            Ok(p) => p,
            Err(output) => panic!("the server did not start:\n{output}"),
        }
    }

    /// Starts the binary; if it exits instead of listening, returns what it wrote.
    pub async fn try_start(data_dir: &std::path::Path, args: &[&str]) -> Result<Process, String> {
        Process::spawn(data_dir, args).until_listening().await
    }

    /// Starts the binary without waiting for it.
    pub fn spawn(data_dir: &std::path::Path, args: &[&str]) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let output = data_dir.with_extension(format!("{port}.log"));
        let file = std::fs::File::create(&output).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_runnel"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "2"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("RUNNEL_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .expect("the runnel binary starts");
        Process {
            child,
            port,
            output,
        }
    }

    /// Waits until the server says it listens (start-up has replayed the log); if it exits
    /// instead, returns what it wrote.
    pub async fn until_listening(mut self) -> Result<Process, String> {
        for _ in 0..400 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(self.output());
            }
            if self.output().contains("listening on") {
                return Ok(self);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        self.child.kill().ok();
        Err(format!(
            "not listening on {} after 10 s:\n{}",
            self.port,
            self.output()
        ))
    }

    /// The connection string for database `db`.
    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=materialize dbname={db}",
            self.port
        )
    }

    /// What the server has written to its log output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    pub async fn connect(&self, db: &str) -> tokio_postgres::Client {
        let conn = self.conn_string(db);
        for _ in 0..100 {
            if let Ok((client, conn)) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await
            {
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                return client;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("cannot connect to the server on {}", self.port);
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(self) {
        drop(self);
    }
}

impl Drop for Process {
    /// A server never outlives its test, even one that failed.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            std::fs::remove_file(&self.output).ok();
        }
    }
}
