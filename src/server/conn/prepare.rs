//! SQL-level prepared statements: `PREPARE name [(types)] AS statement` and `EXECUTE name
//! [(values)]`. They live with the protocol's prepared statements (Parse names them the same
//! way, and `DEALLOCATE` forgets either).

use sqlparser::ast;

use super::{Conn, Outcome};
use crate::error::SqlError;
use crate::parse::{self, Statement};
use crate::repr::Datum;

impl Conn {
    /// The parameters and result of a `PREPARE` (none) or an `EXECUTE` (its statement's
    /// result) sent through the extended protocol; `None` for any other statement.
    pub(super) fn sql_prepared_shape(
        &self,
        stmt: &Statement,
    ) -> Option<(
        Vec<crate::repr::ScalarType>,
        Option<crate::repr::RelationDesc>,
    )> {
        let Statement::Sql(sql) = stmt else {
            return None;
        };
        match &**sql {
            ast::Statement::Prepare { .. } => Some((Vec::new(), None)),
            ast::Statement::Execute { name, .. } => {
                let target = name.as_ref().and_then(statement_name);
                let desc = target.and_then(|n| self.statements.get(&n)?.desc.clone());
                Some((Vec::new(), desc))
            }
            _ => None,
        }
    }

    pub(super) fn prepare_sql(
        &mut self,
        name: &ast::Ident,
        types: &[ast::DataType],
        stmt: &ast::Statement,
    ) -> Result<Outcome, SqlError> {
        let name = parse::normalize_ident(name);
        if self.statements.contains_key(&name) {
            return Err(SqlError::new(
                "42P05",
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        let declared = types
            .iter()
            .map(crate::plan::scalar_type)
            .collect::<Result<Vec<_>, _>>()?;
        self.prepare(name, Statement::Sql(Box::new(stmt.clone())), &declared)?;
        Ok(Outcome::Tag("PREPARE".into()))
    }

    /// Runs prepared statement `name` with `values` for its parameters, each cast to its
    /// parameter's type as Postgres does (`EXECUTE p('7')` for an integer parameter is 7).
    pub(super) async fn execute_sql(
        &mut self,
        name: &ast::ObjectName,
        values: &[ast::Expr],
    ) -> Result<Outcome, SqlError> {
        let name = statement_name(name)
            .ok_or_else(|| SqlError::new("42601", "expected a prepared statement's name"))?;
        let prepared = self.statements.get(&name).ok_or_else(|| {
            SqlError::new(
                "26000",
                format!("prepared statement \"{name}\" does not exist"),
            )
        })?;
        if values.len() != prepared.param_types.len() {
            return Err(SqlError::new(
                "42601",
                format!(
                    "wrong number of parameters for prepared statement \"{name}\": expected {}, got {}",
                    prepared.param_types.len(),
                    values.len()
                ),
            ));
        }
        let (stmt, types) = (prepared.stmt.clone(), prepared.param_types.clone());
        let params = self.parameter_values(values, &types).await?;
        Box::pin(self.run(&stmt, &types, &params, None)).await
    }

    /// The values of `EXECUTE`'s expressions, cast to the parameters' types: evaluated as the
    /// one row of a `SELECT` of the casts, so every expression and cast a query may use works
    /// here, with its errors.
    async fn parameter_values(
        &mut self,
        values: &[ast::Expr],
        types: &[crate::repr::ScalarType],
    ) -> Result<Vec<Datum>, SqlError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let casts: Vec<String> = values
            .iter()
            .zip(types)
            .map(|(v, t)| format!("CAST(({v}) AS {})", t.name()))
            .collect();
        let select = parse::parse_statement(&format!("SELECT {}", casts.join(", ")))?;
        match Box::pin(self.run(&select, &[], &[], None)).await? {
            Outcome::Rows { mut rows, .. } if rows.len() == 1 => Ok(rows.remove(0)),
            _ => Err(SqlError::internal("EXECUTE's parameters gave no row")),
        }
    }
}

/// The prepared statement `EXECUTE` names.
fn statement_name(name: &ast::ObjectName) -> Option<String> {
    let ident = name.0.last()?.as_ident()?;
    Some(parse::normalize_ident(ident))
}
