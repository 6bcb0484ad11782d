//! Plans for whole statements: DDL, writes, reads, subscriptions, session commands.

use sqlparser::ast::{self, ObjectType, Statement as Ast};

use super::coerce::{can_implicitly_cast, cast, scalar_type};
use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::from::resolve_relation;
use super::query::{lower_subquery, plan_query, Finishing, QueryCx};
use super::scope::Scope;
use super::PlanContext;
use crate::catalog::{ItemKind, QualifiedName};
use crate::ir::{RelExpr, ScalarExpr};
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
    CreateSink {
        name: QualifiedName,
        desc: RelationDesc,
        if_not_exists: bool,
        from: crate::repr::GlobalId,
        expr: RelExpr,
        spec: crate::sink::KafkaSinkSpec,
        create_sql: String,
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
    Show(ShowKind),
    CopySubscribe(Box<Plan>),
    Copy(super::copy::CopyPlan),
    Flush,
    Empty,
}

pub fn plan_statement(pcx: &PlanContext, stmt: &Statement) -> PlanResult<Plan> {
    match stmt {
        Statement::Empty => Ok(Plan::Empty),
        Statement::Flush => Ok(Plan::Flush),
        Statement::Show(s) => Ok(Plan::Show(ShowKind::Objects(s.clone()))),
        Statement::ShowHydration => Ok(Plan::Show(ShowKind::Hydration)),
        Statement::CreateSource(cs) => plan_create_source(pcx, cs),
        Statement::CreateSink(cs) => plan_create_sink(pcx, cs),
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

/// `WITH (RETAIN HISTORY [=] [FOR] '1 hour')` on a table or materialized view (the parser
/// spells the option `retain_history`), in milliseconds.
fn retain_history(options: &ast::CreateTableOptions) -> PlanResult<Option<Timestamp>> {
    let options = match options {
        ast::CreateTableOptions::None => return Ok(None),
        ast::CreateTableOptions::With(o) => o,
        other => return unsupported(format!("options {other}")),
    };
    let mut retain = None;
    for o in options {
        match o {
            ast::SqlOption::KeyValue { key, value }
                if key.value.eq_ignore_ascii_case("retain_history") =>
            {
                let text = match value {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => s.clone(),
                        other => other.to_string(),
                    },
                    other => other.to_string(),
                };
                retain = Some(parse_retention(&text).map_err(PlanError::InvalidParameter)?);
            }
            other => return unsupported(format!("option {other}")),
        }
    }
    Ok(retain)
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
fn new_item_name(pcx: &PlanContext, name: &ast::ObjectName) -> PlanResult<QualifiedName> {
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

/// The names and types of declared columns.
fn column_defs(columns: &[ast::ColumnDef]) -> PlanResult<(Vec<String>, Vec<ColumnType>)> {
    let mut names = Vec::new();
    let mut types = Vec::new();
    for c in columns {
        let n = normalize_ident(&c.name);
        if names.contains(&n) {
            return Err(PlanError::DuplicateColumn(n));
        }
        let not_null = c.options.iter().any(|o| {
            matches!(
                o.option,
                ast::ColumnOption::NotNull | ast::ColumnOption::PrimaryKey(_)
            )
        });
        names.push(n);
        types.push(ColumnType::new(scalar_type(&c.data_type)?, !not_null));
    }
    Ok((names, types))
}

fn plan_create_source(pcx: &PlanContext, cs: &crate::parse::CreateSource) -> PlanResult<Plan> {
    use crate::parse::{Envelope, SourceFormat};
    let name = new_item_name(pcx, &cs.name)?;
    let (mut names, mut types) = (Vec::new(), Vec::new());
    for c in &cs.columns {
        let n = normalize_ident(&c.name);
        if names.contains(&n) {
            return Err(PlanError::DuplicateColumn(n));
        }
        names.push(n);
        types.push(ColumnType::new(scalar_type(&c.data_type)?, !c.not_null));
    }
    if cs.columns.is_empty() {
        match cs.format {
            SourceFormat::Json => {
                names.push("data".into());
                types.push(ColumnType::new(ScalarType::Jsonb, false));
            }
            SourceFormat::Text => {
                names.push("text".into());
                types.push(ColumnType::new(ScalarType::Text, false));
            }
            SourceFormat::Csv { columns } => {
                for i in 1..=columns {
                    names.push(format!("column{i}"));
                    types.push(ColumnType::new(ScalarType::Text, true));
                }
            }
            SourceFormat::Avro => {}
        }
    }
    if let Some(text) = &cs.avro_schema {
        let schema =
            crate::source::avro::parse_schema(text).map_err(PlanError::InvalidParameter)?;
        let fields = crate::source::avro::columns(&schema).map_err(PlanError::InvalidParameter)?;
        if cs.columns.is_empty() {
            for (name, typ) in fields {
                // A key column is NOT NULL whatever the schema says.
                let key = cs.key.contains(&name);
                names.push(name);
                types.push(ColumnType::new(typ.scalar, typ.nullable && !key));
            }
        }
    }
    if cs.envelope == Envelope::Debezium
        && !matches!(cs.format, SourceFormat::Json | SourceFormat::Avro)
    {
        return unsupported("ENVELOPE DEBEZIUM with a format other than JSON or AVRO");
    }
    let value_columns = names.len();
    for (m, n) in &cs.include {
        if names.contains(n) {
            return Err(PlanError::DuplicateColumn(n.clone()));
        }
        let (scalar, nullable) = crate::source::decode::metadata_type(*m);
        names.push(n.clone());
        types.push(ColumnType::new(scalar, nullable));
    }
    let position = |n: &str| names.iter().position(|x| x == n);
    let key = cs
        .key
        .iter()
        .map(|k| position(k).ok_or_else(|| PlanError::UnknownColumn(k.clone())))
        .collect::<PlanResult<Vec<_>>>()?;
    let timestamp = match &cs.timestamp {
        None => None,
        Some(t) => {
            let i = position(t).ok_or_else(|| PlanError::UnknownColumn(t.clone()))?;
            if !matches!(
                types[i].scalar,
                ScalarType::Timestamp | ScalarType::TimestampTz | ScalarType::Int64
            ) {
                return Err(PlanError::TypeMismatch(format!(
                    "the event-time column \"{t}\" must be a timestamp or epoch milliseconds (bigint), not {}",
                    types[i].scalar.name()
                )));
            }
            Some(i)
        }
    };
    Ok(Plan::CreateSource {
        name,
        desc: RelationDesc::new(names, types),
        if_not_exists: cs.if_not_exists,
        kafka: crate::source::KafkaSpec {
            broker: cs.broker.clone().unwrap_or_default(),
            topic: cs.topic.clone(),
            format: cs.format,
            avro_schema: cs.avro_schema.clone(),
            envelope: cs.envelope,
            key,
            value_columns,
            include: cs.include.iter().map(|(m, _)| *m).collect(),
            start_offsets: cs.start_offsets.clone(),
            on_error: cs.on_error,
            timestamp,
        },
        statement: Box::new(cs.clone()),
    })
}

fn plan_create_sink(pcx: &PlanContext, cs: &crate::parse::CreateSink) -> PlanResult<Plan> {
    let name = new_item_name(pcx, &cs.name)?;
    let parts = object_name(&cs.from);
    let item = pcx
        .catalog
        .resolve(&parts, &pcx.database, &pcx.search_path)?;
    let (expr, names) = resolve_relation(pcx, &parts)?;
    let key = cs
        .key
        .iter()
        .map(|k| {
            names
                .iter()
                .position(|n| n == k)
                .ok_or_else(|| PlanError::UnknownColumn(k.clone()))
        })
        .collect::<PlanResult<Vec<_>>>()?;
    let desc = RelationDesc::new(names, expr.typ());
    Ok(Plan::CreateSink {
        name,
        desc,
        if_not_exists: cs.if_not_exists,
        from: item.id,
        expr,
        spec: crate::sink::KafkaSinkSpec {
            broker: cs.broker.clone(),
            topic: cs.topic.clone(),
            key,
            envelope: cs.envelope,
        },
        create_sql: cs.sql.clone(),
    })
}

fn plan_ast(pcx: &PlanContext, stmt: &Ast) -> PlanResult<Plan> {
    match stmt {
        Ast::Query(q) => Ok(Plan::Select(plan_select_query(pcx, q)?)),
        Ast::CreateTable(ct) => {
            if ct.query.is_some() {
                return unsupported("CREATE TABLE AS");
            }
            let name = new_item_name(pcx, &ct.name)?;
            let (names, mut types) = column_defs(&ct.columns)?;
            // PRIMARY KEY (a, b) as a table constraint implies NOT NULL.
            for con in &ct.constraints {
                if let ast::TableConstraint::PrimaryKey(pk) = con {
                    for col in &pk.columns {
                        let n = col.column.expr.to_string().to_lowercase();
                        if let Some(i) = names.iter().position(|x| *x == n) {
                            types[i].nullable = false;
                        }
                    }
                }
            }
            Ok(Plan::CreateTable {
                name,
                desc: RelationDesc::new(names, types),
                if_not_exists: ct.if_not_exists,
                retain_history: retain_history(&ct.table_options)?,
                create_sql: stmt.to_string(),
            })
        }
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
            let retain_history = retain_history(&cv.options)?;
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
            let expr = match plan {
                Plan::Select(s) => s.expr,
                Plan::CreateView { expr, .. } => expr,
                _ => return unsupported("EXPLAIN of this statement"),
            };
            let expr = crate::optimize::optimize(expr);
            Ok(Plan::Explain(expr.to_string()))
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
        Ast::Rollback { .. } => unsupported("ROLLBACK TO SAVEPOINT"),
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
        Ast::Discard { .. } => Ok(Plan::Empty),
        other => unsupported(first_words(&other.to_string())),
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The table a write targets (only tables accept writes).
/// The positions of the named target columns of a write (all columns when none are named).
pub(super) fn target_columns(
    table: &crate::catalog::CatalogItem,
    names: &[String],
) -> PlanResult<Vec<usize>> {
    let desc = &table.desc;
    if names.is_empty() {
        return Ok((0..desc.arity()).collect());
    }
    let scope = Scope::from_names(None, &desc.names);
    let mut cols = Vec::new();
    for n in names {
        let i = scope.resolve(None, n).map_err(|_| {
            PlanError::UnknownColumn(format!("{n}\" of relation \"{}", table.name.item))
        })?;
        if cols.contains(&i) {
            return Err(PlanError::DuplicateColumn(n.clone()));
        }
        cols.push(i);
    }
    Ok(cols)
}

pub(super) fn target_table<'a>(
    pcx: &'a PlanContext,
    name: &ast::ObjectName,
) -> PlanResult<&'a crate::catalog::CatalogItem> {
    let item = pcx
        .catalog
        .resolve(&object_name(name), &pcx.database, &pcx.search_path)?;
    if !matches!(item.kind, ItemKind::Table) {
        return Err(PlanError::WrongObjectType(item.name.item.clone(), "table")).map_err(|_| {
            PlanError::Unsupported(format!(
                "writing to {} \"{}\"",
                item.kind.type_name(),
                item.name.item
            ))
        });
    }
    Ok(item)
}

/// Converts `e` (typed `from`) for storage in a column of type `to`, as an assignment cast.
fn assign(e: ScalarExpr, from: ScalarType, to: ScalarType, column: &str) -> PlanResult<ScalarExpr> {
    let assignable = from == ScalarType::Unknown
        || can_implicitly_cast(from, to)
        || (from.is_numeric() && to.is_numeric());
    if !assignable {
        return Err(PlanError::TypeMismatch(format!(
            "column \"{column}\" is of type {} but expression is of type {}",
            to.name(),
            from.name()
        )));
    }
    Ok(cast(e, from, to))
}

fn plan_insert(pcx: &PlanContext, ins: &ast::Insert) -> PlanResult<Plan> {
    if ins.returning.is_some() {
        return unsupported("INSERT ... RETURNING");
    }
    if ins.on.is_some() {
        return unsupported("INSERT ... ON CONFLICT");
    }
    let ast::TableObject::TableName(name) = &ins.table else {
        return unsupported("INSERT into a table function");
    };
    let table = target_table(pcx, name)?;
    let desc = &table.desc;
    let names: Vec<String> = ins
        .columns
        .iter()
        .map(|c| object_name(c).last().cloned().unwrap_or_default())
        .collect();
    let columns = target_columns(table, &names)?;
    let source = ins
        .source
        .as_ref()
        .ok_or_else(|| PlanError::Unsupported("INSERT without a source".into()))?;
    if matches!(&*source.body, ast::SetExpr::Values(_)) {
        *pcx.values_hint.borrow_mut() =
            Some(columns.iter().map(|c| desc.types[*c].scalar).collect());
    }
    let root = QueryCx::root(pcx);
    let pq = plan_query(&root, source);
    pcx.values_hint.borrow_mut().take();
    let src = lower_subquery(pq?, 0);
    let src_types = src.typ();
    if src_types.len() > columns.len() {
        return Err(PlanError::Syntax(
            "INSERT has more expressions than target columns".into(),
        ));
    }
    if src_types.len() < columns.len() && !ins.columns.is_empty() {
        return Err(PlanError::Syntax(
            "INSERT has more target columns than expressions".into(),
        ));
    }
    // Build each table column: the matching source column, assignment-cast, or NULL.
    let mut scalars = Vec::new();
    for (i, t) in desc.types.iter().enumerate() {
        let e = match columns.iter().position(|c| *c == i) {
            Some(j) if j < src_types.len() => assign(
                ScalarExpr::Column(j),
                src_types[j].scalar,
                t.scalar,
                &desc.names[i],
            )?,
            _ => ScalarExpr::null(t.scalar),
        };
        scalars.push(e);
    }
    let n = src_types.len();
    let width = scalars.len();
    let source = src.map(scalars).project((n..n + width).collect());
    Ok(Plan::Insert {
        id: table.id,
        source,
    })
}

/// The rows of an UPDATE's or DELETE's target table that its WHERE clause selects, as an
/// expression context whose columns are the table's (plus any its subqueries add).
fn target_rows<'a, 'c>(
    root: &'a QueryCx<'c>,
    name: &ast::ObjectName,
    alias: Option<&ast::TableAlias>,
    selection: Option<&ast::Expr>,
    clause: &'static str,
) -> PlanResult<(&'c crate::catalog::CatalogItem, ExprCx<'a, 'c>)> {
    let table = target_table(root.pcx, name)?;
    let qualifier = alias
        .map(|a| normalize_ident(&a.name))
        .unwrap_or(table.name.item.clone());
    let get = RelExpr::Get {
        id: table.id,
        name: table.name.item.clone(),
        types: table.desc.types.clone(),
    };
    let mut cx = ExprCx::new(
        root,
        get,
        Scope::from_names(Some(&qualifier), &table.desc.names),
        clause,
    );
    if let Some(w) = selection {
        let p = cx.plan_as(w, ScalarType::Bool, "WHERE")?;
        let r = std::mem::replace(&mut cx.rel, RelExpr::unit());
        cx.rel = r.filter(vec![p]);
    }
    Ok((table, cx))
}

fn plan_update(pcx: &PlanContext, up: &ast::Update) -> PlanResult<Plan> {
    if up.from.is_some() || up.returning.is_some() || !up.table.joins.is_empty() {
        return unsupported("UPDATE with FROM, joins or RETURNING");
    }
    let ast::TableFactor::Table { name, alias, .. } = &up.table.relation else {
        return unsupported("UPDATE of this target");
    };
    let root = QueryCx::root(pcx);
    let (table, mut cx) =
        target_rows(&root, name, alias.as_ref(), up.selection.as_ref(), "UPDATE")?;
    let arity = table.desc.arity();
    let mut new: Vec<ScalarExpr> = (0..arity).map(ScalarExpr::Column).collect();
    let scope = Scope::from_names(None, &table.desc.names);
    for a in &up.assignments {
        let ast::AssignmentTarget::ColumnName(col) = &a.target else {
            return unsupported("UPDATE of a tuple of columns");
        };
        let n = object_name(col).last().cloned().unwrap_or_default();
        let i = scope.resolve(None, &n)?;
        let (e, t) = cx.plan_typed(&a.value)?;
        new[i] = assign(e, t.scalar, table.desc.types[i].scalar, &n)?;
    }
    let width = cx.types.len();
    let r = std::mem::replace(&mut cx.rel, RelExpr::unit());
    cx.rel = r.map(new);
    let (rel, _) = cx.finish();
    let changes = rel.project((0..arity).chain(width..width + arity).collect());
    Ok(Plan::Update {
        id: table.id,
        changes,
        arity,
        is_delete: false,
    })
}

fn plan_delete(pcx: &PlanContext, del: &ast::Delete) -> PlanResult<Plan> {
    if del.using.is_some() || del.returning.is_some() {
        return unsupported("DELETE with USING or RETURNING");
    }
    let from = match &del.from {
        ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
    };
    let Some(twj) = from.first() else {
        return Err(PlanError::Syntax("DELETE needs a table".into()));
    };
    let ast::TableFactor::Table { name, alias, .. } = &twj.relation else {
        return unsupported("DELETE of this target");
    };
    let root = QueryCx::root(pcx);
    let (table, cx) = target_rows(
        &root,
        name,
        alias.as_ref(),
        del.selection.as_ref(),
        "DELETE",
    )?;
    let arity = table.desc.arity();
    let (rel, _) = cx.finish();
    Ok(Plan::Update {
        id: table.id,
        changes: rel.project((0..arity).collect()),
        arity,
        is_delete: true,
    })
}
