//! Interval joins of streams retire their state behind the watermark. Through the real binary,
//! random INSERTs append clicks and purchases whose event times wander back and forth; the
//! model takes them in the order they were sent: a row more than the grace period behind the
//! largest event time seen before it is late and dropped, every other row is kept for ever, and
//! the expected join is the plain relational interval join of the kept rows. So if the view
//! (SQL's `BETWEEN` form and ksqlDB's `WITHIN ... GRACE PERIOD`) equals the model after every
//! batch while `SHOW LATE ROWS` reports exactly the rows the model still needs (not all of
//! them), retiring rows lost no pair. Then kill -9 and restart: rebuilt from the log, the same.

mod common;

use common::{text_rows, Process};
use rand::{Rng, SeedableRng};

type Rows = Vec<Vec<Option<String>>>;

const GRACE_MS: i64 = 2_000;
/// purchase time within [click - BEFORE, click + AFTER]
const BEFORE_MS: i64 = 1_000;
const AFTER_MS: i64 = 5_000;

#[derive(Default)]
struct Model {
    clicks: Vec<(i64, i64)>,
    buys: Vec<(i64, i64)>,
    max_event: Option<i64>,
    late: u64,
}

fn ts(ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(1_767_225_600_000 + ms).unwrap();
    t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string()
}

impl Model {
    fn watermark(&self) -> i64 {
        self.max_event.map_or(i64::MIN, |m| m - GRACE_MS)
    }

    /// One INSERT's rows, at one time: those behind the watermark are late.
    fn append(&mut self, clicks: bool, rows: &[(i64, i64)]) {
        let watermark = self.watermark();
        for &(k, at) in rows {
            if at < watermark {
                self.late += 1;
            } else if clicks {
                self.clicks.push((k, at));
            } else {
                self.buys.push((k, at));
            }
        }
        let newest = rows.iter().map(|(_, at)| *at).max();
        self.max_event = self.max_event.max(newest);
    }

    fn pairs(&self) -> Rows {
        let mut out = vec![];
        for &(k, c) in &self.clicks {
            for &(kb, b) in &self.buys {
                if k == kb && b >= c - BEFORE_MS && b <= c + AFTER_MS {
                    out.push(vec![Some(k.to_string()), Some(ts(c)), Some(ts(b))]);
                }
            }
        }
        out.sort();
        out
    }

    /// `clicks a JOIN clicks b ON a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + 3 s` (a self
    /// join: both sides' rows arrive at the same times), and the rows it must hold.
    fn self_pairs(&self) -> (Rows, u64) {
        let mut out = vec![];
        for &(k, a) in &self.clicks {
            for &(kb, b) in &self.clicks {
                if k == kb && b >= a && b <= a + 3_000 {
                    out.push(vec![Some(k.to_string()), Some(ts(a)), Some(ts(b))]);
                }
            }
        }
        out.sort();
        let w = self.watermark();
        let left = self.clicks.iter().filter(|(_, a)| a + 3_000 >= w).count();
        let right = self.clicks.iter().filter(|(_, b)| *b >= w).count();
        (out, (left + right) as u64)
    }

    /// The rows a later row can still meet: what the join must hold.
    fn needed(&self) -> u64 {
        let w = self.watermark();
        let clicks = self.clicks.iter().filter(|(_, c)| c + AFTER_MS >= w);
        let buys = self.buys.iter().filter(|(_, b)| b + BEFORE_MS >= w);
        (clicks.count() + buys.count()) as u64
    }
}

/// The model of both streams' join, and of the clicks' self join (whose watermark follows the
/// clicks alone).
struct Models {
    both: Model,
    clicks: Model,
}

async fn write_batch(
    client: &tokio_postgres::Client,
    models: &mut Models,
    rng: &mut impl Rng,
    n: i64,
) {
    for _ in 0..rng.random_range(1..4) {
        let clicks = rng.random_bool(0.5);
        let rows: Vec<(i64, i64)> = (0..rng.random_range(1..5))
            // Whole seconds, up to 4 s back: some rows are more than the grace behind.
            .map(|_| {
                (
                    rng.random_range(0..4),
                    (n + rng.random_range(-4..=1)) * 1_000,
                )
            })
            .collect();
        let values: Vec<String> = rows
            .iter()
            .map(|(k, at)| format!("({k}, '{}')", ts(*at)))
            .collect();
        let table = if clicks { "clicks" } else { "buys" };
        client
            .batch_execute(&format!("INSERT INTO {table} VALUES {}", values.join(", ")))
            .await
            .unwrap();
        models.both.append(clicks, &rows);
        if clicks {
            models.clicks.append(true, &rows);
        }
    }
}

async fn check(client: &tokio_postgres::Client, models: &Models, when: &str) {
    let model = &models.both;
    for view in ["pairs", "pairs_ksql"] {
        let got = text_rows(client, &format!("SELECT * FROM {view}")).await;
        assert_eq!(got, model.pairs(), "{view} {when}");
    }
    let (self_pairs, self_needed) = models.clicks.self_pairs();
    let got = text_rows(client, "SELECT * FROM click_pairs").await;
    assert_eq!(got, self_pairs, "click_pairs {when}");
    let late = text_rows(client, "SHOW LATE ROWS").await;
    let want = |name: &str| {
        vec![
            Some(name.to_string()),
            Some(model.late.to_string()),
            Some("0".to_string()),
            Some(model.needed().to_string()),
        ]
    };
    let click_pairs = vec![
        Some("click_pairs".to_string()),
        // Dropped from each side: a self join counts a late row twice.
        Some((2 * models.clicks.late).to_string()),
        Some("0".to_string()),
        Some(self_needed.to_string()),
    ];
    assert_eq!(
        late,
        vec![click_pairs, want("pairs"), want("pairs_ksql")],
        "{when}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_joins_of_streams_forget_rows_the_watermark_passed() {
    let data_dir = common::temp_data_dir();
    let server = Process::start(&data_dir, &[]).await;
    let client = server.connect("ij").await;
    client
        .batch_execute(
            "CREATE TABLE clicks (k bigint, ts timestamp,
                                  WATERMARK FOR ts AS ts - INTERVAL '2 seconds') APPEND ONLY;
             CREATE TABLE buys (k bigint, ts timestamp,
                                WATERMARK FOR ts AS ts - INTERVAL '2 seconds') APPEND ONLY;
             CREATE MATERIALIZED VIEW pairs AS
               SELECT c.k, c.ts AS clicked, b.ts AS bought FROM clicks c JOIN buys b
               ON c.k = b.k AND b.ts BETWEEN c.ts - INTERVAL '1 second' AND c.ts + INTERVAL '5 seconds';
             CREATE STREAM pairs_ksql AS
               SELECT c.k, c.ts AS clicked, b.ts AS bought FROM clicks c JOIN buys b
               WITHIN (1 SECOND, 5 SECONDS) GRACE PERIOD 2 SECONDS ON c.k = b.k EMIT CHANGES;
             CREATE MATERIALIZED VIEW click_pairs AS
               SELECT a.k, a.ts AS first, b.ts AS second FROM clicks a JOIN clicks b
               ON a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '3 seconds';",
        )
        .await
        .unwrap();
    let explain = text_rows(&client, "EXPLAIN SELECT * FROM clicks c JOIN buys b ON c.k = b.k AND b.ts BETWEEN c.ts AND c.ts + INTERVAL '1 second'").await;
    assert!(
        format!("{explain:?}").contains("IntervalJoin"),
        "{explain:?}"
    );
    let mut models = Models {
        both: Model::default(),
        clicks: Model::default(),
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for n in 0..40 {
        write_batch(&client, &mut models, &mut rng, n).await;
        check(&client, &models, &format!("after batch {n}")).await;
    }
    let model = &models.both;
    assert!(model.late > 0, "some rows should have been late");
    let kept = (model.clicks.len() + model.buys.len()) as u64;
    assert!(
        model.needed() * 3 < kept,
        "the state should be a fraction of the rows: {} of {kept}",
        model.needed()
    );
    server.kill();

    let server = Process::start(&data_dir, &[]).await;
    let client = server.connect("ij").await;
    check(&client, &models, "after a restart").await;
    for n in 40..45 {
        write_batch(&client, &mut models, &mut rng, n).await;
        check(&client, &models, &format!("after a restart and batch {n}")).await;
    }
    server.kill();
    std::fs::remove_dir_all(&data_dir).ok();
}
