//! Ranking window functions in the select list: `row_number()`, `rank()` and `dense_rank()`
//! `OVER ([PARTITION BY ...] [ORDER BY ...])`, the usual way to write a top-N per group
//! (`WHERE rank <= 3` around it).

use sqlparser::ast::{self, Expr, SelectItem};

use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::query::column_order;
use crate::ir::{RankFunc, RelExpr};

/// Computes each ranking call of the select list as a column of `cx.rel`, so planning the
/// select list reads it like a grouped expression.
pub(super) fn plan_ranking(cx: &mut ExprCx, projection: &[SelectItem]) -> PlanResult<()> {
    for item in projection {
        let (SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) = item else {
            continue;
        };
        let Expr::Function(f) = e else { continue };
        let Some(over) = &f.over else { continue };
        if cx.grouped.iter().any(|(g, _)| g == e) {
            continue;
        }
        let name = f.name.to_string().to_lowercase();
        let func = match name.as_str() {
            "row_number" => RankFunc::RowNumber,
            "rank" => RankFunc::Rank,
            "dense_rank" => RankFunc::DenseRank,
            other => return unsupported(format!("window function {other}")),
        };
        if !matches!(&f.args, ast::FunctionArguments::None)
            && !matches!(&f.args, ast::FunctionArguments::List(l) if l.args.is_empty())
        {
            return Err(PlanError::UndefinedFunction(format!(
                "{name} with arguments"
            )));
        }
        let spec = match over {
            ast::WindowType::WindowSpec(spec) => spec,
            ast::WindowType::NamedWindow(_) => {
                return unsupported("named windows (WINDOW w AS ...)")
            }
        };
        let mut scalars = Vec::new();
        for p in &spec.partition_by {
            scalars.push(cx.plan(p)?);
        }
        for o in &spec.order_by {
            scalars.push(cx.plan(&o.expr)?);
        }
        let base = cx.rel.arity();
        let parts = spec.partition_by.len();
        let rel = std::mem::replace(&mut cx.rel, RelExpr::unit()).map(scalars);
        cx.rel = RelExpr::Rank {
            input: Box::new(rel),
            partition: (base..base + parts).collect(),
            order: spec
                .order_by
                .iter()
                .enumerate()
                .map(|(i, o)| column_order(base + parts + i, &o.options))
                .collect(),
            func,
        };
        cx.types = cx.rel.typ();
        while cx.scope.len() < cx.types.len() {
            cx.scope.push_hidden();
        }
        cx.grouped.push((e.clone(), cx.types.len() - 1));
    }
    Ok(())
}
