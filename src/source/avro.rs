//! Avro record values (`FORMAT AVRO USING SCHEMA '...'`): the writer's schema gives the columns
//! (when none are declared), and each value is decoded to JSON, which the JSON path then reads
//! into the columns, so both formats fill columns by the same rules.
//!
//! Values may be bare Avro datums or framed as Confluent's serializers write them (a zero byte
//! and a four-byte schema id first); either is read with the schema given.

use apache_avro::schema::Schema;
use apache_avro::types::Value;

use crate::repr::{ColumnType, ScalarType};

pub fn parse_schema(text: &str) -> Result<Schema, String> {
    Schema::parse_str(text).map_err(|e| format!("invalid Avro schema: {e}"))
}

/// The columns of a record schema: its fields, typed (a union with null makes a column
/// nullable; records, arrays and maps become jsonb).
pub fn columns(schema: &Schema) -> Result<Vec<(String, ColumnType)>, String> {
    let Schema::Record(record) = schema else {
        return Err("an Avro source's schema must be a record".into());
    };
    Ok(record
        .fields
        .iter()
        .map(|f| {
            let (scalar, nullable) = column_type(&f.schema);
            (f.name.to_lowercase(), ColumnType::new(scalar, nullable))
        })
        .collect())
}

fn column_type(schema: &Schema) -> (ScalarType, bool) {
    let scalar = match schema {
        Schema::Union(u) => {
            let non_null: Vec<&Schema> = u
                .variants()
                .iter()
                .filter(|s| !matches!(s, Schema::Null))
                .collect();
            let nullable = non_null.len() < u.variants().len();
            return match non_null[..] {
                [one] => (column_type(one).0, nullable),
                _ => (ScalarType::Jsonb, nullable),
            };
        }
        Schema::Boolean => ScalarType::Bool,
        Schema::Int => ScalarType::Int32,
        Schema::Long => ScalarType::Int64,
        Schema::Float => ScalarType::Float32,
        Schema::Double => ScalarType::Float64,
        Schema::String | Schema::Enum(_) | Schema::Uuid => ScalarType::Text,
        Schema::Bytes | Schema::Fixed(_) => ScalarType::Bytea,
        Schema::Date => ScalarType::Date,
        Schema::TimestampMillis | Schema::TimestampMicros | Schema::TimestampNanos => {
            ScalarType::TimestampTz
        }
        Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => ScalarType::Timestamp,
        _ => ScalarType::Jsonb,
    };
    (scalar, matches!(schema, Schema::Null))
}

/// One value, bare or Confluent-framed, as JSON.
pub fn decode(schema: &Schema, bytes: &[u8]) -> Result<serde_json::Value, String> {
    let whole = |mut rest: &[u8]| -> Result<Value, String> {
        let v = apache_avro::from_avro_datum(schema, &mut rest, None).map_err(|e| e.to_string())?;
        if rest.is_empty() {
            Ok(v)
        } else {
            Err(format!("{} bytes left after the Avro datum", rest.len()))
        }
    };
    let value = match whole(bytes) {
        Ok(v) => v,
        Err(e) => match bytes {
            [0, _, _, _, _, framed @ ..] => {
                whole(framed).map_err(|_| format!("invalid Avro: {e}"))?
            }
            _ => return Err(format!("invalid Avro: {e}")),
        },
    };
    json(value)
}

/// Avro values as the JSON the column readers take: timestamps as epoch milliseconds, dates
/// as ISO text, enums and UUIDs as strings, bytes in bytea's `\\x` hex text.
fn json(v: Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(b),
        Value::Int(i) => i.into(),
        Value::Long(i) => i.into(),
        Value::Float(f) => serde_json::Number::from_f64(f as f64).map_or(J::Null, J::Number),
        Value::Double(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        Value::String(s) | Value::Enum(_, s) => J::String(s),
        // In bytea's text form, which the column reader parses back into the bytes.
        Value::Bytes(b) | Value::Fixed(_, b) => J::String(crate::repr::strconv::format_bytea(&b)),
        Value::Uuid(u) => J::String(u.to_string()),
        Value::Union(_, v) => json(*v)?,
        Value::Array(items) => J::Array(items.into_iter().map(json).collect::<Result<_, _>>()?),
        Value::Map(m) => J::Object(
            m.into_iter()
                .map(|(k, v)| Ok((k, json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Record(fields) => J::Object(
            fields
                .into_iter()
                .map(|(k, v)| Ok((k, json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Date(days) => {
            let date = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                .ok_or_else(|| format!("date {days} is out of range"))?;
            J::String(date.to_string())
        }
        Value::TimestampMillis(ms) | Value::LocalTimestampMillis(ms) => ms.into(),
        Value::TimestampMicros(us) | Value::LocalTimestampMicros(us) => us.div_euclid(1000).into(),
        Value::TimestampNanos(ns) | Value::LocalTimestampNanos(ns) => {
            ns.div_euclid(1_000_000).into()
        }
        other => {
            return Err(format!(
                "Avro {:?} values are not supported yet",
                apache_avro::schema::SchemaKind::from(&other)
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bare_and_framed_records() {
        let schema = parse_schema(
            r#"{"type": "record", "name": "rating", "fields": [
                {"name": "rating_id", "type": "long"},
                {"name": "channel", "type": ["null", "string"]},
                {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                {"name": "day", "type": {"type": "int", "logicalType": "date"}}]}"#,
        )
        .unwrap();
        let cols = columns(&schema).unwrap();
        assert_eq!(cols[1].0, "channel");
        assert_eq!(cols[1].1, ColumnType::new(ScalarType::Text, true));
        assert_eq!(cols[2].1, ColumnType::new(ScalarType::TimestampTz, false));
        let value = Value::Record(vec![
            ("rating_id".into(), Value::Long(7)),
            (
                "channel".into(),
                Value::Union(1, Box::new(Value::String("web".into()))),
            ),
            ("at".into(), Value::TimestampMillis(1_000)),
            ("day".into(), Value::Date(1)),
        ]);
        let bare = apache_avro::to_avro_datum(&schema, value).unwrap();
        let want =
            serde_json::json!({"rating_id": 7, "channel": "web", "at": 1000, "day": "1970-01-02"});
        assert_eq!(decode(&schema, &bare).unwrap(), want);
        let framed = [&[0u8, 0, 0, 0, 42][..], &bare].concat();
        assert_eq!(decode(&schema, &framed).unwrap(), want);
        assert!(decode(&schema, b"\x02")
            .unwrap_err()
            .contains("invalid Avro"));
    }
}
