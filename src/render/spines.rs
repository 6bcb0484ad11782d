//! How arrangements of rows lay out their data.
//!
//! differential's default spines keep each key and value as its own `Vec<Datum>`: every merge
//! of two batches clones every row into a fresh heap allocation and frees the old one, and
//! merges are most of an arrangement's work. These spines keep a batch's rows in one `Vec` of
//! datums with offsets ([`RowContainer`]): a new batch takes its rows' datums without copying
//! them, a merge copies datums into one growing buffer, and cursors hand out rows as `&[Datum]`.

use std::rc::Rc;

use differential_dataflow::batcher::merge::chunker::ContainerChunker;
use differential_dataflow::batcher::merge::vec::VecMerger;
use differential_dataflow::batcher::merge::MergeBatcher;
use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::implementations::ord_neu::{
    OrdKeyBatch, OrdKeyBuilder, OrdValBatch, OrdValBuilder,
};
use differential_dataflow::trace::implementations::spine_fueled::Spine;
use differential_dataflow::trace::implementations::{BatchContainer, OffsetList};
use differential_dataflow::VecCollection;
use timely::container::PushInto;

use super::Rows;
use crate::repr::{Datum, Diff, Row, Timestamp};

/// Rows as keys, no values: a table, a view, a query's result.
type KeyLayout = (RowContainer, Vec<()>, Vec<Timestamp>, Vec<Diff>, OffsetList);
/// Rows by a key that is itself a row: an index, one side of a join.
type ValLayout = (
    RowContainer,
    RowContainer,
    Vec<Timestamp>,
    Vec<Diff>,
    OffsetList,
);

type KeyUpdates = Vec<((Row, ()), Timestamp, Diff)>;
type ValUpdates = Vec<((Row, Row), Timestamp, Diff)>;

pub type RowSpine = Spine<Rc<OrdKeyBatch<KeyLayout>>>;
type RowBuilder = OrdKeyBuilder<KeyLayout, KeyUpdates>;
pub type RowBatcher =
    MergeBatcher<ContainerChunker<KeyUpdates>, VecMerger<(Row, ()), Timestamp, Diff>, RowBuilder>;

pub type KeyedRowSpine = Spine<Rc<OrdValBatch<ValLayout>>>;
pub type KeyedRowBatcher = MergeBatcher<
    ContainerChunker<ValUpdates>,
    VecMerger<(Row, Row), Timestamp, Diff>,
    OrdValBuilder<ValLayout, ValUpdates>,
>;

/// Arranges rows by themselves, in a [`RowSpine`].
pub fn arrange_rows<'s>(rows: Rows<'s>, name: &str) -> Arranged<'s, TraceAgent<RowSpine>> {
    rows.map(|row| (row, ()))
        .arrange_named::<RowBatcher, RowSpine>(name, RowBatcher::new)
}

/// Arranges (key, row) pairs by key, in a [`KeyedRowSpine`].
pub fn arrange_keyed<'s>(
    pairs: VecCollection<'s, Timestamp, (Row, Row), Diff>,
    name: &str,
) -> Arranged<'s, TraceAgent<KeyedRowSpine>> {
    pairs.arrange_named::<KeyedRowBatcher, KeyedRowSpine>(name, KeyedRowBatcher::new)
}

/// The rows of one batch: all their datums in one `Vec`, and where each row ends.
pub struct RowContainer {
    /// `ends[i]` is one past the last datum of row `i`.
    ends: Vec<usize>,
    datums: Vec<Datum>,
}

impl RowContainer {
    fn start(&self, index: usize) -> usize {
        if index == 0 {
            0
        } else {
            self.ends[index - 1]
        }
    }
}

impl Default for RowContainer {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl PushInto<&[Datum]> for RowContainer {
    fn push_into(&mut self, row: &[Datum]) {
        self.datums.extend_from_slice(row);
        self.ends.push(self.datums.len());
    }
}

impl PushInto<&Row> for RowContainer {
    fn push_into(&mut self, row: &Row) {
        self.push_into(&row[..]);
    }
}

/// An owned row gives up its datums: a batch built from new updates copies no value.
impl PushInto<Row> for RowContainer {
    fn push_into(&mut self, row: Row) {
        self.datums.extend(row);
        self.ends.push(self.datums.len());
    }
}

impl BatchContainer for RowContainer {
    type Owned = Row;
    type ReadItem<'a> = &'a [Datum];

    fn into_owned(row: &[Datum]) -> Row {
        row.to_vec()
    }

    fn clone_onto(row: &[Datum], other: &mut Row) {
        other.clear();
        other.extend_from_slice(row);
    }

    fn push_ref(&mut self, row: &[Datum]) {
        self.push_into(row)
    }

    fn push_own(&mut self, row: &Row) {
        self.push_into(row)
    }

    fn clear(&mut self) {
        self.ends.clear();
        self.datums.clear();
    }

    fn with_capacity(rows: usize) -> Self {
        Self {
            ends: Vec::with_capacity(rows),
            datums: Vec::with_capacity(rows),
        }
    }

    fn merge_capacity(a: &Self, b: &Self) -> Self {
        Self {
            ends: Vec::with_capacity(a.ends.len() + b.ends.len()),
            datums: Vec::with_capacity(a.datums.len() + b.datums.len()),
        }
    }

    fn reborrow<'b, 'a: 'b>(row: &'a [Datum]) -> &'b [Datum] {
        row
    }

    fn index(&self, index: usize) -> &[Datum] {
        &self.datums[self.start(index)..self.ends[index]]
    }

    fn len(&self) -> usize {
        self.ends.len()
    }
}

/// A reduction's output: rows' keys, each with values of type `V`.
type ReducedLayout<V> = (RowContainer, Vec<V>, Vec<Timestamp>, Vec<Diff>, OffsetList);
type ReducedSpine<V> = Spine<Rc<OrdValBatch<ReducedLayout<V>>>>;
type ReducedBuilder<V> = OrdValBuilder<ReducedLayout<V>, Vec<((Row, V), Timestamp, Diff)>>;

/// differential's `reduce` over (key, row) pairs, with the input arranged in a
/// [`KeyedRowSpine`]: `logic` sees a group's key and its rows with their counts, and says what
/// the group's output is.
pub fn reduce_keyed<'s, V, L>(
    pairs: VecCollection<'s, Timestamp, (Row, Row), Diff>,
    name: &str,
    logic: L,
) -> VecCollection<'s, Timestamp, (Row, V), Diff>
where
    V: differential_dataflow::ExchangeData,
    L: FnMut(&[Datum], &[(&[Datum], Diff)], &mut Vec<(V, Diff)>) + 'static,
{
    arrange_keyed(pairs, name)
        .reduce_abelian::<_, ReducedBuilder<V>, ReducedSpine<V>, RowContainer, _>(
            name,
            logic,
            builder_input,
        )
        .as_collection(|key, v| (key.to_vec(), v.clone()))
}

/// differential's `threshold` over rows arranged in a [`RowSpine`]: each row's count becomes
/// `f(count)`.
pub fn threshold_rows<'s>(rows: Rows<'s>, name: &str, f: fn(Diff) -> Diff) -> Rows<'s> {
    arrange_rows(rows, name)
        .reduce_abelian::<_, RowBuilder, RowSpine, RowContainer, _>(
            name,
            move |_row, input: &[(&(), Diff)], out: &mut Vec<((), Diff)>| {
                let count = f(input[0].1);
                if count != 0 {
                    out.push(((), count));
                }
            },
            builder_input,
        )
        .as_collection(|row, _| row.to_vec())
}

/// A reduction's output updates for one key, as its batch builder takes them.
fn builder_input<V>(
    built: &mut Vec<((Row, V), Timestamp, Diff)>,
    key: &[Datum],
    updates: &mut Vec<(V, Timestamp, Diff)>,
) {
    built.clear();
    built.extend(updates.drain(..).map(|(v, t, d)| ((key.to_vec(), v), t, d)));
}
