//! The rows of each system relation, made from one database's catalog.

use super::relations::RELATIONS;
use super::*;
use crate::repr::ScalarType;

impl Snapshot<'_> {
    pub(super) fn rows(&self, relation: &str) -> Vec<Row> {
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
                        let indkey = key.iter().map(|k| Datum::Int16(*k as i16 + 1)).collect();
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
                            Datum::Vector(indkey),
                            Datum::Vector(vec![int(0); key.len()]),
                            Datum::Vector(vec![int(0); key.len()]),
                            Datum::Vector(vec![Datum::Int16(0); key.len()]),
                            Datum::Bool(false),
                            Datum::Null,
                            Datum::Null,
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
            "views" => self
                .relations()
                .filter(|(_, kind)| *kind == "v")
                .map(|(i, _)| {
                    let mut row = vec![
                        text(self.database),
                        text(&i.name.schema),
                        text(&i.name.item),
                        text(&i.create_sql),
                        text("NONE"),
                    ];
                    row.extend((0..5).map(|_| text("NO")));
                    row
                })
                .collect(),
            // Postgres lists each NOT NULL column of a table as a CHECK constraint here.
            "table_constraints" => self
                .relations()
                .filter(|(_, kind)| *kind == "r")
                .flat_map(|(i, _)| {
                    let table = object_oid(i);
                    let schema = self.schema_oid(&i.name.schema);
                    i.desc
                        .types
                        .iter()
                        .enumerate()
                        .filter(|(_, t)| !t.nullable)
                        .map(move |(n, _)| {
                            vec![
                                text(self.database),
                                text(&i.name.schema),
                                text(format!("{schema}_{table}_{}_not_null", n + 1)),
                                text(self.database),
                                text(&i.name.schema),
                                text(&i.name.item),
                                text("CHECK"),
                                text("NO"),
                                text("NO"),
                                text("YES"),
                                Datum::Null,
                            ]
                        })
                })
                .collect(),
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
                                i.defaults
                                    .get(n)
                                    .cloned()
                                    .flatten()
                                    .map_or(Datum::Null, Datum::String),
                                text(if t.nullable { "YES" } else { "NO" }),
                                // Postgres names every array type `ARRAY` here.
                                text(match t.scalar.element() {
                                    Some(_) => "ARRAY",
                                    None => t.scalar.name(),
                                }),
                            ]
                        })
                        .collect::<Vec<_>>()
                })
                .collect(),
            "pg_attribute" => self.pg_attribute(),
            "pg_attrdef" => self
                .items
                .iter()
                .flat_map(|i| {
                    let table = object_oid(i);
                    i.defaults.iter().enumerate().filter_map(move |(n, d)| {
                        let n = n as i16 + 1;
                        Some(vec![
                            int(attrdef_oid(table, n)),
                            int(table),
                            Datum::Int16(n),
                            text(d.as_deref()?),
                        ])
                    })
                })
                .collect(),
            "pg_type" => pg_type(),
            "pg_collation" => [
                (100, "default", "d", Datum::Null),
                (950, "C", "c", text("C")),
                (951, "POSIX", "c", text("POSIX")),
            ]
            .into_iter()
            .map(|(oid, name, provider, locale)| {
                vec![
                    int(oid),
                    text(name),
                    int(PG_CATALOG_OID),
                    int(OWNER_OID),
                    text(provider),
                    Datum::Bool(true),
                    int(-1),
                    locale.clone(),
                    locale,
                    Datum::Null,
                    Datum::Null,
                ]
            })
            .collect(),
            "pg_roles" => vec![vec![
                text(OWNER),
                Datum::Bool(true),
                Datum::Bool(true),
                Datum::Bool(true),
                Datum::Bool(true),
                Datum::Bool(true),
                Datum::Bool(false),
                int(-1),
                text("********"),
                Datum::Null,
                Datum::Bool(false),
                Datum::Null,
                int(OWNER_OID),
            ]],
            "pg_user" => vec![vec![
                text(OWNER),
                int(OWNER_OID),
                Datum::Bool(true),
                Datum::Bool(true),
                Datum::Bool(false),
                Datum::Bool(false),
                text("********"),
                Datum::Null,
                Datum::Null,
            ]],
            "pg_tablespace" => [(1663, "pg_default"), (1664, "pg_global")]
                .into_iter()
                .map(|(oid, name)| {
                    vec![
                        int(oid),
                        text(name),
                        int(OWNER_OID),
                        Datum::Null,
                        Datum::Null,
                    ]
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Each column of every relation (the catalogs' own too) and of every index (its key
    /// columns). Only tables' columns are `NOT NULL`, as in Postgres, where a view's columns
    /// never are.
    fn pg_attribute(&self) -> Vec<Row> {
        let column =
            |rel: i32, n: usize, name: &str, t: ScalarType, not_null: bool, default: bool| {
                let (align, storage) = layout(t);
                let typlen = t.typlen();
                vec![
                    int(rel),
                    text(name),
                    int(t.oid() as i32),
                    int(-1),
                    Datum::Int16(typlen),
                    Datum::Int16(n as i16 + 1),
                    int(t.element().is_some() as i32),
                    int(-1),
                    int(-1),
                    Datum::Bool(matches!(typlen, 1 | 2 | 4 | 8)),
                    text(align),
                    text(storage),
                    text(""),
                    Datum::Bool(not_null),
                    Datum::Bool(default),
                    Datum::Bool(false),
                    text(""),
                    text(""),
                    Datum::Bool(false),
                    Datum::Bool(true),
                    int(0),
                    int(if t.element().unwrap_or(t) == ScalarType::Text {
                        100
                    } else {
                        0
                    }),
                    Datum::Null,
                    Datum::Null,
                    Datum::Null,
                ]
            };
        let mut rows: Vec<Row> = RELATIONS
            .iter()
            .flat_map(|r| {
                r.columns
                    .iter()
                    .enumerate()
                    .map(move |(n, (name, t))| column(r.oid, n, name, *t, false, false))
            })
            .collect();
        for (item, kind) in self.relations() {
            let oid = object_oid(item);
            let columns: Vec<usize> = match &item.kind {
                ItemKind::Index { key, .. } => key.clone(),
                _ => (0..item.desc.arity()).collect(),
            };
            let described = match &item.kind {
                ItemKind::Index { on, .. } => self.items.iter().find(|i| i.id == *on).copied(),
                _ => Some(item),
            };
            let Some(described) = described else { continue };
            let has_default = |c: usize| {
                matches!(item.kind, ItemKind::Table)
                    && matches!(item.defaults.get(c), Some(Some(_)))
            };
            for (n, c) in columns.into_iter().enumerate() {
                let (Some(name), Some(t)) =
                    (described.desc.names.get(c), described.desc.types.get(c))
                else {
                    continue;
                };
                let not_null = kind == "r" && !t.nullable;
                rows.push(column(oid, n, name, t.scalar, not_null, has_default(c)));
            }
        }
        rows
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
                int(0),
                Datum::Null,
                int(oid),
                Datum::Float32((-1.0f32).into()),
                int(0),
                Datum::Bool(false),
                int(0),
                int(0),
                int(0),
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

/// How Postgres lays a type out: its alignment and its storage (`p` plain for fixed sizes, `m`
/// main for numeric, `x` extended for other variable-length types).
fn layout(t: ScalarType) -> (&'static str, &'static str) {
    match t {
        ScalarType::Bool => ("c", "p"),
        ScalarType::Int16 => ("s", "p"),
        ScalarType::Int64
        | ScalarType::Float64
        | ScalarType::Timestamp
        | ScalarType::TimestampTz
        | ScalarType::Interval => ("d", "p"),
        ScalarType::Int32 | ScalarType::Float32 | ScalarType::Date => ("i", "p"),
        ScalarType::Numeric => ("i", "m"),
        ScalarType::Array(e) if matches!(layout(*e).0, "d") => ("d", "x"),
        _ => ("i", "x"),
    }
}

/// The types a client may meet in Runnel's results and catalogs, each with its array type:
/// (oid, name, category, preferred, array oid, input/output function prefix).
const TYPES: &[(u32, &str, &str, bool, u32, &str)] = &[
    (16, "bool", "B", true, 1000, "bool"),
    (17, "bytea", "U", false, 1001, "bytea"),
    (18, "char", "Z", false, 1002, "char"),
    (19, "name", "S", false, 1003, "name"),
    (20, "int8", "N", false, 1016, "int8"),
    (21, "int2", "N", false, 1005, "int2"),
    (22, "int2vector", "A", false, 1006, "int2vector"),
    (23, "int4", "N", false, 1007, "int4"),
    (25, "text", "S", true, 1009, "text"),
    (26, "oid", "N", true, 1028, "oid"),
    (30, "oidvector", "A", false, 1013, "oidvector"),
    (114, "json", "U", false, 199, "json"),
    (700, "float4", "N", false, 1021, "float4"),
    (701, "float8", "N", true, 1022, "float8"),
    (1042, "bpchar", "S", false, 1014, "bpchar"),
    (1043, "varchar", "S", false, 1015, "varchar"),
    (1082, "date", "D", false, 1182, "date"),
    (1114, "timestamp", "D", false, 1115, "timestamp"),
    (1184, "timestamptz", "D", true, 1185, "timestamptz"),
    (1186, "interval", "T", true, 1187, "interval"),
    (1700, "numeric", "N", false, 1231, "numeric"),
    (2205, "regclass", "N", false, 2210, "regclass"),
    (2206, "regtype", "N", false, 2211, "regtype"),
    (3802, "jsonb", "U", false, 3807, "jsonb"),
];

/// Pseudo-types (typtype `p`): no column has them, but catalog queries name them
/// (`prorettype::regtype != 'trigger'::regtype`): (oid, name, typlen).
const PSEUDO_TYPES: &[(u32, &str, i16)] = &[
    (2249, "record", -1),
    (2275, "cstring", -2),
    (2276, "any", 4),
    (2277, "anyarray", -1),
    (2278, "void", 4),
    (2279, "trigger", 4),
    (2281, "internal", 8),
    (2283, "anyelement", 4),
    (2776, "anynonarray", 4),
    (3838, "event_trigger", 4),
];

/// The oid and name of each type `pg_type` lists.
pub(super) fn type_oids() -> Vec<(i32, String)> {
    TYPES
        .iter()
        .flat_map(|&(oid, name, _, _, array, _)| {
            [
                (oid as i32, name.to_string()),
                (array as i32, format!("_{name}")),
            ]
        })
        .chain(
            PSEUDO_TYPES
                .iter()
                .map(|&(oid, name, _)| (oid as i32, name.to_string())),
        )
        .collect()
}

/// One `pg_type` row's varying fields.
struct TypeRow<'a> {
    oid: u32,
    name: String,
    typlen: i16,
    kind: &'a str,
    category: &'a str,
    preferred: bool,
    elem: u32,
    array: u32,
    io: &'a str,
    align: &'a str,
    storage: &'a str,
    collation: i32,
}

impl TypeRow<'_> {
    fn row(self) -> Row {
        vec![
            int(self.oid as i32),
            text(self.name),
            int(PG_CATALOG_OID),
            int(OWNER_OID),
            Datum::Int16(self.typlen),
            Datum::Bool(matches!(self.typlen, 1 | 2 | 4 | 8)),
            text(self.kind),
            text(self.category),
            Datum::Bool(self.preferred),
            Datum::Bool(true),
            text(","),
            int(0),
            text(if self.elem == 0 {
                "-"
            } else {
                "array_subscript_handler"
            }),
            int(self.elem as i32),
            int(self.array as i32),
            text(format!("{}in", self.io)),
            text(format!("{}out", self.io)),
            text(format!("{}recv", self.io)),
            text(format!("{}send", self.io)),
            text("-"),
            text("-"),
            text("-"),
            text(self.align),
            text(self.storage),
            Datum::Bool(false),
            int(0),
            int(-1),
            int(0),
            int(self.collation),
            Datum::Null,
            Datum::Null,
            Datum::Null,
        ]
    }
}

/// `pg_type`: the base types of `TYPES`, their array types, and the pseudo-types.
fn pg_type() -> Vec<Row> {
    let mut rows = Vec::new();
    for &(oid, name, category, preferred, array, io) in TYPES {
        let t = ScalarType::from_oid(oid).unwrap_or(ScalarType::Text);
        let (typlen, (align, storage)) = match name {
            "char" => (1, ("c", "p")),
            "name" => (64, ("c", "p")),
            "oid" | "regclass" | "regtype" => (4, ("i", "p")),
            "json" | "varchar" | "bpchar" => (-1, ("i", "x")),
            _ => (t.typlen(), layout(t)),
        };
        let collation = match category {
            "S" if name == "name" => 950,
            "S" => 100,
            _ => 0,
        };
        rows.push(
            TypeRow {
                oid,
                name: name.to_string(),
                typlen,
                kind: "b",
                category,
                preferred,
                elem: 0,
                array,
                io,
                align,
                storage,
                collation,
            }
            .row(),
        );
        rows.push(
            TypeRow {
                oid: array,
                name: format!("_{name}"),
                typlen: -1,
                kind: "b",
                category: "A",
                preferred: false,
                elem: oid,
                array: 0,
                io: "array_",
                align: if align == "d" { "d" } else { "i" },
                storage: "x",
                collation,
            }
            .row(),
        );
    }
    for &(oid, name, typlen) in PSEUDO_TYPES {
        rows.push(
            TypeRow {
                oid,
                name: name.to_string(),
                typlen,
                kind: "p",
                category: "P",
                preferred: false,
                elem: 0,
                array: 0,
                io: &format!("{name}_"),
                align: if typlen == 8 || typlen == -1 {
                    "d"
                } else {
                    "i"
                },
                storage: "p",
                collation: 0,
            }
            .row(),
        );
    }
    rows
}

/// The oid of a column default in `pg_attrdef`: one per table column, above every object's.
fn attrdef_oid(table: i32, column: i16) -> i32 {
    table.saturating_mul(1000).saturating_add(column as i32)
}
