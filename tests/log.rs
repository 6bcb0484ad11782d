//! The log on disk, through the real binary: compaction keeps a table updated in place from
//! growing the log without bound; torn and corrupt tails are cut and reported at any byte;
//! damage in the middle stops start-up naming the file and offset.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Process;
use rand::{Rng, SeedableRng};
use runnel::storage::LogRecord;

fn log_bytes(data_dir: &Path) -> u64 {
    std::fs::read_dir(data_dir.join("log"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    let mut out: Vec<String> = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_updated_in_place_keeps_the_log_small() {
    let data_dir = common::temp_data_dir();
    let args = ["--log-segment-bytes", "2048", "--retain-history", "0"];
    let server = Process::start(&data_dir, &args).await;
    let client = server.connect("log").await;
    client
        .batch_execute(
            "CREATE TABLE counters (k int, v bigint);
             INSERT INTO counters VALUES (1, 0), (2, 0), (3, 0);
             CREATE MATERIALIZED VIEW total AS SELECT sum(v) AS s, count(*) AS n FROM counters;",
        )
        .await
        .unwrap();
    let updates = 600;
    for i in 0..updates {
        client
            .batch_execute(&format!(
                "UPDATE counters SET v = v + 1 WHERE k = {}",
                i % 3 + 1
            ))
            .await
            .unwrap();
    }
    // Every update is its own record: uncompacted, the log holds all of them.
    let mut bytes = log_bytes(&data_dir);
    for _ in 0..100 {
        if bytes < 8 << 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        bytes = log_bytes(&data_dir);
    }
    assert!(
        bytes < 8 << 10,
        "{updates} updates in place left {bytes} bytes of log:\n{}",
        server.output()
    );
    assert!(server.output().contains("compacted the log"));

    // The compacted log brings back the same contents, and keeps taking writes.
    server.kill();
    let server = Process::start(&data_dir, &args).await;
    let client = server.connect("log").await;
    assert_eq!(
        rows(&client, "SELECT * FROM counters").await,
        vec!["1|200", "2|200", "3|200"]
    );
    assert_eq!(rows(&client, "SELECT * FROM total").await, vec!["600|3"]);
    client
        .batch_execute("UPDATE counters SET v = 0 WHERE k = 1; CREATE TABLE later (a int); INSERT INTO later VALUES (1)")
        .await
        .unwrap();
    server.kill();
    let server = Process::start(&data_dir, &args).await;
    let client = server.connect("log").await;
    assert_eq!(rows(&client, "SELECT * FROM total").await, vec!["400|3"]);
    assert_eq!(rows(&client, "SELECT * FROM later").await, vec!["1"]);
    drop(server);

    // Batch replay reads the compacted log, and refuses times compaction folded away.
    let replay = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_runnel"))
            .arg("replay")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--database", "log"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = replay(&["--query", "SELECT * FROM total"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400\t3\n");
    let out = replay(&["--as-of", "1", "--query", "SELECT * FROM total"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("compacted through"));
    std::fs::remove_dir_all(&data_dir).ok();
}

/// The byte ranges of the records in a segment.
fn frames(data: &[u8]) -> Vec<(usize, usize)> {
    let mut at = if data.starts_with(b"RNLBASE1") { 8 } else { 0 };
    let mut out = Vec::new();
    while at + 8 <= data.len() {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        out.push((at, at + 8 + len));
        at += 8 + len;
    }
    out
}

fn last_segment(data_dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(data_dir.join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to.join("log")).unwrap();
    for e in std::fs::read_dir(from.join("log")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join("log").join(p.file_name().unwrap())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_and_corrupt_tails_are_cut_at_any_byte_and_middles_refused() {
    let original = common::temp_data_dir();
    let server = Process::start(&original, &[]).await;
    let client = server.connect("torn").await;
    client
        .batch_execute("CREATE TABLE t (a int)")
        .await
        .unwrap();
    for i in 1..=40 {
        client
            .batch_execute(&format!("INSERT INTO t VALUES ({i})"))
            .await
            .unwrap();
    }
    server.kill();
    let seg = last_segment(&original);
    let data = std::fs::read(&seg).unwrap();
    let frames = frames(&data);
    // How many inserts are whole before a byte offset.
    let inserts_before = |offset: usize| {
        frames
            .iter()
            .filter(|(s, e)| {
                *e <= offset && {
                    matches!(
                        LogRecord::decode(&data[s + 8..*e]),
                        Ok(LogRecord::Write { .. })
                    )
                }
            })
            .count()
    };
    let expected = |n: usize| {
        let mut v: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
        v.sort();
        v
    };
    let dir = common::temp_data_dir();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let tail_start = frames[frames.len() - 10].0;
    for round in 0..8 {
        copy_dir(&original, &dir);
        let copy = dir.join("log").join(seg.file_name().unwrap());
        let cut = rng.random_range(tail_start + 1..data.len());
        let mut damaged = data.clone();
        if round % 2 == 0 {
            damaged.truncate(cut); // a torn write
        } else {
            // A corrupt last record: a flipped byte after the start of the last frame.
            let (last_start, _) = *frames.last().unwrap();
            let at = rng.random_range(last_start..data.len());
            damaged[at] ^= 0x5a;
        }
        std::fs::write(&copy, &damaged).unwrap();
        let kept = if round % 2 == 0 {
            inserts_before(cut)
        } else {
            40 - 1
        };
        let server = Process::start(&dir, &[]).await;
        let output = server.output();
        let whole = round % 2 == 0 && frames.iter().any(|(_, e)| *e == cut);
        assert!(
            whole || output.contains("torn write") && output.contains(&copy.display().to_string()),
            "the cut is reported:\n{output}"
        );
        let client = server.connect("torn").await;
        assert_eq!(
            rows(&client, "SELECT a::text FROM t").await,
            expected(kept),
            "round {round}"
        );
        drop(server);
    }

    // Damage in the middle: start-up refuses, naming the file and the offset, and keeps it.
    copy_dir(&original, &dir);
    let copy = dir.join("log").join(seg.file_name().unwrap());
    let mut damaged = data.clone();
    let (start, _) = frames[frames.len() / 2];
    damaged[start + 9] ^= 0x5a;
    std::fs::write(&copy, &damaged).unwrap();
    let output = match Process::try_start(&dir, &[]).await {
        Ok(_) => panic!("a server started on a log damaged in the middle"),
        Err(output) => output,
    };
    assert!(
        output.contains("corrupt")
            && output.contains(&copy.display().to_string())
            && output.contains(&format!("at byte {start}")),
        "{output}"
    );
    assert_eq!(std::fs::read(&copy).unwrap(), damaged, "nothing was cut");
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&original).ok();
}
