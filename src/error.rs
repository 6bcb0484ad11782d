//! The error a client sees: a Postgres SQLSTATE, a message, and where useful a detail, a hint
//! and a position in the statement text. Every stage's typed error converts into it in one place.

use crate::ir::EvalError;
use crate::plan::PlanError;

#[derive(Debug, Clone, PartialEq)]
pub struct SqlError {
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character position in the statement, as Postgres reports it.
    pub position: Option<usize>,
    /// Where in the statement's text the error is, as a 1-based line and column, until the
    /// server turns it into `position` (it has the text).
    pub location: Option<(u32, u32)>,
}

impl SqlError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        SqlError {
            code,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
            location: None,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn internal(message: impl Into<String>) -> Self {
        SqlError::new("XX000", message)
    }
    pub fn unsupported(what: impl Into<String>) -> Self {
        SqlError::new("0A000", format!("{} not yet supported", what.into()))
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for SqlError {}

impl From<EvalError> for SqlError {
    fn from(e: EvalError) -> Self {
        SqlError::new(e.sqlstate(), e.to_string())
    }
}

impl From<crate::repr::strconv::ParseError> for SqlError {
    fn from(e: crate::repr::strconv::ParseError) -> Self {
        EvalError::from(e).into()
    }
}

impl From<PlanError> for SqlError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Eval(e) => e.into(),
            PlanError::At {
                error,
                line,
                column,
            } => {
                let mut e = SqlError::from(*error);
                e.location = Some((
                    u32::try_from(line).unwrap_or(u32::MAX),
                    u32::try_from(column).unwrap_or(u32::MAX),
                ));
                e
            }
            e @ PlanError::UndefinedFunction(_) => SqlError::new(e.sqlstate(), e.to_string())
                .with_hint(
                    "No function matches the given name and argument types. You might need to \
                     add explicit type casts.",
                ),
            e => SqlError::new(e.sqlstate(), e.to_string()),
        }
    }
}
