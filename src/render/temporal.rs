//! Temporal filters: each row is in the view for the interval of times its bounds give
//! (`crate::ir::temporal`), so an update at time `t` becomes the same update at the later of `t`
//! and the lower bound, and its opposite at the upper bound. The opposite is emitted now, at a
//! future time; arrangements hold it until the inputs' frontier (which follows the wall clock)
//! passes that time, and then the row leaves the view with no further input.

use super::{fallible_updates, Errs, Rows};
use crate::ir::temporal::{validity, TemporalBound};
use crate::ir::ScalarExpr;
use crate::repr::Row;

pub(super) fn render<'s>(
    rows: Rows<'s>,
    errs: Errs<'s>,
    predicates: Vec<ScalarExpr>,
    bounds: Vec<TemporalBound>,
) -> (Rows<'s>, Errs<'s>) {
    fallible_updates("TemporalFilter", rows, errs, move |row: Row, t, r, out| {
        match super::passes(&predicates, &row) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return out(Err((e, t, r))),
        }
        match validity(&bounds, &row) {
            Ok(None) => {}
            Ok(Some((lower, upper))) => {
                let from = lower.max(t);
                match upper {
                    Some(until) if until <= from => {}
                    Some(until) => {
                        out(Ok((row.clone(), from, r)));
                        out(Ok((row, until, -r)));
                    }
                    None => out(Ok((row, from, r))),
                }
            }
            Err(e) => out(Err((e, t, r))),
        }
    })
}
