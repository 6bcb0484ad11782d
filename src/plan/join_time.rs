//! Joins in time that are not relational: a stream joined to a table as the table was when
//! each stream row arrived (`FOR SYSTEM_TIME AS OF PROCTIME()`, ksqlDB's stream-table joins),
//! and an interval join of two streams, whose state the watermark retires.

use sqlparser::ast::{self, Expr, TableFactor};

use super::error::{unsupported, PlanResult};
use super::PlanContext;
use crate::ir::window::{JoinBound, LatePolicy};
use crate::ir::{Func, RelExpr, ScalarExpr};
use crate::parse::normalize_ident;
use crate::repr::Datum;

/// How a join marked as reading its right side as of each left row's arrival was written.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum AsOfArrival {
    /// `FOR SYSTEM_TIME AS OF PROCTIME()`: the left side must be a stream.
    Sql,
    /// Any join of a ksqlDB query: a stream-table join when the sides are a stream and a
    /// table, otherwise what the join would be in SQL (ksqlDB's table-table and windowed
    /// stream-stream joins).
    Ksql,
}

pub(super) type AsOfArrivalItem<'a> = (Vec<String>, Option<&'a ast::TableAlias>, AsOfArrival);

/// The relation's name, alias and spelling when `tf` is the parser's stream-table marker
/// (`crate::parse::stream_table`).
pub(super) fn as_of_arrival(tf: &TableFactor) -> PlanResult<Option<AsOfArrivalItem<'_>>> {
    use crate::parse::stream_table::{KSQL, MARKER};
    let TableFactor::Table {
        name,
        alias,
        args: Some(args),
        ..
    } = tf
    else {
        return Ok(None);
    };
    if !name.to_string().eq_ignore_ascii_case(MARKER) {
        return Ok(None);
    }
    let arg = |i: usize| match args.args.get(i) {
        Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))) => Some(e),
        _ => None,
    };
    let parts: Vec<String> = match arg(0) {
        Some(Expr::Identifier(i)) => vec![normalize_ident(i)],
        Some(Expr::CompoundIdentifier(is)) => is.iter().map(normalize_ident).collect(),
        _ => return unsupported("FOR SYSTEM_TIME AS OF on anything but a named relation"),
    };
    let mode = match arg(1) {
        Some(Expr::Value(v)) if v.to_string() == format!("'{KSQL}'") => AsOfArrival::Ksql,
        _ => AsOfArrival::Sql,
    };
    Ok(Some((parts, alias.as_ref(), mode)))
}

/// `predicate` without the parser's `__join_grace(ms)` conjunct, and its grace period in
/// microseconds (see `crate::parse::stream_table::JOIN_GRACE`).
pub(super) fn take_join_grace(predicate: Option<Expr>) -> (Option<Expr>, Option<i64>) {
    use crate::parse::stream_table::JOIN_GRACE;
    let Some(e) = predicate else {
        return (None, None);
    };
    match e {
        Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::And,
            right,
        } => {
            let (l, lg) = take_join_grace(Some(*left));
            let (r, rg) = take_join_grace(Some(*right));
            let e = match (l, r) {
                (Some(l), Some(r)) => Some(Expr::BinaryOp {
                    left: Box::new(l),
                    op: ast::BinaryOperator::And,
                    right: Box::new(r),
                }),
                (l, r) => l.or(r),
            };
            (e, lg.or(rg))
        }
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case(JOIN_GRACE) => {
            let ms = match &f.args {
                ast::FunctionArguments::List(list) => match list.args.first() {
                    Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(Expr::Value(v)))) => {
                        v.to_string().parse::<i64>().ok()
                    }
                    _ => None,
                },
                _ => None,
            };
            (None, ms.map(|ms| ms.saturating_mul(1000)))
        }
        e => (Some(e), None),
    }
}

/// The interval join of `l` and `r` (both append-only) when `predicates` bound a right column
/// to an interval around a left one (`b.ts BETWEEN a.ts - x AND a.ts + y`, or the same with
/// comparisons, either way round). Its grace period is the longest `WATERMARK` delay of the
/// streams the sides read, unless the query gives one (ksqlDB's `GRACE PERIOD`); None also
/// when one of them keeps late rows (`LATE = 'update'`).
pub(super) fn interval_join(
    pcx: &PlanContext,
    (l, r): (&RelExpr, &RelExpr),
    keys: &[(usize, usize)],
    predicates: &[ScalarExpr],
    given_grace: Option<i64>,
) -> Option<RelExpr> {
    let la = l.arity();
    let (left_time, right_time, lo, hi) = time_bound(predicates, la)?;
    let mut grace = 0;
    for id in l.depends_on().into_iter().chain(r.depends_on()) {
        let Some(item) = pcx.catalog.get(id).filter(|i| i.is_stream()) else {
            continue;
        };
        if item.close_defaults.late == Some(LatePolicy::Update) {
            return None;
        }
        grace = grace.max(item.close_defaults.grace.unwrap_or(0));
    }
    let grace = given_grace.unwrap_or(grace);
    Some(RelExpr::IntervalJoin {
        left: Box::new(l.clone()),
        right: Box::new(r.clone()),
        keys: keys.to_vec(),
        predicates: predicates.to_vec(),
        bound: JoinBound {
            left_time,
            right_time,
            lo,
            hi,
            grace,
        },
    })
}

/// `(left column, right column, lo, hi)`: the right column lies within `[left + lo, left +
/// hi]` (microseconds) wherever all of `predicates` hold; columns index the joined row.
fn time_bound(predicates: &[ScalarExpr], la: usize) -> Option<(usize, usize, i64, i64)> {
    // Per pair of columns (left, right), the tightest bounds found.
    type Found = ((usize, usize), Option<i64>, Option<i64>);
    let mut bounds: Vec<Found> = Vec::new();
    for p in ScalarExpr::conjuncts(predicates.to_vec()) {
        let ScalarExpr::Call { func, args } = &p else {
            continue;
        };
        let greater = match func {
            Func::Gte | Func::Gt => true,
            Func::Lte | Func::Lt => false,
            _ => continue,
        };
        let [x, y] = args.as_slice() else { continue };
        let (Some((cx, ox)), Some((cy, oy))) = (offset(x), offset(y)) else {
            continue;
        };
        // col(cx) >= col(cy) + d  (or <=)
        let d = oy - ox;
        let (pair, lower, upper) = match (cx < la, cy < la) {
            // right >= left + d: a lower bound; right <= left + d: an upper one.
            (false, true) if greater => ((cy, cx), Some(d), None),
            (false, true) => ((cy, cx), None, Some(d)),
            // left >= right + d: right <= left - d; left <= right + d: right >= left - d.
            (true, false) if greater => ((cx, cy), None, Some(-d)),
            (true, false) => ((cx, cy), Some(-d), None),
            _ => continue,
        };
        match bounds.iter_mut().find(|(p, _, _)| *p == pair) {
            Some((_, lo, hi)) => {
                *lo = (*lo).max(lower);
                *hi = match (*hi, upper) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            None => bounds.push((pair, lower, upper)),
        }
    }
    bounds
        .into_iter()
        .find_map(|((l, r), lo, hi)| Some((l, r, lo?, hi?)))
}

/// A column plus or minus a constant: `(column, microseconds)`. A constant interval must have
/// no months; an integer counts milliseconds (epoch-millisecond event times).
fn offset(e: &ScalarExpr) -> Option<(usize, i64)> {
    let constant = |e: &ScalarExpr| match e {
        ScalarExpr::Literal(Datum::Interval(iv), _) if iv.months == 0 => {
            Some(iv.days as i64 * 86_400_000_000 + iv.micros)
        }
        ScalarExpr::Literal(Datum::Int64(ms), _) => ms.checked_mul(1000),
        ScalarExpr::Literal(Datum::Int32(ms), _) => Some(*ms as i64 * 1000),
        _ => None,
    };
    match e {
        ScalarExpr::Column(c) => Some((*c, 0)),
        ScalarExpr::Call {
            func: Func::Add,
            args,
        } => match args.as_slice() {
            [ScalarExpr::Column(c), k] | [k, ScalarExpr::Column(c)] => Some((*c, constant(k)?)),
            _ => None,
        },
        ScalarExpr::Call {
            func: Func::Sub,
            args,
        } => match args.as_slice() {
            [ScalarExpr::Column(c), k] => Some((*c, constant(k)?.checked_neg()?)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::{Interval, ScalarType};

    fn call(func: Func, args: Vec<ScalarExpr>) -> ScalarExpr {
        ScalarExpr::Call { func, args }
    }

    fn secs(s: i64) -> ScalarExpr {
        ScalarExpr::Literal(
            Datum::Interval(Interval::new(0, 0, s * 1_000_000)),
            ScalarType::Interval,
        )
    }

    #[test]
    fn finds_the_interval_either_way_round() {
        let (a, b) = (ScalarExpr::Column(1), ScalarExpr::Column(3));
        // b BETWEEN a - 5s AND a + 10s
        let between = vec![
            call(
                Func::Gte,
                vec![b.clone(), call(Func::Sub, vec![a.clone(), secs(5)])],
            ),
            call(
                Func::Lte,
                vec![b.clone(), call(Func::Add, vec![a.clone(), secs(10)])],
            ),
        ];
        assert_eq!(
            time_bound(&between, 2),
            Some((1, 3, -5_000_000, 10_000_000))
        );
        // a >= b - 10s AND a < b + 5s: the same interval, from the left side's view.
        let mirrored = vec![
            call(
                Func::Gte,
                vec![a.clone(), call(Func::Sub, vec![b.clone(), secs(10)])],
            ),
            call(
                Func::Lt,
                vec![a.clone(), call(Func::Add, vec![b.clone(), secs(5)])],
            ),
        ];
        assert_eq!(
            time_bound(&mirrored, 2),
            Some((1, 3, -5_000_000, 10_000_000))
        );
        // One side only: no interval.
        assert_eq!(time_bound(&between[..1], 2), None);
    }
}
