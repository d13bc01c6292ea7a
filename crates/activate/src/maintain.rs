//! The smaller commands: `active`, `list`, `remove`, `uninstall` (`check` is in checks.rs).

use std::path::PathBuf;

use serde::Serialize;
use tarmac_model::PackageId;

use crate::error::{Error, Result};
use crate::generation::{self, GenerationRecord};
use crate::paths::{HostPaths, FIXED_LINKS};
use crate::switch::{lock_and_recover, lock_for_reading, remove_package_dir, Options};
use crate::units;

/// `list --json`, `active --json`: package ids, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageIds {
    pub format: u32,
    pub packages: Vec<PackageId>,
}

/// `remove --json`: the ids removed from the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub format: u32,
    pub removed: Vec<PackageId>,
}

impl PackageIds {
    pub fn new(packages: Vec<PackageId>) -> PackageIds {
        PackageIds {
            format: 1,
            packages,
        }
    }
}

impl Removed {
    pub fn new(removed: Vec<PackageId>) -> Removed {
        Removed { format: 1, removed }
    }
}

impl tarmac_model::TextLines for PackageIds {
    fn text_lines(&self) -> Vec<String> {
        self.packages.iter().map(|p| p.to_string()).collect()
    }
}

impl tarmac_model::TextLines for Removed {
    fn text_lines(&self) -> Vec<String> {
        self.removed.iter().map(|p| p.to_string()).collect()
    }
}

/// The active package ids (of `current`), sorted; empty when nothing is.
pub fn active(host: &HostPaths, options: &Options) -> Result<Vec<PackageId>> {
    let _lock = lock_for_reading(host, options)?;
    match generation::current(host)? {
        Some(n) => Ok(GenerationRecord::read(&host.generation(n))?.packages),
        None => Ok(Vec::new()),
    }
}

/// The packages present in the repository (`<root>/packages/<id>/`), sorted.
pub fn list(host: &HostPaths, options: &Options) -> Result<Vec<PackageId>> {
    let _lock = lock_for_reading(host, options)?;
    let dir = host.packages();
    let read = match std::fs::read_dir(&dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(tarmac_fs::FsError::new("read directory", &dir, e).into()),
    };
    let mut ids: Vec<PackageId> = read
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|s| PackageId::parse(s).ok())
        })
        .collect();
    ids.sort();
    Ok(ids)
}

/// Removes packages from the repository. A package any generation uses is
/// refused (pkgpanda refuses the active ones; a kept generation must stay
/// able to roll back). Absent packages are skipped, as in pkgpanda.
pub fn remove(host: &HostPaths, ids: &[String], options: &Options) -> Result<Vec<PackageId>> {
    let mut parsed = Vec::new();
    for id in ids {
        parsed.push(PackageId::parse(id)?);
    }
    let (_lock, _) = lock_and_recover(host, options)?;
    let mut records = Vec::new();
    for n in generation::list(host)? {
        records.push(GenerationRecord::read(&host.generation(n))?);
    }
    for id in &parsed {
        let users: Vec<String> = records
            .iter()
            .filter(|r| r.packages.contains(id))
            .map(|r| r.generation.to_string())
            .collect();
        if !users.is_empty() {
            return Err(Error::PackageInUse {
                id: id.to_string(),
                generations: users.join(", "),
            });
        }
    }
    let mut removed = Vec::new();
    for id in parsed {
        if host.package(&id.to_string()).is_dir() {
            remove_package_dir(host, &id)?;
            removed.push(id);
        }
    }
    Ok(removed)
}

/// What the install script wrote outside the root, which `uninstall`
/// removes with `--purge` and otherwise reports as left.
#[derive(Debug, Clone)]
pub struct InstallLeftovers {
    /// `--config-dir`: its `roles/` and `setup-flags/` (other entries, such
    /// as an operator's `manual_host_users`, are never touched).
    pub config_dir: PathBuf,
    /// The directory the install script downloaded the host tools into.
    pub tools_dir: PathBuf,
}

impl InstallLeftovers {
    /// Those of its paths that exist.
    fn present(&self) -> Vec<PathBuf> {
        [
            self.config_dir.join("roles"),
            self.config_dir.join("setup-flags"),
            self.tools_dir.clone(),
        ]
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .collect()
    }
}

/// `pkg-activate uninstall` as a document (`--json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Uninstalled {
    pub format: u32,
    /// Paths removed, in order.
    pub removed: Vec<PathBuf>,
    /// Paths of the install that were kept: the install script's config
    /// entries and tools without `--purge`, and package state directories
    /// always (they hold the services' data).
    pub left: Vec<PathBuf>,
}

impl tarmac_model::TextLines for Uninstalled {
    fn text_lines(&self) -> Vec<String> {
        let removed = self
            .removed
            .iter()
            .map(|p| format!("removed {}", p.display()));
        let left = self.left.iter().map(|p| format!("left {}", p.display()));
        removed.chain(left).collect()
    }
}

/// Deactivates everything: removes the unit copies this tool installed and
/// `dcos.target`, then everything under the root except the lock file; with
/// `purge`, also the install script's config entries and tools. Reports
/// what it removed and what it left, so nothing is forgotten silently.
pub fn uninstall(
    host: &HostPaths,
    leftovers: &InstallLeftovers,
    purge: bool,
    options: &Options,
) -> Result<Uninstalled> {
    let (_lock, _) = lock_and_recover(host, options)?;
    let mut done = Uninstalled {
        format: 1,
        ..Uninstalled::default()
    };
    let remove = |path: PathBuf, done: &mut Uninstalled| -> Result<()> {
        if std::fs::symlink_metadata(&path).is_ok() {
            tarmac_fs::remove_all(&path)?;
            done.removed.push(path);
        }
        Ok(())
    };
    if let Some(systemd_dir) = &host.systemd_dir {
        let changes = units::sync(
            systemd_dir,
            &host.installed_units(),
            &Default::default(),
            options.systemctl,
        )?;
        done.removed
            .extend(changes.removed.iter().map(|unit| systemd_dir.join(unit)));
        remove(systemd_dir.join("dcos.target"), &mut done)?;
        // dcos_install.sh's boot-time repair (docs/host-layout.md): with
        // nothing left to repair it would only fail at each boot once the
        // tools go.
        remove(
            systemd_dir.join("basic.target.wants/tarmac-recover.service"),
            &mut done,
        )?;
        remove(systemd_dir.join("tarmac-recover.service"), &mut done)?;
    }
    // The commit point first: from here on nothing is active.
    remove(host.current(), &mut done)?;
    tarmac_fs::fsync_dir(&host.root)?;
    for name in FIXED_LINKS {
        remove(host.root.join(name), &mut done)?;
    }
    if let Ok(read) = std::fs::read_dir(&host.root) {
        let mut entries: Vec<PathBuf> = read
            .flatten()
            .filter(|e| e.file_name() != ".lock")
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            remove(path, &mut done)?;
        }
        tarmac_fs::fsync_dir(&host.root)?;
    }
    for path in leftovers.present() {
        if purge {
            remove(path, &mut done)?;
        } else {
            done.left.push(path);
        }
    }
    if let Some(state) = host
        .state_dir_root
        .as_ref()
        .and_then(|s| std::fs::read_dir(s).ok())
    {
        let mut dirs: Vec<PathBuf> = state.flatten().map(|e| e.path()).collect();
        dirs.sort();
        done.left.extend(dirs);
    }
    Ok(done)
}
