//! The `runnel` binary: `runnel serve` (the default) runs the database.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "runnel", version, about = "A streaming SQL database: SQL views kept up to date by differential dataflow, served over the Postgres wire protocol.", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the database server (what a bare `runnel` does).
    Serve(ServeArgs),
    /// Evaluate a query over a data directory's log in batch, without dataflows (with the
    /// reference evaluator), at a past time or as the stream of its changes. What a view or a
    /// subscription reported must equal this. Reads only; a running server's log can be replayed.
    ///
    /// Example: runnel replay --data-dir ./runnel-data --as-of 1795348310578 --query 'SELECT * FROM poor_ratings'
    Replay(ReplayArgs),
    /// Write a load generator's events to Kafka topics named after its outputs (`ratings` and
    /// `customers`, `authorizations`, `syslog`): JSON rows, and customers as Debezium change
    /// events. With the same --seed, --start-time and --up-to, the data equals that of
    /// `CREATE SOURCE ... FROM LOAD GENERATOR` with those options.
    ///
    /// Example: runnel produce ratings --broker 127.0.0.1:9092 --rate 20 --seed 42
    Produce(ProduceArgs),
    /// Read a password from standard input and print its SCRAM-SHA-256 verifier, the form to
    /// put in a --password-file line (`alice:SCRAM-SHA-256$4096:...`) so the file does not hold
    /// the password itself.
    ///
    /// Example: echo 's3cret' | runnel hash-password
    HashPassword,
}

#[derive(clap::Args)]
struct ProduceArgs {
    /// The generator: ratings, authorizations or syslog.
    #[arg(value_parser = ["ratings", "authorizations", "syslog"])]
    generator: String,
    /// The Kafka broker (host:port) to write to.
    #[arg(long, env = "RUNNEL_KAFKA_BROKER")]
    broker: String,
    /// Events per second (ratings, authorizations or lines; customer changes follow ratings).
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// The seed: the same seed makes the same events. Default: drawn at random (and logged).
    #[arg(long)]
    seed: Option<u64>,
    /// When event 0 happens (a timestamp such as '2026-01-01 00:00:00+00'); events before now
    /// are written at once. Default: now.
    #[arg(long)]
    start_time: Option<String>,
    /// Stop after this many events (default: run until interrupted).
    #[arg(long)]
    up_to: Option<u64>,
    /// How many customers (ratings) or cards (authorizations) there are.
    #[arg(long)]
    population: Option<u64>,
    /// How customer changes are written: `debezium` (before/after/op events) or `upsert` (the
    /// row, and a tombstone when a customer is deleted), as ksqlDB's CREATE TABLE reads them.
    #[arg(long, default_value = "debezium", value_parser = ["debezium", "upsert"])]
    customers_envelope: String,
    /// Put before each topic's name (e.g. `demo-` for demo-ratings).
    #[arg(long, default_value = "")]
    topic_prefix: String,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The data directory whose log is replayed.
    #[arg(long, default_value = "./runnel-data", env = "RUNNEL_DATA_DIR")]
    data_dir: PathBuf,
    /// The query: any SELECT over the log's tables and views (it may end in `AS OF t`).
    #[arg(long)]
    query: String,
    /// The database the query's names are resolved in.
    #[arg(long, default_value = "materialize")]
    database: String,
    /// The time to evaluate at (milliseconds since the epoch, as SUBSCRIBE's mz_timestamp);
    /// default: the latest write in the log. With --changes, where the changes start
    /// (default: the start of the log: time 0, or where compaction left it).
    #[arg(long)]
    as_of: Option<u64>,
    /// Print every change of the result instead (mz_timestamp, mz_diff, columns), as
    /// SUBSCRIBE does: the contents at --as-of, then the difference at each later write.
    #[arg(long)]
    changes: bool,
    /// Output format: `text` (tab-separated, COPY's text format) or `csv` (with a header).
    #[arg(long, default_value = "text", value_parser = ["text", "csv"])]
    format: String,
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Address to serve the Postgres wire protocol on. Connect with `psql -h HOST -p PORT`.
    #[arg(long, default_value = "127.0.0.1:6875", env = "RUNNEL_LISTEN")]
    listen: SocketAddr,
    /// Directory for Runnel's data: the durable log every write and every CREATE/DROP goes to
    /// before it is acknowledged, replayed on start-up. Created if missing; one server at a time.
    #[arg(long, default_value = "./runnel-data", env = "RUNNEL_DATA_DIR")]
    data_dir: PathBuf,
    /// Number of timely worker threads that maintain views (default: the number of cores).
    /// Answers are identical for any number; more workers share the work of large views.
    #[arg(long, env = "RUNNEL_WORKERS")]
    workers: Option<usize>,
    /// How much history tables and materialized views keep for `SELECT ... AS OF` and
    /// `SUBSCRIBE ... AS OF` (an interval such as '5 minutes', '1 hour' or '0'). Objects
    /// created `WITH (RETAIN HISTORY = ...)` keep their own. Longer windows cost memory for
    /// data that is updated in place.
    #[arg(long, default_value = "5 minutes", env = "RUNNEL_RETAIN_HISTORY", value_parser = runnel::plan::parse_retention)]
    retain_history: u64,
    /// Size (bytes) at which a log segment is closed and the next begun. Closed segments whose
    /// writes are all older than the retention window are compacted: folded into one segment
    /// of the catalog and the tables' consolidated contents.
    #[arg(long, default_value_t = runnel::storage::log::SEGMENT_BYTES, env = "RUNNEL_LOG_SEGMENT_BYTES")]
    log_segment_bytes: u64,
    /// The Kafka broker (host:port) of sources that name none, as ksqlDB's `CREATE STREAM ...
    /// WITH (KAFKA_TOPIC = ...)` does not. The log records the broker with the source, so
    /// changing this flag later does not move existing sources.
    #[arg(long, env = "RUNNEL_KAFKA_BROKER")]
    kafka_broker: Option<String>,
    /// Also serve the web console on this address (e.g. 127.0.0.1:6876): the sources and views
    /// with row counts and lag, a live table of any view, and a chart of windowed counts.
    /// Off by default; anyone who can reach the address can read every view.
    #[arg(long, env = "RUNNEL_HTTP")]
    http: Option<SocketAddr>,
    /// Require a password of every client: a file of `user:password` lines, or
    /// `user:SCRAM-SHA-256$...` verifiers (`runnel hash-password` makes them). Without it every
    /// client is trusted as whichever user it names, so keep --listen on loopback.
    #[arg(long, env = "RUNNEL_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
    /// How clients prove their password: `scram-sha-256` (a challenge and response, what every
    /// current driver speaks) or `password` (the password in cleartext: use it with TLS).
    #[arg(
        long,
        value_enum,
        default_value = "scram-sha-256",
        env = "RUNNEL_AUTH_METHOD"
    )]
    auth_method: runnel::server::AuthMethod,
    /// A PEM certificate (chain) to serve TLS with, with --tls-key. Clients that ask for TLS
    /// get it (psql: sslmode=require); plain connections are still accepted.
    #[arg(long, env = "RUNNEL_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "RUNNEL_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    // Before any thread starts: timely's worker threads evaluate deeply nested expressions too,
    // and take their stack size from here.
    if std::env::var_os("RUST_MIN_STACK").is_none() {
        std::env::set_var("RUST_MIN_STACK", runnel::parse::STACK_SIZE.to_string());
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUNNEL_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
        Some(Command::Replay(a)) => return replay(a),
        Some(Command::Produce(a)) => return produce(a),
        Some(Command::HashPassword) => return hash_password(),
        None => cli.serve,
    };
    let workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if let Err(e) = std::fs::create_dir_all(&args.data_dir) {
        tracing::error!(
            "cannot create the data directory {}: {e}; pass --data-dir to choose another",
            args.data_dir.display()
        );
        return std::process::ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(runnel::parse::STACK_SIZE)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let tls = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
    let security = match runnel::server::Security::load(
        tls,
        args.password_file.as_deref(),
        args.auth_method,
    ) {
        Ok(s) => std::sync::Arc::new(s),
        Err(e) => {
            tracing::error!("cannot set up security: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match runnel::server::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("cannot listen on {}: {e}; is another server using the port? Pass --listen to choose another", args.listen);
                return std::process::ExitCode::FAILURE;
            }
        };
        let console = match args.http {
            None => None,
            Some(addr) => match runnel::console::bind(addr).await {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::error!("cannot serve the console on {addr}: {e}; is another server using the port? Pass --http to choose another");
                    return std::process::ExitCode::FAILURE;
                }
            },
        };
        let config = runnel::coord::Config {
            workers,
            data_dir: args.data_dir.clone(),
            retain_history: args.retain_history,
            log: runnel::storage::LogOptions {
                segment_bytes: args.log_segment_bytes,
            },
            kafka_broker: args.kafka_broker.clone(),
        };
        let starting = tokio::task::spawn_blocking(move || runnel::coord::Coordinator::start(&config));
        let coord = match runnel::server::refuse_until(&listener, &security, starting).await {
            Ok(Ok(c)) => c,
            Err(panicked) => {
                tracing::error!("start-up failed: {panicked}");
                return std::process::ExitCode::FAILURE;
            }
            Ok(Err(e)) => {
                tracing::error!("cannot start on the data directory {}: {e}", args.data_dir.display());
                return std::process::ExitCode::FAILURE;
            }
        };
        tracing::info!(
            "runnel {} listening on {} with {workers} worker(s); connect with: psql -h {} -p {} -U materialize materialize",
            env!("CARGO_PKG_VERSION"),
            args.listen,
            args.listen.ip(),
            args.listen.port()
        );
        match &security.passwords {
            Some(p) => tracing::info!(
                "clients authenticate with {} ({} user(s) in {})",
                args.auth_method.to_possible_value().map_or("?".into(), |v| v.get_name().to_string()),
                p.len(),
                args.password_file.as_deref().map_or("?".into(), |f| f.display().to_string())
            ),
            None if !args.listen.ip().is_loopback() => tracing::warn!(
                "every client that reaches {} is trusted as any user it names; pass --password-file to require passwords",
                args.listen
            ),
            None => {}
        }
        if security.tls.is_some() {
            tracing::info!("TLS is offered to clients that ask for it");
        }
        if let Some(listener) = console {
            let addr = listener.local_addr().map_or_else(|_| "?".into(), |a| a.to_string());
            tracing::info!("web console on http://{addr}/");
            let coord = std::sync::Arc::clone(&coord);
            tokio::spawn(async move {
                if let Err(e) = runnel::console::serve(listener, coord).await {
                    tracing::error!("the web console stopped: {e}");
                }
            });
        }
        tokio::select! {
            r = runnel::server::serve(listener, std::sync::Arc::clone(&coord), security) => {
                if let Err(e) = r {
                    tracing::error!("the server stopped: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
            _ = tokio::signal::ctrl_c() => tracing::info!("shutting down on interrupt"),
            _ = terminated() => tracing::info!("shutting down on SIGTERM"),
        }
        coord.shutdown();
        std::process::ExitCode::SUCCESS
    })
}

/// Resolves when the process is asked to terminate. Every acknowledged write is already durable,
/// so stopping needs no flushing.
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

/// `runnel hash-password`: a verifier for the password on standard input.
fn hash_password() -> std::process::ExitCode {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprint!("password (shown as typed): ");
    }
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(n) if n > 0 => {
            let password = line.trim_end_matches(['\n', '\r']);
            println!("{}", runnel::server::Verifier::new(password));
            std::process::ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!("no password on standard input");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot read standard input: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `runnel replay`: prints the query's rows (or changes) on stdout.
fn replay(args: ReplayArgs) -> std::process::ExitCode {
    use runnel::coord::replay::{History, Replayed};
    use runnel::plan::CopyFormat;
    let history = match History::open(&args.data_dir) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("cannot replay {}: {e}", args.data_dir.display());
            return std::process::ExitCode::FAILURE;
        }
    };
    let replayed = match history.query(&args.database, &args.query, args.as_of, args.changes) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let format = if args.format == "csv" {
        CopyFormat::csv_with_header()
    } else {
        CopyFormat::text()
    };
    let (desc, rows) = match replayed {
        Replayed::Rows { desc, rows, time } => {
            tracing::info!("{} rows as of {time}", rows.len());
            (desc, rows)
        }
        Replayed::Changes { desc, updates } => {
            let batch = runnel::worker::SubscribeBatch {
                updates,
                upper: u64::MAX,
            };
            let rows = runnel::server::subscribe_rows(&batch, false, desc.arity());
            (runnel::server::subscribe_desc(&desc, false), rows)
        }
    };
    let mut out = String::new();
    if format.header {
        out.push_str(&runnel::server::header(&desc, &format));
    }
    for row in &rows {
        runnel::server::encode_row(row, &format, &mut out);
    }
    use std::io::Write;
    if std::io::stdout().write_all(out.as_bytes()).is_err() {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

/// `runnel produce`: writes generated events to Kafka until done or interrupted.
fn produce(args: ProduceArgs) -> std::process::ExitCode {
    use runnel::parse::{Generator, SinkEnvelope};
    use runnel::source::generator::{now_ms, GeneratorSpec};
    let generator = match args.generator.as_str() {
        "ratings" => Generator::Ratings,
        "authorizations" => Generator::Authorizations,
        _ => Generator::Syslog,
    };
    if !(args.rate > 0.0 && args.rate <= 1_000_000.0) {
        eprintln!("ERROR: --rate {} is out of range: give events per second, more than 0 and at most 1000000", args.rate);
        return std::process::ExitCode::FAILURE;
    }
    let start_ms = match &args.start_time {
        None => now_ms(),
        Some(text) => match GeneratorSpec::parse_start_time(text) {
            Some(ms) => ms,
            None => {
                eprintln!("ERROR: --start-time '{text}' is not a timestamp");
                return std::process::ExitCode::FAILURE;
            }
        },
    };
    let seed = args.seed.unwrap_or_else(GeneratorSpec::random_seed);
    let produce = runnel::sink::produce::Produce {
        broker: args.broker.clone(),
        spec: GeneratorSpec {
            generator,
            rate: args.rate,
            seed,
            start_ms,
            up_to: args.up_to,
            population: args
                .population
                .unwrap_or_else(|| GeneratorSpec::default_population(generator)),
        },
        customers_envelope: if args.customers_envelope == "upsert" {
            SinkEnvelope::Upsert
        } else {
            SinkEnvelope::Debezium
        },
        topic_prefix: args.topic_prefix.clone(),
    };
    tracing::info!(
        "producing {} (seed {seed}, {} events/s) to {}",
        generator.name(),
        args.rate,
        args.broker
    );
    match produce.run() {
        Ok(n) => {
            tracing::info!("done: {n} records written");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("cannot produce to {}: {e}", args.broker);
            std::process::ExitCode::FAILURE
        }
    }
}
