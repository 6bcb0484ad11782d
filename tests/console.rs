//! The web console (`runnel serve --http`) in headless Chromium: the page lists the objects with
//! their row counts, its live table holds exactly what `SELECT` returns over pgwire and follows
//! writes as they happen, its chart draws the demo's per-minute counts, a screenshot is taken.
//!
//! Needs `RUNNEL_TEST_CHROMIUM`; `bin/test` installs Debian's Chromium and sets it.

mod common;

use common::chromium::Browser;
use common::{text_rows, Process};
use serde_json::Value;

const PIPELINE: &str = include_str!("../sql/demo/pipeline.sql");

/// The live table's body as the page draws it (a cell drawn as null is None), sorted.
async fn drawn_rows(browser: &mut Browser) -> Vec<Vec<Option<String>>> {
    let value = browser
        .eval(
            "[...document.querySelectorAll('#live tbody tr')].map(tr => [...tr.cells].map(td => \
             td.classList.contains('null') ? null : td.textContent))",
        )
        .await;
    let mut rows: Vec<Vec<Option<String>>> = serde_json::from_value(value).expect("rows of cells");
    rows.sort();
    rows
}

/// Waits until the live table shows `view` with `n` rows.
async fn until_live(browser: &mut Browser, view: &str, n: usize) {
    browser
        .wait_for(
            &format!(
                "document.getElementById('live-title').textContent.endsWith('.{view}') && \
                 document.getElementById('live').dataset.rows === '{n}' && \
                 document.querySelectorAll('#live tbody tr').length === {n}"
            ),
            "[document.getElementById('live-title').textContent, \
              document.getElementById('live').dataset.rows, \
              document.getElementById('live-error').textContent]",
        )
        .await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_lists_objects_streams_a_view_and_charts_the_demo() {
    let data_dir = common::temp_data_dir();
    let http = format!("127.0.0.1:{}", free_port());
    let server = Process::start(&data_dir, &["--http", &http]).await;
    let client = server.connect("materialize").await;

    // The demo pipeline over finite generators whose events lie in the past (generated at
    // once): ten minutes of ratings make ten windows for the chart.
    let start = (chrono::Utc::now() - chrono::Duration::minutes(11)).format("%Y-%m-%d %H:%M:%S+00");
    client
        .batch_execute(&format!(
            "CREATE SOURCE demo FROM LOAD GENERATOR RATINGS (RATE 0.5, SEED 11, START TIME '{start}', UP TO 300, CUSTOMERS 30) FOR ALL TABLES;
             CREATE SOURCE authorizations FROM LOAD GENERATOR AUTHORIZATIONS (RATE 1, SEED 11, START TIME '{start}', UP TO 100);
             CREATE SOURCE syslog FROM LOAD GENERATOR SYSLOG (RATE 1, SEED 11, START TIME '{start}', UP TO 100);
             {PIPELINE}
             CREATE TABLE notes (id int, note text);
             CREATE MATERIALIZED VIEW kept_notes AS SELECT id, note FROM notes WHERE id > 0;
             INSERT INTO notes VALUES (1, 'one'), (2, NULL), (-3, 'hidden');"
        ))
        .await
        .expect("the pipeline is created");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let sources = text_rows(&client, "SELECT count(*) FROM ratings").await;
        if sources == [[Some("300".to_string())]] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "ratings: {sources:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let mut browser = Browser::launch().await;
    browser
        .navigate(&format!(
            "http://{http}/?database=materialize&view=poor_ratings"
        ))
        .await;

    // The object list: every object, with the row count SELECT count(*) gives.
    let poor = text_rows(&client, "SELECT * FROM poor_ratings").await;
    assert!(
        !poor.is_empty() && poor.len() < 200,
        "{} poor ratings",
        poor.len()
    );
    browser
        .wait_for(
            &format!(
                "[...document.querySelectorAll('#objects tr[data-name=\"poor_ratings\"] td')]\
                 .map(td => td.textContent)[2] === '{}'",
                poor.len()
            ),
            "document.getElementById('objects').innerText",
        )
        .await;
    let listed: Value = browser
        .eval("[...document.querySelectorAll('#objects tr[data-name]')].map(tr => tr.dataset.name).sort()")
        .await;
    let mut names: Vec<String> = serde_json::from_value(listed).unwrap();
    names.sort();
    for want in [
        "authorizations",
        "customers",
        "fraud_alerts",
        "invalid_users",
        "kept_notes",
        "notes",
        "poor_ratings",
        "ratings",
        "ratings_by_club_status_1min",
        "ratings_with_customer_data",
        "syslog",
        "unhappy_platinum_customers",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} is not listed: {names:?}"
        );
    }

    // The live table holds exactly the view's rows.
    until_live(&mut browser, "poor_ratings", poor.len()).await;
    assert_eq!(drawn_rows(&mut browser).await, poor);

    // The chart: one point per club status and window, the counts of the view (its latest
    // thirty windows; ten minutes of ratings make at most eleven).
    let counts = text_rows(
        &client,
        "SELECT club_status, window_start, rating_count FROM ratings_by_club_status_1min",
    )
    .await;
    assert!(counts.len() > 10, "{counts:?}");
    browser
        .wait_for(
            &format!(
                "document.querySelectorAll('#chart circle').length === {}",
                counts.len()
            ),
            "document.getElementById('chart').dataset.points",
        )
        .await;
    let points: Value = browser
        .eval(
            "[...document.querySelectorAll('#chart circle')]\
             .map(c => [c.dataset.series, c.dataset.x, c.dataset.y])",
        )
        .await;
    let mut points: Vec<Vec<Option<String>>> = serde_json::from_value(points).unwrap();
    points.sort();
    assert_eq!(points, counts);

    let png = browser.screenshot().await;
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console.png");
    std::fs::write(&shot, &png).unwrap();
    eprintln!("screenshot: {}", shot.display());

    // Choosing another view from the list streams it, and writes reach the page live.
    browser
        .eval("document.querySelector('#objects tr[data-name=\"kept_notes\"]').click()")
        .await;
    until_live(&mut browser, "kept_notes", 2).await;
    assert_eq!(
        drawn_rows(&mut browser).await,
        text_rows(&client, "SELECT * FROM kept_notes").await
    );
    client
        .batch_execute("INSERT INTO notes VALUES (4, 'four'); DELETE FROM notes WHERE id = 1; UPDATE notes SET note = 'two' WHERE id = 2")
        .await
        .unwrap();
    until_live(&mut browser, "kept_notes", 2).await;
    browser
        .wait_for(
            "[...document.querySelectorAll('#live tbody td')].map(td => td.textContent).join(',') === '2,two,4,four'",
            "document.getElementById('live').innerText",
        )
        .await;
    assert_eq!(
        drawn_rows(&mut browser).await,
        text_rows(&client, "SELECT * FROM kept_notes").await
    );

    // A relation that does not exist: the stream says why, with the server's message.
    let failure = browser
        .eval(
            "new Promise(done => { const s = new EventSource('/api/subscribe?database=materialize&name=nope'); \
             s.addEventListener('failure', e => { s.close(); done(e.data); }); })",
        )
        .await;
    assert!(
        failure.as_str().is_some_and(|m| m.contains("nope")),
        "{failure}"
    );
    // The server is still serving pgwire.
    assert_eq!(
        text_rows(&client, "SELECT count(*) FROM notes").await,
        [[Some("3".to_string())]]
    );
    drop(server);
}
