//! Peeks: reading an arrangement's contents at one time, once the arrangement is complete there.

use differential_dataflow::operators::arrange::TraceAgent;
use differential_dataflow::trace::cursor::{cursor_list, BatchCursor, Cursor, Navigable};
use differential_dataflow::trace::implementations::BatchContainer;
use differential_dataflow::trace::TraceReader;
use timely::progress::Antichain;
use timely::worker::Worker;

use super::{build_arranged, Arrangement, PeekTarget, State};
use crate::ir::EvalError;
use crate::render::{ErrTrace, IndexTrace, RowTrace};
use crate::repr::{Diff, Row, Timestamp};

/// One worker's share of a peek's answer.
pub type PeekResult = Result<Vec<(Row, Diff)>, EvalError>;
pub type PeekReply = tokio::sync::mpsc::UnboundedSender<PeekResult>;

pub struct PendingPeek {
    pub time: Timestamp,
    rows: Contents,
    errs: ErrTrace,
    /// A transient dataflow to drop once answered.
    dataflow: Option<usize>,
    reply: PeekReply,
}

/// What a peek reads: all of an arrangement, or only how many rows it holds, or some keys of
/// an index (sorted).
enum Contents {
    All(RowTrace),
    Count(RowTrace),
    Keys(IndexTrace, Vec<Row>),
}

pub fn start(
    worker: &mut Worker,
    state: &mut State,
    target: PeekTarget,
    time: Timestamp,
    exact: bool,
    reply: PeekReply,
) {
    let reads: Vec<_> = match &target {
        PeekTarget::Arranged(id) | PeekTarget::Count(id) | PeekTarget::Lookup { on: id, .. } => {
            vec![*id]
        }
        PeekTarget::Transient(expr, _) => expr.depends_on().into_iter().collect(),
    };
    // A read without AS OF moves past history released since its time was chosen: reading
    // more writes (all durable) is still a read after every acknowledged one.
    let time = match exact {
        true => time,
        false => time.max(super::readable_from(state, reads.iter().copied())),
    };
    if let Err(e) = super::check_readable(state, reads, time) {
        let _ = reply.send(Err(e));
        return;
    }
    let pending = match target {
        PeekTarget::Arranged(id) | PeekTarget::Count(id) => match state.arrangements.get(&id) {
            Some(Arrangement { rows, errs, .. }) => PendingPeek {
                time,
                rows: match target {
                    PeekTarget::Count(_) => Contents::Count(rows.clone()),
                    _ => Contents::All(rows.clone()),
                },
                errs: errs.clone(),
                dataflow: None,
                reply,
            },
            None => {
                let _ = reply.send(Err(EvalError::Internal(format!("{id} is not installed"))));
                return;
            }
        },
        PeekTarget::Lookup { index, on, values } => {
            match (state.indexes.get(&index), state.arrangements.get(&on)) {
                (Some(index), Some(Arrangement { errs, .. })) => PendingPeek {
                    time,
                    rows: Contents::Keys(index.rows.clone(), values),
                    errs: errs.clone(),
                    dataflow: None,
                    reply,
                },
                _ => {
                    let _ = reply.send(Err(EvalError::Internal(format!(
                        "index {index} of {on} is not installed"
                    ))));
                    return;
                }
            }
        }
        PeekTarget::Transient(expr, streams) => {
            let (dataflow, rows, errs) = build_arranged(worker, state, "peek", &expr, streams);
            PendingPeek {
                time,
                rows: Contents::All(rows),
                errs,
                dataflow: Some(dataflow),
                reply,
            }
        }
    };
    state.peeks.push(pending);
}

/// Answers every peek whose arrangement is complete at its time.
pub fn answer_ready(worker: &mut Worker, state: &mut State) {
    let mut i = 0;
    while i < state.peeks.len() {
        let p = &mut state.peeks[i];
        let mut upper = Antichain::new();
        match &mut p.rows {
            Contents::All(rows) | Contents::Count(rows) => rows.read_upper(&mut upper),
            Contents::Keys(rows, _) => rows.read_upper(&mut upper),
        }
        let mut err_upper = Antichain::new();
        p.errs.read_upper(&mut err_upper);
        if upper.less_equal(&p.time) || err_upper.less_equal(&p.time) {
            i += 1;
            continue;
        }
        let p = state.peeks.swap_remove(i);
        let errs = read_at(&p.errs, p.time, upper.clone());
        let result = match super::first_error(errs) {
            Some(e) => Err(e),
            None => Ok(match &p.rows {
                Contents::All(rows) => read_at(rows, p.time, upper),
                Contents::Count(rows) => match row_count_at(rows, p.time, upper) {
                    0 => vec![],
                    count => vec![(vec![], count)],
                },
                Contents::Keys(index, keys) => read_keys_at(index, keys, p.time, upper),
            }),
        };
        let _ = p.reply.send(result);
        if let Some(d) = p.dataflow {
            super::drop_dataflow(worker, state, d);
        }
    }
}

/// The contents of a trace at `time`: every key with its accumulated count, if non-zero.
fn read_at<Tr>(
    trace: &TraceAgent<Tr>,
    time: Timestamp,
    upper: Antichain<Timestamp>,
) -> Vec<(Owned<Tr>, Diff)>
where
    Tr: TraceReader<Time = Timestamp, Batch: Navigable>,
    BatchCursor<Tr>: for<'a> Cursor<TimeGat<'a> = &'a Timestamp, DiffGat<'a> = &'a Diff>,
{
    let mut out = Vec::new();
    each_at(trace, time, upper, |key, count| {
        out.push((KeyContainer::<Tr>::into_owned(key), count))
    });
    out
}

/// How many rows (keys, with their multiplicities) a trace holds at `time`.
fn row_count_at(trace: &RowTrace, time: Timestamp, upper: Antichain<Timestamp>) -> Diff {
    let mut total = 0;
    each_at(trace, time, upper, |_, count| total += count);
    total
}

/// Calls `f` with every key of a trace and its accumulated count at `time`, if non-zero.
fn each_at<Tr>(
    trace: &TraceAgent<Tr>,
    time: Timestamp,
    upper: Antichain<Timestamp>,
    mut f: impl FnMut(<BatchCursor<Tr> as Cursor>::Key<'_>, Diff),
) where
    Tr: TraceReader<Time = Timestamp, Batch: Navigable>,
    BatchCursor<Tr>: for<'a> Cursor<TimeGat<'a> = &'a Timestamp, DiffGat<'a> = &'a Diff>,
{
    let mut trace = trace.clone();
    let Some(batches) = trace.batches_through(upper.borrow()) else {
        return;
    };
    let (mut cursor, storage) = cursor_list(batches);
    while cursor.key_valid(&storage) {
        let count = crate::render::count_at(&mut cursor, &storage, time);
        if count != 0 {
            f(cursor.key(&storage), count);
        }
        cursor.step_key(&storage);
    }
}

/// A trace's keys, owned.
type KeyContainer<Tr> = <BatchCursor<Tr> as Cursor>::KeyContainer;
type Owned<Tr> = <KeyContainer<Tr> as BatchContainer>::Owned;

/// The rows of an index under `keys` (sorted) at `time`, each with its accumulated count, if
/// non-zero.
fn read_keys_at(
    index: &IndexTrace,
    keys: &[Row],
    time: Timestamp,
    upper: Antichain<Timestamp>,
) -> Vec<(Row, Diff)> {
    let mut index = index.clone();
    let Some(batches) = index.batches_through(upper.borrow()) else {
        return Vec::new();
    };
    let (mut cursor, storage) = cursor_list(batches);
    let mut out = Vec::new();
    for key in keys {
        // Keys ascend, so each seek moves the cursor forward.
        cursor.seek_key(&storage, key);
        if cursor.get_key(&storage) != Some(&key[..]) {
            continue;
        }
        while let Some(row) = cursor.get_val(&storage) {
            let count = crate::render::count_at(&mut cursor, &storage, time);
            if count != 0 {
                out.push((row.to_vec(), count));
            }
            cursor.step_val(&storage);
        }
    }
    out
}
