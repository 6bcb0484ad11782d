//! ksqlDB's persistent and push queries, rewritten into the statements they mean here:
//!
//! - `CREATE STREAM x [WITH (...)] AS SELECT ... [EMIT CHANGES]` and the same with `TABLE` are
//!   materialized views. (A plain `CREATE TABLE x AS SELECT`, with neither a WITH clause nor
//!   EMIT CHANGES, is Postgres' and is left alone.) With `KAFKA_TOPIC` in the WITH clause the
//!   view is also written to that topic, as ksqlDB's persistent queries write theirs: see
//!   [`TopicOutput`].
//! - `SELECT ... EMIT CHANGES` is a push query: `SUBSCRIBE (SELECT ...)`.
//!
//! The rewrite works on tokens, so string literals and quoted names are never touched.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::error::SqlError;

/// The significant tokens (no whitespace or comments), each with where it starts and ends.
pub(super) fn tokens(sql: &str) -> Option<Vec<Tok>> {
    let dialect = PostgreSqlDialect {};
    let all = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .ok()?;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |l: Location| {
        let start = line_starts
            .get((l.line as usize).saturating_sub(1))
            .copied()
            .unwrap_or(sql.len());
        sql[start..]
            .char_indices()
            .nth((l.column as usize).saturating_sub(1))
            .map_or(sql.len(), |(i, _)| start + i)
    };
    Some(
        all.into_iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .map(|TokenWithSpan { token, span }| Tok {
                token,
                start: offset(span.start),
                end: offset(span.end),
            })
            .collect(),
    )
}

/// The tokens of one statement, without its trailing semicolons.
pub(super) fn statement_tokens(sql: &str) -> Option<Vec<Tok>> {
    let mut t = tokens(sql)?;
    while matches!(
        t.last().map(|x| &x.token),
        Some(Token::SemiColon | Token::EOF)
    ) {
        t.pop();
    }
    Some(t)
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tok {
    pub token: Token,
    pub start: usize,
    pub end: usize,
}

/// The source text the tokens span.
pub(super) fn text(sql: &str, tokens: &[Tok]) -> String {
    match (tokens.first(), tokens.last()) {
        (Some(a), Some(b)) => sql[a.start..b.end].to_string(),
        _ => String::new(),
    }
}

pub(super) fn is_word(t: Option<&Tok>, word: &str) -> bool {
    matches!(t, Some(Tok { token: Token::Word(w), .. }) if w.value.eq_ignore_ascii_case(word))
}

pub(super) fn is(t: Option<&Tok>, token: &Token) -> bool {
    t.is_some_and(|t| t.token == *token)
}

/// The tokens without a trailing `EMIT CHANGES [;]`, and whether it was there.
fn without_emit_changes(mut t: Vec<Tok>) -> (Vec<Tok>, bool) {
    while is(t.last(), &Token::SemiColon) || is(t.last(), &Token::EOF) {
        t.pop();
    }
    let n = t.len();
    if n >= 2 && is_word(t.get(n - 2), "EMIT") && is_word(t.get(n - 1), "CHANGES") {
        t.truncate(n - 2);
        return (t, true);
    }
    (t, false)
}

/// `SELECT ... EMIT CHANGES` as `SUBSCRIBE (SELECT ...)`'s argument text, or None.
pub fn push_query(sql: &str) -> Option<String> {
    let (t, emit) = without_emit_changes(tokens(sql)?);
    emit.then(|| format!("({})", super::stream_table::mark_ksql_joins(&text(sql, &t))))
}

/// Where a ksqlDB persistent query writes its rows: `WITH (KAFKA_TOPIC = 't' [, VALUE_FORMAT =
/// 'JSON'] [, KEY_FORMAT = 'JSON'] [, PARTITIONS = n, REPLICAS = n])`. A stream's rows are written
/// as they come; a table's as upserts keyed by its GROUP BY columns (planned as a sink).
#[derive(Debug, Clone, PartialEq)]
pub struct TopicOutput {
    pub topic: String,
    /// `CREATE TABLE` (a changelog keyed by the grouping) rather than `CREATE STREAM`.
    pub table: bool,
}

/// The topic a WITH clause's options name, if any; formats other than JSON are refused.
fn topic_output(sql: &str, options: &[Tok], table: bool) -> Result<Option<TopicOutput>, SqlError> {
    let mut topic = None;
    for option in options.split(|t| t.token == Token::Comma) {
        let (
            Some(Tok {
                token: Token::Word(key),
                ..
            }),
            value,
        ) = (option.first(), option.last())
        else {
            continue;
        };
        let value = match value.map(|t| &t.token) {
            Some(Token::SingleQuotedString(v)) => v.clone(),
            _ => text(sql, &option[option.len().saturating_sub(1)..]),
        };
        match key.value.to_ascii_uppercase().as_str() {
            "KAFKA_TOPIC" => topic = Some(value),
            "VALUE_FORMAT" | "KEY_FORMAT" | "FORMAT" if !value.eq_ignore_ascii_case("JSON") => {
                return Err(SqlError::unsupported(format!(
                    "{}='{value}' for a query's output topic (only JSON is written)",
                    key.value.to_ascii_uppercase()
                )))
            }
            // The broker creates the topic when it is first written, with its own defaults.
            _ => {}
        }
    }
    Ok(topic.map(|topic| TopicOutput { topic, table }))
}

/// A ksqlDB `CREATE STREAM|TABLE ... AS SELECT` as `CREATE MATERIALIZED VIEW` text and the topic
/// it writes to, or None when `sql` is not one.
pub fn create_as_select(sql: &str) -> Option<Result<(String, Option<TopicOutput>), SqlError>> {
    let (t, emit) = without_emit_changes(tokens(sql)?);
    let mut i = 0;
    let at = |i: usize| t.get(i);
    if !matches!(at(i), Some(Tok { token: Token::Word(w), .. }) if w.keyword == Keyword::CREATE) {
        return None;
    }
    i += 1;
    let mut head = String::from("CREATE ");
    if is_word(at(i), "OR") && is_word(at(i + 1), "REPLACE") {
        head.push_str("OR REPLACE ");
        i += 2;
    }
    let table = is_word(at(i), "TABLE");
    if !table && !is_word(at(i), "STREAM") {
        return None;
    }
    i += 1;
    head.push_str("MATERIALIZED VIEW ");
    if is_word(at(i), "IF") && is_word(at(i + 1), "NOT") && is_word(at(i + 2), "EXISTS") {
        head.push_str("IF NOT EXISTS ");
        i += 3;
    }
    // The name: words and dots up to WITH or AS.
    let name_start = i;
    while i < t.len() && !is_word(at(i), "WITH") && !is_word(at(i), "AS") {
        if !matches!(
            at(i).map(|t| &t.token),
            Some(Token::Word(_) | Token::Period)
        ) {
            return None;
        }
        i += 1;
    }
    let name = text(sql, &t[name_start..i]);
    let mut with = None;
    if is_word(at(i), "WITH") && is(at(i + 1), &Token::LParen) {
        let start = i + 2;
        let mut depth = 1;
        i += 2;
        while i < t.len() && depth > 0 {
            match at(i).map(|t| &t.token) {
                Some(Token::LParen) => depth += 1,
                Some(Token::RParen) => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        with = Some(t[start..i - 1].to_vec());
    }
    if !is_word(at(i), "AS") || name.is_empty() {
        return None;
    }
    // Postgres' own CREATE TABLE ... AS SELECT, unless ksqlDB's marks are on it.
    if table && with.is_none() && !emit {
        return None;
    }
    let output = match with.as_deref().map(|o| topic_output(sql, o, table)) {
        Some(Err(e)) => return Some(Err(e)),
        Some(Ok(output)) => output,
        None => None,
    };
    Some(Ok((
        format!(
            "{head}{name} AS {}",
            super::stream_table::mark_ksql_joins(&text(sql, &t[i + 1..]))
        ),
        output,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_persistent_and_push_queries() {
        let v = create_as_select(
            "CREATE STREAM poor_ratings AS SELECT * FROM ratings WHERE stars < 3 EMIT CHANGES;",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            v,
            (
                "CREATE MATERIALIZED VIEW poor_ratings AS SELECT * FROM ratings WHERE stars < 3"
                    .to_string(),
                None
            )
        );
        let v = create_as_select(
            "CREATE TABLE by_status WITH (VALUE_FORMAT='JSON') AS SELECT s, COUNT(*) FROM r GROUP BY s",
        )
        .unwrap()
        .unwrap();
        assert!(
            v.0.starts_with("CREATE MATERIALIZED VIEW by_status AS SELECT s"),
            "{v:?}"
        );
        assert!(create_as_select("CREATE TABLE t AS SELECT 1").is_none());
        assert!(create_as_select("CREATE TABLE t (a int)").is_none());
        let (_, output) =
            create_as_select("CREATE STREAM s WITH (KAFKA_TOPIC='x', PARTITIONS=1) AS SELECT 1")
                .unwrap()
                .unwrap();
        assert_eq!(
            output,
            Some(TopicOutput {
                topic: "x".into(),
                table: false
            })
        );
        assert!(create_as_select(
            "CREATE TABLE s WITH (KAFKA_TOPIC='x', VALUE_FORMAT='AVRO') AS SELECT 1 EMIT CHANGES"
        )
        .unwrap()
        .is_err());
        assert_eq!(
            push_query("SELECT * FROM poor_ratings EMIT CHANGES;").as_deref(),
            Some("(SELECT * FROM poor_ratings)")
        );
        assert_eq!(push_query("SELECT 'EMIT CHANGES'"), None);
        assert_eq!(
            push_query("SELECT 'it''s', E'\\n' FROM t\n  EMIT CHANGES").as_deref(),
            Some("(SELECT 'it''s', E'\\n' FROM t)")
        );
    }
}
