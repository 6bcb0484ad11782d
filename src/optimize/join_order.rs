//! `join_order`: reorders a tree of inner joins so that each input joins the ones before it
//! through an equality, instead of forming cross products in the order the query was written.
//!
//! `FROM a, b, c WHERE a.x = c.x AND c.y = b.y` is written as `(a × b) × c`; joined as written,
//! `a × b` is a cross product. The rule flattens the joins and their filters, then picks inputs
//! greedily: first one with a filter of its own (likely selective), then always an input connected
//! to the joined set by an equality, falling back to the written order only when none is. A final
//! projection restores the written column order; `predicate_pushdown` then turns the equalities
//! into join keys.

use crate::ir::{Func, RelExpr, ScalarExpr};

pub fn apply(expr: RelExpr) -> RelExpr {
    match expr {
        e @ (RelExpr::Join { .. } | RelExpr::Filter { .. }) if is_join_tree(&e) => {
            let mut inputs = Vec::new();
            let mut preds = Vec::new();
            flatten(e, &mut inputs, &mut preds);
            let inputs: Vec<RelExpr> = inputs.into_iter().map(apply).collect();
            reorder(inputs, preds)
        }
        mut other => {
            for c in other.children_mut() {
                let child = std::mem::replace(c, RelExpr::unit());
                *c = apply(child);
            }
            other
        }
    }
}

/// A join of at least three inputs, possibly under filters.
fn is_join_tree(e: &RelExpr) -> bool {
    fn count(e: &RelExpr) -> usize {
        match e {
            RelExpr::Join { left, right, .. } => count(left) + count(right),
            RelExpr::Filter { input, .. }
                if matches!(**input, RelExpr::Join { .. } | RelExpr::Filter { .. }) =>
            {
                count(input)
            }
            _ => 1,
        }
    }
    count(e) >= 3
}

/// Collects the join's inputs and its predicates (keys become equalities), with columns
/// numbered across the inputs in their written order.
fn flatten(e: RelExpr, inputs: &mut Vec<RelExpr>, preds: &mut Vec<ScalarExpr>) {
    let offset: usize = inputs.iter().map(RelExpr::arity).sum();
    match e {
        RelExpr::Join { left, right, keys } => {
            flatten(*left, inputs, preds);
            let right_offset: usize = inputs.iter().map(RelExpr::arity).sum();
            flatten(*right, inputs, preds);
            // A key matches NULL to NULL: it becomes `IS NOT DISTINCT FROM`, not SQL's `=`.
            for (l, r) in keys {
                preds.push(ScalarExpr::same(offset + l, right_offset + r));
            }
        }
        RelExpr::Filter { input, predicates }
            if matches!(*input, RelExpr::Join { .. } | RelExpr::Filter { .. }) =>
        {
            flatten(*input, inputs, preds);
            for mut p in ScalarExpr::conjuncts(predicates) {
                p.permute(&|c| c + offset);
                preds.push(p);
            }
        }
        other => inputs.push(other),
    }
}

fn reorder(inputs: Vec<RelExpr>, preds: Vec<ScalarExpr>) -> RelExpr {
    let arities: Vec<usize> = inputs.iter().map(RelExpr::arity).collect();
    let starts: Vec<usize> = arities
        .iter()
        .scan(0, |acc, a| {
            let s = *acc;
            *acc += a;
            Some(s)
        })
        .collect();
    let owner = |c: usize| {
        starts
            .iter()
            .rposition(|s| *s <= c)
            .expect("column within the join")
    };
    // Equalities between two inputs, and inputs with predicates of their own.
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut filtered = vec![false; inputs.len()];
    for p in &preds {
        let owners: Vec<usize> = {
            let mut o: Vec<usize> = p.support().into_iter().map(owner).collect();
            o.dedup();
            o
        };
        match owners.as_slice() {
            [one] => filtered[*one] = true,
            [a, b] if is_equality(p) => edges.push((*a, *b)),
            _ => {}
        }
    }
    let mut order = vec![filtered.iter().position(|f| *f).unwrap_or(0)];
    while order.len() < inputs.len() {
        let connected = (0..inputs.len()).find(|i| {
            !order.contains(i)
                && edges
                    .iter()
                    .any(|(a, b)| (a == i && order.contains(b)) || (b == i && order.contains(a)))
        });
        let next = connected.unwrap_or_else(|| {
            (0..inputs.len())
                .find(|i| !order.contains(i))
                .expect("an input remains")
        });
        order.push(next);
    }
    // Where each written column lands in the new order.
    let mut new_pos = vec![0; arities.iter().sum()];
    let mut at = 0;
    for &i in &order {
        for k in 0..arities[i] {
            new_pos[starts[i] + k] = at + k;
        }
        at += arities[i];
    }
    let mut inputs: Vec<Option<RelExpr>> = inputs.into_iter().map(Some).collect();
    let mut joined = inputs[order[0]].take().expect("each input is used once");
    for &i in &order[1..] {
        joined = joined.join(inputs[i].take().expect("each input is used once"), vec![]);
    }
    let preds = preds
        .into_iter()
        .map(|mut p| {
            p.permute(&|c| new_pos[c]);
            p
        })
        .collect();
    joined.filter(preds).project(new_pos)
}

/// Whether `p` equates two columns.
fn is_equality(p: &ScalarExpr) -> bool {
    p.as_same().is_some()
        || matches!(p, ScalarExpr::Call { func: Func::Eq, args } if matches!(args.as_slice(), [ScalarExpr::Column(_), ScalarExpr::Column(_)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::{ColumnType, GlobalId, ScalarType};

    fn table(id: u64) -> RelExpr {
        let t = ColumnType::new(ScalarType::Int32, true);
        RelExpr::Get {
            id: GlobalId(id),
            name: format!("t{id}"),
            types: vec![t.clone(), t],
        }
    }

    #[test]
    fn connected_inputs_join_first() {
        // (t1 × t2) × t3 WHERE t1.#0 = t3.#0 AND t3.#1 = t2.#1
        let eq =
            |a, b| ScalarExpr::call(Func::Eq, vec![ScalarExpr::Column(a), ScalarExpr::Column(b)]);
        let e = table(1)
            .join(table(2), vec![])
            .join(table(3), vec![])
            .filter(vec![eq(0, 4), eq(5, 3)]);
        let out = crate::optimize::optimize(e);
        let text = out.to_string();
        assert!(!text.contains("CrossJoin"), "{text}");
        assert_eq!(out.arity(), 6);
    }
}
