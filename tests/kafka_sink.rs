//! Kafka sinks against a real broker (`RUNNEL_TEST_KAFKA`; `bin/test` starts Tansu): a table and
//! a grouped view written out as upserts and Debezium events, a SIGKILL while writing, and the
//! topics read back and folded.

mod common;

use std::time::{Duration, Instant};

use common::kafka::broker;
use common::Process as Server;
use rdkafka::ClientConfig;
use tokio_postgres::Client;

/// A record as read: time, key, value (none: a tombstone).
type Raw = (i64, Vec<u8>, Option<Vec<u8>>);

/// Every record of `topic` (partition 0) as (time, key, value) in UTF-8, read until `done` says
/// the fold is complete or a minute passes.
fn read_topic<T>(
    broker: &str,
    topic: &str,
    mut done: impl FnMut(&[(i64, String, Option<String>)]) -> Option<T>,
) -> Result<T, Vec<(i64, String, Option<String>)>> {
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    let as_text = |records: &[Raw]| -> Vec<(i64, String, Option<String>)> {
        records
            .iter()
            .map(|(t, k, v)| (*t, text(k), v.as_deref().map(text)))
            .collect()
    };
    read_raw(broker, topic, |records| done(&as_text(records))).map_err(|r| as_text(&r))
}

/// Every record of `topic` (partition 0) as bytes, read until `done` says the fold is complete
/// or a minute passes.
fn read_raw<T>(
    broker: &str,
    topic: &str,
    mut done: impl FnMut(&[Raw]) -> Option<T>,
) -> Result<T, Vec<Raw>> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("group.id", "runnel-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut records = vec![];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(t) = done(&records) {
            return Ok(t);
        }
        if Instant::now() > deadline {
            return Err(records);
        }
        while let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            records.push((
                m.timestamp().to_millis().unwrap(),
                m.key().unwrap_or_default().to_vec(),
                m.payload().map(<[u8]>::to_vec),
            ));
        }
    }
}

/// Every record in `topic` now: read until none has come for two seconds.
fn read_all_now(broker: &str, topic: &str) -> Vec<(i64, String, Option<String>)> {
    let (mut seen, mut since) = (0, Instant::now());
    read_topic(broker, topic, |records| {
        if records.len() != seen {
            (seen, since) = (records.len(), Instant::now());
        }
        (since.elapsed() > Duration::from_secs(2)).then(|| records.to_vec())
    })
    .unwrap_or_else(|r| r)
}

/// Where the server logged its sink `name` started: after a time, or (`Some(None)`) from a
/// snapshot; None until it has said.
fn resumed_after(log: &str, name: &str) -> Option<Option<i64>> {
    let sink = format!("sink kafka.public.{name} ");
    let line = log
        .lines()
        .find(|l| l.contains(&sink) && !l.contains("writes to topic"))?;
    let Some(at) = line.find(" resumes after time ") else {
        return Some(None);
    };
    let rest = &line[at + " resumes after time ".len()..];
    Some(rest.split(',').next().and_then(|t| t.parse().ok()))
}

/// The records a consumer keeps after a sink resumed after time `t`: of those the crashed run
/// wrote (the first `boundary`), the ones of completed times (up to `t`); then all the new
/// run's, which must all be of later times (no completed time is written twice).
fn after_resume(
    records: &[(i64, String, Option<String>)],
    boundary: usize,
    t: Option<i64>,
) -> Vec<(i64, String, Option<String>)> {
    let t = t.unwrap_or(i64::MIN);
    let (old, new) = records.split_at(boundary.min(records.len()));
    for r in new {
        assert!(
            r.0 > t,
            "a completed time ({} <= {t}) was written again",
            r.0
        );
    }
    old.iter()
        .filter(|r| r.0 <= t)
        .chain(new)
        .cloned()
        .collect()
}

/// A table changed at random by SQL, written out by an upsert sink (of the table) and a
/// Debezium sink (of a grouped view), with a SIGKILL while changes flow: folding each topic
/// gives back exactly what Runnel holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_write_every_change_and_resume_after_sigkill() {
    use rand::{Rng, SeedableRng};
    let broker = broker();
    let run = std::process::id();
    let (rows_topic, counts_topic) = (format!("rows-{run}"), format!("counts-{run}"));
    let data_dir = common::temp_data_dir();
    let server = Server::start(&data_dir, &[]).await;
    let client = server.connect("kafka").await;
    client
        .batch_execute(&format!(
            "CREATE TABLE customers (id int NOT NULL, status text);
             CREATE MATERIALIZED VIEW by_status AS
               SELECT status, count(*) AS n FROM customers GROUP BY status;
             CREATE SINK rows_out FROM customers
               INTO KAFKA (BROKER '{broker}', TOPIC '{rows_topic}') KEY (id)
               FORMAT JSON ENVELOPE UPSERT;
             CREATE SINK counts_out FROM by_status
               INTO KAFKA (BROKER '{broker}', TOPIC '{counts_topic}') KEY (status)
               FORMAT JSON ENVELOPE DEBEZIUM;"
        ))
        .await
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let change = async |client: &Client, rng: &mut rand::rngs::StdRng| {
        let id = rng.random_range(0..20);
        let status = ["bronze", "silver", "gold"][rng.random_range(0..3)];
        client
            .batch_execute(&format!(
                "DELETE FROM customers WHERE id = {id}; {}",
                if rng.random_bool(0.7) {
                    format!("INSERT INTO customers VALUES ({id}, '{status}')")
                } else {
                    String::new()
                }
            ))
            .await
    };
    for _ in 0..100 {
        change(&client, &mut rng).await.unwrap();
    }
    // Both sinks have written and recorded progress...
    let deadline = Instant::now() + Duration::from_secs(60);
    while client
        .query("SHOW SINKS", &[])
        .await
        .unwrap()
        .iter()
        .any(|r| r.get::<_, Option<i64>>("complete_through").is_none())
    {
        assert!(Instant::now() < deadline, "the sinks record no progress");
        change(&client, &mut rng).await.unwrap();
    }
    // ... and are killed while changes are still being written out.
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        server.kill();
    });
    // Until the server is gone (a change it did not acknowledge may or may not be there).
    while change(&client, &mut rng).await.is_ok() {}
    killer.await.unwrap();
    // What the crashed server wrote, up to where the restarted one appends.
    let old_rows = read_all_now(&broker, &rows_topic).len();
    let old_counts = read_all_now(&broker, &counts_topic).len();
    eprintln!(
        "DEBUG old rows {old_rows} counts {old_counts} progress {}",
        read_all_now(&broker, &format!("{counts_topic}-progress")).len()
    );
    let server = Server::start(&data_dir, &[]).await;
    let client = server.connect("kafka").await;
    for _ in 0..100 {
        change(&client, &mut rng).await.unwrap();
    }

    let text_rows = |rows: Vec<tokio_postgres::Row>| -> std::collections::BTreeMap<String, String> {
        rows.iter()
            .map(|r| (r.get::<_, i32>(0).to_string(), r.get::<_, String>(1)))
            .collect()
    };
    let table = text_rows(
        client
            .query("SELECT id, status FROM customers", &[])
            .await
            .unwrap(),
    );
    // The sinks say where they resumed once they have read their progress topics.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (rows_after, counts_after) = loop {
        let log = server.output();
        let found = (
            resumed_after(&log, "rows_out"),
            resumed_after(&log, "counts_out"),
        );
        if let (Some(rows), Some(counts)) = found {
            break (rows, counts);
        }
        assert!(
            Instant::now() < deadline,
            "the sinks did not resume:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let folded = read_topic(&broker, &rows_topic, |records| {
        let mut state = std::collections::BTreeMap::new();
        for (_, key, value) in &after_resume(records, old_rows, rows_after) {
            let key: serde_json::Value = serde_json::from_str(key).unwrap();
            let id = key["id"].to_string();
            match value {
                Some(v) => {
                    let v: serde_json::Value = serde_json::from_str(v).unwrap();
                    state.insert(id, v["status"].as_str().unwrap().to_string())
                }
                None => state.remove(&id),
            };
        }
        (state == table).then_some(())
    });
    assert!(
        folded.is_ok(),
        "the upsert topic does not fold to the table {table:?}"
    );

    let counts: std::collections::BTreeMap<String, i64> = client
        .query("SELECT status, n FROM by_status", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let folded = read_topic(&broker, &counts_topic, |records| {
        let mut state: std::collections::BTreeMap<String, i64> = Default::default();
        for (_, _, value) in &after_resume(records, old_counts, counts_after) {
            let event: serde_json::Value = serde_json::from_str(value.as_deref()?).unwrap();
            if event["before"].is_object() {
                state.remove(event["before"]["status"].as_str().unwrap());
            }
            if event["after"].is_object() {
                let after = &event["after"];
                state.insert(
                    after["status"].as_str().unwrap().into(),
                    after["n"].as_i64().unwrap(),
                );
            }
        }
        (state == counts).then_some(())
    });
    if let Err(records) = folded {
        panic!("the Debezium topic does not fold to {counts:?}: {records:?}");
    }
    let shown = client.query("SHOW SINKS", &[]).await.unwrap();
    let states: Vec<(String, String)> = shown
        .iter()
        .map(|r| (r.get("name"), r.get("state")))
        .collect();
    assert_eq!(
        states,
        vec![
            ("counts_out".into(), "running".into()),
            ("rows_out".into(), "running".into())
        ]
    );
    // The view a sink reads cannot go while the sink is there.
    let e = client
        .batch_execute("DROP MATERIALIZED VIEW by_status")
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "2BP01");
    client.batch_execute("DROP SINK counts_out").await.unwrap();
    client
        .batch_execute("DROP MATERIALIZED VIEW by_status")
        .await
        .unwrap();
}

/// An upsert topic of counts folded into each key's latest `n` (`name` names a JSON key).
fn fold_counts(
    records: &[(i64, String, Option<String>)],
    name: impl Fn(&serde_json::Value) -> String,
) -> std::collections::BTreeMap<String, i64> {
    let mut state = std::collections::BTreeMap::new();
    for (_, key, value) in records {
        let key = name(&serde_json::from_str(key).unwrap());
        match value {
            Some(v) => {
                let v: serde_json::Value = serde_json::from_str(v).unwrap();
                state.insert(key, v["n"].as_i64().unwrap())
            }
            None => state.remove(&key),
        };
    }
    state
}

/// ksqlDB's persistent queries into topics, written verbatim: `CREATE STREAM ... WITH
/// (KAFKA_TOPIC = ...) AS SELECT` writes each row of the stream, `CREATE TABLE ... AS SELECT`
/// a changelog keyed by its GROUP BY columns; each topic, folded, is the view, also after a
/// restart and further changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ksql_persistent_queries_write_their_topics() {
    let broker = broker();
    let run = std::process::id();
    let (poor_topic, counts_topic) = (format!("poor-{run}"), format!("per-channel-{run}"));
    let minutes_topic = format!("per-minute-{run}");
    let data_dir = common::temp_data_dir();
    let args = ["--kafka-broker", broker.as_str()];
    let server = Server::start(&data_dir, &args).await;
    let client = server.connect("ksql").await;
    client
        .batch_execute(&format!(
            "CREATE TABLE ratings (rating_id int, channel text, stars int, ts timestamp)
               WITH (TIMESTAMP = 'ts');
             CREATE STREAM poor_ratings WITH (KAFKA_TOPIC='{poor_topic}', VALUE_FORMAT='JSON', PARTITIONS=1) AS
               SELECT rating_id, channel, stars FROM ratings WHERE stars < 3 EMIT CHANGES;
             CREATE TABLE per_channel WITH (KAFKA_TOPIC='{counts_topic}', KEY_FORMAT='JSON') AS
               SELECT channel, COUNT(*) AS n FROM ratings GROUP BY channel EMIT CHANGES;
             CREATE TABLE per_minute WITH (KAFKA_TOPIC='{minutes_topic}') AS
               SELECT channel, COUNT(*) AS n FROM ratings
               WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY channel EMIT CHANGES;"
        ))
        .await
        .unwrap();
    let rate = async |client: &Client, from: i32, to: i32| {
        for id in from..to {
            let channel = ["web", "ios", "android"][id as usize % 3];
            client
                .batch_execute(&format!(
                    "INSERT INTO ratings VALUES ({id}, '{channel}', {}, \
                     TIMESTAMP '2026-01-01 00:00:00' + INTERVAL '{}' SECOND)",
                    id % 5,
                    id * 13
                ))
                .await
                .unwrap();
        }
    };
    rate(&client, 0, 30).await;
    drop(client);
    drop(server);
    let server = Server::start(&data_dir, &args).await;
    let client = server.connect("ksql").await;
    rate(&client, 30, 45).await;
    client
        .batch_execute("DELETE FROM ratings WHERE channel = 'web'")
        .await
        .unwrap();

    // The stream's topic holds each poor rating (the deleted ones as tombstones of theirs).
    let poor: std::collections::BTreeSet<String> = client
        .query("SELECT rating_id, channel, stars FROM poor_ratings", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::json!({"rating_id": r.get::<_, i32>(0), "channel": r.get::<_, String>(1), "stars": r.get::<_, i32>(2)})
                .to_string()
        })
        .collect();
    assert!(poor.len() > 10, "{poor:?}");
    let folded = read_topic(&broker, &poor_topic, |records| {
        let mut state = std::collections::BTreeMap::new();
        for (_, key, value) in records {
            match value {
                Some(v) => state.insert(key.clone(), v.clone()),
                None => state.remove(key),
            };
        }
        let rows: std::collections::BTreeSet<String> = state
            .values()
            .map(|v| {
                serde_json::from_str::<serde_json::Value>(v)
                    .unwrap()
                    .to_string()
            })
            .collect();
        (rows == poor).then_some(())
    });
    if let Err(records) = folded {
        panic!("the stream's topic does not fold to {poor:?}: {records:?}");
    }

    // The table's topic is keyed by channel: the latest value per key is the view.
    let counts: std::collections::BTreeMap<String, i64> = client
        .query("SELECT channel, n FROM per_channel", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(counts.len(), 2, "{counts:?}");
    let folded = read_topic(&broker, &counts_topic, |records| {
        (fold_counts(records, |key| key["channel"].as_str().unwrap().to_string()) == counts)
            .then_some(())
    });
    if let Err(records) = folded {
        panic!("the table's topic does not fold to {counts:?}: {records:?}");
    }
    // A windowed table's key is its grouping and its window.
    let minutes: std::collections::BTreeMap<String, i64> = client
        .query(
            "SELECT channel || ' ' || windowstart::text, n FROM per_minute",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(minutes.len() > 10, "{minutes:?}");
    let folded = read_topic(&broker, &minutes_topic, |records| {
        let window = |key: &serde_json::Value| {
            let start = key["windowstart"].as_str().unwrap().replace('T', " ");
            format!("{} {start}", key["channel"].as_str().unwrap())
        };
        (fold_counts(records, window) == minutes).then_some(())
    });
    if let Err(records) = folded {
        panic!("the windowed table's topic does not fold to {minutes:?}: {records:?}");
    }
    let mut sinks: Vec<String> = client
        .query("SHOW SINKS", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("name"))
        .collect();
    sinks.sort();
    assert_eq!(
        sinks,
        ["per_channel_sink", "per_minute_sink", "poor_ratings_sink"]
    );
}

/// `FORMAT AVRO` sinks: a grouped view written as Avro upserts (folded here with the key and
/// value schemas `SHOW SINKS` publishes) and as Avro Debezium events (read back by an Avro
/// Debezium source): both equal the view after inserts, updates and deletes that make groups
/// vanish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_sinks_round_trip() {
    use apache_avro::types::Value;
    let broker = broker();
    let run = std::process::id();
    let (upsert_topic, dbz_topic) = (format!("owners-avro-{run}"), format!("owners-dbz-{run}"));
    let data_dir = common::temp_data_dir();
    let server = Server::start(&data_dir, &[]).await;
    let client = server.connect("kafka").await;
    client
        .batch_execute(&format!(
            "CREATE TABLE accounts (id int, owner text, balance numeric, photo bytea);
             CREATE MATERIALIZED VIEW by_owner AS
               SELECT owner, count(*) AS n, sum(balance) AS total, max(photo) AS photo
               FROM accounts GROUP BY owner;
             INSERT INTO accounts VALUES (1, 'ada', 10.5, '\\x01'), (2, 'bo', 3, NULL), (3, 'ada', 1, '\\xff00');
             CREATE SINK owners_avro FROM by_owner INTO KAFKA (BROKER '{broker}', TOPIC '{upsert_topic}')
               KEY (owner) FORMAT AVRO ENVELOPE UPSERT;
             CREATE SINK owners_dbz FROM by_owner INTO KAFKA (BROKER '{broker}', TOPIC '{dbz_topic}')
               KEY (owner) FORMAT AVRO ENVELOPE DEBEZIUM;
             UPDATE accounts SET balance = balance + 1 WHERE owner = 'ada';
             DELETE FROM accounts WHERE owner = 'bo';
             INSERT INTO accounts VALUES (4, 'cy', 0.25, '');"
        ))
        .await
        .unwrap();
    let sinks = client.query("SHOW SINKS", &[]).await.unwrap();
    let schema = |name: &str, column: &str| -> String {
        let row = sinks
            .iter()
            .find(|r| r.get::<_, String>("name") == name)
            .unwrap();
        assert_eq!(row.get::<_, String>("format"), "avro");
        row.get(column)
    };
    let key_schema = apache_avro::Schema::parse_str(&schema("owners_avro", "key_schema")).unwrap();
    let value_schema =
        apache_avro::Schema::parse_str(&schema("owners_avro", "value_schema")).unwrap();
    let want = common::kafka::rows(
        &client,
        "SELECT owner, n, total, photo FROM by_owner ORDER BY owner",
    )
    .await;
    assert_eq!(want.len(), 2, "{want:?}");
    // The upsert topic, folded by key: each key's latest value, a tombstone removing it.
    let text = |v: &Value| -> String {
        match v {
            Value::Union(_, inner) => match &**inner {
                Value::Null => "NULL".into(),
                other => text_of(other),
            },
            other => text_of(other),
        }
    };
    fn text_of(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Long(i) => i.to_string(),
            Value::Bytes(b) => format!(
                "\\x{}",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            ),
            other => format!("{other:?}"),
        }
    }
    let fold = |records: &[Raw]| -> Vec<Vec<String>> {
        let mut state = std::collections::BTreeMap::new();
        for (_, key, value) in records {
            let Value::Record(key) =
                apache_avro::from_avro_datum(&key_schema, &mut &key[..], None).unwrap()
            else {
                panic!("a key is a record")
            };
            let owner = text(&key[0].1);
            match value {
                Some(v) => {
                    let Value::Record(fields) =
                        apache_avro::from_avro_datum(&value_schema, &mut &v[..], None).unwrap()
                    else {
                        panic!("a value is a record")
                    };
                    state.insert(owner, fields.iter().map(|(_, v)| text(v)).collect());
                }
                None => {
                    state.remove(&owner);
                }
            }
        }
        state.into_values().collect()
    };
    let folded = read_raw(&broker, &upsert_topic, |records| {
        let f = fold(records);
        (f == want).then_some(f)
    });
    assert_eq!(folded.map_err(|r| fold(&r)), Ok(want.clone()));
    // The Debezium topic, read back by Runnel itself with the envelope's schema.
    client
        .batch_execute(&format!(
            "CREATE SOURCE owners_back (owner text, n bigint, total numeric, photo bytea, PRIMARY KEY (owner))
               FROM KAFKA (BROKER '{broker}', TOPIC '{dbz_topic}')
               FORMAT AVRO USING SCHEMA '{}' ENVELOPE DEBEZIUM",
            schema("owners_dbz", "value_schema")
        ))
        .await
        .unwrap();
    let sql = "SELECT owner, n, total, photo FROM owners_back ORDER BY owner";
    assert_eq!(common::kafka::until_rows(&client, sql, &want).await, want);
    // A further change flows through both.
    client
        .batch_execute(
            "DELETE FROM accounts WHERE id = 4; INSERT INTO accounts VALUES (5, 'ada', 7, NULL)",
        )
        .await
        .unwrap();
    let want = common::kafka::rows(
        &client,
        "SELECT owner, n, total, photo FROM by_owner ORDER BY owner",
    )
    .await;
    assert_eq!(want.len(), 1, "{want:?}");
    assert_eq!(common::kafka::until_rows(&client, sql, &want).await, want);
    let folded = read_raw(&broker, &upsert_topic, |records| {
        let f = fold(records);
        (f == want).then_some(f)
    });
    assert_eq!(folded.map_err(|r| fold(&r)), Ok(want));
}
