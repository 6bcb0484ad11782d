//! Reads: a query's peek at one time (the latest durable write, or its `AS OF`), on an
//! arrangement or a transient dataflow, and the checks on `AS OF` times.

use std::sync::atomic::Ordering;

use super::read::Pending;
use super::{now_ms, Coordinator, ReadFuture, State};
use crate::error::SqlError;
use crate::ir::{eval, RelExpr};
use crate::plan::SelectPlan;
use crate::repr::{GlobalId, Timestamp};
use crate::worker::{Command, PeekTarget};

impl Coordinator {
    /// Checks that `expr` can be read at the past time `t`, and returns the time to read at:
    /// every object it reads existed then and still retains its history there.
    ///
    /// Every write is timed by the wall clock, so a write not yet sequenced will be later than
    /// any `t` before now: the state at such a `t` is that at the latest write sequenced up to
    /// `t`, which is where the read happens (after waiting, if it is not yet durable). A
    /// SELECT AS OF a time still to come is refused (it would wait for the clock); a SUBSCRIBE
    /// may start there.
    pub(super) fn check_as_of(
        &self,
        st: &State,
        expr: &RelExpr,
        t: Timestamp,
        is_select: bool,
    ) -> Result<Timestamp, SqlError> {
        let read_ts = self.read_ts.load(Ordering::SeqCst);
        let now = now_ms();
        if is_select && t >= now && t > st.write_ts {
            return Err(SqlError::new(
                "22023",
                format!("AS OF {t} is in the future: the time is now {now}"),
            ));
        }
        for id in expr.depends_on() {
            let Some(item) = st.catalog.get(id) else {
                continue;
            };
            let since = item
                .created_at
                .max(read_ts.saturating_sub(item.retain_history));
            if t < since {
                let why = if since == item.created_at {
                    "it was created after that time".to_string()
                } else {
                    format!("its history is retained for {} ms", item.retain_history)
                };
                return Err(SqlError::new(
                    "22023",
                    format!(
                        "AS OF {t} is outside the history of {} \"{}\", which can be read from {since} on: {why}",
                        item.kind.type_name(),
                        item.name.item
                    ),
                )
                .with_hint(
                    "Read at a later time, or keep more history with WITH (RETAIN HISTORY = '1 hour') or runnel --retain-history.",
                ));
            }
        }
        Ok(if t < now { t.min(st.write_ts) } else { t })
    }

    pub(super) fn read(&self, st: &State, plan: SelectPlan) -> Result<ReadFuture, SqlError> {
        let SelectPlan {
            expr,
            desc,
            finishing,
            as_of,
        } = plan;
        let mut expr = crate::optimize::optimize(expr);
        if expr.depends_on().is_empty() {
            expr.bind_now(now_ms());
            let result = eval::evaluate(&expr, &|_| vec![]).map_err(SqlError::from);
            return Ok(ReadFuture {
                desc,
                pending: Pending::Ready(result),
                finishing,
            });
        }
        let time = match as_of {
            Some(t) => self.check_as_of(st, &expr, t, true)?,
            None => self.read_ts.load(Ordering::SeqCst),
        };
        // A one-off read happens at one time, and now() is that time.
        expr.bind_now(time);
        if let Some((index, on, values)) = st.catalog.index_lookup(&expr) {
            return Ok(self.peek_workers(
                || PeekTarget::Lookup {
                    index: index.id,
                    on,
                    values: values.clone(),
                },
                time,
                as_of.is_some(),
                desc,
                finishing,
                Some(expr.clone()),
            ));
        }
        let is_arranged = |id: GlobalId| st.catalog.get(id).is_some_and(|i| i.is_arranged());
        if let Some((id, counted)) = expr.counting_read().filter(|(id, _)| is_arranged(*id)) {
            let (exact, then) = (as_of.is_some(), Some(counted));
            let target = || PeekTarget::Count(id);
            return Ok(self.peek_workers(target, time, exact, desc, finishing, then));
        }
        let arranged = match &expr {
            RelExpr::Get { id, .. } => is_arranged(*id),
            _ => false,
        };
        let mut shares = self.stream_shares(st, &expr)?;
        let target = || match &expr {
            RelExpr::Get { id, .. } if arranged => PeekTarget::Arranged(*id),
            e => PeekTarget::Transient(e.clone(), shares.next()),
        };
        Ok(self.peek_workers(target, time, as_of.is_some(), desc, finishing, None))
    }

    /// Sends every worker a peek of its `target` at `time`; `then` finishes the answer.
    fn peek_workers(
        &self,
        mut target: impl FnMut() -> PeekTarget,
        time: Timestamp,
        exact: bool,
        desc: crate::repr::RelationDesc,
        finishing: crate::plan::Finishing,
        then: Option<RelExpr>,
    ) -> ReadFuture {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.workers.broadcast(|| Command::Peek {
            target: target(),
            time,
            exact,
            reply: tx.clone(),
        });
        ReadFuture {
            desc,
            pending: Pending::Workers {
                rx,
                expected: self.workers.len(),
                then,
                failed: self.workers.failed(),
            },
            finishing,
        }
    }
}
