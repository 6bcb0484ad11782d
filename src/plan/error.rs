//! Why a statement could not be planned.

use crate::ir::EvalError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("relation \"{0}\" does not exist")]
    UnknownRelation(String),
    #[error("column \"{0}\" does not exist")]
    UnknownColumn(String),
    /// PostgreSQL's spelling for `t.c`: unquoted.
    #[error("column {0} does not exist")]
    UnknownQualifiedColumn(String),
    #[error("missing FROM-clause entry for table \"{0}\"")]
    MissingFromEntry(String),
    /// `.field` of a value that has no fields.
    #[error("column notation .{0} applied to type {1}, which is not a composite type")]
    NotComposite(String, &'static str),
    /// A column reference that cannot be made, such as more alias columns than there are.
    #[error("{0}")]
    InvalidColumnReference(String),
    #[error("column reference \"{0}\" is ambiguous")]
    AmbiguousColumn(String),
    #[error("relation \"{0}\" already exists")]
    AlreadyExists(String),
    #[error("database \"{0}\" does not exist")]
    UnknownDatabase(String),
    #[error("database \"{0}\" already exists")]
    DatabaseExists(String),
    #[error("schema \"{0}\" does not exist")]
    UnknownSchema(String),
    #[error("schema \"{0}\" already exists")]
    SchemaExists(String),
    #[error("cannot drop {0} because other objects depend on it")]
    DependentObjects(String),
    #[error("\"{0}\" is not a {1}")]
    WrongObjectType(String, &'static str),
    /// An UPDATE or DELETE of an `APPEND ONLY` table.
    #[error("{0}")]
    AppendOnly(String),
    #[error("{0}")]
    TypeMismatch(String),
    #[error("operator does not exist: {0}")]
    UndefinedOperator(String),
    #[error("function {0} does not exist")]
    UndefinedFunction(String),
    #[error("{0}")]
    Grouping(String),
    #[error("column \"{0}\" specified more than once")]
    DuplicateColumn(String),
    #[error("{0}")]
    Syntax(String),
    #[error("{0} not yet supported")]
    Unsupported(String),
    #[error("{0}")]
    InvalidParameter(String),
    /// A type or other named object that does not exist (42704).
    #[error("{0}")]
    UndefinedObject(String),
    /// An expression whose type nothing determines, like `ARRAY[]` (42P18).
    #[error("{0}")]
    IndeterminateType(String),
    #[error("unrecognized configuration parameter \"{0}\"")]
    UnknownSetting(String),
    #[error("null value in column \"{0}\" violates not-null constraint")]
    NotNull(String),
    #[error("{0}")]
    Eval(#[from] EvalError),
    #[error("internal error: {0}")]
    Internal(String),
    /// An error at a place in the statement text (sqlparser's 1-based line and column), which
    /// clients show under the statement (`LINE 1: SELECT * FROM missing` and a caret).
    #[error("{error}")]
    At {
        error: Box<PlanError>,
        line: u64,
        column: u64,
    },
}

impl PlanError {
    /// This error, placed where `span` starts (unless it has a place already, or the span is
    /// empty, as for nodes the planner made up).
    pub fn at(self, span: sqlparser::tokenizer::Span) -> PlanError {
        match self {
            PlanError::At { .. } => self,
            _ if span.start.line == 0 => self,
            error => PlanError::At {
                error: Box::new(error),
                line: span.start.line,
                column: span.start.column,
            },
        }
    }

    pub fn sqlstate(&self) -> &'static str {
        match self {
            PlanError::At { error, .. } => error.sqlstate(),
            PlanError::UnknownRelation(_) => "42P01",
            PlanError::UnknownColumn(_) | PlanError::UnknownQualifiedColumn(_) => "42703",
            PlanError::MissingFromEntry(_) => "42P01",
            PlanError::InvalidColumnReference(_) => "42P10",
            PlanError::NotComposite(..) => "42809",
            PlanError::AmbiguousColumn(_) => "42702",
            PlanError::AlreadyExists(_) => "42P07",
            PlanError::UnknownDatabase(_) => "3D000",
            PlanError::DatabaseExists(_) => "42P04",
            PlanError::UnknownSchema(_) => "3F000",
            PlanError::SchemaExists(_) => "42P06",
            PlanError::DependentObjects(_) => "2BP01",
            PlanError::WrongObjectType(..) | PlanError::AppendOnly(_) => "42809",
            PlanError::TypeMismatch(_) => "42804",
            PlanError::UndefinedOperator(_) => "42883",
            PlanError::UndefinedFunction(_) => "42883",
            PlanError::Grouping(_) => "42803",
            PlanError::DuplicateColumn(_) => "42701",
            PlanError::Syntax(_) => "42601",
            PlanError::Unsupported(_) => "0A000",
            PlanError::InvalidParameter(_) => "22023",
            PlanError::UnknownSetting(_) | PlanError::UndefinedObject(_) => "42704",
            PlanError::IndeterminateType(_) => "42P18",
            PlanError::NotNull(_) => "23502",
            PlanError::Eval(e) => e.sqlstate(),
            PlanError::Internal(_) => "XX000",
        }
    }
}

pub type PlanResult<T> = Result<T, PlanError>;

pub fn unsupported<T>(what: impl Into<String>) -> PlanResult<T> {
    Err(PlanError::Unsupported(what.into()))
}
