//! Time travel: `SELECT ... AS OF t` and `SUBSCRIBE ... AS OF t` read the past, inside the
//! retention window, before and after a restart (kill -9); outside it they fail clearly.
//!
//! The oracle is what plain reads returned at each moment: after every random write the test
//! records the current contents of a table, a materialized view and a join, and a wall-clock
//! time before the next write. Later, `AS OF` each recorded time must return exactly those.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Process;
use futures::StreamExt;
use rand::{Rng, SeedableRng};

/// Rows as sorted text, with duplicates kept.
async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    let mut out: Vec<String> = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

async fn now_ms(client: &tokio_postgres::Client) -> u64 {
    let r = rows(client, "SELECT (extract(epoch FROM now()) * 1000)::bigint").await;
    r[0].parse().unwrap()
}

const QUERIES: [&str; 3] = [
    "SELECT * FROM t",
    "SELECT * FROM totals",
    "SELECT t.k, t.v, totals.n FROM t JOIN totals ON t.k = totals.k WHERE t.v > 2",
];

/// Every query at every recorded time returns what it returned then.
async fn check_history(client: &tokio_postgres::Client, seen: &[(u64, Vec<Vec<String>>)]) {
    for (time, expected) in seen {
        for (q, want) in QUERIES.iter().zip(expected) {
            let got = rows(client, &format!("{q} AS OF {time}")).await;
            assert_eq!(&got, want, "{q} AS OF {time}");
        }
    }
}

/// Accumulates `SUBSCRIBE totals AS OF from` and checks its state at every recorded time from
/// `from` on.
async fn check_subscribe(server: &Process, from: u64, seen: &[(u64, Vec<Vec<String>>)]) {
    let last = seen.last().unwrap().0;
    let client = server.connect("history").await;
    let stream = client
        .copy_out(&format!(
            "COPY (SUBSCRIBE totals AS OF {from} WITH (PROGRESS)) TO STDOUT"
        ))
        .await
        .unwrap();
    let mut stream = Box::pin(stream);
    // A write to another table moves every input past `last`, so progress passes it.
    server
        .connect("history")
        .await
        .batch_execute("INSERT INTO tick VALUES (1)")
        .await
        .unwrap();
    let mut updates: Vec<(u64, String, i64)> = Vec::new();
    let mut complete = false;
    let mut buf = String::new();
    'read: while let Ok(Some(chunk)) =
        tokio::time::timeout(Duration::from_secs(10), stream.next()).await
    {
        buf.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(nl) = buf.find('\n') {
            let line: String = buf.drain(..=nl).collect();
            let cols: Vec<&str> = line.trim_end().split('\t').collect();
            let time: u64 = cols[0].parse().unwrap();
            if cols[1] == "t" {
                // A progress message: every time before `time` is complete.
                if time > last {
                    complete = true;
                    break 'read;
                }
                continue;
            }
            let diff: i64 = cols[2].parse().unwrap();
            updates.push((time, cols[3..].join("|"), diff));
        }
    }
    assert!(complete, "the subscription's progress passed {last}");
    assert!(
        updates.iter().all(|(t, _, _)| *t >= from),
        "the snapshot is reported at the AS OF time"
    );
    for (time, expected) in seen.iter().filter(|(t, _)| *t >= from) {
        let mut acc: BTreeMap<&str, i64> = BTreeMap::new();
        for (_, row, d) in updates.iter().filter(|(t, _, _)| t <= time) {
            *acc.entry(row.as_str()).or_default() += d;
        }
        let mut state: Vec<String> = Vec::new();
        for (row, n) in acc {
            assert!(n >= 0, "{row} has count {n} at {time}");
            state.extend(std::iter::repeat_n(row.to_string(), n as usize));
        }
        state.sort();
        assert_eq!(
            &state, &expected[1],
            "SUBSCRIBE AS OF {from}, state at {time}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_reads_the_past_before_and_after_a_restart() {
    let data_dir = common::temp_data_dir();
    let server = Process::start(&data_dir, &[]).await;
    let client = server.connect("history").await;
    client
        .batch_execute(
            "CREATE TABLE t (k int, v int);
             CREATE TABLE tick (a int);
             CREATE MATERIALIZED VIEW totals AS SELECT k, sum(v) AS total, count(*) AS n FROM t GROUP BY k;",
        )
        .await
        .unwrap();
    let created = now_ms(&client).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut seen = Vec::new();
    for step in 0..12 {
        let k = rng.random_range(0..4);
        let sql = match rng.random_range(0..4) {
            0 if step > 0 => format!("DELETE FROM t WHERE k = {k}"),
            1 if step > 0 => format!("UPDATE t SET v = v + 1 WHERE k = {k}"),
            _ => format!(
                "INSERT INTO t VALUES ({k}, {}), ({}, {})",
                rng.random_range(0..6),
                rng.random_range(0..4),
                rng.random_range(0..6)
            ),
        };
        client.batch_execute(&sql).await.unwrap();
        let mut now = Vec::new();
        for q in QUERIES {
            now.push(rows(&client, q).await);
        }
        // A time after this write, and before the next (writes are timed by the clock).
        let time = now_ms(&client).await;
        seen.push((time, now));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    check_history(&client, &seen).await;
    check_subscribe(&server, seen[3].0, &seen).await;

    // Before the table existed, and in the future: clear errors, not empty answers.
    for sql in [
        format!(
            "SELECT * FROM totals AS OF {}",
            created.saturating_sub(60_000)
        ),
        "SELECT * FROM t AS OF now() + interval '1 hour'".to_string(),
    ] {
        let e = client.simple_query(&sql).await.unwrap_err();
        assert_eq!(e.code().unwrap().code(), "22023", "{sql}: {e}");
    }

    server.kill();
    let server = Process::start(&data_dir, &[]).await;
    let client = server.connect("history").await;
    check_history(&client, &seen).await;
    check_subscribe(&server, seen[5].0, &seen).await;
    server.kill();
    std::fs::remove_dir_all(&data_dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_outside_the_retention_window_is_refused() {
    let data_dir = common::temp_data_dir();
    let server = Process::start(&data_dir, &["--retain-history", "300ms"]).await;
    let client = server.connect("history").await;
    client
        .batch_execute(
            "CREATE TABLE t (a int);
             CREATE MATERIALIZED VIEW kept WITH (RETAIN HISTORY FOR '1 hour') AS SELECT count(*) AS n FROM t;
             INSERT INTO t VALUES (1);",
        )
        .await
        .unwrap();
    let early = now_ms(&client).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    client
        .batch_execute("INSERT INTO t VALUES (2)")
        .await
        .unwrap();
    let e = client
        .simple_query(&format!("SELECT * FROM t AS OF {early}"))
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "22023");
    let message = e.as_db_error().unwrap().message();
    assert!(message.contains("retained"), "{message}");
    // The view keeps its own, longer history, also across a restart.
    assert_eq!(
        rows(&client, &format!("SELECT n FROM kept AS OF {early}")).await,
        vec!["1"]
    );
    server.kill();
    let server = Process::start(&data_dir, &["--retain-history", "300ms"]).await;
    let client = server.connect("history").await;
    assert_eq!(
        rows(&client, &format!("SELECT n FROM kept AS OF {early}")).await,
        vec!["1"]
    );
    assert_eq!(rows(&client, "SELECT n FROM kept").await, vec!["2"]);
    server.kill();
    std::fs::remove_dir_all(&data_dir).ok();
}
