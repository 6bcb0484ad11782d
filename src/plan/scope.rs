//! Which names the columns of a relation under construction answer to.
//!
//! A query's relation starts with the columns of its enclosing queries (the outer prefix, at
//! level 1 and up), then its own. Unqualified names resolve at the innermost level that has them,
//! as in SQL.

use super::error::{PlanError, PlanResult};

#[derive(Clone, Debug)]
pub struct ScopeItem {
    /// The table name or alias that qualifies the column, if any.
    pub table: Option<String>,
    pub name: String,
    /// 0 for the query's own columns, 1 for its parent's, and so on.
    pub level: usize,
    /// Columns added for the planner's own use (subquery results); never matched by name.
    pub hidden: bool,
    /// Matched only by a qualified name (the right side's copy of a `USING` column).
    pub qualified_only: bool,
    /// The relation's event-time column, which also answers to `rowtime` (ksqlDB's name).
    pub event_time: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub items: Vec<ScopeItem>,
}

impl Scope {
    pub fn from_names(table: Option<&str>, names: &[String]) -> Scope {
        Scope {
            items: names
                .iter()
                .map(|n| ScopeItem {
                    table: table.map(str::to_string),
                    name: n.clone(),
                    level: 0,
                    hidden: false,
                    qualified_only: false,
                    event_time: false,
                })
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The same columns, one level further out (the prefix of a subquery's scope).
    pub fn as_outer(&self) -> Scope {
        Scope {
            items: self
                .items
                .iter()
                .map(|i| ScopeItem {
                    level: i.level + 1,
                    ..i.clone()
                })
                .collect(),
        }
    }

    pub fn concat(mut self, other: Scope) -> Scope {
        self.items.extend(other.items);
        self
    }

    pub fn push_hidden(&mut self) {
        self.items.push(ScopeItem {
            table: None,
            name: String::new(),
            level: 0,
            hidden: true,
            qualified_only: false,
            event_time: false,
        });
    }

    /// Resolves `[table.]name` to a column index.
    pub fn resolve(&self, table: Option<&str>, name: &str) -> PlanResult<usize> {
        let named = |i: &ScopeItem| i.name == name || (name == "rowtime" && i.event_time);
        let mut matches: Vec<(usize, &ScopeItem)> = self
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| !i.hidden && i.name == name && (table.is_some() || !i.qualified_only))
            .filter(|(_, i)| table.is_none() || i.table.as_deref() == table)
            .collect();
        if matches.is_empty() && name == "rowtime" {
            // No column of that name: the event-time column answers to it.
            matches = self
                .items
                .iter()
                .enumerate()
                .filter(|(_, i)| !i.hidden && named(i))
                .filter(|(_, i)| table.is_none() || i.table.as_deref() == table)
                .collect();
        }
        let Some(level) = matches.iter().map(|(_, i)| i.level).min() else {
            return Err(match table {
                Some(t) if !self.items.iter().any(|i| i.table.as_deref() == Some(t)) => {
                    PlanError::MissingFromEntry(t.to_string())
                }
                Some(t) => PlanError::UnknownQualifiedColumn(format!("{t}.{name}")),
                None => PlanError::UnknownColumn(name.to_string()),
            });
        };
        let at_level: Vec<usize> = matches
            .iter()
            .filter(|(_, i)| i.level == level)
            .map(|(idx, _)| *idx)
            .collect();
        if at_level.len() > 1 {
            return Err(PlanError::AmbiguousColumn(name.to_string()));
        }
        Ok(at_level[0])
    }

    /// The indexes of the columns `table.*` (or `*`) expands to, in order.
    pub fn expand_wildcard(&self, table: Option<&str>) -> PlanResult<Vec<usize>> {
        let cols: Vec<usize> = self
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.level == 0 && !i.hidden && !(table.is_none() && i.qualified_only))
            .filter(|(_, i)| table.is_none() || i.table.as_deref() == table)
            .map(|(idx, _)| idx)
            .collect();
        if let (Some(t), true) = (table, cols.is_empty()) {
            return Err(PlanError::UnknownRelation(t.to_string()));
        }
        Ok(cols)
    }
}
