//! CBOR reading for foreign credentials: one item with nothing after it, and a strict mapping
//! of the DCC payload to JSON (the schema is JSON Schema, the report prints JSON).

use ciborium::value::Value;

/// Reads exactly one CBOR item; trailing bytes are an error, so what was signed is all there is.
/// ciborium caps nesting depth and grows buffers with the data actually read, so a hostile
/// length field cannot allocate more than the input holds.
pub fn read_one(bytes: &[u8]) -> Result<Value, String> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader(&mut rest).map_err(|e| e.to_string())?;
    if rest.is_empty() { Ok(value) } else { Err(format!("{} bytes after the CBOR item", rest.len())) }
}

/// The map entry under integer key `key`; a repeated key is an error (a verifier and an issuer
/// could otherwise read different values from the same bytes).
pub fn map_get(map: &[(Value, Value)], key: i64) -> Result<Option<&Value>, String> {
    let mut found = None;
    for (k, v) in map {
        if k.as_integer().and_then(|i| i64::try_from(i).ok()) == Some(key) {
            if found.is_some() {
                return Err(format!("key {key} appears twice"));
            }
            found = Some(v);
        }
    }
    Ok(found)
}

/// CBOR → JSON for the DCC payload. Text keys only, no duplicates, no byte strings; the date
/// tags 0 (RFC 3339 text), 1 (epoch seconds) and 1004 (full-date text) become their content.
pub fn to_json(value: &Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Integer(i) => {
            let i = i128::from(*i);
            if let Ok(n) = i64::try_from(i) {
                J::from(n)
            } else if let Ok(n) = u64::try_from(i) {
                J::from(n)
            } else {
                return Err("integer out of range".into());
            }
        }
        Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).ok_or("non-finite float")?,
        Value::Text(s) => J::String(s.clone()),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(entries) => {
            let mut out = serde_json::Map::new();
            for (k, v) in entries {
                let Value::Text(key) = k else { return Err("a map key is not text".into()) };
                if out.insert(key.clone(), to_json(v)?).is_some() {
                    return Err(format!("key {key:?} appears twice"));
                }
            }
            J::Object(out)
        }
        Value::Tag(0 | 1004, inner) if inner.is_text() => to_json(inner)?,
        Value::Tag(1, inner) if inner.is_integer() || inner.is_float() => to_json(inner)?,
        Value::Tag(tag, _) => return Err(format!("unexpected CBOR tag {tag}")),
        Value::Bytes(_) => return Err("byte string where JSON has none".into()),
        _ => return Err("unsupported CBOR value".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cbor(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).unwrap();
        out
    }

    #[test]
    fn one_item_only() {
        let mut bytes = cbor(&Value::Integer(1.into()));
        assert!(read_one(&bytes).is_ok());
        bytes.push(0);
        assert!(read_one(&bytes).is_err());
        assert!(read_one(&[]).is_err());
        // A byte string claiming 2^63 bytes, and an array claiming 2^32 items: no allocation spike.
        assert!(read_one(&[0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]).is_err());
        assert!(read_one(&[0x9a, 0xff, 0xff, 0xff, 0xff, 0x00]).is_err());
        // Deep nesting is refused, not a stack overflow.
        assert!(read_one(&vec![0x81; 100_000]).is_err());
    }

    #[test]
    fn json_mapping_is_strict() {
        let map = Value::Map(vec![
            (Value::Text("a".into()), Value::Integer(2.into())),
            (Value::Text("d".into()), Value::Tag(0, Box::new(Value::Text("2021-05-01T00:00:00Z".into())))),
        ]);
        assert_eq!(to_json(&map).unwrap(), serde_json::json!({"a": 2, "d": "2021-05-01T00:00:00Z"}));
        let dup =
            Value::Map(vec![(Value::Text("a".into()), Value::Null), (Value::Text("a".into()), Value::Bool(true))]);
        assert!(to_json(&dup).is_err());
        assert!(to_json(&Value::Map(vec![(Value::Integer(1.into()), Value::Null)])).is_err());
        assert!(to_json(&Value::Bytes(vec![1])).is_err());
        assert!(to_json(&Value::Float(f64::NAN)).is_err());
        assert!(to_json(&Value::Tag(99, Box::new(Value::Null))).is_err());
        let twice = [(Value::Integer(1.into()), Value::Null), (Value::Integer(1.into()), Value::Null)];
        assert!(map_get(&twice, 1).is_err());
        assert_eq!(map_get(&twice, 2).unwrap(), None);
    }
}
