//! Parameters of the extended protocol: their types (declared, or inferred from where the
//! plan uses them) and their values bound into a plan.

use crate::error::SqlError;
use crate::ir::{RelExpr, ScalarExpr};
use crate::plan::Plan;
use crate::repr::{Datum, ScalarType};

/// Each parameter's type: declared by the client, else inferred from where the plan uses it,
/// else text.
pub(super) fn infer_param_types(plan: &Plan, declared: &[ScalarType]) -> Vec<ScalarType> {
    let mut found: Vec<ScalarType> = declared.to_vec();
    let mut note = |e: &ScalarExpr| {
        if let ScalarExpr::Param(n, t) = e {
            if found.len() <= *n {
                found.resize(n + 1, ScalarType::Unknown);
            }
            if found[*n] == ScalarType::Unknown {
                found[*n] = *t;
            }
        }
    };
    for_each_expr(plan, &mut |rel| {
        let mut rel = rel.clone();
        rel.visit_scalars_mut(&mut |s| s.visit(&mut note));
    });
    found
        .into_iter()
        .map(|t| {
            if t == ScalarType::Unknown {
                ScalarType::Text
            } else {
                t
            }
        })
        .collect()
}

fn for_each_expr(plan: &Plan, f: &mut impl FnMut(&RelExpr)) {
    match plan {
        Plan::Select(s) => f(&s.expr),
        Plan::Subscribe { plan, .. } => f(&plan.expr),
        Plan::Insert { source, .. } => f(source),
        Plan::Update { changes, .. } => f(changes),
        Plan::CreateView { expr, .. } => f(expr),
        Plan::DeclareCursor { plan, .. } | Plan::CopySubscribe(plan) => for_each_expr(plan, f),
        _ => {}
    }
}

/// Replaces parameters with their values throughout a plan.
pub(super) fn bind_plan(plan: &mut Plan, params: &[Datum]) -> Result<(), SqlError> {
    let mut result = Ok(());
    let mut bind = |rel: &mut RelExpr| {
        rel.visit_scalars_mut(&mut |s| {
            if let Err(e) = s.bind_params(params) {
                result = Err(e);
            }
        })
    };
    match plan {
        Plan::Select(s) => bind(&mut s.expr),
        Plan::Subscribe { plan, .. } => bind(&mut plan.expr),
        Plan::Insert { source, .. } => bind(source),
        Plan::Update { changes, .. } => bind(changes),
        Plan::DeclareCursor { plan, .. } | Plan::CopySubscribe(plan) => {
            return bind_plan(plan, params)
        }
        _ => {}
    }
    result.map_err(SqlError::from)
}
