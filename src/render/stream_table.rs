//! ksqlDB's stream-table join (differential's "half join", from dogsdogsdogs): each stream row
//! looks up its key in the table's arrangement as the table was at the row's time, once the
//! arrangement is complete there, and the pairs found are the output at that time. Nothing is
//! kept of the stream rows afterwards, and a later change to the table finds no stream rows to
//! revise: what was joined stays joined.
//!
//! A stream row older than the history the dataflow could import (a view built over a stream
//! that was appended to long ago) reads the table as of the oldest time imported, `lower`.

use std::collections::BTreeMap;

use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::cursor::{cursor_list, Cursor};
use differential_dataflow::trace::TraceReader;
use differential_dataflow::{AsCollection, Hashable, VecCollection};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::progress::frontier::AntichainRef;

use super::held::Held;
use crate::ir::{EvalError, ScalarExpr};
use crate::repr::{Datum, Diff, Row, Timestamp};

/// The table side: its rows arranged by the join key.
pub(super) type KeyedTrace = TraceAgent<super::KeyedRowSpine>;

type Joined = Result<Row, EvalError>;

/// Joins `stream`'s `(key, row)` pairs to `table` as it was at each pair's time (but not
/// before `lower`). A pair whose joined row fails `predicates` is no match; with
/// `pad_to = Some(n)`, a row with no match is passed on followed by `n` NULLs.
pub(super) fn render<'s>(
    stream: VecCollection<'s, Timestamp, (Row, Row), Diff>,
    table: Arranged<'s, KeyedTrace>,
    lower: Timestamp,
    predicates: Vec<ScalarExpr>,
    pad_to: Option<usize>,
) -> VecCollection<'s, Timestamp, Joined, Diff> {
    let mut builder = OperatorBuilder::new("StreamTableJoin".to_owned(), stream.inner.scope());
    // Each row goes to the worker that holds its key in the arrangement (the same exchange).
    let exchange = Exchange::new(|u: &((Row, Row), Timestamp, Diff)| (u.0).0.hashed());
    let mut rows_in = builder.new_input(stream.inner, exchange);
    let mut table_in = builder.new_input(table.stream, Pipeline);
    let (output, joined) = builder.new_output();
    let mut output =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<(Joined, Timestamp, Diff)>>>::from(output);
    let mut trace = Some(table.trace);
    if let Some(trace) = trace.as_mut() {
        // Only logical compaction matters to what is read, and it is held back below.
        trace.set_physical_compaction(AntichainRef::new(&[]));
    }
    builder.build(move |_| {
        let mut stash: BTreeMap<Timestamp, Vec<(Row, Row, Diff)>> = BTreeMap::new();
        let mut held = Held::default();
        move |frontiers| {
            rows_in.for_each_stamp(|c, data| {
                if let Some(c) = c.retain_least(0) {
                    held.offer(c);
                }
                for ((key, row), t, d) in data.flat_map(|d| d.drain(..)) {
                    stash.entry(t).or_default().push((key, row, d));
                }
            });
            table_in.for_each_stamp(|_, _| {});
            let Some(tr) = trace.as_mut() else {
                return;
            };
            let table_frontier = frontiers[1].frontier();
            let mut out = Vec::new();
            while let Some((&t, _)) = stash.first_key_value() {
                let lookup = t.max(lower);
                if table_frontier.less_equal(&lookup) {
                    break; // the table is not complete at `lookup` yet
                }
                let rows = stash.remove(&t).unwrap_or_default();
                look_up(tr, rows, t, lookup, &predicates, pad_to, &mut out);
            }
            held.give(&mut output, out);
            held.release_to(stash.keys().next().copied());
            // The table's history may fold up to the earliest time a row can still look up.
            let rows_frontier = frontiers[0].frontier();
            let next = stash.keys().chain(rows_frontier.iter()).min().copied();
            match next {
                Some(n) => tr.set_logical_compaction(AntichainRef::new(&[n.max(lower)])),
                None => trace = None, // no more stream rows: release the arrangement
            }
        }
    });
    joined.as_collection()
}

/// Joins the stream rows of time `t` with the table at `lookup`.
fn look_up(
    trace: &mut KeyedTrace,
    mut rows: Vec<(Row, Row, Diff)>,
    t: Timestamp,
    lookup: Timestamp,
    predicates: &[ScalarExpr],
    pad_to: Option<usize>,
    out: &mut Vec<(Joined, Timestamp, Diff)>,
) {
    // The cursor only seeks forward: visit keys in order.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let batches = trace
        .batches_through(AntichainRef::new(&[]))
        .unwrap_or_default();
    let (mut cursor, storage) = cursor_list(batches);
    for (key, row, d) in rows {
        let mut matched = false;
        // SQL's `=` never holds for NULL.
        if !key.iter().any(|k| matches!(k, Datum::Null)) {
            cursor.seek_key(&storage, &key);
            if cursor.get_key(&storage) == Some(&key) {
                while let Some(val) = cursor.get_val(&storage) {
                    let count = super::count_at(&mut cursor, &storage, lookup);
                    if count != 0 {
                        let mut pair = row.clone();
                        pair.extend_from_slice(val);
                        match super::passes(predicates, &pair) {
                            Ok(true) => {
                                matched = true;
                                out.push((Ok(pair), t, d * count));
                            }
                            Ok(false) => {}
                            Err(e) => {
                                matched = true;
                                out.push((Err(e), t, d));
                            }
                        }
                    }
                    cursor.step_val(&storage);
                }
                cursor.rewind_vals(&storage);
            }
        }
        if let (false, Some(n)) = (matched, pad_to) {
            let mut padded = row;
            padded.extend(std::iter::repeat_n(Datum::Null, n));
            out.push((Ok(padded), t, d));
        }
    }
}
