//! The timely worker loop: installs and drops dataflows, feeds table inputs, answers peeks at a
//! time once the arrangement is complete there, and streams subscription batches.
//!
//! Commands come from the coordinator, which sends the same sequence to every worker, so every
//! worker builds the same dataflows in the same order. Workers never `.await`; replies go back
//! through channels. An idle worker parks until the coordinator unparks it or data arrives.

mod peek;
mod subscribe;

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

use differential_dataflow::input::{Input, InputSession};

use timely::progress::frontier::AntichainRef;
use timely::worker::Worker;

use crate::ir::{EvalError, RelExpr};
use crate::render::{self, ErrTrace, Import, Imports, IndexTrace, RowTrace};
use crate::repr::{Diff, GlobalId, Row, Timestamp};

pub use crate::render::WindowGates;
pub use peek::{PeekReply, PeekResult};
pub use subscribe::{SubscribeBatch, SubscribeReply};

/// One worker's share of the rows appended to each stream a new dataflow reads, with their
/// times: where the dataflow starts (streams are kept in the log only).
pub type StreamRows = std::collections::HashMap<GlobalId, Vec<(Row, Timestamp, Diff)>>;

/// One worker's arrangement frontiers, by object.
pub type FrontierReply = tokio::sync::mpsc::UnboundedSender<Vec<(GlobalId, Timestamp)>>;

/// What the coordinator asks of every worker.
pub enum Command {
    /// A table: an input arranged by the whole row, keeping `retain` milliseconds of history.
    CreateTable {
        id: GlobalId,
        retain: Timestamp,
    },
    /// A stream (an `APPEND ONLY` table): its rows are arranged nowhere; each dataflow that
    /// reads it gets its own input, started from the log's appends and fed every later write.
    CreateStream {
        id: GlobalId,
    },
    /// A materialized view: `expr` maintained and arranged, readable as `id`, keeping `retain`
    /// milliseconds of history.
    CreateView {
        id: GlobalId,
        expr: RelExpr,
        retain: Timestamp,
        streams: StreamRows,
    },
    /// An index: `on`'s rows (a table or materialized view) arranged by the `key` columns, which
    /// joins on that key then read instead of arranging `on` again.
    CreateIndex {
        id: GlobalId,
        on: GlobalId,
        key: Vec<usize>,
    },
    /// Drops a table, view or index and its dataflow.
    Drop {
        id: GlobalId,
    },
    /// Appends this worker's share of the updates at `time` (the dataflows distribute them).
    Write {
        time: Timestamp,
        updates: Vec<(GlobalId, Row, Diff)>,
    },
    /// Every input is complete up to (not including) `time`, and `since` is the latest time
    /// reads happen at: each arrangement keeps its retained history back from there.
    AdvanceTo {
        time: Timestamp,
        since: Timestamp,
    },
    /// Reads an arrangement, or a transient dataflow, at `time`.
    Peek {
        target: PeekTarget,
        time: Timestamp,
        /// `AS OF`: read at `time` or refuse. Otherwise any later time will do (the history
        /// at `time` may have been released meanwhile, by a bound the log writer sent).
        exact: bool,
        reply: PeekReply,
    },
    /// Streams the changes of `expr` from `as_of` on.
    Subscribe {
        id: u64,
        expr: RelExpr,
        as_of: Timestamp,
        /// Start at `as_of` or refuse (`AS OF`, a sink resuming, or no snapshot: every change
        /// after `as_of` is wanted). Otherwise a later start will do, as for `Peek`: the
        /// snapshot then holds the changes in between.
        exact: bool,
        snapshot: bool,
        streams: StreamRows,
        reply: SubscribeReply,
    },
    DropSubscribe {
        id: u64,
    },
    /// Reports how far each arrangement is complete: its frontier (the first time not yet
    /// complete; `Timestamp::MAX` once it can change no more).
    Frontiers {
        reply: FrontierReply,
    },
    Shutdown,
    /// Panics (`Workers::crash`: a test of what follows a worker's death).
    Crash,
}

pub enum PeekTarget {
    Arranged(GlobalId),
    /// How many rows an arrangement holds (`RelExpr::counting_read`): one empty row, its
    /// multiplicity the count.
    Count(GlobalId),
    /// The rows of `on` under some keys (`values`, sorted) of the index `index`.
    Lookup {
        index: GlobalId,
        on: GlobalId,
        values: Vec<Row>,
    },
    /// A dataflow built for the read, with what it starts from of the streams it reads.
    Transient(RelExpr, StreamRows),
}

/// An arranged object: its traces and the dataflow that maintains it.
struct Arrangement {
    rows: RowTrace,
    errs: ErrTrace,
    dataflow: usize,
    /// How far back from the latest read time `AS OF` may read (milliseconds).
    retain: Timestamp,
}

impl Arrangement {
    /// The first time at which the rows or the errors are not yet complete.
    fn frontier(&mut self) -> Timestamp {
        use differential_dataflow::trace::TraceReader;
        let mut upper = timely::progress::Antichain::new();
        let mut frontier = Timestamp::MAX;
        self.rows.read_upper(&mut upper);
        frontier = frontier.min(upper.first().copied().unwrap_or(Timestamp::MAX));
        self.errs.read_upper(&mut upper);
        frontier.min(upper.first().copied().unwrap_or(Timestamp::MAX))
    }
}

/// A dataflow's input of one stream.
struct StreamReader {
    dataflow: usize,
    input: InputSession<Timestamp, Row, Diff>,
}

/// An index's arrangement (rows by key) and the dataflow that maintains it.
struct Index {
    on: GlobalId,
    key: Vec<usize>,
    rows: IndexTrace,
    dataflow: usize,
}

struct State {
    inputs: BTreeMap<GlobalId, InputSession<Timestamp, Row, Diff>>,
    indexes: BTreeMap<GlobalId, Index>,
    /// Dropped indexes that dataflows still read: kept up to date until the last of those
    /// dataflows is dropped (a view reading an index must not go stale when it is dropped).
    dropped_indexes: BTreeMap<GlobalId, Index>,
    /// The indexes each dataflow reads, by dataflow.
    index_readers: BTreeMap<usize, Vec<GlobalId>>,
    /// Each stream's readers.
    streams: BTreeMap<GlobalId, Vec<StreamReader>>,
    arrangements: BTreeMap<GlobalId, Arrangement>,
    subscribes: BTreeMap<u64, usize>,
    peeks: Vec<peek::PendingPeek>,
    input_time: Timestamp,
    since: Timestamp,
    gates: std::sync::Arc<WindowGates>,
}

/// Runs one worker until it receives `Shutdown` or the coordinator goes away.
pub fn run(
    worker: &mut Worker,
    commands: mpsc::Receiver<Command>,
    gates: std::sync::Arc<WindowGates>,
) {
    let mut state = State {
        inputs: BTreeMap::new(),
        indexes: BTreeMap::new(),
        dropped_indexes: BTreeMap::new(),
        index_readers: BTreeMap::new(),
        streams: BTreeMap::new(),
        arrangements: BTreeMap::new(),
        subscribes: BTreeMap::new(),
        peeks: Vec::new(),
        input_time: 0,
        since: 0,
        gates,
    };
    loop {
        loop {
            match commands.try_recv() {
                Ok(Command::Shutdown) | Err(mpsc::TryRecvError::Disconnected) => return,
                Ok(cmd) => handle(worker, &mut state, cmd),
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        // A peek of an arrangement already complete at its time needs no step: answering it
        // before parking saves a point read the park's millisecond.
        peek::answer_ready(worker, &mut state);
        // With peeks outstanding, poll briefly; otherwise sleep until woken.
        let park = if state.peeks.is_empty() {
            None
        } else {
            Some(Duration::from_millis(1))
        };
        worker.step_or_park(park);
        peek::answer_ready(worker, &mut state);
        compact(&mut state);
    }
}

fn handle(worker: &mut Worker, state: &mut State, cmd: Command) {
    match cmd {
        Command::CreateTable { id, retain } => {
            let dataflow = worker.next_dataflow_index();
            let time = state.input_time;
            let (input, rows, errs) =
                worker.dataflow_named::<Timestamp, _, _>(&format!("table {id}"), |scope| {
                    let (input, rows) = scope.new_collection::<Row, Diff>();
                    let errs = render::render(
                        scope,
                        &state.gates,
                        "table",
                        &RelExpr::empty(vec![]),
                        &Imports::new(),
                        false,
                    )
                    .1;
                    let (rows, errs) = render::arrange(rows, errs);
                    (input, rows.trace, errs.trace)
                });
            let mut input = input;
            // Flushing makes the advance visible: without it the new table's frontier would stay
            // at 0, and a read of it would wait for the next write to any table.
            input.advance_to(time);
            input.flush();
            state.inputs.insert(id, input);
            state.arrangements.insert(
                id,
                Arrangement {
                    rows,
                    errs,
                    dataflow,
                    retain,
                },
            );
        }
        Command::CreateStream { id } => {
            state.streams.entry(id).or_default();
        }
        Command::CreateView {
            id,
            expr,
            retain,
            streams,
        } => {
            let name = format!("view {id}");
            let (dataflow, rows, errs) = build_arranged(worker, state, &name, &expr, streams);
            state.arrangements.insert(
                id,
                Arrangement {
                    rows,
                    errs,
                    dataflow,
                    retain,
                },
            );
        }
        Command::CreateIndex { id, on, key } => {
            // The planner admits only tables and materialized views, which are arranged.
            let Some(base) = state.arrangements.get_mut(&on) else {
                return;
            };
            let dataflow = worker.next_dataflow_index();
            let by = key.clone();
            let rows = worker.dataflow_named::<Timestamp, _, _>(&format!("index {id}"), |scope| {
                let rows = base.rows.import(scope).as_collection(|row, _| row.to_vec());
                render::arrange_by(rows, by).trace
            });
            let index = Index {
                on,
                key,
                rows,
                dataflow,
            };
            state.indexes.insert(id, index);
        }
        Command::Drop { id } => {
            if let Some(index) = state.indexes.remove(&id) {
                state.dropped_indexes.insert(id, index);
                drop_unread_indexes(worker, state);
            }
            state.inputs.remove(&id);
            state.streams.remove(&id);
            if let Some(a) = state.arrangements.remove(&id) {
                drop_dataflow(worker, state, a.dataflow);
            }
        }
        Command::Write { time, updates } => {
            for (id, row, diff) in updates {
                if let Some(input) = state.inputs.get_mut(&id) {
                    input.update_at(row, time, diff);
                } else if let Some(readers) = state.streams.get_mut(&id) {
                    // A stream nobody reads keeps nothing.
                    if let Some((last, others)) = readers.split_last_mut() {
                        for r in others {
                            r.input.update_at(row.clone(), time, diff);
                        }
                        last.input.update_at(row, time, diff);
                    }
                }
            }
        }
        Command::AdvanceTo { time, since } => {
            state.input_time = state.input_time.max(time);
            state.since = state.since.max(since);
            let readers = state.streams.values_mut().flatten().map(|r| &mut r.input);
            for input in state.inputs.values_mut().chain(readers) {
                input.advance_to(state.input_time);
                input.flush();
            }
        }
        Command::Peek {
            target,
            time,
            exact,
            reply,
        } => peek::start(worker, state, target, time, exact, reply),
        Command::Subscribe {
            id,
            expr,
            as_of,
            exact,
            snapshot,
            streams,
            reply,
        } => {
            let as_of = match exact {
                true => as_of,
                false => as_of.max(readable_from(state, expr.depends_on())),
            };
            subscribe::start(worker, state, id, expr, as_of, snapshot, streams, reply)
        }
        Command::DropSubscribe { id } => {
            if let Some(dataflow) = state.subscribes.remove(&id) {
                drop_dataflow(worker, state, dataflow);
            }
        }
        Command::Frontiers { reply } => {
            let frontiers = state
                .arrangements
                .iter_mut()
                .map(|(id, a)| (*id, a.frontier()))
                .collect();
            let _ = reply.send(frontiers);
        }
        Command::Shutdown => unreachable!("handled by the loop"),
        Command::Crash => panic!("worker {} crashed on request", worker.index()),
    }
}

/// Builds a dataflow that imports what `expr` reads, renders it, and hands the result to `finish`.
/// Each stream it reads gets an input of its own, given `streams`' rows (this worker's share of
/// what the log holds), then every later write.
fn build<R>(
    worker: &mut Worker,
    state: &mut State,
    name: &str,
    expr: &RelExpr,
    leader: bool,
    mut streams: StreamRows,
    finish: impl for<'s> FnOnce(render::Rows<'s>, render::Errs<'s>) -> R,
) -> R {
    let dataflow = worker.next_dataflow_index();
    let (arrangements, gates) = (&mut state.arrangements, &state.gates);
    let indexes = &mut state.indexes;
    let mut readers = Vec::new();
    let mut indexes_read = Vec::new();
    let result = worker.dataflow_named::<Timestamp, _, _>(name, |scope| {
        let mut imports = Imports::new();
        let wanted = expr.indexes_wanted();
        for (id, index) in indexes.iter_mut() {
            if wanted.contains(&(index.on, index.key.clone())) {
                let rows = index.rows.import(scope);
                let (on, key) = (index.on, index.key.clone());
                imports.insert(*id, Import::Index { on, key, rows });
                indexes_read.push(*id);
            }
        }
        for id in expr.depends_on() {
            let import = match arrangements.get_mut(&id) {
                Some(a) => Import::Arranged(a.rows.import(scope), a.errs.import(scope)),
                None => {
                    let (input, rows) = scope.new_collection::<Row, Diff>();
                    readers.push((id, input));
                    Import::Stream(rows)
                }
            };
            imports.insert(id, import);
        }
        let (rows, errs) = render::render(scope, gates, name, expr, &imports, leader);
        finish(rows, errs)
    });
    if !indexes_read.is_empty() {
        state.index_readers.insert(dataflow, indexes_read);
    }
    // Fed once the dataflow is built: data sent while it is under construction is lost.
    for (id, mut input) in readers {
        for (row, time, diff) in streams.remove(&id).unwrap_or_default() {
            input.update_at(row, time, diff);
        }
        input.advance_to(state.input_time);
        input.flush();
        match state.streams.get_mut(&id) {
            Some(readers) => readers.push(StreamReader { dataflow, input }),
            None => panic!("invariant: {id} is installed before dataflows that read it"),
        }
    }
    result
}

/// Builds a dataflow for `expr` whose result is arranged: returns its index and traces.
fn build_arranged(
    worker: &mut Worker,
    state: &mut State,
    name: &str,
    expr: &RelExpr,
    streams: StreamRows,
) -> (usize, RowTrace, ErrTrace) {
    let dataflow = worker.next_dataflow_index();
    let leader = worker.index() == 0;
    let (rows, errs) = build(worker, state, name, expr, leader, streams, |rows, errs| {
        let (r, e) = render::arrange(rows, errs);
        (r.trace, e.trace)
    });
    (dataflow, rows, errs)
}

/// Drops a dataflow, and its inputs of streams.
fn drop_dataflow(worker: &mut Worker, state: &mut State, dataflow: usize) {
    for readers in state.streams.values_mut() {
        readers.retain(|r| r.dataflow != dataflow);
    }
    worker.drop_dataflow(dataflow);
    if state.index_readers.remove(&dataflow).is_some() {
        drop_unread_indexes(worker, state);
    }
}

/// Drops the dataflows of dropped indexes that no dataflow reads any more.
fn drop_unread_indexes(worker: &mut Worker, state: &mut State) {
    let unread: Vec<GlobalId> = state
        .dropped_indexes
        .keys()
        .filter(|id| !state.index_readers.values().flatten().any(|r| r == *id))
        .copied()
        .collect();
    for id in unread {
        if let Some(index) = state.dropped_indexes.remove(&id) {
            worker.drop_dataflow(index.dataflow);
        }
    }
}

/// Whether every arrangement in `ids` still holds its history at `time`: a read `AS OF` a time
/// its inputs have compacted past would see wrong (folded) contents, so it is refused.
///
/// The answer depends only on the commands received so far, which every worker receives in
/// the same order, so all workers agree (they must: a refused read builds no dataflow). An
/// arrangement's actual compaction lags this bound, never passes it.
fn check_readable(
    state: &State,
    ids: impl IntoIterator<Item = GlobalId>,
    time: Timestamp,
) -> Result<(), EvalError> {
    for id in ids {
        let since = readable_from(state, [id]);
        if since > time {
            return Err(EvalError::InvalidParameter(format!(
                "AS OF {time} is before the history retained for {id}, which begins at {since}"
            )));
        }
    }
    Ok(())
}

/// The earliest time at which every arrangement in `ids` still holds its history (the same on
/// every worker, as `check_readable`'s answer).
fn readable_from(state: &State, ids: impl IntoIterator<Item = GlobalId>) -> Timestamp {
    ids.into_iter()
        .filter_map(|id| state.arrangements.get(&id))
        .map(|a| state.since.saturating_sub(a.retain))
        .max()
        .unwrap_or(0)
}

/// Lets arrangements forget history no read can ask for any more: each keeps its retention
/// window back from the latest read time, and everything an outstanding peek reads.
fn compact(state: &mut State) {
    let oldest_peek = state
        .peeks
        .iter()
        .map(|p| p.time)
        .min()
        .unwrap_or(Timestamp::MAX);
    let since_of = |retain: Timestamp| state.since.saturating_sub(retain).min(oldest_peek);
    for a in state.arrangements.values_mut() {
        let since = since_of(a.retain);
        compact_to(&mut a.rows, since);
        compact_to(&mut a.errs, since);
    }
    // An index keeps the history its object keeps, so a dataflow importing both reads them
    // at the same times.
    for index in state
        .indexes
        .values_mut()
        .chain(state.dropped_indexes.values_mut())
    {
        let retain = state.arrangements.get(&index.on).map_or(0, |a| a.retain);
        compact_to(&mut index.rows, since_of(retain));
    }
}

/// Lets `trace` forget distinctions between times before `since`, and merge its batches up to
/// there, or up to as far as it is complete if that is earlier: a join that imports a trace
/// requires its batches to be merged no further than they are complete (an index or view
/// still catching up is not complete up to `since`). (Compaction never moves back: the trace
/// joins these with its current frontiers.)
fn compact_to<Tr>(trace: &mut Tr, since: Timestamp)
where
    Tr: differential_dataflow::trace::TraceReader<Time = Timestamp>,
{
    let mut upper = timely::progress::Antichain::new();
    trace.read_upper(&mut upper);
    let merged = upper.first().map_or(since, |u| since.min(*u));
    trace.set_logical_compaction(AntichainRef::new(&[since]));
    trace.set_physical_compaction(AntichainRef::new(&[merged]));
}

/// An error raised while reading: what the client sees.
pub fn first_error(errs: Vec<(EvalError, Diff)>) -> Option<EvalError> {
    errs.into_iter()
        .filter(|(_, d)| *d > 0)
        .map(|(e, _)| e)
        .next()
}
