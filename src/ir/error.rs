//! Errors that evaluating an expression over user data can raise. They are data: inside a
//! maintained view they flow through an error collection (never a panic), and a read of the view
//! reports them with their SQLSTATE.

use serde::{Deserialize, Serialize};

#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, thiserror::Error,
)]
pub enum EvalError {
    #[error("division by zero")]
    DivisionByZero,
    #[error("{0} out of range")]
    OutOfRange(String),
    #[error("{0}")]
    InvalidText(String),
    #[error("{0}")]
    InvalidDatetime(String),
    #[error("more than one row returned by a subquery used as an expression")]
    MultipleRowsFromSubquery,
    #[error("invalid regular expression: {0}")]
    InvalidRegex(String),
    #[error("{0}")]
    InvalidParameter(String),
    /// A `reg*` cast of a name that names no object of its kind (`relation`, `type`, `schema`).
    #[error("{0} named by the text does not exist")]
    UnknownObject(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl EvalError {
    /// The Postgres SQLSTATE a client sees for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            EvalError::DivisionByZero => "22012",
            EvalError::OutOfRange(_) => "22003",
            EvalError::InvalidText(_) => "22P02",
            EvalError::InvalidDatetime(_) => "22007",
            EvalError::MultipleRowsFromSubquery => "21000",
            EvalError::InvalidRegex(_) => "2201B",
            EvalError::InvalidParameter(_) => "22023",
            EvalError::UnknownObject(kind) => match kind.as_str() {
                "relation" => "42P01",
                "schema" => "3F000",
                "configuration parameter" => "42704",
                _ => "42704",
            },
            EvalError::Internal(_) => "XX000",
        }
    }
}

/// Bad hex is 22023 with what is wrong, a bad escape plain invalid syntax (22P02), as in Postgres.
impl From<crate::repr::strconv::BadBytea> for EvalError {
    fn from(e: crate::repr::strconv::BadBytea) -> Self {
        use crate::repr::strconv::BadBytea;
        match e {
            BadBytea::Hex(why) => EvalError::InvalidParameter(why),
            BadBytea::Escape => {
                EvalError::InvalidText("invalid input syntax for type bytea".into())
            }
        }
    }
}

impl From<crate::repr::strconv::ParseError> for EvalError {
    fn from(e: crate::repr::strconv::ParseError) -> Self {
        use crate::repr::ScalarType;
        match e.typ {
            ScalarType::Date
            | ScalarType::Timestamp
            | ScalarType::TimestampTz
            | ScalarType::Interval => EvalError::InvalidDatetime(e.to_string()),
            _ if e.out_of_range => EvalError::OutOfRange(e.typ.name().into()),
            _ => EvalError::InvalidText(e.to_string()),
        }
    }
}
