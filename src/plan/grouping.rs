//! GROUP BY and aggregates: finding aggregate calls, mapping keys and arguments, the Reduce,
//! the default row of an aggregate without GROUP BY, and the scope after grouping.

use sqlparser::ast::{self, Expr, SelectItem};

use super::coerce::cast;
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::function::{aggregate_func, function_args};
use super::next_local_id;
use super::query::{ordinal, QueryCx};
use super::scope::{Scope, ScopeItem};
use crate::ir::array::ArrayFunc;
use crate::ir::relation::AggOrder;
use crate::ir::{AggregateExpr, AggregateFunc, Func, RelExpr, ScalarExpr};
use crate::parse::normalize_ident;
use crate::repr::{Datum, ScalarType};

/// Aggregate calls in an expression (not descending into subqueries).
pub(super) fn collect_aggregates(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        // A window function is computed beside the rows, not by grouping them.
        Expr::Function(f) if f.over.is_some() => {}
        Expr::Function(f) => {
            let name = f.name.to_string().to_lowercase();
            if aggregate_func(&name).is_some() {
                if !out.contains(e) {
                    out.push(e.clone());
                }
                return;
            }
            if let Ok(args) = function_args(f) {
                args.iter().for_each(|a| collect_aggregates(a, out));
            }
        }
        Expr::BinaryOp { left, right, .. } => {
            collect_aggregates(left, out);
            collect_aggregates(right, out);
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::Cast { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::IsTrue(expr)
        | Expr::IsFalse(expr)
        | Expr::IsNotTrue(expr)
        | Expr::IsNotFalse(expr)
        | Expr::Extract { expr, .. }
        | Expr::Ceil { expr, .. }
        | Expr::Floor { expr, .. } => collect_aggregates(expr, out),
        Expr::InSubquery { expr, .. } => collect_aggregates(expr, out),
        Expr::Between {
            expr, low, high, ..
        } => {
            collect_aggregates(expr, out);
            collect_aggregates(low, out);
            collect_aggregates(high, out);
        }
        Expr::InList { expr, list, .. } => {
            collect_aggregates(expr, out);
            list.iter().for_each(|l| collect_aggregates(l, out));
        }
        Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
            collect_aggregates(expr, out);
            collect_aggregates(pattern, out);
        }
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
            collect_aggregates(a, out);
            collect_aggregates(b, out);
        }
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            if let Some(o) = operand {
                collect_aggregates(o, out);
            }
            for c in conditions {
                collect_aggregates(&c.condition, out);
                collect_aggregates(&c.result, out);
            }
            if let Some(e) = else_result {
                collect_aggregates(e, out);
            }
        }
        _ => {}
    }
}

/// GROUP BY and aggregates: maps the keys and aggregate arguments, reduces, and returns an
/// expression context over `prefix + keys + aggregates` that recognizes those expressions.
pub(super) fn plan_grouping<'a, 'c>(
    qcx: &'a QueryCx<'c>,
    rel: RelExpr,
    scope: Scope,
    s: &ast::Select,
    group_exprs: &[Expr],
    aggs: &[Expr],
) -> PlanResult<ExprCx<'a, 'c>> {
    let prefix = qcx.prefix_len();
    let width = scope.len();
    let mut cx = ExprCx::new(qcx, rel, scope.clone(), "GROUP BY");
    // GROUP BY 1 and GROUP BY alias refer to select items.
    let mut keys_ast = Vec::new();
    for g in group_exprs {
        let resolved = match g {
            Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
                let i = ordinal(&v.value, s.projection.len())?;
                match &s.projection[i] {
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                        e.clone()
                    }
                    _ => return unsupported("GROUP BY position of *"),
                }
            }
            Expr::Identifier(id) if scope.resolve(None, &normalize_ident(id)).is_err() => s
                .projection
                .iter()
                .find_map(|p| match p {
                    SelectItem::ExprWithAlias { expr, alias }
                        if normalize_ident(alias) == normalize_ident(id) =>
                    {
                        Some(expr.clone())
                    }
                    _ => None,
                })
                .unwrap_or_else(|| g.clone()),
            _ => g.clone(),
        };
        keys_ast.push(resolved);
    }
    // Duplicate keys (`GROUP BY a, a`) group once.
    let mut key_scalars = Vec::new();
    let mut unique_keys = Vec::new();
    for k in &keys_ast {
        let s = cx.plan(k)?;
        if !key_scalars.contains(&s) {
            key_scalars.push(s);
            unique_keys.push(k.clone());
        }
    }
    let keys_ast = unique_keys;
    let mut agg_exprs = Vec::new();
    let mut arg_scalars = Vec::new();
    cx.clause = "aggregate function calls";
    for a in aggs {
        let Expr::Function(f) = a else {
            unreachable!("collect_aggregates only collects function calls")
        };
        let name = f.name.to_string().to_lowercase();
        let func = aggregate_func(&name).expect("collected as an aggregate");
        let distinct = matches!(&f.args, ast::FunctionArguments::List(l) if matches!(l.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct)));
        let args = function_args(f)?;
        // ORDER BY inside array_agg and string_agg; refused elsewhere rather than ignored (the
        // answer would silently differ from Postgres').
        let mut sort_keys = Vec::new();
        let mut order = AggOrder::default();
        if let ast::FunctionArguments::List(l) = &f.args {
            for clause in &l.clauses {
                let ast::FunctionArgumentClause::OrderBy(items) = clause else {
                    return unsupported(format!("{clause} inside an aggregate call ({name})"));
                };
                if !matches!(
                    func,
                    AggregateFunc::ArrayAgg { .. } | AggregateFunc::StringAgg { .. }
                ) {
                    return unsupported(format!("ORDER BY inside {name}"));
                }
                if items.len() > AggOrder::MAX_KEYS {
                    return unsupported(format!(
                        "more than {} ORDER BY keys in {name}",
                        AggOrder::MAX_KEYS
                    ));
                }
                for (i, item) in items.iter().enumerate() {
                    let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
                    if matches!(item.options.sort, Some(ast::OrderBySort::Using(_))) {
                        return unsupported(format!("ORDER BY ... USING inside {name}"));
                    }
                    order.desc |= (desc as u16) << i;
                    order.nulls_first |= (item.options.nulls_first.unwrap_or(desc) as u16) << i;
                    let (key, t) = cx.plan_typed(&item.expr)?;
                    sort_keys.push(cast(
                        key,
                        t.scalar,
                        if t.scalar == ScalarType::Unknown {
                            ScalarType::Text
                        } else {
                            t.scalar
                        },
                    ));
                }
                order.keys = items.len() as u8;
            }
        }
        let func = match func {
            AggregateFunc::ArrayAgg { .. } => AggregateFunc::ArrayAgg { order },
            AggregateFunc::StringAgg { .. } => AggregateFunc::StringAgg { order },
            other => other,
        };
        let (func, arg) = match (func, args.as_slice()) {
            (AggregateFunc::Count, [Expr::Wildcard(_)]) | (AggregateFunc::Count, []) => {
                (AggregateFunc::CountAll, ScalarExpr::null(ScalarType::Bool))
            }
            // Each value travels with its sort keys and its row's separator (the one written
            // before it).
            (AggregateFunc::StringAgg { .. }, [e, sep]) => {
                let value = cx.plan_as(e, ScalarType::Text, "string_agg")?;
                let sep = cx.plan_as(sep, ScalarType::Text, "string_agg")?;
                let mut fields = std::mem::take(&mut sort_keys);
                fields.extend([value, sep]);
                (func, record(ScalarType::Text, fields))
            }
            (_, [e]) => {
                let (mut s, t) = cx.plan_typed(e)?;
                if t.scalar == ScalarType::Unknown {
                    s = cast(s, t.scalar, ScalarType::Text);
                }
                if matches!(func, AggregateFunc::Sum | AggregateFunc::Avg)
                    && !(t.scalar.is_numeric() || t.scalar == ScalarType::Interval)
                {
                    return Err(PlanError::UndefinedFunction(format!(
                        "{name}({})",
                        t.scalar.name()
                    )));
                }
                if matches!(func, AggregateFunc::ArrayAgg { .. }) && t.scalar.array_of().is_none() {
                    return unsupported(format!(
                        "array_agg of {} (arrays of arrays)",
                        t.scalar.name()
                    ));
                }
                if matches!(func, AggregateFunc::BoolAnd | AggregateFunc::BoolOr)
                    && t.scalar != ScalarType::Bool
                {
                    return Err(PlanError::UndefinedFunction(format!(
                        "{name}({})",
                        t.scalar.name()
                    )));
                }
                if sort_keys.is_empty() {
                    (func, s)
                } else {
                    let element = if t.scalar == ScalarType::Unknown {
                        ScalarType::Text
                    } else {
                        t.scalar
                    };
                    let mut fields = std::mem::take(&mut sort_keys);
                    fields.push(s);
                    (func, record(element, fields))
                }
            }
            _ => {
                return Err(PlanError::UndefinedFunction(format!(
                    "{name} with {} arguments",
                    args.len()
                )))
            }
        };
        arg_scalars.push(arg);
        agg_exprs.push((func, distinct));
    }
    let ext = cx.types.len();
    let nk = key_scalars.len();
    let mut mapped = key_scalars.clone();
    mapped.extend(arg_scalars);
    let (pre, _) = {
        let r = std::mem::replace(&mut cx.rel, RelExpr::unit());
        cx.rel = r.map(mapped);
        cx.finish()
    };
    let group_key: Vec<usize> = (0..prefix).chain(ext..ext + nk).collect();
    let aggregates: Vec<AggregateExpr> = agg_exprs
        .iter()
        .enumerate()
        .map(|(i, (func, distinct))| AggregateExpr {
            func: *func,
            expr: ScalarExpr::Column(ext + nk + i),
            distinct: *distinct,
        })
        .collect();
    let mut reduced = RelExpr::Reduce {
        input: Box::new(pre),
        group_key,
        aggregates: aggregates.clone(),
    };
    if group_exprs.is_empty() {
        // An aggregate with no GROUP BY has one row even over no input (per outer row).
        let id = next_local_id();
        let types = reduced.typ();
        let get = RelExpr::LocalGet {
            id,
            types: types.clone(),
        };
        let missing = qcx
            .outer_rel
            .clone()
            .union(get.clone().project((0..prefix).collect()).negate());
        let defaults = aggregates
            .iter()
            .enumerate()
            .map(|(i, a)| match a.func {
                AggregateFunc::CountAll | AggregateFunc::Count => {
                    ScalarExpr::Literal(Datum::Int64(0), ScalarType::Int64)
                }
                _ => ScalarExpr::null(types[prefix + i].scalar),
            })
            .collect();
        reduced = RelExpr::Let {
            id,
            value: Box::new(reduced),
            body: Box::new(get.union(missing.map(defaults))),
        };
    }
    // The scope after grouping: prefix, keys (named when they are plain columns), aggregates.
    let mut items: Vec<ScopeItem> = scope.items[..prefix].to_vec();
    for k in &key_scalars {
        match k {
            ScalarExpr::Column(c) if *c < width => items.push(scope.items[*c].clone()),
            _ => items.push(ScopeItem {
                table: None,
                name: String::new(),
                level: 0,
                hidden: true,
                qualified_only: false,
                event_time: false,
            }),
        }
    }
    for _ in aggs {
        items.push(ScopeItem {
            table: None,
            name: String::new(),
            level: 0,
            hidden: true,
            qualified_only: false,
            event_time: false,
        });
    }
    let mut post = ExprCx::new(qcx, reduced, Scope { items }, "SELECT");
    post.grouped = keys_ast
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), prefix + i))
        .collect();
    post.grouped.extend(
        aggs.iter()
            .enumerate()
            .map(|(i, a)| (a.clone(), prefix + nk + i)),
    );
    post.pre_agg_scope = Some(scope);
    Ok(post)
}

/// The argument of an ordered aggregate: its sort keys and payload as one array value, typed as
/// an array of the payload's type.
fn record(payload: ScalarType, fields: Vec<ScalarExpr>) -> ScalarExpr {
    ScalarExpr::call(Func::Array(ArrayFunc::Build(payload)), fields)
}
