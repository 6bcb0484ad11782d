//! `DROP TABLE | VIEW | MATERIALIZED VIEW | INDEX | SOURCE | SINK`: resolving the names, checking
//! each is of the kind named, and dropping it with its indexes (and, with CASCADE, whatever else
//! depends on it) from the catalog, the workers and the log.

use super::{Coordinator, Response, Session, State};
use crate::catalog::ItemKind;
use crate::error::SqlError;
use crate::plan::{DropKind, PlanError};
use crate::repr::GlobalId;
use crate::storage::LogRecord;
use crate::worker::Command;

impl Coordinator {
    pub(super) fn drop_named(
        &self,
        st: &mut State,
        session: &Session,
        kind: DropKind,
        names: &[Vec<String>],
        if_exists: bool,
        cascade: bool,
    ) -> Result<Response, SqlError> {
        let what = match kind {
            DropKind::Table => "table",
            DropKind::Source => "source",
            DropKind::Sink => "sink",
            DropKind::View => "view",
            DropKind::MaterializedView => "materialized view",
            DropKind::Index => "index",
        };
        let mut ids = Vec::new();
        for parts in names {
            let item = match st
                .catalog
                .resolve(parts, &session.database, &session.search_path())
            {
                Ok(item) => item,
                Err(_) if if_exists => continue,
                Err(e) => return Err(e.into()),
            };
            if item.kind.type_name() != what {
                return Err(SqlError::new(
                    "42809",
                    format!("\"{}\" is not a {what}", item.name.item),
                )
                .with_hint(format!(
                    "Use DROP {} to remove a {}.",
                    item.kind.type_name().to_uppercase(),
                    item.kind.type_name()
                )));
            }
            ids.push(item.id);
        }
        self.drop_items(st, ids, cascade)?;
        Ok(Response::Tag(format!("DROP {}", what.to_uppercase())))
    }

    /// Drops objects (and, with `cascade`, what depends on them).
    pub(super) fn drop_items(
        &self,
        st: &mut State,
        ids: Vec<GlobalId>,
        cascade: bool,
    ) -> Result<(), SqlError> {
        let mut order = Vec::new();
        for id in &ids {
            // An object's indexes go with it, as in Postgres; other dependents need CASCADE.
            let (indexes, dependents): (Vec<GlobalId>, Vec<GlobalId>) = st
                .catalog
                .dependents(*id)
                .into_iter()
                .filter(|d| !ids.contains(d))
                .partition(|d| {
                    st.catalog
                        .get(*d)
                        .is_some_and(|i| matches!(i.kind, ItemKind::Index { .. }))
                });
            order.extend(indexes);
            if !dependents.is_empty() && !cascade {
                let item = st.catalog.get(*id).expect("resolved above");
                let names: Vec<String> = dependents
                    .iter()
                    .filter_map(|d| st.catalog.get(*d))
                    .map(|d| d.name.item.clone())
                    .collect();
                let mut e = SqlError::from(PlanError::DependentObjects(format!(
                    "{} {}",
                    item.kind.type_name(),
                    item.name.item
                )));
                e.detail = Some(format!(
                    "{} depends on {} {}",
                    names.join(", "),
                    item.kind.type_name(),
                    item.name.item
                ));
                e.hint = Some("Use DROP ... CASCADE to drop the dependent objects too.".into());
                return Err(e);
            }
            order.extend(dependents);
        }
        order.extend(ids);
        order.sort_by(|a, b| b.cmp(a));
        order.dedup();
        order.retain(|id| st.catalog.get(*id).is_some());
        for id in &order {
            st.catalog.remove(*id);
            st.tables.drop_table(*id);
            st.source_offsets.remove(id);
            st.source_status.remove(id);
            st.source_errors.remove(id);
            st.sink_status.remove(id);
            self.broadcast(st, || Command::Drop { id: *id });
        }
        if !order.is_empty() {
            self.log(st, &LogRecord::DropItems { ids: order }, || {});
        }
        Ok(())
    }
}
