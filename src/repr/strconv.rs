//! Postgres text forms of values: how they print (`format`) and how text parses into each type
//! (`parse`). Used for the text wire format, casts from and to text, and literals.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;

use super::{Datum, Interval, ScalarType};

/// Why a text could not be read as a value of some type (SQLSTATE 22P02 or 22007 or 22003).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub typ: ScalarType,
    pub text: String,
    pub out_of_range: bool,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if matches!(self.typ, ScalarType::Array(_)) {
            write!(f, "malformed array literal: \"{}\"", self.text)
        } else if self.out_of_range {
            write!(
                f,
                "value \"{}\" is out of range for type {}",
                self.text,
                self.typ.name()
            )
        } else {
            write!(
                f,
                "invalid input syntax for type {}: \"{}\"",
                self.typ.name(),
                self.text
            )
        }
    }
}

/// Prints a datum as Postgres' text output function does. NULL has no text form.
pub fn format(d: &Datum) -> Option<String> {
    Some(match d {
        Datum::Null => return None,
        Datum::Bool(b) => if *b { "t" } else { "f" }.to_string(),
        Datum::Int16(v) => v.to_string(),
        Datum::Int32(v) => v.to_string(),
        Datum::Int64(v) => v.to_string(),
        Datum::Float32(v) => format_float(v.0 as f64, 6, Some(v.0)),
        Datum::Float64(v) => format_float(v.0, 15, None),
        Datum::Numeric(v) => v.to_string(),
        Datum::String(s) => s.clone(),
        Datum::Jsonb(s) => format_jsonb(s),
        Datum::Date(d) => d.format("%Y-%m-%d").to_string(),
        Datum::Timestamp(ts) => format_timestamp(ts),
        Datum::TimestampTz(ts) => format!("{}+00", format_timestamp(&ts.naive_utc())),
        Datum::Interval(iv) => format_interval(iv),
        Datum::Bytes(b) => format_bytea(b),
        Datum::Array(elems) => super::array::format_array(elems),
        Datum::Vector(elems) => elems
            .iter()
            .filter_map(format)
            .collect::<Vec<_>>()
            .join(" "),
        Datum::Record(fields) => format_record(fields),
    })
}

/// A record as Postgres' `record_out` writes it: `(1,,"a b")`, NULL as nothing, and a field
/// quoted when it is empty or holds a delimiter, quote, backslash or space.
fn format_record(fields: &[Datum]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| match format(f) {
            None => String::new(),
            Some(s)
                if s.is_empty()
                    || s.chars().any(|c| {
                        matches!(c, ',' | '(' | ')' | '"' | '\\') || c.is_whitespace()
                    }) =>
            {
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\"\""))
            }
            Some(s) => s,
        })
        .collect();
    format!("({})", parts.join(","))
}

/// `jsonb`'s output as Postgres writes it: `{"a": 1, "b": [1, 2]}`, an object's keys shorter
/// first, then in byte order (jsonb's own order).
fn format_jsonb(stored: &str) -> String {
    fn write(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(item, out);
                }
                out.push(']');
            }
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
                out.push('{');
                for (i, (k, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push_str(": ");
                    write(item, out);
                }
                out.push('}');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    match serde_json::from_str::<serde_json::Value>(stored) {
        Ok(v) => {
            let mut out = String::with_capacity(stored.len() + 8);
            write(&v, &mut out);
            out
        }
        Err(_) => stored.to_string(),
    }
}

fn format_timestamp(ts: &NaiveDateTime) -> String {
    let micros = ts.and_utc().timestamp_subsec_micros();
    if micros == 0 {
        ts.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        let frac = format!("{micros:06}");
        format!(
            "{}.{}",
            ts.format("%Y-%m-%d %H:%M:%S"),
            frac.trim_end_matches('0')
        )
    }
}

/// Shortest round-trip digits, switching to exponent form where Postgres does
/// (exponent below -4, or at least 15 for double / 6 for real).
fn format_float(v: f64, max_exp: i32, f32v: Option<f32>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = match f32v {
        Some(f) => format!("{f:e}"),
        None => format!("{v:e}"),
    };
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always prints an exponent");
    let exp: i32 = exp.parse().expect("{:e} prints an integer exponent");
    if exp < -4 || exp >= max_exp {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        match f32v {
            Some(f) => format!("{f}"),
            None => format!("{v}"),
        }
    }
}

pub(crate) fn format_interval(iv: &Interval) -> String {
    let mut parts = Vec::new();
    let years = iv.months / 12;
    let months = iv.months % 12;
    let plural = |n: i64, unit: &str| {
        if n.abs() == 1 {
            format!("{n} {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if years != 0 {
        parts.push(plural(years as i64, "year"));
    }
    if months != 0 {
        parts.push(plural(months as i64, "mon"));
    }
    if iv.days != 0 {
        parts.push(plural(iv.days as i64, "day"));
    }
    if iv.micros != 0 || parts.is_empty() {
        let neg = iv.micros < 0;
        let total = iv.micros.unsigned_abs();
        let secs = total / 1_000_000;
        let frac = total % 1_000_000;
        let mut s = format!(
            "{}{:02}:{:02}:{:02}",
            if neg { "-" } else { "" },
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        );
        if frac != 0 {
            s.push('.');
            s.push_str(format!("{frac:06}").trim_end_matches('0'));
        }
        parts.push(s);
    }
    parts.join(" ")
}

/// Reads text as a value of `typ`, as Postgres' input functions do.
pub fn parse(text: &str, typ: ScalarType) -> Result<Datum, ParseError> {
    let err = |out_of_range: bool| ParseError {
        typ,
        text: text.to_string(),
        out_of_range,
    };
    let t = text.trim();
    Ok(match typ {
        ScalarType::Bool => match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => Datum::Bool(true),
            "f" | "false" | "no" | "n" | "off" | "0" => Datum::Bool(false),
            _ => return Err(err(false)),
        },
        ScalarType::Int16 => Datum::Int16(
            parse_int(t)
                .and_then(|v| i16::try_from(v).map_err(|_| true))
                .map_err(err)?,
        ),
        ScalarType::Int32 => Datum::Int32(
            parse_int(t)
                .and_then(|v| i32::try_from(v).map_err(|_| true))
                .map_err(err)?,
        ),
        ScalarType::Int64 => Datum::Int64(parse_int(t).map_err(err)?),
        ScalarType::Float32 => Datum::f32(parse_float(t).ok_or_else(|| err(false))? as f32),
        ScalarType::Float64 => Datum::f64(parse_float(t).ok_or_else(|| err(false))?),
        // The scale written is kept: Postgres prints '1.50'::numeric as 1.50.
        ScalarType::Numeric => Datum::Numeric(
            Decimal::from_str(t)
                .or_else(|_| Decimal::from_scientific(t))
                .map_err(|_| err(false))?,
        ),
        ScalarType::Text | ScalarType::Unknown => Datum::String(text.to_string()),
        ScalarType::Date => Datum::Date(parse_date(t).ok_or_else(|| err(false))?),
        ScalarType::Timestamp => Datum::Timestamp(parse_timestamp(t).ok_or_else(|| err(false))?.0),
        ScalarType::TimestampTz => {
            let (naive, offset) = parse_timestamp(t).ok_or_else(|| err(false))?;
            let utc = naive - chrono::Duration::seconds(offset.unwrap_or(0) as i64);
            Datum::TimestampTz(Utc.from_utc_datetime(&utc))
        }
        ScalarType::Interval => Datum::Interval(parse_interval(t).ok_or_else(|| err(false))?),
        // Records are made by functions, never read from text (as a column of one is not).
        ScalarType::Record(_) => return Err(err(false)),
        ScalarType::Jsonb => {
            let v: serde_json::Value = serde_json::from_str(t).map_err(|_| err(false))?;
            Datum::Jsonb(v.to_string())
        }
        ScalarType::Bytea => Datum::Bytes(parse_bytea(text).map_err(|_| err(false))?),
        ScalarType::Array(element) => return super::array::parse_array(text, *element),
        ScalarType::Int2Vector | ScalarType::OidVector => {
            let element = typ.element().unwrap_or(ScalarType::Int32);
            Datum::Vector(
                t.split_whitespace()
                    .map(|e| parse(e, element))
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

/// `bytea`'s output in Postgres' default `bytea_output = hex`: `\x` and two digits a byte.
pub fn format_bytea(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("\\x");
    for byte in b {
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 15) as usize] as char);
    }
    s
}

/// Why text is not a `bytea`: Postgres reports bad hex as 22023 with what is wrong, and a bad
/// escape as plain invalid syntax (22P02).
#[derive(Debug, Clone, PartialEq)]
pub enum BadBytea {
    Hex(String),
    Escape,
}

/// `bytea`'s input: the hex form (`\\x` then pairs of hex digits, whitespace between pairs) or
/// the escape form (bytes as they are, `\\\\` for a backslash, `\\nnn` octal for any byte).
pub fn parse_bytea(text: &str) -> Result<Vec<u8>, BadBytea> {
    if let Some(hex) = text.strip_prefix("\\x") {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let mut digits = hex.chars().filter(|c| !c.is_ascii_whitespace());
        let digit = |c: char| {
            c.to_digit(16)
                .ok_or_else(|| BadBytea::Hex(format!("invalid hexadecimal digit: \"{c}\"")))
        };
        while let Some(hi) = digits.next() {
            let hi = digit(hi)?;
            let lo = digits.next().ok_or_else(|| {
                BadBytea::Hex("invalid hexadecimal data: odd number of digits".into())
            })?;
            out.push((hi * 16 + digit(lo)?) as u8);
        }
        return Ok(out);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let oct = bytes.get(i + 1..i + 4).ok_or(BadBytea::Escape)?;
            if oct[0] > b'3' || !oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                return Err(BadBytea::Escape);
            }
            out.push(oct.iter().fold(0u8, |acc, c| acc * 8 + (c - b'0')));
            i += 4;
        }
    }
    Ok(out)
}

/// Parses an integer; `Err(true)` means out of range, `Err(false)` bad syntax.
fn parse_int(t: &str) -> Result<i64, bool> {
    if t.is_empty()
        || !t
            .trim_start_matches(['-', '+'])
            .chars()
            .all(|c| c.is_ascii_digit())
    {
        return Err(false);
    }
    t.parse::<i64>().map_err(|_| true)
}

fn parse_float(t: &str) -> Option<f64> {
    match t.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" | "+infinity" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        s => s.parse::<f64>().ok(),
    }
}

fn parse_date(t: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()
}

/// Parses `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][+HH[:MM]|Z]`, returning the offset in seconds.
fn parse_timestamp(t: &str) -> Option<(NaiveDateTime, Option<i32>)> {
    if let Some(d) = parse_date(t) {
        return Some((d.and_hms_opt(0, 0, 0)?, None));
    }
    let (date, rest) = t.split_at(t.find([' ', 'T'])?);
    let date = parse_date(date)?;
    let rest = rest[1..].trim();
    let (time, offset) = split_offset(rest)?;
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
        .ok()?;
    Some((date.and_time(time), offset))
}

fn split_offset(s: &str) -> Option<(&str, Option<i32>)> {
    if let Some(stripped) = s.strip_suffix(['Z', 'z']) {
        return Some((stripped.trim(), Some(0)));
    }
    if let Some(stripped) = s.strip_suffix(" UTC").or_else(|| s.strip_suffix(" utc")) {
        return Some((stripped.trim(), Some(0)));
    }
    match s.rfind(['+', '-']) {
        Some(pos) if pos > 0 => {
            let (time, off) = s.split_at(pos);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let digits = &off[1..];
            let (h, m) = match digits.split_once(':') {
                Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
                None if digits.len() == 4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
                None => (digits.parse().ok()?, 0),
            };
            Some((time.trim(), Some(sign * (h * 3600 + m * 60))))
        }
        _ => Some((s, None)),
    }
}

/// Parses Postgres interval input: `1 day 02:00:00`, `5 minutes`, `1 year 2 mons`, `-3 hours`,
/// `00:01:30`, and ISO-ish unit words in singular, plural or abbreviated form.
pub fn parse_interval(t: &str) -> Option<Interval> {
    let mut iv = Interval::default();
    let tokens: Vec<&str> = t.split_whitespace().collect();
    if tokens.is_empty() {
        return None;
    }
    let mut i = 0;
    while i < tokens.len() {
        let tok = tokens[i];
        if tok.contains(':') {
            let neg = tok.starts_with('-');
            let parts: Vec<&str> = tok.trim_start_matches(['-', '+']).split(':').collect();
            let h: i64 = parts.first()?.parse().ok()?;
            let m: i64 = parts.get(1).map_or(Some(0), |p| p.parse().ok())?;
            let s: f64 = parts.get(2).map_or(Some(0.0), |p| p.parse().ok())?;
            let micros = h * 3_600_000_000 + m * 60_000_000 + (s * 1e6).round() as i64;
            iv.micros += if neg { -micros } else { micros };
            i += 1;
            continue;
        }
        // A number, optionally glued to its unit (`5min`).
        let split = tok
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(tok.len());
        let num: f64 = tok[..split].parse().ok()?;
        let unit = if split < tok.len() {
            tok[split..].to_string()
        } else {
            i += 1;
            tokens
                .get(i)
                .map(|u| u.to_ascii_lowercase())
                .unwrap_or_else(|| "second".into())
        };
        let unit = unit.to_ascii_lowercase();
        let unit = unit.trim_end_matches(',');
        match unit {
            "year" | "years" | "y" | "yr" | "yrs" => iv.months += (num * 12.0) as i32,
            "month" | "months" | "mon" | "mons" => iv.months += num as i32,
            "week" | "weeks" | "w" => iv.days += (num * 7.0) as i32,
            "day" | "days" | "d" => iv.days += num as i32,
            "hour" | "hours" | "h" | "hr" | "hrs" => iv.micros += (num * 3.6e9) as i64,
            "minute" | "minutes" | "m" | "min" | "mins" => iv.micros += (num * 6e7) as i64,
            "second" | "seconds" | "s" | "sec" | "secs" => iv.micros += (num * 1e6) as i64,
            "millisecond" | "milliseconds" | "ms" => iv.micros += (num * 1e3) as i64,
            "microsecond" | "microseconds" | "us" => iv.micros += num as i64,
            _ => return None,
        }
        i += 1;
    }
    Some(iv)
}

/// Converts a timestamp with time zone to Postgres' epoch-based micros (for binary format).
pub fn tz_to_naive(ts: &DateTime<Utc>) -> NaiveDateTime {
    ts.naive_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(format(&Datum::f64(1.5)).unwrap(), "1.5");
        assert_eq!(format(&Datum::f64(1e20)).unwrap(), "1e+20");
        assert_eq!(format(&Datum::f64(0.0001)).unwrap(), "0.0001");
        assert_eq!(format(&Datum::f64(0.00001)).unwrap(), "1e-05");
        assert_eq!(format(&Datum::f64(100.0)).unwrap(), "100");
        assert_eq!(format(&Datum::f32(0.1)).unwrap(), "0.1");
    }

    #[test]
    fn intervals_round_trip() {
        let iv = parse_interval("1 day 02:03:04.5").unwrap();
        assert_eq!(format(&Datum::Interval(iv)).unwrap(), "1 day 02:03:04.5");
        let iv = parse_interval("5 minutes").unwrap();
        assert_eq!(format(&Datum::Interval(iv)).unwrap(), "00:05:00");
        let iv = parse_interval("1 year 2 mons").unwrap();
        assert_eq!(format(&Datum::Interval(iv)).unwrap(), "1 year 2 mons");
    }

    #[test]
    fn timestamps_parse_with_offsets() {
        let d = parse("2024-01-02 03:04:05+02", ScalarType::TimestampTz).unwrap();
        assert_eq!(format(&d).unwrap(), "2024-01-02 01:04:05+00");
        let d = parse("2024-01-02T03:04:05.25", ScalarType::Timestamp).unwrap();
        assert_eq!(format(&d).unwrap(), "2024-01-02 03:04:05.25");
        assert!(parse("nope", ScalarType::Date).is_err());
    }

    #[test]
    fn bytea_reads_both_forms_and_prints_hex() {
        let d = parse("\\x DE a", ScalarType::Bytea).unwrap_err();
        assert!(!d.out_of_range, "an odd digit count is bad syntax");
        let d = parse("\\xDEad\tbeef", ScalarType::Bytea).unwrap();
        assert_eq!(d, Datum::Bytes(vec![0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(format(&d).unwrap(), "\\xdeadbeef");
        let d = parse("a\\\\b\\001\\377", ScalarType::Bytea).unwrap();
        assert_eq!(d, Datum::Bytes(vec![b'a', b'\\', b'b', 1, 255]));
        assert!(parse("bad\\9", ScalarType::Bytea).is_err());
        assert!(parse("\\x0g", ScalarType::Bytea).is_err());
    }

    #[test]
    fn integers_check_range() {
        assert_eq!(parse(" 42 ", ScalarType::Int32).unwrap(), Datum::Int32(42));
        assert!(
            parse("99999999999", ScalarType::Int32)
                .unwrap_err()
                .out_of_range
        );
        assert!(!parse("4x", ScalarType::Int32).unwrap_err().out_of_range);
    }
}
