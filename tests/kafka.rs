//! Kafka sources against a real broker (`RUNNEL_TEST_KAFKA`, host:port; `bin/test` starts
//! Tansu and sets it, or names an external Apache Kafka / Redpanda when already set).
//!
//! Records are produced with rdkafka while the real server binary reads them: JSON decoded into
//! columns, several partitions, a malformed record skipped and reported, and a SIGKILL in the
//! middle of the stream after which every record is there exactly once.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::Process as Server;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use tokio_postgres::Client;

fn broker() -> String {
    std::env::var("RUNNEL_TEST_KAFKA").unwrap_or_else(|_| {
        panic!("RUNNEL_TEST_KAFKA is not set: run the suite with bin/test, which starts a broker")
    })
}

async fn create_topic(broker: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()
        .unwrap();
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
}

fn producer(broker: &str) -> FutureProducer {
    // One record per batch: Tansu's memory engine misreports offsets of multi-record batches.
    ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .create()
        .unwrap()
}

async fn produce(p: &FutureProducer, topic: &str, partition: i32, value: &str) {
    p.send(
        FutureRecord::<(), str>::to(topic)
            .partition(partition)
            .payload(value),
        Duration::from_secs(10),
    )
    .await
    .unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"));
}

fn rating(id: i64) -> String {
    let channel = ["ios", "web", "android"][(id % 3) as usize];
    format!(
        r#"{{"rating_id": {id}, "user_id": {}, "stars": {}, "channel": "{channel}"}}"#,
        id % 17,
        id % 5
    )
}

async fn ids(client: &Client) -> Vec<i64> {
    client
        .query("SELECT rating_id FROM ratings ORDER BY rating_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Waits until the source holds `want` rows (or fails after a while, saying what it holds).
async fn until_count(client: &Client, want: usize) -> Vec<i64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = ids(client).await;
        if got.len() >= want || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_source_survives_sigkill_exactly_once() {
    let broker = broker();
    let topic = format!("ratings-{}", std::process::id());
    create_topic(&broker, &topic, 2).await;
    let p = producer(&broker);

    let data_dir = common::temp_data_dir();
    let server = Server::start(&data_dir, &[]).await;
    let client = server.connect("kafka").await;
    client
        .batch_execute(&format!(
            "CREATE SOURCE ratings (rating_id bigint NOT NULL, user_id int, stars int, channel text)
               FROM KAFKA (BROKER '{broker}', TOPIC '{topic}') FORMAT JSON;
             CREATE MATERIALIZED VIEW poor_ratings AS SELECT rating_id, stars FROM ratings WHERE stars < 3;
             CREATE MATERIALIZED VIEW per_channel AS
               SELECT channel, count(*) AS n, sum(stars) AS s FROM ratings GROUP BY channel;"
        ))
        .await
        .unwrap();

    // The first 100 records, spread over both partitions, with two that cannot be decoded.
    for id in 0..100 {
        produce(&p, &topic, (id % 2) as i32, &rating(id)).await;
    }
    produce(&p, &topic, 0, "{not json").await;
    produce(&p, &topic, 1, r#"{"rating_id": "many", "stars": 1}"#).await;
    assert_eq!(
        until_count(&client, 100).await,
        (0..100).collect::<Vec<_>>()
    );

    // Killed while records keep arriving; they are read after the restart, none twice.
    let producing = {
        let (p, topic) = (producer(&broker), topic.clone());
        tokio::spawn(async move {
            for id in 100..400 {
                produce(&p, &topic, (id % 2) as i32, &rating(id)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_kill = server.output();
    server.kill();
    let server = Server::start(&data_dir, &[]).await;
    producing.await.unwrap();
    let client = server.connect("kafka").await;
    let got = until_count(&client, 400).await;
    assert_eq!(
        got,
        (0..400).collect::<Vec<_>>(),
        "every record exactly once"
    );
    // Nothing more arrives later (a duplicate would).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ids(&client).await.len(), 400);

    // The views equal a from-scratch evaluation of what was produced.
    let poor: i64 = client
        .query_one("SELECT count(*) FROM poor_ratings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(poor, (0..400).filter(|id| id % 5 < 3).count() as i64);
    let per_channel: Vec<(String, i64, i64)> = client
        .query(
            "SELECT channel, n, s::bigint FROM per_channel ORDER BY channel",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected: Vec<(String, i64, i64)> = ["android", "ios", "web"]
        .iter()
        .map(|c| {
            let ids: Vec<i64> = (0..400)
                .filter(|id| ["ios", "web", "android"][(id % 3) as usize] == *c)
                .collect();
            (
                c.to_string(),
                ids.len() as i64,
                ids.iter().map(|id| id % 5).sum(),
            )
        })
        .collect();
    assert_eq!(per_channel, expected);

    // The malformed records were reported with where they are, and skipped.
    let log = before_kill + &server.output();
    assert!(
        log.contains("invalid JSON"),
        "no report of the malformed record in:\n{log}"
    );
    assert!(
        log.contains("field \"rating_id\""),
        "no report of the mistyped record in:\n{log}"
    );
    assert!(
        log.contains(&format!("topic {topic} partition 0 offset 50")),
        "{log}"
    );

    // A source is read-only, listed, and can be dropped (with what depends on it).
    let e = client
        .batch_execute("INSERT INTO ratings VALUES (1, 1, 1, 'x')")
        .await
        .unwrap_err();
    assert!(e.as_db_error().is_some(), "{e}");
    let sources: Vec<String> = client
        .query("SHOW SOURCES", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(sources, vec!["ratings".to_string()]);
    let distinct: BTreeSet<i64> = got.into_iter().collect();
    assert_eq!(distinct.len(), 400);
    client
        .batch_execute("DROP SOURCE ratings CASCADE")
        .await
        .unwrap();
    assert!(client
        .query("SELECT * FROM poor_ratings", &[])
        .await
        .is_err());
}
