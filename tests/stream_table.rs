//! Stream-table joins (ksqlDB's semantics): each stream row joins the table as it was when the
//! row arrived, and later changes to the table do not revise it. Through the real binary with
//! small log segments (compaction runs), random statements change a `customers` table (insert,
//! update, delete) and append `ratings`; the model records, for each rating, the customer row
//! at the moment it was appended. After every batch, views in both spellings (SQL's `FOR
//! SYSTEM_TIME AS OF PROCTIME()`, inner and LEFT with a residual condition; ksqlDB's `CREATE
//! STREAM|TABLE ... AS SELECT`, an aggregate over the join), one created midway (it reads the
//! history from the log), and an ad hoc SELECT must equal the model; a relational join of the
//! same inputs must equal the join of the current table instead. A subscription to a
//! stream-table join sees only insertions. Then kill -9 and restart: the views are rebuilt from
//! the log, equal to the model again, and keep following it.

mod common;

use std::collections::BTreeMap;

use common::{text_rows, Process};
use rand::{Rng, SeedableRng};

const ARGS: [&str; 2] = ["--log-segment-bytes", "1024"];

type Rows = Vec<Vec<Option<String>>>;

#[derive(Default)]
struct Model {
    /// The customers now: id to status.
    customers: BTreeMap<i64, String>,
    /// Each rating (user, stars) with its customer's status when it was appended.
    ratings: Vec<(i64, i64, Option<String>)>,
}

fn sorted(mut rows: Rows) -> Rows {
    rows.sort();
    rows
}

fn row(values: &[Option<String>]) -> Vec<Option<String>> {
    values.to_vec()
}

fn counts<'a>(statuses: impl Iterator<Item = &'a str>) -> Rows {
    let mut n: BTreeMap<&str, i64> = BTreeMap::new();
    for s in statuses {
        *n.entry(s).or_default() += 1;
    }
    sorted(
        n.into_iter()
            .map(|(s, n)| row(&[Some(s.to_string()), Some(n.to_string())]))
            .collect(),
    )
}

impl Model {
    /// `ratings r LEFT JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() c ON r.user_id = c.id
    /// AND r.stars > 1`.
    fn left(&self) -> Rows {
        sorted(
            self.ratings
                .iter()
                .map(|(u, s, status)| {
                    let status = status.clone().filter(|_| *s > 1);
                    row(&[Some(u.to_string()), Some(s.to_string()), status])
                })
                .collect(),
        )
    }

    /// The inner stream-table join: ratings whose customer existed when they arrived.
    fn inner(&self) -> Rows {
        sorted(
            self.ratings
                .iter()
                .filter(|(_, _, status)| status.is_some())
                .map(|(u, s, status)| {
                    row(&[Some(u.to_string()), Some(s.to_string()), status.clone()])
                })
                .collect(),
        )
    }

    /// ksqlDB's `count(*)` per status over the stream-table join.
    fn per_status_at_arrival(&self) -> Rows {
        counts(self.ratings.iter().filter_map(|(_, _, s)| s.as_deref()))
    }

    /// The relational join's count per status: every rating against today's customers.
    fn per_status_now(&self) -> Rows {
        counts(
            self.ratings
                .iter()
                .filter_map(|(u, _, _)| self.customers.get(u).map(String::as_str)),
        )
    }
}

async fn write_batch(client: &tokio_postgres::Client, model: &mut Model, rng: &mut impl Rng) {
    for _ in 0..rng.random_range(1..6) {
        let id = rng.random_range(1..16);
        let status = ["gold", "silver", "bronze", "platinum"][rng.random_range(0..4)];
        let sql = match (model.customers.contains_key(&id), rng.random_range(0..3)) {
            (false, _) => {
                model.customers.insert(id, status.to_string());
                format!("INSERT INTO customers VALUES ({id}, '{status}')")
            }
            (true, 0) => {
                model.customers.remove(&id);
                format!("DELETE FROM customers WHERE id = {id}")
            }
            (true, _) => {
                model.customers.insert(id, status.to_string());
                format!("UPDATE customers SET status = '{status}' WHERE id = {id}")
            }
        };
        client.batch_execute(&sql).await.unwrap();
        // Ratings in between, each statement against the table as it is now.
        let mut values = vec![];
        for _ in 0..rng.random_range(0..4) {
            let (user, stars) = (rng.random_range(1..18), rng.random_range(1..6));
            values.push(format!("({user}, {stars})"));
            let status = model.customers.get(&user).cloned();
            model.ratings.push((user, stars, status));
        }
        if !values.is_empty() {
            let sql = format!("INSERT INTO ratings VALUES {}", values.join(", "));
            client.batch_execute(&sql).await.unwrap();
        }
    }
}

async fn check(client: &tokio_postgres::Client, model: &Model, midway: bool, when: &str) {
    let join = "SELECT r.user_id, r.stars, c.status FROM ratings r";
    let checks: Vec<(String, Rows)> = vec![
        ("SELECT * FROM sql_left".into(), model.left()),
        ("SELECT * FROM sql_inner".into(), model.inner()),
        (
            "SELECT * FROM ksql_per_status".into(),
            model.per_status_at_arrival(),
        ),
        (
            "SELECT * FROM relational_per_status".into(),
            model.per_status_now(),
        ),
        (
            format!("{join} JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() c ON r.user_id = c.id"),
            model.inner(),
        ),
    ];
    for (sql, want) in checks {
        assert_eq!(text_rows(client, &sql).await, want, "{sql} {when}");
    }
    if midway {
        let got = text_rows(client, "SELECT * FROM ksql_midway").await;
        assert_eq!(got, model.inner(), "ksql_midway {when}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_rows_join_the_table_as_it_was_when_they_arrived() {
    let data_dir = common::temp_data_dir();
    let server = Process::start(&data_dir, &ARGS).await;
    let client = server.connect("st").await;
    client
        .batch_execute(
            "CREATE TABLE customers (id bigint, status text);
             CREATE TABLE ratings (user_id bigint, stars bigint) APPEND ONLY;
             CREATE MATERIALIZED VIEW sql_left AS
               SELECT r.user_id, r.stars, c.status FROM ratings r
               LEFT JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() AS c
                 ON r.user_id = c.id AND r.stars > 1;
             CREATE MATERIALIZED VIEW sql_inner AS
               SELECT r.user_id, r.stars, c.status FROM ratings r
               JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() c ON r.user_id = c.id;
             CREATE TABLE ksql_per_status AS
               SELECT c.status, COUNT(*) AS n FROM ratings r JOIN customers c ON r.user_id = c.id
               GROUP BY c.status EMIT CHANGES;
             CREATE MATERIALIZED VIEW relational_per_status AS
               SELECT c.status, count(*) AS n FROM ratings r JOIN customers c ON r.user_id = c.id
               GROUP BY c.status;",
        )
        .await
        .unwrap();
    let subscriber = server.connect("st").await;
    subscriber
        .batch_execute("BEGIN; DECLARE c CURSOR FOR SUBSCRIBE sql_inner")
        .await
        .unwrap();
    let mut model = Model::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for batch in 0..24 {
        write_batch(&client, &mut model, &mut rng).await;
        if batch == 8 {
            client
                .batch_execute(
                    "CREATE STREAM ksql_midway AS
                       SELECT r.user_id, r.stars, c.status
                       FROM ratings r INNER JOIN customers c ON r.user_id = c.id EMIT CHANGES",
                )
                .await
                .unwrap();
        }
        check(&client, &model, batch >= 8, &format!("after batch {batch}")).await;
    }
    assert_ne!(
        model.per_status_at_arrival(),
        model.per_status_now(),
        "the table changed under earlier ratings: the two semantics must differ"
    );
    // A stream-table join never revises what it gave: every change is an insertion.
    common::subscription_adds_up_to(&subscriber, &model.inner(), |_, diff, row| {
        assert!(diff > 0, "a stream-table join retracted {row:?}");
    })
    .await;
    // A table on the left is refused with SQL's spelling (it is no stream).
    let err = client
        .batch_execute(
            "SELECT * FROM customers c JOIN ratings FOR SYSTEM_TIME AS OF PROCTIME() r \
             ON r.user_id = c.id",
        )
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "0A000");
    server.kill();

    // Rebuilt from the log (the table's history is within the retained window): the same.
    let server = Process::start(&data_dir, &ARGS).await;
    let client = server.connect("st").await;
    check(&client, &model, true, "after a restart").await;
    for batch in 0..4 {
        write_batch(&client, &mut model, &mut rng).await;
        check(
            &client,
            &model,
            true,
            &format!("after a restart and batch {batch}"),
        )
        .await;
    }
    server.kill();
    std::fs::remove_dir_all(&data_dir).ok();
}
