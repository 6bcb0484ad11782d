//! `fold_constants`: evaluates constant scalar subexpressions once, drops filters that are
//! always true, and replaces a filter that is never true with the empty relation.

use crate::ir::{RelExpr, ScalarExpr};
use crate::repr::Datum;

pub fn apply(mut expr: RelExpr) -> RelExpr {
    for c in expr.children_mut() {
        let child = std::mem::replace(c, RelExpr::unit());
        *c = apply(child);
    }
    match expr {
        RelExpr::Map { input, mut scalars } => {
            let mut types = input.typ();
            for s in scalars.iter_mut() {
                s.fold_constants(&types);
                types.push(s.typ(&types));
            }
            RelExpr::Map { input, scalars }
        }
        RelExpr::Filter {
            input,
            mut predicates,
        } => {
            let types = input.typ();
            for p in predicates.iter_mut() {
                p.fold_constants(&types);
            }
            if predicates
                .iter()
                .any(|p| matches!(p, ScalarExpr::Literal(d, _) if *d != Datum::Bool(true)))
            {
                return RelExpr::empty(types);
            }
            predicates.retain(|p| !matches!(p, ScalarExpr::Literal(Datum::Bool(true), _)));
            input.filter(predicates)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Func;
    use crate::repr::ScalarType;

    #[test]
    fn false_filter_becomes_empty() {
        let e = RelExpr::unit().filter(vec![ScalarExpr::call(
            Func::Eq,
            vec![
                ScalarExpr::Literal(Datum::Int32(1), ScalarType::Int32),
                ScalarExpr::Literal(Datum::Int32(2), ScalarType::Int32),
            ],
        )]);
        assert_eq!(apply(e).to_string(), "Constant <empty>\n");
    }
}
