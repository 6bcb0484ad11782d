//! Lowering the IR to differential dataflow. The only module (with `worker`) that names
//! differential's types.
//!
//! Every rendered relation is a pair: the collection of rows, and a collection of evaluation
//! errors. An error never stops a worker; it flows to the view's error arrangement, and a read of
//! the view reports it (and stops reporting it once the row that caused it is gone).

use std::collections::HashMap;

use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::implementations::KeySpine;
use differential_dataflow::{AsCollection, VecCollection};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::vec::ToStream;
use timely::dataflow::Scope;

use crate::ir::aggregate::top_k;
use crate::ir::{EvalError, LocalId, RelExpr, ScalarExpr};
use crate::repr::{Datum, Diff, GlobalId, Row, Timestamp};
mod accumulate;
mod close;
mod held;
mod interval_join;
mod reduce;
mod spines;
mod stream_table;
mod temporal;

pub use close::WindowGates;

pub use spines::{KeyedRowSpine, RowSpine};
pub type ErrSpine = KeySpine<EvalError, Timestamp, Diff>;
/// A shared handle to an arrangement of rows (a table, a materialized view, a query result).
pub type RowTrace = TraceAgent<RowSpine>;
pub type ErrTrace = TraceAgent<ErrSpine>;

/// An index: rows arranged by key (the key's columns, then the whole row).
pub type IndexSpine = KeyedRowSpine;
pub type IndexTrace = TraceAgent<IndexSpine>;

pub type Rows<'s> = VecCollection<'s, Timestamp, Row, Diff>;
pub type Errs<'s> = VecCollection<'s, Timestamp, EvalError, Diff>;

/// How a dataflow reads one global object. (A few per dataflow, built once: their size does
/// not matter.)
#[allow(clippy::large_enum_variant)]
pub enum Import<'s> {
    /// A table's or materialized view's arrangements (rows and errors), imported.
    Arranged(Arranged<'s, RowTrace>, Arranged<'s, ErrTrace>),
    /// A stream's rows as they are appended (streams are arranged nowhere, and hold no errors).
    Stream(Rows<'s>),
    /// An index of the arranged object `on`, by its `key` columns: what a join on that key
    /// reads instead of arranging `on` again. (Its errors are `on`'s, imported with `on`.)
    Index {
        on: GlobalId,
        key: Vec<usize>,
        rows: Arranged<'s, IndexTrace>,
    },
}

/// What a dataflow reads, by object.
pub type Imports<'s> = HashMap<GlobalId, Import<'s>>;

/// Renders `expr` in `scope`. `constants_here` is true on exactly one worker, which introduces
/// constant rows (every worker renders the same plan).
pub fn render<'s>(
    scope: Scope<'s, Timestamp>,
    gates: &WindowGates,
    dataflow: &str,
    expr: &RelExpr,
    imports: &Imports<'s>,
    constants_here: bool,
) -> (Rows<'s>, Errs<'s>) {
    let mut cx = RenderCx {
        scope,
        gates,
        dataflow,
        imports,
        lets: HashMap::new(),
        constants_here,
    };
    cx.render(expr)
}

struct RenderCx<'a, 's> {
    scope: Scope<'s, Timestamp>,
    /// Where `EMIT FINAL` gates report, under the dataflow's name.
    gates: &'a WindowGates,
    dataflow: &'a str,
    imports: &'a Imports<'s>,
    lets: HashMap<LocalId, (Rows<'s>, Errs<'s>)>,
    constants_here: bool,
}

fn key_of(row: &Row, cols: &[usize]) -> Row {
    cols.iter().map(|c| row[*c].clone()).collect()
}

/// `row` with each scalar's value appended (each may read the ones before it).
fn map_row(scalars: &[ScalarExpr], mut row: Row) -> Result<Row, EvalError> {
    for s in scalars {
        let v = s.eval(&row)?;
        row.push(v);
    }
    Ok(row)
}

/// Whether every predicate is true of `row` (the first error, if one raises it).
fn passes(predicates: &[ScalarExpr], row: &Row) -> Result<bool, EvalError> {
    for p in predicates {
        if p.eval(row)?.as_bool() != Some(true) {
            return Ok(false);
        }
    }
    Ok(true)
}

impl<'s> RenderCx<'_, 's> {
    /// The oldest time at which every imported arrangement is accurate: a stream-table join
    /// reads the table no earlier.
    fn lower(&self) -> Timestamp {
        use differential_dataflow::trace::TraceReader;
        let sinces = self.imports.values().filter_map(|import| match import {
            Import::Arranged(rows, _) => rows
                .trace
                .clone()
                .get_logical_compaction()
                .iter()
                .max()
                .copied(),
            Import::Stream(_) | Import::Index { .. } => None,
        });
        sinces.max().unwrap_or(0)
    }

    fn no_errors(&self) -> Errs<'s> {
        Vec::<(EvalError, Timestamp, Diff)>::new()
            .to_stream(self.scope)
            .as_collection()
    }

    fn render(&mut self, expr: &RelExpr) -> (Rows<'s>, Errs<'s>) {
        match expr {
            RelExpr::Constant { rows, .. } => {
                let data: Vec<(Row, Timestamp, Diff)> = if self.constants_here {
                    rows.iter().map(|(r, d)| (r.clone(), 0, *d)).collect()
                } else {
                    vec![]
                };
                (data.to_stream(self.scope).as_collection(), self.no_errors())
            }
            RelExpr::Get { id, name, .. } => match self.imports.get(id) {
                Some(Import::Arranged(rows, errs)) => (
                    rows.clone().as_collection(|row, _| row.to_vec()),
                    errs.clone().as_collection(|k, _| k.clone()),
                ),
                Some(Import::Stream(rows)) => (rows.clone(), self.no_errors()),
                Some(Import::Index { .. }) | None => panic!(
                    "invariant: the coordinator imports every object a plan reads ({name} {id})"
                ),
            },
            RelExpr::Let { id, value, body } => {
                let v = self.render(value);
                self.lets.insert(*id, v);
                let out = self.render(body);
                self.lets.remove(id);
                out
            }
            RelExpr::LocalGet { id, .. } => self
                .lets
                .get(id)
                .cloned()
                .unwrap_or_else(|| panic!("invariant: l{id} is bound by an enclosing Let")),
            RelExpr::Map { input, scalars } => {
                let (rows, errs) = self.render(input);
                let scalars = scalars.clone();
                fallible("Map", rows, errs, move |row: Row| {
                    Some(map_row(&scalars, row))
                })
            }
            RelExpr::CloseWindows {
                input,
                event_time,
                window_end,
                spec,
            } => {
                let (rows, errs) = self.render(input);
                let rows = close::render(
                    rows,
                    self.gates,
                    self.dataflow,
                    *event_time,
                    *window_end,
                    spec.clone(),
                    close::KeepRows,
                );
                (rows, errs)
            }
            RelExpr::FlatMap { input, func, args } => {
                let (rows, errs) = self.render(input);
                let (func, args) = (func.clone(), args.clone());
                fallible("FlatMap", rows, errs, move |row: Row| {
                    let vals: Result<Vec<_>, _> = args.iter().map(|a| a.eval(&row)).collect();
                    match vals.and_then(|v| func.eval(&v)) {
                        Ok(extras) => extras
                            .into_iter()
                            .map(|extra| {
                                let mut r = row.clone();
                                r.extend(extra);
                                Ok(r)
                            })
                            .collect(),
                        Err(e) => vec![Err(e)],
                    }
                })
            }
            RelExpr::Filter { input, predicates } => {
                let (rows, errs) = self.render(input);
                // The planner admits now() only where `split` understands it.
                let (predicates, bounds) = crate::ir::temporal::split(predicates)
                    .unwrap_or_else(|_| (predicates.clone(), vec![]));
                if !bounds.is_empty() {
                    return temporal::render(rows, errs, predicates, bounds);
                }
                fallible("Filter", rows, errs, move |row: Row| {
                    match passes(&predicates, &row) {
                        Ok(true) => Some(Ok(row)),
                        Ok(false) => None,
                        Err(e) => Some(Err(e)),
                    }
                })
            }
            RelExpr::Project { input, outputs } => {
                if let RelExpr::Join { left, right, keys } = &**input {
                    // The join makes the projected rows itself.
                    return self.join(left, right, keys, outputs);
                }
                let (rows, errs) = self.render(input);
                let outputs = outputs.clone();
                (rows.map(move |row: Row| key_of(&row, &outputs)), errs)
            }
            RelExpr::Join { left, right, keys } => {
                let all: Vec<usize> = (0..expr.arity()).collect();
                self.join(left, right, keys, &all)
            }
            RelExpr::IntervalJoin {
                left,
                right,
                keys,
                predicates,
                bound,
            } => {
                let (lrows, lerrs) = self.render(left);
                let (rrows, rerrs) = self.render(right);
                let stats = self.gates.stats(self.dataflow);
                let joined = interval_join::render(
                    lrows,
                    rrows,
                    left.arity(),
                    keys,
                    predicates.clone(),
                    bound.clone(),
                    stats,
                );
                fallible("IntervalJoin", joined, lerrs.concat(rerrs), Some)
            }
            RelExpr::StreamTableJoin {
                stream,
                table,
                keys,
                predicates,
                outer,
            } => {
                let (srows, serrs) = self.render(stream);
                let (trows, terrs) = self.render(table);
                let sk: Vec<usize> = keys.iter().map(|(s, _)| *s).collect();
                let tk: Vec<usize> = keys.iter().map(|(_, t)| *t).collect();
                let keyed = srows.map(move |row: Row| (key_of(&row, &sk), row));
                let arranged = spines::arrange_keyed(
                    trows.map(move |row: Row| (key_of(&row, &tk), row)),
                    "StreamTableJoin table",
                );
                let pad_to = outer.then(|| table.arity());
                let joined =
                    stream_table::render(keyed, arranged, self.lower(), predicates.clone(), pad_to);
                fallible("StreamTableJoin", joined, serrs.concat(terrs), Some)
            }
            RelExpr::Reduce {
                input,
                group_key,
                aggregates,
            } => {
                let input_types = input.typ();
                let arg_types: Vec<_> = aggregates
                    .iter()
                    .map(|a| a.expr.typ(&input_types).scalar)
                    .collect();
                if let Some(gate) = close::Fusable::of(input) {
                    // Windows that close once: reduced in the gate, then forgotten.
                    let (rows, errs) = self.render(gate.gate_input);
                    let (event_time, window_end, spec) =
                        (gate.event_time, gate.window_end, gate.spec.clone());
                    let hold = close::FinalAggregate::new(gate, group_key, aggregates, &arg_types);
                    let reduced = close::render(
                        rows,
                        self.gates,
                        self.dataflow,
                        event_time,
                        window_end,
                        spec,
                        hold,
                    );
                    return fallible("FinalAggregate", reduced, errs, Some);
                }
                let (rows, errs) = self.render(input);
                let direct = reduce::render_direct(rows.clone(), group_key, aggregates, &arg_types);
                let (reduced, errs) = match direct {
                    Some(reduced) => (reduced, errs),
                    None => {
                        let gk = group_key.clone();
                        // Arrange only what the aggregates read: their argument values.
                        let args: Vec<ScalarExpr> =
                            aggregates.iter().map(|a| a.expr.clone()).collect();
                        let (keyed, errs) = fallible("ReduceArgs", rows, errs, move |row: Row| {
                            let vals: Result<Row, EvalError> =
                                args.iter().map(|a| a.eval(&row)).collect();
                            Some(vals.map(|v| (key_of(&row, &gk), v)))
                        });
                        (reduce::render(keyed, aggregates, &arg_types), errs)
                    }
                };
                let none = self.no_errors();
                let (rows, agg_errs) =
                    fallible("ReduceOutput", reduced, none, |(mut key, aggs)| {
                        Some(aggs.map(|aggs: Row| {
                            key.extend(aggs);
                            key
                        }))
                    });
                (rows, errs.concat(agg_errs))
            }
            RelExpr::Rank {
                input,
                partition,
                order,
                func,
            } => {
                let (order, func) = (order.clone(), *func);
                self.per_partition("Rank", input, partition, move |rows| {
                    Ok(crate::ir::aggregate::rank(rows, &order, func))
                })
            }
            RelExpr::SessionWindows {
                input,
                partition,
                event_time,
                gap,
            } => {
                let (event_time, gap) = (*event_time, *gap);
                self.per_partition("Sessions", input, partition, move |rows| {
                    crate::ir::window::sessions(rows, event_time, gap)
                })
            }
            RelExpr::TopK {
                input,
                group_key,
                order,
                limit,
                offset,
            } => {
                let (order, limit, offset) = (order.clone(), *limit, *offset);
                self.per_partition("TopK", input, group_key, move |rows| {
                    Ok(top_k(rows, &order, limit, offset))
                })
            }
            RelExpr::Distinct { input } => {
                let (rows, errs) = self.render(input);
                (
                    spines::threshold_rows(rows, "Distinct", |c| Diff::from(c > 0)),
                    errs,
                )
            }
            RelExpr::Threshold { input } => {
                let (rows, errs) = self.render(input);
                (
                    spines::threshold_rows(rows, "Threshold", |c| c.max(0)),
                    errs,
                )
            }
            RelExpr::Negate { input } => {
                let (rows, errs) = self.render(input);
                (rows.negate(), errs)
            }
            RelExpr::Union { inputs } => {
                let mut rendered = inputs.iter().map(|i| self.render(i));
                let (mut rows, mut errs) = rendered.next().expect("a union has inputs");
                for (r, e) in rendered {
                    rows = rows.concat(r);
                    errs = errs.concat(e);
                }
                (rows, errs)
            }
        }
    }
}

impl<'s> RenderCx<'_, 's> {
    /// An equi-join whose output is the `outputs` columns of the left row followed by the right.
    /// Each side is arranged by its key with just the columns the output reads (or is an index
    /// of its object by that key, with whole rows), and the output row is built once, from both
    /// sides' values.
    fn join(
        &mut self,
        left: &RelExpr,
        right: &RelExpr,
        keys: &[(usize, usize)],
        outputs: &[usize],
    ) -> (Rows<'s>, Errs<'s>) {
        let left_arity = left.arity();
        let lk: Vec<usize> = keys.iter().map(|(l, _)| *l).collect();
        let rk: Vec<usize> = keys.iter().map(|(_, r)| *r).collect();
        let lv = outputs.iter().copied().filter(|c| *c < left_arity);
        let rv = outputs.iter().filter_map(|c| c.checked_sub(left_arity));
        let l = self.join_input(left, lk, lv.collect());
        let r = self.join_input(right, rk, rv.collect());
        // Where each output column is: (from the right side?, index in that side's values).
        let place: Vec<(bool, usize)> = outputs
            .iter()
            .map(|c| match c.checked_sub(left_arity) {
                Some(c) => (true, r.vals.binary_search(&c).expect("an output column")),
                None => (false, l.vals.binary_search(c).expect("an output column")),
            })
            .collect();
        let mut drop_nulls = l.drop_nulls;
        drop_nulls.extend(r.drop_nulls);
        let joined = l
            .rows
            .join_core(r.rows, move |k: &[Datum], l: &[Datum], r: &[Datum]| {
                if drop_nulls.iter().any(|p| k[*p].is_null()) {
                    return None;
                }
                Some(
                    place
                        .iter()
                        .map(|(right, i)| if *right { &r[*i] } else { &l[*i] }.clone())
                        .collect::<Row>(),
                )
            });
        (joined, l.errs.concat(r.errs))
    }

    /// One side of a join, arranged by `key` with the `vals` columns as values; or an index of
    /// the object it reads by that key, when the dataflow imported one.
    fn join_input(
        &mut self,
        input: &RelExpr,
        key: Vec<usize>,
        mut vals: Vec<usize>,
    ) -> JoinInput<'s> {
        if let Some((id, drop_nulls)) = input.indexed_input(&key) {
            let index = self.imports.values().find_map(|import| match import {
                Import::Index { on, key: k, rows } if *on == id && *k == key => Some(rows.clone()),
                _ => None,
            });
            if let (Some(rows), Some(Import::Arranged(_, errs))) = (index, self.imports.get(&id)) {
                return JoinInput {
                    rows,
                    errs: errs.clone().as_collection(|e, _| e.clone()),
                    vals: (0..input.arity()).collect(),
                    drop_nulls,
                };
            }
        }
        vals.sort_unstable();
        vals.dedup();
        let (rows, errs) = self.render(input);
        let whole = vals.iter().copied().eq(0..input.arity());
        let cols = vals.clone();
        let pairs = rows.map(move |row: Row| {
            let k = key_of(&row, &key);
            (k, if whole { row } else { key_of(&row, &cols) })
        });
        let rows = spines::arrange_keyed(pairs, "JoinInput");
        JoinInput {
            rows,
            errs,
            vals,
            drop_nulls: vec![],
        }
    }

    /// Renders `input` grouped by the `key` columns, each group's output recomputed by
    /// `logic` from all its rows whenever one of them changes (a row can move others: ranks,
    /// sessions, a top-k's cut-off). An error replaces the group's output.
    fn per_partition<L>(
        &mut self,
        name: &str,
        input: &RelExpr,
        key: &[usize],
        logic: L,
    ) -> (Rows<'s>, Errs<'s>)
    where
        L: Fn(Vec<(Row, Diff)>) -> Result<Vec<(Row, Diff)>, EvalError> + 'static,
    {
        let (rows, errs) = self.render(input);
        let key = key.to_vec();
        let keyed = rows.map(move |row: Row| (key_of(&row, &key), row));
        let out = spines::reduce_keyed(keyed, name, move |_key, vals, out| {
            let rows = vals.iter().map(|(r, d)| (r.to_vec(), *d)).collect();
            match logic(rows) {
                Ok(rows) => out.extend(rows.into_iter().map(|(r, d)| (Ok(r), d))),
                Err(e) => out.push((Err(e), 1)),
            }
        });
        fallible(name, out, errs, |(_, row)| Some(row))
    }
}

/// Applies `logic` to every record, which gives any number of results (an `Option` gives at
/// most one): each `Ok(row)` passes a row on, each `Err(e)` becomes an error (added to those
/// already flowing).
fn fallible<'s, D, O, L, I>(
    name: &str,
    input: VecCollection<'s, Timestamp, D, Diff>,
    errs: Errs<'s>,
    mut logic: L,
) -> (VecCollection<'s, Timestamp, O, Diff>, Errs<'s>)
where
    D: differential_dataflow::Data,
    O: differential_dataflow::Data,
    L: FnMut(D) -> I + 'static,
    I: IntoIterator<Item = Result<O, EvalError>>,
{
    fallible_updates(name, input, errs, move |d, t, r, out| {
        for result in logic(d) {
            out(result.map(|row| (row, t, r)).map_err(|e| (e, t, r)));
        }
    })
}

/// Applies `logic` to every update `(data, time, diff)`; it passes on any number of updates
/// or errors, at any times not before the update's (a temporal filter's are later). One operator
/// with two outputs, so no record is copied to reach the side it does not belong to.
fn fallible_updates<'s, D, O, L>(
    name: &str,
    input: VecCollection<'s, Timestamp, D, Diff>,
    errs: Errs<'s>,
    mut logic: L,
) -> (VecCollection<'s, Timestamp, O, Diff>, Errs<'s>)
where
    D: differential_dataflow::Data,
    O: differential_dataflow::Data,
    L: FnMut(D, Timestamp, Diff, &mut dyn FnMut(Update<O>)) + 'static,
{
    let mut builder = OperatorBuilder::new(name.to_owned(), input.inner.scope());
    let mut input = builder.new_input(input.inner, Pipeline);
    let (ok_output, ok_stream) = builder.new_output();
    let (err_output, err_stream) = builder.new_output();
    let mut ok_output =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<(O, Timestamp, Diff)>>>::from(ok_output);
    let mut err_output = OutputBuilder::<
        _,
        CapacityContainerBuilder<Vec<(EvalError, Timestamp, Diff)>>,
    >::from(err_output);
    builder.build(move |_| {
        move |_frontiers| {
            let mut oks = ok_output.activate();
            let mut errs = err_output.activate();
            input.for_each_stamp(|cap, data| {
                let mut oks = oks.session(&cap);
                let mut errs = errs.session(&cap);
                for (d, t, r) in data.flat_map(|d| d.drain(..)) {
                    logic(d, t, r, &mut |out| match out {
                        Ok(update) => oks.give(update),
                        Err(error) => errs.give(error),
                    });
                }
            });
        }
    });
    (
        ok_stream.as_collection(),
        errs.concat(err_stream.as_collection()),
    )
}

/// One side of a join, arranged by the join's key.
struct JoinInput<'s> {
    rows: Arranged<'s, IndexTrace>,
    errs: Errs<'s>,
    /// The input's columns the arranged values hold, ascending.
    vals: Vec<usize>,
    /// Positions in the key whose NULLs the join drops (the input asked for them not NULL).
    drop_nulls: Vec<usize>,
}

/// An update a record turns into, or an error (with its time and diff).
type Update<O> = Result<(O, Timestamp, Diff), (EvalError, Timestamp, Diff)>;

/// Arranges a rendered relation (rows by the whole row, errors by error) so it can be read and
/// imported by other dataflows.
pub fn arrange<'s>(
    rows: Rows<'s>,
    errs: Errs<'s>,
) -> (Arranged<'s, RowTrace>, Arranged<'s, ErrTrace>) {
    (spines::arrange_rows(rows, "Rows"), errs.arrange_by_self())
}

/// How many times the cursor's current (key, value) is there at `time`: its changes at times
/// up to `time`, summed (a read of a trace at one time; peeks and lookups use it).
pub fn count_at<C>(cursor: &mut C, storage: &C::Storage, time: Timestamp) -> Diff
where
    C: for<'a> differential_dataflow::trace::Cursor<
        TimeGat<'a> = &'a Timestamp,
        DiffGat<'a> = &'a Diff,
    >,
{
    let mut count: Diff = 0;
    cursor.map_times(storage, |t, d| {
        if *t <= time {
            count += *d;
        }
    });
    count
}

/// Arranges `rows` by the `key` columns: an index.
pub fn arrange_by<'s>(rows: Rows<'s>, key: Vec<usize>) -> Arranged<'s, IndexTrace> {
    spines::arrange_keyed(rows.map(move |row: Row| (key_of(&row, &key), row)), "Index")
}
