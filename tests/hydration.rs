//! Rehydration after a restart, as a user follows it: `SHOW HYDRATION` lists the database's
//! tables and materialized views and reports each hydrated once its arrangement has caught up
//! with the log, the server log says when all have, and the views then hold what they held.

mod common;

use std::time::{Duration, Instant};

use common::Process;
use futures::SinkExt;

async fn hydration(client: &tokio_postgres::Client) -> Vec<(String, String, bool)> {
    client
        .query("SHOW HYDRATION", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// Polls `SHOW HYDRATION` until every object has hydrated; returns the final status and how
/// many polls saw something still hydrating.
async fn until_hydrated(client: &tokio_postgres::Client) -> (Vec<(String, String, bool)>, usize) {
    let started = Instant::now();
    let mut waiting = 0;
    loop {
        let status = hydration(client).await;
        if status.iter().all(|(_, _, hydrated)| *hydrated) {
            return (status, waiting);
        }
        waiting += 1;
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not hydrated after 2 minutes: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn totals(client: &tokio_postgres::Client) -> (Vec<(i32, i64, i64)>, i64) {
    let groups = client
        .query("SELECT k, n, s FROM per_k ORDER BY k", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let joined: i64 = client
        .query_one("SELECT count(*) FROM named", &[])
        .await
        .unwrap()
        .get(0);
    (groups, joined)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_hydration_follows_views_rebuilding_after_kill() {
    let data_dir = common::temp_data_dir();
    let server = Process::start(&data_dir, &[]).await;
    let client = server.connect("hydra").await;
    client
        .batch_execute(
            "CREATE TABLE facts (id bigint, k int, v int);
             CREATE TABLE names (k int, name text);
             CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, sum(v) AS s FROM facts GROUP BY k;
             CREATE MATERIALIZED VIEW named AS SELECT f.id, n.name FROM facts f JOIN names n ON f.k = n.k;
             CREATE VIEW not_materialized AS SELECT * FROM facts;",
        )
        .await
        .unwrap();
    let names: Vec<String> = (0..100).map(|k| format!("({k}, 'name {k}')")).collect();
    client
        .batch_execute(&format!("INSERT INTO names VALUES {}", names.join(",")))
        .await
        .unwrap();
    let rows = 200_000;
    for start in (0..rows).step_by(50_000) {
        let data: String = (start..start + 50_000)
            .map(|i| format!("{i}\t{}\t{}\n", i % 150, i % 7))
            .collect();
        let sink = client.copy_in("COPY facts FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        sink.send(bytes::Bytes::from(data)).await.unwrap();
        sink.finish().await.unwrap();
    }
    let before = totals(&client).await;
    assert_eq!(
        before.1,
        (rows as i64 / 150) * 100 + (rows as i64 % 150).min(100)
    );
    // Objects of another database are not this session's.
    let other = server.connect("elsewhere").await;
    other.batch_execute("CREATE TABLE t (x int)").await.unwrap();
    assert_eq!(
        until_hydrated(&other).await.0,
        vec![("t".into(), "table".into(), true)]
    );

    server.kill();
    // While the log is replayed, the port is open and a client is told the server is starting
    // up (57P03), not left waiting or refused without a word.
    let server = Process::spawn(&data_dir, &[]);
    let mut told_starting_up = 0;
    let client = loop {
        match tokio_postgres::connect(&server.conn_string("hydra"), tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                break client;
            }
            Err(e) => match e.as_db_error() {
                Some(db) => {
                    assert_eq!(db.code().code(), "57P03", "{e:?}");
                    assert_eq!(db.message(), "the database system is starting up");
                    told_starting_up += 1;
                }
                None => assert!(
                    !server.output().contains("listening on"),
                    "cannot connect to a listening server: {e}"
                ),
            },
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    eprintln!("{told_starting_up} connections were told the server is starting up");
    assert!(
        told_starting_up > 0,
        "replaying 200,000 rows outlasted no connection attempt"
    );
    let server = server.until_listening().await.unwrap();
    // Poll from the moment the server listens until everything has hydrated.
    let started = Instant::now();
    let (status, observed_waiting) = until_hydrated(&client).await;
    eprintln!(
        "hydrated after {:.1?}; {observed_waiting} polls saw something still hydrating",
        started.elapsed()
    );
    assert_eq!(
        status,
        vec![
            ("facts".into(), "table".into(), true),
            ("named".into(), "materialized view".into(), true),
            ("names".into(), "table".into(), true),
            ("per_k".into(), "materialized view".into(), true),
        ]
    );
    assert_eq!(totals(&client).await, before);
    // The server log says when all were done (it checks a few times a second).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .output()
        .contains("rehydrated 5 tables and materialized views from the log")
    {
        assert!(
            Instant::now() < deadline,
            "no line about rehydration in:\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A view created later is listed too, hydrated once it has caught up.
    client
        .batch_execute("CREATE MATERIALIZED VIEW big_ids AS SELECT id FROM facts WHERE id > 199990")
        .await
        .unwrap();
    let (status, _) = until_hydrated(&client).await;
    assert!(status.contains(&("big_ids".into(), "materialized view".into(), true)));
    let n: i64 = client
        .query_one("SELECT count(*) FROM big_ids", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 9);
}

/// Indexes are rebuilt on restart (a dropped one is not): joins and lookups read them again,
/// and give what they gave before the server was killed, and what writes since then add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_are_rebuilt_after_kill() {
    let data_dir = common::temp_data_dir();
    let server = Process::start(&data_dir, &[]).await;
    let client = server.connect("indexes").await;
    client
        .batch_execute(
            "CREATE TABLE c (id int, name text); CREATE TABLE r (uid int, stars int); \
             INSERT INTO c SELECT g, 'n' || g FROM generate_series(1, 1000) g; \
             INSERT INTO r SELECT g % 1200, g % 5 FROM generate_series(1, 3000) g; \
             CREATE INDEX c_by_id ON c (id); CREATE INDEX c_by_name ON c (name); \
             CREATE INDEX r_by_stars ON r (stars); DROP INDEX r_by_stars; \
             CREATE MATERIALIZED VIEW rated AS SELECT c.name, r.stars FROM r JOIN c ON r.uid = c.id; \
             CREATE MATERIALIZED VIEW per_name AS SELECT name, count(*) AS n FROM rated GROUP BY name",
        )
        .await
        .unwrap();
    let reads = [
        "SELECT count(*) FROM rated",
        "SELECT n FROM per_name WHERE name = 'n7'",
        "SELECT id FROM c WHERE name IN ('n5', 'n999')",
        "SELECT name FROM c WHERE id = 42",
    ];
    let mut before = Vec::new();
    for q in reads {
        before.push(common::text_rows(&client, q).await);
    }
    server.kill();

    let server = Process::start(&data_dir, &[]).await;
    let client = server.connect("indexes").await;
    until_hydrated(&client).await;
    let indexes = common::text_rows(&client, "SHOW INDEXES").await;
    assert_eq!(
        indexes,
        [["c_by_id"], ["c_by_name"]].map(|r| r.map(|n| Some(n.to_string())).to_vec()),
    );
    let plan = common::text_rows(&client, &format!("EXPLAIN {}", reads[3])).await;
    assert!(format!("{plan:?}").contains("c_by_id (lookup)"), "{plan:?}");
    for (q, rows) in reads.iter().zip(&before) {
        assert_eq!(&common::text_rows(&client, q).await, rows, "{q}");
    }
    // The rebuilt indexes keep up with writes.
    client
        .batch_execute(
            "INSERT INTO r VALUES (7, 1), (7, 2); UPDATE c SET name = 'seven' WHERE id = 7",
        )
        .await
        .unwrap();
    let after = [
        "SELECT n FROM per_name WHERE name = 'seven'",
        "SELECT count(*) FROM per_name WHERE name = 'n7'",
        "SELECT id FROM c WHERE name = 'seven'",
    ];
    let n7 = before[1][0][0].as_deref().unwrap().parse::<i64>().unwrap();
    let want = [(n7 + 2).to_string(), "0".to_string(), "7".to_string()];
    for (q, want) in after.iter().zip(want) {
        assert_eq!(common::text_rows(&client, q).await, [[Some(want)]], "{q}");
    }
}
