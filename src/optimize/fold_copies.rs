//! `fold_copies`: folds the columns a `Map` merely copies (or sets to a constant) into the
//! `Project` or `Reduce` that reads them.
//!
//! The planner lays a query out as a `Map` computing every output expression, plain column
//! references included, under a `Project` keeping the computed columns; a reduction's group key
//! and arguments are columns a `Map` appended. Rendered as written, each record is copied into a
//! wider row and then cut down again. This rule points the consumer at the original columns
//! instead, drops the copies, and fuses and removes projections that then do nothing. Scalars
//! that compute something are all kept (one could raise an error the query must report), so
//! the rewrite never changes what a plan computes, only how many columns it carries.

use crate::ir::{RelExpr, ScalarExpr};

pub fn apply(mut expr: RelExpr) -> RelExpr {
    for c in expr.children_mut() {
        let child = std::mem::replace(c, RelExpr::unit());
        *c = apply(child);
    }
    fold(expr)
}

fn fold(expr: RelExpr) -> RelExpr {
    match expr {
        RelExpr::Project { input, outputs } => project(*input, outputs),
        RelExpr::Reduce {
            input,
            mut group_key,
            mut aggregates,
        } => {
            let RelExpr::Map { input, scalars } = *input else {
                return RelExpr::Reduce {
                    input,
                    group_key,
                    aggregates,
                };
            };
            let map = Copies::of(input.arity(), &scalars);
            // Constants go into the aggregates' arguments (`count(*)` counts a NULL constant).
            for a in &mut aggregates {
                a.expr.visit_mut(&mut |e| {
                    if let ScalarExpr::Column(c) = e {
                        if let Some(lit) = map.constant(*c, &scalars) {
                            *e = lit.clone();
                        }
                    }
                });
            }
            let mut used = group_key.clone();
            for a in &aggregates {
                used.extend(a.expr.support());
            }
            let (input, new_col) = map.rebuild(*input, scalars, &used);
            for k in &mut group_key {
                *k = new_col[*k];
            }
            for a in &mut aggregates {
                a.expr.permute(&|c| new_col[c]);
            }
            RelExpr::Reduce {
                input: Box::new(input),
                group_key,
                aggregates,
            }
        }
        other => other,
    }
}

/// `Project` over `input`, fused with a `Project` or the copies of a `Map` below it, or nothing
/// at all when it keeps every column in order.
fn project(input: RelExpr, outputs: Vec<usize>) -> RelExpr {
    match input {
        RelExpr::Project {
            input,
            outputs: first,
        } => project(*input, outputs.iter().map(|c| first[*c]).collect()),
        RelExpr::Map { input, scalars } => {
            let map = Copies::of(input.arity(), &scalars);
            let (input, new_col) = map.rebuild(*input, scalars, &outputs);
            let outputs = outputs.iter().map(|c| new_col[*c]).collect();
            input.project(outputs)
        }
        input => input.project(outputs),
    }
}

/// Which columns of a `Map`'s output are copies of other columns, and which are constants.
struct Copies {
    input_arity: usize,
    /// For each output column, the column it copies (following chains of copies to a column of
    /// the input or one the `Map` computes); computed and constant columns are their own.
    canonical: Vec<usize>,
}

impl Copies {
    fn of(input_arity: usize, scalars: &[ScalarExpr]) -> Copies {
        let mut canonical: Vec<usize> = (0..input_arity).collect();
        for (j, s) in scalars.iter().enumerate() {
            let c = match s {
                ScalarExpr::Column(c) => canonical[*c],
                _ => input_arity + j,
            };
            canonical.push(c);
        }
        Copies {
            input_arity,
            canonical,
        }
    }

    /// The constant column `c` holds, if it holds one.
    fn constant<'a>(&self, c: usize, scalars: &'a [ScalarExpr]) -> Option<&'a ScalarExpr> {
        let c = self.canonical[c];
        (c >= self.input_arity)
            .then(|| &scalars[c - self.input_arity])
            .filter(|s| matches!(s, ScalarExpr::Literal(..)))
    }

    /// The `Map` with only the scalars that compute something, and the constants that `used`
    /// (columns of the old output) reads; with where each old column's value now is. Columns
    /// that are gone map to `usize::MAX` (nothing reads them).
    fn rebuild(
        &self,
        input: RelExpr,
        scalars: Vec<ScalarExpr>,
        used: &[usize],
    ) -> (RelExpr, Vec<usize>) {
        let n = self.input_arity;
        let keep: Vec<bool> = scalars
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let own = self.canonical[n + j] == n + j;
                let constant_read = used.iter().any(|u| self.canonical[*u] == n + j);
                own && (!matches!(s, ScalarExpr::Literal(..)) || constant_read)
            })
            .collect();
        let mut position = vec![usize::MAX; n + scalars.len()];
        let mut next = n;
        for (c, p) in position.iter_mut().enumerate().take(n) {
            *p = c;
        }
        for j in 0..scalars.len() {
            if keep[j] {
                position[n + j] = next;
                next += 1;
            }
        }
        let new_col: Vec<usize> = self.canonical.iter().map(|c| position[*c]).collect();
        let kept: Vec<ScalarExpr> = scalars
            .into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(mut s, _)| {
                s.permute(&|c| new_col[c]);
                s
            })
            .collect();
        let expr = if kept.is_empty() {
            input
        } else {
            RelExpr::Map {
                input: Box::new(input),
                scalars: kept,
            }
        };
        (expr, new_col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{AggregateExpr, AggregateFunc};
    use crate::repr::{ColumnType, GlobalId, ScalarType};

    fn table(arity: usize) -> RelExpr {
        RelExpr::Get {
            id: GlobalId(1),
            name: "t".into(),
            types: vec![ColumnType::new(ScalarType::Int32, true); arity],
        }
    }

    fn map(input: RelExpr, scalars: Vec<ScalarExpr>) -> RelExpr {
        RelExpr::Map {
            input: Box::new(input),
            scalars,
        }
    }

    #[test]
    fn copies_under_a_projection_vanish() {
        // SELECT b, a FROM t: Map (#1, #0), Project (#2, #3).
        let plan =
            map(table(2), vec![ScalarExpr::Column(1), ScalarExpr::Column(0)]).project(vec![2, 3]);
        assert_eq!(apply(plan), table(2).project(vec![1, 0]));
        // SELECT a, b FROM t is t itself.
        let plan =
            map(table(2), vec![ScalarExpr::Column(0), ScalarExpr::Column(1)]).project(vec![2, 3]);
        assert_eq!(apply(plan), table(2));
    }

    #[test]
    fn computed_columns_stay_and_are_renumbered() {
        // Map (#0, #0 + #1, #3 * 2) keeps the two computations; the second reads the first.
        let plus = ScalarExpr::call(
            crate::ir::Func::Add,
            vec![ScalarExpr::Column(0), ScalarExpr::Column(1)],
        );
        let times = ScalarExpr::call(
            crate::ir::Func::Mul,
            vec![ScalarExpr::Column(3), ScalarExpr::Column(2)],
        );
        let plan =
            map(table(2), vec![ScalarExpr::Column(0), plus.clone(), times]).project(vec![2, 4]);
        let expected_times = ScalarExpr::call(
            crate::ir::Func::Mul,
            vec![ScalarExpr::Column(2), ScalarExpr::Column(0)],
        );
        assert_eq!(
            apply(plan),
            map(table(2), vec![plus, expected_times]).project(vec![0, 3])
        );
    }

    #[test]
    fn a_reduction_reads_its_input_directly() {
        // SELECT a, count(*), sum(b) FROM t GROUP BY a: Map (#0, null, #1) under the Reduce.
        let null = ScalarExpr::null(ScalarType::Int64);
        let agg = |func, c| AggregateExpr {
            func,
            expr: ScalarExpr::Column(c),
            distinct: false,
        };
        let plan = RelExpr::Reduce {
            input: Box::new(map(
                table(2),
                vec![ScalarExpr::Column(0), null.clone(), ScalarExpr::Column(1)],
            )),
            group_key: vec![2],
            aggregates: vec![agg(AggregateFunc::CountAll, 3), agg(AggregateFunc::Sum, 4)],
        };
        let expected = RelExpr::Reduce {
            input: Box::new(table(2)),
            group_key: vec![0],
            aggregates: vec![
                AggregateExpr {
                    func: AggregateFunc::CountAll,
                    expr: null,
                    distinct: false,
                },
                agg(AggregateFunc::Sum, 1),
            ],
        };
        assert_eq!(apply(plan), expected);
    }
}
