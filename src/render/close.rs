//! `EMIT FINAL`: holding windowed rows back until their window closes.
//!
//! The operator reads updates in time order (a time once the input frontier has passed it),
//! so what is late and when a window closes depend only on the times in the log: a replay or
//! a restart computes the same. All updates go to one worker, because the watermark is the
//! maximum over all of them.
//!
//! At each time `t` with updates: the watermark first follows the clock if the input has been
//! idle; then each update whose window has closed is late (dropped and counted, or passed on
//! at once); the others wait in `pending`; then the watermark moves to the largest event time
//! inserted minus the grace, and every pending window it has passed is released at `t`. An
//! idle input closes windows at the exact time the clock-driven watermark reaches their end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use differential_dataflow::AsCollection;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;

use super::Rows;
use crate::ir::window::{to_micros, CloseSpec, LatePolicy};
use crate::repr::{Diff, Row, Timestamp};

/// Late rows dropped, per dataflow name, since the process started (rehydration counts the
/// log's late rows again, so the figure covers the whole retained log).
static LATE_ROWS: LazyLock<Mutex<BTreeMap<String, Arc<AtomicU64>>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// The late rows each dataflow has dropped.
pub fn late_rows() -> Vec<(String, u64)> {
    let counts = LATE_ROWS.lock().unwrap_or_else(|p| p.into_inner());
    counts
        .iter()
        .map(|(name, n)| (name.clone(), n.load(Ordering::Relaxed)))
        .collect()
}

fn late_counter(dataflow: &str) -> Arc<AtomicU64> {
    let mut counts = LATE_ROWS.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(counts.entry(dataflow.to_string()).or_default())
}

pub(super) fn render<'s>(
    rows: Rows<'s>,
    dataflow: &str,
    event_time: usize,
    window_end: usize,
    spec: CloseSpec,
) -> Rows<'s> {
    let late = late_counter(dataflow);
    let mut builder = OperatorBuilder::new("CloseWindows".to_owned(), rows.inner.scope());
    let mut input = builder.new_input(rows.inner, Exchange::new(|_: &(Row, Timestamp, Diff)| 0u64));
    let (output, stream) = builder.new_output();
    let mut output =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<(Row, Timestamp, Diff)>>>::from(output);
    builder.build(move |_| {
        let mut gate = Gate::new(spec, event_time, window_end, late);
        let mut cap: Option<Capability<Timestamp>> = None;
        move |frontiers| {
            input.for_each_stamp(|c, data| {
                if let Some(c) = c.retain_least(0) {
                    if cap.as_ref().is_none_or(|held| c.time() < held.time()) {
                        cap = Some(c);
                    }
                }
                for (row, t, d) in data.flat_map(|d| d.drain(..)) {
                    gate.stash.entry(t).or_default().push((row, d));
                }
            });
            let frontier = frontiers[0].frontier();
            let complete = |t: Timestamp| !frontier.less_equal(&t);
            let mut released = Vec::new();
            while let Some((&t, _)) = gate.stash.first_key_value() {
                if !complete(t) {
                    break;
                }
                let batch = gate.stash.remove(&t).unwrap_or_default();
                gate.at(t, batch, &mut released);
            }
            // Times before the frontier are complete: an idle input's windows close there.
            let limit = frontier.iter().next().copied().unwrap_or(Timestamp::MAX);
            gate.idle_until(limit, &mut released);
            if let Some(held) = &cap {
                if !released.is_empty() {
                    let mut out = output.activate();
                    let mut session = out.session(held);
                    for (row, t, d) in released {
                        session.give((row, t.max(*held.time()), d));
                    }
                }
            }
            // Hold a capability for the earliest time something may still be released.
            let next = [gate.stash.keys().next().copied(), gate.next_idle_close()]
                .into_iter()
                .flatten()
                .min();
            match (next, &mut cap) {
                (None, _) => cap = None,
                (Some(n), Some(held)) if n > *held.time() => held.downgrade(&n),
                _ => {}
            }
        }
    });
    stream.as_collection()
}

/// The state of `EMIT FINAL` over one windowed input.
struct Gate {
    spec: CloseSpec,
    event_time: usize,
    window_end: usize,
    late: Arc<AtomicU64>,
    /// Updates not yet complete, by time.
    stash: BTreeMap<Timestamp, Vec<(Row, Diff)>>,
    /// Rows of open windows, by window end (microseconds).
    pending: BTreeMap<i64, Vec<(Row, Diff)>>,
    /// The watermark (microseconds), once a row has been seen.
    watermark: Option<i64>,
    /// The time of the last update that inserted rows, and the watermark after it.
    last_data: Option<(Timestamp, i64)>,
}

impl Gate {
    fn new(spec: CloseSpec, event_time: usize, window_end: usize, late: Arc<AtomicU64>) -> Gate {
        Gate {
            spec,
            event_time,
            window_end,
            late,
            stash: BTreeMap::new(),
            pending: BTreeMap::new(),
            watermark: None,
            last_data: None,
        }
    }

    /// A column as microseconds, if it is a time.
    fn micros(row: &Row, col: usize) -> Option<i64> {
        row.get(col).and_then(|d| to_micros(d).ok().flatten())
    }

    /// The updates at time `t`, in order.
    fn at(&mut self, t: Timestamp, batch: Vec<(Row, Diff)>, out: &mut Vec<(Row, Timestamp, Diff)>) {
        self.idle_until(t + 1, out);
        if let Some(w) = self.idle_watermark(t) {
            self.watermark = Some(self.watermark.map_or(w, |o| o.max(w)));
        }
        let mut max_inserted = None;
        for (row, d) in batch {
            let Some(end) = Self::micros(&row, self.window_end) else {
                continue;
            };
            if d > 0 {
                let ev = Self::micros(&row, self.event_time);
                max_inserted = max_inserted.max(ev);
            }
            if self.watermark.is_some_and(|w| end <= w) {
                match self.spec.late {
                    LatePolicy::Drop => {
                        self.late.fetch_add(d.unsigned_abs(), Ordering::Relaxed);
                    }
                    LatePolicy::Update => out.push((row, t, d)),
                }
                continue;
            }
            self.pending.entry(end).or_default().push((row, d));
        }
        if let Some(ev) = max_inserted {
            let w = ev.saturating_sub(self.spec.grace);
            self.watermark = Some(self.watermark.map_or(w, |old| old.max(w)));
            self.last_data = self.watermark.map(|w| (t, w));
        }
        self.release(t, out);
    }

    /// Releases, at `t`, every pending window the watermark has reached.
    fn release(&mut self, t: Timestamp, out: &mut Vec<(Row, Timestamp, Diff)>) {
        let Some(w) = self.watermark else { return };
        let still_open = self.pending.split_off(&(w.saturating_add(1)));
        for (_, rows) in std::mem::replace(&mut self.pending, still_open) {
            out.extend(rows.into_iter().map(|(r, d)| (r, t, d)));
        }
    }

    /// The watermark the clock has driven to by time `t`, if the input has been idle.
    fn idle_watermark(&self, t: Timestamp) -> Option<i64> {
        let idle = self.spec.idle?;
        let (since, w) = self.last_data?;
        let elapsed = (t.saturating_sub(since) as i64).saturating_mul(1000);
        (elapsed > idle).then(|| w.saturating_add(elapsed - idle))
    }

    /// The first time at which the clock-driven watermark closes a pending window.
    fn next_idle_close(&self) -> Option<Timestamp> {
        let idle = self.spec.idle?;
        let (since, w) = self.last_data?;
        let (&end, _) = self.pending.first_key_value()?;
        // w + (t - since) * 1000 - idle >= end, in whole milliseconds after `since`.
        let wait = end.saturating_sub(w).saturating_add(idle).max(1);
        Some(since.saturating_add((wait as u64).div_ceil(1000)))
    }

    /// Closes, at their exact times, the windows the idle clock closes before `limit`.
    fn idle_until(&mut self, limit: Timestamp, out: &mut Vec<(Row, Timestamp, Diff)>) {
        while let Some(t) = self.next_idle_close().filter(|t| *t < limit) {
            if let Some(w) = self.idle_watermark(t) {
                self.watermark = Some(self.watermark.map_or(w, |o| o.max(w)));
            }
            self.release(t, out);
        }
    }
}
