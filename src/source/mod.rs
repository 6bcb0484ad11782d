//! Sources: relations fed from outside (Kafka topics), whose records become rows in the log.
//!
//! A source reads on its own thread and hands the coordinator batches of decoded rows together
//! with the offsets they advance to. The coordinator logs both in one record, so after a crash a
//! source resumes exactly after the last batch the log holds: nothing lost, nothing twice.

pub mod decode;
pub mod kafka;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::SourceFormat;
use crate::repr::{GlobalId, Row};

/// Where a Kafka source reads from and how its records are decoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KafkaSpec {
    pub broker: String,
    pub topic: String,
    pub format: SourceFormat,
}

/// Per partition, the offset of the next record to read.
pub type Offsets = BTreeMap<i32, i64>;

/// Decoded records and the offsets reading them advanced to.
#[derive(Debug, Default)]
pub struct Batch {
    pub rows: Vec<Row>,
    pub offsets: Offsets,
    /// Records that could not be decoded (skipped; the source keeps running).
    pub errors: Vec<RecordError>,
}

/// A record that could not be decoded, and where it is.
#[derive(Debug, Clone)]
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
