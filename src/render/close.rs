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
//! With a retention, what a closed window passed on is kept (one row per group, for an
//! aggregate) and retracted, at the time the watermark retires the window; rows for a retired
//! window are late whatever the policy.
//!
//! What the gate keeps of an open window is a [`Hold`]: the rows themselves, passed on when the
//! window closes, or (for an aggregate over the gate, [`FinalAggregate`]) each group's argument
//! values, reduced when the window closes. The second leaves nothing of a closed window behind
//! but its output rows, where a reduction after the gate would keep every closed window's input
//! arranged for ever.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::held::Held;
use differential_dataflow::AsCollection;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;

use super::Rows;
use crate::ir::window::{to_micros, CloseSpec, LatePolicy};
use crate::repr::{Diff, Row, Timestamp};

pub(super) use aggregate::{FinalAggregate, Fusable};

mod aggregate;

/// Per dataflow name, what its gates have done and hold: one table per set of workers, shared
/// by the gates of every worker (all rows go to one worker's gate; the others hold nothing).
#[derive(Default)]
pub struct WindowGates(Mutex<BTreeMap<String, Arc<GateStats>>>);

#[derive(Default)]
pub(super) struct GateStats {
    /// Late rows dropped since the process started (rehydration counts the log's late rows
    /// again, so the figure covers the whole retained log).
    late: AtomicU64,
    /// Windows open now.
    open_windows: AtomicU64,
    /// Values held for them: rows, or for an aggregate, distinct argument values per group.
    held: AtomicU64,
}

impl GateStats {
    pub(super) fn add_late(&self, rows: u64) {
        self.late.fetch_add(rows, Ordering::Relaxed);
    }

    pub(super) fn set_held(&self, values: u64) {
        self.held.store(values, Ordering::Relaxed);
    }
}

impl WindowGates {
    /// Per dataflow with an `EMIT FINAL` gate: rows dropped as late, windows open, values held.
    pub fn figures(&self) -> Vec<(String, [u64; 3])> {
        let gates = self.0.lock().unwrap_or_else(|p| p.into_inner());
        gates
            .iter()
            .map(|(name, g)| {
                let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
                (
                    name.clone(),
                    [load(&g.late), load(&g.open_windows), load(&g.held)],
                )
            })
            .collect()
    }

    pub(super) fn stats(&self, dataflow: &str) -> Arc<GateStats> {
        let mut gates = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(gates.entry(dataflow.to_string()).or_default())
    }
}

/// What a gate keeps of an open window's rows, and gives when the window closes.
pub(super) trait Hold: 'static {
    type Window: Default + 'static;
    type Out: differential_dataflow::Data;
    /// Adds an update of one of the window's rows.
    fn hold(&self, window: &mut Self::Window, row: Row, diff: Diff);
    /// The closed window's results, at time `t`.
    fn close(
        &self,
        window: Self::Window,
        t: Timestamp,
        out: &mut Vec<(Self::Out, Timestamp, Diff)>,
    );
    /// What a late row passes on under `late => 'update'` (None: the hold cannot, and the gate
    /// is only built with `late => 'drop'`).
    fn late(&self, row: Row) -> Option<Self::Out>;
    /// How many values the window holds.
    fn size(window: &Self::Window) -> usize;
}

/// The rows themselves, passed on when their window closes.
pub(super) struct KeepRows;

impl Hold for KeepRows {
    type Window = Vec<(Row, Diff)>;
    type Out = Row;
    fn hold(&self, window: &mut Self::Window, row: Row, diff: Diff) {
        window.push((row, diff));
    }
    fn close(&self, window: Self::Window, t: Timestamp, out: &mut Vec<(Row, Timestamp, Diff)>) {
        out.extend(window.into_iter().map(|(r, d)| (r, t, d)));
    }
    fn late(&self, row: Row) -> Option<Row> {
        Some(row)
    }
    fn size(window: &Self::Window) -> usize {
        window.len()
    }
}

pub(super) fn render<'s, H: Hold>(
    rows: Rows<'s>,
    gates: &WindowGates,
    dataflow: &str,
    event_time: usize,
    window_end: usize,
    spec: CloseSpec,
    hold: H,
) -> differential_dataflow::VecCollection<'s, Timestamp, H::Out, Diff> {
    let stats = gates.stats(dataflow);
    let mut builder = OperatorBuilder::new("CloseWindows".to_owned(), rows.inner.scope());
    let mut input = builder.new_input(rows.inner, Exchange::new(|_: &(Row, Timestamp, Diff)| 0u64));
    let (output, stream) = builder.new_output();
    let mut output =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<(H::Out, Timestamp, Diff)>>>::from(output);
    builder.build(move |_| {
        let mut gate = Gate::new(spec, event_time, window_end, stats, hold);
        let mut held = Held::default();
        move |frontiers| {
            input.for_each_stamp(|c, data| {
                if let Some(c) = c.retain_least(0) {
                    held.offer(c);
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
            // (An idle close is released at the time held, which may be after its own.)
            let floor = held.time().unwrap_or_default();
            let released = released
                .into_iter()
                .map(|(row, t, d)| (row, t.max(floor), d));
            held.give(&mut output, released.collect());
            // Hold a capability for the earliest time something may still be released.
            let next = [gate.stash.keys().next().copied(), gate.next_idle_close()]
                .into_iter()
                .flatten()
                .min();
            held.release_to(next);
            gate.report();
        }
    });
    stream.as_collection()
}

/// The state of `EMIT FINAL` over one windowed input.
struct Gate<H: Hold> {
    spec: CloseSpec,
    event_time: usize,
    window_end: usize,
    stats: Arc<GateStats>,
    hold: H,
    /// Updates not yet complete, by time.
    stash: BTreeMap<Timestamp, Vec<(Row, Diff)>>,
    /// What is held of open windows, by window end (microseconds).
    pending: BTreeMap<i64, H::Window>,
    /// With a retention: what closed windows passed on, by window end, to retract when the
    /// window is retired.
    kept: BTreeMap<i64, Vec<(H::Out, Diff)>>,
    /// The watermark (microseconds), once a row has been seen.
    watermark: Option<i64>,
    /// The time of the last update that inserted rows, and the watermark after it.
    last_data: Option<(Timestamp, i64)>,
    /// The open windows and held values last added to `stats`.
    reported: (u64, u64),
}

impl<H: Hold> Drop for Gate<H> {
    fn drop(&mut self) {
        self.stats
            .open_windows
            .fetch_sub(self.reported.0, Ordering::Relaxed);
        self.stats
            .held
            .fetch_sub(self.reported.1, Ordering::Relaxed);
    }
}

impl<H: Hold> Gate<H> {
    fn new(
        spec: CloseSpec,
        event_time: usize,
        window_end: usize,
        stats: Arc<GateStats>,
        hold: H,
    ) -> Gate<H> {
        Gate {
            spec,
            event_time,
            window_end,
            stats,
            hold,
            stash: BTreeMap::new(),
            pending: BTreeMap::new(),
            kept: BTreeMap::new(),
            watermark: None,
            last_data: None,
            reported: (0, 0),
        }
    }

    /// Brings the shared figures up to date with what this gate holds.
    fn report(&mut self) {
        let open = self.pending.len() as u64;
        let held = self.pending.values().map(H::size).sum::<usize>() as u64
            + self.stash.values().map(Vec::len).sum::<usize>() as u64;
        let (old_open, old_held) = std::mem::replace(&mut self.reported, (open, held));
        self.stats.open_windows.fetch_add(open, Ordering::Relaxed);
        self.stats
            .open_windows
            .fetch_sub(old_open, Ordering::Relaxed);
        self.stats.held.fetch_add(held, Ordering::Relaxed);
        self.stats.held.fetch_sub(old_held, Ordering::Relaxed);
    }

    /// A column as microseconds, if it is a time.
    fn micros(row: &Row, col: usize) -> Option<i64> {
        row.get(col).and_then(|d| to_micros(d).ok().flatten())
    }

    /// The updates at time `t`, in order.
    fn at(
        &mut self,
        t: Timestamp,
        batch: Vec<(Row, Diff)>,
        out: &mut Vec<(H::Out, Timestamp, Diff)>,
    ) {
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
                let passed = match self.spec.late {
                    _ if self.retired(end) => None,
                    LatePolicy::Drop => None,
                    LatePolicy::Update => self.hold.late(row),
                };
                match passed {
                    Some(late) => {
                        if self.spec.retention.is_some() {
                            self.kept.entry(end).or_default().push((late.clone(), d));
                        }
                        out.push((late, t, d))
                    }
                    None => {
                        self.stats
                            .late
                            .fetch_add(d.unsigned_abs(), Ordering::Relaxed);
                    }
                }
                continue;
            }
            self.hold.hold(self.pending.entry(end).or_default(), row, d);
        }
        if let Some(ev) = max_inserted {
            let w = ev.saturating_sub(self.spec.grace);
            self.watermark = Some(self.watermark.map_or(w, |old| old.max(w)));
            self.last_data = self.watermark.map(|w| (t, w));
        }
        self.release(t, out);
    }

    /// Releases, at `t`, every pending window the watermark has reached.
    fn release(&mut self, t: Timestamp, out: &mut Vec<(H::Out, Timestamp, Diff)>) {
        let Some(w) = self.watermark else { return };
        let still_open = self.pending.split_off(&(w.saturating_add(1)));
        for (end, window) in std::mem::replace(&mut self.pending, still_open) {
            let from = out.len();
            self.hold.close(window, t, out);
            if self.spec.retention.is_some() {
                let passed = out[from..].iter().map(|(o, _, d)| (o.clone(), *d));
                self.kept.entry(end).or_default().extend(passed);
            }
        }
        self.retire(t, out);
    }

    /// The event time the watermark stands for: the largest seen (or driven by the clock).
    fn stream_time(&self) -> Option<i64> {
        self.watermark.map(|w| w.saturating_add(self.spec.grace))
    }

    /// Whether the window ending at `end` has been retired (its results retracted).
    fn retired(&self, end: i64) -> bool {
        match (self.spec.retention, self.stream_time()) {
            (Some(r), Some(now)) => end.saturating_add(r) <= now,
            _ => false,
        }
    }

    /// Retracts, at `t`, what every window the retention has retired passed on.
    fn retire(&mut self, t: Timestamp, out: &mut Vec<(H::Out, Timestamp, Diff)>) {
        let (Some(r), Some(now)) = (self.spec.retention, self.stream_time()) else {
            return;
        };
        let kept = self
            .kept
            .split_off(&(now.saturating_sub(r).saturating_add(1)));
        for (_, passed) in std::mem::replace(&mut self.kept, kept) {
            out.extend(passed.into_iter().map(|(o, d)| (o, t, -d)));
        }
    }

    /// The watermark the clock has driven to by time `t`, if the input has been idle.
    fn idle_watermark(&self, t: Timestamp) -> Option<i64> {
        let idle = self.spec.idle?;
        let (since, w) = self.last_data?;
        let elapsed = (t.saturating_sub(since) as i64).saturating_mul(1000);
        (elapsed > idle).then(|| w.saturating_add(elapsed - idle))
    }

    /// The first time at which the clock-driven watermark closes a pending window or retires
    /// a closed one.
    fn next_idle_close(&self) -> Option<Timestamp> {
        let idle = self.spec.idle?;
        let (since, w) = self.last_data?;
        let close = self.pending.first_key_value().map(|(end, _)| *end);
        let retire = self.spec.retention.and_then(|r| {
            let (end, _) = self.kept.first_key_value()?;
            Some(end.saturating_add(r).saturating_sub(self.spec.grace))
        });
        let end = close.into_iter().chain(retire).min()?;
        // w + (t - since) * 1000 - idle >= end, in whole milliseconds after `since`.
        let wait = end.saturating_sub(w).saturating_add(idle).max(1);
        Some(since.saturating_add((wait as u64).div_ceil(1000)))
    }

    /// Closes, at their exact times, the windows the idle clock closes before `limit`.
    fn idle_until(&mut self, limit: Timestamp, out: &mut Vec<(H::Out, Timestamp, Diff)>) {
        while let Some(t) = self.next_idle_close().filter(|t| *t < limit) {
            if let Some(w) = self.idle_watermark(t) {
                self.watermark = Some(self.watermark.map_or(w, |o| o.max(w)));
            }
            self.release(t, out);
        }
    }
}
