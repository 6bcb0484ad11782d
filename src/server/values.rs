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
        Datum::Array(elems) => return encode_array(elems, 1, typ, out),
        Datum::Vector(elems) => return encode_array(elems, 0, typ, out),
        Datum::Record(fields) => return encode_record(fields, typ, out),
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
        ScalarType::Array(element) => Datum::Array(decode_array(bytes, *element)?),
        ScalarType::Int2Vector | ScalarType::OidVector => {
            let element = typ.element().unwrap_or(ScalarType::Int32);
            Datum::Vector(decode_array(bytes, element)?)
        }
        ScalarType::Record(_) => return Err("records cannot be parameters".into()),
    })
}

/// A record in Postgres' binary form (`record_send`): the number of fields, then each field's
/// type oid, length (-1 for NULL) and binary form.
fn encode_record(fields: &[Datum], typ: ScalarType, out: &mut BytesMut) -> Result<(), String> {
    let ScalarType::Record(shape) = typ else {
        return Err("a record value in a non-record column".into());
    };
    out.put_i32(fields.len() as i32);
    for (f, (_, t)) in fields.iter().zip(&shape.fields) {
        out.put_u32(t.oid());
        if f.is_null() {
            out.put_i32(-1);
            continue;
        }
        let mut item = BytesMut::new();
        encode(f, *t, true, &mut item)?;
        out.put_i32(item.len() as i32);
        out.put_slice(&item);
    }
    Ok(())
}

/// An array in Postgres' binary form: dimensions (none when empty), a has-NULLs flag, the
/// element type, each dimension's length and lower bound (1; 0 for the vectors), then each
/// element as a length (-1 for NULL) and its binary form.
fn encode_array(
    elems: &[Datum],
    lower_bound: i32,
    typ: ScalarType,
    out: &mut BytesMut,
) -> Result<(), String> {
    let element = typ
        .element()
        .ok_or("an array value in a non-array column")?;
    out.put_i32(if elems.is_empty() { 0 } else { 1 });
    out.put_i32(elems.iter().any(Datum::is_null) as i32);
    out.put_u32(element.oid());
    if !elems.is_empty() {
        out.put_i32(elems.len() as i32);
        out.put_i32(lower_bound);
    }
    for e in elems {
        if e.is_null() {
            out.put_i32(-1);
            continue;
        }
        let mut item = BytesMut::new();
        encode(e, element, true, &mut item)?;
        out.put_i32(item.len() as i32);
        out.put_slice(&item);
    }
    Ok(())
}

fn decode_array(bytes: &[u8], element: ScalarType) -> Result<Vec<Datum>, String> {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if rest.len() < n {
            return Err("binary array is truncated".into());
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head)
    }
    fn int(rest: &mut &[u8]) -> Result<i32, String> {
        Ok(i32::from_be_bytes(
            take(rest, 4)?.try_into().expect("4 bytes"),
        ))
    }
    let mut rest = bytes;
    let dims = int(&mut rest)?;
    let _has_nulls = int(&mut rest)?;
    let _element_oid = int(&mut rest)?;
    let len = match dims {
        0 => 0,
        1 => {
            let len = int(&mut rest)?;
            let _lower_bound = int(&mut rest)?;
            len
        }
        _ => return Err("multidimensional arrays are not supported".into()),
    };
    let mut elems = Vec::new();
    for _ in 0..len {
        let n = int(&mut rest)?;
        elems.push(if n < 0 {
            Datum::Null
        } else {
            decode(take(&mut rest, n as usize)?, element, true)?
        });
    }
    Ok(elems)
}
