//! Crash tests against the real binary: writers on several connections insert while the
//! server is killed with SIGKILL at random moments. After every restart every acknowledged row
//! is there exactly once, nothing unattempted appeared, and the materialized views equal a
//! from-scratch evaluation of the table's contents.
//!
//! `RUNNEL_CRASH_CYCLES` sets the number of kill/restart cycles (50 by default).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};

mod common;
use common::Process as Server;

/// Each restart rehydrates the views over the retention window's writes at their own times; a
/// short window keeps fifty restarts of a fast writer from recomputing the whole test's history
/// every time (what this test checks is that nothing acknowledged is lost).
const RETAIN: &[&str] = &["--retain-history", "1s"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let cycles: usize = std::env::var("RUNNEL_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(50);
    let data_dir = common::temp_data_dir();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let acked = Arc::new(Mutex::new(BTreeSet::<i64>::new()));
    let attempted = Arc::new(Mutex::new(BTreeSet::<i64>::new()));
    let next_id = Arc::new(std::sync::atomic::AtomicI64::new(0));

    let server = Server::start(&data_dir, RETAIN).await;
    server
        .connect("crash")
        .await
        .batch_execute(
            "CREATE TABLE t (id bigint, k int); \
             CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, sum(id) AS s FROM t GROUP BY k; \
             CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n, count(DISTINCT id) AS d FROM t",
        )
        .await
        .unwrap();
    let mut server = Some(server);

    for cycle in 0..cycles {
        let s = server.take().unwrap_or_else(|| unreachable!());
        // Four writers insert small transactions until the server dies under them.
        let mut writers = Vec::new();
        for _ in 0..4 {
            let client = s.connect("crash").await;
            let (acked, attempted, next_id) = (acked.clone(), attempted.clone(), next_id.clone());
            writers.push(tokio::spawn(async move {
                loop {
                    let first = next_id.fetch_add(3, std::sync::atomic::Ordering::SeqCst);
                    let ids = [first, first + 1, first + 2];
                    attempted.lock().unwrap().extend(ids);
                    let sql = format!(
                        "INSERT INTO t VALUES ({}, {}), ({}, {}), ({}, {})",
                        ids[0],
                        ids[0] % 5,
                        ids[1],
                        ids[1] % 5,
                        ids[2],
                        ids[2] % 5
                    );
                    if client.batch_execute(&sql).await.is_err() {
                        return;
                    }
                    acked.lock().unwrap().extend(ids);
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(20..250))).await;
        s.kill();
        for w in writers {
            w.await.unwrap();
        }

        let s = Server::start(&data_dir, RETAIN).await;
        let client = s.connect("crash").await;
        let rows = client.query("SELECT id, k FROM t", &[]).await.unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let present: BTreeSet<i64> = ids.iter().copied().collect();
        assert_eq!(
            present.len(),
            ids.len(),
            "cycle {cycle}: a row appears twice"
        );
        let acked_now = acked.lock().unwrap().clone();
        let missing: Vec<_> = acked_now.difference(&present).take(5).collect();
        assert!(
            missing.is_empty(),
            "cycle {cycle}: acknowledged rows lost: {missing:?}"
        );
        let attempted_now = attempted.lock().unwrap().clone();
        assert!(
            present.is_subset(&attempted_now),
            "cycle {cycle}: rows that no one inserted"
        );
        // The views, rehydrated from the log, equal an evaluation of the table's contents.
        let mut expected: Vec<(i32, i64, i64)> = (0..5)
            .map(|k| {
                let of_k: Vec<i64> = rows
                    .iter()
                    .filter(|r| r.get::<_, i32>(1) == k)
                    .map(|r| r.get(0))
                    .collect();
                (k, of_k.len() as i64, of_k.iter().sum())
            })
            .filter(|(_, n, _)| *n > 0)
            .collect();
        expected.sort();
        let view: Vec<(i32, i64, i64)> = client
            .query("SELECT k, n, s::bigint FROM per_k ORDER BY k", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(
            view, expected,
            "cycle {cycle}: per_k differs from its definition"
        );
        let total = client
            .query_one("SELECT n, d FROM total", &[])
            .await
            .unwrap();
        assert_eq!(
            (total.get::<_, i64>(0), total.get::<_, i64>(1)),
            (ids.len() as i64, ids.len() as i64),
            "cycle {cycle}: total differs from its definition"
        );
        server = Some(s);
    }
    let acked_total = acked.lock().unwrap().len();
    assert!(acked_total > 0, "no write was ever acknowledged");
    if let Some(s) = server {
        s.kill();
    }
    std::fs::remove_dir_all(&data_dir).ok();
}
