//! Package lists exchanged between tools: `<bootstrap_id>.active.json` (the
//! ids in a bootstrap bundle, pkgpanda's format) and `cluster-packages.json`
//! (gen's format: package name -> id and repository file name).
//!
//! Both are sets of packages for one host, so an id or a package name may
//! appear once only; both are written sorted so equal sets give equal bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::error::ModelError;
use crate::id::PackageId;
use crate::object::{parse_bytes, At, Object};

/// `<bootstrap_id>.active.json`: a JSON list of package ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveList {
    /// Sorted, one id per package name.
    pub ids: Vec<PackageId>,
}

impl ActiveList {
    /// A list of `ids`, sorted. Fails (naming `file`) if a name repeats.
    pub fn new(file: &str, mut ids: Vec<PackageId>) -> Result<ActiveList, ModelError> {
        ids.sort();
        for pair in ids.windows(2) {
            if pair[0].name() == pair[1].name() {
                return Err(ModelError::Invalid {
                    file: file.to_string(),
                    key: "(list)".to_string(),
                    value: json!(pair[1].to_string()).to_string(),
                    reason: format!("package {} is listed more than once", pair[0].name()),
                });
            }
        }
        Ok(ActiveList { ids })
    }

    /// Parses an active list; every entry must be a package id and no
    /// package name may repeat. An empty list is valid (activates nothing).
    pub fn parse(file: &str, bytes: &[u8]) -> Result<ActiveList, ModelError> {
        let value = parse_bytes(file, bytes, false)?;
        let items = At {
            file,
            path: "(list)",
        }
        .array(&value)?;
        let mut ids = Vec::with_capacity(items.len());
        let mut names = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("[{i}]");
            let at = At { file, path: &path };
            let id = parse_id(at, item)?;
            if !names.insert(id.name().to_string()) {
                return Err(at.invalid(
                    item,
                    format!("package {} is listed more than once", id.name()),
                ));
            }
            ids.push(id);
        }
        ids.sort();
        Ok(ActiveList { ids })
    }

    pub fn to_json(&self) -> Value {
        Value::from(self.ids.iter().map(|id| id.to_string()).collect::<Vec<_>>())
    }
}

/// Archive suffixes a repository file name may carry (readers sniff the
/// content; the name only has to be one of these).
pub const ARCHIVE_SUFFIXES: [&str; 4] = [".tar.zst", ".tar.xz", ".tar.gz", ".tar"];

/// One entry of `cluster-packages.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPackage {
    pub id: PackageId,
    /// Path in the repository: `packages/<name>/<id>.tar.zst`.
    pub filename: String,
}

impl ClusterPackage {
    /// The entry for `id` in tarmac's repository layout.
    pub fn new(id: PackageId) -> ClusterPackage {
        let filename = crate::layout::repository::archive_relative(&id);
        ClusterPackage { id, filename }
    }
}

/// `cluster-packages.json`, keyed by package name like gen's
/// `cluster_package_info`: `{"mesos": {"id": "mesos--1", "filename":
/// "packages/mesos/mesos--1.tar.zst"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterPackages {
    pub packages: BTreeMap<String, ClusterPackage>,
}

impl ClusterPackages {
    /// The entries for `ids`. Fails (naming `file`) if a name repeats.
    pub fn new(file: &str, ids: Vec<PackageId>) -> Result<ClusterPackages, ModelError> {
        let list = ActiveList::new(file, ids)?;
        let packages = list
            .ids
            .into_iter()
            .map(|id| (id.name().to_string(), ClusterPackage::new(id)))
            .collect();
        Ok(ClusterPackages { packages })
    }

    /// Parses and checks that each key is its id's name and each filename
    /// is `packages/<name>/<id>` plus an archive suffix.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<ClusterPackages, ModelError> {
        let value = parse_bytes(file, bytes, false)?;
        let root = Object::root(file, &value)?;
        let mut packages = BTreeMap::new();
        for (name, entry) in root.map {
            let path = root.key_path(name);
            let object = At { file, path: &path }.object(entry)?;
            object.only(&["id", "filename"])?;
            let id_path = object.key_path("id");
            let id_at = At {
                file,
                path: &id_path,
            };
            let id_value = object.require("id")?;
            let id = parse_id(id_at, id_value)?;
            if id.name() != name {
                return Err(
                    id_at.invalid(id_value, format!("is not a version of package {name:?}"))
                );
            }
            let filename_path = object.key_path("filename");
            let filename_at = At {
                file,
                path: &filename_path,
            };
            let filename_value = object.require("filename")?;
            let filename = filename_at.string(filename_value)?;
            let stem = format!("packages/{name}/{id}");
            let suffix_ok = filename
                .strip_prefix(&stem)
                .is_some_and(|suffix| ARCHIVE_SUFFIXES.contains(&suffix));
            if !suffix_ok {
                return Err(filename_at.invalid(
                    filename_value,
                    format!("expected {stem}.tar.zst (or .tar.xz, .tar.gz, .tar)"),
                ));
            }
            packages.insert(name.clone(), ClusterPackage { id, filename });
        }
        Ok(ClusterPackages { packages })
    }

    /// The ids, sorted.
    pub fn ids(&self) -> Vec<PackageId> {
        self.packages.values().map(|p| p.id.clone()).collect()
    }

    pub fn to_json(&self) -> Value {
        let map: Map<String, Value> = self
            .packages
            .iter()
            .map(|(name, p)| {
                (
                    name.clone(),
                    json!({"id": p.id.to_string(), "filename": p.filename}),
                )
            })
            .collect();
        Value::Object(map)
    }
}

fn parse_id(at: At<'_>, value: &Value) -> Result<PackageId, ModelError> {
    let text = at.string(value)?;
    PackageId::parse(&text).map_err(|e| at.invalid(value, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PackageId {
        PackageId::parse(s).unwrap()
    }

    fn message(err: ModelError) -> String {
        assert_eq!(err.class(), crate::ExitClass::Invalid);
        err.to_string()
    }

    #[test]
    fn active_list_round_trips_sorted() {
        let list = ActiveList::parse("b.active.json", br#"["z--1", "a--2"]"#).unwrap();
        assert_eq!(list.ids, vec![id("a--2"), id("z--1")]);
        assert_eq!(list.to_json().to_string(), r#"["a--2","z--1"]"#);
        assert_eq!(ActiveList::parse("x", b"[]").unwrap().ids, vec![]);
        assert_eq!(
            ActiveList::new("x", vec![id("b--1"), id("a--1")])
                .unwrap()
                .ids[0],
            id("a--1")
        );
    }

    #[test]
    fn active_list_rejects() {
        let m = message(ActiveList::parse("b.active.json", br#"["a--1", "a--2"]"#).unwrap_err());
        assert!(
            m.starts_with("b.active.json: [1]: \"a--2\": package a"),
            "{m}"
        );
        let m = message(ActiveList::parse("b.active.json", br#"["a--1", "nover"]"#).unwrap_err());
        assert!(
            m.starts_with("b.active.json: [1]: \"nover\": invalid package id"),
            "{m}"
        );
        let m = message(ActiveList::parse("b.active.json", br#"[1]"#).unwrap_err());
        assert!(
            m.contains("b.active.json: [0]: expected a string, got 1"),
            "{m}"
        );
        let m = message(ActiveList::parse("b.active.json", br#"{"a": 1}"#).unwrap_err());
        assert!(m.contains("(list)") && m.contains(r#"{"a":1}"#), "{m}");
        let m = message(ActiveList::parse("b.active.json", b"").unwrap_err());
        assert!(m.contains("not valid JSON"), "{m}");
        let m = message(ActiveList::new("out.json", vec![id("a--1"), id("a--2")]).unwrap_err());
        assert!(m.contains("out.json") && m.contains("a--2"), "{m}");
    }

    #[test]
    fn cluster_packages_round_trip() {
        let packages =
            ClusterPackages::new("c.json", vec![id("mesos--1"), id("adminrouter--2")]).unwrap();
        let json = packages.to_json();
        assert_eq!(
            json.to_string(),
            r#"{"adminrouter":{"id":"adminrouter--2","filename":"packages/adminrouter/adminrouter--2.tar.zst"},"mesos":{"id":"mesos--1","filename":"packages/mesos/mesos--1.tar.zst"}}"#
        );
        let again = ClusterPackages::parse("c.json", json.to_string().as_bytes()).unwrap();
        assert_eq!(again, packages);
        assert_eq!(again.ids(), vec![id("adminrouter--2"), id("mesos--1")]);
        // gen's own output (.tar.xz) is read too.
        let gen = br#"{"mesos": {"id": "mesos--1", "filename": "packages/mesos/mesos--1.tar.xz"}}"#;
        ClusterPackages::parse("c.json", gen).unwrap();
    }

    #[test]
    fn cluster_packages_rejects() {
        let cases: [(&[u8], &str); 6] = [
            (br#"{"mesos": {"id": "java--1", "filename": "packages/java/java--1.tar.zst"}}"#, "c.json: mesos.id: \"java--1\""),
            (br#"{"mesos": {"id": "mesos--1", "filename": "mesos--1.tar.zst"}}"#, "c.json: mesos.filename: \"mesos--1.tar.zst\""),
            (br#"{"mesos": {"id": "mesos--1", "filename": "packages/mesos/mesos--1.zip"}}"#, "c.json: mesos.filename"),
            (br#"{"mesos": {"id": "mesos--1"}}"#, "c.json: mesos.filename: required key missing"),
            (br#"{"mesos": {"id": "mesos--1", "filename": "packages/mesos/mesos--1.tar", "x": 1}}"#, "c.json: mesos.x: unknown key"),
            (br#"{"mesos": "mesos--1"}"#, "c.json: mesos: expected an object, got \"mesos--1\""),
        ];
        for (bytes, expected) in cases {
            let m = message(ClusterPackages::parse("c.json", bytes).unwrap_err());
            assert!(m.starts_with(expected), "{m:?} vs {expected:?}");
        }
    }
}
