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
}

impl ScalarType {
    /// The Postgres type OID, as reported in RowDescription and ParameterDescription.
    pub fn oid(self) -> u32 {
        match self {
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
            _ => return None,
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
