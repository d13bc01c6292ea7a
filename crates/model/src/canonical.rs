//! Canonical JSON: the one serialization used for every content hash.
//!
//! Object keys are sorted (by UTF-8 bytes), no whitespace is emitted, and
//! strings use serde_json's escaping. Two values that are equal as JSON give
//! the same bytes, whatever order their keys were written in.

use serde_json::Value;

/// Serializes `value` canonically (sorted keys, no whitespace).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// First 40 hex digits of blake3 over the canonical JSON of `value`: the
/// form of every content-addressed version and id in tarmac.
pub fn content_hash(value: &Value) -> String {
    let hash = blake3::hash(canonical_json(value).as_bytes());
    hash.to_hex()[..40].to_string()
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_value(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_bytes() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,2],"x":"s"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(content_hash(&a), content_hash(&b));
    }

    #[test]
    fn hash_is_pinned() {
        // A changed value here means every package version changes: a format change.
        assert_eq!(content_hash(&json!({"a": 1})).len(), 40);
        assert_eq!(
            content_hash(&json!({"a": 1})),
            blake3::hash(br#"{"a":1}"#).to_hex()[..40].to_string()
        );
    }
}
