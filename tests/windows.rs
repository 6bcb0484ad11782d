//! EMIT FINAL: windows close when the watermark passes their end, each is emitted once, late
//! rows are dropped and counted (or update their window, on request), and an idle input's
//! windows close with the clock.
//!
//! The oracle is a model of the rule, applied statement by statement (each statement is one
//! time): the view must equal the model's closed windows after every statement, and a
//! subscription to it must never retract a window it has emitted.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SIZE_MS: i64 = 5_000;
const GRACE_MS: i64 = 2_000;
/// The second view's ksqlDB RETENTION, counted from a window's start.
const RETENTION_MS: i64 = 10_000;

/// The rule, over one table of (k, event time in ms): what the view must hold.
#[derive(Default)]
struct Model {
    watermark: Option<i64>,
    /// Rows of open windows: (k, event time) with multiplicity.
    pending: BTreeMap<(i64, i64), i64>,
    /// Closed windows: (k, window start) -> count.
    closed: BTreeMap<(i64, i64), i64>,
    /// Closed windows' event times: (k, window start) -> event time -> multiplicity.
    closed_times: BTreeMap<(i64, i64), BTreeMap<i64, i64>>,
    late: u64,
}

impl Model {
    fn window(ev: i64) -> i64 {
        ev.div_euclid(SIZE_MS) * SIZE_MS
    }

    /// One statement's updates, at one time.
    fn apply(&mut self, updates: &[(i64, i64, i64)]) {
        let mut max_inserted = None;
        for &(k, ev, d) in updates {
            if self
                .watermark
                .is_some_and(|w| Self::window(ev) + SIZE_MS <= w)
            {
                self.late += d.unsigned_abs();
                continue;
            }
            *self.pending.entry((k, ev)).or_insert(0) += d;
            if d > 0 {
                max_inserted = max_inserted.max(Some(ev));
            }
        }
        if let Some(ev) = max_inserted {
            let w = ev - GRACE_MS;
            self.watermark = Some(self.watermark.map_or(w, |o| o.max(w)));
        }
        let w = self.watermark.unwrap_or(i64::MIN);
        let closing: Vec<_> = self
            .pending
            .keys()
            .filter(|(_, ev)| Self::window(*ev) + SIZE_MS <= w)
            .copied()
            .collect();
        for key in closing {
            let n = self.pending.remove(&key).unwrap_or(0);
            let window = (key.0, Self::window(key.1));
            *self.closed.entry(window).or_insert(0) += n;
            let times = self.closed_times.entry(window).or_default();
            *times.entry(key.1).or_insert(0) += n;
            times.retain(|_, n| *n != 0);
        }
        self.closed.retain(|_, n| *n != 0);
        self.closed_times.retain(|_, times| !times.is_empty());
    }

    /// What `spans` holds: per closed window with more than one row, (count, first and last
    /// event time, distinct event times).
    fn spans(&self) -> BTreeMap<(i64, i64), (i64, i64, i64, i64)> {
        self.closed_times
            .iter()
            .map(|(w, times)| {
                let n = times.values().sum::<i64>();
                let first = *times.keys().next().unwrap();
                let last = *times.keys().next_back().unwrap();
                (*w, (n, first, last, times.len() as i64))
            })
            .filter(|(_, (n, ..))| *n > 1)
            .collect()
    }

    /// The closed windows a view with `RETENTION_MS` still holds: those whose start plus the
    /// retention event time (the watermark plus the grace) has not reached.
    fn retained(&self) -> BTreeMap<(i64, i64), i64> {
        let now = self.watermark.map_or(i64::MIN, |w| w + GRACE_MS);
        let mut kept = self.closed.clone();
        kept.retain(|(_, start), _| start + RETENTION_MS > now);
        kept
    }
}

fn ts(ms: i64) -> String {
    format!("to_timestamp({ms}::double precision / 1000)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_final_matches_the_rule_after_every_statement() {
    let server = common::TestServer::start(2);
    let client = server.connect("final").await;
    client
        .batch_execute(&format!(
            "CREATE TABLE ev (k bigint, at timestamptz) WITH (TIMESTAMP = 'at');
             CREATE TABLE counts AS SELECT k, COUNT(*) AS n FROM ev
               WINDOW TUMBLING (SIZE {} SECONDS, GRACE PERIOD {} SECONDS)
               GROUP BY k EMIT FINAL;
             CREATE TABLE counts_kept AS SELECT k, COUNT(*) AS n FROM ev
               WINDOW TUMBLING (SIZE {} SECONDS, GRACE PERIOD {} SECONDS, RETENTION {} SECONDS)
               GROUP BY k EMIT FINAL;
             CREATE MATERIALIZED VIEW spans AS
               SELECT k, window_start, count(*) AS n, min(at) AS first, max(at) AS last,
                      count(DISTINCT at) AS d
               FROM TUMBLE(ev, DESCRIPTOR(at), INTERVAL '{} seconds', emit => 'final',
                           grace => INTERVAL '{} seconds')
               GROUP BY k, window_start HAVING count(*) > 1;",
            SIZE_MS / 1000,
            GRACE_MS / 1000,
            SIZE_MS / 1000,
            GRACE_MS / 1000,
            RETENTION_MS / 1000,
            SIZE_MS / 1000,
            GRACE_MS / 1000
        ))
        .await
        .unwrap();
    let sub_client = server.connect("final").await;
    let stream = sub_client
        .copy_out("COPY (SUBSCRIBE counts) TO STDOUT")
        .await
        .unwrap();

    let seed: u64 = std::env::var("RUNNEL_ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261122);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model::default();
    let mut live: Vec<(i64, i64)> = Vec::new();
    let base = 1_767_261_600_000; // 2026-01-01 10:00:00 UTC
    let mut clock = base;
    for step in 0..60 {
        // Event time mostly moves forward; some rows are a few seconds behind (late once the
        // watermark has passed their window), and some rows are deleted.
        // Half-second steps, so rows often fall exactly on window bounds and the watermark.
        clock += rng.random_range(0..3) * 500;
        let updates: Vec<(i64, i64, i64)> = if rng.random_bool(0.15) && !live.is_empty() {
            let (k, ev) = live.swap_remove(rng.random_range(0..live.len()));
            client
                .batch_execute(&format!("DELETE FROM ev WHERE k = {k} AND at = {}", ts(ev)))
                .await
                .unwrap();
            // A DELETE removes every copy of equal rows.
            let copies = live.iter().filter(|r| **r == (k, ev)).count() as i64 + 1;
            live.retain(|r| *r != (k, ev));
            vec![(k, ev, -copies)]
        } else {
            let rows: Vec<(i64, i64)> = (0..rng.random_range(1..4))
                .map(|_| {
                    (
                        rng.random_range(0..3),
                        clock - rng.random_range(0..12) * 500,
                    )
                })
                .collect();
            let values: Vec<String> = rows
                .iter()
                .map(|(k, ev)| format!("({k}, {})", ts(*ev)))
                .collect();
            client
                .batch_execute(&format!("INSERT INTO ev VALUES {}", values.join(", ")))
                .await
                .unwrap();
            live.extend(&rows);
            rows.iter().map(|(k, ev)| (*k, *ev, 1)).collect()
        };
        model.apply(&updates);
        let read = |view: &'static str| {
            let client = &client;
            async move {
                let sql = format!(
                    "SELECT k, (extract(epoch FROM windowstart) * 1000)::bigint, n FROM {view}"
                );
                let rows = client.query(&sql, &[]).await.unwrap();
                rows.iter()
                    .map(|r| ((r.get(0), r.get(1)), r.get(2)))
                    .collect::<BTreeMap<(i64, i64), i64>>()
            }
        };
        assert_eq!(
            read("counts").await,
            model.closed,
            "after statement {step} (seed {seed}): {updates:?}"
        );
        assert_eq!(
            read("counts_kept").await,
            model.retained(),
            "retained windows after statement {step} (seed {seed}): {updates:?}"
        );
        // Several aggregates, reduced in the gate when their window closes.
        let ms = |c: &str| format!("(extract(epoch FROM {c}) * 1000)::bigint");
        let spans: BTreeMap<(i64, i64), (i64, i64, i64, i64)> = client
            .query(
                &format!(
                    "SELECT k, {}, n, {}, {}, d FROM spans",
                    ms("window_start"),
                    ms("first"),
                    ms("last")
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    (r.get(0), r.get(1)),
                    (r.get(2), r.get(3), r.get(4), r.get(5)),
                )
            })
            .collect();
        assert_eq!(
            spans,
            model.spans(),
            "spans after statement {step} (seed {seed})"
        );
        let gates = client.query("SHOW LATE ROWS", &[]).await.unwrap();
        let kept_late: i64 = gates[1].get(1);
        assert_eq!(kept_late as u64, model.late, "late rows of counts_kept");
        let gate = &gates[0];
        let (late, open, held): (i64, i64, i64) = (gate.get(1), gate.get(2), gate.get(3));
        assert_eq!(late as u64, model.late, "late rows after statement {step}");
        // Closed windows leave nothing in the gate; an open one holds, per group, its
        // consolidated count(*) arguments (one value), plus what came since (at most 16 more).
        let open_groups: BTreeSet<(i64, i64)> = model
            .pending
            .keys()
            .map(|(k, ev)| (*k, Model::window(*ev)))
            .collect();
        let open_windows: BTreeSet<i64> = open_groups.iter().map(|(_, w)| *w).collect();
        assert_eq!(
            open as usize,
            open_windows.len(),
            "open windows after statement {step}: {:?} {:?}",
            model.pending,
            model.watermark
        );
        assert!(
            held as usize <= open_groups.len() * 17,
            "{held} values held for {} open groups after statement {step}",
            open_groups.len()
        );
    }
    assert!(model.late > 0, "the history should include late rows");
    assert!(
        !model.spans().is_empty(),
        "the history should close windows of several rows"
    );
    assert!(
        model.retained().len() < model.closed.len(),
        "the history should retire windows"
    );

    // Each window was emitted once: the subscription never retracts.
    let mut stream = Box::pin(stream);
    let mut text = String::new();
    while let Ok(Some(chunk)) =
        tokio::time::timeout(Duration::from_millis(500), stream.next()).await
    {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    let mut emitted = BTreeSet::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols[1], "1", "a final window was retracted:\n{text}");
        assert!(
            emitted.insert((cols[2].to_string(), cols[4].to_string())),
            "a window was emitted twice:\n{text}"
        );
    }
    assert_eq!(emitted.len(), model.closed.len(), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_rows_can_update_and_idle_inputs_close() {
    let server = common::TestServer::start(2);
    let client = server.connect("final_policies").await;
    client
        .batch_execute(
            "CREATE TABLE ev (k int, at timestamp);
             CREATE MATERIALIZED VIEW updating AS
               SELECT k, window_start, count(*) AS n
               FROM TUMBLE(ev, DESCRIPTOR(at), INTERVAL '10 seconds', emit => 'final', late => 'update')
               GROUP BY k, window_start;
             CREATE MATERIALIZED VIEW idle AS
               SELECT k, window_start, count(*) AS n
               FROM TUMBLE(ev, DESCRIPTOR(at), INTERVAL '10 seconds', emit => 'final', idle => INTERVAL '1 second')
               GROUP BY k, window_start;
             INSERT INTO ev VALUES (1, '2026-01-01 10:00:01'), (1, '2026-01-01 10:00:02');",
        )
        .await
        .unwrap();
    let count = |view: &'static str| {
        let client = &client;
        async move {
            client
                .query(&format!("SELECT n FROM {view} WHERE k = 1"), &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, i64>(0))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        count("updating").await,
        Vec::<i64>::new(),
        "the window is open"
    );
    // A later row closes the first window for both views.
    client
        .batch_execute("INSERT INTO ev VALUES (2, '2026-01-01 10:00:15')")
        .await
        .unwrap();
    assert_eq!(count("updating").await, vec![2]);
    assert_eq!(count("idle").await, vec![2]);
    // A late row: updates one view's window, is dropped by the other.
    client
        .batch_execute("INSERT INTO ev VALUES (1, '2026-01-01 10:00:03')")
        .await
        .unwrap();
    assert_eq!(count("updating").await, vec![3]);
    assert_eq!(count("idle").await, vec![2]);
    // No more rows: after a second of quiet the idle view's watermark follows the clock and
    // closes the window of k = 2 (10:00:10 - 10:00:20); the other view's stays open.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n = client
            .query("SELECT n FROM idle WHERE k = 2", &[])
            .await
            .unwrap()
            .len();
        if n == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle input's window did not close"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open = client
        .query("SELECT n FROM updating WHERE k = 2", &[])
        .await
        .unwrap();
    assert!(open.is_empty(), "without idle, the window stays open");
}

/// A restart replays the log at its own times, so an EMIT FINAL view decides lateness and
/// closes windows exactly as before (within the retained history).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_final_is_the_same_after_a_restart() {
    let data_dir = common::temp_data_dir();
    let server = common::Process::start(&data_dir, &[]).await;
    let client = server.connect("final_restart").await;
    client
        .batch_execute(
            "CREATE TABLE ev (k int, at timestamp);
             CREATE MATERIALIZED VIEW counts AS
               SELECT k, window_start, count(*) AS n
               FROM TUMBLE(ev, DESCRIPTOR(at), INTERVAL '10 seconds', emit => 'final', grace => INTERVAL '2 seconds')
               GROUP BY k, window_start;",
        )
        .await
        .unwrap();
    // One statement per time: in order, then a late row, then one that closes its window.
    for at in [
        "10:00:01", "10:00:05", "10:00:13", "10:00:02", "10:00:30", "10:00:12", "10:00:31",
    ] {
        client
            .batch_execute(&format!("INSERT INTO ev VALUES (1, '2026-01-01 {at}')"))
            .await
            .unwrap();
    }
    let read = |client: tokio_postgres::Client| async move {
        let rows: Vec<(String, i64)> = client
            .query("SELECT window_start::text, n FROM counts ORDER BY 1", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let late: i64 = client
            .query_one("SHOW LATE ROWS", &[])
            .await
            .unwrap()
            .get(1);
        (rows, late)
    };
    let before = read(client).await;
    assert_eq!(
        before,
        (
            vec![
                ("2026-01-01 10:00:00".to_string(), 2),
                ("2026-01-01 10:00:10".to_string(), 1)
            ],
            2
        ),
        "10:00:02 arrives after 10:00:13 closed its window, 10:00:12 after 10:00:30"
    );
    server.kill();
    let server = common::Process::start(&data_dir, &[]).await;
    let after = read(server.connect("final_restart").await).await;
    assert_eq!(after, before);
}
