//! Avro record values (`FORMAT AVRO USING SCHEMA '...'`): the writer's schema gives the columns
//! (when none are declared), and each value is decoded to JSON, which the JSON path then reads
//! into the columns, so both formats fill columns by the same rules.
//!
//! Values may be bare Avro datums or framed as Confluent's serializers write them (a zero byte
//! and a four-byte schema id first); either is read with the schema given.

use std::collections::HashMap;
use std::sync::Mutex;

use apache_avro::schema::{Name, ResolvedSchema, Schema};
use apache_avro::types::Value;

use super::registry::{Failure, Registry};
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
        Schema::Decimal(_) | Schema::BigDecimal => ScalarType::Numeric,
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

/// A writer's schema, with its named types resolved, reading values.
pub struct Reader {
    schema: Schema,
    /// Named types (records, enums, fixed) by name, for the references to them.
    names: HashMap<Name, Schema>,
    /// With a registry, `schema` is the reader's: each record names its writer's schema by id,
    /// fetched once and kept (as is the registry's answer that it has none), and is resolved
    /// to the reader's (fields added or removed with defaults, as Avro's schema resolution
    /// allows).
    registry: Option<(Registry, SchemaCache)>,
}

/// Writers' schemas by id, or the registry's answer that it has none.
type SchemaCache = Mutex<HashMap<u32, Result<Schema, String>>>;

impl Reader {
    pub fn new(schema: Schema) -> Result<Reader, String> {
        Self::with_registry(schema, None)
    }

    pub fn with_registry(schema: Schema, registry: Option<Registry>) -> Result<Reader, String> {
        let names = ResolvedSchema::try_from(&schema)
            .map_err(|e| format!("invalid Avro schema: {e}"))?
            .get_names()
            .iter()
            .map(|(n, s)| (n.clone(), (*s).clone()))
            .collect();
        let registry = registry.map(|r| (r, Mutex::new(HashMap::new())));
        Ok(Reader {
            schema,
            names,
            registry,
        })
    }

    /// The writer's schema of id `id`, from the registry once: a registry that cannot be
    /// reached is asked again at the next record naming the id.
    fn writer(&self, registry: &Registry, cache: &SchemaCache, id: u32) -> Result<Schema, String> {
        if let Some(known) = cache.lock().expect("schema cache lock").get(&id) {
            return known.clone();
        }
        let schema = match registry.schema(id) {
            Ok(text) => parse_schema(&text),
            Err(Failure::Answered(e)) => Err(e),
            Err(Failure::Unreachable(e)) => return Err(e),
        };
        cache
            .lock()
            .expect("schema cache lock")
            .insert(id, schema.clone());
        schema
    }

    /// One value, bare or Confluent-framed, as JSON.
    pub fn decode(&self, bytes: &[u8]) -> Result<serde_json::Value, String> {
        if let Some((registry, cache)) = &self.registry {
            let [0, a, b, c, d, rest @ ..] = bytes else {
                return Err(
                    "not a Confluent-framed Avro value (a zero byte and a schema id first)".into(),
                );
            };
            let id = u32::from_be_bytes([*a, *b, *c, *d]);
            let writer = self.writer(registry, cache, id)?;
            let value = apache_avro::from_avro_datum(&writer, &mut &rest[..], Some(&self.schema))
                .map_err(|e| format!("invalid Avro for schema id {id}: {e}"))?;
            return self.json(value, &self.schema);
        }
        let whole = |mut rest: &[u8]| -> Result<Value, String> {
            let v = apache_avro::from_avro_datum(&self.schema, &mut rest, None)
                .map_err(|e| e.to_string())?;
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
        self.json(value, &self.schema)
    }

    /// Avro values as the JSON the column readers take: timestamps as epoch milliseconds,
    /// dates as ISO text, enums and UUIDs as strings, bytes in bytea's `\\x` hex text,
    /// decimals as their exact digits. The schema is followed alongside for the decimals'
    /// scale.
    fn json(&self, v: Value, schema: &Schema) -> Result<serde_json::Value, String> {
        use serde_json::Value as J;
        if let Schema::Ref { name } = schema {
            let named = self
                .names
                .get(name)
                .ok_or_else(|| format!("the Avro schema names no type {name}"))?;
            return self.json(v, named);
        }
        fn items(s: &Schema) -> Option<&Schema> {
            match s {
                Schema::Array(a) => Some(&a.items),
                Schema::Map(m) => Some(&m.types),
                _ => None,
            }
        }
        let any = Schema::Null;
        Ok(match v {
            Value::Null => J::Null,
            Value::Boolean(b) => J::Bool(b),
            Value::Int(i) => i.into(),
            Value::Long(i) => i.into(),
            Value::Float(f) => serde_json::Number::from_f64(f as f64).map_or(J::Null, J::Number),
            Value::Double(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
            Value::String(s) | Value::Enum(_, s) => J::String(s),
            Value::Bytes(b) | Value::Fixed(_, b) => {
                J::String(crate::repr::strconv::format_bytea(&b))
            }
            Value::Uuid(u) => J::String(u.to_string()),
            Value::Union(i, v) => {
                let variant = match schema {
                    Schema::Union(u) => u.variants().get(i as usize).unwrap_or(&any),
                    _ => &any,
                };
                self.json(*v, variant)?
            }
            Value::Array(values) => {
                let item = items(schema).unwrap_or(&any);
                J::Array(
                    values
                        .into_iter()
                        .map(|v| self.json(v, item))
                        .collect::<Result<_, _>>()?,
                )
            }
            Value::Map(m) => {
                let item = items(schema).unwrap_or(&any);
                J::Object(
                    m.into_iter()
                        .map(|(k, v)| Ok((k, self.json(v, item)?)))
                        .collect::<Result<_, String>>()?,
                )
            }
            Value::Record(fields) => {
                let field = |i: usize| match schema {
                    Schema::Record(r) => r.fields.get(i).map_or(&any, |f| &f.schema),
                    _ => &any,
                };
                J::Object(
                    fields
                        .into_iter()
                        .enumerate()
                        .map(|(i, (k, v))| Ok((k, self.json(v, field(i))?)))
                        .collect::<Result<_, String>>()?,
                )
            }
            Value::Decimal(d) => {
                let Schema::Decimal(ds) = schema else {
                    return Err("an Avro decimal without its schema".into());
                };
                J::String(decimal_text(&d, ds.scale)?)
            }
            Value::BigDecimal(d) => J::String(d.to_string()),
            Value::Date(days) => {
                let date = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                    .ok_or_else(|| format!("date {days} is out of range"))?;
                J::String(date.to_string())
            }
            Value::TimestampMillis(ms) | Value::LocalTimestampMillis(ms) => ms.into(),
            Value::TimestampMicros(us) | Value::LocalTimestampMicros(us) => {
                us.div_euclid(1000).into()
            }
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
}

/// An Avro decimal (a big-endian two's-complement unscaled integer) as exact decimal text.
fn decimal_text(d: &apache_avro::Decimal, scale: usize) -> Result<String, String> {
    let bytes = Vec::<u8>::try_from(d).map_err(|e| e.to_string())?;
    let too_big = || {
        format!(
            "an Avro decimal of {} bytes at scale {scale} is out of range for numeric",
            bytes.len()
        )
    };
    if bytes.len() > 16 || scale > 28 {
        return Err(too_big());
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut wide = [if negative { 0xff } else { 0 }; 16];
    wide[16 - bytes.len()..].copy_from_slice(&bytes);
    let unscaled = i128::from_be_bytes(wide);
    rust_decimal::Decimal::try_from_i128_with_scale(unscaled, scale as u32)
        .map(|d| d.to_string())
        .map_err(|_| too_big())
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
        let reader = Reader::new(schema).unwrap();
        let want =
            serde_json::json!({"rating_id": 7, "channel": "web", "at": 1000, "day": "1970-01-02"});
        assert_eq!(reader.decode(&bare).unwrap(), want);
        let framed = [&[0u8, 0, 0, 0, 42][..], &bare].concat();
        assert_eq!(reader.decode(&framed).unwrap(), want);
        assert!(reader.decode(b"\x02").unwrap_err().contains("invalid Avro"));
    }

    /// Decimals (as Debezium writes database decimals) keep their exact digits, also inside a
    /// union and a record reached through a named reference.
    #[test]
    fn reads_decimals_exactly() {
        let schema = parse_schema(
            r#"{"type": "record", "name": "envelope", "fields": [
                {"name": "before", "type": ["null", {"type": "record", "name": "row", "fields": [
                    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}}]}]},
                {"name": "after", "type": ["null", "row"]}]}"#,
        )
        .unwrap();
        let price = |unscaled: i64| {
            let bytes = unscaled.to_be_bytes();
            let skip = bytes
                .iter()
                .take(7)
                .take_while(|b| **b == 0 || **b == 0xff)
                .count();
            Value::Decimal(apache_avro::Decimal::from(&bytes[skip..]))
        };
        let row = |p| Value::Record(vec![("price".into(), p)]);
        let value = Value::Record(vec![
            (
                "before".into(),
                Value::Union(1, Box::new(row(price(-12345)))),
            ),
            ("after".into(), Value::Union(1, Box::new(row(price(1999))))),
        ]);
        let bytes = apache_avro::to_avro_datum(&schema, value).unwrap();
        let json = Reader::new(schema).unwrap().decode(&bytes).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"before": {"price": "-123.45"}, "after": {"price": "19.99"}})
        );
    }
}
