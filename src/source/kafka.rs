//! Reading a Kafka topic. The source assigns itself every partition of the topic (no consumer
//! group: the offsets live in Runnel's log, not in the broker) and starts each at the offset the
//! log recorded, or at the beginning.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use super::{decode::decode, Batch, Ingest, KafkaSpec, Offsets, RecordError};
use crate::repr::{GlobalId, RelationDesc};

/// Records per batch at most, and how long a batch waits for more after its first record.
const BATCH_RECORDS: usize = 10_000;
const BATCH_WAIT: Duration = Duration::from_millis(20);
/// How often the topic's partitions are looked up again (partitions can be added).
const METADATA_EVERY: Duration = Duration::from_secs(5);

/// Starts reading `spec` for source `id` (named `name` in log lines) on its own thread.
pub fn spawn(
    id: GlobalId,
    name: String,
    spec: KafkaSpec,
    desc: RelationDesc,
    start: Offsets,
    target: Arc<dyn Ingest>,
) {
    let thread = format!("source-{id}");
    let spawned = std::thread::Builder::new().name(thread).spawn(move || {
        let mut reader = Reader {
            id,
            name,
            spec,
            desc,
            offsets: start,
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
    desc: RelationDesc,
    /// The next offset to read, per partition assigned.
    offsets: Offsets,
    target: Arc<dyn Ingest>,
}

impl Reader {
    fn run(&mut self) {
        let mut consumer: Option<BaseConsumer> = None;
        let mut checked = Instant::now() - METADATA_EVERY;
        let mut complained = false;
        while self.target.exists(self.id) {
            if consumer.is_none() || checked.elapsed() >= METADATA_EVERY {
                checked = Instant::now();
                match self.connect(consumer.take()) {
                    Ok(c) => {
                        if complained {
                            tracing::info!(source = %self.name, "reading topic {} again", self.spec.topic);
                            complained = false;
                        }
                        consumer = Some(c)
                    }
                    Err(e) => {
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
            if (!batch.rows.is_empty() || !batch.errors.is_empty())
                && !self.target.ingest(self.id, batch)
            {
                break;
            }
        }
        tracing::debug!(source = %self.name, "source stopped");
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
                let next = *self.offsets.entry(*p).or_insert(0);
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
            self.offsets.insert(partition, offset + 1);
            match decode(self.spec.format, &self.desc, message.payload()) {
                Ok(row) => batch.rows.push(row),
                Err(reason) => batch.errors.push(RecordError {
                    partition,
                    offset,
                    reason,
                }),
            }
        }
        batch.offsets = self.offsets.clone();
        batch
    }
}
