//! Planning arrays: `ARRAY[...]`, `ARRAY(subquery)`, subscripts, `x op ANY/ALL (array)`, `||`
//! with arrays, and the array functions by name.

use sqlparser::ast::{AccessExpr, BinaryOperator, Expr, OrderByExpr, OrderBySort, Subscript};

use super::coerce::{cast, coerce_all};
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use crate::ir::array::ArrayFunc;
use crate::ir::{Func, ScalarExpr};
use crate::repr::{ColumnType, Datum, ScalarType};

fn call(f: ArrayFunc, args: Vec<ScalarExpr>) -> ScalarExpr {
    ScalarExpr::call(Func::Array(f), args)
}

fn no_array_type(t: ScalarType) -> PlanError {
    PlanError::UndefinedObject(format!(
        "could not find array type for data type {}",
        t.name()
    ))
}

impl ExprCx<'_, '_> {
    /// `ARRAY[a, b, ...]`: the elements converted to their common type.
    pub(super) fn array_constructor(&mut self, elems: &[Expr]) -> PlanResult<ScalarExpr> {
        if elems.is_empty() {
            return Err(PlanError::IndeterminateType(
                "cannot determine type of empty array".into(),
            ));
        }
        let refs: Vec<&Expr> = elems.iter().collect();
        let (planned, mut element) = self.coerced(&refs, "ARRAY")?;
        let planned = if element == ScalarType::Unknown {
            element = ScalarType::Text;
            planned
                .into_iter()
                .map(|e| cast(e, ScalarType::Unknown, ScalarType::Text))
                .collect()
        } else {
            planned
        };
        element.array_of().ok_or_else(|| no_array_type(element))?;
        Ok(call(ArrayFunc::Build(element), planned))
    }

    /// `a[i]` (one subscript: arrays have one dimension here).
    pub(super) fn subscript(
        &mut self,
        root: &Expr,
        chain: &[AccessExpr],
    ) -> PlanResult<ScalarExpr> {
        // `t.col[i]` parses as `t` with the accesses `.col` and `[i]`: the dots name a column.
        // After anything else (`(r).field`) they name a record's fields.
        let dots = match root {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => chain
                .iter()
                .take_while(|a| matches!(a, AccessExpr::Dot(Expr::Identifier(_))))
                .count(),
            _ => 0,
        };
        let root = if dots == 0 {
            root.clone()
        } else {
            let mut parts = match root {
                Expr::CompoundIdentifier(parts) => parts.clone(),
                Expr::Identifier(first) => vec![first.clone()],
                _ => return unsupported(format!("the access {root}{}", chain_text(chain))),
            };
            parts.extend(chain[..dots].iter().filter_map(|a| match a {
                AccessExpr::Dot(Expr::Identifier(id)) => Some(id.clone()),
                _ => None,
            }));
            Expr::CompoundIdentifier(parts)
        };
        let (mut value, mut t) = self.plan_typed(&root)?;
        for access in &chain[dots..] {
            match (access, t.scalar) {
                (AccessExpr::Subscript(Subscript::Index { index }), array) => {
                    if array.element().is_none() {
                        return Err(PlanError::TypeMismatch(format!(
                            "cannot subscript type {} because it does not support subscripting",
                            array.name()
                        )));
                    }
                    let index = self.plan_as(index, ScalarType::Int32, "array subscript")?;
                    value = call(ArrayFunc::Subscript, vec![value, index]);
                }
                // `(r).field`.
                (AccessExpr::Dot(Expr::Identifier(name)), ScalarType::Record(shape)) => {
                    let name = crate::parse::normalize_ident(name);
                    let Some((i, _)) = shape.field(&name) else {
                        return Err(PlanError::UnknownColumn(format!(
                            "{name}\" of record \"{root}"
                        )));
                    };
                    value = call(ArrayFunc::Field(i), vec![value]);
                }
                (AccessExpr::Dot(_), other) => {
                    return Err(PlanError::NotComposite(
                        chain_text(std::slice::from_ref(access))
                            .trim_start_matches('.')
                            .to_string(),
                        other.name(),
                    ))
                }
                _ => return unsupported(format!("the access {root}{}", chain_text(chain))),
            }
            t = value.typ(&self.types);
        }
        Ok(value)
    }

    /// `x op ANY (array)` and `x op ALL (array)`; `x = ANY (subquery)` is `x IN (subquery)`.
    pub(super) fn quantified(
        &mut self,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
        all: bool,
    ) -> PlanResult<ScalarExpr> {
        if let Expr::Subquery(q) = right {
            return match (op, all) {
                (BinaryOperator::Eq, false) => self.in_subquery(left, q),
                (BinaryOperator::NotEq, true) => {
                    let e = self.in_subquery(left, q)?;
                    Ok(ScalarExpr::call(Func::Not, vec![e]))
                }
                _ => unsupported(format!("{op} {} (subquery)", quantifier(all))),
            };
        }
        let op_func = match op {
            BinaryOperator::Eq => Func::Eq,
            BinaryOperator::NotEq => Func::NotEq,
            BinaryOperator::Lt => Func::Lt,
            BinaryOperator::LtEq => Func::Lte,
            BinaryOperator::Gt => Func::Gt,
            BinaryOperator::GtEq => Func::Gte,
            other => return unsupported(format!("operator {other} with {}", quantifier(all))),
        };
        let (x, xt) = self.plan_typed(left)?;
        let (array, at) = self.plan_typed(right)?;
        // An untyped literal on the right is an array of the left operand's type.
        let (array, at) = match at.scalar {
            ScalarType::Unknown => {
                let x_type = if xt.scalar == ScalarType::Unknown {
                    ScalarType::Text
                } else {
                    xt.scalar
                };
                let to = x_type.array_of().ok_or_else(|| no_array_type(x_type))?;
                (
                    cast(array, ScalarType::Unknown, to),
                    ColumnType::new(to, at.nullable),
                )
            }
            _ => (array, at),
        };
        let Some(element) = at.scalar.element() else {
            return Err(PlanError::TypeMismatch(format!(
                "op ANY/ALL (array) requires array on right side, not {}",
                at.scalar.name()
            )));
        };
        let (coerced, common) = coerce_all(
            vec![
                (x, xt.clone()),
                (ScalarExpr::null(element), ColumnType::new(element, true)),
            ],
            op_func.infix().unwrap_or("="),
        )
        .map_err(|_| {
            PlanError::UndefinedOperator(format!(
                "{} {} {}",
                xt.scalar.name(),
                op_func.infix().unwrap_or("="),
                element.name()
            ))
        })?;
        let x = coerced.into_iter().next().expect("two operands");
        let array = match common.array_of() {
            Some(to) => cast(array, at.scalar, to),
            None => array,
        };
        let f = ArrayFunc::Compare {
            op: Box::new(op_func),
            all,
        };
        Ok(call(f, vec![x, array]))
    }

    /// `a || b` when either side is an array: concatenation, or appending or prepending an
    /// element. `None` when neither side is an array.
    pub(super) fn array_concat(
        &mut self,
        (l, lt): (ScalarExpr, ScalarType),
        (r, rt): (ScalarExpr, ScalarType),
    ) -> PlanResult<Option<ScalarExpr>> {
        let (f, args) = match (lt.element(), rt.element()) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => (ArrayFunc::Cat, vec![l, cast(r, rt, lt)]),
            // An untyped literal next to an array is another array, as in Postgres.
            (Some(_), None) if rt == ScalarType::Unknown => {
                (ArrayFunc::Cat, vec![l, cast(r, rt, lt)])
            }
            (None, Some(_)) if lt == ScalarType::Unknown => {
                (ArrayFunc::Cat, vec![cast(l, lt, rt), r])
            }
            (Some(e), None) => (ArrayFunc::Append, vec![l, self.element_of(r, rt, e)?]),
            (None, Some(e)) => (ArrayFunc::Prepend, vec![self.element_of(l, lt, e)?, r]),
        };
        Ok(Some(call(f, args)))
    }

    fn element_of(
        &self,
        e: ScalarExpr,
        t: ScalarType,
        element: ScalarType,
    ) -> PlanResult<ScalarExpr> {
        if !super::coerce::can_implicitly_cast(t, element) {
            return Err(PlanError::UndefinedOperator(format!(
                "{}[] || {}",
                element.name(),
                t.name()
            )));
        }
        Ok(cast(e, t, element))
    }

    /// The array functions by name, or `None` for other names.
    pub(super) fn array_function(
        &mut self,
        name: &str,
        args: &[Expr],
    ) -> PlanResult<Option<ScalarExpr>> {
        let n = args.len();
        let arity = |ok: &[usize]| -> PlanResult<()> {
            if ok.contains(&n) {
                Ok(())
            } else {
                Err(PlanError::UndefinedFunction(format!(
                    "{name} with {n} arguments"
                )))
            }
        };
        let text = ScalarType::Text;
        Ok(Some(match name {
            "array_to_string" => {
                arity(&[2, 3])?;
                let array = self.plan_array(&args[0], name)?;
                let mut planned = vec![array];
                for a in &args[1..] {
                    planned.push(self.plan_as(a, text, name)?);
                }
                call(ArrayFunc::ToString, planned)
            }
            "string_to_array" => {
                arity(&[2, 3])?;
                let planned = args
                    .iter()
                    .map(|a| self.plan_as(a, text, name))
                    .collect::<PlanResult<_>>()?;
                call(ArrayFunc::FromString, planned)
            }
            "array_lower" | "array_upper" | "array_length" => {
                arity(&[2])?;
                let f = match name {
                    "array_lower" => ArrayFunc::Lower,
                    "array_upper" => ArrayFunc::Upper,
                    _ => ArrayFunc::Length,
                };
                let array = self.plan_array(&args[0], name)?;
                let dim = self.plan_as(&args[1], ScalarType::Int32, name)?;
                call(f, vec![array, dim])
            }
            "cardinality" => {
                arity(&[1])?;
                let array = self.plan_array(&args[0], name)?;
                call(ArrayFunc::Cardinality, vec![array])
            }
            "array_remove" | "array_position" => {
                arity(&[2])?;
                let (array, at) = self.plan_typed(&args[0])?;
                // An untyped literal is an array of the other argument's type, or of text.
                let (array, at) = match at.scalar {
                    ScalarType::Unknown => {
                        let (_, xt) = self.plan_typed(&args[1])?;
                        let element = match xt.scalar {
                            ScalarType::Unknown => text,
                            t => t,
                        };
                        let to = element.array_of().ok_or_else(|| no_array_type(element))?;
                        (cast(array, ScalarType::Unknown, to), to)
                    }
                    t => (array, t),
                };
                let Some(element) = at.element() else {
                    return Err(PlanError::UndefinedFunction(format!(
                        "{name}({}, ...)",
                        at.name()
                    )));
                };
                let x = self.plan_as(&args[1], element, name)?;
                let f = if name == "array_remove" {
                    ArrayFunc::Remove
                } else {
                    ArrayFunc::Position
                };
                call(f, vec![array, x])
            }
            "array_cat" | "array_append" | "array_prepend" => {
                arity(&[2])?;
                let (l, lt) = self.plan_typed(&args[0])?;
                let (r, rt) = self.plan_typed(&args[1])?;
                let wanted = match name {
                    "array_cat" => (true, true),
                    "array_append" => (true, false),
                    _ => (false, true),
                };
                // An untyped literal may be either.
                let is_array = |t: ScalarType| t.element().is_some() || t == ScalarType::Unknown;
                let fits =
                    |t: ScalarType, want: bool| is_array(t) == want || t == ScalarType::Unknown;
                if !(fits(lt.scalar, wanted.0) && fits(rt.scalar, wanted.1)) {
                    return Err(PlanError::UndefinedFunction(format!(
                        "{name}({}, {})",
                        lt.scalar.name(),
                        rt.scalar.name()
                    )));
                }
                self.array_concat((l, lt.scalar), (r, rt.scalar))?
                    .expect("one side is an array")
            }
            // The schemas of the search path that exist (`pg_catalog` first when asked for the
            // implicit ones), as Postgres answers it.
            "current_schemas" => {
                arity(&[1])?;
                let implicit = self.plan_as(&args[0], ScalarType::Bool, name)?;
                let pcx = self.qcx.pcx;
                let explicit: Vec<Datum> = pcx
                    .search_path
                    .iter()
                    .filter(|s| pcx.catalog.schema_exists(&pcx.database, s))
                    .map(|s| Datum::String(s.clone()))
                    .collect();
                let mut with_catalog = vec![Datum::String("pg_catalog".into())];
                with_catalog.extend(explicit.iter().cloned());
                let array_type = text.array_of().expect("text has an array type");
                ScalarExpr::If {
                    cond: Box::new(implicit),
                    then: Box::new(ScalarExpr::Literal(Datum::Array(with_catalog), array_type)),
                    els: Box::new(ScalarExpr::Literal(Datum::Array(explicit), array_type)),
                }
            }
            _ => return Ok(None),
        }))
    }

    /// Plans an argument that must be an array (an untyped literal is a `text[]`).
    fn plan_array(&mut self, e: &Expr, name: &str) -> PlanResult<ScalarExpr> {
        let (s, t) = self.plan_typed(e)?;
        match t.scalar {
            ScalarType::Array(_) => Ok(s),
            ScalarType::Unknown => {
                let to = ScalarType::Text.array_of().expect("text has an array type");
                Ok(cast(s, t.scalar, to))
            }
            other => Err(PlanError::UndefinedFunction(format!(
                "{name}({}) (the argument must be an array)",
                other.name()
            ))),
        }
    }
}

/// Whether `ORDER BY` in `array_agg(x ORDER BY ...)` or `ARRAY(SELECT x ... ORDER BY ...)`
/// orders by the value itself (`is_value` tells), and if so whether descending. Other orders
/// are refused rather than ignored.
pub fn value_order(order: &[OrderByExpr], is_value: impl Fn(&Expr) -> bool) -> PlanResult<bool> {
    match order {
        [] => Ok(false),
        [o] if is_value(&o.expr) => {
            let desc = matches!(o.options.sort, Some(OrderBySort::Desc));
            match (&o.options.sort, o.options.nulls_first) {
                (Some(OrderBySort::Using(_)), _) => unsupported("ORDER BY ... USING in an array"),
                // The default NULLS placement for the direction is the only one kept.
                (_, Some(first)) if first != desc => {
                    unsupported("NULLS FIRST/LAST other than the default in an array's order")
                }
                _ => Ok(desc),
            }
        }
        _ => unsupported(
            "an array's elements ordered by other than their own value (ORDER BY the element)",
        ),
    }
}

fn quantifier(all: bool) -> &'static str {
    if all {
        "ALL"
    } else {
        "ANY"
    }
}

fn chain_text(chain: &[AccessExpr]) -> String {
    chain.iter().map(|a| a.to_string()).collect()
}
