//! Manifests: what a package archive or a bundle declares about its content.
//!
//! A manifest is written by the tool that made the archive (pkg-build,
//! pkg-bundle) and read by the one that extracts it (host-extract): the
//! declared file count and byte total are hard limits during extraction, and
//! the tree hash verifies a package already present on a host without
//! downloading it again.

use serde::{Deserialize, Serialize};

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

/// The bootstrap id of a set of packages: the first 40 hex digits of blake3
/// over the canonical JSON of the sorted id list. Order-independent.
pub fn bootstrap_id(ids: &[PackageId]) -> String {
    let mut sorted: Vec<String> = ids.iter().map(ToString::to_string).collect();
    sorted.sort();
    sorted.dedup();
    crate::content_hash(&serde_json::json!(sorted))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
