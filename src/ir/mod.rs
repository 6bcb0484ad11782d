//! The relational IR and scalar expressions, with their meaning (`eval`) and text form
//! (`explain`). Knows nothing of SQL syntax or of dataflow.

pub mod aggregate;
mod arith;
pub mod array;
mod bytea;
pub mod cast;
pub mod error;
pub mod eval;
mod explain;
pub mod func;
mod index;
pub mod json;
mod pattern;
pub mod quote;
pub mod relation;
pub mod scalar;
mod series;
pub mod temporal;
mod time;
pub mod window;

pub use error::EvalError;
pub use func::Func;
pub use relation::{AggregateExpr, AggregateFunc, ColumnOrder, LocalId, RankFunc, RelExpr};
pub use scalar::ScalarExpr;
pub use window::TableFunc;
