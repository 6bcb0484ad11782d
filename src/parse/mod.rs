//! SQL text to statements: sqlparser's Postgres dialect, plus Runnel's own statements
//! (`SUBSCRIBE`/`TAIL`, `SHOW TABLES|VIEWS|COLUMNS`, `FETCH ... WITH (timeout)`, `FLUSH`),
//! which are recognized by their leading words and carry sqlparser ASTs for their queries.

use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::SqlError;

mod generator;
mod ksql;
pub use ksql::TopicOutput;
mod ksql_window;
mod sink;
mod source;
pub mod stream_table;
mod watermark;
pub use generator::{CreateGenerator, Generator};
pub use sink::{parse_create_sink, CreateSink, SinkEnvelope, SinkFormat};
pub use source::{
    parse_create_source, quote_ident, quote_literal, CreateSource, Envelope, Metadata, OnError,
    SourceColumn, SourceFormat,
};

/// How deeply expressions may nest. Postgres accepts the deeply parenthesized predicates that
/// generated SQL contains; the threads that plan statements have stacks sized for this
/// (`STACK_SIZE`).
pub const RECURSION_LIMIT: usize = 400;

/// The stack size of threads that parse, plan and evaluate statements.
pub const STACK_SIZE: usize = 32 * 1024 * 1024;

/// One parsed statement.
#[derive(Debug, Clone)]
pub enum Statement {
    Sql(Box<ast::Statement>),
    /// `SELECT ... AS OF t`: a query read at a past time `t` (milliseconds, or a timestamp).
    SelectAsOf {
        query: Box<ast::Query>,
        as_of: ast::Expr,
    },
    Subscribe(Subscribe),
    /// `COPY (SUBSCRIBE ...) TO STDOUT`.
    CopySubscribe(Subscribe),
    /// `DECLARE name CURSOR FOR SUBSCRIBE ...`.
    DeclareSubscribe {
        name: String,
        subscribe: Subscribe,
    },
    /// `FETCH [n|ALL] [FROM|IN] name [WITH (timeout = '1s')]`.
    Fetch {
        name: String,
        count: Option<u64>,
        timeout: Option<std::time::Duration>,
    },
    Show(ShowObjects),
    /// `SHOW HYDRATION`: whether each table's and materialized view's arrangement has caught
    /// up (after a restart, or since its creation).
    ShowHydration,
    CreateSource(CreateSource),
    CreateGenerator(CreateGenerator),
    CreateSink(CreateSink),
    /// ksqlDB's `CREATE STREAM|TABLE x WITH (KAFKA_TOPIC = ...) AS SELECT`: the materialized
    /// view, and a sink of it into the topic.
    CreateViewIntoTopic {
        view: Box<Statement>,
        output: ksql::TopicOutput,
    },
    /// `DROP SINK ...`, parsed as the `DROP VIEW` of the same length.
    DropSink(Box<ast::Statement>),
    /// `FLUSH`: waits until earlier writes are visible (they always are, reads are linearized).
    Flush,
    Empty,
}

#[derive(Debug, Clone)]
pub enum SubscribeFrom {
    Name(Vec<String>),
    Query(Box<ast::Query>),
}

#[derive(Debug, Clone)]
pub struct Subscribe {
    pub from: SubscribeFrom,
    pub snapshot: bool,
    pub progress: bool,
    pub as_of: Option<ast::Expr>,
}

#[derive(Debug, Clone)]
pub enum ShowObjects {
    Tables,
    Sources,
    Sinks,
    Views,
    MaterializedViews,
    Indexes,
    Databases,
    Schemas,
    Columns(Vec<String>),
    /// `SHOW SOURCE ERRORS [FROM name]`: sources' undecodable records.
    SourceErrors(Option<Vec<String>>),
    /// `SHOW LATE ROWS`: rows each EMIT FINAL view dropped because their window had closed.
    LateRows,
}

/// Splits a query string into statement texts at top-level semicolons, keeping each statement's
/// byte offset (for error positions).
pub fn split_statements(sql: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let bytes = sql.as_bytes();
    let (mut start, mut i) = (0, 0);
    let mut quote: Option<u8> = None;
    let mut depth = 0i32;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'-' if bytes.get(i + 1) == Some(&b'-') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'(' => depth += 1,
                b')' => depth -= 1,
                b';' if depth <= 0 => {
                    out.push((start, &sql[start..i]));
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    if start < sql.len() {
        out.push((start, &sql[start..]));
    }
    out.retain(|(_, s)| !is_blank(s));
    // A statement starts at its first word: leading comments would hide which statement it is.
    out.into_iter()
        .map(|(at, s)| {
            let skip = leading_comments(s);
            (at + skip, &s[skip..])
        })
        .collect()
}

/// The length of `s`'s leading whitespace and `--` comments.
fn leading_comments(s: &str) -> usize {
    let mut i = 0;
    loop {
        let rest = &s[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if !trimmed.starts_with("--") {
            return i;
        }
        i += trimmed.find('\n').map_or(trimmed.len(), |n| n + 1);
    }
}

fn is_blank(s: &str) -> bool {
    s.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with("--")
    })
}

/// Parses one statement's text.
pub fn parse_statement(sql: &str) -> Result<Statement, SqlError> {
    if is_blank(sql) {
        return Ok(Statement::Empty);
    }
    if let Some(table) = watermark::rewrite(sql) {
        return parse_statement(&table?);
    }
    if let Some(marked) = stream_table::rewrite(sql) {
        return parse_statement(&marked?);
    }
    if let Some(bounded) = ksql_window::within(sql) {
        return parse_statement(&bounded?);
    }
    if let Some(windowed) = ksql_window::rewrite(sql) {
        return parse_statement(&windowed?);
    }
    if let Some(closing) = ksql_window::emit_final(sql) {
        return parse_statement(&closing?);
    }
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(6)
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    match (w(0), w(1)) {
        ("subscribe" | "tail", _) => {
            return parse_subscribe(strip_keyword(sql, 1)).map(Statement::Subscribe)
        }
        ("copy", _) if sql.contains('(') && matches!(w(1), "subscribe" | "tail") => {
            let open = sql.find('(').expect("checked above");
            let close = sql
                .rfind(')')
                .ok_or_else(|| syntax("expected ')' closing COPY's query", None))?;
            let tail = sql[close + 1..].trim().to_ascii_lowercase();
            if !tail.starts_with("to stdout") {
                return Err(SqlError::unsupported(
                    "COPY (SUBSCRIBE ...) other than TO STDOUT",
                ));
            }
            let inner = &sql[open + 1..close];
            return parse_subscribe(strip_keyword(inner, 1)).map(Statement::CopySubscribe);
        }
        ("declare", _)
            if matches!(w(4), "subscribe" | "tail")
                || (w(2) == "cursor" && w(4) == "subscribe") =>
        {
            let name = words[1].clone();
            let pos = find_word(sql, w(4)).ok_or_else(|| syntax("expected SUBSCRIBE", None))?;
            let subscribe = parse_subscribe(strip_keyword(&sql[pos..], 1))?;
            return Ok(Statement::DeclareSubscribe { name, subscribe });
        }
        ("fetch", _) => return parse_fetch(sql),
        ("create", "source") if generator::is_load_generator(sql) => {
            return generator::parse_create_generator(sql).map(Statement::CreateGenerator)
        }
        ("create", "source") => return parse_create_source(sql).map(Statement::CreateSource),
        ("create", "stream" | "table" | "or") => {
            if source::is_ksql_source(sql) {
                return source::parse_ksql_source(sql).map(Statement::CreateSource);
            }
            if let Some(view) = ksql::create_as_select(sql) {
                let (view, output) = view?;
                let view = parse_statement(&view)?;
                return Ok(match output {
                    None => view,
                    Some(output) => Statement::CreateViewIntoTopic {
                        view: Box::new(view),
                        output,
                    },
                });
            }
        }
        ("show", "sources") => return Ok(Statement::Show(ShowObjects::Sources)),
        ("show", "late") if w(2) == "rows" => return Ok(Statement::Show(ShowObjects::LateRows)),
        ("show", "sinks") => return Ok(Statement::Show(ShowObjects::Sinks)),
        ("create", "sink") => return parse_create_sink(sql).map(Statement::CreateSink),
        ("show", "source") if w(2) == "errors" => {
            let rest = strip_keyword(sql, 3).trim().trim_end_matches(';').trim();
            let from = if rest.is_empty() {
                None
            } else if rest.len() > 5 && rest[..5].eq_ignore_ascii_case("from ") {
                Some(parse_object_name(&rest[5..])?)
            } else {
                return Err(syntax("expected SHOW SOURCE ERRORS [FROM name]", None));
            };
            return Ok(Statement::Show(ShowObjects::SourceErrors(from)));
        }
        ("flush", _) => return Ok(Statement::Flush),
        ("show", "tables") => return Ok(Statement::Show(ShowObjects::Tables)),
        ("show", "views") => return Ok(Statement::Show(ShowObjects::Views)),
        ("show", "materialized") => return Ok(Statement::Show(ShowObjects::MaterializedViews)),
        ("show", "indexes") => return Ok(Statement::Show(ShowObjects::Indexes)),
        ("show", "databases") => return Ok(Statement::Show(ShowObjects::Databases)),
        ("show", "schemas") => return Ok(Statement::Show(ShowObjects::Schemas)),
        ("show", "hydration") if w(2).is_empty() => return Ok(Statement::ShowHydration),
        ("show", "columns") if w(2) == "from" || w(2) == "in" => {
            let name = strip_keyword(sql, 3).trim().trim_end_matches(';').trim();
            return Ok(Statement::Show(ShowObjects::Columns(parse_object_name(
                name,
            )?)));
        }
        ("select" | "with" | "values" | "table", _) => {
            if let Some(query) = ksql::push_query(sql) {
                return parse_subscribe(&query).map(Statement::Subscribe);
            }
            if let Some((query, as_of)) = split_as_of(sql)? {
                return Ok(Statement::SelectAsOf { query, as_of });
            }
        }
        _ => {}
    }
    let sql = &spell_retain_history(sql);
    // sqlparser knows DROP STREAM, not DROP SOURCE; the words have the same length, so error
    // positions stay right.
    let sql = &match (w(0), w(1)) {
        ("drop", "source") => {
            let at = find_word(sql, "source").expect("the second word");
            format!("{}STREAM{}", &sql[..at], &sql[at + 6..])
        }
        ("drop", "sink") => {
            let at = find_word(sql, "sink").expect("the second word");
            format!("{}VIEW{}", &sql[..at], &sql[at + 4..])
        }
        ("drop", "database") => without_force(sql).to_string(),
        _ => sql.to_string(),
    };
    let dialect = PostgreSqlDialect {};
    let mut stmts = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| parser_error(sql, e))?;
    match stmts.len() {
        0 => Ok(Statement::Empty),
        1 if (w(0), w(1)) == ("drop", "sink") => Ok(Statement::DropSink(Box::new(stmts.remove(0)))),
        1 => Ok(Statement::Sql(Box::new(stmts.remove(0)))),
        _ => Err(syntax("expected one statement", None)),
    }
}

/// `DROP DATABASE ... [WITH] (FORCE)` without its option, which sqlparser does not know. In
/// PostgreSQL it ends the other sessions on the database first; here a dropped database's
/// sessions find its objects gone (as when it is dropped without FORCE), so it changes nothing.
fn without_force(sql: &str) -> &str {
    let body = sql.trim_end().trim_end_matches(';').trim_end();
    let Some(option) = body
        .strip_suffix(')')
        .and_then(|b| b.rsplit_once('('))
        .filter(|(_, inner)| inner.trim().eq_ignore_ascii_case("force"))
        .map(|(before, _)| before.trim_end())
    else {
        return sql;
    };
    match option.rsplit_once(char::is_whitespace) {
        Some((before, word)) if word.eq_ignore_ascii_case("with") => before,
        _ => option,
    }
}

/// Splits `query AS OF expr` at a top-level `AS OF` whose remainder is one whole expression
/// (so `SELECT x AS of FROM t`, an alias, is left alone).
fn split_as_of(sql: &str) -> Result<Option<(Box<ast::Query>, ast::Expr)>, SqlError> {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize_with_location() else {
        return Ok(None);
    };
    let is = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k);
    let mut depth = 0i32;
    let mut found = None;
    let significant: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    for (i, t) in significant.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ if depth == 0
                && is(&t.token, Keyword::AS)
                && significant
                    .get(i + 1)
                    .is_some_and(|n| is(&n.token, Keyword::OF)) =>
            {
                found = Some(t.span.start)
            }
            _ => {}
        }
    }
    let Some(at) = found else { return Ok(None) };
    let at = byte_offset(sql, at.line, at.column);
    let (query, rest) = (&sql[..at], sql[at..].trim_end().trim_end_matches(';'));
    let rest = &rest[2..].trim_start()[2..]; // past AS and OF
    let mut parser = Parser::new(&dialect)
        .try_with_sql(rest)
        .map_err(|e| parser_error(rest, e))?;
    let Ok(as_of) = parser.parse_expr() else {
        return Ok(None);
    };
    if parser.peek_token().token != Token::EOF {
        return Ok(None);
    }
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(query)
        .map_err(|e| parser_error(query, e))?;
    let query = parser.parse_query().map_err(|e| parser_error(query, e))?;
    if parser.peek_token().token != Token::EOF {
        return Err(syntax(
            format!("syntax error at or near \"{}\"", parser.peek_token().token),
            None,
        ));
    }
    Ok(Some((query, as_of)))
}

/// The byte offset of a 1-based line and (character) column.
fn byte_offset(sql: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for (n, l) in sql.split_inclusive('\n').enumerate() {
        if n as u64 + 1 == line {
            return offset
                + l.char_indices()
                    .nth(column.saturating_sub(1) as usize)
                    .map_or(l.len(), |(i, _)| i);
        }
        offset += l.len();
    }
    sql.len()
}

/// Materialize spells the retention option `RETAIN HISTORY [=] [FOR] '1 hour'`; sqlparser
/// takes options as `name = value`, so the two words become one (`retain_history = ...`).
fn spell_retain_history(sql: &str) -> std::borrow::Cow<'_, str> {
    let lower = sql.to_ascii_lowercase();
    let Some(at) = find_word(&lower, "retain") else {
        return sql.into();
    };
    let rest = lower[at + "retain".len()..].trim_start();
    let Some(after) = rest.strip_prefix("history") else {
        return sql.into();
    };
    let after = after.trim_start();
    let after = after.strip_prefix('=').unwrap_or(after).trim_start();
    let after = match after.strip_prefix("for") {
        Some(a) if a.starts_with(char::is_whitespace) || a.starts_with('\'') => a,
        _ => after,
    };
    let tail = &sql[sql.len() - after.len()..];
    format!("{}retain_history = {}", &sql[..at], tail.trim_start()).into()
}

fn syntax(msg: impl Into<String>, position: Option<usize>) -> SqlError {
    let mut e = SqlError::new("42601", msg);
    e.position = position;
    e
}

/// The 1-based character position of sqlparser's 1-based `line` and `column` in `sql`.
pub fn char_position(sql: &str, line: u32, column: u32) -> usize {
    let before: usize = sql
        .lines()
        .take((line as usize).saturating_sub(1))
        .map(|l| l.chars().count() + 1)
        .sum();
    before + column as usize
}

/// Turns sqlparser's "... at Line: L, Column: C" into Postgres' 1-based character position.
fn parser_error(sql: &str, e: sqlparser::parser::ParserError) -> SqlError {
    let msg = e.to_string();
    let msg = msg
        .strip_prefix("sql parser error: ")
        .unwrap_or(&msg)
        .to_string();
    let position = msg.rfind(" at Line: ").and_then(|at| {
        let rest = &msg[at + " at Line: ".len()..];
        let (line, col) = rest.split_once(", Column: ")?;
        Some(char_position(
            sql,
            line.trim().parse().ok()?,
            col.trim().parse().ok()?,
        ))
    });
    if position.is_none() && msg.ends_with("found: EOF") {
        // As Postgres: the error is at the end of the input.
        return syntax(
            format!("syntax error at end of input ({msg})"),
            Some(sql.chars().count() + 1),
        );
    }
    let clean = match msg.rfind(" at Line: ") {
        Some(at) => msg[..at].to_string(),
        None => msg,
    };
    syntax(format!("syntax error: {clean}"), position)
}

/// The text after the first `n` words.
fn strip_keyword(sql: &str, n: usize) -> &str {
    let mut rest = sql.trim_start();
    for _ in 0..n {
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest
}

fn find_word(sql: &str, word: &str) -> Option<usize> {
    let lower = sql.to_ascii_lowercase();
    let mut from = 0;
    while let Some(p) = lower[from..].find(word) {
        let at = from + p;
        let before_ok = at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric();
        let after = at + word.len();
        let after_ok = after >= lower.len() || !lower.as_bytes()[after].is_ascii_alphanumeric();
        if before_ok && after_ok {
            return Some(at);
        }
        from = after;
    }
    None
}

fn parse_object_name(text: &str) -> Result<Vec<String>, SqlError> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(text)
        .map_err(|e| parser_error(text, e))?;
    let name = parser
        .parse_object_name(false)
        .map_err(|e| parser_error(text, e))?;
    Ok(name
        .0
        .iter()
        .map(|p| normalize_ident(p.as_ident().expect("object name parts are identifiers")))
        .collect())
}

/// Lower-cases unquoted identifiers, as Postgres does.
pub fn normalize_ident(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// `SUBSCRIBE [TO] name | (query) [WITH (SNAPSHOT = b, PROGRESS = b)] [AS OF t]`, given the text
/// after the SUBSCRIBE keyword.
fn parse_subscribe(rest: &str) -> Result<Subscribe, SqlError> {
    let dialect = PostgreSqlDialect {};
    let mut rest = rest.trim().trim_end_matches(';').trim();
    if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case("to ") {
        rest = rest[3..].trim_start();
    }
    let mut parser = Parser::new(&dialect)
        .try_with_sql(rest)
        .map_err(|e| parser_error(rest, e))?;
    let from = if parser.consume_token(&Token::LParen) {
        let q = parser.parse_query().map_err(|e| parser_error(rest, e))?;
        parser
            .expect_token(&Token::RParen)
            .map_err(|e| parser_error(rest, e))?;
        SubscribeFrom::Query(q)
    } else {
        let name = parser
            .parse_object_name(false)
            .map_err(|e| parser_error(rest, e))?;
        SubscribeFrom::Name(
            name.0
                .iter()
                .map(|p| normalize_ident(p.as_ident().expect("object name parts are identifiers")))
                .collect(),
        )
    };
    let mut sub = Subscribe {
        from,
        snapshot: true,
        progress: false,
        as_of: None,
    };
    loop {
        if parser.parse_keyword(sqlparser::keywords::Keyword::WITH) {
            parser
                .expect_token(&Token::LParen)
                .map_err(|e| parser_error(rest, e))?;
            loop {
                let key = parser
                    .parse_identifier()
                    .map_err(|e| parser_error(rest, e))?
                    .value
                    .to_lowercase();
                let value = if parser.consume_token(&Token::Eq)
                    || matches!(parser.peek_token().token, Token::Word(_))
                {
                    let tok = parser.next_token().token.to_string().to_lowercase();
                    !matches!(tok.trim_matches('\''), "false" | "off" | "0")
                } else {
                    true
                };
                match key.as_str() {
                    "snapshot" => sub.snapshot = value,
                    "progress" => sub.progress = value,
                    other => {
                        return Err(syntax(
                            format!("unrecognized SUBSCRIBE option \"{other}\""),
                            None,
                        ))
                    }
                }
                if !parser.consume_token(&Token::Comma) {
                    break;
                }
            }
            parser
                .expect_token(&Token::RParen)
                .map_err(|e| parser_error(rest, e))?;
        } else if parser.parse_keywords(&[
            sqlparser::keywords::Keyword::AS,
            sqlparser::keywords::Keyword::OF,
        ]) {
            sub.as_of = Some(parser.parse_expr().map_err(|e| parser_error(rest, e))?);
        } else {
            break;
        }
    }
    if parser.peek_token().token != Token::EOF {
        return Err(syntax(
            format!("syntax error at or near \"{}\"", parser.peek_token().token),
            None,
        ));
    }
    Ok(sub)
}

fn parse_fetch(sql: &str) -> Result<Statement, SqlError> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| syntax(e.to_string(), None))?;
    let words: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut i = 1;
    let mut count = Some(1);
    let lower = |t: &Token| t.to_string().to_lowercase();
    match words.get(i) {
        Some(Token::Number(n, _)) => {
            count = Some(n.parse().map_err(|_| syntax("bad FETCH count", None))?);
            i += 1;
        }
        Some(t) if lower(t) == "all" => {
            count = None;
            i += 1;
        }
        Some(t) if lower(t) == "forward" || lower(t) == "next" => {
            i += 1;
            if let Some(Token::Number(n, _)) = words.get(i) {
                count = Some(n.parse().map_err(|_| syntax("bad FETCH count", None))?);
                i += 1;
            } else if words.get(i).is_some_and(|t| lower(t) == "all") {
                count = None;
                i += 1;
            }
        }
        _ => {}
    }
    if words
        .get(i)
        .is_some_and(|t| lower(t) == "from" || lower(t) == "in")
    {
        i += 1;
    }
    let name = match words.get(i) {
        Some(Token::Word(w)) => normalize_ident(&ast::Ident {
            value: w.value.clone(),
            quote_style: w.quote_style,
            span: sqlparser::tokenizer::Span::empty(),
        }),
        _ => return Err(syntax("FETCH expects a cursor name", None)),
    };
    i += 1;
    let mut timeout = None;
    if words.get(i).is_some_and(|t| lower(t) == "with") {
        // WITH (timeout = '1s')
        let texts: Vec<String> = words[i..].iter().map(|t| t.to_string()).collect();
        let value = texts
            .iter()
            .find(|t| t.starts_with('\''))
            .map(|t| t.trim_matches('\'').to_string());
        if let Some(v) = value {
            let iv = crate::repr::strconv::parse_interval(&v)
                .ok_or_else(|| syntax(format!("invalid timeout \"{v}\""), None))?;
            timeout = Some(std::time::Duration::from_micros(
                iv.as_micros().max(0) as u64
            ));
        }
    }
    Ok(Statement::Fetch {
        name,
        count,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_top_level_semicolons() {
        let parts = split_statements("-- a comment\n  -- another\nselect 1; select ';'; ");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], (26, "select 1"));
        assert_eq!(parts[1].1.trim(), "select ';'");
    }

    #[test]
    fn parses_subscribe_forms() {
        let Statement::Subscribe(s) = parse_statement("SUBSCRIBE TO v WITH (PROGRESS)").unwrap()
        else {
            panic!()
        };
        assert!(s.progress && s.snapshot);
        let Statement::CopySubscribe(s) =
            parse_statement("COPY (SUBSCRIBE (SELECT 1) WITH (SNAPSHOT = false)) TO STDOUT")
                .unwrap()
        else {
            panic!()
        };
        assert!(!s.snapshot);
        assert!(matches!(s.from, SubscribeFrom::Query(_)));
    }

    #[test]
    fn parses_as_of_and_retain_history() {
        let Statement::SelectAsOf { query, as_of } = parse_statement(
            "SELECT a AS x FROM t WHERE b IN (SELECT c FROM u) AS OF 1700000000000;",
        )
        .unwrap() else {
            panic!("expected AS OF")
        };
        assert_eq!(as_of.to_string(), "1700000000000");
        assert!(query.to_string().ends_with("(SELECT c FROM u)"), "{query}");
        // An alias named `of` is not a time.
        assert!(matches!(
            parse_statement("SELECT 1 AS of FROM t").unwrap(),
            Statement::Sql(_)
        ));
        let Statement::SelectAsOf { as_of, .. } =
            parse_statement("select * from (select 1) s as of now() - interval '1 minute'")
                .unwrap()
        else {
            panic!("expected AS OF")
        };
        assert!(as_of.to_string().contains("now()"));
        let Statement::Sql(s) = parse_statement(
            "CREATE MATERIALIZED VIEW v WITH (RETAIN HISTORY FOR '1 hour') AS SELECT 1",
        )
        .unwrap() else {
            panic!()
        };
        assert!(s.to_string().contains("retain_history = '1 hour'"), "{s}");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse_statement("SELEC 1").unwrap_err();
        assert_eq!(e.code, "42601");
        let e = parse_statement("SELECT 1 FROM").unwrap_err();
        assert!(e.position.is_some());
    }

    #[test]
    fn drop_database_takes_force() {
        for sql in [
            "DROP DATABASE IF EXISTS d WITH (FORCE)",
            "drop database d (force);",
            "DROP DATABASE d WITH ( force )",
            "DROP DATABASE bandwith (FORCE)",
        ] {
            let Statement::Sql(stmt) = parse_statement(sql).unwrap() else {
                panic!("{sql}")
            };
            assert!(stmt.to_string().starts_with("DROP DATABASE"), "{stmt}");
        }
        assert!(parse_statement("DROP DATABASE d WITH (FORCED)").is_err());
    }

    #[test]
    fn parses_fetch() {
        let Statement::Fetch {
            name,
            count,
            timeout,
        } = parse_statement("FETCH 10 c WITH (timeout = '1s')").unwrap()
        else {
            panic!()
        };
        assert_eq!((name.as_str(), count), ("c", Some(10)));
        assert_eq!(timeout, Some(std::time::Duration::from_secs(1)));
    }
}
