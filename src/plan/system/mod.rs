//! The system catalog: `pg_catalog` and `information_schema` relations, which clients (psql's
//! `\d` commands, drivers, BI tools) query to list what a database holds. They are made from
//! the catalog when a query that reads them is planned, as a constant in its plan: a query sees
//! the catalog as it was when the query began, and views cannot read them (they would freeze).
//!
//! Object ids: Postgres's own oids for its catalogs and schemas, and 16384 + the object's id for
//! Runnel's objects (16384 is where Postgres starts numbering user objects). Oid columns are
//! `integer`: Runnel has no `oid` type yet.

use super::PlanContext;
use crate::catalog::{Catalog, CatalogItem, ItemKind};
use crate::ir::func::{OWNER, OWNER_OID};
use crate::ir::{Func, RelExpr, ScalarExpr};
use crate::repr::{ColumnType, Datum, Row, ScalarType};

mod functions;
mod relations;
mod rows;

use relations::RELATIONS;

const PG_CATALOG_OID: i32 = 11;
const PUBLIC_OID: i32 = 2200;
const INFORMATION_SCHEMA_OID: i32 = 13_000;
/// Schemas other than `public`, numbered in name order from here.
const FIRST_SCHEMA_OID: i32 = 15_000;
const FIRST_OBJECT_OID: i32 = 16_384;
const HEAP_AM_OID: i32 = 2;
const BTREE_AM_OID: i32 = 403;
/// `pg_database.encoding` of UTF8.
pub const UTF8_ENCODING: i32 = 6;

/// The schema of the status relations: `runnel_catalog.sources`, `source_errors` and `sinks`
/// hold what `SHOW SOURCES`, `SHOW SOURCE ERRORS` and `SHOW SINKS` show.
pub const STATUS_SCHEMA: &str = "runnel_catalog";

/// The system relation a name denotes, if any: `pg_catalog.x`, `information_schema.x` and
/// `runnel_catalog.x`, and an unqualified `pg_...` name (Postgres searches `pg_catalog` before
/// the search path). Returns the relation as a constant and its column names.
pub fn resolve(pcx: &PlanContext, parts: &[String]) -> Option<(RelExpr, Vec<String>)> {
    if let ([schema, name], Some(status)) = (parts, pcx.status) {
        if schema == STATUS_SCHEMA {
            let (desc, rows) = status(name)?;
            return Some(constant(desc.names, &desc.types, rows));
        }
    }
    let relation = match parts {
        [schema, name] => RELATIONS
            .iter()
            .find(|r| r.schema == schema && r.name == name)?,
        [name] => RELATIONS
            .iter()
            .find(|r| r.schema == "pg_catalog" && r.name == name)?,
        _ => return None,
    };
    let rows = match relation.name {
        "pg_settings" => settings_rows(pcx),
        name => Snapshot::new(pcx.catalog, &pcx.database).rows(name),
    };
    let types: Vec<ColumnType> = relation
        .columns
        .iter()
        .map(|(_, t)| ColumnType::new(*t, true))
        .collect();
    let names = relation
        .columns
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    Some(constant(names, &types, rows))
}

/// `pg_settings`: each setting Runnel knows, with the session's value.
fn settings_rows(pcx: &PlanContext) -> Vec<Row> {
    crate::coord::session::DEFAULTS
        .iter()
        .map(|(name, default)| {
            let value = pcx
                .settings
                .and_then(|get| get(name))
                .unwrap_or_else(|| default.to_string());
            let text = |s: &str| Datum::String(s.to_string());
            vec![
                text(name),
                text(&value),
                Datum::Null,
                text("Runnel"),
                text(""),
                Datum::Null,
                text("user"),
                text("string"),
                text("default"),
                Datum::Null,
                Datum::Null,
                Datum::Null,
                text(default),
                text(default),
                Datum::Null,
                Datum::Null,
                Datum::Bool(false),
            ]
        })
        .collect()
}

fn constant(names: Vec<String>, types: &[ColumnType], rows: Vec<Row>) -> (RelExpr, Vec<String>) {
    let rel = RelExpr::Constant {
        rows: rows.into_iter().map(|r| (r, 1)).collect(),
        types: types.to_vec(),
    };
    (rel, names)
}

/// The oids of the relations `pg_table_is_visible` is true for: those in the search path's
/// schemas (the first of a name wins, as in name resolution) and the catalogs.
pub fn visible_relation_oids(
    catalog: &Catalog,
    database: &str,
    search_path: &[String],
) -> Vec<i32> {
    let cx = Snapshot::new(catalog, database);
    let mut seen = std::collections::BTreeSet::new();
    let mut oids: Vec<i32> = RELATIONS
        .iter()
        .filter(|r| r.schema == "pg_catalog")
        .map(|r| r.oid)
        .collect();
    for schema in search_path {
        for item in cx.items.iter().filter(|i| &i.name.schema == schema) {
            if seen.insert(item.name.item.clone()) {
                oids.push(object_oid(item));
            }
        }
    }
    oids
}

/// Each relation's oid with the name `oid::regclass` prints: qualified with its schema unless
/// `pg_table_is_visible` (the catalogs are always visible).
pub fn relation_names(pcx: &PlanContext) -> Vec<(i32, String)> {
    let visible = visible_relation_oids(pcx.catalog, &pcx.database, &pcx.search_path);
    let cx = Snapshot::new(pcx.catalog, &pcx.database);
    let mut names: Vec<(i32, String)> = RELATIONS
        .iter()
        .map(|r| match r.schema {
            "pg_catalog" => (r.oid, r.name.to_string()),
            schema => (r.oid, format!("{schema}.{}", r.name)),
        })
        .collect();
    names.extend(cx.items.iter().map(|i| {
        let oid = object_oid(i);
        let name = crate::ir::quote::quote_ident(&i.name.item);
        if visible.contains(&oid) {
            (oid, name)
        } else {
            let schema = crate::ir::quote::quote_ident(&i.name.schema);
            (oid, format!("{schema}.{name}"))
        }
    }));
    names
}

/// The oid of the relation a (possibly qualified) name denotes, as `'name'::regclass` finds it.
pub fn relation_oid(pcx: &PlanContext, parts: &[String]) -> Option<i32> {
    let system = match parts {
        [schema, name] => RELATIONS
            .iter()
            .find(|r| r.schema == schema && r.name == name),
        [name] => RELATIONS
            .iter()
            .find(|r| r.schema == "pg_catalog" && r.name == name),
        _ => None,
    };
    if let Some(r) = system {
        return Some(r.oid);
    }
    let item = pcx
        .catalog
        .resolve(parts, &pcx.database, &pcx.search_path)
        .ok()?;
    Some(object_oid(item))
}

/// The database's schemas with their oids.
pub fn schema_oids(pcx: &PlanContext) -> Vec<(String, i32)> {
    Snapshot::new(pcx.catalog, &pcx.database).schemas
}

/// Each index's oid, its definition as `pg_get_indexdef` prints it, and its key columns' names.
pub fn index_definitions(pcx: &PlanContext) -> Vec<(i32, String, Vec<String>)> {
    let cx = Snapshot::new(pcx.catalog, &pcx.database);
    cx.items
        .iter()
        .filter_map(|i| {
            let ItemKind::Index { on, key } = &i.kind else {
                return None;
            };
            let on = cx.items.iter().find(|t| t.id == *on)?;
            let quote = crate::ir::quote::quote_ident;
            let columns: Vec<String> = key
                .iter()
                .filter_map(|k| on.desc.names.get(*k))
                .map(|n| quote(n))
                .collect();
            let def = format!(
                "CREATE INDEX {} ON {}.{} USING btree ({})",
                quote(&i.name.item),
                quote(&on.name.schema),
                quote(&on.name.item),
                columns.join(", ")
            );
            Some((object_oid(i), def, columns))
        })
        .collect()
}

/// The name for `key` among `(oid, name)` pairs, else `default`.
pub fn lookup(key: ScalarExpr, pairs: Vec<(i32, String)>, default: ScalarExpr) -> ScalarExpr {
    let pairs = pairs
        .into_iter()
        .map(|(oid, name)| (Datum::Int32(oid), Datum::String(name)));
    chain(key, pairs, default)
}

/// The value for the name `key` among `(name, value)` pairs, else `default`.
pub fn lookup_text(
    key: ScalarExpr,
    pairs: Vec<(String, String)>,
    default: ScalarExpr,
) -> ScalarExpr {
    let pairs = pairs
        .into_iter()
        .map(|(name, value)| (Datum::String(name), Datum::String(value)));
    chain(key, pairs, default)
}

/// The oid for the name `key` among `(name, oid)` pairs, else NULL (the `to_reg*` functions).
pub fn lookup_oid(key: ScalarExpr, pairs: Vec<(String, i32)>) -> ScalarExpr {
    let pairs = pairs
        .into_iter()
        .map(|(name, oid)| (Datum::String(name), Datum::Int32(oid)));
    chain(key, pairs, ScalarExpr::null(ScalarType::Int32))
}

/// `key` looked up among `(key, value)` pairs as a chain of comparisons made when the query is
/// planned (catalog queries look among a few hundred objects at most), else `default`.
fn chain(
    key: ScalarExpr,
    pairs: impl DoubleEndedIterator<Item = (Datum, Datum)>,
    default: ScalarExpr,
) -> ScalarExpr {
    let literal = |d: Datum| {
        let t = d.scalar_type().unwrap_or(ScalarType::Text);
        ScalarExpr::Literal(d, t)
    };
    pairs.rev().fold(default, |els, (k, v)| ScalarExpr::If {
        cond: Box::new(ScalarExpr::call(Func::Eq, vec![key.clone(), literal(k)])),
        then: Box::new(literal(v)),
        els: Box::new(els),
    })
}

/// The names `to_regtype` knows, with their oids: each type's own name (`int4`, `_int4`) and
/// its SQL name (`integer`, `integer[]`), bare and in `pg_catalog`.
pub fn type_names() -> Vec<(String, i32)> {
    let mut names = Vec::new();
    for (oid, typname) in rows::type_oids() {
        let sql = crate::ir::quote::format_type(oid as i64, None);
        for name in [typname, sql] {
            names.push((format!("pg_catalog.{name}"), oid));
            names.push((name, oid));
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The names `to_regclass` knows, with their oids: each relation's qualified name, and its
/// bare name when that finds it.
pub fn relation_name_oids(pcx: &PlanContext) -> Vec<(String, i32)> {
    let visible = visible_relation_oids(pcx.catalog, &pcx.database, &pcx.search_path);
    let cx = Snapshot::new(pcx.catalog, &pcx.database);
    let mut names = Vec::new();
    for r in RELATIONS {
        names.push((format!("{}.{}", r.schema, r.name), r.oid));
        if r.schema == "pg_catalog" {
            names.push((r.name.to_string(), r.oid));
        }
    }
    for i in &cx.items {
        let oid = object_oid(i);
        names.push((format!("{}.{}", i.name.schema, i.name.item), oid));
        if visible.contains(&oid) {
            names.push((i.name.item.clone(), oid));
        }
    }
    names
}

/// Each view's and materialized view's oid with its query, as `pg_get_viewdef` gives it (a
/// leading space and a closing semicolon, as Postgres writes it).
pub fn view_definitions(catalog: &Catalog, database: &str) -> Vec<(i32, String)> {
    Snapshot::new(catalog, database)
        .items
        .iter()
        .filter(|i| {
            matches!(
                i.kind,
                ItemKind::View { .. } | ItemKind::MaterializedView { .. }
            )
        })
        .filter_map(
            |i| match crate::parse::parse_statement(&i.create_sql).ok()? {
                crate::parse::Statement::Sql(s) => match *s {
                    sqlparser::ast::Statement::CreateView(cv) => {
                        Some((object_oid(i), format!(" {};", cv.query)))
                    }
                    _ => None,
                },
                _ => None,
            },
        )
        .collect()
}

fn object_oid(item: &CatalogItem) -> i32 {
    FIRST_OBJECT_OID.saturating_add(i32::try_from(item.id.0).unwrap_or(i32::MAX - FIRST_OBJECT_OID))
}

fn text(s: impl Into<String>) -> Datum {
    Datum::String(s.into())
}

fn int(i: i32) -> Datum {
    Datum::Int32(i)
}

/// One database's objects and schemas, as the catalog relations show them.
struct Snapshot<'a> {
    database: &'a str,
    /// Relations (not sinks) of the database, in id order.
    items: Vec<&'a CatalogItem>,
    /// The database's schemas with their oids.
    schemas: Vec<(String, i32)>,
    databases: Vec<String>,
}

impl<'a> Snapshot<'a> {
    fn new(catalog: &'a Catalog, database: &'a str) -> Snapshot<'a> {
        let items = catalog
            .items()
            .filter(|i| i.name.database == database && !matches!(i.kind, ItemKind::Sink { .. }))
            .collect();
        let mut others: Vec<String> = catalog
            .schemas(database)
            .filter(|s| *s != "public")
            .cloned()
            .collect();
        others.sort();
        let mut schemas = vec![
            ("pg_catalog".to_string(), PG_CATALOG_OID),
            ("public".to_string(), PUBLIC_OID),
            ("information_schema".to_string(), INFORMATION_SCHEMA_OID),
        ];
        schemas.extend(
            others
                .into_iter()
                .enumerate()
                .map(|(i, s)| (s, FIRST_SCHEMA_OID + i as i32)),
        );
        Snapshot {
            database,
            items,
            schemas,
            databases: catalog.databases().cloned().collect(),
        }
    }

    fn schema_oid(&self, schema: &str) -> i32 {
        self.schemas
            .iter()
            .find(|(s, _)| s == schema)
            .map_or(0, |(_, oid)| *oid)
    }

    /// Each user relation with its `relkind`: a source shows as a table.
    fn relations(&self) -> impl Iterator<Item = (&'a CatalogItem, &'static str)> + '_ {
        self.items.iter().map(|i| {
            let kind = match i.kind {
                ItemKind::Table | ItemKind::Source(_) | ItemKind::Sink { .. } => "r",
                ItemKind::View { .. } => "v",
                ItemKind::MaterializedView { .. } => "m",
                ItemKind::Index { .. } => "i",
            };
            (*i, kind)
        })
    }

    fn has_index(&self, item: &CatalogItem) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i.kind, ItemKind::Index { on, .. } if on == item.id))
    }

    /// `pg_tables`, `pg_views` and `pg_matviews`: each relation of `kind` as its schema, name
    /// and owner, then `rest`.
    fn listed(&self, kind: &str, rest: impl Fn(&CatalogItem) -> Vec<Datum>) -> Vec<Row> {
        self.relations()
            .filter(|(_, k)| *k == kind)
            .map(|(i, _)| {
                let mut row = vec![text(&i.name.schema), text(&i.name.item), text(OWNER)];
                row.extend(rest(i));
                row
            })
            .collect()
    }
}
