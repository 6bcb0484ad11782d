//! Answers in flight: the rows of a read being gathered from the workers, and the changes of a
//! subscription. Sessions await these outside the coordinator's lock.

use std::sync::Arc;

use super::Coordinator;
use crate::error::SqlError;
use crate::ir::func::compare_for_order;
use crate::plan::Finishing;
use crate::repr::{Diff, RelationDesc, Row};
use crate::worker::{PeekResult, SubscribeBatch};

pub struct ReadFuture {
    pub desc: RelationDesc,
    pub(super) pending: Pending,
    pub(super) finishing: Finishing,
}

pub(super) enum Pending {
    Ready(Result<Vec<(Row, Diff)>, SqlError>),
    Workers {
        rx: tokio::sync::mpsc::UnboundedReceiver<PeekResult>,
        expected: usize,
        /// The plan to finish the answer with, over the rows the workers looked up in an
        /// index (they read only what the plan reads, and the plan needs the whole of it), or
        /// over the row count they sent for a plan that only counts.
        then: Option<crate::ir::RelExpr>,
        failed: tokio::sync::watch::Receiver<bool>,
    },
    Hydration(super::hydration::HydrationRequest),
}

impl ReadFuture {
    /// The rows of the answer, in order, with ORDER BY / LIMIT / OFFSET applied.
    pub async fn rows(self) -> Result<Vec<Row>, SqlError> {
        let counted = match self.pending {
            Pending::Ready(r) => r?,
            Pending::Workers {
                mut rx,
                expected,
                then,
                failed,
            } => {
                let mut all = Vec::new();
                for _ in 0..expected {
                    let reply = tokio::select! {
                        reply = rx.recv() => reply,
                        () = super::workers::failure(failed.clone()) => None,
                    };
                    match reply {
                        Some(Ok(rows)) => all.extend(rows),
                        Some(Err(e)) => return Err(e.into()),
                        None => return Err(worker_died()),
                    }
                }
                match then {
                    Some(plan) => crate::ir::eval::evaluate(&plan, &|_| all.clone())?,
                    None => all,
                }
            }
            Pending::Hydration(request) => super::hydration::rows(request).await?,
        };
        finish(counted, &self.finishing)
    }
}

/// The error of a read or subscription whose workers died under it.
fn worker_died() -> SqlError {
    SqlError::internal("a dataflow worker died during the read (a bug; the server log says more)")
        .with_hint("Restart runnel: it loses nothing acknowledged (every write is in the log).")
}

/// Expands multiplicities and applies the finishing.
pub fn finish(counted: Vec<(Row, Diff)>, finishing: &Finishing) -> Result<Vec<Row>, SqlError> {
    let counted = crate::ir::eval::consolidate(counted);
    if let Some((row, d)) = counted.iter().find(|(_, d)| *d < 0) {
        return Err(SqlError::internal(format!(
            "negative multiplicity {d} for row {row:?}"
        )));
    }
    let mut rows: Vec<Row> = Vec::new();
    for (row, d) in counted {
        for _ in 0..d {
            rows.push(row.clone());
        }
    }
    if !finishing.order.is_empty() {
        rows.sort_by(|a, b| {
            finishing
                .order
                .iter()
                .map(|o| compare_for_order(&a[o.column], &b[o.column], o.desc, o.nulls_last))
                .find(|c| c.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    let rows = rows
        .into_iter()
        .skip(finishing.offset)
        .take(finishing.limit.unwrap_or(usize::MAX));
    Ok(rows
        .map(|r| finishing.project.iter().map(|i| r[*i].clone()).collect())
        .collect())
}

/// A running subscription. Dropping it stops the dataflow.
pub struct Subscription {
    pub desc: RelationDesc,
    pub id: u64,
    pub progress: bool,
    pub(super) rx:
        tokio::sync::mpsc::UnboundedReceiver<Result<SubscribeBatch, crate::ir::EvalError>>,
    pub(super) coord: Arc<Coordinator>,
}

impl Subscription {
    /// The next batch of changes; `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<Result<SubscribeBatch, SqlError>> {
        tokio::select! {
            batch = self.rx.recv() => batch.map(|r| r.map_err(SqlError::from)),
            () = super::workers::failure(self.coord.workers.failed()) => Some(Err(worker_died())),
        }
    }

    /// The next batch if one is there (for threads outside the async runtime).
    pub fn try_next(&mut self) -> Option<Result<SubscribeBatch, SqlError>> {
        match self.rx.try_recv() {
            Ok(batch) => Some(batch.map_err(SqlError::from)),
            Err(_) if *self.coord.workers.failed().borrow() => Some(Err(worker_died())),
            Err(_) => None,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.coord.drop_subscribe(self.id);
    }
}
