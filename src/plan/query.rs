//! Planning queries (FROM is in `from.rs`): WHERE, GROUP BY and aggregates, HAVING, the select list,
//! DISTINCT, set operations, VALUES, CTEs, ORDER BY / LIMIT / OFFSET.

use std::cell::RefCell;
use std::collections::BTreeSet;

use sqlparser::ast::{self, Expr, GroupByExpr, SelectItem, SetExpr, SetOperator, SetQuantifier};

use super::coerce::{cast, coerce_all};
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::from::{plan_from, qualified};
use super::grouping::{collect_aggregates, plan_grouping};
use super::scope::Scope;
use super::{next_local_id, PlanContext};
use crate::ir::{ColumnOrder, RelExpr, ScalarExpr};
use crate::parse::normalize_ident;
use crate::repr::{ColumnType, Datum, ScalarType};

/// What is applied to a query's rows after they are computed: ordering, LIMIT/OFFSET, and the
/// projection that drops columns kept only for ordering. Indexes refer to the plan's columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Finishing {
    pub order: Vec<ColumnOrder>,
    pub limit: Option<usize>,
    pub offset: usize,
    pub project: Vec<usize>,
}

impl Finishing {
    /// Rows ordered by `order`, keeping `columns` (no LIMIT or OFFSET yet).
    pub fn ordered(order: Vec<ColumnOrder>, columns: std::ops::Range<usize>) -> Finishing {
        Finishing {
            order,
            limit: None,
            offset: 0,
            project: columns.collect(),
        }
    }

    pub fn is_trivial(&self, arity: usize) -> bool {
        self.order.is_empty()
            && self.limit.is_none()
            && self.offset == 0
            && self.project == (0..arity).collect::<Vec<_>>()
    }
}

pub struct PlannedQuery {
    /// The outer prefix columns, then the output columns, then columns kept for ORDER BY.
    pub expr: RelExpr,
    pub names: Vec<String>,
    pub finishing: Finishing,
}

/// The state of planning one query level.
pub struct QueryCx<'c> {
    pub pcx: &'c PlanContext<'c>,
    /// The columns of enclosing queries this level may reference (the prefix of its relation).
    pub outer_scope: Scope,
    /// The distinct values of those columns.
    pub outer_rel: RelExpr,
    /// The prefix columns actually referenced.
    pub refs: RefCell<BTreeSet<usize>>,
}

impl<'c> QueryCx<'c> {
    pub fn new(pcx: &'c PlanContext<'c>, outer_scope: Scope, outer_rel: RelExpr) -> Self {
        QueryCx {
            pcx,
            outer_scope,
            outer_rel,
            refs: RefCell::new(BTreeSet::new()),
        }
    }

    pub fn root(pcx: &'c PlanContext<'c>) -> Self {
        QueryCx::new(pcx, Scope::default(), RelExpr::unit())
    }

    pub fn prefix_len(&self) -> usize {
        self.outer_scope.len()
    }

    pub fn note_reference(&self, idx: usize) {
        if idx < self.prefix_len() {
            self.refs.borrow_mut().insert(idx);
        }
    }
}

/// Turns a subquery's plan into a relation of `prefix + outputs` columns: ORDER BY with LIMIT
/// becomes a per-outer-row top-k; ORDER BY alone is dropped (a relation has no order).
pub fn lower_subquery(pq: PlannedQuery, prefix: usize) -> RelExpr {
    let PlannedQuery {
        mut expr,
        finishing,
        ..
    } = pq;
    if finishing.limit.is_some() || finishing.offset > 0 {
        expr = RelExpr::TopK {
            input: Box::new(expr),
            group_key: (0..prefix).collect(),
            order: finishing.order.clone(),
            limit: finishing.limit,
            offset: finishing.offset,
        };
    }
    let outputs: Vec<usize> = (0..prefix)
        .chain(finishing.project.iter().copied())
        .collect();
    expr.project(outputs)
}

pub fn plan_query(qcx: &QueryCx, q: &ast::Query) -> PlanResult<PlannedQuery> {
    let mut lets = Vec::new();
    let cte_depth = qcx.pcx.ctes.borrow().len();
    if let Some(with) = &q.with {
        if with.recursive {
            return unsupported("WITH RECURSIVE");
        }
        for cte in &with.cte_tables {
            let root = QueryCx::root(qcx.pcx);
            let pq = plan_query(&root, &cte.query)?;
            let mut names = pq.names.clone();
            for (i, c) in cte.alias.columns.iter().enumerate() {
                if i < names.len() {
                    names[i] = normalize_ident(&c.name);
                }
            }
            let expr = lower_subquery(pq, 0);
            let id = next_local_id();
            let types = expr.typ();
            lets.push((id, expr));
            qcx.pcx.ctes.borrow_mut().push(super::Cte {
                name: normalize_ident(&cte.alias.name),
                id,
                names,
                types,
            });
        }
    }
    let result = plan_query_body(qcx, q);
    qcx.pcx.ctes.borrow_mut().truncate(cte_depth);
    let mut pq = result?;
    for (id, value) in lets.into_iter().rev() {
        pq.expr = RelExpr::Let {
            id,
            value: Box::new(value),
            body: Box::new(pq.expr),
        };
    }
    Ok(pq)
}

fn plan_query_body(qcx: &QueryCx, q: &ast::Query) -> PlanResult<PlannedQuery> {
    let order_by: Vec<ast::OrderByExpr> = match &q.order_by {
        None => vec![],
        Some(ob) => match &ob.kind {
            ast::OrderByKind::Expressions(e) => e.clone(),
            ast::OrderByKind::All(_) => return unsupported("ORDER BY ALL"),
        },
    };
    let mut pq = match &*q.body {
        SetExpr::Select(s) => plan_select(qcx, s, &order_by)?,
        other => {
            let (expr, names) = plan_set_expr(qcx, other)?;
            let prefix = qcx.prefix_len();
            let arity = names.len();
            let mut order = Vec::new();
            for ob in &order_by {
                let col = match &ob.expr {
                    Expr::Value(v) => ordinal(&v.value, arity)?,
                    Expr::Identifier(id) => {
                        let n = normalize_ident(id);
                        names
                            .iter()
                            .position(|x| *x == n)
                            .ok_or(PlanError::UnknownColumn(n))?
                    }
                    _ => return unsupported("ORDER BY an expression over a set operation"),
                };
                order.push(column_order(prefix + col, &ob.options));
            }
            PlannedQuery {
                expr,
                names,
                finishing: Finishing::ordered(order, prefix..prefix + arity),
            }
        }
    };
    if let Some(limit) = &q.limit_clause {
        let (limit, offset) = match limit {
            ast::LimitClause::LimitOffset { limit, offset, .. } => {
                (limit.clone(), offset.as_ref().map(|o| o.value.clone()))
            }
            ast::LimitClause::OffsetCommaLimit { offset, limit } => {
                (Some(limit.clone()), Some(offset.clone()))
            }
        };
        pq.finishing.limit = match limit {
            Some(e) => constant_count(qcx, &e, "LIMIT")?,
            None => None,
        };
        if let Some(e) = offset {
            pq.finishing.offset = constant_count(qcx, &e, "OFFSET")?.unwrap_or(0);
        }
    }
    if let Some(fetch) = &q.fetch {
        pq.finishing.limit = match &fetch.quantity {
            Some(e) => constant_count(qcx, e, "FETCH")?,
            None => Some(1),
        };
    }
    Ok(pq)
}

pub(super) fn ordinal(v: &ast::Value, arity: usize) -> PlanResult<usize> {
    match v {
        ast::Value::Number(n, _) => {
            let i: usize = n
                .parse()
                .map_err(|_| PlanError::Syntax(format!("non-integer constant in ORDER BY: {n}")))?;
            if i == 0 || i > arity {
                return Err(PlanError::Syntax(format!(
                    "ORDER BY position {i} is not in select list"
                )))
                .map_err(|e| match e {
                    PlanError::Syntax(m) => PlanError::InvalidParameter(m),
                    e => e,
                });
            }
            Ok(i - 1)
        }
        _ => Err(PlanError::Syntax("non-integer constant in ORDER BY".into())),
    }
}

pub(super) fn column_order(column: usize, options: &ast::OrderByOptions) -> ColumnOrder {
    let desc = options
        .sort
        .as_ref()
        .is_some_and(|s| matches!(s, ast::OrderBySort::Desc));
    let nulls_last = match options.nulls_first {
        Some(first) => !first,
        None => !desc,
    };
    ColumnOrder {
        column,
        desc,
        nulls_last,
    }
}

/// A LIMIT or OFFSET value: a non-negative integer constant (NULL or ALL means none).
fn constant_count(qcx: &QueryCx, e: &Expr, what: &'static str) -> PlanResult<Option<usize>> {
    let mut cx = ExprCx::new(qcx, RelExpr::unit(), Scope::default(), what);
    let mut s = cx.plan_as(e, ScalarType::Int64, what)?;
    s.fold_constants(&[]);
    match s {
        ScalarExpr::Literal(Datum::Int64(n), _) if n >= 0 => Ok(Some(n as usize)),
        ScalarExpr::Literal(Datum::Null, _) => Ok(None),
        ScalarExpr::Literal(Datum::Int64(_), _) => Err(PlanError::InvalidParameter(format!(
            "{what} must not be negative"
        ))),
        ScalarExpr::Error(e, _) => Err(PlanError::Eval(e)),
        _ => unsupported(format!("non-constant {what}")),
    }
}

/// Plans a set expression (a SELECT, VALUES, or set operation) as `prefix + outputs` columns.
fn plan_set_expr(qcx: &QueryCx, e: &SetExpr) -> PlanResult<(RelExpr, Vec<String>)> {
    let prefix = qcx.prefix_len();
    match e {
        SetExpr::Select(s) => {
            let pq = plan_select(qcx, s, &[])?;
            Ok((
                lower_subquery(
                    PlannedQuery {
                        finishing: Finishing {
                            order: vec![],
                            ..pq.finishing
                        },
                        ..pq
                    },
                    prefix,
                ),
                pq_names(s, qcx)?,
            ))
        }
        SetExpr::Query(q) => {
            let pq = plan_query(qcx, q)?;
            let names = pq.names.clone();
            Ok((lower_subquery(pq, prefix), names))
        }
        SetExpr::Values(values) => plan_values(qcx, values),
        SetExpr::SetOperation {
            left,
            op,
            set_quantifier,
            right,
        } => {
            let (l, names) = plan_set_expr(qcx, left)?;
            let (r, _) = plan_set_expr(qcx, right)?;
            let (lt, rt) = (l.typ(), r.typ());
            if lt.len() != rt.len() {
                return Err(PlanError::Syntax(format!(
                    "each {op} query must have the same number of columns"
                )));
            }
            // Coerce each column pair to a common type.
            let mut lcasts = Vec::new();
            let mut rcasts = Vec::new();
            for (i, (a, b)) in lt.iter().zip(rt.iter()).enumerate() {
                let (cols, _) = coerce_all(
                    vec![
                        (ScalarExpr::Column(i), a.clone()),
                        (ScalarExpr::Column(i), b.clone()),
                    ],
                    &op.to_string(),
                )
                .map_err(|_| {
                    PlanError::TypeMismatch(format!(
                        "{op} types {} and {} cannot be matched",
                        a.scalar.name(),
                        b.scalar.name()
                    ))
                })?;
                lcasts.push(cols[0].clone());
                rcasts.push(cols[1].clone());
            }
            let recast = |rel: RelExpr, casts: Vec<ScalarExpr>| {
                if casts
                    .iter()
                    .enumerate()
                    .all(|(i, c)| *c == ScalarExpr::Column(i))
                {
                    rel
                } else {
                    let n = casts.len();
                    rel.map(casts).project((n..2 * n).collect())
                }
            };
            let (l, r) = (recast(l, lcasts), recast(r, rcasts));
            let all = matches!(set_quantifier, SetQuantifier::All);
            let _ = prefix;
            let expr = match (op, all) {
                (SetOperator::Union, true) => l.union(r),
                (SetOperator::Union, false) => l.union(r).distinct(),
                (SetOperator::Except, true) => l.union(r.negate()).threshold(),
                (SetOperator::Except, false) => {
                    l.distinct().union(r.distinct().negate()).threshold()
                }
                (SetOperator::Intersect, all) => {
                    // min(a, b) = a - max(a - b, 0)
                    let (l, r) = if all {
                        (l, r)
                    } else {
                        (l.distinct(), r.distinct())
                    };
                    let id = next_local_id();
                    let types = l.typ();
                    let lget = RelExpr::LocalGet { id, types };
                    let body = lget
                        .clone()
                        .union(lget.union(r.negate()).threshold().negate());
                    RelExpr::Let {
                        id,
                        value: Box::new(l),
                        body: Box::new(body),
                    }
                }
                (other, _) => return unsupported(format!("set operation {other}")),
            };
            Ok((expr, names))
        }
        other => unsupported(format!("query body {other}")),
    }
}

fn pq_names(s: &ast::Select, qcx: &QueryCx) -> PlanResult<Vec<String>> {
    // Names are recomputed cheaply by planning again; selects in set operations are small.
    Ok(plan_select(qcx, s, &[])?.names)
}

fn plan_values(qcx: &QueryCx, values: &ast::Values) -> PlanResult<(RelExpr, Vec<String>)> {
    let mut cx = ExprCx::new(
        qcx,
        qcx.outer_rel.clone(),
        qcx.outer_scope.clone(),
        "VALUES",
    );
    let width = values.rows.first().map(|r| r.content.len()).unwrap_or(0);
    let mut rows: Vec<Vec<(ScalarExpr, ColumnType)>> = Vec::new();
    for r in &values.rows {
        if r.content.len() != width {
            return Err(PlanError::Syntax(
                "VALUES lists must all be the same length".into(),
            ));
        }
        rows.push(
            r.content
                .iter()
                .map(|e| cx.plan_typed(e))
                .collect::<PlanResult<_>>()?,
        );
    }
    // Coerce each column to the common type of its values.
    let mut columns: Vec<Vec<ScalarExpr>> = vec![vec![]; rows.len()];
    let hint = qcx.pcx.values_hint.borrow_mut().take();
    for c in 0..width {
        let mut col: Vec<(ScalarExpr, ColumnType)> = rows.iter().map(|r| r[c].clone()).collect();
        if let Some(to) = hint.as_ref().and_then(|h| h.get(c)) {
            for (e, t) in col.iter_mut() {
                if t.scalar == ScalarType::Unknown {
                    *e = cast(e.clone(), t.scalar, *to);
                    t.scalar = *to;
                }
            }
        }
        let (coerced, target) = coerce_all(col, "VALUES")?;
        for (i, e) in coerced.into_iter().enumerate() {
            let e = if target == ScalarType::Unknown {
                cast(e, target, ScalarType::Text)
            } else {
                e
            };
            columns[i].push(e);
        }
    }
    let prefix = qcx.prefix_len();
    let (base, _) = cx.finish();
    // The common case, a list of constants, is one Constant relation (not a union of rows).
    if prefix == 0
        && columns
            .iter()
            .flatten()
            .all(|e| matches!(e, ScalarExpr::Literal(..)))
    {
        let types: Vec<ColumnType> = (0..width)
            .map(|c| {
                let scalar = columns
                    .first()
                    .map(|r| r[c].typ(&[]).scalar)
                    .unwrap_or(ScalarType::Text);
                ColumnType::new(
                    scalar,
                    columns
                        .iter()
                        .any(|r| matches!(&r[c], ScalarExpr::Literal(Datum::Null, _))),
                )
            })
            .collect();
        let rows = columns
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|e| match e {
                        ScalarExpr::Literal(d, _) => d,
                        _ => unreachable!("checked above"),
                    })
                    .collect()
            })
            .collect();
        let names = (1..=width).map(|i| format!("column{i}")).collect();
        return Ok((RelExpr::constant(rows, types), names));
    }
    let mut out: Option<RelExpr> = None;
    for row in columns {
        let r = base
            .clone()
            .map(row)
            .project((0..prefix).chain(prefix..prefix + width).collect());
        out = Some(match out {
            None => r,
            Some(o) => o.union(r),
        });
    }
    let names = (1..=width).map(|i| format!("column{i}")).collect();
    Ok((out.unwrap_or_else(|| RelExpr::empty(vec![])), names))
}

/// The name Postgres gives an output column without an alias.
fn column_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(id) => normalize_ident(id),
        Expr::CompoundIdentifier(ids) => ids.last().map(normalize_ident).unwrap_or_default(),
        Expr::Function(f) => f
            .name
            .0
            .last()
            .map(|p| p.to_string().to_lowercase())
            .unwrap_or_default(),
        Expr::Cast {
            expr, data_type, ..
        } => match &**expr {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => column_name(expr),
            // A type Runnel holds as another (`regclass` as an integer) keeps its own name.
            _ => match data_type {
                ast::DataType::Custom(name, _) => name
                    .0
                    .last()
                    .map(|p| p.to_string().replace('"', "").to_lowercase())
                    .unwrap_or_default(),
                _ => super::coerce::scalar_type(data_type)
                    .map(|t| pg_short_name(t.element().unwrap_or(t)).to_string())
                    .unwrap_or("?column?".into()),
            },
        },
        Expr::Array(_) => "array".into(),
        // `(r).field` is named after the field, as in Postgres; `a[i]` after the array.
        Expr::CompoundFieldAccess { root, access_chain } => match access_chain.last() {
            Some(ast::AccessExpr::Dot(Expr::Identifier(id))) => normalize_ident(id),
            _ => column_name(root),
        },
        Expr::Nested(inner) => column_name(inner),
        Expr::Case { .. } => "case".into(),
        Expr::Exists { .. } => "exists".into(),
        Expr::Extract { .. } => "extract".into(),
        Expr::Subquery(q) => match &*q.body {
            SetExpr::Select(s) => match s.projection.first() {
                Some(SelectItem::UnnamedExpr(e)) => column_name(e),
                Some(SelectItem::ExprWithAlias { alias, .. }) => normalize_ident(alias),
                _ => "?column?".into(),
            },
            _ => "?column?".into(),
        },
        _ => "?column?".into(),
    }
}

fn pg_short_name(t: ScalarType) -> &'static str {
    match t {
        ScalarType::Int16 => "int2",
        ScalarType::Int32 => "int4",
        ScalarType::Int64 => "int8",
        ScalarType::Float32 => "float4",
        ScalarType::Float64 => "float8",
        ScalarType::Bool => "bool",
        ScalarType::Timestamp => "timestamp",
        ScalarType::TimestampTz => "timestamptz",
        other => other.name(),
    }
}

pub fn plan_select(
    qcx: &QueryCx,
    s: &ast::Select,
    order_by: &[ast::OrderByExpr],
) -> PlanResult<PlannedQuery> {
    let prefix = qcx.prefix_len();
    let (mut rel, mut scope) = plan_from(qcx, &s.from)?;

    // WHERE
    if let Some(w) = &s.selection {
        let width = scope.len();
        let mut cx = ExprCx::new(qcx, rel, scope, "WHERE");
        let p = cx.plan_as(w, ScalarType::Bool, "WHERE")?;
        let filtered = std::mem::replace(&mut cx.rel, RelExpr::unit()).filter(vec![p]);
        cx.rel = filtered;
        let (r, sc) = cx.finish();
        rel = r.project((0..width).collect());
        scope = Scope {
            items: sc.items[..width].to_vec(),
        };
    }

    // Aggregation.
    let mut aggs: Vec<Expr> = Vec::new();
    for item in &s.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            collect_aggregates(e, &mut aggs);
        }
    }
    if let Some(h) = &s.having {
        collect_aggregates(h, &mut aggs);
    }
    for ob in order_by {
        collect_aggregates(&ob.expr, &mut aggs);
    }
    let group_exprs: Vec<Expr> = match &s.group_by {
        GroupByExpr::Expressions(exprs, mods) if mods.is_empty() => exprs.clone(),
        GroupByExpr::Expressions(..) => return unsupported("GROUP BY modifiers"),
        GroupByExpr::All(_) => return unsupported("GROUP BY ALL"),
    };
    let grouping = !group_exprs.is_empty() || !aggs.is_empty() || s.having.is_some();

    let mut cx = if grouping {
        plan_grouping(qcx, rel, scope, s, &group_exprs, &aggs)?
    } else {
        ExprCx::new(qcx, rel, scope, "SELECT")
    };
    cx.clause = "SELECT";

    // HAVING
    if let Some(h) = &s.having {
        cx.clause = "HAVING";
        let p = cx.plan_as(h, ScalarType::Bool, "HAVING")?;
        let r = std::mem::replace(&mut cx.rel, RelExpr::unit());
        cx.rel = r.filter(vec![p]);
        cx.clause = "SELECT";
    }

    super::ranking::plan_ranking(&mut cx, &s.projection)?;

    // Set-returning functions in the select list (also inside expressions: `unnest(a) + 1`,
    // `(f(x)).field`) give each row once per value, as in Postgres; several are evaluated in
    // lockstep (the shorter padded with NULLs). Each call becomes a column the select list
    // reads like a grouped expression.
    let mut calls = Vec::new();
    for item in &s.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            super::series::nested_calls(e, &mut calls);
        }
    }
    if !calls.is_empty() {
        let planned: Vec<_> = calls.iter().map(|(_, c)| c.clone()).collect();
        let columns = super::series::plan_in(&mut cx, &planned, false)?;
        cx.grouped
            .extend(calls.into_iter().map(|(e, _)| e).zip(columns));
    }

    // The select list.
    let mut outputs = Vec::new();
    let mut names = Vec::new();
    let mut output_exprs: Vec<Option<Expr>> = Vec::new();
    for item in &s.projection {
        match item {
            SelectItem::UnnamedExpr(e) => {
                outputs.push(cx.plan(e)?);
                names.push(column_name(e));
                output_exprs.push(Some(e.clone()));
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                outputs.push(cx.plan(expr)?);
                names.push(normalize_ident(alias));
                output_exprs.push(Some(expr.clone()));
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                let table = match item {
                    SelectItem::QualifiedWildcard(
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                        _,
                    ) => Some(
                        n.0.last()
                            .and_then(|p| p.as_ident())
                            .map(normalize_ident)
                            .unwrap_or_default(),
                    ),
                    _ => None,
                };
                let cols = match &cx.pre_agg_scope {
                    // After GROUP BY, `*` is valid when every column it names is grouped.
                    Some(pre) => {
                        let pre = pre.clone();
                        let mut cols = Vec::new();
                        for c in pre.expand_wildcard(table.as_deref())? {
                            let item = &pre.items[c];
                            match cx.plan(&qualified(item, &item.name))? {
                                ScalarExpr::Column(i) => cols.push(i),
                                _ => {
                                    return Err(PlanError::Internal(
                                        "a grouped column plans as a column".into(),
                                    ))
                                }
                            }
                        }
                        cols
                    }
                    None => cx.scope.expand_wildcard(table.as_deref())?,
                };
                if cols.is_empty() && s.from.is_empty() {
                    return Err(PlanError::Syntax(
                        "SELECT * with no tables specified is not valid".into(),
                    ));
                }
                for c in cols {
                    names.push(cx.scope.items[c].name.clone());
                    outputs.push(ScalarExpr::Column(c));
                    output_exprs.push(None);
                }
            }
            other => return unsupported(format!("select item {other}")),
        }
    }
    let arity = outputs.len();

    // ORDER BY: an ordinal, an output name, or an expression over the input.
    let mut order = Vec::new();
    let mut extra = Vec::new();
    for ob in order_by {
        let col = match &ob.expr {
            Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
                ordinal(&v.value, arity)?
            }
            Expr::Identifier(id)
                if names.iter().filter(|n| **n == normalize_ident(id)).count() == 1 =>
            {
                names
                    .iter()
                    .position(|n| *n == normalize_ident(id))
                    .expect("counted above")
            }
            e => match output_exprs.iter().position(|o| o.as_ref() == Some(e)) {
                Some(i) => i,
                None => {
                    if s.distinct.is_some() {
                        return Err(PlanError::InvalidParameter(
                            "for SELECT DISTINCT, ORDER BY expressions must appear in select list"
                                .into(),
                        ));
                    }
                    extra.push(cx.plan(e)?);
                    arity + extra.len() - 1
                }
            },
        };
        order.push(column_order(prefix + col, &ob.options));
    }

    let base = cx.types.len();
    let mut all = outputs;
    all.extend(extra);
    let n = all.len();
    let (r, _) = {
        let r = std::mem::replace(&mut cx.rel, RelExpr::unit());
        cx.rel = r.map(all);
        cx.finish()
    };
    let mut expr = r.project((0..prefix).chain(base..base + n).collect());
    match &s.distinct {
        None | Some(ast::Distinct::All) => {}
        Some(ast::Distinct::Distinct) => expr = expr.distinct(),
        Some(ast::Distinct::On(_)) => return unsupported("DISTINCT ON"),
    }
    Ok(PlannedQuery {
        expr,
        names,
        finishing: Finishing::ordered(order, prefix..prefix + arity),
    })
}
