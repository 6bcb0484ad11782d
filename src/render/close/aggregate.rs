//! A reduction over `EMIT FINAL`'s gate, done in the gate: each open window holds, per group,
//! the aggregates' argument values (consolidated as they come, so `count(*)` holds one value
//! per group); when the window closes its groups are reduced, their rows passed on, and the
//! window forgotten. A window closes once, and rows for it afterwards are late and dropped, so
//! nothing of it is needed again: the result is what a reduction after the gate computes,
//! without that reduction's arrangement of every closed window's input.
//!
//! Between the gate and the reduction the planner may put row-local steps (`Map`, `Filter`
//! without `now()`, `Project`); they are applied to each row as it is held.

use std::collections::HashMap;

use crate::ir::aggregate::aggregate;
use differential_dataflow::consolidation::consolidate as consolidate_updates;

use crate::ir::window::{CloseSpec, LatePolicy};
use crate::ir::{AggregateExpr, AggregateFunc, EvalError, RelExpr, ScalarExpr};
use crate::repr::{Diff, Row, ScalarType, Timestamp};

use super::Hold;

/// A reduction `Reduce` can do inside the gate below it: the gate's input and settings, and the
/// row-local steps between the gate and the reduction, lowest first.
pub(in crate::render) struct Fusable<'e> {
    pub gate_input: &'e RelExpr,
    pub event_time: usize,
    pub window_end: usize,
    pub spec: &'e CloseSpec,
    steps: Vec<Step>,
}

/// A row-local step between the gate and the reduction.
enum Step {
    Map(Vec<ScalarExpr>),
    Filter(Vec<ScalarExpr>),
    Project(Vec<usize>),
}

impl<'e> Fusable<'e> {
    /// Some when `input` (a reduction's input) is a gate dropping late rows, under row-local
    /// steps only. (`late => 'update'` changes closed windows, whose input must then be kept.)
    pub fn of(input: &'e RelExpr) -> Option<Fusable<'e>> {
        let mut steps = Vec::new();
        let mut at = input;
        loop {
            match at {
                RelExpr::Map { input, scalars } => {
                    steps.push(Step::Map(scalars.clone()));
                    at = input;
                }
                RelExpr::Filter { input, predicates } => {
                    let (_, bounds) = crate::ir::temporal::split(predicates).ok()?;
                    if !bounds.is_empty() {
                        return None;
                    }
                    steps.push(Step::Filter(predicates.clone()));
                    at = input;
                }
                RelExpr::Project { input, outputs } => {
                    steps.push(Step::Project(outputs.clone()));
                    at = input;
                }
                RelExpr::CloseWindows {
                    input,
                    event_time,
                    window_end,
                    spec,
                } if spec.late == LatePolicy::Drop => {
                    steps.reverse();
                    return Some(Fusable {
                        gate_input: input,
                        event_time: *event_time,
                        window_end: *window_end,
                        spec,
                        steps,
                    });
                }
                _ => return None,
            }
        }
    }
}

/// Applies the steps to a row: `Ok(None)` if a filter drops it.
fn apply(steps: &[Step], mut row: Row) -> Result<Option<Row>, EvalError> {
    for step in steps {
        match step {
            Step::Map(scalars) => row = super::super::map_row(scalars, row)?,
            Step::Filter(predicates) => {
                if !super::super::passes(predicates, &row)? {
                    return Ok(None);
                }
            }
            Step::Project(outputs) => row = super::super::key_of(&row, outputs),
        }
    }
    Ok(Some(row))
}

/// The reduction, as a gate's hold: the steps, the grouping and the aggregates.
pub(in crate::render) struct FinalAggregate {
    steps: Vec<Step>,
    group_key: Vec<usize>,
    args: Vec<ScalarExpr>,
    kinds: Vec<(AggregateFunc, bool, ScalarType)>,
}

impl FinalAggregate {
    pub fn new(
        fusable: Fusable,
        group_key: &[usize],
        aggregates: &[AggregateExpr],
        arg_types: &[ScalarType],
    ) -> FinalAggregate {
        FinalAggregate {
            steps: fusable.steps,
            group_key: group_key.to_vec(),
            args: aggregates.iter().map(|a| a.expr.clone()).collect(),
            kinds: aggregates
                .iter()
                .zip(arg_types)
                .map(|(a, t)| (a.func, a.distinct, *t))
                .collect(),
        }
    }

    /// A group's output row: its key, then its aggregates.
    fn reduce(&self, key: Row, values: &[(Row, Diff)]) -> Result<Row, EvalError> {
        let mut row = key;
        for (i, &(func, distinct, typ)) in self.kinds.iter().enumerate() {
            row.push(aggregate(
                func,
                distinct,
                typ,
                values.iter().map(|(v, d)| (&v[i], *d)),
            )?);
        }
        Ok(row)
    }
}

/// An open window's groups, and the errors its rows raised.
#[derive(Default)]
pub(in crate::render) struct Groups {
    groups: HashMap<Row, Values>,
    errors: Vec<(EvalError, Diff)>,
}

/// A group's argument values; consolidated whenever they have doubled since the last time.
#[derive(Default)]
struct Values {
    values: Vec<(Row, Diff)>,
    consolidated: usize,
}

impl Hold for FinalAggregate {
    type Window = Groups;
    type Out = Result<Row, EvalError>;

    fn hold(&self, window: &mut Groups, row: Row, diff: Diff) {
        let row = match apply(&self.steps, row) {
            Ok(None) => return,
            Ok(Some(row)) => row,
            Err(e) => return window.errors.push((e, diff)),
        };
        let args: Result<Row, EvalError> = self.args.iter().map(|a| a.eval(&row)).collect();
        let args = match args {
            Ok(args) => args,
            Err(e) => return window.errors.push((e, diff)),
        };
        let group = window
            .groups
            .entry(super::super::key_of(&row, &self.group_key))
            .or_default();
        group.values.push((args, diff));
        if group.values.len() >= 2 * group.consolidated + 16 {
            consolidate_updates(&mut group.values);
            group.consolidated = group.values.len();
        }
    }

    fn close(&self, window: Groups, t: Timestamp, out: &mut Vec<(Self::Out, Timestamp, Diff)>) {
        for (key, group) in window.groups {
            let mut values = group.values;
            consolidate_updates(&mut values);
            // A group whose rows cancelled out is not there (as in a reduction).
            if !values.is_empty() {
                out.push((self.reduce(key, &values), t, 1));
            }
        }
        let mut errors = window.errors;
        consolidate_updates(&mut errors);
        out.extend(errors.into_iter().map(|(e, d)| (Err(e), t, d)));
    }

    fn late(&self, _row: Row) -> Option<Self::Out> {
        None
    }

    fn size(window: &Groups) -> usize {
        window
            .groups
            .values()
            .map(|g| g.values.len())
            .sum::<usize>()
            + window.errors.len()
    }
}
