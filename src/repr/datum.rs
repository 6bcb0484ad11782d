//! `Datum`: one SQL value. Ordered and hashable so rows can be arrangement keys.
//!
//! The order puts NULL first and orders values of one type as Postgres does; values of
//! different types never meet in one column (the planner coerces them first). `ORDER BY`
//! applies Postgres' NULLS LAST default itself.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ordered_float::OrderedFloat;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Interval, ScalarType};

/// Equality and order are written out (below) rather than derived so that comparing two
/// integers, what most keys hold, is inlined into the sorts and merges that compare every datum
/// of every row; they are the derived ones otherwise (`tests::order_is_declaration_order`).
/// `Hash` stays derived: it agrees with an equality that is structural.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Debug, Hash, Serialize, Deserialize)]
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

impl Datum {
    /// The variant's place in the declaration: datums of different variants order by it, NULL
    /// first (only NULL meets other variants in a column; the planner coerces the rest).
    fn rank(&self) -> u8 {
        match self {
            Datum::Null => 0,
            Datum::Bool(_) => 1,
            Datum::Int16(_) => 2,
            Datum::Int32(_) => 3,
            Datum::Int64(_) => 4,
            Datum::Float32(_) => 5,
            Datum::Float64(_) => 6,
            Datum::Numeric(_) => 7,
            Datum::String(_) => 8,
            Datum::Date(_) => 9,
            Datum::Timestamp(_) => 10,
            Datum::TimestampTz(_) => 11,
            Datum::Interval(_) => 12,
            Datum::Jsonb(_) => 13,
            Datum::Bytes(_) => 14,
            Datum::Array(_) => 15,
            Datum::Vector(_) => 16,
            Datum::Record(_) => 17,
        }
    }

    /// The order of any two datums: by variant, then by value.
    #[inline(never)]
    fn cmp_any(&self, other: &Datum) -> Ordering {
        use Datum::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int16(a), Int16(b)) => a.cmp(b),
            (Int32(a), Int32(b)) => a.cmp(b),
            (Int64(a), Int64(b)) => a.cmp(b),
            (Float32(a), Float32(b)) => a.cmp(b),
            (Float64(a), Float64(b)) => a.cmp(b),
            (Numeric(a), Numeric(b)) => a.cmp(b),
            (String(a), String(b)) | (Jsonb(a), Jsonb(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (TimestampTz(a), TimestampTz(b)) => a.cmp(b),
            (Interval(a), Interval(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Array(a), Array(b)) | (Vector(a), Vector(b)) | (Record(a), Record(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialEq for Datum {
    #[inline]
    fn eq(&self, other: &Datum) -> bool {
        match (self, other) {
            (Datum::Int32(a), Datum::Int32(b)) => a == b,
            (Datum::Int64(a), Datum::Int64(b)) => a == b,
            (Datum::String(a), Datum::String(b)) => a == b,
            _ => self.cmp_any(other) == Ordering::Equal,
        }
    }
}

impl Eq for Datum {}

impl PartialOrd for Datum {
    #[inline]
    fn partial_cmp(&self, other: &Datum) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Datum {
    #[inline]
    fn cmp(&self, other: &Datum) -> Ordering {
        match (self, other) {
            (Datum::Int32(a), Datum::Int32(b)) => a.cmp(b),
            (Datum::Int64(a), Datum::Int64(b)) => a.cmp(b),
            _ => self.cmp_any(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The written-out order is the order a derive would give: variants in declaration order
    /// (NULL first), values of one variant by their own order, rows element by element.
    #[test]
    fn order_is_declaration_order() {
        let ts = NaiveDate::from_ymd_opt(2024, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        let ascending = [
            Datum::Null,
            Datum::Bool(false),
            Datum::Bool(true),
            Datum::Int16(-1),
            Datum::Int16(7),
            Datum::Int32(-5),
            Datum::Int32(3),
            Datum::Int64(i64::MIN),
            Datum::Int64(2),
            Datum::f32(-0.5),
            Datum::f32(f32::NAN),
            Datum::f64(1.5),
            Datum::f64(f64::NAN),
            Datum::Numeric(Decimal::new(-15, 1)),
            Datum::Numeric(Decimal::new(2, 0)),
            Datum::String("a".into()),
            Datum::String("ab".into()),
            Datum::Date(ts.date()),
            Datum::Timestamp(ts),
            Datum::TimestampTz(ts.and_utc()),
            Datum::Interval(Interval {
                months: 0,
                days: 1,
                micros: 0,
            }),
            Datum::Jsonb("{}".into()),
            Datum::Bytes(vec![0]),
            Datum::Bytes(vec![0, 0]),
            Datum::Array(vec![Datum::Int32(1)]),
            Datum::Array(vec![Datum::Int32(1), Datum::Null]),
            Datum::Vector(vec![Datum::Int16(1)]),
            Datum::Record(vec![Datum::Null]),
            Datum::Record(vec![Datum::Int32(0)]),
        ];
        for (i, a) in ascending.iter().enumerate() {
            for (j, b) in ascending.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{a:?} vs {b:?}");
                assert_eq!(a == b, i == j, "{a:?} == {b:?}");
                assert_eq!(a.partial_cmp(b), Some(i.cmp(&j)));
            }
        }
        // The variants' ranks are their declaration order, each rank taken once.
        let ranks: Vec<u8> = ascending.iter().map(Datum::rank).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(ranks.last(), Some(&17));
    }
}
