//! Password authentication (SCRAM-SHA-256 and cleartext) and TLS, through the real binary and
//! real clients: tokio-postgres' SCRAM client, and psql (libpq) for TLS and cleartext.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::Process;

/// A directory with a self-signed certificate and key for `localhost`, and a password file
/// holding `alice` by password and `bob` by a verifier from `runnel hash-password`.
fn credentials() -> PathBuf {
    let dir = common::temp_data_dir().with_extension("auth");
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();

    let mut hash = Command::new(env!("CARGO_BIN_EXE_runnel"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    hash.stdin
        .take()
        .unwrap()
        .write_all(b"b0b's p\xc3\xa4ss\n")
        .unwrap();
    let verifier = String::from_utf8(hash.wait_with_output().unwrap().stdout).unwrap();
    assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
    std::fs::write(
        dir.join("passwords"),
        format!("# who may connect\nalice:s3cret:with:colons\n\nbob:{verifier}"),
    )
    .unwrap();
    dir
}

fn args(dir: &Path, extra: &[&'static str]) -> Vec<String> {
    let mut a: Vec<String> = ["--password-file", "--tls-cert", "--tls-key"]
        .iter()
        .zip(["passwords", "cert.pem", "key.pem"])
        .flat_map(|(flag, file)| [flag.to_string(), dir.join(file).display().to_string()])
        .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

async fn start(dir: &Path, extra: &[&'static str]) -> Process {
    let args = args(dir, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Process::start(&dir.join("data"), &args).await
}

/// Connects with tokio-postgres (SCRAM-SHA-256, no TLS) and returns `current_user`, or the
/// error's SQLSTATE and message.
async fn login(server: &Process, user: &str, password: &str) -> Result<String, String> {
    let conn = format!(
        "host=127.0.0.1 port={} user={user} password='{}' dbname=materialize",
        server.port,
        password.replace('\'', "\\'")
    );
    match tokio_postgres::connect(&conn, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            let row = client.query_one("SELECT current_user", &[]).await.unwrap();
            Ok(row.get(0))
        }
        Err(e) => Err(match e.as_db_error() {
            Some(db) => format!("{} {}", db.code().code(), db.message()),
            None => e.to_string(),
        }),
    }
}

/// psql's output for one command (stdout and stderr), with the password in PGPASSWORD.
fn psql(conn: &str, password: &str, command: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", conn, "-c", command])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql must be installed (bin/test installs it)");
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test]
async fn scram_accepts_the_right_password_only() {
    let dir = credentials();
    let server = start(&dir, &[]).await;
    assert!(server
        .output()
        .contains("clients authenticate with scram-sha-256 (2 user(s)"));

    assert_eq!(
        login(&server, "alice", "s3cret:with:colons").await,
        Ok("alice".into())
    );
    // The verifier's password is SASLprep-normalized non-ASCII text with a quote.
    assert_eq!(login(&server, "bob", "b0b's päss").await, Ok("bob".into()));
    let wrong = login(&server, "alice", "s3cret").await;
    assert_eq!(
        wrong,
        Err("28P01 password authentication failed for user \"alice\"".into())
    );
    // An unknown user fails the same way, so names cannot be probed.
    let unknown = login(&server, "mallory", "s3cret:with:colons").await;
    assert_eq!(
        unknown,
        Err("28P01 password authentication failed for user \"mallory\"".into())
    );
    assert!(
        server.output().contains("authentication failed"),
        "{}",
        server.output()
    );
    // And the server still serves.
    assert_eq!(
        login(&server, "alice", "s3cret:with:colons").await,
        Ok("alice".into())
    );
}

#[tokio::test]
async fn psql_over_tls_and_plain() {
    let dir = credentials();
    let server = start(&dir, &[]).await;
    let base = format!(
        "host=127.0.0.1 port={} user=alice dbname=materialize",
        server.port
    );

    let tls = psql(
        &format!("{base} sslmode=require"),
        "s3cret:with:colons",
        "\\conninfo",
    );
    assert!(tls.contains("SSL connection (protocol: TLSv1.3"), "{tls}");
    // The client checks the certificate against its own authority file.
    let verified = psql(
        &format!(
            "{base} host=localhost hostaddr=127.0.0.1 sslmode=verify-full sslrootcert={}",
            dir.join("cert.pem").display()
        ),
        "s3cret:with:colons",
        "SELECT current_user, 1 + 1",
    );
    assert_eq!(verified, "alice|2\n");
    // Plain connections are still accepted (with a password).
    let plain = psql(
        &format!("{base} sslmode=disable"),
        "s3cret:with:colons",
        "\\conninfo",
    );
    assert!(
        !plain.contains("SSL connection") && plain.contains("as user \"alice\""),
        "{plain}"
    );
    let wrong = psql(&format!("{base} sslmode=require"), "nope", "SELECT 1");
    assert!(
        wrong.contains("FATAL:  password authentication failed for user \"alice\""),
        "{wrong}"
    );
}

#[tokio::test]
async fn cleartext_method() {
    let dir = credentials();
    let server = start(&dir, &["--auth-method", "password"]).await;
    let conn = format!(
        "host=127.0.0.1 port={} user=bob dbname=materialize sslmode=require",
        server.port
    );
    assert_eq!(psql(&conn, "b0b's päss", "SELECT session_user"), "bob\n");
    let wrong = psql(&conn, "b0b's pass", "SELECT 1");
    assert!(
        wrong.contains("password authentication failed for user \"bob\""),
        "{wrong}"
    );
    // tokio-postgres answers a cleartext request too.
    assert_eq!(login(&server, "bob", "b0b's päss").await, Ok("bob".into()));
}

/// A malformed SCRAM message is a protocol error (08P01), not a crash.
#[tokio::test]
async fn malformed_scram_messages() {
    let dir = credentials();
    let server = start(&dir, &[]).await;
    for data in [
        &b"garbage"[..],
        b"p=tls-server-end-point,,n=,r=abc",
        b"\xff\xfe",
    ] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let params = b"user\0alice\0database\0materialize\0\0";
        let mut startup = ((8 + params.len()) as i32).to_be_bytes().to_vec();
        startup.extend(196608i32.to_be_bytes());
        startup.extend(params);
        s.write_all(&startup).unwrap();
        let sasl = read_message(&mut s);
        assert_eq!(sasl.0, b'R');
        assert!(sasl.1.windows(13).any(|w| w == b"SCRAM-SHA-256"));

        let mut body = b"SCRAM-SHA-256\0".to_vec();
        body.extend((data.len() as i32).to_be_bytes());
        body.extend(data);
        let mut msg = vec![b'p'];
        msg.extend(((body.len() + 4) as i32).to_be_bytes());
        msg.extend(body);
        s.write_all(&msg).unwrap();
        let (kind, fields) = read_message(&mut s);
        assert_eq!(kind, b'E', "{:?}", String::from_utf8_lossy(&fields));
        assert!(
            fields.windows(6).any(|w| w == b"C08P01"),
            "{:?}",
            String::from_utf8_lossy(&fields)
        );
    }
    assert_eq!(
        login(&server, "alice", "s3cret:with:colons").await,
        Ok("alice".into())
    );
}

fn read_message(s: &mut std::net::TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 5];
    s.read_exact(&mut head).unwrap();
    let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut body = vec![0u8; len - 4];
    s.read_exact(&mut body).unwrap();
    (head[0], body)
}

/// Without a certificate, TLS is refused the way PostgreSQL refuses it, and bad files stop the
/// server at start-up with a message saying which file.
#[tokio::test]
async fn without_tls_and_with_bad_files() {
    let server = common::TestServer::start(1);
    let out = psql(
        &format!("{} sslmode=require", server.conn_string("materialize")),
        "",
        "SELECT 1",
    );
    assert!(out.contains("server does not support SSL"), "{out}");

    let dir = credentials();
    std::fs::write(dir.join("key.pem"), "not a key").unwrap();
    let args = args(&dir, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let failed = Process::try_start(&dir.join("data"), &args)
        .await
        .err()
        .unwrap();
    assert!(failed.contains("reading the private key"), "{failed}");

    std::fs::write(dir.join("passwords"), "no separator here\n").unwrap();
    let failed = Process::try_start(
        &dir.join("data"),
        &["--password-file", dir.join("passwords").to_str().unwrap()],
    )
    .await
    .err()
    .unwrap();
    assert!(
        failed.contains("passwords:1: expected `user:password`"),
        "{failed}"
    );
}

/// Each driver's own SCRAM client (asyncpg, node-postgres and pgJDBC implement it themselves;
/// psycopg and psqlODBC use libpq's) logs in with the right password and is refused with the
/// wrong one. Needs the clients `bin/with-clients` installs (`bin/test` runs it).
#[tokio::test]
async fn drivers_authenticate_with_scram() {
    let env = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the suite with bin/test, which installs the clients")
        })
    };
    let dir = credentials();
    let server = start(&dir, &[]).await;
    let port = server.port.to_string();
    let run = |password: &str| -> Vec<(&str, String)> {
        let python = |code: &str| {
            let out = Command::new(env("RUNNEL_TEST_PYTHON"))
                .args(["-c", code, &port, password])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
        };
        let asyncpg = python(
            "import asyncio, sys, asyncpg\n\
             async def main():\n\
             \x20   try:\n\
             \x20       c = await asyncpg.connect(host='127.0.0.1', port=int(sys.argv[1]), user='bob', password=sys.argv[2], database='materialize')\n\
             \x20       print(await c.fetchval('SELECT current_user'))\n\
             \x20   except asyncpg.PostgresError as e:\n\
             \x20       print(e.sqlstate, e)\n\
             asyncio.run(main())",
        );
        let odbc = python(
            "import sys, pyodbc\n\
             try:\n\
             \x20   c = pyodbc.connect('DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;PORT=' + sys.argv[1] + ';DATABASE=materialize;UID=bob;PWD={' + sys.argv[2] + '}')\n\
             \x20   print(c.cursor().execute('SELECT current_user').fetchval())\n\
             except pyodbc.Error as e:\n\
             \x20   print(e.args[0], str(e))",
        );
        let node = Command::new("node")
            .env("NODE_PATH", env("RUNNEL_TEST_NODE_MODULES"))
            .args([
                "-e",
                "const { Client } = require('pg');\
                 const c = new Client({ host: '127.0.0.1', port: +process.argv[1], user: 'bob', password: process.argv[2], database: 'materialize' });\
                 c.connect().then(() => c.query('SELECT current_user'))\
                  .then(r => { console.log(r.rows[0].current_user); return c.end(); })\
                  .catch(e => console.log(e.code, e.message));",
                &port,
                password,
            ])
            .output()
            .unwrap();
        let java = Command::new("java")
            .args([
                "-cp",
                &env("RUNNEL_TEST_JDBC"),
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/Login.java"),
                "127.0.0.1",
                &port,
                "bob",
                password,
            ])
            .output()
            .unwrap();
        let text = |o: std::process::Output| {
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
        };
        vec![
            ("asyncpg", asyncpg),
            ("psqlODBC", odbc),
            ("node-postgres", text(node)),
            ("pgJDBC", text(java)),
        ]
    };
    for (client, out) in run("b0b's päss") {
        assert_eq!(out.trim(), "bob", "{client} with the right password");
    }
    for (client, out) in run("wrong") {
        // ODBC reports a failed login as its own 08001, with the server's message.
        let code = if client == "psqlODBC" {
            "08001"
        } else {
            "28P01"
        };
        assert!(
            out.starts_with(code)
                && out.contains("password authentication failed for user \"bob\""),
            "{client} with a wrong password: {out}"
        );
    }
}
