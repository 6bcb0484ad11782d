//! `Datum`: one SQL value. Ordered and hashable so rows can be arrangement keys.
//!
//! The derived order puts NULL first and orders values of one type as Postgres does; values of
//! different types never meet in one column (the planner coerces them first). `ORDER BY`
//! applies Postgres' NULLS LAST default itself.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ordered_float::OrderedFloat;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Interval, ScalarType};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Datum {
    Null,
    Bool(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(OrderedFloat<f32>),
    Float64(OrderedFloat<f64>),
    Numeric(Decimal),
    String(String),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Interval(Interval),
    /// JSON kept in its canonical text form, so it orders and hashes like a value.
    Jsonb(String),
    /// A `bytea`: raw bytes, ordered byte-wise as Postgres orders them. (Last, so that logs
    /// written before it existed decode unchanged.)
    Bytes(Vec<u8>),
    /// A one-dimensional array (lower bound 1); elements may be NULL. Ordered element by
    /// element, a prefix first, as Postgres orders arrays.
    Array(Vec<Datum>),
    /// An `int2vector` or `oidvector`: elements of one integer type, subscripts from 0.
    Vector(Vec<Datum>),
    /// A row value (`record`): its fields, in order.
    Record(Vec<Datum>),
}

impl Datum {
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    /// The scalar type of a non-null datum.
    pub fn scalar_type(&self) -> Option<ScalarType> {
        Some(match self {
            Datum::Null => return None,
            Datum::Bool(_) => ScalarType::Bool,
            Datum::Int16(_) => ScalarType::Int16,
            Datum::Int32(_) => ScalarType::Int32,
            Datum::Int64(_) => ScalarType::Int64,
            Datum::Float32(_) => ScalarType::Float32,
            Datum::Float64(_) => ScalarType::Float64,
            Datum::Numeric(_) => ScalarType::Numeric,
            Datum::String(_) => ScalarType::Text,
            Datum::Date(_) => ScalarType::Date,
            Datum::Timestamp(_) => ScalarType::Timestamp,
            Datum::TimestampTz(_) => ScalarType::TimestampTz,
            Datum::Interval(_) => ScalarType::Interval,
            Datum::Jsonb(_) => ScalarType::Jsonb,
            Datum::Bytes(_) => ScalarType::Bytea,
            // The element type of an empty or all-NULL array is not in the value.
            Datum::Array(elems) => elems.iter().find_map(Datum::scalar_type)?.array_of()?,
            Datum::Vector(elems) => match elems.first()? {
                Datum::Int16(_) => ScalarType::Int2Vector,
                _ => ScalarType::OidVector,
            },
            // The field names are not in the value.
            Datum::Record(_) => return None,
        })
    }

    pub fn f64(v: f64) -> Datum {
        Datum::Float64(OrderedFloat(v))
    }

    pub fn f32(v: f32) -> Datum {
        Datum::Float32(OrderedFloat(v))
    }

    /// The value as an `i64`, for any integer datum.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Datum::Int16(v) => Some(*v as i64),
            Datum::Int32(v) => Some(*v as i64),
            Datum::Int64(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as an `f64`, for any numeric datum.
    pub fn as_f64(&self) -> Option<f64> {
        use rust_decimal::prelude::ToPrimitive;
        match self {
            Datum::Int16(v) => Some(*v as f64),
            Datum::Int32(v) => Some(*v as f64),
            Datum::Int64(v) => Some(*v as f64),
            Datum::Float32(v) => Some(v.0 as f64),
            Datum::Float64(v) => Some(v.0),
            Datum::Numeric(v) => v.to_f64(),
            _ => None,
        }
    }

    /// The value as a `Decimal`, for integers and numerics.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Datum::Int16(v) => Some(Decimal::from(*v)),
            Datum::Int32(v) => Some(Decimal::from(*v)),
            Datum::Int64(v) => Some(Decimal::from(*v)),
            Datum::Numeric(v) => Some(*v),
            _ => None,
        }
    }

    /// Three-valued truth: `Some(b)` for a boolean, `None` for NULL (and non-booleans).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Datum::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Datum::String(s) | Datum::Jsonb(s) => Some(s),
            _ => None,
        }
    }
}
