//! The reference evaluator: computes a plan from scratch over given inputs, with no dataflow.
//!
//! It is the oracle incremental views are checked against, and the coordinator uses it to answer
//! queries that read no table (`SELECT 1 + 1`) without building a dataflow.

use std::collections::{BTreeMap, HashMap};

use super::aggregate::{aggregate, top_k};
use super::error::EvalError;
use super::relation::{null_row, LocalId, RelExpr};
use crate::repr::{Diff, GlobalId, Row};

/// Sums the multiplicities of equal rows and drops rows whose sum is zero.
/// The result is sorted by row. (A sort and one pass: no tree node per distinct row, which a
/// 10,000-row `INSERT` paid for on every write.)
pub fn consolidate(mut rows: Vec<(Row, Diff)>) -> Vec<(Row, Diff)> {
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(Row, Diff)> = Vec::with_capacity(rows.len());
    for (row, d) in rows {
        match out.last_mut() {
            Some((last, total)) if *last == row => *total += d,
            _ => out.push((row, d)),
        }
    }
    out.retain(|(_, total)| *total != 0);
    out
}

/// Rows grouped by the values of the `key` columns.
fn partitioned(rows: Vec<(Row, Diff)>, key: &[usize]) -> BTreeMap<Row, Vec<(Row, Diff)>> {
    let mut groups: BTreeMap<Row, Vec<(Row, Diff)>> = BTreeMap::new();
    for (row, d) in rows {
        groups
            .entry(key.iter().map(|k| row[*k].clone()).collect())
            .or_default()
            .push((row, d));
    }
    groups
}

/// Evaluates `expr`, reading global objects through `get`.
pub fn evaluate(
    expr: &RelExpr,
    get: &dyn Fn(GlobalId) -> Vec<(Row, Diff)>,
) -> Result<Vec<(Row, Diff)>, EvalError> {
    Evaluator {
        get,
        lets: HashMap::new(),
    }
    .eval(expr)
    .map(consolidate)
}

struct Evaluator<'a> {
    get: &'a dyn Fn(GlobalId) -> Vec<(Row, Diff)>,
    lets: HashMap<LocalId, Vec<(Row, Diff)>>,
}

impl Evaluator<'_> {
    fn eval(&mut self, expr: &RelExpr) -> Result<Vec<(Row, Diff)>, EvalError> {
        Ok(match expr {
            RelExpr::Constant { rows, .. } => rows.clone(),
            RelExpr::Get { id, .. } => (self.get)(*id),
            RelExpr::LocalGet { id, .. } => self
                .lets
                .get(id)
                .cloned()
                .ok_or_else(|| EvalError::Internal(format!("unbound local l{id}")))?,
            RelExpr::Let { id, value, body } => {
                let v = self.eval(value)?;
                self.lets.insert(*id, v);
                self.eval(body)?
            }
            // Rows are consolidated before expressions see them: a row whose copies cancel out
            // is not there, and must not raise an error (the dataflow agrees: its errors cancel).
            RelExpr::Map { input, scalars } => {
                let mut out = Vec::new();
                for (mut row, d) in consolidate(self.eval(input)?) {
                    for s in scalars {
                        let v = s.eval(&row)?;
                        row.push(v);
                    }
                    out.push((row, d));
                }
                out
            }
            RelExpr::StreamTableJoin { .. } => {
                return Err(EvalError::InvalidParameter(
                    "a stream-table join reads the table as it was when each stream row \
                     arrived, which a from-scratch evaluation does not see: read its \
                     materialized view instead"
                        .into(),
                ))
            }
            RelExpr::IntervalJoin { .. } => {
                return Err(EvalError::InvalidParameter(
                    "an interval join of streams drops rows that arrive behind its watermark, \
                     which depends on the order rows arrived in: read its materialized view \
                     instead"
                        .into(),
                ))
            }
            RelExpr::CloseWindows { .. } => {
                return Err(EvalError::InvalidParameter(
                    "a query with EMIT FINAL depends on the order rows arrived in, which a \
                     from-scratch evaluation does not see: read its materialized view instead"
                        .into(),
                ))
            }
            RelExpr::FlatMap { input, func, args } => {
                let mut out = Vec::new();
                for (row, d) in consolidate(self.eval(input)?) {
                    let vals: Vec<_> = args
                        .iter()
                        .map(|a| a.eval(&row))
                        .collect::<Result<_, _>>()?;
                    for extra in func.eval(&vals)? {
                        let mut r = row.clone();
                        r.extend(extra);
                        out.push((r, d));
                    }
                }
                out
            }
            RelExpr::Filter { input, predicates } => {
                let mut out = Vec::new();
                'rows: for (row, d) in consolidate(self.eval(input)?) {
                    for p in predicates {
                        if p.eval(&row)?.as_bool() != Some(true) {
                            continue 'rows;
                        }
                    }
                    out.push((row, d));
                }
                out
            }
            RelExpr::Project { input, outputs } => self
                .eval(input)?
                .into_iter()
                .map(|(row, d)| (outputs.iter().map(|i| row[*i].clone()).collect(), d))
                .collect(),
            RelExpr::Join { left, right, keys } => {
                let l = consolidate(self.eval(left)?);
                let r = consolidate(self.eval(right)?);
                let mut index: HashMap<Row, Vec<&(Row, Diff)>> = HashMap::new();
                for entry in &r {
                    index
                        .entry(keys.iter().map(|(_, k)| entry.0[*k].clone()).collect())
                        .or_default()
                        .push(entry);
                }
                let mut out = Vec::new();
                for (lrow, ld) in &l {
                    let key: Row = keys.iter().map(|(k, _)| lrow[*k].clone()).collect();
                    for (rrow, rd) in index.get(&key).into_iter().flatten() {
                        let mut row = lrow.clone();
                        row.extend(rrow.iter().cloned());
                        out.push((row, ld * rd));
                    }
                }
                out
            }
            RelExpr::Reduce {
                input,
                group_key,
                aggregates,
            } => {
                let types = input.typ();
                let groups = partitioned(consolidate(self.eval(input)?), group_key);
                let mut out = Vec::new();
                for (mut key, rows) in groups {
                    for a in aggregates {
                        let vals = rows
                            .iter()
                            .map(|(r, d)| a.expr.eval(r).map(|v| (v, *d)))
                            .collect::<Result<Vec<_>, _>>()?;
                        let t = a.expr.typ(&types).scalar;
                        key.push(aggregate(
                            a.func,
                            a.distinct,
                            t,
                            vals.iter().map(|(v, d)| (v, *d)),
                        )?);
                    }
                    out.push((key, 1));
                }
                out
            }
            RelExpr::Rank {
                input,
                partition,
                order,
                func,
            } => {
                let groups = partitioned(consolidate(self.eval(input)?), partition);
                groups
                    .into_values()
                    .flat_map(|rows| super::aggregate::rank(rows, order, *func))
                    .collect()
            }
            RelExpr::SessionWindows {
                input,
                partition,
                event_time,
                gap,
            } => {
                let groups = partitioned(consolidate(self.eval(input)?), partition);
                let mut out = Vec::new();
                for rows in groups.into_values() {
                    out.extend(super::window::sessions(rows, *event_time, *gap)?);
                }
                out
            }
            RelExpr::TopK {
                input,
                group_key,
                order,
                limit,
                offset,
            } => {
                let groups = partitioned(consolidate(self.eval(input)?), group_key);
                groups
                    .into_values()
                    .flat_map(|rows| top_k(rows, order, *limit, *offset))
                    .collect()
            }
            RelExpr::Distinct { input } => consolidate(self.eval(input)?)
                .into_iter()
                .filter(|(_, d)| *d > 0)
                .map(|(r, _)| (r, 1))
                .collect(),
            RelExpr::Negate { input } => self
                .eval(input)?
                .into_iter()
                .map(|(r, d)| (r, -d))
                .collect(),
            RelExpr::Threshold { input } => consolidate(self.eval(input)?)
                .into_iter()
                .filter(|(_, d)| *d > 0)
                .collect(),
            RelExpr::Union { inputs } => {
                let mut out = Vec::new();
                for i in inputs {
                    out.extend(self.eval(i)?);
                }
                out
            }
        })
    }
}

/// Pads rows with NULLs on the right (used by callers building outer-join expectations).
pub fn pad_right(rows: Vec<(Row, Diff)>, width: usize) -> Vec<(Row, Diff)> {
    rows.into_iter()
        .map(|(mut r, d)| {
            r.extend(null_row(width));
            (r, d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::Datum;

    /// Against the obvious model: a map from row to summed count, zero counts dropped, in
    /// row order. Updates of a few distinct rows, so that rows repeat and some cancel.
    #[test]
    fn consolidate_sums_equal_rows_and_drops_zeros_in_row_order() {
        let mut seed: u64 = 7;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for _ in 0..200 {
            let len = next(40) as usize;
            let rows: Vec<(Row, Diff)> = (0..len)
                .map(|_| {
                    let row = vec![Datum::Int32(next(5) as i32), Datum::Int32(next(2) as i32)];
                    (row, next(5) as Diff - 2)
                })
                .collect();
            let mut model: BTreeMap<Row, Diff> = BTreeMap::new();
            for (r, d) in &rows {
                *model.entry(r.clone()).or_default() += d;
            }
            let expected: Vec<(Row, Diff)> = model.into_iter().filter(|(_, d)| *d != 0).collect();
            assert_eq!(consolidate(rows), expected);
        }
    }
}
