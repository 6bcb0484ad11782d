//! Test support: a real Runnel server on an ephemeral loopback port, and clients for it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use runnel::coord::Coordinator;

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
        let coord = Coordinator::start(workers, &data_dir).expect("the server starts");
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
                let _ = runnel::server::serve(listener, c).await;
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
