//! A package tree on disk: `packages/<name>/{buildinfo.json, <variant>.buildinfo.json,
//! build, extra/}` plus `treeinfo.json` / `<variant>.treeinfo.json`.
//!
//! Loading parses every buildinfo of the tree up front (pkgpanda does the
//! same), so a broken file anywhere is reported before any build starts.
//! [`PackageTree::tree_set`] applies a treeinfo with pkgpanda's rules
//! (`PackageSet`): core list or everything not excluded, closed over
//! `requires`, every package at the variant the treeinfo names, nothing
//! excluded; the bootstrap set likewise, and inside the full set.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use tarmac_fs::Context;
use tarmac_model::{buildinfo_variant, file_variant, validate_name, BuildInfo, TreeInfo};

use crate::error::Error;

/// One node of the build graph: a package name and a variant of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageKey {
    pub name: String,
    /// `None` for the default variant.
    pub variant: Option<String>,
}

impl PackageKey {
    pub fn new(name: &str, variant: Option<&str>) -> PackageKey {
        PackageKey {
            name: name.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// Parses the command-line form `name` or `name:variant`.
    pub fn parse(text: &str) -> PackageKey {
        match text.split_once(':') {
            Some((name, variant)) => PackageKey::new(name, Some(variant)),
            None => PackageKey::new(text, None),
        }
    }
}

impl fmt::Display for PackageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.variant {
            None => write!(f, "{}", self.name),
            Some(variant) => write!(f, "{}:{variant}", self.name),
        }
    }
}

/// One buildable package variant.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub key: PackageKey,
    /// The package directory.
    pub dir: PathBuf,
    /// Its buildinfo file.
    pub file: PathBuf,
    pub info: BuildInfo,
}

/// Every package variant of a tree, by key.
#[derive(Debug, Clone)]
pub struct PackageTree {
    pub dir: PathBuf,
    pub recipes: BTreeMap<PackageKey, Recipe>,
}

/// The packages a treeinfo selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeSet {
    /// Every package of the tree (core list or all not excluded, with requires).
    pub all: BTreeSet<PackageKey>,
    /// The bootstrap packages (bootstrap list with requires, or `all`).
    pub bootstrap: BTreeSet<PackageKey>,
}

impl PackageTree {
    /// Reads and validates every buildinfo under `dir`. Directories without
    /// a buildinfo file are not packages and are skipped (pkgpanda).
    pub fn load(dir: &Path) -> Result<PackageTree, Error> {
        let mut recipes = BTreeMap::new();
        for name in sorted_names(dir)? {
            let package_dir = dir.join(&name);
            if !package_dir.is_dir() {
                continue;
            }
            for file_name in sorted_names(&package_dir)? {
                let Some(variant) = buildinfo_variant(&file_name)? else {
                    continue;
                };
                let file = package_dir.join(&file_name);
                if validate_name(&name).is_err() {
                    return Err(Error::Tree {
                        file,
                        reason: format!("{name:?} is not a valid package name"),
                    });
                }
                let bytes = tarmac_fs::read(&file)?;
                let info = BuildInfo::parse(&file.display().to_string(), &bytes)?;
                let key = PackageKey {
                    name: name.clone(),
                    variant,
                };
                recipes.insert(
                    key.clone(),
                    Recipe {
                        key,
                        dir: package_dir.clone(),
                        file,
                        info,
                    },
                );
            }
        }
        Ok(PackageTree {
            dir: dir.to_path_buf(),
            recipes,
        })
    }

    /// The tree variants (`treeinfo.json` is `None`), sorted.
    pub fn tree_variants(&self) -> Result<Vec<Option<String>>, Error> {
        let mut variants = Vec::new();
        for name in sorted_names(&self.dir)? {
            if let Some(variant) = file_variant(&name, "treeinfo.json")? {
                variants.push(variant);
            }
        }
        Ok(variants)
    }

    /// Reads `treeinfo.json` or `<variant>.treeinfo.json`. A missing
    /// default treeinfo means `{}` (every package); a missing named one is
    /// an error.
    pub fn treeinfo(&self, variant: Option<&str>) -> Result<TreeInfo, Error> {
        let file = match variant {
            None => self.dir.join("treeinfo.json"),
            Some(v) => self.dir.join(format!("{v}.treeinfo.json")),
        };
        if !file.exists() {
            return match variant {
                None => Ok(TreeInfo::default()),
                Some(_) => Err(Error::Tree {
                    file,
                    reason: "no such tree variant".into(),
                }),
            };
        }
        let bytes = tarmac_fs::read(&file)?;
        Ok(TreeInfo::parse(&file.display().to_string(), &bytes)?)
    }

    /// Applies the treeinfo of tree variant `variant` (pkgpanda `PackageSet`).
    pub fn tree_set(&self, variant: Option<&str>) -> Result<TreeSet, Error> {
        let info = self.treeinfo(variant)?;
        let file = match variant {
            None => self.dir.join("treeinfo.json"),
            Some(v) => self.dir.join(format!("{v}.treeinfo.json")),
        };
        let names: BTreeSet<String> = if info.core_package_list.is_empty() {
            let all: BTreeSet<String> = self.recipes.keys().map(|k| k.name.clone()).collect();
            all.difference(&info.exclude).cloned().collect()
        } else {
            info.core_package_list.clone()
        };
        let all = self.closure_for_tree(&names, &info, &file)?;
        let bootstrap = if info.bootstrap_package_list.is_empty() {
            all.clone()
        } else {
            self.closure_for_tree(&info.bootstrap_package_list, &info, &file)?
        };
        if let Some(outside) = bootstrap.difference(&all).next() {
            return Err(Error::Tree {
                file,
                reason: format!("bootstrap package {outside} is not in the set of all packages"),
            });
        }
        Ok(TreeSet { all, bootstrap })
    }

    fn closure_for_tree(
        &self,
        names: &BTreeSet<String>,
        info: &TreeInfo,
        file: &Path,
    ) -> Result<BTreeSet<PackageKey>, Error> {
        let roots: BTreeSet<PackageKey> = names
            .iter()
            .map(|n| PackageKey::new(n, info.variant_of(n)))
            .collect();
        let closure = self.closure(&roots)?;
        for key in &closure {
            let wanted = info.variant_of(&key.name);
            if key.variant.as_deref() != wanted {
                return Err(Error::Tree {
                    file: file.to_path_buf(),
                    reason: format!(
                        "package {} is needed at variant {} but the treeinfo says {}",
                        key.name,
                        variant_name(key.variant.as_deref()),
                        variant_name(wanted)
                    ),
                });
            }
            if info.exclude.contains(&key.name) {
                return Err(Error::Tree {
                    file: file.to_path_buf(),
                    reason: format!(
                        "package {} is needed (listed or required) but excluded",
                        key.name
                    ),
                });
            }
        }
        Ok(closure)
    }

    /// `roots` plus everything they require, transitively. Every key must
    /// exist in the tree.
    pub fn closure(&self, roots: &BTreeSet<PackageKey>) -> Result<BTreeSet<PackageKey>, Error> {
        let mut seen = BTreeSet::new();
        let mut to_visit: Vec<(PackageKey, Option<PathBuf>)> =
            roots.iter().map(|k| (k.clone(), None)).collect();
        while let Some((key, required_by)) = to_visit.pop() {
            if seen.contains(&key) {
                continue;
            }
            let recipe = self.recipe(&key, required_by.as_deref())?;
            for requirement in &recipe.info.requires {
                let dep = PackageKey::new(&requirement.name, requirement.variant.as_deref());
                if !seen.contains(&dep) {
                    to_visit.push((dep, Some(recipe.file.clone())));
                }
            }
            seen.insert(key);
        }
        Ok(seen)
    }

    /// The recipe of `key`, or an error naming who asked for it.
    pub fn recipe(&self, key: &PackageKey, required_by: Option<&Path>) -> Result<&Recipe, Error> {
        self.recipes.get(key).ok_or_else(|| Error::Tree {
            file: required_by.map_or_else(|| self.dir.clone(), Path::to_path_buf),
            reason: match required_by {
                Some(_) => format!(
                    "requires {}: no such package (variant {}) in {}",
                    key.name,
                    variant_name(key.variant.as_deref()),
                    self.dir.display()
                ),
                None => format!(
                    "no package {} (variant {}) in this tree",
                    key.name,
                    variant_name(key.variant.as_deref())
                ),
            },
        })
    }
}

/// pkgpanda's display name of a variant.
pub fn variant_name(variant: Option<&str>) -> &str {
    variant.unwrap_or("<default>")
}

fn sorted_names(dir: &Path) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_path("read directory", dir)? {
        let entry = entry.with_path("read directory", dir)?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}
