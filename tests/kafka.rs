//! Kafka sources against a real broker (`RUNNEL_TEST_KAFKA`, host:port; `bin/test` starts
//! Tansu and sets it, or names an external Apache Kafka / Redpanda when already set).
//!
//! Records are produced with rdkafka while the real server binary reads them: JSON decoded into
//! columns, several partitions, a malformed record skipped and reported, and a SIGKILL in the
//! middle of the stream after which every record is there exactly once.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::kafka::{broker, create_topic, produce_keyed, producer, until_rows};
use common::Process as Server;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_postgres::Client;

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
    // Per partition: 200 ratings and one bad record read, so the next offset is 201.
    let partitions: Vec<(i32, i64)> = client
        .query(
            "SELECT partition, next_offset FROM runnel_catalog.source_partitions
             WHERE source = 'ratings' ORDER BY partition",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(partitions, vec![(0, 201), (1, 201)]);
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

/// A random change feed of customers, as upserts (ksqlDB TABLE) and as Debezium events, with a
/// SIGKILL in the middle: both tables end equal to the feed's final state, as do views on them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_and_debezium_sources_track_a_change_feed_across_sigkill() {
    use rand::{Rng, SeedableRng};
    let broker = broker();
    let run = std::process::id();
    let (upserts, cdc) = (format!("customers-{run}"), format!("cdc-{run}"));
    create_topic(&broker, &upserts, 1).await;
    create_topic(&broker, &cdc, 1).await;
    let p = producer(&broker);

    let data_dir = common::temp_data_dir();
    // The ksqlDB form names no broker: the server's --kafka-broker is used, and logged.
    let server = Server::start(&data_dir, &["--kafka-broker", &broker]).await;
    let client = server.connect("kafka").await;
    client
        .batch_execute(&format!(
            "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR, club_status VARCHAR)
               WITH (KAFKA_TOPIC='{upserts}', VALUE_FORMAT='JSON');
             CREATE SOURCE mirror (id int, name text, club_status text, PRIMARY KEY (id))
               FROM KAFKA (BROKER '{broker}', TOPIC '{cdc}') FORMAT JSON ENVELOPE DEBEZIUM;
             CREATE TABLE by_status AS SELECT club_status, count(*) AS n FROM customers
               GROUP BY club_status EMIT CHANGES;"
        ))
        .await
        .unwrap();

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut state: std::collections::BTreeMap<i32, (String, String)> = Default::default();
    let mut feed = |rng: &mut rand::rngs::StdRng| {
        let id = rng.random_range(0..15);
        let before = state.get(&id).cloned();
        let after = if before.is_some() && rng.random_bool(0.3) {
            state.remove(&id);
            None
        } else {
            let status = ["bronze", "silver", "gold", "platinum"][rng.random_range(0..4)];
            let v = (
                format!("name {id} {}", rng.random_range(0..1000)),
                status.to_string(),
            );
            state.insert(id, v.clone());
            Some(v)
        };
        let obj = |v: &Option<(String, String)>| match v {
            None => "null".to_string(),
            Some((n, s)) => format!(r#"{{"id": {id}, "name": "{n}", "club_status": "{s}"}}"#),
        };
        let op = match (&before, &after) {
            (None, _) => "c",
            (_, None) => "d",
            _ => "u",
        };
        let event = format!(
            r#"{{"payload": {{"before": {}, "after": {}, "op": "{op}"}}}}"#,
            obj(&before),
            obj(&after)
        );
        let value = after.as_ref().map(|_| obj(&after));
        (id, value, event, op == "d")
    };
    let mut send = async |rng: &mut rand::rngs::StdRng, n: usize| {
        for _ in 0..n {
            let (id, value, event, deleted) = feed(rng);
            let key = id.to_string();
            produce_keyed(&p, &upserts, Some(&key), value.as_deref()).await;
            let json_key = format!(r#"{{"id": {id}}}"#);
            produce_keyed(&p, &cdc, Some(&json_key), Some(&event)).await;
            if deleted {
                // Debezium follows a delete with a tombstone, which changes nothing.
                produce_keyed(&p, &cdc, Some(&json_key), None).await;
            }
        }
    };
    send(&mut rng, 150).await;
    // An undecodable record is skipped, counted and shown; the source keeps running.
    produce_keyed(&p, &upserts, Some("3"), Some(r#"{"name": 5"#)).await;
    let server = {
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.kill();
        Server::start(&data_dir, &[]).await
    };
    let client = server.connect("kafka").await;
    send(&mut rng, 150).await;

    let expected: Vec<Vec<String>> = state
        .iter()
        .map(|(id, (n, s))| vec![id.to_string(), n.clone(), s.clone()])
        .collect();
    for relation in ["customers", "mirror"] {
        let sql = format!("SELECT id, name, club_status FROM {relation} ORDER BY id");
        assert_eq!(
            until_rows(&client, &sql, &expected).await,
            expected,
            "{relation}"
        );
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for (_, s) in state.values() {
        *counts.entry(s).or_default() += 1;
    }
    let expected: Vec<Vec<String>> = counts
        .iter()
        .map(|(s, n)| vec![s.to_string(), n.to_string()])
        .collect();
    let sql = "SELECT club_status, n FROM by_status ORDER BY club_status";
    assert_eq!(until_rows(&client, sql, &expected).await, expected);

    let shown = client
        .simple_query("SHOW SOURCE ERRORS FROM customers")
        .await
        .unwrap();
    let rows: Vec<_> = shown
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some((
                r.get("partition").unwrap().to_string(),
                r.get("offset").unwrap().to_string(),
                r.get("reason").unwrap().to_string(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("0", "150"));
    assert!(rows[0].2.contains("invalid JSON"), "{rows:?}");
    let sources = client.query("SHOW SOURCES", &[]).await.unwrap();
    let described: Vec<(String, String, String, i64)> = sources
        .iter()
        .map(|r| {
            (
                r.get("name"),
                r.get("envelope"),
                r.get("state"),
                r.get("errors"),
            )
        })
        .collect();
    assert_eq!(
        described,
        vec![
            ("customers".into(), "upsert".into(), "running".into(), 1),
            ("mirror".into(), "debezium".into(), "running".into(), 0),
        ]
    );
    // The same status as relations a query can filter and join.
    let joined = client
        .query(
            "SELECT s.name, s.state, s.errors, e.partition, e.offset, e.reason \
             FROM runnel_catalog.sources s JOIN runnel_catalog.source_errors e ON e.source = s.name \
             WHERE s.errors > 0",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(joined.len(), 1);
    let r = &joined[0];
    assert_eq!(
        (
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, i64>(2)
        ),
        ("customers".into(), "running".into(), 1)
    );
    assert_eq!((r.get::<_, i32>(3), r.get::<_, i64>(4)), (0, 150));
    assert!(r.get::<_, String>(5).contains("invalid JSON"));
    let refused = client
        .batch_execute("CREATE VIEW failing AS SELECT * FROM runnel_catalog.source_errors")
        .await
        .unwrap_err();
    assert_eq!(refused.code().map(|c| c.code()), Some("0A000"));
}

/// CSV records with metadata columns, and a source that halts at a record it cannot read:
/// it keeps what came before, says why, and stops there again after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_source_with_metadata_halts_on_a_bad_record() {
    let broker = broker();
    let topic = format!("lines-{}", std::process::id());
    create_topic(&broker, &topic, 1).await;
    let p = producer(&broker);
    let data_dir = common::temp_data_dir();
    let server = Server::start(&data_dir, &[]).await;
    let client = server.connect("kafka").await;
    client
        .batch_execute(&format!(
            "CREATE SOURCE lines (n int, word text)
               FROM KAFKA (BROKER '{broker}', TOPIC '{topic}', ON ERROR 'halt')
               FORMAT CSV WITH 2 COLUMNS INCLUDE OFFSET AS o, KEY"
        ))
        .await
        .unwrap();
    produce_keyed(&p, &topic, Some("k1"), Some("1,\"one, quoted\"")).await;
    produce_keyed(&p, &topic, None, Some("2,two")).await;
    produce_keyed(&p, &topic, None, Some("three,3")).await;
    produce_keyed(&p, &topic, None, Some("4,four")).await;
    let want: Vec<Vec<String>> = vec![
        vec!["1".into(), "one, quoted".into(), "0".into(), "k1".into()],
        vec!["2".into(), "two".into(), "1".into(), "NULL".into()],
    ];
    let sql = "SELECT n, word, o, key FROM lines ORDER BY n";
    assert_eq!(until_rows(&client, sql, &want).await, want);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let row = client.query_one("SHOW SOURCES", &[]).await.unwrap();
        let status: (String, Option<String>) = (row.get("state"), row.get("last_error"));
        if status.0 == "halted" || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.0, "halted");
    assert!(
        status.1.as_deref().unwrap_or("").contains("offset 2"),
        "{status:?}"
    );
    server.kill();
    let server = Server::start(&data_dir, &[]).await;
    let client = server.connect("kafka").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(until_rows(&client, sql, &want).await, want);
    let row = client.query_one("SHOW SOURCES", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>("state"), "halted");
}

/// Avro values (bare and Confluent-framed) under the upsert envelope, the columns taken from the
/// writer's schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_upsert_source_takes_its_columns_from_the_schema() {
    use apache_avro::types::Value;
    let broker = broker();
    let topic = format!("people-{}", std::process::id());
    create_topic(&broker, &topic, 1).await;
    let p = producer(&broker);
    let schema_text = r#"{"type": "record", "name": "person", "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"]},
        {"name": "joined", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "balance", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}}]}"#;
    let schema = apache_avro::Schema::parse_str(schema_text).unwrap();
    let person = |id: i64, name: Option<&str>| {
        let name = match name {
            Some(n) => Value::Union(1, Box::new(Value::String(n.into()))),
            None => Value::Union(0, Box::new(Value::Null)),
        };
        apache_avro::to_avro_datum(
            &schema,
            Value::Record(vec![
                ("id".into(), Value::Long(id)),
                ("name".into(), name),
                ("joined".into(), Value::TimestampMillis(86_400_000 * id)),
                // id * 10.01, negated for even ids: the unscaled value in two bytes.
                (
                    "balance".into(),
                    Value::Decimal(apache_avro::Decimal::from(
                        ((1001 * id * if id % 2 == 0 { -1 } else { 1 }) as i16).to_be_bytes(),
                    )),
                ),
            ]),
        )
        .unwrap()
    };
    let framed = |datum: Vec<u8>| [&[0u8, 0, 0, 0, 1][..], &datum].concat();
    let data_dir = common::temp_data_dir();
    let server = Server::start(&data_dir, &[]).await;
    let client = server.connect("kafka").await;
    client
        .batch_execute(&format!(
            "CREATE SOURCE people (PRIMARY KEY (id))
               FROM KAFKA (BROKER '{broker}', TOPIC '{topic}')
               FORMAT AVRO USING SCHEMA '{schema_text}' ENVELOPE UPSERT"
        ))
        .await
        .unwrap();
    let send = async |key: &str, value: Option<Vec<u8>>| {
        let mut record = FutureRecord::<str, [u8]>::to(&topic).partition(0).key(key);
        if let Some(v) = &value {
            record = record.payload(v);
        }
        p.send(record, Duration::from_secs(10)).await.unwrap();
    };
    send("1", Some(framed(person(1, Some("ada"))))).await;
    send("2", Some(person(2, None))).await;
    send("3", Some(person(3, Some("cy")))).await;
    send("1", Some(person(1, Some("ada l.")))).await;
    send("3", None).await;
    send("4", Some(b"\x02".to_vec())).await;
    let want: Vec<Vec<String>> = vec![
        vec![
            "1".into(),
            "ada l.".into(),
            "1970-01-02 00:00:00+00".into(),
            "10.01".into(),
        ],
        vec![
            "2".into(),
            "NULL".into(),
            "1970-01-03 00:00:00+00".into(),
            "-20.02".into(),
        ],
    ];
    let sql = "SELECT id, name, joined, balance FROM people ORDER BY id";
    assert_eq!(until_rows(&client, sql, &want).await, want);
    let columns: Vec<Vec<String>> = client
        .query("SHOW COLUMNS FROM people", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (0..3).map(|i| r.get::<_, String>(i)).collect())
        .collect();
    assert_eq!(
        columns,
        vec![
            vec!["balance".to_string(), "false".into(), "numeric".into()],
            vec!["id".to_string(), "false".into(), "bigint".into()],
            vec![
                "joined".to_string(),
                "false".into(),
                "timestamp with time zone".into()
            ],
            vec!["name".to_string(), "true".into(), "text".into()],
        ]
    );
    // The bad record is counted when the source logs its progress, which can come after the
    // good rows are readable: wait for the count rather than read it once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let row = loop {
        let row = client.query_one("SHOW SOURCES", &[]).await.unwrap();
        if row.get::<_, i64>("errors") >= 1 || std::time::Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(row.get::<_, i64>("errors"), 1);
    assert!(row
        .get::<_, Option<String>>("last_error")
        .unwrap_or_default()
        .contains("invalid Avro"));
}

/// `FORMAT BYTES` (and ksqlDB's `VALUE_FORMAT='KAFKA'` with a BYTES column) keeps each value as
/// it is, whatever its bytes: read back in text (`\x` hex) and binary, and through the bytea
/// functions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_source_keeps_values_as_they_are() {
    let broker = broker();
    let topic = format!("blobs-{}", std::process::id());
    create_topic(&broker, &topic, 1).await;
    let p = producer(&broker);
    let values: Vec<Vec<u8>> = vec![b"plain".to_vec(), vec![0, 0xff, 0xfe, b'\\'], vec![]];
    for v in &values {
        p.send(
            FutureRecord::<(), [u8]>::to(&topic).partition(0).payload(v),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    }
    let data_dir = common::temp_data_dir();
    let server = Server::start(&data_dir, &[]).await;
    let client = server.connect("kafka").await;
    client
        .batch_execute(&format!(
            "CREATE SOURCE blobs FROM KAFKA (BROKER '{broker}', TOPIC '{topic}')
               FORMAT BYTES INCLUDE OFFSET AS o;
             CREATE STREAM blobs_ksql (payload BYTES)
               WITH (KAFKA_TOPIC = '{topic}', VALUE_FORMAT = 'KAFKA', BROKER = '{broker}');"
        ))
        .await
        .unwrap();
    let want: Vec<Vec<String>> = vec![
        vec![
            "0".into(),
            "\\x706c61696e".into(),
            "5".into(),
            "cGxhaW4=".into(),
        ],
        vec![
            "1".into(),
            "\\x00fffe5c".into(),
            "4".into(),
            "AP/+XA==".into(),
        ],
        vec!["2".into(), "\\x".into(), "0".into(), "".into()],
    ];
    let sql = "SELECT o, data, length(data), encode(data, 'base64') FROM blobs ORDER BY o";
    assert_eq!(until_rows(&client, sql, &want).await, want);
    // Binary results carry the bytes themselves.
    let got: Vec<Vec<u8>> = client
        .query("SELECT data FROM blobs ORDER BY o", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(got, values);
    let sql =
        "SELECT count(*) FROM blobs_ksql WHERE payload = '\\x00fffe5c'::bytea OR payload = 'plain'";
    assert_eq!(
        until_rows(&client, sql, &[vec!["2".into()]]).await,
        vec![vec!["2".to_string()]]
    );
    let err = client
        .batch_execute(&format!(
            "CREATE SOURCE bad (t text) FROM KAFKA (BROKER '{broker}', TOPIC '{topic}') FORMAT BYTES"
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42804", "{err}");
}

/// A schema registry speaking Confluent's REST API for the two calls Runnel makes, serving
/// `schemas` (id, text) with the last as the subject's latest. No registry installs here
/// (none is packaged for PyPI, npm, crates.io or Debian), so this stands in for one; it
/// answers as Confluent's documentation says a registry does.
async fn schema_registry(
    subject: String,
    schemas: Vec<(u32, String)>,
) -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Json;
    use serde_json::json;
    let schemas = std::sync::Arc::new(schemas);
    let not_found = |code: u32, what: &str| {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error_code": code, "message": format!("{what} not found")})),
        )
    };
    let latest = {
        let schemas = schemas.clone();
        move |Path(s): Path<String>| async move {
            let (id, text) = schemas.last().unwrap();
            if s != subject {
                return not_found(40401, "Subject");
            }
            let body = json!({"subject": s, "version": schemas.len(), "id": id, "schema": text});
            (StatusCode::OK, Json(body))
        }
    };
    let by_id = move |Path(id): Path<u32>| async move {
        match schemas.iter().find(|(i, _)| *i == id) {
            Some((_, text)) => (StatusCode::OK, Json(json!({"schema": text}))),
            None => not_found(40403, "Schema"),
        }
    };
    let app = axum::Router::new()
        .route("/subjects/{subject}/versions/latest", get(latest))
        .route("/schemas/ids/{id}", get(by_id));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, serving)
}

/// `AVRO USING CONFLUENT SCHEMA REGISTRY`: the columns come from the subject's latest schema;
/// each record is read with its writer's schema (fetched by the id it is framed with) resolved
/// to that one, so records of an older version get the new field's default; the schema is kept
/// in the catalog, so a restart does not need the registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_source_reads_schemas_from_a_registry() {
    use apache_avro::types::Value;
    let broker = broker();
    let topic = format!("members-{}", std::process::id());
    create_topic(&broker, &topic, 1).await;
    let v1 = r#"{"type": "record", "name": "member", "fields": [
        {"name": "id", "type": "long"}, {"name": "name", "type": "string"}]}"#;
    let v2 = r#"{"type": "record", "name": "member", "fields": [
        {"name": "id", "type": "long"}, {"name": "name", "type": "string"},
        {"name": "tier", "type": "string", "default": "basic"}]}"#;
    let (url, registry) = schema_registry(
        format!("{topic}-value"),
        vec![(1, v1.to_string()), (7, v2.to_string())],
    )
    .await;
    let framed = |id: u32, schema: &str, fields: Vec<(&str, Value)>| {
        let schema = apache_avro::Schema::parse_str(schema).unwrap();
        let fields = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let datum = apache_avro::to_avro_datum(&schema, Value::Record(fields)).unwrap();
        [&[0u8][..], &id.to_be_bytes(), &datum].concat()
    };
    let p = producer(&broker);
    let send = async |value: Vec<u8>| {
        p.send(
            FutureRecord::<(), [u8]>::to(&topic)
                .partition(0)
                .payload(&value),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    };
    send(framed(
        1,
        v1,
        vec![
            ("id", Value::Long(1)),
            ("name", Value::String("ada".into())),
        ],
    ))
    .await;
    send(framed(
        7,
        v2,
        vec![
            ("id", Value::Long(2)),
            ("name", Value::String("bo".into())),
            ("tier", Value::String("gold".into())),
        ],
    ))
    .await;
    send(b"not framed".to_vec()).await;
    send(framed(
        9,
        v1,
        vec![("id", Value::Long(3)), ("name", Value::String("cy".into()))],
    ))
    .await;
    let data_dir = common::temp_data_dir();
    let server = Server::start(&data_dir, &[]).await;
    let client = server.connect("kafka").await;
    let err = client
        .batch_execute(&format!(
            "CREATE SOURCE nope FROM KAFKA (BROKER '{broker}', TOPIC 'other')
               FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY '{url}'"
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "58000", "{err}");
    let message = err.as_db_error().unwrap().message();
    assert!(message.contains("Subject not found"), "{message}");
    client
        .batch_execute(&format!(
            "CREATE SOURCE members FROM KAFKA (BROKER '{broker}', TOPIC '{topic}')
               FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY '{url}'"
        ))
        .await
        .unwrap();
    let want: Vec<Vec<String>> = vec![
        vec!["1".into(), "ada".into(), "basic".into()],
        vec!["2".into(), "bo".into(), "gold".into()],
    ];
    let sql = "SELECT id, name, tier FROM members ORDER BY id";
    assert_eq!(until_rows(&client, sql, &want).await, want);
    // The unframed record and the one of an unknown schema id are bad records, counted.
    let deadline = Instant::now() + Duration::from_secs(30);
    let reasons: Vec<String> = loop {
        let reasons: Vec<String> = client
            .query(
                "SELECT reason FROM runnel_catalog.source_errors ORDER BY \"offset\"",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        if reasons.len() >= 2 || Instant::now() > deadline {
            break reasons;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("not a Confluent-framed"), "{reasons:?}");
    assert!(
        reasons[1].contains("40403") || reasons[1].contains("Schema not found"),
        "{reasons:?}"
    );
    // Restarted with the registry gone: the source and its rows are as before.
    registry.abort();
    server.kill();
    let server = Server::start(&data_dir, &[]).await;
    let client = server.connect("kafka").await;
    assert_eq!(until_rows(&client, sql, &want).await, want);
}
