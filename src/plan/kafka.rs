//! `CREATE SOURCE ... FROM KAFKA` and `CREATE SINK ... INTO KAFKA`: the relation a source's
//! records fill (declared columns, the format's defaults or an Avro schema's fields, then the
//! metadata columns) and the relation a sink writes out.

use sqlparser::ast;

use super::coerce::scalar_type;
use super::error::{unsupported, PlanError, PlanResult};
use super::from::resolve_relation;
use super::statement::{new_item_name, object_name, Plan};
use super::PlanContext;
use crate::catalog::QualifiedName;
use crate::ir::RelExpr;
use crate::parse::{normalize_ident, Statement};
use crate::repr::{ColumnType, GlobalId, RelationDesc, ScalarType};

/// A sink to create: its name, the relation it writes (`expr`, reading `from`) and where.
#[derive(Clone, Debug)]
pub struct CreateSinkPlan {
    pub name: QualifiedName,
    pub desc: RelationDesc,
    pub if_not_exists: bool,
    pub from: GlobalId,
    pub expr: RelExpr,
    pub spec: crate::sink::KafkaSinkSpec,
    pub create_sql: String,
}

pub(super) fn plan_create_source(
    pcx: &PlanContext,
    cs: &crate::parse::CreateSource,
) -> PlanResult<Plan> {
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
    if cs.format == SourceFormat::Bytes && types.iter().any(|t| t.scalar != ScalarType::Bytea) {
        return Err(PlanError::TypeMismatch(
            "FORMAT BYTES fills one column of type bytea".into(),
        ));
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
            SourceFormat::Bytes => {
                names.push("data".into());
                types.push(ColumnType::new(ScalarType::Bytea, false));
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
        // Key columns come from the record (its value or key), never from its metadata.
        .map(|k| {
            names[..value_columns]
                .iter()
                .position(|x| x == k)
                .ok_or_else(|| PlanError::UnknownColumn(k.clone()))
        })
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
            registry: cs.registry.clone(),
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

pub(super) fn plan_create_sink(
    pcx: &PlanContext,
    cs: &crate::parse::CreateSink,
) -> PlanResult<Plan> {
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
    Ok(Plan::CreateSink(CreateSinkPlan {
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
            format: cs.format,
        },
        create_sql: cs.sql.clone(),
    }))
}

/// ksqlDB's `CREATE STREAM|TABLE x WITH (KAFKA_TOPIC = ...) AS SELECT`: the view's plan, and the
/// key of its sink. A table's changelog is keyed by its GROUP BY columns (those in its output,
/// window bounds included), as ksqlDB keys it; a stream's records, and a table's without
/// grouping, by the whole row.
pub fn plan_view_into_topic(
    pcx: &PlanContext,
    view: &Statement,
    output: &crate::parse::TopicOutput,
) -> PlanResult<Plan> {
    let plan = super::statement::plan_statement(pcx, view)?;
    let Plan::CreateView {
        desc, materialized, ..
    } = &plan
    else {
        return Err(PlanError::Internal("a ksqlDB query is not a view".into()));
    };
    debug_assert!(materialized);
    let mut key = Vec::new();
    if output.table {
        let grouped = match view {
            Statement::Sql(stmt) => match stmt.as_ref() {
                ast::Statement::CreateView(cv) => grouping_output_names(&cv.query),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        key = desc
            .names
            .iter()
            .filter(|n| grouped.contains(n))
            .cloned()
            .collect();
    }
    Ok(Plan::CreateViewIntoTopic {
        view: Box::new(plan),
        output: output.clone(),
        key,
    })
}

/// The output names of a query's plain GROUP BY columns, as its select list names them
/// (`SELECT a, window_start AS ws ... GROUP BY a, window_start` gives a and ws).
fn grouping_output_names(query: &ast::Query) -> Vec<String> {
    let ast::SetExpr::Select(select) = query.body.as_ref() else {
        return Vec::new();
    };
    let ast::GroupByExpr::Expressions(exprs, _) = &select.group_by else {
        return Vec::new();
    };
    let column = |e: &ast::Expr| match e {
        ast::Expr::Identifier(i) => Some(normalize_ident(i)),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(normalize_ident),
        _ => None,
    };
    let grouped: Vec<String> = exprs.iter().filter_map(column).collect();
    select
        .projection
        .iter()
        .filter_map(|item| {
            let (expr, name) = match item {
                ast::SelectItem::UnnamedExpr(e) => (e, column(e)?),
                ast::SelectItem::ExprWithAlias { expr, alias } => (expr, normalize_ident(alias)),
                _ => return None,
            };
            column(expr).filter(|c| grouped.contains(c)).map(|_| name)
        })
        .collect()
}
