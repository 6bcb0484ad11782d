//! Sources: relations fed from outside (Kafka topics), whose records become rows in the log.
//!
//! A source reads on its own thread and hands the coordinator batches of decoded rows together
//! with the offsets they advance to. The coordinator logs both in one record, so after a crash a
//! source resumes exactly after the last batch the log holds: nothing lost, nothing twice.

pub mod avro;
pub mod decode;
pub mod generator;
pub mod kafka;
pub mod registry;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::parse::{Envelope, Metadata, OnError, SourceFormat};
use crate::repr::{Diff, GlobalId, Row};

/// Where a Kafka source reads from and how its records become changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KafkaSpec {
    pub broker: String,
    pub topic: String,
    pub format: SourceFormat,
    /// The writer's schema, for `FORMAT AVRO` (the reader's, with a registry).
    pub avro_schema: Option<String>,
    /// The Confluent schema registry that writers' schemas are fetched from by id.
    pub registry: Option<String>,
    pub envelope: Envelope,
    /// The key columns' positions: what an upsert replaces by.
    pub key: Vec<usize>,
    /// How many leading columns the record's value fills; the metadata columns follow.
    pub value_columns: usize,
    pub include: Vec<Metadata>,
    /// Per partition, where to start when the log holds no offsets for it.
    pub start_offsets: Vec<i64>,
    pub on_error: OnError,
    /// The event-time column's position, if one was named.
    pub timestamp: Option<usize>,
}

/// What feeds a source.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    Kafka(KafkaSpec),
    /// One relation of a load generator. The generator runs for the item that depends on no
    /// other: the progress relation of one with several outputs, or its only output.
    Generator {
        spec: generator::GeneratorSpec,
        output: generator::Output,
    },
}

/// What a running source reports about itself (shared between its reader and `SHOW SOURCES`).
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub state: SourceState,
    /// Records and value bytes read since the server started.
    pub records: u64,
    pub bytes: u64,
    /// Why the source is retrying or halted, or the latest undecodable record.
    pub last_error: Option<String>,
    /// Per partition, the broker's high watermark when last asked.
    pub high_watermarks: BTreeMap<i32, i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceState {
    #[default]
    Starting,
    Running,
    /// The broker or topic cannot be reached; the reader retries.
    Retrying,
    /// Stopped at an undecodable record (ON ERROR 'halt').
    Halted,
    /// A load generator that has emitted all its events (`UP TO`).
    Finished,
}

impl SourceState {
    pub fn name(self) -> &'static str {
        match self {
            SourceState::Starting => "starting",
            SourceState::Running => "running",
            SourceState::Retrying => "retrying",
            SourceState::Halted => "halted",
            SourceState::Finished => "finished",
        }
    }
}

pub type SharedStatus = Arc<Mutex<Status>>;

/// How many of a source's latest undecodable records are kept (in memory and through
/// compaction) for `SHOW SOURCE ERRORS`.
pub const ERRORS_KEPT: usize = 100;

/// Per partition, the offset of the next record to read.
pub type Offsets = BTreeMap<i32, i64>;

/// The changes records made and the offsets reading them advanced to.
#[derive(Debug, Default)]
pub struct Batch {
    pub updates: Vec<(Row, Diff)>,
    pub offsets: Offsets,
    /// Records that could not be decoded (skipped; the source keeps running).
    pub errors: Vec<RecordError>,
}

/// A record that could not be decoded, and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordError {
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
}

/// What a running source delivers to (the coordinator).
pub trait Ingest: Send + Sync + 'static {
    /// Makes `batch` durable and visible; returns false once the source no longer exists (it
    /// was dropped), which stops it.
    fn ingest(&self, id: GlobalId, batch: Batch) -> bool;
    /// Whether the source still exists.
    fn exists(&self, id: GlobalId) -> bool;
}
