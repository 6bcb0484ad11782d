//! Window table functions in FROM: `TUMBLE(rel, DESCRIPTOR(ts), size)` and
//! `HOP(rel, DESCRIPTOR(ts), slide, size)` (also RisingWave's spelling with a bare column),
//! which append `window_start` and `window_end` to each row of `rel`, one row per window.
//!
//! The time column `rowtime` (ksqlDB's name, used by its `WINDOW` clause) means the relation's
//! declared event-time column: the `TIMESTAMP=` of a ksqlDB stream, or the column of a view that
//! carries that name through from a stream the view reads.

use sqlparser::ast::{self, Expr, FunctionArg, FunctionArgExpr};

use super::error::{unsupported, PlanError, PlanResult};
use super::expr::ExprCx;
use super::from::resolve_relation;
use super::query::QueryCx;
use super::scope::Scope;
use super::PlanContext;
use crate::catalog::ItemKind;
use crate::ir::window::{fixed_micros, fixed_micros_or_zero, CloseDefaults, CloseSpec, LatePolicy};
use crate::ir::{RelExpr, ScalarExpr, TableFunc};
use crate::parse::normalize_ident;
use crate::repr::{Datum, Interval, ScalarType};

/// Whether `name` is a window table function.
pub(super) fn is_window_function(name: &str) -> bool {
    matches!(name, "tumble" | "hop" | "session")
}

/// Plans `name(args)` as the relation it reads with the window columns appended. Returns the
/// relation, its column names and the name it is known by unless aliased (the input's).
pub(super) fn plan_window_function(
    qcx: &QueryCx,
    name: &str,
    args: &[FunctionArg],
) -> PlanResult<(RelExpr, Vec<String>, String)> {
    let mut positional: Vec<&Expr> = Vec::new();
    let mut named: Vec<(String, &Expr)> = Vec::new();
    for a in args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => positional.push(e),
            FunctionArg::Named {
                name: n,
                arg: FunctionArgExpr::Expr(e),
                ..
            } => named.push((normalize_ident(n), e)),
            FunctionArg::ExprNamed {
                name: Expr::Identifier(n),
                arg: FunctionArgExpr::Expr(e),
                ..
            } => named.push((normalize_ident(n), e)),
            other => return unsupported(format!("argument {other} of {name}")),
        }
    }
    let args = positional;
    let usage = match name {
        "tumble" => "TUMBLE(relation, DESCRIPTOR(time_column), size)",
        "session" => {
            "SESSION(relation, DESCRIPTOR(time_column), gap [, DESCRIPTOR(partition_columns)])"
        }
        _ => "HOP(relation, DESCRIPTOR(time_column), slide, size)",
    };
    let arity = if name == "hop" { 4 } else { 3 };
    let optional = usize::from(name == "session");
    if args.len() < arity || args.len() > arity + optional {
        return Err(PlanError::Syntax(format!(
            "{name} takes {arity} arguments, not {}: {usage}",
            args.len()
        )));
    }
    let parts = object_name(args[0])
        .ok_or_else(|| PlanError::Syntax(format!("{usage}: the relation must be a name")))?;
    let (input, mut names) = resolve_relation(qcx.pcx, &parts)?;
    let column = match descriptor(args[1]).as_deref() {
        Some([c]) => c.clone(),
        _ => {
            return Err(PlanError::Syntax(format!(
                "{usage}: the time column must be a name"
            )))
        }
    };
    let ts = match names.iter().position(|n| *n == column) {
        Some(i) => i,
        None if column == "rowtime" => event_time_column(qcx.pcx, &parts, &names)?,
        None => return Err(PlanError::UnknownColumn(column)),
    };
    let typ = input.typ()[ts].scalar;
    if !matches!(
        typ,
        ScalarType::Timestamp | ScalarType::TimestampTz | ScalarType::Int64 | ScalarType::Int32
    ) {
        return Err(PlanError::TypeMismatch(format!(
            "the time column of {name} must be a timestamp, a timestamptz or epoch milliseconds \
             (bigint), not {} (column {})",
            typ.name(),
            names[ts]
        )));
    }
    let interval = |i: usize, what: &str| -> PlanResult<i64> {
        let micros = constant_interval(qcx, args[i], what)?;
        if matches!(typ, ScalarType::Int64 | ScalarType::Int32) && micros % 1000 != 0 {
            return Err(PlanError::InvalidParameter(format!(
                "the {what} of a window over epoch milliseconds must be whole milliseconds"
            )));
        }
        Ok(micros)
    };
    if name == "session" {
        let gap = interval(2, "session gap")?;
        let partition = match args.get(3) {
            None => vec![],
            Some(e) => descriptor(e)
                .ok_or_else(|| {
                    PlanError::Syntax(format!(
                        "{usage}: the partition must be DESCRIPTOR(columns)"
                    ))
                })?
                .iter()
                .map(|c| {
                    names
                        .iter()
                        .position(|n| n == c)
                        .ok_or_else(|| PlanError::UnknownColumn(c.clone()))
                })
                .collect::<PlanResult<_>>()?,
        };
        if close_spec(qcx, &named, CloseDefaults::default())?.is_some() {
            return unsupported("EMIT FINAL over session windows");
        }
        names.push("window_start".into());
        names.push("window_end".into());
        let rel = RelExpr::SessionWindows {
            input: Box::new(input),
            partition,
            event_time: ts,
            gap,
        };
        return Ok((rel, names, parts.last().cloned().unwrap_or_default()));
    }
    let func = match name {
        "tumble" => TableFunc::Tumble {
            size: interval(2, "window size")?,
        },
        _ => {
            let slide = interval(2, "window slide")?;
            let size = interval(3, "window size")?;
            if size / slide > 10_000 {
                return Err(PlanError::InvalidParameter(format!(
                    "a hopping window of {} slides puts each row in more than 10000 windows",
                    size / slide
                )));
            }
            TableFunc::Hop { slide, size }
        }
    };
    let close = close_spec(qcx, &named, close_defaults_of(qcx.pcx, &parts, ts))?;
    let window_end = names.len() + 1;
    names.push("window_start".into());
    names.push("window_end".into());
    let mut rel = RelExpr::FlatMap {
        input: Box::new(input),
        func,
        args: vec![ScalarExpr::Column(ts)],
    };
    if let Some(spec) = close {
        rel = RelExpr::CloseWindows {
            input: Box::new(rel),
            event_time: ts,
            window_end,
            spec,
        };
    }
    Ok((rel, names, parts.last().cloned().unwrap_or_default()))
}

/// The named arguments that ask for `EMIT FINAL`: `emit => 'final'`, with `grace => interval`
/// (by default the table's watermark delay), `idle => interval` (the watermark follows the
/// clock after that long without a row), `late => 'drop' | 'update'` and `retention =>
/// interval`; what is not given is what the table declares (`defaults`), or none. None for
/// `emit => 'changes'` (the default).
fn close_spec(
    qcx: &QueryCx,
    named: &[(String, &Expr)],
    defaults: CloseDefaults,
) -> PlanResult<Option<CloseSpec>> {
    let mut spec = CloseSpec {
        grace: defaults.grace.unwrap_or(0),
        idle: defaults.idle,
        late: defaults.late.unwrap_or(LatePolicy::Drop),
        retention: None,
    };
    let mut last = false;
    for (name, e) in named {
        match name.as_str() {
            "emit" => {
                last = match constant_text(qcx, e)?.as_str() {
                    "final" => true,
                    "changes" => false,
                    other => {
                        return Err(PlanError::InvalidParameter(format!(
                            "emit => '{other}': expected 'final' or 'changes'"
                        )))
                    }
                }
            }
            "grace" => spec.grace = constant_interval_or_zero(qcx, e, "grace period")?,
            "idle" => spec.idle = Some(constant_interval(qcx, e, "idle timeout")?),
            "retention" => spec.retention = Some(constant_interval_or_zero(qcx, e, "retention")?),
            "late" => {
                spec.late = match constant_text(qcx, e)?.as_str() {
                    "drop" => LatePolicy::Drop,
                    "update" => LatePolicy::Update,
                    other => {
                        return Err(PlanError::InvalidParameter(format!(
                            "late => '{other}': expected 'drop' or 'update'"
                        )))
                    }
                }
            }
            other => {
                return Err(PlanError::InvalidParameter(format!(
                    "unknown window argument {other}: expected emit, grace, idle, late or \
                     retention"
                )))
            }
        }
    }
    if let Some(retention) = spec.retention {
        if !last {
            return Err(PlanError::Unsupported(
                "retention => applies to windows that close: add emit => 'final'".into(),
            ));
        }
        if retention < spec.grace {
            return Err(PlanError::InvalidParameter(format!(
                "the retention ({}) must be at least the grace period ({}): a window is retired \
                 only after it closes",
                Interval::new(0, 0, retention),
                Interval::new(0, 0, spec.grace)
            )));
        }
    }
    Ok(last.then_some(spec))
}

fn constant_text(qcx: &QueryCx, e: &Expr) -> PlanResult<String> {
    let mut cx = ExprCx::new(qcx, RelExpr::unit(), Scope::default(), "window arguments");
    let mut s = cx.plan_as(e, ScalarType::Text, "window arguments")?;
    s.fold_constants(&[]);
    match s {
        ScalarExpr::Literal(Datum::String(t), _) => Ok(t.to_lowercase()),
        _ => Err(PlanError::InvalidParameter(
            "a window argument must be a constant".into(),
        )),
    }
}

/// A grace period may be zero.
fn constant_interval_or_zero(qcx: &QueryCx, e: &Expr, what: &str) -> PlanResult<i64> {
    let iv = interval_value(qcx, e, what)?;
    fixed_micros_or_zero(&iv, what).map_err(PlanError::InvalidParameter)
}

fn object_name(e: &Expr) -> Option<Vec<String>> {
    match e {
        Expr::Identifier(i) => Some(vec![normalize_ident(i)]),
        Expr::CompoundIdentifier(parts) => Some(parts.iter().map(normalize_ident).collect()),
        _ => None,
    }
}

/// The columns of `DESCRIPTOR(a, b, ...)`, or a bare column name.
fn descriptor(e: &Expr) -> Option<Vec<String>> {
    match e {
        Expr::Identifier(i) => Some(vec![normalize_ident(i)]),
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("descriptor") => {
            match &f.args {
                ast::FunctionArguments::List(l) => l
                    .args
                    .iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(i))) => {
                            Some(normalize_ident(i))
                        }
                        _ => None,
                    })
                    .collect(),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A constant interval argument, in microseconds.
fn constant_interval(qcx: &QueryCx, e: &Expr, what: &str) -> PlanResult<i64> {
    let iv = interval_value(qcx, e, what)?;
    fixed_micros(&iv, what).map_err(PlanError::InvalidParameter)
}

fn interval_value(qcx: &QueryCx, e: &Expr, what: &str) -> PlanResult<Interval> {
    let mut cx = ExprCx::new(qcx, RelExpr::unit(), Scope::default(), "window arguments");
    let mut s = cx.plan_as(e, ScalarType::Interval, "window arguments")?;
    s.fold_constants(&[]);
    match s {
        ScalarExpr::Literal(Datum::Interval(iv), _) => Ok(iv),
        ScalarExpr::Error(e, _) => Err(PlanError::Eval(e)),
        _ => Err(PlanError::InvalidParameter(format!(
            "the {what} must be a constant interval"
        ))),
    }
}

/// The position of a named relation's event-time column, if it declares one (or, for a view,
/// carries one through by name). None for CTEs and unknown names.
pub(super) fn event_time_of(
    pcx: &PlanContext,
    parts: &[String],
    names: &[String],
) -> Option<usize> {
    let item = catalog_item(pcx, parts)?;
    // A view that is not materialized is inlined; its event time comes from what it reads.
    match &item.kind {
        ItemKind::View { expr } => pcx.catalog.carried_event_time(&expr.depends_on(), names),
        _ => item.event_time,
    }
}

/// What a table declares (`WATERMARK`, `IDLE`, `LATE`) for windows over its event-time column,
/// when the window is over that column.
fn close_defaults_of(pcx: &PlanContext, parts: &[String], ts: usize) -> CloseDefaults {
    catalog_item(pcx, parts)
        .filter(|item| item.event_time == Some(ts))
        .map(|item| item.close_defaults.clone())
        .unwrap_or_default()
}

/// The catalog object a relation name in `FROM` names; None for a CTE (which hides it) or an
/// unknown name.
fn catalog_item<'p>(
    pcx: &'p PlanContext,
    parts: &[String],
) -> Option<&'p crate::catalog::CatalogItem> {
    if let [name] = parts {
        if pcx.ctes.borrow().iter().any(|c| &c.name == name) {
            return None;
        }
    }
    pcx.catalog
        .resolve(parts, &pcx.database, &pcx.search_path)
        .ok()
}

/// The position of a relation's event-time column, for the `rowtime` pseudo-column.
fn event_time_column(pcx: &PlanContext, parts: &[String], names: &[String]) -> PlanResult<usize> {
    let item = pcx
        .catalog
        .resolve(parts, &pcx.database, &pcx.search_path)?;
    event_time_of(pcx, parts, names).ok_or_else(|| {
        PlanError::InvalidParameter(format!(
            "{} has no event-time column: declare one with WITH (TIMESTAMP = 'column') where it \
             is created, or name it: TUMBLE({}, DESCRIPTOR(column), ...)",
            item.name.item, item.name.item
        ))
    })
}
