//! Record values to rows.

use crate::parse::SourceFormat;
use crate::repr::{strconv, Datum, RelationDesc, Row, ScalarType};

/// Decodes one record's value into a row of `desc`, or says why it cannot.
pub fn decode(
    format: SourceFormat,
    desc: &RelationDesc,
    value: Option<&[u8]>,
) -> Result<Row, String> {
    match format {
        SourceFormat::Json => json(desc, value),
    }
}

/// JSON: with a single `jsonb` column the whole value is the row; otherwise the value is an
/// object and each column takes the field of its name (matched without regard to case, as
/// ksqlDB does), NULL when absent.
fn json(desc: &RelationDesc, value: Option<&[u8]>) -> Result<Row, String> {
    let value = value.ok_or("the record has no value")?;
    let v: serde_json::Value =
        serde_json::from_slice(value).map_err(|e| format!("invalid JSON: {e}"))?;
    if let [t] = &desc.types[..] {
        if t.scalar == ScalarType::Jsonb && desc.names[0] == "data" {
            return Ok(vec![Datum::Jsonb(v.to_string())]);
        }
    }
    let serde_json::Value::Object(fields) = v else {
        return Err("expected a JSON object".into());
    };
    desc.names
        .iter()
        .zip(&desc.types)
        .map(|(name, typ)| {
            let field = fields.get(name).or_else(|| {
                fields
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            });
            let datum = match field {
                None | Some(serde_json::Value::Null) => Datum::Null,
                Some(v) => {
                    json_datum(v, typ.scalar).map_err(|e| format!("field \"{name}\": {e}"))?
                }
            };
            if datum.is_null() && !typ.nullable {
                return Err(format!(
                    "field \"{name}\" is missing or null, but the column is NOT NULL"
                ));
            }
            Ok(datum)
        })
        .collect()
}

fn json_datum(v: &serde_json::Value, typ: ScalarType) -> Result<Datum, String> {
    match (v, typ) {
        (_, ScalarType::Jsonb) => Ok(Datum::Jsonb(v.to_string())),
        (serde_json::Value::String(s), _) => strconv::parse(s, typ).map_err(|e| e.to_string()),
        (serde_json::Value::Number(_) | serde_json::Value::Bool(_), _) => {
            strconv::parse(&v.to_string(), typ).map_err(|e| e.to_string())
        }
        (_, ScalarType::Text) => Ok(Datum::String(v.to_string())),
        _ => Err(format!("cannot read {v} as {}", typ.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::ColumnType;

    #[test]
    fn json_objects_fill_columns_by_name() {
        let desc = RelationDesc::new(
            vec!["id".into(), "stars".into(), "channel".into()],
            vec![
                ColumnType::new(ScalarType::Int64, false),
                ColumnType::new(ScalarType::Int32, true),
                ColumnType::new(ScalarType::Text, true),
            ],
        );
        let row = decode(
            SourceFormat::Json,
            &desc,
            Some(br#"{"ID": 7, "stars": "3", "extra": true}"#),
        )
        .unwrap();
        assert_eq!(row, vec![Datum::Int64(7), Datum::Int32(3), Datum::Null]);
        for (bad, why) in [
            (&br#"{"id": "x"}"#[..], "field \"id\""),
            (b"{not json", "invalid JSON"),
            (b"[1]", "expected a JSON object"),
            (br#"{"stars": 1}"#, "NOT NULL"),
        ] {
            let e = decode(SourceFormat::Json, &desc, Some(bad)).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
        let whole = RelationDesc::new(
            vec!["data".into()],
            vec![ColumnType::new(ScalarType::Jsonb, false)],
        );
        assert_eq!(
            decode(SourceFormat::Json, &whole, Some(br#"{"a": [1, 2]}"#)).unwrap(),
            vec![Datum::Jsonb(r#"{"a":[1,2]}"#.into())]
        );
    }
}
