//! Scalar expressions over one row, and how they evaluate.
//!
//! The planner builds these with every operand already coerced to the type the function
//! expects, so evaluation never guesses: it dispatches on the datums it meets.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::error::EvalError;
use super::func::Func;
use crate::repr::{ColumnType, Datum, ScalarType};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ScalarExpr {
    /// The value of the input row's column at this index.
    Column(usize),
    /// A constant.
    Literal(Datum, ScalarType),
    /// A statement parameter (`$n`, counting from 0); replaced by its value before execution.
    Param(usize, ScalarType),
    /// A function of the arguments' values.
    Call { func: Func, args: Vec<ScalarExpr> },
    /// `CASE WHEN cond THEN then ELSE els END`; only the chosen branch is evaluated.
    If {
        cond: Box<ScalarExpr>,
        then: Box<ScalarExpr>,
        els: Box<ScalarExpr>,
    },
    /// Raises an error when evaluated (e.g. a scalar subquery that returned several rows).
    Error(EvalError, ScalarType),
}

impl ScalarExpr {
    pub fn call(func: Func, args: Vec<ScalarExpr>) -> Self {
        ScalarExpr::Call { func, args }
    }
    pub fn null(typ: ScalarType) -> Self {
        ScalarExpr::Literal(Datum::Null, typ)
    }
    pub fn bool(b: bool) -> Self {
        ScalarExpr::Literal(Datum::Bool(b), ScalarType::Bool)
    }

    /// Evaluates the expression over `row`.
    pub fn eval(&self, row: &[Datum]) -> Result<Datum, EvalError> {
        match self {
            ScalarExpr::Column(i) => row.get(*i).cloned().ok_or_else(|| {
                EvalError::Internal(format!("column #{i} of a {}-column row", row.len()))
            }),
            ScalarExpr::Literal(d, _) => Ok(d.clone()),
            ScalarExpr::Param(n, _) => {
                Err(EvalError::Internal(format!("unbound parameter ${}", n + 1)))
            }
            ScalarExpr::If { cond, then, els } => match cond.eval(row)? {
                Datum::Bool(true) => then.eval(row),
                _ => els.eval(row),
            },
            ScalarExpr::Error(e, _) => Err(e.clone()),
            ScalarExpr::Call { func, args } => match func {
                // AND and OR look at their operands lazily: false AND error is false, as in
                // Postgres, whose planner may evaluate either side first.
                Func::And => {
                    let mut null = false;
                    let mut error = None;
                    for a in args {
                        match a.eval(row) {
                            Ok(Datum::Bool(false)) => return Ok(Datum::Bool(false)),
                            Ok(Datum::Bool(true)) => {}
                            Ok(_) => null = true,
                            Err(e) => error = Some(e),
                        }
                    }
                    match error {
                        Some(e) => Err(e),
                        None if null => Ok(Datum::Null),
                        None => Ok(Datum::Bool(true)),
                    }
                }
                Func::Or => {
                    let mut null = false;
                    let mut error = None;
                    for a in args {
                        match a.eval(row) {
                            Ok(Datum::Bool(true)) => return Ok(Datum::Bool(true)),
                            Ok(Datum::Bool(false)) => {}
                            Ok(_) => null = true,
                            Err(e) => error = Some(e),
                        }
                    }
                    match error {
                        Some(e) => Err(e),
                        None if null => Ok(Datum::Null),
                        None => Ok(Datum::Bool(false)),
                    }
                }
                Func::Coalesce => {
                    for a in args {
                        let v = a.eval(row)?;
                        if !v.is_null() {
                            return Ok(v);
                        }
                    }
                    Ok(Datum::Null)
                }
                _ => {
                    let vals = args
                        .iter()
                        .map(|a| a.eval(row))
                        .collect::<Result<Vec<_>, _>>()?;
                    func.eval(&vals)
                }
            },
        }
    }

    /// The type of the expression's value, given the input's column types.
    pub fn typ(&self, input: &[ColumnType]) -> ColumnType {
        match self {
            // A reference outside the input is a planner bug; answer `unknown` rather than panic.
            ScalarExpr::Column(i) => input
                .get(*i)
                .cloned()
                .unwrap_or(ColumnType::new(ScalarType::Unknown, true)),
            ScalarExpr::Literal(d, t) => ColumnType::new(*t, d.is_null()),
            ScalarExpr::Param(_, t) => ColumnType::new(*t, true),
            ScalarExpr::Error(_, t) => ColumnType::new(*t, true),
            ScalarExpr::If { then, els, .. } => {
                let a = then.typ(input);
                let b = els.typ(input);
                let scalar = if a.scalar == ScalarType::Unknown {
                    b.scalar
                } else {
                    a.scalar
                };
                ColumnType::new(scalar, a.nullable || b.nullable)
            }
            ScalarExpr::Call { func, args } => {
                let types: Vec<ColumnType> = args.iter().map(|a| a.typ(input)).collect();
                func.output_type(&types)
            }
        }
    }

    /// Whether the expression references no column (its value is the same for every row).
    pub fn is_constant(&self) -> bool {
        let mut constant = true;
        self.visit(&mut |e| {
            if matches!(e, ScalarExpr::Column(_) | ScalarExpr::Param(..)) {
                constant = false;
            }
        });
        constant && !self.is_nondeterministic()
    }

    fn is_nondeterministic(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            if let ScalarExpr::Call { func, .. } = e {
                found |= func.is_nondeterministic();
            }
        });
        found
    }

    pub fn visit(&self, f: &mut impl FnMut(&ScalarExpr)) {
        f(self);
        match self {
            ScalarExpr::Call { args, .. } => args.iter().for_each(|a| a.visit(f)),
            ScalarExpr::If { cond, then, els } => {
                cond.visit(f);
                then.visit(f);
                els.visit(f);
            }
            _ => {}
        }
    }

    pub fn visit_mut(&mut self, f: &mut impl FnMut(&mut ScalarExpr)) {
        match self {
            ScalarExpr::Call { args, .. } => args.iter_mut().for_each(|a| a.visit_mut(f)),
            ScalarExpr::If { cond, then, els } => {
                cond.visit_mut(f);
                then.visit_mut(f);
                els.visit_mut(f);
            }
            _ => {}
        }
        f(self);
    }

    /// `a AND b AND c` as `[a, b, c]`, flattening nested conjunctions.
    pub fn conjuncts(preds: Vec<ScalarExpr>) -> Vec<ScalarExpr> {
        let mut out = Vec::new();
        for p in preds {
            match p {
                ScalarExpr::Call {
                    func: Func::And,
                    args,
                } => out.extend(Self::conjuncts(args)),
                p => out.push(p),
            }
        }
        out
    }

    /// `a IS NOT DISTINCT FROM b` over two columns: equality that matches NULL to NULL, which is
    /// what a join key means (SQL's `=` does not match NULLs).
    pub fn same(a: usize, b: usize) -> ScalarExpr {
        ScalarExpr::call(
            Func::Not,
            vec![ScalarExpr::call(
                Func::IsDistinctFrom,
                vec![ScalarExpr::Column(a), ScalarExpr::Column(b)],
            )],
        )
    }

    /// `#c IS NOT NULL`.
    pub fn not_null(c: usize) -> ScalarExpr {
        ScalarExpr::call(
            Func::Not,
            vec![ScalarExpr::call(Func::IsNull, vec![ScalarExpr::Column(c)])],
        )
    }

    /// The column of a `not_null(c)`.
    pub fn as_not_null(&self) -> Option<usize> {
        match self.negated_call(Func::IsNull)? {
            [ScalarExpr::Column(c)] => Some(*c),
            _ => None,
        }
    }

    /// The two columns of a `same(a, b)`.
    pub fn as_same(&self) -> Option<(usize, usize)> {
        match self.negated_call(Func::IsDistinctFrom)? {
            [ScalarExpr::Column(a), ScalarExpr::Column(b)] => Some((*a, *b)),
            _ => None,
        }
    }

    /// The arguments of `NOT func(args)`.
    fn negated_call(&self, func: Func) -> Option<&[ScalarExpr]> {
        let ScalarExpr::Call {
            func: Func::Not,
            args,
        } = self
        else {
            return None;
        };
        match args.as_slice() {
            [ScalarExpr::Call { func: f, args }] if *f == func => Some(args),
            _ => None,
        }
    }

    /// The columns the expression reads.
    pub fn support(&self) -> Vec<usize> {
        let mut cols = Vec::new();
        self.visit(&mut |e| {
            if let ScalarExpr::Column(c) = e {
                cols.push(*c)
            }
        });
        cols.sort_unstable();
        cols.dedup();
        cols
    }

    /// Renumbers column references through `map` (old index -> new index).
    pub fn permute(&mut self, map: &impl Fn(usize) -> usize) {
        self.visit_mut(&mut |e| {
            if let ScalarExpr::Column(c) = e {
                *c = map(*c)
            }
        });
    }

    /// Replaces each `Param` with its bound value.
    pub fn bind_params(&mut self, params: &[Datum]) -> Result<(), EvalError> {
        let mut missing = None;
        self.visit_mut(&mut |e| {
            if let ScalarExpr::Param(n, t) = e {
                match params.get(*n) {
                    Some(d) => *e = ScalarExpr::Literal(d.clone(), *t),
                    None => missing = Some(*n),
                }
            }
        });
        match missing {
            Some(n) => Err(EvalError::InvalidParameter(format!(
                "there is no parameter ${}",
                n + 1
            ))),
            None => Ok(()),
        }
    }

    /// Evaluates constant subexpressions now. An error is kept as an `Error` node so it is raised
    /// only if a row actually reaches it, as in Postgres.
    pub fn fold_constants(&mut self, input: &[ColumnType]) {
        match self {
            ScalarExpr::Call { func, args } => {
                args.iter_mut().for_each(|a| a.fold_constants(input));
                // A strict function of a NULL constant is NULL, whatever its other arguments
                // would do: Postgres folds it so, and never evaluates them.
                if func.is_strict()
                    && args
                        .iter()
                        .any(|a| matches!(a, ScalarExpr::Literal(Datum::Null, _)))
                {
                    let typ = self.typ(input).scalar;
                    *self = ScalarExpr::null(typ);
                    return;
                }
            }
            ScalarExpr::If { cond, then, els } => {
                cond.fold_constants(input);
                then.fold_constants(input);
                els.fold_constants(input);
                if let ScalarExpr::Literal(c, _) = &**cond {
                    *self = if c == &Datum::Bool(true) {
                        (**then).clone()
                    } else {
                        (**els).clone()
                    };
                    return;
                }
            }
            _ => return,
        }
        if self.is_constant() && !matches!(self, ScalarExpr::Literal(..)) {
            // A constant reads no column, so its type does not depend on the input.
            let typ = self.typ(&[]).scalar;
            match self.eval(&[]) {
                Ok(d) => *self = ScalarExpr::Literal(d, typ),
                Err(e) => *self = ScalarExpr::Error(e, typ),
            }
        }
    }
}

impl fmt::Display for ScalarExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarExpr::Column(i) => write!(f, "#{i}"),
            ScalarExpr::Literal(Datum::Null, _) => write!(f, "null"),
            ScalarExpr::Literal(Datum::String(s), _) => write!(f, "{s:?}"),
            ScalarExpr::Literal(d, _) => {
                write!(f, "{}", crate::repr::strconv::format(d).unwrap_or_default())
            }
            ScalarExpr::Param(n, _) => write!(f, "${}", n + 1),
            ScalarExpr::Error(e, _) => write!(f, "error({e:?})"),
            ScalarExpr::If { cond, then, els } => {
                write!(f, "case when {cond} then {then} else {els} end")
            }
            ScalarExpr::Call { func, args } => {
                if let (Some(op), [a, b]) = (func.infix(), args.as_slice()) {
                    return write!(f, "({a} {op} {b})");
                }
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, ")")
            }
        }
    }
}
