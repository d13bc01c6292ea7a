//! A reader over parsed JSON that knows which file and key path it is at, so
//! every rejection names file, key and value without repeating that logic in
//! each format.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{show, ModelError};

/// Parses metadata bytes. Blank input counts as `{}` (pkgpanda's
/// `load_optional_json`); anything else must be JSON.
pub(crate) fn parse_bytes(
    file: &str,
    bytes: &[u8],
    blank_is_empty: bool,
) -> Result<Value, ModelError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ModelError::Json {
        file: file.to_string(),
        value: format!("not UTF-8: {e}"),
    })?;
    if blank_is_empty && text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = StrictSeed {
        path: String::new(),
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value))
    .map_err(|e| ModelError::Json {
        file: file.to_string(),
        value: e.to_string(),
    })?;
    Ok(value)
}

/// Builds a `Value` like serde_json does, but refuses a key that appears
/// twice in one object: serde_json (and Python's `json`) silently keep the
/// last one, which would hide, say, a repeated environment variable.
struct StrictSeed {
    path: String,
}

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictSeed {
            path: format!("{}[{}]", self.path, items.len()),
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let path = join(&self.path, &key);
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {path}")));
            }
            let value = access.next_value_seed(StrictSeed { path })?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// Joins a key onto a JSON path: `a` + `b` = `a.b`, root + `b` = `b`.
/// Control characters in the key are escaped (`\n`, `\u{1}`): the path
/// goes into a one-line error message, and a key read from a hostile file
/// must not add lines to it (found by crates/model/tests/fuzz.rs).
pub(crate) fn join(path: &str, key: &str) -> String {
    let mut out = String::with_capacity(path.len() + key.len() + 1);
    if !path.is_empty() {
        out.push_str(path);
        out.push('.');
    }
    for c in key.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Where a value sits: the file and its key path.
#[derive(Clone, Copy)]
pub(crate) struct At<'a> {
    pub file: &'a str,
    pub path: &'a str,
}

impl At<'_> {
    pub fn type_error(&self, expected: &'static str, value: &Value) -> ModelError {
        ModelError::Type {
            file: self.file.to_string(),
            key: self.path.to_string(),
            expected,
            value: show(value),
        }
    }

    pub fn invalid(&self, value: &Value, reason: impl Into<String>) -> ModelError {
        ModelError::Invalid {
            file: self.file.to_string(),
            key: self.path.to_string(),
            value: show(value),
            reason: reason.into(),
        }
    }

    pub fn string(&self, value: &Value) -> Result<String, ModelError> {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.type_error("a string", value))
    }

    pub fn bool(&self, value: &Value) -> Result<bool, ModelError> {
        value
            .as_bool()
            .ok_or_else(|| self.type_error("true or false", value))
    }

    pub fn array<'v>(&self, value: &'v Value) -> Result<&'v Vec<Value>, ModelError> {
        value
            .as_array()
            .ok_or_else(|| self.type_error("an array", value))
    }

    pub fn object<'v>(&self, value: &'v Value) -> Result<Object<'v>, ModelError> {
        let map = value
            .as_object()
            .ok_or_else(|| self.type_error("an object", value))?;
        Ok(Object {
            file: self.file.to_string(),
            path: self.path.to_string(),
            map,
        })
    }
}

/// A JSON object being read: looks keys up and rejects the ones not allowed.
pub(crate) struct Object<'v> {
    pub file: String,
    pub path: String,
    pub map: &'v Map<String, Value>,
}

impl<'v> Object<'v> {
    pub fn root(file: &str, value: &'v Value) -> Result<Self, ModelError> {
        At { file, path: "" }.object(value).map_err(|e| match e {
            ModelError::Type {
                file,
                expected,
                value,
                ..
            } => ModelError::Type {
                file,
                key: "(top level)".to_string(),
                expected,
                value,
            },
            other => other,
        })
    }

    /// Fails on the first key (in file order) that is not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ModelError> {
        for (key, value) in self.map {
            if !allowed.contains(&key.as_str()) {
                return Err(ModelError::UnknownKey {
                    file: self.file.clone(),
                    key: join(&self.path, key),
                    value: show(value),
                });
            }
        }
        Ok(())
    }

    pub fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of `key`. A JSON `null` is a value like any other, so
    /// `"username": null` is a type error, as pkgpanda's builder makes it.
    pub fn get(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key)
    }

    pub fn require(&self, key: &str) -> Result<&'v Value, ModelError> {
        self.get(key).ok_or_else(|| ModelError::Missing {
            file: self.file.clone(),
            key: self.key_path(key),
            value: show(&Value::Object(self.map.clone())),
        })
    }

    /// Runs `f` on the value of `key` with its path, if present.
    pub fn with<T>(
        &self,
        key: &str,
        f: impl FnOnce(At<'_>, &'v Value) -> Result<T, ModelError>,
    ) -> Result<Option<T>, ModelError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => {
                let path = self.key_path(key);
                f(
                    At {
                        file: &self.file,
                        path: &path,
                    },
                    value,
                )
                .map(Some)
            }
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ModelError> {
        self.with(key, |at, v| at.bool(v))
    }

    /// The nested object at `key`, if present.
    pub fn object(&self, key: &str) -> Result<Option<Object<'v>>, ModelError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => {
                let path = self.key_path(key);
                At {
                    file: &self.file,
                    path: &path,
                }
                .object(value)
                .map(Some)
            }
        }
    }
}
