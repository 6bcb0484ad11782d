//! One time's changes of a relation as Kafka records, in the upsert or Debezium envelope,
//! in JSON or Avro.

use std::collections::BTreeMap;

use super::avro::{self, AvroSchemas};
use crate::parse::SinkEnvelope;
use crate::repr::{strconv, Datum, Diff, RelationDesc, Row};

/// A record to write: its key and value (none: a tombstone).
#[derive(Debug, PartialEq)]
pub struct Record {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

pub struct Encoder {
    pub desc: RelationDesc,
    pub key: Vec<usize>,
    pub envelope: SinkEnvelope,
    /// The schemas for `FORMAT AVRO`; JSON without them.
    pub avro: Option<AvroSchemas>,
}

impl Encoder {
    /// The records for one time's consolidated changes, in key order. `Err` only if a row does
    /// not fit its own Avro schema (a column typed NOT NULL holding NULL).
    pub fn encode(&self, updates: Vec<(Row, Diff)>) -> Result<Vec<Record>, String> {
        // Per key: the rows that left and the rows that arrived at this time.
        let mut by_key: BTreeMap<Row, (Vec<Row>, Vec<Row>)> = BTreeMap::new();
        for (row, diff) in updates {
            let key: Row = if self.key.is_empty() {
                row.clone()
            } else {
                self.key.iter().map(|&k| row[k].clone()).collect()
            };
            let (left, arrived) = by_key.entry(key).or_default();
            let side = if diff < 0 { left } else { arrived };
            side.extend(std::iter::repeat_n(row, diff.unsigned_abs() as usize));
        }
        let mut out = Vec::new();
        for (key, (left, arrived)) in by_key {
            let key_bytes = self.key_bytes(&key)?;
            match self.envelope {
                SinkEnvelope::Upsert => {
                    if arrived.is_empty() {
                        out.push(Record {
                            key: key_bytes.clone(),
                            value: None,
                        });
                    }
                    for row in arrived {
                        out.push(Record {
                            key: key_bytes.clone(),
                            value: Some(self.row_bytes(&row)?),
                        });
                    }
                }
                SinkEnvelope::Debezium => {
                    let n = left.len().max(arrived.len());
                    for i in 0..n {
                        let (before, after) = (left.get(i), arrived.get(i));
                        let op = match (before, after) {
                            (None, _) => "c",
                            (_, None) => "d",
                            _ => "u",
                        };
                        out.push(Record {
                            key: key_bytes.clone(),
                            value: Some(self.event_bytes(before, after, op)?),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The key columns' values (the whole row's when the sink has no key).
    fn key_bytes(&self, key: &Row) -> Result<Vec<u8>, String> {
        let all: Vec<usize>;
        let columns = if self.key.is_empty() {
            all = (0..key.len()).collect();
            &all
        } else {
            &self.key
        };
        match &self.avro {
            Some(schemas) => to_avro(&schemas.key, avro::record_value(&self.desc, columns, key)),
            None => Ok(self.object(key, columns).to_string().into_bytes()),
        }
    }

    fn row_bytes(&self, row: &Row) -> Result<Vec<u8>, String> {
        match &self.avro {
            Some(schemas) => to_avro(&schemas.value, avro::row_value(&self.desc, row)),
            None => Ok(self.row_json(row).to_string().into_bytes()),
        }
    }

    /// A Debezium-style event: `{"before": row | null, "after": row | null, "op": "c|u|d"}`.
    fn event_bytes(
        &self,
        before: Option<&Row>,
        after: Option<&Row>,
        op: &str,
    ) -> Result<Vec<u8>, String> {
        match &self.avro {
            Some(schemas) => {
                use apache_avro::types::Value;
                let side = |r: Option<&Row>| match r {
                    Some(r) => Value::Union(1, Box::new(avro::row_value(&self.desc, r))),
                    None => Value::Union(0, Box::new(Value::Null)),
                };
                let event = Value::Record(vec![
                    ("before".into(), side(before)),
                    ("after".into(), side(after)),
                    ("op".into(), Value::String(op.into())),
                ]);
                to_avro(&schemas.value, event)
            }
            None => {
                let event = serde_json::json!({
                    "before": before.map(|r| self.row_json(r)),
                    "after": after.map(|r| self.row_json(r)),
                    "op": op,
                });
                Ok(event.to_string().into_bytes())
            }
        }
    }

    fn row_json(&self, row: &Row) -> serde_json::Value {
        self.object(row, &(0..row.len()).collect::<Vec<_>>())
    }

    fn object(&self, datums: &Row, columns: &[usize]) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        for (datum, &col) in datums.iter().zip(columns) {
            obj.insert(self.desc.names[col].clone(), datum_json(datum));
        }
        serde_json::Value::Object(obj)
    }
}

fn to_avro(
    schema: &apache_avro::Schema,
    value: apache_avro::types::Value,
) -> Result<Vec<u8>, String> {
    apache_avro::to_avro_datum(schema, value)
        .map_err(|e| format!("a row does not fit the sink's Avro schema: {e}"))
}

/// A datum as JSON: numbers as numbers (numeric too, when an integer or a double prints it
/// exactly as Postgres does), jsonb as
/// itself, everything else in its Postgres text form.
pub fn datum_json(d: &Datum) -> serde_json::Value {
    use serde_json::Value;
    match d {
        Datum::Null => Value::Null,
        Datum::Bool(b) => Value::Bool(*b),
        Datum::Int16(i) => (*i).into(),
        Datum::Int32(i) => (*i).into(),
        Datum::Int64(i) => (*i).into(),
        Datum::Float32(f) => serde_json::Number::from_f64(f.0 as f64)
            .map_or_else(|| Value::String(f.0.to_string()), Value::Number),
        Datum::Float64(f) => serde_json::Number::from_f64(f.0)
            .map_or_else(|| Value::String(f.0.to_string()), Value::Number),
        Datum::Numeric(n) => {
            let text = n.to_string();
            // An integral numeric as a JSON integer: through f64, serde_json would print 255
            // as 255.0, which a reader takes as a numeric of scale 1.
            if n.scale() == 0 {
                if let Ok(i) = text.parse::<i64>() {
                    return i.into();
                }
            }
            match text.parse::<f64>() {
                Ok(f) if f.to_string() == text => {
                    serde_json::Number::from_f64(f).map_or(Value::String(text), Value::Number)
                }
                _ => Value::String(text),
            }
        }
        Datum::Jsonb(j) => serde_json::from_str(j).unwrap_or(Value::String(j.clone())),
        other => strconv::format(other).map_or(Value::Null, Value::String),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::{ColumnType, ScalarType};

    fn encoder(envelope: SinkEnvelope) -> Encoder {
        Encoder {
            desc: RelationDesc::new(
                vec!["id".into(), "status".into()],
                vec![
                    ColumnType::new(ScalarType::Int32, false),
                    ColumnType::new(ScalarType::Text, true),
                ],
            ),
            key: vec![0],
            envelope,
            avro: None,
        }
    }

    fn row(id: i32, s: &str) -> Row {
        vec![Datum::Int32(id), Datum::String(s.into())]
    }

    fn text(r: &Record) -> (String, Option<String>) {
        (
            String::from_utf8(r.key.clone()).unwrap(),
            r.value.clone().map(|v| String::from_utf8(v).unwrap()),
        )
    }

    #[test]
    fn numerics_keep_their_text_in_json() {
        let num = |s: &str| datum_json(&Datum::Numeric(s.parse().unwrap())).to_string();
        assert_eq!(num("255"), "255");
        assert_eq!(num("10.5"), "10.5");
        assert_eq!(num("255.0"), "\"255.0\"");
        assert_eq!(num("12345678901234567890.5"), "\"12345678901234567890.5\"");
    }

    #[test]
    fn upserts_and_debezium_events() {
        let changes = vec![
            (row(1, "gold"), -1),
            (row(1, "platinum"), 1),
            (row(2, "x"), -1),
        ];
        let up: Vec<_> = encoder(SinkEnvelope::Upsert)
            .encode(changes.clone())
            .unwrap()
            .iter()
            .map(text)
            .collect();
        assert_eq!(
            up,
            vec![
                (
                    r#"{"id":1}"#.into(),
                    Some(r#"{"id":1,"status":"platinum"}"#.into())
                ),
                (r#"{"id":2}"#.into(), None),
            ]
        );
        let dbz: Vec<_> = encoder(SinkEnvelope::Debezium)
            .encode(changes)
            .unwrap()
            .iter()
            .map(text)
            .collect();
        assert_eq!(
            dbz[0].1.as_deref(),
            Some(
                r#"{"before":{"id":1,"status":"gold"},"after":{"id":1,"status":"platinum"},"op":"u"}"#
            )
        );
        assert!(dbz[1].1.as_deref().unwrap().contains(r#""op":"d""#));
    }
}
