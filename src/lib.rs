//! Runnel: a streaming SQL database. SQL statements become timely/differential dataflows whose
//! arrangements are kept up to date as data changes; any Postgres client reads them over pgwire.
//!
//! The modules follow the data path (see ARCHITECTURE in the README):
//! `server` (pgwire) -> `coord` (sequencing, time) -> `parse` -> `plan` -> `ir` -> `optimize` ->
//! `render` -> `worker` (timely) -> arrangements -> peeks and subscriptions back to `server`.

/// Every binary built on the library (the server, tests, benchmarks) allocates through mimalloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod catalog;
pub mod console;
pub mod coord;
pub mod error;
pub mod ir;
pub mod optimize;
pub mod parse;
pub mod plan;
pub mod render;
pub mod repr;
pub mod server;
pub mod sink;
pub mod source;
pub mod storage;
pub mod worker;
