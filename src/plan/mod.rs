//! Statements to plans: names resolved against the catalog, types checked and coerced,
//! subqueries decorrelated, queries lowered to the relational IR.

mod array;
mod coerce;
mod copy;
mod create_table;
mod error;
mod expr;
mod from;
mod function;
mod generator;
mod grouping;
mod join_time;
mod kafka;
mod operator;
mod query;
mod ranking;
mod regtype;
mod scope;
mod series;
mod statement;
mod subquery;
mod system;
mod window;
mod write;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

pub use coerce::scalar_type;
pub use copy::{CopyFormat, CopyPlan};
pub use error::{PlanError, PlanResult};
pub use from::{column_equality, equi_keys};
pub use generator::CreateGeneratorPlan;
pub use kafka::CreateSinkPlan;
pub use query::Finishing;
pub use statement::{parse_retention, plan_statement, DropKind, Plan, SelectPlan, ShowKind};

use crate::catalog::Catalog;
use crate::repr::{ColumnType, ScalarType};

/// Local ids are unique across all plans, so an inlined view's `Let`s never collide with the
/// query that uses it.
static NEXT_LOCAL_ID: AtomicU64 = AtomicU64::new(1);

pub fn next_local_id() -> u64 {
    NEXT_LOCAL_ID.fetch_add(1, Ordering::Relaxed)
}

/// A common table expression in scope.
pub struct Cte {
    pub name: String,
    pub id: u64,
    pub names: Vec<String>,
    pub types: Vec<ColumnType>,
}

/// What planning one statement may consult.
pub struct PlanContext<'a> {
    pub catalog: &'a Catalog,
    pub database: String,
    pub search_path: Vec<String>,
    /// Parameter types the client declared (`Unknown` where it left them to us).
    pub param_types: Vec<ScalarType>,
    pub ctes: RefCell<Vec<Cte>>,
    /// The column types an INSERT's VALUES list is headed for: untyped literals and parameters
    /// take these types, as in Postgres.
    pub values_hint: RefCell<Option<Vec<ScalarType>>>,
    /// Whether the statement reads a system catalog relation (a constant as of planning).
    pub reads_system: std::cell::Cell<bool>,
    /// The status relations (`runnel_catalog.sources`, ...), which the coordinator keeps:
    /// given a relation's name, its columns and current rows.
    pub status: Option<StatusRelations<'a>>,
    /// The session's settings by name (`current_setting`).
    pub settings: Option<Settings<'a>>,
    /// Whether the statement is replayed from the log at start-up: it was accepted once, so
    /// checks added since (a column `DEFAULT` that does not plan) must not refuse it.
    pub replaying: bool,
}

/// See [`PlanContext::settings`].
pub type Settings<'a> = &'a dyn Fn(&str) -> Option<String>;

/// See [`PlanContext::status`].
pub type StatusRelations<'a> =
    &'a dyn Fn(&str) -> Option<(crate::repr::RelationDesc, Vec<crate::repr::Row>)>;

impl<'a> PlanContext<'a> {
    /// The same, answering for the status relations with `status`.
    pub fn with_status(self, status: StatusRelations<'a>) -> Self {
        PlanContext {
            status: Some(status),
            ..self
        }
    }

    /// The same, reading the session's settings with `settings`.
    pub fn with_settings(self, settings: Settings<'a>) -> Self {
        PlanContext {
            settings: Some(settings),
            ..self
        }
    }

    pub fn new(
        catalog: &'a Catalog,
        database: &str,
        search_path: &[String],
        param_types: Vec<ScalarType>,
    ) -> Self {
        PlanContext {
            catalog,
            database: database.to_string(),
            search_path: search_path.to_vec(),
            param_types,
            ctes: RefCell::new(Vec::new()),
            values_hint: RefCell::new(None),
            reads_system: std::cell::Cell::new(false),
            status: None,
            settings: None,
            replaying: false,
        }
    }

    /// The same, for a statement replayed from the log.
    pub fn replaying(self) -> Self {
        PlanContext {
            replaying: true,
            ..self
        }
    }

    pub fn param_type(&self, n: usize) -> ScalarType {
        self.param_types
            .get(n)
            .copied()
            .unwrap_or(ScalarType::Unknown)
    }
}
