//! Ingest from Kafka, measured against the broker's own consume rate in the same run:
//!
//! 1. Throughput: RECORDS rating records (JSON, then Avro) are produced to a fresh topic; a
//!    plain rdkafka consumer that decodes each value is the ceiling; then the `runnel` binary
//!    reads the topic into a source with a filtered and an aggregated materialized view, timed
//!    from `CREATE SOURCE` until the aggregate has counted every record. Records/s for both and
//!    their ratio.
//! 2. Latency: with the source caught up, records are produced at a steady RATE per second and
//!    each one's time from send to its arrival in a `SUBSCRIBE` of the filtered view is taken:
//!    p50 and p99.
//!
//! Needs a broker in `RUNNEL_TEST_KAFKA`. Run: `bin/with-kafka cargo bench --bench kafka_ingest`
//! (`RECORDS=N`, `RATE=N`, `LATENCY_RECORDS=N`).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use apache_avro::types::Value;
use common::{connect, env_or, Server};
use futures::StreamExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message};

const AVRO_SCHEMA: &str = r#"{"type": "record", "name": "rating", "fields": [
    {"name": "rating_id", "type": "long"}, {"name": "user_id", "type": "int"},
    {"name": "stars", "type": "int"}, {"name": "channel", "type": "string"},
    {"name": "message", "type": "string"}]}"#;

fn rating(id: i64) -> (i64, i32, i32, &'static str, String) {
    let channel = ["ios", "web", "android"][(id % 3) as usize];
    (
        id,
        (id % 1000) as i32,
        (id % 5) as i32,
        channel,
        format!("rating number {id}, thanks"),
    )
}

fn json(id: i64) -> Vec<u8> {
    let (id, user, stars, channel, message) = rating(id);
    format!(r#"{{"rating_id": {id}, "user_id": {user}, "stars": {stars}, "channel": "{channel}", "message": "{message}"}}"#)
        .into_bytes()
}

fn avro(schema: &apache_avro::Schema, id: i64) -> Vec<u8> {
    let (id, user, stars, channel, message) = rating(id);
    let record = Value::Record(vec![
        ("rating_id".into(), Value::Long(id)),
        ("user_id".into(), Value::Int(user)),
        ("stars".into(), Value::Int(stars)),
        ("channel".into(), Value::String(channel.into())),
        ("message".into(), Value::String(message)),
    ]);
    apache_avro::to_avro_datum(schema, record).unwrap()
}

async fn create_topic(broker: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()
        .unwrap();
    let topics = [NewTopic::new(topic, 1, TopicReplication::Fixed(1))];
    for r in admin
        .create_topics(&topics, &AdminOptions::new())
        .await
        .unwrap()
    {
        r.unwrap();
    }
}

fn producer(broker: &str) -> FutureProducer {
    // One record per batch: Tansu's memory engine misreports offsets of multi-record batches.
    ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap()
}

async fn produce_all(broker: &str, topic: &str, values: impl Iterator<Item = Vec<u8>>) {
    let p = producer(broker);
    let sends = futures::stream::iter(values.map(|v| {
        let p = p.clone();
        let topic = topic.to_string();
        async move {
            p.send(
                FutureRecord::<(), [u8]>::to(&topic)
                    .partition(0)
                    .payload(&v),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        }
    }));
    sends.buffer_unordered(1000).collect::<Vec<_>>().await;
}

/// The ceiling: records/s of a plain consumer reading and decoding the whole topic.
fn consume_rate(broker: &str, topic: &str, records: usize, decode: impl Fn(&[u8])) -> f64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("group.id", "runnel-bench")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    // Offset 0, as Runnel's sources start: `Beginning` costs an offset lookup first.
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Offset(0))
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let start = Instant::now();
    let mut read = 0;
    while read < records {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the consumer read {read} of {records} records in 10 minutes"
        );
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            decode(m.unwrap().payload().unwrap());
            read += 1;
        }
    }
    records as f64 / start.elapsed().as_secs_f64()
}

/// Runnel's rate: from CREATE SOURCE until the aggregate has counted every record.
async fn ingest_rate(conn: &str, broker: &str, topic: &str, format: &str, records: usize) -> f64 {
    let client = connect(conn).await;
    let start = Instant::now();
    client
        .batch_execute(&format!(
            "CREATE SOURCE r_{topic_id} (rating_id bigint, user_id int, stars int, channel text, message text)
               FROM KAFKA (BROKER '{broker}', TOPIC '{topic}') FORMAT {format};
             CREATE MATERIALIZED VIEW poor_{topic_id} AS SELECT * FROM r_{topic_id} WHERE stars < 3;
             CREATE MATERIALIZED VIEW per_channel_{topic_id} AS
               SELECT channel, count(*) AS n FROM r_{topic_id} GROUP BY channel;",
            topic_id = topic.replace('-', "_"),
        ))
        .await
        .unwrap();
    let sql = format!(
        "SELECT coalesce(sum(n), 0)::bigint FROM per_channel_{}",
        topic.replace('-', "_")
    );
    loop {
        let n: i64 = client.query_one(&sql, &[]).await.unwrap().get(0);
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "Runnel ingested {n} of {records} records in 10 minutes"
        );
        if n as usize >= records {
            return records as f64 / start.elapsed().as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Send-to-SUBSCRIBE latencies (ms) of `n` records produced at `rate` per second.
async fn latencies(
    conn: &str,
    broker: &str,
    topic: &str,
    first_id: i64,
    n: usize,
    rate: usize,
) -> Vec<f64> {
    let client = connect(conn).await;
    let view = format!("poor_{}", topic.replace('-', "_"));
    let copy = client
        .copy_out(&format!(
            "COPY (SUBSCRIBE {view} WITH (SNAPSHOT = false)) TO STDOUT"
        ))
        .await
        .unwrap();
    let sent: std::sync::Arc<std::sync::Mutex<HashMap<i64, Instant>>> = Default::default();
    let producing = {
        let (sent, broker, topic) = (sent.clone(), broker.to_string(), topic.to_string());
        tokio::spawn(async move {
            let p = producer(&broker);
            let every = Duration::from_secs_f64(1.0 / rate as f64);
            for i in 0..n as i64 {
                // Stars 0: every record passes the view's filter.
                let id = first_id + i * 5;
                sent.lock().unwrap().insert(id, Instant::now());
                p.send(
                    FutureRecord::<(), [u8]>::to(&topic)
                        .partition(0)
                        .payload(&json(id)),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
                tokio::time::sleep(every).await;
            }
        })
    };
    let mut copy = std::pin::pin!(copy);
    let mut out = Vec::new();
    while out.len() < n {
        let Some(chunk) = copy.next().await else {
            break;
        };
        let arrived = Instant::now();
        for line in String::from_utf8_lossy(&chunk.unwrap()).lines() {
            // time, diff, then the row's columns: rating_id first.
            let id: i64 = line.split('\t').nth(2).unwrap().parse().unwrap();
            if let Some(at) = sent.lock().unwrap().get(&id) {
                out.push((arrived - *at).as_secs_f64() * 1000.0);
            }
        }
    }
    producing.await.unwrap();
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let broker = std::env::var("RUNNEL_TEST_KAFKA")
        .expect("RUNNEL_TEST_KAFKA names no broker: run under bin/with-kafka");
    // Tansu's memory engine serves a fetch in time that grows with the topic: past ~100k
    // single-record batches a consumer barely moves, so the default stays below that.
    let records = env_or("RECORDS", 2_000, 50_000);
    let rate = env_or("RATE", 200, 200);
    let latency_records = env_or("LATENCY_RECORDS", 100, 2_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let schema = apache_avro::Schema::parse_str(AVRO_SCHEMA).unwrap();
    let dir = std::env::temp_dir().join(format!("runnel-bench-kafka-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = std::process::id();
    rt.block_on(async {
        let (server, _) = Server::start(&dir);
        println!(
            "Kafka ingest: {records} records into a source with a filtered and an aggregated view"
        );
        println!(
            "{:>8} {:>18} {:>18} {:>8}",
            "format", "consumer rec/s", "runnel rec/s", "ratio"
        );
        for format in ["JSON", "AVRO"] {
            let topic = format!("bench-{}-{run}", format.to_lowercase());
            create_topic(&broker, &topic).await;
            let values: Box<dyn Iterator<Item = Vec<u8>>> = match format {
                "JSON" => Box::new((0..records as i64).map(json)),
                _ => Box::new((0..records as i64).map(|id| avro(&schema, id))),
            };
            produce_all(&broker, &topic, values).await;
            let ceiling = match format {
                "JSON" => consume_rate(&broker, &topic, records, |v| {
                    let _: serde_json::Value = serde_json::from_slice(v).unwrap();
                }),
                _ => consume_rate(&broker, &topic, records, |mut v| {
                    apache_avro::from_avro_datum(&schema, &mut v, None).unwrap();
                }),
            };
            let spec = match format {
                "JSON" => "JSON".to_string(),
                _ => format!("AVRO USING SCHEMA '{AVRO_SCHEMA}'"),
            };
            let runnel = ingest_rate(&server.conn(), &broker, &topic, &spec, records).await;
            println!(
                "{format:>8} {ceiling:>18.0} {runnel:>18.0} {:>7.2}x",
                runnel / ceiling
            );
        }
        let topic = format!("bench-json-{run}");
        let mut l = latencies(
            &server.conn(),
            &broker,
            &topic,
            records as i64 * 5,
            latency_records,
            rate,
        )
        .await;
        l.sort_by(f64::total_cmp);
        println!(
            "latency, produce -> SUBSCRIBE, {} records at {rate}/s: p50 {:.1} ms, p99 {:.1} ms",
            l.len(),
            percentile(&l, 0.5),
            percentile(&l, 0.99)
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
