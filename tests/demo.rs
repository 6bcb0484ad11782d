//! The demo pipeline (`sql/demo/`) end to end, in both dialects, fed by the built-in generators
//! and through Kafka: once the generators are done (every customer update and delete
//! included), each view must equal PostgreSQL's evaluation of the same definition over the
//! generated rows, and the same seed must give the same rows on every path.
//!
//! Needs `RUNNEL_TEST_PG` and `RUNNEL_TEST_KAFKA`; `bin/test` starts both.

mod common;

use std::time::{Duration, Instant};

use tokio_postgres::Client;

const PIPELINE: &str = include_str!("../sql/demo/pipeline.sql");
const PIPELINE_KSQL: &str = include_str!("../sql/demo/pipeline-ksql.sql");
const SOURCES_GENERATOR: &str = include_str!("../sql/demo/sources-generator.sql");
const SOURCES_KAFKA: &str = include_str!("../sql/demo/sources-kafka.sql");

const SEED: u64 = 2026;
const RATE: u64 = 100;
const EVENTS: u64 = 4_000;
const CUSTOMERS: u64 = 40;
const CARDS: u64 = 100;

/// The generated data: what the generators and `runnel produce` are given.
struct Data {
    /// Event 0 happens here (30 s ago: most events are caught up at once, the rest live).
    start: String,
}

impl Data {
    fn new() -> Data {
        let start = chrono::Utc::now() - chrono::Duration::seconds(30);
        Data {
            start: start.format("%Y-%m-%d %H:%M:%S%.3f+00").to_string(),
        }
    }

    fn options(&self, population: Option<(&str, u64)>) -> String {
        let mut o = format!(
            "RATE {RATE}, SEED {SEED}, START TIME '{}', UP TO {EVENTS}",
            self.start
        );
        if let Some((word, n)) = population {
            o.push_str(&format!(", {word} {n}"));
        }
        o
    }

    /// `sources-generator.sql`'s statements with this data's options.
    fn generator_sources(&self) -> String {
        format!(
            "CREATE SOURCE demo FROM LOAD GENERATOR RATINGS ({}) FOR ALL TABLES;
             CREATE SOURCE authorizations FROM LOAD GENERATOR AUTHORIZATIONS ({});
             CREATE SOURCE syslog FROM LOAD GENERATOR SYSLOG ({});",
            self.options(Some(("CUSTOMERS", CUSTOMERS))),
            self.options(Some(("CARDS", CARDS))),
            self.options(None),
        )
    }

    /// `runnel produce` for each generator into topics named with `prefix`; waits until done.
    fn produce(&self, broker: &str, prefix: &str) {
        let children: Vec<_> = [
            ("ratings", CUSTOMERS),
            ("authorizations", CARDS),
            ("syslog", 0),
        ]
        .into_iter()
        .map(|(generator, population)| {
            std::process::Command::new(env!("CARGO_BIN_EXE_runnel"))
                .args(["produce", generator, "--broker", broker])
                .args(["--rate", &RATE.to_string(), "--seed", &SEED.to_string()])
                .args(["--start-time", &self.start, "--up-to", &EVENTS.to_string()])
                .args(["--population", &population.max(1).to_string()])
                .args(["--topic-prefix", prefix])
                .env("RUNNEL_LOG", "warn")
                .spawn()
                .expect("runnel produce starts")
        })
        .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success(), "runnel produce failed");
        }
    }
}

/// The rows of `sql` as text, null as `NULL`, sorted.
async fn rows(client: &Client, sql: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = common::text_rows(client, sql)
        .await
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect();
    out.sort();
    out
}

/// Waits until `sql` (one count) returns `want`.
async fn until_count(client: &Client, sql: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = rows(client, sql).await;
        if got == [[want.to_string()]] {
            return;
        }
        assert!(Instant::now() < deadline, "{sql}: {got:?}, want {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until every source of the connection's database has emitted all its events.
async fn until_generators_finish(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let sources = rows(client, "SHOW SOURCES").await;
        if sources.iter().all(|s| s[5] == "finished") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "generators not done: {sources:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const INPUTS: [(&str, &str); 4] = [
    (
        "ratings",
        "rating_id bigint, user_id int, stars int, route_id int, rating_time timestamp, channel text, message text",
    ),
    (
        "customers",
        "id int, first_name text, last_name text, email text, gender text, club_status text, comments text",
    ),
    (
        "authorizations",
        "auth_id bigint, card_number text, merchant text, amount numeric, success boolean, auth_time timestamp",
    ),
    (
        "syslog",
        "ts timestamp, host text, app text, pid int, severity text, message text",
    ),
];

/// Each view of the pipeline as PostgreSQL computes it: the same definitions, with the window
/// functions written out (`date_bin`).
const ORACLE: [(&str, &str); 6] = [
    ("poor_ratings", "SELECT * FROM ratings WHERE stars < 3"),
    (
        "ratings_with_customer_data",
        "SELECT r.rating_id, r.rating_time, r.stars, r.channel, r.message, c.id, c.first_name || ' ' || c.last_name, c.club_status, c.email
         FROM ratings r JOIN customers c ON r.user_id = c.id",
    ),
    (
        "unhappy_platinum_customers",
        "SELECT c.first_name || ' ' || c.last_name, c.club_status, c.email, r.stars, r.message, r.rating_time
         FROM ratings r JOIN customers c ON r.user_id = c.id
         WHERE r.stars < 3 AND c.club_status = 'platinum'",
    ),
    (
        "ratings_by_club_status_1min",
        "SELECT date_bin('1 minute', r.rating_time, 'epoch'), date_bin('1 minute', r.rating_time, 'epoch') + interval '1 minute', c.club_status, count(*)
         FROM ratings r JOIN customers c ON r.user_id = c.id GROUP BY 1, 2, 3",
    ),
    (
        "fraud_alerts",
        "SELECT card_number, date_bin('5 seconds', auth_time, 'epoch'), date_bin('5 seconds', auth_time, 'epoch') + interval '5 seconds', count(*)
         FROM authorizations GROUP BY 1, 2, 3 HAVING count(*) > 3",
    ),
    (
        "invalid_users",
        "SELECT ts, host, message FROM syslog WHERE message LIKE '%Invalid user%'",
    ),
];

async fn postgres() -> Client {
    let Ok(conn) = std::env::var("RUNNEL_TEST_PG") else {
        panic!("RUNNEL_TEST_PG is not set: run the suite with bin/test, which starts PostgreSQL as the oracle");
    };
    let (pg, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    pg
}

/// The inputs as Runnel holds them, by relation.
async fn inputs(rn: &Client) -> Vec<Vec<Vec<String>>> {
    let mut out = vec![];
    for (name, _) in INPUTS {
        out.push(rows(rn, &format!("SELECT * FROM {name}")).await);
    }
    out
}

/// Checks that two databases hold the same inputs.
async fn same_inputs(a: &Client, b: &Client) {
    let names: Vec<&str> = INPUTS.iter().map(|(n, _)| *n).collect();
    same_inputs_of(a, b, &names).await;
}

/// Checks that two databases hold the same rows in relations `names`.
async fn same_inputs_of(a: &Client, b: &Client, names: &[&str]) {
    for name in names {
        let sql = format!("SELECT * FROM {name}");
        let (x, y) = (rows(a, &sql).await, rows(b, &sql).await);
        let only_a: Vec<_> = x.iter().filter(|r| !y.contains(r)).take(3).collect();
        let only_b: Vec<_> = y.iter().filter(|r| !x.contains(r)).take(3).collect();
        assert!(
            only_a.is_empty() && only_b.is_empty(),
            "{name} has {} and {} rows; only in the first: {only_a:?}; only in the second: {only_b:?}",
            x.len(),
            y.len()
        );
    }
}

/// Creates table `name` in PostgreSQL and loads `data` (text values) into it.
async fn load(pg: &Client, name: &str, columns: &str, data: &[Vec<String>]) {
    let names: Vec<&str> = columns
        .split(", ")
        .map(|c| c.split(' ').next().unwrap())
        .collect();
    let json: Vec<serde_json::Value> = data
        .iter()
        .map(|row| {
            serde_json::Value::Object(
                names
                    .iter()
                    .zip(row)
                    .map(|(n, v)| (n.to_string(), serde_json::Value::String(v.clone())))
                    .collect(),
            )
        })
        .collect();
    pg.batch_execute(&format!("CREATE TABLE {name} ({columns})"))
        .await
        .unwrap();
    pg.execute(
        &format!("INSERT INTO {name} SELECT * FROM json_populate_recordset(NULL::{name}, $1::text::json)"),
        &[&serde_json::Value::Array(json).to_string()],
    )
    .await
    .unwrap();
}

/// The join of the relational oracles, and what it is in ksqlDB's form, where a stream row
/// joins the customer as it was when the rating arrived (each input's changes with their
/// times: `History`).
const JOIN: &str = "FROM ratings r JOIN customers c ON r.user_id = c.id";
const JOIN_AS_OF_ARRIVAL: &str = "FROM ratings_at r JOIN LATERAL (
      SELECT id, first_name, last_name, email, gender, club_status, comments
      FROM customer_changes h WHERE h.id = r.user_id AND h.mz_ts <= r.mz_ts
      GROUP BY id, first_name, last_name, email, gender, club_status, comments
      HAVING sum(diff) > 0) c ON true";

/// Each input's changes, `[time, diff, columns...]`, from subscriptions opened before the data.
struct History {
    ratings: Vec<Vec<String>>,
    customers: Vec<Vec<String>>,
}

/// A subscription to `relation` from its first time, as cursor `h` of a connection of its own.
async fn subscribe_from_creation(server: &common::TestServer, db: &str, relation: &str) -> Client {
    let client = server.connect(db).await;
    // Time 1 is before the relation was created; the error says when it was.
    let declare = |t: u64| format!("BEGIN; DECLARE h CURSOR FOR SUBSCRIBE {relation} AS OF {t}");
    let err = client.batch_execute(&declare(1)).await.unwrap_err();
    let message = err.as_db_error().expect("a database error").message();
    let created: u64 = message
        .split("can be read from ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no creation time in: {message}"));
    client.batch_execute("ROLLBACK").await.unwrap();
    client.batch_execute(&declare(created)).await.unwrap();
    client
}

/// The subscription's changes until they add up to `relation`'s contents.
async fn changes_until(sub: &Client, rn: &Client, relation: &str) -> Vec<Vec<String>> {
    let want = rows(rn, &format!("SELECT * FROM {relation}")).await;
    let mut changes: Vec<Vec<String>> = vec![];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let fetched = common::text_rows(sub, "FETCH ALL h WITH (timeout = '0.5s')").await;
        changes.extend(fetched.into_iter().map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect()
        }));
        let mut sum: std::collections::BTreeMap<&[String], i64> = Default::default();
        for c in &changes {
            *sum.entry(&c[2..]).or_default() += c[1].parse::<i64>().unwrap();
        }
        let got: Vec<Vec<String>> = sum
            .into_iter()
            .flat_map(|(r, n)| std::iter::repeat_n(r.to_vec(), n.max(0) as usize))
            .collect();
        if got == want {
            return changes;
        }
        assert!(
            Instant::now() < deadline,
            "the changes of {relation} never added up to it"
        );
    }
}

/// Loads Runnel's inputs into PostgreSQL (schema `schema`) and checks every view against
/// PostgreSQL's evaluation; with `history`, joins are ksqlDB's stream-table joins.
async fn check_views(rn: &Client, pg: &Client, schema: &str, history: Option<&History>) {
    pg.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path = {schema}"
    ))
    .await
    .unwrap();
    for ((name, columns), data) in INPUTS.iter().zip(inputs(rn).await) {
        load(pg, name, columns, &data).await;
    }
    if let Some(h) = history {
        let joins = ORACLE.iter().filter(|(_, o)| o.contains(JOIN)).count();
        assert_eq!(joins, 3, "the oracles' join is spelled as JOIN");
        let timed = |columns: &str| format!("mz_ts bigint, diff bigint, {columns}");
        load(pg, "ratings_at", &timed(INPUTS[0].1), &h.ratings).await;
        load(pg, "customer_changes", &timed(INPUTS[1].1), &h.customers).await;
    }
    for (view, oracle) in ORACLE {
        let got = rows(rn, &format!("SELECT * FROM {view}")).await;
        let oracle = match history {
            Some(_) => oracle.replace(JOIN, JOIN_AS_OF_ARRIVAL),
            None => oracle.to_string(),
        };
        let want = rows(pg, &oracle).await;
        assert!(
            !want.is_empty(),
            "{view}: the generated data should produce rows"
        );
        assert_eq!(got, want, "{view} differs from PostgreSQL's evaluation");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_pipeline_in_both_dialects_matches_postgres() {
    let pg = postgres().await;
    let server = common::TestServer::start(2);
    let data = Data::new();
    let (sql, ksql) = (
        server.connect("sql_form").await,
        server.connect("ksql_form").await,
    );
    for (client, pipeline) in [(&sql, PIPELINE), (&ksql, PIPELINE_KSQL)] {
        client
            .batch_execute(&data.generator_sources())
            .await
            .unwrap();
        client.batch_execute(pipeline).await.unwrap();
    }
    // ksqlDB's form joins each rating to its customer as of the rating's arrival: the oracle
    // needs each input's changes with their times, from the first one.
    let ratings_sub = subscribe_from_creation(&server, "ksql_form", "ratings").await;
    let customers_sub = subscribe_from_creation(&server, "ksql_form", "customers").await;
    // The files as shipped (live, unseeded) create and fill the same relations.
    let shipped = server.connect("shipped").await;
    shipped.batch_execute(SOURCES_GENERATOR).await.unwrap();
    shipped.batch_execute(PIPELINE).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while rows(&shipped, "SELECT * FROM ratings_with_customer_data LIMIT 1")
        .await
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the shipped pipeline shows no ratings"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    until_generators_finish(&sql).await;
    until_generators_finish(&ksql).await;
    let customers = rows(&sql, "SELECT * FROM customers").await;
    assert!(
        customers.len() < CUSTOMERS as usize,
        "some customers were deleted"
    );
    assert_eq!(
        rows(&sql, "SELECT * FROM demo").await,
        vec![
            vec![
                "customers".to_string(),
                (CUSTOMERS + EVENTS / 10).to_string()
            ],
            vec!["ratings".to_string(), EVENTS.to_string()],
        ]
    );
    // The same seed, the same data.
    same_inputs(&sql, &ksql).await;
    check_views(&sql, &pg, "demo_sql_form", None).await;
    let history = History {
        ratings: changes_until(&ratings_sub, &ksql, "ratings").await,
        customers: changes_until(&customers_sub, &ksql, "customers").await,
    };
    check_views(&ksql, &pg, "demo_ksql_form", Some(&history)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_pipeline_through_kafka_matches_the_generators() {
    let broker = common::kafka::broker();
    let pg = postgres().await;
    let server = common::TestServer::start(2);
    let data = Data::new();
    let prefix = format!("demo{}-", std::process::id());
    let producing = {
        let (data, broker, prefix) = (
            Data {
                start: data.start.clone(),
            },
            broker.clone(),
            prefix.clone(),
        );
        std::thread::spawn(move || data.produce(&broker, &prefix))
    };
    let embedded = server.connect("embedded").await;
    embedded
        .batch_execute(&data.generator_sources())
        .await
        .unwrap();
    embedded.batch_execute(PIPELINE).await.unwrap();
    let kafka = server.connect("kafka").await;
    let sources = SOURCES_KAFKA
        .replace("KAFKA_TOPIC = '", &format!("KAFKA_TOPIC = '{prefix}"))
        .replace("TOPIC 'customers'", &format!("TOPIC '{prefix}customers'"));
    producing.join().expect("the producers finish");
    kafka.batch_execute(&sources).await.unwrap();
    kafka.batch_execute(PIPELINE).await.unwrap();

    until_generators_finish(&embedded).await;
    for name in ["ratings", "authorizations", "syslog"] {
        until_count(&kafka, &format!("SELECT count(*) FROM {name}"), EVENTS).await;
    }
    let want_customers = rows(&embedded, "SELECT * FROM customers").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while rows(&kafka, "SELECT * FROM customers").await != want_customers {
        assert!(
            Instant::now() < deadline,
            "the customers change feed did not converge"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Kafka carries the seed's data.
    same_inputs(&kafka, &embedded).await;
    check_views(&kafka, &pg, "demo_kafka", None).await;
}

/// `demo/run --check` (and `--kafka --check`): the script a newcomer runs sets everything up
/// and the views fill.
#[test]
fn demo_script_runs_embedded_and_through_kafka() {
    for args in [&["--check"][..], &["--kafka", "--check"]] {
        let free_port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let out = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/demo/run"))
            .args(args)
            .env("RUNNEL_BIN", env!("CARGO_BIN_EXE_runnel"))
            .env("RUNNEL_DEMO_PORT", free_port().to_string())
            .env("RUNNEL_DEMO_HTTP_PORT", free_port().to_string())
            .output()
            .expect("demo/run starts");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "demo/run {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for view in [
            "poor_ratings",
            "ratings_with_customer_data",
            "unhappy_platinum_customers",
            "ratings_by_club_status_1min",
            "fraud_alerts",
            "invalid_users",
        ] {
            let line = stdout
                .lines()
                .find(|l| l.starts_with(view))
                .unwrap_or_else(|| panic!("no count for {view}:\n{stdout}"));
            // 160 ratings in 8 s: these two cannot be empty (the others are left to chance).
            if matches!(view, "poor_ratings" | "ratings_with_customer_data") {
                assert!(!line.contains(" 0 rows"), "{args:?}: {line}");
            }
        }
        // The web console answers: the sources (ratings and customers, authorizations, syslog)
        // and the six views at least.
        let listed = stdout
            .lines()
            .find_map(|l| l.strip_prefix("console: "))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok());
        assert!(listed.is_some_and(|n| n >= 10), "{args:?}: {stdout}");
    }
}

/// A generator killed mid-stream (SIGKILL) continues after restart exactly where the log
/// stopped: every event once, and the customers feed in the state the seed leads to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_resumes_after_a_crash_without_gaps_or_duplicates() {
    let dir = common::temp_data_dir();
    let start = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f+00");
    let options = format!("RATE 500, SEED 11, START TIME '{start}', UP TO 3000, CUSTOMERS 30");
    let server = common::Process::start(&dir, &[]).await;
    let client = server.connect("materialize").await;
    client
        .batch_execute(&format!(
            "CREATE SOURCE demo FROM LOAD GENERATOR RATINGS ({options}) FOR ALL TABLES"
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let before = rows(&client, "SELECT count(*) FROM ratings").await;
    server.kill();
    let server = common::Process::start(&dir, &[]).await;
    let client = server.connect("materialize").await;
    until_generators_finish(&client).await;
    let after = rows(
        &client,
        "SELECT count(*), count(DISTINCT rating_id), min(rating_id), max(rating_id) FROM ratings",
    )
    .await;
    assert_eq!(
        after,
        [["3000", "3000", "1", "3000"]],
        "killed at {before:?}"
    );
    // The same options in a fresh database, uninterrupted: the same rows.
    let fresh = server.connect("fresh").await;
    fresh
        .batch_execute(&format!(
            "CREATE SOURCE demo FROM LOAD GENERATOR RATINGS ({options}) FOR ALL TABLES"
        ))
        .await
        .unwrap();
    until_generators_finish(&fresh).await;
    same_inputs_of(&client, &fresh, &["ratings", "customers"]).await;
}
