//! Built-in load generators, for demos, tests and benchmarks without a broker:
//!
//! ```text
//! CREATE SOURCE [IF NOT EXISTS] name FROM LOAD GENERATOR RATINGS | AUTHORIZATIONS | SYSLOG
//!     [(RATE n, SEED n, START TIME 'timestamp', UP TO n, CUSTOMERS n, CARDS n)]
//!     [FOR ALL TABLES]
//! ```
//!
//! `RATINGS` has two outputs (the `ratings` stream and the `customers` change feed), so it
//! needs `FOR ALL TABLES`, which creates one source per output, named after it, and makes
//! `name` the generator's progress relation.

use serde::{Deserialize, Serialize};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

use super::source::{expect_end, expect_word};
use super::{parser_error, RECURSION_LIMIT};
use crate::error::SqlError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Generator {
    /// Ratings of flights by customers, and the customers table's change feed.
    Ratings,
    /// Card authorization attempts, some cards abused in bursts.
    Authorizations,
    /// Syslog lines from a few hosts, sshd probes among them.
    Syslog,
}

impl Generator {
    pub fn name(self) -> &'static str {
        match self {
            Generator::Ratings => "RATINGS",
            Generator::Authorizations => "AUTHORIZATIONS",
            Generator::Syslog => "SYSLOG",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CreateGenerator {
    pub name: ast::ObjectName,
    pub if_not_exists: bool,
    pub generator: Generator,
    /// Events per second of the main output (ratings, authorizations, lines).
    pub rate: f64,
    /// None until the coordinator draws one (and logs it, so a restart continues the same data).
    pub seed: Option<u64>,
    /// When event 0 happens (its event time); None until the coordinator sets it to now.
    pub start_time: Option<String>,
    /// Stop after this many events of the main output.
    pub up_to: Option<u64>,
    /// How many customers (RATINGS) or cards (AUTHORIZATIONS) there are.
    pub population: Option<u64>,
    pub for_all_tables: bool,
}

impl CreateGenerator {
    /// The statement with every option spelled out, as the log records it.
    pub fn to_sql(&self) -> String {
        let mut options = vec![format!("RATE {}", self.rate)];
        if let Some(seed) = self.seed {
            options.push(format!("SEED {seed}"));
        }
        if let Some(start) = &self.start_time {
            options.push(format!("START TIME '{}'", start.replace('\'', "''")));
        }
        if let Some(n) = self.up_to {
            options.push(format!("UP TO {n}"));
        }
        if let Some(n) = self.population {
            let word = match self.generator {
                Generator::Authorizations => "CARDS",
                _ => "CUSTOMERS",
            };
            options.push(format!("{word} {n}"));
        }
        format!(
            "CREATE SOURCE {}{} FROM LOAD GENERATOR {} ({}){}",
            if self.if_not_exists {
                "IF NOT EXISTS "
            } else {
                ""
            },
            self.name,
            self.generator.name(),
            options.join(", "),
            if self.for_all_tables {
                " FOR ALL TABLES"
            } else {
                ""
            }
        )
    }
}

/// Whether `sql` (a `CREATE SOURCE`) reads `FROM LOAD GENERATOR`.
pub fn is_load_generator(sql: &str) -> bool {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return false;
    };
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    words.windows(3).any(|w| {
        matches!((w[0], w[1], w[2]), (Token::Word(a), Token::Word(b), Token::Word(c))
            if a.keyword == Keyword::FROM
                && b.value.eq_ignore_ascii_case("LOAD")
                && c.value.eq_ignore_ascii_case("GENERATOR"))
    })
}

pub fn parse_create_generator(sql: &str) -> Result<CreateGenerator, SqlError> {
    let dialect = PostgreSqlDialect {};
    let parse = || -> Result<CreateGenerator, ParserError> {
        let mut p = Parser::new(&dialect)
            .with_recursion_limit(RECURSION_LIMIT)
            .try_with_sql(sql)?;
        p.expect_keyword(Keyword::CREATE)?;
        expect_word(&mut p, "SOURCE")?;
        let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = p.parse_object_name(false)?;
        p.expect_keyword(Keyword::FROM)?;
        expect_word(&mut p, "LOAD")?;
        expect_word(&mut p, "GENERATOR")?;
        let word = p.parse_identifier()?.value.to_ascii_uppercase();
        let generator = match word.as_str() {
            "RATINGS" => Generator::Ratings,
            "AUTHORIZATIONS" => Generator::Authorizations,
            "SYSLOG" => Generator::Syslog,
            other => {
                return Err(ParserError::ParserError(format!(
                    "unknown LOAD GENERATOR {other}: expected RATINGS, AUTHORIZATIONS or SYSLOG"
                )))
            }
        };
        let mut g = CreateGenerator {
            name,
            if_not_exists,
            generator,
            rate: 10.0,
            seed: None,
            start_time: None,
            up_to: None,
            population: None,
            for_all_tables: false,
        };
        if p.consume_token(&Token::LParen) {
            loop {
                parse_option(&mut p, &mut g)?;
                if !p.consume_token(&Token::Comma) {
                    break;
                }
            }
            p.expect_token(&Token::RParen)?;
        }
        if p.parse_keyword(Keyword::FOR) {
            p.expect_keyword(Keyword::ALL)?;
            expect_word(&mut p, "TABLES")?;
            g.for_all_tables = true;
        }
        expect_end(&mut p)?;
        Ok(g)
    };
    parse().map_err(|e| parser_error(sql, e))
}

fn parse_option(p: &mut Parser, g: &mut CreateGenerator) -> Result<(), ParserError> {
    let mut words = vec![p.parse_identifier()?.value.to_ascii_uppercase()];
    if matches!(words[0].as_str(), "START" | "UP") {
        words.push(p.parse_identifier()?.value.to_ascii_uppercase());
    }
    let _ = p.consume_token(&Token::Eq);
    let option = words.join(" ");
    let count = |p: &mut Parser| p.parse_literal_uint();
    match option.as_str() {
        "RATE" => {
            let rate: f64 = match p.next_token().token {
                Token::Number(n, _) => n.parse().unwrap_or(f64::NAN),
                other => {
                    return Err(ParserError::ParserError(format!(
                        "RATE takes a number of events per second, not {other}"
                    )))
                }
            };
            if !(rate > 0.0 && rate <= 1_000_000.0) {
                return Err(ParserError::ParserError(format!(
                    "RATE {rate} is out of range: give events per second, more than 0 and at most 1000000"
                )));
            }
            g.rate = rate;
        }
        "SEED" => g.seed = Some(count(p)?),
        "START TIME" => g.start_time = Some(p.parse_literal_string()?),
        "UP TO" => g.up_to = Some(count(p)?),
        "CUSTOMERS" if g.generator == Generator::Ratings => g.population = Some(count(p)?.max(1)),
        "CARDS" if g.generator == Generator::Authorizations => {
            g.population = Some(count(p)?.max(1))
        }
        other => {
            let own = match g.generator {
                Generator::Ratings => ", CUSTOMERS",
                Generator::Authorizations => ", CARDS",
                Generator::Syslog => "",
            };
            return Err(ParserError::ParserError(format!(
                "unknown option {other} of LOAD GENERATOR {}: expected RATE, SEED, START TIME, UP TO{own}",
                g.generator.name()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_logged_form() {
        let sql = "CREATE SOURCE demo FROM LOAD GENERATOR ratings (RATE 2.5, SEED 7, UP TO 100, CUSTOMERS 20) FOR ALL TABLES";
        assert!(is_load_generator(sql));
        let g = parse_create_generator(sql).unwrap();
        assert_eq!(
            (g.rate, g.seed, g.up_to, g.population),
            (2.5, Some(7), Some(100), Some(20))
        );
        let again = parse_create_generator(&g.to_sql()).unwrap();
        assert_eq!(again.to_sql(), g.to_sql());
        assert!(again.for_all_tables);
    }

    #[test]
    fn bad_options_are_syntax_errors() {
        for sql in [
            "CREATE SOURCE s FROM LOAD GENERATOR SYSLOG (CARDS 3)",
            "CREATE SOURCE s FROM LOAD GENERATOR SYSLOG (RATE 0)",
            "CREATE SOURCE s FROM LOAD GENERATOR COUNTER",
            "CREATE SOURCE s FROM LOAD GENERATOR SYSLOG (RATE 1) extra",
        ] {
            assert_eq!(
                parse_create_generator(sql).unwrap_err().code,
                "42601",
                "{sql}"
            );
        }
        assert!(!is_load_generator(
            "CREATE SOURCE s FROM KAFKA (TOPIC 'load')"
        ));
    }
}
