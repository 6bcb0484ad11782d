//! `FORMAT AVRO` for sinks: key and value schemas made from the relation's columns, and rows
//! as bare Avro datums of them (no registry here to frame them with a schema id; a consumer
//! takes the schemas from `SHOW SINKS`).

use apache_avro::schema::Schema;
use apache_avro::types::Value;
use serde_json::json;

use crate::parse::SinkEnvelope;
use crate::repr::{strconv, ColumnType, Datum, RelationDesc, Row, ScalarType};

/// The schemas a sink's records are written in, and their JSON text.
pub struct AvroSchemas {
    pub key: Schema,
    pub value: Schema,
    pub key_text: String,
    pub value_text: String,
}

impl AvroSchemas {
    /// The schemas of a sink of `desc` keyed by `key` (empty: the whole row).
    pub fn new(desc: &RelationDesc, key: &[usize], envelope: SinkEnvelope) -> AvroSchemas {
        let all: Vec<usize> = (0..desc.arity()).collect();
        let key_cols = if key.is_empty() { &all[..] } else { key };
        let key_json = record("key", desc, key_cols);
        let row = record("row", desc, &all);
        let value_json = match envelope {
            SinkEnvelope::Upsert => row,
            SinkEnvelope::Debezium => json!({
                "type": "record",
                "name": "envelope",
                "fields": [
                    {"name": "before", "type": ["null", row]},
                    {"name": "after", "type": ["null", "row"]},
                    {"name": "op", "type": "string"},
                ],
            }),
        };
        let parse = |j: &serde_json::Value| {
            Schema::parse(j).expect("invariant: schemas made from columns are valid Avro")
        };
        AvroSchemas {
            key: parse(&key_json),
            value: parse(&value_json),
            key_text: key_json.to_string(),
            value_text: value_json.to_string(),
        }
    }
}

/// An Avro name for a column: letters, digits and underscores, not starting with a digit.
pub fn field_name(column: &str) -> String {
    let mut name: String = column
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.insert(0, '_');
    }
    name
}

fn record(name: &str, desc: &RelationDesc, columns: &[usize]) -> serde_json::Value {
    let fields: Vec<serde_json::Value> = columns
        .iter()
        .map(|&c| json!({"name": field_name(&desc.names[c]), "type": field_type(&desc.types[c])}))
        .collect();
    json!({"type": "record", "name": name, "fields": fields})
}

/// Column types as Avro types; numeric, interval and jsonb in their Postgres text form (a
/// numeric has no fixed scale for Avro's decimal).
fn field_type(t: &ColumnType) -> serde_json::Value {
    let base = match t.scalar {
        ScalarType::Bool => json!("boolean"),
        ScalarType::Int16 | ScalarType::Int32 => json!("int"),
        ScalarType::Int64 => json!("long"),
        ScalarType::Float32 => json!("float"),
        ScalarType::Float64 => json!("double"),
        ScalarType::Date => json!({"type": "int", "logicalType": "date"}),
        ScalarType::Timestamp => json!({"type": "long", "logicalType": "local-timestamp-micros"}),
        ScalarType::TimestampTz => json!({"type": "long", "logicalType": "timestamp-micros"}),
        ScalarType::Bytea => json!("bytes"),
        ScalarType::Numeric
        | ScalarType::Text
        | ScalarType::Interval
        | ScalarType::Jsonb
        | ScalarType::Array(_)
        | ScalarType::Int2Vector
        | ScalarType::OidVector
        | ScalarType::Record(_)
        | ScalarType::Unknown => json!("string"),
    };
    if t.nullable {
        json!(["null", base])
    } else {
        base
    }
}

/// The datums of `columns` as a record of the schema `record` made for them.
pub fn record_value(desc: &RelationDesc, columns: &[usize], datums: &[Datum]) -> Value {
    Value::Record(
        columns
            .iter()
            .zip(datums)
            .map(|(&c, d)| (field_name(&desc.names[c]), datum(d, desc.types[c].nullable)))
            .collect(),
    )
}

/// A whole row as the `row` record.
pub fn row_value(desc: &RelationDesc, row: &Row) -> Value {
    let all: Vec<usize> = (0..row.len()).collect();
    record_value(desc, &all, row)
}

fn datum(d: &Datum, nullable: bool) -> Value {
    let v = match d {
        Datum::Null => return Value::Union(0, Box::new(Value::Null)),
        Datum::Bool(b) => Value::Boolean(*b),
        Datum::Int16(i) => Value::Int(*i as i32),
        Datum::Int32(i) => Value::Int(*i),
        Datum::Int64(i) => Value::Long(*i),
        Datum::Float32(f) => Value::Float(f.0),
        Datum::Float64(f) => Value::Double(f.0),
        Datum::Date(d) => Value::Date((*d - chrono::NaiveDate::default()).num_days() as i32),
        Datum::Timestamp(ts) => Value::LocalTimestampMicros(ts.and_utc().timestamp_micros()),
        Datum::TimestampTz(ts) => Value::TimestampMicros(ts.timestamp_micros()),
        Datum::Bytes(b) => Value::Bytes(b.clone()),
        Datum::Jsonb(j) => Value::String(j.clone()),
        other => Value::String(strconv::format(other).unwrap_or_default()),
    };
    if nullable {
        Value::Union(1, Box::new(v))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_their_schema() {
        let desc = RelationDesc::new(
            vec!["id".into(), "sum(x)".into(), "at".into(), "blob".into()],
            vec![
                ColumnType::new(ScalarType::Int32, false),
                ColumnType::new(ScalarType::Numeric, true),
                ColumnType::new(ScalarType::TimestampTz, true),
                ColumnType::new(ScalarType::Bytea, false),
            ],
        );
        let schemas = AvroSchemas::new(&desc, &[0], SinkEnvelope::Debezium);
        assert!(schemas.value_text.contains(r#""name":"sum_x_""#));
        let row: Row = vec![
            Datum::Int32(7),
            Datum::Null,
            Datum::TimestampTz(chrono::DateTime::from_timestamp_micros(1_500_000).unwrap()),
            Datum::Bytes(vec![0, 1]),
        ];
        let event = Value::Record(vec![
            ("before".into(), Value::Union(0, Box::new(Value::Null))),
            (
                "after".into(),
                Value::Union(1, Box::new(row_value(&desc, &row))),
            ),
            ("op".into(), Value::String("c".into())),
        ]);
        let bytes = apache_avro::to_avro_datum(&schemas.value, event.clone()).unwrap();
        let back = apache_avro::from_avro_datum(&schemas.value, &mut &bytes[..], None).unwrap();
        assert_eq!(back, event);
        let key = apache_avro::to_avro_datum(&schemas.key, record_value(&desc, &[0], &row[..1]));
        assert_eq!(key.unwrap(), vec![14]);
    }
}
