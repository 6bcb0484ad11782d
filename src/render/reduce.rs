//! Rendering a reduction (`GROUP BY` and its aggregates).
//!
//! A reduction's aggregates are split by how they can be maintained, so that one slow kind does
//! not make the others slow:
//!
//! - accumulable ones (`count`, and `sum`/`avg` of integers) ride in the difference type: a
//!   change to a group costs O(1) however large the group is;
//! - the same with `DISTINCT` first keep one copy of each (group, value) pair, then accumulate:
//!   a change still costs O(log n), not a re-read of the group;
//! - the rest (`min`, `max`, `string_agg`, sums of numeric, ...) are a general reduction,
//!   which re-reads the values of a group each time it changes.
//!
//! Each part yields, per group, its aggregates' values; when there is more than one part a
//! last small reduction (one record per part and group) puts them back in the query's order.

use differential_dataflow::operators::{CountTotal, ThresholdTotal};
use differential_dataflow::VecCollection;

use super::accumulate::Accumulable;
use crate::ir::aggregate::aggregate;
use crate::ir::{AggregateExpr, AggregateFunc, EvalError, ScalarExpr};
use crate::repr::{Datum, Diff, Row, ScalarType, Timestamp};

use super::Rows;

/// Group key and argument values (column `i` is aggregate `i`'s argument).
pub type Keyed<'s> = VecCollection<'s, Timestamp, (Row, Row), Diff>;
/// Group key and the group's aggregates, or the error that one of them raised.
pub type Reduced<'s> = VecCollection<'s, Timestamp, (Row, Result<Row, EvalError>), Diff>;

type Kind = (AggregateFunc, bool, ScalarType);
/// One part's values for a group: the part's index, and its aggregates (or an error).
type PartValues = (usize, Result<Row, EvalError>);

/// A set of aggregates maintained together; `aggs` are their indexes in the query, ascending.
#[derive(Debug, PartialEq)]
enum Part {
    Accumulable {
        aggs: Vec<usize>,
    },
    /// Aggregates over the distinct values of the argument in column `aggs[0]` (they all have
    /// the same argument expression).
    Distinct {
        aggs: Vec<usize>,
    },
    General {
        aggs: Vec<usize>,
    },
}

impl Part {
    fn aggs(&self) -> &[usize] {
        match self {
            Part::Accumulable { aggs } | Part::Distinct { aggs } | Part::General { aggs } => aggs,
        }
    }
}

fn accumulable(func: AggregateFunc, typ: ScalarType) -> bool {
    match func {
        AggregateFunc::CountAll | AggregateFunc::Count => true,
        AggregateFunc::Sum | AggregateFunc::Avg => {
            matches!(
                typ,
                ScalarType::Int16 | ScalarType::Int32 | ScalarType::Int64
            )
        }
        _ => false,
    }
}

fn plan(aggregates: &[AggregateExpr], kinds: &[Kind]) -> Vec<Part> {
    let (mut plain, mut general) = (vec![], vec![]);
    let mut distinct: Vec<Vec<usize>> = vec![];
    for (i, &(func, is_distinct, typ)) in kinds.iter().enumerate() {
        if !accumulable(func, typ) {
            general.push(i);
        } else if !is_distinct || func == AggregateFunc::CountAll {
            plain.push(i);
        } else if let Some(same) = distinct
            .iter_mut()
            .find(|d| aggregates[d[0]].expr == aggregates[i].expr)
        {
            same.push(i);
        } else {
            distinct.push(vec![i]);
        }
    }
    let mut parts = vec![];
    // With no aggregates at all (`GROUP BY` alone), the groups are counted, to know which exist.
    if !plain.is_empty() || kinds.is_empty() {
        parts.push(Part::Accumulable { aggs: plain });
    }
    parts.extend(distinct.into_iter().map(|aggs| Part::Distinct { aggs }));
    if !general.is_empty() {
        parts.push(Part::General { aggs: general });
    }
    parts
}

/// Renders the reduction straight from its input `rows` when its aggregates are all accumulable
/// and their arguments are columns or constants (nothing to evaluate, nothing that can fail):
/// each row becomes its group key and partial sums, with no row of argument values between.
/// `None` when the reduction is not of that kind.
pub fn render_direct<'s>(
    rows: Rows<'s>,
    group_key: &[usize],
    aggregates: &[AggregateExpr],
    arg_types: &[ScalarType],
) -> Option<Reduced<'s>> {
    enum Arg {
        Column(usize),
        Constant(Datum),
    }
    let kinds = kinds(aggregates, arg_types);
    let [Part::Accumulable { .. }] = &plan(aggregates, &kinds)[..] else {
        return None;
    };
    let args: Vec<Arg> = aggregates
        .iter()
        .map(|a| match &a.expr {
            ScalarExpr::Column(c) => Some(Arg::Column(*c)),
            ScalarExpr::Literal(d, _) => Some(Arg::Constant(d.clone())),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let group_key = group_key.to_vec();
    let reduced = accumulate(rows, Accumulable::new(&kinds)?, move |acc, row: Row| {
        let accums = acc.accums_with(|i| match &args[i] {
            Arg::Column(c) => &row[*c],
            Arg::Constant(d) => d,
        });
        (super::key_of(&row, &group_key), accums)
    });
    Some(reduced)
}

/// Each record's group key and partial sums (`contribution`), added up per group, and the
/// aggregates' values of each group's totals.
fn accumulate<'s, D, C>(
    input: VecCollection<'s, Timestamp, D, Diff>,
    acc: Accumulable,
    contribution: C,
) -> Reduced<'s>
where
    D: differential_dataflow::Data,
    C: Fn(&Accumulable, D) -> (Row, super::accumulate::Accums) + 'static,
{
    super::accumulate::combine(input, acc.clone(), contribution)
        .count_total_core::<Diff>()
        .map(move |(key, totals)| (key, acc.finish(&totals)))
}

fn kinds(aggregates: &[AggregateExpr], arg_types: &[ScalarType]) -> Vec<Kind> {
    aggregates
        .iter()
        .zip(arg_types)
        .map(|(a, t)| (a.func, a.distinct, *t))
        .collect()
}

/// Renders the aggregates `aggregates` (whose arguments have types `arg_types`) over `keyed`.
pub fn render<'s>(
    keyed: Keyed<'s>,
    aggregates: &[AggregateExpr],
    arg_types: &[ScalarType],
) -> Reduced<'s> {
    let kinds = kinds(aggregates, arg_types);
    let parts = plan(aggregates, &kinds);
    if let [part] = &parts[..] {
        // One part holds every aggregate in the query's order: its output is the answer.
        return render_part(keyed, part, &kinds);
    }
    let n = kinds.len();
    let mut tagged = parts.iter().enumerate().map(|(p, part)| {
        render_part(keyed.clone(), part, &kinds).map(move |(key, aggs)| (key, (p, aggs)))
    });
    let mut all = tagged.next().expect("a reduction has aggregates");
    for more in tagged {
        all = all.concat(more);
    }
    let places: Vec<Vec<usize>> = parts.iter().map(|p| p.aggs().to_vec()).collect();
    all.reduce(
        move |_key: &Row,
              vals: &[(&PartValues, Diff)],
              out: &mut Vec<(Result<Row, EvalError>, Diff)>| {
            out.push((assemble(n, &places, vals), 1));
        },
    )
}

/// Puts the parts' values for one group at their places in the query's order.
fn assemble(
    n: usize,
    places: &[Vec<usize>],
    vals: &[(&PartValues, Diff)],
) -> Result<Row, EvalError> {
    if vals.len() != places.len() || vals.iter().any(|(_, d)| *d != 1) {
        return Err(EvalError::Internal(
            "a group is missing from one of its aggregates' parts".into(),
        ));
    }
    let mut row = vec![Datum::Null; n];
    for ((part, aggs), _) in vals {
        for (value, &place) in aggs
            .as_ref()
            .map_err(Clone::clone)?
            .iter()
            .zip(&places[*part])
        {
            row[place] = value.clone();
        }
    }
    Ok(row)
}

fn render_part<'s>(keyed: Keyed<'s>, part: &Part, kinds: &[Kind]) -> Reduced<'s> {
    let cols = part.aggs().to_vec();
    let mine: Vec<Kind> = cols.iter().map(|&i| kinds[i]).collect();
    match part {
        Part::Accumulable { .. } => {
            let acc =
                Accumulable::new(&mine).expect("the plan puts only accumulable aggregates here");
            let every_column = cols.len() == kinds.len();
            accumulate(keyed, acc, move |acc, (key, vals): (Row, Row)| {
                let accums = if every_column {
                    acc.accums(&vals)
                } else {
                    acc.accums(&super::key_of(&vals, &cols))
                };
                (key, accums)
            })
        }
        Part::Distinct { .. } => {
            // One copy of each (group, value), NULL included so that a group whose values are
            // all NULL still exists; then the aggregates accumulate as if not distinct.
            let plain: Vec<Kind> = mine.iter().map(|&(f, _, t)| (f, false, t)).collect();
            let acc =
                Accumulable::new(&plain).expect("the plan puts only accumulable aggregates here");
            let (col, width) = (cols[0], cols.len());
            let distinct = keyed
                .map(move |(key, vals): (Row, Row)| (key, vals[col].clone()))
                .threshold_total(|_, c: &Diff| Diff::from(*c > 0));
            accumulate(distinct, acc, move |acc, (key, value): (Row, Datum)| {
                (key, acc.accums(&vec![value; width]))
            })
        }
        Part::General { .. } => {
            super::spines::reduce_keyed(keyed, "Reduce", move |_, vals, out| {
                out.push((reduce_group(&cols, &mine, vals), 1));
            })
        }
    }
}

/// Evaluates one group's aggregates `kinds` (whose arguments are columns `cols` of each value
/// row) over the group's values; an error in any aggregate is the group's error.
fn reduce_group(
    cols: &[usize],
    kinds: &[Kind],
    vals: &[(&[Datum], Diff)],
) -> Result<Row, EvalError> {
    cols.iter()
        .zip(kinds)
        .map(|(&col, &(func, distinct, typ))| {
            aggregate(func, distinct, typ, vals.iter().map(|(r, d)| (&r[col], *d)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ScalarExpr;

    fn agg(func: AggregateFunc, col: usize, distinct: bool) -> AggregateExpr {
        AggregateExpr {
            func,
            expr: ScalarExpr::Column(col),
            distinct,
        }
    }

    #[test]
    fn aggregates_split_by_how_they_are_maintained() {
        use AggregateFunc::*;
        let aggs = [
            agg(CountAll, 0, false),
            agg(Count, 1, true),
            agg(Max, 1, false),
            agg(Sum, 1, true),
            agg(Sum, 2, false),
            agg(Count, 2, true),
        ];
        let int = ScalarType::Int32;
        let kinds: Vec<Kind> = aggs.iter().map(|a| (a.func, a.distinct, int)).collect();
        assert_eq!(
            plan(&aggs, &kinds),
            vec![
                Part::Accumulable { aggs: vec![0, 4] },
                Part::Distinct { aggs: vec![1, 3] },
                Part::Distinct { aggs: vec![5] },
                Part::General { aggs: vec![2] },
            ]
        );
        // Sums of numeric are not accumulable, distinct or not.
        let kinds = [(Sum, true, ScalarType::Numeric)];
        assert_eq!(
            plan(&aggs[3..4], &kinds),
            vec![Part::General { aggs: vec![0] }]
        );
    }
}
