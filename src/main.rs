//! The `runnel` binary: `runnel serve` (the default) runs the database.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
}

fn main() -> std::process::ExitCode {
    // Before any thread starts: timely's worker threads evaluate deeply nested expressions too,
    // and take their stack size from here.
    if std::env::var_os("RUST_MIN_STACK").is_none() {
        std::env::set_var("RUST_MIN_STACK", runnel::parse::STACK_SIZE.to_string());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUNNEL_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
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
    runtime.block_on(async move {
        let listener = match runnel::server::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("cannot listen on {}: {e}; is another server using the port? Pass --listen to choose another", args.listen);
                return std::process::ExitCode::FAILURE;
            }
        };
        let coord = match runnel::coord::Coordinator::start(workers, &args.data_dir) {
            Ok(c) => c,
            Err(e) => {
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
        tokio::select! {
            r = runnel::server::serve(listener, std::sync::Arc::clone(&coord)) => {
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
