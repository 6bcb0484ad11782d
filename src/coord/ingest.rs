//! Sources in the coordinator: creating one, starting the readers (after start-up replay too,
//! from the offsets and contents the log holds), and taking in what they read.

use std::sync::{Arc, Mutex};

use super::{exists, Coordinator, Response, Session, State};
use crate::catalog::{CatalogItem, ItemKind, QualifiedName};
use crate::error::SqlError;
use crate::parse::CreateSource;
use crate::repr::{GlobalId, RelationDesc};
use crate::source::{kafka, Batch, Ingest, KafkaSpec, SourceSpec};
use crate::storage::{LogRecord, SourceProgress};

impl Coordinator {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn create_source(
        self: &Arc<Self>,
        st: &mut State,
        session: &Session,
        name: QualifiedName,
        desc: RelationDesc,
        if_not_exists: bool,
        mut kafka: KafkaSpec,
        mut statement: CreateSource,
    ) -> Result<Response, SqlError> {
        if st.catalog.lookup(&name).is_some() {
            return exists(&name.item, if_not_exists, "CREATE SOURCE");
        }
        if kafka.broker.is_empty() {
            kafka.broker = self.kafka_broker.clone().ok_or_else(|| {
                SqlError::new(
                    "22023",
                    format!(
                        "no Kafka broker for source \"{}\": name one (BROKER = 'host:port' in the WITH clause) or start the server with --kafka-broker",
                        name.item
                    ),
                )
            })?;
            statement.broker = Some(kafka.broker.clone());
        }
        let create_sql = statement.to_sql();
        let id = st.catalog.allocate_id();
        self.log_create(st, session, id, &create_sql);
        let retain = self.retain_history;
        st.catalog.insert(CatalogItem {
            id,
            name,
            desc,
            event_time: kafka.timestamp,
            close_defaults: Default::default(),
            // Records only ever add rows: a stream.
            append_only: kafka.envelope == crate::parse::Envelope::None,
            defaults: vec![],
            kind: ItemKind::Source(SourceSpec::Kafka(kafka)),
            depends_on: vec![],
            create_sql,
            retain_history: retain,
            created_at: st.write_ts,
        });
        self.install_relation(st, id, retain);
        if !st.replaying {
            self.start_source(st, id);
        }
        Ok(Response::Tag("CREATE SOURCE".into()))
    }

    /// Starts every source's reader (once the log has been replayed).
    pub(super) fn start_sources(self: &Arc<Self>) {
        let mut st = self.lock();
        let sources: Vec<GlobalId> = st
            .catalog
            .items()
            // A load generator's outputs other than its owner depend on the owner.
            .filter(|i| matches!(i.kind, ItemKind::Source(_)) && i.depends_on.is_empty())
            .map(|i| i.id)
            .collect();
        for id in sources {
            self.start_source(&mut st, id);
        }
    }

    pub(super) fn start_source(self: &Arc<Self>, st: &mut State, id: GlobalId) {
        let Some(item) = st.catalog.get(id) else {
            return;
        };
        let spec = match &item.kind {
            ItemKind::Source(SourceSpec::Kafka(spec)) => spec,
            ItemKind::Source(SourceSpec::Generator { .. }) => return self.start_generator(st, id),
            _ => return,
        };
        let offsets = st.source_offsets.get(&id).cloned().unwrap_or_default();
        tracing::info!(
            "source {} reads topic {} from {} at offsets {:?} (partition: next offset)",
            item.name,
            spec.topic,
            spec.broker,
            offsets
        );
        // An upsert source's reader keeps each key's row, to retract it when the key changes.
        let rows = if spec.envelope == crate::parse::Envelope::None {
            vec![]
        } else {
            st.tables.rows(id)
        };
        let status = Arc::new(Mutex::new(Default::default()));
        let (name, spec, desc) = (item.name.to_string(), spec.clone(), item.desc.clone());
        st.source_status.insert(id, Arc::clone(&status));
        kafka::spawn(
            id,
            name,
            spec,
            desc,
            kafka::Start {
                offsets,
                rows,
                status,
            },
            Arc::clone(self) as Arc<dyn Ingest>,
        );
    }
}

impl Ingest for Coordinator {
    fn ingest(&self, id: GlobalId, batch: Batch) -> bool {
        let durable = {
            let mut st = self.lock();
            if st.catalog.get(id).is_none() {
                return false;
            }
            let time = st.next_write_time();
            let stream = st.catalog.is_stream(id);
            // A stream's rows are kept only in the log; a table's are applied here too.
            let record = if stream {
                LogRecord::Append {
                    time,
                    table: id,
                    progress: Some(SourceProgress {
                        offsets: batch.offsets,
                        errors: batch.errors,
                    }),
                    updates: batch.updates,
                }
            } else {
                LogRecord::Ingest {
                    time,
                    source: id,
                    updates: batch.updates,
                    offsets: batch.offsets,
                    errors: batch.errors,
                }
            };
            let payload = record.encode();
            let (LogRecord::Append {
                updates,
                progress: Some(SourceProgress { offsets, errors }),
                ..
            }
            | LogRecord::Ingest {
                updates,
                offsets,
                errors,
                ..
            }) = record
            else {
                unreachable!("built above")
            };
            st.source_offsets.insert(id, offsets);
            st.source_errors.entry(id).or_default().add(errors);
            let (tx, rx) = std::sync::mpsc::channel();
            self.log_updates(&mut st, (time, id), payload, updates, move || {
                let _ = tx.send(());
            });
            rx
        };
        // Waiting until the batch is durable keeps a fast topic from queueing without bound.
        durable.recv().is_ok()
    }

    fn exists(&self, id: GlobalId) -> bool {
        self.lock().catalog.get(id).is_some()
    }
}
