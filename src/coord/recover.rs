//! Start-up: the log is replayed into the catalog and the tables, then the workers are given
//! everything at once, which is how views rehydrate from the log: each table's contents as one
//! snapshot as of the start of the retention window, then every write inside the window at its
//! own time (so `AS OF` reads and resumed subscriptions work across restarts).

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{now_ms, Coordinator, Session, StartError, State};
use crate::catalog::ItemKind;
use crate::error::SqlError;
use crate::parse::parse_statement;
use crate::plan::{plan_statement, PlanContext};
use crate::repr::{Diff, GlobalId, Row, Timestamp};
use crate::storage::LogRecord;
use crate::worker::Command;

/// Reports replay progress in bytes of the log (one record can hold a whole COPY): a bar on a
/// terminal, a log line every few seconds otherwise.
struct Progress {
    total: u64,
    bar: Option<indicatif::ProgressBar>,
    last_line: Instant,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = (total > 0 && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "replaying the log {bar:40} {bytes}/{total_bytes} ({eta} left)",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            total,
            bar,
            last_line: Instant::now(),
        }
    }

    fn tick(&mut self, done: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None if self.last_line.elapsed() > Duration::from_secs(2) => {
                tracing::info!(
                    "replaying the log: {} of {}",
                    indicatif::HumanBytes(done),
                    indicatif::HumanBytes(self.total)
                );
                self.last_line = Instant::now();
            }
            None => {}
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Coordinator {
    pub(super) fn recover(self: &Arc<Self>, records: Vec<Vec<u8>>) -> Result<(), StartError> {
        let started = Instant::now();
        let total = records.len();
        let mut window = Window {
            now: now_ms(),
            retain: self.retain_history,
            folded_through: 0,
            writes: Vec::new(),
            appends_are_writes: false,
        };
        self.replay_all(records, &mut window)?;
        let mut st = self.lock();
        let time = self.install(&mut st, window)?;
        if total > 0 {
            tracing::info!(
                "replayed {total} log records in {:.1?}: {} tables, {} materialized views; reads start at time {time}",
                started.elapsed(),
                st.catalog
                    .items()
                    .filter(|i| matches!(i.kind, ItemKind::Table | ItemKind::Source(_)))
                    .count(),
                st.catalog
                    .items()
                    .filter(|i| matches!(i.kind, ItemKind::MaterializedView { .. }))
                    .count(),
            );
        }
        Ok(())
    }

    /// Folds every record into the catalog and the tables, keeping the writes inside `window`.
    pub(super) fn replay_all(
        self: &Arc<Self>,
        records: Vec<Vec<u8>>,
        window: &mut Window,
    ) -> Result<(), StartError> {
        let mut st = self.lock();
        st.replaying = true;
        let mut progress = Progress::new(records.iter().map(|r| r.len() as u64).sum());
        let mut done = 0;
        for (index, bytes) in records.into_iter().enumerate() {
            done += bytes.len() as u64;
            let record = LogRecord::decode(&bytes).map_err(|what| StartError::Replay {
                index,
                what: format!("undecodable: {what}"),
            })?;
            self.replay(&mut st, window, record)
                .map_err(|e| StartError::Replay {
                    index,
                    what: e.to_string(),
                })?;
            progress.tick(done);
        }
        progress.finish();
        st.replaying = false;
        Ok(())
    }

    fn replay(
        self: &Arc<Self>,
        st: &mut State,
        window: &mut Window,
        record: LogRecord,
    ) -> Result<(), SqlError> {
        match record {
            LogRecord::CreateItem {
                id,
                database,
                search_path,
                sql,
            } => {
                st.catalog.ensure_database(&database);
                let stmt = parse_statement(&sql)?;
                let plan = {
                    let pcx =
                        PlanContext::new(&st.catalog, &database, &search_path, vec![]).replaying();
                    plan_statement(&pcx, &stmt)?
                };
                let mut session = Session::new("runnel", &database);
                session
                    .set("search_path", Some(&search_path.join(", ")))
                    .map_err(SqlError::internal)?;
                st.catalog.restore_next_id(id);
                self.sequence_in(st, &session, plan)?;
                if let Some(item) = st.catalog.get(id) {
                    window.retain = window.retain.max(item.retain_history);
                    self.log.retain_at_least(item.retain_history);
                }
            }
            LogRecord::DropItems { ids } => {
                for id in ids {
                    st.catalog.remove(id);
                    st.tables.drop_table(id);
                    st.source_offsets.remove(&id);
                }
            }
            LogRecord::NextId { id } => st.catalog.reserve_ids_below(id),
            LogRecord::CreateDatabase { name } => st.catalog.ensure_database(&name),
            LogRecord::DropDatabase { name } => st.catalog.drop_database(&name),
            LogRecord::CreateSchema { database, name } => {
                st.catalog.ensure_database(&database);
                if !st.catalog.schema_exists(&database, &name) {
                    st.catalog.create_schema(&database, &name)?;
                }
            }
            LogRecord::Ingest {
                time,
                source,
                updates,
                offsets,
                errors,
            } => {
                st.source_offsets.insert(source, offsets);
                st.source_errors.entry(source).or_default().add(errors);
                let write = LogRecord::Write {
                    time,
                    table: source,
                    updates,
                };
                return self.replay(st, window, write);
            }
            LogRecord::Append {
                time,
                table,
                progress,
                updates,
            } => {
                if let Some(p) = progress {
                    st.source_offsets.insert(table, p.offsets);
                    st.source_errors.entry(table).or_default().add(p.errors);
                }
                // A stream's rows are not kept: dataflows read them from the log when they
                // are built. Batch replay (which evaluates from writes) takes them as writes.
                st.write_ts = st.write_ts.max(time);
                if window.appends_are_writes {
                    window.writes.push((time, table, updates));
                }
            }
            LogRecord::Write {
                time,
                table,
                updates,
            } => {
                st.write_ts = st.write_ts.max(time);
                // Times only grow along the log and the window only widens, so the writes
                // kept are a suffix of the log's writes. Until `install`, the tables hold their
                // contents as of the window's start: the writes before it, folded.
                if time > window.now.saturating_sub(window.retain) {
                    window.writes.push((time, table, updates));
                } else {
                    st.tables.apply(table, &updates);
                    window.folded_through = time;
                }
            }
        }
        Ok(())
    }

    /// Creates every table and materialized view in the workers (in creation order, so each
    /// finds what it reads), gives them the tables' contents as of the start of the retention
    /// window, then each write inside the window, and returns the time reads continue from.
    fn install(&self, st: &mut State, window: Window) -> Result<u64, StartError> {
        let mut items: Vec<_> = st.catalog.items().collect();
        items.sort_by_key(|i| i.id);
        for item in items {
            let (id, retain) = (item.id, item.retain_history);
            match &item.kind {
                _ if item.is_stream() => self.workers.broadcast(|| Command::CreateStream { id }),
                ItemKind::Table | ItemKind::Source(_) => self
                    .workers
                    .broadcast(|| Command::CreateTable { id, retain }),
                ItemKind::MaterializedView { expr } => {
                    let mut shares =
                        self.stream_shares(st, expr)
                            .map_err(|e| StartError::Streams {
                                view: item.name.to_string(),
                                what: e.message,
                            })?;
                    self.workers.broadcast(|| Command::CreateView {
                        id,
                        expr: expr.clone(),
                        retain,
                        streams: shares.next(),
                    })
                }
                ItemKind::Index { on, key } => self.workers.broadcast(|| Command::CreateIndex {
                    id,
                    on: *on,
                    key: key.clone(),
                }),
                ItemKind::View { .. } | ItemKind::Sink { .. } => {}
            }
        }
        // The contents at the window's start, then each write inside the window at its time
        // (and into the tables, which then hold their current contents).
        let snapshot: Vec<_> = st
            .tables
            .tables()
            .flat_map(|id| {
                st.tables
                    .contents(id)
                    .into_iter()
                    .map(move |(r, d)| (id, r, d))
            })
            .collect();
        if !snapshot.is_empty() {
            self.workers.write(window.folded_through, snapshot);
        }
        for (time, table, updates) in window.writes {
            if st.catalog.get(table).is_none() {
                continue; // dropped later in the log
            }
            st.tables.apply(table, &updates);
            let tagged = updates.into_iter().map(|(r, d)| (table, r, d)).collect();
            self.workers.write(time, tagged);
        }
        let time = st.next_write_time();
        self.workers.write(time, Vec::new());
        st.write_ts = time;
        st.started_at = time;
        self.read_ts.store(time, Ordering::SeqCst);
        Ok(time)
    }
}

/// One transaction's updates to one table, at its time.
pub(super) type TimedWrite = (Timestamp, GlobalId, Vec<(Row, Diff)>);

/// The writes replayed at their own times on start-up: those inside the retention window.
pub(super) struct Window {
    pub now: Timestamp,
    /// The longest retention of any object (or the default).
    pub retain: Timestamp,
    /// The time of the latest write before the window, where the snapshot is placed.
    pub folded_through: Timestamp,
    pub writes: Vec<TimedWrite>,
    /// Whether streams' appends are kept as writes (batch replay), or left in the log.
    pub appends_are_writes: bool,
}
