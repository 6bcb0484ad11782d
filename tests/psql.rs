//! psql as a client: a script of statements through the real `psql` binary, its output checked.

mod common;

use std::process::Command;

fn psql(server: &common::TestServer, db: &str, script: &str) -> String {
    psql_at(&server.conn_string(db), &[script]).remove(0)
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
    let out = psql(&server, "shop", "SELECT 1,\n  foo(1, 'a');");
    assert!(
        out.contains(
            "ERROR:  function foo(integer, unknown) does not exist\nLINE 2:   foo(1, 'a');\n          ^\nHINT:  No function matches"
        ),
        "{out}"
    );
    let out = psql(&server, "shop", "SELECT * FROM missing;");
    // With where in the statement, as PostgreSQL shows it.
    assert!(
        out.contains(
            "ERROR:  relation \"missing\" does not exist\nLINE 1: SELECT * FROM missing;\n                      ^"
        ),
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

/// psql against `conn` (a libpq connection string), each command's unaligned output.
fn psql_at(conn: &str, commands: &[&str]) -> Vec<String> {
    psql_with(conn, &[], commands)
}

/// The same with extra psql options.
fn psql_with(conn: &str, options: &[&str], commands: &[&str]) -> Vec<String> {
    commands
        .iter()
        .map(|c| {
            let out = Command::new("psql")
                .args(["-X", "-q", "-A", "-t"])
                .args(options)
                .args([conn, "-c", c])
                .output()
                .expect("psql must be installed (bin/test installs it)");
            String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
        })
        .collect()
}

/// Drops the owner column (Runnel's owner is `materialize`, PostgreSQL's the test's user).
fn without_owner(listing: &str, owner_column: usize) -> String {
    listing
        .lines()
        .map(|l| {
            let mut fields: Vec<&str> = l.split('|').collect();
            if fields.len() > owner_column {
                fields.remove(owner_column);
            }
            fields.join("|") + "\n"
        })
        .collect()
}

/// psql's describe commands and the catalog queries clients send give what PostgreSQL gives for
/// the same objects.
#[test]
fn psql_describes_objects_as_postgres_does() {
    let Ok(pg) = std::env::var("RUNNEL_TEST_PG") else {
        panic!("RUNNEL_TEST_PG is not set: run the suite with bin/test, which starts PostgreSQL");
    };
    let setup = "CREATE TABLE orders (id int NOT NULL, item text); \
                 CREATE VIEW big_orders AS SELECT * FROM orders WHERE id > 10; \
                 CREATE MATERIALIZED VIEW per_item AS SELECT item, count(*) AS n FROM orders GROUP BY item; \
                 CREATE INDEX per_item_idx ON per_item (item);";
    // A database of its own on PostgreSQL, which other tests share (the last dbname wins).
    psql_at(
        &pg,
        &[
            "DROP DATABASE IF EXISTS describe_test",
            "CREATE DATABASE describe_test",
        ],
    );
    let pg = format!("{pg} dbname=describe_test");
    psql_at(&pg, &[setup]);
    let server = common::TestServer::start(1);
    let runnel = format!("{} dbname=describe_test", server.conn_string("materialize"));
    psql_at(&runnel, &[setup]);

    let listings = [r"\d", r"\dt", r"\dv", r"\dm", r"\di", r"\ds", r"\dn"];
    let got = psql_at(&runnel, &listings);
    let want = psql_at(&pg, &listings);
    for ((command, got), want) in listings.iter().zip(&got).zip(&want) {
        let owner = if *command == r"\dn" { 1 } else { 3 };
        assert_eq!(
            without_owner(got, owner),
            without_owner(want, owner),
            "{command}: Runnel gave\n{got}\nPostgreSQL gave\n{want}"
        );
    }
    assert!(
        got[0].contains("public|per_item|materialized view|materialize"),
        "{}",
        got[0]
    );

    // One object described: a table (also with `+`), a view, a materialized view with its
    // index, and the index; and the listings whose answers do not depend on the server's own
    // objects (PostgreSQL lists no user functions or types either).
    let described = [
        r"\d orders",
        r"\d+ orders",
        r"\d big_orders",
        r"\d per_item",
        r"\d per_item_idx",
        r"\df",
        r"\dT",
    ];
    let got = psql_at(&runnel, &described);
    assert_eq!(got, psql_at(&pg, &described));
    assert!(
        got[0].contains("id|integer||not null") && got[4].contains("item|text|yes|item"),
        "{got:?}"
    );
    // The listings of databases, roles and extensions run (their rows are the servers' own).
    let own = [r"\l", r"\du", r"\dx"];
    for (command, out) in own.iter().zip(psql_at(&runnel, &own)) {
        assert!(
            !out.contains("ERROR") && out.contains("materialize") == (*command != r"\dx"),
            "{command}: {out}"
        );
    }

    let queries = [
        "SELECT table_schema, table_name, table_type FROM information_schema.tables \
         WHERE table_schema = 'public' ORDER BY table_name",
        "SELECT column_name, ordinal_position, is_nullable, data_type \
         FROM information_schema.columns WHERE table_name = 'orders' ORDER BY 2",
        "SELECT schemaname, tablename FROM pg_catalog.pg_tables WHERE schemaname = 'public'",
        "SELECT viewname FROM pg_views WHERE schemaname = 'public'",
        "SELECT matviewname, ispopulated FROM pg_matviews",
        "SELECT c.relname, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1",
        "SELECT i.indnatts, t.relname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_class x ON x.oid = i.indexrelid WHERE x.relname = 'per_item_idx'",
        "SELECT datname FROM pg_database WHERE datname = current_database()",
        "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'",
        "SELECT table_name, constraint_type FROM information_schema.table_constraints \
         WHERE table_schema = 'public'",
        "SELECT count(*) FROM information_schema.key_column_usage WHERE table_schema = 'public'",
        "SELECT name, setting FROM pg_settings \
         WHERE name IN ('standard_conforming_strings', 'integer_datetimes') ORDER BY 1",
        "SELECT 'abc' ~ 'b', 'abc' ~* 'B', 'abc' !~ '^b', 'ABC' !~* 'c$', NULL ~ 'a'",
    ];
    assert_eq!(psql_at(&runnel, &queries), psql_at(&pg, &queries));

    // The catalogs are read as of the query: a view over them is refused rather than frozen.
    let verbose = ["-v", "VERBOSITY=verbose"];
    let refused = psql_with(
        &runnel,
        &verbose,
        &["CREATE VIEW classes AS SELECT relname FROM pg_class"],
    );
    assert!(refused[0].contains("0A000"), "{}", refused[0]);
    let bad = psql_with(&runnel, &verbose, &["SELECT 'a' ~ '('"]);
    assert!(bad[0].contains("2201B"), "{}", bad[0]);
}
