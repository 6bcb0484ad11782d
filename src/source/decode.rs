//! Kafka records to changes: the value's format fills the columns, the envelope says whether a
//! record is a new row or replaces the row with its key, and metadata columns follow.

use chrono::{DateTime, Utc};

use super::registry::Registry;
use super::{avro, KafkaSpec};
use crate::parse::{Envelope, Metadata, SourceFormat};
use crate::repr::{strconv, Datum, RelationDesc, Row, ScalarType};

/// One record as read from the topic.
#[derive(Debug, Default)]
pub struct Record<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub partition: i32,
    pub offset: i64,
    /// The record's timestamp (ms since the epoch), if the broker gave one.
    pub timestamp: Option<i64>,
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

/// What a record means for the source's contents.
#[derive(Debug, PartialEq)]
pub enum Change {
    Insert(Row),
    /// The row with this key becomes `value` (none: is deleted).
    Upsert {
        key: Row,
        value: Option<Row>,
    },
    /// Nothing (a Debezium tombstone, which follows the delete it completes).
    Nothing,
}

pub struct Decoder {
    spec: KafkaSpec,
    desc: RelationDesc,
    avro: Option<avro::Reader>,
}

impl Decoder {
    pub fn new(spec: KafkaSpec, desc: RelationDesc) -> Decoder {
        // The planner checked the schema.
        let avro = spec
            .avro_schema
            .as_deref()
            .and_then(|s| avro::parse_schema(s).ok())
            .and_then(|s| {
                let registry = spec.registry.as_deref().map(Registry::new);
                avro::Reader::with_registry(s, registry).ok()
            });
        Decoder { spec, desc, avro }
    }

    /// A JSON or Avro value as JSON.
    fn json_value(&self, bytes: &[u8]) -> Result<serde_json::Value, String> {
        match (&self.spec.format, &self.avro) {
            (SourceFormat::Avro, Some(reader)) => reader.decode(bytes),
            (SourceFormat::Avro, None) => Err("the source has no valid Avro schema".into()),
            _ => parse_json(bytes),
        }
    }

    /// What `record` means, or why it cannot be read.
    pub fn decode(&self, record: &Record) -> Result<Change, String> {
        match self.spec.envelope {
            Envelope::None => {
                let value = record.value.ok_or("the record has no value")?;
                Ok(Change::Insert(self.row(self.value(value)?, record)?))
            }
            Envelope::Upsert => match record.value {
                None => Ok(Change::Upsert {
                    key: self.message_key(record)?,
                    value: None,
                }),
                Some(value) => {
                    let row = self.row(self.value(value)?, record)?;
                    Ok(Change::Upsert {
                        key: self.key_of(&row),
                        value: Some(row),
                    })
                }
            },
            Envelope::Debezium => self.debezium(record),
        }
    }

    /// `{"before": {...}, "after": {...}, "op": "c|u|d|r"}`, bare or inside the
    /// `{"schema": ..., "payload": ...}` of Kafka Connect's JSON converter with schemas.
    fn debezium(&self, record: &Record) -> Result<Change, String> {
        let Some(value) = record.value else {
            return Ok(Change::Nothing);
        };
        let mut event = self.json_value(value)?;
        if let Some(payload) = event.get_mut("payload").map(serde_json::Value::take) {
            event = payload;
        }
        let op = event.get("op").and_then(|o| o.as_str()).unwrap_or("");
        if op == "t" {
            return Err("a Debezium truncate event: truncation is not supported".into());
        }
        match event.get("after") {
            Some(after @ serde_json::Value::Object(_)) => {
                let row = self.row(self.json_object(after)?, record)?;
                Ok(Change::Upsert {
                    key: self.key_of(&row),
                    value: Some(row),
                })
            }
            Some(serde_json::Value::Null) | None if op == "d" || event.get("before").is_some() => {
                let key = match event.get("before") {
                    Some(before @ serde_json::Value::Object(_)) => self.key_from_json(before)?,
                    _ => self.message_key(record)?,
                };
                Ok(Change::Upsert { key, value: None })
            }
            _ => Err("not a Debezium change event: no \"after\" or \"before\" object".into()),
        }
    }

    /// The value's columns, by format; key columns may still be NULL (the key fills them).
    fn value(&self, bytes: &[u8]) -> Result<Row, String> {
        let n = self.spec.value_columns;
        match self.spec.format {
            SourceFormat::Json | SourceFormat::Avro => {
                let v = self.json_value(bytes)?;
                if n == 1 && self.desc.types[0].scalar == ScalarType::Jsonb {
                    return Ok(vec![Datum::Jsonb(v.to_string())]);
                }
                self.json_object(&v)
            }
            SourceFormat::Bytes => match self.desc.types[0].scalar {
                ScalarType::Bytea => Ok(vec![Datum::Bytes(bytes.to_vec())]),
                other => Err(format!(
                    "FORMAT BYTES fills a bytea column, not {}",
                    other.name()
                )),
            },
            SourceFormat::Text => {
                let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
                Ok(vec![self.text_datum(0, text)?])
            }
            SourceFormat::Csv { columns } => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(bytes);
                let mut fields = csv::StringRecord::new();
                match reader.read_record(&mut fields) {
                    Ok(true) => {}
                    Ok(false) => return Err("an empty CSV record".into()),
                    Err(e) => return Err(format!("invalid CSV: {e}")),
                }
                if fields.len() != columns {
                    return Err(format!(
                        "expected {columns} CSV fields, found {}",
                        fields.len()
                    ));
                }
                // An empty field is NULL, except in a text column (where it is '').
                fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| match f {
                        "" if self.desc.types[i].scalar != ScalarType::Text => Ok(Datum::Null),
                        f => self.text_datum(i, f),
                    })
                    .collect()
            }
        }
    }

    /// A JSON object's fields into the value columns of the same names (matched without
    /// regard to case, as ksqlDB does), NULL when absent.
    fn json_object(&self, v: &serde_json::Value) -> Result<Row, String> {
        let serde_json::Value::Object(fields) = v else {
            return Err("expected a JSON object".into());
        };
        (0..self.spec.value_columns)
            .map(|i| {
                let name = &self.desc.names[i];
                match field(fields, name) {
                    None | Some(serde_json::Value::Null) => Ok(Datum::Null),
                    Some(v) => json_datum(v, self.desc.types[i].scalar)
                        .map_err(|e| format!("field \"{name}\": {e}")),
                }
            })
            .collect()
    }

    fn text_datum(&self, column: usize, text: &str) -> Result<Datum, String> {
        let typ = self.desc.types[column].scalar;
        if typ == ScalarType::Text {
            return Ok(Datum::String(text.to_string()));
        }
        strconv::parse(text, typ)
            .map_err(|e| format!("column \"{}\": {e}", self.desc.names[column]))
    }

    /// Completes a value row: key columns it lacks from the record's key, NOT NULL checked,
    /// metadata columns appended.
    fn row(&self, mut row: Row, record: &Record) -> Result<Row, String> {
        if self.spec.key.iter().any(|&k| row[k].is_null()) && record.key.is_some() {
            let key = self.message_key(record)?;
            for (&k, datum) in self.spec.key.iter().zip(key) {
                if row[k].is_null() {
                    row[k] = datum;
                }
            }
        }
        for (i, datum) in row.iter().enumerate() {
            if datum.is_null() && !self.desc.types[i].nullable {
                return Err(format!(
                    "column \"{}\" is missing or null, but it is NOT NULL",
                    self.desc.names[i]
                ));
            }
        }
        row.extend(self.spec.include.iter().map(|m| metadata(*m, record)));
        Ok(row)
    }

    fn key_of(&self, row: &Row) -> Row {
        self.spec.key.iter().map(|&k| row[k].clone()).collect()
    }

    /// The key columns from the record's key: a JSON object's fields by name, or, for one key
    /// column, a JSON scalar or the key's text.
    fn message_key(&self, record: &Record) -> Result<Row, String> {
        let bytes = record
            .key
            .ok_or("the record has neither a value nor a key")?;
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(mut v) => {
                if let Some(payload) = v.get_mut("payload").map(serde_json::Value::take) {
                    v = payload;
                }
                if v.is_object() {
                    return self.key_from_json(&v);
                }
                match &self.spec.key[..] {
                    [k] => {
                        let datum = json_datum(&v, self.desc.types[*k].scalar)
                            .map_err(|e| format!("the record's key: {e}"))?;
                        Ok(vec![datum])
                    }
                    _ => Err("the record's key is not a JSON object of the key columns".into()),
                }
            }
            Err(_) => match &self.spec.key[..] {
                [k] => {
                    let text = String::from_utf8_lossy(bytes);
                    Ok(vec![self
                        .text_datum(*k, &text)
                        .map_err(|e| format!("the record's key: {e}"))?])
                }
                _ => Err("the record's key is not a JSON object of the key columns".into()),
            },
        }
    }

    fn key_from_json(&self, v: &serde_json::Value) -> Result<Row, String> {
        let serde_json::Value::Object(fields) = v else {
            return Err("expected a JSON object".into());
        };
        self.spec
            .key
            .iter()
            .map(|&k| {
                let name = &self.desc.names[k];
                match field(fields, name) {
                    None | Some(serde_json::Value::Null) => {
                        Err(format!("the key column \"{name}\" is missing"))
                    }
                    Some(v) => json_datum(v, self.desc.types[k].scalar)
                        .map_err(|e| format!("key field \"{name}\": {e}")),
                }
            })
            .collect()
    }
}

fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))
}

fn field<'a>(
    fields: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a serde_json::Value> {
    fields.get(name).or_else(|| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn json_datum(v: &serde_json::Value, typ: ScalarType) -> Result<Datum, String> {
    match (v, typ) {
        (_, ScalarType::Jsonb) => Ok(Datum::Jsonb(v.to_string())),
        (serde_json::Value::String(s), ScalarType::Text) => Ok(Datum::String(s.clone())),
        (serde_json::Value::String(s), _) => strconv::parse(s, typ).map_err(|e| e.to_string()),
        // Epoch milliseconds, as ksqlDB and Debezium write timestamps.
        (serde_json::Value::Number(n), ScalarType::Timestamp | ScalarType::TimestampTz) => {
            let ms = n
                .as_i64()
                .ok_or_else(|| format!("cannot read {n} as a timestamp"))?;
            let t = DateTime::<Utc>::from_timestamp_millis(ms)
                .ok_or_else(|| format!("timestamp {ms} is out of range"))?;
            Ok(if typ == ScalarType::Timestamp {
                Datum::Timestamp(t.naive_utc())
            } else {
                Datum::TimestampTz(t)
            })
        }
        (serde_json::Value::Number(_) | serde_json::Value::Bool(_), _) => {
            strconv::parse(&v.to_string(), typ).map_err(|e| e.to_string())
        }
        (_, ScalarType::Text) => Ok(Datum::String(v.to_string())),
        _ => Err(format!("cannot read {v} as {}", typ.name())),
    }
}

fn metadata(m: Metadata, r: &Record) -> Datum {
    match m {
        Metadata::Partition => Datum::Int32(r.partition),
        Metadata::Offset => Datum::Int64(r.offset),
        Metadata::Timestamp => r
            .timestamp
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .map_or(Datum::Null, Datum::TimestampTz),
        Metadata::Key => r.key.map_or(Datum::Null, |k| {
            Datum::String(String::from_utf8_lossy(k).into_owned())
        }),
        Metadata::Headers => {
            let headers: serde_json::Map<String, serde_json::Value> = r
                .headers
                .iter()
                .map(|(name, value)| {
                    let v = value.map_or(serde_json::Value::Null, |v| {
                        serde_json::Value::String(String::from_utf8_lossy(v).into_owned())
                    });
                    (name.to_string(), v)
                })
                .collect();
            Datum::Jsonb(serde_json::Value::Object(headers).to_string())
        }
    }
}

/// The type of a metadata column.
pub fn metadata_type(m: Metadata) -> (ScalarType, bool) {
    match m {
        Metadata::Partition => (ScalarType::Int32, false),
        Metadata::Offset => (ScalarType::Int64, false),
        Metadata::Timestamp => (ScalarType::TimestampTz, true),
        Metadata::Key => (ScalarType::Text, true),
        Metadata::Headers => (ScalarType::Jsonb, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::OnError;
    use crate::repr::ColumnType;

    fn decoder(format: SourceFormat, envelope: Envelope, key: Vec<usize>) -> Decoder {
        let desc = RelationDesc::new(
            vec![
                "id".into(),
                "stars".into(),
                "channel".into(),
                "partition".into(),
            ],
            vec![
                ColumnType::new(ScalarType::Int64, false),
                ColumnType::new(ScalarType::Int32, true),
                ColumnType::new(ScalarType::Text, true),
                ColumnType::new(ScalarType::Int32, false),
            ],
        );
        let spec = KafkaSpec {
            broker: String::new(),
            topic: "t".into(),
            format,
            avro_schema: None,
            registry: None,
            envelope,
            key,
            value_columns: 3,
            include: vec![Metadata::Partition],
            start_offsets: vec![],
            on_error: OnError::Skip,
            timestamp: None,
        };
        Decoder::new(spec, desc)
    }

    fn record<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Record<'a> {
        Record {
            key,
            value,
            partition: 2,
            ..Default::default()
        }
    }

    fn row(id: i64, stars: Option<i32>, channel: Option<&str>) -> Row {
        vec![
            Datum::Int64(id),
            stars.map_or(Datum::Null, Datum::Int32),
            channel.map_or(Datum::Null, |c| Datum::String(c.into())),
            Datum::Int32(2),
        ]
    }

    #[test]
    fn json_objects_fill_columns_by_name() {
        let d = decoder(SourceFormat::Json, Envelope::None, vec![]);
        let c = d
            .decode(&record(
                None,
                Some(br#"{"ID": 7, "stars": "3", "extra": true}"#),
            ))
            .unwrap();
        assert_eq!(c, Change::Insert(row(7, Some(3), None)));
        for (bad, why) in [
            (&br#"{"id": "x"}"#[..], "field \"id\""),
            (b"{not json", "invalid JSON"),
            (b"[1]", "expected a JSON object"),
            (br#"{"stars": 1}"#, "NOT NULL"),
        ] {
            let e = d.decode(&record(None, Some(bad))).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn csv_and_keys() {
        let d = decoder(SourceFormat::Csv { columns: 3 }, Envelope::Upsert, vec![0]);
        let c = d.decode(&record(Some(b"7"), Some(b",4,\"a, b\""))).unwrap();
        assert_eq!(
            c,
            Change::Upsert {
                key: vec![Datum::Int64(7)],
                value: Some(row(7, Some(4), Some("a, b")))
            }
        );
        let c = d.decode(&record(Some(br#"{"id": 9}"#), None)).unwrap();
        assert_eq!(
            c,
            Change::Upsert {
                key: vec![Datum::Int64(9)],
                value: None
            }
        );
        assert!(d
            .decode(&record(None, Some(b"1,2")))
            .unwrap_err()
            .contains("3 CSV"));
        assert!(d
            .decode(&record(Some(b"x"), None))
            .unwrap_err()
            .contains("key"));
    }

    #[test]
    fn debezium_events() {
        let d = decoder(SourceFormat::Json, Envelope::Debezium, vec![0]);
        let update = br#"{"schema": {}, "payload": {"before": {"id": 1, "stars": 2},
                          "after": {"id": 1, "stars": 5, "channel": "web"}, "op": "u"}}"#;
        assert_eq!(
            d.decode(&record(None, Some(update))).unwrap(),
            Change::Upsert {
                key: vec![Datum::Int64(1)],
                value: Some(row(1, Some(5), Some("web")))
            }
        );
        let delete = br#"{"before": {"id": 1}, "after": null, "op": "d"}"#;
        assert_eq!(
            d.decode(&record(None, Some(delete))).unwrap(),
            Change::Upsert {
                key: vec![Datum::Int64(1)],
                value: None
            }
        );
        assert_eq!(
            d.decode(&record(Some(b"1"), None)).unwrap(),
            Change::Nothing
        );
        assert!(d.decode(&record(None, Some(br#"{"x": 1}"#))).is_err());
    }
}
