//! `bytea` functions: `encode`, `decode`, and the formats they name, as Postgres spells them.

use base64::Engine;

use super::error::EvalError;
use crate::repr::strconv;

/// Postgres wraps `encode(..., 'base64')` output at 76 characters, as MIME does.
const BASE64_LINE: usize = 76;

fn unknown_format(format: &str) -> EvalError {
    EvalError::InvalidParameter(format!("unrecognized encoding: \"{format}\""))
}

/// `encode(bytes, format)`: `hex`, `base64` or `escape`.
pub fn encode(bytes: &[u8], format: &str) -> Result<String, EvalError> {
    Ok(match format.to_ascii_lowercase().as_str() {
        "hex" => strconv::format_bytea(bytes)[2..].to_string(),
        "base64" => {
            let flat = base64::engine::general_purpose::STANDARD.encode(bytes);
            let lines: Vec<&str> = flat
                .as_bytes()
                .chunks(BASE64_LINE)
                .map(|l| std::str::from_utf8(l).expect("base64 is ASCII"))
                .collect();
            lines.join("\n")
        }
        "escape" => {
            let mut out = String::with_capacity(bytes.len());
            for &b in bytes {
                match b {
                    b'\\' => out.push_str("\\\\"),
                    0 | 0x80.. => out.push_str(&format!("\\{b:03o}")),
                    _ => out.push(b as char),
                }
            }
            out
        }
        _ => return Err(unknown_format(format)),
    })
}

/// `decode(text, format)`: the inverse of `encode`; whitespace between hex pairs and base64
/// groups is skipped, as Postgres does.
pub fn decode(text: &str, format: &str) -> Result<Vec<u8>, EvalError> {
    match format.to_ascii_lowercase().as_str() {
        "hex" => Ok(strconv::parse_bytea(&format!("\\x{text}"))?),
        "base64" => {
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|e| EvalError::InvalidParameter(format!("invalid base64 sequence: {e}")))
        }
        // A backslash escapes only a backslash or three octal digits, so `\\x` is no escape
        // text (parse_bytea would read it as the hex form).
        "escape" if !text.starts_with("\\x") => Ok(strconv::parse_bytea(text)?),
        "escape" => Err(strconv::BadBytea::Escape.into()),
        _ => Err(unknown_format(format)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_as_postgres_prints_them() {
        let bytes: Vec<u8> = (0..=255).collect();
        for format in ["hex", "base64", "escape"] {
            let text = encode(&bytes, format).unwrap();
            assert_eq!(decode(&text, format).unwrap(), bytes, "{format}");
        }
        assert_eq!(encode(b"\x01\xab", "hex").unwrap(), "01ab");
        assert_eq!(
            encode(b"a\\b\x00\xff", "escape").unwrap(),
            "a\\\\b\\000\\377"
        );
        assert_eq!(encode(&[0u8; 60], "base64").unwrap().lines().count(), 2);
        assert!(decode("zz", "hex").is_err());
        assert!(matches!(
            encode(b"", "rot13"),
            Err(EvalError::InvalidParameter(_))
        ));
    }
}
