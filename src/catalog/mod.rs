//! Named objects: databases, schemas, tables, views, materialized views and indexes, with their
//! ids, column descriptions and dependencies. Owned by the coordinator; the planner reads it.

use std::collections::{BTreeMap, BTreeSet};

use crate::ir::RelExpr;
use crate::plan::{PlanError, PlanResult};
use crate::repr::{GlobalId, RelationDesc, Timestamp};

/// `database.schema.item`, all lower-cased unless quoted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualifiedName {
    pub database: String,
    pub schema: String,
    pub item: String,
}

impl std::fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.database, self.schema, self.item)
    }
}

#[derive(Clone, Debug)]
pub enum ItemKind {
    /// Rows written by INSERT/UPDATE/DELETE; arranged by the whole row in the workers.
    Table,
    /// Rows read from a Kafka topic or made by a load generator; stored and arranged like a
    /// table's, but not writable.
    Source(crate::source::SourceSpec),
    /// A name for a query, inlined wherever it is used.
    View { expr: RelExpr },
    /// A query maintained as an arrangement in the workers.
    MaterializedView { expr: RelExpr },
    /// An arrangement of another object by key columns.
    Index { on: GlobalId, key: Vec<usize> },
    /// Every change of a relation (`expr`, reading `from`), written to Kafka.
    Sink {
        from: GlobalId,
        expr: RelExpr,
        spec: crate::sink::KafkaSinkSpec,
    },
}

impl ItemKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            ItemKind::Table => "table",
            ItemKind::Source(_) => "source",
            ItemKind::View { .. } => "view",
            ItemKind::MaterializedView { .. } => "materialized view",
            ItemKind::Index { .. } => "index",
            ItemKind::Sink { .. } => "sink",
        }
    }
    /// Whether objects of this kind are kept in a worker arrangement that can be read directly
    /// (but a stream, a table or source that only appends, is not: `CatalogItem::is_arranged`).
    pub fn is_arranged(&self) -> bool {
        matches!(
            self,
            ItemKind::Table | ItemKind::Source(_) | ItemKind::MaterializedView { .. }
        )
    }
}

#[derive(Clone, Debug)]
pub struct CatalogItem {
    pub id: GlobalId,
    pub name: QualifiedName,
    pub desc: RelationDesc,
    pub kind: ItemKind,
    pub depends_on: Vec<GlobalId>,
    /// The statement that created the object.
    pub create_sql: String,
    /// How far back (milliseconds) `AS OF` may read a table or materialized view.
    pub retain_history: Timestamp,
    /// The latest time before the object existed: `AS OF` cannot read before it.
    pub created_at: Timestamp,
    /// The column that holds each row's event time, where the object declares one (a table's
    /// or a stream's `TIMESTAMP`): what ksqlDB's `WINDOW` clause windows by.
    pub event_time: Option<usize>,
    /// What a table declares for windows closing over its event-time column (`WATERMARK`,
    /// `IDLE`, `LATE`).
    pub close_defaults: crate::ir::window::CloseDefaults,
    /// A table that takes only INSERT (`APPEND ONLY`), or a source that only appends.
    pub append_only: bool,
    /// Each column's `DEFAULT` expression as written (planned again by each INSERT that omits
    /// the column, so `now()` is the time of the insert); empty for other objects.
    pub defaults: Vec<Option<String>>,
}

impl CatalogItem {
    /// A stream: an `APPEND ONLY` table or a source that only appends, whose rows are kept
    /// only in the log (see `coord::streams`).
    pub fn is_stream(&self) -> bool {
        self.append_only && matches!(self.kind, ItemKind::Table | ItemKind::Source(_))
    }

    /// Whether a worker arrangement holds the object's contents, to be read directly.
    pub fn is_arranged(&self) -> bool {
        self.kind.is_arranged() && !self.is_stream()
    }
}

#[derive(Debug)]
pub struct Catalog {
    next_id: u64,
    items: BTreeMap<GlobalId, CatalogItem>,
    by_name: BTreeMap<QualifiedName, GlobalId>,
    /// Database name -> its schemas.
    databases: BTreeMap<String, BTreeSet<String>>,
}

impl Default for Catalog {
    fn default() -> Self {
        let mut c = Catalog {
            next_id: 1,
            items: BTreeMap::new(),
            by_name: BTreeMap::new(),
            databases: BTreeMap::new(),
        };
        c.ensure_database("materialize");
        c
    }
}

impl Catalog {
    /// On replay of the log: the next item created gets `id`, as it did when it was logged.
    pub fn restore_next_id(&mut self, id: GlobalId) {
        self.next_id = id.0;
    }

    /// Makes sure no id below `id` is allocated again.
    pub fn reserve_ids_below(&mut self, id: GlobalId) {
        self.next_id = self.next_id.max(id.0);
    }

    pub fn allocate_id(&mut self) -> GlobalId {
        let id = GlobalId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Creates the database (with a `public` schema) if it does not exist: the database named in a
    /// connection's startup packet is created on first use.
    pub fn ensure_database(&mut self, name: &str) {
        self.databases
            .entry(name.to_string())
            .or_insert_with(|| BTreeSet::from(["public".to_string()]));
    }

    pub fn database_exists(&self, name: &str) -> bool {
        self.databases.contains_key(name)
    }

    pub fn databases(&self) -> impl Iterator<Item = &String> {
        self.databases.keys()
    }

    pub fn create_database(&mut self, name: &str) -> PlanResult<()> {
        if self.databases.contains_key(name) {
            return Err(PlanError::DatabaseExists(name.into()));
        }
        self.ensure_database(name);
        Ok(())
    }

    /// The ids of every object in the database, for DROP DATABASE.
    pub fn items_in_database(&self, name: &str) -> Vec<GlobalId> {
        self.items
            .values()
            .filter(|i| i.name.database == name)
            .map(|i| i.id)
            .collect()
    }

    pub fn drop_database(&mut self, name: &str) {
        self.databases.remove(name);
    }

    /// The database's schemas (none if it does not exist).
    pub fn schemas(&self, database: &str) -> impl Iterator<Item = &String> {
        self.databases.get(database).into_iter().flatten()
    }

    pub fn schema_exists(&self, database: &str, schema: &str) -> bool {
        self.databases
            .get(database)
            .is_some_and(|s| s.contains(schema))
    }

    pub fn create_schema(&mut self, database: &str, schema: &str) -> PlanResult<()> {
        let schemas = self
            .databases
            .get_mut(database)
            .ok_or_else(|| PlanError::UnknownDatabase(database.into()))?;
        if !schemas.insert(schema.to_string()) {
            return Err(PlanError::SchemaExists(schema.into()));
        }
        Ok(())
    }

    pub fn insert(&mut self, item: CatalogItem) {
        self.by_name.insert(item.name.clone(), item.id);
        self.items.insert(item.id, item);
    }

    pub fn remove(&mut self, id: GlobalId) -> Option<CatalogItem> {
        let item = self.items.remove(&id)?;
        self.by_name.remove(&item.name);
        Some(item)
    }

    /// The position in `names` of the column that carries, by name, the event time of an object
    /// in `reads`: how a view inherits its stream's event time (ksqlDB's `ROWTIME`).
    pub fn carried_event_time(&self, reads: &[GlobalId], names: &[String]) -> Option<usize> {
        reads.iter().find_map(|id| {
            let item = self.get(*id)?;
            let column = &item.desc.names[item.event_time?];
            names.iter().position(|n| n == column)
        })
    }

    pub fn get(&self, id: GlobalId) -> Option<&CatalogItem> {
        self.items.get(&id)
    }

    /// Whether `id` names a stream (`CatalogItem::is_stream`).
    pub fn is_stream(&self, id: GlobalId) -> bool {
        self.get(id).is_some_and(|i| i.is_stream())
    }

    pub fn lookup(&self, name: &QualifiedName) -> Option<&CatalogItem> {
        self.by_name.get(name).and_then(|id| self.items.get(id))
    }

    pub fn items(&self) -> impl Iterator<Item = &CatalogItem> {
        self.items.values()
    }

    /// Resolves a possibly qualified name (`item`, `schema.item`, `db.schema.item`) against the
    /// session's database and search path.
    pub fn resolve(
        &self,
        parts: &[String],
        database: &str,
        search_path: &[String],
    ) -> PlanResult<&CatalogItem> {
        let full = parts.join(".");
        match parts {
            [item] => search_path
                .iter()
                .find_map(|schema| {
                    self.lookup(&QualifiedName {
                        database: database.into(),
                        schema: schema.clone(),
                        item: item.clone(),
                    })
                })
                .ok_or(PlanError::UnknownRelation(full)),
            [schema, item] => self
                .lookup(&QualifiedName {
                    database: database.into(),
                    schema: schema.clone(),
                    item: item.clone(),
                })
                .ok_or(PlanError::UnknownRelation(full)),
            [db, schema, item] => self
                .lookup(&QualifiedName {
                    database: db.clone(),
                    schema: schema.clone(),
                    item: item.clone(),
                })
                .ok_or(PlanError::UnknownRelation(full)),
            _ => Err(PlanError::Syntax(format!(
                "improper qualified name (too many dotted names): {full}"
            ))),
        }
    }

    /// Objects that depend on `id`, directly or transitively, in an order safe to drop
    /// (dependents before what they depend on).
    pub fn dependents(&self, id: GlobalId) -> Vec<GlobalId> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        let mut seen = BTreeSet::new();
        while let Some(next) = stack.pop() {
            for item in self.items.values() {
                if item.depends_on.contains(&next) && seen.insert(item.id) {
                    out.push(item.id);
                    stack.push(item.id);
                }
            }
        }
        // Later-created objects can only depend on earlier ones: drop newest first.
        out.sort_by(|a, b| b.cmp(a));
        out
    }

    /// Indexes built on `id`.
    pub fn indexes_on(&self, id: GlobalId) -> Vec<&CatalogItem> {
        self.items
            .values()
            .filter(|i| matches!(&i.kind, ItemKind::Index { on, .. } if *on == id))
            .collect()
    }

    /// An index that answers `expr` by looking up some of its keys, with the object it indexes
    /// and those keys' values: of
    /// the indexes of the one object `expr` reads whose key `expr` pins (see
    /// `RelExpr::lookup_values`), the one with the most key columns (the fewest rows to read).
    pub fn index_lookup(
        &self,
        expr: &RelExpr,
    ) -> Option<(&CatalogItem, GlobalId, Vec<crate::repr::Row>)> {
        let (on, _, _) = expr.only_read()?;
        self.indexes_on(on)
            .into_iter()
            .filter_map(|index| match &index.kind {
                ItemKind::Index { key, .. } => {
                    expr.lookup_values(key).map(|values| (index, on, values))
                }
                _ => None,
            })
            .max_by_key(|(_, _, values)| values.first().map_or(0, Vec::len))
    }
}
