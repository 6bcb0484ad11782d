//! Planning scalar expressions: names to columns, operators and functions to `Func`s with
//! coerced operands, aggregates to columns of a `Reduce`, and subqueries to joins that add a
//! column (see `subquery.rs`).

use sqlparser::ast::{self, Expr, UnaryOperator, Value};

use super::coerce::{cast, coerce_all, scalar_type};
use super::error::{unsupported, PlanError, PlanResult};
use super::function::normalize_field;
use super::query::QueryCx;
use super::scope::Scope;
use crate::ir::{Func, RelExpr, ScalarExpr};
use crate::parse::normalize_ident;
use crate::repr::{strconv, ColumnType, Datum, ScalarType};

/// The state of planning expressions over one relation. Subqueries extend `rel` with columns.
pub struct ExprCx<'a, 'c> {
    pub qcx: &'a QueryCx<'c>,
    pub rel: RelExpr,
    pub scope: Scope,
    pub types: Vec<ColumnType>,
    /// After GROUP BY: expressions (group keys and aggregate calls) already computed as columns.
    pub grouped: Vec<(Expr, usize)>,
    /// After GROUP BY: the scope before aggregation, to report ungrouped columns properly.
    pub pre_agg_scope: Option<Scope>,
    /// Where the expression sits, for "aggregates are not allowed in WHERE" errors.
    pub clause: &'static str,
    /// Let bindings created for correlated subqueries; wrapped around `rel` by `finish`.
    pub lets: Vec<(u64, RelExpr)>,
}

impl<'a, 'c> ExprCx<'a, 'c> {
    pub fn new(qcx: &'a QueryCx<'c>, rel: RelExpr, scope: Scope, clause: &'static str) -> Self {
        let types = rel.typ();
        ExprCx {
            qcx,
            rel,
            scope,
            types,
            grouped: vec![],
            pre_agg_scope: None,
            clause,
            lets: vec![],
        }
    }

    /// The relation with every column subqueries added, and its Let bindings.
    pub fn finish(self) -> (RelExpr, Scope) {
        let mut rel = self.rel;
        for (id, value) in self.lets.into_iter().rev() {
            rel = RelExpr::Let {
                id,
                value: Box::new(value),
                body: Box::new(rel),
            };
        }
        (rel, self.scope)
    }

    pub fn typ(&self, e: &ScalarExpr) -> ColumnType {
        e.typ(&self.types)
    }

    /// Plans `e` and returns it with its type.
    pub fn plan_typed(&mut self, e: &Expr) -> PlanResult<(ScalarExpr, ColumnType)> {
        let s = self.plan(e)?;
        let t = self.typ(&s);
        Ok((s, t))
    }

    /// Plans `e` and converts it to `to` (an assignment or a boolean condition).
    pub fn plan_as(&mut self, e: &Expr, to: ScalarType, what: &str) -> PlanResult<ScalarExpr> {
        let (s, t) = self.plan_typed(e)?;
        if t.scalar != to && t.scalar != ScalarType::Unknown {
            if to == ScalarType::Bool {
                return Err(PlanError::TypeMismatch(format!(
                    "argument of {what} must be type boolean, not type {}",
                    t.scalar.name()
                )));
            }
            if !super::coerce::can_implicitly_cast(t.scalar, to) {
                return Err(PlanError::TypeMismatch(format!(
                    "{what} is of type {} but expression is of type {}",
                    to.name(),
                    t.scalar.name()
                )));
            }
        }
        Ok(cast(s, t.scalar, to))
    }

    pub fn plan(&mut self, e: &Expr) -> PlanResult<ScalarExpr> {
        if let Some((_, col)) = self.grouped.iter().find(|(g, _)| g == e) {
            return Ok(ScalarExpr::Column(*col));
        }
        match e {
            // A keyword PostgreSQL reads as a function, which sqlparser leaves as a name.
            Expr::Identifier(id)
                if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("current_role") =>
            {
                self.plan(&Expr::Function(ast::Function {
                    name: ast::ObjectName::from(vec![ast::Ident::new("current_user")]),
                    uses_odbc_syntax: false,
                    parameters: ast::FunctionArguments::None,
                    args: ast::FunctionArguments::None,
                    filter: None,
                    null_treatment: None,
                    over: None,
                    within_group: vec![],
                }))
            }
            Expr::Identifier(id) => self
                .column(None, &normalize_ident(id))
                .map_err(|e| e.at(id.span)),
            Expr::CompoundIdentifier(ids) => {
                let parts: Vec<String> = ids.iter().map(normalize_ident).collect();
                match parts.as_slice() {
                    [t, c] => self.column(Some(t), c),
                    [_, t, c] | [_, _, t, c] => self.column(Some(t), c),
                    _ => Err(PlanError::Syntax(format!(
                        "improper qualified name: {}",
                        parts.join(".")
                    ))),
                }
                .map_err(|e| match ids.first() {
                    Some(first) => e.at(first.span),
                    None => e,
                })
            }
            Expr::Value(v) => self.value(&v.value),
            Expr::TypedString(ts) => {
                let to = scalar_type(&ts.data_type)?;
                let text = match &ts.value.value {
                    Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                let d = strconv::parse(&text, to).map_err(|e| PlanError::Eval(e.into()))?;
                Ok(ScalarExpr::Literal(d, to))
            }
            Expr::Interval(iv) => {
                let text = match &*iv.value {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => s.clone(),
                        other => other.to_string(),
                    },
                    other => return unsupported(format!("interval expression {other}")),
                };
                let text = match &iv.leading_field {
                    Some(f) => format!("{text} {f}"),
                    None => text,
                };
                let d = strconv::parse(&text, ScalarType::Interval)
                    .map_err(|e| PlanError::Eval(e.into()))?;
                Ok(ScalarExpr::Literal(d, ScalarType::Interval))
            }
            Expr::Nested(inner) => self.plan(inner),
            // Runnel compares text by code point, which is the "C" collation; the default
            // collation is that one here (psql's catalog queries name it).
            Expr::Collate { expr, collation } => {
                let name = collation.to_string().replace('"', "").to_lowercase();
                match name.as_str() {
                    "default" | "pg_catalog.default" | "c" | "pg_catalog.c" | "posix"
                    | "pg_catalog.posix" | "ucs_basic" => self.plan(expr),
                    _ => unsupported(format!("collation {collation}")),
                }
            }
            Expr::Cast {
                expr, data_type, ..
            } => {
                if let Some(reg) = super::regtype::reg_type(data_type) {
                    return self.reg_cast(expr, reg);
                }
                let to = scalar_type(data_type)?;
                // `ARRAY[]::int[]`: the cast gives the empty array its type.
                if let (Expr::Array(a), Some(_)) = (&**expr, to.element()) {
                    if a.elem.is_empty() {
                        return Ok(ScalarExpr::Literal(Datum::Array(Vec::new()), to));
                    }
                }
                let (s, t) = self.plan_typed(expr)?;
                Ok(cast(s, t.scalar, to))
            }
            Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Not => {
                    let s = self.plan_as(expr, ScalarType::Bool, "NOT")?;
                    Ok(ScalarExpr::call(Func::Not, vec![s]))
                }
                UnaryOperator::Minus => {
                    // Fold `-literal` so that `-2147483648` is a valid integer.
                    if let Expr::Value(v) = &**expr {
                        if let Value::Number(n, _) = &v.value {
                            return self.number(&format!("-{n}"));
                        }
                    }
                    let (s, t) = self.plan_typed(expr)?;
                    let s = if t.scalar == ScalarType::Unknown {
                        cast(s, t.scalar, ScalarType::Float64)
                    } else {
                        s
                    };
                    Ok(ScalarExpr::call(Func::Neg, vec![s]))
                }
                UnaryOperator::Plus => self.plan(expr),
                other => unsupported(format!("unary operator {other}")),
            },
            Expr::BinaryOp { left, op, right } => self.binary(left, op, right),
            Expr::IsNull(x) => Ok(ScalarExpr::call(Func::IsNull, vec![self.plan(x)?])),
            Expr::IsNotNull(x) => Ok(ScalarExpr::call(
                Func::Not,
                vec![ScalarExpr::call(Func::IsNull, vec![self.plan(x)?])],
            )),
            Expr::IsTrue(x) => Ok(ScalarExpr::call(
                Func::IsTrue,
                vec![self.plan_as(x, ScalarType::Bool, "IS TRUE")?],
            )),
            Expr::IsFalse(x) => Ok(ScalarExpr::call(
                Func::IsFalse,
                vec![self.plan_as(x, ScalarType::Bool, "IS FALSE")?],
            )),
            Expr::IsNotTrue(x) => Ok(ScalarExpr::call(
                Func::Not,
                vec![ScalarExpr::call(
                    Func::IsTrue,
                    vec![self.plan_as(x, ScalarType::Bool, "IS NOT TRUE")?],
                )],
            )),
            Expr::IsNotFalse(x) => Ok(ScalarExpr::call(
                Func::Not,
                vec![ScalarExpr::call(
                    Func::IsFalse,
                    vec![self.plan_as(x, ScalarType::Bool, "IS NOT FALSE")?],
                )],
            )),
            Expr::IsDistinctFrom(a, b) => {
                let (args, _) = self.coerced(&[a, b], "IS DISTINCT FROM")?;
                Ok(ScalarExpr::call(Func::IsDistinctFrom, args))
            }
            Expr::IsNotDistinctFrom(a, b) => {
                let (args, _) = self.coerced(&[a, b], "IS NOT DISTINCT FROM")?;
                Ok(ScalarExpr::call(
                    Func::Not,
                    vec![ScalarExpr::call(Func::IsDistinctFrom, args)],
                ))
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (args, _) = self.coerced(&[expr, low, high], "BETWEEN")?;
                let between = ScalarExpr::call(
                    Func::And,
                    vec![
                        ScalarExpr::call(Func::Gte, vec![args[0].clone(), args[1].clone()]),
                        ScalarExpr::call(Func::Lte, vec![args[0].clone(), args[2].clone()]),
                    ],
                );
                Ok(if *negated {
                    ScalarExpr::call(Func::Not, vec![between])
                } else {
                    between
                })
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let mut all: Vec<&Expr> = vec![expr];
                all.extend(list.iter());
                let (args, _) = self.coerced(&all, "IN")?;
                let eqs = args[1..]
                    .iter()
                    .map(|v| ScalarExpr::call(Func::Eq, vec![args[0].clone(), v.clone()]))
                    .collect();
                let any = ScalarExpr::call(Func::Or, eqs);
                Ok(if *negated {
                    ScalarExpr::call(Func::Not, vec![any])
                } else {
                    any
                })
            }
            Expr::Like {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            } => self.like(expr, pattern, *negated, false, escape_char.is_some()),
            Expr::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            } => self.like(expr, pattern, *negated, true, escape_char.is_some()),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref()),
            Expr::Function(f) => match &f.args {
                ast::FunctionArguments::Subquery(q)
                    if f.name.to_string().eq_ignore_ascii_case("array") =>
                {
                    self.array_subquery(q)
                }
                // An unknown function is shown where its name is, as PostgreSQL does.
                _ => self.function(f).map_err(|e| match e {
                    PlanError::UndefinedFunction(_) => e.at(sqlparser::ast::Spanned::span(&f.name)),
                    e => e,
                }),
            },
            Expr::Array(a) => self.array_constructor(&a.elem),
            Expr::CompoundFieldAccess { root, access_chain } => self.subscript(root, access_chain),
            Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            } => self.quantified(left, compare_op, right, false),
            Expr::AllOp {
                left,
                compare_op,
                right,
            } => self.quantified(left, compare_op, right, true),
            Expr::Extract { field, expr, .. } => {
                let field = field.to_string().to_lowercase();
                let s = self.plan(expr)?;
                Ok(ScalarExpr::call(
                    Func::Extract(normalize_field(&field)),
                    vec![s],
                ))
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.plan_as(expr, ScalarType::Text, "substring")?];
                args.push(match substring_from {
                    Some(f) => self.plan_as(f, ScalarType::Int64, "substring")?,
                    None => ScalarExpr::Literal(Datum::Int64(1), ScalarType::Int64),
                });
                if let Some(f) = substring_for {
                    args.push(self.plan_as(f, ScalarType::Int64, "substring")?);
                }
                Ok(ScalarExpr::call(Func::Substr, args))
            }
            Expr::Trim {
                expr,
                trim_where,
                trim_what,
                ..
            } => {
                let func = match trim_where {
                    Some(ast::TrimWhereField::Leading) => Func::Ltrim,
                    Some(ast::TrimWhereField::Trailing) => Func::Rtrim,
                    _ => Func::Trim,
                };
                let mut args = vec![self.plan_as(expr, ScalarType::Text, "trim")?];
                if let Some(w) = trim_what {
                    args.push(self.plan_as(w, ScalarType::Text, "trim")?);
                }
                Ok(ScalarExpr::call(func, args))
            }
            Expr::Position { expr, r#in } => {
                let needle = self.plan_as(expr, ScalarType::Text, "position")?;
                let hay = self.plan_as(r#in, ScalarType::Text, "position")?;
                Ok(ScalarExpr::call(Func::Position, vec![needle, hay]))
            }
            Expr::Ceil { expr, .. } => self.numeric_fn(Func::Ceil, expr),
            Expr::Floor { expr, .. } => self.numeric_fn(Func::Floor, expr),
            Expr::Subquery(q) => self.scalar_subquery(q),
            Expr::Exists { subquery, negated } => {
                let e = self.exists_subquery(subquery)?;
                Ok(if *negated {
                    ScalarExpr::call(Func::Not, vec![e])
                } else {
                    e
                })
            }
            Expr::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let e = self.in_subquery(expr, subquery)?;
                Ok(if *negated {
                    ScalarExpr::call(Func::Not, vec![e])
                } else {
                    e
                })
            }
            Expr::AtTimeZone { .. } => unsupported("AT TIME ZONE"),
            other => unsupported(format!("expression {other}")),
        }
    }

    fn column(&mut self, table: Option<&str>, name: &str) -> PlanResult<ScalarExpr> {
        match self.scope.resolve(table, name) {
            Ok(idx) => {
                self.qcx.note_reference(idx);
                Ok(ScalarExpr::Column(idx))
            }
            Err(e) => {
                if let Some(pre) = &self.pre_agg_scope {
                    if pre.resolve(table, name).is_ok() {
                        let full = table
                            .map(|t| format!("{t}.{name}"))
                            .unwrap_or(name.to_string());
                        return Err(PlanError::Grouping(format!(
                            "column \"{full}\" must appear in the GROUP BY clause or be used in an aggregate function"
                        )));
                    }
                }
                // `SELECT true`-style names that are not columns.
                Err(e)
            }
        }
    }

    fn value(&mut self, v: &Value) -> PlanResult<ScalarExpr> {
        Ok(match v {
            Value::Number(n, _) => return self.number(n),
            Value::SingleQuotedString(s)
            | Value::EscapedStringLiteral(s)
            | Value::DollarQuotedString(ast::DollarQuotedString { value: s, .. }) => {
                ScalarExpr::Literal(Datum::String(s.clone()), ScalarType::Unknown)
            }
            Value::Boolean(b) => ScalarExpr::bool(*b),
            Value::Null => ScalarExpr::null(ScalarType::Unknown),
            Value::Placeholder(p) => {
                let n: usize = p
                    .trim_start_matches('$')
                    .parse()
                    .map_err(|_| PlanError::Syntax(format!("bad parameter {p}")))?;
                if n == 0 {
                    return Err(PlanError::Syntax(format!("there is no parameter {p}")));
                }
                let typ = self.qcx.pcx.param_type(n - 1);
                ScalarExpr::Param(n - 1, typ)
            }
            other => return unsupported(format!("literal {other}")),
        })
    }

    fn number(&self, n: &str) -> PlanResult<ScalarExpr> {
        if let Ok(i) = n.parse::<i32>() {
            return Ok(ScalarExpr::Literal(Datum::Int32(i), ScalarType::Int32));
        }
        if let Ok(i) = n.parse::<i64>() {
            return Ok(ScalarExpr::Literal(Datum::Int64(i), ScalarType::Int64));
        }
        let d = strconv::parse(n, ScalarType::Numeric).map_err(|e| PlanError::Eval(e.into()))?;
        Ok(ScalarExpr::Literal(d, ScalarType::Numeric))
    }

    /// Plans several expressions and converts them to their common type.
    pub fn coerced(
        &mut self,
        exprs: &[&Expr],
        context: &str,
    ) -> PlanResult<(Vec<ScalarExpr>, ScalarType)> {
        let mut typed = Vec::new();
        for e in exprs {
            typed.push(self.plan_typed(e)?);
        }
        coerce_all(typed, context).map_err(|_| {
            let names: Vec<String> = exprs.iter().map(|e| self.type_name_of(e)).collect();
            PlanError::UndefinedOperator(format!(
                "{} {context} {}",
                names[0],
                names[1..].join(", ")
            ))
        })
    }

    fn type_name_of(&mut self, e: &Expr) -> String {
        self.plan_typed(e)
            .map(|(_, t)| t.scalar.name().to_string())
            .unwrap_or_else(|_| "unknown".into())
    }

    fn case(
        &mut self,
        operand: Option<&Expr>,
        conditions: &[ast::CaseWhen],
        els: Option<&Expr>,
    ) -> PlanResult<ScalarExpr> {
        let mut conds = Vec::new();
        for cw in conditions {
            let c = match operand {
                Some(op) => {
                    let (args, _) = self.coerced(&[op, &cw.condition], "CASE")?;
                    ScalarExpr::call(Func::Eq, args)
                }
                None => self.plan_as(&cw.condition, ScalarType::Bool, "CASE/WHEN")?,
            };
            conds.push(c);
        }
        let mut results = Vec::new();
        for cw in conditions {
            results.push(self.plan_typed(&cw.result)?);
        }
        let else_typed = match els {
            Some(e) => self.plan_typed(e)?,
            None => (
                ScalarExpr::null(ScalarType::Unknown),
                ColumnType::new(ScalarType::Unknown, true),
            ),
        };
        results.push(else_typed);
        let (mut results, _) = coerce_all(results, "CASE")?;
        let mut out = results.pop().expect("else branch");
        for (c, r) in conds.into_iter().zip(results).rev() {
            out = ScalarExpr::If {
                cond: Box::new(c),
                then: Box::new(r),
                els: Box::new(out),
            };
        }
        Ok(out)
    }
}
