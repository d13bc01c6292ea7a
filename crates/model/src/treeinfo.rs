//! `treeinfo.json` (and `<variant>.treeinfo.json`): which packages of a tree
//! make up a release and which variant of each to use.
//!
//! Keys are pkgpanda's `TreeInfo.ALLOWED_TREEINFO_KEYS`. pkgpanda tests
//! `keys > allowed` (a strict superset), which lets most typos through;
//! tarmac refuses any unknown key. A package may not be both excluded and
//! listed. Lists are sets (order and repeats do not matter, as in pkgpanda).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::error::ModelError;
use crate::id::validate_name;
use crate::object::{parse_bytes, At, Object};
use crate::pkginfo::validate_variant;

/// A parsed treeinfo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeInfo {
    /// Packages never part of this tree.
    pub exclude: BTreeSet<String>,
    /// package name -> variant to use (`None`: the default variant).
    pub variants: BTreeMap<String, Option<String>>,
    /// The packages of the tree (plus their requires). Empty means every
    /// package of the tree that is not excluded.
    pub core_package_list: BTreeSet<String>,
    /// The packages of the bootstrap bundle (plus their requires). Empty
    /// means the same set as the core packages.
    pub bootstrap_package_list: BTreeSet<String>,
}

const TREEINFO_KEYS: &[&str] = &[
    "exclude",
    "variants",
    "core_package_list",
    "bootstrap_package_list",
];

impl TreeInfo {
    /// Parses and validates a treeinfo; blank content counts as `{}`.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<TreeInfo, ModelError> {
        let value = parse_bytes(file, bytes, true)?;
        let root = Object::root(file, &value)?;
        root.only(TREEINFO_KEYS)?;
        let exclude = package_list(&root, "exclude", &BTreeSet::new())?;
        let core_package_list = package_list(&root, "core_package_list", &exclude)?;
        let bootstrap_package_list = package_list(&root, "bootstrap_package_list", &exclude)?;
        let variants = match root.object("variants")? {
            None => BTreeMap::new(),
            Some(object) => {
                let mut variants = BTreeMap::new();
                for (name, value) in object.map {
                    let path = object.key_path(name);
                    let at = At { file, path: &path };
                    if validate_name(name).is_err() {
                        return Err(at.invalid(&json!(name), "not a valid package name"));
                    }
                    let variant = match value {
                        Value::Null => None,
                        other => {
                            let variant = at.string(other)?;
                            validate_variant(at, other, &variant)?;
                            Some(variant)
                        }
                    };
                    variants.insert(name.clone(), variant);
                }
                variants
            }
        };
        Ok(TreeInfo {
            exclude,
            variants,
            core_package_list,
            bootstrap_package_list,
        })
    }

    /// The variant this tree uses for `package` (`None`: default).
    pub fn variant_of(&self, package: &str) -> Option<&str> {
        self.variants.get(package).and_then(|v| v.as_deref())
    }

    /// The JSON form (lists sorted); `parse(to_json())` gives an equal value.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        let list = |set: &BTreeSet<String>| Value::from(set.iter().cloned().collect::<Vec<_>>());
        if !self.exclude.is_empty() {
            out.insert("exclude".into(), list(&self.exclude));
        }
        if !self.variants.is_empty() {
            let map: Map<String, Value> = self
                .variants
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map_or(Value::Null, |v| json!(v))))
                .collect();
            out.insert("variants".into(), Value::Object(map));
        }
        if !self.core_package_list.is_empty() {
            out.insert("core_package_list".into(), list(&self.core_package_list));
        }
        if !self.bootstrap_package_list.is_empty() {
            out.insert(
                "bootstrap_package_list".into(),
                list(&self.bootstrap_package_list),
            );
        }
        Value::Object(out)
    }
}

/// A list of package names under `key`, none of them in `excludes`.
fn package_list(
    root: &Object<'_>,
    key: &str,
    excludes: &BTreeSet<String>,
) -> Result<BTreeSet<String>, ModelError> {
    let Some(value) = root.get(key) else {
        return Ok(BTreeSet::new());
    };
    let path = root.key_path(key);
    let items = At {
        file: &root.file,
        path: &path,
    }
    .array(value)?;
    let mut names = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{path}[{i}]");
        let at = At {
            file: &root.file,
            path: &path,
        };
        let name = at.string(item)?;
        if validate_name(&name).is_err() {
            return Err(at.invalid(item, "not a valid package name"));
        }
        if excludes.contains(&name) {
            return Err(at.invalid(item, "package is also in `exclude`"));
        }
        names.insert(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TreeInfo, ModelError> {
        TreeInfo::parse("packages/treeinfo.json", text.as_bytes())
    }

    fn rejects(text: &str, fragments: &[&str]) {
        let message = parse(text).expect_err(text).to_string();
        assert!(message.starts_with("packages/treeinfo.json: "), "{message}");
        for fragment in fragments {
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
    }

    #[test]
    fn parses_all_keys() {
        let info = parse(
            r#"{"exclude": ["b", "a"], "variants": {"java": "ee", "x": null},
                "core_package_list": ["mesos", "mesos"], "bootstrap_package_list": ["dcos-image"]}"#,
        )
        .unwrap();
        assert_eq!(info.exclude.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(info.variant_of("java"), Some("ee"));
        assert_eq!(info.variant_of("x"), None);
        assert_eq!(info.variant_of("other"), None);
        assert_eq!(info.core_package_list.len(), 1);
        assert_eq!(
            TreeInfo::parse("t", info.to_json().to_string().as_bytes()).unwrap(),
            info
        );
        assert_eq!(parse("").unwrap(), TreeInfo::default());
    }

    #[test]
    fn rejects_bad_treeinfo() {
        rejects(
            r#"{"excludes": ["a"]}"#,
            &["excludes", "unknown key", r#"["a"]"#],
        );
        rejects(r#"{"exclude": null}"#, &["exclude", "null", "array"]);
        rejects(r#"{"exclude": "a"}"#, &["exclude", "\"a\"", "array"]);
        rejects(r#"{"exclude": [1]}"#, &["exclude[0]", "1", "string"]);
        rejects(
            r#"{"core_package_list": ["a b"]}"#,
            &["core_package_list[0]", "\"a b\""],
        );
        rejects(
            r#"{"exclude": ["a"], "bootstrap_package_list": ["b", "a"]}"#,
            &["bootstrap_package_list[1]", "\"a\"", "exclude"],
        );
        rejects(r#"{"variants": ["a"]}"#, &["variants", "[\"a\"]", "object"]);
        rejects(r#"{"variants": {"a": 1}}"#, &["variants.a", "1", "string"]);
        rejects(
            r#"{"variants": {"a--1": "ee"}}"#,
            &["variants.a--1", "\"a--1\""],
        );
        rejects(r#"{"variants": {"a": "e e"}}"#, &["variants.a", "\"e e\""]);
    }
}
