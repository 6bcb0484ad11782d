//! Values on the wire: Postgres text and binary formats, both directions. Binary encodings use
//! `postgres-types`, the same code tokio-postgres reads them with.

use bytes::{BufMut, BytesMut};
use postgres_types::{FromSql, ToSql, Type};

use crate::repr::{strconv, Datum, Interval, ScalarType};

fn pg_type(t: ScalarType) -> Type {
    Type::from_oid(t.oid()).unwrap_or(Type::TEXT)
}

/// Encodes a non-null datum in the requested format (0 text, 1 binary).
pub fn encode(d: &Datum, typ: ScalarType, binary: bool, out: &mut BytesMut) -> Result<(), String> {
    if !binary {
        out.put_slice(strconv::format(d).unwrap_or_default().as_bytes());
        return Ok(());
    }
    let t = pg_type(typ);
    let r = match d {
        Datum::Null => return Ok(()),
        Datum::Bool(b) => b.to_sql(&t, out),
        Datum::Int16(v) => v.to_sql(&t, out),
        Datum::Int32(v) => v.to_sql(&t, out),
        Datum::Int64(v) => v.to_sql(&t, out),
        Datum::Float32(v) => v.0.to_sql(&t, out),
        Datum::Float64(v) => v.0.to_sql(&t, out),
        Datum::Numeric(v) => v.to_sql(&t, out),
        Datum::String(s) => s.to_sql(&Type::TEXT, out),
        Datum::Date(v) => v.to_sql(&t, out),
        Datum::Timestamp(v) => v.to_sql(&t, out),
        Datum::TimestampTz(v) => v.to_sql(&t, out),
        Datum::Interval(iv) => {
            out.put_i64(iv.micros);
            out.put_i32(iv.days);
            out.put_i32(iv.months);
            return Ok(());
        }
        Datum::Jsonb(s) => {
            let v: serde_json::Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
            v.to_sql(&Type::JSONB, out)
        }
        Datum::Bytes(b) => {
            out.put_slice(b);
            return Ok(());
        }
    };
    r.map(|_| ()).map_err(|e| e.to_string())
}

/// Decodes a parameter value of type `typ` from text or binary.
pub fn decode(bytes: &[u8], typ: ScalarType, binary: bool) -> Result<Datum, String> {
    if !binary {
        let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        return strconv::parse(text, typ).map_err(|e| e.to_string());
    }
    let t = pg_type(typ);
    fn get<'a, T: FromSql<'a>>(t: &Type, b: &'a [u8]) -> Result<T, String> {
        T::from_sql(t, b).map_err(|e| e.to_string())
    }
    Ok(match typ {
        ScalarType::Bool => Datum::Bool(get(&t, bytes)?),
        ScalarType::Int16 => Datum::Int16(get(&t, bytes)?),
        ScalarType::Int32 => Datum::Int32(get(&t, bytes)?),
        ScalarType::Int64 => Datum::Int64(get(&t, bytes)?),
        ScalarType::Float32 => Datum::f32(get(&t, bytes)?),
        ScalarType::Float64 => Datum::f64(get(&t, bytes)?),
        ScalarType::Numeric => Datum::Numeric(get(&t, bytes)?),
        ScalarType::Text | ScalarType::Unknown => Datum::String(get::<String>(&Type::TEXT, bytes)?),
        ScalarType::Date => Datum::Date(get(&t, bytes)?),
        ScalarType::Timestamp => Datum::Timestamp(get(&t, bytes)?),
        ScalarType::TimestampTz => Datum::TimestampTz(get(&t, bytes)?),
        ScalarType::Interval => {
            if bytes.len() != 16 {
                return Err("binary interval must be 16 bytes".into());
            }
            let micros = i64::from_be_bytes(bytes[0..8].try_into().expect("8 bytes"));
            let days = i32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes"));
            let months = i32::from_be_bytes(bytes[12..16].try_into().expect("4 bytes"));
            Datum::Interval(Interval::new(months, days, micros))
        }
        ScalarType::Jsonb => {
            Datum::Jsonb(get::<serde_json::Value>(&Type::JSONB, bytes)?.to_string())
        }
        ScalarType::Bytea => Datum::Bytes(bytes.to_vec()),
    })
}
