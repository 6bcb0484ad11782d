//! Interval joins of streams with bounded state. Both inputs go to one worker and are taken a
//! time at a time, in order, so what counts as late does not depend on the number of workers.
//! At each time the new rows of each side meet the rows kept of the other (and each other);
//! a row behind the watermark (the largest event time seen before this time, less the grace)
//! is late: dropped and counted. Since no later row is earlier than the watermark, a kept row
//! whose interval lies wholly behind it can meet no later row, and is retired: its pairs stay
//! in the output, the row leaves the state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use differential_dataflow::{AsCollection, VecCollection};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;

use super::close::GateStats;
use super::held::Held;
use super::Rows;
use crate::ir::window::{to_micros, JoinBound};
use crate::ir::{EvalError, ScalarExpr};
use crate::repr::{Datum, Diff, Row, Timestamp};

type Joined = Result<Row, EvalError>;

/// The rows one side keeps: by key for lookups, by retirement time to retire them.
#[derive(Default)]
struct Side {
    by_key: HashMap<Row, Vec<(Row, Diff)>>,
    /// Event time (microseconds) after which the watermark retires the row, to its key.
    retire: BTreeMap<i64, Vec<(Row, Row)>>,
    /// Rows held, with multiplicity.
    rows: u64,
}

impl Side {
    fn insert(&mut self, key: Row, row: Row, diff: Diff, retire_at: i64) {
        self.retire
            .entry(retire_at)
            .or_default()
            .push((key.clone(), row.clone()));
        self.by_key.entry(key).or_default().push((row, diff));
        self.rows += diff.unsigned_abs();
    }

    /// Forgets the rows that retire before `watermark`.
    fn retire_before(&mut self, watermark: i64) {
        while let Some(entry) = self.retire.first_entry() {
            if *entry.key() >= watermark {
                break;
            }
            for (key, row) in entry.remove() {
                if let Some(rows) = self.by_key.get_mut(&key) {
                    if let Some(i) = rows.iter().position(|(r, _)| *r == row) {
                        let (_, diff) = rows.swap_remove(i);
                        self.rows -= diff.unsigned_abs();
                    }
                    if rows.is_empty() {
                        self.by_key.remove(&key);
                    }
                }
            }
        }
    }
}

/// One side's rows new at a time: `(key, row, event time, diff)`.
type Fresh = Vec<(Row, Row, i64, Diff)>;

struct IntervalJoin {
    left_arity: usize,
    keys: (Vec<usize>, Vec<usize>),
    predicates: Vec<ScalarExpr>,
    bound: JoinBound,
    stats: Arc<GateStats>,
    left: Side,
    right: Side,
    /// The largest event time seen, in microseconds.
    max_event: Option<i64>,
}

impl IntervalJoin {
    fn watermark(&self) -> i64 {
        self.max_event
            .map_or(i64::MIN, |m| m.saturating_sub(self.bound.grace))
    }

    /// The rows of one side at one time that are on time, with their keys and event times.
    /// A row whose key or time is NULL can meet no row (SQL's `=` and `BETWEEN`) and is not kept.
    fn fresh(&self, rows: Vec<(Row, Diff)>, left: bool, out: &mut Vec<(Joined, Diff)>) -> Fresh {
        let (keys, time) = match left {
            true => (&self.keys.0, self.bound.left_time),
            false => (&self.keys.1, self.bound.right_time - self.left_arity),
        };
        let watermark = self.watermark();
        let mut fresh = Vec::new();
        for (row, diff) in crate::ir::eval::consolidate(rows) {
            let key: Row = keys.iter().map(|k| row[*k].clone()).collect();
            let at = match to_micros(&row[time]) {
                Ok(Some(at)) => at,
                Ok(None) => continue,
                Err(e) => {
                    out.push((Err(e), diff));
                    continue;
                }
            };
            if at < watermark {
                self.stats.add_late(diff.unsigned_abs());
            } else if !key.iter().any(|k| matches!(k, Datum::Null)) {
                fresh.push((key, row, at, diff));
            }
        }
        fresh
    }

    /// The pairs of `l` and `r` rows that satisfy the predicates.
    fn pair(&self, l: &Row, r: &Row, diff: Diff, out: &mut Vec<(Joined, Diff)>) {
        let mut row = Vec::with_capacity(l.len() + r.len());
        row.extend_from_slice(l);
        row.extend_from_slice(r);
        match super::passes(&self.predicates, &row) {
            Ok(true) => out.push((Ok(row), diff)),
            Ok(false) => {}
            Err(e) => out.push((Err(e), diff)),
        }
    }

    /// Joins one time's rows of both sides, keeps them, and retires what the watermark passed.
    fn at(&mut self, left: Vec<(Row, Diff)>, right: Vec<(Row, Diff)>) -> Vec<(Joined, Diff)> {
        let mut out = Vec::new();
        let fresh_left = self.fresh(left, true, &mut out);
        let fresh_right = self.fresh(right, false, &mut out);
        for (key, l, _, dl) in &fresh_left {
            for (r, dr) in self.right.by_key.get(key).into_iter().flatten() {
                self.pair(l, r, dl * dr, &mut out);
            }
        }
        // This time's left rows by key, for this time's right rows.
        let mut new_left: HashMap<&Row, Vec<(&Row, Diff)>> = HashMap::new();
        for (key, l, _, dl) in &fresh_left {
            new_left.entry(key).or_default().push((l, *dl));
        }
        for (key, r, _, dr) in &fresh_right {
            for (l, dl) in self.left.by_key.get(key).into_iter().flatten() {
                self.pair(l, r, dl * dr, &mut out);
            }
            for (l, dl) in new_left.get(key).into_iter().flatten() {
                self.pair(l, r, dl * dr, &mut out);
            }
        }
        let (lo, hi) = (self.bound.lo, self.bound.hi);
        for (key, row, at, diff) in fresh_left {
            // Later right rows (not before the watermark) meet it while at + hi reaches them.
            self.left.insert(key, row, diff, at.saturating_add(hi));
            self.max_event = self.max_event.max(Some(at));
        }
        for (key, row, at, diff) in fresh_right {
            // Later left rows meet it while their at + lo reaches it: at - lo.
            self.right.insert(key, row, diff, at.saturating_sub(lo));
            self.max_event = self.max_event.max(Some(at));
        }
        let watermark = self.watermark();
        self.left.retire_before(watermark);
        self.right.retire_before(watermark);
        self.stats.set_held(self.left.rows + self.right.rows);
        out
    }
}

/// Renders the interval join of `left` and `right` (rows of `left_arity` and any columns).
#[allow(clippy::too_many_arguments)]
pub(super) fn render<'s>(
    left: Rows<'s>,
    right: Rows<'s>,
    left_arity: usize,
    keys: &[(usize, usize)],
    predicates: Vec<ScalarExpr>,
    bound: JoinBound,
    stats: Arc<GateStats>,
) -> VecCollection<'s, Timestamp, Joined, Diff> {
    let mut builder = OperatorBuilder::new("IntervalJoin".to_owned(), left.inner.scope());
    let one_worker = || Exchange::new(|_: &(Row, Timestamp, Diff)| 0u64);
    let mut left_in = builder.new_input(left.inner, one_worker());
    let mut right_in = builder.new_input(right.inner, one_worker());
    let (output, joined) = builder.new_output();
    let mut output =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<(Joined, Timestamp, Diff)>>>::from(output);
    let mut join = IntervalJoin {
        left_arity,
        keys: (
            keys.iter().map(|(l, _)| *l).collect(),
            keys.iter().map(|(_, r)| *r).collect(),
        ),
        predicates,
        bound,
        stats,
        left: Side::default(),
        right: Side::default(),
        max_event: None,
    };
    builder.build(move |_| {
        // Each time's rows of the left and the right side, until the time is complete.
        let mut stash: BTreeMap<Timestamp, [Vec<(Row, Diff)>; 2]> = BTreeMap::new();
        let mut held = Held::default();
        move |frontiers| {
            for (input, is_left) in [(&mut left_in, true), (&mut right_in, false)] {
                input.for_each_stamp(|c, data| {
                    if let Some(c) = c.retain_least(0) {
                        held.offer(c);
                    }
                    for (row, t, d) in data.flat_map(|d| d.drain(..)) {
                        stash.entry(t).or_default()[usize::from(!is_left)].push((row, d));
                    }
                });
            }
            let complete = |t: &Timestamp| frontiers.iter().all(|f| !f.less_equal(t));
            let mut out = Vec::new();
            while let Some((&t, _)) = stash.first_key_value() {
                if !complete(&t) {
                    break;
                }
                let [l, r] = stash.remove(&t).unwrap_or_default();
                out.extend(join.at(l, r).into_iter().map(|(j, d)| (j, t, d)));
            }
            held.give(&mut output, out);
            held.release_to(stash.keys().next().copied());
        }
    });
    joined.as_collection()
}
