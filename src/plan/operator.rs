//! Planning binary operators: arithmetic, comparison, string and JSON operators (with
//! psql's `OPERATOR(pg_catalog.~)` form), bitwise integer operators, and LIKE/ILIKE.

use sqlparser::ast::{BinaryOperator, Expr};

use super::coerce::{cast, coerce_all};
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use crate::ir::{Func, ScalarExpr};
use crate::repr::{ColumnType, ScalarType};

impl ExprCx<'_, '_> {
    pub(super) fn binary(
        &mut self,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
    ) -> PlanResult<ScalarExpr> {
        use BinaryOperator as B;
        // `OPERATOR(pg_catalog.~)`, as psql writes its catalog queries: the built-in operator.
        if let B::PGCustomBinaryOperator(parts) = op {
            let builtin = match parts.as_slice() {
                [schema, symbol] if schema.eq_ignore_ascii_case("pg_catalog") => Some(symbol),
                [symbol] => Some(symbol),
                _ => None,
            };
            let mapped = match builtin.map(String::as_str) {
                Some("~") => B::PGRegexMatch,
                Some("~*") => B::PGRegexIMatch,
                Some("!~") => B::PGRegexNotMatch,
                Some("!~*") => B::PGRegexNotIMatch,
                Some("=") => B::Eq,
                Some("<>") | Some("!=") => B::NotEq,
                Some("<") => B::Lt,
                Some("<=") => B::LtEq,
                Some(">") => B::Gt,
                Some(">=") => B::GtEq,
                Some("+") => B::Plus,
                Some("-") => B::Minus,
                Some("*") => B::Multiply,
                Some("/") => B::Divide,
                Some("%") => B::Modulo,
                Some("||") => B::StringConcat,
                _ => return unsupported(format!("operator {op}")),
            };
            return self.binary(left, &mapped, right);
        }
        let func = match op {
            B::And | B::Or => {
                let what = if matches!(op, B::And) { "AND" } else { "OR" };
                let l = self.plan_as(left, ScalarType::Bool, what)?;
                let r = self.plan_as(right, ScalarType::Bool, what)?;
                let func = if matches!(op, B::And) {
                    Func::And
                } else {
                    Func::Or
                };
                // Flatten nested AND/OR into one variadic call.
                let mut args = Vec::new();
                for s in [l, r] {
                    match s {
                        ScalarExpr::Call {
                            func: f,
                            args: inner,
                        } if f == func => args.extend(inner),
                        s => args.push(s),
                    }
                }
                return Ok(ScalarExpr::call(func, args));
            }
            B::PGRegexMatch | B::PGRegexIMatch | B::PGRegexNotMatch | B::PGRegexNotIMatch => {
                let l = self.plan_as(left, ScalarType::Text, "~")?;
                let r = self.plan_as(right, ScalarType::Text, "~")?;
                let case_insensitive = matches!(op, B::PGRegexIMatch | B::PGRegexNotIMatch);
                let e = ScalarExpr::call(Func::RegexMatch { case_insensitive }, vec![l, r]);
                return Ok(if matches!(op, B::PGRegexNotMatch | B::PGRegexNotIMatch) {
                    ScalarExpr::call(Func::Not, vec![e])
                } else {
                    e
                });
            }
            B::BitwiseAnd
            | B::BitwiseOr
            | B::PGBitwiseXor
            | B::PGBitwiseShiftLeft
            | B::PGBitwiseShiftRight => return self.bitwise(left, op, right),
            B::Eq => Func::Eq,
            B::NotEq => Func::NotEq,
            B::Lt => Func::Lt,
            B::LtEq => Func::Lte,
            B::Gt => Func::Gt,
            B::GtEq => Func::Gte,
            B::Plus => Func::Add,
            B::Minus => Func::Sub,
            B::Multiply => Func::Mul,
            B::Divide => Func::Div,
            B::Modulo => Func::Mod,
            B::StringConcat => {
                let (l, lt) = self.plan_typed(left)?;
                let (r, rt) = self.plan_typed(right)?;
                if let Some(e) =
                    self.array_concat((l.clone(), lt.scalar), (r.clone(), rt.scalar))?
                {
                    return Ok(e);
                }
                // bytea || bytea is bytea; anything else concatenates text forms.
                if lt.scalar == ScalarType::Bytea || rt.scalar == ScalarType::Bytea {
                    let mut both = Vec::with_capacity(2);
                    for (e, t) in [(l, lt.scalar), (r, rt.scalar)] {
                        if !matches!(t, ScalarType::Bytea | ScalarType::Unknown) {
                            return Err(PlanError::TypeMismatch(format!(
                                "|| is of type bytea but expression is of type {}",
                                t.name()
                            )));
                        }
                        both.push(cast(e, t, ScalarType::Bytea));
                    }
                    return Ok(ScalarExpr::call(Func::ConcatOp, both));
                }
                return Ok(ScalarExpr::call(Func::ConcatOp, vec![l, r]));
            }
            B::Arrow | B::LongArrow => {
                let l = self.plan_as(left, ScalarType::Jsonb, "->")?;
                let (r, rt) = self.plan_typed(right)?;
                let r = if rt.scalar == ScalarType::Unknown {
                    cast(r, rt.scalar, ScalarType::Text)
                } else {
                    r
                };
                let f = if matches!(op, B::Arrow) {
                    Func::JsonGet
                } else {
                    Func::JsonGetText
                };
                return Ok(ScalarExpr::call(f, vec![l, r]));
            }
            other => return unsupported(format!("operator {other}")),
        };
        if let Some(compared) = self.reg_comparison(left, &func, right) {
            return compared;
        }
        let (l, lt) = self.plan_typed(left)?;
        let (r, rt) = self.plan_typed(right)?;
        // Date/time arithmetic keeps distinct operand types.
        if matches!(func, Func::Add | Func::Sub) {
            use ScalarType::*;
            let temporal = matches!(
                (lt.scalar, rt.scalar),
                (Date | Timestamp | TimestampTz, Interval)
                    | (Date, Int32 | Int64)
                    | (Date, Date)
                    | (Interval, Interval)
            ) || (matches!(func, Func::Sub)
                && matches!(
                    (lt.scalar, rt.scalar),
                    (Timestamp, Timestamp) | (TimestampTz, TimestampTz)
                ));
            if temporal {
                return Ok(ScalarExpr::call(func, vec![l, r]));
            }
            if matches!(
                (lt.scalar, rt.scalar),
                (Date | Timestamp | TimestampTz, Unknown)
            ) {
                let r = cast(r, rt.scalar, ScalarType::Interval);
                return Ok(ScalarExpr::call(func, vec![l, r]));
            }
        }
        // interval * number, number * interval and interval / number scale the interval.
        if matches!(func, Func::Mul | Func::Div) {
            let number = |t: ScalarType| t.is_numeric() || t == ScalarType::Unknown;
            match (lt.scalar, rt.scalar) {
                (ScalarType::Interval, n) if number(n) => {
                    let factor = cast(r, n, ScalarType::Float64);
                    return Ok(ScalarExpr::call(func, vec![l, factor]));
                }
                (n, ScalarType::Interval) if number(n) && func == Func::Mul => {
                    let factor = cast(l, n, ScalarType::Float64);
                    return Ok(ScalarExpr::call(func, vec![r, factor]));
                }
                _ => {}
            }
        }
        let mut types = [lt.scalar, rt.scalar];
        // Arithmetic on two unknown literals happens in numeric, as `'1' + '2'` fails in Postgres.
        if matches!(
            func,
            Func::Add | Func::Sub | Func::Mul | Func::Div | Func::Mod
        ) {
            for t in types.iter_mut() {
                if *t == ScalarType::Unknown && (lt.scalar.is_numeric() || rt.scalar.is_numeric()) {
                    *t = if lt.scalar == ScalarType::Unknown {
                        rt.scalar
                    } else {
                        lt.scalar
                    };
                }
            }
            if (!types[0].is_numeric() || !types[1].is_numeric())
                && !types.contains(&ScalarType::Interval)
            {
                return Err(PlanError::UndefinedOperator(format!(
                    "{} {} {}",
                    lt.scalar.name(),
                    func.infix().unwrap_or("?"),
                    rt.scalar.name()
                )));
            }
        }
        let (args, _) = coerce_all(
            vec![(l, lt.clone()), (r, rt.clone())],
            func.infix().unwrap_or("operator"),
        )
        .map_err(|_| {
            PlanError::UndefinedOperator(format!(
                "{} {} {}",
                lt.scalar.name(),
                func.infix().unwrap_or("?"),
                rt.scalar.name()
            ))
        })?;
        Ok(ScalarExpr::call(func, args))
    }

    /// `a & b`, `a | b`, `a # b` (integers of a common type) and `a << n`, `a >> n`.
    fn bitwise(
        &mut self,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
    ) -> PlanResult<ScalarExpr> {
        use crate::ir::func::BitOp;
        let bit = match op {
            BinaryOperator::BitwiseAnd => BitOp::And,
            BinaryOperator::BitwiseOr => BitOp::Or,
            BinaryOperator::PGBitwiseXor => BitOp::Xor,
            BinaryOperator::PGBitwiseShiftLeft => BitOp::ShiftLeft,
            _ => BitOp::ShiftRight,
        };
        let (l, lt) = self.plan_typed(left)?;
        let (r, rt) = self.plan_typed(right)?;
        let int = |t: ScalarType| t.is_integer() || t == ScalarType::Unknown;
        if !int(lt.scalar) || !int(rt.scalar) {
            return Err(PlanError::UndefinedOperator(format!(
                "{} {} {}",
                lt.scalar.name(),
                bit.symbol(),
                rt.scalar.name()
            )));
        }
        let known = |t: ScalarType| {
            if t == ScalarType::Unknown {
                ScalarType::Int32
            } else {
                t
            }
        };
        let args = if matches!(bit, BitOp::ShiftLeft | BitOp::ShiftRight) {
            vec![
                cast(l, lt.scalar, known(lt.scalar)),
                cast(r, rt.scalar, ScalarType::Int32),
            ]
        } else {
            let (args, _) = coerce_all(
                vec![
                    (
                        cast(l, lt.scalar, known(lt.scalar)),
                        ColumnType::new(known(lt.scalar), lt.nullable),
                    ),
                    (
                        cast(r, rt.scalar, known(rt.scalar)),
                        ColumnType::new(known(rt.scalar), rt.nullable),
                    ),
                ],
                bit.symbol(),
            )?;
            args
        };
        Ok(ScalarExpr::call(Func::Bitwise(bit), args))
    }

    pub(super) fn like(
        &mut self,
        expr: &Expr,
        pattern: &Expr,
        negated: bool,
        ci: bool,
        escape: bool,
    ) -> PlanResult<ScalarExpr> {
        if escape {
            return unsupported("LIKE ... ESCAPE");
        }
        let s = self.plan_as(expr, ScalarType::Text, "LIKE")?;
        let p = self.plan_as(pattern, ScalarType::Text, "LIKE")?;
        let e = ScalarExpr::call(
            Func::Like {
                case_insensitive: ci,
            },
            vec![s, p],
        );
        Ok(if negated {
            ScalarExpr::call(Func::Not, vec![e])
        } else {
            e
        })
    }
}
