//! The functions of Postgres' catalog queries (`pg_get_indexdef`, `pg_table_is_visible`,
//! `has_table_privilege` ...), answered from the catalog as the query is planned: their
//! answers become constants or comparisons with constants in the plan.

use sqlparser::ast::Expr;

use super::super::error::{PlanError, PlanResult};
use super::super::expr::ExprCx;
use super::{
    index_definitions, lookup, lookup_oid, relation_name_oids, type_names, view_definitions,
    visible_relation_oids,
};
use crate::ir::{Func, ScalarExpr};
use crate::repr::{Datum, ScalarType};

/// What a function whose answer does not depend on its arguments answers.
enum Constant {
    True,
    False,
    NullText,
}

/// Functions known whatever their arguments (which must still plan), with their arities:
/// Runnel has one role, which may do anything, so every privilege and visibility check passes;
/// it keeps no comments, sequences, constraints, rules, statistics objects, publications or
/// functions in `pg_proc`, and Postgres' answer for objects without them is NULL.
const CONSTANT: &[(&str, usize, usize, Constant)] = &[
    ("has_table_privilege", 2, 3, Constant::True),
    ("has_schema_privilege", 2, 3, Constant::True),
    ("has_database_privilege", 2, 3, Constant::True),
    ("has_column_privilege", 3, 4, Constant::True),
    ("has_any_column_privilege", 2, 3, Constant::True),
    ("has_function_privilege", 2, 3, Constant::True),
    ("has_sequence_privilege", 2, 3, Constant::True),
    ("pg_has_role", 2, 3, Constant::True),
    ("pg_type_is_visible", 1, 1, Constant::True),
    ("pg_function_is_visible", 1, 1, Constant::True),
    ("pg_collation_is_visible", 1, 1, Constant::True),
    ("pg_relation_is_publishable", 1, 1, Constant::False),
    ("obj_description", 1, 2, Constant::NullText),
    ("col_description", 2, 2, Constant::NullText),
    ("shobj_description", 2, 2, Constant::NullText),
    ("pg_get_serial_sequence", 2, 2, Constant::NullText),
    ("pg_get_constraintdef", 1, 2, Constant::NullText),
    ("pg_get_ruledef", 1, 2, Constant::NullText),
    ("pg_get_triggerdef", 1, 2, Constant::NullText),
    ("pg_get_statisticsobjdef_columns", 1, 1, Constant::NullText),
    ("pg_get_function_result", 1, 1, Constant::NullText),
    ("pg_get_function_arguments", 1, 1, Constant::NullText),
    (
        "pg_get_function_identity_arguments",
        1,
        1,
        Constant::NullText,
    ),
];

impl ExprCx<'_, '_> {
    /// The catalog functions by name, or `None` for other names.
    pub(in crate::plan) fn catalog_function(
        &mut self,
        name: &str,
        args: &[Expr],
    ) -> PlanResult<Option<ScalarExpr>> {
        let n = args.len();
        let arity = |min: usize, max: usize| -> PlanResult<()> {
            if (min..=max).contains(&n) {
                Ok(())
            } else {
                Err(PlanError::UndefinedFunction(format!(
                    "{name} with {n} arguments"
                )))
            }
        };
        let pcx = self.qcx.pcx;
        if let Some((_, min, max, answer)) = CONSTANT.iter().find(|(f, ..)| *f == name) {
            arity(*min, *max)?;
            for a in args {
                self.plan(a)?;
            }
            return Ok(Some(match answer {
                Constant::True => ScalarExpr::bool(true),
                Constant::False => ScalarExpr::bool(false),
                Constant::NullText => ScalarExpr::null(ScalarType::Text),
            }));
        }
        let int = ScalarType::Int32;
        Ok(Some(match name {
            // The definition of the view with this oid.
            "pg_get_viewdef" => {
                arity(1, 2)?;
                let oid = self.plan_as(&args[0], int, name)?;
                if let Some(pretty) = args.get(1) {
                    self.plan_as(pretty, ScalarType::Bool, name)?;
                }
                pcx.reads_system.set(true);
                let defs = view_definitions(pcx.catalog, &pcx.database);
                lookup(oid, defs, ScalarExpr::null(ScalarType::Text))
            }
            // `CREATE INDEX ... USING btree (cols)`, or with a column number above 0 that key
            // column's name.
            "pg_get_indexdef" => {
                arity(1, 3)?;
                let oid = self.plan_as(&args[0], int, name)?;
                let column = match args.get(1) {
                    Some(c) => self.plan_as(c, int, name)?,
                    None => ScalarExpr::Literal(Datum::Int32(0), int),
                };
                if let Some(pretty) = args.get(2) {
                    self.plan_as(pretty, ScalarType::Bool, name)?;
                }
                pcx.reads_system.set(true);
                let indexes = index_definitions(pcx);
                let whole = indexes
                    .iter()
                    .map(|(oid, def, _)| (*oid, def.clone()))
                    .collect();
                let whole = lookup(oid.clone(), whole, ScalarExpr::null(ScalarType::Text));
                let literal = |v: i32| ScalarExpr::Literal(Datum::Int32(v), int);
                let mut by_column = ScalarExpr::null(ScalarType::Text);
                for (index, _, columns) in indexes.into_iter().rev() {
                    for (i, c) in columns.into_iter().enumerate().rev() {
                        let this = ScalarExpr::call(
                            Func::And,
                            vec![
                                ScalarExpr::call(Func::Eq, vec![oid.clone(), literal(index)]),
                                ScalarExpr::call(
                                    Func::Eq,
                                    vec![column.clone(), literal(i as i32 + 1)],
                                ),
                            ],
                        );
                        by_column = ScalarExpr::If {
                            cond: Box::new(this),
                            then: Box::new(ScalarExpr::Literal(Datum::String(c), ScalarType::Text)),
                            els: Box::new(by_column),
                        };
                    }
                }
                ScalarExpr::If {
                    cond: Box::new(ScalarExpr::call(Func::Eq, vec![column, literal(0)])),
                    then: Box::new(whole),
                    els: Box::new(by_column),
                }
            }
            // Runnel stores a default's or a predicate's expression as its SQL text already.
            "pg_get_expr" => {
                arity(2, 3)?;
                let e = self.plan_as(&args[0], ScalarType::Text, name)?;
                for a in &args[1..] {
                    self.plan(a)?;
                }
                e
            }
            // The oid of a type or relation by name (as text, so a parameter works too), or NULL.
            "to_regtype" | "to_regclass" | "to_regnamespace" => {
                arity(1, 1)?;
                let key = self.plan_as(&args[0], ScalarType::Text, name)?;
                pcx.reads_system.set(true);
                let names = match name {
                    "to_regtype" => type_names(),
                    "to_regclass" => relation_name_oids(pcx),
                    _ => super::schema_oids(pcx),
                };
                lookup_oid(key, names)
            }
            "pg_encoding_to_char" => {
                arity(1, 1)?;
                let e = self.plan_as(&args[0], int, name)?;
                let utf8 = vec![(crate::plan::system::UTF8_ENCODING, "UTF8".to_string())];
                lookup(
                    e,
                    utf8,
                    ScalarExpr::Literal(Datum::String(String::new()), ScalarType::Text),
                )
            }
            // Whether the relation is found by its unqualified name: an IN list of the visible
            // relations' oids.
            "pg_table_is_visible" => {
                arity(1, 1)?;
                let oid = self.plan_as(&args[0], int, name)?;
                pcx.reads_system.set(true);
                let visible = visible_relation_oids(pcx.catalog, &pcx.database, &pcx.search_path);
                let eqs: Vec<ScalarExpr> = visible
                    .into_iter()
                    .map(|v| {
                        let v = ScalarExpr::Literal(Datum::Int32(v), int);
                        ScalarExpr::call(Func::Eq, vec![oid.clone(), v])
                    })
                    .collect();
                if eqs.is_empty() {
                    ScalarExpr::bool(false)
                } else {
                    ScalarExpr::call(Func::Or, eqs)
                }
            }
            _ => return Ok(None),
        }))
    }
}
