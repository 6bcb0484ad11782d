//! Subscriptions: a dataflow whose changes are gathered on worker 0 and sent, one complete time
//! at a time, to the session that asked.

use std::collections::BTreeMap;

use differential_dataflow::consolidation::consolidate_updates;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Exchange;
use timely::worker::Worker;

use super::{build, State};
use crate::ir::{EvalError, RelExpr};
use crate::repr::{Diff, Row, Timestamp};

/// The changes at every time before `upper`, in time order.
#[derive(Debug, Default)]
pub struct SubscribeBatch {
    pub updates: Vec<(Timestamp, Row, Diff)>,
    /// All times before this are complete. `Timestamp::MAX` means the subscription has ended.
    pub upper: Timestamp,
}

/// A change waiting for its time to complete: the row (or error), its time and diff.
type Update = (Result<Row, EvalError>, Timestamp, Diff);

pub type SubscribeReply = tokio::sync::mpsc::UnboundedSender<Result<SubscribeBatch, EvalError>>;

#[allow(clippy::too_many_arguments)] // the fields of `Command::Subscribe`
pub fn start(
    worker: &mut Worker,
    state: &mut State,
    id: u64,
    expr: RelExpr,
    as_of: Timestamp,
    snapshot: bool,
    streams: super::StreamRows,
    reply: SubscribeReply,
) {
    if let Err(e) = super::check_readable(state, expr.depends_on(), as_of) {
        let _ = reply.send(Err(e));
        return;
    }
    let dataflow = worker.next_dataflow_index();
    let leader = worker.index() == 0;
    build(
        worker,
        state,
        &format!("subscribe {id}"),
        &expr,
        leader,
        streams,
        move |rows, errs| {
            let results = rows.map(Ok).concat(errs.map(Err));
            let mut pending: BTreeMap<Timestamp, Vec<Update>> = BTreeMap::new();
            let mut reported = as_of;
            results
                .inner
                .exchange(|_| 0)
                .sink(Pipeline, "Subscribe", move |(input, frontier)| {
                    input.for_each(|_cap, data| {
                        for (r, t, d) in data.drain(..) {
                            // History before `as_of` is reported as of `as_of`: the snapshot.
                            let t = t.max(as_of);
                            pending.entry(t).or_default().push((r, t, d));
                        }
                    });
                    if !leader {
                        return;
                    }
                    let upper = frontier
                        .frontier()
                        .first()
                        .copied()
                        .unwrap_or(Timestamp::MAX);
                    if upper <= reported {
                        return;
                    }
                    let mut batch = SubscribeBatch {
                        updates: Vec::new(),
                        upper,
                    };
                    let ready: Vec<Timestamp> = pending.range(..upper).map(|(t, _)| *t).collect();
                    for t in ready {
                        let mut ups = pending.remove(&t).unwrap_or_default();
                        consolidate_updates(&mut ups);
                        if t == as_of && !snapshot {
                            continue;
                        }
                        for (r, t, d) in ups {
                            match r {
                                Ok(row) => batch.updates.push((t, row, d)),
                                Err(e) if d > 0 => {
                                    let _ = reply.send(Err(e));
                                    return;
                                }
                                Err(_) => {}
                            }
                        }
                    }
                    reported = upper;
                    let _ = reply.send(Ok(batch));
                });
        },
    );
    state.subscribes.insert(id, dataflow);
}
