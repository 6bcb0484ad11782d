//! The relational IR: what a query computes, as a tree of operators over multisets of rows.
//!
//! Each variant says what it means and what state rendering it keeps. The planner builds it,
//! `optimize` rewrites it, `render` turns it into differential operators, and `eval` computes it
//! directly (the reference the dataflow is tested against).

use serde::{Deserialize, Serialize};

use super::scalar::ScalarExpr;
use super::window::{CloseSpec, TableFunc};
use crate::repr::{ColumnType, Datum, Diff, GlobalId, Row, ScalarType};

/// An aggregate function applied to an expression over each group's rows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AggregateExpr {
    pub func: AggregateFunc,
    pub expr: ScalarExpr,
    /// Aggregate only the distinct non-null values (`count(DISTINCT x)`).
    pub distinct: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AggregateFunc {
    /// `count(*)`: the number of rows (the expression is ignored).
    CountAll,
    /// `count(x)`: the number of rows where x is not NULL.
    Count,
    Sum,
    Min,
    Max,
    /// Exact-typed `sum` and `count` are combined by the planner into `avg`.
    Avg,
    BoolAnd,
    BoolOr,
    /// `string_agg(value, separator [ORDER BY ...])`: each argument is `[keys..., value,
    /// separator]`.
    StringAgg {
        order: AggOrder,
    },
    /// `array_agg(x [ORDER BY ...])`, NULLs included: each argument is `x`, or `[keys..., x]`
    /// when ordered by other keys.
    ArrayAgg {
        order: AggOrder,
    },
}

/// How `array_agg` and `string_agg` order their values. With `keys` above 0 each argument is a
/// record (an array value) whose first `keys` fields are sort keys, bit `i` of `desc` and
/// `nulls_first` saying how key `i` sorts; ties are broken by the whole record. With no keys the
/// values sort by themselves (bit 0 saying how). Postgres leaves the order unspecified without
/// `ORDER BY`; Runnel's is then the values' ascending order.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct AggOrder {
    pub keys: u8,
    pub desc: u16,
    pub nulls_first: u16,
}

impl AggOrder {
    /// The most sort keys one aggregate call may have.
    pub const MAX_KEYS: usize = 16;

    /// The sort of key `i`: (descending, NULLs last), for `compare_for_order`.
    pub fn key(&self, i: usize) -> (bool, bool) {
        (self.desc >> i & 1 == 1, self.nulls_first >> i & 1 == 0)
    }
}

impl AggregateFunc {
    /// The result type given the argument type, as in Postgres.
    pub fn output_type(self, input: ScalarType) -> ColumnType {
        use ScalarType::*;
        let scalar = match self {
            AggregateFunc::CountAll | AggregateFunc::Count => return ColumnType::new(Int64, false),
            AggregateFunc::Sum => match input {
                Int16 | Int32 => Int64,
                Int64 | Numeric => Numeric,
                Float32 => Float32,
                Unknown => Float64,
                other => other,
            },
            AggregateFunc::Avg => match input {
                Int16 | Int32 | Int64 | Numeric => Numeric,
                Interval => Interval,
                _ => Float64,
            },
            AggregateFunc::Min | AggregateFunc::Max => input,
            AggregateFunc::BoolAnd | AggregateFunc::BoolOr => Bool,
            AggregateFunc::StringAgg { .. } => Text,
            // A record of keys and value is typed as an array of the value's type already.
            AggregateFunc::ArrayAgg { order } if order.keys > 0 => input,
            AggregateFunc::ArrayAgg { .. } => input.array_of().unwrap_or(Unknown),
        };
        ColumnType::new(scalar, true)
    }

    pub fn name(self) -> &'static str {
        match self {
            AggregateFunc::CountAll => "count(*)",
            AggregateFunc::Count => "count",
            AggregateFunc::Sum => "sum",
            AggregateFunc::Min => "min",
            AggregateFunc::Max => "max",
            AggregateFunc::Avg => "avg",
            AggregateFunc::BoolAnd => "bool_and",
            AggregateFunc::BoolOr => "bool_or",
            AggregateFunc::StringAgg { .. } => "string_agg",
            AggregateFunc::ArrayAgg { .. } => "array_agg",
        }
    }
}

/// One `ORDER BY` key: a column of the input, its direction and where NULLs go.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ColumnOrder {
    pub column: usize,
    pub desc: bool,
    pub nulls_last: bool,
}

/// A ranking window function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RankFunc {
    RowNumber,
    Rank,
    DenseRank,
}

impl RankFunc {
    pub fn name(self) -> &'static str {
        match self {
            RankFunc::RowNumber => "row_number",
            RankFunc::Rank => "rank",
            RankFunc::DenseRank => "dense_rank",
        }
    }
}

/// A name for a `Let`-bound relation, local to one plan.
pub type LocalId = u64;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RelExpr {
    /// Fixed rows with multiplicities. State: none.
    Constant {
        rows: Vec<(Row, Diff)>,
        types: Vec<ColumnType>,
    },
    /// The contents of a table or materialized view, read from its arrangement. State: none
    /// (the arrangement is shared with its owner).
    Get {
        id: GlobalId,
        name: String,
        types: Vec<ColumnType>,
    },
    /// Binds `value` to `id` within `body`, so a shared subplan is computed once.
    Let {
        id: LocalId,
        value: Box<RelExpr>,
        body: Box<RelExpr>,
    },
    /// A reference to a `Let`-bound relation.
    LocalGet { id: LocalId, types: Vec<ColumnType> },
    /// Appends one column per expression, each evaluated over the row (and earlier new columns).
    /// State: none.
    Map {
        input: Box<RelExpr>,
        scalars: Vec<ScalarExpr>,
    },
    /// Applies a table function to each row: one output row per row the function returns, the
    /// input row's columns followed by the function's (window bounds, for `TUMBLE` and `HOP`).
    /// State: none.
    FlatMap {
        input: Box<RelExpr>,
        func: TableFunc,
        args: Vec<ScalarExpr>,
    },
    /// Session windows: per partition (the `partition` columns), rows whose `event_time` values
    /// are less than `gap` microseconds apart share a session; each row gets its session's
    /// `(window_start, window_end)` appended. State: the input arranged by partition (a row can
    /// join, split or merge sessions, so a partition's are recomputed), and the output.
    SessionWindows {
        input: Box<RelExpr>,
        partition: Vec<usize>,
        event_time: usize,
        gap: i64,
    },
    /// `EMIT FINAL` over windowed rows: each row is held back until its window (column
    /// `window_end`) closes, then passed on at the time it closed, with the rest of its window,
    /// so an aggregate over the output changes once per window. The watermark follows column
    /// `event_time` (see `CloseSpec`); rows for closed windows are late. The order rows arrive
    /// in decides, so one worker sees them all. State: the rows of windows still open.
    CloseWindows {
        input: Box<RelExpr>,
        event_time: usize,
        window_end: usize,
        spec: CloseSpec,
    },
    /// Keeps the rows for which every predicate is true. State: none.
    Filter {
        input: Box<RelExpr>,
        predicates: Vec<ScalarExpr>,
    },
    /// Reorders, drops or duplicates columns. State: none.
    Project {
        input: Box<RelExpr>,
        outputs: Vec<usize>,
    },
    /// Pairs of rows whose key columns are equal (by value, so NULL matches NULL: the planner
    /// filters NULL keys where SQL `=` requires). Output: left columns then right columns. With no
    /// keys, the cross product. State: both inputs arranged by key.
    Join {
        left: Box<RelExpr>,
        right: Box<RelExpr>,
        keys: Vec<(usize, usize)>,
    },
    /// ksqlDB's stream-table join: each row of `stream` (an append-only relation) is paired
    /// with the rows of `table` whose `keys` equal its own and that satisfy `predicates` (over
    /// the paired row), as `table` was at the stream row's time; later changes to `table` do not
    /// revise output already given. With `outer`, a stream row with no partner is passed on
    /// padded with NULLs. Output: stream columns then table columns. State: `table` arranged by
    /// key; stream rows are held only until the table is complete at their time.
    StreamTableJoin {
        stream: Box<RelExpr>,
        table: Box<RelExpr>,
        keys: Vec<(usize, usize)>,
        predicates: Vec<ScalarExpr>,
        outer: bool,
    },
    /// A join of two append-only relations whose `predicates` bound the right side's event
    /// time to an interval around the left side's (`bound`): pairs of rows with equal `keys`
    /// that satisfy `predicates`. Rows are taken in the order they arrive; one whose event time
    /// is behind the watermark (the largest event time seen, less the grace period) is late,
    /// dropped and counted, so a row whose interval the watermark has passed can meet no
    /// future row and is retired. One worker sees every row. Output: left columns then right
    /// columns, only ever inserted. State: the rows not yet retired.
    IntervalJoin {
        left: Box<RelExpr>,
        right: Box<RelExpr>,
        keys: Vec<(usize, usize)>,
        predicates: Vec<ScalarExpr>,
        bound: super::window::JoinBound,
    },
    /// Groups by the key columns and appends one column per aggregate. Output: the key columns,
    /// then the aggregates. With no key and no input rows, no output row (the planner adds the
    /// SQL default row). State: the input arranged by key, and the output.
    Reduce {
        input: Box<RelExpr>,
        group_key: Vec<usize>,
        aggregates: Vec<AggregateExpr>,
    },
    /// Per group, the rows at positions `offset .. offset + limit` in `order`. State: the input
    /// arranged by group, and the output.
    TopK {
        input: Box<RelExpr>,
        group_key: Vec<usize>,
        order: Vec<ColumnOrder>,
        limit: Option<usize>,
        offset: usize,
    },
    /// `row_number()`, `rank()` or `dense_rank()` `OVER (PARTITION BY partition ORDER BY
    /// order)`, appended to each row (each copy of a row numbered on its own). State: the input
    /// arranged by partition (a change renumbers its partition), and the output.
    Rank {
        input: Box<RelExpr>,
        partition: Vec<usize>,
        order: Vec<ColumnOrder>,
        func: RankFunc,
    },
    /// One copy of each row present. State: the input arranged, and the output.
    Distinct { input: Box<RelExpr> },
    /// Multiplicities negated (for EXCEPT and outer joins). State: none.
    Negate { input: Box<RelExpr> },
    /// Keeps rows with positive multiplicity. State: the input arranged, and the output.
    Threshold { input: Box<RelExpr> },
    /// The multiset sum of the inputs. State: none.
    Union { inputs: Vec<RelExpr> },
}

impl RelExpr {
    pub fn typ(&self) -> Vec<ColumnType> {
        match self {
            RelExpr::Constant { types, .. }
            | RelExpr::Get { types, .. }
            | RelExpr::LocalGet { types, .. } => types.clone(),
            RelExpr::Let { body, .. } => body.typ(),
            RelExpr::Map { input, scalars } => {
                let mut types = input.typ();
                for s in scalars {
                    let t = s.typ(&types);
                    types.push(t);
                }
                types
            }
            RelExpr::FlatMap { input, func, args } => {
                let mut types = input.typ();
                let arg_types: Vec<ColumnType> = args.iter().map(|a| a.typ(&types)).collect();
                types.extend(func.output_types(&arg_types));
                types
            }
            RelExpr::Rank { input, .. } => {
                let mut types = input.typ();
                types.push(ColumnType::new(ScalarType::Int64, false));
                types
            }
            RelExpr::SessionWindows {
                input, event_time, ..
            } => {
                let mut types = input.typ();
                let time = types[*event_time].scalar;
                types.push(ColumnType::new(time, false));
                types.push(ColumnType::new(time, false));
                types
            }
            RelExpr::Filter { input, .. }
            | RelExpr::CloseWindows { input, .. }
            | RelExpr::TopK { input, .. }
            | RelExpr::Distinct { input }
            | RelExpr::Negate { input }
            | RelExpr::Threshold { input } => input.typ(),
            RelExpr::Project { input, outputs } => {
                let types = input.typ();
                outputs.iter().map(|i| types[*i].clone()).collect()
            }
            RelExpr::Join { left, right, .. } | RelExpr::IntervalJoin { left, right, .. } => {
                let mut types = left.typ();
                types.extend(right.typ());
                types
            }
            RelExpr::StreamTableJoin {
                stream,
                table,
                outer,
                ..
            } => {
                let mut types = stream.typ();
                types.extend(table.typ().into_iter().map(|t| ColumnType {
                    nullable: t.nullable || *outer,
                    ..t
                }));
                types
            }
            RelExpr::Reduce {
                input,
                group_key,
                aggregates,
            } => {
                let types = input.typ();
                let mut out: Vec<ColumnType> =
                    group_key.iter().map(|k| types[*k].clone()).collect();
                out.extend(
                    aggregates
                        .iter()
                        .map(|a| a.func.output_type(a.expr.typ(&types).scalar)),
                );
                out
            }
            RelExpr::Union { inputs } => {
                let mut types = inputs[0].typ();
                for other in &inputs[1..] {
                    for (t, o) in types.iter_mut().zip(other.typ()) {
                        t.nullable |= o.nullable;
                    }
                }
                types
            }
        }
    }

    pub fn arity(&self) -> usize {
        self.typ().len()
    }

    pub fn constant(rows: Vec<Row>, types: Vec<ColumnType>) -> RelExpr {
        RelExpr::Constant {
            rows: rows.into_iter().map(|r| (r, 1)).collect(),
            types,
        }
    }

    /// The relation with no columns and one row: what `SELECT` without `FROM` reads.
    pub fn unit() -> RelExpr {
        RelExpr::Constant {
            rows: vec![(vec![], 1)],
            types: vec![],
        }
    }

    pub fn empty(types: Vec<ColumnType>) -> RelExpr {
        RelExpr::Constant {
            rows: vec![],
            types,
        }
    }

    pub fn map(self, scalars: Vec<ScalarExpr>) -> RelExpr {
        if scalars.is_empty() {
            return self;
        }
        RelExpr::Map {
            input: Box::new(self),
            scalars,
        }
    }

    pub fn filter(self, predicates: Vec<ScalarExpr>) -> RelExpr {
        if predicates.is_empty() {
            return self;
        }
        RelExpr::Filter {
            input: Box::new(self),
            predicates,
        }
    }

    pub fn project(self, outputs: Vec<usize>) -> RelExpr {
        if outputs.len() == self.arity() && outputs.iter().enumerate().all(|(i, o)| i == *o) {
            return self;
        }
        RelExpr::Project {
            input: Box::new(self),
            outputs,
        }
    }

    pub fn join(self, right: RelExpr, keys: Vec<(usize, usize)>) -> RelExpr {
        RelExpr::Join {
            left: Box::new(self),
            right: Box::new(right),
            keys,
        }
    }

    pub fn distinct(self) -> RelExpr {
        RelExpr::Distinct {
            input: Box::new(self),
        }
    }

    pub fn negate(self) -> RelExpr {
        RelExpr::Negate {
            input: Box::new(self),
        }
    }

    pub fn threshold(self) -> RelExpr {
        RelExpr::Threshold {
            input: Box::new(self),
        }
    }

    pub fn union(self, other: RelExpr) -> RelExpr {
        match self {
            RelExpr::Union { mut inputs } => {
                inputs.push(other);
                RelExpr::Union { inputs }
            }
            this => RelExpr::Union {
                inputs: vec![this, other],
            },
        }
    }

    pub fn children(&self) -> Vec<&RelExpr> {
        match self {
            RelExpr::Constant { .. } | RelExpr::Get { .. } | RelExpr::LocalGet { .. } => vec![],
            RelExpr::Let { value, body, .. } => vec![value, body],
            RelExpr::Map { input, .. }
            | RelExpr::FlatMap { input, .. }
            | RelExpr::CloseWindows { input, .. }
            | RelExpr::SessionWindows { input, .. }
            | RelExpr::Rank { input, .. }
            | RelExpr::Filter { input, .. }
            | RelExpr::Project { input, .. }
            | RelExpr::Reduce { input, .. }
            | RelExpr::TopK { input, .. }
            | RelExpr::Distinct { input }
            | RelExpr::Negate { input }
            | RelExpr::Threshold { input } => vec![input],
            RelExpr::Join { left, right, .. } => vec![left, right],
            RelExpr::StreamTableJoin { stream, table, .. } => vec![stream, table],
            RelExpr::IntervalJoin { left, right, .. } => vec![left, right],
            RelExpr::Union { inputs } => inputs.iter().collect(),
        }
    }

    pub fn children_mut(&mut self) -> Vec<&mut RelExpr> {
        match self {
            RelExpr::Constant { .. } | RelExpr::Get { .. } | RelExpr::LocalGet { .. } => vec![],
            RelExpr::Let { value, body, .. } => vec![value, body],
            RelExpr::Map { input, .. }
            | RelExpr::FlatMap { input, .. }
            | RelExpr::CloseWindows { input, .. }
            | RelExpr::SessionWindows { input, .. }
            | RelExpr::Rank { input, .. }
            | RelExpr::Filter { input, .. }
            | RelExpr::Project { input, .. }
            | RelExpr::Reduce { input, .. }
            | RelExpr::TopK { input, .. }
            | RelExpr::Distinct { input }
            | RelExpr::Negate { input }
            | RelExpr::Threshold { input } => vec![input],
            RelExpr::Join { left, right, .. } => vec![left, right],
            RelExpr::StreamTableJoin { stream, table, .. } => vec![stream, table],
            RelExpr::IntervalJoin { left, right, .. } => vec![left, right],
            RelExpr::Union { inputs } => inputs.iter_mut().collect(),
        }
    }

    /// The global objects the plan reads.
    pub fn depends_on(&self) -> Vec<GlobalId> {
        let mut ids = Vec::new();
        self.collect_gets(&mut ids);
        ids.sort();
        ids.dedup();
        ids
    }

    fn collect_gets(&self, ids: &mut Vec<GlobalId>) {
        if let RelExpr::Get { id, .. } = self {
            ids.push(*id);
        }
        for c in self.children() {
            c.collect_gets(ids);
        }
    }

    /// Applies `f` to every scalar expression in the plan.
    pub fn visit_scalars_mut(&mut self, f: &mut impl FnMut(&mut ScalarExpr)) {
        match self {
            RelExpr::Map { scalars: es, .. }
            | RelExpr::Filter { predicates: es, .. }
            | RelExpr::StreamTableJoin { predicates: es, .. }
            | RelExpr::IntervalJoin { predicates: es, .. }
            | RelExpr::FlatMap { args: es, .. } => es.iter_mut().for_each(&mut *f),
            RelExpr::Reduce { aggregates, .. } => {
                aggregates.iter_mut().for_each(|a| f(&mut a.expr))
            }
            _ => {}
        }
        for c in self.children_mut() {
            c.visit_scalars_mut(f);
        }
    }

    /// The plan with `now()` fixed at time `t` (milliseconds): as read once at `t`.
    pub fn bind_now(&mut self, t: crate::repr::Timestamp) {
        self.visit_scalars_mut(&mut |s| super::temporal::bind_now(s, t));
    }

    /// Whether the plan reads `now()` anywhere.
    pub fn mentions_now(&self) -> bool {
        let own: Vec<&ScalarExpr> = match self {
            RelExpr::Map { scalars: es, .. }
            | RelExpr::Filter { predicates: es, .. }
            | RelExpr::StreamTableJoin { predicates: es, .. }
            | RelExpr::IntervalJoin { predicates: es, .. }
            | RelExpr::FlatMap { args: es, .. } => es.iter().collect(),
            RelExpr::Reduce { aggregates, .. } => aggregates.iter().map(|a| &a.expr).collect(),
            _ => vec![],
        };
        own.into_iter().any(super::temporal::mentions_now)
            || self.children().into_iter().any(RelExpr::mentions_now)
    }

    /// Whether the plan's output only ever grows (no row is retracted) when the objects for
    /// which `is_stream` holds only grow and every other object may change: streams, and rows
    /// computed one at a time from them.
    pub fn is_append_only(&self, is_stream: &dyn Fn(GlobalId) -> bool) -> bool {
        match self {
            RelExpr::Get { id, .. } => is_stream(*id),
            RelExpr::Constant { rows, .. } => rows.iter().all(|(_, d)| *d > 0),
            RelExpr::Map { input, .. }
            | RelExpr::FlatMap { input, .. }
            | RelExpr::Project { input, .. } => input.is_append_only(is_stream),
            // A temporal filter retracts rows as time passes.
            RelExpr::Filter { input, .. } => {
                !self.mentions_now() && input.is_append_only(is_stream)
            }
            RelExpr::StreamTableJoin { stream, .. } => stream.is_append_only(is_stream),
            RelExpr::IntervalJoin { .. } => true,
            RelExpr::Union { inputs } => inputs.iter().all(|i| i.is_append_only(is_stream)),
            _ => false,
        }
    }

    /// The constant rows of a `Constant` plan.
    pub fn as_constant(&self) -> Option<&Vec<(Row, Diff)>> {
        match self {
            RelExpr::Constant { rows, .. } => Some(rows),
            _ => None,
        }
    }
}

/// A row of NULLs of the given width (the padding of outer joins).
pub fn null_row(width: usize) -> Row {
    vec![Datum::Null; width]
}
