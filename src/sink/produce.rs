//! `runnel produce`: a load generator's events written to Kafka topics, one per output, so the
//! demo can run through a broker. Ratings, authorizations and syslog lines are JSON objects;
//! customers are Debezium change events (or upserts: the row, and a tombstone on delete), keyed
//! by id. The data is the seed's, as a `LOAD GENERATOR` source with the same options makes it.
//!
//! Each step's changes are written and acknowledged before the next; a producer started again
//! starts again from event 0 (the topics are not read back).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::producer::FutureProducer;
use rdkafka::ClientConfig;

use super::encode::Encoder;
use crate::ir::eval::consolidate;
use crate::parse::SinkEnvelope;
use crate::source::generator::{now_ms, Feed, Generation, GeneratorSpec, Output};

pub struct Produce {
    pub broker: String,
    pub spec: GeneratorSpec,
    /// How customer changes are written: `Debezium` or `Upsert`.
    pub customers_envelope: SinkEnvelope,
    /// Put before each output's name to make its topic's.
    pub topic_prefix: String,
}

impl Produce {
    pub fn topic(&self, output: Output) -> String {
        format!("{}{}", self.topic_prefix, output.name())
    }

    /// Writes events until the generator is finished (`UP TO`), or forever; returns how many
    /// records were written.
    pub fn run(&self) -> Result<u64, String> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.broker);
        let outputs = self.spec.outputs();
        let topics: Vec<String> = outputs.iter().map(|o| self.topic(*o)).collect();
        super::kafka::create_topics(
            &config,
            &topics.iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
        let producer: FutureProducer = config
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(|e| e.to_string())?;
        let encoders: BTreeMap<Output, Encoder> = outputs
            .iter()
            .map(|o| {
                let envelope = if *o == Output::Customers {
                    self.customers_envelope
                } else {
                    SinkEnvelope::Upsert
                };
                let key = if *o == Output::Syslog {
                    vec![]
                } else {
                    vec![0]
                };
                let encoder = Encoder {
                    desc: o.desc(),
                    key,
                    envelope,
                    avro: None,
                };
                (*o, encoder)
            })
            .collect();
        let feeds = outputs
            .iter()
            .map(|o| Feed {
                output: *o,
                emitted: 0,
                rows: vec![],
            })
            .collect();
        let mut generation = Generation::new(self.spec.clone(), feeds);
        let (mut written, mut reported) = (0u64, Instant::now());
        while !generation.finished() {
            for changes in generation.step(now_ms()) {
                let topic = self.topic(changes.output);
                // The net change of each row: a customer inserted and deleted within one step
                // is not written at all.
                let records = encoders[&changes.output].encode(consolidate(changes.updates))?;
                super::kafka::write_records(&producer, &topic, &records, None)
                    .map_err(|e| format!("cannot write to topic {topic}: {e}"))?;
                written += records.len() as u64;
                generation.commit(changes.output, changes.to);
            }
            if reported.elapsed() >= Duration::from_secs(5) {
                reported = Instant::now();
                let counts: Vec<String> = outputs
                    .iter()
                    .map(|o| format!("{} {}", self.topic(*o), generation.emitted(*o)))
                    .collect();
                tracing::info!("produced {written} records ({})", counts.join(", "));
            }
            std::thread::sleep(generation.wait(now_ms()));
        }
        Ok(written)
    }
}
