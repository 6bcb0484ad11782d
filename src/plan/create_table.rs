//! `CREATE TABLE`: its columns (types, `NOT NULL`, `DEFAULT`), and the `WITH (...)` options a
//! table or materialized view takes (`RETAIN HISTORY`, an event-time column and how windows over
//! it close, `APPEND ONLY`).

use sqlparser::ast::{self, Statement as Ast};

use super::coerce::scalar_type;
use super::error::{unsupported, PlanError, PlanResult};
use super::statement::{new_item_name, parse_retention, Plan};
use super::PlanContext;
use crate::parse::normalize_ident;
use crate::repr::{ColumnType, RelationDesc, Timestamp};

pub(super) fn plan_create_table(
    pcx: &PlanContext,
    ct: &ast::CreateTable,
    stmt: &Ast,
) -> PlanResult<Plan> {
    if ct.query.is_some() {
        return unsupported("CREATE TABLE AS");
    }
    let name = new_item_name(pcx, &ct.name)?;
    let (names, mut types) = column_defs(&ct.columns)?;
    // Each DEFAULT must plan now, as a value of its column's type (and plans again for
    // each INSERT that leaves the column out).
    let mut defaults: Vec<Option<String>> = ct
        .columns
        .iter()
        .map(|c| {
            c.options.iter().find_map(|o| match &o.option {
                ast::ColumnOption::Default(e) => Some(e.to_string()),
                _ => None,
            })
        })
        .collect();
    for ((d, t), n) in defaults.iter_mut().zip(&types).zip(&names) {
        let Some(sql) = d else { continue };
        match super::write::default_value(pcx, sql, t.scalar, n) {
            Ok(_) => {}
            // Before Runnel applied defaults it accepted any: such a table keeps
            // leaving the column NULL rather than fail the start-up.
            Err(e) if pcx.replaying => {
                tracing::warn!(
                    "column {n} of {}: DEFAULT {sql} does not plan ({e}); inserts leave \
                     it NULL, as when the table was created",
                    name.item
                );
                *d = None;
            }
            Err(e) => return Err(e),
        }
    }
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
    let options = table_options(&ct.table_options)?;
    let event_time = match options.event_time {
        Some(c) => Some(names.iter().position(|n| *n == c).ok_or_else(|| {
            PlanError::InvalidParameter(format!(
                "WITH (TIMESTAMP = '{c}'): the table has no column {c}"
            ))
        })?),
        None => None,
    };
    if !options.close_defaults.is_empty() && event_time.is_none() {
        return Err(PlanError::InvalidParameter(
            "WATERMARK, IDLE and LATE need the event-time column: WITH (TIMESTAMP = \
             'column', ...)"
                .into(),
        ));
    }
    Ok(Plan::CreateTable {
        name,
        desc: RelationDesc::new(names, types),
        if_not_exists: ct.if_not_exists,
        retain_history: options.retain_history,
        event_time,
        close_defaults: options.close_defaults,
        append_only: options.append_only,
        defaults,
        create_sql: stmt.to_string(),
    })
}

/// What a CREATE TABLE's or CREATE MATERIALIZED VIEW's `WITH (...)` says.
#[derive(Default)]
pub(super) struct TableOptions {
    pub retain_history: Option<Timestamp>,
    /// `TIMESTAMP = 'column'`: the event-time column, as in ksqlDB.
    pub event_time: Option<String>,
    /// `WATERMARK = 'interval'`, `IDLE = 'interval'`, `LATE = 'drop' | 'update'`.
    pub close_defaults: crate::ir::window::CloseDefaults,
    pub append_only: bool,
}

fn option_text(value: &ast::Expr) -> String {
    match value {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

pub(super) fn table_options(options: &ast::CreateTableOptions) -> PlanResult<TableOptions> {
    let options = match options {
        ast::CreateTableOptions::None => return Ok(TableOptions::default()),
        ast::CreateTableOptions::With(o) => o,
        other => return unsupported(format!("options {other}")),
    };
    let mut out = TableOptions::default();
    for o in options {
        match o {
            ast::SqlOption::KeyValue { key, value }
                if key.value.eq_ignore_ascii_case("retain_history") =>
            {
                out.retain_history = Some(
                    parse_retention(&option_text(value)).map_err(PlanError::InvalidParameter)?,
                );
            }
            ast::SqlOption::KeyValue { key, value }
                if key.value.eq_ignore_ascii_case("timestamp") =>
            {
                out.event_time = Some(option_text(value).to_lowercase());
            }
            ast::SqlOption::KeyValue { key, value }
                if key.value.eq_ignore_ascii_case("watermark") =>
            {
                out.close_defaults.grace = Some(option_interval(value, "WATERMARK", true)?);
            }
            ast::SqlOption::KeyValue { key, value } if key.value.eq_ignore_ascii_case("idle") => {
                out.close_defaults.idle = Some(option_interval(value, "IDLE", false)?);
            }
            ast::SqlOption::KeyValue { key, value } if key.value.eq_ignore_ascii_case("late") => {
                use crate::ir::window::LatePolicy;
                out.close_defaults.late = Some(match option_text(value).to_lowercase().as_str() {
                    "drop" => LatePolicy::Drop,
                    "update" => LatePolicy::Update,
                    other => {
                        return Err(PlanError::InvalidParameter(format!(
                            "LATE = '{other}': expected 'drop' or 'update'"
                        )))
                    }
                });
            }
            ast::SqlOption::KeyValue { key, value }
                if key.value.eq_ignore_ascii_case("append_only") =>
            {
                out.append_only = match option_text(value).to_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(PlanError::InvalidParameter(format!(
                            "APPEND_ONLY = {other}: expected true or false"
                        )))
                    }
                };
            }
            other => return unsupported(format!("option {other}")),
        }
    }
    Ok(out)
}

/// An option's fixed interval in microseconds (zero only where `zero_ok`).
fn option_interval(value: &ast::Expr, option: &str, zero_ok: bool) -> PlanResult<i64> {
    let text = option_text(value);
    let iv = crate::repr::strconv::parse_interval(&text).ok_or_else(|| {
        PlanError::InvalidParameter(format!(
            "invalid {option} \"{text}\": expected an interval such as '5 minutes'"
        ))
    })?;
    let micros = if zero_ok {
        crate::ir::window::fixed_micros_or_zero(&iv, option)
    } else {
        crate::ir::window::fixed_micros(&iv, option)
    };
    micros.map_err(PlanError::InvalidParameter)
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
