//! Sinks: every change of a relation written to a Kafka topic, grouped by time, each completed
//! time followed by a progress record, so a restarted sink resumes right after the last
//! completed time: no gap, and no completed time written twice.

pub mod avro;
pub mod encode;
pub mod kafka;
pub mod produce;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::coord::Subscription;
use crate::parse::{SinkEnvelope, SinkFormat};
use crate::repr::{GlobalId, Timestamp};

/// Where a sink writes and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KafkaSinkSpec {
    pub broker: String,
    pub topic: String,
    /// The key columns' positions; empty means the whole row is the key.
    pub key: Vec<usize>,
    pub envelope: SinkEnvelope,
    pub format: SinkFormat,
}

impl KafkaSinkSpec {
    /// The topic of progress records: `{"complete_through": t}` keyed by the sink.
    pub fn progress_topic(&self) -> String {
        format!("{}-progress", self.topic)
    }
}

#[derive(Debug, Clone, Default)]
pub struct SinkStatus {
    pub state: &'static str,
    /// Data records written since the server started.
    pub records: u64,
    /// Every time up to this one is written (and its progress record with it).
    pub complete_through: Option<Timestamp>,
    pub last_error: Option<String>,
}

pub type SharedSinkStatus = Arc<Mutex<SinkStatus>>;

/// Where a resumed sink picks up.
pub enum Resume {
    /// From the start: the relation's current contents, then every change.
    Snapshot,
    /// Every change after this time (the last one the topic's progress records complete).
    After(Timestamp),
}

/// What a sink needs from the coordinator.
pub trait SinkHost: Send + Sync + 'static {
    /// A subscription to the sink's relation; `Err` says why it cannot resume where asked.
    fn subscribe_sink(self: Arc<Self>, id: GlobalId, from: &Resume)
        -> Result<Subscription, String>;
    /// Whether the sink still exists.
    fn sink_exists(&self, id: GlobalId) -> bool;
}
