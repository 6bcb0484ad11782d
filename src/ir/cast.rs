//! Casts between types, with Postgres' rounding and range checks.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::error::EvalError;
use super::func::range;
use crate::repr::{strconv, Datum, ScalarType};

/// Casts a non-null datum to `to`, with Postgres' rounding and range checks.
pub fn cast(d: &Datum, to: ScalarType) -> Result<Datum, EvalError> {
    use ScalarType as T;
    if let (Datum::Array(elems), T::Array(element)) = (d, to) {
        let cast_one = |e: &Datum| match e {
            Datum::Null => Ok(Datum::Null),
            e => cast(e, *element),
        };
        return elems
            .iter()
            .map(cast_one)
            .collect::<Result<_, _>>()
            .map(Datum::Array);
    }
    if d.scalar_type() == Some(to) {
        return Ok(d.clone());
    }
    let parse = |s: &str| {
        strconv::parse(s, to).map_err(|e| match to {
            T::Date | T::Timestamp | T::TimestampTz | T::Interval => {
                EvalError::InvalidDatetime(e.to_string())
            }
            _ if e.out_of_range => EvalError::OutOfRange(to.name().into()),
            _ => EvalError::InvalidText(e.to_string()),
        })
    };
    match (d, to) {
        // `bool::text` spells the words out, unlike the output function's t/f.
        (Datum::Bool(b), T::Text) => Ok(Datum::String(b.to_string())),
        (_, T::Text | T::Unknown) => Ok(Datum::String(strconv::format(d).unwrap_or_default())),
        (Datum::String(s), T::Bytea) => Ok(Datum::Bytes(strconv::parse_bytea(s)?)),
        (Datum::String(s), _) => parse(s),
        (Datum::Jsonb(s), _) => parse(s),
        (Datum::Bool(b), T::Int32) => Ok(Datum::Int32(*b as i32)),
        (Datum::Bool(b), T::Int64) => Ok(Datum::Int64(*b as i64)),
        (Datum::Int32(i), T::Bool) => Ok(Datum::Bool(*i != 0)),
        (Datum::Int64(i), T::Bool) => Ok(Datum::Bool(*i != 0)),
        (Datum::Int16(_) | Datum::Int32(_) | Datum::Int64(_), _) => {
            let v = d.as_i64().expect("integer datum");
            match to {
                T::Int16 => i16::try_from(v)
                    .map(Datum::Int16)
                    .map_err(|_| range("smallint")),
                T::Int32 => i32::try_from(v)
                    .map(Datum::Int32)
                    .map_err(|_| range("integer")),
                T::Int64 => Ok(Datum::Int64(v)),
                T::Float32 => Ok(Datum::f32(v as f32)),
                T::Float64 => Ok(Datum::f64(v as f64)),
                T::Numeric => Ok(Datum::Numeric(Decimal::from(v))),
                _ => Err(cannot_cast(d, to)),
            }
        }
        (Datum::Float32(_) | Datum::Float64(_), _) => {
            let v = d.as_f64().expect("float datum");
            let int = |min: f64, max: f64, name: &str| {
                let r = v.round_ties_even();
                if v.is_nan() || r < min || r > max {
                    Err(range(name))
                } else {
                    Ok(r)
                }
            };
            match to {
                T::Int16 => int(i16::MIN as f64, i16::MAX as f64, "smallint")
                    .map(|r| Datum::Int16(r as i16)),
                T::Int32 => {
                    int(i32::MIN as f64, i32::MAX as f64, "integer").map(|r| Datum::Int32(r as i32))
                }
                T::Int64 => {
                    int(i64::MIN as f64, i64::MAX as f64, "bigint").map(|r| Datum::Int64(r as i64))
                }
                T::Float32 => Ok(Datum::f32(v as f32)),
                T::Float64 => Ok(Datum::f64(v)),
                T::Numeric => {
                    let s = strconv::format(d).unwrap_or_default();
                    Decimal::from_str_exact(&s)
                        .or_else(|_| Decimal::from_scientific(&s))
                        .map(Datum::Numeric)
                        .map_err(|_| range("numeric"))
                }
                _ => Err(cannot_cast(d, to)),
            }
        }
        (Datum::Numeric(v), _) => {
            let rounded = v.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
            match to {
                T::Int16 => rounded.to_i16().map(Datum::Int16).ok_or(range("smallint")),
                T::Int32 => rounded.to_i32().map(Datum::Int32).ok_or(range("integer")),
                T::Int64 => rounded.to_i64().map(Datum::Int64).ok_or(range("bigint")),
                T::Float32 => Ok(Datum::f32(v.to_f32().unwrap_or(f32::NAN))),
                T::Float64 => Ok(Datum::f64(v.to_f64().unwrap_or(f64::NAN))),
                _ => Err(cannot_cast(d, to)),
            }
        }
        (Datum::Date(dt), T::Timestamp) => {
            Ok(Datum::Timestamp(dt.and_hms_opt(0, 0, 0).expect("midnight")))
        }
        (Datum::Date(dt), T::TimestampTz) => Ok(Datum::TimestampTz(
            dt.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
        )),
        (Datum::Timestamp(t), T::Date) => Ok(Datum::Date(t.date())),
        (Datum::Timestamp(t), T::TimestampTz) => Ok(Datum::TimestampTz(t.and_utc())),
        (Datum::TimestampTz(t), T::Timestamp) => Ok(Datum::Timestamp(t.naive_utc())),
        (Datum::TimestampTz(t), T::Date) => Ok(Datum::Date(t.naive_utc().date())),
        _ => Err(cannot_cast(d, to)),
    }
}

fn cannot_cast(d: &Datum, to: ScalarType) -> EvalError {
    EvalError::Internal(format!(
        "cannot cast {:?} to {}",
        d.scalar_type(),
        to.name()
    ))
}
