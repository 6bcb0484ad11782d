//! The extended query protocol: Parse, Bind, Describe and Execute (with row limits), for
//! prepared statements and portals.

use pgwire::messages::data::{NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::PortalSuspended;
use pgwire::messages::response::CommandComplete;
use pgwire::messages::PgWireBackendMessage as B;

use super::{infer_param_types, same_statement, Conn, Outcome, Portal, Prepared};
use crate::error::SqlError;
use crate::parse::{self, Statement};
use crate::repr::{Datum, Row, ScalarType};
use crate::server::describe::{fields, format_of, plan_desc};
use crate::server::values;
use crate::source::registry::with_latest_schema_async;

impl Conn {
    pub(super) async fn parse(
        &mut self,
        name: String,
        sql: &str,
        oids: &[u32],
    ) -> Result<(), SqlError> {
        let parts = parse::split_statements(sql);
        if parts.len() > 1 {
            return Err(SqlError::new(
                "42601",
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        // Kept with the prepared statement, so Describe and Execute do not ask the registry again.
        let stmt = with_latest_schema_async(parse::parse_statement(sql)?).await?;
        let declared: Vec<ScalarType> = oids
            .iter()
            .map(|o| {
                ScalarType::from_oid(*o).ok_or_else(|| {
                    SqlError::new("42704", format!("type with OID {o} is not supported"))
                })
            })
            .collect::<Result<_, _>>()?;
        self.prepare(name, stmt, &declared).map_err(|mut e| {
            if let Some((line, column)) = e.location.take() {
                e.position = Some(parse::char_position(sql, line, column));
            }
            e
        })
    }

    /// Plans `stmt` with the parameter types the client `declared` (the rest inferred) and
    /// keeps it as prepared statement `name`.
    pub(super) fn prepare(
        &mut self,
        name: String,
        stmt: Statement,
        declared: &[ScalarType],
    ) -> Result<(), SqlError> {
        let (param_types, desc) = match self.sql_prepared_shape(&stmt) {
            Some(shape) => shape,
            None => {
                let plan = self.coord.plan(&self.session, &stmt, declared)?;
                (infer_param_types(&plan, declared), plan_desc(&plan))
            }
        };
        self.statements.insert(
            name,
            Prepared {
                stmt,
                param_types,
                desc,
            },
        );
        Ok(())
    }

    pub(super) fn bind(
        &mut self,
        b: pgwire::messages::extendedquery::Bind,
    ) -> Result<(), SqlError> {
        let name = b.statement_name.unwrap_or_default();
        let prepared = self.statements.get(&name).ok_or_else(|| {
            SqlError::new(
                "26000",
                format!("prepared statement \"{name}\" does not exist"),
            )
        })?;
        if b.parameters.len() != prepared.param_types.len() {
            return Err(SqlError::new(
                "08P01",
                format!("bind message supplies {} parameters, but prepared statement \"{name}\" requires {}", b.parameters.len(), prepared.param_types.len()),
            ));
        }
        let mut params = Vec::new();
        for (i, (p, t)) in b.parameters.iter().zip(&prepared.param_types).enumerate() {
            params.push(match p {
                None => Datum::Null,
                Some(bytes) => {
                    let binary = format_of(&b.parameter_format_codes, i) == 1;
                    values::decode(bytes, *t, binary).map_err(|e| {
                        SqlError::new(
                            "22P02",
                            format!("invalid value for parameter ${}: {e}", i + 1),
                        )
                    })?
                }
            });
        }
        let portal = Portal {
            stmt: prepared.stmt.clone(),
            param_types: prepared.param_types.clone(),
            params,
            formats: b.result_column_format_codes.clone(),
            pending: None,
        };
        self.portals
            .insert(b.portal_name.unwrap_or_default(), portal);
        Ok(())
    }

    pub(super) fn describe(&mut self, target: u8, name: &str) -> Result<(), SqlError> {
        if target == b'S' {
            let p = self.statements.get(name).ok_or_else(|| {
                SqlError::new(
                    "26000",
                    format!("prepared statement \"{name}\" does not exist"),
                )
            })?;
            let types: Vec<u32> = p.param_types.iter().map(|t| t.oid()).collect();
            let desc = p.desc.clone();
            self.send(B::ParameterDescription(ParameterDescription::new(types)))?;
            match desc {
                Some(d) => self.send(B::RowDescription(RowDescription::new(fields(&d, &[]))))?,
                None => self.send(B::NoData(NoData::new()))?,
            }
        } else {
            let p = self.portals.get(name).ok_or_else(|| {
                SqlError::new("34000", format!("portal \"{name}\" does not exist"))
            })?;
            let desc = self
                .statements
                .values()
                .find(|s| same_statement(&s.stmt, &p.stmt))
                .and_then(|s| s.desc.clone());
            let desc = match desc {
                Some(d) => Some(d),
                None => plan_desc(&self.coord.plan(&self.session, &p.stmt, &p.param_types)?),
            };
            let formats = p.formats.clone();
            match desc {
                Some(d) => {
                    self.send(B::RowDescription(RowDescription::new(fields(&d, &formats))))?
                }
                None => self.send(B::NoData(NoData::new()))?,
            }
        }
        Ok(())
    }

    pub(super) async fn execute_portal(
        &mut self,
        name: &str,
        max_rows: i32,
    ) -> Result<(), SqlError> {
        let portal = self
            .portals
            .get_mut(name)
            .ok_or_else(|| SqlError::new("34000", format!("portal \"{name}\" does not exist")))?;
        let limit = if max_rows <= 0 {
            usize::MAX
        } else {
            max_rows as usize
        };
        let formats = portal.formats.clone();
        if portal.pending.is_none() {
            let (stmt, types, params) = (
                portal.stmt.clone(),
                portal.param_types.clone(),
                portal.params.clone(),
            );
            match self.run(&stmt, &types, &params, None).await? {
                Outcome::Rows { desc, rows, tag } => {
                    let portal = self.portals.get_mut(name).expect("portal checked above");
                    portal.pending = Some((desc, rows.into_iter(), 0));
                    let _ = tag;
                }
                other => {
                    self.write_outcome(other, &formats, false)?;
                    return Ok(());
                }
            }
        }
        let portal = self.portals.get_mut(name).expect("portal checked above");
        let (desc, mut rows, mut sent) = portal.pending.take().expect("rows computed above");
        let batch: Vec<Row> = rows.by_ref().take(limit).collect();
        sent += batch.len();
        let more = rows.len() > 0;
        for row in &batch {
            self.data_row(&desc, row, &formats)?;
        }
        if more {
            self.portals
                .get_mut(name)
                .expect("portal checked above")
                .pending = Some((desc, rows, sent));
            self.send(B::PortalSuspended(PortalSuspended::new()))?;
        } else {
            let tag = match &self.portals[name].stmt {
                Statement::Fetch { .. } => "FETCH",
                Statement::Sql(s)
                    if matches!(**s, sqlparser::ast::Statement::ShowVariable { .. }) =>
                {
                    "SHOW"
                }
                _ => "SELECT",
            };
            self.send(B::CommandComplete(CommandComplete::new(format!(
                "{tag} {sent}"
            ))))?;
            // A portal run to completion stays at its end, as in Postgres: executing it again
            // returns no rows (it does not run the query again).
            self.portals
                .get_mut(name)
                .expect("portal checked above")
                .pending = Some((desc, Vec::new().into_iter(), 0));
        }
        Ok(())
    }
}
