//! Types in SQL text (`int`, `varchar(20)`, `double precision`) and the implicit conversions
//! Postgres applies between operand types.

use sqlparser::ast::{self, DataType};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::error::{PlanError, PlanResult};
use crate::ir::{Func, ScalarExpr};
use crate::repr::{ColumnType, ScalarType};

/// The scalar type a SQL type name denotes.
pub fn scalar_type(dt: &DataType) -> PlanResult<ScalarType> {
    use DataType as D;
    Ok(match dt {
        D::Boolean | D::Bool => ScalarType::Bool,
        D::SmallInt(_) | D::Int2(_) => ScalarType::Int16,
        D::Int(_) | D::Integer(_) | D::Int4(_) | D::MediumInt(_) => ScalarType::Int32,
        D::BigInt(_) | D::Int8(_) => ScalarType::Int64,
        D::Real | D::Float4 => ScalarType::Float32,
        D::Float(info) => match info {
            sqlparser::ast::ExactNumberInfo::Precision(p)
            | sqlparser::ast::ExactNumberInfo::PrecisionAndScale(p, _)
                if *p <= 24 =>
            {
                ScalarType::Float32
            }
            _ => ScalarType::Float64,
        },
        D::Double(_) | D::DoublePrecision | D::Float8 | D::Float64 => ScalarType::Float64,
        D::Numeric(_) | D::Decimal(_) | D::Dec(_) => ScalarType::Numeric,
        D::Text
        | D::String(_)
        | D::Varchar(_)
        | D::CharVarying(_)
        | D::Char(_)
        | D::Character(_)
        | D::CharacterVarying(_)
        | D::Nvarchar(_) => ScalarType::Text,
        D::Date => ScalarType::Date,
        D::Timestamp(_, tz) => match tz {
            sqlparser::ast::TimezoneInfo::WithTimeZone | sqlparser::ast::TimezoneInfo::Tz => {
                ScalarType::TimestampTz
            }
            _ => ScalarType::Timestamp,
        },
        D::TimestampNtz(_) => ScalarType::Timestamp,
        D::Interval { .. } => ScalarType::Interval,
        D::JSONB | D::JSON => ScalarType::Jsonb,
        D::Bytea | D::Bytes(_) | D::Blob(_) | D::Binary(_) | D::Varbinary(_) => ScalarType::Bytea,
        D::Array(
            ast::ArrayElemTypeDef::SquareBracket(inner, _)
            | ast::ArrayElemTypeDef::AngleBracket(inner)
            | ast::ArrayElemTypeDef::Qualified(inner, _),
        ) => {
            let element = scalar_type(inner)?;
            element.array_of().ok_or_else(|| {
                PlanError::UndefinedObject(format!(
                    "could not find array type for data type {}",
                    element.name()
                ))
            })?
        }
        D::Custom(name, _) => {
            let n = name.to_string().to_lowercase().replace('"', "");
            // Postgres' own names, as catalog queries write them (`pg_catalog.int2`).
            let qualified = n.strip_prefix("pg_catalog.");
            let n = qualified.unwrap_or(&n);
            if let Some(t) = catalog_type(n) {
                return Ok(t);
            }
            // `pg_catalog.text`: the built-in type, read again without its schema.
            if qualified.is_some() {
                let unqualified = Parser::new(&PostgreSqlDialect {})
                    .try_with_sql(n)
                    .and_then(|mut p| p.parse_data_type());
                if let Ok(dt) = unqualified {
                    if !matches!(dt, D::Custom(..)) {
                        return scalar_type(&dt);
                    }
                }
            }
            match n {
                "int2" => ScalarType::Int16,
                "int4" | "signed" => ScalarType::Int32,
                "int8" => ScalarType::Int64,
                "float4" => ScalarType::Float32,
                "float8" => ScalarType::Float64,
                "timestamptz" => ScalarType::TimestampTz,
                "bpchar" | "name" | "string" => ScalarType::Text,
                "serial" => ScalarType::Int32,
                "bigserial" => ScalarType::Int64,
                other => {
                    return Err(PlanError::UndefinedOperator(format!(
                        "type \"{other}\" does not exist"
                    )))
                    .map_err(|_| PlanError::Unsupported(format!("type \"{other}\"")))
                }
            }
        }
        other => return Err(PlanError::Unsupported(format!("type {other}"))),
    })
}

/// The types of Postgres' catalogs, as Runnel holds them: oids (and the `reg*` types, whose
/// values are oids) as integers, `"char"` and `name` as text, the vectors of `pg_index` and
/// `pg_proc` as integer arrays, and `aclitem` and `pg_node_tree` as text. `_int4` and the like
/// are the array types' own names.
fn catalog_type(name: &str) -> Option<ScalarType> {
    let int_array = ScalarType::Int32.array_of();
    Some(match name {
        "oid" | "regclass" | "regtype" | "regproc" | "regprocedure" | "regnamespace"
        | "regrole" | "xid" | "cid" => ScalarType::Int32,
        "char" | "aclitem" | "pg_node_tree" => ScalarType::Text,
        "int2vector" => ScalarType::Int2Vector,
        "oidvector" => ScalarType::OidVector,
        "_oid" => int_array?,
        "_aclitem" | "_name" | "_char" | "_varchar" => ScalarType::Text.array_of()?,
        _ => {
            let element = name.strip_prefix('_')?;
            let element = ScalarType::from_oid(match element {
                "bool" => 16,
                "int2" => 21,
                "int4" => 23,
                "int8" => 20,
                "float4" => 700,
                "float8" => 701,
                "numeric" => 1700,
                "text" => 25,
                "date" => 1082,
                "timestamp" => 1114,
                "timestamptz" => 1184,
                "interval" => 1186,
                "jsonb" => 3802,
                "bytea" => 17,
                _ => return None,
            })?;
            element.array_of()?
        }
    })
}

/// Casts `e` (of type `from`) to `to`, or leaves it alone if the types agree.
pub fn cast(e: ScalarExpr, from: ScalarType, to: ScalarType) -> ScalarExpr {
    if from == to {
        return e;
    }
    // A NULL or a parameter of unknown type takes the target type directly.
    match &e {
        ScalarExpr::Literal(d, ScalarType::Unknown) if d.is_null() => {
            return ScalarExpr::Literal(d.clone(), to)
        }
        ScalarExpr::Param(n, ScalarType::Unknown) => return ScalarExpr::Param(*n, to),
        _ => {}
    }
    let mut out = ScalarExpr::call(Func::Cast(to), vec![e]);
    // Fold literal casts now so a bad literal is an error at plan time, as in Postgres.
    if out.is_constant() {
        out.fold_constants(&[]);
    }
    out
}

/// Whether Postgres would convert `from` to `to` without an explicit cast.
pub fn can_implicitly_cast(from: ScalarType, to: ScalarType) -> bool {
    use ScalarType::*;
    if from == to || from == Unknown {
        return true;
    }
    if let (Some(a), Some(b)) = (from.numeric_rank(), to.numeric_rank()) {
        return a <= b;
    }
    matches!(
        (from, to),
        (Date, Timestamp) | (Date, TimestampTz) | (Timestamp, TimestampTz)
    )
}

/// The type both operands of a comparison or arithmetic operator, a CASE's branches, or a UNION's
/// columns are converted to.
pub fn common_type(types: &[ScalarType]) -> Option<ScalarType> {
    let known: Vec<ScalarType> = types
        .iter()
        .copied()
        .filter(|t| *t != ScalarType::Unknown)
        .collect();
    let Some(first) = known.first().copied() else {
        return Some(ScalarType::Text);
    };
    let mut best = first;
    for t in &known[1..] {
        if can_implicitly_cast(best, *t) {
            best = *t;
        } else if !can_implicitly_cast(*t, best) {
            return None;
        }
    }
    Some(best)
}

/// Coerces a list of typed expressions to their common type (error names the operator).
pub fn coerce_all(
    exprs: Vec<(ScalarExpr, ColumnType)>,
    context: &str,
) -> PlanResult<(Vec<ScalarExpr>, ScalarType)> {
    let types: Vec<ScalarType> = exprs.iter().map(|(_, t)| t.scalar).collect();
    let target = common_type(&types).ok_or_else(|| {
        let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
        PlanError::TypeMismatch(format!(
            "{context} types {} cannot be matched",
            names.join(" and ")
        ))
    })?;
    Ok((
        exprs
            .into_iter()
            .map(|(e, t)| cast(e, t.scalar, target))
            .collect(),
        target,
    ))
}
