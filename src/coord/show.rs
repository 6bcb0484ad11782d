//! `SHOW TABLES | VIEWS | MATERIALIZED VIEWS | INDEXES | DATABASES | SCHEMAS | COLUMNS FROM x`,
//! and the columns of `SHOW HYDRATION` (answered by the workers, in `hydration`) and of `SHOW
//! SOURCES` (answered with the sources' status, in `sources`).

use super::{sinks, sources, Session};
use crate::catalog::{Catalog, ItemKind};
use crate::error::SqlError;
use crate::parse::ShowObjects;
use crate::plan::ShowKind;
use crate::repr::{ColumnType, Datum, RelationDesc, Row, ScalarType};

fn text_desc(names: &[&str]) -> RelationDesc {
    RelationDesc::new(
        names.iter().map(|n| n.to_string()).collect(),
        names
            .iter()
            .map(|_| ColumnType::new(ScalarType::Text, false))
            .collect(),
    )
}

fn text_row(values: &[&str]) -> Row {
    values
        .iter()
        .map(|v| Datum::String(v.to_string()))
        .collect()
}

/// `gates`: what the workers' `EMIT FINAL` gates report, by dataflow name.
pub fn rows(
    catalog: &Catalog,
    session: &Session,
    objects: ShowObjects,
    gates: &[(String, [u64; 3])],
) -> Result<(RelationDesc, Vec<Row>), SqlError> {
    let schemas = session.search_path();
    let visible =
        |db: &str, schema: &str| db == session.database && schemas.iter().any(|s| s == schema);
    let mut out = match &objects {
        ShowObjects::Sources | ShowObjects::SourceErrors(_) | ShowObjects::Sinks => {
            return Err(SqlError::internal("sources are shown with their status"))
        }
        ShowObjects::Tables
        | ShowObjects::Views
        | ShowObjects::MaterializedViews
        | ShowObjects::Indexes => {
            let rows: Vec<Row> = catalog
                .items()
                .filter(|i| visible(&i.name.database, &i.name.schema))
                .filter(|i| {
                    matches!(
                        (&objects, &i.kind),
                        (ShowObjects::Tables, ItemKind::Table)
                            | (ShowObjects::Views, ItemKind::View { .. })
                            | (
                                ShowObjects::MaterializedViews,
                                ItemKind::MaterializedView { .. }
                            )
                            | (ShowObjects::Indexes, ItemKind::Index { .. })
                    )
                })
                .map(|i| text_row(&[&i.name.item]))
                .collect();
            (text_desc(&["name"]), rows)
        }
        ShowObjects::LateRows => {
            let gates: std::collections::HashMap<&str, [u64; 3]> =
                gates.iter().map(|(n, f)| (n.as_str(), *f)).collect();
            let rows = catalog
                .items()
                .filter(|i| visible(&i.name.database, &i.name.schema))
                .filter_map(|i| match &i.kind {
                    ItemKind::MaterializedView { expr } if closes_windows(expr) => {
                        let figures = gates.get(format!("view {}", i.id).as_str()).copied();
                        let mut row = vec![Datum::String(i.name.item.clone())];
                        row.extend(
                            figures
                                .unwrap_or_default()
                                .map(|n| Datum::Int64(n.min(i64::MAX as u64) as i64)),
                        );
                        Some(row)
                    }
                    _ => None,
                })
                .collect();
            (late_rows_desc(), rows)
        }
        ShowObjects::Databases => (
            text_desc(&["name"]),
            catalog.databases().map(|d| text_row(&[d])).collect(),
        ),
        ShowObjects::Schemas => {
            let rows = ["public"].iter().map(|s| text_row(&[s])).collect();
            (text_desc(&["name"]), rows)
        }
        ShowObjects::Columns(parts) => {
            let item = catalog.resolve(parts, &session.database, &schemas)?;
            let rows = item
                .desc
                .names
                .iter()
                .zip(&item.desc.types)
                .map(|(n, t)| {
                    text_row(&[
                        n,
                        if t.nullable { "true" } else { "false" },
                        t.scalar.name(),
                    ])
                })
                .collect();
            (text_desc(&["name", "nullable", "type"]), rows)
        }
    };
    out.1.sort();
    Ok(out)
}

/// A status relation (`runnel_catalog.sources`, `source_errors`, `source_partitions`, `sinks`): the columns and rows
/// of the SHOW statement of the same name, for the session's database and search path.
pub(super) fn status_relation(
    st: &super::State,
    session: &Session,
    name: &str,
) -> Option<(RelationDesc, Vec<Row>)> {
    Some(match name {
        "sources" => (sources::desc(), sources::show(st, session)),
        "source_errors" => (
            sources::errors_desc(),
            sources::show_errors(st, session, None).ok()?,
        ),
        "source_partitions" => (
            sources::partitions_desc(),
            sources::show_partitions(st, session),
        ),
        "sinks" => (sinks::desc(), sinks::show(st, session)),
        _ => return None,
    })
}

/// The columns a SHOW statement returns, known before it runs (for Describe).
pub fn desc(kind: &ShowKind) -> RelationDesc {
    match kind {
        ShowKind::Objects(ShowObjects::Columns(_)) => text_desc(&["name", "nullable", "type"]),
        ShowKind::Objects(ShowObjects::Sources) => sources::desc(),
        ShowKind::Objects(ShowObjects::Sinks) => sinks::desc(),
        ShowKind::Objects(ShowObjects::SourceErrors(_)) => sources::errors_desc(),
        ShowKind::Objects(ShowObjects::LateRows) => late_rows_desc(),
        ShowKind::Objects(_) => text_desc(&["name"]),
        ShowKind::Hydration => hydration_desc(),
    }
}

/// `SHOW LATE ROWS`: per `EMIT FINAL` view, the rows it dropped as late, and what its gate
/// holds now (windows open, and the rows or argument values kept for them).
fn late_rows_desc() -> RelationDesc {
    let count = ColumnType::new(ScalarType::Int64, false);
    RelationDesc::new(
        vec![
            "name".into(),
            "late_rows".into(),
            "open_windows".into(),
            "held_values".into(),
        ],
        vec![
            ColumnType::new(ScalarType::Text, false),
            count.clone(),
            count.clone(),
            count,
        ],
    )
}

/// Whether the plan drops late rows: windows that close, or an interval join of streams.
fn closes_windows(expr: &crate::ir::RelExpr) -> bool {
    use crate::ir::RelExpr;
    matches!(
        expr,
        RelExpr::CloseWindows { .. } | RelExpr::IntervalJoin { .. }
    ) || expr.children().into_iter().any(closes_windows)
}

/// `SHOW HYDRATION`'s columns: each table's and materialized view's name, its type, and whether
/// its arrangement has caught up.
pub fn hydration_desc() -> RelationDesc {
    RelationDesc::new(
        vec!["name".into(), "type".into(), "hydrated".into()],
        vec![
            ColumnType::new(ScalarType::Text, false),
            ColumnType::new(ScalarType::Text, false),
            ColumnType::new(ScalarType::Bool, false),
        ],
    )
}
