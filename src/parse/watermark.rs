//! RisingWave's table syntax for event time, rewritten into our `WITH` options:
//!
//! ```text
//! CREATE TABLE t (tm timestamp, foo int, WATERMARK FOR tm AS tm - INTERVAL '5 minutes') APPEND ONLY
//!   => CREATE TABLE t (tm timestamp, foo int) WITH (TIMESTAMP = 'tm', WATERMARK = '5 minutes', APPEND_ONLY = true)
//! ```
//!
//! The watermark's delay becomes the default grace period of the windows that close over the
//! table (`emit => 'final'`, `EMIT ON WINDOW CLOSE`); `APPEND ONLY` refuses UPDATE and DELETE.
//! The rewrite works on tokens, so string literals and quoted names are never touched.

use sqlparser::tokenizer::Token;

use super::ksql::{is, is_word, statement_tokens, text, Tok};
use crate::error::SqlError;

fn syntax(msg: impl Into<String>) -> SqlError {
    SqlError::new("42601", msg.into())
}

/// The `CREATE TABLE` with its watermark clause and `APPEND ONLY` as options; None when it has
/// neither.
pub fn rewrite(sql: &str) -> Option<Result<String, SqlError>> {
    let lower = sql.to_ascii_lowercase();
    if !lower.contains("watermark") && !lower.contains("append") {
        return None;
    }
    let t = statement_tokens(sql)?;
    if !is_word(t.first(), "CREATE") || !is_word(t.get(1), "TABLE") {
        return None;
    }
    let open = t.iter().position(|x| x.token == Token::LParen)?;
    let mut depth = 0usize;
    let close = (open..t.len()).find(|&i| {
        match t[i].token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth == 0
    })?;
    let append_only = is_word(t.get(close + 1), "APPEND") && is_word(t.get(close + 2), "ONLY");
    // The watermark clause: `WATERMARK FOR col AS expr`, one column definition at depth 1.
    let mut watermark = None;
    let mut depth = 0usize;
    for i in open..close {
        match t[i].token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        let starts_item = matches!(t[i - 1].token, Token::LParen | Token::Comma);
        if depth == 1
            && starts_item
            && is_word(t.get(i), "WATERMARK")
            && is_word(t.get(i + 1), "FOR")
        {
            watermark = Some(i);
        }
    }
    if watermark.is_none() && !append_only {
        return None;
    }
    let mut options = Vec::new();
    let mut columns_end = close;
    if let Some(w) = watermark {
        // The clause runs to the next comma at depth 1, or the closing parenthesis.
        let mut depth = 1usize;
        let end = (w..close)
            .find(|&i| {
                match t[i].token {
                    Token::LParen => depth += 1,
                    Token::RParen => depth = depth.saturating_sub(1),
                    Token::Comma if depth == 1 => return true,
                    _ => {}
                }
                false
            })
            .unwrap_or(close);
        if end != close {
            return Some(Err(syntax(
                "WATERMARK FOR must be the last item of the column list",
            )));
        }
        let (column, delay) = match parse_watermark(sql, &t[w + 2..end]) {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        options.push(format!("TIMESTAMP = '{}'", column.replace('\'', "''")));
        if let Some(delay) = delay {
            options.push(format!("WATERMARK = '{}'", delay.replace('\'', "''")));
        }
        // Drop the comma before the clause too.
        columns_end = t[w - 1].start;
    }
    let after = if append_only { close + 3 } else { close + 1 };
    if append_only {
        options.push("APPEND_ONLY = true".into());
    }
    let rest = text(sql, &t[after.min(t.len())..]);
    let (with, rest) = match (is_word(t.get(after), "WITH"), rest.find('(')) {
        // Our options join those already given.
        (true, Some(paren)) => (
            format!("WITH ({}, ", options.join(", ")),
            rest[paren + 1..].to_string(),
        ),
        _ => (format!("WITH ({}) ", options.join(", ")), rest),
    };
    let head = if watermark.is_some() {
        format!("{})", &sql[..columns_end])
    } else {
        sql[..t[close].end].to_string()
    };
    Some(Ok(format!("{head} {with}{rest}")))
}

/// `col AS col [- INTERVAL '...']`: the column, and the delay's text.
fn parse_watermark(sql: &str, t: &[Tok]) -> Result<(String, Option<String>), SqlError> {
    let name = |x: Option<&Tok>| match x.map(|x| &x.token) {
        Some(Token::Word(w)) => Some(if w.quote_style.is_some() {
            w.value.clone()
        } else {
            w.value.to_lowercase()
        }),
        _ => None,
    };
    let bad = || {
        syntax(format!(
            "WATERMARK FOR {}: expected `column AS column - INTERVAL '...'`",
            text(sql, t)
        ))
    };
    let column = name(t.first()).ok_or_else(bad)?;
    if !is_word(t.get(1), "AS") || name(t.get(2)).as_deref() != Some(&*column) {
        return Err(bad());
    }
    match &t[3..] {
        [] => Ok((column, None)),
        [minus, iv, delay] if is(Some(minus), &Token::Minus) && is_word(Some(iv), "INTERVAL") => {
            match &delay.token {
                Token::SingleQuotedString(s) => Ok((column, Some(s.clone()))),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    fn rw(sql: &str) -> String {
        rewrite(sql).expect("rewritten").expect("valid")
    }

    #[test]
    fn watermarks_and_append_only_become_options() {
        assert_eq!(
            rw("create table t (\n tm timestamp,\n foo int,\n watermark for tm as tm - interval '5 minutes'\n) append only;"),
            "create table t (\n tm timestamp,\n foo int) WITH (TIMESTAMP = 'tm', WATERMARK = '5 minutes', APPEND_ONLY = true) "
        );
        assert_eq!(
            rw("CREATE TABLE t (a int) APPEND ONLY"),
            "CREATE TABLE t (a int) WITH (APPEND_ONLY = true) "
        );
        assert_eq!(
            rw("CREATE TABLE t (tm timestamp, WATERMARK FOR tm AS tm) WITH (RETAIN HISTORY = '1 hour')"),
            "CREATE TABLE t (tm timestamp) WITH (TIMESTAMP = 'tm', RETAIN HISTORY = '1 hour')"
        );
        assert!(rewrite("CREATE TABLE watermarks (a int)").is_none());
        assert!(rewrite("SELECT 'append only'").is_none());
        assert!(
            rewrite("CREATE TABLE t (tm timestamp, WATERMARK FOR tm AS now())")
                .unwrap()
                .is_err()
        );
    }
}
