//! Planning function calls: built-in scalar functions by name (with their argument coercions
//! and Postgres spellings), and recognizing aggregate calls for the grouping planner.

use sqlparser::ast::{self, Expr, Value};

use super::coerce::cast;
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use crate::ir::json::JsonFunc;
use crate::ir::{AggregateFunc, Func, ScalarExpr};
use crate::repr::{Datum, ScalarType};

impl ExprCx<'_, '_> {
    pub(super) fn numeric_fn(&mut self, func: Func, e: &Expr) -> PlanResult<ScalarExpr> {
        let (s, t) = self.plan_typed(e)?;
        let s = if t.scalar.is_numeric() {
            s
        } else {
            cast(s, t.scalar, ScalarType::Float64)
        };
        Ok(ScalarExpr::call(func, vec![s]))
    }

    pub(super) fn function(&mut self, f: &ast::Function) -> PlanResult<ScalarExpr> {
        let name = f
            .name
            .0
            .last()
            .map(|p| p.to_string().to_lowercase())
            .unwrap_or_default();
        let name = name.trim_matches('"').to_string();
        if aggregate_func(&name).is_some() {
            return Err(PlanError::Grouping(format!(
                "aggregate functions are not allowed in {}",
                self.clause
            )));
        }
        let args = function_args(f)?;
        if let Some(e) = self.array_function(&name, &args)? {
            return Ok(e);
        }
        if let Some(e) = self.catalog_function(&name, &args)? {
            return Ok(e);
        }
        let n = args.len();
        let text = ScalarType::Text;
        let simple = |func: Func, arity: &[usize]| -> PlanResult<Func> {
            if arity.contains(&n) {
                Ok(func)
            } else {
                Err(PlanError::UndefinedFunction(format!(
                    "{name} with {n} arguments"
                )))
            }
        };
        let (func, arg_types): (Func, Vec<Option<ScalarType>>) = match name.as_str() {
            "coalesce" | "greatest" | "least" => {
                if n == 0 {
                    return Err(PlanError::Syntax(format!("{name} needs arguments")));
                }
                let refs: Vec<&Expr> = args.iter().collect();
                let (planned, _) = self.coerced(&refs, &name.to_uppercase())?;
                let func = match name.as_str() {
                    "coalesce" => Func::Coalesce,
                    "greatest" => Func::Greatest,
                    _ => Func::Least,
                };
                return Ok(ScalarExpr::call(func, planned));
            }
            "nullif" => {
                let (planned, _) = self.coerced(&[&args[0], &args[1]], "NULLIF")?;
                let t = self.typ(&planned[0]).scalar;
                return Ok(ScalarExpr::If {
                    cond: Box::new(ScalarExpr::call(Func::Eq, planned.clone())),
                    then: Box::new(ScalarExpr::null(t)),
                    els: Box::new(planned[0].clone()),
                });
            }
            "abs" | "round" | "ceil" | "ceiling" | "floor" | "trunc" | "sign" => {
                let func = match name.as_str() {
                    "abs" => Func::Abs,
                    "round" => Func::Round,
                    "ceil" | "ceiling" => Func::Ceil,
                    "floor" => Func::Floor,
                    "trunc" => Func::Trunc,
                    _ => Func::Sign,
                };
                let (s, t) = self.plan_typed(&args[0])?;
                let s = if t.scalar.is_numeric() {
                    s
                } else {
                    cast(s, t.scalar, ScalarType::Float64)
                };
                let mut planned = vec![s];
                if n == 2 {
                    let s0 = planned.pop().expect("one argument");
                    let t0 = self.typ(&s0).scalar;
                    // round(x, n) exists for numeric only.
                    planned.push(cast(s0, t0, ScalarType::Numeric));
                    planned.push(self.plan_as(&args[1], ScalarType::Int32, &name)?);
                }
                return Ok(ScalarExpr::call(func, planned));
            }
            "sqrt" | "exp" | "ln" | "log" | "log10" | "power" | "pow" => {
                let func = match name.as_str() {
                    "sqrt" => Func::Sqrt,
                    "exp" => Func::Exp,
                    "ln" => Func::Ln,
                    "log" | "log10" => Func::Log10,
                    _ => Func::Power,
                };
                let mut planned = Vec::new();
                for a in &args {
                    let (s, t) = self.plan_typed(a)?;
                    let to = if t.scalar == ScalarType::Numeric {
                        ScalarType::Numeric
                    } else {
                        ScalarType::Float64
                    };
                    planned.push(cast(s, t.scalar, to));
                }
                return Ok(ScalarExpr::call(func, planned));
            }
            // `length` counts the characters of text and the bytes of a bytea.
            "octet_length" | "length" if n == 1 => {
                let (s, t) = self.plan_typed(&args[0])?;
                let s = match t.scalar {
                    ScalarType::Bytea | ScalarType::Text => s,
                    other => cast(s, other, ScalarType::Text),
                };
                let bytes = name == "octet_length" || t.scalar == ScalarType::Bytea;
                let func = if bytes {
                    Func::OctetLength
                } else {
                    Func::Length
                };
                return Ok(ScalarExpr::call(func, vec![s]));
            }
            "encode" => (
                simple(Func::Encode, &[2])?,
                vec![Some(ScalarType::Bytea), Some(text)],
            ),
            "decode" => (simple(Func::Decode, &[2])?, vec![Some(text), Some(text)]),
            // Constants of the session and server, decided when the statement is planned (so
            // a view cannot hold them, as with the catalog relations).
            "version" if n == 0 => {
                self.qcx.pcx.reads_system.set(true);
                let v = format!(
                    "PostgreSQL 15.0 on {}-linux, compiled by rustc (Runnel {})",
                    std::env::consts::ARCH,
                    env!("CARGO_PKG_VERSION")
                );
                return Ok(ScalarExpr::Literal(Datum::String(v), ScalarType::Text));
            }
            "current_setting" if n == 1 || n == 2 => {
                let missing_ok =
                    n == 2 && matches!(&args[1], Expr::Value(v) if v.value == Value::Boolean(true));
                let pcx = self.qcx.pcx;
                pcx.reads_system.set(true);
                let setting = match &args[0] {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => s.to_lowercase(),
                        _ => String::new(),
                    },
                    _ => String::new(),
                };
                // A name known only as the query runs (a parameter): looked up among the
                // settings as they are when the query is planned.
                if setting.is_empty() {
                    let name = self.plan_as(&args[0], text, &name)?;
                    let values = crate::coord::session::DEFAULTS
                        .iter()
                        .filter_map(|(s, _)| Some((s.to_string(), pcx.settings?(s)?)))
                        .collect();
                    let missing = if missing_ok {
                        ScalarExpr::null(text)
                    } else {
                        ScalarExpr::Error(
                            crate::ir::EvalError::UnknownObject("configuration parameter".into()),
                            text,
                        )
                    };
                    return Ok(super::system::lookup_text(name, values, missing));
                }
                let value = pcx.settings.and_then(|get| get(&setting));
                return match value {
                    Some(v) => Ok(ScalarExpr::Literal(Datum::String(v), ScalarType::Text)),
                    None if missing_ok => Ok(ScalarExpr::null(ScalarType::Text)),
                    None => Err(PlanError::UnknownSetting(setting)),
                };
            }
            // The user the client authenticated as (or named, when every client is trusted).
            "current_user" | "session_user" | "user" | "current_role" if n == 0 => {
                let user = self
                    .qcx
                    .pcx
                    .settings
                    .and_then(|get| get("session_authorization"))
                    .unwrap_or_else(|| crate::ir::func::OWNER.to_string());
                return Ok(ScalarExpr::Literal(Datum::String(user), ScalarType::Text));
            }
            "pg_get_userbyid" => (
                simple(Func::PgGetUserById, &[1])?,
                vec![Some(ScalarType::Int32)],
            ),
            "generate_series" => {
                return unsupported(
                    "generate_series inside an expression (use it in FROM, or alone as a \
                     select-list item)",
                )
            }
            "json_build_object" | "jsonb_build_object" | "json_build_array"
            | "jsonb_build_array" => {
                let f = if name.ends_with("object") {
                    JsonFunc::BuildObject
                } else {
                    JsonFunc::BuildArray
                };
                let mut planned = Vec::new();
                for a in &args {
                    let (s, t) = self.plan_typed(a)?;
                    // An untyped literal is text, as Postgres resolves it here.
                    let to = match t.scalar {
                        ScalarType::Unknown => ScalarType::Text,
                        known => known,
                    };
                    planned.push(cast(s, t.scalar, to));
                }
                return Ok(ScalarExpr::call(Func::Json(f), planned));
            }
            "quote_ident" => (simple(Func::QuoteIdent, &[1])?, vec![Some(text)]),
            "quote_literal" => (simple(Func::QuoteLiteral, &[1])?, vec![Some(text)]),
            "quote_nullable" => (simple(Func::QuoteNullable, &[1])?, vec![Some(text)]),
            "format_type" => (
                simple(Func::FormatType, &[2])?,
                vec![Some(ScalarType::Int32), Some(ScalarType::Int32)],
            ),
            "current_database" | "current_catalog" | "current_schema" if n == 0 => {
                let pcx = self.qcx.pcx;
                let value = if name != "current_schema" {
                    Some(pcx.database.clone())
                } else {
                    // The first schema of the search path that exists, as in Postgres.
                    pcx.search_path
                        .iter()
                        .find(|s| pcx.catalog.schema_exists(&pcx.database, s))
                        .cloned()
                };
                return Ok(value.map_or(ScalarExpr::null(ScalarType::Text), |v| {
                    ScalarExpr::Literal(Datum::String(v), ScalarType::Text)
                }));
            }
            "lower" => (simple(Func::Lower, &[1])?, vec![Some(text)]),
            "upper" => (simple(Func::Upper, &[1])?, vec![Some(text)]),
            "initcap" => (simple(Func::Initcap, &[1])?, vec![Some(text)]),
            "char_length" | "character_length" => (simple(Func::Length, &[1])?, vec![Some(text)]),
            "reverse" => (simple(Func::Reverse, &[1])?, vec![Some(text)]),
            "substr" | "substring" => (
                simple(Func::Substr, &[2, 3])?,
                vec![Some(text), Some(ScalarType::Int64), Some(ScalarType::Int64)],
            ),
            "btrim" | "trim" => (simple(Func::Trim, &[1, 2])?, vec![Some(text), Some(text)]),
            "ltrim" => (simple(Func::Ltrim, &[1, 2])?, vec![Some(text), Some(text)]),
            "rtrim" => (simple(Func::Rtrim, &[1, 2])?, vec![Some(text), Some(text)]),
            "replace" => (simple(Func::Replace, &[3])?, vec![Some(text); 3]),
            "strpos" => {
                let hay = self.plan_as(&args[0], text, "strpos")?;
                let needle = self.plan_as(&args[1], text, "strpos")?;
                return Ok(ScalarExpr::call(Func::Position, vec![needle, hay]));
            }
            "left" => (
                simple(Func::Left, &[2])?,
                vec![Some(text), Some(ScalarType::Int64)],
            ),
            "right" => (
                simple(Func::Right, &[2])?,
                vec![Some(text), Some(ScalarType::Int64)],
            ),
            "repeat" => (
                simple(Func::Repeat, &[2])?,
                vec![Some(text), Some(ScalarType::Int64)],
            ),
            "split_part" => (
                simple(Func::SplitPart, &[3])?,
                vec![Some(text), Some(text), Some(ScalarType::Int64)],
            ),
            "starts_with" => (
                simple(Func::StartsWith, &[2])?,
                vec![Some(text), Some(text)],
            ),
            "lpad" => (
                simple(Func::Lpad, &[2, 3])?,
                vec![Some(text), Some(ScalarType::Int64), Some(text)],
            ),
            "rpad" => (
                simple(Func::Rpad, &[2, 3])?,
                vec![Some(text), Some(ScalarType::Int64), Some(text)],
            ),
            "concat" => (Func::Concat, vec![None; n]),
            "concat_ws" => (Func::ConcatWs, vec![None; n]),
            "now" | "current_timestamp" | "mz_now" => (simple(Func::Now, &[0])?, vec![]),
            // Today in UTC, the session's only time zone.
            "current_date" if n == 0 => {
                let now = ScalarExpr::call(Func::Now, vec![]);
                return Ok(cast(now, ScalarType::TimestampTz, ScalarType::Date));
            }
            "date_trunc" => (simple(Func::DateTrunc, &[2])?, vec![Some(text), None]),
            "to_timestamp" => (
                simple(Func::ToTimestamp, &[1])?,
                vec![Some(ScalarType::Float64)],
            ),
            "date_bin" => {
                let func = simple(Func::DateBin, &[2, 3])?;
                // The origin, when given, is read as the source's type.
                let source = self.plan_typed(&args[1])?.1.scalar;
                (func, vec![Some(ScalarType::Interval), None, Some(source)])
            }
            "date_part" => {
                let field = match &args[0] {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => s.to_lowercase(),
                        _ => return unsupported("date_part with a non-literal field"),
                    },
                    _ => return unsupported("date_part with a non-literal field"),
                };
                let s = self.plan(&args[1])?;
                return Ok(ScalarExpr::call(
                    Func::DatePart(normalize_field(&field)),
                    vec![s],
                ));
            }
            _ => {
                // Named with its argument types, as PostgreSQL names it (whose errors in the
                // arguments come first).
                let mut types = Vec::new();
                for a in &args {
                    types.push(self.plan_typed(a)?.1.scalar.name());
                }
                return Err(PlanError::UndefinedFunction(format!(
                    "{name}({})",
                    types.join(", ")
                )));
            }
        };
        let mut planned = Vec::new();
        for (a, t) in args
            .iter()
            .zip(arg_types.iter().chain(std::iter::repeat(&None)))
        {
            let (s, st) = self.plan_typed(a)?;
            planned.push(match t {
                Some(to)
                    if st.scalar == ScalarType::Unknown
                        || super::coerce::can_implicitly_cast(st.scalar, *to) =>
                {
                    cast(s, st.scalar, *to)
                }
                Some(to) if *to == text => cast(s, st.scalar, *to),
                Some(to) => {
                    return Err(PlanError::UndefinedFunction(format!(
                        "{name}({}) (expected {})",
                        st.scalar.name(),
                        to.name()
                    )))
                }
                None => s,
            });
        }
        Ok(ScalarExpr::call(func, planned))
    }
}

/// The positional arguments of a function call.
pub fn function_args(f: &ast::Function) -> PlanResult<Vec<Expr>> {
    match &f.args {
        ast::FunctionArguments::None => Ok(vec![]),
        ast::FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Ok(e.clone()),
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => Ok(Expr::Wildcard(
                    ast::helpers::attached_token::AttachedToken::empty(),
                )),
                other => unsupported(format!("function argument {other}")),
            })
            .collect(),
        ast::FunctionArguments::Subquery(_) => unsupported("subquery as a function argument"),
    }
}

/// The aggregate a function name denotes, if any.
pub fn aggregate_func(name: &str) -> Option<AggregateFunc> {
    Some(match name {
        "count" => AggregateFunc::Count,
        "sum" => AggregateFunc::Sum,
        "min" => AggregateFunc::Min,
        "max" => AggregateFunc::Max,
        "avg" => AggregateFunc::Avg,
        "bool_and" | "every" => AggregateFunc::BoolAnd,
        "bool_or" => AggregateFunc::BoolOr,
        "string_agg" => AggregateFunc::StringAgg {
            order: Default::default(),
        },
        "array_agg" => AggregateFunc::ArrayAgg {
            order: Default::default(),
        },
        _ => return None,
    })
}

pub(super) fn normalize_field(f: &str) -> String {
    match f.trim_matches('\'') {
        "years" => "year".into(),
        "months" | "mon" => "month".into(),
        "days" => "day".into(),
        "hours" => "hour".into(),
        "minutes" | "min" => "minute".into(),
        "seconds" | "sec" => "second".into(),
        other => other.into(),
    }
}
