//! psql as a client: a script of statements through the real `psql` binary, its output checked.

mod common;

use std::process::Command;

fn psql(server: &common::TestServer, db: &str, script: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-h",
            &server.addr.ip().to_string(),
            "-p",
            &server.addr.port().to_string(),
            "-U",
            "materialize",
            "-d",
            db,
        ])
        .args(["-c", script])
        .output()
        .expect("psql must be installed (bin/test installs it)");
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn psql_creates_inserts_and_reads() {
    let server = common::TestServer::start(2);
    let out = psql(
        &server,
        "shop",
        "CREATE TABLE orders (id int, item text, qty int); \
         INSERT INTO orders VALUES (1, 'apple', 3), (2, 'pear', 1), (3, 'apple', 2); \
         CREATE MATERIALIZED VIEW totals AS SELECT item, sum(qty) AS total FROM orders GROUP BY item; \
         SELECT * FROM totals ORDER BY item;",
    );
    assert_eq!(out, "apple|5\npear|1\n", "psql output:\n{out}");

    // A second session sees the first one's writes; an error leaves the connection usable.
    let out = psql(
        &server,
        "shop",
        "INSERT INTO orders VALUES (4, 'pear', 5); SELECT total FROM totals WHERE item = 'pear';",
    );
    assert_eq!(out, "6\n");
    let out = psql(&server, "shop", "SELECT * FROM missing;");
    assert!(
        out.contains("ERROR:  relation \"missing\" does not exist"),
        "{out}"
    );

    // Databases are namespaces: another database has its own `orders`.
    let out = psql(
        &server,
        "other",
        "CREATE TABLE orders (x int); SELECT count(*) FROM orders;",
    );
    assert_eq!(out, "0\n");
    let out = psql(&server, "shop", "SELECT count(*) FROM orders;");
    assert_eq!(out, "4\n");
}
