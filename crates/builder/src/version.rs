//! The package version: a content hash of every input of a build.
//!
//! version = first 40 hex of blake3 over the canonical JSON of
//! [`VersionInputs`] (docs/pkg-build.md). The invariant: two builds get the
//! same version if and only if they have the same inputs, so a version can be
//! computed (and a cached archive found) without building. Nothing absolute
//! (a path, a clock, a host name) may enter the inputs: the same package tree
//! moved to another directory or machine gives the same ids.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use tarmac_model::{content_hash, PackageId};

/// The builder identity that enters every version. Bump it when a change to
/// pkg-build changes what a build produces from the same inputs (sandbox
/// layout, pkginfo.json rules, archive format), so no stale cache is reused.
/// It is a hashed input, not the crate's name: the crate was renamed
/// tarmac-builder without changing a single package id.
pub const BUILDER: &str = "tarmac-build/1";

/// Everything a build depends on, as hashed. Field docs are the contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInputs {
    /// Always [`BUILDER`].
    pub builder: String,
    pub name: String,
    /// `null` for the default variant.
    pub variant: Option<String>,
    /// The parsed `buildinfo.json` (or `<variant>.buildinfo.json`), hashed
    /// canonically: whitespace and key order do not count, every value does.
    pub buildinfo: Value,
    /// blake3 hex of the build script's bytes (every byte counts, comments
    /// included); `null` when the package has no build script (then it can be
    /// planned, never built).
    pub build_script: Option<String>,
    /// Tree hash of the package's `extra/` directory, `null` if absent.
    pub extra: Option<String>,
    /// Per source name: what pins its content (`sha1`/`sha256` for url
    /// sources, `commit` for git, `commit` or `tree` for git_local).
    pub sources: BTreeMap<String, Value>,
    /// Ids of every package in the dependency closure, sorted.
    pub requires: Vec<String>,
}

impl VersionInputs {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The version string these inputs give.
    pub fn version(&self) -> String {
        content_hash(&self.to_json())
    }

    /// The package id these inputs give.
    pub fn package_id(&self) -> PackageId {
        // A content hash is 40 lowercase hex digits: always a valid version;
        // the name was validated when the tree was loaded.
        PackageId::new(&self.name, &self.version()).expect("validated name and hex version")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs() -> VersionInputs {
        VersionInputs {
            builder: BUILDER.to_string(),
            name: "hello".into(),
            variant: None,
            buildinfo: json!({"requires": ["lib"], "sources": {}}),
            build_script: Some(blake3::hash(b"#!/bin/sh\n").to_hex().to_string()),
            extra: None,
            sources: BTreeMap::new(),
            requires: vec!["lib--0123".into()],
        }
    }

    #[test]
    fn every_input_changes_the_version() {
        let base = inputs().version();
        assert_eq!(base.len(), 40);
        let mut changed = inputs();
        changed.build_script = Some(blake3::hash(b"#!/bin/sh\n# comment\n").to_hex().to_string());
        assert_ne!(changed.version(), base);
        let mut changed = inputs();
        changed.requires = vec!["lib--4567".into()];
        assert_ne!(changed.version(), base);
        let mut changed = inputs();
        changed.variant = Some("ee".into());
        assert_ne!(changed.version(), base);
        let mut changed = inputs();
        changed.extra = Some("ab".into());
        assert_ne!(changed.version(), base);
    }

    #[test]
    fn key_order_of_buildinfo_does_not_count() {
        let mut other = inputs();
        other.buildinfo = serde_json::from_str(r#"{"sources": {}, "requires": ["lib"]}"#).unwrap();
        assert_eq!(other.version(), inputs().version());
    }
}
