//! The coordinator: the single sequencer of statements. It owns the catalog, the table contents
//! and the timestamp oracle, and sends commands to every timely worker in one order.
//!
//! Statements are planned and sequenced one at a time under a lock; waiting for answers (peeks,
//! subscriptions) happens outside it, in the session, through `ReadFuture` and `Subscription`.

mod clock;
mod drop;
mod evaluate;
mod generators;
mod hydration;
mod ingest;
mod peek;
mod read;
mod recover;
pub mod replay;
pub mod session;
pub mod show;
mod sinks;
mod sources;
mod streams;
mod workers;
mod write;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use read::{finish, ReadFuture, Subscription};
pub use session::Session;

use crate::catalog::{Catalog, CatalogItem, ItemKind};
use crate::error::SqlError;

use crate::parse::Statement;
use crate::plan::{plan_statement, Plan, PlanContext, PlanError, ShowKind};
use crate::repr::{now_ms, Datum, Diff, GlobalId, RelationDesc, Row, ScalarType, Timestamp};
use crate::storage::{Log, LogRecord, TableStore};
use crate::worker::Command;
pub(crate) use evaluate::evaluate_over;
use evaluate::{check_maintained, check_not_null, evaluate};
use read::Pending;
use workers::Workers;

/// What sequencing a statement produced.
pub enum Response {
    /// A command that completed, with its CommandComplete tag (`CREATE TABLE`, `INSERT 0 3`).
    Tag(String),
    /// A command whose effect is in the log; it may be acknowledged once `durable` fires.
    Durable {
        tag: String,
        durable: tokio::sync::oneshot::Receiver<()>,
    },
    /// Rows to send, once gathered.
    Rows(ReadFuture),
    Subscribe(Subscription),
}

struct State {
    catalog: Catalog,
    tables: TableStore,
    /// The time of the latest write sequenced (it may not be durable yet).
    write_ts: Timestamp,
    /// True while the log is replayed on start-up: nothing is logged or sent to the workers.
    replaying: bool,
    /// The durability signal of the latest record the current statement appended.
    pending: Option<tokio::sync::oneshot::Receiver<()>>,
    /// Where reads continued from after the log was replayed: every arrangement rebuilt from
    /// the log has hydrated once it is complete past this time.
    started_at: Timestamp,
    /// Each source's offsets as of its latest ingest in the log.
    source_offsets: HashMap<GlobalId, crate::source::Offsets>,
    /// Each running source's status, shared with its reader.
    source_status: HashMap<GlobalId, crate::source::SharedStatus>,
    /// Each source's undecodable records, as the log holds them.
    source_errors: HashMap<GlobalId, sources::SourceErrors>,
    /// Each running sink's status, shared with its writer.
    sink_status: HashMap<GlobalId, crate::sink::SharedSinkStatus>,
}

impl State {
    /// The time of a write sequenced now: after every earlier one, and no earlier than the clock.
    fn next_write_time(&self) -> Timestamp {
        now_ms().max(self.write_ts + 1)
    }
}

/// How a coordinator is started.
#[derive(Clone, Debug)]
pub struct Config {
    /// Timely worker threads.
    pub workers: usize,
    /// Where the log lives.
    pub data_dir: std::path::PathBuf,
    /// How far back `AS OF` may read objects without their own `RETAIN HISTORY` (ms).
    pub retain_history: Timestamp,
    pub log: crate::storage::LogOptions,
    /// The broker of Kafka sources created without one (the ksqlDB form names none).
    pub kafka_broker: Option<String>,
}

/// The default retention window: a few minutes of history for `AS OF` and resuming
/// subscriptions.
pub const DEFAULT_RETAIN_HISTORY: Timestamp = 5 * 60 * 1000;

impl Config {
    pub fn new(workers: usize, data_dir: &Path) -> Config {
        Config {
            workers,
            data_dir: data_dir.to_path_buf(),
            retain_history: DEFAULT_RETAIN_HISTORY,
            log: Default::default(),
            kafka_broker: None,
        }
    }
}

pub struct Coordinator {
    state: Mutex<State>,
    /// The retention of objects created without `RETAIN HISTORY`.
    retain_history: Timestamp,
    workers: Arc<Workers>,
    log: Log,
    /// The time of the latest durable write: every input is complete through it, so reads
    /// happen here. Shared with the log, whose compaction keeps the retention window back
    /// from it.
    read_ts: Arc<AtomicU64>,
    next_subscribe: AtomicU64,
    kafka_broker: Option<String>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Log(#[from] crate::storage::LogError),
    #[error("cannot replay the log: record {index} ({what})")]
    Replay { index: usize, what: String },
    #[error("cannot rebuild {view} from the streams it reads: {what}")]
    Streams { view: String, what: String },
}

impl Coordinator {
    /// Opens the log under `data_dir`, starts `workers` timely worker threads, and rebuilds
    /// every table and view the log describes.
    pub fn start(config: &Config) -> Result<Arc<Coordinator>, StartError> {
        let opened = Log::open(&config.data_dir.join("log"), &config.log)?;
        opened.log.retain_at_least(config.retain_history);
        if let Some(t) = &opened.torn {
            tracing::warn!(
                "the log ended in a torn write (a crash during a commit): cut {} bytes at byte {} of {}; every acknowledged write is intact",
                t.bytes_cut,
                t.offset,
                t.file.display()
            );
        }
        let coord = Coordinator::new(
            Workers::start(config.workers),
            opened.log,
            config.retain_history,
            config.kafka_broker.clone(),
        );
        coord.recover(opened.records)?;
        coord.watch_hydration();
        coord.start_sources();
        coord.start_sinks();
        coord.start_clock();
        Ok(coord)
    }

    fn new(
        workers: Workers,
        log: Log,
        retain_history: Timestamp,
        kafka_broker: Option<String>,
    ) -> Arc<Coordinator> {
        Arc::new(Coordinator {
            state: Mutex::new(State {
                catalog: Catalog::default(),
                tables: TableStore::default(),
                write_ts: 0,
                replaying: false,
                pending: None,
                started_at: 0,
                source_offsets: HashMap::new(),
                source_status: HashMap::new(),
                source_errors: HashMap::new(),
                sink_status: HashMap::new(),
            }),
            retain_history,
            workers: Arc::new(workers),
            read_ts: log.durable_time(),
            log,
            next_subscribe: AtomicU64::new(1),
            kafka_broker,
        })
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Makes timely worker `index` panic, to test what follows a worker's death (reads and
    /// subscriptions fail with XX000; writes are still logged). Not reachable from SQL.
    #[doc(hidden)]
    pub fn crash_worker(&self, index: usize) {
        self.workers.crash(index);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug; the state is still the last consistent one.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one command to every worker, unless the log is being replayed (then the workers
    /// are given the result at the end, in one go).
    fn broadcast(&self, st: &State, make: impl FnMut() -> Command) {
        if !st.replaying {
            self.workers.broadcast(make);
        }
    }

    /// Appends a record to the log; `then` runs once it is durable, and the statement is
    /// acknowledged after that.
    fn log(&self, st: &mut State, record: &LogRecord, then: impl FnOnce() + Send + 'static) {
        if st.replaying {
            return;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.log.append(record.encode(), move || {
            then();
            let _ = tx.send(());
        });
        st.pending = Some(rx);
    }

    pub fn shutdown(&self) {
        self.workers.broadcast(|| Command::Shutdown);
    }

    /// Plans a statement against the current catalog. Planning only reads the catalog, so a
    /// planner bug (a panic) becomes an internal error for this statement alone.
    pub fn plan(
        &self,
        session: &Session,
        stmt: &Statement,
        param_types: &[ScalarType],
    ) -> Result<Plan, SqlError> {
        let mut st = self.lock();
        st.catalog.ensure_database(&session.database);
        let st = &*st;
        let status = |name: &str| show::status_relation(st, session, name);
        let settings = |name: &str| session.get(name).map(str::to_string);
        let pcx = PlanContext::new(
            &st.catalog,
            &session.database,
            &session.search_path(),
            param_types.to_vec(),
        )
        .with_status(&status)
        .with_settings(&settings);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan_statement(&pcx, stmt)))
        {
            Ok(plan) => Ok(plan?),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
                tracing::error!(
                    "the planner panicked (a bug): {}",
                    what.as_deref().unwrap_or("?")
                );
                Err(SqlError::internal(format!(
                    "the planner failed: {}",
                    what.unwrap_or_default()
                )))
            }
        }
    }

    /// Carries out a plan.
    pub fn sequence(self: &Arc<Self>, session: &Session, plan: Plan) -> Result<Response, SqlError> {
        let mut st = self.lock();
        st.pending = None;
        let response = self.sequence_in(&mut st, session, plan)?;
        Ok(match (response, st.pending.take()) {
            (Response::Tag(tag), Some(durable)) => Response::Durable { tag, durable },
            (response, _) => response,
        })
    }

    /// Carries out a plan in the critical section. While the log is replayed this only changes
    /// the catalog and the tables.
    fn sequence_in(
        self: &Arc<Self>,
        st: &mut State,
        session: &Session,
        plan: Plan,
    ) -> Result<Response, SqlError> {
        match plan {
            Plan::CreateTable {
                name,
                desc,
                if_not_exists,
                retain_history,
                event_time,
                close_defaults,
                append_only,
                defaults,
                create_sql,
            } => {
                if st.catalog.lookup(&name).is_some() {
                    return exists(&name.item, if_not_exists, "CREATE TABLE");
                }
                let id = st.catalog.allocate_id();
                self.log_create(st, session, id, &create_sql);
                let retain = retain_history.unwrap_or(self.retain_history);
                self.log.retain_at_least(retain);
                st.catalog.insert(CatalogItem {
                    id,
                    name,
                    desc,
                    kind: ItemKind::Table,
                    depends_on: vec![],
                    create_sql,
                    retain_history: retain,
                    created_at: st.write_ts,
                    event_time,
                    close_defaults,
                    append_only,
                    defaults,
                });
                self.install_relation(st, id, retain);
                Ok(Response::Tag("CREATE TABLE".into()))
            }
            Plan::CreateView {
                name,
                desc,
                expr,
                materialized,
                retain_history,
                if_not_exists,
                or_replace,
                create_sql,
            } => {
                let tag = if materialized {
                    "CREATE MATERIALIZED VIEW"
                } else {
                    "CREATE VIEW"
                };
                if let Some(old) = st.catalog.lookup(&name) {
                    if !or_replace {
                        return exists(&name.item, if_not_exists, tag);
                    }
                    let old_id = old.id;
                    self.drop_items(st, vec![old_id], false)?;
                }
                if materialized {
                    check_maintained(&expr)?;
                }
                let id = st.catalog.allocate_id();
                self.log_create(st, session, id, &create_sql);
                let depends_on = expr.depends_on();
                let retain = retain_history.unwrap_or(self.retain_history);
                if materialized {
                    self.log.retain_at_least(retain);
                }
                let kind = if materialized {
                    let optimized = crate::optimize::optimize(expr);
                    let cmd_expr = optimized.clone();
                    let mut shares = self.stream_shares(st, &optimized)?;
                    self.broadcast(st, || Command::CreateView {
                        id,
                        expr: cmd_expr.clone(),
                        retain,
                        streams: shares.next(),
                    });
                    ItemKind::MaterializedView { expr: optimized }
                } else {
                    ItemKind::View { expr }
                };
                let event_time = st.catalog.carried_event_time(&depends_on, &desc.names);
                st.catalog.insert(CatalogItem {
                    id,
                    name,
                    desc,
                    kind,
                    depends_on,
                    create_sql,
                    retain_history: retain,
                    created_at: st.write_ts,
                    event_time,
                    close_defaults: Default::default(),
                    append_only: false,
                    defaults: vec![],
                });
                Ok(Response::Tag(tag.into()))
            }
            Plan::CreateIndex {
                name,
                on,
                key,
                if_not_exists,
                create_sql,
            } => {
                if st.catalog.lookup(&name).is_some() {
                    return exists(&name.item, if_not_exists, "CREATE INDEX");
                }
                let id = st.catalog.allocate_id();
                self.log_create(st, session, id, &create_sql);
                let desc = st
                    .catalog
                    .get(on)
                    .map(|i| i.desc.clone())
                    .unwrap_or_default();
                st.catalog.insert(CatalogItem {
                    id,
                    name,
                    desc,
                    kind: ItemKind::Index {
                        on,
                        key: key.clone(),
                    },
                    depends_on: vec![on],
                    create_sql,
                    retain_history: 0,
                    created_at: st.write_ts,
                    event_time: None,
                    close_defaults: Default::default(),
                    append_only: false,
                    defaults: vec![],
                });
                self.broadcast(st, || Command::CreateIndex {
                    id,
                    on,
                    key: key.clone(),
                });
                Ok(Response::Tag("CREATE INDEX".into()))
            }
            Plan::CreateDatabase {
                name,
                if_not_exists,
            } => {
                if st.catalog.database_exists(&name) {
                    if if_not_exists {
                        return Ok(Response::Tag("CREATE DATABASE".into()));
                    }
                    return Err(PlanError::DatabaseExists(name).into());
                }
                st.catalog.create_database(&name)?;
                self.log(st, &LogRecord::CreateDatabase { name }, || {});
                Ok(Response::Tag("CREATE DATABASE".into()))
            }
            Plan::DropDatabase { name, if_exists } => {
                if !st.catalog.database_exists(&name) {
                    if if_exists {
                        return Ok(Response::Tag("DROP DATABASE".into()));
                    }
                    return Err(PlanError::UnknownDatabase(name).into());
                }
                if name == session.database {
                    return Err(SqlError::new(
                        "55006",
                        "cannot drop the currently open database",
                    ));
                }
                let ids = st.catalog.items_in_database(&name);
                self.drop_items(st, ids, true)?;
                st.catalog.drop_database(&name);
                self.log(st, &LogRecord::DropDatabase { name }, || {});
                Ok(Response::Tag("DROP DATABASE".into()))
            }
            Plan::CreateSchema {
                name,
                if_not_exists,
            } => {
                if st.catalog.schema_exists(&session.database, &name) && if_not_exists {
                    return Ok(Response::Tag("CREATE SCHEMA".into()));
                }
                st.catalog.create_schema(&session.database, &name)?;
                let record = LogRecord::CreateSchema {
                    database: session.database.clone(),
                    name,
                };
                self.log(st, &record, || {});
                Ok(Response::Tag("CREATE SCHEMA".into()))
            }
            Plan::Drop {
                kind,
                names,
                if_exists,
                cascade,
            } => self.drop_named(st, session, kind, &names, if_exists, cascade),
            Plan::Insert { id, source } => {
                let rows = evaluate(self, st, &source)?;
                check_not_null(&st.catalog, id, &rows)?;
                let n: Diff = rows.iter().map(|(_, d)| *d).sum();
                self.write(st, id, rows)?;
                Ok(Response::Tag(format!("INSERT 0 {n}")))
            }
            Plan::Update {
                id,
                changes,
                arity,
                is_delete,
            } => {
                let rows = evaluate(self, st, &changes)?;
                let mut updates = Vec::new();
                let mut n: Diff = 0;
                for (row, d) in rows {
                    n += d;
                    updates.push((row[..arity].to_vec(), -d));
                    if !is_delete {
                        updates.push((row[arity..].to_vec(), d));
                    }
                }
                if !is_delete {
                    let inserted: Vec<(Row, Diff)> =
                        updates.iter().filter(|(_, d)| *d > 0).cloned().collect();
                    check_not_null(&st.catalog, id, &inserted)?;
                }
                self.write(st, id, updates)?;
                Ok(Response::Tag(format!(
                    "{} {n}",
                    if is_delete { "DELETE" } else { "UPDATE" }
                )))
            }
            Plan::Select(plan) => Ok(Response::Rows(self.read(st, plan)?)),
            Plan::Show(ShowKind::Hydration) => Ok(Response::Rows(self.show_hydration(st, session))),
            Plan::Show(ShowKind::Objects(objects)) => {
                let (desc, rows) = match objects {
                    crate::parse::ShowObjects::Sources => {
                        (sources::desc(), sources::show(st, session))
                    }
                    crate::parse::ShowObjects::Sinks => (sinks::desc(), sinks::show(st, session)),
                    crate::parse::ShowObjects::SourceErrors(from) => (
                        sources::errors_desc(),
                        sources::show_errors(st, session, from.as_deref())?,
                    ),
                    objects => {
                        show::rows(&st.catalog, session, objects, &self.workers.window_gates())?
                    }
                };
                let arity = desc.arity();
                let finishing = crate::plan::Finishing {
                    project: (0..arity).collect(),
                    ..Default::default()
                };
                let rows = rows.into_iter().map(|r| (r, 1)).collect();
                Ok(Response::Rows(ReadFuture {
                    desc,
                    pending: Pending::Ready(Ok(rows)),
                    finishing,
                }))
            }
            Plan::Explain(text) => {
                let desc = RelationDesc::new(
                    vec!["Optimized Plan".into()],
                    vec![crate::repr::ColumnType::new(ScalarType::Text, false)],
                );
                let finishing = crate::plan::Finishing {
                    project: vec![0],
                    ..Default::default()
                };
                let rows = vec![(vec![Datum::String(text)], 1)];
                Ok(Response::Rows(ReadFuture {
                    desc,
                    pending: Pending::Ready(Ok(rows)),
                    finishing,
                }))
            }
            Plan::Subscribe {
                plan,
                snapshot,
                progress,
                as_of,
            } => {
                let expr =
                    crate::optimize::optimize(plan.expr).project(plan.finishing.project.clone());
                check_maintained(&expr)?;
                // Without AS OF, a subscription with a snapshot may start later than now if
                // history is released meanwhile (the snapshot holds what it skips).
                let exact = as_of.is_some() || !snapshot;
                let as_of = match as_of {
                    Some(t) => self.check_as_of(st, &expr, t, false)?,
                    None => self.read_ts.load(Ordering::SeqCst),
                };
                let id = self.next_subscribe.fetch_add(1, Ordering::Relaxed);
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let mut shares = self.stream_shares(st, &expr)?;
                self.broadcast(st, || Command::Subscribe {
                    id,
                    expr: expr.clone(),
                    as_of,
                    exact,
                    snapshot,
                    streams: shares.next(),
                    reply: tx.clone(),
                });
                Ok(Response::Subscribe(Subscription {
                    desc: plan.desc,
                    id,
                    progress,
                    rx,
                    coord: Arc::clone(self),
                }))
            }
            Plan::CreateSource {
                name,
                desc,
                if_not_exists,
                kafka,
                statement,
            } => self.create_source(st, session, name, desc, if_not_exists, kafka, *statement),
            Plan::CreateGenerator(g) => self.create_generator(st, session, *g),
            Plan::CreateSink(sink) => self.create_sink(st, session, sink),
            Plan::CreateViewIntoTopic { view, output, key } => {
                self.create_view_into_topic(st, session, *view, output, key)
            }
            Plan::Flush | Plan::Empty => Ok(Response::Tag(String::new())),
            other => Err(SqlError::internal(format!(
                "the session handles {other:?} itself"
            ))),
        }
    }

    /// Records the creation of a catalog item, to be planned again on start-up.
    fn log_create(&self, st: &mut State, session: &Session, id: GlobalId, sql: &str) {
        let record = LogRecord::CreateItem {
            id,
            database: session.database.clone(),
            search_path: session.search_path(),
            sql: sql.to_string(),
        };
        self.log(st, &record, || {});
    }

    pub(crate) fn drop_subscribe(&self, id: u64) {
        let _st = self.lock();
        self.workers.broadcast(|| Command::DropSubscribe { id });
    }

    /// The catalog, for session-level introspection (tests, SHOW).
    pub fn with_catalog<R>(&self, f: impl FnOnce(&Catalog) -> R) -> R {
        f(&self.lock().catalog)
    }
}

fn exists(name: &str, if_not_exists: bool, tag: &str) -> Result<Response, SqlError> {
    if if_not_exists {
        Ok(Response::Tag(tag.into()))
    } else {
        Err(PlanError::AlreadyExists(name.into()).into())
    }
}
