//! Point reads: `SELECT ... WHERE k = $1` over a table of ROWS rows, one key at a time from
//! one client, on the `runnel` binary without an index on `k` (each read a transient dataflow
//! over the table's arrangement) and with one (each read a lookup of the key), and on
//! PostgreSQL with a b-tree index when `RUNNEL_BENCH_PG` names one (`bin/with-postgres` starts
//! one and sets it). Reads/s for each and the ratios.
//!
//! Run: `bin/with-postgres cargo bench --bench point_reads` (`ROWS=N`, `READS=N`).

mod common;

use std::time::Instant;

use common::{connect, env_or, Server};
use futures::SinkExt;

/// Loads `t (k int, v text)` with `rows` rows by COPY.
async fn load(client: &tokio_postgres::Client, rows: usize) {
    client
        .batch_execute("DROP TABLE IF EXISTS t; CREATE TABLE t (k int, v text)")
        .await
        .unwrap();
    let data: String = (0..rows).map(|k| format!("{k}\tvalue {k}\n")).collect();
    let sink = client.copy_in("COPY t FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from(data)).await.unwrap();
    sink.finish().await.unwrap();
}

/// `reads` point reads of spread-out keys, each checked; returns reads/s.
async fn read_rate(client: &tokio_postgres::Client, rows: usize, reads: usize) -> f64 {
    let read = client
        .prepare("SELECT v FROM t WHERE k = $1")
        .await
        .unwrap();
    let start = Instant::now();
    for i in 0..reads {
        let k = ((i as u64 * 2_654_435_761) % rows as u64) as i32;
        let row = client.query_one(&read, &[&k]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), format!("value {k}"));
    }
    reads as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rows = env_or("ROWS", 2_000, 100_000);
    let reads = env_or("READS", 20, 2_000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let data_dir = std::env::temp_dir().join(format!("runnel-bench-reads-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let (server, _) = Server::start(&data_dir);
        let client = connect(&server.conn()).await;
        load(&client, rows).await;
        // The first read waits for the table's arrangement to catch up with the load.
        read_rate(&client, rows, 1).await;
        let scan = read_rate(&client, rows, reads / 10 + 1).await;
        client
            .batch_execute("CREATE INDEX t_by_k ON t (k)")
            .await
            .unwrap();
        read_rate(&client, rows, 1).await;
        let lookup = read_rate(&client, rows, reads).await;
        println!("point reads: {rows} rows, {reads} reads by key from one client");
        println!("{:<52} {:>12} {:>10}", "path", "reads/s", "vs lookup");
        println!("{:<52} {scan:>12.0} {:>9.3}x", "Runnel, no index (transient dataflow)", scan / lookup);
        println!("{:<52} {lookup:>12.0} {:>9.3}x", "Runnel, CREATE INDEX on k (lookup)", 1.0);
        if let Ok(pg) = std::env::var("RUNNEL_BENCH_PG") {
            let pg = connect(&pg).await;
            pg.batch_execute("DROP SCHEMA IF EXISTS bench_reads CASCADE; CREATE SCHEMA bench_reads; SET search_path = bench_reads")
                .await
                .unwrap();
            load(&pg, rows).await;
            pg.batch_execute("CREATE INDEX t_by_k ON t (k); ANALYZE t").await.unwrap();
            let postgres = read_rate(&pg, rows, reads).await;
            println!("{:<52} {postgres:>12.0} {:>9.3}x", "PostgreSQL, b-tree index on k", postgres / lookup);
            pg.batch_execute("DROP SCHEMA bench_reads CASCADE").await.unwrap();
        }
        drop(server);
        let _ = std::fs::remove_dir_all(&data_dir);
    });
}
