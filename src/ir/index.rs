//! Which indexes a plan can use: a join input that reads an arranged object whole can read an
//! index of that object by the join's key instead of arranging it again, and a read that pins
//! an index's key to one value can look that key up instead of running a dataflow, and a read
//! that only counts an arranged object's rows needs just their count. The planner reports index
//! use in `EXPLAIN`; the worker imports or looks up the indexes.

use super::{RelExpr, ScalarExpr};
use crate::repr::{ColumnType, Datum, GlobalId, Row};

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

impl RelExpr {
    /// The object this plan reads, if it reads exactly one, once, with its column types and the
    /// predicates of the filter it reads it through (none if it reads it unfiltered).
    pub fn only_read(&self) -> Option<(GlobalId, &[ColumnType], &[ScalarExpr])> {
        type Read<'a> = (GlobalId, &'a [ColumnType], &'a [ScalarExpr]);
        fn reads<'a>(e: &'a RelExpr, filter: &'a [ScalarExpr], out: &mut Vec<Read<'a>>) {
            match e {
                RelExpr::Get { id, types, .. } => out.push((*id, types, filter)),
                RelExpr::Filter { input, predicates } => reads(input, predicates, out),
                e => e.children().into_iter().for_each(|c| reads(c, &[], out)),
            }
        }
        let mut out = Vec::new();
        reads(self, &[], &mut out);
        match out.as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }

    /// This plan with its one read of an object narrowed to no columns, if the plan reads one
    /// object, once, and only counts its rows: the read is the input of an aggregate without
    /// `GROUP BY` whose aggregates read no column (`count(*)`, `count(1)`). Evaluated over one
    /// empty row whose multiplicity is the object's row count, the narrowed plan gives the whole
    /// answer: a read then needs the object's count, not its rows.
    pub fn counting_read(&self) -> Option<(GlobalId, RelExpr)> {
        let (id, _, _) = self.only_read()?;
        let mut plan = self.clone();
        let mut stack = vec![&mut plan];
        while let Some(e) = stack.pop() {
            match e {
                RelExpr::Reduce {
                    input,
                    group_key,
                    aggregates,
                } if matches!(**input, RelExpr::Get { .. }) => {
                    let reads_columns = aggregates.iter().any(|a| !a.expr.support().is_empty());
                    if !group_key.is_empty() || reads_columns {
                        return None;
                    }
                    if let RelExpr::Get { types, .. } = &mut **input {
                        types.clear();
                    }
                    // The plan reads the object once: this was the read.
                    return Some((id, plan));
                }
                // Read some other way, the object's columns matter.
                RelExpr::Get { .. } => return None,
                e => stack.extend(e.children_mut()),
            }
        }
        None
    }

    /// The values this plan pins the `key` columns of the one object it reads to, if its filter
    /// on that object allows each of them only a few non-NULL literals (`c = v`, `c IN (...)`,
    /// `c = v OR c = w`) of the column's type, whose SQL equality is the values' own. The plan
    /// evaluated over just the rows with those keys (an index's entries) gives its whole
    /// answer: the filter keeps no other row. Sorted, without duplicates.
    pub fn lookup_values(&self, key: &[usize]) -> Option<Vec<Row>> {
        /// Beyond this many keys a lookup stops being a cheap read.
        const MAX_KEYS: usize = 1024;
        let (_, types, predicates) = self.only_read()?;
        let mut values: Vec<Row> = vec![vec![]];
        for k in key {
            let column = predicates.iter().find_map(|p| p.column_literals(*k))?;
            if column
                .iter()
                .any(|d| d.scalar_type() != Some(types[*k].scalar))
                || values.len() * column.len() > MAX_KEYS
            {
                return None;
            }
            values = values
                .iter()
                .flat_map(|v| {
                    column
                        .iter()
                        .map(move |d| [v.clone(), vec![d.clone()]].concat())
                })
                .collect();
        }
        values.sort();
        values.dedup();
        Some(values)
    }
}

impl ScalarExpr {
    /// The literals `column` may equal for this predicate to hold: of `#column = v` (either way
    /// round), or of an OR of those (what `IN (...)` is). Each non-NULL and of a type whose SQL
    /// equality is the values' own (the caller checks it is the column's type); a NULL
    /// alternative never holds and is left out.
    fn column_literals(&self, column: usize) -> Option<Vec<Datum>> {
        use super::func::Func;
        match self {
            ScalarExpr::Call {
                func: Func::Or,
                args,
            } => args
                .iter()
                .map(|a| a.as_column_literal(column))
                .filter(|d| !matches!(d, Some(Datum::Null)))
                .collect(),
            e => e
                .as_column_literal(column)
                .map(|d| vec![d])
                .filter(|d| !d[0].is_null()),
        }
    }

    /// The literal in `#column = literal` (either way round), of a type whose SQL equality is
    /// the values' own.
    fn as_column_literal(&self, column: usize) -> Option<Datum> {
        let ScalarExpr::Call {
            func: super::func::Func::Eq,
            args,
        } = self
        else {
            return None;
        };
        match args.as_slice() {
            [ScalarExpr::Column(c), ScalarExpr::Literal(d, t)]
            | [ScalarExpr::Literal(d, t), ScalarExpr::Column(c)]
                if *c == column && t.equality_is_identity() =>
            {
                Some(d.clone())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Func;
    use crate::repr::ScalarType;

    fn table(id: u64) -> RelExpr {
        RelExpr::Get {
            id: GlobalId(id),
            name: "t".into(),
            types: vec![
                ColumnType::new(ScalarType::Int32, true),
                ColumnType::new(ScalarType::Text, true),
            ],
        }
    }

    fn eq(column: usize, d: Datum, t: ScalarType) -> ScalarExpr {
        ScalarExpr::call(
            Func::Eq,
            vec![ScalarExpr::Column(column), ScalarExpr::Literal(d, t)],
        )
    }

    fn int(i: i32) -> ScalarExpr {
        eq(0, Datum::Int32(i), ScalarType::Int32)
    }

    #[test]
    fn pinned_keys_are_looked_up() {
        let text = |s: &str| eq(1, Datum::String(s.into()), ScalarType::Text);
        let null = eq(0, Datum::Null, ScalarType::Int32);
        // WHERE a IN (3, 1, NULL, 3) AND b = 'x': keys (1), (3) of an index on a; (1, x),
        // (3, x) of one on (a, b); nothing pins b alone.
        let plan = table(1).filter(vec![
            ScalarExpr::call(Func::Or, vec![int(3), int(1), null, int(3)]),
            text("x"),
        ]);
        let key = |k: &[Datum]| k.to_vec();
        assert_eq!(
            plan.lookup_values(&[0]),
            Some(vec![key(&[Datum::Int32(1)]), key(&[Datum::Int32(3)])])
        );
        assert_eq!(
            plan.lookup_values(&[0, 1]).unwrap()[1],
            key(&[Datum::Int32(3), Datum::String("x".into())])
        );
        assert_eq!(plan.lookup_values(&[1, 0]).unwrap().len(), 2);
        let unpinned = table(1).filter(vec![text("x")]);
        assert_eq!(unpinned.lookup_values(&[0]), None);
    }

    #[test]
    fn only_exact_equalities_of_one_read_are_lookups() {
        // A literal of another type than the column's (the row holds Int32s).
        let wide = table(1).filter(vec![eq(0, Datum::Int64(1), ScalarType::Int64)]);
        assert_eq!(wide.lookup_values(&[0]), None);
        // An OR that also admits other rows.
        let or = ScalarExpr::call(
            Func::Or,
            vec![int(1), eq(1, Datum::String("x".into()), ScalarType::Text)],
        );
        assert_eq!(table(1).filter(vec![or]).lookup_values(&[0]), None);
        // Two reads: the filtered read's keys are not all the plan reads.
        let two = RelExpr::Union {
            inputs: vec![table(1).filter(vec![int(1)]), table(2)],
        };
        assert_eq!(two.lookup_values(&[0]), None);
        assert_eq!(table(1).lookup_values(&[0]), None);
    }

    #[test]
    fn only_a_global_count_of_one_read_is_a_counting_read() {
        use crate::ir::{AggregateExpr, AggregateFunc};
        let agg = |func, expr| AggregateExpr {
            func,
            expr,
            distinct: false,
        };
        let reduce = |input: RelExpr, group_key: Vec<usize>, aggregates| RelExpr::Reduce {
            input: Box::new(input),
            group_key,
            aggregates,
        };
        let count = || agg(AggregateFunc::CountAll, ScalarExpr::null(ScalarType::Int64));
        // count(*) and count(1), then a Map over the result: counted, the read narrowed.
        let plan = reduce(
            table(1),
            vec![],
            vec![count(), agg(AggregateFunc::Count, ScalarExpr::bool(true))],
        )
        .map(vec![ScalarExpr::Column(0)]);
        let (id, narrowed) = plan.counting_read().expect("a counting read");
        assert_eq!(id, GlobalId(1));
        let RelExpr::Map { input, .. } = &narrowed else {
            panic!("{narrowed:?}")
        };
        let RelExpr::Reduce { input, .. } = &**input else {
            panic!("{narrowed:?}")
        };
        assert_eq!(input.arity(), 0);
        // Grouped, reading a column, filtered first, or reading the object twice: not counts.
        assert!(reduce(table(1), vec![0], vec![count()])
            .counting_read()
            .is_none());
        let sum = agg(AggregateFunc::Sum, ScalarExpr::Column(0));
        assert!(reduce(table(1), vec![], vec![sum])
            .counting_read()
            .is_none());
        let filtered = table(1).filter(vec![int(3)]);
        assert!(reduce(filtered, vec![], vec![count()])
            .counting_read()
            .is_none());
        let twice =
            reduce(table(1), vec![], vec![count()]).union(reduce(table(1), vec![], vec![count()]));
        assert!(twice.counting_read().is_none());
        assert!(table(1).counting_read().is_none());
    }
}
