//! The one error type of the model crate: a metadata file that is not valid.
//!
//! Every variant carries the file (as the caller named it), the key as a
//! JSON path (`sources.foo.sha1`, `requires[2].name`) and the offending value
//! rendered as compact JSON, so the message alone locates the problem.

use crate::ExitClass;

/// A metadata file (pkginfo, buildinfo, treeinfo, active list, manifest)
/// failed to parse or validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not JSON (or not UTF-8). `key` is empty; `value` is the
    /// parser's position and reason.
    #[error("{file}: not valid JSON: {value}")]
    Json { file: String, value: String },
    /// A key the format does not know (usually a typo).
    #[error("{file}: {key}: unknown key (value {value})")]
    UnknownKey {
        file: String,
        key: String,
        value: String,
    },
    /// A required key is absent; `value` is the object it is missing from.
    #[error("{file}: {key}: required key missing in {value}")]
    Missing {
        file: String,
        key: String,
        value: String,
    },
    /// A value of the wrong JSON type.
    #[error("{file}: {key}: expected {expected}, got {value}")]
    Type {
        file: String,
        key: String,
        expected: &'static str,
        value: String,
    },
    /// A value of the right type that breaks a rule (pattern, reserved name,
    /// combination of keys).
    #[error("{file}: {key}: {value}: {reason}")]
    Invalid {
        file: String,
        key: String,
        value: String,
        reason: String,
    },
}

impl ModelError {
    /// Every model error is invalid input (exit 3).
    pub fn class(&self) -> ExitClass {
        match self {
            ModelError::Json { .. }
            | ModelError::UnknownKey { .. }
            | ModelError::Missing { .. }
            | ModelError::Type { .. }
            | ModelError::Invalid { .. } => ExitClass::Invalid,
        }
    }

    /// The file the error is about, as the caller named it.
    pub fn file(&self) -> &str {
        match self {
            ModelError::Json { file, .. }
            | ModelError::UnknownKey { file, .. }
            | ModelError::Missing { file, .. }
            | ModelError::Type { file, .. }
            | ModelError::Invalid { file, .. } => file,
        }
    }
}

/// Renders a JSON value for an error message: compact, and cut after 120
/// characters so a huge object cannot flood the one-line message.
pub(crate) fn show(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 120 {
        return text;
    }
    let cut: String = text.chars().take(117).collect();
    format!("{cut}...")
}
