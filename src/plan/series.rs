//! Set-returning functions in `FROM` and in the select list: `generate_series(start, stop [,
//! step])`, `unnest(array)` and `generate_subscripts(array, dim)`. As in Postgres, their
//! arguments may use the columns of the `FROM` items before them (`FROM t, generate_series(1,
//! t.n)`, also spelled `CROSS JOIN [LATERAL]`): the function is then a `FlatMap` over them, one
//! output row per value. Elsewhere (first in `FROM`, or the right side of another join) it is a
//! `FlatMap` over one empty row. In `FROM`, `WITH ORDINALITY` adds a last column numbering each
//! input row's output rows from 1.

use sqlparser::ast::{self, FunctionArg, FunctionArgExpr, TableFactor};

use super::coerce::cast;
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::query::QueryCx;
use super::scope::Scope;
use crate::ir::{RelExpr, ScalarExpr, TableFunc};
use crate::parse::normalize_ident;
use crate::repr::{ColumnType, ScalarType};

/// A set-returning function as a `FROM` item.
pub(super) struct Call<'a> {
    name: &'static str,
    args: Vec<ast::Expr>,
    alias: Option<&'a ast::TableAlias>,
    ordinality: bool,
}

/// The set-returning function a `FROM` item calls; None for anything else.
pub(super) fn call(tf: &TableFactor) -> Option<Call<'_>> {
    // `unnest(a)` in FROM is parsed as its own kind of item.
    if let TableFactor::UNNEST {
        alias,
        array_exprs,
        with_offset: false,
        with_ordinality,
        ..
    } = tf
    {
        return Some(Call {
            name: "unnest",
            args: array_exprs.clone(),
            alias: alias.as_ref(),
            ordinality: *with_ordinality,
        });
    }
    let (name, args, alias, ordinality) = match tf {
        TableFactor::Table {
            name,
            args: Some(args),
            alias,
            with_ordinality,
            ..
        } => (name, &args.args[..], alias, with_ordinality),
        TableFactor::Function {
            name,
            args,
            alias,
            with_ordinality,
            ..
        } => (name, &args[..], alias, with_ordinality),
        _ => return None,
    };
    Some(Call {
        name: srf_name(name)?,
        args: plain_args(args)?,
        alias: alias.as_ref(),
        ordinality: *ordinality,
    })
}

/// The arguments of a call, when they are all plain expressions.
fn plain_args(args: &[FunctionArg]) -> Option<Vec<ast::Expr>> {
    args.iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// The set-returning function a name denotes.
pub(super) fn srf_name(name: &ast::ObjectName) -> Option<&'static str> {
    let name = name.to_string().to_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let name = name.strip_prefix("information_schema.").unwrap_or(name);
    [
        "generate_series",
        "unnest",
        "generate_subscripts",
        "_pg_expandarray",
    ]
    .into_iter()
    .find(|f| *f == name)
}

/// A set-returning function over `input` (whose columns, in `scope`, the arguments may use):
/// the input's columns, then the function's.
pub(super) fn plan(
    qcx: &QueryCx,
    input: RelExpr,
    scope: Scope,
    call: Call,
) -> PlanResult<(RelExpr, Scope)> {
    let Call {
        name,
        args,
        alias,
        ordinality,
    } = call;
    let mut cx = ExprCx::new(qcx, input, scope, name);
    let columns = plan_in(&mut cx, &[(name, args)], ordinality)?;
    let (rel, mut scope) = cx.finish();
    // A function returning one column names it after the alias, as in Postgres; the ordinality
    // column is `ordinality` unless the alias names it.
    let (table, mut names) = match alias {
        Some(a) => {
            let table = normalize_ident(&a.name);
            let names: Vec<String> = a.columns.iter().map(|c| normalize_ident(&c.name)).collect();
            (
                table.clone(),
                if names.is_empty() { vec![table] } else { names },
            )
        }
        None => (name.to_string(), vec![name.to_string()]),
    };
    if names.len() > columns.len() {
        return Err(PlanError::InvalidColumnReference(format!(
            "table \"{table}\" has {} columns available but {} columns specified",
            columns.len(),
            names.len()
        )));
    }
    if ordinality && names.len() < 2 {
        names.push("ordinality".into());
    }
    scope.items.truncate(scope.items.len() - columns.len());
    Ok((rel, scope.concat(Scope::from_names(Some(&table), &names))))
}

/// A set-returning function's name and arguments, as a select-list item.
pub(super) type SelectCall = (&'static str, Vec<ast::Expr>);

/// The set-returning function calls in `e` (not inside subqueries, nor inside another such
/// call's arguments), each with the expression that makes it, added to `calls` once each.
pub(super) fn nested_calls(e: &ast::Expr, calls: &mut Vec<(ast::Expr, SelectCall)>) {
    use ast::Expr as E;
    if let Some(call) = select_item_call(e) {
        if !calls.iter().any(|(seen, _)| seen == e) {
            calls.push((e.clone(), call));
        }
        return;
    }
    let mut visit = |e: &ast::Expr| nested_calls(e, calls);
    match e {
        E::Nested(e) | E::UnaryOp { expr: e, .. } | E::Cast { expr: e, .. } => visit(e),
        E::IsNull(e) | E::IsNotNull(e) | E::IsTrue(e) | E::IsFalse(e) => visit(e),
        E::BinaryOp { left, right, .. } => {
            visit(left);
            visit(right);
        }
        E::CompoundFieldAccess { root, .. } => visit(root),
        // Not into an aggregate's arguments: it runs before the select list, on the input rows.
        E::Function(f)
            if super::function::aggregate_func(&f.name.to_string().to_lowercase()).is_none()
                && f.over.is_none() =>
        {
            if let ast::FunctionArguments::List(l) = &f.args {
                for a in &l.args {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a {
                        visit(e);
                    }
                }
            }
        }
        _ => {}
    }
}

/// A set-returning function as a select-list item, if `e` calls one.
pub(super) fn select_item_call(e: &ast::Expr) -> Option<SelectCall> {
    match e {
        ast::Expr::Function(f) => match &f.args {
            ast::FunctionArguments::List(l) => Some((srf_name(&f.name)?, plain_args(&l.args)?)),
            _ => None,
        },
        _ => None,
    }
}

/// Appends to `cx`'s relation one row per value of the functions of `calls` (planned in `cx`;
/// several in lockstep), one new column each (and with `ordinality` one more, the row's number),
/// whose indexes it returns; the columns are hidden from names.
pub(super) fn plan_in(
    cx: &mut ExprCx,
    calls: &[SelectCall],
    ordinality: bool,
) -> PlanResult<Vec<usize>> {
    let mut funcs = Vec::new();
    let mut all_args = Vec::new();
    let mut types = Vec::new();
    for (name, args) in calls {
        let exprs: Vec<&ast::Expr> = args.iter().collect();
        let (func, args, of) = match *name {
            "generate_series" => series(cx, &exprs)?,
            _ => array_elements(cx, name, &exprs)?,
        };
        funcs.push((func, args.len()));
        all_args.extend(args);
        types.push(of);
    }
    let func = match funcs.as_slice() {
        [(one, _)] => one.clone(),
        _ => TableFunc::Zip { funcs },
    };
    let func = if ordinality {
        TableFunc::Ordinality(Box::new(func))
    } else {
        func
    };
    let input = std::mem::replace(&mut cx.rel, RelExpr::unit());
    cx.rel = RelExpr::FlatMap {
        input: Box::new(input),
        func,
        args: all_args,
    };
    let first = cx.types.len();
    let ordinal = ordinality.then_some(("ordinality", ColumnType::new(ScalarType::Int64, false)));
    let columns = calls
        .iter()
        .map(|(name, _)| *name)
        .zip(types)
        .chain(ordinal);
    for (name, of) in columns {
        cx.types.push(of);
        let mut item = Scope::from_names(None, &[name.to_string()]);
        item.items[0].hidden = true;
        cx.scope = std::mem::take(&mut cx.scope).concat(item);
    }
    Ok((first..cx.types.len()).collect())
}

/// `unnest(array)`: its elements; `generate_subscripts(array, dim)`: their subscripts.
fn array_elements(
    cx: &mut ExprCx,
    name: &str,
    exprs: &[&ast::Expr],
) -> PlanResult<(TableFunc, Vec<ScalarExpr>, ColumnType)> {
    let arity = if name == "generate_subscripts" { 2 } else { 1 };
    if exprs.len() != arity {
        return Err(PlanError::UndefinedFunction(format!(
            "{name} with {} arguments",
            exprs.len()
        )));
    }
    let (array, t) = cx.plan_typed(exprs[0])?;
    let (array, t) = match t.scalar {
        ScalarType::Unknown => {
            let to = ScalarType::Text.array_of().expect("text has an array type");
            (cast(array, t.scalar, to), to)
        }
        t => (array, t),
    };
    let Some(element) = t.element() else {
        return Err(PlanError::UndefinedFunction(format!(
            "{name}({}) (the argument must be an array)",
            t.name()
        )));
    };
    if name == "unnest" {
        return Ok((
            TableFunc::Unnest,
            vec![array],
            ColumnType::new(element, true),
        ));
    }
    if name == "_pg_expandarray" {
        let of = TableFunc::ExpandArray
            .output_types(&[ColumnType::new(t, true)])
            .remove(0);
        return Ok((TableFunc::ExpandArray, vec![array], of));
    }
    let dim = cx.plan_as(exprs[1], ScalarType::Int32, name)?;
    Ok((
        TableFunc::GenerateSubscripts,
        vec![array, dim],
        ColumnType::new(ScalarType::Int32, false),
    ))
}

/// `generate_series(start, stop [, step])`: the function, its coerced arguments and its column.
fn series(
    cx: &mut ExprCx,
    exprs: &[&ast::Expr],
) -> PlanResult<(TableFunc, Vec<ScalarExpr>, ColumnType)> {
    let mut planned = Vec::new();
    for e in exprs {
        planned.push(cx.plan_typed(e)?);
    }
    let types: Vec<ScalarType> = planned.iter().map(|(_, t)| t.scalar).collect();
    let signature = || {
        let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
        format!("generate_series({})", names.join(", "))
    };
    if !(2..=3).contains(&exprs.len()) {
        return Err(PlanError::UndefinedFunction(signature()));
    }
    use ScalarType::*;
    let time = |t: ScalarType| matches!(t, Timestamp | TimestampTz | Date);
    // The type of the values, and of the step.
    let (of, step) = if types.iter().any(|t| time(*t)) || types.get(2) == Some(&Interval) {
        let of = if types[..2].iter().all(|t| *t == Timestamp || *t == Unknown)
            && types[..2].contains(&Timestamp)
        {
            Timestamp
        } else {
            // Postgres' preferred type of the date and time category.
            TimestampTz
        };
        if exprs.len() != 3 {
            return Err(PlanError::UndefinedFunction(format!(
                "generate_series({}, {}): a series of times needs an interval step",
                types[0].name(),
                types[1].name()
            )));
        }
        (of, Interval)
    } else if types.iter().all(|t| matches!(t, Int16 | Int32 | Unknown)) {
        (Int32, Int32)
    } else if types
        .iter()
        .all(|t| matches!(t, Int16 | Int32 | Int64 | Unknown))
    {
        (Int64, Int64)
    } else if types.iter().all(|t| t.is_numeric() || *t == Unknown) {
        if types.iter().any(|t| matches!(t, Float32 | Float64)) {
            return unsupported(signature());
        }
        (Numeric, Numeric)
    } else {
        return Err(PlanError::UndefinedFunction(signature()));
    };
    let mut coerced = Vec::new();
    for (i, (e, t)) in planned.into_iter().enumerate() {
        let to = if i < 2 { of } else { step };
        if t.scalar != to
            && t.scalar != Unknown
            && !super::coerce::can_implicitly_cast(t.scalar, to)
        {
            return Err(PlanError::UndefinedFunction(signature()));
        }
        coerced.push(cast(e, t.scalar, to));
    }
    Ok((
        TableFunc::GenerateSeries,
        coerced,
        ColumnType::new(of, false),
    ))
}
