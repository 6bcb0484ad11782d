//! Arithmetic on SQL values: `+ - * / %` and negation across integers, floats, numerics, dates,
//! timestamps and intervals, with Postgres' overflow errors, result types and numeric scales;
//! and rounding.

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};

use super::error::EvalError;
use super::func::{float, range, type_error, Func};
use super::time::{add_interval, micros_interval};
use crate::repr::{Datum, Interval, ScalarType};

pub(super) fn float_result(y: f64, numeric: bool) -> Result<Datum, EvalError> {
    if numeric {
        Decimal::from_f64(y)
            .map(Datum::Numeric)
            .ok_or(range("numeric"))
    } else if y.is_infinite() {
        Err(range("double precision"))
    } else {
        Ok(Datum::f64(y))
    }
}

/// The result type of `a op b` once both operands have their coerced types.
pub(super) fn arithmetic_type(op: &Func, a: ScalarType, b: ScalarType) -> ScalarType {
    use ScalarType::*;
    match (a, b) {
        (Date, Int32 | Int64) => Date,
        (Date, Date) if matches!(op, Func::Sub) => Int32,
        (Date, Interval) | (Timestamp, Interval) => Timestamp,
        (TimestampTz, Interval) => TimestampTz,
        (Interval, Date | Timestamp) if matches!(op, Func::Add) => Timestamp,
        (Interval, TimestampTz) if matches!(op, Func::Add) => TimestampTz,
        (Timestamp, Timestamp) | (TimestampTz, TimestampTz) => Interval,
        (Interval, Float64) => Interval,
        _ => a,
    }
}

pub(super) fn arithmetic(op: &Func, a: &Datum, b: &Datum) -> Result<Datum, EvalError> {
    macro_rules! int_op {
        ($x:expr, $y:expr, $ctor:path, $name:literal) => {{
            let (x, y) = ($x, $y);
            match op {
                Func::Add => x.checked_add(y),
                Func::Sub => x.checked_sub(y),
                Func::Mul => x.checked_mul(y),
                Func::Div | Func::Mod if y == 0 => return Err(EvalError::DivisionByZero),
                Func::Div => x.checked_div(y),
                // i64::MIN % -1 overflows in Rust but is 0 in SQL.
                _ => Some(x.checked_rem(y).unwrap_or(0)),
            }
            .map($ctor)
            .ok_or(range($name))
        }};
    }
    match (a, b) {
        (Datum::Int16(x), Datum::Int16(y)) => int_op!(*x, *y, Datum::Int16, "smallint"),
        (Datum::Int32(x), Datum::Int32(y)) => int_op!(*x, *y, Datum::Int32, "integer"),
        (Datum::Int64(x), Datum::Int64(y)) => int_op!(*x, *y, Datum::Int64, "bigint"),
        (Datum::Float32(x), Datum::Float32(y)) => {
            let r = float_op(op, x.0 as f64, y.0 as f64)? as f32;
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                return Err(range("real"));
            }
            Ok(Datum::f32(r))
        }
        (Datum::Float64(x), Datum::Float64(y)) => {
            let r = float_op(op, x.0, y.0)?;
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                return Err(range("double precision"));
            }
            Ok(Datum::f64(r))
        }
        (Datum::Numeric(x), Datum::Numeric(y)) => numeric_op(op, *x, *y).map(Datum::Numeric),
        (Datum::Date(d), n) if n.as_i64().is_some() => {
            let days = n.as_i64().unwrap_or(0);
            let days = if matches!(op, Func::Sub) { -days } else { days };
            d.checked_add_signed(chrono::Duration::days(days))
                .map(Datum::Date)
                .ok_or(range("date"))
        }
        (Datum::Date(x), Datum::Date(y)) => Ok(Datum::Int32((*x - *y).num_days() as i32)),
        (Datum::Date(d), Datum::Interval(iv)) => {
            add_interval(d.and_hms_opt(0, 0, 0).expect("midnight exists"), iv, op)
                .map(Datum::Timestamp)
        }
        (Datum::Timestamp(t), Datum::Interval(iv)) => {
            add_interval(*t, iv, op).map(Datum::Timestamp)
        }
        (Datum::TimestampTz(t), Datum::Interval(iv)) => {
            add_interval(t.naive_utc(), iv, op).map(|n| Datum::TimestampTz(n.and_utc()))
        }
        // interval + timestamp is timestamp + interval.
        (Datum::Interval(_), Datum::Date(_) | Datum::Timestamp(_) | Datum::TimestampTz(_))
            if matches!(op, Func::Add) =>
        {
            arithmetic(op, b, a)
        }
        (Datum::Timestamp(x), Datum::Timestamp(y)) => Ok(Datum::Interval(micros_interval(*x - *y))),
        (Datum::TimestampTz(x), Datum::TimestampTz(y)) => {
            Ok(Datum::Interval(micros_interval(*x - *y)))
        }
        (Datum::Interval(x), Datum::Interval(y)) => {
            let sign = match op {
                Func::Add => 1,
                Func::Sub => -1,
                _ => return Err(EvalError::Internal(format!("interval {op:?} interval"))),
            };
            Ok(Datum::Interval(Interval::new(
                x.months + sign * y.months,
                x.days + sign * y.days,
                x.micros + sign as i64 * y.micros,
            )))
        }
        (Datum::Interval(x), Datum::Float64(f)) => {
            let divide = matches!(op, Func::Div);
            if divide && f.0 == 0.0 {
                return Err(EvalError::DivisionByZero);
            }
            x.scale(f.0, divide)
                .map(Datum::Interval)
                .ok_or(range("interval"))
        }
        _ => Err(EvalError::Internal(format!(
            "no arithmetic {op:?} for {a:?} and {b:?}"
        ))),
    }
}

pub(super) fn float_op(op: &Func, x: f64, y: f64) -> Result<f64, EvalError> {
    Ok(match op {
        Func::Add => x + y,
        Func::Sub => x - y,
        Func::Mul => x * y,
        Func::Div if y == 0.0 => return Err(EvalError::DivisionByZero),
        Func::Div => x / y,
        Func::Mod if y == 0.0 => return Err(EvalError::DivisionByZero),
        _ => x % y,
    })
}

pub(super) fn numeric_op(op: &Func, x: Decimal, y: Decimal) -> Result<Decimal, EvalError> {
    let r = match op {
        Func::Add => x.checked_add(y),
        Func::Sub => x.checked_sub(y),
        Func::Mul => x.checked_mul(y),
        Func::Div | Func::Mod if y.is_zero() => return Err(EvalError::DivisionByZero),
        Func::Div => return numeric_div(x, y),
        _ => x.checked_rem(y),
    };
    r.ok_or(range("numeric"))
}

/// Division with the result scale Postgres' `select_div_scale` picks: at least 16 significant
/// digits, and no fewer decimals than either operand.
pub(super) fn numeric_div(x: Decimal, y: Decimal) -> Result<Decimal, EvalError> {
    fn weight_first(v: Decimal) -> (i32, i64) {
        let a = v.abs();
        if a.is_zero() {
            return (0, 0);
        }
        let digits = a.to_f64().unwrap_or(1.0).log10().floor() as i32;
        let weight = digits.div_euclid(4);
        let first = (a.to_f64().unwrap_or(1.0) / 10f64.powi(weight * 4)).floor() as i64;
        (weight, first)
    }
    let (w1, f1) = weight_first(x);
    let (w2, f2) = weight_first(y);
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    let rscale = (16 - qweight * 4)
        .max(x.scale() as i32)
        .max(y.scale() as i32)
        .clamp(0, 20) as u32;
    let q = x.checked_div(y).ok_or(range("numeric"))?;
    let mut q = q.round_dp_with_strategy(rscale, RoundingStrategy::MidpointAwayFromZero);
    q.rescale(rscale);
    Ok(q)
}

pub(super) fn negate(d: &Datum) -> Result<Datum, EvalError> {
    match d {
        Datum::Int16(v) => v.checked_neg().map(Datum::Int16).ok_or(range("smallint")),
        Datum::Int32(v) => v.checked_neg().map(Datum::Int32).ok_or(range("integer")),
        Datum::Int64(v) => v.checked_neg().map(Datum::Int64).ok_or(range("bigint")),
        Datum::Float32(v) => Ok(Datum::f32(-v.0)),
        Datum::Float64(v) => Ok(Datum::f64(-v.0)),
        Datum::Numeric(v) => Ok(Datum::Numeric(-*v)),
        Datum::Interval(iv) => Ok(Datum::Interval(Interval::new(
            -iv.months, -iv.days, -iv.micros,
        ))),
        d => Err(type_error("negation", d)),
    }
}

pub(super) fn round(f: &Func, d: &Datum, places: Option<&Datum>) -> Result<Datum, EvalError> {
    let places = places.and_then(Datum::as_i64).unwrap_or(0);
    match d {
        Datum::Numeric(v) => {
            let dp = places.clamp(0, 28) as u32;
            let strategy = match f {
                Func::Round => RoundingStrategy::MidpointAwayFromZero,
                Func::Ceil => RoundingStrategy::ToPositiveInfinity,
                Func::Floor => RoundingStrategy::ToNegativeInfinity,
                _ => RoundingStrategy::ToZero,
            };
            let mut r = v.round_dp_with_strategy(dp, strategy);
            if matches!(f, Func::Round | Func::Trunc) {
                r.rescale(dp);
            }
            Ok(Datum::Numeric(r))
        }
        Datum::Float64(_) | Datum::Float32(_) => {
            let x = float(d)?;
            let scale = 10f64.powi(places as i32);
            let y = match f {
                // Postgres rounds float8 half to even (rint).
                Func::Round if places == 0 => x.round_ties_even(),
                Func::Round => (x * scale).round() / scale,
                Func::Ceil => x.ceil(),
                Func::Floor => x.floor(),
                _ => (x * scale).trunc() / scale,
            };
            Ok(match d {
                Datum::Float32(_) => Datum::f32(y as f32),
                _ => Datum::f64(y),
            })
        }
        int => Ok(int.clone()),
    }
}
