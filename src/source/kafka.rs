//! Reading a Kafka topic. The source assigns itself every partition of the topic (no consumer
//! group: the offsets live in Runnel's log, not in the broker) and starts each at the offset the
//! log recorded, or at the beginning.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use super::decode::{Change, Decoder, Record};
use super::{Batch, Ingest, KafkaSpec, Offsets, RecordError, SharedStatus, SourceState};
use crate::parse::OnError;
use crate::repr::{GlobalId, RelationDesc, Row};

/// Records per batch at most, and how long a batch waits for more after its first record.
const BATCH_RECORDS: usize = 10_000;
const BATCH_WAIT: Duration = Duration::from_millis(20);
/// How often the topic's partitions are looked up again (partitions can be added).
const METADATA_EVERY: Duration = Duration::from_secs(5);

/// What a reader starts from.
pub struct Start {
    /// Per partition, the next offset to read (from the log).
    pub offsets: Offsets,
    /// The source's current rows (from the log): an upsert source's state.
    pub rows: Vec<Row>,
    pub status: SharedStatus,
}

/// Starts reading `spec` for source `id` (named `name` in log lines) on its own thread.
pub fn spawn(
    id: GlobalId,
    name: String,
    spec: KafkaSpec,
    desc: RelationDesc,
    start: Start,
    target: Arc<dyn Ingest>,
) {
    let thread = format!("source-{id}");
    let spawned = std::thread::Builder::new().name(thread).spawn(move || {
        let upserts = if spec.envelope == crate::parse::Envelope::None {
            HashMap::new()
        } else {
            let key = spec.key.clone();
            start
                .rows
                .into_iter()
                .map(|row| (key.iter().map(|&k| row[k].clone()).collect(), row))
                .collect()
        };
        let mut reader = Reader {
            id,
            name,
            decoder: Decoder::new(spec.clone(), desc),
            spec,
            offsets: start.offsets,
            upserts,
            status: start.status,
            halted: false,
            target,
        };
        reader.run();
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start a thread for source {id}: {e}");
    }
}

struct Reader {
    id: GlobalId,
    name: String,
    spec: KafkaSpec,
    decoder: Decoder,
    /// The next offset to read, per partition assigned.
    offsets: Offsets,
    /// For UPSERT and DEBEZIUM: the current row of each key, so a record can retract it.
    upserts: HashMap<Row, Row>,
    status: SharedStatus,
    /// Stopped at an undecodable record (ON ERROR 'halt').
    halted: bool,
    target: Arc<dyn Ingest>,
}

impl Reader {
    fn run(&mut self) {
        let mut consumer: Option<BaseConsumer> = None;
        let mut checked = Instant::now() - METADATA_EVERY;
        let mut complained = false;
        while !self.halted && self.target.exists(self.id) {
            if consumer.is_none() || checked.elapsed() >= METADATA_EVERY {
                checked = Instant::now();
                match self.connect(consumer.take()) {
                    Ok(c) => {
                        if complained {
                            tracing::info!(source = %self.name, "reading topic {} again", self.spec.topic);
                            complained = false;
                        }
                        self.set_state(SourceState::Running, None);
                        self.note_watermarks(&c);
                        consumer = Some(c)
                    }
                    Err(e) => {
                        self.set_state(SourceState::Retrying, Some(e.clone()));
                        if !complained {
                            tracing::warn!(
                                source = %self.name,
                                "cannot read topic {} from {}: {e}; retrying every {}s (is the broker up and the topic created?)",
                                self.spec.topic,
                                self.spec.broker,
                                METADATA_EVERY.as_secs()
                            );
                            complained = true;
                        }
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                }
            }
            let batch = self.read_batch(consumer.as_ref().expect("connected above"));
            for e in &batch.errors {
                tracing::warn!(
                    source = %self.name,
                    "skipped the record at topic {} partition {} offset {}: {}",
                    self.spec.topic,
                    e.partition,
                    e.offset,
                    e.reason
                );
            }
            let moved = !batch.updates.is_empty() || !batch.errors.is_empty();
            if moved && !self.target.ingest(self.id, batch) {
                break;
            }
        }
        tracing::debug!(source = %self.name, "source stopped");
    }

    fn set_state(&self, state: SourceState, error: Option<String>) {
        let mut status = self.status.lock().expect("status lock");
        status.state = state;
        if error.is_some() {
            status.last_error = error;
        }
    }

    /// Asks the broker for each partition's high watermark, for the lag `SHOW SOURCES` reports.
    fn note_watermarks(&self, consumer: &BaseConsumer) {
        let mut marks = Vec::new();
        for p in self.offsets.keys() {
            let asked = consumer.fetch_watermarks(&self.spec.topic, *p, Duration::from_secs(1));
            if let Ok((_, high)) = asked {
                if high >= 0 {
                    marks.push((*p, high));
                }
            }
        }
        self.status
            .lock()
            .expect("status lock")
            .high_watermarks
            .extend(marks);
    }

    /// Applies one record's change to `batch` (and, for upserts, to the key's current row).
    fn apply(&mut self, change: Change, batch: &mut Batch) {
        match change {
            Change::Insert(row) => batch.updates.push((row, 1)),
            Change::Upsert { key, value } => {
                let old = match &value {
                    Some(row) => self.upserts.insert(key, row.clone()),
                    None => self.upserts.remove(&key),
                };
                if old.is_some() && old == value {
                    return;
                }
                if let Some(old) = old {
                    batch.updates.push((old, -1));
                }
                if let Some(row) = value {
                    batch.updates.push((row, 1));
                }
            }
            Change::Nothing => {}
        }
    }

    /// A consumer assigned to every partition of the topic (new ones start at offset 0),
    /// reusing `existing` if the partitions are unchanged.
    fn connect(&mut self, existing: Option<BaseConsumer>) -> Result<BaseConsumer, String> {
        let consumer = match existing {
            Some(c) => c,
            None => ClientConfig::new()
                .set("bootstrap.servers", &self.spec.broker)
                .set("group.id", format!("runnel-source-{}", self.id))
                .set("enable.auto.commit", "false")
                .set("enable.auto.offset.store", "false")
                .set("enable.partition.eof", "false")
                .create::<BaseConsumer>()
                .map_err(|e| e.to_string())?,
        };
        let metadata = consumer
            .fetch_metadata(Some(&self.spec.topic), Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == self.spec.topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(format!(
                "topic {} has no partitions (does it exist?)",
                self.spec.topic
            ));
        }
        let assigned: Vec<i32> = consumer
            .assignment()
            .map(|a| a.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default();
        let mut sorted = partitions.clone();
        sorted.sort();
        if assigned != sorted {
            let mut tpl = TopicPartitionList::new();
            for p in &sorted {
                let first = usize::try_from(*p)
                    .ok()
                    .and_then(|i| self.spec.start_offsets.get(i))
                    .copied()
                    .unwrap_or(0);
                let next = *self.offsets.entry(*p).or_insert(first);
                tpl.add_partition_offset(&self.spec.topic, *p, Offset::Offset(next))
                    .map_err(|e| e.to_string())?;
            }
            consumer.assign(&tpl).map_err(|e| e.to_string())?;
        }
        Ok(consumer)
    }

    /// Reads what is there: up to BATCH_RECORDS, waiting at most BATCH_WAIT after the first.
    fn read_batch(&mut self, consumer: &BaseConsumer) -> Batch {
        let mut batch = Batch::default();
        let mut first: Option<Instant> = None;
        let mut read = 0;
        while read < BATCH_RECORDS {
            let wait = match first {
                None => Duration::from_millis(100),
                Some(t) => match BATCH_WAIT.checked_sub(t.elapsed()) {
                    Some(left) => left,
                    None => break,
                },
            };
            let Some(polled) = consumer.poll(wait) else {
                if first.is_some() {
                    break;
                }
                return batch;
            };
            let message = match polled {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(source = %self.name, "Kafka: {e}");
                    break;
                }
            };
            first.get_or_insert_with(Instant::now);
            read += 1;
            let (partition, offset) = (message.partition(), message.offset());
            // A record at or past the recorded offset only: after a reassignment the broker
            // may hand back records already ingested.
            if offset < self.offsets.get(&partition).copied().unwrap_or(0) {
                continue;
            }
            let headers = message
                .headers()
                .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
                .unwrap_or_default();
            let record = Record {
                key: message.key(),
                value: message.payload(),
                partition,
                offset,
                timestamp: message.timestamp().to_millis(),
                headers,
            };
            let decoded = self.decoder.decode(&record);
            {
                let mut status = self.status.lock().expect("status lock");
                status.records += 1;
                status.bytes += message.payload_len() as u64;
                if let Err(reason) = &decoded {
                    status.last_error =
                        Some(format!("partition {partition} offset {offset}: {reason}"));
                }
            }
            match decoded {
                Ok(change) => {
                    self.offsets.insert(partition, offset + 1);
                    self.apply(change, &mut batch);
                }
                Err(reason) => {
                    batch.errors.push(RecordError {
                        partition,
                        offset,
                        reason,
                    });
                    if self.spec.on_error == OnError::Halt {
                        // Not past it: a restart stops here again.
                        self.offsets.insert(partition, offset);
                        self.halted = true;
                        self.set_state(SourceState::Halted, None);
                        tracing::error!(
                            source = %self.name,
                            "halted at an undecodable record (topic {} partition {partition} offset {offset}); the source was created with ON ERROR 'halt': drop and recreate it to read on",
                            self.spec.topic
                        );
                        break;
                    }
                    self.offsets.insert(partition, offset + 1);
                }
            }
        }
        batch.offsets = self.offsets.clone();
        batch
    }
}
