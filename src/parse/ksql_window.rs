//! ksqlDB's `WINDOW` clause, rewritten into the window table functions:
//!
//! ```text
//! SELECT card, COUNT(*) FROM auths a WINDOW TUMBLING (SIZE 5 SECONDS) GROUP BY card
//! SELECT card, COUNT(*), window_start AS windowstart, window_end AS windowend
//!   FROM tumble(auths, DESCRIPTOR(rowtime), INTERVAL '5000 milliseconds') AS a
//!   GROUP BY card, window_start, window_end
//! ```
//!
//! The window applies to the first relation of FROM (the stream; in a stream-table join the
//! table is not windowed), timed by its event-time column (`rowtime`: the stream's
//! `TIMESTAMP=`). The window bounds join the grouping key, as in ksqlDB, and are added to the
//! output as `windowstart` and `windowend` unless the query names them itself.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use super::ksql::{is, is_word, statement_tokens, tokens, Tok};
use crate::error::SqlError;

/// The statement with its ksqlDB `WINDOW` clause rewritten, or None when it has none.
pub fn rewrite(sql: &str) -> Option<Result<String, SqlError>> {
    if !sql.to_ascii_lowercase().contains("window") {
        return None;
    }
    let t = tokens(sql)?;
    let depth = depths(&t);
    let w = (0..t.len()).find(|&i| {
        is_word(t.get(i), "WINDOW")
            && ["TUMBLING", "HOPPING", "SESSION"]
                .iter()
                .any(|k| is_word(t.get(i + 1), k))
            && is(t.get(i + 2), &Token::LParen)
    })?;
    Some(rewrite_at(sql, &t, &depth, w))
}

/// The parenthesis depth each token is at.
fn depths(t: &[Tok]) -> Vec<usize> {
    let mut d = 0usize;
    t.iter()
        .map(|tok| match tok.token {
            Token::LParen => {
                d += 1;
                d - 1
            }
            Token::RParen => {
                d = d.saturating_sub(1);
                d
            }
            _ => d,
        })
        .collect()
}

fn syntax(msg: impl Into<String>) -> SqlError {
    SqlError::new("42601", msg.into())
}

fn rewrite_at(sql: &str, t: &[Tok], depth: &[usize], w: usize) -> Result<String, SqlError> {
    let d = depth[w];
    let kind = match &t[w + 1].token {
        Token::Word(word) => word.value.to_ascii_uppercase(),
        _ => unreachable!("checked by the caller"),
    };
    let close = (w + 3..t.len())
        .find(|&i| depth[i] == d && is(t.get(i), &Token::RParen))
        .ok_or_else(|| syntax("WINDOW: expected ')'"))?;
    let spec = WindowSpec::parse(&kind, &t[w + 3..close])?;
    let at_depth = |i: usize, word: &str| depth[i] == d && is_word(t.get(i), word);
    let from = (0..w)
        .rev()
        .find(|&i| at_depth(i, "FROM"))
        .ok_or_else(|| syntax("WINDOW: the query has no FROM"))?;
    let select = (0..from)
        .rev()
        .find(|&i| at_depth(i, "SELECT"))
        .ok_or_else(|| syntax("WINDOW: the query has no SELECT"))?;
    let group = (close..t.len())
        .find(|&i| at_depth(i, "GROUP") && is_word(t.get(i + 1), "BY"))
        .ok_or_else(|| {
            syntax("WINDOW groups rows into windows for an aggregate: the query needs GROUP BY")
        })?;
    let group_end = (group + 2..t.len())
        .find(|&i| {
            depth[i] < d
                || (depth[i] == d
                    && (["HAVING", "ORDER", "LIMIT", "EMIT", "WINDOW"]
                        .iter()
                        .any(|k| is_word(t.get(i), k))
                        || matches!(t[i].token, Token::SemiColon | Token::EOF | Token::RParen)))
        })
        .unwrap_or(t.len());

    // Edits as (start, end, replacement) over the text; applied from the back.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut named_bounds = false;
    for i in select + 1..t.len() {
        let bound = match &t[i].token {
            Token::Word(word) if word.quote_style.is_none() => {
                match word.value.to_ascii_lowercase().as_str() {
                    "windowstart" => "window_start",
                    "windowend" => "window_end",
                    _ => continue,
                }
            }
            _ => continue,
        };
        let mut new = bound.to_string();
        if i < from {
            named_bounds = true;
            let alone = matches!(t[i - 1].token, Token::Comma) || i - 1 == select;
            let ends = matches!(t[i + 1].token, Token::Comma) || i + 1 == from;
            if alone && ends {
                new.push_str(&format!(" AS {}", bound.replace('_', "")));
            }
        }
        edits.push((t[i].start, t[i].end, new));
    }
    if !named_bounds {
        edits.push((
            t[from - 1].end,
            t[from - 1].end,
            ", window_start AS windowstart, window_end AS windowend".into(),
        ));
    }
    // The first relation of FROM, with its alias (or its own name as one).
    let mut i = from + 1;
    while matches!(t.get(i + 1).map(|x| &x.token), Some(Token::Period)) {
        i += 2;
    }
    let name = &t[from + 1..=i];
    if !name
        .iter()
        .all(|x| matches!(x.token, Token::Word(_) | Token::Period))
    {
        return Err(SqlError::unsupported(
            "WINDOW over a subquery: window a named stream (or use TUMBLE/HOP in FROM)",
        ));
    }
    let has_alias = is_word(t.get(i + 1), "AS")
        || matches!(t.get(i + 1).map(|x| &x.token), Some(Token::Word(word)) if word.keyword == Keyword::NoKeyword || word.quote_style.is_some());
    let name_text = &sql[name[0].start..name[name.len() - 1].end];
    // The grouping columns by name (a session window is per group).
    let mut group_by = Vec::new();
    let mut item_start = group + 2;
    for i in group + 2..=group_end {
        if i < group_end && !(depth[i] == d && is(t.get(i), &Token::Comma)) {
            continue;
        }
        let item = &t[item_start..i];
        item_start = i + 1;
        let plain = item
            .iter()
            .all(|x| matches!(x.token, Token::Word(_) | Token::Period));
        match item.last().map(|x| &x.token) {
            Some(Token::Word(w)) if plain => group_by.push(w.value.clone()),
            _ if spec.session => {
                return Err(SqlError::unsupported(
                    "WINDOW SESSION grouped by an expression: group by columns",
                ))
            }
            _ => {}
        }
    }
    let closes = (close..t.len()).any(|i| depth[i] == d && emit_final_at(t, i).is_some());
    let mut windowed = spec.table_function(name_text, &group_by, closes);
    if !has_alias {
        windowed.push_str(&format!(" AS {}", &sql[t[i].start..t[i].end]));
    }
    edits.push((name[0].start, name[name.len() - 1].end, windowed));
    edits.push((t[w].start, t[close].end, String::new()));
    edits.push((
        t[group_end - 1].end,
        t[group_end - 1].end,
        ", window_start, window_end".into(),
    ));
    edits.sort_by_key(|e| std::cmp::Reverse((e.0, e.1)));
    let mut out = sql.to_string();
    for (start, end, new) in edits {
        out.replace_range(start..end, &new);
    }
    Ok(out)
}

/// The number of tokens of `EMIT FINAL` (2) or `EMIT ON WINDOW CLOSE` (4) starting at `i`.
fn emit_final_at(t: &[Tok], i: usize) -> Option<usize> {
    if !is_word(t.get(i), "EMIT") {
        return None;
    }
    if is_word(t.get(i + 1), "FINAL") {
        return Some(2);
    }
    ["ON", "WINDOW", "CLOSE"]
        .iter()
        .enumerate()
        .all(|(k, w)| is_word(t.get(i + 1 + k), w))
        .then_some(4)
}

/// A statement ending in `EMIT FINAL [WITH (IDLE = 'interval', LATE = 'drop' | 'update', ...)]`
/// with its window functions asked to close their windows (`emit => 'final'` and the options
/// as named arguments), and the clause replaced by what the rest of the statement needs: nothing
/// after `CREATE [MATERIALIZED] VIEW`, `EMIT CHANGES` elsewhere (a ksqlDB persistent query, or
/// a push query, which becomes a SUBSCRIBE). None when the statement has no such clause.
///
/// RisingWave's `EMIT ON WINDOW CLOSE` is the same clause.
pub fn emit_final(sql: &str) -> Option<Result<String, SqlError>> {
    let lower = sql.to_ascii_lowercase();
    if !lower.contains("final") && !lower.contains("close") {
        return None;
    }
    let t = statement_tokens(sql)?;
    let depth = depths(&t);
    let (emit, len) = (0..t.len())
        .rev()
        .filter(|&i| depth[i] == 0)
        .find_map(|i| emit_final_at(&t, i).map(|len| (i, len)))?;
    // The tokens after the clause.
    let next = emit + len;
    let mut named = vec!["emit => 'final'".to_string()];
    if is_word(t.get(next), "WITH") && is(t.get(next + 1), &Token::LParen) {
        let mut i = next + 2;
        while i < t.len() && !is(t.get(i), &Token::RParen) {
            let key = match &t[i].token {
                Token::Word(w) => w.value.to_ascii_lowercase(),
                _ => return Some(Err(syntax("EMIT FINAL WITH: expected an option name"))),
            };
            let value = match (
                t.get(i + 1).map(|x| &x.token),
                t.get(i + 2).map(|x| &x.token),
            ) {
                (Some(Token::Eq), Some(Token::SingleQuotedString(v))) => v.replace('\'', "''"),
                _ => {
                    return Some(Err(syntax(format!(
                        "EMIT FINAL WITH: expected {key} = '...'"
                    ))))
                }
            };
            named.push(match key.as_str() {
                "idle" | "grace" | "retention" => format!("{key} => INTERVAL '{value}'"),
                "late" => format!("late => '{value}'"),
                other => {
                    return Some(Err(syntax(format!(
                        "EMIT FINAL WITH: unknown option {other} (expected IDLE, GRACE, LATE or \
                         RETENTION)"
                    ))))
                }
            });
            i += 3;
            if is(t.get(i), &Token::Comma) {
                i += 1;
            }
        }
        if i + 1 != t.len() {
            return Some(Err(syntax("EMIT FINAL WITH (...) must end the statement")));
        }
    } else if next != t.len() {
        return Some(Err(syntax("EMIT FINAL must end the statement")));
    }
    let mut edits: Vec<(usize, String)> = Vec::new();
    for i in 0..emit {
        let windowing = ["tumble", "hop"].iter().any(|f| is_word(t.get(i), f));
        if windowing && is(t.get(i + 1), &Token::LParen) {
            let close =
                (i + 2..emit).find(|&j| depth[j] == depth[i + 1] && is(t.get(j), &Token::RParen));
            if let Some(close) = close {
                edits.push((t[close].start, format!(", {}", named.join(", "))));
            }
        }
    }
    if edits.is_empty() {
        return Some(Err(syntax(
            "EMIT FINAL closes windows: the query needs TUMBLE, HOP or a WINDOW clause",
        )));
    }
    let view = is_word(t.first(), "CREATE")
        && (is_word(t.get(1), "VIEW")
            || is_word(t.get(1), "MATERIALIZED")
            || (is_word(t.get(1), "OR")
                && !is_word(t.get(3), "STREAM")
                && !is_word(t.get(3), "TABLE")));
    let mut out = sql[..t[emit].start].to_string();
    for (at, text) in edits.into_iter().rev() {
        out.insert_str(at, &text);
    }
    if !view {
        out.push_str("EMIT CHANGES");
    }
    Some(Ok(out))
}

/// ksqlDB's stream-stream join bound, `a JOIN b WITHIN n UNIT [GRACE PERIOD ..] ON cond` (or
/// `WITHIN (before, after)`), as the SQL interval join it means: `ON (cond) AND b.rowtime
/// BETWEEN a.rowtime - before AND a.rowtime + after`, `rowtime` being each side's event time.
/// None when the statement has no such clause.
pub fn within(sql: &str) -> Option<Result<String, SqlError>> {
    if !sql.to_ascii_lowercase().contains("within") {
        return None;
    }
    let t = tokens(sql)?;
    let depth = depths(&t);
    let w =
        (1..t.len()).find(|&i| is_word(t.get(i), "WITHIN") && !is(t.get(i - 1), &Token::Period))?;
    let d = depth[w];
    let at_depth = |i: usize, word: &str| depth[i] == d && is_word(t.get(i), word);
    let (before, after, mut i) = if is(t.get(w + 1), &Token::LParen) {
        let before = bound(t.get(w + 2), t.get(w + 3));
        let after = bound(t.get(w + 5), t.get(w + 6));
        if !is(t.get(w + 4), &Token::Comma) || !is(t.get(w + 7), &Token::RParen) {
            return Some(Err(syntax(
                "WITHIN (before, after): expected two durations",
            )));
        }
        (before, after, w + 8)
    } else {
        let both = bound(t.get(w + 1), t.get(w + 2));
        (both.clone(), both, w + 3)
    };
    let (before, after) = match (before, after) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) | (_, Err(e)) => return Some(Err(e)),
    };
    // The grace period: how far behind the latest event time a row may arrive and still join
    // (an interval join of streams), passed to the planner as a conjunct it removes.
    let mut grace = String::new();
    if is_word(t.get(i), "GRACE") && is_word(t.get(i + 1), "PERIOD") {
        match duration(t.get(i + 2), t.get(i + 3), "GRACE PERIOD") {
            Ok(ms) => grace = format!(" AND {}({ms})", crate::parse::stream_table::JOIN_GRACE),
            Err(e) => return Some(Err(e)),
        }
        i += 4;
    }
    if !at_depth(i, "ON") {
        return Some(Err(syntax(
            "JOIN ... WITHIN: expected ON after the time bound",
        )));
    }
    let on = i;
    let end = (on + 1..t.len())
        .find(|&j| {
            depth[j] < d
                || (depth[j] == d
                    && ([
                        "WHERE", "GROUP", "WINDOW", "EMIT", "JOIN", "LEFT", "RIGHT", "INNER",
                        "FULL", "CROSS", "ORDER", "LIMIT", "HAVING",
                    ]
                    .iter()
                    .any(|k| is_word(t.get(j), k))
                        || matches!(t[j].token, Token::SemiColon | Token::EOF | Token::RParen)))
        })
        .unwrap_or(t.len());
    let word_text = |j: usize| match &t[j].token {
        Token::Word(w) => {
            Some(sql[t[j].start..t[j].end].to_string()).filter(|_| w.keyword != Keyword::ON)
        }
        _ => None,
    };
    // The right side's name: the last word before WITHIN (its alias, if it has one).
    let Some(right) = word_text(w - 1) else {
        return Some(Err(syntax(
            "JOIN ... WITHIN: expected the joined relation before WITHIN",
        )));
    };
    // The left side: the first relation of FROM, by its alias if it has one.
    let Some(from) = (0..w).rev().find(|&j| at_depth(j, "FROM")) else {
        return Some(Err(syntax("JOIN ... WITHIN: the query has no FROM")));
    };
    let mut j = from + 1;
    while is(t.get(j + 1), &Token::Period) {
        j += 2;
    }
    let alias = match t.get(j + 1).map(|x| &x.token) {
        Some(Token::Word(a)) if a.keyword == Keyword::AS => j + 2,
        Some(Token::Word(a)) if a.keyword == Keyword::NoKeyword || a.quote_style.is_some() => j + 1,
        _ => j,
    };
    let Some(left) = word_text(alias) else {
        return Some(Err(syntax(
            "JOIN ... WITHIN: expected a named stream in FROM",
        )));
    };
    let cond = &sql[t[on + 1].start..t[end - 1].end];
    let bound = format!(
        "({cond}) AND {right}.rowtime BETWEEN {left}.rowtime - INTERVAL '{before} milliseconds' \
         AND {left}.rowtime + INTERVAL '{after} milliseconds'{grace}"
    );
    let mut out = sql.to_string();
    out.replace_range(t[on + 1].start..t[end - 1].end, &bound);
    out.replace_range(t[w].start..t[on].start, "");
    Some(Ok(out))
}

/// What a ksqlDB window clause says, in milliseconds.
#[derive(Debug, PartialEq)]
struct WindowSpec {
    /// The size, or a session's gap.
    size: u64,
    advance: Option<u64>,
    grace: Option<u64>,
    /// How long a window is kept, from its start (at least size plus grace, as in ksqlDB).
    retention: Option<u64>,
    session: bool,
}

impl WindowSpec {
    fn parse(kind: &str, t: &[Tok]) -> Result<WindowSpec, SqlError> {
        if kind == "SESSION" {
            if t.len() != 2 {
                return Err(syntax(
                    "WINDOW SESSION (n UNIT): expected a gap such as 30 SECONDS",
                ));
            }
            return Ok(WindowSpec {
                size: duration(t.first(), t.get(1), "the session gap")?,
                advance: None,
                grace: None,
                retention: None,
                session: true,
            });
        }
        let (mut size, mut advance, mut grace, mut retention) = (None, None, None, None);
        let mut i = 0;
        while i < t.len() {
            let word = |k: usize| match t.get(k).map(|x| &x.token) {
                Some(Token::Word(w)) => w.value.to_ascii_uppercase(),
                _ => String::new(),
            };
            let (what, at) = match (word(i).as_str(), word(i + 1).as_str()) {
                ("SIZE", _) => ("SIZE", i + 1),
                ("ADVANCE", "BY") => ("ADVANCE BY", i + 2),
                ("GRACE", "PERIOD") => ("GRACE PERIOD", i + 2),
                ("RETENTION", _) => ("RETENTION", i + 1),
                _ => {
                    return Err(syntax(format!(
                        "WINDOW {kind}: expected SIZE, ADVANCE BY, GRACE PERIOD or RETENTION, \
                         found {}",
                        t.get(i).map_or("the end".into(), |x| x.token.to_string())
                    )))
                }
            };
            let ms = duration(t.get(at), t.get(at + 1), what)?;
            match what {
                "SIZE" => size = Some(ms),
                "ADVANCE BY" => advance = Some(ms),
                // How long EMIT FINAL waits for late rows; with EMIT CHANGES every row updates
                // its window, so it changes nothing there.
                "GRACE PERIOD" => grace = Some(ms),
                // How long windows are kept; applied with EMIT FINAL (`table_function`).
                _ => retention = Some(ms),
            }
            i = at + 2;
            if is(t.get(i), &Token::Comma) {
                i += 1;
            }
        }
        let size = size.ok_or_else(|| syntax(format!("WINDOW {kind} needs a SIZE")))?;
        match (kind, advance) {
            ("HOPPING", None) => Err(syntax("WINDOW HOPPING needs ADVANCE BY")),
            ("TUMBLING", Some(_)) => Err(syntax(
                "WINDOW TUMBLING takes no ADVANCE BY: use WINDOW HOPPING",
            )),
            _ if retention.is_some_and(|r| r < size + grace.unwrap_or(0)) => Err(SqlError::new(
                "22023",
                format!("WINDOW {kind}: RETENTION must be at least SIZE plus GRACE PERIOD"),
            )),
            _ => Ok(WindowSpec {
                size,
                advance,
                grace,
                retention,
                session: false,
            }),
        }
    }

    /// The table function call; a session's partition is the grouping key. The retention is
    /// applied when the windows close (`closes`: the statement ends in EMIT FINAL); with EMIT
    /// CHANGES every window is kept.
    fn table_function(&self, relation: &str, group_by: &[String], closes: bool) -> String {
        let iv = |ms: u64| format!("INTERVAL '{ms} milliseconds'");
        if self.session {
            return format!(
                "session({relation}, DESCRIPTOR(rowtime), {}, DESCRIPTOR({}))",
                iv(self.size),
                group_by.join(", ")
            );
        }
        let mut grace = self
            .grace
            .map(|g| format!(", grace => {}", iv(g)))
            .unwrap_or_default();
        if let Some(r) = self.retention.filter(|_| closes) {
            // Counted from the window's start here, from its end by `retention =>`.
            grace.push_str(&format!(", retention => {}", iv(r - self.size)));
        }
        match self.advance {
            None => format!(
                "tumble({relation}, DESCRIPTOR(rowtime), {}{grace})",
                iv(self.size)
            ),
            Some(a) => format!(
                "hop({relation}, DESCRIPTOR(rowtime), {}, {}{grace})",
                iv(a),
                iv(self.size)
            ),
        }
    }
}

/// A WITHIN bound: a duration, which may be zero.
fn bound(n: Option<&Tok>, unit: Option<&Tok>) -> Result<u64, SqlError> {
    match n.map(|x| &x.token) {
        Some(Token::Number(z, _)) if z.parse::<u64>() == Ok(0) => Ok(0),
        _ => duration(n, unit, "WITHIN"),
    }
}

/// `n UNIT` in milliseconds, with ksqlDB's units.
fn duration(n: Option<&Tok>, unit: Option<&Tok>, what: &str) -> Result<u64, SqlError> {
    let n: u64 = match n.map(|x| &x.token) {
        Some(Token::Number(n, _)) => n
            .parse()
            .map_err(|_| syntax(format!("{what}: {n} is not a whole number")))?,
        _ => return Err(syntax(format!("{what}: expected a number"))),
    };
    let unit = match unit.map(|x| &x.token) {
        Some(Token::Word(w)) => w.value.to_ascii_uppercase(),
        _ => String::new(),
    };
    let scale = match unit.trim_end_matches('S') {
        "MILLISECOND" => 1,
        "SECOND" => 1_000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => {
            return Err(syntax(format!(
                "{what}: expected a unit (MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS), found \
                 {unit:?}"
            )))
        }
    };
    n.checked_mul(scale)
        .filter(|ms| *ms > 0)
        .ok_or_else(|| syntax(format!("{what} must be positive and in range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(sql: &str) -> String {
        rewrite(sql).unwrap().unwrap()
    }

    #[test]
    fn tumbling_and_hopping_become_table_functions() {
        assert_eq!(
            rw("SELECT card, COUNT(*) FROM auths WINDOW TUMBLING (SIZE 5 SECONDS) GROUP BY card HAVING COUNT(*) > 3 EMIT CHANGES"),
            "SELECT card, COUNT(*), window_start AS windowstart, window_end AS windowend FROM \
             tumble(auths, DESCRIPTOR(rowtime), INTERVAL '5000 milliseconds') AS auths  GROUP BY \
             card, window_start, window_end HAVING COUNT(*) > 3 EMIT CHANGES"
        );
        assert_eq!(
            rw("select windowstart, r.k, sum(v) as s from s.r r window hopping (size 5 minutes, advance by 1 minute, grace period 10 seconds) where v > 0 group by r.k;"),
            "select window_start AS windowstart, r.k, sum(v) as s from hop(s.r, DESCRIPTOR(rowtime), \
             INTERVAL '60000 milliseconds', INTERVAL '300000 milliseconds', grace => INTERVAL \
             '10000 milliseconds') r  where v > 0 group by r.k, window_start, window_end;"
        );
        assert!(rewrite("SELECT 'WINDOW TUMBLING (SIZE 1 SECOND)'").is_none());
        assert_eq!(
            emit_final("CREATE MATERIALIZED VIEW v AS SELECT k, count(*) FROM TUMBLE(t, DESCRIPTOR(ts), INTERVAL '1 minute') GROUP BY k, window_start EMIT FINAL WITH (IDLE = '10 seconds');")
                .unwrap()
                .unwrap(),
            "CREATE MATERIALIZED VIEW v AS SELECT k, count(*) FROM TUMBLE(t, DESCRIPTOR(ts), \
             INTERVAL '1 minute', emit => 'final', idle => INTERVAL '10 seconds') GROUP BY k, \
             window_start "
        );
        assert!(emit_final("SELECT count(*) FROM t EMIT FINAL")
            .unwrap()
            .is_err());
        assert!(emit_final("SELECT 'EMIT FINAL'").is_none());
        assert!(
            rewrite("SELECT count(*) FROM t WINDOW TUMBLING (SIZE 1 SECOND)")
                .unwrap()
                .is_err()
        );
        assert!(
            rewrite("SELECT count(*) FROM t WINDOW TUMBLING (SIZE 1 FORTNIGHT) GROUP BY a")
                .unwrap()
                .is_err()
        );
    }
}
