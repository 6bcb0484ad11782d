//! Temporal filters: predicates that compare `now()` (also spelled `mz_now()`) with an
//! expression of the row, such as `event_ts + INTERVAL '5 minutes' > now()`.
//!
//! In a maintained view `now()` is the time of the update being computed, so such a predicate
//! gives each row an interval of times in which it is in the view: it enters when the lower
//! bound is reached and leaves at the upper bound, with no further input. A one-off query reads
//! at one time, so there `now()` is that time, a constant.

use super::error::EvalError;
use super::func::Func;
use super::relation::RelExpr;
use super::scalar::ScalarExpr;
use super::window::to_micros;
use crate::repr::{Datum, ScalarType, Timestamp};

/// One side of a row's validity: `now() >= expr` (a lower bound) or `now() < expr` (an upper
/// bound), with strictness folded in.
#[derive(Clone, Debug, PartialEq)]
pub struct TemporalBound {
    pub expr: ScalarExpr,
    pub lower: bool,
    /// For a lower bound `now() > expr`; for an upper bound `now() <= expr`.
    pub inclusive_of_expr: bool,
}

/// Whether an expression mentions `now()`.
pub fn mentions_now(e: &ScalarExpr) -> bool {
    let mut found = false;
    e.visit(&mut |e| {
        if matches!(
            e,
            ScalarExpr::Call {
                func: Func::Now,
                ..
            }
        ) {
            found = true;
        }
    });
    found
}

/// Splits filter predicates into ordinary ones and temporal bounds. A predicate that mentions
/// `now()` in any other way than compared with an expression of the row is an error.
pub fn split(predicates: &[ScalarExpr]) -> Result<(Vec<ScalarExpr>, Vec<TemporalBound>), String> {
    let mut plain = Vec::new();
    let mut bounds = Vec::new();
    for p in ScalarExpr::conjuncts(predicates.to_vec()) {
        if !mentions_now(&p) {
            plain.push(p);
            continue;
        }
        bounds.extend(bound(&p).ok_or_else(|| {
            format!(
                "now() in a maintained view must be compared directly with an expression of the \
                 row (e.g. ts + INTERVAL '5 minutes' > now()), not in {p}"
            )
        })?);
    }
    Ok((plain, bounds))
}

/// Checks that a plan to be maintained uses `now()` only in temporal filters: anywhere else it
/// would be the wall-clock time of whichever worker computed a row, and a replay could not
/// reproduce it.
pub fn check_maintained(expr: &RelExpr) -> Result<(), String> {
    let misplaced = match expr {
        RelExpr::Filter { predicates, .. } => {
            split(predicates)?;
            false
        }
        RelExpr::Map { scalars: es, .. } | RelExpr::FlatMap { args: es, .. } => {
            es.iter().any(mentions_now)
        }
        RelExpr::Reduce { aggregates, .. } => aggregates.iter().any(|a| mentions_now(&a.expr)),
        _ => false,
    };
    if misplaced {
        return Err(
            "now() in a maintained view, subscription or sink can only be compared with an \
             expression of the row in WHERE (a temporal filter, e.g. ts + INTERVAL '5 minutes' \
             > now()); elsewhere it would change with no change to the data"
                .into(),
        );
    }
    expr.children().into_iter().try_for_each(check_maintained)
}

/// The bounds a comparison with `now()` gives, if it is one.
fn bound(p: &ScalarExpr) -> Option<Vec<TemporalBound>> {
    let ScalarExpr::Call { func, args } = p else {
        return None;
    };
    let [a, b] = args.as_slice() else {
        return None;
    };
    // Put now() on the left: `x < now()` is `now() > x`.
    let (func, other, now_side) = match (mentions_now(a), mentions_now(b)) {
        (true, false) => (func.clone(), b, a),
        (false, true) => (
            match func {
                Func::Lt => Func::Gt,
                Func::Lte => Func::Gte,
                Func::Gt => Func::Lt,
                Func::Gte => Func::Lte,
                other => other.clone(),
            },
            a,
            b,
        ),
        _ => return None,
    };
    let other = isolate_now(now_side, other.clone())?;
    let lower = |inclusive_of_expr| TemporalBound {
        expr: other.clone(),
        lower: true,
        inclusive_of_expr,
    };
    let upper = |inclusive_of_expr| TemporalBound {
        expr: other.clone(),
        lower: false,
        inclusive_of_expr,
    };
    Some(match func {
        Func::Gt => vec![lower(false)],
        Func::Gte => vec![lower(true)],
        Func::Lt => vec![upper(false)],
        Func::Lte => vec![upper(true)],
        Func::Eq => vec![lower(true), upper(true)],
        _ => return None,
    })
}

/// Rewrites `now_side OP other` as `now() OP other'`: `now() - c OP x` is `now() OP x + c`.
/// Casts between timestamp and timestamptz are the identity here (times are UTC).
fn isolate_now(now_side: &ScalarExpr, other: ScalarExpr) -> Option<ScalarExpr> {
    match now_side {
        ScalarExpr::Call {
            func: Func::Now, ..
        } => Some(other),
        ScalarExpr::Call {
            func: Func::Cast(ScalarType::Timestamp | ScalarType::TimestampTz),
            args,
        } if args.len() == 1 => isolate_now(&args[0], other),
        ScalarExpr::Call {
            func: op @ (Func::Add | Func::Sub),
            args,
        } if args.len() == 2 && !mentions_now(&args[1]) => {
            let inverse = if *op == Func::Add {
                Func::Sub
            } else {
                Func::Add
            };
            isolate_now(
                &args[0],
                ScalarExpr::call(inverse, vec![other, args[1].clone()]),
            )
        }
        _ => None,
    }
}

/// The times (milliseconds) in which a row is in the view: from `lower` (inclusive) to
/// `upper` (exclusive, if any). None when the interval is empty or a bound is NULL.
pub fn validity(
    bounds: &[TemporalBound],
    row: &[Datum],
) -> Result<Option<(Timestamp, Option<Timestamp>)>, EvalError> {
    let (mut lower, mut upper): (i64, Option<i64>) = (0, None);
    for b in bounds {
        let Some(micros) = to_micros(&b.expr.eval(row)?)? else {
            return Ok(None);
        };
        // now() is a whole millisecond t; compare t * 1000 with the bound in microseconds.
        let floor = micros.div_euclid(1000);
        let ceil = floor + i64::from(micros.rem_euclid(1000) != 0);
        if b.lower {
            // now() >= x: t >= ceil(x); now() > x: t >= floor(x) + 1.
            lower = lower.max(if b.inclusive_of_expr { ceil } else { floor + 1 });
        } else {
            // now() <= x: t < floor(x) + 1; now() < x: t < ceil(x).
            let u = if b.inclusive_of_expr { floor + 1 } else { ceil };
            upper = Some(upper.map_or(u, |o| o.min(u)));
        }
    }
    if upper.is_some_and(|u| u <= lower) || upper.is_some_and(|u| u <= 0) {
        return Ok(None);
    }
    Ok(Some((
        lower.max(0) as Timestamp,
        upper.map(|u| u as Timestamp),
    )))
}

/// `expr` with `now()` replaced by the time `t` (milliseconds): what a one-off read at `t`,
/// or a batch replay at `t`, evaluates.
pub fn bind_now(expr: &mut ScalarExpr, t: Timestamp) {
    expr.visit_mut(&mut |e| {
        if matches!(
            e,
            ScalarExpr::Call {
                func: Func::Now,
                ..
            }
        ) {
            let now = chrono::DateTime::from_timestamp_millis(t as i64).unwrap_or_default();
            *e = ScalarExpr::Literal(Datum::TimestampTz(now), ScalarType::TimestampTz);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::Interval;

    fn interval(micros: i64) -> ScalarExpr {
        ScalarExpr::Literal(
            Datum::Interval(Interval::new(0, 0, micros)),
            ScalarType::Interval,
        )
    }

    fn now() -> ScalarExpr {
        ScalarExpr::call(Func::Now, vec![])
    }

    fn ts(ms: i64) -> Datum {
        Datum::Timestamp(
            chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .naive_utc(),
        )
    }

    #[test]
    fn a_sliding_window_is_an_interval_of_times() {
        // ts + 5s > now() AND now() - 1ms >= ts: from ts + 1 ms to ts + 5 s.
        let col = ScalarExpr::Column(0);
        let preds = vec![
            ScalarExpr::call(
                Func::Gt,
                vec![
                    ScalarExpr::call(Func::Add, vec![col.clone(), interval(5_000_000)]),
                    now(),
                ],
            ),
            ScalarExpr::call(
                Func::Gte,
                vec![
                    ScalarExpr::call(Func::Sub, vec![now(), interval(1000)]),
                    col.clone(),
                ],
            ),
            ScalarExpr::call(Func::IsNull, vec![col.clone()]),
        ];
        let (plain, bounds) = split(&preds).unwrap();
        assert_eq!(plain.len(), 1);
        assert_eq!(
            validity(&bounds, &[ts(10_000)]).unwrap(),
            Some((10_001, Some(15_000)))
        );
        assert_eq!(validity(&bounds, &[Datum::Null]).unwrap(), None);
        // now() = ts: exactly one millisecond; a bound inside a millisecond: none.
        let eq = vec![ScalarExpr::call(Func::Eq, vec![now(), col.clone()])];
        let (_, bounds) = split(&eq).unwrap();
        assert_eq!(validity(&bounds, &[ts(7)]).unwrap(), Some((7, Some(8))));
        let micro = Datum::Timestamp(
            chrono::DateTime::from_timestamp_micros(7_500)
                .unwrap()
                .naive_utc(),
        );
        assert_eq!(validity(&bounds, &[micro]).unwrap(), None);
        // now() used otherwise is refused.
        // now() - ts > c is now() > ts + c; date_part('hour', now()) > 5 is no interval of times.
        let shifted = vec![ScalarExpr::call(
            Func::Gt,
            vec![
                ScalarExpr::call(Func::Sub, vec![now(), col.clone()]),
                interval(1),
            ],
        )];
        assert_eq!(split(&shifted).unwrap().1.len(), 1);
        let odd = vec![ScalarExpr::call(
            Func::Gt,
            vec![
                ScalarExpr::call(Func::DatePart("hour".into()), vec![now()]),
                ScalarExpr::Literal(Datum::f64(5.0), ScalarType::Float64),
            ],
        )];
        assert!(split(&odd).is_err());
    }
}
