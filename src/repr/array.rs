//! The text form of arrays, as Postgres' `array_out` and `array_in` write and read it:
//! `{1,2,NULL}`, `{"a b","",x}`. One dimension, lower bound 1.

use super::strconv::{format, parse, ParseError};
use super::{Datum, ScalarType};

/// Prints an array's elements: NULL as `NULL`, and an element quoted (with `"` and `\`
/// escaped) when it is empty, is `NULL` in any case, or holds braces, commas, quotes,
/// backslashes or white space.
pub fn format_array(elems: &[Datum]) -> String {
    let mut out = String::from("{");
    for (i, e) in elems.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let Some(text) = format(e) else {
            out.push_str("NULL");
            continue;
        };
        let quote = text.is_empty()
            || text.eq_ignore_ascii_case("null")
            || text
                .chars()
                .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
        if quote {
            out.push('"');
            for c in text.chars() {
                if matches!(c, '"' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
    out.push('}');
    out
}

/// Reads the text form of a one-dimensional array of `element`s.
pub fn parse_array(text: &str, element: ScalarType) -> Result<Datum, ParseError> {
    let malformed = || ParseError {
        typ: element.array_of().unwrap_or(ScalarType::Unknown),
        text: text.to_string(),
        out_of_range: false,
    };
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(malformed)?;
    let mut elems = Vec::new();
    if inner.trim().is_empty() {
        return Ok(Datum::Array(elems));
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let mut item = String::new();
        let mut quoted = false;
        if chars.next_if_eq(&'"').is_some() {
            quoted = true;
            loop {
                match chars.next().ok_or_else(malformed)? {
                    '"' => break,
                    '\\' => item.push(chars.next().ok_or_else(malformed)?),
                    c => item.push(c),
                }
            }
            while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                match c {
                    // Nested braces would be a second dimension.
                    '{' | '}' | '"' => return Err(malformed()),
                    '\\' => item.push(chars.next().ok_or_else(malformed)?),
                    c => item.push(c),
                }
            }
            item.truncate(item.trim_end().len());
            if item.is_empty() {
                return Err(malformed());
            }
        }
        elems.push(if !quoted && item.eq_ignore_ascii_case("null") {
            Datum::Null
        } else {
            parse(&item, element)?
        });
        match chars.next() {
            None => return Ok(Datum::Array(elems)),
            Some(',') => {}
            Some(_) => return Err(malformed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_print_and_read_back_as_postgres_writes_them() {
        let elems = vec![
            Datum::String("a b".into()),
            Datum::String(String::new()),
            Datum::Null,
            Datum::String("NULL".into()),
            Datum::String("x\"y\\z".into()),
            Datum::String("plain".into()),
        ];
        let text = format_array(&elems);
        assert_eq!(text, r#"{"a b","",NULL,"NULL","x\"y\\z",plain}"#);
        assert_eq!(
            parse_array(&text, ScalarType::Text).unwrap(),
            Datum::Array(elems)
        );
        assert_eq!(
            parse_array(" { 1 , NULL,3 } ", ScalarType::Int32).unwrap(),
            Datum::Array(vec![Datum::Int32(1), Datum::Null, Datum::Int32(3)])
        );
        assert_eq!(
            parse_array("{}", ScalarType::Int32).unwrap(),
            Datum::Array(vec![])
        );
        for bad in ["1,2", "{1,2", "{{1},{2}}", "{1,,2}", "{\"a}"] {
            assert!(parse_array(bad, ScalarType::Int32).is_err(), "{bad}");
        }
        let e = parse_array("{1,x}", ScalarType::Int32).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid input syntax for type integer: \"x\""
        );
        let e = parse_array("{1", ScalarType::Int32).unwrap_err();
        assert_eq!(e.to_string(), "malformed array literal: \"{1\"");
    }
}
