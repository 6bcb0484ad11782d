//! `predicate_pushdown`: moves filter predicates as close to the data as they can go, through
//! projections, maps and joins, and turns equalities between the two sides of a join into join
//! keys. This is what makes `FROM a, b WHERE a.x = b.y` an equi-join instead of a cross product.

use crate::ir::{RelExpr, ScalarExpr};
use crate::repr::ColumnType;

pub fn apply(expr: RelExpr) -> RelExpr {
    match expr {
        RelExpr::Filter { input, predicates } => push(apply(*input), predicates),
        mut other => {
            for c in other.children_mut() {
                let child = std::mem::replace(c, RelExpr::unit());
                *c = apply(child);
            }
            other
        }
    }
}

/// Places `preds` over `input`, pushing each as deep as its columns allow.
fn push(input: RelExpr, preds: Vec<ScalarExpr>) -> RelExpr {
    let preds = ScalarExpr::conjuncts(preds);
    if preds.is_empty() {
        return input;
    }
    match input {
        RelExpr::Filter { input, predicates } => {
            let mut all = predicates;
            all.extend(preds);
            push(*input, all)
        }
        RelExpr::Project { input, outputs } => {
            let remapped = preds
                .into_iter()
                .map(|mut p| {
                    p.permute(&|c| outputs[c]);
                    p
                })
                .collect();
            push(*input, remapped).project(outputs)
        }
        RelExpr::Map { input, scalars } => {
            let arity = input.arity();
            let (below, above): (Vec<_>, Vec<_>) = preds
                .into_iter()
                .partition(|p| p.support().iter().all(|c| *c < arity));
            RelExpr::Map {
                input: Box::new(push(*input, below)),
                scalars,
            }
            .filter(above)
        }
        RelExpr::FlatMap { input, func, args } => {
            let arity = input.arity();
            let (below, above): (Vec<_>, Vec<_>) = preds
                .into_iter()
                .partition(|p| p.support().iter().all(|c| *c < arity));
            RelExpr::FlatMap {
                input: Box::new(push(*input, below)),
                func,
                args,
            }
            .filter(above)
        }
        RelExpr::Join {
            left,
            right,
            mut keys,
        } => {
            let la = left.arity();
            let types = {
                let mut t = left.typ();
                t.extend(right.typ());
                t
            };
            let (mut lp, mut rp, mut kept) = (Vec::new(), Vec::new(), Vec::new());
            for p in preds {
                let support = p.support();
                if support.iter().all(|c| *c < la) {
                    lp.push(p);
                } else if support.iter().all(|c| *c >= la) {
                    let mut p = p;
                    p.permute(&|c| c - la);
                    rp.push(p);
                } else if let Some((a, b)) = p
                    .as_same()
                    .filter(|(a, b)| (*a.min(b) < la) && (*a.max(b) >= la))
                {
                    // Exactly what a key means: it needs no filter after the join.
                    let k = (a.min(b), a.max(b) - la);
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                } else if let Some((a, b)) = equality(&p, la, &types) {
                    // `a = b` holds exactly when the key matches and neither side is NULL: the
                    // NULL test goes to each input, and nothing is left to check after the join.
                    if !keys.contains(&(a, b)) {
                        keys.push((a, b));
                    }
                    if types[a].nullable {
                        lp.push(ScalarExpr::not_null(a));
                    }
                    if types[la + b].nullable {
                        rp.push(ScalarExpr::not_null(b));
                    }
                } else {
                    for k in crate::plan::equi_keys(&p, la, &types) {
                        if !keys.contains(&k) {
                            keys.push(k);
                        }
                    }
                    // Kept even when it became a key: join keys match NULL to NULL, SQL `=` does not.
                    kept.push(p);
                }
            }
            RelExpr::Join {
                left: Box::new(push(*left, lp)),
                right: Box::new(push(*right, rp)),
                keys,
            }
            .filter(kept)
        }
        other => other.filter(preds),
    }
}

/// The key of `p` if it is just `left = right` across the two sides of a join, of one type
/// whose SQL equality is its values' (see `ScalarType::equality_is_identity`).
fn equality(p: &ScalarExpr, la: usize, types: &[ColumnType]) -> Option<(usize, usize)> {
    let (a, b) = crate::plan::column_equality(p, la, types)?;
    types[a].scalar.equality_is_identity().then_some((a, b))
}
