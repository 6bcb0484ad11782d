//! The optimizer: a list of small named rewrite rules over the IR, applied in order.

mod fold_constants;
mod fold_copies;
mod join_order;
mod predicate_pushdown;

use crate::ir::RelExpr;

/// Rewrites `expr` into an equivalent plan that is cheaper to maintain.
pub fn optimize(expr: RelExpr) -> RelExpr {
    let expr = fold_constants::apply(expr);
    let expr = join_order::apply(expr);
    let expr = predicate_pushdown::apply(expr);
    fold_copies::apply(expr)
}
