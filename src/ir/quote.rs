//! Quoting and type names for SQL text: `quote_ident`, `quote_literal`, `quote_nullable` and
//! `format_type`, as PostgreSQL computes them (client tools build SQL from catalog queries with
//! these).

use crate::repr::ScalarType;

/// PostgreSQL 15's keywords that are not unreserved (`pg_get_keywords()` where `catcode <> 'U'`):
/// an identifier spelled like one of them must be quoted.
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// `quote_ident(s)`: `s` as an identifier, in double quotes unless it is a lower-case name
/// that is not a keyword.
pub fn quote_ident(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && QUOTED_KEYWORDS.binary_search(&s).is_err();
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// `quote_literal(s)`: `s` as a string literal; with backslashes, an escape string (`E'...'`).
pub fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// `format_type(type_oid, typmod)`: the type's SQL name with its modifier, `???` for an oid
/// that is no type here.
pub fn format_type(oid: i64, typmod: Option<i64>) -> String {
    let typmod = typmod.filter(|t| *t >= 0);
    let name = match oid {
        0 => return "-".into(),
        1043 => "character varying",
        1042 => "character",
        19 => "name",
        114 => "json",
        26 => "oid",
        18 => "\"char\"",
        22 => "int2vector",
        30 => "oidvector",
        24 => "regproc",
        2205 => "regclass",
        2206 => "regtype",
        4089 => "regnamespace",
        oid => match u32::try_from(oid).ok().and_then(ScalarType::from_oid) {
            Some(t) if t.oid() as i64 == oid => t.name(),
            _ => return "???".into(),
        },
    };
    match (oid, typmod) {
        (1043 | 1042, Some(t)) if t >= 4 => format!("{name}({})", t - 4),
        (1700, Some(t)) if t >= 4 => {
            format!("numeric({},{})", ((t - 4) >> 16) & 0xffff, (t - 4) & 0xffff)
        }
        (1114, Some(p)) => format!("timestamp({p}) without time zone"),
        (1184, Some(p)) => format!("timestamp({p}) with time zone"),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_postgres() {
        assert!(QUOTED_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(quote_ident("foo_1"), "foo_1");
        assert_eq!(quote_ident("Foo"), "\"Foo\"");
        assert_eq!(quote_ident("select"), "\"select\"");
        assert_eq!(quote_ident("name"), "name");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("1a"), "\"1a\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
        assert_eq!(format_type(1043, Some(20)), "character varying(16)");
        assert_eq!(format_type(1700, Some(655366)), "numeric(10,2)");
        assert_eq!(format_type(23, None), "integer");
        assert_eq!(format_type(99999, None), "???");
    }
}
