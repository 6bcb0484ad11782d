//! Accumulable aggregates: `count(*)`, `count(x)`, and `sum`/`avg` of integers.
//!
//! These are sums, so they ride in the difference type: every input row becomes its group key
//! with a vector of partial sums as its "multiplicity", and differential adds the vectors up as
//! it consolidates. A group is then one record however many rows it has, and a change costs
//! O(1) work instead of re-reading every value of the group (what a general reduction does).
//! Integer sums accumulate in wrapping `i128` arithmetic, which is exactly invertible, so
//! retractions undo insertions bit for bit; the total is correct whenever it fits, and it is
//! range-checked when the group's result is produced.

use std::collections::BTreeMap;
use std::num::Wrapping;

use differential_dataflow::difference::{Abelian, IsZero, Monoid, Multiply, Semigroup};
use differential_dataflow::{AsCollection, VecCollection};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;

use crate::ir::aggregate::exact_sum;
use crate::ir::{AggregateFunc, EvalError};
use crate::repr::{Datum, Diff, Row, ScalarType, Timestamp};

/// Partial sums of one group: `[rows, then for each aggregate: non-null count, sum]`. Held
/// inline up to two aggregates: every input row makes one, and an allocation each was a tenth
/// of the time of a `count`/`sum` view.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Accums(SmallVec<[Wrapping<i128>; 5]>);

impl IsZero for Accums {
    fn is_zero(&self) -> bool {
        self.0.iter().all(|x| x.0 == 0)
    }
}

impl Semigroup for Accums {
    fn plus_equals(&mut self, rhs: &Self) {
        if self.0.len() < rhs.0.len() {
            self.0.resize(rhs.0.len(), Wrapping(0));
        }
        for (a, b) in self.0.iter_mut().zip(&rhs.0) {
            *a += b;
        }
    }
}

impl Monoid for Accums {
    fn zero() -> Self {
        Accums(SmallVec::new())
    }
}

impl Abelian for Accums {
    fn negate(&mut self) {
        for a in &mut self.0 {
            *a = -*a;
        }
    }
}

impl Multiply<Diff> for Accums {
    type Output = Accums;
    fn multiply(mut self, rhs: &Diff) -> Accums {
        for a in &mut self.0 {
            *a *= Wrapping(*rhs as i128);
        }
        self
    }
}

/// A reduction whose aggregates are all accumulable; column `i` of an argument row is
/// aggregate `i`'s argument.
#[derive(Clone)]
pub struct Accumulable {
    aggs: Vec<(AggregateFunc, ScalarType)>,
}

impl Accumulable {
    /// The plan for these aggregates, if every one of them is accumulable.
    pub fn new(aggs: &[(AggregateFunc, bool, ScalarType)]) -> Option<Accumulable> {
        let ok = aggs.iter().all(|(func, distinct, typ)| {
            !distinct
                && match func {
                    AggregateFunc::CountAll | AggregateFunc::Count => true,
                    AggregateFunc::Sum | AggregateFunc::Avg => matches!(
                        typ,
                        ScalarType::Int16 | ScalarType::Int32 | ScalarType::Int64
                    ),
                    _ => false,
                }
        });
        ok.then(|| Accumulable {
            aggs: aggs.iter().map(|(f, _, t)| (*f, *t)).collect(),
        })
    }

    /// One row's contribution.
    pub fn accums(&self, args: &[Datum]) -> Accums {
        self.accums_with(|i| &args[i])
    }

    /// One row's contribution, aggregate `i`'s argument being `arg(i)`.
    pub fn accums_with<'a>(&self, arg: impl Fn(usize) -> &'a Datum) -> Accums {
        let mut v = SmallVec::with_capacity(1 + 2 * self.aggs.len());
        v.push(Wrapping(1));
        for (i, _) in self.aggs.iter().enumerate() {
            let arg = arg(i);
            v.push(Wrapping(i128::from(!arg.is_null())));
            v.push(Wrapping(arg.as_i64().map(i128::from).unwrap_or(0)));
        }
        Accums(v)
    }

    /// The aggregates' values for a group with these totals (the same values the general
    /// reduction computes, through the same functions).
    pub fn finish(&self, acc: &Accums) -> Result<Row, EvalError> {
        let at = |i: usize| acc.0.get(i).map(|w| w.0).unwrap_or(0);
        let rows = at(0);
        if rows <= 0 {
            return Err(EvalError::Internal(
                "negative multiplicity in an aggregate's input".into(),
            ));
        }
        let as_count =
            |n: i128| i64::try_from(n).map_err(|_| EvalError::OutOfRange("bigint".into()));
        self.aggs
            .iter()
            .enumerate()
            .map(|(i, (func, typ))| {
                let (nonnull, sum) = (at(1 + 2 * i), at(2 + 2 * i));
                match func {
                    AggregateFunc::CountAll => Ok(Datum::Int64(as_count(rows)?)),
                    AggregateFunc::Count => Ok(Datum::Int64(as_count(nonnull)?)),
                    _ if nonnull == 0 => Ok(Datum::Null),
                    _ => {
                        let s = Decimal::try_from_i128_with_scale(sum, 0)
                            .map_err(|_| EvalError::OutOfRange("numeric".into()))?;
                        exact_sum(*func, *typ, s, as_count(nonnull)?)
                    }
                }
            })
            .collect()
    }
}

/// Adds up this worker's contributions per time and group before they are exchanged: a batch
/// of rows over few groups leaves the worker as one record per group, so the exchange and the
/// arrangement that totals the groups see far fewer records. (A table's batch of 10,000 rows
/// over 1,000 groups became 10,000 records to sort and merge; now at most 1,000 per worker.)
/// Sums wait until the input frontier passes their time: the arrangement downstream could not
/// have totalled them earlier either.
pub fn combine<'s, D, C>(
    input: VecCollection<'s, Timestamp, D, Diff>,
    acc: Accumulable,
    contribution: C,
) -> VecCollection<'s, Timestamp, Row, Accums>
where
    D: differential_dataflow::Data,
    C: Fn(&Accumulable, D) -> (Row, Accums) + 'static,
{
    type Sums = foldhash::HashMap<Row, Accums>;
    type Out = CapacityContainerBuilder<Vec<(Row, Timestamp, Accums)>>;
    let combined = input
        .inner
        .unary_frontier::<Out, _, _, _>(Pipeline, "Combine", move |_, _| {
            let mut pending: BTreeMap<Timestamp, (Capability<Timestamp>, Sums)> = BTreeMap::new();
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    for (d, time, diff) in data.drain(..) {
                        let (_, sums) = pending
                            .entry(time)
                            .or_insert_with(|| (cap.delayed(&time, 0), Sums::default()));
                        let (key, accums) = contribution(&acc, d);
                        let accums = accums.multiply(&diff);
                        match sums.get_mut(&key) {
                            Some(total) => total.plus_equals(&accums),
                            None => {
                                sums.insert(key, accums);
                            }
                        }
                    }
                });
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let (time, (cap, sums)) = entry.remove_entry();
                    let mut session = output.session_with_builder(&cap);
                    for (key, total) in sums {
                        if !total.is_zero() {
                            session.give((key, time, total));
                        }
                    }
                }
            }
        });
    combined.as_collection()
}
