//! Kafka in tests: the broker `bin/test` starts (`RUNNEL_TEST_KAFKA`), topics, a producer, and
//! polling a query until it shows what was produced.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use tokio_postgres::Client;

pub fn broker() -> String {
    std::env::var("RUNNEL_TEST_KAFKA").unwrap_or_else(|_| {
        panic!("RUNNEL_TEST_KAFKA is not set: run the suite with bin/test, which starts a broker")
    })
}

pub async fn create_topic(broker: &str, topic: &str, partitions: i32) {
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

pub fn producer(broker: &str) -> FutureProducer {
    // One record per batch: Tansu's memory engine misreports offsets of multi-record batches.
    ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .create()
        .unwrap()
}

pub async fn produce_keyed(
    p: &FutureProducer,
    topic: &str,
    key: Option<&str>,
    value: Option<&str>,
) {
    let mut record = FutureRecord::<str, str>::to(topic).partition(0);
    if let Some(k) = key {
        record = record.key(k);
    }
    if let Some(v) = value {
        record = record.payload(v);
    }
    p.send(record, Duration::from_secs(10))
        .await
        .unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"));
}

/// The rows of `sql` in the order returned, as text (NULL as `NULL`).
pub async fn rows(client: &Client, sql: &str) -> Vec<Vec<String>> {
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// Polls `sql` until it returns `want` (as text rows) or a minute passes; returns what it saw.
pub async fn until_rows(client: &Client, sql: &str, want: &[Vec<String>]) -> Vec<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = rows(client, sql).await;
        if got == want || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
