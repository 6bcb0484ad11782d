//! Stream-table joins: `JOIN t FOR SYSTEM_TIME AS OF PROCTIME() [AS a]` (Flink's and
//! RisingWave's spelling), and every join of ksqlDB's persistent and push queries, reach the
//! planner as `JOIN __as_of_arrival(t [, 'ksql']) AS a`, a FROM item Postgres' grammar parses.
//! The planner decides what the join is (`plan::from`): with `'ksql'`, a stream-table join only
//! when the left side is a stream and `t` is not (ksqlDB's other joins are relational).
//!
//! The rewrite works on tokens, so string literals and quoted names are never touched.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::ksql::{is, is_word, text, tokens, Tok};
use crate::error::SqlError;

/// The FROM item's name the planner recognizes.
pub const MARKER: &str = "__as_of_arrival";

/// Its second argument in ksqlDB's statements.
pub const KSQL: &str = "ksql";

/// ksqlDB's `WITHIN ... GRACE PERIOD n` reaches the planner as a conjunct `__join_grace(ms)` of
/// the join condition, which the planner takes out (`plan::join_time::take_join_grace`).
pub const JOIN_GRACE: &str = "__join_grace";

/// `sql` with each `name FOR SYSTEM_TIME AS OF PROCTIME()` as the marker, or None when it has
/// none.
pub fn rewrite(sql: &str) -> Option<Result<String, SqlError>> {
    if !sql.to_ascii_lowercase().contains("system_time") {
        return None;
    }
    let t = tokens(sql)?;
    let mut out = String::new();
    let mut copied = 0; // bytes of `sql` already in `out`
    let mut found = false;
    for i in 1..t.len() {
        if !(is_word(t.get(i), "FOR")
            && is_word(t.get(i + 1), "SYSTEM_TIME")
            && is_word(t.get(i + 2), "AS")
            && is_word(t.get(i + 3), "OF"))
        {
            continue;
        }
        if !(is_word(t.get(i + 4), "PROCTIME")
            && is(t.get(i + 5), &Token::LParen)
            && is(t.get(i + 6), &Token::RParen))
        {
            return Some(Err(SqlError::unsupported(
                "FOR SYSTEM_TIME AS OF other than PROCTIME() (a stream row joins the table as it \
                 was when the row arrived)",
            )));
        }
        let Some(start) = name_start(&t, i) else {
            return Some(Err(SqlError::new(
                "42601",
                "FOR SYSTEM_TIME AS OF must follow a table's name",
            )));
        };
        out.push_str(&sql[copied..t[start].start]);
        out.push_str(&marked(sql, &t[start..i], None, has_alias(t.get(i + 7))));
        copied = t[i + 6].end;
        found = true;
    }
    found.then(|| {
        out.push_str(&sql[copied..]);
        Ok(out)
    })
}

/// A ksqlDB query's SELECT text with the relation after each JOIN marked: the planner makes
/// the join a stream-table join when its sides are a stream and a table.
pub fn mark_ksql_joins(sql: &str) -> String {
    let Some(t) = tokens(sql) else {
        return sql.to_string();
    };
    let mut out = String::new();
    let mut copied = 0;
    for i in 0..t.len() {
        if !is_word(t.get(i), "JOIN") {
            continue;
        }
        // A name: words joined by dots.
        let mut end = i + 1;
        while matches!(t.get(end), Some(Tok { token: Token::Word(w), .. }) if w.keyword != Keyword::LATERAL)
        {
            end += 1;
            if !is(t.get(end), &Token::Period) {
                break;
            }
            end += 1;
        }
        if end == i + 1 || is(t.get(end), &Token::LParen) || is(t.get(end - 1), &Token::Period) {
            continue; // a derived table, a function, or not a name
        }
        out.push_str(&sql[copied..t[i + 1].start]);
        out.push_str(&marked(
            sql,
            &t[i + 1..end],
            Some(KSQL),
            has_alias(t.get(end)),
        ));
        copied = t[end - 1].end;
    }
    out.push_str(&sql[copied..]);
    out
}

/// Where the name ending just before token `i` starts (words joined by dots).
fn name_start(t: &[Tok], i: usize) -> Option<usize> {
    let mut start = i.checked_sub(1)?;
    if !matches!(t[start].token, Token::Word(_)) {
        return None;
    }
    while start >= 2 && is(t.get(start - 1), &Token::Period) {
        start -= 2;
    }
    Some(start)
}

/// Whether the token after a FROM item starts its alias.
fn has_alias(next: Option<&Tok>) -> bool {
    matches!(next, Some(Tok { token: Token::Word(w), .. })
        if w.keyword == Keyword::AS || w.keyword == Keyword::NoKeyword)
}

/// The marker over the relation `name`, aliased by its last part unless an alias follows.
fn marked(sql: &str, name: &[Tok], mode: Option<&str>, aliased: bool) -> String {
    let mut s = format!("{MARKER}({}", text(sql, name));
    if let Some(mode) = mode {
        s.push_str(&format!(", '{mode}'"));
    }
    s.push(')');
    if !aliased {
        s.push_str(" AS ");
        s.push_str(&text(sql, &name[name.len() - 1..]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_proctime_joins() {
        let sql =
            "SELECT * FROM r JOIN s.customers FOR SYSTEM_TIME AS OF PROCTIME() AS c ON r.u = c.id";
        assert_eq!(
            rewrite(sql).unwrap().unwrap(),
            "SELECT * FROM r JOIN __as_of_arrival(s.customers) AS c ON r.u = c.id"
        );
        let sql = "SELECT * FROM r LEFT JOIN customers for system_time as of proctime() ON true";
        assert_eq!(
            rewrite(sql).unwrap().unwrap(),
            "SELECT * FROM r LEFT JOIN __as_of_arrival(customers) AS customers ON true"
        );
        assert!(rewrite("SELECT 'for system_time as of proctime()'").is_none());
        assert!(
            rewrite("SELECT * FROM r JOIN c FOR SYSTEM_TIME AS OF r.ts ON true")
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn marks_every_join_of_a_ksql_query() {
        assert_eq!(
            mark_ksql_joins("SELECT * FROM ratings r JOIN customers c ON r.u = c.id"),
            "SELECT * FROM ratings r JOIN __as_of_arrival(customers, 'ksql') c ON r.u = c.id"
        );
        assert_eq!(
            mark_ksql_joins("SELECT * FROM a LEFT JOIN k.b ON a.x = b.x JOIN (SELECT 1) d ON true"),
            "SELECT * FROM a LEFT JOIN __as_of_arrival(k.b, 'ksql') AS b ON a.x = b.x JOIN (SELECT 1) d ON true"
        );
    }
}
