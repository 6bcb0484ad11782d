//! Update throughput: a table fed with batches of 10,000 rows per transaction into
//! (a) a grouped count/sum view with 1,000 groups, and (b) a view joining the table to a
//! 100,000-row dimension table. Each is measured through Runnel's SQL path (pgwire, real
//! client; the batches sent as `INSERT ... VALUES` statements and as `COPY ... FROM STDIN`) and
//! as the same computation written directly in differential dataflow (the ceiling), each in its
//! own child process so peak memory is its own.
//!
//! The SQL path includes the durable log: every batch is fsynced before it is acknowledged.
//!
//! Run: `cargo bench --bench throughput` (`BATCHES=N` to change the 30 batches, `WORKERS=N`).

mod common;

use std::process::Command;
use std::time::Instant;

const BATCH: usize = 10_000;
const GROUPS: i32 = 1_000;
const DIM_ROWS: i32 = 100_000;

/// Under `cargo test` (a debug build) the benchmark is a quick smoke run of 2 batches;
/// `cargo bench` (optimized) runs 30.
fn batches() -> usize {
    let default = if cfg!(debug_assertions) { 2 } else { 30 };
    std::env::var("BATCHES")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(default)
}

fn workers() -> usize {
    std::env::var("WORKERS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(2)
}

/// The i-th fact row: (key, value). Keys cycle through the groups (a) or the dimension (b).
fn fact(i: usize, key_space: i32) -> (i32, i32) {
    let k = ((i as u64).wrapping_mul(2_654_435_761) % key_space as u64) as i32;
    (k, (i % 97) as i32)
}

fn main() {
    if let Ok(mode) = std::env::var("RUNNEL_BENCH_MODE") {
        let (rows, secs) = match mode.as_str() {
            "insert-agg" => sql::run(false, false, false, true),
            "insert-join" => sql::run(true, false, false, true),
            "copy-agg" => sql::run(false, true, false, true),
            "copy-join" => sql::run(true, true, false, true),
            "stream-agg" => sql::run(false, true, true, true),
            "stream-join" => sql::run(true, true, true, true),
            "log-agg" | "log-join" => sql::run(false, true, true, false),
            "ir-agg" => lowered::run(false),
            "ir-join" => lowered::run(true),
            "dd-agg" => dd::run(false),
            "dd-join" => dd::run(true),
            other => panic!("unknown mode {other}"),
        };
        println!(
            "RESULT {rows} {secs} {}",
            common::proc_status_kb("self", "VmHWM:")
        );
        return;
    }
    let exe = std::env::current_exe().expect("bench executable");
    let batches = batches();
    println!(
        "throughput: {} batches of {BATCH} rows, {} workers",
        batches,
        workers()
    );
    println!(
        "{:<64} {:>14} {:>14} {:>12}",
        "computation", "rows/s", "peak RSS MiB", "vs ceiling"
    );
    for view in ["agg", "join"] {
        let mut results = Vec::new();
        for path in ["dd", "ir", "insert", "copy", "stream", "log"] {
            let out = Command::new(&exe)
                .env("RUNNEL_BENCH_MODE", format!("{path}-{view}"))
                .env("BATCHES", batches.to_string())
                .output()
                .expect("child runs");
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .find(|l| l.starts_with("RESULT"))
                .unwrap_or_else(|| {
                    panic!(
                        "{path}-{view} failed:\n{text}\n{}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
            let f: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .map(|x| x.parse().unwrap())
                .collect();
            results.push((path, f[0] / f[1], f[2] / 1024.0));
        }
        let ceiling = results[0].1;
        for (path, rate, mem) in results {
            let name = format!(
                "{} ({})",
                if view == "agg" {
                    "(a) count/sum, 1,000 groups"
                } else {
                    "(b) join 100k dimension"
                },
                match path {
                    "dd" => "differential",
                    "ir" => "Runnel's dataflow alone",
                    "insert" => "SQL, INSERT VALUES",
                    "copy" => "SQL, COPY FROM STDIN",
                    "stream" => "SQL, COPY into APPEND ONLY",
                    _ => "SQL front end alone: COPY, no view",
                }
            );
            println!(
                "{name:<64} {rate:>14.0} {mem:>14.1} {:>11.2}x",
                rate / ceiling
            );
        }
    }
}

/// Drives an in-process dataflow (the dimension already given): each batch of facts (this
/// worker's share) at its own time, waiting until the view has caught up with it. Returns the
/// seconds the batches took.
fn drive<D, F, RD, RF>(
    worker: &mut timely::worker::Worker,
    probe: &timely::dataflow::operators::probe::Handle<u64>,
    facts: &mut differential_dataflow::input::InputSession<u64, F, RF>,
    dim: &mut differential_dataflow::input::InputSession<u64, D, RD>,
    fact_update: impl Fn(usize) -> (F, RF),
) -> f64
where
    D: differential_dataflow::Data,
    F: differential_dataflow::Data,
    RD: differential_dataflow::difference::Semigroup + 'static,
    RF: differential_dataflow::difference::Semigroup + 'static,
{
    let (index, peers) = (worker.index(), worker.peers());
    dim.advance_to(1);
    dim.flush();
    facts.advance_to(1);
    facts.flush();
    worker.step_while(|| probe.less_than(&1));
    let start = Instant::now();
    for b in 0..batches() {
        for i in (b * BATCH..(b + 1) * BATCH).filter(|i| i % peers == index) {
            let (data, diff) = fact_update(i);
            facts.update(data, diff);
        }
        let t = b as u64 + 2;
        facts.advance_to(t);
        facts.flush();
        dim.advance_to(t);
        dim.flush();
        worker.step_while(|| probe.less_than(&t));
    }
    start.elapsed().as_secs_f64()
}

mod sql {
    use super::*;
    use futures::SinkExt;

    /// Runs the SQL path, each batch one INSERT statement or one COPY, into a table or (with
    /// `stream`) an `APPEND ONLY` table, whose rows are not kept; returns (rows, seconds) for
    /// the fact batches. Without `view`, no view reads the table: the front end alone (decode,
    /// the durable log, acknowledgement), so the rest of a row's cost is the dataflow's.
    pub fn run(join: bool, copy: bool, stream: bool, view: bool) -> (usize, f64) {
        let data_dir = std::env::temp_dir().join(format!("runnel-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let coord =
            runnel::coord::Coordinator::start(&runnel::coord::Config::new(workers(), &data_dir))
                .expect("server starts");
        let cleanup = data_dir.clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_stack_size(runnel::parse::STACK_SIZE)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = runnel::server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(runnel::server::serve(listener, coord, Default::default()));
            let (client, conn) = tokio_postgres::connect(&format!("host=127.0.0.1 port={} user=bench dbname=bench", addr.port()), tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            let append_only = if stream { " APPEND ONLY" } else { "" };
            client.batch_execute(&format!("CREATE TABLE facts (k int, v int){append_only}")).await.unwrap();
            let key_space = if !view {
                GROUPS
            } else if join {
                client.batch_execute("CREATE TABLE dim (k int, name text)").await.unwrap();
                for start in (0..DIM_ROWS).step_by(BATCH) {
                    let values: Vec<String> = (start..(start + BATCH as i32).min(DIM_ROWS)).map(|k| format!("({k},'n{k}')")).collect();
                    client.batch_execute(&format!("INSERT INTO dim VALUES {}", values.join(","))).await.unwrap();
                }
                client.batch_execute("CREATE MATERIALIZED VIEW v AS SELECT f.k, f.v, d.name FROM facts f JOIN dim d ON f.k = d.k").await.unwrap();
                DIM_ROWS
            } else {
                client.batch_execute("CREATE MATERIALIZED VIEW v AS SELECT k, count(*) AS n, sum(v) AS s FROM facts GROUP BY k").await.unwrap();
                GROUPS
            };
            // Statement texts (or COPY data) are built before the clock starts.
            let payloads: Vec<String> = (0..batches())
                .map(|b| {
                    let rows = (b * BATCH..(b + 1) * BATCH).map(|i| fact(i, key_space));
                    if copy {
                        rows.map(|(k, v)| format!("{k}\t{v}\n")).collect()
                    } else {
                        let values: Vec<String> = rows.map(|(k, v)| format!("({k},{v})")).collect();
                        format!("INSERT INTO facts VALUES {}", values.join(","))
                    }
                })
                .collect();
            let start = Instant::now();
            for b in payloads {
                if copy {
                    let sink = client.copy_in("COPY facts FROM STDIN").await.unwrap();
                    futures::pin_mut!(sink);
                    sink.send(bytes::Bytes::from(b)).await.unwrap();
                    sink.finish().await.unwrap();
                } else {
                    client.batch_execute(&b).await.unwrap();
                }
            }
            if view {
                // The read waits until the view has caught up with every write.
                let n: i64 = client.query_one("SELECT count(*) FROM v", &[]).await.unwrap().get(0);
                assert!(n > 0);
            }
            let secs = start.elapsed().as_secs_f64();
            let _ = std::fs::remove_dir_all(&cleanup);
            (batches() * BATCH, secs)
        })
    }
}

mod dd {
    use super::*;
    use differential_dataflow::input::Input;
    use differential_dataflow::operators::CountTotal;
    use timely::dataflow::operators::probe::Handle;
    use timely::dataflow::operators::Probe;

    /// The same computation, hand-written: (a) count and sum per key, accumulated in the
    /// difference type; (b) join with the dimension arranged by key. Returns (rows, seconds) for the fact batches.
    pub fn run(join: bool) -> (usize, f64) {
        let results = timely::execute(timely::Config::process(workers()), move |worker| {
            let index = worker.index();
            let peers = worker.peers();
            let probe = Handle::new();
            let (mut facts, mut dim) = worker.dataflow::<u64, _, _>(|scope| {
                let (facts_in, facts) = scope.new_collection::<(i32, i32), isize>();
                let (dim_in, dim) = scope.new_collection::<(i32, String), isize>();
                if join {
                    let dim = dim.arrange_by_key();
                    facts
                        .arrange_by_key()
                        .join_core(dim, |k, v, name| Some((*k, *v, name.clone())))
                        .arrange_by_self()
                        .stream
                        .probe_with(&probe);
                } else {
                    // Count and sum ride in the difference type, so a group is one record:
                    // the best hand-written form (and what the SQL path renders).
                    facts
                        .explode(|(k, v)| Some((k, (1isize, v as isize))))
                        .count_total_core::<isize>()
                        .arrange_by_self()
                        .stream
                        .probe_with(&probe);
                }
                (facts_in, dim_in)
            });
            let key_space = if join { DIM_ROWS } else { GROUPS };
            if join {
                for k in (0..DIM_ROWS).filter(|k| *k as usize % peers == index) {
                    dim.insert((k, format!("n{k}")));
                }
            }
            drive(worker, &probe, &mut facts, &mut dim, |i| {
                (fact(i, key_space), 1)
            })
        })
        .unwrap()
        .join();
        let secs = results.into_iter().map(|r| r.unwrap()).fold(0.0, f64::max);
        (batches() * BATCH, secs)
    }
}

/// Runnel's dataflow alone: the query's plan, optimized and rendered by Runnel, fed rows the way
/// the hand-written version is fed (an input session per worker, no client, no log). The gap
/// between this and the ceiling is the cost of the lowering and of Runnel's rows; the gap
/// between this and the SQL path is the front end's (pgwire, COPY decoding, the durable log).
mod lowered {
    use super::*;
    use differential_dataflow::input::Input;
    use runnel::ir::{AggregateExpr, AggregateFunc, Func, RelExpr, ScalarExpr};
    use runnel::render::{Import, Imports, WindowGates};
    use runnel::repr::{ColumnType, Datum, GlobalId, Row, ScalarType};
    use timely::dataflow::operators::probe::Handle;
    use timely::dataflow::operators::Probe;

    const FACTS: GlobalId = GlobalId(1);
    const DIM: GlobalId = GlobalId(2);

    fn get(id: GlobalId, name: &str, types: &[ScalarType]) -> RelExpr {
        RelExpr::Get {
            id,
            name: name.into(),
            types: types.iter().map(|t| ColumnType::new(*t, true)).collect(),
        }
    }

    /// The plan the planner makes of each view, before optimization (`EXPLAIN` prints the
    /// optimized form): each output expression is a column a `Map` appends.
    fn plan(join: bool) -> RelExpr {
        let col = ScalarExpr::Column;
        let facts = get(FACTS, "facts", &[ScalarType::Int32, ScalarType::Int32]);
        if join {
            // SELECT f.k, f.v, d.name FROM facts f JOIN dim d ON f.k = d.k
            let dim = get(DIM, "dim", &[ScalarType::Int32, ScalarType::Text]);
            RelExpr::Map {
                input: Box::new(
                    facts
                        .join(dim, vec![])
                        .filter(vec![ScalarExpr::call(Func::Eq, vec![col(0), col(2)])]),
                ),
                scalars: vec![col(0), col(1), col(3)],
            }
            .project(vec![4, 5, 6])
        } else {
            // SELECT k, count(*) AS n, sum(v) AS s FROM facts GROUP BY k
            let agg = |func, c| AggregateExpr {
                func,
                expr: col(c),
                distinct: false,
            };
            RelExpr::Reduce {
                input: Box::new(RelExpr::Map {
                    input: Box::new(facts),
                    scalars: vec![col(0), ScalarExpr::null(ScalarType::Int64), col(1)],
                }),
                group_key: vec![2],
                aggregates: vec![agg(AggregateFunc::CountAll, 3), agg(AggregateFunc::Sum, 4)],
            }
        }
    }

    pub fn run(join: bool) -> (usize, f64) {
        let plan = runnel::optimize::optimize(plan(join));
        let results = timely::execute(timely::Config::process(workers()), move |worker| {
            let index = worker.index();
            let peers = worker.peers();
            let probe = Handle::new();
            let gates = WindowGates::default();
            let (mut facts, mut dim) = worker.dataflow::<u64, _, _>(|scope| {
                let (facts_in, facts) = scope.new_collection::<Row, i64>();
                let (dim_in, dim) = scope.new_collection::<Row, i64>();
                let mut imports = Imports::new();
                imports.insert(FACTS, Import::Stream(facts));
                imports.insert(DIM, Import::Stream(dim));
                let (rows, errs) =
                    runnel::render::render(scope, &gates, "v", &plan, &imports, index == 0);
                let (rows, _errs) = runnel::render::arrange(rows, errs);
                rows.stream.probe_with(&probe);
                (facts_in, dim_in)
            });
            let key_space = if join { DIM_ROWS } else { GROUPS };
            if join {
                for k in (0..DIM_ROWS).filter(|k| *k as usize % peers == index) {
                    dim.update(vec![Datum::Int32(k), Datum::String(format!("n{k}"))], 1);
                }
            }
            drive(worker, &probe, &mut facts, &mut dim, |i| {
                let (k, v) = fact(i, key_space);
                (vec![Datum::Int32(k), Datum::Int32(v)], 1)
            })
        })
        .unwrap()
        .join();
        let secs = results.into_iter().map(|r| r.unwrap()).fold(0.0, f64::max);
        (batches() * BATCH, secs)
    }
}
