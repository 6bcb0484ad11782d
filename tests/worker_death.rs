//! A timely worker that dies (a bug: workers never panic on user data) must not leave clients
//! waiting forever: the other workers can no longer make progress, so reads and subscriptions
//! that wait on them fail with XX000 and a hint to restart, while the server keeps accepting
//! connections and logging writes (which a restart then finds).

mod common;

use std::time::Duration;

use futures::StreamExt;

/// How long a failing read may take before the test calls it hung.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_fail_instead_of_hanging_once_a_worker_dies() {
    let server = common::TestServer::start(2);
    let client = server.connect("death").await;
    client
        .batch_execute(
            "CREATE TABLE t (k int, v int); \
             CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS total FROM t GROUP BY k; \
             INSERT INTO t VALUES (1, 10), (2, 20)",
        )
        .await
        .unwrap();
    let rows = client.query("SELECT * FROM s", &[]).await.unwrap();
    assert_eq!(rows.len(), 2);
    let subscription = client
        .copy_out("COPY (SUBSCRIBE s) TO STDOUT")
        .await
        .unwrap();
    futures::pin_mut!(subscription);
    // The snapshot arrives while all workers run.
    let first = tokio::time::timeout(PATIENCE, subscription.next()).await;
    assert!(matches!(first, Ok(Some(Ok(_)))), "{first:?}");

    server.coord.crash_worker(1);

    // The subscription ends with the error (rows of the snapshot may still be in flight).
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match subscription.next().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the subscription ended instead of hanging");
    let Some(Err(e)) = ended else {
        panic!("the subscription ended without an error: {ended:?}")
    };
    assert_eq!(
        e.as_db_error().map(|e| e.code().code()),
        Some("XX000"),
        "{e}"
    );

    // Reads of an arrangement and of a transient dataflow fail; a new session can connect,
    // and a write is still acknowledged (logged).
    let other = server.connect("death").await;
    for read in ["SELECT * FROM s", "SELECT count(*) FROM t WHERE v > 5"] {
        let result = tokio::time::timeout(PATIENCE, other.query(read, &[]))
            .await
            .unwrap_or_else(|_| panic!("{read} hung after a worker died"));
        let e = result.expect_err(read);
        let db = e.as_db_error().expect("an ErrorResponse");
        assert_eq!(db.code().code(), "XX000", "{read}: {db:?}");
        assert!(db.hint().is_some_and(|h| h.contains("Restart")), "{db:?}");
    }
    tokio::time::timeout(
        PATIENCE,
        other.batch_execute("INSERT INTO t VALUES (3, 30)"),
    )
    .await
    .expect("a write after a worker died is acknowledged")
    .unwrap();
}
