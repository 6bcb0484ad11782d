//! Column types, with their Postgres type OIDs and names.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScalarType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Numeric,
    Text,
    Date,
    Timestamp,
    TimestampTz,
    Interval,
    Jsonb,
    Bytea,
    /// The type of a string literal or parameter before context gives it one (Postgres'
    /// `unknown`). The planner resolves it; it reaches clients only as `text`.
    Unknown,
    /// A one-dimensional array of another (non-array) type: `integer[]`, `text[]`. The element
    /// is a `'static` reference to one of the constants of `array_of`, which keeps the type
    /// `Copy`.
    Array(#[serde(with = "element")] &'static ScalarType),
    /// Postgres' `int2vector` and `oidvector` (of `pg_index` and `pg_proc`): arrays of
    /// `smallint` and of oids (integers here) whose subscripts start at 0, printed with spaces
    /// between the elements (`1 2`).
    Int2Vector,
    OidVector,
    /// A row value with named fields (Postgres' `record`), as a function returning one gives it
    /// (`information_schema._pg_expandarray`); `(r).field` reads a field. The shape is interned,
    /// which keeps the type `Copy`.
    Record(#[serde(with = "record")] &'static RecordType),
}

/// The fields of a record type, in order.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordType {
    pub fields: Vec<(String, ScalarType)>,
}

impl RecordType {
    /// The one `'static` copy of this shape (made on first use; there are few shapes).
    pub fn intern(fields: Vec<(String, ScalarType)>) -> &'static RecordType {
        static SHAPES: std::sync::Mutex<Vec<&'static RecordType>> =
            std::sync::Mutex::new(Vec::new());
        let mut shapes = SHAPES.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shape) = shapes.iter().find(|s| s.fields == fields) {
            return shape;
        }
        let shape: &'static RecordType = Box::leak(Box::new(RecordType { fields }));
        shapes.push(shape);
        shape
    }

    /// The index and type of the field named `name`.
    pub fn field(&self, name: &str) -> Option<(usize, ScalarType)> {
        self.fields
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| (i, self.fields[i].1))
    }
}

/// Serde for a record's shape: written as the fields, read back as the interned shape.
mod record {
    use super::RecordType;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &&'static RecordType, s: S) -> Result<S::Ok, S::Error> {
        (*t).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static RecordType, D::Error> {
        Ok(RecordType::intern(RecordType::deserialize(d)?.fields))
    }
}

/// Serde for an array's element type: written as the type itself, read back as the static
/// constant for it.
mod element {
    use super::ScalarType;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &&'static ScalarType, s: S) -> Result<S::Ok, S::Error> {
        (*t).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static ScalarType, D::Error> {
        let t = ScalarType::deserialize(d)?;
        match t.array_of() {
            Some(ScalarType::Array(e)) => Ok(e),
            _ => Err(serde::de::Error::custom(format!(
                "{} cannot be an array element",
                t.name()
            ))),
        }
    }
}

/// The element types arrays are made of, with their array types' oids and names.
const ARRAYS: &[(ScalarType, u32, &str)] = &[
    (ScalarType::Bool, 1000, "boolean[]"),
    (ScalarType::Int16, 1005, "smallint[]"),
    (ScalarType::Int32, 1007, "integer[]"),
    (ScalarType::Int64, 1016, "bigint[]"),
    (ScalarType::Float32, 1021, "real[]"),
    (ScalarType::Float64, 1022, "double precision[]"),
    (ScalarType::Numeric, 1231, "numeric[]"),
    (ScalarType::Text, 1009, "text[]"),
    (ScalarType::Date, 1182, "date[]"),
    (ScalarType::Timestamp, 1115, "timestamp without time zone[]"),
    (ScalarType::TimestampTz, 1185, "timestamp with time zone[]"),
    (ScalarType::Interval, 1187, "interval[]"),
    (ScalarType::Jsonb, 3807, "jsonb[]"),
    (ScalarType::Bytea, 1001, "bytea[]"),
];

impl ScalarType {
    /// Whether two non-NULL values of this type are equal in SQL exactly when they are the same
    /// `Datum`, so an arrangement keyed by them finds every SQL match. Not so for intervals
    /// (`'1 day' = '24 hours'`), JSON, nor records and arrays, whose NULL fields compare as
    /// NULL or equal.
    pub fn equality_is_identity(self) -> bool {
        use ScalarType as T;
        matches!(
            self,
            T::Bool
                | T::Int16
                | T::Int32
                | T::Int64
                | T::Float32
                | T::Float64
                | T::Numeric
                | T::Text
                | T::Date
                | T::Timestamp
                | T::TimestampTz
                | T::Bytea
        )
    }

    /// The array type whose elements are of this type (none for arrays: Runnel's arrays have one
    /// dimension, and `unknown` has no array type).
    pub fn array_of(self) -> Option<ScalarType> {
        use ScalarType::*;
        Some(Array(match self {
            Bool => &Bool,
            Int16 => &Int16,
            Int32 => &Int32,
            Int64 => &Int64,
            Float32 => &Float32,
            Float64 => &Float64,
            Numeric => &Numeric,
            Text => &Text,
            Date => &Date,
            Timestamp => &Timestamp,
            TimestampTz => &TimestampTz,
            Interval => &Interval,
            Jsonb => &Jsonb,
            Bytea => &Bytea,
            Unknown | Array(_) | Int2Vector | OidVector | Record(_) => return None,
        }))
    }

    /// The element type of an array type.
    pub fn element(self) -> Option<ScalarType> {
        match self {
            ScalarType::Array(e) => Some(*e),
            ScalarType::Int2Vector => Some(ScalarType::Int16),
            ScalarType::OidVector => Some(ScalarType::Int32),
            _ => None,
        }
    }

    fn array_entry(self) -> Option<&'static (ScalarType, u32, &'static str)> {
        let e = self.element()?;
        ARRAYS.iter().find(|(t, _, _)| *t == e)
    }

    /// The Postgres type OID, as reported in RowDescription and ParameterDescription.
    pub fn oid(self) -> u32 {
        match self {
            ScalarType::Array(_) => self.array_entry().map(|(_, oid, _)| *oid).unwrap_or(0),
            ScalarType::Int2Vector => 22,
            ScalarType::OidVector => 30,
            ScalarType::Record(_) => 2249,
            ScalarType::Bool => 16,
            ScalarType::Int16 => 21,
            ScalarType::Int32 => 23,
            ScalarType::Int64 => 20,
            ScalarType::Float32 => 700,
            ScalarType::Float64 => 701,
            ScalarType::Numeric => 1700,
            ScalarType::Text | ScalarType::Unknown => 25,
            ScalarType::Date => 1082,
            ScalarType::Timestamp => 1114,
            ScalarType::TimestampTz => 1184,
            ScalarType::Interval => 1186,
            ScalarType::Jsonb => 3802,
            ScalarType::Bytea => 17,
        }
    }

    pub fn from_oid(oid: u32) -> Option<ScalarType> {
        Some(match oid {
            16 => ScalarType::Bool,
            21 => ScalarType::Int16,
            23 => ScalarType::Int32,
            20 => ScalarType::Int64,
            700 => ScalarType::Float32,
            701 => ScalarType::Float64,
            1700 => ScalarType::Numeric,
            25 | 1043 | 1042 | 19 => ScalarType::Text,
            1082 => ScalarType::Date,
            1114 => ScalarType::Timestamp,
            1184 => ScalarType::TimestampTz,
            1186 => ScalarType::Interval,
            3802 | 114 => ScalarType::Jsonb,
            17 => ScalarType::Bytea,
            0 | 705 => ScalarType::Unknown,
            // Runnel keeps oids as integers.
            26 => ScalarType::Int32,
            22 => ScalarType::Int2Vector,
            30 => ScalarType::OidVector,
            1028 => ScalarType::Int32.array_of()?,
            // name[], varchar[], bpchar[], json[]: arrays of what their elements map to.
            1003 | 1015 | 1014 => ScalarType::Text.array_of()?,
            199 => ScalarType::Jsonb.array_of()?,
            oid => ARRAYS.iter().find(|(_, o, _)| *o == oid)?.0.array_of()?,
        })
    }

    /// The fixed size Postgres reports in RowDescription (-1 for variable length).
    pub fn typlen(self) -> i16 {
        match self {
            ScalarType::Bool => 1,
            ScalarType::Int16 => 2,
            ScalarType::Int32 | ScalarType::Float32 | ScalarType::Date => 4,
            ScalarType::Int64 | ScalarType::Float64 => 8,
            ScalarType::Timestamp | ScalarType::TimestampTz => 8,
            ScalarType::Interval => 16,
            _ => -1,
        }
    }

    /// The name Postgres uses in `format_type` and error messages.
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::Bool => "boolean",
            ScalarType::Int16 => "smallint",
            ScalarType::Int32 => "integer",
            ScalarType::Int64 => "bigint",
            ScalarType::Float32 => "real",
            ScalarType::Float64 => "double precision",
            ScalarType::Numeric => "numeric",
            ScalarType::Text => "text",
            ScalarType::Date => "date",
            ScalarType::Timestamp => "timestamp without time zone",
            ScalarType::TimestampTz => "timestamp with time zone",
            ScalarType::Interval => "interval",
            ScalarType::Jsonb => "jsonb",
            ScalarType::Bytea => "bytea",
            ScalarType::Unknown => "unknown",
            ScalarType::Array(_) => self
                .array_entry()
                .map(|(_, _, n)| *n)
                .unwrap_or("unknown[]"),
            ScalarType::Int2Vector => "int2vector",
            ScalarType::OidVector => "oidvector",
            ScalarType::Record(_) => "record",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ScalarType::Int16
                | ScalarType::Int32
                | ScalarType::Int64
                | ScalarType::Float32
                | ScalarType::Float64
                | ScalarType::Numeric
        )
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            ScalarType::Int16 | ScalarType::Int32 | ScalarType::Int64
        )
    }

    /// Position in Postgres' numeric promotion order (int2 < int4 < int8 < numeric < float4 < float8).
    pub fn numeric_rank(self) -> Option<u8> {
        Some(match self {
            ScalarType::Int16 => 0,
            ScalarType::Int32 => 1,
            ScalarType::Int64 => 2,
            ScalarType::Numeric => 3,
            ScalarType::Float32 => 4,
            ScalarType::Float64 => 5,
            _ => return None,
        })
    }
}
