//! Temporal filters: rows enter and leave a view as time passes, with no further writes.
//!
//! Each row has an event time `ts` a little in the future; the view keeps rows with
//! `ts <= now() < ts + 2 s`. A subscription must show each row arriving at exactly `ts` and
//! leaving at exactly `ts + 2 s` (in milliseconds, the dataflow's clock), and a read of the view
//! at any time (AS OF) must equal the same query evaluated once at that time.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;

/// `ts` of row `id`, in milliseconds since the epoch: 300 ms apart, starting at `base`.
fn ts(base: i64, id: i64) -> i64 {
    base + 300 * id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_enter_and_leave_on_time() {
    let server = common::TestServer::start(2);
    let client = server.connect("temporal").await;
    client
        .batch_execute(
            "CREATE TABLE ev (id bigint, ts timestamptz);
             CREATE MATERIALIZED VIEW live WITH (RETAIN HISTORY = '1 minute') AS
               SELECT id FROM ev WHERE ts + INTERVAL '2 seconds' > now() AND ts <= mz_now();
             CREATE MATERIALIZED VIEW live_count WITH (RETAIN HISTORY = '1 minute') AS
               SELECT count(*) AS n FROM ev WHERE now() - ts < INTERVAL '2 seconds' AND now() >= ts",
        )
        .await
        .unwrap();

    let sub_client = server.connect("temporal").await;
    let stream = sub_client
        .copy_out("COPY (SUBSCRIBE live) TO STDOUT")
        .await
        .unwrap();

    // Every row's time is after the insert, so each enters by its filter, not by the write.
    let now: i64 = client
        .query_one("SELECT (extract(epoch FROM now()) * 1000)::bigint", &[])
        .await
        .unwrap()
        .get(0);
    let base = now + 1500;
    let rows: Vec<String> = (0..6)
        .map(|id| {
            format!(
                "({id}, to_timestamp({}::double precision / 1000))",
                ts(base, id)
            )
        })
        .collect();
    client
        .batch_execute(&format!(
            "INSERT INTO ev VALUES {}; DELETE FROM ev WHERE id = 3",
            rows.join(", ")
        ))
        .await
        .unwrap();
    // The last row leaves at ts(base, 5) + 2 s.
    let end = ts(base, 5) + 2000;

    let mut stream = Box::pin(stream);
    let mut changes: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while changes.values().map(Vec::len).sum::<usize>() < 10 {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("rows did not leave on time; saw:\n{text}"))
            .unwrap()
            .unwrap();
        let line = std::str::from_utf8(&chunk).unwrap();
        text.push_str(line);
        for line in line.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            let (time, diff, id): (i64, i64, i64) = (
                cols[0].parse().unwrap(),
                cols[1].parse().unwrap(),
                cols[2].parse().unwrap(),
            );
            changes.entry(id).or_default().push((time, diff));
        }
    }
    for id in [0, 1, 2, 4, 5] {
        assert_eq!(
            changes.get(&id),
            Some(&vec![(ts(base, id), 1), (ts(base, id) + 2000, -1)]),
            "row {id} should enter at its ts and leave 2 s later; all changes:\n{text}"
        );
    }
    assert!(
        !changes.contains_key(&3),
        "a deleted row never enters:\n{text}"
    );

    // Reads at past times agree with the query evaluated once at that time.
    // The last time read is end + 100: wait until it is past, or the read is refused as one
    // in the future (22023) when the reads below outrun the clock.
    let last = end + 100;
    while server_now(&client).await <= last {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in (base - 100..=last).step_by(50) {
        let view: Vec<i64> = ids(&client, &format!("SELECT id FROM live AS OF {t}")).await;
        let once: Vec<i64> = ids(
            &client,
            &format!("SELECT id FROM ev WHERE ts + INTERVAL '2 seconds' > now() AND ts <= now() AS OF {t}"),
        )
        .await;
        let expected: Vec<i64> = [0, 1, 2, 4, 5]
            .into_iter()
            .filter(|id| ts(base, *id) <= t && t < ts(base, *id) + 2000)
            .collect();
        assert_eq!(view, expected, "live AS OF {t}");
        assert_eq!(once, expected, "the query AS OF {t}");
        let n: i64 = client
            .query_one(&format!("SELECT n FROM live_count AS OF {t}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, expected.len() as i64, "live_count AS OF {t}");
    }
}

async fn server_now(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one("SELECT (extract(epoch FROM now()) * 1000)::bigint", &[])
        .await
        .unwrap()
        .get(0)
}

async fn ids(client: &tokio_postgres::Client, sql: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = client
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .map(|r| r.get(0))
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn now_elsewhere_in_a_maintained_view_is_refused() {
    let server = common::TestServer::start(1);
    let client = server.connect("temporal_errors").await;
    client
        .batch_execute("CREATE TABLE ev (id int, ts timestamptz)")
        .await
        .unwrap();
    for sql in [
        "CREATE MATERIALIZED VIEW v AS SELECT id, now() FROM ev",
        "CREATE MATERIALIZED VIEW v AS SELECT id FROM ev WHERE extract(epoch FROM now() - ts) < 60",
        "CREATE MATERIALIZED VIEW v AS SELECT max(now() - ts) FROM ev",
    ] {
        let e = client.batch_execute(sql).await.unwrap_err();
        assert_eq!(
            e.as_db_error().map(|d| d.code().code()),
            Some("0A000"),
            "{sql}: {e:?}"
        );
    }
    // A one-off query may use now() anywhere: it is the time of the read.
    client
        .query(
            "SELECT id, now() - ts FROM ev WHERE extract(epoch FROM now() - ts) < 60",
            &[],
        )
        .await
        .unwrap();
}
