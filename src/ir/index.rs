//! Which indexes a plan can use: a join input that reads an arranged object whole can read an
//! index of that object by the join's key instead of arranging it again. The planner reports
//! these in `EXPLAIN`; the worker imports them into the dataflow; rendering reads them.

use super::RelExpr;
use crate::repr::GlobalId;

impl RelExpr {
    /// The object this join input reads whole, if an index of it by the join's `key` could
    /// stand in for the input: the object itself, or it with only the rows whose key columns
    /// are not NULL (what a join on `a = b` asks of its inputs; the join then drops NULL keys
    /// itself). With the positions in `key` whose NULLs are dropped.
    pub fn indexed_input(&self, key: &[usize]) -> Option<(GlobalId, Vec<usize>)> {
        match self {
            RelExpr::Get { id, .. } => Some((*id, vec![])),
            RelExpr::Filter { input, predicates } => {
                let RelExpr::Get { id, .. } = &**input else {
                    return None;
                };
                let not_null: Option<Vec<usize>> = predicates
                    .iter()
                    .map(|p| {
                        p.as_not_null()
                            .and_then(|c| key.iter().position(|k| *k == c))
                    })
                    .collect();
                Some((*id, not_null?))
            }
            _ => None,
        }
    }

    /// The (object, key) pairs whose indexes a dataflow for this plan would read.
    pub fn indexes_wanted(&self) -> Vec<(GlobalId, Vec<usize>)> {
        let mut wanted = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            if let RelExpr::Join { left, right, keys } = e {
                let lk: Vec<usize> = keys.iter().map(|(l, _)| *l).collect();
                let rk: Vec<usize> = keys.iter().map(|(_, r)| *r).collect();
                for (input, key) in [(left, lk), (right, rk)] {
                    if let Some((id, _)) = input.indexed_input(&key) {
                        wanted.push((id, key));
                    }
                }
            }
            stack.extend(e.children());
        }
        wanted
    }
}
