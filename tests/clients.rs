//! Real Postgres clients against Runnel: each of psycopg 3, psycopg2, SQLAlchemy (reflection
//! through its Inspector), pandas, asyncpg, pgcli and psqlODBC (through pyodbc) runs
//! `tests/clients/scenario.py`, node-postgres
//! `scenario.js` and pgJDBC `Scenario.java` (create, insert and query with parameters in text
//! and binary, prepared statements, list and reflect metadata, errors with their SQLSTATEs),
//! and its transcript must equal the one the same scenario gives against PostgreSQL.

mod common;

use std::process::Command;

/// The transcript of `driver`'s scenario against `conn`.
fn scenario(driver: &str, conn: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    let mut command = if driver == "node-postgres" {
        let mut c = Command::new("node");
        c.env("NODE_PATH", env("RUNNEL_TEST_NODE_MODULES"))
            .args([&format!("{dir}/scenario.js"), conn]);
        c
    } else if driver == "pgjdbc" {
        // Java runs the one source file directly; JDBC takes a URL, not libpq's key=value.
        let field = |key: &str| {
            conn.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_string))
                .unwrap_or_default()
        };
        let mut c = Command::new("java");
        c.args([
            "-cp",
            &env("RUNNEL_TEST_JDBC"),
            &format!("{dir}/Scenario.java"),
        ])
        .args([field("host"), field("port"), field("user"), field("dbname")]);
        c
    } else {
        let mut c = Command::new(env("RUNNEL_TEST_PYTHON"));
        c.args([&format!("{dir}/scenario.py"), driver, conn]);
        c
    };
    let out = command.output().expect("the client runs");
    format!(
        "{}{}exit status: {}\n",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().unwrap_or(-1)
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

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the suite with bin/test, which installs the clients and \
             starts PostgreSQL"
        )
    })
}

#[test]
fn clients_work_as_against_postgres() {
    let pg = env("RUNNEL_TEST_PG");
    let server = common::TestServer::start(2);
    for driver in [
        "psycopg",
        "psycopg2",
        "sqlalchemy",
        "pandas",
        "asyncpg",
        "pgcli",
        "pyodbc",
        "node-postgres",
        "pgjdbc",
    ] {
        let db = format!("clients_{}", driver.replace('-', "_"));
        psql(&pg, &format!("DROP DATABASE IF EXISTS {db}"));
        psql(&pg, &format!("CREATE DATABASE {db}"));
        let want = scenario(driver, &format!("{pg} dbname={db}"));
        let got = scenario(driver, &server.conn_string(&db));
        assert!(
            want.contains("usable") && want.ends_with("exit status: 0\n"),
            "{driver} against PostgreSQL did not finish:\n{want}"
        );
        assert_eq!(
            got, want,
            "{driver}: Runnel's transcript, then PostgreSQL's"
        );
    }
}
