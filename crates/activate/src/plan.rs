//! Planning an activation: load the packages, check everything pkgpanda
//! checks (and what it forgets), and compute the full per-file map of the
//! farm. Nothing here writes: a refused set leaves the host untouched.
//!
//! Invariant: conflicts are found on the full per-file map, before any
//! folding decision, so tree folding can never hide one (DESIGN.md).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tarmac_model::PackageId;

use crate::error::{Error, Result};
use crate::package::Package;

/// The directories of a package that are linked into the farm; each may
/// also appear as `<dir>_<role>`, linked only on hosts with that role.
pub const WELL_KNOWN: [&str; 5] = ["bin", "etc", "include", "lib", UNIT_DIR];

/// Where a package puts the systemd units it wants started.
pub const UNIT_DIR: &str = "dcos.target.wants";

/// Units pkgpanda refuses to let a package ship (pkgpanda/constants.py).
pub const RESERVED_UNITS: [&str; 3] =
    ["dcos.target", "dcos-download.service", "dcos-setup.service"];

/// The file pkg-activate writes into the farm's `etc/`.
pub const SERVICE_CONFIG: &str = "etc/dcos-service-configuration.json";

/// One source of a farm entry: package index and index of the top-level
/// package directory (`bin`, `bin_master`, ...) it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub package: u32,
    pub top: u32,
}

/// A path of the farm: a directory (merged from one or more sources) or a
/// leaf (a file or a package's own symlink, linked, never followed).
#[derive(Debug)]
pub struct Node {
    pub dir: bool,
    pub sources: Vec<Source>,
}

/// Per-package digest of what its well-known dirs held at activation:
/// `pkg-activate verify` re-walks and compares (a write through a folded
/// link lands inside the package and changes this).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Listing {
    pub entries: u64,
    pub hash: String,
}

/// A path inside the farm, ordered like `Path` (component by component) but
/// compared as bytes with `/` sorting before every other byte: the same
/// order without re-parsing components on every comparison, which was half
/// the CPU time of an activation. Paths here are built by joining plain
/// names, so there are no `.`, `//` or trailing slashes to normalize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FarmPath(pub PathBuf);

impl FarmPath {
    fn bytes(&self) -> &[u8] {
        self.0.as_os_str().as_encoded_bytes()
    }

    /// Whether `self` is strictly below `dir`.
    pub fn is_below(&self, dir: &FarmPath) -> bool {
        let (a, d) = (self.bytes(), dir.bytes());
        a.len() > d.len() && a.starts_with(d) && a[d.len()] == b'/'
    }
}

impl Ord for FarmPath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (self.bytes(), other.bytes());
        let rank = |c: u8| if c == b'/' { 0 } else { c };
        match a.iter().zip(b).position(|(x, y)| x != y) {
            Some(i) => rank(a[i]).cmp(&rank(b[i])),
            None => a.len().cmp(&b.len()),
        }
    }
}

impl PartialOrd for FarmPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A validated activation: everything needed to write a generation.
#[derive(Debug)]
pub struct Plan {
    pub packages: Vec<Package>,
    pub roles: Vec<String>,
    /// Top-level package directory names, indexed by [`Source::top`].
    pub tops: Vec<String>,
    /// The full per-file map, keyed by path inside the generation.
    pub nodes: BTreeMap<FarmPath, Node>,
    /// Unit name -> absolute path of the unit file in its package.
    pub units: BTreeMap<String, PathBuf>,
    /// `etc/dcos-service-configuration.json` content.
    pub service_config: Value,
    pub listings: BTreeMap<String, Listing>,
}

impl Plan {
    /// The absolute path in the package that `rel` (a farm path) comes from.
    pub fn source_path(&self, rel: &Path, source: Source) -> PathBuf {
        let package = &self.packages[source.package as usize];
        let mut path = package.dir.join(&self.tops[source.top as usize]);
        path.extend(rel.components().skip(1));
        path
    }

    fn describe(&self, rel: &Path, source: Source) -> String {
        let package = &self.packages[source.package as usize];
        let mut inner = PathBuf::from(&self.tops[source.top as usize]);
        inner.extend(rel.components().skip(1));
        format!("{} ({})", package.id, inner.display())
    }
}

/// Checks the set and computes its farm. `packages` may come in any order;
/// the plan keeps them sorted by id (pkgpanda used Python set order).
pub fn plan(mut packages: Vec<Package>, roles: &[String]) -> Result<Plan> {
    packages.sort_by(|a, b| a.id.cmp(&b.id));
    check_metadata(&packages)?;
    let service_config = service_config(&packages)?;

    let mut tops = Vec::new();
    for dir in WELL_KNOWN {
        tops.push(dir.to_string());
        for role in roles {
            tops.push(format!("{dir}_{role}"));
        }
    }
    let mut plan = Plan {
        packages,
        roles: roles.to_vec(),
        tops,
        nodes: BTreeMap::new(),
        units: BTreeMap::new(),
        service_config,
        listings: BTreeMap::new(),
    };
    for package in 0..plan.packages.len() {
        let mut hasher = blake3::Hasher::new();
        let mut entries = 0;
        for top in 0..plan.tops.len() {
            let top_name = plan.tops[top].clone();
            let src = plan.packages[package].dir.join(&top_name);
            // pkgpanda tests os.path.isdir (which follows a symlink) here.
            if !fs::metadata(&src).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let well_known = WELL_KNOWN[top / (1 + plan.roles.len())];
            let source = Source {
                package: package as u32,
                top: top as u32,
            };
            let mut walk = Walk {
                plan: &mut plan,
                source,
                hasher: &mut hasher,
                entries: &mut entries,
            };
            walk.dir(&src, Path::new(well_known))?;
        }
        let id = plan.packages[package].id.to_string();
        plan.listings.insert(
            id,
            Listing {
                entries,
                hash: hasher.finalize().to_hex().to_string(),
            },
        );
    }
    Ok(plan)
}

struct Walk<'a> {
    plan: &'a mut Plan,
    source: Source,
    hasher: &'a mut blake3::Hasher,
    entries: &'a mut u64,
}

impl Walk<'_> {
    fn dir(&mut self, src: &Path, rel: &Path) -> Result<()> {
        let mut children = Vec::new();
        let read =
            fs::read_dir(src).map_err(|e| tarmac_fs::FsError::new("read directory", src, e))?;
        for entry in read {
            let entry = entry.map_err(|e| tarmac_fs::FsError::new("read directory", src, e))?;
            // DirEntry::file_type does not follow symlinks: a package's own
            // symlink is a leaf, linked as is (pkgpanda :512-538).
            let file_type = entry
                .file_type()
                .map_err(|e| tarmac_fs::FsError::new("stat", entry.path(), e))?;
            children.push((entry.file_name(), file_type.is_dir()));
        }
        children.sort();
        for (name, is_dir) in children {
            let rel_child = rel.join(&name);
            self.hasher.update(rel_child.as_os_str().as_encoded_bytes());
            self.hasher.update(if is_dir { b"/\n" } else { b"\n" });
            *self.entries += 1;
            self.insert(&rel_child, is_dir)?;
            if is_dir {
                self.dir(&src.join(&name), &rel_child)?;
            }
        }
        Ok(())
    }

    fn insert(&mut self, rel: &Path, is_dir: bool) -> Result<()> {
        let plan = &mut *self.plan;
        if rel == Path::new(SERVICE_CONFIG) {
            return Err(Error::ServiceConfigShipped {
                path: SERVICE_CONFIG.to_string(),
                id: plan.packages[self.source.package as usize].id.to_string(),
            });
        }
        if rel.starts_with(UNIT_DIR) {
            let source_path = plan.source_path(rel, self.source);
            let id = plan.packages[self.source.package as usize].id.to_string();
            let name = rel
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if RESERVED_UNITS.contains(&name.as_str()) {
                return Err(Error::ReservedUnit { id, unit: name });
            }
            if is_dir {
                return Err(Error::BadUnit {
                    path: source_path,
                    reason: "a directory".to_string(),
                });
            }
            if !fs::metadata(&source_path).is_ok_and(|m| m.is_file()) {
                return Err(Error::BadUnit {
                    path: source_path,
                    reason: "not a regular file (or a symlink to one)".to_string(),
                });
            }
            plan.units.entry(name).or_insert(source_path);
        }
        match plan.nodes.entry(FarmPath(rel.to_path_buf())) {
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(Node {
                    dir: is_dir,
                    sources: vec![self.source],
                });
                Ok(())
            }
            std::collections::btree_map::Entry::Occupied(mut entry) => {
                let node = entry.get_mut();
                if node.dir && is_dir {
                    node.sources.push(self.source);
                    return Ok(());
                }
                // File against file, or file against directory (even an
                // empty one): always a conflict, whatever the order.
                let first = node.sources[0];
                Err(Error::FileConflict {
                    path: rel.display().to_string(),
                    first: plan.describe(rel, first),
                    second: plan.describe(rel, self.source),
                })
            }
        }
    }
}

fn check_metadata(packages: &[Package]) -> Result<()> {
    let mut names: BTreeMap<&str, &PackageId> = BTreeMap::new();
    for package in packages {
        if let Some(first) = names.insert(package.id.name(), &package.id) {
            return Err(Error::RepeatedName {
                name: package.id.name().to_string(),
                first: first.to_string(),
                second: package.id.to_string(),
            });
        }
    }
    for package in packages {
        let id = package.id.to_string();
        let meta = &package.meta;
        match (&meta.username, &meta.group) {
            (None, Some(group)) => {
                return Err(Error::GroupWithoutUser {
                    id,
                    group: group.clone(),
                })
            }
            (Some(user), group) => {
                if !crate::users::valid_username(user) {
                    return Err(Error::BadUsername {
                        id,
                        username: user.clone(),
                    });
                }
                if let Some(group) = group.as_ref().filter(|g| !g.is_empty()) {
                    if !crate::users::valid_group_name(group) {
                        return Err(Error::BadGroupName {
                            id,
                            group: group.clone(),
                        });
                    }
                }
            }
            (None, None) => {}
        }
        for name in &meta.requires {
            if !names.contains_key(name.as_str()) {
                return Err(Error::UnmetRequire {
                    id,
                    name: name.clone(),
                });
            }
        }
    }
    let mut environment: BTreeMap<&str, &PackageId> = BTreeMap::new();
    for package in packages {
        for (var, _) in &package.meta.environment {
            if var == "PATH" || var == "LD_LIBRARY_PATH" {
                return Err(Error::ReservedEnv {
                    id: package.id.to_string(),
                    var: var.clone(),
                });
            }
            // Refused even when both values are equal (pkgpanda :350).
            if let Some(first) = environment.insert(var, &package.id) {
                return Err(Error::RepeatedEnv {
                    var: var.clone(),
                    first: first.to_string(),
                    second: package.id.to_string(),
                });
            }
        }
    }
    let mut sysctl: BTreeMap<&str, (&PackageId, &str, &Value)> = BTreeMap::new();
    for package in packages {
        for (service, settings) in &package.meta.sysctl {
            for (key, value) in settings {
                match sysctl.get(key.as_str()) {
                    // 1 and "1" are two values (pkgpanda compares Python objects).
                    Some((first, first_service, first_value)) if *first_value != value => {
                        return Err(Error::SysctlConflict {
                            key: key.clone(),
                            first: format!("{first_value} ({first}, service {first_service})"),
                            second: format!("{value} ({}, service {service})", package.id),
                        });
                    }
                    Some(_) => {}
                    None => {
                        sysctl.insert(key, (&package.id, service, value));
                    }
                }
            }
        }
    }
    Ok(())
}

/// `{"sysctl": {service: {key: value}}}` for every `*.service` file found
/// anywhere in a package with sysctl settings (roles ignored, pkgpanda :821).
fn service_config(packages: &[Package]) -> Result<Value> {
    let mut sysctl: BTreeMap<String, Value> = BTreeMap::new();
    for package in packages {
        if package.meta.sysctl.is_empty() {
            continue;
        }
        let mut services = BTreeSet::new();
        collect_services(&package.dir, &mut services)?;
        if services.is_empty() {
            return Err(Error::SysctlWithoutService {
                id: package.id.to_string(),
            });
        }
        for service in services {
            if let Some(settings) = package.meta.sysctl.get(&service) {
                let map: serde_json::Map<String, Value> = settings
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                sysctl.insert(service, Value::Object(map));
            }
        }
    }
    let sysctl: serde_json::Map<String, Value> = sysctl.into_iter().collect();
    Ok(serde_json::json!({ "sysctl": sysctl }))
}

fn collect_services(dir: &Path, services: &mut BTreeSet<String>) -> Result<()> {
    let read = fs::read_dir(dir).map_err(|e| tarmac_fs::FsError::new("read directory", dir, e))?;
    for entry in read {
        let entry = entry.map_err(|e| tarmac_fs::FsError::new("read directory", dir, e))?;
        let file_type = entry
            .file_type()
            .map_err(|e| tarmac_fs::FsError::new("stat", entry.path(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if file_type.is_dir() {
            collect_services(&entry.path(), services)?;
        } else if let Some(service) = name.strip_suffix(".service") {
            services.insert(service.to_string());
        }
    }
    Ok(())
}

/// Re-computes the [`Listing`] of one package the way [`plan`] does, for
/// `pkg-activate verify`.
pub fn listing(package_dir: &Path, roles: &[String]) -> Result<Listing> {
    let mut hasher = blake3::Hasher::new();
    let mut entries = 0u64;
    for dir in WELL_KNOWN {
        let mut tops = vec![dir.to_string()];
        tops.extend(roles.iter().map(|role| format!("{dir}_{role}")));
        for top in tops {
            let src = package_dir.join(&top);
            if fs::metadata(&src).is_ok_and(|m| m.is_dir()) {
                hash_tree(&src, Path::new(dir), &mut hasher, &mut entries)?;
            }
        }
    }
    Ok(Listing {
        entries,
        hash: hasher.finalize().to_hex().to_string(),
    })
}

fn hash_tree(src: &Path, rel: &Path, hasher: &mut blake3::Hasher, entries: &mut u64) -> Result<()> {
    let read = fs::read_dir(src).map_err(|e| tarmac_fs::FsError::new("read directory", src, e))?;
    let mut children = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| tarmac_fs::FsError::new("read directory", src, e))?;
        let is_dir = entry
            .file_type()
            .map_err(|e| tarmac_fs::FsError::new("stat", entry.path(), e))?
            .is_dir();
        children.push((entry.file_name(), is_dir));
    }
    children.sort();
    for (name, is_dir) in children {
        let rel_child = rel.join(&name);
        hasher.update(rel_child.as_os_str().as_encoded_bytes());
        hasher.update(if is_dir { b"/\n" } else { b"\n" });
        *entries += 1;
        if is_dir {
            hash_tree(&src.join(&name), &rel_child, hasher, entries)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn farm_paths_sort_like_paths() {
        let names = [
            "a", "a.b", "a/b", "a/b/c", "a/bc", "a-b", "a0", "b", "a/b.c", "ab/c",
        ];
        let mut as_paths: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
        let mut as_farm: Vec<FarmPath> = names.iter().map(|n| FarmPath(PathBuf::from(n))).collect();
        as_paths.sort();
        as_farm.sort();
        let as_farm: Vec<PathBuf> = as_farm.into_iter().map(|f| f.0).collect();
        assert_eq!(as_farm, as_paths);
        let dir = FarmPath(PathBuf::from("a/b"));
        assert!(FarmPath(PathBuf::from("a/b/c")).is_below(&dir));
        assert!(!FarmPath(PathBuf::from("a/bc")).is_below(&dir));
        assert!(!dir.is_below(&dir));
    }
}
