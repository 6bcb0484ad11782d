//! Batch replay: a query evaluated over the log, without dataflows, by the IR's reference
//! evaluator. It is the check on everything incremental: what a view or a subscription
//! reported at a time must equal what replay computes from the log at that time.
//!
//! The log's catalog records build the catalog as the server would on start-up (nothing is
//! written, the directory is not locked: a running server's log can be replayed). Each table's
//! contents at a time are its writes up to that time; views read are evaluated from their
//! definitions.

use std::path::Path;
use std::sync::Arc;

use super::recover::{TimedWrite, Window};
use super::{evaluate_over, Coordinator, Session, StartError};
use crate::error::SqlError;
use crate::parse::parse_statement;
use crate::plan::{Plan, SelectPlan};
use crate::repr::{Diff, RelationDesc, Row, Timestamp};
use crate::storage::{Log, TableStore};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Log(#[from] StartError),
    #[error("{0}")]
    Query(SqlError),
}

/// The log of a data directory, read back for batch evaluation.
pub struct History {
    coord: Arc<Coordinator>,
    /// Every write in the log, in time order.
    writes: Vec<TimedWrite>,
    /// The earliest time the log can be read at: if it was compacted, where its base stands.
    since: Timestamp,
}

/// A query's answer at one time, or its changes over a range of times.
pub enum Replayed {
    Rows {
        desc: RelationDesc,
        time: Timestamp,
        rows: Vec<Row>,
    },
    /// `(time, row, diff)` in time order, as SUBSCRIBE reports them.
    Changes {
        desc: RelationDesc,
        updates: Vec<(Timestamp, Row, Diff)>,
    },
}

impl History {
    /// Reads the log under `data_dir` (read-only).
    pub fn open(data_dir: &Path) -> Result<History, ReplayError> {
        let (records, torn, from_base) =
            Log::read_only(&data_dir.join("log")).map_err(StartError::from)?;
        if let Some(t) = torn {
            tracing::warn!(
                "the log ends in a torn write ({} bytes at byte {} of {}): replaying up to it",
                t.bytes_cut,
                t.offset,
                t.file.display()
            );
        }
        let coord = Coordinator::new(super::Workers::none(), Log::inert(), Timestamp::MAX, None);
        let mut window = Window {
            now: Timestamp::MAX,
            retain: Timestamp::MAX,
            folded_through: 0,
            writes: Vec::new(),
            appends_are_writes: true,
        };
        coord.replay_all(records, &mut window)?;
        // A base holds the tables' contents as of the last write it folded; all its writes
        // carry that time.
        let since = match window.writes.first() {
            Some((t, _, _)) if from_base => *t,
            _ => 0,
        };
        // It holds the streams' appends after those contents, at their own (earlier) times.
        window.writes.sort_by_key(|(t, _, _)| *t);
        Ok(History {
            coord,
            writes: window.writes,
            since,
        })
    }

    fn check_since(&self, time: Timestamp) -> Result<(), ReplayError> {
        if time < self.since {
            return Err(ReplayError::Query(
                SqlError::new(
                    "22023",
                    format!(
                        "the log was compacted through {}: replay can read from there on, not at {time}",
                        self.since
                    ),
                )
                .with_hint("Keep more history with runnel --retain-history."),
            ));
        }
        Ok(())
    }

    /// The time of the latest write in the log (0 if none).
    pub fn latest(&self) -> Timestamp {
        self.writes.last().map_or(0, |(t, _, _)| *t)
    }

    /// Evaluates `sql` (a query, planned on `database` against the log's final catalog) at
    /// `as_of` (its own `AS OF`, or the latest time). With `changes`, reports instead every
    /// change of the query's result: its contents at `as_of` (default: the start of the log,
    /// time 0 unless it was compacted), then the difference at every later time a write
    /// happened.
    pub fn query(
        &self,
        database: &str,
        sql: &str,
        as_of: Option<Timestamp>,
        changes: bool,
    ) -> Result<Replayed, ReplayError> {
        let plan = self.plan(database, sql)?;
        let as_of = as_of.or(plan.as_of);
        if !changes {
            let time = as_of.unwrap_or_else(|| self.latest());
            self.check_since(time)?;
            let counted = self.evaluate(&plan, &self.tables_at(time), time)?;
            let rows = super::finish(counted, &plan.finishing).map_err(ReplayError::Query)?;
            return Ok(Replayed::Rows {
                desc: plan.desc,
                time,
                rows,
            });
        }
        if !plan.finishing.order.is_empty() || plan.finishing.limit.is_some() {
            return Err(ReplayError::Query(SqlError::unsupported(
                "ORDER BY or LIMIT in a replay of changes",
            )));
        }
        if self.reads_now(&plan.expr) {
            return Err(ReplayError::Query(SqlError::unsupported(
                "a replay of changes of a query with a temporal filter (now()): its rows also \
                 change between writes; replay it at a time instead",
            )));
        }
        let start = as_of.unwrap_or(self.since);
        self.check_since(start)?;
        let mut tables = self.tables_at(start);
        let mut previous = self.evaluate_projected(&plan, &tables, start)?;
        let mut updates: Vec<_> = previous
            .iter()
            .map(|(r, d)| (start, r.clone(), *d))
            .collect();
        let later = self.writes.iter().filter(|(t, _, _)| *t > start);
        let mut later = later.peekable();
        while let Some((time, table, rows)) = later.next() {
            tables.apply(*table, rows);
            if later.peek().is_some_and(|(t, _, _)| t == time) {
                continue;
            }
            let now = self.evaluate_projected(&plan, &tables, *time)?;
            let diff = previous
                .iter()
                .map(|(r, d)| (r.clone(), -d))
                .chain(now.iter().cloned())
                .collect();
            updates.extend(
                crate::ir::eval::consolidate(diff)
                    .into_iter()
                    .map(|(r, d)| (*time, r, d)),
            );
            previous = now;
        }
        Ok(Replayed::Changes {
            desc: plan.desc,
            updates,
        })
    }

    fn plan(&self, database: &str, sql: &str) -> Result<SelectPlan, ReplayError> {
        let session = Session::new("runnel", database);
        let stmt = parse_statement(sql).map_err(ReplayError::Query)?;
        match self.coord.plan(&session, &stmt, &[]) {
            Ok(Plan::Select(plan)) => Ok(plan),
            Ok(_) => Err(ReplayError::Query(SqlError::new(
                "0A000",
                "replay evaluates a query (SELECT, VALUES, TABLE ...)",
            ))),
            Err(e) => Err(ReplayError::Query(e)),
        }
    }

    /// Every table's contents at `time`: all of its writes up to then.
    fn tables_at(&self, time: Timestamp) -> TableStore {
        let mut tables = TableStore::default();
        for (_, table, rows) in self.writes.iter().take_while(|(t, _, _)| *t <= time) {
            tables.apply(*table, rows);
        }
        tables
    }

    /// Whether the query, or a materialized view it reads, mentions now().
    fn reads_now(&self, expr: &crate::ir::RelExpr) -> bool {
        let st = self.coord.lock();
        expr.mentions_now()
            || expr.depends_on().into_iter().any(|id| {
                matches!(st.catalog.get(id).map(|i| &i.kind),
                    Some(crate::catalog::ItemKind::MaterializedView { expr }) if expr.mentions_now())
            })
    }

    /// The query's result over `tables`, before its finishing (ORDER BY, LIMIT, projection).
    fn evaluate(
        &self,
        plan: &SelectPlan,
        tables: &TableStore,
        time: Timestamp,
    ) -> Result<Vec<(Row, Diff)>, ReplayError> {
        let st = self.coord.lock();
        let rows = evaluate_over(&st.catalog, &|id| tables.contents(id), &plan.expr, time)
            .map_err(|e| ReplayError::Query(e.into()))?;
        Ok(crate::ir::eval::consolidate(rows))
    }

    /// The query's result as SUBSCRIBE reports it: only the output columns.
    fn evaluate_projected(
        &self,
        plan: &SelectPlan,
        tables: &TableStore,
        time: Timestamp,
    ) -> Result<Vec<(Row, Diff)>, ReplayError> {
        let project = &plan.finishing.project;
        let rows = self.evaluate(plan, tables, time)?;
        Ok(crate::ir::eval::consolidate(
            rows.into_iter()
                .map(|(r, d)| (project.iter().map(|i| r[*i].clone()).collect(), d))
                .collect(),
        ))
    }
}
