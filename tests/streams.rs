//! Streams (`APPEND ONLY` tables) keep their rows in the log and nowhere else, through the real
//! binary with small log segments so that compaction runs. Random batches (INSERT and COPY) go
//! into a stream; after each, materialized views created before the data, one created midway
//! (which starts from the log), a SELECT of the stream itself and an INSERT ... SELECT from it
//! must equal a from-scratch evaluation of the rows the test sent, and a subscription opened
//! before the writes must add up to them. Then the server is killed and restarted on the
//! compacted log (views rebuilt from it), and batch replay evaluates the stream from the log:
//! the same answers again.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{text_rows, Process};
use futures::SinkExt;
use rand::{Rng, SeedableRng};

const ARGS: [&str; 4] = ["--log-segment-bytes", "1024", "--retain-history", "0"];

/// The rows sent to the stream, and the dimension table's current names: the reference.
#[derive(Default)]
struct Model {
    events: Vec<(i64, i64)>,
    names: BTreeMap<i64, String>,
}

type Rows = Vec<Vec<Option<String>>>;

fn sorted(mut rows: Rows) -> Rows {
    rows.sort();
    rows
}

fn text(values: &[String]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.clone())).collect()
}

impl Model {
    fn events(&self) -> Rows {
        sorted(
            self.events
                .iter()
                .map(|(k, v)| text(&[k.to_string(), v.to_string()]))
                .collect(),
        )
    }

    /// `SELECT k, count(*), sum(v) FROM ev GROUP BY k`.
    fn per_key(&self) -> Rows {
        let mut groups: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for (k, v) in &self.events {
            let g = groups.entry(*k).or_default();
            g.0 += 1;
            g.1 += v;
        }
        sorted(
            groups
                .into_iter()
                .map(|(k, (n, s))| text(&[k.to_string(), n.to_string(), s.to_string()]))
                .collect(),
        )
    }

    /// `SELECT k, v FROM ev WHERE v > 50`.
    fn big(&self) -> Rows {
        sorted(
            self.events
                .iter()
                .filter(|(_, v)| *v > 50)
                .map(|(k, v)| text(&[k.to_string(), v.to_string()]))
                .collect(),
        )
    }

    /// `SELECT d.name, count(*) FROM ev e JOIN dim d ON e.k = d.k GROUP BY d.name`.
    fn per_name(&self) -> Rows {
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for (k, _) in &self.events {
            if let Some(name) = self.names.get(k) {
                *counts.entry(name).or_default() += 1;
            }
        }
        sorted(
            counts
                .into_iter()
                .map(|(name, n)| text(&[name.to_string(), n.to_string()]))
                .collect(),
        )
    }
}

/// The rows of `sql`; a read that does not answer (a view that never catches up) fails.
async fn read(client: &tokio_postgres::Client, sql: &str, when: &str) -> Rows {
    tokio::time::timeout(Duration::from_secs(30), text_rows(client, sql))
        .await
        .unwrap_or_else(|_| panic!("{when}: {sql} did not answer in 30 s"))
}

/// Checks every view and read of the stream against the model.
async fn check(client: &tokio_postgres::Client, model: &Model, midway: bool, when: &str) {
    let per_key = "SELECT k, n, s FROM per_key";
    assert_eq!(read(client, per_key, when).await, model.per_key(), "{when}");
    let big = "SELECT k, v FROM big";
    assert_eq!(read(client, big, when).await, model.big(), "{when}");
    let all = "SELECT k, v FROM ev";
    assert_eq!(read(client, all, when).await, model.events(), "{when}");
    if midway {
        let per_name = "SELECT name, n FROM per_name";
        assert_eq!(
            read(client, per_name, when).await,
            model.per_name(),
            "{when}"
        );
    }
}

/// One random batch of fewer than `size` rows into the stream (INSERT or COPY), sometimes a
/// rename in `dim`.
async fn write_batch(
    client: &tokio_postgres::Client,
    model: &mut Model,
    rng: &mut impl Rng,
    size: usize,
) {
    let rows: Vec<(i64, i64)> = (0..rng.random_range(1..size))
        .map(|_| (rng.random_range(0..8), rng.random_range(0..100)))
        .collect();
    if size < 100 && rng.random_bool(0.5) {
        let values: Vec<String> = rows.iter().map(|(k, v)| format!("({k}, {v})")).collect();
        client
            .batch_execute(&format!("INSERT INTO ev VALUES {}", values.join(", ")))
            .await
            .unwrap();
    } else {
        let data: String = rows.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
        let sink = client.copy_in("COPY ev FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        sink.send(bytes::Bytes::from(data)).await.unwrap();
        sink.finish().await.unwrap();
    }
    model.events.extend(rows);
    if rng.random_bool(0.3) {
        let k = rng.random_range(0..8);
        let name = format!("n{}", rng.random_range(0..3));
        client
            .batch_execute(&format!("UPDATE dim SET name = '{name}' WHERE k = {k}"))
            .await
            .unwrap();
        model.names.insert(k, name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streams_rows_live_in_the_log_and_every_reader_starts_from_it() {
    let data_dir = common::temp_data_dir();
    let server = Process::start(&data_dir, &ARGS).await;
    let client = server.connect("streams").await;
    client
        .batch_execute(
            "CREATE TABLE ev (k bigint, v bigint) APPEND ONLY;
             CREATE TABLE dim (k bigint, name text);
             INSERT INTO dim SELECT k, 'n0' FROM generate_series(0, 7) AS k;
             CREATE MATERIALIZED VIEW per_key AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k;
             CREATE MATERIALIZED VIEW big AS SELECT k, v FROM ev WHERE v > 50;
             CREATE TABLE copied (k bigint, v bigint);",
        )
        .await
        .unwrap();
    let mut model = Model {
        names: (0..8).map(|k| (k, "n0".to_string())).collect(),
        ..Default::default()
    };
    let subscriber = server.connect("streams").await;
    subscriber
        .batch_execute("BEGIN; DECLARE c CURSOR FOR SUBSCRIBE ev")
        .await
        .unwrap();

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for batch in 0..30 {
        // One large batch: a reader starting later is fed thousands of rows per worker.
        let size = if batch == 5 { 20_000 } else { 30 };
        write_batch(&client, &mut model, &mut rng, size).await;
        if batch == 10 {
            // Starts from the log: the rows before it exist only there.
            client
                .batch_execute(
                    "CREATE MATERIALIZED VIEW per_name AS SELECT d.name, count(*) AS n \
                     FROM ev e JOIN dim d ON e.k = d.k GROUP BY d.name",
                )
                .await
                .unwrap();
        }
        check(
            &client,
            &model,
            batch >= 10,
            &format!("after batch {batch}"),
        )
        .await;
    }
    // The reference evaluator reads the stream from the log too.
    client
        .batch_execute("INSERT INTO copied SELECT k, v FROM ev WHERE k < 4")
        .await
        .unwrap();
    let copied: Rows = model
        .events()
        .into_iter()
        .filter(|r| r[0].as_deref().unwrap().parse::<i64>().unwrap() < 4)
        .collect();
    assert_eq!(text_rows(&client, "SELECT k, v FROM copied").await, copied);
    let mut last_time = 0;
    common::subscription_adds_up_to(&subscriber, &model.events(), |time, _, _| {
        assert!(time >= last_time, "times go back: {time} after {last_time}");
        last_time = time;
    })
    .await;
    // Streams are not tables with contents to hydrate, and refuse changes.
    let hydration = text_rows(&client, "SHOW HYDRATION").await;
    assert!(hydration.iter().all(|r| r[0].as_deref() != Some("ev")));
    let err = client.batch_execute("DELETE FROM ev").await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42809");

    // Small segments closed many times: the log was compacted, appends and all.
    for _ in 0..100 {
        if server.output().contains("compacted the log") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        server.output().contains("compacted the log"),
        "{}",
        server.output()
    );
    server.kill();

    let server = Process::start(&data_dir, &ARGS).await;
    let client = server.connect("streams").await;
    check(&client, &model, true, "after a restart").await;
    for batch in 0..5 {
        write_batch(&client, &mut model, &mut rng, 30).await;
        check(
            &client,
            &model,
            true,
            &format!("after a restart and batch {batch}"),
        )
        .await;
    }
    server.kill();

    // Batch replay evaluates the stream from the log.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runnel"))
        .arg("replay")
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--database", "streams"])
        .args(["--query", "SELECT k, count(*), sum(v) FROM ev GROUP BY k"])
        .env("RUNNEL_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed: Rows = sorted(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').map(|c| Some(c.to_string())).collect())
            .collect(),
    );
    assert_eq!(replayed, model.per_key());
    std::fs::remove_dir_all(&data_dir).ok();
}
