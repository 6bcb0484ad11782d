//! Subqueries in expressions, decorrelated into joins.
//!
//! A subquery is planned against the distinct values of the outer columns it references (`O`),
//! so its result carries those columns as a prefix. Every row of `O` gets exactly one answer
//! (missing ones are filled with the default: NULL, false), so joining the current relation with
//! the answers on the referenced columns keeps every row exactly once and appends one column.

use sqlparser::ast::{Expr, OrderByKind, Query, SelectItem, SetExpr};
use std::collections::BTreeSet;

use super::array::value_order;
use super::coerce::coerce_all;
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::query::{lower_subquery, plan_query, QueryCx};
use crate::ir::relation::AggOrder;
use crate::ir::{AggregateExpr, AggregateFunc, EvalError, Func, RelExpr, ScalarExpr};
use crate::parse::normalize_ident;
use crate::repr::{ColumnType, Datum, ScalarType};

impl ExprCx<'_, '_> {
    /// Plans `q` against the current relation: returns `O` (the distinct referenced outer
    /// values), the referenced columns, and the subquery's rows with `O`'s columns as a prefix.
    fn plan_correlated(
        &mut self,
        q: &Query,
        extra_refs: &[usize],
    ) -> PlanResult<(RelExpr, Vec<usize>, RelExpr)> {
        // First pass: find which of our columns the subquery references.
        let probe_outer = RelExpr::empty(self.types.clone());
        let probe = QueryCx::new(self.qcx.pcx, self.scope.as_outer(), probe_outer);
        plan_query(&probe, q)?;
        let mut refs: BTreeSet<usize> = probe.refs.into_inner();
        refs.extend(extra_refs.iter().copied());
        let refs: Vec<usize> = refs.into_iter().collect();
        // A reference to one of our own outer columns makes us correlated too.
        for r in &refs {
            self.qcx.note_reference(*r);
        }
        let outer_rel = if refs.is_empty() {
            RelExpr::unit()
        } else {
            // Bind the current relation so it is computed once for both uses.
            let id = super::next_local_id();
            let types = self.types.clone();
            self.lets.push((
                id,
                std::mem::replace(
                    &mut self.rel,
                    RelExpr::LocalGet {
                        id,
                        types: types.clone(),
                    },
                ),
            ));
            RelExpr::LocalGet { id, types }
                .project(refs.clone())
                .distinct()
        };
        let outer_scope = super::scope::Scope {
            items: refs.iter().map(|r| self.scope.items[*r].clone()).collect(),
        }
        .as_outer();
        let qcx = QueryCx::new(self.qcx.pcx, outer_scope, outer_rel.clone());
        let planned = plan_query(&qcx, q)?;
        let rows = lower_subquery(planned, refs.len());
        Ok((outer_rel, refs, rows))
    }

    /// Joins the per-outer-row answers (`refs` prefix + one value column) onto the current
    /// relation and returns the new column.
    fn attach(&mut self, refs: &[usize], answers: RelExpr, value_type: ColumnType) -> ScalarExpr {
        let width = self.types.len();
        let keys: Vec<(usize, usize)> = refs.iter().enumerate().map(|(i, r)| (*r, i)).collect();
        let mut outputs: Vec<usize> = (0..width).collect();
        outputs.push(width + refs.len());
        let rel = std::mem::replace(&mut self.rel, RelExpr::unit());
        self.rel = rel.join(answers, keys).project(outputs);
        self.types.push(value_type);
        self.scope.push_hidden();
        ScalarExpr::Column(width)
    }

    /// Fills in `default` for outer rows with no answer. `answers` has at most one row per key.
    fn with_default(
        outer: RelExpr,
        answers: RelExpr,
        prefix: usize,
        default: ScalarExpr,
    ) -> RelExpr {
        let missing = outer.union(answers.clone().project((0..prefix).collect()).negate());
        answers.union(missing.map(vec![default]))
    }

    /// `plan_correlated` for a subquery that must give one column, with that column's type.
    fn one_column(&mut self, q: &Query) -> PlanResult<(RelExpr, Vec<usize>, RelExpr, ColumnType)> {
        let (outer, refs, rows) = self.plan_correlated(q, &[])?;
        let types = rows.typ();
        if types.len() != refs.len() + 1 {
            return Err(PlanError::Syntax(
                "subquery must return only one column".into(),
            ));
        }
        let value = types[refs.len()].clone();
        Ok((outer, refs, rows, value))
    }

    pub fn scalar_subquery(&mut self, q: &Query) -> PlanResult<ScalarExpr> {
        let (outer, refs, rows, vt) = self.one_column(q)?;
        let p = refs.len();
        // One row per key: the value, or an error if the subquery produced several rows.
        let reduced = RelExpr::Reduce {
            input: Box::new(rows),
            group_key: (0..p).collect(),
            aggregates: vec![
                AggregateExpr {
                    func: AggregateFunc::Max,
                    expr: ScalarExpr::Column(p),
                    distinct: false,
                },
                AggregateExpr {
                    func: AggregateFunc::CountAll,
                    expr: ScalarExpr::null(ScalarType::Bool),
                    distinct: false,
                },
            ],
        };
        let checked = reduced
            .map(vec![ScalarExpr::If {
                cond: Box::new(ScalarExpr::call(
                    Func::Gt,
                    vec![
                        ScalarExpr::Column(p + 1),
                        ScalarExpr::Literal(Datum::Int64(1), ScalarType::Int64),
                    ],
                )),
                then: Box::new(ScalarExpr::Error(
                    EvalError::MultipleRowsFromSubquery,
                    vt.scalar,
                )),
                els: Box::new(ScalarExpr::Column(p)),
            }])
            .project((0..p).chain([p + 2]).collect());
        let answers = Self::with_default(outer, checked, p, ScalarExpr::null(vt.scalar));
        Ok(self.attach(&refs, answers, ColumnType::new(vt.scalar, true)))
    }

    pub fn exists_subquery(&mut self, q: &Query) -> PlanResult<ScalarExpr> {
        let (outer, refs, rows) = self.plan_correlated(q, &[])?;
        let p = refs.len();
        let found = rows
            .project((0..p).collect())
            .distinct()
            .map(vec![ScalarExpr::bool(true)]);
        let answers = Self::with_default(outer, found, p, ScalarExpr::bool(false));
        Ok(self.attach(&refs, answers, ColumnType::new(ScalarType::Bool, false)))
    }

    /// `x IN (subquery)` with SQL's three-valued answer: true if some row equals x, NULL if none
    /// does but some comparison was NULL, false otherwise (and for an empty subquery).
    pub fn in_subquery(&mut self, x: &Expr, q: &Query) -> PlanResult<ScalarExpr> {
        // Compute x as a column of the current relation, so it can be part of the outer key.
        let xs = self.plan(x)?;
        let xt = self.typ(&xs);
        let x_col = self.types.len();
        let rel = std::mem::replace(&mut self.rel, RelExpr::unit());
        self.rel = rel.map(vec![xs]);
        self.types.push(xt.clone());
        self.scope.push_hidden();
        let (outer, refs, rows) = self.plan_correlated(q, &[x_col])?;
        let p = refs.len();
        let types = rows.typ();
        if types.len() != p + 1 {
            return Err(PlanError::Syntax("subquery has too many columns".into()));
        }
        let x_pos = refs
            .iter()
            .position(|r| *r == x_col)
            .expect("x is among the references");
        let (args, _) = coerce_all(
            vec![
                (ScalarExpr::Column(x_pos), xt),
                (ScalarExpr::Column(p), types[p].clone()),
            ],
            "IN",
        )
        .map_err(|e| PlanError::UndefinedOperator(e.to_string()))?;
        // Three-valued OR over the comparisons: true if one is true, else NULL if one is NULL.
        // (`bool_or` alone would ignore the NULLs.)
        let eq = ScalarExpr::call(Func::Eq, args);
        let is_unknown = ScalarExpr::call(Func::IsNull, vec![eq.clone()]);
        let any_equal = RelExpr::Reduce {
            input: Box::new(rows.map(vec![eq, is_unknown])),
            group_key: (0..p).collect(),
            aggregates: vec![
                AggregateExpr {
                    func: AggregateFunc::BoolOr,
                    expr: ScalarExpr::Column(p + 1),
                    distinct: false,
                },
                AggregateExpr {
                    func: AggregateFunc::BoolOr,
                    expr: ScalarExpr::Column(p + 2),
                    distinct: false,
                },
            ],
        }
        .map(vec![ScalarExpr::If {
            cond: Box::new(ScalarExpr::call(Func::IsTrue, vec![ScalarExpr::Column(p)])),
            then: Box::new(ScalarExpr::bool(true)),
            els: Box::new(ScalarExpr::If {
                cond: Box::new(ScalarExpr::call(
                    Func::IsTrue,
                    vec![ScalarExpr::Column(p + 1)],
                )),
                then: Box::new(ScalarExpr::null(ScalarType::Bool)),
                els: Box::new(ScalarExpr::bool(false)),
            }),
        }])
        .project((0..p).chain([p + 2]).collect());
        let answers = Self::with_default(outer, any_equal, p, ScalarExpr::bool(false));
        Ok(self.attach(&refs, answers, ColumnType::new(ScalarType::Bool, true)))
    }

    /// `ARRAY(subquery)`: the subquery's values as one array per outer row (`{}` when it has
    /// none), in the order of the values (a subquery's `ORDER BY` on its own column may make it
    /// descending).
    pub fn array_subquery(&mut self, q: &Query) -> PlanResult<ScalarExpr> {
        let desc = match q.order_by.as_ref().map(|o| &o.kind) {
            None => false,
            Some(OrderByKind::Expressions(order)) => {
                value_order(order, |e| orders_by_only_column(q, e))?
            }
            Some(OrderByKind::All(_)) => return unsupported("ORDER BY ALL in ARRAY(subquery)"),
        };
        let (outer, refs, rows, value) = self.one_column(q)?;
        let p = refs.len();
        let element = value.scalar;
        let array_type = element.array_of().ok_or_else(|| {
            PlanError::UndefinedObject(format!(
                "could not find array type for data type {}",
                element.name()
            ))
        })?;
        let arrays = RelExpr::Reduce {
            input: Box::new(rows),
            group_key: (0..p).collect(),
            aggregates: vec![AggregateExpr {
                func: AggregateFunc::ArrayAgg {
                    order: AggOrder {
                        keys: 0,
                        desc: desc as u16,
                        nulls_first: desc as u16,
                    },
                },
                expr: ScalarExpr::Column(p),
                distinct: false,
            }],
        };
        let empty = ScalarExpr::Literal(Datum::Array(vec![]), array_type);
        let answers = Self::with_default(outer, arrays, p, empty);
        Ok(self.attach(&refs, answers, ColumnType::new(array_type, false)))
    }
}

/// Whether `e`, in the `ORDER BY` of `q`, names `q`'s only output column: by position, alias
/// or the same expression.
fn orders_by_only_column(q: &Query, e: &Expr) -> bool {
    let SetExpr::Select(select) = q.body.as_ref() else {
        return false;
    };
    let [item] = select.projection.as_slice() else {
        return false;
    };
    match (e, item) {
        (Expr::Value(v), _) => v.value.to_string() == "1",
        (_, SelectItem::UnnamedExpr(expr)) => expr == e,
        (Expr::Identifier(id), SelectItem::ExprWithAlias { alias, .. }) => {
            normalize_ident(id) == normalize_ident(alias)
        }
        (_, SelectItem::ExprWithAlias { expr, .. }) => expr == e,
        _ => false,
    }
}
