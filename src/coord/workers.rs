//! The coordinator's handle on the timely workers: starting them, and sending commands to all
//! of them in one order (from the coordinator's critical section, or from the log writer once
//! a write is durable).

use std::sync::{mpsc, Arc, Mutex};

use crate::repr::{Diff, GlobalId, Row, Timestamp};
use crate::worker::{self, Command};

/// How far behind the latest read time the workers' arrangements keep their history, beyond
/// each object's retention. A read takes its time from `read_ts` under the coordinator's lock,
/// but the log writer advances the time (and this bound) without it, so a read's command can
/// reach a worker just after a later bound. A `SELECT` without `AS OF`, and a `SUBSCRIBE` with
/// a snapshot, then start at the bound (`worker::peek`, `Command::Subscribe`); a `SUBSCRIBE`
/// without a snapshot wants every change after its time and relies on this lag not to be
/// refused with `--retain-history 0` (seen once in CI before the lag).
pub const SINCE_LAG: Timestamp = 1_000;

struct WorkerHandle {
    commands: mpsc::Sender<Command>,
    thread: std::thread::Thread,
}

pub struct Workers {
    handles: Vec<WorkerHandle>,
    /// What the workers' `EMIT FINAL` gates report.
    gates: Arc<worker::WindowGates>,
    /// Set once a worker thread has died. That is a bug (a worker never panics on user data),
    /// after which the other workers wait forever for its progress: reads and subscriptions
    /// waiting on the workers fail instead of hanging (`failure`).
    failed: Arc<tokio::sync::watch::Sender<bool>>,
}

/// Marks the workers failed if the worker thread holding it unwinds.
struct Lifeline {
    index: usize,
    failed: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Drop for Lifeline {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(
                worker = self.index,
                "a timely worker died: reads and subscriptions fail (XX000) from now on; \
                 restart runnel, which loses nothing acknowledged (every write is in the log)"
            );
            self.failed.send_replace(true);
        }
    }
}

/// Resolves once a worker has died (never, while they all run).
pub async fn failure(mut failed: tokio::sync::watch::Receiver<bool>) {
    if failed.wait_for(|f| *f).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl Workers {
    /// Starts `n` timely worker threads.
    pub fn start(n: usize) -> Workers {
        let n = n.max(1);
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..n {
            let (tx, rx) = mpsc::channel();
            senders.push(tx);
            receivers.push(Some(rx));
        }
        let receivers = Arc::new(Mutex::new(receivers));
        let gates = Arc::new(worker::WindowGates::default());
        let shared = Arc::clone(&gates);
        let failed = Arc::new(tokio::sync::watch::channel(false).0);
        let lifeline = Arc::clone(&failed);
        let (thread_tx, thread_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("timely".into())
            .spawn(move || {
                let config = timely::Config::process(n);
                let guards = timely::execute(config, move |worker| {
                    let rx = receivers.lock().expect("receiver table lock")[worker.index()]
                        .take()
                        .expect("invariant: each worker index takes its receiver once");
                    let _lifeline = Lifeline {
                        index: worker.index(),
                        failed: Arc::clone(&lifeline),
                    };
                    thread_tx
                        .send((worker.index(), std::thread::current()))
                        .expect("coordinator waits for workers");
                    worker::run(worker, rx, Arc::clone(&shared));
                });
                match guards {
                    Ok(g) => drop(g),
                    Err(e) => tracing::error!("timely workers failed to start: {e}"),
                }
            })
            .expect("spawning the timely thread");
        let mut threads: Vec<(usize, std::thread::Thread)> = (0..n)
            .map(|_| thread_rx.recv().expect("worker started"))
            .collect();
        threads.sort_by_key(|(i, _)| *i);
        let handles = senders
            .into_iter()
            .zip(threads)
            .map(|(commands, (_, thread))| WorkerHandle { commands, thread })
            .collect();
        Workers {
            handles,
            gates,
            failed,
        }
    }

    /// No workers: commands go nowhere (batch replay evaluates without dataflows).
    pub fn none() -> Workers {
        Workers {
            handles: Vec::new(),
            gates: Arc::default(),
            failed: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// What `failure` waits on.
    pub fn failed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.failed.subscribe()
    }

    /// Makes worker `index` panic: how the server behaves once a worker has died is tested
    /// with it (nothing a client sends can do this).
    pub fn crash(&self, index: usize) {
        if let Some(w) = self.handles.get(index) {
            let _ = w.commands.send(Command::Crash);
            w.thread.unpark();
        }
    }

    /// Per dataflow with an `EMIT FINAL` gate: rows dropped as late, windows open, values held.
    pub fn window_gates(&self) -> Vec<(String, [u64; 3])> {
        self.gates.figures()
    }

    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Sends one command to every worker and wakes them.
    pub fn broadcast(&self, mut make: impl FnMut() -> Command) {
        for w in &self.handles {
            // A send fails only if the worker is gone (shutdown), when nothing is listening.
            let _ = w.commands.send(make());
            w.thread.unpark();
        }
    }

    /// Sends each worker its share of `updates` (data introduced exactly once, by all workers
    /// in parallel; the dataflows exchange rows to where they belong), then makes `time`
    /// complete.
    pub fn write(&self, time: Timestamp, mut updates: Vec<(GlobalId, Row, Diff)>) {
        let n = self.handles.len();
        let share = updates.len().div_ceil(n);
        let mut parts = Vec::with_capacity(n);
        for _ in 1..n {
            let rest = updates.split_off(share.min(updates.len()));
            parts.push(std::mem::replace(&mut updates, rest));
        }
        parts.push(updates);
        for (w, part) in self.handles.iter().zip(parts) {
            let _ = w.commands.send(Command::Write {
                time,
                updates: part,
            });
        }
        self.broadcast(|| Command::AdvanceTo {
            time: time + 1,
            since: time.saturating_sub(SINCE_LAG),
        });
    }
}
