//! How aggregates and top-k reduce one group. Shared by the dataflow (`render`) and the reference
//! evaluator (`eval`), so the two can only disagree about incrementality, never about meaning.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::error::EvalError;
use super::func::compare_for_order;
use super::relation::{AggOrder, AggregateFunc, ColumnOrder, RankFunc};
use crate::repr::{Datum, Diff, Row, ScalarType};

/// Computes one aggregate over a group given as (argument value, multiplicity) pairs.
/// `input_type` is the argument's type (it fixes the result type of `sum` and `avg`).
pub fn aggregate<'a>(
    func: AggregateFunc,
    distinct: bool,
    input_type: ScalarType,
    values: impl Iterator<Item = (&'a Datum, Diff)>,
) -> Result<Datum, EvalError> {
    // Accumulate multiplicities per value first: this is what makes `DISTINCT` and retractions
    // straightforward, and groups arrive this way from arrangements anyway.
    let mut counts: BTreeMap<&Datum, Diff> = BTreeMap::new();
    let (mut rows, mut nulls): (Diff, Diff) = (0, 0);
    for (v, d) in values {
        rows += d;
        if v.is_null() {
            nulls += d;
        } else {
            *counts.entry(v).or_insert(0) += d;
        }
    }
    if rows < 0 || nulls < 0 || counts.values().any(|d| *d < 0) {
        return Err(EvalError::Internal(
            "negative multiplicity in an aggregate's input".into(),
        ));
    }
    let times = |d: Diff| if distinct { 1 } else { d };
    let present = counts
        .iter()
        .filter(|(_, d)| **d > 0)
        .map(|(v, d)| (*v, times(*d)));
    match func {
        AggregateFunc::CountAll => Ok(Datum::Int64(rows)),
        AggregateFunc::Count => Ok(Datum::Int64(present.map(|(_, d)| d).sum())),
        AggregateFunc::Min => Ok(present
            .map(|(v, _)| v.clone())
            .next()
            .unwrap_or(Datum::Null)),
        AggregateFunc::Max => Ok(present
            .map(|(v, _)| v.clone())
            .next_back()
            .unwrap_or(Datum::Null)),
        AggregateFunc::BoolAnd => Ok(present.map(|(v, _)| v.clone()).min().unwrap_or(Datum::Null)),
        AggregateFunc::BoolOr => Ok(present.map(|(v, _)| v.clone()).max().unwrap_or(Datum::Null)),
        AggregateFunc::StringAgg { order } => {
            // Each payload is `[value, separator]`; NULL values are skipped, and each value but
            // the first is preceded by its separator (a NULL one adds nothing).
            let mut out: Option<String> = None;
            for record in ordered(present, 0, order) {
                let (Some(Datum::String(value)), sep) = payload(&record, order, 2) else {
                    continue;
                };
                match &mut out {
                    None => out = Some(value.clone()),
                    Some(s) => {
                        s.push_str(sep.and_then(Datum::as_str).unwrap_or(""));
                        s.push_str(value);
                    }
                }
            }
            Ok(out.map_or(Datum::Null, Datum::String))
        }
        AggregateFunc::ArrayAgg { order } => {
            if rows == 0 {
                return Ok(Datum::Null);
            }
            let nulls = times(nulls).min(nulls);
            let values = ordered(present, nulls, order)
                .iter()
                .map(|record| payload(record, order, 1).0.cloned().unwrap_or(Datum::Null))
                .collect();
            Ok(Datum::Array(values))
        }
        AggregateFunc::Sum | AggregateFunc::Avg => {
            let items: Vec<(&Datum, Diff)> = present.collect();
            let n: Diff = items.iter().map(|(_, d)| *d).sum();
            if n == 0 {
                return Ok(Datum::Null);
            }
            let avg = func == AggregateFunc::Avg;
            match input_type {
                ScalarType::Float32 | ScalarType::Float64 | ScalarType::Unknown => {
                    let s: f64 = items
                        .iter()
                        .map(|(v, d)| v.as_f64().unwrap_or(0.0) * *d as f64)
                        .sum();
                    let s = if avg { s / n as f64 } else { s };
                    Ok(if input_type == ScalarType::Float32 && !avg {
                        Datum::f32(s as f32)
                    } else {
                        Datum::f64(s)
                    })
                }
                ScalarType::Interval => {
                    // Field by field, as Postgres adds intervals; the average divides that.
                    let (mut months, mut days, mut micros) = (0i128, 0i128, 0i128);
                    for (v, d) in &items {
                        if let Datum::Interval(i) = v {
                            months += i.months as i128 * *d as i128;
                            days += i.days as i128 * *d as i128;
                            micros += i.micros as i128 * *d as i128;
                        }
                    }
                    let range = || EvalError::OutOfRange("interval".into());
                    let sum = crate::repr::Interval::new(
                        i32::try_from(months).map_err(|_| range())?,
                        i32::try_from(days).map_err(|_| range())?,
                        i64::try_from(micros).map_err(|_| range())?,
                    );
                    if avg {
                        sum.scale(n as f64, true)
                            .map(Datum::Interval)
                            .ok_or_else(range)
                    } else {
                        Ok(Datum::Interval(sum))
                    }
                }
                _ => {
                    let mut s = Decimal::ZERO;
                    for (v, d) in &items {
                        let x = v
                            .as_decimal()
                            .ok_or_else(|| EvalError::Internal(format!("sum of {v:?}")))?;
                        s = x
                            .checked_mul(Decimal::from(*d))
                            .and_then(|p| s.checked_add(p))
                            .ok_or_else(|| EvalError::OutOfRange("numeric".into()))?;
                    }
                    exact_sum(func, input_type, s, n)
                }
            }
        }
    }
}

/// The values of an ordered aggregate with their multiplicities, sorted as `order` says (NULL
/// values, counted apart, with them), each repeated as often as it occurs.
fn ordered<'a>(
    present: impl Iterator<Item = (&'a Datum, Diff)>,
    nulls: Diff,
    order: AggOrder,
) -> Vec<Datum> {
    let mut items: Vec<(&Datum, Diff)> = present.collect();
    if nulls > 0 {
        items.push((&Datum::Null, nulls));
    }
    let field = |d: &'a Datum, i: usize| match d {
        Datum::Array(fields) => fields.get(i).unwrap_or(&Datum::Null),
        _ => &Datum::Null,
    };
    items.sort_by(|(a, _), (b, _)| {
        if order.keys == 0 {
            let (desc, nulls_last) = order.key(0);
            return compare_for_order(a, b, desc, nulls_last);
        }
        (0..order.keys as usize)
            .map(|i| {
                let (desc, nulls_last) = order.key(i);
                compare_for_order(field(a, i), field(b, i), desc, nulls_last)
            })
            .find(|c| c.is_ne())
            .unwrap_or_else(|| a.cmp(b))
    });
    items
        .into_iter()
        .flat_map(|(v, d)| std::iter::repeat_n(v.clone(), d.max(0) as usize))
        .collect()
}

/// The first of the `width` payload fields of an ordered aggregate's argument (what follows its
/// sort keys), and the second if there is one: the value itself when there are no keys and one
/// field.
fn payload(record: &Datum, order: AggOrder, width: usize) -> (Option<&Datum>, Option<&Datum>) {
    match record {
        Datum::Array(fields) if order.keys > 0 || width > 1 => {
            let at = order.keys as usize;
            (fields.get(at), fields.get(at + 1))
        }
        value => (Some(value), None),
    }
}

/// The result of `sum` or `avg` over `n` non-null values of an exact type (integers, numeric)
/// whose total is `s`, typed as Postgres types it.
pub fn exact_sum(
    func: AggregateFunc,
    input_type: ScalarType,
    s: Decimal,
    n: Diff,
) -> Result<Datum, EvalError> {
    if func == AggregateFunc::Avg {
        return super::func::Func::Div.eval(&[Datum::Numeric(s), Datum::Numeric(Decimal::from(n))]);
    }
    Ok(match input_type {
        ScalarType::Int16 | ScalarType::Int32 => Datum::Int64(
            i64::try_from(s.mantissa()).map_err(|_| EvalError::OutOfRange("bigint".into()))?,
        ),
        _ => Datum::Numeric(s),
    })
}

/// How two rows compare under `order`: `Equal` for peers.
fn compare_rows(a: &Row, b: &Row, order: &[ColumnOrder]) -> std::cmp::Ordering {
    order
        .iter()
        .map(|o| compare_for_order(&a[o.column], &b[o.column], o.desc, o.nulls_last))
        .find(|c| c.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// One partition's rows, each copy with its `row_number()`, `rank()` or `dense_rank()` under
/// `order` appended (peers in `order` are ordered by the whole row, so row numbers are
/// deterministic).
pub fn rank(mut rows: Vec<(Row, Diff)>, order: &[ColumnOrder], func: RankFunc) -> Vec<(Row, Diff)> {
    rows.sort_by(|(a, _), (b, _)| compare_rows(a, b, order).then_with(|| a.cmp(b)));
    let mut out = Vec::new();
    let (mut number, mut rank, mut dense) = (0i64, 0i64, 0i64);
    let mut previous: Option<&Row> = None;
    for (row, d) in &rows {
        for _ in 0..(*d).max(0) {
            number += 1;
            if previous.is_none_or(|p| compare_rows(p, row, order).is_ne()) {
                rank = number;
                dense += 1;
            }
            previous = Some(row);
            let value = match func {
                RankFunc::RowNumber => number,
                RankFunc::Rank => rank,
                RankFunc::DenseRank => dense,
            };
            let mut r = row.clone();
            r.push(Datum::Int64(value));
            out.push((r, 1));
        }
    }
    out
}

/// The rows of one group that a top-k keeps: sorted by `order` (ties broken by the whole row, so
/// the choice is deterministic), then `offset .. offset + limit`, with multiplicities.
pub fn top_k(
    mut rows: Vec<(Row, Diff)>,
    order: &[ColumnOrder],
    limit: Option<usize>,
    offset: usize,
) -> Vec<(Row, Diff)> {
    rows.sort_by(|(a, _), (b, _)| compare_rows(a, b, order).then_with(|| a.cmp(b)));
    let mut out = Vec::new();
    let mut skip = offset as Diff;
    let mut take = limit.map(|l| l as Diff).unwrap_or(Diff::MAX);
    for (row, mut d) in rows {
        if d <= 0 {
            continue;
        }
        let skipped = d.min(skip);
        skip -= skipped;
        d -= skipped;
        let taken = d.min(take);
        take -= taken;
        if taken > 0 {
            out.push((row, taken));
        }
        if take == 0 {
            break;
        }
    }
    out
}
