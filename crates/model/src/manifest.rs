//! Manifests: what a package archive or a bundle declares about its content.
//!
//! A manifest is written by the tool that made the archive (pkg-build,
//! pkg-bundle) and read by the one that extracts it (host-extract): the
//! declared file count and byte total are hard limits during extraction, and
//! the tree hash verifies a package already present on a host without
//! downloading it again.
//!
//! Parsing reads through the same strict reader as the other formats
//! (duplicate and unknown keys refused), so every error names the key path
//! (`packages[2].files`); serde's derived `Deserialize` is kept for callers
//! that embed a manifest in their own types, but does not check as much.

use serde::{Deserialize, Serialize};

use serde_json::Value;

use crate::error::ModelError;
use crate::object::{parse_bytes, At, Object};
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
        let value = parse_bytes(file, bytes, false)?;
        PackageManifest::read(&Object::root(file, &value)?)
    }

    /// Reads one manifest object (a sidecar, or an entry of `bundle.json`).
    fn read(object: &Object<'_>) -> Result<PackageManifest, ModelError> {
        object.only(&["id", "tree_hash", "files", "bytes"])?;
        let id = read_key(object, "id", |at, v| {
            let text = at.string(v)?;
            PackageId::parse(&text).map_err(|e| at.invalid(v, e.to_string()))
        })?;
        let tree_hash = read_key(object, "tree_hash", |at, v| {
            let hash = at.string(v)?;
            if !is_hex(&hash) {
                return Err(at.invalid(v, "expected lowercase hex"));
            }
            Ok(hash)
        })?;
        let files = read_key(object, "files", count)?;
        let bytes = read_key(object, "bytes", count)?;
        Ok(PackageManifest {
            id,
            tree_hash,
            files,
            bytes,
        })
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
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
        let value = parse_bytes(file, bytes, false)?;
        let root = Object::root(file, &value)?;
        root.only(&["format", "bootstrap_id", "packages"])?;
        let format = read_key(&root, "format", |at, v| {
            let format = v.as_u64().ok_or_else(|| at.type_error("an integer", v))?;
            if format != u64::from(MANIFEST_FORMAT) {
                return Err(at.invalid(
                    v,
                    format!("unsupported manifest format (this tool reads {MANIFEST_FORMAT})"),
                ));
            }
            Ok(MANIFEST_FORMAT)
        })?;
        let declared_id = read_key(&root, "bootstrap_id", |at, v| at.string(v))?;
        let packages = read_key(&root, "packages", |at, v| {
            let items = at.array(v)?;
            let mut packages: Vec<PackageManifest> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let path = format!("{}[{i}]", at.path);
                let item_at = At {
                    file: at.file,
                    path: &path,
                };
                let package = PackageManifest::read(&item_at.object(item)?)?;
                if packages.last().is_some_and(|last| last.id >= package.id) {
                    let id_path = format!("{path}.id");
                    return Err(At {
                        file: at.file,
                        path: &id_path,
                    }
                    .invalid(
                        &Value::String(package.id.to_string()),
                        "packages must be sorted by id and unique",
                    ));
                }
                packages.push(package);
            }
            Ok(packages)
        })?;
        let ids: Vec<PackageId> = packages.iter().map(|p| p.id.clone()).collect();
        let expected = bootstrap_id(&ids);
        if declared_id != expected {
            return Err(ModelError::Invalid {
                file: file.to_string(),
                key: "bootstrap_id".to_string(),
                value: Value::String(declared_id).to_string(),
                reason: format!("does not match its packages (expected {expected})"),
            });
        }
        Ok(BundleManifest {
            format,
            bootstrap_id: declared_id,
            packages,
        })
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

/// The current `format` of [`DeltaIndex`].
pub const DELTA_FORMAT: u32 = 1;

/// `<id>.deltas.json` beside `<id>.json` in a serve tree (cfg-gen
/// `--upgrade-from`): the deltas a host holding an older version of the
/// package can fetch instead of the archive. A file of its own, not a key
/// of `<id>.json`: every deployed reader refuses unknown keys in a
/// manifest, so extending it would break them; this file is only read by
/// a host-extract that knows deltas, and a host without it (a 404) simply
/// fetches the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaIndex {
    pub format: u32,
    /// The package the deltas produce.
    pub id: PackageId,
    /// Bytes of the new package's canonical tar stream (what a delta decodes to).
    pub tar_bytes: u64,
    /// Sorted by base id; empty when no delta was worth writing.
    pub deltas: Vec<DeltaRecord>,
}

/// One delta: `<id>.from-<base>.delta`, a zstd frame whose reference is the
/// canonical tar stream of `base` (docs/archive-format.md § Deltas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaRecord {
    pub base: PackageId,
    /// Size of the delta file.
    pub bytes: u64,
    /// 64 hex of blake3 over the delta file.
    pub blake3: String,
    /// Bytes of the base's canonical tar stream.
    pub base_tar_bytes: u64,
    /// 64 hex of blake3 over the base's canonical tar stream: a host checks
    /// the stream it regenerated before decoding against it.
    pub base_tar_blake3: String,
    /// The zstd window the frame declares (bytes): a declared limit,
    /// checked by a host before it decodes anything.
    pub window: u64,
}

impl DeltaIndex {
    /// Parses and checks `<id>.deltas.json`: format, ids of the same
    /// package name, hex digests, bases sorted and unique.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<DeltaIndex, ModelError> {
        let value = parse_bytes(file, bytes, false)?;
        let root = Object::root(file, &value)?;
        root.only(&["format", "id", "tar_bytes", "deltas"])?;
        let format = read_key(&root, "format", |at, v| {
            let format = v.as_u64().ok_or_else(|| at.type_error("an integer", v))?;
            if format != u64::from(DELTA_FORMAT) {
                return Err(at.invalid(
                    v,
                    format!("unsupported delta index format (this tool reads {DELTA_FORMAT})"),
                ));
            }
            Ok(DELTA_FORMAT)
        })?;
        let id = read_key(&root, "id", package_id)?;
        let tar_bytes = read_key(&root, "tar_bytes", count)?;
        let deltas = read_key(&root, "deltas", |at, v| {
            let items = at.array(v)?;
            let mut deltas: Vec<DeltaRecord> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let path = format!("{}[{i}]", at.path);
                let item_at = At {
                    file: at.file,
                    path: &path,
                };
                let object = item_at.object(item)?;
                object.only(&[
                    "base",
                    "bytes",
                    "blake3",
                    "base_tar_bytes",
                    "base_tar_blake3",
                    "window",
                ])?;
                let record = DeltaRecord {
                    base: read_key(&object, "base", package_id)?,
                    bytes: read_key(&object, "bytes", count)?,
                    blake3: read_key(&object, "blake3", digest)?,
                    base_tar_bytes: read_key(&object, "base_tar_bytes", count)?,
                    base_tar_blake3: read_key(&object, "base_tar_blake3", digest)?,
                    window: read_key(&object, "window", count)?,
                };
                let base_at = At {
                    file: at.file,
                    path: &format!("{path}.base"),
                };
                let base_value = Value::String(record.base.to_string());
                if record.base.name() != id.name() || record.base == id {
                    return Err(
                        base_at.invalid(&base_value, format!("not an older version of {id}"))
                    );
                }
                if deltas.last().is_some_and(|last| last.base >= record.base) {
                    return Err(base_at.invalid(&base_value, "bases must be sorted and unique"));
                }
                deltas.push(record);
            }
            Ok(deltas)
        })?;
        Ok(DeltaIndex {
            format,
            id,
            tar_bytes,
            deltas,
        })
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn package_id(at: At<'_>, value: &Value) -> Result<PackageId, ModelError> {
    let text = at.string(value)?;
    PackageId::parse(&text).map_err(|e| at.invalid(value, e.to_string()))
}

/// 64 lowercase hex digits (a blake3).
fn digest(at: At<'_>, value: &Value) -> Result<String, ModelError> {
    let text = at.string(value)?;
    if text.len() != 64 || !is_hex(&text) {
        return Err(at.invalid(value, "expected 64 lowercase hex digits"));
    }
    Ok(text)
}

/// The bootstrap id of a set of packages: the first 40 hex digits of blake3
/// over the canonical JSON of the sorted id list. Order-independent.
pub fn bootstrap_id(ids: &[PackageId]) -> String {
    let mut sorted: Vec<String> = ids.iter().map(ToString::to_string).collect();
    sorted.sort();
    sorted.dedup();
    crate::content_hash(&serde_json::json!(sorted))
}

/// Reads the required `key` of `object` with `read`, which gets the key's
/// path for its errors.
fn read_key<T>(
    object: &Object<'_>,
    key: &str,
    read: impl FnOnce(At<'_>, &Value) -> Result<T, ModelError>,
) -> Result<T, ModelError> {
    let value = object.require(key)?;
    let path = object.key_path(key);
    read(
        At {
            file: &object.file,
            path: &path,
        },
        value,
    )
}

/// A file or byte count: a JSON integer from 0 to 2^64-1.
fn count(at: At<'_>, value: &Value) -> Result<u64, ModelError> {
    value
        .as_u64()
        .ok_or_else(|| at.type_error("a non-negative integer", value))
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
    fn delta_index_round_trips_and_names_bad_keys() {
        let index = DeltaIndex {
            format: DELTA_FORMAT,
            id: PackageId::parse("a--2").unwrap(),
            tar_bytes: 4096,
            deltas: vec![DeltaRecord {
                base: PackageId::parse("a--1").unwrap(),
                bytes: 100,
                blake3: "b".repeat(64),
                base_tar_bytes: 2048,
                base_tar_blake3: "c".repeat(64),
                window: 1 << 20,
            }],
        };
        let text = index.to_json().to_string();
        assert_eq!(
            DeltaIndex::parse("a--2.deltas.json", text.as_bytes()).unwrap(),
            index
        );
        let mut other = index.to_json();
        other["deltas"][0]["base"] = Value::from("b--1");
        let err = DeltaIndex::parse("x.json", other.to_string().as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("x.json: deltas[0].base: \"b--1\""),
            "{err}"
        );
        let mut short = index.to_json();
        short["deltas"][0]["blake3"] = Value::from("abc");
        let err = DeltaIndex::parse("x.json", short.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("deltas[0].blake3"), "{err}");
        let mut future = index.to_json();
        future["format"] = Value::from(2);
        let err = DeltaIndex::parse("x.json", future.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("x.json: format: 2"), "{err}");
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
