//! `INSERT`, `UPDATE` and `DELETE`: the target table and columns, the rows to write, each value
//! assigned to its column's type.

use sqlparser::ast;

use super::coerce::{can_implicitly_cast, cast};
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::query::{lower_subquery, plan_query, QueryCx};
use super::scope::Scope;
use super::statement::{object_name, Plan};
use super::PlanContext;
use crate::catalog::ItemKind;
use crate::ir::{RelExpr, ScalarExpr};
use crate::parse::normalize_ident;
use crate::repr::ScalarType;

/// The table a write targets (only tables accept writes).
/// The positions of the named target columns of a write (all columns when none are named).
pub(super) fn target_columns(
    table: &crate::catalog::CatalogItem,
    names: &[String],
) -> PlanResult<Vec<usize>> {
    let desc = &table.desc;
    if names.is_empty() {
        return Ok((0..desc.arity()).collect());
    }
    let scope = Scope::from_names(None, &desc.names);
    let mut cols = Vec::new();
    for n in names {
        let i = scope.resolve(None, n).map_err(|_| {
            PlanError::UnknownColumn(format!("{n}\" of relation \"{}", table.name.item))
        })?;
        if cols.contains(&i) {
            return Err(PlanError::DuplicateColumn(n.clone()));
        }
        cols.push(i);
    }
    Ok(cols)
}

pub(super) fn target_table<'a>(
    pcx: &'a PlanContext,
    name: &ast::ObjectName,
) -> PlanResult<&'a crate::catalog::CatalogItem> {
    let item = pcx
        .catalog
        .resolve(&object_name(name), &pcx.database, &pcx.search_path)?;
    if !matches!(item.kind, ItemKind::Table) {
        return Err(PlanError::WrongObjectType(item.name.item.clone(), "table")).map_err(|_| {
            PlanError::Unsupported(format!(
                "writing to {} \"{}\"",
                item.kind.type_name(),
                item.name.item
            ))
        });
    }
    Ok(item)
}

/// A column's `DEFAULT` expression, planned as a value of the column's type. It may not use
/// columns or subqueries (as in Postgres).
pub(super) fn default_value(
    pcx: &PlanContext,
    sql: &str,
    to: ScalarType,
    column: &str,
) -> PlanResult<ScalarExpr> {
    let expr = parse_expr(sql)?;
    let root = QueryCx::root(pcx);
    let mut cx = ExprCx::new(
        &root,
        RelExpr::unit(),
        Scope::default(),
        "DEFAULT expressions",
    );
    let (e, t) = cx.plan_typed(&expr)?;
    if !cx.types.is_empty() || !cx.lets.is_empty() {
        return unsupported("subqueries in DEFAULT expressions");
    }
    // A constant that cannot be of the column's type fails now, as in Postgres.
    match assign(e, t.scalar, to, column)? {
        ScalarExpr::Error(e, _) => Err(PlanError::Eval(e)),
        e => Ok(e),
    }
}

/// Whether `e` is the keyword `DEFAULT` (in `VALUES (DEFAULT, ...)` or `SET c = DEFAULT`), which
/// sqlparser reads as a bare identifier.
fn is_default(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
}

/// What `DEFAULT` stands for in column `i` of `table`: its default expression, else NULL.
fn default_expr(table: &crate::catalog::CatalogItem, i: usize) -> PlanResult<ast::Expr> {
    let sql = match table.defaults.get(i) {
        Some(Some(sql)) => sql.as_str(),
        _ => "NULL",
    };
    Ok(ast::Expr::Nested(Box::new(parse_expr(sql)?)))
}

/// A default expression as stored in the catalog (its SQL text).
fn parse_expr(sql: &str) -> PlanResult<ast::Expr> {
    sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| PlanError::Syntax(e.to_string()))
}

/// `VALUES` rows with each `DEFAULT` replaced by its column's default expression (planned
/// with the rows, so `now()` is the insert's time as when the column is left out).
fn values_with_defaults(
    source: &ast::Query,
    table: &crate::catalog::CatalogItem,
    columns: &[usize],
) -> PlanResult<Option<ast::Query>> {
    let ast::SetExpr::Values(values) = &*source.body else {
        return Ok(None);
    };
    if !values.rows.iter().flat_map(|r| &r.content).any(is_default) {
        return Ok(None);
    }
    let mut values = values.clone();
    for row in &mut values.rows {
        for (j, e) in row.content.iter_mut().enumerate() {
            if is_default(e) {
                let Some(&i) = columns.get(j) else {
                    return Err(PlanError::Syntax(
                        "INSERT has more expressions than target columns".into(),
                    ));
                };
                *e = default_expr(table, i)?;
            }
        }
    }
    let mut query = source.clone();
    query.body = Box::new(ast::SetExpr::Values(values));
    Ok(Some(query))
}

/// Converts `e` (typed `from`) for storage in a column of type `to`, as an assignment cast.
fn assign(e: ScalarExpr, from: ScalarType, to: ScalarType, column: &str) -> PlanResult<ScalarExpr> {
    let assignable = from == ScalarType::Unknown
        || can_implicitly_cast(from, to)
        || (from.is_numeric() && to.is_numeric());
    if !assignable {
        return Err(PlanError::TypeMismatch(format!(
            "column \"{column}\" is of type {} but expression is of type {}",
            to.name(),
            from.name()
        )));
    }
    Ok(cast(e, from, to))
}

pub(super) fn plan_insert(pcx: &PlanContext, ins: &ast::Insert) -> PlanResult<Plan> {
    if ins.returning.is_some() {
        return unsupported("INSERT ... RETURNING");
    }
    if ins.on.is_some() {
        return unsupported("INSERT ... ON CONFLICT");
    }
    let ast::TableObject::TableName(name) = &ins.table else {
        return unsupported("INSERT into a table function");
    };
    let table = target_table(pcx, name)?;
    let desc = &table.desc;
    let names: Vec<String> = ins
        .columns
        .iter()
        .map(|c| object_name(c).last().cloned().unwrap_or_default())
        .collect();
    let columns = target_columns(table, &names)?;
    let src = match &ins.source {
        // `DEFAULT VALUES`: one row, every column its default.
        None if ins.columns.is_empty() => RelExpr::unit(),
        None => {
            return Err(PlanError::Syntax(
                "INSERT with columns needs a source".into(),
            ))
        }
        Some(source) => {
            let with_defaults = values_with_defaults(source, table, &columns)?;
            let source = with_defaults.as_ref().unwrap_or(source);
            if matches!(&*source.body, ast::SetExpr::Values(_)) {
                *pcx.values_hint.borrow_mut() =
                    Some(columns.iter().map(|c| desc.types[*c].scalar).collect());
            }
            let root = QueryCx::root(pcx);
            let pq = plan_query(&root, source);
            pcx.values_hint.borrow_mut().take();
            lower_subquery(pq?, 0)
        }
    };
    let src_types = src.typ();
    if src_types.len() > columns.len() {
        return Err(PlanError::Syntax(
            "INSERT has more expressions than target columns".into(),
        ));
    }
    if src_types.len() < columns.len() && !ins.columns.is_empty() {
        return Err(PlanError::Syntax(
            "INSERT has more target columns than expressions".into(),
        ));
    }
    // Build each table column: the matching source column, assignment-cast, or NULL.
    let mut scalars = Vec::new();
    for (i, t) in desc.types.iter().enumerate() {
        let e = match columns.iter().position(|c| *c == i) {
            Some(j) if j < src_types.len() => assign(
                ScalarExpr::Column(j),
                src_types[j].scalar,
                t.scalar,
                &desc.names[i],
            )?,
            _ => match table.defaults.get(i) {
                Some(Some(default)) => default_value(pcx, default, t.scalar, &desc.names[i])?,
                _ => ScalarExpr::null(t.scalar),
            },
        };
        scalars.push(e);
    }
    let n = src_types.len();
    let width = scalars.len();
    let source = src.map(scalars).project((n..n + width).collect());
    Ok(Plan::Insert {
        id: table.id,
        source,
    })
}

/// The rows of an UPDATE's or DELETE's target table that its WHERE clause selects, as an
/// expression context whose columns are the table's (plus any its subqueries add).
fn target_rows<'a, 'c>(
    root: &'a QueryCx<'c>,
    name: &ast::ObjectName,
    alias: Option<&ast::TableAlias>,
    selection: Option<&ast::Expr>,
    clause: &'static str,
) -> PlanResult<(&'c crate::catalog::CatalogItem, ExprCx<'a, 'c>)> {
    let table = target_table(root.pcx, name)?;
    if table.append_only {
        return Err(PlanError::AppendOnly(format!(
            "cannot {clause} append-only table \"{}\": it takes only INSERT",
            table.name.item
        )));
    }
    let qualifier = alias
        .map(|a| normalize_ident(&a.name))
        .unwrap_or(table.name.item.clone());
    let get = RelExpr::Get {
        id: table.id,
        name: table.name.item.clone(),
        types: table.desc.types.clone(),
    };
    let mut cx = ExprCx::new(
        root,
        get,
        Scope::from_names(Some(&qualifier), &table.desc.names),
        clause,
    );
    if let Some(w) = selection {
        let p = cx.plan_as(w, ScalarType::Bool, "WHERE")?;
        let r = std::mem::replace(&mut cx.rel, RelExpr::unit());
        cx.rel = r.filter(vec![p]);
    }
    Ok((table, cx))
}

pub(super) fn plan_update(pcx: &PlanContext, up: &ast::Update) -> PlanResult<Plan> {
    if up.from.is_some() || up.returning.is_some() || !up.table.joins.is_empty() {
        return unsupported("UPDATE with FROM, joins or RETURNING");
    }
    let ast::TableFactor::Table { name, alias, .. } = &up.table.relation else {
        return unsupported("UPDATE of this target");
    };
    let root = QueryCx::root(pcx);
    let (table, mut cx) =
        target_rows(&root, name, alias.as_ref(), up.selection.as_ref(), "UPDATE")?;
    let arity = table.desc.arity();
    let mut new: Vec<ScalarExpr> = (0..arity).map(ScalarExpr::Column).collect();
    let scope = Scope::from_names(None, &table.desc.names);
    for a in &up.assignments {
        let ast::AssignmentTarget::ColumnName(col) = &a.target else {
            return unsupported("UPDATE of a tuple of columns");
        };
        let n = object_name(col).last().cloned().unwrap_or_default();
        let i = scope.resolve(None, &n)?;
        let value = if is_default(&a.value) {
            &default_expr(table, i)?
        } else {
            &a.value
        };
        let (e, t) = cx.plan_typed(value)?;
        new[i] = assign(e, t.scalar, table.desc.types[i].scalar, &n)?;
    }
    let width = cx.types.len();
    let r = std::mem::replace(&mut cx.rel, RelExpr::unit());
    cx.rel = r.map(new);
    let (rel, _) = cx.finish();
    let changes = rel.project((0..arity).chain(width..width + arity).collect());
    Ok(Plan::Update {
        id: table.id,
        changes,
        arity,
        is_delete: false,
    })
}

pub(super) fn plan_delete(pcx: &PlanContext, del: &ast::Delete) -> PlanResult<Plan> {
    if del.using.is_some() || del.returning.is_some() {
        return unsupported("DELETE with USING or RETURNING");
    }
    let from = match &del.from {
        ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
    };
    let Some(twj) = from.first() else {
        return Err(PlanError::Syntax("DELETE needs a table".into()));
    };
    let ast::TableFactor::Table { name, alias, .. } = &twj.relation else {
        return unsupported("DELETE of this target");
    };
    let root = QueryCx::root(pcx);
    let (table, cx) = target_rows(
        &root,
        name,
        alias.as_ref(),
        del.selection.as_ref(),
        "DELETE",
    )?;
    let arity = table.desc.arity();
    let (rel, _) = cx.finish();
    Ok(Plan::Update {
        id: table.id,
        changes: rel.project((0..arity).collect()),
        arity,
        is_delete: true,
    })
}
