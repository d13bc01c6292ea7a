//! `status` and `verify`: what is active and whether it is whole.
//!
//! Healthy means: `current` names a generation whose `generation.json`
//! reads, the fixed top-level links point through `current`, `active/`
//! names exactly the recorded packages, every link of the farm resolves,
//! the files pkg-activate wrote still hash as recorded, and the unit copies
//! match. `verify` also checks each active package against the manifest
//! host-extract verified it with (`packages/.manifests/<id>.json`, tree
//! hash): under tree folding a write into `<root>/etc/<pkg>/` lands inside
//! the immutable package, and this is where it shows.
//!
//! Overrides (emergency changes, docs/emergency.md): the install and upgrade
//! script records the cluster's set, the bundle's and the config packages'
//! ids, in `<config-dir>/setup-flags/cluster-package-ids` (one id per
//! line). An active package not in that set is an override (a package
//! swapped in by hand), reported until the host is back on the cluster's
//! set (rollback or the next upgrade). Without the file the set is
//! unknown: `cluster_set` false and `overrides` null.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tarmac_model::PackageId;

use crate::error::Result;
use crate::generation::{self, GenerationRecord};
use crate::paths::{HostPaths, FIXED_LINKS};
use crate::plan::{self, WELL_KNOWN};
use crate::services::{services, Services};
use crate::switch::{lock_for_reading, Options};

/// The `format` of the `status --json` document.
pub const STATUS_FORMAT: u32 = 1;

/// `pkg-activate status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub format: u32,
    pub root: PathBuf,
    /// The generation `current` points at; null when nothing was activated.
    pub current: Option<u64>,
    /// Active package ids, sorted.
    pub packages: Vec<PackageId>,
    /// `<config-dir>/setup-flags/cluster-package-ids` was read: the
    /// cluster's set (bundle and config packages) is known.
    pub cluster_set: bool,
    /// Active package ids not in the cluster's set (emergency changes),
    /// sorted; null when the set is unknown (`cluster_set` false).
    pub overrides: Option<Vec<PackageId>>,
    pub roles: Vec<String>,
    pub folded: Option<bool>,
    pub units: Vec<String>,
    pub generations: Vec<GenerationSummary>,
    /// The host lock was held by another process, or could not be taken
    /// (read-only root, unprivileged user), so recovery was skipped.
    pub locked: bool,
    /// The current generation is whole (see the module doc).
    pub healthy: bool,
    /// One line per problem of the current generation, path first.
    pub problems: Vec<String>,
    /// Other generations whose `generation.json` does not read (they
    /// cannot be rolled back to); one line each.
    pub damaged: Vec<String>,
    /// What systemd says of the units the current generation wants: a
    /// verdict separate from `healthy`, which is about integrity only.
    pub services: Services,
}

#[derive(Debug, Clone, Serialize)]
pub struct GenerationSummary {
    pub generation: u64,
    pub packages: usize,
    pub folded: bool,
    pub current: bool,
}

impl Status {
    /// `verify`'s verdict: unhealthy is an error (exit 4) naming the first
    /// problem and how many there are.
    pub fn verdict(&self) -> Result<()> {
        match self.problems.first() {
            Some(first) => Err(crate::Error::Unhealthy {
                count: self.problems.len(),
                first: first.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// Reports the active generation and its health (after recovering, unless
/// another process holds the lock).
pub fn status(host: &HostPaths, options: &Options) -> Result<Status> {
    inspect(host, options, false)
}

/// [`status`] plus a re-walk of every active package's well-known dirs.
pub fn verify(host: &HostPaths, options: &Options) -> Result<Status> {
    inspect(host, options, true)
}

fn inspect(host: &HostPaths, options: &Options, deep: bool) -> Result<Status> {
    let (_lock, locked) = lock_for_reading(host, options)?;
    let current = generation::current(host)?;
    let mut status = Status {
        format: STATUS_FORMAT,
        root: host.root.clone(),
        current,
        packages: Vec::new(),
        cluster_set: false,
        overrides: None,
        roles: Vec::new(),
        folded: None,
        units: Vec::new(),
        generations: Vec::new(),
        locked,
        healthy: true,
        problems: Vec::new(),
        damaged: Vec::new(),
        services: services(&[], false),
    };
    for n in generation::list(host)? {
        match GenerationRecord::read(&host.generation(n)) {
            Ok(record) => status.generations.push(GenerationSummary {
                generation: n,
                packages: record.packages.len(),
                folded: record.folded,
                current: Some(n) == current,
            }),
            Err(e) if Some(n) != current => status.damaged.push(e.to_string()),
            Err(_) => {} // reported below, as a problem of the current one
        }
    }
    if let Some(n) = current {
        match GenerationRecord::read(&host.generation(n)) {
            Ok(record) => {
                check(
                    host,
                    n,
                    &record,
                    deep && !locked,
                    !locked,
                    &mut status.problems,
                );
                status.packages = record.packages;
                status.roles = record.roles;
                status.folded = Some(record.folded);
                status.units = record.units.into_keys().collect();
            }
            Err(e) => status.problems.push(e.to_string()),
        }
    }
    match cluster_set(host) {
        Ok(Some(set)) => {
            status.cluster_set = true;
            status.overrides = Some(
                status
                    .packages
                    .iter()
                    .filter(|id| !set.contains(*id))
                    .cloned()
                    .collect(),
            );
        }
        Ok(None) => {}
        Err(problem) => status.problems.push(problem),
    }
    status.healthy = status.problems.is_empty();
    status.services = services(&status.units, options.systemctl);
    Ok(status)
}

/// The cluster's set from `<config-dir>/setup-flags/cluster-package-ids`:
/// `None` when there is no config dir or no such file; a file that does not
/// read or holds something that is not a package id is a problem (one
/// line, path first).
fn cluster_set(host: &HostPaths) -> std::result::Result<Option<BTreeSet<PackageId>>, String> {
    let Some(file) = host.cluster_package_ids() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    let mut set = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        for word in line.split_whitespace() {
            let id = PackageId::parse(word).map_err(|e| {
                format!(
                    "{}: line {}: {word:?} is not a package id: {e}",
                    file.display(),
                    n + 1
                )
            })?;
            set.insert(id);
        }
    }
    Ok(Some(set))
}

fn check(
    host: &HostPaths,
    n: u64,
    record: &GenerationRecord,
    deep: bool,
    units: bool,
    problems: &mut Vec<String>,
) {
    let dir = host.generation(n);
    if record.generation != n {
        problems.push(format!(
            "{}: records generation {}",
            dir.join(generation::RECORD_FILE).display(),
            record.generation
        ));
    }
    for name in FIXED_LINKS {
        let link = host.root.join(name);
        let expected = Path::new("current").join(name);
        match std::fs::read_link(&link) {
            Ok(target) if target == expected => {}
            Ok(target) => problems.push(format!(
                "{}: points at {}",
                link.display(),
                target.display()
            )),
            Err(e) => problems.push(format!("{}: {e}", link.display())),
        }
    }
    // active/ names exactly the recorded packages.
    let active = dir.join("active");
    let mut names: Vec<String> = std::fs::read_dir(&active)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut expected: Vec<String> = record
        .packages
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    expected.sort();
    if names != expected {
        problems.push(format!(
            "{}: holds {names:?}, recorded {expected:?}",
            active.display()
        ));
    }
    for id in &record.packages {
        let link = active.join(id.name());
        let target = host.package(&id.to_string());
        if !std::fs::read_link(&link).is_ok_and(|t| t == target) {
            problems.push(format!(
                "{}: does not point at {}",
                link.display(),
                target.display()
            ));
        }
        if !target.is_dir() {
            problems.push(format!("{}: package directory missing", target.display()));
        }
    }
    for (rel, hash) in &record.files {
        let path = dir.join(rel);
        match std::fs::read(&path) {
            Ok(bytes) if blake3::hash(&bytes).to_hex().as_str() == hash => {}
            Ok(_) => problems.push(format!(
                "{}: content differs from generation.json",
                path.display()
            )),
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
    let mut links = 0;
    for top in WELL_KNOWN {
        walk_links(&dir.join(top), &mut links, problems);
    }
    if links != record.links {
        problems.push(format!(
            "{}: {links} links in the farm, generation.json records {}",
            dir.display(),
            record.links
        ));
    }
    if units {
        // The dir the units were synced into, which recovery keeps whole;
        // a run that names another dir does not make them missing.
        let recorded = crate::units::recorded_dir(&host.installed_units())
            .ok()
            .flatten();
        if let Some(systemd_dir) = host
            .systemd_dir
            .as_ref()
            .map(|d| recorded.as_ref().unwrap_or(d))
        {
            for (name, src) in &record.units {
                let copy = systemd_dir.join(name);
                let same = std::fs::read(src)
                    .ok()
                    .zip(std::fs::read(&copy).ok())
                    .is_some_and(|(a, b)| a == b);
                if !same {
                    problems.push(format!(
                        "{}: not a copy of {}",
                        copy.display(),
                        src.display()
                    ));
                }
                let wants = systemd_dir.join(plan::UNIT_DIR).join(name);
                if !std::fs::read_link(&wants).is_ok_and(|t| t == Path::new("..").join(name)) {
                    problems.push(format!("{}: does not point at ../{name}", wants.display()));
                }
            }
        }
    }
    if deep {
        for id in &record.packages {
            check_package(host, id, problems);
        }
    }
}

/// Compares a package with the manifest host-extract verified it against
/// (`packages/.manifests/<id>.json`): the tree hash covers names, types,
/// modes, symlink targets and content, so a file written into the package
/// through a folded link (or changed in place) shows here.
fn check_package(host: &HostPaths, id: &PackageId, problems: &mut Vec<String>) {
    let dir = host.package(&id.to_string());
    let file = host
        .packages()
        .join(".manifests")
        .join(format!("{id}.json"));
    let manifest: tarmac_model::PackageManifest = match std::fs::read(&file) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(manifest) => manifest,
            Err(e) => return problems.push(format!("{}: {e}", file.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return problems.push(format!(
                "{}: no manifest to verify the package against (not extracted by host-extract?)",
                file.display()
            ))
        }
        Err(e) => return problems.push(format!("{}: {e}", file.display())),
    };
    match tarmac_archive::tree_hash(&dir) {
        Ok(digest) if digest.hash == manifest.tree_hash => {}
        Ok(digest) => problems.push(format!(
            "{}: contents differ from {} ({} entries, {} declared); \
             something wrote into the package, through a folded link?",
            dir.display(),
            file.display(),
            digest.files,
            manifest.files
        )),
        Err(e) => problems.push(format!("{}: {e}", dir.display())),
    }
}

/// Counts the symlinks under `dir` (not following them) and reports each
/// one that does not resolve.
fn walk_links(dir: &Path, links: &mut u64, problems: &mut Vec<String>) {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) => {
            problems.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    for entry in read.flatten() {
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_symlink() {
            *links += 1;
            if std::fs::metadata(&path).is_err() {
                let target = std::fs::read_link(&path).unwrap_or_default();
                problems.push(format!(
                    "{}: dangling link to {}",
                    path.display(),
                    target.display()
                ));
            }
        } else if file_type.is_dir() {
            walk_links(&path, links, problems);
        }
    }
}

impl tarmac_model::TextLines for Status {
    fn text_lines(&self) -> Vec<String> {
        let mut lines = vec![match self.current {
            Some(n) => format!("generation {n}"),
            None => "generation none".to_string(),
        }];
        lines.extend(self.packages.iter().map(|p| format!("package {p}")));
        lines.extend(self.roles.iter().map(|r| format!("role {r}")));
        lines.push(format!("cluster-set {}", self.cluster_set));
        lines.extend(
            self.overrides
                .iter()
                .flatten()
                .map(|id| format!("override {id}")),
        );
        lines.push(format!("healthy {}", self.healthy));
        lines.extend(self.problems.iter().map(|p| format!("problem {p}")));
        let services = &self.services;
        lines.push(format!("services {}", services.verdict));
        lines.extend(services.units.iter().map(|u| {
            format!(
                "unit {} {}/{} since {}",
                u.unit, u.active_state, u.sub_state, u.since
            )
        }));
        lines.extend(services.error.iter().map(|e| format!("services-error {e}")));
        lines
    }
}
