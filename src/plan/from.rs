//! Planning FROM: tables, views and CTEs by name, derived tables, aliases, and joins of every
//! kind (equalities between the two sides become arrangement keys, the rest a residual filter).

use sqlparser::ast::{self, Expr, JoinConstraint, JoinOperator, TableFactor};

use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::join_time::{self, AsOfArrival};
use super::query::{lower_subquery, plan_query, QueryCx};
use super::scope::{Scope, ScopeItem};
use super::{next_local_id, PlanContext};
use crate::catalog::ItemKind;
use crate::ir::{relation::null_row, Func, RelExpr, ScalarExpr};
use crate::parse::normalize_ident;
use crate::repr::{ColumnType, ScalarType};

/// Plans the FROM clause: the outer prefix, then each item cross-joined.
pub(super) fn plan_from(
    qcx: &QueryCx,
    from: &[ast::TableWithJoins],
) -> PlanResult<(RelExpr, Scope)> {
    let mut rel = qcx.outer_rel.clone();
    let mut scope = qcx.outer_scope.clone();
    if from.is_empty() {
        return Ok((rel, scope));
    }
    let mut first = true;
    for twj in from {
        if let Some(call) = super::series::call(&twj.relation) {
            // Over the items before it, whose columns its arguments may use.
            let (base, base_scope) = if first && qcx.prefix_len() == 0 {
                (RelExpr::unit(), Scope::default())
            } else {
                (rel, scope)
            };
            (rel, scope) = super::series::plan(qcx, base, base_scope, call)?;
            for j in &twj.joins {
                (rel, scope) = plan_joined(qcx, rel, scope, j)?;
            }
            first = false;
            continue;
        }
        if let Some((r, s)) = correlated_derived(qcx, &twj.relation)? {
            // Already over the outer prefix: joined to it, not crossed with it.
            let (width, prefix) = (scope.len(), qcx.prefix_len());
            let outputs = (0..width).chain(width + prefix..width + prefix + s.len());
            rel = rel
                .join(r, (0..prefix).map(|i| (i, i)).collect())
                .project(outputs.collect());
            scope = scope.concat(s);
            let mut s_rel = (rel, scope);
            for j in &twj.joins {
                s_rel = plan_joined(qcx, s_rel.0, s_rel.1, j)?;
            }
            (rel, scope) = s_rel;
            first = false;
            continue;
        }
        let (mut r, mut s) = plan_table_factor(qcx, &twj.relation)?;
        for j in &twj.joins {
            (r, s) = plan_joined(qcx, r, s, j)?;
        }
        if first && qcx.prefix_len() == 0 {
            rel = r;
            scope = s;
        } else {
            rel = rel.join(r, vec![]);
            scope = scope.concat(s);
        }
        first = false;
    }
    Ok((rel, scope))
}

/// `left` joined with `j`: a `CROSS JOIN` of `generate_series` is over `left`'s rows (its
/// arguments may use their columns); any other join plans both sides on their own.
fn plan_joined(
    qcx: &QueryCx,
    left: RelExpr,
    scope: Scope,
    j: &ast::Join,
) -> PlanResult<(RelExpr, Scope)> {
    if let (Some(call), JoinOperator::CrossJoin(_)) =
        (super::series::call(&j.relation), &j.join_operator)
    {
        return super::series::plan(qcx, left, scope, call);
    }
    if let Some(lookup) = join_time::as_of_arrival(&j.relation)? {
        let (parts, alias, mode) = lookup;
        let (jr, js) = named_relation(qcx, &parts, alias)?;
        return plan_join(qcx, left, scope, jr, js, &j.join_operator, Some(mode));
    }
    let (jr, js) = plan_table_factor(qcx, &j.relation)?;
    plan_join(qcx, left, scope, jr, js, &j.join_operator, None)
}

/// A derived table inside a correlated subquery that uses the enclosing queries' columns
/// (`(SELECT unnest(fk.conkey) ...) x`, as pgcli and psqlODBC write): planned over the outer
/// prefix, so its rows come with the prefix's columns first. `None` when `tf` is anything
/// else, or does not reference the prefix (it is then planned on its own, as usual).
fn correlated_derived(qcx: &QueryCx, tf: &TableFactor) -> PlanResult<Option<(RelExpr, Scope)>> {
    let TableFactor::Derived {
        subquery,
        alias,
        lateral: false,
        ..
    } = tf
    else {
        return Ok(None);
    };
    if qcx.prefix_len() == 0 {
        return Ok(None);
    }
    let inner = QueryCx::new(qcx.pcx, qcx.outer_scope.clone(), qcx.outer_rel.clone());
    let pq = plan_query(&inner, subquery)?;
    let refs = inner.refs.into_inner();
    if refs.is_empty() {
        return Ok(None);
    }
    for r in refs {
        qcx.note_reference(r);
    }
    let names = pq.names.clone();
    let rel = lower_subquery(pq, qcx.prefix_len());
    Ok(Some(aliased(rel, names, None, alias.as_ref())))
}

fn plan_table_factor(qcx: &QueryCx, tf: &TableFactor) -> PlanResult<(RelExpr, Scope)> {
    if let Some(call) = super::series::call(tf) {
        return super::series::plan(qcx, RelExpr::unit(), Scope::default(), call);
    }
    match tf {
        TableFactor::Table {
            name, alias, args, ..
        } => {
            if let Some(args) = args {
                let func = name.to_string().to_lowercase();
                if !super::window::is_window_function(&func) {
                    return unsupported(format!("table function {func}"));
                }
                let (rel, names, table) =
                    super::window::plan_window_function(qcx, &func, &args.args)?;
                return Ok(aliased(rel, names, Some(table), alias.as_ref()));
            }
            let parts: Vec<String> = name
                .0
                .iter()
                .map(|p| p.as_ident().map(normalize_ident).unwrap_or_default())
                .collect();
            named_relation(qcx, &parts, alias.as_ref())
                .map_err(|e| e.at(sqlparser::ast::Spanned::span(name)))
        }
        TableFactor::Derived {
            subquery,
            alias,
            lateral,
            ..
        } => {
            if *lateral {
                return unsupported("LATERAL");
            }
            let root = QueryCx::root(qcx.pcx);
            let pq = plan_query(&root, subquery)?;
            let names = pq.names.clone();
            let rel = lower_subquery(pq, 0);
            Ok(aliased(rel, names, None, alias.as_ref()))
        }
        TableFactor::NestedJoin {
            table_with_joins,
            alias,
        } => {
            let (mut r, mut s) = plan_table_factor(qcx, &table_with_joins.relation)?;
            for j in &table_with_joins.joins {
                (r, s) = plan_joined(qcx, r, s, j)?;
            }
            if let Some(a) = alias {
                let names = s.items.iter().map(|i| i.name.clone()).collect();
                return Ok(aliased(r, names, None, Some(a)));
            }
            Ok((r, s))
        }
        other => unsupported(format!("FROM item {other}")),
    }
}

/// A relation in FROM by name, aliased, its event-time column marked (for `rowtime`).
fn named_relation(
    qcx: &QueryCx,
    parts: &[String],
    alias: Option<&ast::TableAlias>,
) -> PlanResult<(RelExpr, Scope)> {
    let (rel, names) = resolve_relation(qcx.pcx, parts)?;
    let event_time = super::window::event_time_of(qcx.pcx, parts, &names);
    let table = parts.last().cloned().unwrap_or_default();
    let (rel, mut scope) = aliased(rel, names, Some(table), alias);
    if let Some(i) = event_time {
        scope.items[i].event_time = true;
    }
    Ok((rel, scope))
}

/// Resolves a relation name: a CTE in scope, or a catalog object (views are inlined).
pub fn resolve_relation(pcx: &PlanContext, parts: &[String]) -> PlanResult<(RelExpr, Vec<String>)> {
    if let [name] = parts {
        if let Some(cte) = pcx.ctes.borrow().iter().rev().find(|c| &c.name == name) {
            return Ok((
                RelExpr::LocalGet {
                    id: cte.id,
                    types: cte.types.clone(),
                },
                cte.names.clone(),
            ));
        }
    }
    if let Some(system) = super::system::resolve(pcx, parts) {
        pcx.reads_system.set(true);
        return Ok(system);
    }
    let item = pcx
        .catalog
        .resolve(parts, &pcx.database, &pcx.search_path)?;
    let rel = match &item.kind {
        ItemKind::Table | ItemKind::Source(_) | ItemKind::MaterializedView { .. } => RelExpr::Get {
            id: item.id,
            name: item.name.item.clone(),
            types: item.desc.types.clone(),
        },
        ItemKind::View { expr } => expr.clone(),
        ItemKind::Index { .. } | ItemKind::Sink { .. } => {
            return Err(PlanError::WrongObjectType(
                item.name.item.clone(),
                "relation",
            ))
        }
    };
    Ok((rel, item.desc.names.clone()))
}

fn aliased(
    rel: RelExpr,
    mut names: Vec<String>,
    table: Option<String>,
    alias: Option<&ast::TableAlias>,
) -> (RelExpr, Scope) {
    let table = match alias {
        Some(a) => {
            for (i, c) in a.columns.iter().enumerate() {
                if i < names.len() {
                    names[i] = normalize_ident(&c.name);
                }
            }
            Some(normalize_ident(&a.name))
        }
        None => table,
    };
    (rel, Scope::from_names(table.as_deref(), &names))
}

fn plan_join(
    qcx: &QueryCx,
    l: RelExpr,
    ls: Scope,
    r: RelExpr,
    rs: Scope,
    op: &JoinOperator,
    as_of_arrival: Option<AsOfArrival>,
) -> PlanResult<(RelExpr, Scope)> {
    let (kind, constraint) = match op {
        JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, c),
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
        JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (JoinKind::Right, c),
        JoinOperator::FullOuter(c) => (JoinKind::Full, c),
        JoinOperator::CrossJoin(c) => (JoinKind::Inner, c),
        other => return unsupported(format!("join {other:?}")),
    };
    let la = ls.len();
    let mut scope = ls.clone().concat(rs.clone());
    // Right-side USING columns answer only to their qualified names once the join is planned.
    let mut using_right = Vec::new();
    let predicate: Option<Expr> = match constraint {
        JoinConstraint::On(e) => Some(e.clone()),
        JoinConstraint::None => None,
        JoinConstraint::Using(cols) => {
            let mut conj: Option<Expr> = None;
            for c in cols {
                let name = c.to_string().to_lowercase();
                let li = ls.resolve(None, &name)?;
                let ri = rs.resolve(None, &name)?;
                let eq = Expr::BinaryOp {
                    left: Box::new(qualified(&ls.items[li], &name)),
                    op: ast::BinaryOperator::Eq,
                    right: Box::new(qualified(&rs.items[ri], &name)),
                };
                using_right.push(la + ri);
                conj = Some(match conj {
                    None => eq,
                    Some(c) => Expr::BinaryOp {
                        left: Box::new(c),
                        op: ast::BinaryOperator::And,
                        right: Box::new(eq),
                    },
                });
            }
            conj
        }
        JoinConstraint::Natural => return unsupported("NATURAL JOIN"),
    };
    let (predicate, given_grace) = join_time::take_join_grace(predicate);
    let joined = l.clone().join(r.clone(), vec![]);
    let mut cx = ExprCx::new(qcx, joined, scope.clone(), "JOIN conditions");
    let pred = match &predicate {
        Some(p) => Some(cx.plan_as(p, ScalarType::Bool, "JOIN/ON")?),
        None => None,
    };
    if cx.types.len() != la + rs.len() {
        return unsupported("subqueries in JOIN conditions");
    }
    for i in using_right {
        scope.items[i].qualified_only = true;
    }
    let keys = pred
        .as_ref()
        .map(|p| equi_keys(p, la, &cx.types))
        .unwrap_or_default();
    let is_stream = |id| qcx.pcx.catalog.is_stream(id);
    if let Some(spelling) = as_of_arrival {
        let stream_table = l.is_append_only(&is_stream)
            && matches!(kind, JoinKind::Inner | JoinKind::Left)
            && (spelling == AsOfArrival::Sql || !r.is_append_only(&is_stream));
        if stream_table {
            let rel = RelExpr::StreamTableJoin {
                stream: Box::new(l),
                table: Box::new(r),
                keys,
                predicates: pred.into_iter().collect(),
                outer: matches!(kind, JoinKind::Left),
            };
            return Ok((rel, scope));
        }
        if spelling == AsOfArrival::Sql {
            return Err(PlanError::Unsupported(
                "FOR SYSTEM_TIME AS OF PROCTIME() other than on the right of an inner or LEFT join \
                 whose left side is a stream (an APPEND ONLY table, a source without an envelope, or rows \
                 computed one by one from one)"
                    .into(),
            ));
        }
    }
    let streams = l.is_append_only(&is_stream) && r.is_append_only(&is_stream);
    if let (JoinKind::Inner, true, Some(p)) = (&kind, streams, &pred) {
        let preds = [p.clone()];
        if let Some(rel) = join_time::interval_join(qcx.pcx, (&l, &r), &keys, &preds, given_grace) {
            return Ok((rel, scope));
        }
    }
    let inner = l
        .clone()
        .join(r.clone(), keys)
        .filter(pred.into_iter().collect());
    let (lt, rt) = (l.typ(), r.typ());
    let ra = rt.len();
    let rel = match kind {
        JoinKind::Inner => inner,
        _ => {
            let inner_id = next_local_id();
            let inner_get = RelExpr::LocalGet {
                id: inner_id,
                types: inner.typ(),
            };
            let nulls = |types: &[ColumnType]| -> Vec<ScalarExpr> {
                types.iter().map(|t| ScalarExpr::null(t.scalar)).collect()
            };
            let mut body = inner_get.clone();
            if matches!(kind, JoinKind::Left | JoinKind::Full) {
                let unmatched =
                    unmatched_rows(l.clone(), inner_get.clone().project((0..la).collect()), la);
                body = body.union(unmatched.map(nulls(&rt)));
            }
            if matches!(kind, JoinKind::Right | JoinKind::Full) {
                let unmatched =
                    unmatched_rows(r.clone(), inner_get.project((la..la + ra).collect()), ra);
                let padded = unmatched
                    .map(nulls(&lt))
                    .project((ra..ra + la).chain(0..ra).collect());
                body = body.union(padded);
            }
            RelExpr::Let {
                id: inner_id,
                value: Box::new(inner),
                body: Box::new(body),
            }
        }
    };
    let _ = null_row;
    Ok((rel, scope))
}

pub(super) fn qualified(item: &ScopeItem, name: &str) -> Expr {
    match &item.table {
        Some(t) => Expr::CompoundIdentifier(vec![
            ast::Ident::with_quote('"', t),
            ast::Ident::with_quote('"', name),
        ]),
        None => Expr::Identifier(ast::Ident::with_quote('"', name)),
    }
}

enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

/// The rows of `side` (with multiplicity) that have no partner in `matched` (a projection of the
/// inner join onto `side`'s columns).
fn unmatched_rows(side: RelExpr, matched: RelExpr, width: usize) -> RelExpr {
    let all: Vec<(usize, usize)> = (0..width).map(|i| (i, i)).collect();
    let with_match = side
        .clone()
        .join(matched.distinct(), all)
        .project((0..width).collect());
    side.union(with_match.negate())
}

/// Equality conjuncts between a left column and a right column of the same type: join keys.
pub fn equi_keys(
    pred: &ScalarExpr,
    left_arity: usize,
    types: &[ColumnType],
) -> Vec<(usize, usize)> {
    let conjuncts: Vec<&ScalarExpr> = match pred {
        ScalarExpr::Call {
            func: Func::And,
            args,
        } => args.iter().collect(),
        p => vec![p],
    };
    conjuncts
        .into_iter()
        .filter_map(|c| column_equality(c, left_arity, types))
        .collect()
}

/// The key `(left column, right column)` of `pred` if it is just `left = right` across the two
/// sides of a join (`left_arity` columns on the left), both of one type.
pub fn column_equality(
    pred: &ScalarExpr,
    left_arity: usize,
    types: &[ColumnType],
) -> Option<(usize, usize)> {
    let ScalarExpr::Call {
        func: Func::Eq,
        args,
    } = pred
    else {
        return None;
    };
    let [ScalarExpr::Column(a), ScalarExpr::Column(b)] = args.as_slice() else {
        return None;
    };
    let (a, b) = (*a.min(b), *a.max(b));
    (a < left_arity && b >= left_arity && types[a].scalar == types[b].scalar)
        .then_some((a, b - left_arity))
}
