//! SUBSCRIBE over COPY: a subscription opened before the writes accumulates to exactly the
//! view's contents, with times that never go backwards.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_accumulates_to_view_contents() {
    let server = common::TestServer::start(2);
    let client = server.connect("sub").await;
    client.batch_execute("CREATE TABLE t (k int, v int); CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS total FROM t GROUP BY k").await.unwrap();

    let sub_client = server.connect("sub").await;
    let stream = sub_client
        .copy_out("COPY (SUBSCRIBE s) TO STDOUT")
        .await
        .unwrap();
    let reader = tokio::spawn(async move {
        let mut stream = Box::pin(stream);
        let mut text = String::new();
        // Read until the stream has been quiet for a while after the writes.
        while let Ok(Some(chunk)) =
            tokio::time::timeout(Duration::from_secs(2), stream.next()).await
        {
            text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
        text
    });

    for i in 0..20 {
        client
            .execute("INSERT INTO t VALUES ($1, $2)", &[&(i % 4), &i])
            .await
            .unwrap();
    }
    client
        .batch_execute("DELETE FROM t WHERE k = 3")
        .await
        .unwrap();
    let text = reader.await.unwrap();

    let mut acc: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut last_time = 0u64;
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let time: u64 = cols[0].parse().unwrap();
        assert!(
            time >= last_time,
            "times go backwards: {time} after {last_time}"
        );
        last_time = time;
        let diff: i64 = cols[1].parse().unwrap();
        *acc.entry((cols[2].to_string(), cols[3].to_string()))
            .or_insert(0) += diff;
    }
    acc.retain(|_, d| *d != 0);
    let rows = client
        .query("SELECT k::text, total::text FROM s", &[])
        .await
        .unwrap();
    let expected: BTreeMap<(String, String), i64> =
        rows.iter().map(|r| ((r.get(0), r.get(1)), 1)).collect();
    assert_eq!(acc, expected, "subscription output:\n{text}");
}
