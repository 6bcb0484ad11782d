//! Batch replay against the dataflows: random writes go to a real server while subscriptions
//! capture every change of several materialized views (filter, join + aggregate, outer join +
//! DISTINCT, HAVING). Then the server is killed and `runnel replay` evaluates each view's query
//! over the log with the reference evaluator: its changes must equal the subscription's, row
//! for row at every time, and its snapshot at any time must equal the subscription's
//! accumulated state there.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Process;
use futures::StreamExt;
use rand::{Rng, SeedableRng};

const VIEWS: [(&str, &str); 4] = [
    ("big", "SELECT id, customer, amount FROM orders WHERE amount > 50"),
    (
        "per_tier",
        "SELECT c.tier, count(*) AS n, sum(o.amount) AS total, avg(o.amount) AS mean \
         FROM orders o JOIN customers c ON o.customer = c.id GROUP BY c.tier",
    ),
    (
        "reach",
        "SELECT DISTINCT o.customer, c.tier FROM orders o LEFT JOIN customers c ON o.customer = c.id",
    ),
    (
        "repeat_buyers",
        "SELECT customer, max(amount) AS most, min(amount) AS least FROM orders \
         GROUP BY customer HAVING count(*) > 1",
    ),
];

fn replay(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runnel"))
        .arg("replay")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--database", "replay"])
        .args(args)
        .env("RUNNEL_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "runnel replay {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Reads `COPY (SUBSCRIBE view WITH (PROGRESS)) TO STDOUT` until progress passes `until`,
/// returning the data lines as `time \t diff \t columns`.
async fn capture(
    mut stream: std::pin::Pin<Box<tokio_postgres::CopyOutStream>>,
    until: u64,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut buf = String::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("the subscription's progress passes the last write")
            .expect("the subscription stays open")
            .unwrap();
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(nl) = buf.find('\n') {
            let line: String = buf.drain(..=nl).collect();
            let cols: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
            let time: u64 = cols[0].parse().unwrap();
            if cols[1] == "t" {
                if time > until {
                    return lines;
                }
                continue;
            }
            let mut kept = vec![cols[0]];
            kept.extend(&cols[2..]);
            lines.push(kept.join("\t"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_reproduces_every_subscribed_change() {
    let data_dir = common::temp_data_dir();
    let server = Process::start(&data_dir, &[]).await;
    let client = server.connect("replay").await;
    client
        .batch_execute(
            "CREATE TABLE orders (id int, customer int, amount int);
             CREATE TABLE customers (id int, tier text);
             CREATE TABLE tick (a int);
             INSERT INTO customers VALUES (1, 'gold'), (2, 'silver');
             INSERT INTO orders VALUES (1, 1, 80), (2, 1, 60), (3, 2, 10);",
        )
        .await
        .unwrap();
    for (name, query) in VIEWS {
        client
            .batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {query}"))
            .await
            .unwrap();
    }
    // Subscriptions start with a (non-empty) snapshot, then follow every write.
    let mut streams = Vec::new();
    let mut subscribers = Vec::new();
    for (name, _) in VIEWS {
        let sub = server.connect("replay").await;
        let stream = sub
            .copy_out(&format!(
                "COPY (SUBSCRIBE {name} WITH (PROGRESS)) TO STDOUT"
            ))
            .await
            .unwrap();
        streams.push(Box::pin(stream));
        subscribers.push(sub);
    }

    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut next_id = 4;
    for _ in 0..40 {
        let sql = match rng.random_range(0..10) {
            0..=3 => {
                let rows: Vec<String> = (0..rng.random_range(1..4))
                    .map(|_| {
                        next_id += 1;
                        format!(
                            "({next_id}, {}, {})",
                            rng.random_range(1..6),
                            rng.random_range(0..100)
                        )
                    })
                    .collect();
                format!("INSERT INTO orders VALUES {}", rows.join(", "))
            }
            4 => format!(
                "INSERT INTO customers VALUES ({}, '{}')",
                rng.random_range(1..6),
                ["gold", "silver", "bronze"][rng.random_range(0..3)]
            ),
            5 | 6 => format!(
                "UPDATE orders SET amount = amount + {} WHERE customer = {}",
                rng.random_range(-30..30),
                rng.random_range(1..6)
            ),
            7 => format!(
                "DELETE FROM orders WHERE id % 7 = {}",
                rng.random_range(0..7)
            ),
            8 => format!(
                "UPDATE customers SET tier = 'platinum' WHERE id = {}",
                rng.random_range(1..6)
            ),
            _ => format!(
                "DELETE FROM customers WHERE id = {}",
                rng.random_range(1..6)
            ),
        };
        client.batch_execute(&sql).await.unwrap();
    }
    // A write elsewhere moves every input past the last data write, so each subscription's
    // progress does too. Its time, read from the log while the server runs, bounds the test.
    client
        .batch_execute("INSERT INTO tick VALUES (1)")
        .await
        .unwrap();
    let tick = replay(&data_dir, &["--changes", "--query", "SELECT a FROM tick"]);
    let tick_time: u64 = tick
        .lines()
        .find(|l| l.ends_with("\t1\t1"))
        .expect("the tick is in the log")
        .split('\t')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let until = tick_time - 1;
    let mut captured = Vec::new();
    for stream in streams {
        captured.push(capture(stream, until).await);
    }
    drop(subscribers);
    server.kill();

    for ((name, query), lines) in VIEWS.iter().zip(captured) {
        let snapshot_time: u64 = lines
            .first()
            .expect("a non-empty snapshot")
            .split('\t')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let mut subscribed = lines.clone();
        subscribed.sort();
        let replayed = replay(
            &data_dir,
            &[
                "--changes",
                "--as-of",
                &snapshot_time.to_string(),
                "--query",
                &format!("SELECT * FROM {name}"),
            ],
        );
        let mut replayed: Vec<String> = replayed
            .lines()
            .filter(|l| l.split('\t').next().unwrap().parse::<u64>().unwrap() <= until)
            .map(str::to_string)
            .collect();
        replayed.sort();
        assert!(subscribed.len() > 5, "{name}: too few changes to compare");
        let only = |a: &[String], b: &[String]| -> Vec<String> {
            let mut b = b.to_vec();
            a.iter()
                .filter(|l| match b.iter().position(|x| x == *l) {
                    Some(i) => {
                        b.remove(i);
                        false
                    }
                    None => true,
                })
                .cloned()
                .collect()
        };
        assert!(
            subscribed == replayed,
            "{name}: SUBSCRIBE and replay differ\nonly subscribed: {:#?}\nonly replayed: {:#?}",
            only(&subscribed, &replayed),
            only(&replayed, &subscribed)
        );

        // The view's own query replayed at each time equals the subscription's state there.
        let times: std::collections::BTreeSet<u64> = lines
            .iter()
            .map(|l| l.split('\t').next().unwrap().parse().unwrap())
            .collect();
        for time in times.iter().step_by(3) {
            let mut state: BTreeMap<String, i64> = BTreeMap::new();
            for l in &lines {
                let mut cols = l.splitn(3, '\t');
                let t: u64 = cols.next().unwrap().parse().unwrap();
                let d: i64 = cols.next().unwrap().parse().unwrap();
                if t <= *time {
                    *state
                        .entry(cols.next().unwrap_or("").to_string())
                        .or_default() += d;
                }
            }
            let mut expected: Vec<String> = Vec::new();
            for (row, n) in state {
                assert!(n >= 0, "{name}: {row} has count {n} at {time}");
                expected.extend(std::iter::repeat_n(row, n as usize));
            }
            let out = replay(&data_dir, &["--query", &format!("{query} AS OF {time}")]);
            let mut got: Vec<String> = out.lines().map(str::to_string).collect();
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "{name} replayed as of {time}");
        }
    }
    std::fs::remove_dir_all(&data_dir).ok();
}
