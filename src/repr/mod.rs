//! The shared vocabulary of every stage: values (`Datum`), rows, column types, relation
//! descriptions, and the dataflow's time and diff types.
//!
//! Nothing here knows about SQL syntax, dataflow, or the wire protocol.

mod array;
mod datum;
mod interval;
mod scalar_type;
pub mod strconv;

pub use datum::Datum;
pub use interval::Interval;
pub use scalar_type::{RecordType, ScalarType};

/// A row is a vector of datums, one per column.
pub type Row = Vec<Datum>;

/// Dataflow time: milliseconds since the Unix epoch, assigned by the coordinator's oracle.
pub type Timestamp = u64;

/// The wall clock in milliseconds since the epoch: the time writes get and generators follow.
pub fn now_ms() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Timestamp)
        .unwrap_or(0)
}

/// The multiplicity change of an update: +1 inserts a copy of a row, -1 retracts one.
pub type Diff = i64;

/// The type of one column: its scalar type and whether it may hold NULL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ColumnType {
    pub scalar: ScalarType,
    pub nullable: bool,
}

impl ColumnType {
    pub fn new(scalar: ScalarType, nullable: bool) -> Self {
        ColumnType { scalar, nullable }
    }
}

/// The names and types of a relation's columns.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RelationDesc {
    pub names: Vec<String>,
    pub types: Vec<ColumnType>,
}

impl RelationDesc {
    pub fn new(names: Vec<String>, types: Vec<ColumnType>) -> Self {
        debug_assert_eq!(names.len(), types.len());
        RelationDesc { names, types }
    }
    pub fn arity(&self) -> usize {
        self.types.len()
    }
}

/// The identity of a catalog object whose contents live in the dataflow (a table, a
/// materialized view, an index). Never reused, so a stale reference cannot alias a new object.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct GlobalId(pub u64);

impl std::fmt::Display for GlobalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "u{}", self.0)
    }
}
