//! The switch protocol (docs/architecture.md § Host layout): validate, build
//! `generations/.staging-<n>`, syncfs, rename to `generations/<n>`, then
//! rename a new `current` over the old one (the commit), then sync units.
//! Rollback is the same switch to an existing generation; gc removes
//! generations and packages nothing kept refers to.
//!
//! Invariant: nothing outside `generations/.staging-<n>` changes before
//! validation has passed, and `current` always names a complete generation.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tarmac_fs::{HostLock, LockWait};
use tarmac_model::{PackageId, Reporter};

use crate::error::{Error, Result};
use crate::failpoint;
use crate::generation::{self, GenerationRecord, STAGING_PREFIX};
use crate::package;
use crate::paths::{HostPaths, FIXED_LINKS};
use crate::plan;
use crate::units::{self, UnitChanges};
use crate::users;

/// How an operation behaves (every path is in [`HostPaths`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Tree folding (default); false lays out pkgpanda's per-file farm.
    pub fold: bool,
    /// Run systemctl (stop removed units, daemon-reload, start dcos.target).
    pub systemctl: bool,
    /// Wait for the host lock instead of failing with exit 5.
    pub wait: LockWait,
    /// Generations kept after an activation (current and previous always are).
    pub keep: usize,
    /// syncfs the new generation before the commit. A host needs it; a
    /// throw-away root (a build sandbox) may skip it: syncfs flushes the
    /// whole filesystem, including everything else being written to it.
    pub durable: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fold: true,
            systemctl: false,
            wait: LockWait::NoWait,
            keep: 10,
            durable: true,
        }
    }
}

/// The result of a switch (activate, swap, rollback).
#[derive(Debug, Clone, Serialize)]
pub struct Switched {
    pub format: u32,
    pub generation: u64,
    pub previous: Option<u64>,
    pub packages: Vec<PackageId>,
    pub folded: bool,
    pub links: u64,
    pub units: UnitChanges,
    /// Generations removed by the automatic prune (`Options::keep`).
    pub pruned: Vec<u64>,
}

/// What [`recover`] repaired.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recovered {
    pub format: u32,
    /// Staging or trash directories removed.
    pub removed: Vec<PathBuf>,
    /// Fixed top-level links (re)made.
    pub links: Vec<String>,
    pub units: UnitChanges,
    pub current: Option<u64>,
}

/// What [`gc`] removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Collected {
    pub format: u32,
    pub generations: Vec<u64>,
    pub packages: Vec<PackageId>,
}

impl tarmac_model::TextLines for Switched {
    /// The new generation number.
    fn text_lines(&self) -> Vec<String> {
        vec![self.generation.to_string()]
    }
}

impl tarmac_model::TextLines for Recovered {
    fn text_lines(&self) -> Vec<String> {
        let removed = self
            .removed
            .iter()
            .map(|p| format!("removed {}", p.display()));
        let copied = self.units.copied.iter().map(|u| format!("unit copied {u}"));
        let unlinked = self
            .units
            .removed
            .iter()
            .map(|u| format!("unit removed {u}"));
        removed.chain(copied).chain(unlinked).collect()
    }
}

impl tarmac_model::TextLines for Collected {
    fn text_lines(&self) -> Vec<String> {
        let generations = self.generations.iter().map(|n| format!("generation {n}"));
        let packages = self.packages.iter().map(|p| format!("package {p}"));
        generations.chain(packages).collect()
    }
}

/// For commands that only read: takes the lock and recovers when the lock
/// is free; when another process holds it, or the lock file cannot be
/// opened for writing (a read-only root, a user who may only look), reads
/// without recovering (the commit point is atomic, so what `current` names
/// is whole) and says so.
pub(crate) fn lock_for_reading(
    host: &HostPaths,
    options: &Options,
) -> Result<(Option<HostLock>, bool)> {
    match HostLock::acquire(&host.lock(), options.wait) {
        Ok(lock) => {
            recover_locked(host, options)?;
            Ok((Some(lock), false))
        }
        Err(tarmac_fs::LockError::Held { .. }) => Ok((None, true)),
        Err(tarmac_fs::LockError::Fs(e)) if may_only_read(&e) => Ok((None, true)),
        Err(e) => Err(e.into()),
    }
}

/// The lock file cannot be written here, but the tree can still be read.
fn may_only_read(error: &tarmac_fs::FsError) -> bool {
    matches!(
        error.source.raw_os_error(),
        Some(nix::libc::EROFS | nix::libc::EACCES | nix::libc::EPERM)
    )
}

/// Takes the host lock and repairs whatever an interrupted run left.
pub(crate) fn lock_and_recover(
    host: &HostPaths,
    options: &Options,
) -> Result<(HostLock, Recovered)> {
    let lock = HostLock::acquire(&host.lock(), options.wait)?;
    let recovered = recover_locked(host, options)?;
    Ok((lock, recovered))
}

/// Repairs what an interrupted run left: removes staging and trash
/// directories, re-makes the fixed links, finishes the unit sync.
pub fn recover(host: &HostPaths, options: &Options) -> Result<Recovered> {
    Ok(lock_and_recover(host, options)?.1)
}

pub(crate) fn recover_locked(host: &HostPaths, options: &Options) -> Result<Recovered> {
    let mut recovered = Recovered {
        format: 1,
        ..Recovered::default()
    };
    for (dir, prefixes) in [
        (host.generations(), &[STAGING_PREFIX, ".trash-"][..]),
        (host.packages(), &[".removing-"][..]),
        (host.root.clone(), &[".installed-units.json.tmp."][..]),
    ] {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // replace_symlink's temporaries are `.<name>.new.<pid>`.
            let link_temp = FIXED_LINKS
                .iter()
                .chain(&["current"])
                .any(|l| name.starts_with(&format!(".{l}.new.")));
            if prefixes.iter().any(|p| name.starts_with(p)) || (dir == host.root && link_temp) {
                tarmac_fs::remove_all(&entry.path())?;
                recovered.removed.push(entry.path());
            }
        }
    }
    if !recovered.removed.is_empty() {
        tarmac_fs::syncfs(&host.root)?;
    }
    // A damaged `current` (pointing nowhere sensible, or at a generation
    // without a readable record) must not block the command that repairs it
    // (rollback, activate): recovery skips what it cannot know, and status
    // reports the damage.
    recovered.current = generation::current(host).ok().flatten();
    let record = recovered
        .current
        .and_then(|n| GenerationRecord::read(&host.generation(n)).ok());
    if let Some(record) = record {
        recovered.links = ensure_fixed_links(host)?;
        // Finish a unit sync only in the dir the units went to: a run that
        // names another (often just the default) is not the host's owner.
        let recorded = units::recorded_dir(&host.installed_units())?;
        let systemd_dir = host
            .systemd_dir
            .as_ref()
            .filter(|dir| recorded.as_ref().is_none_or(|r| r == *dir));
        if let Some(systemd_dir) = systemd_dir {
            recovered.removed.extend(units::remove_temporaries(
                systemd_dir,
                &host.installed_units(),
                &record.units,
            )?);
            recovered.units = units::sync(
                systemd_dir,
                &host.installed_units(),
                &record.units,
                options.systemctl,
            )?;
        }
    }
    Ok(recovered)
}

/// Refuses a root whose fixed link names are taken by something else
/// (e.g. a pkgpanda install): checked before any change.
fn check_fixed_links(host: &HostPaths) -> Result<()> {
    for name in FIXED_LINKS.iter().chain(&["current"]) {
        let path = host.root.join(name);
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            if !meta.file_type().is_symlink() {
                return Err(Error::NotTarmacLayout { path });
            }
        }
    }
    Ok(())
}

/// Makes `<root>/<name> -> current/<name>` for each fixed name; returns
/// the names it had to (re)make.
fn ensure_fixed_links(host: &HostPaths) -> Result<Vec<String>> {
    let mut made = Vec::new();
    for name in FIXED_LINKS {
        let link = host.root.join(name);
        let target = Path::new("current").join(name);
        if std::fs::read_link(&link).is_ok_and(|t| t == target) {
            continue;
        }
        if std::fs::symlink_metadata(&link).is_ok_and(|m| !m.file_type().is_symlink()) {
            return Err(Error::NotTarmacLayout { path: link });
        }
        tarmac_fs::replace_symlink(&target, &link)?;
        made.push(name.to_string());
    }
    Ok(made)
}

/// Parses ids given on a command line, refusing bad and repeated ones.
fn parse_ids(ids: &[String]) -> Result<Vec<PackageId>> {
    let mut seen = BTreeSet::new();
    let mut parsed = Vec::new();
    for id in ids {
        let package_id = PackageId::parse(id)?;
        if !seen.insert(id.clone()) {
            return Err(Error::RepeatedId { id: id.clone() });
        }
        parsed.push(package_id);
    }
    Ok(parsed)
}

/// Activates exactly `ids` (an empty list is valid and yields an empty
/// farm). `roles` are the host's roles (see `roles_from_config_dir`).
///
/// This is also what a build sandbox calls to activate dependency packages
/// into a temporary root: pass [`HostPaths::bare`] (no systemd, users or
/// state directories) and `Options { durable: false, ..Default::default() }`;
/// the result is `<root>/bin`, `<root>/lib`, ... and `<root>/environment`
/// exactly as on a host.
pub fn activate(
    host: &HostPaths,
    ids: &[String],
    roles: &[String],
    options: &Options,
    reporter: &dyn Reporter,
) -> Result<Switched> {
    let ids = parse_ids(ids)?;
    let (_lock, _) = lock_and_recover(host, options)?;
    activate_locked(host, &ids, roles, options, reporter)
}

/// Replaces the active package named like `id` by `id` (pkgpanda `swap`).
pub fn swap(
    host: &HostPaths,
    id: &str,
    roles: &[String],
    options: &Options,
    reporter: &dyn Reporter,
) -> Result<Switched> {
    let new_id = PackageId::parse(id)?;
    let (_lock, _) = lock_and_recover(host, options)?;
    let n = generation::current(host)?.ok_or_else(|| Error::NoCurrent {
        root: host.root.clone(),
    })?;
    let record = GenerationRecord::read(&host.generation(n))?;
    if !record.packages.iter().any(|p| p.name() == new_id.name()) {
        return Err(Error::SwapNotActive {
            name: new_id.name().to_string(),
        });
    }
    let ids: Vec<PackageId> = record
        .packages
        .iter()
        .map(|p| {
            if p.name() == new_id.name() {
                new_id.clone()
            } else {
                p.clone()
            }
        })
        .collect();
    activate_locked(host, &ids, roles, options, reporter)
}

fn activate_locked(
    host: &HostPaths,
    ids: &[PackageId],
    roles: &[String],
    options: &Options,
    reporter: &dyn Reporter,
) -> Result<Switched> {
    reporter.step("validate");
    let mut packages = Vec::with_capacity(ids.len());
    for id in ids {
        packages.push(package::load(host, id)?);
    }
    let plan = plan::plan(packages, roles, options.fold)?;
    let buildinfo = crate::farm::collect_buildinfo(&plan)?;
    let user_plan = match &host.user_db_root {
        Some(prefix) => Some(users::check(
            &plan.packages,
            prefix,
            host.manual_host_users().as_deref(),
        )?),
        None => None,
    };
    check_fixed_links(host)?;
    reporter.finish_step();

    // Validation passed: from here on the host changes.
    if let (Some(user_plan), Some(prefix)) = (&user_plan, &host.user_db_root) {
        users::apply(user_plan, prefix)?;
    }
    if let Some(state_root) = &host.state_dir_root {
        users::make_state_dirs(&plan.packages, state_root, host.user_db_root.as_deref())?;
    }

    reporter.step("build");
    let previous = generation::current(host)?;
    let n = generation::list(host)?
        .last()
        .copied()
        .unwrap_or(0)
        .max(previous.unwrap_or(0))
        + 1;
    tarmac_fs::create_dir_all(&host.generations())?;
    let staging = host.generations().join(format!("{STAGING_PREFIX}{n}"));
    let built = crate::farm::build(&plan, &host.root, &staging, n, options.fold, &buildinfo);
    let record = match built {
        Ok(record) => record,
        Err(e) => {
            let _ = tarmac_fs::remove_all(&staging);
            return Err(e);
        }
    };
    failpoint::hit("before-sync");
    // One syncfs instead of an fsync per file (docs/architecture.md: unaffordable at 100k).
    if options.durable {
        tarmac_fs::syncfs(&staging)?;
    }
    failpoint::hit("before-rename");
    tarmac_fs::rename(&staging, &host.generation(n))?;
    tarmac_fs::fsync_dir(&host.generations())?;
    reporter.finish_step();

    let (units, pruned) = commit(host, n, &record, options, reporter)?;
    Ok(Switched {
        format: 1,
        generation: n,
        previous,
        packages: record.packages,
        folded: record.folded,
        links: record.links,
        units,
        pruned,
    })
}

/// The commit and what follows it: fixed links, `current`, units, prune.
fn commit(
    host: &HostPaths,
    n: u64,
    record: &GenerationRecord,
    options: &Options,
    reporter: &dyn Reporter,
) -> Result<(UnitChanges, Vec<u64>)> {
    reporter.step("switch");
    ensure_fixed_links(host)?;
    failpoint::hit("before-commit");
    tarmac_fs::replace_symlink(&generation::current_target(n), &host.current())?;
    failpoint::hit("after-commit");
    reporter.finish_step();
    let units = match &host.systemd_dir {
        Some(systemd_dir) => {
            reporter.step("units");
            let changes = units::sync(
                systemd_dir,
                &host.installed_units(),
                &record.units,
                options.systemctl,
            )?;
            // pkgpanda leaves the wants directory after every activation,
            // also when no unit is wanted; dcos.target and operators use it.
            units::ensure_wants_dir(systemd_dir)?;
            reporter.finish_step();
            changes
        }
        None => UnitChanges::default(),
    };
    let pruned = prune(host, options.keep)?.generations;
    Ok((units, pruned))
}

/// Switches back to generation `to`, or to the newest one older than
/// `current`. Offline: the generation and its packages are on disk.
pub fn rollback(
    host: &HostPaths,
    to: Option<u64>,
    options: &Options,
    reporter: &dyn Reporter,
) -> Result<Switched> {
    let (_lock, _) = lock_and_recover(host, options)?;
    let current = generation::current(host)?;
    let target = match to {
        Some(n) => n,
        None => {
            let current = current.ok_or_else(|| Error::NoCurrent {
                root: host.root.clone(),
            })?;
            previous_of(host, current)?.ok_or_else(|| Error::NoPrevious {
                root: host.root.clone(),
            })?
        }
    };
    let dir = host.generation(target);
    if !dir.is_dir() {
        return Err(Error::NoGeneration { path: dir });
    }
    let record = GenerationRecord::read(&dir)?;
    for id in &record.packages {
        let path = host.package(&id.to_string());
        if !path.is_dir() {
            return Err(Error::PackageMissing { path });
        }
    }
    check_fixed_links(host)?;
    let (units, pruned) = commit(
        host,
        target,
        &record,
        &Options {
            keep: usize::MAX,
            ..options.clone()
        },
        reporter,
    )?;
    Ok(Switched {
        format: 1,
        generation: target,
        previous: current,
        packages: record.packages,
        folded: record.folded,
        links: record.links,
        units,
        pruned,
    })
}

/// The newest complete generation older than `n`.
fn previous_of(host: &HostPaths, n: u64) -> Result<Option<u64>> {
    Ok(generation::list(host)?.into_iter().rfind(|g| *g < n))
}

/// Removes all but the newest `keep` generations (never current or its
/// predecessor), then every package no remaining generation uses.
pub fn gc(host: &HostPaths, keep: usize, options: &Options) -> Result<Collected> {
    let (_lock, _) = lock_and_recover(host, options)?;
    let mut collected = prune(host, keep)?;
    let mut used = BTreeSet::new();
    for n in generation::list(host)? {
        used.extend(GenerationRecord::read(&host.generation(n))?.packages);
    }
    let Ok(read) = std::fs::read_dir(host.packages()) else {
        return Ok(collected);
    };
    let mut unused = Vec::new();
    for entry in read.flatten() {
        if let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(|s| PackageId::parse(s).ok())
        {
            if !used.contains(&id) && entry.path().is_dir() {
                unused.push(id);
            }
        }
    }
    unused.sort();
    for id in unused {
        remove_package_dir(host, &id)?;
        collected.packages.push(id);
    }
    Ok(collected)
}

/// Moves `packages/<id>` out of the way with one rename, then deletes it:
/// a package is either whole or absent.
pub(crate) fn remove_package_dir(host: &HostPaths, id: &PackageId) -> Result<()> {
    let path = host.package(&id.to_string());
    let trash = host.packages().join(format!(".removing-{id}"));
    tarmac_fs::rename(&path, &trash)?;
    // host-extract's record of what the package was verified against.
    tarmac_fs::remove_all(
        &host
            .packages()
            .join(".manifests")
            .join(format!("{id}.json")),
    )?;
    tarmac_fs::fsync_dir(&host.packages())?;
    failpoint::hit("remove-renamed");
    tarmac_fs::remove_all(&trash)?;
    Ok(())
}

fn prune(host: &HostPaths, keep: usize) -> Result<Collected> {
    let mut collected = Collected {
        format: 1,
        ..Collected::default()
    };
    let all = generation::list(host)?;
    let current = generation::current(host)?;
    let previous = match current {
        Some(c) => previous_of(host, c)?,
        None => None,
    };
    let newest: BTreeSet<u64> = all.iter().rev().take(keep).copied().collect();
    for n in all {
        if newest.contains(&n) || Some(n) == current || Some(n) == previous {
            continue;
        }
        let trash = host.generations().join(format!(".trash-{n}"));
        tarmac_fs::rename(&host.generation(n), &trash)?;
        tarmac_fs::fsync_dir(&host.generations())?;
        failpoint::hit("gc-renamed");
        tarmac_fs::remove_all(&trash)?;
        collected.generations.push(n);
    }
    Ok(collected)
}
