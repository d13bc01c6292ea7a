//! Manifests: what a package archive or a bundle declares about its content.
//!
//! A manifest is written by the tool that made the archive (pkg-build,
//! pkg-bundle) and read by the one that extracts it (host-extract): the
//! declared file count and byte total are hard limits during extraction, and
//! the tree hash verifies a package already present on a host without
//! downloading it again.

use serde::{Deserialize, Serialize};

use serde_json::Value;

use crate::error::ModelError;
use crate::PackageId;

/// The current `format` of [`PackageManifest`] and [`BundleManifest`].
pub const MANIFEST_FORMAT: u32 = 1;

/// `<id>.json` beside `<id>.tar.zst`, and one entry per package in `bundle.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageManifest {
    pub id: PackageId,
    /// 64 hex digits of the archive crate's tree hash of the package contents.
    pub tree_hash: String,
    /// Entries in the package (files, directories and symlinks).
    pub files: u64,
    /// Sum of regular file sizes.
    pub bytes: u64,
}

/// `bundle.json`, the first entry of `<bootstrap_id>.bootstrap.tar.zst`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleManifest {
    pub format: u32,
    /// 40 hex of blake3 over the sorted id list, see [`bootstrap_id`].
    pub bootstrap_id: String,
    /// Sorted by id.
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

    /// Parses `bundle.json` and checks its format, that packages are sorted
    /// and unique, and that its bootstrap id matches its packages.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<BundleManifest, ModelError> {
        let manifest: BundleManifest = from_bytes(file, bytes)?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(ModelError::Invalid {
                file: file.to_string(),
                key: "format".to_string(),
                value: manifest.format.to_string(),
                reason: format!("unsupported manifest format (this tool reads {MANIFEST_FORMAT})"),
            });
        }
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

/// The bootstrap id of a set of packages: the first 40 hex digits of blake3
/// over the canonical JSON of the sorted id list. Order-independent.
pub fn bootstrap_id(ids: &[PackageId]) -> String {
    let mut sorted: Vec<String> = ids.iter().map(ToString::to_string).collect();
    sorted.sort();
    sorted.dedup();
    crate::content_hash(&serde_json::json!(sorted))
}

fn from_bytes<T: serde::de::DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T, ModelError> {
    serde_json::from_slice(bytes).map_err(|e| ModelError::Json {
        file: file.to_string(),
        value: e.to_string(),
    })
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
            id: PackageId::parse(id).unwrap(),
            tree_hash: "ab12".into(),
            files: 3,
            bytes: 10,
        }
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

        let mut unsorted = bundle.to_json();
        unsorted["packages"].as_array_mut().unwrap().reverse();
        let err =
            BundleManifest::parse("bundle.json", unsorted.to_string().as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("packages[1].id: \"a--1\""),
            "{err}"
        );

        let mut future = bundle.to_json();
        future["format"] = Value::from(2);
        let err = BundleManifest::parse("bundle.json", future.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("bundle.json: format: 2"), "{err}");
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
        bad["tree_hash"] = Value::from("XYZ");
        let err = PackageManifest::parse("a--1.json", bad.to_string().as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("a--1.json: tree_hash: \"XYZ\""),
            "{err}"
        );
        let mut bad = good.to_json();
        bad["extra"] = Value::from(1);
        let err = PackageManifest::parse("a--1.json", bad.to_string().as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("a--1.json") && err.to_string().contains("extra"),
            "{err}"
        );
    }

    #[test]
    fn bootstrap_id_ignores_order() {
        let a = PackageId::parse("a--1").unwrap();
        let b = PackageId::parse("b--2").unwrap();
        assert_eq!(
            bootstrap_id(&[a.clone(), b.clone()]),
            bootstrap_id(&[b, a.clone()])
        );
        assert_ne!(bootstrap_id(std::slice::from_ref(&a)), bootstrap_id(&[]));
        assert_eq!(bootstrap_id(&[a]).len(), 40);
    }
}
