//! Streams: `APPEND ONLY` tables, whose rows are kept in the log and nowhere else. No worker
//! arranges them and the coordinator holds none of their rows, so memory does not grow with
//! the events; each dataflow that reads one (a materialized view, a `SELECT`, a subscription,
//! a sink) is given the log's appends when it is built, then every later write.

use std::collections::BTreeSet;

use super::{Coordinator, State};
use crate::catalog::{Catalog, ItemKind};
use crate::error::SqlError;
use crate::ir::RelExpr;
use crate::repr::{Diff, GlobalId, Row, Timestamp};
use crate::storage::log::Appended;
use crate::worker::{Command, StreamRows};

/// Each worker's share of the streams a new dataflow reads, handed out one per command.
pub(super) struct Shares(Vec<StreamRows>);

impl Shares {
    /// The next worker's share (one per worker, handed out in any order).
    pub(super) fn next(&mut self) -> StreamRows {
        self.0.pop().unwrap_or_default()
    }
}

/// The streams `expr` reads directly (materialized views read their own inputs).
fn streams_read(catalog: &Catalog, expr: &RelExpr) -> BTreeSet<GlobalId> {
    expr.depends_on()
        .into_iter()
        .filter(|id| catalog.is_stream(*id))
        .collect()
}

/// The streams `expr` reads, also through the materialized views it reads: what the reference
/// evaluator needs.
fn streams_read_through_views(catalog: &Catalog, expr: &RelExpr) -> BTreeSet<GlobalId> {
    let mut out = streams_read(catalog, expr);
    for id in expr.depends_on() {
        if let Some(ItemKind::MaterializedView { expr }) = catalog.get(id).map(|i| &i.kind) {
            out.extend(streams_read_through_views(catalog, expr));
        }
    }
    out
}

impl Coordinator {
    /// Installs a table or source just put in the catalog: a stream in the workers (rows
    /// kept only in the log), or a table in the workers and the coordinator.
    pub(super) fn install_relation(&self, st: &mut State, id: GlobalId, retain: Timestamp) {
        if st.catalog.is_stream(id) {
            self.broadcast(st, || Command::CreateStream { id });
        } else {
            st.tables.create(id);
            self.broadcast(st, || Command::CreateTable { id, retain });
        }
    }

    /// Every row appended to `streams` so far. First waits until every append sequenced
    /// before is durable and handed to the workers: called in the critical section (no new
    /// write can be sequenced meanwhile), so a dataflow built next gets exactly these rows
    /// from the log and every later one as a write.
    fn appended(&self, st: &State, streams: &BTreeSet<GlobalId>) -> Result<Appended, SqlError> {
        if streams.is_empty() || st.replaying {
            return Ok(Appended::new());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.log.after_pending(move || {
            let _ = tx.send(());
        });
        rx.recv()
            .map_err(|_| SqlError::internal("the log writer stopped"))?;
        self.log.read_appends(streams).map_err(|e| {
            tracing::error!("cannot read streams' rows from the log: {e}");
            SqlError::new("58030", format!("cannot read the log: {e}"))
        })
    }

    /// Each worker's share of what the streams `expr` reads hold, for a dataflow about to be
    /// built on every worker.
    pub(super) fn stream_shares(&self, st: &State, expr: &RelExpr) -> Result<Shares, SqlError> {
        let streams = streams_read(&st.catalog, expr);
        let n = self.workers.len().max(1);
        let mut shares: Vec<StreamRows> = (0..n).map(|_| StreamRows::new()).collect();
        for (id, rows) in self.appended(st, &streams)? {
            let per = rows.len().div_ceil(n).max(1);
            let mut rows = rows.into_iter();
            for share in shares.iter_mut() {
                share.insert(id, rows.by_ref().take(per).collect());
            }
        }
        Ok(Shares(shares))
    }

    /// Each stream's contents (consolidated) that `expr` reads, also through materialized
    /// views: for the reference evaluator (INSERT ... SELECT, UPDATE with a subquery).
    pub(super) fn stream_contents(
        &self,
        st: &State,
        expr: &RelExpr,
    ) -> Result<std::collections::HashMap<GlobalId, Vec<(Row, Diff)>>, SqlError> {
        let streams = streams_read_through_views(&st.catalog, expr);
        Ok(self
            .appended(st, &streams)?
            .into_iter()
            .map(|(id, rows)| {
                let rows = rows.into_iter().map(|(r, _, d)| (r, d)).collect();
                (id, crate::ir::eval::consolidate(rows))
            })
            .collect())
    }
}
