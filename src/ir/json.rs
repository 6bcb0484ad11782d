//! Functions that build JSON from SQL values: `json_build_object` and `json_build_array` (and
//! their `jsonb_` twins; Runnel keeps JSON as `jsonb`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::EvalError;
use crate::repr::{strconv, Datum};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum JsonFunc {
    /// `json_build_object(k1, v1, ...)`: keys as text (NULL keys are an error).
    BuildObject,
    /// `json_build_array(v1, ...)`.
    BuildArray,
}

impl JsonFunc {
    pub fn name(&self) -> &'static str {
        match self {
            JsonFunc::BuildObject => "json_build_object",
            JsonFunc::BuildArray => "json_build_array",
        }
    }

    pub fn eval(&self, args: &[Datum]) -> Result<Datum, EvalError> {
        let json = match self {
            JsonFunc::BuildArray => {
                Value::Array(args.iter().map(to_json).collect::<Result<_, _>>()?)
            }
            JsonFunc::BuildObject => {
                if !args.len().is_multiple_of(2) {
                    return Err(EvalError::InvalidParameter(
                        "argument list must have even number of elements".into(),
                    ));
                }
                let mut object = serde_json::Map::new();
                for (i, pair) in args.chunks(2).enumerate() {
                    let key = strconv::format(&pair[0]).ok_or_else(|| {
                        EvalError::InvalidParameter(format!(
                            "argument {} cannot be null",
                            2 * i + 1
                        ))
                    })?;
                    object.insert(key, to_json(&pair[1])?);
                }
                Value::Object(object)
            }
        };
        Ok(Datum::Jsonb(json.to_string()))
    }
}

/// A SQL value as JSON: numbers and booleans as themselves, JSON as itself, arrays as arrays,
/// anything else as the string of its text form.
pub fn to_json(d: &Datum) -> Result<Value, EvalError> {
    Ok(match d {
        Datum::Null => Value::Null,
        Datum::Bool(b) => Value::Bool(*b),
        Datum::Int16(_) | Datum::Int32(_) | Datum::Int64(_) => Value::from(d.as_i64().unwrap_or(0)),
        Datum::Float32(_) | Datum::Float64(_) | Datum::Numeric(_) => {
            let text = strconv::format(d).unwrap_or_default();
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
        Datum::Jsonb(s) => serde_json::from_str(s)
            .map_err(|e| EvalError::Internal(format!("stored jsonb does not parse: {e}")))?,
        Datum::Array(elems) | Datum::Vector(elems) => {
            Value::Array(elems.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        other => Value::String(strconv::format(other).unwrap_or_default()),
    })
}
