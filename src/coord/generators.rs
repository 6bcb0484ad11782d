//! Load generators in the coordinator: creating one (its relations, with the seed and start
//! filled in and logged) and starting it where the log left it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{exists, Coordinator, Response, Session, State};
use crate::catalog::{CatalogItem, ItemKind};
use crate::error::SqlError;
use crate::plan::CreateGeneratorPlan;
use crate::repr::GlobalId;
use crate::source::generator::{self, Feed, Generation, GeneratorSpec, Output};
use crate::source::{Ingest, SourceSpec};

impl Coordinator {
    pub(super) fn create_generator(
        self: &Arc<Self>,
        st: &mut State,
        session: &Session,
        plan: CreateGeneratorPlan,
    ) -> Result<Response, SqlError> {
        let CreateGeneratorPlan {
            relations,
            if_not_exists,
            mut spec,
            mut statement,
        } = plan;
        for (name, _) in &relations {
            if st.catalog.lookup(name).is_some() {
                return exists(&name.item, if_not_exists, "CREATE SOURCE");
            }
        }
        // What the statement leaves open is decided now, and logged: a restart goes on with
        // the same data.
        if statement.seed.is_none() {
            spec.seed = GeneratorSpec::random_seed();
            statement.seed = Some(spec.seed);
        }
        if statement.start_time.is_none() {
            spec.start_ms = generator::now_ms();
            statement.start_time = chrono::DateTime::from_timestamp_millis(spec.start_ms)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f+00").to_string());
        }
        let create_sql = statement.to_sql();
        let retain = self.retain_history;
        let mut owner = None;
        for (name, output) in relations {
            let id = st.catalog.allocate_id();
            if owner.is_none() {
                self.log_create(st, session, id, &create_sql);
            }
            st.catalog.insert(CatalogItem {
                id,
                name,
                desc: output.desc(),
                event_time: output.event_time(),
                close_defaults: Default::default(),
                append_only: output.is_append_only(),
                defaults: vec![],
                kind: ItemKind::Source(SourceSpec::Generator {
                    spec: spec.clone(),
                    output,
                }),
                depends_on: owner.into_iter().collect(),
                create_sql: create_sql.clone(),
                retain_history: retain,
                created_at: st.write_ts,
            });
            self.install_relation(st, id, retain);
            owner.get_or_insert(id);
        }
        if let (Some(owner), false) = (owner, st.replaying) {
            self.start_source(st, owner);
        }
        Ok(Response::Tag("CREATE SOURCE".into()))
    }

    /// Starts the generator owned by `owner`, each relation from what the log holds.
    pub(super) fn start_generator(self: &Arc<Self>, st: &mut State, owner: GlobalId) {
        let Some(item) = st.catalog.get(owner) else {
            return;
        };
        let ItemKind::Source(SourceSpec::Generator { spec, .. }) = &item.kind else {
            return;
        };
        let (name, spec) = (item.name.to_string(), spec.clone());
        let relations: Vec<(GlobalId, Output)> = st
            .catalog
            .items()
            .filter(|i| i.id == owner || i.depends_on == [owner])
            .filter_map(|i| match &i.kind {
                ItemKind::Source(SourceSpec::Generator { output, .. }) => Some((i.id, *output)),
                _ => None,
            })
            .collect();
        let status = Arc::new(Mutex::new(Default::default()));
        let mut feeds = vec![];
        let mut ids = HashMap::new();
        for (id, output) in relations {
            st.source_status.insert(id, Arc::clone(&status));
            ids.insert(output, id);
            let emitted = st
                .source_offsets
                .get(&id)
                .and_then(|o| o.get(&0))
                .copied()
                .unwrap_or(0) as u64;
            // The relations whose next changes depend on their rows get them.
            let rows = match output {
                Output::Customers | Output::Progress => st.tables.rows(id),
                _ => vec![],
            };
            feeds.push(Feed {
                output,
                emitted,
                rows,
            });
        }
        tracing::info!(
            "load generator {name} ({}, seed {}, {} events/s) starts at {:?} events",
            spec.generator.name(),
            spec.seed,
            spec.rate,
            feeds
                .iter()
                .map(|f| format!("{} {}", f.output.name(), f.emitted))
                .collect::<Vec<_>>()
        );
        generator::spawn(
            owner,
            name,
            Generation::new(spec, feeds),
            ids,
            status,
            Arc::clone(self) as Arc<dyn Ingest>,
        );
    }
}
