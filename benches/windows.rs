//! Windowed aggregation throughput: events (key, event time, value) with event time advancing
//! 10 ms per event over 1,000 keys, written to a stream (an `APPEND ONLY` table, whose rows
//! are kept only in the log), into
//!   (0) one count of the events in a plain table (which keeps every row: what memory grows by
//!       when the events are kept),
//!   (0s) one count of the stream (the baseline for memory: the server, the log, one group),
//!   (a) a 1-minute tumbling count per key,
//!   (b) a 5-minute window sliding by 1 minute, summing per key,
//!   (c) (a) with EMIT FINAL and a 10-second grace,
//!   (d) a 1-minute tumbling max per key (an aggregate that keeps its group's values),
//!   (e) (d) with EMIT FINAL and a 10-second grace,
//!   (f) (c) keeping an hour of results (`retention`): the one whose state is bounded,
//!   (g) a count of the pairs of events of one key within 10 seconds of each other: an interval
//!       join of the stream with itself, whose state the watermark retires, and
//!   (g0) the same over a plain table, a relational join that keeps both sides,
//! through Runnel's SQL path (the real server binary, `COPY` batches of 10,000 rows, durable log
//! included) and, for (a) and (b), the same computation hand-written in differential dataflow in
//! this process (the ceiling; the tumbling count's is the tumbling views' baseline). Also
//! reported: the server's resident memory after each quarter of the events, to show how state
//! grows: flat for (0s) and (f), whose state does not depend on how many events came ((c) and
//! (e) keep one result row per key and window). (g) and (g0) have no hand-written ceiling.
//!
//! Run: `cargo bench --bench windows` (`EVENTS=N`, default 1,000,000; `WORKERS=N`, default 2;
//! `VIEWS=0s,c,e` for some of them).

mod common;

use std::time::Instant;

use common::{connect, env_or, Server};
use futures::SinkExt;

const BATCH: usize = 10_000;
const KEYS: u64 = 1_000;
/// 2026-01-01 00:00:00 UTC, in milliseconds.
const EPOCH_MS: u64 = 1_767_225_600_000;

/// The i-th event: (key, event time in ms, value).
fn event(i: usize) -> (u64, u64, u64) {
    let k = (i as u64).wrapping_mul(2_654_435_761) % KEYS;
    (k, EPOCH_MS + i as u64 * 10, (i % 97) as u64)
}

const FINAL: &str = "emit => 'final', grace => INTERVAL '10 seconds'";

const PAIRS: &str = "SELECT count(*) AS n FROM events a JOIN events b \
     ON a.k = b.k AND b.at BETWEEN a.at AND a.at + INTERVAL '10 seconds'";

/// No hand-written ceiling to compare with.
const NONE: usize = usize::MAX;

/// Each computation: its name, its query, which hand-written ceiling it is compared with
/// (0: the tumbling count, 1: the hopping sum, `NONE`), and whether the events go to a stream.
fn views() -> Vec<(&'static str, String, usize, bool)> {
    let tumble =
        |options: &str| format!("TUMBLE(events, DESCRIPTOR(at), INTERVAL '1 minute'{options})");
    let fin = format!(", {FINAL}");
    vec![
        (
            "(0) one count, events kept in a plain table",
            "SELECT count(*) AS n FROM events".into(),
            0,
            false,
        ),
        (
            "(0s) one count of the stream (memory baseline)",
            "SELECT count(*) AS n FROM events".into(),
            0,
            true,
        ),
        (
            "(a) tumbling 1 min, count per key",
            format!("SELECT k, window_start, count(*) AS n FROM {} GROUP BY k, window_start", tumble("")),
            0,
            true,
        ),
        (
            "(b) hopping 5 min / 1 min, sum per key",
            "SELECT k, window_start, sum(v) AS s FROM HOP(events, DESCRIPTOR(at), INTERVAL '1 minute', INTERVAL '5 minutes') GROUP BY k, window_start".into(),
            1,
            true,
        ),
        (
            "(c) (a) with EMIT FINAL, 10 s grace",
            format!("SELECT k, window_start, count(*) AS n FROM {} GROUP BY k, window_start", tumble(&fin)),
            0,
            true,
        ),
        (
            "(d) tumbling 1 min, max per key",
            format!("SELECT k, window_start, max(v) AS m FROM {} GROUP BY k, window_start", tumble("")),
            0,
            true,
        ),
        (
            "(f) (c) keeping 1 hour of results",
            format!("SELECT k, window_start, count(*) AS n FROM {} GROUP BY k, window_start", tumble(&format!("{fin}, retention => INTERVAL '1 hour'"))),
            0,
            true,
        ),
        (
            "(g) pairs within 10 s per key, interval join of the stream",
            PAIRS.into(),
            NONE,
            true,
        ),
        (
            "(g0) (g) over a plain table (relational join)",
            PAIRS.into(),
            NONE,
            false,
        ),
        (
            "(e) (d) with EMIT FINAL, 10 s grace",
            format!("SELECT k, window_start, max(v) AS m FROM {} GROUP BY k, window_start", tumble(&fin)),
            0,
            true,
        ),
    ]
}

fn main() {
    let events = env_or("EVENTS", 20_000, 1_000_000);
    let workers = env_or("WORKERS", 2, 2);
    println!("windows: {events} events, {KEYS} keys, {workers} workers");
    println!(
        "{:<56} {:>12} {:>11} {:>14}",
        "computation", "events/s", "vs ceiling", "server MiB"
    );
    let ceilings = [
        dd::run(events, workers, false),
        dd::run(events, workers, true),
    ];
    let mut shown = [false; 2];
    let only = std::env::var("VIEWS").ok();
    for (name, query, baseline, stream) in views() {
        // `VIEWS=c,e` runs only those (by the letter or digit in their name).
        let tag = name[1..].split(')').next().unwrap_or_default();
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|t| t == tag))
        {
            continue;
        }
        let (rate, quarters) = sql(events, &query, stream);
        let mem: Vec<String> = quarters
            .iter()
            .map(|kb| format!("{:.0}", *kb as f64 / 1024.0))
            .collect();
        let Some(&ceiling) = ceilings.get(baseline) else {
            let name = format!("{name} (SQL)");
            println!("{name:<56} {rate:>12.0} {:>11} {:>14}", "-", mem.join("/"));
            continue;
        };
        if !std::mem::replace(&mut shown[baseline], true) {
            println!(
                "{:<56} {:>12.0} {:>11} {:>14}",
                [
                    "tumbling 1 min, count per key",
                    "hopping 5 min / 1 min, sum per key"
                ][baseline]
                    .to_string()
                    + " (differential)",
                ceiling,
                "1.00x",
                "-"
            );
        }
        println!(
            "{:<56} {:>12.0} {:>10.2}x {:>14}",
            format!("{name} (SQL)"),
            rate,
            rate / ceiling,
            mem.join("/")
        );
    }
    println!("server MiB: resident memory after each quarter of the events");
}

/// The SQL path: returns events/s and the server's resident memory after each quarter.
fn sql(events: usize, query: &str, stream: bool) -> (f64, Vec<u64>) {
    let data_dir =
        std::env::temp_dir().join(format!("runnel-bench-windows-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    // The run packs hours of event time into seconds; `AS OF` history (5 minutes of server
    // time by default, constant over a long run) would span all of it and hide how the views'
    // own state grows. So none is kept.
    let (server, _) = Server::start_with(&data_dir, &["--retain-history", "0"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let client = connect(&server.conn()).await;
        client
            .batch_execute(&format!(
                "CREATE TABLE events (k bigint, at timestamp, v bigint){};
                 CREATE MATERIALIZED VIEW v AS {query}",
                if stream { " APPEND ONLY" } else { "" }
            ))
            .await
            .unwrap();
        let payloads: Vec<String> = (0..events.div_ceil(BATCH))
            .map(|b| {
                (b * BATCH..((b + 1) * BATCH).min(events))
                    .map(|i| {
                        let (k, ms, v) = event(i);
                        let at = chrono::DateTime::from_timestamp_millis(ms as i64).unwrap();
                        format!("{k}\t{}\t{v}\n", at.naive_utc())
                    })
                    .collect()
            })
            .collect();
        let quarter = payloads.len().div_ceil(4).max(1);
        let mut quarters = Vec::new();
        let start = Instant::now();
        for (b, payload) in payloads.into_iter().enumerate() {
            let sink = client.copy_in("COPY events FROM STDIN").await.unwrap();
            futures::pin_mut!(sink);
            sink.send(bytes::Bytes::from(payload)).await.unwrap();
            sink.finish().await.unwrap();
            if (b + 1) % quarter == 0 {
                // The read waits until the view has caught up with every write.
                client
                    .query_one("SELECT count(*) FROM v", &[])
                    .await
                    .unwrap();
                quarters.push(common::proc_status_kb(
                    &server.child.id().to_string(),
                    "VmRSS:",
                ));
            }
        }
        client
            .query_one("SELECT count(*) FROM v", &[])
            .await
            .unwrap();
        (events as f64 / start.elapsed().as_secs_f64(), quarters)
    });
    drop(server);
    let _ = std::fs::remove_dir_all(&data_dir);
    result
}

mod dd {
    use super::*;
    use differential_dataflow::input::Input;
    use differential_dataflow::operators::CountTotal;
    use timely::dataflow::operators::probe::Handle;
    use timely::dataflow::operators::Probe;

    /// The hand-written computation: each event becomes one (tumbling) or five (hopping)
    /// (key, window start) records, counted or summed in the difference type. Events/s.
    pub fn run(events: usize, workers: usize, hop: bool) -> f64 {
        let results = timely::execute(timely::Config::process(workers), move |worker| {
            let (index, peers) = (worker.index(), worker.peers());
            let probe = Handle::new();
            let mut input = worker.dataflow::<u64, _, _>(|scope| {
                let (input, events) = scope.new_collection::<(u64, u64, u64), isize>();
                const MIN: u64 = 60_000;
                events
                    .explode(move |(k, at, v)| {
                        let last = at - at % MIN;
                        let windows = if hop { 5 } else { 1 };
                        let weight = if hop { v as isize } else { 1 };
                        (0..windows).map(move |w| ((k, last - w * MIN), weight))
                    })
                    .count_total_core::<isize>()
                    .arrange_by_self()
                    .stream
                    .probe_with(&probe);
                input
            });
            let start = Instant::now();
            for b in 0..events.div_ceil(BATCH) {
                for i in (b * BATCH..((b + 1) * BATCH).min(events)).filter(|i| i % peers == index) {
                    input.insert(event(i));
                }
                let t = b as u64 + 1;
                input.advance_to(t);
                input.flush();
                worker.step_while(|| probe.less_than(&t));
            }
            start.elapsed().as_secs_f64()
        })
        .unwrap()
        .join();
        let secs = results.into_iter().map(|r| r.unwrap()).fold(0.0, f64::max);
        events as f64 / secs
    }
}
