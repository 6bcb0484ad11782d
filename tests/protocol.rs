//! Protocol corners through tokio-postgres and raw sockets: cursors over ordinary queries
//! (inside a transaction and `WITH HOLD`), portals with row limits, a CancelRequest stopping a
//! waiting FETCH, and clients that vanish mid-COPY or mid-subscription, after which nothing
//! half-sent is applied and the server still serves.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use tokio_postgres::SimpleQueryMessage;

fn values(messages: &[SimpleQueryMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_and_portals() {
    let server = common::TestServer::start(2);
    let client = server.connect("proto").await;
    client
        .batch_execute("CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 5)")
        .await
        .unwrap();

    client
        .batch_execute("BEGIN; DECLARE c CURSOR FOR SELECT a FROM t ORDER BY a")
        .await
        .unwrap();
    assert_eq!(
        values(&client.simple_query("FETCH 2 c").await.unwrap()),
        ["1", "2"]
    );
    assert_eq!(
        values(&client.simple_query("FETCH ALL c").await.unwrap()),
        ["3", "4", "5"]
    );
    assert!(values(&client.simple_query("FETCH 1 c").await.unwrap()).is_empty());
    client.batch_execute("CLOSE c; COMMIT").await.unwrap();

    // WITH HOLD outlives the transaction (here: none); CLOSE ends it.
    client
        .batch_execute("DECLARE h CURSOR WITH HOLD FOR SELECT a FROM t ORDER BY a DESC")
        .await
        .unwrap();
    assert_eq!(
        values(&client.simple_query("FETCH 1 h").await.unwrap()),
        ["5"]
    );
    client.batch_execute("CLOSE h").await.unwrap();
    let gone = client.simple_query("FETCH 1 h").await.unwrap_err();
    assert_eq!(gone.code().map(|c| c.code()), Some("34000"), "{gone:?}");

    // A portal executed with a row limit returns the rows in pieces.
    let mut client = client;
    let tx = client.transaction().await.unwrap();
    let stmt = tx
        .prepare("SELECT a FROM t WHERE a > $1 ORDER BY a")
        .await
        .unwrap();
    let portal = tx.bind(&stmt, &[&1i32]).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let rows = tx.query_portal(&portal, 2).await.unwrap();
        assert!(rows.len() <= 2);
        if rows.is_empty() {
            break;
        }
        seen.extend(rows.iter().map(|r| r.get::<_, i32>(0)));
    }
    assert_eq!(seen, [2, 3, 4, 5]);
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_waiting_fetch() {
    let server = common::TestServer::start(2);
    let client = server.connect("proto").await;
    client
        .batch_execute(
            "CREATE TABLE t (a int); BEGIN; DECLARE s CURSOR FOR SUBSCRIBE t WITH (SNAPSHOT = false)",
        )
        .await
        .unwrap();
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    });
    let started = std::time::Instant::now();
    // Nothing will arrive: only the cancel ends this FETCH.
    let err = client
        .simple_query("FETCH ALL s WITH (timeout = '1 hour')")
        .await
        .unwrap_err();
    canceller.await.unwrap();
    assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(60));
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        values(&client.simple_query("SELECT 1").await.unwrap()),
        ["1"]
    );
}

/// A raw connection that has sent its startup packet and read up to ReadyForQuery.
fn raw_session(addr: std::net::SocketAddr) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let params = b"user\0materialize\0database\0proto\0\0";
    let mut startup = ((8 + params.len()) as i32).to_be_bytes().to_vec();
    startup.extend(196608i32.to_be_bytes());
    startup.extend(params);
    s.write_all(&startup).unwrap();
    until(&mut s, b'Z');
    s
}

/// Reads messages until one of type `kind`.
fn until(s: &mut std::net::TcpStream, kind: u8) {
    loop {
        let mut head = [0u8; 5];
        s.read_exact(&mut head).unwrap();
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        s.read_exact(&mut body).unwrap();
        if head[0] == kind {
            return;
        }
    }
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend(((body.len() + 4) as i32).to_be_bytes());
    m.extend(body);
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_vanish() {
    let server = common::TestServer::start(2);
    let client = server.connect("proto").await;
    client
        .batch_execute("CREATE TABLE t (a int); INSERT INTO t VALUES (1)")
        .await
        .unwrap();

    // Mid-COPY: some rows sent, then the socket closes without CopyDone.
    let mut s = raw_session(server.addr);
    s.write_all(&message(b'Q', b"COPY t FROM STDIN\0")).unwrap();
    until(&mut s, b'G');
    s.write_all(&message(b'd', b"2\n3\n")).unwrap();
    drop(s);

    // Mid-subscription: the socket closes while rows stream.
    let mut s = raw_session(server.addr);
    s.write_all(&message(b'Q', b"COPY (SUBSCRIBE t) TO STDOUT\0"))
        .unwrap();
    until(&mut s, b'H');
    drop(s);

    // Mid-query, before the answer is read.
    let mut s = raw_session(server.addr);
    s.write_all(&message(
        b'Q',
        b"SELECT count(*) FROM t, generate_series(1, 100000)\0",
    ))
    .unwrap();
    drop(s);

    tokio::time::sleep(Duration::from_millis(300)).await;
    // Nothing of the unfinished COPY was applied, and the server still serves.
    let fresh = server.connect("proto").await;
    assert_eq!(
        values(&fresh.simple_query("SELECT count(*) FROM t").await.unwrap()),
        ["1"]
    );
    fresh
        .batch_execute("INSERT INTO t VALUES (4)")
        .await
        .unwrap();
    assert_eq!(
        values(&fresh.simple_query("SELECT sum(a) FROM t").await.unwrap()),
        ["5"]
    );
}
