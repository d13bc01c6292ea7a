//! Manifests: what a package archive or a bundle declares about itself, so a
//! reader can bound extraction (bytes, file count) and verify the result
//! (tree hash) before trusting it.
//!
//! `PackageManifest` is the `<id>.json` sidecar beside a package archive and
//! one entry of `bundle.json`; `BundleManifest` is `bundle.json`, the first
//! entry of a bootstrap bundle. The bootstrap id depends only on the set of
//! package ids, never on their order.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::content_hash;
use crate::error::ModelError;
use crate::id::PackageId;

/// The `format` number written into every manifest. A reader refuses other
/// values rather than guess at a layout it does not know.
pub const MANIFEST_FORMAT: u32 = 1;

/// What one package archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageManifest {
    pub format: u32,
    pub id: PackageId,
    /// blake3 tree hash of the extracted contents (computed by `archive`).
    pub tree_hash: String,
    /// Number of entries (files, directories, symlinks) in the archive.
    pub files: u64,
    /// Total bytes of regular-file contents.
    pub bytes: u64,
}

/// `bundle.json`: the packages of a bootstrap bundle, sorted by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleManifest {
    pub format: u32,
    pub bootstrap_id: String,
    pub packages: Vec<PackageManifest>,
}

impl PackageManifest {
    /// Parses and checks a sidecar `<id>.json`.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<PackageManifest, ModelError> {
        let manifest: PackageManifest = from_bytes(file, bytes)?;
        manifest.check(file, "")?;
        Ok(manifest)
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn check(&self, file: &str, prefix: &str) -> Result<(), ModelError> {
        check_format(file, &format!("{prefix}format"), self.format)?;
        if !is_hex(&self.tree_hash) {
            return Err(ModelError::Invalid {
                file: file.to_string(),
                key: format!("{prefix}tree_hash"),
                value: Value::String(self.tree_hash.clone()).to_string(),
                reason: "expected lowercase hex".to_string(),
            });
        }
        Ok(())
    }
}

impl BundleManifest {
    /// Builds the manifest for a set of packages: sorted by id, with the
    /// bootstrap id computed from the ids.
    pub fn new(mut packages: Vec<PackageManifest>) -> BundleManifest {
        packages.sort_by(|a, b| a.id.cmp(&b.id));
        let ids: Vec<PackageId> = packages.iter().map(|p| p.id.clone()).collect();
        BundleManifest {
            format: MANIFEST_FORMAT,
            bootstrap_id: bootstrap_id(&ids),
            packages,
        }
    }

    /// Parses `bundle.json` and checks that its bootstrap id matches its
    /// packages and that no package appears twice.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<BundleManifest, ModelError> {
        let manifest: BundleManifest = from_bytes(file, bytes)?;
        check_format(file, "format", manifest.format)?;
        for (i, package) in manifest.packages.iter().enumerate() {
            package.check(file, &format!("packages[{i}]."))?;
            if i > 0 && manifest.packages[i - 1].id >= package.id {
                return Err(ModelError::Invalid {
                    file: file.to_string(),
                    key: format!("packages[{i}].id"),
                    value: Value::String(package.id.to_string()).to_string(),
                    reason: "packages must be sorted by id and unique".to_string(),
                });
            }
        }
        let ids: Vec<PackageId> = manifest.packages.iter().map(|p| p.id.clone()).collect();
        let expected = bootstrap_id(&ids);
        if manifest.bootstrap_id != expected {
            return Err(ModelError::Invalid {
                file: file.to_string(),
                key: "bootstrap_id".to_string(),
                value: Value::String(manifest.bootstrap_id.clone()).to_string(),
                reason: format!("does not match its packages (expected {expected})"),
            });
        }
        Ok(manifest)
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Sum of the declared content bytes of every package.
    pub fn total_bytes(&self) -> u64 {
        self.packages.iter().map(|p| p.bytes).sum()
    }

    /// Sum of the declared entry counts of every package.
    pub fn total_files(&self) -> u64 {
        self.packages.iter().map(|p| p.files).sum()
    }
}

/// The bootstrap id of a package set: 40 hex of blake3 over the canonical
/// JSON of the sorted, de-duplicated id list.
pub fn bootstrap_id(ids: &[PackageId]) -> String {
    let mut sorted: Vec<String> = ids.iter().map(PackageId::to_string).collect();
    sorted.sort();
    sorted.dedup();
    content_hash(&Value::from(sorted))
}

fn from_bytes<T: serde::de::DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T, ModelError> {
    serde_json::from_slice(bytes).map_err(|e| ModelError::Json {
        file: file.to_string(),
        value: e.to_string(),
    })
}

fn check_format(file: &str, key: &str, format: u32) -> Result<(), ModelError> {
    if format == MANIFEST_FORMAT {
        Ok(())
    } else {
        Err(ModelError::Invalid {
            file: file.to_string(),
            key: key.to_string(),
            value: format.to_string(),
            reason: format!("unsupported manifest format (this tool reads {MANIFEST_FORMAT})"),
        })
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(id: &str) -> PackageManifest {
        PackageManifest {
            format: MANIFEST_FORMAT,
            id: PackageId::parse(id).unwrap(),
            tree_hash: "ab12".into(),
            files: 3,
            bytes: 10,
        }
    }

    #[test]
    fn bootstrap_id_ignores_order() {
        let a = PackageId::parse("a--1").unwrap();
        let b = PackageId::parse("b--2").unwrap();
        assert_eq!(
            bootstrap_id(&[a.clone(), b.clone()]),
            bootstrap_id(&[b, a.clone()])
        );
        assert_ne!(bootstrap_id(&[a.clone()]), bootstrap_id(&[]));
        assert_eq!(bootstrap_id(&[a]).len(), 40);
    }

    #[test]
    fn bundle_round_trips_and_checks_its_id() {
        let bundle = BundleManifest::new(vec![package("b--2"), package("a--1")]);
        assert_eq!(bundle.packages[0].id.to_string(), "a--1");
        assert_eq!((bundle.total_bytes(), bundle.total_files()), (20, 6));
        let bytes = bundle.to_json().to_string();
        assert_eq!(
            BundleManifest::parse("bundle.json", bytes.as_bytes()).unwrap(),
            bundle
        );

        let mut forged = bundle.to_json();
        forged["bootstrap_id"] = Value::from("0".repeat(40));
        let err = BundleManifest::parse("bundle.json", forged.to_string().as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bundle.json: bootstrap_id: \"000"),
            "{err}"
        );
    }

    #[test]
    fn package_manifest_rejects_bad_values() {
        let good = package("a--1");
        let text = good.to_json().to_string();
        assert_eq!(
            PackageManifest::parse("a--1.json", text.as_bytes()).unwrap(),
            good
        );
        let mut bad = good.to_json();
        bad["format"] = Value::from(2);
        let err = PackageManifest::parse("a--1.json", bad.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("a--1.json: format: 2"), "{err}");
        let mut bad = good.to_json();
        bad["extra"] = Value::from(1);
        let err = PackageManifest::parse("a--1.json", bad.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }
}
