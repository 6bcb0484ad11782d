//! The scalar functions and operators, with their result types and evaluation.
//!
//! Operands arrive already coerced (both sides of `+` have one type), so each function only
//! handles the type combinations the planner can produce.

use rust_decimal::prelude::Signed;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

use super::arith::{arithmetic, arithmetic_type, float_result, negate, round};
use super::cast::cast;
use super::error::EvalError;
use super::pattern::{initcap, like, regex_match};
use super::time::{date_trunc, extract};
use crate::repr::{strconv, ColumnType, Datum, ScalarType};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Func {
    // arithmetic
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Neg,
    // comparison
    Eq,
    NotEq,
    Lt,
    Lte,
    Gt,
    Gte,
    IsDistinctFrom,
    // logic
    And,
    Or,
    Not,
    IsNull,
    IsTrue,
    IsFalse,
    // conversion and conditionals
    Cast(ScalarType),
    Coalesce,
    Greatest,
    Least,
    // text
    Like {
        case_insensitive: bool,
    },
    /// POSIX regular expression match (`~`, `~*`; `!~` is its negation).
    RegexMatch {
        case_insensitive: bool,
    },
    Concat,
    ConcatWs,
    ConcatOp,
    /// `octet_length(text | bytea)`, and `length(bytea)`: the size in bytes.
    OctetLength,
    /// `encode(bytea, format)` and `decode(text, format)`.
    Encode,
    Decode,
    Lower,
    Upper,
    Length,
    Substr,
    Trim,
    Ltrim,
    Rtrim,
    Replace,
    Position,
    Left,
    Right,
    Repeat,
    Reverse,
    SplitPart,
    StartsWith,
    Lpad,
    Rpad,
    Initcap,
    // numbers
    Abs,
    Round,
    Ceil,
    Floor,
    Trunc,
    Sqrt,
    Power,
    Exp,
    Ln,
    Log10,
    Sign,
    // time
    Extract(String),
    DatePart(String),
    DateTrunc,
    /// `date_bin(stride, source [, origin])`.
    DateBin,
    /// `to_timestamp(seconds since the epoch)`.
    ToTimestamp,
    Now,
    // json
    JsonGet,
    JsonGetText,
    // system catalog
    /// `pg_get_userbyid(oid)`: the role's name. Runnel has one role, the owner of everything.
    PgGetUserById,
    /// `quote_ident(text)`, `quote_literal(text)`, `quote_nullable(text)` (NULL gives `NULL`).
    QuoteIdent,
    QuoteLiteral,
    QuoteNullable,
    /// `format_type(type oid, typmod)`: a NULL typmod is none.
    FormatType,
    /// Functions and operators on arrays.
    Array(super::array::ArrayFunc),
    /// Functions that build JSON (not strict: NULL values become JSON nulls).
    Json(super::json::JsonFunc),
    /// The bitwise operators on integers: `&`, `|`, `#`, `<<`, `>>` (psql's and pgJDBC's catalog
    /// queries test flag bits with them).
    Bitwise(BitOp),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BitOp {
    And,
    Or,
    Xor,
    ShiftLeft,
    ShiftRight,
}

impl BitOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BitOp::And => "&",
            BitOp::Or => "|",
            BitOp::Xor => "#",
            BitOp::ShiftLeft => "<<",
            BitOp::ShiftRight => ">>",
        }
    }

    /// On the integer `x` (of the first operand's type) and `y`, as Postgres computes them on
    /// x86-64: smallint and integer in 32 bits, bigint in 64, a shift count taken modulo the
    /// width, the result truncated to the operand's type.
    fn eval(self, x: &Datum, y: &Datum) -> Result<Datum, EvalError> {
        let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) else {
            return Err(EvalError::Internal(format!(
                "{} of {x:?} and {y:?}",
                self.symbol()
            )));
        };
        let wide = matches!(x, Datum::Int64(_));
        let v = match self {
            BitOp::And => a & b,
            BitOp::Or => a | b,
            BitOp::Xor => a ^ b,
            BitOp::ShiftLeft if wide => a.wrapping_shl(b as u32),
            BitOp::ShiftRight if wide => a.wrapping_shr(b as u32),
            BitOp::ShiftLeft => (a as i32).wrapping_shl(b as u32) as i64,
            BitOp::ShiftRight => (a as i32).wrapping_shr(b as u32) as i64,
        };
        Ok(match x {
            Datum::Int16(_) => Datum::Int16(v as i16),
            Datum::Int32(_) => Datum::Int32(v as i32),
            _ => Datum::Int64(v),
        })
    }
}

impl Func {
    /// The operator symbol for binary operators, used by EXPLAIN.
    pub fn infix(&self) -> Option<&'static str> {
        Some(match self {
            Func::Add => "+",
            Func::Sub => "-",
            Func::Mul => "*",
            Func::Div => "/",
            Func::Mod => "%",
            Func::Eq => "=",
            Func::NotEq => "<>",
            Func::Lt => "<",
            Func::Lte => "<=",
            Func::Gt => ">",
            Func::Gte => ">=",
            Func::And => "AND",
            Func::Or => "OR",
            Func::ConcatOp => "||",
            Func::JsonGet => "->",
            Func::JsonGetText => "->>",
            Func::Like {
                case_insensitive: false,
            } => "LIKE",
            Func::Like {
                case_insensitive: true,
            } => "ILIKE",
            Func::RegexMatch {
                case_insensitive: false,
            } => "~",
            Func::RegexMatch {
                case_insensitive: true,
            } => "~*",
            _ => return None,
        })
    }

    pub fn name(&self) -> String {
        match self {
            Func::Cast(t) => format!("cast_to_{}", t.name().replace(' ', "_")),
            Func::Extract(f) => format!("extract_{f}"),
            Func::DatePart(f) => format!("date_part_{f}"),
            Func::Array(f) => f.name(),
            Func::Json(f) => f.name().to_string(),
            other => format!("{other:?}").to_lowercase(),
        }
    }

    /// Whether a NULL argument always makes the result NULL (so the planner may fold the call
    /// without evaluating its other arguments, as Postgres does).
    pub fn is_strict(&self) -> bool {
        if let Func::Array(f) = self {
            return f.is_strict();
        }
        !matches!(
            self,
            Func::And
                | Func::Or
                | Func::Coalesce
                | Func::IsNull
                | Func::IsTrue
                | Func::IsFalse
                | Func::IsDistinctFrom
                | Func::Concat
                | Func::ConcatWs
                | Func::Greatest
                | Func::Least
                | Func::Now
                | Func::QuoteNullable
                | Func::FormatType
                | Func::Json(_)
        )
    }

    pub fn is_nondeterministic(&self) -> bool {
        matches!(self, Func::Now)
    }

    pub fn output_type(&self, args: &[ColumnType]) -> ColumnType {
        let any_nullable = args.iter().any(|a| a.nullable);
        let first = args
            .first()
            .map(|a| a.scalar)
            .unwrap_or(ScalarType::Unknown);
        let scalar = match self {
            Func::Array(f) => return f.output_type(args),
            Func::Json(_) => return ColumnType::new(ScalarType::Jsonb, false),
            Func::Bitwise(_) => first,
            Func::Add | Func::Sub | Func::Mul | Func::Div | Func::Mod => {
                arithmetic_type(self, first, args.get(1).map(|a| a.scalar).unwrap_or(first))
            }
            Func::Neg
            | Func::Abs
            | Func::Ceil
            | Func::Floor
            | Func::Trunc
            | Func::Round
            | Func::Sign => first,
            Func::Eq
            | Func::NotEq
            | Func::Lt
            | Func::Lte
            | Func::Gt
            | Func::Gte
            | Func::And
            | Func::Or
            | Func::Not
            | Func::Like { .. }
            | Func::RegexMatch { .. }
            | Func::StartsWith => ScalarType::Bool,
            Func::IsNull | Func::IsTrue | Func::IsFalse | Func::IsDistinctFrom => {
                return ColumnType::new(ScalarType::Bool, false)
            }
            Func::Cast(t) => *t,
            Func::Coalesce | Func::Greatest | Func::Least => {
                let scalar = args
                    .iter()
                    .map(|a| a.scalar)
                    .find(|t| *t != ScalarType::Unknown)
                    .unwrap_or(first);
                let nullable = if matches!(self, Func::Coalesce) {
                    args.iter().all(|a| a.nullable)
                } else {
                    any_nullable
                };
                return ColumnType::new(scalar, nullable);
            }
            Func::Concat | Func::ConcatWs => return ColumnType::new(ScalarType::Text, false),
            Func::ConcatOp if first == ScalarType::Bytea => ScalarType::Bytea,
            Func::Decode => ScalarType::Bytea,
            Func::OctetLength => ScalarType::Int32,
            Func::ConcatOp
            | Func::Encode
            | Func::Lower
            | Func::Upper
            | Func::Substr
            | Func::Trim
            | Func::Ltrim
            | Func::Rtrim
            | Func::Replace
            | Func::Left
            | Func::Right
            | Func::Repeat
            | Func::Reverse
            | Func::SplitPart
            | Func::Lpad
            | Func::Rpad
            | Func::Initcap
            | Func::PgGetUserById
            | Func::QuoteIdent
            | Func::QuoteLiteral
            | Func::QuoteNullable
            | Func::FormatType
            | Func::JsonGetText => ScalarType::Text,
            Func::Length | Func::Position => ScalarType::Int32,
            Func::Sqrt | Func::Power | Func::Exp | Func::Ln | Func::Log10 => {
                if first == ScalarType::Numeric {
                    ScalarType::Numeric
                } else {
                    ScalarType::Float64
                }
            }
            Func::Extract(_) => ScalarType::Numeric,
            Func::DatePart(_) => ScalarType::Float64,
            Func::DateTrunc => args
                .get(1)
                .map(|a| a.scalar)
                .unwrap_or(ScalarType::Timestamp),
            Func::DateBin => args
                .get(1)
                .map(|a| a.scalar)
                .unwrap_or(ScalarType::Timestamp),
            Func::Now | Func::ToTimestamp => ScalarType::TimestampTz,
            Func::JsonGet => ScalarType::Jsonb,
        };
        ColumnType::new(
            scalar,
            any_nullable || matches!(self, Func::JsonGet | Func::JsonGetText),
        )
    }

    /// Evaluates a strict function: any NULL argument gives NULL, except where noted.
    pub fn eval(&self, args: &[Datum]) -> Result<Datum, EvalError> {
        match self {
            Func::Array(f) => return f.eval(args),
            Func::Json(f) => return f.eval(args),
            Func::IsNull => return Ok(Datum::Bool(args[0].is_null())),
            Func::IsTrue => return Ok(Datum::Bool(args[0] == Datum::Bool(true))),
            Func::IsFalse => return Ok(Datum::Bool(args[0] == Datum::Bool(false))),
            Func::IsDistinctFrom => return Ok(Datum::Bool(args[0] != args[1])),
            Func::Concat => {
                let s: String = args.iter().filter_map(strconv::format).collect();
                return Ok(Datum::String(s));
            }
            Func::ConcatWs => {
                let Some(sep) = strconv::format(&args[0]) else {
                    return Ok(Datum::Null);
                };
                let parts: Vec<String> = args[1..].iter().filter_map(strconv::format).collect();
                return Ok(Datum::String(parts.join(&sep)));
            }
            Func::Greatest | Func::Least => {
                let vals = args.iter().filter(|a| !a.is_null());
                let best = if matches!(self, Func::Greatest) {
                    vals.max()
                } else {
                    vals.min()
                };
                return Ok(best.cloned().unwrap_or(Datum::Null));
            }
            Func::Now => {
                return Ok(Datum::TimestampTz(chrono::Utc::now()));
            }
            Func::QuoteNullable => {
                return Ok(Datum::String(match &args[0] {
                    Datum::Null => "NULL".into(),
                    d => super::quote::quote_literal(text(d)),
                }))
            }
            Func::FormatType if !args[0].is_null() => {
                let int = |d: &Datum| match d {
                    Datum::Int16(v) => Some(*v as i64),
                    Datum::Int32(v) => Some(*v as i64),
                    Datum::Int64(v) => Some(*v),
                    _ => None,
                };
                let oid = int(&args[0]).ok_or_else(|| type_error("format_type", &args[0]))?;
                let typmod = args.get(1).and_then(int);
                return Ok(Datum::String(super::quote::format_type(oid, typmod)));
            }
            _ => {}
        }
        if args.iter().any(Datum::is_null) {
            return Ok(Datum::Null);
        }
        match self {
            Func::Add | Func::Sub | Func::Mul | Func::Div | Func::Mod => {
                arithmetic(self, &args[0], &args[1])
            }
            Func::Neg => negate(&args[0]),
            Func::Bitwise(op) => op.eval(&args[0], &args[1]),
            Func::Eq => Ok(Datum::Bool(args[0] == args[1])),
            Func::NotEq => Ok(Datum::Bool(args[0] != args[1])),
            Func::Lt => Ok(Datum::Bool(args[0] < args[1])),
            Func::Lte => Ok(Datum::Bool(args[0] <= args[1])),
            Func::Gt => Ok(Datum::Bool(args[0] > args[1])),
            Func::Gte => Ok(Datum::Bool(args[0] >= args[1])),
            Func::Not => Ok(Datum::Bool(!args[0].as_bool().unwrap_or(false))),
            Func::Cast(to) => cast(&args[0], *to),
            Func::Like { case_insensitive } => {
                let (s, p) = (text(&args[0]), text(&args[1]));
                Ok(Datum::Bool(if *case_insensitive {
                    like(&s.to_lowercase(), &p.to_lowercase())
                } else {
                    like(s, p)
                }))
            }
            Func::RegexMatch { case_insensitive } => {
                regex_match(text(&args[0]), text(&args[1]), *case_insensitive).map(Datum::Bool)
            }
            Func::QuoteIdent => Ok(Datum::String(super::quote::quote_ident(text(&args[0])))),
            Func::QuoteLiteral => Ok(Datum::String(super::quote::quote_literal(text(&args[0])))),
            Func::PgGetUserById => Ok(Datum::String(match &args[0] {
                Datum::Int32(OWNER_OID) => OWNER.to_string(),
                other => format!(
                    "unknown (OID={})",
                    strconv::format(other).unwrap_or_default()
                ),
            })),
            Func::ConcatOp if matches!(args[0], Datum::Bytes(_)) => match (&args[0], &args[1]) {
                (Datum::Bytes(a), Datum::Bytes(b)) => Ok(Datum::Bytes([&a[..], &b[..]].concat())),
                (_, other) => Err(type_error("bytea ||", other)),
            },
            Func::OctetLength => Ok(Datum::Int32(match &args[0] {
                Datum::Bytes(b) => b.len(),
                other => text(other).len(),
            } as i32)),
            Func::Encode => match &args[0] {
                Datum::Bytes(b) => super::bytea::encode(b, text(&args[1])).map(Datum::String),
                other => Err(type_error("encode", other)),
            },
            Func::Decode => super::bytea::decode(text(&args[0]), text(&args[1])).map(Datum::Bytes),
            Func::ConcatOp => Ok(Datum::String(
                strconv::format(&args[0]).unwrap_or_default()
                    + &strconv::format(&args[1]).unwrap_or_default(),
            )),
            Func::Lower => Ok(Datum::String(text(&args[0]).to_lowercase())),
            Func::Upper => Ok(Datum::String(text(&args[0]).to_uppercase())),
            Func::Initcap => Ok(Datum::String(initcap(text(&args[0])))),
            Func::Length => Ok(Datum::Int32(text(&args[0]).chars().count() as i32)),
            Func::Reverse => Ok(Datum::String(text(&args[0]).chars().rev().collect())),
            Func::Substr => {
                let s: Vec<char> = text(&args[0]).chars().collect();
                let start = int(&args[1]);
                let (from, to) = match args.get(2) {
                    Some(len) => {
                        let len = int(len);
                        if len < 0 {
                            return Err(EvalError::InvalidParameter(
                                "negative substring length not allowed".into(),
                            ));
                        }
                        (start, start.saturating_add(len))
                    }
                    None => (start, i64::MAX),
                };
                let from = (from.max(1) - 1) as usize;
                let to = (to.max(1) - 1).min(s.len() as i64) as usize;
                Ok(Datum::String(if from < to {
                    s[from..to].iter().collect()
                } else {
                    String::new()
                }))
            }
            Func::Trim | Func::Ltrim | Func::Rtrim => {
                let s = text(&args[0]);
                let chars: Vec<char> = args
                    .get(1)
                    .map(|c| text(c).chars().collect())
                    .unwrap_or(vec![' ']);
                let f = |c: char| chars.contains(&c);
                Ok(Datum::String(
                    match self {
                        Func::Trim => s.trim_matches(f),
                        Func::Ltrim => s.trim_start_matches(f),
                        _ => s.trim_end_matches(f),
                    }
                    .to_string(),
                ))
            }
            Func::Replace => Ok(Datum::String(
                text(&args[0]).replace(text(&args[1]), text(&args[2])),
            )),
            Func::Position => {
                let (needle, hay) = (text(&args[0]), text(&args[1]));
                Ok(Datum::Int32(
                    hay.find(needle)
                        .map(|b| hay[..b].chars().count() as i32 + 1)
                        .unwrap_or(0),
                ))
            }
            Func::Left | Func::Right => {
                let s: Vec<char> = text(&args[0]).chars().collect();
                let n = int(&args[1]);
                let len = s.len() as i64;
                let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
                Ok(Datum::String(if matches!(self, Func::Left) {
                    s[..keep].iter().collect()
                } else {
                    s[s.len() - keep..].iter().collect()
                }))
            }
            Func::Repeat => Ok(Datum::String(
                text(&args[0]).repeat(int(&args[1]).max(0) as usize),
            )),
            Func::SplitPart => {
                let n = int(&args[2]);
                if n == 0 {
                    return Err(EvalError::InvalidParameter(
                        "field position must not be zero".into(),
                    ));
                }
                let parts: Vec<&str> = text(&args[0]).split(text(&args[1])).collect();
                let idx = if n > 0 { n - 1 } else { parts.len() as i64 + n };
                Ok(Datum::String(
                    parts
                        .get(idx as usize)
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                ))
            }
            Func::StartsWith => Ok(Datum::Bool(text(&args[0]).starts_with(text(&args[1])))),
            Func::Lpad | Func::Rpad => {
                let s: Vec<char> = text(&args[0]).chars().collect();
                let n = int(&args[1]).max(0) as usize;
                let fill: Vec<char> = args
                    .get(2)
                    .map(|f| text(f).chars().collect())
                    .unwrap_or(vec![' ']);
                if s.len() >= n || fill.is_empty() {
                    return Ok(Datum::String(s[..n.min(s.len())].iter().collect()));
                }
                let pad: String = fill.iter().cycle().take(n - s.len()).collect();
                let s: String = s.iter().collect();
                Ok(Datum::String(if matches!(self, Func::Lpad) {
                    pad + &s
                } else {
                    s + &pad
                }))
            }
            Func::Abs => match &args[0] {
                Datum::Int16(v) => v.checked_abs().map(Datum::Int16).ok_or(range("smallint")),
                Datum::Int32(v) => v.checked_abs().map(Datum::Int32).ok_or(range("integer")),
                Datum::Int64(v) => v.checked_abs().map(Datum::Int64).ok_or(range("bigint")),
                Datum::Float32(v) => Ok(Datum::f32(v.0.abs())),
                Datum::Float64(v) => Ok(Datum::f64(v.0.abs())),
                Datum::Numeric(v) => Ok(Datum::Numeric(v.abs())),
                d => Err(type_error("abs", d)),
            },
            Func::Sign => match &args[0] {
                Datum::Numeric(v) => Ok(Datum::Numeric(v.signum())),
                d => Ok(Datum::f64(float(d)?.signum())),
            },
            Func::Round | Func::Ceil | Func::Floor | Func::Trunc => {
                round(self, &args[0], args.get(1))
            }
            Func::Sqrt | Func::Exp | Func::Ln | Func::Log10 => {
                let x = float(&args[0])?;
                if matches!(self, Func::Sqrt) && x < 0.0 {
                    return Err(EvalError::InvalidParameter(
                        "cannot take square root of a negative number".into(),
                    ));
                }
                if matches!(self, Func::Ln | Func::Log10) && x <= 0.0 {
                    return Err(EvalError::InvalidParameter(if x == 0.0 {
                        "cannot take logarithm of zero".into()
                    } else {
                        "cannot take logarithm of a negative number".into()
                    }));
                }
                let y = match self {
                    Func::Sqrt => x.sqrt(),
                    Func::Exp => x.exp(),
                    Func::Ln => x.ln(),
                    _ => x.log10(),
                };
                float_result(y, matches!(args[0], Datum::Numeric(_)))
            }
            Func::Power => {
                let y = float(&args[0])?.powf(float(&args[1])?);
                float_result(y, matches!(args[0], Datum::Numeric(_)))
            }
            Func::Extract(field) => Ok(Datum::Numeric(extract(field, &args[0])?)),
            Func::DatePart(field) => Ok(Datum::f64(
                extract(field, &args[0])?.to_f64().unwrap_or(f64::NAN),
            )),
            Func::DateTrunc => date_trunc(text(&args[0]), &args[1]),
            Func::DateBin => super::window::date_bin(&args[0], &args[1], args.get(2)),
            Func::ToTimestamp => {
                let micros = (float(&args[0])? * 1e6).round();
                if !micros.is_finite() || micros.abs() >= i64::MAX as f64 {
                    return Err(EvalError::OutOfRange("timestamp".into()));
                }
                chrono::DateTime::from_timestamp_micros(micros as i64)
                    .map(Datum::TimestampTz)
                    .ok_or_else(|| EvalError::OutOfRange("timestamp".into()))
            }
            Func::JsonGet | Func::JsonGetText => {
                let v: serde_json::Value = serde_json::from_str(text(&args[0])).map_err(|e| {
                    EvalError::Internal(format!("stored jsonb does not parse: {e}"))
                })?;
                let got = match &args[1] {
                    Datum::String(k) => v.get(k),
                    d => d.as_i64().and_then(|i| {
                        let arr = v.as_array()?;
                        let idx = if i < 0 { arr.len() as i64 + i } else { i };
                        arr.get(usize::try_from(idx).ok()?)
                    }),
                };
                Ok(match (got, self) {
                    (None, _) => Datum::Null,
                    (Some(serde_json::Value::Null), Func::JsonGetText) => Datum::Null,
                    (Some(serde_json::Value::String(s)), Func::JsonGetText) => {
                        Datum::String(s.clone())
                    }
                    (Some(j), Func::JsonGetText) => Datum::String(j.to_string()),
                    (Some(j), _) => Datum::Jsonb(j.to_string()),
                })
            }
            Func::And | Func::Or | Func::Coalesce => Err(EvalError::Internal(format!(
                "{self:?} is evaluated by ScalarExpr, not Func::eval"
            ))),
            _ => Err(EvalError::Internal(format!(
                "function {self:?} reached eval with non-null arguments"
            ))),
        }
    }
}

pub(super) fn range(what: &str) -> EvalError {
    EvalError::OutOfRange(what.to_string())
}

pub(super) fn type_error(func: &str, d: &Datum) -> EvalError {
    EvalError::Internal(format!(
        "{func} received an argument of type {:?}",
        d.scalar_type()
    ))
}

fn text(d: &Datum) -> &str {
    d.as_str().unwrap_or("")
}

pub(super) fn int(d: &Datum) -> i64 {
    d.as_i64().unwrap_or(0)
}

pub(super) fn float(d: &Datum) -> Result<f64, EvalError> {
    d.as_f64()
        .ok_or_else(|| type_error("a numeric function", d))
}

/// The role that owns every object (`pg_get_userbyid`, the catalogs' owner columns): Runnel
/// has no roles, and names its owner as Postgres names its bootstrap superuser's oid.
pub const OWNER: &str = "materialize";
pub const OWNER_OID: i32 = 10;

/// Orders two datums as `ORDER BY` does: NULLs sort last ascending (first descending).
pub fn compare_for_order(a: &Datum, b: &Datum, desc: bool, nulls_last: bool) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => {
            if nulls_last {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (false, true) => {
            if nulls_last {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        _ => {
            let o = a.cmp(b);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::arith::numeric_div;
    use rust_decimal::Decimal;

    #[test]
    fn integer_arithmetic_checks_overflow_and_zero() {
        assert_eq!(
            arithmetic(&Func::Div, &Datum::Int32(7), &Datum::Int32(2)),
            Ok(Datum::Int32(3))
        );
        assert_eq!(
            arithmetic(&Func::Div, &Datum::Int32(7), &Datum::Int32(0)),
            Err(EvalError::DivisionByZero)
        );
        assert!(arithmetic(&Func::Add, &Datum::Int32(i32::MAX), &Datum::Int32(1)).is_err());
        assert_eq!(
            arithmetic(&Func::Mod, &Datum::Int32(-7), &Datum::Int32(2)),
            Ok(Datum::Int32(-1))
        );
    }

    #[test]
    fn numeric_division_uses_postgres_scale() {
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        assert_eq!(
            numeric_div(d("1"), d("3")).unwrap().to_string(),
            "0.33333333333333333333"
        );
        assert_eq!(
            numeric_div(d("10"), d("4")).unwrap().to_string(),
            "2.5000000000000000"
        );
    }

    #[test]
    fn casts_round_like_postgres() {
        assert_eq!(
            cast(&Datum::f64(2.5), ScalarType::Int32),
            Ok(Datum::Int32(2))
        );
        assert_eq!(
            cast(&Datum::Numeric(Decimal::new(25, 1)), ScalarType::Int32),
            Ok(Datum::Int32(3))
        );
        assert_eq!(
            cast(&Datum::String("12".into()), ScalarType::Int64),
            Ok(Datum::Int64(12))
        );
        assert!(matches!(
            cast(&Datum::String("x".into()), ScalarType::Int64),
            Err(EvalError::InvalidText(_))
        ));
    }
}
