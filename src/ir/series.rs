//! `generate_series(start, stop [, step])`: the integers from `start` to `stop` by `step`
//! (default 1), or the timestamps from `start` to `stop` by an interval, as in PostgreSQL.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;

use super::error::EvalError;
use super::func::Func;
use super::time::add_interval;
use crate::repr::{Datum, Row};

/// The most rows one call may return: more would hold a worker's memory hostage.
pub const MAX_ROWS: usize = 10_000_000;

fn too_many() -> EvalError {
    EvalError::InvalidParameter(format!(
        "generate_series would return more than {MAX_ROWS} rows"
    ))
}

fn zero_step() -> EvalError {
    EvalError::InvalidParameter("step size cannot equal zero".into())
}

/// The series for one row's arguments; a NULL argument gives no rows.
pub fn generate_series(args: &[Datum]) -> Result<Vec<Row>, EvalError> {
    if args.iter().any(Datum::is_null) {
        return Ok(vec![]);
    }
    match args {
        [Datum::Numeric(a), Datum::Numeric(b)] => numerics(*a, *b, Decimal::ONE),
        [Datum::Numeric(a), Datum::Numeric(b), Datum::Numeric(s)] => numerics(*a, *b, *s),
        [start, stop] => integers(start, stop, &Datum::Int64(1)),
        [start, stop, Datum::Interval(step)] => {
            let (from, to) = match (start, stop) {
                (Datum::Timestamp(a), Datum::Timestamp(b)) => (*a, *b),
                (Datum::TimestampTz(a), Datum::TimestampTz(b)) => (a.naive_utc(), b.naive_utc()),
                _ => {
                    return Err(EvalError::Internal(
                        "generate_series over mixed times".into(),
                    ))
                }
            };
            let tz = matches!(start, Datum::TimestampTz(_));
            times(from, to, step)?
                .into_iter()
                .map(|t| {
                    Ok(vec![if tz {
                        Datum::TimestampTz(t.and_utc())
                    } else {
                        Datum::Timestamp(t)
                    }])
                })
                .collect()
        }
        [start, stop, step] => integers(start, stop, step),
        _ => Err(EvalError::Internal(
            "generate_series takes two or three arguments".into(),
        )),
    }
}

fn integers(start: &Datum, stop: &Datum, step: &Datum) -> Result<Vec<Row>, EvalError> {
    let int = |d: &Datum| match d {
        Datum::Int16(v) => Ok(*v as i64),
        Datum::Int32(v) => Ok(*v as i64),
        Datum::Int64(v) => Ok(*v),
        other => Err(EvalError::Internal(format!(
            "generate_series over {other:?}"
        ))),
    };
    let (a, b, s) = (int(start)?, int(stop)?, int(step)?);
    if s == 0 {
        return Err(zero_step());
    }
    let count = if (s > 0 && a > b) || (s < 0 && a < b) {
        0
    } else {
        ((b as i128 - a as i128) / s as i128) as u128 + 1
    };
    if count > MAX_ROWS as u128 {
        return Err(too_many());
    }
    let wide = matches!(start, Datum::Int64(_));
    Ok((0..count as i64)
        .map(|i| {
            // In i128: `i * s` alone can pass i64's range though the value cannot.
            let v = (a as i128 + i as i128 * s as i128) as i64;
            vec![if wide {
                Datum::Int64(v)
            } else {
                Datum::Int32(v as i32)
            }]
        })
        .collect())
}

fn numerics(a: Decimal, b: Decimal, step: Decimal) -> Result<Vec<Row>, EvalError> {
    if step.is_zero() {
        return Err(zero_step());
    }
    let mut out = Vec::new();
    let mut v = a;
    while (step > Decimal::ZERO && v <= b) || (step < Decimal::ZERO && v >= b) {
        if out.len() == MAX_ROWS {
            return Err(too_many());
        }
        out.push(vec![Datum::Numeric(v)]);
        v = v
            .checked_add(step)
            .ok_or_else(|| EvalError::OutOfRange("numeric".into()))?;
    }
    Ok(out)
}

fn times(
    from: NaiveDateTime,
    to: NaiveDateTime,
    step: &crate::repr::Interval,
) -> Result<Vec<NaiveDateTime>, EvalError> {
    if step.months == 0 && step.days == 0 && step.micros == 0 {
        return Err(zero_step());
    }
    // The direction of a mixed interval (1 month - 40 days) is that of its first step.
    let first = add_interval(from, step, &Func::Add)?;
    let up = first > from;
    let mut out = Vec::new();
    // Months have no fixed length: each value is the previous one plus the step, as Postgres
    // computes them.
    let mut t = from;
    while (up && t <= to) || (!up && t >= to) {
        if out.len() == MAX_ROWS {
            return Err(too_many());
        }
        out.push(t);
        match add_interval(t, step, &Func::Add) {
            Ok(next) if next != t => t = next,
            _ => break,
        }
    }
    Ok(out)
}
