//! Planning an activation: load the packages, check everything pkgpanda
//! checks (and what it forgets), and compute the full per-file map of the
//! farm. Nothing here writes: a refused set leaves the host untouched.
//!
//! Invariant: conflicts are found on the full per-file map, before any
//! folding decision, so tree folding can never hide one (docs/architecture.md).

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
    /// The farm, keyed by path inside the generation: the full per-file map
    /// without fold; with fold, single-source directories are leaves here.
    pub nodes: BTreeMap<FarmPath, Node>,
    /// Unit name -> absolute path of the unit file in its package.
    pub units: BTreeMap<String, PathBuf>,
    /// `etc/dcos-service-configuration.json` content.
    pub service_config: Value,
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
///
/// The walk merges the packages level by level: a directory that two or
/// more sources provide is read and its children merged; with `fold`, a
/// directory below the top level that only one source provides is not
/// read at all (it becomes one link). That finds every conflict the full
/// per-file map would: two entries at one path have parents at one path
/// from two sources, so that parent was merged (and so on up to the top
/// level, which is always read).
pub fn plan(mut packages: Vec<Package>, roles: &[String], fold: bool) -> Result<Plan> {
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
    };
    let per_dir = 1 + plan.roles.len();
    for (index, well_known) in WELL_KNOWN.iter().enumerate() {
        let mut sources = Vec::new();
        for package in 0..plan.packages.len() {
            for top in index * per_dir..(index + 1) * per_dir {
                let src = plan.packages[package].dir.join(&plan.tops[top]);
                // pkgpanda tests os.path.isdir (which follows a symlink) here.
                if fs::metadata(&src).is_ok_and(|m| m.is_dir()) {
                    let source = Source {
                        package: package as u32,
                        top: top as u32,
                    };
                    sources.push((source, src));
                }
            }
        }
        merge(&mut plan, Path::new(well_known), &sources, fold)?;
    }
    Ok(plan)
}

/// One entry of a merged directory: where it comes from and what it is.
struct Entry {
    source: Source,
    path: PathBuf,
    dir: bool,
}

/// Merges the directories `sources` (all at farm path `rel`) into the plan.
fn merge(plan: &mut Plan, rel: &Path, sources: &[(Source, PathBuf)], fold: bool) -> Result<()> {
    let mut children: BTreeMap<std::ffi::OsString, Vec<Entry>> = BTreeMap::new();
    for (source, dir) in sources {
        let read =
            fs::read_dir(dir).map_err(|e| tarmac_fs::FsError::new("read directory", dir, e))?;
        for entry in read {
            let entry = entry.map_err(|e| tarmac_fs::FsError::new("read directory", dir, e))?;
            // DirEntry::file_type does not follow symlinks: a package's own
            // symlink is a leaf, linked as is (pkgpanda :512-538).
            let file_type = entry
                .file_type()
                .map_err(|e| tarmac_fs::FsError::new("stat", entry.path(), e))?;
            children.entry(entry.file_name()).or_default().push(Entry {
                source: *source,
                path: entry.path(),
                dir: file_type.is_dir(),
            });
        }
    }
    let in_units = rel == Path::new(UNIT_DIR);
    for (name, group) in children {
        let rel_child = rel.join(&name);
        if rel_child == Path::new(SERVICE_CONFIG) {
            return Err(Error::ServiceConfigShipped {
                path: SERVICE_CONFIG.to_string(),
                id: plan.packages[group[0].source.package as usize]
                    .id
                    .to_string(),
            });
        }
        if in_units {
            check_units(plan, &name.to_string_lossy(), &group)?;
        }
        let all_dirs = group.iter().all(|e| e.dir);
        if group.len() > 1 && !all_dirs {
            // File against file, or file against directory (even an empty
            // one): always a conflict, whatever the order.
            let second = if group[0].dir {
                group.iter().position(|e| !e.dir).unwrap_or(1)
            } else {
                1
            };
            return Err(Error::FileConflict {
                path: rel_child.display().to_string(),
                first: plan.describe(&rel_child, group[0].source),
                second: plan.describe(&rel_child, group[second].source),
            });
        }
        plan.nodes.insert(
            FarmPath(rel_child.clone()),
            Node {
                dir: all_dirs,
                sources: group.iter().map(|e| e.source).collect(),
            },
        );
        if all_dirs && !(fold && group.len() == 1) {
            let sources: Vec<(Source, PathBuf)> =
                group.into_iter().map(|e| (e.source, e.path)).collect();
            merge(plan, &rel_child, &sources, fold)?;
        }
    }
    Ok(())
}

/// Every entry of `dcos.target.wants[_role]/` is a unit (dotfiles too).
fn check_units(plan: &mut Plan, name: &str, group: &[Entry]) -> Result<()> {
    for entry in group {
        let id = plan.packages[entry.source.package as usize].id.to_string();
        if RESERVED_UNITS.contains(&name) {
            return Err(Error::ReservedUnit {
                id,
                unit: name.to_string(),
            });
        }
        if entry.dir {
            return Err(Error::BadUnit {
                path: entry.path.clone(),
                reason: "a directory".to_string(),
            });
        }
        if !fs::metadata(&entry.path).is_ok_and(|m| m.is_file()) {
            return Err(Error::BadUnit {
                path: entry.path.clone(),
                reason: "not a regular file (or a symlink to one)".to_string(),
            });
        }
    }
    plan.units
        .entry(name.to_string())
        .or_insert_with(|| group[0].path.clone());
    Ok(())
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

#[cfg(test)]
#[path = "plan_tests.rs"]
mod table_tests;
