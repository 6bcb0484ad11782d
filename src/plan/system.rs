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
use crate::ir::RelExpr;
use crate::repr::{ColumnType, Datum, Row, ScalarType};

const PG_CATALOG_OID: i32 = 11;
const PUBLIC_OID: i32 = 2200;
const INFORMATION_SCHEMA_OID: i32 = 13_000;
/// Schemas other than `public`, numbered in name order from here.
const FIRST_SCHEMA_OID: i32 = 15_000;
const FIRST_OBJECT_OID: i32 = 16_384;
const HEAP_AM_OID: i32 = 2;
const BTREE_AM_OID: i32 = 403;
/// `pg_database.encoding` of UTF8.
const UTF8_ENCODING: i32 = 6;

/// A system relation: its schema, name, oid, kind (`r` or `v`) and columns.
struct Relation {
    schema: &'static str,
    name: &'static str,
    oid: i32,
    kind: &'static str,
    columns: &'static [(&'static str, ScalarType)],
}

use ScalarType::{Bool, Int16, Int32, Text};

const RELATIONS: &[Relation] = &[
    Relation {
        schema: "pg_catalog",
        name: "pg_namespace",
        oid: 2615,
        kind: "r",
        columns: &[
            ("oid", Int32),
            ("nspname", Text),
            ("nspowner", Int32),
            ("nspacl", Text),
        ],
    },
    Relation {
        schema: "pg_catalog",
        name: "pg_class",
        oid: 1259,
        kind: "r",
        columns: &[
            ("oid", Int32),
            ("relname", Text),
            ("relnamespace", Int32),
            ("reltype", Int32),
            ("relowner", Int32),
            ("relam", Int32),
            ("reltablespace", Int32),
            ("relpages", Int32),
            ("reltoastrelid", Int32),
            ("relhasindex", Bool),
            ("relisshared", Bool),
            ("relpersistence", Text),
            ("relkind", Text),
            ("relnatts", Int16),
            ("relchecks", Int16),
            ("relhasrules", Bool),
            ("relhastriggers", Bool),
            ("relrowsecurity", Bool),
            ("relforcerowsecurity", Bool),
            ("relispopulated", Bool),
            ("relreplident", Text),
            ("relispartition", Bool),
            ("relacl", Text),
            ("reloptions", Text),
        ],
    },
    Relation {
        schema: "pg_catalog",
        name: "pg_am",
        oid: 2601,
        kind: "r",
        columns: &[
            ("oid", Int32),
            ("amname", Text),
            ("amhandler", Text),
            ("amtype", Text),
        ],
    },
    Relation {
        schema: "pg_catalog",
        name: "pg_index",
        oid: 2610,
        kind: "r",
        columns: &[
            ("indexrelid", Int32),
            ("indrelid", Int32),
            ("indnatts", Int16),
            ("indnkeyatts", Int16),
            ("indisunique", Bool),
            ("indisprimary", Bool),
            ("indisexclusion", Bool),
            ("indimmediate", Bool),
            ("indisclustered", Bool),
            ("indisvalid", Bool),
            ("indisready", Bool),
            ("indislive", Bool),
            ("indisreplident", Bool),
            ("indkey", Text),
        ],
    },
    Relation {
        schema: "pg_catalog",
        name: "pg_database",
        oid: 1262,
        kind: "r",
        columns: &[
            ("oid", Int32),
            ("datname", Text),
            ("datdba", Int32),
            ("encoding", Int32),
            ("datlocprovider", Text),
            ("datistemplate", Bool),
            ("datallowconn", Bool),
            ("datconnlimit", Int32),
            ("datcollate", Text),
            ("datctype", Text),
            ("daticulocale", Text),
            ("datacl", Text),
        ],
    },
    Relation {
        schema: "pg_catalog",
        name: "pg_tables",
        oid: 12_000,
        kind: "v",
        columns: &[
            ("schemaname", Text),
            ("tablename", Text),
            ("tableowner", Text),
            ("tablespace", Text),
            ("hasindexes", Bool),
            ("hasrules", Bool),
            ("hastriggers", Bool),
            ("rowsecurity", Bool),
        ],
    },
    Relation {
        schema: "pg_catalog",
        name: "pg_views",
        oid: 12_001,
        kind: "v",
        columns: &[
            ("schemaname", Text),
            ("viewname", Text),
            ("viewowner", Text),
            ("definition", Text),
        ],
    },
    Relation {
        schema: "pg_catalog",
        name: "pg_matviews",
        oid: 12_002,
        kind: "v",
        columns: &[
            ("schemaname", Text),
            ("matviewname", Text),
            ("matviewowner", Text),
            ("tablespace", Text),
            ("hasindexes", Bool),
            ("ispopulated", Bool),
            ("definition", Text),
        ],
    },
    Relation {
        schema: "information_schema",
        name: "schemata",
        oid: 13_001,
        kind: "v",
        columns: &[
            ("catalog_name", Text),
            ("schema_name", Text),
            ("schema_owner", Text),
        ],
    },
    Relation {
        schema: "information_schema",
        name: "tables",
        oid: 13_002,
        kind: "v",
        columns: &[
            ("table_catalog", Text),
            ("table_schema", Text),
            ("table_name", Text),
            ("table_type", Text),
            ("is_insertable_into", Text),
        ],
    },
    Relation {
        schema: "information_schema",
        name: "columns",
        oid: 13_003,
        kind: "v",
        columns: &[
            ("table_catalog", Text),
            ("table_schema", Text),
            ("table_name", Text),
            ("column_name", Text),
            ("ordinal_position", Int32),
            ("column_default", Text),
            ("is_nullable", Text),
            ("data_type", Text),
        ],
    },
];

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
    let rows = Snapshot::new(pcx.catalog, &pcx.database).rows(relation.name);
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

    fn rows(&self, relation: &str) -> Vec<Row> {
        match relation {
            "pg_namespace" => self
                .schemas
                .iter()
                .map(|(name, oid)| vec![int(*oid), text(name), int(OWNER_OID), Datum::Null])
                .collect(),
            "pg_class" => self.pg_class(),
            "pg_am" => vec![
                vec![
                    int(HEAP_AM_OID),
                    text("heap"),
                    text("heap_tableam_handler"),
                    text("t"),
                ],
                vec![
                    int(BTREE_AM_OID),
                    text("btree"),
                    text("bthandler"),
                    text("i"),
                ],
            ],
            "pg_index" => self
                .items
                .iter()
                .filter_map(|i| match &i.kind {
                    ItemKind::Index { on, key } => {
                        let table = self.items.iter().find(|t| t.id == *on)?;
                        let n = key.len() as i16;
                        let indkey: Vec<String> = key.iter().map(|k| (k + 1).to_string()).collect();
                        Some(vec![
                            int(object_oid(i)),
                            int(object_oid(table)),
                            Datum::Int16(n),
                            Datum::Int16(n),
                            Datum::Bool(false),
                            Datum::Bool(false),
                            Datum::Bool(false),
                            Datum::Bool(true),
                            Datum::Bool(false),
                            Datum::Bool(true),
                            Datum::Bool(true),
                            Datum::Bool(true),
                            Datum::Bool(false),
                            text(indkey.join(" ")),
                        ])
                    }
                    _ => None,
                })
                .collect(),
            "pg_database" => self
                .databases
                .iter()
                .enumerate()
                .map(|(n, name)| {
                    vec![
                        int(FIRST_OBJECT_OID - 1000 + n as i32),
                        text(name),
                        int(OWNER_OID),
                        int(UTF8_ENCODING),
                        text("c"),
                        Datum::Bool(false),
                        Datum::Bool(true),
                        int(-1),
                        text("C.UTF-8"),
                        text("C.UTF-8"),
                        Datum::Null,
                        Datum::Null,
                    ]
                })
                .collect(),
            "pg_tables" => self.listed("r", |i| {
                vec![
                    Datum::Null,
                    Datum::Bool(self.has_index(i)),
                    Datum::Bool(false),
                    Datum::Bool(false),
                    Datum::Bool(false),
                ]
            }),
            "pg_views" => self.listed("v", |i| vec![text(&i.create_sql)]),
            "pg_matviews" => self.listed("m", |i| {
                vec![
                    Datum::Null,
                    Datum::Bool(self.has_index(i)),
                    Datum::Bool(true),
                    text(&i.create_sql),
                ]
            }),
            "schemata" => self
                .schemas
                .iter()
                .map(|(name, _)| vec![text(self.database), text(name), text(OWNER)])
                .collect(),
            // As in Postgres, materialized views and indexes are not in information_schema.
            "tables" => self
                .relations()
                .filter(|(_, kind)| matches!(*kind, "r" | "v"))
                .map(|(i, kind)| {
                    let writable = matches!(i.kind, ItemKind::Table);
                    vec![
                        text(self.database),
                        text(&i.name.schema),
                        text(&i.name.item),
                        text(if kind == "r" { "BASE TABLE" } else { "VIEW" }),
                        text(if writable { "YES" } else { "NO" }),
                    ]
                })
                .collect(),
            "columns" => self
                .relations()
                .filter(|(_, kind)| matches!(*kind, "r" | "v"))
                .flat_map(|(i, _)| {
                    i.desc
                        .names
                        .iter()
                        .zip(&i.desc.types)
                        .enumerate()
                        .map(|(n, (name, t))| {
                            vec![
                                text(self.database),
                                text(&i.name.schema),
                                text(&i.name.item),
                                text(name),
                                int(n as i32 + 1),
                                Datum::Null,
                                text(if t.nullable { "YES" } else { "NO" }),
                                text(t.scalar.name()),
                            ]
                        })
                        .collect::<Vec<_>>()
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn pg_class(&self) -> Vec<Row> {
        let class_row = |oid: i32,
                         name: &str,
                         namespace: i32,
                         kind: &str,
                         natts: usize,
                         am: i32,
                         has_index: bool| {
            vec![
                int(oid),
                text(name),
                int(namespace),
                int(0),
                int(OWNER_OID),
                int(am),
                int(0),
                int(0),
                int(0),
                Datum::Bool(has_index),
                Datum::Bool(false),
                text("p"),
                text(kind),
                Datum::Int16(natts as i16),
                Datum::Int16(0),
                Datum::Bool(false),
                Datum::Bool(false),
                Datum::Bool(false),
                Datum::Bool(false),
                Datum::Bool(true),
                text("d"),
                Datum::Bool(false),
                Datum::Null,
                Datum::Null,
            ]
        };
        let mut rows: Vec<Row> = RELATIONS
            .iter()
            .map(|r| {
                let am = if r.kind == "r" { HEAP_AM_OID } else { 0 };
                class_row(
                    r.oid,
                    r.name,
                    self.schema_oid(r.schema),
                    r.kind,
                    r.columns.len(),
                    am,
                    false,
                )
            })
            .collect();
        rows.extend(self.relations().map(|(i, kind)| {
            let am = match kind {
                "r" | "m" => HEAP_AM_OID,
                "i" => BTREE_AM_OID,
                _ => 0,
            };
            class_row(
                object_oid(i),
                &i.name.item,
                self.schema_oid(&i.name.schema),
                kind,
                i.desc.arity(),
                am,
                self.has_index(i),
            )
        }));
        rows
    }
}
