//! tarmac-builder: from a package tree (`packages/<name>/{buildinfo.json,
//! build, extra/}`, DC/OS's layout) to content-addressed, deterministic
//! package archives in a repository (`packages/<name>/<id>.tar.zst` plus the
//! `<id>.json` manifest).
//!
//! What it is for: loading and validating a tree ([`PackageTree`]),
//! planning builds and their ids without building or network ([`plan`]),
//! and executing a plan in parallel in a sandbox ([`build`]). What it is not:
//! it does not bundle (tarmac-bundle) or activate on a host.
//!
//! The invariant (docs/pkg-build.md): a package's version is the content
//! hash of all its build inputs ([`VersionInputs`]), so equal inputs give
//! equal ids anywhere, any change gives a new id, and an id already in the
//! repository is never rebuilt.

mod deps;
mod error;
mod execute;
mod extract;
mod layout;
mod plan;
mod remote;
mod sandbox;
mod source;
mod tree;
mod tree_hash;
mod version;

use std::collections::BTreeSet;

pub use error::Error;
pub use execute::{
    build, is_cached, resolve_sandbox, BuildOptions, Built, Status, RESERVED_UNIT_NAMES,
};
pub use layout::read_manifest;
pub use plan::{plan, BuildReport, Plan, PlanEntry, PlanReport, PlannedPackage};
pub use sandbox::SandboxMode;
pub use source::SourceCache;
pub use tree::{variant_name, PackageKey, PackageTree, Recipe, TreeSet};
pub use version::{VersionInputs, BUILDER};

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Whole trees: these tree variants (`None` = `treeinfo.json`). An
    /// empty list means every tree variant present (pkgpanda's default).
    Trees(Vec<Option<String>>),
    /// These packages (and their requires).
    Packages(Vec<PackageKey>),
}

/// The packages a selection names, before their requires are added.
pub fn roots(tree: &PackageTree, selection: &Selection) -> Result<BTreeSet<PackageKey>, Error> {
    match selection {
        Selection::Packages(keys) => {
            for key in keys {
                tree.recipe(key, None)?;
            }
            Ok(keys.iter().cloned().collect())
        }
        Selection::Trees(variants) => {
            let variants = if variants.is_empty() {
                let found = tree.tree_variants()?;
                if found.is_empty() {
                    vec![None]
                } else {
                    found
                }
            } else {
                variants.clone()
            };
            let mut all = BTreeSet::new();
            for variant in &variants {
                all.extend(tree.tree_set(variant.as_deref())?.all);
            }
            Ok(all)
        }
    }
}
