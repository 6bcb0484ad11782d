//! Plans for whole statements: DDL, writes, reads, subscriptions, session commands.

use sqlparser::ast::{self, ObjectType, Statement as Ast};

use super::coerce::cast;
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::from::resolve_relation;
use super::query::{lower_subquery, plan_query, Finishing, QueryCx};
use super::scope::Scope;
use super::write::{plan_delete, plan_insert, plan_update};
use super::PlanContext;
use crate::catalog::{ItemKind, QualifiedName};
use crate::ir::RelExpr;
use crate::parse::{normalize_ident, ShowObjects, Statement, Subscribe, SubscribeFrom};
use crate::repr::{ColumnType, Datum, RelationDesc, ScalarType, Timestamp};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

#[derive(Clone, Debug)]
pub struct SelectPlan {
    pub expr: RelExpr,
    pub desc: RelationDesc,
    pub finishing: Finishing,
    /// `AS OF`: the past time to read at (milliseconds since the epoch); none means now.
    pub as_of: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DropKind {
    Table,
    Source,
    Sink,
    View,
    MaterializedView,
    Index,
}

#[derive(Clone, Debug)]
pub enum ShowKind {
    Objects(ShowObjects),
    Hydration,
}

#[derive(Clone, Debug)]
pub enum Plan {
    Select(SelectPlan),
    Subscribe {
        plan: SelectPlan,
        snapshot: bool,
        progress: bool,
        as_of: Option<Timestamp>,
    },
    /// `create_sql` (here and below) is the statement as the log records it, to be planned
    /// again on start-up.
    /// `retain_history` (here and below): `WITH (RETAIN HISTORY = ...)` in milliseconds, how
    /// far back `AS OF` may read; none means the server's default.
    CreateTable {
        name: QualifiedName,
        desc: RelationDesc,
        if_not_exists: bool,
        retain_history: Option<Timestamp>,
        event_time: Option<usize>,
        /// `WATERMARK = 'interval'` (how far behind the largest event time the watermark of
        /// windows over the table stands: their default grace), `IDLE` and `LATE`.
        close_defaults: crate::ir::window::CloseDefaults,
        /// `APPEND_ONLY = true`: INSERT only.
        append_only: bool,
        /// Each column's `DEFAULT` as written.
        defaults: Vec<Option<String>>,
        create_sql: String,
    },
    /// A relation fed by a Kafka topic.
    CreateSource {
        name: QualifiedName,
        desc: RelationDesc,
        if_not_exists: bool,
        kafka: crate::source::KafkaSpec,
        /// The statement, whose `to_sql` (once the broker is known) the log records.
        statement: Box<crate::parse::CreateSource>,
    },
    /// Relations filled by a load generator.
    CreateGenerator(Box<super::generator::CreateGeneratorPlan>),
    CreateSink(super::kafka::CreateSinkPlan),
    /// ksqlDB's persistent query into a topic: the view, then a sink of it keyed by `key`
    /// (column names; none means the whole row), made by the coordinator once the view exists.
    CreateViewIntoTopic {
        view: Box<Plan>,
        output: crate::parse::TopicOutput,
        key: Vec<String>,
    },
    CreateView {
        name: QualifiedName,
        desc: RelationDesc,
        expr: RelExpr,
        materialized: bool,
        retain_history: Option<Timestamp>,
        if_not_exists: bool,
        or_replace: bool,
        create_sql: String,
    },
    CreateIndex {
        name: QualifiedName,
        on: crate::repr::GlobalId,
        key: Vec<usize>,
        if_not_exists: bool,
        create_sql: String,
    },
    CreateDatabase {
        name: String,
        if_not_exists: bool,
    },
    DropDatabase {
        name: String,
        if_exists: bool,
    },
    CreateSchema {
        name: String,
        if_not_exists: bool,
    },
    Drop {
        kind: DropKind,
        names: Vec<Vec<String>>,
        if_exists: bool,
        cascade: bool,
    },
    /// Rows to append (already in the table's column order and types).
    Insert {
        id: crate::repr::GlobalId,
        source: RelExpr,
    },
    /// Rows to retract: the matching rows, and for UPDATE their replacements, computed by one
    /// plan over the table whose output is `old columns ++ new columns`.
    Update {
        id: crate::repr::GlobalId,
        changes: RelExpr,
        arity: usize,
        is_delete: bool,
    },
    Explain(String),
    SetVariable {
        name: String,
        value: Option<String>,
    },
    ShowVariable(String),
    StartTransaction,
    Commit,
    Rollback,
    /// `SAVEPOINT name`, `RELEASE [SAVEPOINT] name`, `ROLLBACK TO [SAVEPOINT] name`: accepted
    /// for the drivers that wrap statements in them; writes are applied when made, so a
    /// rollback to a savepoint clears a failed transaction but undoes no write.
    Savepoint(String),
    ReleaseSavepoint(String),
    RollbackToSavepoint(String),
    DeclareCursor {
        name: String,
        plan: Box<Plan>,
    },
    Fetch {
        name: String,
        count: Option<u64>,
        timeout: Option<std::time::Duration>,
    },
    CloseCursor {
        name: Option<String>,
    },
    /// `DEALLOCATE [PREPARE] name | ALL`: forget a session's prepared statement (all of them).
    Deallocate {
        name: Option<String>,
    },
    /// `RESET ALL`: every session setting back to its value when the session started.
    ResetAll,
    /// `DISCARD ALL`: `RESET ALL`, `DEALLOCATE ALL` and `CLOSE ALL` (what connection pools
    /// send before handing a session to another client).
    DiscardAll,
    Show(ShowKind),
    CopySubscribe(Box<Plan>),
    Copy(super::copy::CopyPlan),
    Flush,
    Empty,
}

pub fn plan_statement(pcx: &PlanContext, stmt: &Statement) -> PlanResult<Plan> {
    let plan = plan_statement_inner(pcx, stmt)?;
    // The catalog relations are constants as of planning: what is maintained would freeze.
    if pcx.reads_system.get()
        && matches!(
            plan,
            Plan::CreateView { .. } | Plan::Subscribe { .. } | Plan::CreateSink(_)
        )
    {
        return unsupported(
            "views, subscriptions and sinks over pg_catalog or information_schema are",
        );
    }
    Ok(plan)
}

fn plan_statement_inner(pcx: &PlanContext, stmt: &Statement) -> PlanResult<Plan> {
    match stmt {
        Statement::Empty => Ok(Plan::Empty),
        Statement::Flush => Ok(Plan::Flush),
        Statement::Show(s) => Ok(Plan::Show(ShowKind::Objects(s.clone()))),
        Statement::ShowHydration => Ok(Plan::Show(ShowKind::Hydration)),
        Statement::CreateSource(cs) => super::kafka::plan_create_source(pcx, cs),
        Statement::CreateGenerator(g) => super::generator::plan_create_generator(pcx, g),
        Statement::CreateSink(cs) => super::kafka::plan_create_sink(pcx, cs),
        Statement::CreateViewIntoTopic { view, output } => {
            super::kafka::plan_view_into_topic(pcx, view, output)
        }
        Statement::DropSink(ast) => match plan_ast(pcx, ast)? {
            Plan::Drop {
                names,
                if_exists,
                cascade,
                ..
            } => Ok(Plan::Drop {
                kind: DropKind::Sink,
                names,
                if_exists,
                cascade,
            }),
            other => Err(PlanError::Internal(format!(
                "DROP SINK planned as {other:?}"
            ))),
        },
        Statement::Subscribe(s) => plan_subscribe(pcx, s),
        Statement::CopySubscribe(s) => Ok(Plan::CopySubscribe(Box::new(plan_subscribe(pcx, s)?))),
        Statement::DeclareSubscribe { name, subscribe } => Ok(Plan::DeclareCursor {
            name: name.clone(),
            plan: Box::new(plan_subscribe(pcx, subscribe)?),
        }),
        Statement::Fetch {
            name,
            count,
            timeout,
        } => Ok(Plan::Fetch {
            name: name.clone(),
            count: *count,
            timeout: *timeout,
        }),
        Statement::Sql(ast) => plan_ast(pcx, ast),
        Statement::SelectAsOf { query, as_of } => Ok(Plan::Select(SelectPlan {
            as_of: Some(plan_as_of(pcx, as_of)?),
            ..plan_select_query(pcx, query)?
        })),
    }
}

fn plan_subscribe(pcx: &PlanContext, s: &Subscribe) -> PlanResult<Plan> {
    let plan = match &s.from {
        SubscribeFrom::Name(parts) => {
            let (expr, names) = resolve_relation(pcx, parts)?;
            let desc = RelationDesc::new(names, expr.typ());
            let arity = desc.arity();
            SelectPlan {
                expr,
                desc,
                finishing: Finishing {
                    project: (0..arity).collect(),
                    ..Default::default()
                },
                as_of: None,
            }
        }
        SubscribeFrom::Query(q) => plan_select_query(pcx, q)?,
    };
    if !plan.finishing.order.is_empty() || plan.finishing.limit.is_some() {
        return unsupported("ORDER BY or LIMIT in SUBSCRIBE");
    }
    Ok(Plan::Subscribe {
        plan,
        snapshot: s.snapshot,
        progress: s.progress,
        as_of: s.as_of.as_ref().map(|e| plan_as_of(pcx, e)).transpose()?,
    })
}

/// A retention period such as `'1 hour'`, `'5min'` or `'0'`, in milliseconds.
pub fn parse_retention(text: &str) -> Result<Timestamp, String> {
    let iv = crate::repr::strconv::parse_interval(text).ok_or_else(|| {
        format!("invalid RETAIN HISTORY \"{text}\": expected a duration such as '1 hour'")
    })?;
    let ms = iv.as_micros() / 1000;
    if ms < 0 {
        return Err(format!("RETAIN HISTORY \"{text}\" must not be negative"));
    }
    Ok(ms.min(Timestamp::MAX as i128) as Timestamp)
}

/// An `AS OF` time: milliseconds since the epoch (what SUBSCRIBE reports as `mz_timestamp`), or
/// a timestamp such as `now() - interval '1 minute'`.
pub fn plan_as_of(pcx: &PlanContext, e: &ast::Expr) -> PlanResult<Timestamp> {
    let root = QueryCx::root(pcx);
    let mut cx = ExprCx::new(&root, RelExpr::unit(), Scope::default(), "AS OF");
    let (s, t) = cx.plan_typed(e)?;
    let s = match t.scalar {
        ScalarType::Unknown => {
            // A quoted literal: a number of milliseconds, or a timestamp.
            let text = e.to_string();
            let text = text.trim_matches('\'');
            if let Ok(ms) = text.parse::<u64>() {
                return Ok(ms);
            }
            cast(s, ScalarType::Unknown, ScalarType::TimestampTz)
        }
        ScalarType::Timestamp => cast(s, t.scalar, ScalarType::TimestampTz),
        _ => s,
    };
    let invalid = |what: String| PlanError::InvalidParameter(format!("AS OF {what}"));
    match s.eval(&[])? {
        Datum::Int16(n) if n >= 0 => Ok(n as Timestamp),
        Datum::Int32(n) if n >= 0 => Ok(n as Timestamp),
        Datum::Int64(n) if n >= 0 => Ok(n as Timestamp),
        Datum::Numeric(n) if n >= Decimal::ZERO => n
            .trunc()
            .to_u64()
            .ok_or_else(|| invalid(format!("{n} is out of range"))),
        Datum::TimestampTz(t) if t.timestamp_millis() >= 0 => Ok(t.timestamp_millis() as Timestamp),
        Datum::Null => Err(invalid("must not be null".into())),
        other => Err(invalid(format!(
            "must be a non-negative number of milliseconds since the epoch or a timestamp, not {}",
            crate::repr::strconv::format(&other).unwrap_or_default()
        ))),
    }
}

pub fn plan_select_query(pcx: &PlanContext, q: &ast::Query) -> PlanResult<SelectPlan> {
    let root = QueryCx::root(pcx);
    let pq = plan_query(&root, q)?;
    let types = pq.expr.typ();
    let desc = RelationDesc::new(
        pq.names.clone(),
        pq.finishing
            .project
            .iter()
            .map(|i| unknown_as_text(types[*i].clone()))
            .collect(),
    );
    Ok(SelectPlan {
        expr: pq.expr,
        desc,
        finishing: pq.finishing,
        as_of: None,
    })
}

fn unknown_as_text(t: ColumnType) -> ColumnType {
    if t.scalar == ScalarType::Unknown {
        ColumnType::new(ScalarType::Text, t.nullable)
    } else {
        t
    }
}

pub(super) fn object_name(name: &ast::ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(normalize_ident)
                .unwrap_or_else(|| p.to_string())
        })
        .collect()
}

/// The qualified name a new object gets.
pub(super) fn new_item_name(
    pcx: &PlanContext,
    name: &ast::ObjectName,
) -> PlanResult<QualifiedName> {
    let parts = object_name(name);
    let (database, schema, item) = match parts.as_slice() {
        [item] => (
            pcx.database.clone(),
            pcx.search_path.first().cloned().unwrap_or("public".into()),
            item.clone(),
        ),
        [schema, item] => (pcx.database.clone(), schema.clone(), item.clone()),
        [db, schema, item] => (db.clone(), schema.clone(), item.clone()),
        _ => {
            return Err(PlanError::Syntax(format!(
                "improper qualified name: {name}"
            )))
        }
    };
    if !pcx.catalog.schema_exists(&database, &schema) {
        return Err(PlanError::UnknownSchema(schema));
    }
    Ok(QualifiedName {
        database,
        schema,
        item,
    })
}

fn plan_ast(pcx: &PlanContext, stmt: &Ast) -> PlanResult<Plan> {
    match stmt {
        Ast::Query(q) => Ok(Plan::Select(plan_select_query(pcx, q)?)),
        Ast::CreateTable(ct) => super::create_table::plan_create_table(pcx, ct, stmt),
        Ast::CreateView(cv) => {
            let name = new_item_name(pcx, &cv.name)?;
            let plan = plan_select_query(pcx, &cv.query)?;
            let mut names = plan.desc.names.clone();
            for (i, c) in cv.columns.iter().enumerate() {
                if i < names.len() {
                    names[i] = normalize_ident(&c.name);
                }
            }
            let mut seen = std::collections::BTreeSet::new();
            for n in &names {
                if !seen.insert(n) {
                    return Err(PlanError::DuplicateColumn(n.clone()));
                }
            }
            // A view keeps its ORDER BY only with LIMIT (as a top-k): a relation has no order.
            let expr = lower_subquery(
                super::query::PlannedQuery {
                    expr: plan.expr,
                    names: names.clone(),
                    finishing: plan.finishing,
                },
                0,
            );
            let desc = RelationDesc::new(names, plan.desc.types);
            let options = super::create_table::table_options(&cv.options)?;
            if options.event_time.is_some() {
                return unsupported(
                    "TIMESTAMP on a view: a view's event time is the column that carries its \
                     input's through by name",
                );
            }
            let retain_history = options.retain_history;
            if retain_history.is_some() && !cv.materialized {
                return unsupported("RETAIN HISTORY on a view that is not materialized");
            }
            Ok(Plan::CreateView {
                name,
                desc,
                expr,
                materialized: cv.materialized,
                retain_history,
                if_not_exists: cv.if_not_exists,
                or_replace: cv.or_replace,
                create_sql: stmt.to_string(),
            })
        }
        Ast::CreateIndex(ci) => {
            let on = pcx.catalog.resolve(
                &object_name(&ci.table_name),
                &pcx.database,
                &pcx.search_path,
            )?;
            if !on.kind.is_arranged() && !matches!(on.kind, ItemKind::View { .. }) {
                return Err(PlanError::WrongObjectType(
                    on.name.item.clone(),
                    "table or view",
                ));
            }
            if matches!(on.kind, ItemKind::View { .. }) {
                return unsupported("CREATE INDEX on a non-materialized view");
            }
            if on.is_stream() {
                return unsupported("CREATE INDEX on an APPEND ONLY table or source (a stream)");
            }
            let scope = Scope::from_names(None, &on.desc.names);
            let mut key = Vec::new();
            for c in &ci.columns {
                let n = c.column.expr.to_string().to_lowercase();
                key.push(scope.resolve(None, n.trim_matches('"'))?);
            }
            let item = match &ci.name {
                Some(n) => object_name(n).last().cloned().unwrap_or_default(),
                None => format!(
                    "{}_{}_idx",
                    on.name.item,
                    key.iter()
                        .map(|k| on.desc.names[*k].clone())
                        .collect::<Vec<_>>()
                        .join("_")
                ),
            };
            let name = QualifiedName {
                database: on.name.database.clone(),
                schema: on.name.schema.clone(),
                item,
            };
            Ok(Plan::CreateIndex {
                name,
                on: on.id,
                key,
                if_not_exists: ci.if_not_exists,
                create_sql: stmt.to_string(),
            })
        }
        Ast::CreateDatabase {
            db_name,
            if_not_exists,
            ..
        } => Ok(Plan::CreateDatabase {
            name: object_name(db_name).join("."),
            if_not_exists: *if_not_exists,
        }),
        Ast::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => match schema_name {
            ast::SchemaName::Simple(n) => Ok(Plan::CreateSchema {
                name: object_name(n).join("."),
                if_not_exists: *if_not_exists,
            }),
            _ => unsupported("CREATE SCHEMA AUTHORIZATION"),
        },
        Ast::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } => {
            let kind = match object_type {
                ObjectType::Table => DropKind::Table,
                ObjectType::View => DropKind::View,
                ObjectType::MaterializedView => DropKind::MaterializedView,
                ObjectType::Index => DropKind::Index,
                // `DROP SOURCE` (spelled STREAM for sqlparser by the parser; ksqlDB's word).
                ObjectType::Stream => DropKind::Source,
                ObjectType::Database => {
                    return Ok(Plan::DropDatabase {
                        name: object_name(&names[0]).join("."),
                        if_exists: *if_exists,
                    })
                }
                other => return unsupported(format!("DROP {other}")),
            };
            Ok(Plan::Drop {
                kind,
                names: names.iter().map(object_name).collect(),
                if_exists: *if_exists,
                cascade: *cascade,
            })
        }
        Ast::Insert(ins) => plan_insert(pcx, ins),
        Ast::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            values,
        } => {
            if !values.is_empty() {
                return unsupported("COPY with inline data; send the rows as COPY data");
            }
            super::copy::plan_copy(pcx, source, *to, target, options, legacy_options)
                .map(Plan::Copy)
        }
        Ast::Update(up) => plan_update(pcx, up),
        Ast::Delete(del) => plan_delete(pcx, del),
        Ast::Explain { statement, .. } => {
            let plan = plan_ast(pcx, statement)?;
            let (expr, is_select) = match plan {
                Plan::Select(s) => (s.expr, true),
                Plan::CreateView { expr, .. } => (expr, false),
                _ => return unsupported("EXPLAIN of this statement"),
            };
            let expr = crate::optimize::optimize(expr);
            let wanted = expr.indexes_wanted();
            let mut used: Vec<String> = pcx
                .catalog
                .items()
                .filter(|i| matches!(&i.kind, ItemKind::Index { on, key } if wanted.contains(&(*on, key.clone()))))
                .map(|i| format!("  {} (join input)\n", i.name.item))
                .collect();
            // A one-off read (not a view, which is maintained) may look its answer up.
            if let Some((index, _, _)) = pcx.catalog.index_lookup(&expr).filter(|_| is_select) {
                used.push(format!("  {} (lookup)\n", index.name.item));
            }
            let mut text = expr.to_string();
            if !used.is_empty() {
                text.push_str("Used indexes:\n");
                text.extend(used);
            }
            Ok(Plan::Explain(text))
        }
        Ast::Set(set) => match set {
            ast::Set::SingleAssignment {
                variable, values, ..
            } => {
                let name = variable.to_string().to_lowercase();
                let value = values
                    .iter()
                    .map(|v| match v {
                        ast::Expr::Value(v) => match &v.value {
                            ast::Value::SingleQuotedString(s) => s.clone(),
                            other => other.to_string(),
                        },
                        ast::Expr::Identifier(id) => id.value.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let value = if value.eq_ignore_ascii_case("default") {
                    None
                } else {
                    Some(value)
                };
                Ok(Plan::SetVariable { name, value })
            }
            ast::Set::SetTimeZone { value, .. } => Ok(Plan::SetVariable {
                name: "timezone".into(),
                value: Some(value.to_string().trim_matches('\'').to_string()),
            }),
            ast::Set::SetTransaction { .. } => Ok(Plan::Empty),
            ast::Set::SetNames { charset_name, .. } => Ok(Plan::SetVariable {
                name: "client_encoding".into(),
                value: Some(charset_name.to_string()),
            }),
            other => unsupported(format!("{other}")),
        },
        Ast::ShowVariable { variable } => Ok(Plan::ShowVariable(
            variable
                .iter()
                .map(|v| v.value.to_lowercase())
                .collect::<Vec<_>>()
                .join(" "),
        )),
        Ast::StartTransaction { .. } => Ok(Plan::StartTransaction),
        Ast::Commit { .. } => Ok(Plan::Commit),
        Ast::Rollback {
            savepoint: None, ..
        } => Ok(Plan::Rollback),
        Ast::Rollback {
            savepoint: Some(name),
            ..
        } => Ok(Plan::RollbackToSavepoint(normalize_ident(name))),
        Ast::Savepoint { name } => Ok(Plan::Savepoint(normalize_ident(name))),
        Ast::ReleaseSavepoint { name } => Ok(Plan::ReleaseSavepoint(normalize_ident(name))),
        Ast::Declare { stmts } => {
            let d = stmts
                .first()
                .ok_or_else(|| PlanError::Syntax("empty DECLARE".into()))?;
            let name = d.names.first().map(normalize_ident).unwrap_or_default();
            let q = d
                .for_query
                .as_ref()
                .ok_or_else(|| unsupported::<()>("DECLARE without FOR").unwrap_err())?;
            Ok(Plan::DeclareCursor {
                name,
                plan: Box::new(Plan::Select(plan_select_query(pcx, q)?)),
            })
        }
        Ast::Close { cursor } => Ok(Plan::CloseCursor {
            name: match cursor {
                ast::CloseCursor::All => None,
                ast::CloseCursor::Specific { name } => Some(normalize_ident(name)),
            },
        }),
        Ast::Discard {
            object_type: ast::DiscardObject::ALL,
        } => Ok(Plan::DiscardAll),
        Ast::Discard { .. } => Ok(Plan::Empty),
        Ast::Reset(r) => match &r.reset {
            ast::Reset::ALL => Ok(Plan::ResetAll),
            ast::Reset::ConfigurationParameter(name) => Ok(Plan::SetVariable {
                name: name.to_string().to_lowercase(),
                value: None,
            }),
            ast::Reset::SessionAuthorization => unsupported("RESET SESSION AUTHORIZATION"),
        },
        Ast::Deallocate { name, .. } => Ok(Plan::Deallocate {
            name: (name.quote_style.is_some() || !name.value.eq_ignore_ascii_case("all"))
                .then(|| normalize_ident(name)),
        }),
        other => unsupported(first_words(&other.to_string())),
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}
