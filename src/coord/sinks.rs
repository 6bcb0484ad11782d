//! Sinks in the coordinator: creating one, starting the writers (after start-up replay too),
//! the subscriptions they write from, and `SHOW SINKS`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::{exists, Coordinator, Response, Session, State};
use crate::catalog::{CatalogItem, ItemKind};
use crate::error::SqlError;
use crate::parse::{quote_ident, quote_literal, SinkEnvelope, SinkFormat};
use crate::plan::CreateSinkPlan;
use crate::repr::{ColumnType, Datum, GlobalId, RelationDesc, Row, ScalarType};
use crate::sink::{kafka, Resume, SinkHost};
use crate::worker::Command;

impl Coordinator {
    /// ksqlDB's `CREATE STREAM|TABLE x WITH (KAFKA_TOPIC = 't') AS SELECT`: the materialized
    /// view `x`, then the sink `x_sink` of it into `t` (upserts keyed by `key`, JSON). Both are
    /// logged as the ordinary statements they are, so a restart or replay needs nothing new.
    pub(super) fn create_view_into_topic(
        self: &Arc<Self>,
        st: &mut State,
        session: &Session,
        view: crate::plan::Plan,
        output: crate::parse::TopicOutput,
        key: Vec<String>,
    ) -> Result<Response, SqlError> {
        let crate::plan::Plan::CreateView { name, .. } = &view else {
            return Err(SqlError::internal(
                "a ksqlDB query into a topic is not a view",
            ));
        };
        let name = name.clone();
        // Everything that could refuse the sink is checked before the view is made.
        let broker = self.kafka_broker.clone().ok_or_else(|| {
            SqlError::new(
                "22023",
                format!(
                    "no Kafka broker for the topic of \"{}\": start the server with --kafka-broker",
                    name.item
                ),
            )
        })?;
        let sink_name = crate::catalog::QualifiedName {
            item: format!("{}_sink", name.item),
            ..name.clone()
        };
        if st.catalog.lookup(&sink_name).is_some() {
            return Err(SqlError::new(
                "42710",
                format!(
                    "the sink \"{}\" that would write \"{}\" to its topic already exists",
                    sink_name.item, name.item
                ),
            ));
        }
        let response = self.sequence_in(st, session, view)?;
        let key = if key.is_empty() {
            String::new()
        } else {
            let cols: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
            format!(" KEY ({})", cols.join(", "))
        };
        let sql = format!(
            "CREATE SINK {sink} FROM {db}.{schema}.{view} INTO KAFKA (BROKER {broker}, TOPIC {topic}){key} FORMAT JSON ENVELOPE UPSERT",
            sink = [&sink_name.database, &sink_name.schema, &sink_name.item]
                .map(|p| quote_ident(p))
                .join("."),
            db = quote_ident(&name.database),
            schema = quote_ident(&name.schema),
            view = quote_ident(&name.item),
            broker = quote_literal(&broker),
            topic = quote_literal(&output.topic),
        );
        let stmt = crate::parse::parse_statement(&sql)?;
        let pcx = crate::plan::PlanContext::new(
            &st.catalog,
            &session.database,
            &session.search_path(),
            Vec::new(),
        );
        let plan = crate::plan::plan_statement(&pcx, &stmt)?;
        self.sequence_in(st, session, plan)?;
        tracing::info!(
            "{} writes to topic {} through sink {}",
            name,
            output.topic,
            sink_name.item
        );
        Ok(response)
    }

    pub(super) fn create_sink(
        self: &Arc<Self>,
        st: &mut State,
        session: &Session,
        sink: CreateSinkPlan,
    ) -> Result<Response, SqlError> {
        if st.catalog.lookup(&sink.name).is_some() {
            return exists(&sink.name.item, sink.if_not_exists, "CREATE SINK");
        }
        super::check_maintained(&sink.expr)?;
        let id = st.catalog.allocate_id();
        self.log_create(st, session, id, &sink.create_sql);
        let mut depends_on = sink.expr.depends_on();
        if !depends_on.contains(&sink.from) {
            depends_on.push(sink.from);
        }
        st.catalog.insert(CatalogItem {
            id,
            name: sink.name,
            desc: sink.desc,
            kind: ItemKind::Sink {
                from: sink.from,
                expr: sink.expr,
                spec: sink.spec,
            },
            depends_on,
            create_sql: sink.create_sql,
            retain_history: self.retain_history,
            created_at: st.write_ts,
            event_time: None,
            close_defaults: Default::default(),
            append_only: false,
            defaults: vec![],
        });
        if !st.replaying {
            self.start_sink(st, id);
        }
        Ok(Response::Tag("CREATE SINK".into()))
    }

    /// Starts every sink's writer (once the log has been replayed).
    pub(super) fn start_sinks(self: &Arc<Self>) {
        let mut st = self.lock();
        let sinks: Vec<GlobalId> = st
            .catalog
            .items()
            .filter(|i| matches!(i.kind, ItemKind::Sink { .. }))
            .map(|i| i.id)
            .collect();
        for id in sinks {
            self.start_sink(&mut st, id);
        }
    }

    fn start_sink(self: &Arc<Self>, st: &mut State, id: GlobalId) {
        let Some(item) = st.catalog.get(id) else {
            return;
        };
        let ItemKind::Sink { spec, .. } = &item.kind else {
            return;
        };
        tracing::info!(
            "sink {} writes to topic {} at {} (progress in {})",
            item.name,
            spec.topic,
            spec.broker,
            spec.progress_topic()
        );
        let status = Arc::new(Mutex::new(crate::sink::SinkStatus {
            state: "starting",
            ..Default::default()
        }));
        let (name, spec, desc) = (item.name.to_string(), spec.clone(), item.desc.clone());
        st.sink_status.insert(id, Arc::clone(&status));
        kafka::spawn(
            id,
            name,
            spec,
            desc,
            status,
            Arc::clone(self) as Arc<dyn SinkHost>,
        );
    }
}

impl SinkHost for Coordinator {
    fn subscribe_sink(
        self: Arc<Self>,
        id: GlobalId,
        from: &Resume,
    ) -> Result<super::Subscription, String> {
        let st = self.lock();
        let Some(ItemKind::Sink { expr, .. }) = st.catalog.get(id).map(|i| &i.kind) else {
            return Err("the sink was dropped".into());
        };
        let expr = crate::optimize::optimize(expr.clone());
        let (as_of, snapshot) = match from {
            Resume::Snapshot => (self.read_ts.load(Ordering::SeqCst), true),
            Resume::After(t) => (
                self.check_as_of(&st, &expr, *t, false)
                    .map_err(|e| e.message)?,
                false,
            ),
        };
        let sub = self.next_subscribe.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut shares = self.stream_shares(&st, &expr).map_err(|e| e.message)?;
        self.workers.broadcast(|| Command::Subscribe {
            id: sub,
            expr: expr.clone(),
            as_of,
            exact: !snapshot,
            snapshot,
            streams: shares.next(),
            reply: tx.clone(),
        });
        let desc = st
            .catalog
            .get(id)
            .map(|i| i.desc.clone())
            .unwrap_or_default();
        drop(st);
        Ok(super::Subscription {
            desc,
            id: sub,
            progress: true,
            rx,
            coord: Arc::clone(&self),
        })
    }

    fn sink_exists(&self, id: GlobalId) -> bool {
        self.lock().catalog.get(id).is_some()
    }
}

pub fn desc() -> RelationDesc {
    let col = |n: &str, t, nullable| (n.to_string(), ColumnType::new(t, nullable));
    let (names, types) = [
        col("name", ScalarType::Text, false),
        col("from", ScalarType::Text, false),
        col("topic", ScalarType::Text, false),
        col("envelope", ScalarType::Text, false),
        col("format", ScalarType::Text, false),
        col("state", ScalarType::Text, false),
        col("records", ScalarType::Int64, false),
        col("complete_through", ScalarType::Int64, true),
        col("last_error", ScalarType::Text, true),
        col("key_schema", ScalarType::Text, true),
        col("value_schema", ScalarType::Text, true),
    ]
    .into_iter()
    .unzip();
    RelationDesc::new(names, types)
}

/// `SHOW SINKS`: the current database's sinks, with how far their topic is complete.
pub fn show(st: &State, session: &Session) -> Vec<Row> {
    let schemas = session.search_path();
    let text = |s: &str| Datum::String(s.to_string());
    st.catalog
        .items()
        .filter(|i| i.name.database == session.database && schemas.contains(&i.name.schema))
        .filter_map(|i| match &i.kind {
            ItemKind::Sink { from, spec, .. } => Some((i, from, spec)),
            _ => None,
        })
        .map(|(item, from, spec)| {
            let status = st
                .sink_status
                .get(&item.id)
                .map(|s| s.lock().expect("sink status lock").clone())
                .unwrap_or_default();
            let from = st
                .catalog
                .get(*from)
                .map_or(String::new(), |f| f.name.item.clone());
            // The schemas an Avro sink writes in, for its consumers (there is no registry).
            let schemas = (spec.format == SinkFormat::Avro)
                .then(|| crate::sink::avro::AvroSchemas::new(&item.desc, &spec.key, spec.envelope));
            vec![
                text(&item.name.item),
                text(&from),
                text(&spec.topic),
                text(match spec.envelope {
                    SinkEnvelope::Upsert => "upsert",
                    SinkEnvelope::Debezium => "debezium",
                }),
                text(match spec.format {
                    SinkFormat::Json => "json",
                    SinkFormat::Avro => "avro",
                }),
                text(status.state),
                Datum::Int64(status.records as i64),
                status
                    .complete_through
                    .map_or(Datum::Null, |t| Datum::Int64(t as i64)),
                status.last_error.as_deref().map_or(Datum::Null, text),
                schemas.as_ref().map_or(Datum::Null, |s| text(&s.key_text)),
                schemas
                    .as_ref()
                    .map_or(Datum::Null, |s| text(&s.value_text)),
            ]
        })
        .collect()
}
