//! Writing a sink's changes to Kafka. Each completed time's records are written and
//! acknowledged by the broker, then a progress record saying the topic is complete through that
//! time; on start the sink reads its last progress record and resumes after it.
//!
//! What a consumer can rely on: records of one time are contiguous and in key order; once a
//! progress record `{"complete_through": t}` is in the progress topic, every change at times up
//! to `t` is in the data topic, exactly once. After a crash, records written after the last
//! progress record (an incomplete time) may be written again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use super::encode::{Encoder, Record};
use super::{KafkaSinkSpec, Resume, SharedSinkStatus, SinkHost};
use crate::repr::{GlobalId, RelationDesc, Timestamp};

/// How long a quiet sink waits before recording progress anyway, so that a restart can resume
/// from a time still inside the retention window.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
const RETRY_EVERY: Duration = Duration::from_secs(2);

pub fn spawn(
    id: GlobalId,
    name: String,
    spec: KafkaSinkSpec,
    desc: RelationDesc,
    status: SharedSinkStatus,
    host: Arc<dyn SinkHost>,
) {
    let spawned = std::thread::Builder::new()
        .name(format!("sink-{id}"))
        .spawn(move || {
            let avro = (spec.format == crate::parse::SinkFormat::Avro)
                .then(|| super::avro::AvroSchemas::new(&desc, &spec.key, spec.envelope));
            let encoder = Encoder {
                desc,
                key: spec.key.clone(),
                envelope: spec.envelope,
                avro,
            };
            let sink = Sink {
                id,
                progress_key: format!("{name}/{id}"),
                name,
                spec,
                encoder,
                status,
                host,
            };
            sink.run();
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start a thread for sink {id}: {e}");
    }
}

struct Sink {
    id: GlobalId,
    name: String,
    /// The key of this sink's progress records (several sinks may share a progress topic).
    progress_key: String,
    spec: KafkaSinkSpec,
    encoder: Encoder,
    status: SharedSinkStatus,
    host: Arc<dyn SinkHost>,
}

impl Sink {
    fn run(&self) {
        let mut complained = false;
        while self.host.sink_exists(self.id) {
            match self.write_until_stopped() {
                Ok(()) => break,
                Err(e) => {
                    self.set(|s| {
                        s.state = "retrying";
                        s.last_error = Some(e.clone());
                    });
                    if !complained {
                        tracing::warn!(sink = %self.name, "sink to topic {} at {}: {e}; retrying every {}s", self.spec.topic, self.spec.broker, RETRY_EVERY.as_secs());
                        complained = true;
                    }
                    std::thread::sleep(RETRY_EVERY);
                }
            }
        }
        tracing::debug!(sink = %self.name, "sink stopped");
    }

    fn set(&self, f: impl FnOnce(&mut super::SinkStatus)) {
        f(&mut self.status.lock().expect("sink status lock"))
    }

    /// Resumes and writes until the sink is dropped (`Ok`) or something fails (`Err`, retried
    /// from the last progress record).
    fn write_until_stopped(&self) -> Result<(), String> {
        let config = {
            let mut c = ClientConfig::new();
            c.set("bootstrap.servers", &self.spec.broker);
            c
        };
        self.create_topics(&config)?;
        let resume = match self.last_progress(&config)? {
            Some(t) => Resume::After(t),
            None => Resume::Snapshot,
        };
        let mut subscription = match Arc::clone(&self.host).subscribe_sink(self.id, &resume) {
            Ok(s) => s,
            Err(e) => {
                // The time the topic is complete through is older than the retention window:
                // write the current contents again (an upsert topic's consumers converge).
                tracing::warn!(sink = %self.name, "cannot resume after the last progress record ({e}); writing the current contents again");
                Arc::clone(&self.host)
                    .subscribe_sink(self.id, &Resume::Snapshot)
                    .map_err(|e| format!("cannot read the relation: {e}"))?
            }
        };
        match resume {
            Resume::After(t) => tracing::info!(
                "sink {} resumes after time {t}, the last its topic is complete through",
                self.name
            ),
            Resume::Snapshot => tracing::info!(
                "sink {} starts with its relation's current contents (no progress recorded)",
                self.name
            ),
        }
        let producer: FutureProducer = config
            .clone()
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(|e| e.to_string())?;
        self.set(|s| {
            s.state = "running";
            s.last_error = None;
        });
        let mut pending: std::collections::BTreeMap<Timestamp, Vec<_>> = Default::default();
        let mut last_progress = Instant::now();
        let mut unrecorded = false;
        let mut checked = Instant::now();
        loop {
            let batch = match subscription.try_next() {
                Some(Ok(batch)) => batch,
                Some(Err(e)) => {
                    self.set(|s| {
                        s.state = "failed";
                        s.last_error = Some(e.message.clone());
                    });
                    tracing::error!(sink = %self.name, "the sink's relation cannot be computed: {}; the sink stops (drop and recreate it)", e.message);
                    return Ok(());
                }
                None => {
                    if checked.elapsed() > Duration::from_secs(1) {
                        checked = Instant::now();
                        if !self.host.sink_exists(self.id) {
                            return Ok(());
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            if batch.upper == Timestamp::MAX {
                return Ok(());
            }
            for (t, row, diff) in batch.updates {
                pending.entry(t).or_default().push((row, diff));
            }
            // Every time before `upper` is complete: write them in order.
            let ready: Vec<Timestamp> = pending.range(..batch.upper).map(|(t, _)| *t).collect();
            for t in ready {
                let updates = pending.remove(&t).unwrap_or_default();
                let records = match self.encoder.encode(updates) {
                    Ok(records) => records,
                    Err(e) => {
                        self.set(|s| {
                            s.state = "failed";
                            s.last_error = Some(e.clone());
                        });
                        tracing::error!(sink = %self.name, "{e} at time {t}; the sink stops (drop and recreate it)");
                        return Ok(());
                    }
                };
                let n = records.len() as u64;
                write_records(&producer, &self.spec.topic, &records, Some(t as i64))?;
                self.set(|s| s.records += n);
                unrecorded = true;
            }
            if unrecorded || last_progress.elapsed() >= PROGRESS_EVERY {
                let through = batch.upper - 1;
                let value = serde_json::json!({ "complete_through": through }).to_string();
                let progress_topic = self.spec.progress_topic();
                let record = FutureRecord::to(&progress_topic)
                    .key(&self.progress_key)
                    .payload(&value);
                let delivery = producer
                    .send_result(record)
                    .map_err(|(e, _)| e.to_string())?;
                futures::executor::block_on(delivery)
                    .map_err(|_| "the producer went away".to_string())?
                    .map_err(|(e, _)| e.to_string())?;
                self.set(|s| s.complete_through = Some(through));
                unrecorded = false;
                last_progress = Instant::now();
            }
        }
    }

    /// The data topic and the progress topic, created if missing.
    fn create_topics(&self, config: &ClientConfig) -> Result<(), String> {
        create_topics(config, &[&self.spec.topic, &self.spec.progress_topic()])
    }

    /// The time this sink's last progress record says the topic is complete through.
    fn last_progress(&self, config: &ClientConfig) -> Result<Option<Timestamp>, String> {
        let topic = self.spec.progress_topic();
        let consumer: BaseConsumer = config
            .clone()
            .set("group.id", format!("runnel-sink-{}", self.id))
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| e.to_string())?;
        // Progress records are written one at a time, each acknowledged before the next, so
        // the high watermark is exact even on brokers that misreport it for batches.
        let (_, high) = consumer
            .fetch_watermarks(&topic, 0, Duration::from_secs(10))
            .map_err(|e| format!("cannot read topic {topic}: {e}"))?;
        if high <= 0 {
            return Ok(None);
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning)
            .map_err(|e| e.to_string())?;
        consumer.assign(&tpl).map_err(|e| e.to_string())?;
        let mut last = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if Instant::now() > deadline {
                return Err(format!("timed out reading topic {topic}"));
            }
            let Some(m) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let m = m.map_err(|e| e.to_string())?;
            if m.key() == Some(self.progress_key.as_bytes()) {
                let value: Option<serde_json::Value> =
                    m.payload().and_then(|p| serde_json::from_slice(p).ok());
                if let Some(t) = value.and_then(|v| v.get("complete_through")?.as_u64()) {
                    last = Some(t);
                }
            }
            if m.offset() + 1 >= high {
                return Ok(last);
            }
        }
    }
}

/// Creates the topics that do not exist yet (one partition each).
pub(super) fn create_topics(config: &ClientConfig, names: &[&str]) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = config.create().map_err(|e| e.to_string())?;
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|n| NewTopic::new(n, 1, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = futures::executor::block_on(admin.create_topics(&topics, &options))
        .map_err(|e| e.to_string())?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, e)) => return Err(format!("cannot create topic {topic}: {e}")),
        }
    }
    Ok(())
}

/// Writes `records` to `topic` (with the record timestamp given, if any) and waits until the
/// broker has acknowledged every one.
pub(super) fn write_records(
    producer: &FutureProducer,
    topic: &str,
    records: &[Record],
    timestamp: Option<i64>,
) -> Result<(), String> {
    let deliveries: Vec<_> = records
        .iter()
        .map(|r| {
            let mut record = FutureRecord::<[u8], [u8]>::to(topic).key(&r.key);
            if let Some(t) = timestamp {
                record = record.timestamp(t);
            }
            if let Some(v) = &r.value {
                record = record.payload(v);
            }
            producer.send_result(record).map_err(|(e, _)| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    for d in deliveries {
        futures::executor::block_on(d)
            .map_err(|_| "the producer went away".to_string())?
            .map_err(|(e, _)| e.to_string())?;
    }
    Ok(())
}
