//! Plans evaluated by the reference evaluator in the coordinator (the state a write reads, and
//! batch replay), and the checks on plans and rows made before they are sequenced.

use super::{now_ms, Coordinator, State};
use crate::catalog::{Catalog, ItemKind};
use crate::error::SqlError;
use crate::ir::{eval, RelExpr};
use crate::plan::PlanError;
use crate::repr::{Diff, GlobalId, Row, Timestamp};

/// Refuses a plan to be maintained that uses now() other than in a temporal filter.
pub(super) fn check_maintained(expr: &RelExpr) -> Result<(), SqlError> {
    crate::ir::temporal::check_maintained(expr).map_err(|m| SqlError::new("0A000", m))
}

/// Evaluates a plan over the current table contents (for writes, which must read exactly the
/// state they change).
pub(super) fn evaluate(
    coord: &Coordinator,
    st: &State,
    expr: &RelExpr,
) -> Result<Vec<(Row, Diff)>, SqlError> {
    let streams = coord.stream_contents(st, expr)?;
    let contents = |id| match streams.get(&id) {
        Some(rows) => rows.clone(),
        None => st.tables.contents(id),
    };
    Ok(evaluate_over(
        &st.catalog,
        &contents,
        expr,
        now_ms().max(st.write_ts),
    )?)
}

/// What a table or stream holds, for the reference evaluator.
pub(crate) type Contents<'a> = &'a dyn Fn(GlobalId) -> Vec<(Row, Diff)>;

/// Evaluates `expr` with the reference evaluator over the tables' `contents`; the materialized
/// views it reads are evaluated from their definitions (and their errors are its errors), all
/// at time `now`.
pub(crate) fn evaluate_over(
    catalog: &Catalog,
    tables: Contents,
    expr: &RelExpr,
    now: Timestamp,
) -> Result<Vec<(Row, Diff)>, crate::ir::EvalError> {
    fn inputs(
        catalog: &Catalog,
        tables: Contents,
        expr: &RelExpr,
        now: Timestamp,
        out: &mut std::collections::HashMap<GlobalId, Vec<(Row, Diff)>>,
    ) -> Result<(), crate::ir::EvalError> {
        for id in expr.depends_on() {
            if out.contains_key(&id) {
                continue;
            }
            let rows = match catalog.get(id).map(|i| &i.kind) {
                Some(ItemKind::MaterializedView { expr }) => {
                    let mut expr = expr.clone();
                    expr.bind_now(now);
                    inputs(catalog, tables, &expr, now, out)?;
                    eval::evaluate(&expr, &|i| out.get(&i).cloned().unwrap_or_default())?
                }
                _ => tables(id),
            };
            out.insert(id, rows);
        }
        Ok(())
    }
    let mut expr = expr.clone();
    expr.bind_now(now);
    let mut read = std::collections::HashMap::new();
    inputs(catalog, tables, &expr, now, &mut read)?;
    eval::evaluate(&expr, &|id| read.get(&id).cloned().unwrap_or_default())
}

pub(super) fn check_not_null(
    catalog: &Catalog,
    id: GlobalId,
    rows: &[(Row, Diff)],
) -> Result<(), SqlError> {
    let Some(item) = catalog.get(id) else {
        return Ok(());
    };
    for (row, d) in rows {
        if *d <= 0 {
            continue;
        }
        for (i, t) in item.desc.types.iter().enumerate() {
            if !t.nullable && row[i].is_null() {
                return Err(PlanError::NotNull(item.desc.names[i].clone()).into());
            }
        }
    }
    Ok(())
}
