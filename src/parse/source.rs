//! Relations fed by a Kafka topic, in the two dialects our users write:
//!
//! ```text
//! CREATE SOURCE [IF NOT EXISTS] name [(column type [NOT NULL | PRIMARY KEY | KEY], ...)]
//!     FROM KAFKA (BROKER 'host:port', TOPIC 'topic' [, START OFFSET (o0, o1, ...)]
//!                 [, ON ERROR 'skip' | 'halt'])
//!     FORMAT JSON | CSV WITH n COLUMNS | TEXT
//!     [INCLUDE PARTITION | OFFSET | TIMESTAMP | KEY | HEADERS [AS name], ...]
//!     [ENVELOPE NONE | UPSERT | DEBEZIUM]
//!
//! CREATE STREAM name (column type [KEY], ...) WITH (KAFKA_TOPIC = 't', VALUE_FORMAT = 'JSON',
//!     [TIMESTAMP = 'column'], [BROKER = 'host:port'])          -- append-only, as in ksqlDB
//! CREATE TABLE name (column type PRIMARY KEY, ...) WITH (KAFKA_TOPIC = 't', ...)
//!                                                              -- upsert by key, as in ksqlDB
//! ```
//!
//! Both parse into one [`CreateSource`]; [`CreateSource::to_sql`] writes the first form, which is
//! what the log records.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::{normalize_ident, parser_error, RECURSION_LIMIT};
use crate::error::SqlError;

#[derive(Debug, Clone)]
pub struct CreateSource {
    pub name: ast::ObjectName,
    pub if_not_exists: bool,
    /// The columns a record's value is decoded into; none means one column of the format's
    /// default (`data jsonb` for JSON, `text` for TEXT, `column1..n` for CSV).
    pub columns: Vec<SourceColumn>,
    /// The (normalized) names of the key columns: an upsert's key, filled from the record's key
    /// when its value lacks them.
    pub key: Vec<String>,
    /// None until the coordinator fills in its default broker (the ksqlDB form names none).
    pub broker: Option<String>,
    pub topic: String,
    /// Per partition (in order), where to start when the log holds no offsets yet.
    pub start_offsets: Vec<i64>,
    pub format: SourceFormat,
    /// The writer's schema of `FORMAT AVRO USING SCHEMA '...'`; with a registry, the reader's
    /// schema (the subject's latest when the source was created, unless given).
    pub avro_schema: Option<String>,
    /// `AVRO USING CONFLUENT SCHEMA REGISTRY 'url'`: where writers' schemas are found by id.
    pub registry: Option<String>,
    pub include: Vec<(Metadata, String)>,
    pub envelope: Envelope,
    pub on_error: OnError,
    /// The event-time column (ksqlDB's `TIMESTAMP=`), if named.
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SourceColumn {
    pub name: ast::Ident,
    pub data_type: ast::DataType,
    pub not_null: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceFormat {
    /// Each record's value is a JSON object whose fields fill the columns of the same names.
    Json,
    /// Each value is one CSV line of exactly this many fields, filling the columns in order.
    Csv { columns: usize },
    /// Each value is UTF-8 text, one column.
    Text,
    /// Each value as it is, one `bytea` column.
    Bytes,
    /// Each value is an Avro datum of the schema given (`CreateSource::avro_schema`).
    Avro,
}

/// How records become changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Envelope {
    /// Every record is a new row.
    None,
    /// A record replaces the row with its key; a record without a value deletes it.
    Upsert,
    /// Debezium change events: `after` replaces the row with its key, a delete removes it.
    Debezium,
}

/// What a source does with a record it cannot decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnError {
    /// Skip it, count it and report it; keep reading.
    Skip,
    /// Stop the source before it (the record is reported; a restart stops there again).
    Halt,
}

/// Columns about a record rather than from it, added after the value's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metadata {
    Partition,
    Offset,
    Timestamp,
    Key,
    Headers,
}

impl Metadata {
    fn keyword(self) -> &'static str {
        match self {
            Metadata::Partition => "PARTITION",
            Metadata::Offset => "OFFSET",
            Metadata::Timestamp => "TIMESTAMP",
            Metadata::Key => "KEY",
            Metadata::Headers => "HEADERS",
        }
    }
}

impl CreateSource {
    /// A source of these columns with every option at its default (the topic still to be set).
    fn new(
        name: ast::ObjectName,
        if_not_exists: bool,
        columns: Vec<SourceColumn>,
        key: Vec<String>,
        envelope: Envelope,
    ) -> CreateSource {
        CreateSource {
            name,
            if_not_exists,
            columns,
            key,
            broker: None,
            topic: String::new(),
            start_offsets: vec![],
            format: SourceFormat::Json,
            avro_schema: None,
            registry: None,
            include: vec![],
            envelope,
            on_error: OnError::Skip,
            timestamp: None,
        }
    }

    /// The statement in the `CREATE SOURCE` form, with every default spelled out: what the log
    /// records, so a restart recreates the same source whatever the server's flags are then.
    pub fn to_sql(&self) -> String {
        let mut s = String::from("CREATE SOURCE ");
        if self.if_not_exists {
            s.push_str("IF NOT EXISTS ");
        }
        let _ = write!(s, "{}", self.name);
        if !self.columns.is_empty() {
            let cols: Vec<String> = self
                .columns
                .iter()
                .map(|c| {
                    let mut col = format!("{} {}", c.name, c.data_type);
                    if c.not_null {
                        col.push_str(" NOT NULL");
                    }
                    col
                })
                .collect();
            let _ = write!(s, " ({}", cols.join(", "));
            if !self.key.is_empty() {
                let key: Vec<String> = self.key.iter().map(|k| quote_ident(k)).collect();
                let _ = write!(s, ", PRIMARY KEY ({})", key.join(", "));
            }
            s.push(')');
        }
        let _ = write!(
            s,
            " FROM KAFKA (BROKER {}, TOPIC {}",
            quote_literal(self.broker.as_deref().unwrap_or("")),
            quote_literal(&self.topic)
        );
        if !self.start_offsets.is_empty() {
            let offsets: Vec<String> = self.start_offsets.iter().map(i64::to_string).collect();
            let _ = write!(s, ", START OFFSET ({})", offsets.join(", "));
        }
        if self.on_error == OnError::Halt {
            s.push_str(", ON ERROR 'halt'");
        }
        s.push_str(") FORMAT ");
        match self.format {
            SourceFormat::Json => s.push_str("JSON"),
            SourceFormat::Csv { columns } => {
                let _ = write!(s, "CSV WITH {columns} COLUMNS");
            }
            SourceFormat::Text => s.push_str("TEXT"),
            SourceFormat::Bytes => s.push_str("BYTES"),
            SourceFormat::Avro => {
                // With a registry, the schema fetched at creation is kept in the statement, so
                // a restart reads as before without asking the registry.
                if let Some(url) = &self.registry {
                    let _ = write!(
                        s,
                        "AVRO USING CONFLUENT SCHEMA REGISTRY {} ",
                        quote_literal(url)
                    );
                } else {
                    s.push_str("AVRO USING ");
                }
                let _ = write!(
                    s,
                    "SCHEMA {}",
                    quote_literal(self.avro_schema.as_deref().unwrap_or(""))
                );
            }
        }
        if !self.include.is_empty() {
            let include: Vec<String> = self
                .include
                .iter()
                .map(|(m, name)| format!("{} AS {}", m.keyword(), quote_ident(name)))
                .collect();
            let _ = write!(s, " INCLUDE {}", include.join(", "));
        }
        let _ = write!(
            s,
            " ENVELOPE {}",
            match self.envelope {
                Envelope::None => "NONE",
                Envelope::Upsert => "UPSERT",
                Envelope::Debezium => "DEBEZIUM",
            }
        );
        if let Some(ts) = &self.timestamp {
            let _ = write!(s, " TIMESTAMP {}", quote_ident(ts));
        }
        s
    }
}

/// `s` as a SQL string literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `ident` as a quoted SQL identifier, so that any name survives being written into a statement.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn new_parser<'a>(dialect: &'a PostgreSqlDialect, sql: &str) -> Result<Parser<'a>, ParserError> {
    Parser::new(dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
}

/// `CREATE SOURCE ...`.
pub fn parse_create_source(sql: &str) -> Result<CreateSource, SqlError> {
    let dialect = PostgreSqlDialect {};
    let parse = || -> Result<CreateSource, ParserError> {
        let mut p = new_parser(&dialect, sql)?;
        p.expect_keyword(Keyword::CREATE)?;
        expect_word(&mut p, "SOURCE")?;
        let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = p.parse_object_name(false)?;
        let (columns, key) = if p.peek_token().token == Token::LParen {
            parse_columns(&mut p)?
        } else {
            (vec![], vec![])
        };
        p.expect_keyword(Keyword::FROM)?;
        expect_word(&mut p, "KAFKA")?;
        let mut s = CreateSource::new(name, if_not_exists, columns, key, Envelope::None);
        for (option, value) in parse_options(&mut p)? {
            match (option.as_str(), value) {
                ("BROKER", OptionValue::String(v)) => s.broker = Some(v),
                ("TOPIC", OptionValue::String(v)) => s.topic = v,
                ("START OFFSET", OptionValue::List(v)) => s.start_offsets = v,
                ("ON ERROR", OptionValue::String(v)) => s.on_error = on_error(&v)?,
                (o @ ("BROKER" | "TOPIC" | "ON ERROR" | "START OFFSET"), _) => {
                    return Err(ParserError::ParserError(format!(
                        "KAFKA option {o} takes {}",
                        if o == "START OFFSET" {
                            "a list of offsets, one per partition: START OFFSET (0, 10)"
                        } else {
                            "a string"
                        }
                    )))
                }
                (other, _) => {
                    return Err(ParserError::ParserError(format!(
                        "unknown KAFKA option {other}: expected BROKER, TOPIC, START OFFSET or ON ERROR"
                    )))
                }
            }
        }
        expect_word(&mut p, "FORMAT")?;
        s.format = match p.parse_identifier()?.value.to_ascii_uppercase().as_str() {
            "JSON" => SourceFormat::Json,
            "TEXT" => SourceFormat::Text,
            "BYTES" => SourceFormat::Bytes,
            "AVRO" => {
                p.expect_keyword(Keyword::USING)?;
                if peek_word(&p, "CONFLUENT") {
                    p.next_token();
                    expect_word(&mut p, "SCHEMA")?;
                    expect_word(&mut p, "REGISTRY")?;
                    s.registry = Some(p.parse_literal_string()?);
                    // The reader's schema, when given; else the subject's latest.
                    if peek_word(&p, "SCHEMA") {
                        p.next_token();
                        s.avro_schema = Some(p.parse_literal_string()?);
                    }
                } else {
                    expect_word(&mut p, "SCHEMA")?;
                    s.avro_schema = Some(p.parse_literal_string()?);
                }
                SourceFormat::Avro
            }
            "CSV" => {
                p.expect_keyword(Keyword::WITH)?;
                let n = p.parse_literal_uint()? as usize;
                expect_word(&mut p, "COLUMNS")?;
                if n == 0 {
                    return Err(ParserError::ParserError(
                        "CSV needs at least one column".into(),
                    ));
                }
                SourceFormat::Csv { columns: n }
            }
            other => {
                return Err(ParserError::ParserError(format!(
                    "FORMAT {other} is not supported yet: expected JSON, AVRO USING SCHEMA '...', CSV WITH n COLUMNS, TEXT or BYTES"
                )))
            }
        };
        if peek_word(&p, "INCLUDE") {
            p.next_token();
            loop {
                let word = p.next_token();
                let what = match &word.token {
                    Token::Word(w) => match w.value.to_ascii_uppercase().as_str() {
                        "PARTITION" => Metadata::Partition,
                        "OFFSET" => Metadata::Offset,
                        "TIMESTAMP" => Metadata::Timestamp,
                        "KEY" => Metadata::Key,
                        "HEADERS" => Metadata::Headers,
                        _ => {
                            return p.expected("PARTITION, OFFSET, TIMESTAMP, KEY or HEADERS", word)
                        }
                    },
                    _ => return p.expected("PARTITION, OFFSET, TIMESTAMP, KEY or HEADERS", word),
                };
                let name = if p.parse_keyword(Keyword::AS) {
                    normalize_ident(&p.parse_identifier()?)
                } else {
                    what.keyword().to_ascii_lowercase()
                };
                s.include.push((what, name));
                if !p.consume_token(&Token::Comma) {
                    break;
                }
            }
        }
        if peek_word(&p, "ENVELOPE") {
            p.next_token();
            s.envelope = match p.parse_identifier()?.value.to_ascii_uppercase().as_str() {
                "NONE" => Envelope::None,
                "UPSERT" => Envelope::Upsert,
                "DEBEZIUM" => Envelope::Debezium,
                other => {
                    return Err(ParserError::ParserError(format!(
                        "unknown ENVELOPE {other}: expected NONE, UPSERT or DEBEZIUM"
                    )))
                }
            };
        }
        if peek_word(&p, "TIMESTAMP") {
            p.next_token();
            s.timestamp = Some(normalize_ident(&p.parse_identifier()?));
        }
        expect_end(&mut p)?;
        Ok(s)
    };
    let s = parse().map_err(|e| parser_error(sql, e))?;
    check(s)
}

/// Whether `sql` is a ksqlDB `CREATE STREAM|TABLE ... WITH (KAFKA_TOPIC = ...)` (and not `AS
/// SELECT`): a `KAFKA_TOPIC` word outside string literals and no top-level `AS`.
pub fn is_ksql_source(sql: &str) -> bool {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = sqlparser::tokenizer::Tokenizer::new(&dialect, sql).tokenize() else {
        return false;
    };
    let mut depth = 0;
    let mut topic = false;
    for t in &tokens {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Word(w) if depth == 0 && w.keyword == Keyword::AS => return false,
            Token::Word(w) if w.value.eq_ignore_ascii_case("KAFKA_TOPIC") => topic = true,
            _ => {}
        }
    }
    topic
}

/// ksqlDB's `CREATE STREAM|TABLE name (columns) WITH (KAFKA_TOPIC = ..., VALUE_FORMAT = ...)`.
pub fn parse_ksql_source(sql: &str) -> Result<CreateSource, SqlError> {
    let dialect = PostgreSqlDialect {};
    let parse = || -> Result<CreateSource, ParserError> {
        let mut p = new_parser(&dialect, sql)?;
        p.expect_keyword(Keyword::CREATE)?;
        let table = if p.parse_keyword(Keyword::TABLE) {
            true
        } else {
            expect_word(&mut p, "STREAM")?;
            false
        };
        let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = p.parse_object_name(false)?;
        let (columns, key) = parse_columns(&mut p)?;
        p.expect_keyword(Keyword::WITH)?;
        // A ksqlDB TABLE is kept by key; a STREAM appends.
        let envelope = if table {
            Envelope::Upsert
        } else {
            Envelope::None
        };
        let mut s = CreateSource::new(name, if_not_exists, columns, key, envelope);
        for (option, value) in parse_options(&mut p)? {
            let OptionValue::String(v) = value else {
                // PARTITIONS = 1, REPLICAS = 1: how ksqlDB would create the topic; Runnel
                // reads a topic that exists.
                if matches!(option.as_str(), "PARTITIONS" | "REPLICAS") {
                    continue;
                }
                return Err(ParserError::ParserError(format!("{option} takes a string")));
            };
            match option.as_str() {
                "KAFKA_TOPIC" => s.topic = v,
                "BROKER" => s.broker = Some(v),
                "TIMESTAMP" => s.timestamp = Some(v.to_lowercase()),
                "VALUE_FORMAT" | "FORMAT" => {
                    s.format = match v.to_ascii_uppercase().as_str() {
                        "JSON" => SourceFormat::Json,
                        "DELIMITED" => SourceFormat::Csv {
                            columns: s.columns.len().max(1),
                        },
                        // ksqlDB's KAFKA format: one column, BYTES as they are, else text.
                        "KAFKA" if s.columns.len() == 1 => {
                            let t = s.columns[0].data_type.to_string().to_ascii_uppercase();
                            if t == "BYTES" || t == "BYTEA" {
                                SourceFormat::Bytes
                            } else {
                                SourceFormat::Text
                            }
                        }
                        "AVRO" => {
                            return Err(ParserError::ParserError(
                                "VALUE_FORMAT 'AVRO' takes the schema registry from ksqlDB's server configuration, which Runnel does not have: use CREATE SOURCE ... FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY 'url' (or USING SCHEMA '...')".into(),
                            ))
                        }
                        other => {
                            return Err(ParserError::ParserError(format!(
                                "VALUE_FORMAT '{other}' is not supported yet: expected 'JSON' or 'DELIMITED'"
                            )))
                        }
                    }
                }
                // The key is read as JSON, or as text for one key column, whatever it says.
                "KEY_FORMAT" | "WRAP_SINGLE_VALUE" => {}
                other => {
                    return Err(ParserError::ParserError(format!(
                        "unknown WITH option {other}: expected KAFKA_TOPIC, VALUE_FORMAT, TIMESTAMP or BROKER"
                    )))
                }
            }
        }
        expect_end(&mut p)?;
        Ok(s)
    };
    let s = parse().map_err(|e| parser_error(sql, e))?;
    if s.envelope == Envelope::Upsert && s.key.is_empty() {
        return Err(SqlError::new(
            "42P16",
            "a ksqlDB TABLE needs a PRIMARY KEY column (the record's key)",
        ));
    }
    check(s)
}

/// What both forms require once parsed.
fn check(s: CreateSource) -> Result<CreateSource, SqlError> {
    let err = |msg: String| Err(SqlError::new("42601", msg));
    if s.topic.is_empty() {
        return err("a Kafka source needs a topic: TOPIC 'name' (KAFKA_TOPIC = 'name')".into());
    }
    if s.envelope != Envelope::None && s.key.is_empty() {
        return Err(SqlError::new(
            "42P16",
            format!(
                "ENVELOPE {:?} needs a PRIMARY KEY among the columns: the key a record replaces",
                s.envelope
            )
            .to_uppercase(),
        ));
    }
    if let SourceFormat::Csv { columns } = s.format {
        if !s.columns.is_empty() && s.columns.len() != columns {
            return err(format!(
                "CSV WITH {columns} COLUMNS, but {} columns are declared",
                s.columns.len()
            ));
        }
    }
    if s.format == SourceFormat::Text && s.columns.len() > 1 {
        return err("FORMAT TEXT fills one column".into());
    }
    if s.format == SourceFormat::Bytes && s.columns.len() > 1 {
        return err("FORMAT BYTES fills one column".into());
    }
    Ok(s)
}

/// `(name type [NOT NULL | NULL | PRIMARY KEY | KEY]..., [PRIMARY KEY (a, b)])`: the columns and
/// the key columns' names.
fn parse_columns(p: &mut Parser) -> Result<(Vec<SourceColumn>, Vec<String>), ParserError> {
    p.expect_token(&Token::LParen)?;
    let mut columns: Vec<SourceColumn> = vec![];
    let mut key = vec![];
    loop {
        if p.parse_keywords(&[Keyword::PRIMARY, Keyword::KEY]) {
            p.expect_token(&Token::LParen)?;
            loop {
                key.push(normalize_ident(&p.parse_identifier()?));
                if !p.consume_token(&Token::Comma) {
                    break;
                }
            }
            p.expect_token(&Token::RParen)?;
        } else {
            let name = p.parse_identifier()?;
            let data_type = p.parse_data_type()?;
            let mut not_null = false;
            loop {
                if p.parse_keywords(&[Keyword::NOT, Keyword::NULL]) {
                    not_null = true;
                } else if p.parse_keyword(Keyword::NULL) {
                } else if p.parse_keywords(&[Keyword::PRIMARY, Keyword::KEY])
                    || p.parse_keyword(Keyword::KEY)
                {
                    key.push(normalize_ident(&name));
                } else {
                    break;
                }
            }
            columns.push(SourceColumn {
                name,
                data_type,
                not_null,
            });
        }
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    p.expect_token(&Token::RParen)?;
    let declared = !columns.is_empty();
    for k in &key {
        match columns.iter_mut().find(|c| normalize_ident(&c.name) == *k) {
            Some(c) => c.not_null = true,
            // `(PRIMARY KEY (id))` alone: the columns come from an Avro schema.
            None if !declared => {}
            None => {
                return Err(ParserError::ParserError(format!(
                    "key column \"{k}\" is not among the columns"
                )))
            }
        }
    }
    Ok((columns, key))
}

pub(super) enum OptionValue {
    String(String),
    Number,
    List(Vec<i64>),
}

/// `(NAME [=] value, ...)` where a name may be several words (`START OFFSET`) and a value is a
/// string, a number or a parenthesized list of numbers. Names come back upper-cased.
pub(super) fn parse_options(p: &mut Parser) -> Result<Vec<(String, OptionValue)>, ParserError> {
    p.expect_token(&Token::LParen)?;
    let mut out = vec![];
    loop {
        let mut words = vec![p.parse_identifier()?.value.to_ascii_uppercase()];
        while let Token::Word(w) = &p.peek_token().token {
            words.push(w.value.to_ascii_uppercase());
            p.next_token();
        }
        let _ = p.consume_token(&Token::Eq);
        let value = match p.peek_token().token {
            Token::LParen => {
                p.next_token();
                let mut list = vec![];
                loop {
                    list.push(signed(p)?);
                    if !p.consume_token(&Token::Comma) {
                        break;
                    }
                }
                p.expect_token(&Token::RParen)?;
                OptionValue::List(list)
            }
            Token::Number(..) | Token::Minus => {
                signed(p)?;
                OptionValue::Number
            }
            _ => OptionValue::String(p.parse_literal_string()?),
        };
        out.push((words.join(" "), value));
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    p.expect_token(&Token::RParen)?;
    Ok(out)
}

fn signed(p: &mut Parser) -> Result<i64, ParserError> {
    let negative = p.consume_token(&Token::Minus);
    let n = p.parse_literal_uint()? as i64;
    Ok(if negative { -n } else { n })
}

fn on_error(v: &str) -> Result<OnError, ParserError> {
    match v.to_ascii_lowercase().as_str() {
        "skip" => Ok(OnError::Skip),
        "halt" => Ok(OnError::Halt),
        _ => Err(ParserError::ParserError(format!(
            "ON ERROR '{v}': expected 'skip' or 'halt'"
        ))),
    }
}

pub(super) fn peek_word(p: &Parser, word: &str) -> bool {
    matches!(&p.peek_token().token, Token::Word(w) if w.value.eq_ignore_ascii_case(word))
}

pub(super) fn expect_end(p: &mut Parser) -> Result<(), ParserError> {
    let _ = p.consume_token(&Token::SemiColon);
    if p.peek_token().token != Token::EOF {
        return p.expected("end of statement", p.peek_token());
    }
    Ok(())
}

/// Consumes `word` (a keyword or not, in any case) or fails saying it was expected.
pub(super) fn expect_word(p: &mut Parser, word: &str) -> Result<(), ParserError> {
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
            (s.broker.as_deref(), s.topic.as_str()),
            (Some("127.0.0.1:9092"), "ratings")
        );
        assert_eq!((s.format, s.envelope), (SourceFormat::Json, Envelope::None));
        let e =
            parse_create_source("CREATE SOURCE r FROM KAFKA (BROKER 'b') FORMAT JSON").unwrap_err();
        assert_eq!(e.code, "42601");
        assert!(e.message.contains("TOPIC"), "{}", e.message);
        let e =
            parse_create_source("CREATE SOURCE r FROM KAFKA (BROKER 'b', TOPIC 'x') FORMAT XML")
                .unwrap_err();
        assert!(e.message.contains("XML"), "{}", e.message);
        let e = parse_create_source(
            "CREATE SOURCE r (a int) FROM KAFKA (TOPIC 'x') FORMAT JSON ENVELOPE UPSERT",
        )
        .unwrap_err();
        assert_eq!(e.code, "42P16");
    }

    #[test]
    fn every_option_round_trips_through_to_sql() {
        let s = parse_create_source(
            "create source s (id int, name text, primary key (id)) from kafka \
             (broker 'b:1', topic 'it''s', start offset (0, 5), on error 'halt') \
             format csv with 2 columns include partition, offset as o, key \
             envelope upsert timestamp ts",
        )
        .unwrap();
        assert_eq!(s.start_offsets, vec![0, 5]);
        assert_eq!(s.on_error, OnError::Halt);
        assert_eq!(s.format, SourceFormat::Csv { columns: 2 });
        assert_eq!(s.key, vec!["id".to_string()]);
        assert_eq!(s.include.len(), 3);
        let again = parse_create_source(&s.to_sql()).unwrap();
        assert_eq!(again.to_sql(), s.to_sql());
        assert_eq!(again.topic, "it's");
        assert!(again.columns[0].not_null);
    }

    #[test]
    fn parses_the_ksql_forms() {
        let sql = "CREATE STREAM ratings (rating_id BIGINT, user_id INT KEY, stars INT, \
                   rating_time BIGINT) WITH (KAFKA_TOPIC='ratings', VALUE_FORMAT='JSON', \
                   TIMESTAMP='rating_time', PARTITIONS=1);";
        assert!(is_ksql_source(sql));
        let s = parse_ksql_source(sql).unwrap();
        assert_eq!(s.envelope, Envelope::None);
        assert_eq!(s.key, vec!["user_id".to_string()]);
        assert_eq!(s.timestamp.as_deref(), Some("rating_time"));
        assert_eq!(s.broker, None);
        let t = parse_ksql_source(
            "CREATE TABLE customers (id INT PRIMARY KEY, club_status VARCHAR) \
             WITH (KAFKA_TOPIC='customers', VALUE_FORMAT='JSON')",
        )
        .unwrap();
        assert_eq!(t.envelope, Envelope::Upsert);
        assert!(!is_ksql_source("CREATE TABLE t (a int)"));
        assert!(!is_ksql_source(
            "CREATE STREAM x WITH (KAFKA_TOPIC='x') AS SELECT * FROM y"
        ));
        let e = parse_ksql_source("CREATE TABLE c (id INT) WITH (KAFKA_TOPIC='c')").unwrap_err();
        assert_eq!(e.code, "42P16");
    }
}
