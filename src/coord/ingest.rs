//! Sources in the coordinator: creating one, starting the readers (after start-up replay too,
//! from the offsets the log holds), and taking in what they read.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{exists, now_ms, Coordinator, Response, Session, State};
use crate::catalog::{CatalogItem, ItemKind, QualifiedName};
use crate::error::SqlError;
use crate::repr::{Diff, GlobalId, RelationDesc, Row};
use crate::source::{kafka, Batch, Ingest, KafkaSpec};
use crate::storage::LogRecord;
use crate::worker::Command;

impl Coordinator {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn create_source(
        self: &Arc<Self>,
        st: &mut State,
        session: &Session,
        name: QualifiedName,
        desc: RelationDesc,
        if_not_exists: bool,
        kafka: KafkaSpec,
        create_sql: String,
    ) -> Result<Response, SqlError> {
        if st.catalog.lookup(&name).is_some() {
            return exists(&name.item, if_not_exists, "CREATE SOURCE");
        }
        let id = st.catalog.allocate_id();
        self.log_create(st, session, id, &create_sql);
        let retain = self.retain_history;
        st.catalog.insert(CatalogItem {
            id,
            name,
            desc,
            kind: ItemKind::Source(kafka),
            depends_on: vec![],
            create_sql,
            retain_history: retain,
            created_at: st.write_ts,
        });
        st.tables.create(id);
        self.broadcast(st, || Command::CreateTable { id, retain });
        if !st.replaying {
            self.start_source(st, id);
        }
        Ok(Response::Tag("CREATE SOURCE".into()))
    }

    /// Starts every source's reader (once the log has been replayed).
    pub(super) fn start_sources(self: &Arc<Self>) {
        let st = self.lock();
        let sources: Vec<GlobalId> = st
            .catalog
            .items()
            .filter(|i| matches!(i.kind, ItemKind::Source(_)))
            .map(|i| i.id)
            .collect();
        for id in sources {
            self.start_source(&st, id);
        }
    }

    fn start_source(self: &Arc<Self>, st: &State, id: GlobalId) {
        let Some(item) = st.catalog.get(id) else {
            return;
        };
        let ItemKind::Source(spec) = &item.kind else {
            return;
        };
        let start = st.source_offsets.get(&id).cloned().unwrap_or_default();
        tracing::info!(
            "source {} reads topic {} from {} at offsets {:?} (partition: next offset)",
            item.name,
            spec.topic,
            spec.broker,
            start
        );
        kafka::spawn(
            id,
            item.name.to_string(),
            spec.clone(),
            item.desc.clone(),
            start,
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
            let time = now_ms().max(st.write_ts + 1);
            let updates: Vec<(Row, Diff)> = batch.rows.into_iter().map(|r| (r, 1)).collect();
            let record = LogRecord::Ingest {
                time,
                source: id,
                updates,
                offsets: batch.offsets,
            };
            let payload = record.encode();
            let LogRecord::Ingest {
                updates, offsets, ..
            } = record
            else {
                unreachable!("built above")
            };
            st.write_ts = time;
            st.tables.apply(id, &updates);
            st.source_offsets.insert(id, offsets);
            let tagged: Vec<_> = updates.into_iter().map(|(r, d)| (id, r, d)).collect();
            let (workers, read_ts) = (Arc::clone(&self.workers), Arc::clone(&self.read_ts));
            let (tx, rx) = std::sync::mpsc::channel();
            self.log.append(payload, move || {
                workers.write(time, tagged);
                read_ts.store(time, Ordering::SeqCst);
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
