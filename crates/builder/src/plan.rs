//! Planning: the build order of a set of packages and the id each one gets,
//! computed without building and without network.
//!
//! The order is pkgpanda's (`build_tree`): roots sorted, each package after
//! its requires (visited sorted, depth first). Because a version depends
//! only on a package's own inputs and its dependencies' ids, every id is
//! known before the first build starts; a build only has to produce the
//! archive for it. Cycles and a closure holding two variants of one name are
//! refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use tarmac_model::PackageId;

use crate::error::Error;
use crate::source::{pin, PinnedSource};
use crate::tree::{variant_name, PackageKey, PackageTree, Recipe};
use crate::tree_hash::tree_hash;
use crate::version::{VersionInputs, BUILDER};

/// One package of a plan.
#[derive(Debug, Clone)]
pub struct PlannedPackage {
    pub key: PackageKey,
    pub id: PackageId,
    pub recipe: Recipe,
    pub inputs: VersionInputs,
    pub sources: Vec<PinnedSource>,
    /// The build script, if the package has one.
    pub build_script: Option<PathBuf>,
    /// The package's `extra/` directory, if any.
    pub extra: Option<PathBuf>,
    /// Direct dependencies: indices into [`Plan::packages`] (all earlier).
    pub deps: Vec<usize>,
    /// Every package of the dependency closure, sorted by id.
    pub closure: Vec<PackageId>,
}

/// Packages in build order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub packages: Vec<PlannedPackage>,
}

/// Plans `roots` and everything they require.
pub fn plan(tree: &PackageTree, roots: &BTreeSet<PackageKey>) -> Result<Plan, Error> {
    let mut planner = Planner {
        tree,
        plan: Plan::default(),
        index: BTreeMap::new(),
        visiting: Vec::new(),
    };
    for root in roots {
        if !planner.index.contains_key(root) {
            planner.visit(root, None)?;
        }
    }
    Ok(planner.plan)
}

struct Planner<'a> {
    tree: &'a PackageTree,
    plan: Plan,
    index: BTreeMap<PackageKey, usize>,
    /// The current DFS path, for cycle messages.
    visiting: Vec<PackageKey>,
}

impl Planner<'_> {
    fn visit(&mut self, key: &PackageKey, required_by: Option<&Recipe>) -> Result<usize, Error> {
        let recipe = self
            .tree
            .recipe(key, required_by.map(|r| r.file.as_path()))?
            .clone();
        self.visiting.push(key.clone());
        let mut requires: Vec<PackageKey> = recipe
            .info
            .requires
            .iter()
            .map(|r| PackageKey::new(&r.name, r.variant.as_deref()))
            .collect();
        requires.sort();
        requires.dedup();
        let mut deps = Vec::new();
        for dep in &requires {
            if let Some(&i) = self.index.get(dep) {
                deps.push(i);
                continue;
            }
            if self.visiting.contains(dep) {
                let mut cycle: Vec<String> = self
                    .visiting
                    .iter()
                    .skip_while(|k| *k != dep)
                    .map(ToString::to_string)
                    .collect();
                cycle.push(dep.to_string());
                return Err(Error::Tree {
                    file: recipe.file.clone(),
                    reason: format!("dependency cycle: {}", cycle.join(" -> ")),
                });
            }
            deps.push(self.visit(dep, Some(&recipe))?);
        }
        self.visiting.pop();

        // The closure: direct deps and their closures; one variant per name.
        let mut by_name: BTreeMap<String, (PackageKey, PackageId)> = BTreeMap::new();
        for &i in &deps {
            let dep = &self.plan.packages[i];
            let mut members = vec![(dep.key.clone(), dep.id.clone())];
            for id in &dep.closure {
                let j = self.index_of_id(id);
                members.push((self.plan.packages[j].key.clone(), id.clone()));
            }
            for (member_key, member_id) in members {
                if let Some((seen, _)) = by_name.get(&member_key.name) {
                    if *seen != member_key {
                        return Err(Error::Tree {
                            file: recipe.file.clone(),
                            reason: format!(
                                "depends on two variants of {}: {} and {}",
                                member_key.name,
                                variant_name(seen.variant.as_deref()),
                                variant_name(member_key.variant.as_deref())
                            ),
                        });
                    }
                }
                by_name.insert(member_key.name.clone(), (member_key, member_id));
            }
        }
        let mut closure: Vec<PackageId> = by_name.into_values().map(|(_, id)| id).collect();
        closure.sort();

        let planned = plan_one(recipe, deps, closure)?;
        let i = self.plan.packages.len();
        self.index.insert(key.clone(), i);
        self.plan.packages.push(planned);
        Ok(i)
    }

    fn index_of_id(&self, id: &PackageId) -> usize {
        self.plan
            .packages
            .iter()
            .position(|p| &p.id == id)
            .expect("closure members are planned before their dependents")
    }
}

/// Computes the version inputs of one package whose dependencies are planned.
fn plan_one(
    recipe: Recipe,
    deps: Vec<usize>,
    closure: Vec<PackageId>,
) -> Result<PlannedPackage, Error> {
    let key = recipe.key.clone();
    let mut sources = Vec::new();
    let mut pins = BTreeMap::new();
    for (name, spec) in recipe.info.named_sources(&key.name) {
        let pinned = pin(&name, &spec, &recipe.dir)?;
        pins.insert(name, pinned.pin.clone());
        sources.push(pinned);
    }
    let script_path = recipe
        .dir
        .join(recipe.info.build_script_path(key.variant.as_deref()));
    let (build_script, build_script_hash) = match std::fs::read(&script_path) {
        Ok(bytes) => (
            Some(script_path),
            Some(blake3::hash(&bytes).to_hex().to_string()),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
        Err(e) => return Err(tarmac_fs::FsError::new("read", &script_path, e).into()),
    };
    let extra_dir = recipe.dir.join("extra");
    let (extra, extra_hash) = if extra_dir.is_dir() {
        let hash = tree_hash(&extra_dir, &[])?;
        (Some(extra_dir), Some(hash))
    } else {
        (None, None)
    };
    let inputs = VersionInputs {
        builder: BUILDER.to_string(),
        name: key.name.clone(),
        variant: key.variant.clone(),
        buildinfo: recipe.info.to_json(),
        build_script: build_script_hash,
        extra: extra_hash,
        sources: pins,
        requires: closure.iter().map(ToString::to_string).collect(),
    };
    let id = inputs.package_id();
    Ok(PlannedPackage {
        key,
        id,
        recipe,
        inputs,
        sources,
        build_script,
        extra,
        deps,
        closure,
    })
}

/// One package of `pkg-build --plan --json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanEntry {
    pub id: String,
    pub name: String,
    pub variant: Option<String>,
    /// The ids of its whole dependency closure.
    pub requires: Vec<String>,
    /// Its archive and manifest are already in the repository.
    pub cached: bool,
}

/// `pkg-build --plan --json`: the packages in build order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanReport {
    pub format: u32,
    pub packages: Vec<PlanEntry>,
}

impl Plan {
    /// The plan as `--plan --json` prints it, `cached` read from `repo`.
    pub fn report(&self, repo: &std::path::Path) -> PlanReport {
        PlanReport {
            format: 1,
            packages: self
                .packages
                .iter()
                .map(|p| PlanEntry {
                    id: p.id.to_string(),
                    name: p.key.name.clone(),
                    variant: p.key.variant.clone(),
                    requires: p.closure.iter().map(ToString::to_string).collect(),
                    cached: crate::execute::is_cached(repo, &p.id),
                })
                .collect(),
        }
    }
}

/// `pkg-build --json`: what each package of the plan became.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuildReport {
    pub format: u32,
    pub packages: Vec<crate::execute::Built>,
}

impl BuildReport {
    pub fn new(packages: Vec<crate::execute::Built>) -> BuildReport {
        BuildReport {
            format: 1,
            packages,
        }
    }
}
