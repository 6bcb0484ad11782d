//! Lowering the IR to differential dataflow. The only module (with `worker`) that names
//! differential's types.
//!
//! Every rendered relation is a pair: the collection of rows, and a collection of evaluation
//! errors. An error never stops a worker; it flows to the view's error arrangement, and a read of
//! the view reports it (and stops reporting it once the row that caused it is gone).

use std::collections::HashMap;

use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::implementations::{KeySpine, ValSpine};
use differential_dataflow::{AsCollection, VecCollection};
use timely::dataflow::operators::vec::ToStream;
use timely::dataflow::Scope;

use crate::ir::aggregate::{aggregate, top_k};
use crate::ir::{EvalError, LocalId, RelExpr, ScalarExpr};
use crate::repr::{Diff, GlobalId, Row, Timestamp};

pub type RowSpine = KeySpine<Row, Timestamp, Diff>;
pub type ErrSpine = KeySpine<EvalError, Timestamp, Diff>;
/// A shared handle to an arrangement of rows (a table, a materialized view, a query result).
pub type RowTrace = TraceAgent<RowSpine>;
pub type ErrTrace = TraceAgent<ErrSpine>;

pub type Rows<'s> = VecCollection<'s, Timestamp, Row, Diff>;
pub type Errs<'s> = VecCollection<'s, Timestamp, EvalError, Diff>;

/// The arrangements of the global objects a dataflow reads, imported into its scope.
pub type Imports<'s> = HashMap<GlobalId, (Arranged<'s, RowTrace>, Arranged<'s, ErrTrace>)>;

/// Renders `expr` in `scope`. `constants_here` is true on exactly one worker, which introduces
/// constant rows (every worker renders the same plan).
pub fn render<'s>(
    scope: Scope<'s, Timestamp>,
    expr: &RelExpr,
    imports: &Imports<'s>,
    constants_here: bool,
) -> (Rows<'s>, Errs<'s>) {
    let mut cx = RenderCx {
        scope,
        imports,
        lets: HashMap::new(),
        constants_here,
    };
    cx.render(expr)
}

struct RenderCx<'a, 's> {
    scope: Scope<'s, Timestamp>,
    imports: &'a Imports<'s>,
    lets: HashMap<LocalId, (Rows<'s>, Errs<'s>)>,
    constants_here: bool,
}

fn key_of(row: &Row, cols: &[usize]) -> Row {
    cols.iter().map(|c| row[*c].clone()).collect()
}

impl<'s> RenderCx<'_, 's> {
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
            RelExpr::Get { id, name, .. } => {
                let (rows, errs) = self
                    .imports
                    .get(id)
                    .unwrap_or_else(|| panic!("invariant: the coordinator imports every object a plan reads ({name} {id})"));
                (
                    rows.clone().as_collection(|k, _| k.clone()),
                    errs.clone().as_collection(|k, _| k.clone()),
                )
            }
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
                let results = rows.map(move |mut row: Row| {
                    for s in &scalars {
                        match s.eval(&row) {
                            Ok(d) => row.push(d),
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(row)
                });
                split(results, errs)
            }
            RelExpr::Filter { input, predicates } => {
                let (rows, errs) = self.render(input);
                let predicates = predicates.clone();
                let results = rows.flat_map(move |row: Row| {
                    for p in &predicates {
                        match p.eval(&row) {
                            Ok(d) if d.as_bool() == Some(true) => {}
                            Ok(_) => return None,
                            Err(e) => return Some(Err(e)),
                        }
                    }
                    Some(Ok(row))
                });
                split(results, errs)
            }
            RelExpr::Project { input, outputs } => {
                let (rows, errs) = self.render(input);
                let outputs = outputs.clone();
                (rows.map(move |row: Row| key_of(&row, &outputs)), errs)
            }
            RelExpr::Join { left, right, keys } => {
                let (lrows, lerrs) = self.render(left);
                let (rrows, rerrs) = self.render(right);
                let lk: Vec<usize> = keys.iter().map(|(l, _)| *l).collect();
                let rk: Vec<usize> = keys.iter().map(|(_, r)| *r).collect();
                let la = lrows
                    .map(move |row: Row| (key_of(&row, &lk), row))
                    .arrange_by_key();
                let ra = rrows
                    .map(move |row: Row| (key_of(&row, &rk), row))
                    .arrange_by_key();
                let joined = la.join_core(ra, |_k: &Row, l: &Row, r: &Row| {
                    let mut row = l.clone();
                    row.extend(r.iter().cloned());
                    Some(row)
                });
                (joined, lerrs.concat(rerrs))
            }
            RelExpr::Reduce {
                input,
                group_key,
                aggregates,
            } => {
                let input_types = input.typ();
                let (rows, errs) = self.render(input);
                let gk = group_key.clone();
                let arg_types: Vec<_> = aggregates
                    .iter()
                    .map(|a| a.expr.typ(&input_types).scalar)
                    .collect();
                // Arrange only what the aggregates read: their argument values, not whole rows.
                let args: Vec<ScalarExpr> = aggregates.iter().map(|a| a.expr.clone()).collect();
                let keyed = rows.map(move |row: Row| {
                    let vals: Result<Row, EvalError> = args.iter().map(|a| a.eval(&row)).collect();
                    vals.map(|v| (key_of(&row, &gk), v))
                });
                let arg_errs = keyed.clone().flat_map(|r| r.err());
                let keyed = keyed.flat_map(|r| r.ok());
                let aggs: Vec<_> = aggregates
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (a.func, a.distinct, arg_types[i], i))
                    .collect();
                let reduced: VecCollection<'s, Timestamp, (Row, Result<Row, EvalError>), Diff> =
                    keyed.reduce(move |_key: &Row, vals: &[(&Row, Diff)], out: &mut Vec<(Result<Row, EvalError>, Diff)>| {
                        out.push((reduce_group(&aggs, vals), 1));
                    });
                let results = reduced.map(|(mut key, result)| {
                    result.map(|aggs| {
                        key.extend(aggs);
                        key
                    })
                });
                split(results, errs.concat(arg_errs))
            }
            RelExpr::TopK {
                input,
                group_key,
                order,
                limit,
                offset,
            } => {
                let (rows, errs) = self.render(input);
                let gk = group_key.clone();
                let (order, limit, offset) = (order.clone(), *limit, *offset);
                let keyed = rows.map(move |row: Row| (key_of(&row, &gk), row));
                let kept: VecCollection<'s, Timestamp, (Row, Row), Diff> = keyed.reduce(
                    move |_key: &Row, vals: &[(&Row, Diff)], out: &mut Vec<(Row, Diff)>| {
                        let group: Vec<(Row, Diff)> =
                            vals.iter().map(|(r, d)| ((*r).clone(), *d)).collect();
                        out.extend(top_k(group, &order, limit, offset));
                    },
                );
                (kept.map(|(_, row)| row), errs)
            }
            RelExpr::Distinct { input } => {
                let (rows, errs) = self.render(input);
                (
                    rows.threshold(|_, c: &Diff| if *c > 0 { 1 } else { 0 }),
                    errs,
                )
            }
            RelExpr::Threshold { input } => {
                let (rows, errs) = self.render(input);
                (
                    rows.threshold(|_, c: &Diff| if *c > 0 { *c } else { 0 }),
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

/// Evaluates one group's aggregates over their argument values (column `i` of each value row
/// is aggregate `i`'s argument); an error in any aggregate is the group's error.
fn reduce_group(
    aggs: &[(
        crate::ir::AggregateFunc,
        bool,
        crate::repr::ScalarType,
        usize,
    )],
    vals: &[(&Row, Diff)],
) -> Result<Row, EvalError> {
    aggs.iter()
        .map(|(func, distinct, typ, i)| {
            aggregate(
                *func,
                *distinct,
                *typ,
                vals.iter().map(|(r, d)| (&r[*i], *d)),
            )
        })
        .collect()
}

/// Splits results into rows and errors, adding the errors to those already flowing.
fn split<'s>(
    results: VecCollection<'s, Timestamp, Result<Row, EvalError>, Diff>,
    errs: Errs<'s>,
) -> (Rows<'s>, Errs<'s>) {
    let oks = results.clone().flat_map(|r| r.ok());
    let new_errs = results.flat_map(|r| r.err());
    (oks, errs.concat(new_errs))
}

/// Arranges a rendered relation (rows by the whole row, errors by error) so it can be read and
/// imported by other dataflows.
pub fn arrange<'s>(
    rows: Rows<'s>,
    errs: Errs<'s>,
) -> (Arranged<'s, RowTrace>, Arranged<'s, ErrTrace>) {
    (rows.arrange_by_self(), errs.arrange_by_self())
}

#[allow(dead_code)]
type ByKey = ValSpine<Row, Row, Timestamp, Diff>;
