//! Functions and operators on arrays: `ARRAY[...]`, subscripts, `op ANY/ALL (array)`, `||`,
//! `array_to_string`, `string_to_array`, bounds and lengths. Arrays have one dimension whose
//! lower bound is 1, so `array_lower(a, 1)` is 1 for any non-empty `a`.

use serde::{Deserialize, Serialize};

use super::error::EvalError;
use super::func::Func;
use crate::repr::{strconv, ColumnType, Datum, ScalarType};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ArrayFunc {
    /// `ARRAY[a, b, ...]` with elements of the given type (NULL elements are kept).
    Build(ScalarType),
    /// `a[i]`: NULL when `i` is outside the array.
    Subscript,
    /// `x op ANY (a)` (`all: false`) or `x op ALL (a)`, with SQL's three-valued answers.
    Compare {
        op: Box<Func>,
        all: bool,
    },
    /// `a || b` and `array_cat`: NULL operands are ignored.
    Cat,
    /// `a || x` and `array_append`.
    Append,
    /// `x || a` and `array_prepend`.
    Prepend,
    /// `array_to_string(a, separator [, null text])`: NULL elements are skipped unless a text
    /// for them is given.
    ToString,
    /// `string_to_array(text, separator [, null text])`: a NULL separator splits into characters.
    FromString,
    /// `array_lower(a, dim)`, `array_upper(a, dim)`, `array_length(a, dim)`: NULL for an empty
    /// array or a dimension other than 1.
    Lower,
    Upper,
    Length,
    /// `cardinality(a)`: the number of elements.
    Cardinality,
    /// `array_remove(a, x)`: `a` without the elements not distinct from `x`.
    Remove,
    /// `array_position(a, x)`: where the first element not distinct from `x` is, or NULL.
    Position,
    /// `(r).field` of a record: the field at this index.
    Field(usize),
}

impl ArrayFunc {
    pub fn name(&self) -> String {
        match self {
            ArrayFunc::Build(_) => "array".into(),
            ArrayFunc::Subscript => "array_subscript".into(),
            ArrayFunc::Compare { op, all } => {
                let quantifier = if *all { "all" } else { "any" };
                format!("{}_{quantifier}", op.name())
            }
            ArrayFunc::Cat => "array_cat".into(),
            ArrayFunc::Append => "array_append".into(),
            ArrayFunc::Prepend => "array_prepend".into(),
            ArrayFunc::ToString => "array_to_string".into(),
            ArrayFunc::FromString => "string_to_array".into(),
            ArrayFunc::Lower => "array_lower".into(),
            ArrayFunc::Upper => "array_upper".into(),
            ArrayFunc::Length => "array_length".into(),
            ArrayFunc::Cardinality => "cardinality".into(),
            ArrayFunc::Remove => "array_remove".into(),
            ArrayFunc::Position => "array_position".into(),
            ArrayFunc::Field(i) => format!("field_{i}"),
        }
    }

    /// Whether any NULL argument makes the result NULL.
    pub fn is_strict(&self) -> bool {
        matches!(
            self,
            ArrayFunc::Subscript
                | ArrayFunc::Lower
                | ArrayFunc::Upper
                | ArrayFunc::Length
                | ArrayFunc::Cardinality
        )
    }

    pub fn output_type(&self, args: &[ColumnType]) -> ColumnType {
        let arg = |i: usize| args.get(i).map(|a| a.scalar).unwrap_or(ScalarType::Unknown);
        let any_nullable = args.iter().any(|a| a.nullable);
        let text_array = ScalarType::Text.array_of().expect("text has an array type");
        let (scalar, nullable) = match self {
            ArrayFunc::Build(t) => (t.array_of().unwrap_or(text_array), false),
            ArrayFunc::Subscript => (arg(0).element().unwrap_or(ScalarType::Unknown), true),
            ArrayFunc::Compare { .. } => (ScalarType::Bool, any_nullable),
            ArrayFunc::Cat | ArrayFunc::Append => (arg(0), false),
            ArrayFunc::Prepend => (arg(1), false),
            ArrayFunc::ToString => (ScalarType::Text, any_nullable),
            ArrayFunc::FromString => (text_array, any_nullable),
            ArrayFunc::Lower | ArrayFunc::Upper | ArrayFunc::Length => (ScalarType::Int32, true),
            ArrayFunc::Cardinality => (ScalarType::Int32, any_nullable),
            ArrayFunc::Remove => (arg(0), args.first().is_none_or(|a| a.nullable)),
            ArrayFunc::Position => (ScalarType::Int32, true),
            ArrayFunc::Field(i) => match arg(0) {
                ScalarType::Record(shape) => (
                    shape
                        .fields
                        .get(*i)
                        .map_or(ScalarType::Unknown, |(_, t)| *t),
                    true,
                ),
                _ => (ScalarType::Unknown, true),
            },
        };
        ColumnType::new(scalar, nullable)
    }

    pub fn eval(&self, args: &[Datum]) -> Result<Datum, EvalError> {
        if self.is_strict() && args.iter().any(Datum::is_null) {
            return Ok(Datum::Null);
        }
        let elems = |d: &Datum| -> Result<Vec<Datum>, EvalError> {
            match d {
                Datum::Array(e) | Datum::Vector(e) => Ok(e.clone()),
                Datum::Null => Ok(Vec::new()),
                other => Err(super::func::type_error(&self.name(), other)),
            }
        };
        let dimension_one = |args: &[Datum]| args.get(1).and_then(Datum::as_i64) == Some(1);
        Ok(match self {
            ArrayFunc::Build(_) => Datum::Array(args.to_vec()),
            ArrayFunc::Subscript => {
                // Vectors count from 0, arrays from 1.
                let base = if matches!(args[0], Datum::Vector(_)) {
                    0
                } else {
                    1
                };
                let index = args[1].as_i64().unwrap_or(0);
                let e = elems(&args[0])?;
                usize::try_from(index - base)
                    .ok()
                    .and_then(|i| e.get(i).cloned())
                    .unwrap_or(Datum::Null)
            }
            ArrayFunc::Compare { op, all } => {
                if args[1].is_null() {
                    return Ok(Datum::Null);
                }
                let mut unknown = false;
                for e in elems(&args[1])? {
                    match op.eval(&[args[0].clone(), e])? {
                        Datum::Bool(b) if b != *all => return Ok(Datum::Bool(b)),
                        Datum::Bool(_) => {}
                        _ => unknown = true,
                    }
                }
                if unknown {
                    Datum::Null
                } else {
                    Datum::Bool(*all)
                }
            }
            ArrayFunc::Cat => match (&args[0], &args[1]) {
                (Datum::Null, b) => b.clone(),
                (a, Datum::Null) => a.clone(),
                (a, b) => Datum::Array([elems(a)?, elems(b)?].concat()),
            },
            ArrayFunc::Field(i) => match &args[0] {
                Datum::Record(fields) => fields.get(*i).cloned().unwrap_or(Datum::Null),
                _ => Datum::Null,
            },
            ArrayFunc::Remove | ArrayFunc::Position if args[0].is_null() => Datum::Null,
            ArrayFunc::Remove => Datum::Array(
                elems(&args[0])?
                    .into_iter()
                    .filter(|e| e != &args[1])
                    .collect(),
            ),
            ArrayFunc::Position => elems(&args[0])?
                .iter()
                .position(|e| e == &args[1])
                .map_or(Datum::Null, |i| Datum::Int32(i as i32 + 1)),
            ArrayFunc::Append => {
                let mut e = elems(&args[0])?;
                e.push(args[1].clone());
                Datum::Array(e)
            }
            ArrayFunc::Prepend => {
                let mut e = vec![args[0].clone()];
                e.extend(elems(&args[1])?);
                Datum::Array(e)
            }
            ArrayFunc::ToString => {
                if args[0].is_null() {
                    return Ok(Datum::Null);
                }
                let (e, Some(sep)) = (elems(&args[0])?, args[1].as_str()) else {
                    return Ok(Datum::Null);
                };
                let null = args.get(2).and_then(Datum::as_str);
                let parts: Vec<String> = e
                    .iter()
                    .filter_map(|d| strconv::format(d).or_else(|| null.map(String::from)))
                    .collect();
                Datum::String(parts.join(sep))
            }
            ArrayFunc::FromString => {
                let Some(text) = args[0].as_str() else {
                    return Ok(Datum::Null);
                };
                let null = args.get(2).and_then(Datum::as_str);
                let parts: Vec<String> = match args[1].as_str() {
                    _ if text.is_empty() => Vec::new(),
                    None => text.chars().map(String::from).collect(),
                    Some("") => vec![text.to_string()],
                    Some(sep) => text.split(sep).map(String::from).collect(),
                };
                Datum::Array(
                    parts
                        .into_iter()
                        .map(|p| match null {
                            Some(n) if n == p => Datum::Null,
                            _ => Datum::String(p),
                        })
                        .collect(),
                )
            }
            ArrayFunc::Lower | ArrayFunc::Upper | ArrayFunc::Length => {
                let n = elems(&args[0])?.len() as i32;
                if n == 0 || !dimension_one(args) {
                    return Ok(Datum::Null);
                }
                let lower = if matches!(args[0], Datum::Vector(_)) {
                    0
                } else {
                    1
                };
                Datum::Int32(match self {
                    ArrayFunc::Lower => lower,
                    ArrayFunc::Upper => lower + n - 1,
                    _ => n,
                })
            }
            ArrayFunc::Cardinality => Datum::Int32(elems(&args[0])?.len() as i32),
        })
    }
}
