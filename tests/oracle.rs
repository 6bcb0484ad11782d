//! The oracle test: random batches of INSERT, UPDATE and DELETE go to Runnel and to a real
//! PostgreSQL; after every batch, each of Runnel's materialized views (maintained incrementally)
//! must equal PostgreSQL's from-scratch evaluation of the same query.
//!
//! Needs `RUNNEL_TEST_PG` (a libpq connection string); `bin/test` starts PostgreSQL and sets it.

mod common;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_postgres::Client;

/// Views covering every stateful operator: joins of each kind, aggregates with and without
/// GROUP BY, HAVING, DISTINCT, set operations, subqueries, top-k.
const VIEWS: &[&str] = &[
    "SELECT a, b, c FROM t1 WHERE b > 3 OR c LIKE 'x%'",
    "SELECT t1.a, t1.b, t2.d FROM t1 JOIN t2 ON t1.a = t2.a",
    "SELECT t1.a, t1.c, t2.d FROM t1 LEFT JOIN t2 ON t1.a = t2.a AND t2.d > 2",
    "SELECT t1.b, t2.a, t2.d FROM t1 RIGHT JOIN t2 ON t1.a = t2.a",
    "SELECT t1.a AS a1, t1.b, t2.a AS a2, t2.d FROM t1 FULL OUTER JOIN t2 ON t1.a = t2.a AND t1.b < t2.d",
    "SELECT a, count(*) AS n, sum(b) AS s, min(c) AS lo, max(b) AS hi, count(DISTINCT b) AS nd FROM t1 GROUP BY a",
    "SELECT count(*), sum(b), max(c) FROM t1",
    // Only accumulable aggregates: maintained in the difference type, nulls and all.
    "SELECT a, count(*) AS n, count(b) AS nb, sum(b) AS s, avg(b) AS m FROM t1 GROUP BY a",
    "SELECT sum(d), avg(d), count(d) FROM t2",
    // Distinct aggregates, each kept as one copy per (group, value) beside the others.
    "SELECT a, count(DISTINCT b) AS nb, sum(DISTINCT b) AS sb, avg(DISTINCT b) AS ab, count(DISTINCT c) AS nc, count(*) AS n, max(c) AS hi FROM t1 GROUP BY a",
    "SELECT count(DISTINCT a) AS na, sum(DISTINCT d) AS sd, count(*) AS n FROM t2",
    "SELECT a, count(*) FROM t1 GROUP BY a HAVING count(*) > 1",
    "SELECT DISTINCT b, c FROM t1",
    "SELECT a FROM t1 UNION SELECT a FROM t2",
    "SELECT a FROM t1 UNION ALL SELECT d FROM t2",
    "SELECT a FROM t1 EXCEPT SELECT a FROM t2",
    "SELECT a FROM t1 EXCEPT ALL SELECT a FROM t2",
    "SELECT a FROM t1 INTERSECT ALL SELECT a FROM t2",
    "SELECT a, b FROM t1 WHERE a IN (SELECT a FROM t2 WHERE d > 1)",
    "SELECT a, b FROM t1 WHERE b NOT IN (SELECT d FROM t2)",
    "SELECT a, b FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.a = t1.a AND t2.d <> t1.b)",
    "SELECT a, (SELECT max(d) FROM t2 WHERE t2.a = t1.a) FROM t1",
    "SELECT a, (SELECT count(*) FROM t2 WHERE t2.d < t1.b) FROM t1",
    "SELECT a, b, c FROM t1 ORDER BY b DESC NULLS LAST, a, c LIMIT 3",
    "SELECT x.a, x.n FROM (SELECT a, count(*) AS n FROM t2 GROUP BY a) x WHERE x.n >= 1",
    "WITH s AS (SELECT a, sum(d) AS total FROM t2 GROUP BY a) SELECT t1.c, s.total FROM t1 JOIN s ON t1.a = s.a",
    // Ranking window functions: a top-2 per group, and ranks with ties.
    "SELECT a, b, c, rn FROM (SELECT a, b, c, row_number() OVER (PARTITION BY a ORDER BY b DESC NULLS LAST, c) AS rn FROM t1) x WHERE rn <= 2",
    "SELECT a, b, rank() OVER (PARTITION BY a ORDER BY b) AS r, dense_rank() OVER (ORDER BY b NULLS FIRST) AS d FROM t1",
];

async fn rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    common::text_rows(client, sql).await
}

fn value(rng: &mut StdRng) -> String {
    if rng.random_bool(0.1) {
        "NULL".into()
    } else {
        rng.random_range(0..6).to_string()
    }
}

fn text(rng: &mut StdRng) -> String {
    if rng.random_bool(0.1) {
        "NULL".into()
    } else {
        format!(
            "'{}{}'",
            ["x", "y", "z"][rng.random_range(0..3)],
            rng.random_range(0..3)
        )
    }
}

fn random_statement(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0..=3 => format!(
            "INSERT INTO t1 VALUES ({}, {}, {})",
            value(rng),
            value(rng),
            text(rng)
        ),
        4..=5 => format!("INSERT INTO t2 VALUES ({}, {})", value(rng), value(rng)),
        6 => format!("UPDATE t1 SET b = {} WHERE a = {}", value(rng), value(rng)),
        7 => format!("UPDATE t2 SET d = d + 1 WHERE a = {}", value(rng)),
        8 => format!("DELETE FROM t1 WHERE b = {}", value(rng)),
        _ => format!("DELETE FROM t2 WHERE d > {}", rng.random_range(2..7)),
    }
}

/// Runs the oracle loop: `schema` in both, each view created in Runnel from its Runnel text,
/// then random batches from `statement`, after each of which every view must equal PostgreSQL's
/// evaluation of its PostgreSQL text, and each of the one-off `reads` its answer in PostgreSQL.
async fn check_views(
    db: &str,
    schema: &str,
    views: &[(String, String)],
    reads: &[&str],
    statement: fn(&mut StdRng) -> String,
) {
    let Ok(pg_conn) = std::env::var("RUNNEL_TEST_PG") else {
        panic!("RUNNEL_TEST_PG is not set: run the suite with bin/test, which starts PostgreSQL as the oracle");
    };
    let (pg, conn) = tokio_postgres::connect(&pg_conn, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(conn);
    let server = common::TestServer::start(2);
    let rn = server.connect(db).await;

    pg.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {db} CASCADE; CREATE SCHEMA {db}; SET search_path = {db}; {schema}"
    ))
    .await
    .unwrap();
    rn.batch_execute(schema).await.unwrap();
    for (i, (v, _)) in views.iter().enumerate() {
        rn.batch_execute(&format!("CREATE MATERIALIZED VIEW v{i} AS {v}"))
            .await
            .unwrap_or_else(|e| panic!("v{i}: {v}: {e:?}"));
    }

    let seed: u64 = std::env::var("RUNNEL_ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261122);
    let mut rng = StdRng::seed_from_u64(seed);
    for batch in 0..25 {
        let mut applied = Vec::new();
        for _ in 0..rng.random_range(1..8) {
            let stmt = statement(&mut rng);
            pg.batch_execute(&stmt)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL rejected {stmt}: {e}"));
            rn.batch_execute(&stmt)
                .await
                .unwrap_or_else(|e| panic!("Runnel rejected {stmt}: {e}"));
            applied.push(stmt);
        }
        for (i, (v, pg_v)) in views.iter().enumerate() {
            let expected = rows(&pg, pg_v).await;
            let actual = rows(&rn, &format!("SELECT * FROM v{i}")).await;
            assert_eq!(
                actual,
                expected,
                "view v{i} ({v}) after batch {batch} (seed {seed}):\n{}",
                applied.join(";\n")
            );
            // A count of the view's rows is read as a count, not from the rows.
            let counted = rows(&rn, &format!("SELECT count(*) FROM v{i}")).await;
            assert_eq!(
                counted,
                vec![vec![Some(expected.len().to_string())]],
                "count(*) of view v{i} ({v}) after batch {batch} (seed {seed})"
            );
        }
        for read in reads {
            assert_eq!(
                rows(&rn, read).await,
                rows(&pg, read).await,
                "{read} after batch {batch} (seed {seed}):\n{}",
                applied.join(";\n")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn materialized_views_match_postgres_after_every_batch() {
    let views: Vec<(String, String)> = VIEWS
        .iter()
        .map(|v| (v.to_string(), v.to_string()))
        .collect();
    check_views(
        "oracle",
        "CREATE TABLE t1 (a int, b int, c text); CREATE TABLE t2 (a int, d int);",
        &views,
        &[
            "SELECT count(*) FROM t1",
            "SELECT count(*) + 1 AS n, count(1), count(NULL::int) FROM t2",
        ],
        random_statement,
    )
    .await;
}

/// Indexes (`CREATE INDEX ... ON t (a)`). Each join input that reads an indexed table whole
/// reads the index instead of arranging the table again, and a one-off read that pins an
/// index's key looks that key up instead of running a dataflow; neither may change an answer
/// (NULL keys included: `=` never matches them, `IS NOT DISTINCT FROM` does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_over_indexes_match_postgres_after_every_batch() {
    let schema = "CREATE TABLE t1 (a int, b int, c text); CREATE TABLE t2 (a int, d int); \
                  CREATE INDEX t1_by_a ON t1 (a); CREATE INDEX t2_by_a ON t2 (a); \
                  CREATE INDEX t1_by_a_c ON t1 (a, c);";
    let joins = [
        "SELECT t1.a, t1.b, t2.d FROM t1 JOIN t2 ON t1.a = t2.a",
        "SELECT t1.a, t1.c, t2.d FROM t1 LEFT JOIN t2 ON t1.a = t2.a AND t2.d > 2",
        "SELECT t1.b, t2.a, t2.d FROM t1 RIGHT JOIN t2 ON t1.a = t2.a",
        "SELECT t1.a AS a1, t1.b, t2.a AS a2, t2.d FROM t1 FULL OUTER JOIN t2 ON t1.a = t2.a",
        "SELECT t1.b, t2.d FROM t1 JOIN t2 ON t1.a IS NOT DISTINCT FROM t2.a",
        "SELECT x.b, y.b AS b2 FROM t1 x JOIN t1 y ON x.a = y.a",
        "SELECT a, b FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.a = t1.a AND t2.d <> t1.b)",
    ];
    let lookups = [
        "SELECT * FROM t1 WHERE a = 3",
        "SELECT b, c FROM t1 WHERE 2 = a AND b > 1",
        "SELECT count(*), sum(b), max(c) FROM t1 WHERE a = 0",
        "SELECT b FROM t1 WHERE a = 1 AND c = 'x1'",
        "SELECT d, count(*) FROM t2 WHERE a = 4 GROUP BY d",
        "SELECT * FROM t2 WHERE a = 6",
        "SELECT * FROM t1 WHERE a IN (1, 3, NULL)",
        "SELECT a, b FROM t1 WHERE (a = 2 OR a = 5) AND c IN ('x1', 'y2', 'x1')",
    ];
    // The planner says which indexes a read uses (and the workers match the same way).
    let server = common::TestServer::start(1);
    let rn = server.connect("explain").await;
    rn.batch_execute(schema).await.unwrap();
    let explain = |q: &str| {
        let rn = &rn;
        let q = format!("EXPLAIN {q}");
        async move {
            let plan: String = rn.query_one(&q, &[]).await.unwrap().get(0);
            plan
        }
    };
    let plan = explain(joins[0]).await;
    assert!(
        plan.contains("Used indexes:\n  t1_by_a (join input)\n  t2_by_a (join input)\n"),
        "{plan}"
    );
    let plan = explain(lookups[3]).await;
    assert!(
        plan.contains("Used indexes:\n  t1_by_a_c (lookup)\n"),
        "{plan}"
    );
    let plan = explain(lookups[7]).await;
    assert!(
        plan.contains("Used indexes:\n  t1_by_a_c (lookup)\n"),
        "{plan}"
    );
    let plan = explain(lookups[2]).await;
    assert!(
        plan.contains("Used indexes:\n  t1_by_a (lookup)\n"),
        "{plan}"
    );
    let views: Vec<(String, String)> = joins
        .iter()
        .map(|v| (v.to_string(), v.to_string()))
        .collect();
    check_views("oracle_indexes", schema, &views, &lookups, random_statement).await;
}

/// Windowed views, each beside the same computation in plain PostgreSQL (`date_bin` for the
/// window a time falls in, `generate_series` for the windows of a hop).
const WINDOW_VIEWS: &[(&str, &str)] = &[
    (
        "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s \
         FROM TUMBLE(ev, DESCRIPTOR(ts), INTERVAL '1 minute') GROUP BY k, window_start, window_end",
        "SELECT k, date_bin('1 minute', ts, 'epoch') AS ws, date_bin('1 minute', ts, 'epoch') + \
         interval '1 minute', count(*), sum(v) FROM ev WHERE ts IS NOT NULL GROUP BY k, ws",
    ),
    (
        "SELECT k, window_start, sum(v) AS s FROM hop(ev, ts, INTERVAL '1 minute', INTERVAL '5 minutes') \
         GROUP BY k, window_start",
        "SELECT k, ws, sum(v) FROM ev, LATERAL generate_series(date_bin('1 minute', ts, 'epoch') \
         - interval '4 minutes', date_bin('1 minute', ts, 'epoch'), interval '1 minute') AS ws \
         GROUP BY k, ws",
    ),
    // The fraud alert: more than 3 events per key in a 5-second window.
    (
        "SELECT k, window_start, count(*) AS n FROM TUMBLE(ev, DESCRIPTOR(ts), INTERVAL '5 seconds') \
         GROUP BY k, window_start HAVING count(*) > 3",
        "SELECT k, date_bin('5 seconds', ts, 'epoch') AS ws, count(*) FROM ev WHERE ts IS NOT NULL \
         GROUP BY k, ws HAVING count(*) > 3",
    ),
    // Session windows per key, 30 s gap: in PostgreSQL, a row starts a session when the gap
    // to the previous row of its key is 30 s or more.
    (
        "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s \
         FROM SESSION(ev, DESCRIPTOR(ts), INTERVAL '30 seconds', DESCRIPTOR(k)) \
         GROUP BY k, window_start, window_end",
        "WITH o AS (SELECT k, ts, v, CASE WHEN ts - lag(ts) OVER (PARTITION BY k ORDER BY ts) \
         < interval '30 seconds' THEN 0 ELSE 1 END AS new FROM ev WHERE ts IS NOT NULL), \
         s AS (SELECT k, ts, v, sum(new) OVER (PARTITION BY k ORDER BY ts ROWS UNBOUNDED \
         PRECEDING) AS sid FROM o) \
         SELECT k, min(ts), max(ts) + interval '30 seconds', count(*), sum(v) FROM s GROUP BY k, sid",
    ),
    (
        "SELECT date_bin(INTERVAL '90 seconds', ts, TIMESTAMP '2001-01-01 00:00:07') AS b, max(v) FROM ev GROUP BY b",
        "SELECT date_bin(INTERVAL '90 seconds', ts, TIMESTAMP '2001-01-01 00:00:07') AS b, max(v) FROM ev GROUP BY b",
    ),
];

/// An event time within ten minutes, on whole seconds, so events share windows.
fn event_time(rng: &mut StdRng) -> String {
    if rng.random_bool(0.05) {
        return "NULL".into();
    }
    let s = rng.random_range(0..600);
    format!("TIMESTAMP '2026-11-22 10:00:00' + INTERVAL '{s} seconds'")
}

fn random_event(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0..=5 => {
            let rows: Vec<String> = (0..rng.random_range(1..6))
                .map(|_| {
                    format!(
                        "({}, {}, {})",
                        rng.random_range(0..3),
                        event_time(rng),
                        value(rng)
                    )
                })
                .collect();
            format!("INSERT INTO ev VALUES {}", rows.join(", "))
        }
        6 => format!(
            "UPDATE ev SET ts = {} WHERE v = {}",
            event_time(rng),
            value(rng)
        ),
        7 => format!(
            "UPDATE ev SET v = v + 1 WHERE k = {}",
            rng.random_range(0..3)
        ),
        _ => format!("DELETE FROM ev WHERE v = {}", value(rng)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_views_match_postgres_after_every_batch() {
    let views: Vec<(String, String)> = WINDOW_VIEWS
        .iter()
        .map(|(r, p)| (r.to_string(), p.to_string()))
        .collect();
    check_views(
        "oracle_windows",
        "CREATE TABLE ev (k int, ts timestamp, v int);",
        &views,
        &[],
        random_event,
    )
    .await;
}
