//! The stable text form of plans, printed by `EXPLAIN` and compared in tests.

use std::fmt::{self, Write};

use super::relation::RelExpr;

impl fmt::Display for RelExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_plan(self, 0, &mut out)?;
        f.write_str(&out)
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_plan(e: &RelExpr, depth: usize, out: &mut String) -> fmt::Result {
    let pad = "  ".repeat(depth);
    match e {
        RelExpr::Constant { rows, .. } => {
            if rows.is_empty() {
                writeln!(out, "{pad}Constant <empty>")?;
            } else {
                writeln!(out, "{pad}Constant ({} rows)", rows.len())?;
            }
        }
        RelExpr::Get { id, name, .. } => writeln!(out, "{pad}Get {name} ({id})")?,
        RelExpr::LocalGet { id, .. } => writeln!(out, "{pad}Get l{id}")?,
        RelExpr::Let { id, value, body } => {
            writeln!(out, "{pad}Let l{id} =")?;
            write_plan(value, depth + 1, out)?;
            writeln!(out, "{pad}In")?;
            write_plan(body, depth + 1, out)?;
            return Ok(());
        }
        RelExpr::Map { scalars, .. } => writeln!(out, "{pad}Map ({})", join(scalars))?,
        RelExpr::Rank {
            partition,
            order,
            func,
            ..
        } => {
            let ks: Vec<String> = partition.iter().map(|k| format!("#{k}")).collect();
            let os: Vec<String> = order
                .iter()
                .map(|o| format!("#{}{}", o.column, if o.desc { " desc" } else { " asc" }))
                .collect();
            writeln!(
                out,
                "{pad}Rank {} partition_by=[{}] order_by=[{}]",
                func.name(),
                ks.join(", "),
                os.join(", ")
            )?
        }
        RelExpr::SessionWindows {
            partition,
            event_time,
            gap,
            ..
        } => {
            let ks: Vec<String> = partition.iter().map(|k| format!("#{k}")).collect();
            writeln!(
                out,
                "{pad}SessionWindows partition_by=[{}] event_time=#{event_time} gap={}",
                ks.join(", "),
                crate::repr::Interval::new(0, 0, *gap)
            )?
        }
        RelExpr::CloseWindows {
            event_time,
            window_end,
            spec,
            ..
        } => writeln!(
            out,
            "{pad}CloseWindows event_time=#{event_time} window_end=#{window_end} {spec}"
        )?,
        RelExpr::FlatMap { func, args, .. } => {
            writeln!(out, "{pad}FlatMap {func} ({})", join(args))?
        }
        RelExpr::Filter { predicates, .. } => writeln!(out, "{pad}Filter {}", join(predicates))?,
        RelExpr::Project { outputs, .. } => {
            let cols: Vec<String> = outputs.iter().map(|o| format!("#{o}")).collect();
            writeln!(out, "{pad}Project ({})", cols.join(", "))?
        }
        RelExpr::Join { keys, .. } => {
            if keys.is_empty() {
                writeln!(out, "{pad}CrossJoin")?
            } else {
                let ks: Vec<String> = keys.iter().map(|(l, r)| format!("#{l} = #{r}")).collect();
                writeln!(out, "{pad}Join on=({})", ks.join(" AND "))?
            }
        }
        RelExpr::IntervalJoin { keys, bound, .. } => {
            let ks: Vec<String> = keys.iter().map(|(l, r)| format!("#{l} = #{r}")).collect();
            writeln!(out, "{pad}IntervalJoin on=({}) {bound}", ks.join(" AND "))?
        }
        RelExpr::StreamTableJoin {
            keys,
            predicates,
            outer,
            ..
        } => {
            let ks: Vec<String> = keys.iter().map(|(l, r)| format!("#{l} = #{r}")).collect();
            let kind = if *outer { "left" } else { "inner" };
            write!(out, "{pad}StreamTableJoin {kind} on=({})", ks.join(" AND "))?;
            if predicates.is_empty() {
                writeln!(out)?
            } else {
                writeln!(out, " where {}", join(predicates))?
            }
        }
        RelExpr::Reduce {
            group_key,
            aggregates,
            ..
        } => {
            let ks: Vec<String> = group_key.iter().map(|k| format!("#{k}")).collect();
            let aggs: Vec<String> = aggregates
                .iter()
                .map(|a| {
                    format!(
                        "{}({}{})",
                        a.func.name(),
                        if a.distinct { "distinct " } else { "" },
                        a.expr
                    )
                })
                .collect();
            writeln!(
                out,
                "{pad}Reduce group_by=[{}] aggregates=[{}]",
                ks.join(", "),
                aggs.join(", ")
            )?
        }
        RelExpr::TopK {
            group_key,
            order,
            limit,
            offset,
            ..
        } => {
            let ks: Vec<String> = group_key.iter().map(|k| format!("#{k}")).collect();
            let os: Vec<String> = order
                .iter()
                .map(|o| format!("#{}{}", o.column, if o.desc { " desc" } else { " asc" }))
                .collect();
            write!(
                out,
                "{pad}TopK group_by=[{}] order_by=[{}]",
                ks.join(", "),
                os.join(", ")
            )?;
            if let Some(l) = limit {
                write!(out, " limit={l}")?;
            }
            if *offset > 0 {
                write!(out, " offset={offset}")?;
            }
            writeln!(out)?
        }
        RelExpr::Distinct { .. } => writeln!(out, "{pad}Distinct")?,
        RelExpr::Negate { .. } => writeln!(out, "{pad}Negate")?,
        RelExpr::Threshold { .. } => writeln!(out, "{pad}Threshold")?,
        RelExpr::Union { .. } => writeln!(out, "{pad}Union")?,
    }
    for c in e.children() {
        write_plan(c, depth + 1, out)?;
    }
    Ok(())
}
