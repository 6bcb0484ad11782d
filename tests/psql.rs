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

/// psql's `\copy` and `COPY ... FROM STDIN` / `TO STDOUT` in text and CSV, with their errors.
#[test]
fn psql_copies_in_and_out() {
    let server = common::TestServer::start(2);
    let dir = std::env::temp_dir().join(format!("runnel-copy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("in.csv");
    std::fs::write(&csv, "id,note\n1,\"a, b\"\n2,\n3,\"\"\n").unwrap();
    let out = psql(
        &server,
        "copy",
        "CREATE TABLE notes (id int NOT NULL, note text); \
         CREATE MATERIALIZED VIEW n AS SELECT count(*) AS rows, count(note) AS notes FROM notes;",
    );
    assert_eq!(out, "", "psql output:\n{out}");
    // psql runs a backslash command only on its own.
    let copy = format!(
        "\\copy notes FROM '{}' WITH (FORMAT csv, HEADER)",
        csv.display()
    );
    let out = psql(&server, "copy", &copy);
    assert_eq!(out, "", "psql output:\n{out}");
    let out = psql(&server, "copy", "SELECT rows, notes FROM n;");
    assert_eq!(out, "3|2\n");
    let out = psql(
        &server,
        "copy",
        "COPY (SELECT * FROM notes ORDER BY id) TO STDOUT WITH (FORMAT csv);",
    );
    assert_eq!(out, "1,\"a, b\"\n2,\n3,\"\"\n");
    let out = psql(&server, "copy", "COPY notes (note, id) TO STDOUT;");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines, vec!["\t3", "\\N\t2", "a, b\t1"]);

    // A bad record rejects the whole COPY, names its line, and leaves the table as it was.
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "4\tfine\nfive\toops\n").unwrap();
    let out = psql(
        &server,
        "copy",
        &format!("\\copy notes FROM '{}'", bad.display()),
    );
    assert!(
        out.contains("invalid input syntax for type integer: \"five\", COPY line 2, column id"),
        "{out}"
    );
    let out = psql(&server, "copy", "SELECT rows FROM n;");
    assert_eq!(out, "3\n");
    let out = psql(&server, "copy", "COPY notes FROM '/etc/passwd';");
    assert!(out.contains("not yet supported"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}
