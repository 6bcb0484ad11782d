//! The object-identifier casts catalog queries are written with: `'orders'::regclass` is the
//! relation's oid, looked up when the query is planned, and `c.oid::regclass` (likewise
//! `regtype`, `regnamespace`, `regrole`) prints the object's name.
//!
//! Runnel holds oids as integers, so a `reg*` value is an integer in comparisons and a name
//! when cast from one; `'orders'::regclass::text` therefore gives the oid's digits, where
//! Postgres would give the name back.

use sqlparser::ast::{DataType, Expr};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::coerce::{cast, scalar_type};
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::system;
use crate::ir::func::{OWNER, OWNER_OID};
use crate::ir::{EvalError, Func, ScalarExpr};
use crate::repr::{Datum, ScalarType};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RegType {
    Class,
    Type,
    Namespace,
    Role,
    Proc,
}

/// The `reg*` type a SQL type name denotes, if any.
pub fn reg_type(dt: &DataType) -> Option<RegType> {
    let name = match dt {
        DataType::Regclass => return Some(RegType::Class),
        DataType::Custom(name, _) => name,
        _ => return None,
    };
    let last = name.0.last()?.to_string().replace('"', "").to_lowercase();
    Some(match last.as_str() {
        "regclass" => RegType::Class,
        "regtype" => RegType::Type,
        "regnamespace" => RegType::Namespace,
        "regrole" => RegType::Role,
        "regproc" | "regprocedure" => RegType::Proc,
        _ => return None,
    })
}

/// `e` if it is a cast to a `reg*` type: the operand and the type.
fn reg_cast_of(e: &Expr) -> Option<(&Expr, RegType)> {
    match e {
        Expr::Cast {
            expr, data_type, ..
        } => Some((expr, reg_type(data_type)?)),
        Expr::Nested(inner) => reg_cast_of(inner),
        _ => None,
    }
}

impl ExprCx<'_, '_> {
    /// A comparison with a `reg*` cast on either side (`p.prorettype::regtype !=
    /// 'trigger'::regtype`, `c.oid = 'orders'::regclass`) compares oids, as in PostgreSQL
    /// (where the name is only how a reg value prints). `None` if neither side is one.
    pub(super) fn reg_comparison(
        &mut self,
        left: &Expr,
        func: &Func,
        right: &Expr,
    ) -> Option<PlanResult<ScalarExpr>> {
        if !matches!(
            func,
            Func::Eq | Func::NotEq | Func::Lt | Func::Lte | Func::Gt | Func::Gte
        ) || (reg_cast_of(left).is_none() && reg_cast_of(right).is_none())
        {
            return None;
        }
        let mut oid = |e: &Expr| -> PlanResult<ScalarExpr> {
            let Some((inner, reg)) = reg_cast_of(e) else {
                return self.plan_as(e, ScalarType::Int32, "comparison");
            };
            let (s, t) = self.plan_typed(inner)?;
            if t.scalar.is_integer() {
                Ok(cast(s, t.scalar, ScalarType::Int32))
            } else {
                self.reg_cast(inner, reg)
            }
        };
        Some((|| {
            Ok(ScalarExpr::call(
                func.clone(),
                vec![oid(left)?, oid(right)?],
            ))
        })())
    }

    /// `e::regclass` and its kin.
    pub(super) fn reg_cast(&mut self, e: &Expr, reg: RegType) -> PlanResult<ScalarExpr> {
        let (s, t) = self.plan_typed(e)?;
        if t.scalar.is_integer() {
            let oid = cast(s, t.scalar, ScalarType::Int32);
            return Ok(self.reg_name(oid, reg));
        }
        if !matches!(t.scalar, ScalarType::Text | ScalarType::Unknown) {
            return Err(PlanError::TypeMismatch(format!(
                "cannot cast type {} to an object identifier type",
                t.scalar.name()
            )));
        }
        let mut folded = s;
        folded.fold_constants(&[]);
        let name = match &folded {
            ScalarExpr::Literal(Datum::String(name), _) => name.clone(),
            ScalarExpr::Literal(Datum::Null, _) => return Ok(ScalarExpr::null(ScalarType::Int32)),
            // A parameter or column: looked up as the query runs, among the names known now.
            _ => return self.reg_oid_at_run_time(folded, reg),
        };
        let oid = match name.trim().parse::<i32>() {
            Ok(oid) => oid,
            Err(_) => self.reg_oid(name.trim(), reg)?,
        };
        Ok(ScalarExpr::Literal(Datum::Int32(oid), ScalarType::Int32))
    }

    /// The oid a name denotes, as the `reg*` input functions find it.
    fn reg_oid(&self, name: &str, reg: RegType) -> PlanResult<i32> {
        let pcx = self.qcx.pcx;
        pcx.reads_system.set(true);
        match reg {
            RegType::Class => {
                let parts = identifier_parts(name);
                system::relation_oid(pcx, &parts)
                    .ok_or_else(|| PlanError::UnknownRelation(parts.join(".")))
            }
            RegType::Type => {
                let missing =
                    || PlanError::UndefinedObject(format!("type \"{name}\" does not exist"));
                // A name pg_type lists (also the pseudo-types no column has), else any
                // spelling of a type (`character varying(10)`, `int[]`).
                let lower = name.trim().to_lowercase();
                if let Some((_, oid)) = system::type_names().into_iter().find(|(n, _)| *n == lower)
                {
                    return Ok(oid);
                }
                let dt = Parser::new(&PostgreSqlDialect {})
                    .try_with_sql(name)
                    .and_then(|mut p| p.parse_data_type())
                    .map_err(|_| missing())?;
                let t = scalar_type(&dt).map_err(|_| missing())?;
                Ok(t.oid() as i32)
            }
            RegType::Namespace => {
                let schema = identifier_parts(name).join(".");
                system::schema_oids(pcx)
                    .into_iter()
                    .find(|(s, _)| *s == schema)
                    .map(|(_, oid)| oid)
                    .ok_or(PlanError::UnknownSchema(schema))
            }
            RegType::Role if identifier_parts(name) == [OWNER] => Ok(OWNER_OID),
            RegType::Role => Err(PlanError::UndefinedObject(format!(
                "role \"{name}\" does not exist"
            ))),
            RegType::Proc => {
                unsupported("regproc from a function name (Runnel lists no functions in pg_proc)")
            }
        }
    }

    /// `text::regclass` (or `regtype`, `regnamespace`) for a text known only as the query runs:
    /// the oid of the name among those the catalog holds when the query is planned, else the
    /// error the `reg*` input function gives.
    fn reg_oid_at_run_time(&self, name: ScalarExpr, reg: RegType) -> PlanResult<ScalarExpr> {
        let pcx = self.qcx.pcx;
        pcx.reads_system.set(true);
        let (names, missing) = match reg {
            RegType::Class => (
                system::relation_name_oids(pcx),
                EvalError::UnknownObject("relation".into()),
            ),
            RegType::Type => (
                system::type_names(),
                EvalError::UnknownObject("type".into()),
            ),
            RegType::Namespace => (
                system::schema_oids(pcx),
                EvalError::UnknownObject("schema".into()),
            ),
            RegType::Role | RegType::Proc => {
                return unsupported("a cast of a non-constant text to regrole or regproc")
            }
        };
        let oid = system::lookup_oid(name.clone(), names);
        let unknown = ScalarExpr::call(
            Func::And,
            vec![
                ScalarExpr::call(Func::IsNull, vec![oid.clone()]),
                ScalarExpr::call(Func::Not, vec![ScalarExpr::call(Func::IsNull, vec![name])]),
            ],
        );
        Ok(ScalarExpr::If {
            cond: Box::new(unknown),
            then: Box::new(ScalarExpr::Error(missing, ScalarType::Int32)),
            els: Box::new(oid),
        })
    }

    /// The name an oid prints as, in the type `reg`; an unknown oid prints as its digits.
    fn reg_name(&self, oid: ScalarExpr, reg: RegType) -> ScalarExpr {
        let pcx = self.qcx.pcx;
        pcx.reads_system.set(true);
        let digits = cast(oid.clone(), ScalarType::Int32, ScalarType::Text);
        match reg {
            RegType::Class => system::lookup(oid, system::relation_names(pcx), digits),
            RegType::Namespace => {
                let names = system::schema_oids(pcx)
                    .into_iter()
                    .map(|(name, oid)| (oid, crate::ir::quote::quote_ident(&name)))
                    .collect();
                system::lookup(oid, names, digits)
            }
            RegType::Type => ScalarExpr::call(
                Func::FormatType,
                vec![oid, ScalarExpr::null(ScalarType::Int32)],
            ),
            RegType::Role => system::lookup(oid, vec![(OWNER_OID, OWNER.to_string())], digits),
            RegType::Proc => digits,
        }
    }
}

/// The parts of a possibly qualified, possibly quoted name: `public."My Table"` is
/// `["public", "My Table"]`; unquoted parts are folded to lower case.
fn identifier_parts(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c if quoted => current.push(c),
            c => current.push(c.to_ascii_lowercase()),
        }
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::identifier_parts;

    #[test]
    fn names_split_at_dots_outside_quotes() {
        assert_eq!(identifier_parts("Orders"), ["orders"]);
        assert_eq!(
            identifier_parts("public.\"My.T\"\"x\""),
            ["public", "My.T\"x"]
        );
    }
}
