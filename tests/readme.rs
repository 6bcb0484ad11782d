//! The README's examples are documentation that runs: every ```sql block (except those marked
//! `sql no-run`) is executed, in order, in one session against a real server. Blocks marked
//! `sql kafka` run too, with their broker address replaced by the test broker's
//! (`RUNNEL_TEST_KAFKA`, which `bin/test` sets).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_examples_run() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sql") => current = Some(String::new()),
            // Kafka examples run against the test broker (bin/test starts one).
            (None, "```sql kafka") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), l) => {
                block.push_str(l);
                block.push('\n');
            }
            _ => {}
        }
    }
    assert!(
        blocks.len() >= 8,
        "expected the README's SQL examples, found {}",
        blocks.len()
    );
    let server = common::TestServer::start(2);
    let client = server.connect("materialize").await;
    let broker = std::env::var("RUNNEL_TEST_KAFKA").unwrap_or_else(|_| {
        panic!("RUNNEL_TEST_KAFKA is not set: run the suite with bin/test, which starts a broker")
    });
    for block in blocks {
        let block = block.replace("127.0.0.1:9092", &broker);
        client
            .simple_query(&block)
            .await
            .unwrap_or_else(|e| panic!("README example failed: {e:?}\n{block}"));
    }
    // What the README says these examples give.
    let expected: [(&str, &[[&str; 2]]); 2] = [
        (
            "SELECT * FROM clicks_by_tier_then",
            &[["free", "1"], ["pro", "2"]],
        ),
        ("SELECT * FROM clicks_by_tier_now", &[["pro", "3"]]),
    ];
    for (sql, want) in expected {
        let want: Vec<Vec<Option<String>>> = want
            .iter()
            .map(|r| r.iter().map(|v| Some(v.to_string())).collect())
            .collect();
        assert_eq!(common::text_rows(&client, sql).await, want, "{sql}");
    }
    let plan = common::text_rows(&client, "EXPLAIN SELECT name FROM customers WHERE id = 1").await;
    assert!(
        format!("{plan:?}").contains("customers_by_id (lookup)"),
        "{plan:?}"
    );
}
