//! `generate_series(start, stop [, step])` in `FROM`. As in Postgres, its arguments may use the
//! columns of the `FROM` items before it (`FROM t, generate_series(1, t.n)`, also spelled `CROSS
//! JOIN [LATERAL]`): it is then a `FlatMap` over them, one output row per value. Elsewhere (first
//! in `FROM`, or the right side of another join) it is a `FlatMap` over one empty row.

use sqlparser::ast::{self, FunctionArg, FunctionArgExpr, TableFactor};

use super::coerce::cast;
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::query::QueryCx;
use super::scope::Scope;
use crate::ir::{RelExpr, TableFunc};
use crate::parse::normalize_ident;
use crate::repr::ScalarType;

/// The arguments and alias of `generate_series(...)` as a `FROM` item; None for anything else.
pub(super) fn call(tf: &TableFactor) -> Option<(&[FunctionArg], Option<&ast::TableAlias>)> {
    let (name, args, alias) = match tf {
        TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } => (name, &args.args[..], alias),
        TableFactor::Function {
            name, args, alias, ..
        } => (name, &args[..], alias),
        _ => return None,
    };
    is_series(name).then_some((args, alias.as_ref()))
}

fn is_series(name: &ast::ObjectName) -> bool {
    matches!(
        name.to_string().to_lowercase().as_str(),
        "generate_series" | "pg_catalog.generate_series"
    )
}

/// `generate_series(args)` over `input` (whose columns, in `scope`, the arguments may use): the
/// input's columns, then the series'.
pub(super) fn plan(
    qcx: &QueryCx,
    input: RelExpr,
    scope: Scope,
    args: &[FunctionArg],
    alias: Option<&ast::TableAlias>,
) -> PlanResult<(RelExpr, Scope)> {
    let mut cx = ExprCx::new(qcx, input, scope, "generate_series");
    plan_in(&mut cx, args)?;
    let (rel, mut scope) = cx.finish();
    // A function returning one column names it after the alias, as in Postgres.
    let (table, column) = match alias {
        Some(a) => {
            let table = normalize_ident(&a.name);
            let column = a
                .columns
                .first()
                .map(|c| normalize_ident(&c.name))
                .unwrap_or_else(|| table.clone());
            (table, column)
        }
        None => ("generate_series".to_string(), "generate_series".to_string()),
    };
    scope.items.pop();
    Ok((
        rel,
        scope.concat(Scope::from_names(Some(&table), &[column])),
    ))
}

/// `generate_series(...)` as a select-list item: the arguments of the call, if `e` is one.
pub(super) fn select_item_call(e: &ast::Expr) -> Option<&[FunctionArg]> {
    match e {
        ast::Expr::Function(f) if is_series(&f.name) => match &f.args {
            ast::FunctionArguments::List(l) => Some(&l.args),
            _ => None,
        },
        _ => None,
    }
}

/// Appends to `cx`'s relation one row per value of `generate_series(args)` (planned in `cx`),
/// in a new column, whose index it returns; the column is hidden from names.
pub(super) fn plan_in(cx: &mut ExprCx, args: &[FunctionArg]) -> PlanResult<usize> {
    let exprs: Vec<&ast::Expr> = args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
            _ => Err(PlanError::Syntax(
                "generate_series takes plain arguments".into(),
            )),
        })
        .collect::<PlanResult<_>>()?;
    let mut planned = Vec::new();
    for e in &exprs {
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
    let input = std::mem::replace(&mut cx.rel, RelExpr::unit());
    cx.rel = RelExpr::FlatMap {
        input: Box::new(input),
        func: TableFunc::GenerateSeries,
        args: coerced,
    };
    cx.types.push(crate::repr::ColumnType::new(of, false));
    let mut item = Scope::from_names(None, &["generate_series".to_string()]);
    item.items[0].hidden = true;
    cx.scope = std::mem::take(&mut cx.scope).concat(item);
    Ok(cx.types.len() - 1)
}
