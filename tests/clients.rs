//! Real Postgres clients against Runnel: each of psycopg 3, psycopg2, SQLAlchemy (reflection
//! through its Inspector) and asyncpg runs `tests/clients/scenario.py` (create, insert and query
//! with parameters in text and binary, list and reflect metadata, errors with their SQLSTATEs),
//! and its transcript must equal the one the same scenario gives against PostgreSQL.

mod common;

use std::process::Command;

fn scenario(python: &str, driver: &str, conn: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/scenario.py");
    let out = Command::new(python)
        .args([script, driver, conn])
        .output()
        .expect("the clients' python runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn psql(conn: &str, sql: &str) {
    let out = Command::new("psql")
        .args(["-X", "-q", conn, "-c", sql])
        .output()
        .expect("psql must be installed (bin/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn python_clients_work_as_against_postgres() {
    let (Ok(python), Ok(pg)) = (
        std::env::var("RUNNEL_TEST_PYTHON"),
        std::env::var("RUNNEL_TEST_PG"),
    ) else {
        panic!(
            "RUNNEL_TEST_PYTHON and RUNNEL_TEST_PG are not set: run the suite with bin/test, \
             which installs the clients and starts PostgreSQL"
        );
    };
    let server = common::TestServer::start(2);
    for driver in ["psycopg", "psycopg2", "sqlalchemy", "asyncpg"] {
        let db = format!("clients_{driver}");
        psql(&pg, &format!("DROP DATABASE IF EXISTS {db}"));
        psql(&pg, &format!("CREATE DATABASE {db}"));
        let want = scenario(&python, driver, &format!("{pg} dbname={db}"));
        let got = scenario(&python, driver, &server.conn_string(&db));
        assert!(
            want.contains("usable"),
            "{driver} against PostgreSQL did not finish:\n{want}"
        );
        assert_eq!(
            got, want,
            "{driver}: Runnel's transcript, then PostgreSQL's"
        );
    }
}
