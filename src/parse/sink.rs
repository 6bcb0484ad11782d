//! `CREATE SINK [IF NOT EXISTS] name FROM relation INTO KAFKA (BROKER 'host:port', TOPIC 't')
//! [KEY (column, ...)] FORMAT JSON | AVRO ENVELOPE UPSERT | DEBEZIUM`: every change of a relation,
//! written to a Kafka topic.

use serde::{Deserialize, Serialize};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::source::{expect_end, expect_word, parse_options, peek_word, OptionValue};
use super::{normalize_ident, parser_error, RECURSION_LIMIT};
use crate::error::SqlError;

#[derive(Debug, Clone)]
pub struct CreateSink {
    pub name: ast::ObjectName,
    pub if_not_exists: bool,
    pub from: ast::ObjectName,
    pub broker: String,
    pub topic: String,
    /// The key columns' names; none means the whole row is the key.
    pub key: Vec<String>,
    pub envelope: SinkEnvelope,
    pub format: SinkFormat,
    /// The statement as written, which the log records.
    pub sql: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SinkFormat {
    Json,
    /// Bare Avro datums of schemas made from the relation's columns.
    Avro,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SinkEnvelope {
    /// A record per key and time: the key's new row, or no value (a tombstone) once it is gone.
    Upsert,
    /// A Debezium-style event per change: `{"before": ..., "after": ...}`.
    Debezium,
}

pub fn parse_create_sink(sql: &str) -> Result<CreateSink, SqlError> {
    let dialect = PostgreSqlDialect {};
    let parse = || -> Result<CreateSink, ParserError> {
        let mut p = Parser::new(&dialect)
            .with_recursion_limit(RECURSION_LIMIT)
            .try_with_sql(sql)?;
        p.expect_keyword(Keyword::CREATE)?;
        expect_word(&mut p, "SINK")?;
        let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = p.parse_object_name(false)?;
        p.expect_keyword(Keyword::FROM)?;
        let from = p.parse_object_name(false)?;
        p.expect_keyword(Keyword::INTO)?;
        expect_word(&mut p, "KAFKA")?;
        let (mut broker, mut topic) = (None, None);
        for (option, value) in parse_options(&mut p)? {
            match (option.as_str(), value) {
                ("BROKER", OptionValue::String(v)) => broker = Some(v),
                ("TOPIC", OptionValue::String(v)) => topic = Some(v),
                (other, _) => {
                    return Err(ParserError::ParserError(format!(
                        "unknown KAFKA option {other}: expected BROKER '...' or TOPIC '...'"
                    )))
                }
            }
        }
        let mut key = vec![];
        if p.parse_keyword(Keyword::KEY) {
            p.expect_token(&Token::LParen)?;
            loop {
                key.push(normalize_ident(&p.parse_identifier()?));
                if !p.consume_token(&Token::Comma) {
                    break;
                }
            }
            p.expect_token(&Token::RParen)?;
        }
        expect_word(&mut p, "FORMAT")?;
        let format = match p.parse_identifier()?.value.to_ascii_uppercase().as_str() {
            "JSON" => SinkFormat::Json,
            "AVRO" => SinkFormat::Avro,
            other => {
                return Err(ParserError::ParserError(format!(
                    "a sink's FORMAT is JSON or AVRO, not {other}"
                )))
            }
        };
        let envelope = if peek_word(&p, "ENVELOPE") {
            p.next_token();
            match p.parse_identifier()?.value.to_ascii_uppercase().as_str() {
                "UPSERT" => SinkEnvelope::Upsert,
                "DEBEZIUM" => SinkEnvelope::Debezium,
                other => {
                    return Err(ParserError::ParserError(format!(
                        "a sink's ENVELOPE is UPSERT or DEBEZIUM, not {other}"
                    )))
                }
            }
        } else {
            return Err(ParserError::ParserError(
                "a sink needs ENVELOPE UPSERT or ENVELOPE DEBEZIUM".into(),
            ));
        };
        expect_end(&mut p)?;
        let missing = |w: &str| ParserError::ParserError(format!("KAFKA needs {w} '...'"));
        Ok(CreateSink {
            name,
            if_not_exists,
            from,
            broker: broker.ok_or_else(|| missing("BROKER"))?,
            topic: topic.ok_or_else(|| missing("TOPIC"))?,
            key,
            envelope,
            format,
            sql: sql.trim().trim_end_matches(';').to_string(),
        })
    };
    parse().map_err(|e| parser_error(sql, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_sink() {
        let s = parse_create_sink(
            "CREATE SINK s FROM v INTO KAFKA (BROKER 'b:1', TOPIC 'out') KEY (id) FORMAT JSON ENVELOPE UPSERT",
        )
        .unwrap();
        assert_eq!((s.from.to_string(), s.topic.as_str()), ("v".into(), "out"));
        assert_eq!(s.key, vec!["id".to_string()]);
        assert_eq!(s.envelope, SinkEnvelope::Upsert);
        let e = parse_create_sink(
            "CREATE SINK s FROM v INTO KAFKA (BROKER 'b', TOPIC 't') FORMAT JSON",
        )
        .unwrap_err();
        assert!(e.message.contains("ENVELOPE"), "{}", e.message);
        let s = parse_create_sink(
            "CREATE SINK s FROM v INTO KAFKA (BROKER 'b', TOPIC 't') FORMAT AVRO ENVELOPE DEBEZIUM",
        )
        .unwrap();
        assert_eq!(
            (s.format, s.envelope),
            (SinkFormat::Avro, SinkEnvelope::Debezium)
        );
        let e = parse_create_sink(
            "CREATE SINK s FROM v INTO KAFKA (BROKER 'b', TOPIC 't') FORMAT CSV ENVELOPE UPSERT",
        )
        .unwrap_err();
        assert!(e.message.contains("JSON or AVRO"), "{}", e.message);
    }
}
