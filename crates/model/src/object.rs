//! A reader over parsed JSON that knows which file and key path it is at, so
//! every rejection names file, key and value without repeating that logic in
//! each format.

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
    serde_json::from_str(text).map_err(|e| ModelError::Json {
        file: file.to_string(),
        value: e.to_string(),
    })
}

/// Joins a key onto a JSON path: `a` + `b` = `a.b`, root + `b` = `b`.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
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

    /// A list of strings.
    #[allow(dead_code)] // used by buildinfo (next)
    pub fn strings(&self, value: &Value) -> Result<Vec<String>, ModelError> {
        let items = self.array(value)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", self.path);
            out.push(
                At {
                    file: self.file,
                    path: &path,
                }
                .string(item)?,
            );
        }
        Ok(out)
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

    /// The value of `key`, with a JSON `null` treated as absent (Python's
    /// `dict.get` gives `None` for both).
    pub fn get(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
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

    #[allow(dead_code)] // used by buildinfo (next)
    pub fn string(&self, key: &str) -> Result<Option<String>, ModelError> {
        self.with(key, |at, v| at.string(v))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ModelError> {
        self.with(key, |at, v| at.bool(v))
    }

    #[allow(dead_code)] // used by buildinfo (next)
    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ModelError> {
        self.with(key, |at, v| at.strings(v))
    }

    /// The nested object at `key`, if present.
    #[allow(dead_code)] // used by buildinfo (next)
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
