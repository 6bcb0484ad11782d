//! Postgres' COPY text and CSV formats: decoding rows a client sends with `COPY ... FROM STDIN`
//! and encoding rows for `COPY ... TO STDOUT`.
//!
//! Hand-written rather than through the `csv` crate because COPY's CSV needs to know whether a
//! field was quoted (an unquoted empty field is NULL, a quoted one is the empty string), and the
//! text format is Postgres' own backslash-escaped layout.

use std::borrow::Cow;

use crate::error::SqlError;
use crate::plan::CopyFormat;
use crate::repr::{strconv, Datum, RelationDesc, Row};

/// Turns a stream of CopyData chunks into rows of the target table, one whole record at a time.
pub struct CopyDecoder<'a> {
    format: &'a CopyFormat,
    desc: &'a RelationDesc,
    columns: &'a [usize],
    pending: Vec<u8>,
    /// 1-based number of the record being read, for error messages.
    line: usize,
    done: bool,
    pub rows: Vec<Row>,
}

/// One field as it appeared in the data: its text after unescaping (borrowed from the record
/// when there was nothing to unescape, as in most fields), or `None` for NULL.
type Field<'t> = Option<Cow<'t, str>>;

impl<'a> CopyDecoder<'a> {
    pub fn new(format: &'a CopyFormat, desc: &'a RelationDesc, columns: &'a [usize]) -> Self {
        CopyDecoder {
            format,
            desc,
            columns,
            pending: Vec::new(),
            line: 0,
            done: false,
            rows: Vec::new(),
        }
    }

    /// Takes the next chunk of data; complete records become rows.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), SqlError> {
        // Taken out of `self` so records can be read in place while `self` collects rows.
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(len) = self.record_end_in(&data[start..], false) {
            self.record(&data[start..start + len])?;
            start += len + 1;
        }
        data.drain(..start);
        self.pending = data;
        Ok(())
    }

    /// The data has ended: a last record without a newline still counts.
    pub fn finish(mut self) -> Result<Vec<Row>, SqlError> {
        if !self.pending.is_empty() {
            let record = std::mem::take(&mut self.pending);
            if self.format.csv && self.record_end_in(&record, true).is_none() {
                self.line += 1;
                return Err(self.error("unterminated CSV quoted field"));
            }
            self.record(&record)?;
        }
        Ok(self.rows)
    }

    /// Where the record at the start of `data` ends (the index of its newline), if it is
    /// complete. In CSV a quoted field may span lines, so the newline must be outside quotes.
    fn record_end_in(&self, data: &[u8], at_eof: bool) -> Option<usize> {
        if !self.format.csv {
            return data.iter().position(|b| *b == b'\n');
        }
        let (q, e) = (self.format.quote, self.format.escape);
        let mut quoted = false;
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            if quoted {
                if b == e && e != q && data.get(i + 1) == Some(&q) {
                    i += 1;
                } else if b == q {
                    if e == q && data.get(i + 1) == Some(&q) {
                        i += 1;
                    } else {
                        quoted = false;
                    }
                }
            } else if b == q {
                quoted = true;
            } else if b == b'\n' {
                return Some(i);
            }
            i += 1;
        }
        if at_eof && !quoted {
            Some(data.len())
        } else {
            None
        }
    }

    fn record(&mut self, record: &[u8]) -> Result<(), SqlError> {
        self.line += 1;
        if self.done {
            return Ok(());
        }
        let record = record.strip_suffix(b"\r").unwrap_or(record);
        if record == b"\\." {
            self.done = true;
            return Ok(());
        }
        if self.format.header && self.line == 1 {
            return Ok(());
        }
        let text = std::str::from_utf8(record).map_err(|_| {
            SqlError::new(
                "22021",
                format!(
                    "invalid byte sequence for encoding \"UTF8\" (COPY line {})",
                    self.line
                ),
            )
        })?;
        let fields = if self.format.csv {
            self.csv_fields(text)
        } else {
            self.text_fields(text)
        };
        if fields.len() != self.columns.len() {
            let what = if fields.len() < self.columns.len() {
                "missing data for a column"
            } else {
                "extra data after last expected column"
            };
            return Err(self.error(what));
        }
        let mut row: Row = vec![Datum::Null; self.desc.arity()];
        for (field, col) in fields.into_iter().zip(self.columns) {
            let typ = &self.desc.types[*col];
            row[*col] = match field {
                None => Datum::Null,
                Some(text) => strconv::parse(&text[..], typ.scalar).map_err(|e| {
                    let mut err = SqlError::from(e);
                    err.message = format!(
                        "{}, COPY line {}, column {}",
                        err.message, self.line, self.desc.names[*col]
                    );
                    err
                })?,
            };
        }
        for (col, typ) in self.desc.types.iter().enumerate() {
            if !typ.nullable && row[col].is_null() {
                return Err(SqlError::new(
                    "23502",
                    format!(
                        "null value in column \"{}\" violates not-null constraint (COPY line {})",
                        self.desc.names[col], self.line
                    ),
                ));
            }
        }
        self.rows.push(row);
        Ok(())
    }

    fn error(&self, msg: &str) -> SqlError {
        SqlError::new("22P04", format!("{msg} (COPY line {})", self.line))
    }

    /// Text format: fields split at the delimiter, `\N` (or the NULL string) is NULL, and
    /// backslash escapes are undone.
    fn text_fields<'t>(&self, text: &'t str) -> Vec<Field<'t>> {
        text.split(self.format.delimiter as char)
            .map(|raw| {
                if raw == self.format.null {
                    None
                } else {
                    Some(unescape_text(raw))
                }
            })
            .collect()
    }

    /// CSV: fields split at delimiters outside quotes; an unquoted field equal to the NULL
    /// string is NULL.
    fn csv_fields(&self, text: &str) -> Vec<Field<'static>> {
        let (d, q, e) = (
            self.format.delimiter as char,
            self.format.quote as char,
            self.format.escape as char,
        );
        let mut fields = Vec::new();
        let mut cur = String::new();
        let (mut quoted, mut was_quoted) = (false, false);
        let mut chars = text.chars().peekable();
        let mut push = |cur: &mut String, was_quoted: &mut bool| {
            let field = std::mem::take(cur);
            fields.push(if !*was_quoted && field == self.format.null {
                None
            } else {
                Some(Cow::Owned(field))
            });
            *was_quoted = false;
        };
        while let Some(c) = chars.next() {
            if quoted {
                if c == e && chars.peek() == Some(&q) {
                    cur.push(q);
                    chars.next();
                } else if c == q {
                    quoted = false;
                } else {
                    cur.push(c);
                }
            } else if c == q {
                quoted = true;
                was_quoted = true;
            } else if c == d {
                push(&mut cur, &mut was_quoted);
            } else {
                cur.push(c);
            }
        }
        push(&mut cur, &mut was_quoted);
        fields
    }
}

fn unescape_text(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\u{b}'),
            Some('x') => {
                let mut v = 0u32;
                for _ in 0..2 {
                    match chars.peek().and_then(|h| h.to_digit(16)) {
                        Some(h) => {
                            v = v * 16 + h;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.extend(char::from_u32(v));
            }
            Some(o @ '0'..='7') => {
                let mut v = o.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|h| h.to_digit(8)) {
                        Some(h) => {
                            v = v * 8 + h;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.extend(char::from_u32(v));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

/// Appends one row in `format`, newline-terminated.
pub fn encode_row(row: &Row, format: &CopyFormat, out: &mut String) {
    for (i, d) in row.iter().enumerate() {
        if i > 0 {
            out.push(format.delimiter as char);
        }
        match strconv::format(d) {
            None => out.push_str(&format.null),
            Some(s) if format.csv => {
                let q = format.quote as char;
                let needs_quotes = s.is_empty() && !format.null.is_empty()
                    || s == format.null
                    || s.contains(|c| {
                        c == format.delimiter as char || c == q || c == '\n' || c == '\r'
                    });
                if needs_quotes {
                    out.push(q);
                    for c in s.chars() {
                        if c == q {
                            out.push(format.escape as char);
                        }
                        out.push(c);
                    }
                    out.push(q);
                } else {
                    out.push_str(&s);
                }
            }
            Some(s) => {
                for c in s.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        c if c as u32 == format.delimiter as u32 => {
                            out.push('\\');
                            out.push(c);
                        }
                        c => out.push(c),
                    }
                }
            }
        }
    }
    out.push('\n');
}

/// CSV's header line: the column names, quoted where needed.
pub fn header(desc: &RelationDesc, format: &CopyFormat) -> String {
    let mut out = String::new();
    let row: Row = desc
        .names
        .iter()
        .map(|n| Datum::String(n.clone()))
        .collect();
    encode_row(&row, format, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::{ColumnType, ScalarType};

    fn desc() -> RelationDesc {
        RelationDesc::new(
            vec!["a".into(), "b".into()],
            vec![
                ColumnType::new(ScalarType::Int32, true),
                ColumnType::new(ScalarType::Text, true),
            ],
        )
    }

    fn decode(format: &CopyFormat, chunks: &[&str]) -> Result<Vec<Row>, SqlError> {
        let d = desc();
        let mut dec = CopyDecoder::new(format, &d, &[0, 1]);
        for c in chunks {
            dec.feed(c.as_bytes())?;
        }
        dec.finish()
    }

    fn csv() -> CopyFormat {
        CopyFormat {
            csv: true,
            delimiter: b',',
            null: String::new(),
            header: true,
            ..CopyFormat::text()
        }
    }

    #[test]
    fn text_format_round_trips_escapes_and_nulls_across_chunk_boundaries() {
        let rows = decode(&CopyFormat::text(), &["1\ta\\tb\n2\t\\", "N\n3\tx\\\\y"]).unwrap();
        assert_eq!(
            rows,
            vec![
                vec![Datum::Int32(1), Datum::String("a\tb".into())],
                vec![Datum::Int32(2), Datum::Null],
                vec![Datum::Int32(3), Datum::String("x\\y".into())],
            ]
        );
        let mut out = String::new();
        for r in &rows {
            encode_row(r, &CopyFormat::text(), &mut out);
        }
        assert_eq!(out, "1\ta\\tb\n2\t\\N\n3\tx\\\\y\n");
    }

    #[test]
    fn csv_distinguishes_quoted_empty_from_null_and_spans_lines() {
        let rows = decode(&csv(), &["a,b\n1,\n2,\"\"\n3,\"x,\"\"y\"\"\nz\"\n"]).unwrap();
        assert_eq!(
            rows,
            vec![
                vec![Datum::Int32(1), Datum::Null],
                vec![Datum::Int32(2), Datum::String(String::new())],
                vec![Datum::Int32(3), Datum::String("x,\"y\"\nz".into())],
            ]
        );
    }

    #[test]
    fn bad_records_name_their_line() {
        let e = decode(&CopyFormat::text(), &["1\ta\n2\n"]).unwrap_err();
        assert_eq!(e.code, "22P04");
        assert!(e.message.contains("line 2"), "{}", e.message);
        let e = decode(&CopyFormat::text(), &["x\ta\n"]).unwrap_err();
        assert_eq!(e.code, "22P02");
        let e = decode(&csv(), &["a,b\n1,\"open\n"]).unwrap_err();
        assert_eq!(e.code, "22P04");
    }
}
