//! `CREATE SOURCE name [(column type, ...)] FROM KAFKA (BROKER 'host:port', TOPIC 'topic')
//! FORMAT JSON [ENVELOPE NONE]`: a relation fed by a Kafka topic.

use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::{parser_error, RECURSION_LIMIT};
use crate::error::SqlError;

#[derive(Debug, Clone)]
pub struct CreateSource {
    pub name: ast::ObjectName,
    pub if_not_exists: bool,
    /// The columns a record is decoded into; none means one `data jsonb` column.
    pub columns: Vec<ast::ColumnDef>,
    pub broker: String,
    pub topic: String,
    pub format: SourceFormat,
    /// The statement as written, which the log records.
    pub sql: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SourceFormat {
    /// Each record's value is a JSON object whose fields fill the columns of the same names.
    Json,
}

pub fn parse_create_source(sql: &str) -> Result<CreateSource, SqlError> {
    let dialect = PostgreSqlDialect {};
    let parse = || -> Result<CreateSource, ParserError> {
        let mut p = Parser::new(&dialect)
            .with_recursion_limit(RECURSION_LIMIT)
            .try_with_sql(sql)?;
        p.expect_keyword(Keyword::CREATE)?;
        expect_word(&mut p, "SOURCE")?;
        let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = p.parse_object_name(false)?;
        let columns = if p.peek_token().token == Token::LParen {
            let (columns, constraints) = p.parse_columns()?;
            if !constraints.is_empty() {
                return Err(ParserError::ParserError(
                    "a source's columns take no constraints".into(),
                ));
            }
            columns
        } else {
            vec![]
        };
        p.expect_keyword(Keyword::FROM)?;
        expect_word(&mut p, "KAFKA")?;
        p.expect_token(&Token::LParen)?;
        let (mut broker, mut topic) = (None, None);
        loop {
            let option = p.parse_identifier()?.value.to_ascii_uppercase();
            let _ = p.consume_token(&Token::Eq);
            let value = p.parse_literal_string()?;
            match option.as_str() {
                "BROKER" => broker = Some(value),
                "TOPIC" => topic = Some(value),
                other => {
                    return Err(ParserError::ParserError(format!(
                        "unknown Kafka option {other}: expected BROKER or TOPIC"
                    )))
                }
            }
            if !p.consume_token(&Token::Comma) {
                break;
            }
        }
        p.expect_token(&Token::RParen)?;
        expect_word(&mut p, "FORMAT")?;
        let format = match p.parse_identifier()?.value.to_ascii_uppercase().as_str() {
            "JSON" => SourceFormat::Json,
            other => {
                return Err(ParserError::ParserError(format!(
                    "FORMAT {other} is not supported yet: expected JSON"
                )))
            }
        };
        if matches!(&p.peek_token().token, Token::Word(w) if w.value.eq_ignore_ascii_case("ENVELOPE"))
        {
            p.next_token();
            expect_word(&mut p, "NONE")?;
        }
        let _ = p.consume_token(&Token::SemiColon);
        if p.peek_token().token != Token::EOF {
            return p.expected("end of statement", p.peek_token());
        }
        let missing = |what: &str| ParserError::ParserError(format!("KAFKA needs {what} '...'"));
        Ok(CreateSource {
            name,
            if_not_exists,
            columns,
            broker: broker.ok_or_else(|| missing("BROKER"))?,
            topic: topic.ok_or_else(|| missing("TOPIC"))?,
            format,
            sql: sql.trim().trim_end_matches(';').to_string(),
        })
    };
    parse().map_err(|e| parser_error(sql, e))
}

/// Consumes `word` (a keyword or not, in any case) or fails saying it was expected.
fn expect_word(p: &mut Parser, word: &str) -> Result<(), ParserError> {
    let t = p.next_token();
    match &t.token {
        Token::Word(w) if w.value.eq_ignore_ascii_case(word) => Ok(()),
        _ => p.expected(word, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_kafka_source() {
        let s = parse_create_source(
            "CREATE SOURCE IF NOT EXISTS ratings (rating_id bigint, stars int) \
             FROM KAFKA (BROKER '127.0.0.1:9092', TOPIC 'ratings') FORMAT JSON;",
        )
        .unwrap();
        assert_eq!(s.name.to_string(), "ratings");
        assert!(s.if_not_exists);
        assert_eq!(s.columns.len(), 2);
        assert_eq!(
            (s.broker.as_str(), s.topic.as_str()),
            ("127.0.0.1:9092", "ratings")
        );
        assert_eq!(s.format, SourceFormat::Json);
        let e =
            parse_create_source("CREATE SOURCE r FROM KAFKA (TOPIC 'x') FORMAT JSON").unwrap_err();
        assert_eq!(e.code, "42601");
        assert!(e.message.contains("BROKER"), "{}", e.message);
        let e =
            parse_create_source("CREATE SOURCE r FROM KAFKA (BROKER 'b', TOPIC 'x') FORMAT XML")
                .unwrap_err();
        assert!(e.message.contains("XML"), "{}", e.message);
    }
}
