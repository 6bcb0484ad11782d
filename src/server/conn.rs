//! One client connection: startup, then simple and extended query protocol, COPY out for
//! subscriptions, cursors, transactions. Every error becomes an ErrorResponse with its SQLSTATE
//! and the connection stays usable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use pgwire::messages::data::{DataRow, RowDescription};
use pgwire::messages::extendedquery::{BindComplete, CloseComplete, ParseComplete};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ErrorResponse, NoticeResponse, ReadyForQuery,
    TransactionStatus,
};
use pgwire::messages::startup::{Authentication, BackendKeyData, ParameterStatus, SecretKey};
use pgwire::messages::{PgWireBackendMessage as B, PgWireFrontendMessage as F};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::describe::{fields, format_of};
use super::values;
use super::wire::Wire;
use super::{CancelRegistry, Security};

mod copy;
mod cursor;
mod extended;
mod params;
mod prepare;
use crate::coord::{Coordinator, Response, Session, Subscription};
use crate::error::SqlError;
use crate::parse::{self, Statement};
use crate::plan::Plan;
use crate::repr::{Datum, RelationDesc, Row, ScalarType};
use crate::source::registry::with_latest_schema_async;
pub use cursor::subscribe_rows;
use params::{bind_plan, infer_param_types};

#[derive(Clone, Copy, PartialEq)]
enum Txn {
    Idle,
    InBlock,
    Failed,
}

struct Prepared {
    stmt: Statement,
    param_types: Vec<ScalarType>,
    desc: Option<RelationDesc>,
}

struct Portal {
    stmt: Statement,
    param_types: Vec<ScalarType>,
    params: Vec<Datum>,
    formats: Vec<i16>,
    /// Rows computed by an earlier Execute that stopped at its row limit.
    pending: Option<(RelationDesc, std::vec::IntoIter<Row>, usize)>,
}

enum Cursor {
    Rows {
        desc: RelationDesc,
        rows: std::vec::IntoIter<Row>,
    },
    Subscribe {
        sub: Subscription,
        buffered: std::collections::VecDeque<Row>,
    },
}

/// What executing one statement produced, before it is written to the client.
enum Outcome {
    Tag(String),
    Rows {
        desc: RelationDesc,
        rows: Vec<Row>,
        tag: &'static str,
    },
}

struct Conn {
    wire: Wire,
    coord: Arc<Coordinator>,
    session: Session,
    /// The session's settings as it started (defaults and the startup packet's): what `RESET
    /// ALL` and `DISCARD ALL` restore.
    started: Session,
    txn: Txn,
    /// The open savepoints of the transaction block, oldest first.
    savepoints: Vec<String>,
    statements: HashMap<String, Prepared>,
    portals: HashMap<String, Portal>,
    cursors: HashMap<String, Cursor>,
    cancel: Arc<Notify>,
}

pub async fn run(
    socket: TcpStream,
    coord: Arc<Coordinator>,
    registry: Arc<CancelRegistry>,
    security: &Security,
    peer: SocketAddr,
) -> Result<(), SqlError> {
    let mut conn = Conn {
        wire: Wire::new(socket),
        coord,
        session: Session::new("materialize", "materialize"),
        started: Session::new("materialize", "materialize"),
        txn: Txn::Idle,
        savepoints: Vec::new(),
        statements: HashMap::new(),
        portals: HashMap::new(),
        cursors: HashMap::new(),
        cancel: Arc::new(Notify::new()),
    };
    let Some(startup) = conn.wire.startup(Some(&registry), security).await? else {
        return Ok(());
    };
    let user = startup
        .parameters
        .get("user")
        .cloned()
        .unwrap_or_else(|| "materialize".into());
    let database = startup
        .parameters
        .get("database")
        .cloned()
        .unwrap_or_else(|| user.clone());
    if let Some(passwords) = &security.passwords {
        if let Err(e) =
            super::auth::authenticate(&mut conn.wire, passwords, security.method, &user).await
        {
            tracing::info!(%peer, user, "authentication failed: {}", e.message);
            let _ = conn.wire.fatal(&e).await;
            return Err(e);
        }
    }
    conn.session = Session::new(&user, &database);
    for (k, v) in &startup.parameters {
        if !matches!(k.as_str(), "user" | "database" | "options" | "replication") {
            let _ = conn.session.set(k, Some(v));
        }
    }
    conn.started = conn.session.clone();
    let (pid, secret, notify) = registry.register();
    conn.cancel = notify;
    tracing::debug!(%peer, user, database, pid, "session started");
    conn.send(B::Authentication(Authentication::Ok))?;
    for name in crate::coord::session::REPORTED {
        let value = conn.session.get(name).unwrap_or("").to_string();
        conn.send(B::ParameterStatus(ParameterStatus::new(
            report_name(name),
            value,
        )))?;
    }
    conn.send(B::BackendKeyData(BackendKeyData::new(
        pid,
        SecretKey::I32(secret),
    )))?;
    conn.ready().await?;
    let result = conn.serve().await;
    registry.unregister(pid);
    result
}

/// The spelling Postgres uses in ParameterStatus.
fn report_name(name: &str) -> String {
    match name {
        "datestyle" => "DateStyle".into(),
        "timezone" => "TimeZone".into(),
        "intervalstyle" => "IntervalStyle".into(),
        n => n.into(),
    }
}

impl Conn {
    async fn read(&mut self) -> Result<Option<F>, SqlError> {
        self.wire.read().await
    }

    fn send(&mut self, m: B) -> Result<(), SqlError> {
        self.wire.send(m)
    }

    async fn flush(&mut self) -> Result<(), SqlError> {
        self.wire.flush().await
    }

    async fn ready(&mut self) -> Result<(), SqlError> {
        let status = match self.txn {
            Txn::Idle => TransactionStatus::Idle,
            Txn::InBlock => TransactionStatus::Transaction,
            Txn::Failed => TransactionStatus::Error,
        };
        self.send(B::ReadyForQuery(ReadyForQuery::new(status)))?;
        self.flush().await
    }

    fn error(&mut self, e: &SqlError) -> Result<(), SqlError> {
        if e.code == "XX000" {
            tracing::error!("internal error: {}", e.message);
        }
        let mut f = vec![
            (b'S', "ERROR".to_string()),
            (b'V', "ERROR".to_string()),
            (b'C', e.code.to_string()),
            (b'M', e.message.clone()),
        ];
        if let Some(d) = &e.detail {
            f.push((b'D', d.clone()));
        }
        if let Some(h) = &e.hint {
            f.push((b'H', h.clone()));
        }
        if let Some(p) = e.position {
            f.push((b'P', p.to_string()));
        }
        if self.txn == Txn::InBlock {
            self.txn = Txn::Failed;
        }
        self.send(B::ErrorResponse(ErrorResponse::new(f)))
    }

    /// Savepoints exist only inside a transaction block (25P01 outside, as in Postgres).
    fn in_block(&self, what: &str) -> Result<(), SqlError> {
        if self.txn == Txn::Idle {
            return Err(SqlError::new(
                "25P01",
                format!("{what} can only be used in transaction blocks"),
            ));
        }
        Ok(())
    }

    /// The position of the latest savepoint of this name (3B001 if there is none).
    fn savepoint(&self, name: &str) -> Result<usize, SqlError> {
        self.savepoints
            .iter()
            .rposition(|s| s == name)
            .ok_or_else(|| SqlError::new("3B001", format!("savepoint \"{name}\" does not exist")))
    }

    fn notice(&mut self, msg: &str) -> Result<(), SqlError> {
        let f = vec![
            (b'S', "NOTICE".to_string()),
            (b'V', "NOTICE".to_string()),
            (b'C', "00000".to_string()),
            (b'M', msg.to_string()),
        ];
        self.send(B::NoticeResponse(NoticeResponse::new(f)))
    }

    async fn serve(&mut self) -> Result<(), SqlError> {
        // After an error in the extended protocol, messages are skipped until Sync.
        let mut skipping = false;
        loop {
            let Some(msg) = self.read().await? else {
                return Ok(());
            };
            match msg {
                F::Query(q) => {
                    self.simple_query(&q.query).await?;
                    self.ready().await?;
                }
                F::Sync(_) => {
                    skipping = false;
                    // An implicit transaction ends at Sync.
                    self.ready().await?;
                }
                F::Flush(_) => self.flush().await?,
                F::Terminate(_) => return Ok(()),
                F::Parse(_) | F::Bind(_) | F::Describe(_) | F::Execute(_) | F::Close(_)
                    if skipping => {}
                F::Parse(p) => match self
                    .parse(p.name.unwrap_or_default(), &p.query, &p.type_oids)
                    .await
                {
                    Ok(()) => self.send(B::ParseComplete(ParseComplete::new()))?,
                    Err(e) => {
                        self.error(&e)?;
                        skipping = true;
                    }
                },
                F::Bind(b) => match self.bind(b) {
                    Ok(()) => self.send(B::BindComplete(BindComplete::new()))?,
                    Err(e) => {
                        self.error(&e)?;
                        skipping = true;
                    }
                },
                F::Describe(d) => {
                    if let Err(e) = self.describe(d.target_type, &d.name.unwrap_or_default()) {
                        self.error(&e)?;
                        skipping = true;
                    }
                }
                F::Execute(e) => {
                    if let Err(err) = self
                        .execute_portal(&e.name.unwrap_or_default(), e.max_rows)
                        .await
                    {
                        if err.code == "08006" {
                            return Err(err);
                        }
                        self.error(&err)?;
                        skipping = true;
                    }
                }
                F::Close(c) => {
                    let name = c.name.unwrap_or_default();
                    if c.target_type == b'S' {
                        self.statements.remove(&name);
                    } else {
                        self.portals.remove(&name);
                    }
                    self.send(B::CloseComplete(CloseComplete::new()))?;
                }
                F::CopyData(_) | F::CopyDone(_) | F::CopyFail(_) => {}
                other => {
                    self.error(&SqlError::new(
                        "08P01",
                        format!("unexpected message {other:?}"),
                    ))?;
                    self.flush().await?;
                }
            }
        }
    }

    async fn simple_query(&mut self, sql: &str) -> Result<(), SqlError> {
        let statements = parse::split_statements(sql);
        if statements.is_empty() {
            self.send(B::EmptyQueryResponse(EmptyQueryResponse::new()))?;
            return Ok(());
        }
        for (offset, text) in statements {
            let parsed = match parse::parse_statement(text) {
                Ok(stmt) => with_latest_schema_async(stmt).await,
                Err(e) => Err(e),
            };
            let result = match parsed {
                Ok(stmt) => self.run(&stmt, &[], &[], None).await,
                Err(e) => Err(e),
            }
            .map_err(|mut e| {
                if let Some((line, column)) = e.location.take() {
                    e.position = Some(parse::char_position(text, line, column));
                }
                e.position = e.position.map(|p| p + sql[..offset].chars().count());
                e
            });
            match result {
                Ok(outcome) => self.write_outcome(outcome, &[], true)?,
                Err(e) if e.code == "08006" => return Err(e),
                Err(e) => {
                    self.error(&e)?;
                    // The rest of a failed multi-statement query is not run, as in Postgres.
                    return Ok(());
                }
            }
            self.flush().await?;
        }
        Ok(())
    }

    fn write_outcome(
        &mut self,
        outcome: Outcome,
        formats: &[i16],
        describe: bool,
    ) -> Result<(), SqlError> {
        match outcome {
            Outcome::Tag(tag) => self.send(B::CommandComplete(CommandComplete::new(tag)))?,
            Outcome::Rows { desc, rows, tag } => {
                if describe {
                    self.send(B::RowDescription(RowDescription::new(fields(
                        &desc, formats,
                    ))))?;
                }
                let n = rows.len();
                for row in &rows {
                    self.data_row(&desc, row, formats)?;
                }
                self.send(B::CommandComplete(CommandComplete::new(format!(
                    "{tag} {n}"
                ))))?;
            }
        }
        Ok(())
    }

    fn data_row(
        &mut self,
        desc: &RelationDesc,
        row: &Row,
        formats: &[i16],
    ) -> Result<(), SqlError> {
        let mut data = BytesMut::new();
        let mut value = BytesMut::new();
        for (i, d) in row.iter().enumerate() {
            if d.is_null() {
                data.put_i32(-1);
                continue;
            }
            value.clear();
            let typ = desc
                .types
                .get(i)
                .map(|t| t.scalar)
                .unwrap_or(ScalarType::Text);
            values::encode(d, typ, format_of(formats, i) == 1, &mut value)
                .map_err(SqlError::internal)?;
            data.put_i32(value.len() as i32);
            data.put_slice(&value);
        }
        self.send(B::DataRow(DataRow::new(data, row.len() as i16)))
    }

    /// Plans and runs one statement.
    async fn run(
        &mut self,
        stmt: &Statement,
        param_types: &[ScalarType],
        params: &[Datum],
        copy_formats: Option<&[i16]>,
    ) -> Result<Outcome, SqlError> {
        // A CancelRequest that arrived while nothing ran (or after what it canceled had ended)
        // is spent: it must not cancel this statement, as in Postgres.
        let _ = futures::FutureExt::now_or_never(self.cancel.notified());
        let _ = copy_formats;
        if let Statement::Sql(sql) = stmt {
            let prepared = matches!(
                **sql,
                sqlparser::ast::Statement::Prepare { .. }
                    | sqlparser::ast::Statement::Execute { .. }
            );
            if prepared && self.txn == Txn::Failed {
                return Err(aborted());
            }
            match &**sql {
                sqlparser::ast::Statement::Prepare {
                    name,
                    data_types,
                    statement,
                } => return self.prepare_sql(name, data_types, statement),
                sqlparser::ast::Statement::Execute {
                    name: Some(name),
                    parameters,
                    immediate: false,
                    ..
                } => return self.execute_sql(name, parameters).await,
                _ => {}
            }
        }
        let mut plan = self.coord.plan(&self.session, stmt, param_types)?;
        bind_plan(&mut plan, params)?;
        if self.txn == Txn::Failed
            && !matches!(
                plan,
                Plan::Rollback | Plan::Commit | Plan::RollbackToSavepoint(_)
            )
        {
            return Err(aborted());
        }
        match plan {
            Plan::StartTransaction => {
                if self.txn != Txn::Idle {
                    self.notice("there is already a transaction in progress")?;
                }
                if self.txn == Txn::Idle {
                    self.savepoints.clear();
                }
                self.txn = Txn::InBlock;
                Ok(Outcome::Tag("BEGIN".into()))
            }
            Plan::Savepoint(name) => {
                self.in_block("SAVEPOINT")?;
                self.savepoints.push(name);
                Ok(Outcome::Tag("SAVEPOINT".into()))
            }
            Plan::ReleaseSavepoint(name) => {
                self.in_block("RELEASE SAVEPOINT")?;
                let at = self.savepoint(&name)?;
                self.savepoints.truncate(at);
                Ok(Outcome::Tag("RELEASE".into()))
            }
            Plan::RollbackToSavepoint(name) => {
                self.in_block("ROLLBACK TO SAVEPOINT")?;
                let at = self.savepoint(&name)?;
                self.savepoints.truncate(at + 1);
                self.txn = Txn::InBlock;
                self.notice(&format!(
                    "writes since savepoint \"{name}\" are not undone: Runnel applies each write when it is made"
                ))?;
                Ok(Outcome::Tag("ROLLBACK".into()))
            }
            Plan::Commit => {
                let tag = if self.txn == Txn::Failed {
                    "ROLLBACK"
                } else {
                    "COMMIT"
                };
                self.txn = Txn::Idle;
                self.savepoints.clear();
                self.close_unheld_cursors();
                Ok(Outcome::Tag(tag.into()))
            }
            Plan::Rollback => {
                self.txn = Txn::Idle;
                self.savepoints.clear();
                self.close_unheld_cursors();
                Ok(Outcome::Tag("ROLLBACK".into()))
            }
            Plan::SetVariable { name, value } => {
                if name == "database" {
                    return Err(SqlError::new(
                        "0A000",
                        "changing the database of a session is not supported; reconnect instead",
                    ));
                }
                let before = self.session.clone();
                self.session
                    .set(&name, value.as_deref())
                    .map_err(|m| SqlError::new("55P02", m))?;
                self.report_changes(&before)?;
                Ok(Outcome::Tag(empty_tag(stmt)))
            }
            Plan::ResetAll => {
                self.restore_settings()?;
                Ok(Outcome::Tag("RESET".into()))
            }
            Plan::DiscardAll => {
                if self.txn != Txn::Idle {
                    return Err(SqlError::new(
                        "25001",
                        "DISCARD ALL cannot run inside a transaction block",
                    ));
                }
                self.restore_settings()?;
                self.statements.clear();
                self.portals.clear();
                self.cursors.clear();
                Ok(Outcome::Tag("DISCARD ALL".into()))
            }
            Plan::ShowVariable(name) => {
                let value = match name.as_str() {
                    "all" => return Err(SqlError::unsupported("SHOW ALL")),
                    "transaction isolation level" => self
                        .session
                        .get("transaction_isolation")
                        .map(str::to_string),
                    "database" => Some(self.session.database.clone()),
                    n => self.session.get(n).map(str::to_string),
                };
                let value = value.ok_or_else(|| {
                    SqlError::new(
                        "42704",
                        format!("unrecognized configuration parameter \"{name}\""),
                    )
                })?;
                let desc = RelationDesc::new(
                    vec![name],
                    vec![crate::repr::ColumnType::new(ScalarType::Text, false)],
                );
                Ok(Outcome::Rows {
                    desc,
                    rows: vec![vec![Datum::String(value)]],
                    tag: "SHOW",
                })
            }
            Plan::DeclareCursor { name, plan } => {
                if self.cursors.contains_key(&name) {
                    return Err(SqlError::new(
                        "42P03",
                        format!("cursor \"{name}\" already exists"),
                    ));
                }
                let cursor = match *plan {
                    Plan::Subscribe { .. } => match self.coord.sequence(&self.session, *plan)? {
                        Response::Subscribe(sub) => Cursor::Subscribe {
                            sub,
                            buffered: Default::default(),
                        },
                        _ => {
                            return Err(SqlError::internal(
                                "SUBSCRIBE did not start a subscription",
                            ))
                        }
                    },
                    plan => match self.coord.sequence(&self.session, plan)? {
                        Response::Rows(read) => {
                            let desc = read.desc.clone();
                            Cursor::Rows {
                                desc,
                                rows: read.rows().await?.into_iter(),
                            }
                        }
                        _ => return Err(SqlError::internal("a cursor's query produced no rows")),
                    },
                };
                self.cursors.insert(name, cursor);
                Ok(Outcome::Tag("DECLARE CURSOR".into()))
            }
            Plan::Fetch {
                name,
                count,
                timeout,
            } => self.fetch(&name, count, timeout).await,
            Plan::CloseCursor { name } => {
                match name {
                    None => self.cursors.clear(),
                    Some(n) => {
                        if self.cursors.remove(&n).is_none() {
                            return Err(SqlError::new(
                                "34000",
                                format!("cursor \"{n}\" does not exist"),
                            ));
                        }
                    }
                }
                Ok(Outcome::Tag("CLOSE CURSOR".into()))
            }
            Plan::Deallocate { name } => match name {
                None => {
                    self.statements.clear();
                    Ok(Outcome::Tag("DEALLOCATE ALL".into()))
                }
                Some(n) if self.statements.remove(&n).is_some() => {
                    Ok(Outcome::Tag("DEALLOCATE".into()))
                }
                Some(n) => Err(SqlError::new(
                    "26000",
                    format!("prepared statement \"{n}\" does not exist"),
                )),
            },
            Plan::Subscribe { .. } | Plan::CopySubscribe(_) => {
                let plan = match plan {
                    Plan::CopySubscribe(p) => *p,
                    p => p,
                };
                match self.coord.sequence(&self.session, plan)? {
                    Response::Subscribe(sub) => self.copy_subscribe(sub).await,
                    _ => Err(SqlError::internal("SUBSCRIBE did not start a subscription")),
                }
            }
            Plan::Copy(copy) => self.copy(copy).await,
            Plan::Empty => Ok(Outcome::Tag(empty_tag(stmt))),
            plan => {
                let select_tag = matches!(plan, Plan::Select(_));
                let tag = if matches!(plan, Plan::Explain(_)) {
                    "EXPLAIN"
                } else if select_tag {
                    "SELECT"
                } else {
                    "SHOW"
                };
                let response = self.coord.sequence(&self.session, plan)?;
                match response {
                    Response::Durable { tag, durable } => {
                        durable.await.map_err(|_| {
                            SqlError::new("58030", "the log could not make this write durable")
                        })?;
                        Ok(Outcome::Tag(tag))
                    }
                    Response::Tag(t) if t.is_empty() => Ok(Outcome::Tag(empty_tag(stmt))),
                    Response::Tag(t) => Ok(Outcome::Tag(t)),
                    Response::Rows(read) => {
                        let desc = read.desc.clone();
                        let rows = tokio::select! {
                            rows = read.rows() => rows?,
                            _ = self.cancel.notified() => return Err(canceled()),
                        };
                        Ok(Outcome::Rows { desc, rows, tag })
                    }
                    Response::Subscribe(sub) => self.copy_subscribe(sub).await,
                }
            }
        }
    }

    fn close_unheld_cursors(&mut self) {
        self.cursors.clear();
    }

    /// Every setting back to its value when the session started.
    fn restore_settings(&mut self) -> Result<(), SqlError> {
        let before = std::mem::replace(&mut self.session, self.started.clone());
        self.report_changes(&before)
    }

    /// Tells the client the new value of each reported setting (`DateStyle`, `TimeZone`, ...)
    /// that changed since `before`, as Postgres does after `SET` and `RESET`.
    fn report_changes(&mut self, before: &Session) -> Result<(), SqlError> {
        for name in crate::coord::session::REPORTED {
            if let Some(value) = self
                .session
                .get(name)
                .filter(|v| before.get(name) != Some(*v))
            {
                let status = ParameterStatus::new(report_name(name), value.to_string());
                self.send(B::ParameterStatus(status))?;
            }
        }
        Ok(())
    }
}

fn same_statement(a: &Statement, b: &Statement) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn aborted() -> SqlError {
    SqlError::new(
        "25P02",
        "current transaction is aborted, commands ignored until end of transaction block",
    )
}

fn canceled() -> SqlError {
    SqlError::new("57014", "canceling statement due to user request")
}

/// The CommandComplete tag for statements that do nothing here (SET TRANSACTION, DISCARD, ...).
fn empty_tag(stmt: &Statement) -> String {
    match stmt {
        Statement::Flush => "FLUSH".into(),
        Statement::Sql(s) => s
            .to_string()
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_uppercase(),
        _ => String::new(),
    }
}
