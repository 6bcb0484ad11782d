//! COPY FROM STDIN / TO STDOUT through tokio-postgres: bulk loads reach the views, a failed
//! COPY changes nothing and leaves the connection usable.

mod common;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_in_feeds_views_and_failures_change_nothing() {
    let server = common::TestServer::start(2);
    let client = server.connect("copy").await;
    client
        .batch_execute(
            "CREATE TABLE t (k int, v double precision, at timestamp); \
             CREATE MATERIALIZED VIEW s AS SELECT k, count(*) AS n, sum(v) AS total FROM t GROUP BY k",
        )
        .await
        .unwrap();

    // 10,000 rows in chunks that split records mid-line.
    let mut data = String::new();
    for i in 0..10_000 {
        data.push_str(&format!(
            "{}\t{}.5\t2024-05-0{} 12:00:00\n",
            i % 7,
            i,
            1 + i % 9
        ));
    }
    let sink = client.copy_in("COPY t FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    for chunk in data.as_bytes().chunks(4093) {
        sink.send(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    assert_eq!(sink.finish().await.unwrap(), 10_000);
    let row = client
        .query_one("SELECT sum(n)::bigint, sum(total) FROM s", &[])
        .await
        .unwrap();
    let expected: f64 = (0..10_000).map(|i| i as f64 + 0.5).sum();
    assert_eq!(row.get::<_, i64>(0), 10_000);
    assert_eq!(row.get::<_, f64>(1), expected);

    // A malformed record fails the whole COPY with 22P02; nothing of it is applied.
    let sink = client.copy_in("COPY t (k, v) FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"1\t2\n2\tnot a number\n"))
        .await
        .unwrap();
    let err = sink.finish().await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "22P02", "{err:?}");
    let n: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 10_000);

    // COPY TO STDOUT streams the rows back in the text format.
    let out = client
        .copy_out("COPY (SELECT k, n FROM s ORDER BY k) TO STDOUT")
        .await
        .unwrap();
    let chunks: Vec<Bytes> = out.map(|c| c.unwrap()).collect().await;
    let text: String = chunks
        .iter()
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let expected: String = (0..7)
        .map(|k| format!("{k}\t{}\n", (0..10_000).filter(|i| i % 7 == k).count()))
        .collect();
    assert_eq!(text, expected);
}
