//! `SHOW SOURCES` (each source with its state, counts, lag and last error) and `SHOW SOURCE
//! ERRORS [FROM name]` (the latest undecodable records, where they are and why).

use std::collections::VecDeque;

use super::{Session, State};
use crate::catalog::ItemKind;
use crate::error::SqlError;
use crate::parse::{Envelope, SourceFormat};
use crate::repr::{ColumnType, Datum, RelationDesc, Row, ScalarType};
use crate::source::generator::Output;
use crate::source::{RecordError, SourceSpec, ERRORS_KEPT};

/// A source's undecodable records: how many the log records, and the latest of them.
#[derive(Debug, Default)]
pub struct SourceErrors {
    pub count: u64,
    pub latest: VecDeque<RecordError>,
}

impl SourceErrors {
    pub fn add(&mut self, errors: Vec<RecordError>) {
        self.count += errors.len() as u64;
        self.latest.extend(errors);
        while self.latest.len() > ERRORS_KEPT {
            self.latest.pop_front();
        }
    }
}

fn columns(spec: &[(&str, ScalarType, bool)]) -> RelationDesc {
    RelationDesc::new(
        spec.iter().map(|(n, ..)| n.to_string()).collect(),
        spec.iter()
            .map(|(_, t, nullable)| ColumnType::new(*t, *nullable))
            .collect(),
    )
}

pub fn desc() -> RelationDesc {
    use ScalarType::*;
    columns(&[
        ("name", Text, false),
        ("type", Text, false),
        ("topic", Text, false),
        ("format", Text, false),
        ("envelope", Text, false),
        ("state", Text, false),
        ("records", Int64, false),
        ("bytes", Int64, false),
        ("errors", Int64, false),
        ("lag", Int64, true),
        ("last_error", Text, true),
    ])
}

pub fn errors_desc() -> RelationDesc {
    use ScalarType::*;
    columns(&[
        ("source", Text, false),
        ("topic", Text, false),
        ("partition", Int32, false),
        ("offset", Int64, false),
        ("reason", Text, false),
    ])
}

fn text(s: impl Into<String>) -> Datum {
    Datum::String(s.into())
}

/// `SHOW SOURCES`: the current database's sources. `records` and `bytes` count what was read
/// since the server started (a load generator: the events the log holds); `errors` counts the
/// undecodable records the log holds; `lag` is how far the log's offsets are behind the
/// broker's high watermarks, when the broker said. A generator's `topic` is its kind.
pub fn show(st: &State, session: &Session) -> Vec<Row> {
    let schemas = session.search_path();
    st.catalog
        .items()
        .filter(|i| i.name.database == session.database && schemas.contains(&i.name.schema))
        .filter_map(|i| match &i.kind {
            ItemKind::Source(spec) => Some((i, spec)),
            _ => None,
        })
        .map(|(item, spec)| {
            let status = st
                .source_status
                .get(&item.id)
                .map(|s| s.lock().expect("status lock").clone())
                .unwrap_or_default();
            let offsets = st.source_offsets.get(&item.id);
            let errors = st.source_errors.get(&item.id).map_or(0, |e| e.count);
            let (kind, topic, format, envelope, records) = match spec {
                SourceSpec::Kafka(k) => (
                    "kafka",
                    k.topic.clone(),
                    match k.format {
                        SourceFormat::Json => "json".to_string(),
                        SourceFormat::Text => "text".to_string(),
                        SourceFormat::Bytes => "bytes".to_string(),
                        SourceFormat::Avro => "avro".to_string(),
                        SourceFormat::Csv { columns } => format!("csv ({columns} columns)"),
                    },
                    match k.envelope {
                        Envelope::None => "none",
                        Envelope::Upsert => "upsert",
                        Envelope::Debezium => "debezium",
                    },
                    status.records,
                ),
                SourceSpec::Generator { spec, output } => (
                    "load generator",
                    format!("{} ({})", spec.generator.name(), output.name()),
                    "generated".to_string(),
                    match output {
                        Output::Customers | Output::Progress => "upsert",
                        _ => "none",
                    },
                    offsets.and_then(|o| o.get(&0)).copied().unwrap_or(0) as u64,
                ),
            };
            let lag = (!status.high_watermarks.is_empty()).then(|| {
                status
                    .high_watermarks
                    .iter()
                    .map(|(p, high)| {
                        let next = offsets.and_then(|o| o.get(p)).copied().unwrap_or(0);
                        (high - next).max(0)
                    })
                    .sum::<i64>()
            });
            vec![
                text(&item.name.item),
                text(kind),
                text(topic),
                text(format),
                text(envelope),
                text(status.state.name()),
                Datum::Int64(records as i64),
                Datum::Int64(status.bytes as i64),
                Datum::Int64(errors as i64),
                lag.map_or(Datum::Null, Datum::Int64),
                status.last_error.map_or(Datum::Null, text),
            ]
        })
        .collect()
}

pub fn partitions_desc() -> RelationDesc {
    use ScalarType::*;
    columns(&[
        ("source", Text, false),
        ("topic", Text, false),
        ("partition", Int32, false),
        ("next_offset", Int64, false),
        ("high_watermark", Int64, true),
        ("lag", Int64, true),
    ])
}

/// `runnel_catalog.source_partitions`: per Kafka source and partition, the next offset the log
/// holds, the broker's high watermark when it said, and the lag between them.
pub fn show_partitions(st: &State, session: &Session) -> Vec<Row> {
    let schemas = session.search_path();
    let mut rows = vec![];
    for item in st.catalog.items() {
        let ItemKind::Source(SourceSpec::Kafka(spec)) = &item.kind else {
            continue;
        };
        if item.name.database != session.database || !schemas.contains(&item.name.schema) {
            continue;
        }
        let highs = st
            .source_status
            .get(&item.id)
            .map(|s| s.lock().expect("status lock").high_watermarks.clone())
            .unwrap_or_default();
        let offsets = st.source_offsets.get(&item.id);
        let mut partitions: Vec<i32> = highs.keys().copied().collect();
        partitions.extend(offsets.into_iter().flat_map(|o| o.keys().copied()));
        partitions.sort_unstable();
        partitions.dedup();
        for p in partitions {
            let next = offsets.and_then(|o| o.get(&p)).copied().unwrap_or(0);
            let high = highs.get(&p).copied();
            rows.push(vec![
                text(&item.name.item),
                text(&spec.topic),
                Datum::Int32(p),
                Datum::Int64(next),
                high.map_or(Datum::Null, Datum::Int64),
                high.map_or(Datum::Null, |h| Datum::Int64((h - next).max(0))),
            ]);
        }
    }
    rows
}

/// `SHOW SOURCE ERRORS [FROM name]`: the latest undecodable records of the current database's
/// sources (or of one).
pub fn show_errors(
    st: &State,
    session: &Session,
    from: Option<&[String]>,
) -> Result<Vec<Row>, SqlError> {
    let schemas = session.search_path();
    let only = match from {
        Some(parts) => {
            let item = st.catalog.resolve(parts, &session.database, &schemas)?;
            if !matches!(item.kind, ItemKind::Source(_)) {
                return Err(SqlError::new(
                    "42809",
                    format!("\"{}\" is not a source", item.name.item),
                ));
            }
            Some(item.id)
        }
        None => None,
    };
    let mut rows = vec![];
    for item in st.catalog.items() {
        let ItemKind::Source(SourceSpec::Kafka(spec)) = &item.kind else {
            continue;
        };
        let visible = item.name.database == session.database && schemas.contains(&item.name.schema);
        if !visible || only.is_some_and(|id| id != item.id) {
            continue;
        }
        for e in st
            .source_errors
            .get(&item.id)
            .map(|e| &e.latest)
            .into_iter()
            .flatten()
        {
            rows.push(vec![
                text(&item.name.item),
                text(&spec.topic),
                Datum::Int32(e.partition),
                Datum::Int64(e.offset),
                text(&e.reason),
            ]);
        }
    }
    Ok(rows)
}
