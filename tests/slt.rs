//! Runs every `sql/*.slt` file over pgwire against a real Runnel server, with tokio-postgres as
//! the client: each file in its own database, through both the simple and the extended protocol
//! (which reads results in binary), against servers with 1, 2 and 4 workers: the answers must
//! not depend on the number of workers.
//!
//! `RUNNEL_SLT=name` runs only files whose name contains `name`.

mod common;

use std::path::PathBuf;

use sqllogictest::Runner;
use sqllogictest_engines::postgres::{PostgresConfig, PostgresExtended, PostgresSimple};

fn slt_files() -> Vec<PathBuf> {
    let filter = std::env::var("RUNNEL_SLT").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sql"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .filter(|p| p.to_string_lossy().contains(&filter))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files matched");
    files
}

async fn run_all(workers: usize) {
    let server = common::TestServer::start(workers);
    let mut failures = Vec::new();
    for (i, file) in slt_files().into_iter().enumerate() {
        for extended in [false, true] {
            let db = format!("slt_{i}_{}", if extended { "x" } else { "s" });
            let mut cfg: PostgresConfig = server.conn_string(&db).parse().unwrap();
            cfg.dbname(&db);
            let result = if extended {
                let mut runner = Runner::new(move || {
                    let cfg = cfg.clone();
                    async move { PostgresExtended::connect(cfg).await }
                });
                runner.with_hash_threshold(0);
                runner.run_file_async(&file).await
            } else {
                let mut runner = Runner::new(move || {
                    let cfg = cfg.clone();
                    async move { PostgresSimple::connect(cfg).await }
                });
                runner.run_file_async(&file).await
            };
            if let Err(e) = result {
                failures.push(format!(
                    "{} ({} protocol, {workers} workers):\n{}",
                    file.display(),
                    if extended { "extended" } else { "simple" },
                    e.display(false)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_one_worker() {
    run_all(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_two_workers() {
    run_all(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_four_workers() {
    run_all(4).await;
}
