//! The durable log's costs, measured against PostgreSQL on the same machine:
//!
//! 1. Insert throughput: 1, 4 and 16 concurrent clients each commit 100-row `INSERT`
//!    transactions into a table, on the `runnel` binary (every commit fsynced before it is
//!    acknowledged) and on PostgreSQL with `synchronous_commit = on` (its WAL fsynced per
//!    commit). Rows/s for both and their ratio.
//! 2. Rehydration: a table of ROWS rows (10 million under `cargo bench`) with a materialized
//!    view over it is loaded with COPY, the server is killed with SIGKILL and started again;
//!    the time until it listens (the log replayed) and until the view answers (rehydrated).
//!
//! PostgreSQL comes from `RUNNEL_BENCH_PG` (a connection string; `bin/with-postgres` starts
//! one with fsync on and sets it). Without it only Runnel's figures are printed.
//!
//! Run: `bin/with-postgres cargo bench --bench durable` (`TXNS=N` transactions per client
//! count, `ROWS=N` rows to rehydrate).

mod common;

use std::time::Instant;

use common::{connect, env_or, Server};

use futures::SinkExt;

const ROWS_PER_TXN: usize = 100;

/// `clients` connections each commit `txns` 100-row INSERTs into `table`; returns rows/s.
async fn insert_rate(conn: &str, table: &str, clients: usize, txns: usize) -> f64 {
    let mut sessions = Vec::new();
    for c in 0..clients {
        let client = connect(conn).await;
        let statements: Vec<String> = (0..txns)
            .map(|t| {
                let values: Vec<String> = (0..ROWS_PER_TXN)
                    .map(|r| {
                        let id = (c * txns + t) * ROWS_PER_TXN + r;
                        format!("({id}, {c}, 'payload {id}')")
                    })
                    .collect();
                format!("INSERT INTO {table} VALUES {}", values.join(","))
            })
            .collect();
        sessions.push((client, statements));
    }
    let start = Instant::now();
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|(client, statements)| {
            tokio::spawn(async move {
                for s in statements {
                    client.batch_execute(&s).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (clients * txns * ROWS_PER_TXN) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let txns = env_or("TXNS", 5, 200);
    let rows = env_or("ROWS", 10_000, 10_000_000);
    let pg = std::env::var("RUNNEL_BENCH_PG").ok();
    let dir = std::env::temp_dir().join(format!("runnel-bench-durable-{}", std::process::id()));
    rt.block_on(async {
        println!("insert throughput: 100-row transactions, {txns} per client, every commit durable");
        println!(
            "{:>8} {:>16} {:>16} {:>10}",
            "clients", "runnel rows/s", "postgres rows/s", "ratio"
        );
        for clients in [1, 4, 16] {
            let _ = std::fs::remove_dir_all(&dir);
            let (server, _) = Server::start(&dir);
            let client = connect(&server.conn()).await;
            client
                .batch_execute("CREATE TABLE bench_t (id bigint, client int, payload text)")
                .await
                .unwrap();
            let runnel = insert_rate(&server.conn(), "bench_t", clients, txns).await;
            drop(server);
            let postgres = match &pg {
                Some(conn) => {
                    let client = connect(conn).await;
                    client
                        .batch_execute(
                            "DROP TABLE IF EXISTS bench_t;
                             CREATE TABLE bench_t (id bigint, client int, payload text);",
                        )
                        .await
                        .unwrap();
                    for setting in ["fsync", "synchronous_commit"] {
                        let value: String = client
                            .query_one(&format!("SHOW {setting}"), &[])
                            .await
                            .unwrap()
                            .get(0);
                        if value != "on" {
                            eprintln!("note: PostgreSQL runs with {setting}={value}: its figure is not durable");
                        }
                    }
                    Some(insert_rate(conn, "bench_t", clients, txns).await)
                }
                None => None,
            };
            match postgres {
                Some(p) => println!(
                    "{clients:>8} {runnel:>16.0} {p:>16.0} {:>9.2}x",
                    runnel / p
                ),
                None => println!("{clients:>8} {runnel:>16.0} {:>16} {:>10}", "-", "-"),
            }
        }
        if pg.is_none() {
            println!("(set RUNNEL_BENCH_PG, or run under bin/with-postgres, to compare with PostgreSQL)");
        }

        let _ = std::fs::remove_dir_all(&dir);
        let (server, _) = Server::start(&dir);
        let client = connect(&server.conn()).await;
        client
            .batch_execute(
                "CREATE TABLE big (id bigint, k int, v int);
                 CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, sum(v) AS s FROM big GROUP BY k;",
            )
            .await
            .unwrap();
        let load = Instant::now();
        let chunk = 500_000;
        for start in (0..rows).step_by(chunk) {
            let data: String = (start..(start + chunk).min(rows))
                .map(|i| format!("{i}\t{}\t{}\n", i % 1000, i % 97))
                .collect();
            let sink = client.copy_in("COPY big FROM STDIN").await.unwrap();
            futures::pin_mut!(sink);
            sink.send(bytes::Bytes::from(data)).await.unwrap();
            sink.finish().await.unwrap();
        }
        let n: i64 = client
            .query_one("SELECT sum(n)::bigint FROM per_k", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n as usize, rows);
        let load = load.elapsed();
        drop(client);
        drop(server); // SIGKILL
        let restart = Instant::now();
        let (server, replayed) = Server::start(&dir);
        let client = connect(&server.conn()).await;
        // The read waits until the view has rehydrated over the whole table.
        let n: i64 = client
            .query_one("SELECT sum(n)::bigint FROM per_k", &[])
            .await
            .unwrap()
            .get(0);
        let hydrated = restart.elapsed();
        assert_eq!(n as usize, rows);
        println!(
            "rehydration of {rows} rows (+ a grouped view): loaded by COPY in {:.1} s; after kill -9, log replayed and listening in {:.1} s, the view answering {:.1} s after start",
            load.as_secs_f64(),
            replayed.as_secs_f64(),
            hydrated.as_secs_f64()
        );
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    });
}
