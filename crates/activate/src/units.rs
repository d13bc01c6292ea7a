//! Syncing systemd unit copies from the `current` generation into the
//! systemd dir: `<systemd-dir>/<unit>` is a copy (content and mode) of the
//! package's unit file and `<systemd-dir>/dcos.target.wants/<unit>` links to
//! `../<unit>` (pkgpanda :120, :129).
//!
//! Invariant: `<root>/installed-units.json` names every unit file this tool
//! may have put in the systemd dir. Before copying, it is widened to
//! old ∪ new (an intent record); after removing stale units it is narrowed
//! to the new set. So a crash at any point leaves no unit file behind that
//! the next sync does not know about, and foreign files are never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::failpoint;
use crate::plan::UNIT_DIR;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Installed {
    format: u32,
    units: BTreeSet<String>,
    /// systemctl still has to learn about a change (daemon-reload, start).
    reload_pending: bool,
    /// The systemd dir these units were installed into. Recovery syncs only
    /// into this dir, so a later `--root X status` that leaves
    /// `--systemd-dir` at its default never writes the machine's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    systemd_dir: Option<PathBuf>,
}

/// The systemd dir the units of this host were last synced into, if any
/// sync recorded one.
pub fn recorded_dir(record_file: &Path) -> Result<Option<PathBuf>> {
    Ok(read_installed(record_file)?.systemd_dir)
}

/// What a sync changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct UnitChanges {
    /// Units copied because they were missing or differed.
    pub copied: Vec<String>,
    /// Units removed because the current generation no longer has them.
    pub removed: Vec<String>,
}

impl UnitChanges {
    pub fn is_empty(&self) -> bool {
        self.copied.is_empty() && self.removed.is_empty()
    }
}

fn read_installed(path: &Path) -> Result<Installed> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Json {
            file: path.to_path_buf(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Installed::default()),
        Err(e) => Err(tarmac_fs::FsError::new("read", path, e).into()),
    }
}

fn write_installed(path: &Path, installed: &Installed) -> Result<()> {
    let mut installed = installed.clone();
    installed.format = 1;
    let text = serde_json::to_string_pretty(&installed).expect("serializes") + "\n";
    tarmac_fs::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Removes the temporaries an interrupted copy may have left beside the
/// units this tool knows about (`.<unit>.tmp.<pid>`, `.<unit>.new.<pid>`).
pub fn remove_temporaries(
    systemd_dir: &Path,
    record_file: &Path,
    desired: &BTreeMap<String, PathBuf>,
) -> Result<Vec<PathBuf>> {
    let mut names: BTreeSet<String> = read_installed(record_file)?.units;
    names.extend(desired.keys().cloned());
    let mut removed = Vec::new();
    for (dir, suffix) in [
        (systemd_dir.to_path_buf(), ".tmp."),
        (systemd_dir.join(UNIT_DIR), ".new."),
    ] {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.flatten() {
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            if names
                .iter()
                .any(|n| file_name.starts_with(&format!(".{n}{suffix}")))
            {
                tarmac_fs::remove_all(&entry.path())?;
                removed.push(entry.path());
            }
        }
    }
    Ok(removed)
}

/// Whether `dest` already holds `src`'s content and mode.
fn same_file(src: &Path, dest: &Path) -> Result<bool> {
    let dest_meta = match std::fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(_) => return Ok(false),
    };
    let src_meta = std::fs::metadata(src).map_err(|e| tarmac_fs::FsError::new("stat", src, e))?;
    if !dest_meta.is_file()
        || dest_meta.len() != src_meta.len()
        || dest_meta.permissions().mode() & 0o7777 != src_meta.permissions().mode() & 0o7777
    {
        return Ok(false);
    }
    Ok(tarmac_fs::read(src)? == tarmac_fs::read(dest)?)
}

fn wants_ok(link: &Path, name: &str) -> bool {
    std::fs::read_link(link).is_ok_and(|t| t == Path::new("..").join(name))
}

/// Makes the systemd dir match `desired` (unit name -> unit file in its
/// package). Idempotent: a second call with the same set changes nothing.
pub fn sync(
    systemd_dir: &Path,
    record_file: &Path,
    desired: &BTreeMap<String, PathBuf>,
    systemctl: bool,
) -> Result<UnitChanges> {
    let installed = read_installed(record_file)?;
    let wants = systemd_dir.join(UNIT_DIR);
    let mut to_copy = Vec::new();
    let mut to_link = Vec::new();
    for (name, src) in desired {
        if !same_file(src, &systemd_dir.join(name))? {
            to_copy.push(name.clone());
        }
        if !wants_ok(&wants.join(name), name) {
            to_link.push(name.clone());
        }
    }
    let stale: Vec<String> = installed
        .units
        .iter()
        .filter(|u| !desired.contains_key(*u))
        .cloned()
        .collect();
    let changes = UnitChanges {
        copied: to_copy.clone(),
        removed: stale.clone(),
    };
    if to_copy.is_empty() && to_link.is_empty() && stale.is_empty() && !installed.reload_pending {
        return Ok(changes);
    }

    // Intent: everything we may be about to leave in the systemd dir.
    let mut widened = installed.clone();
    widened.units.extend(desired.keys().cloned());
    widened.reload_pending = true;
    widened.systemd_dir = Some(systemd_dir.to_path_buf());
    if widened != installed {
        tarmac_fs::create_dir_all(systemd_dir)?;
        write_installed(record_file, &widened)?;
    }

    tarmac_fs::create_dir_all(&wants)?;
    if systemctl {
        // pkgpanda stops every unit before a swap and starts dcos.target
        // after; stopping only the units that change or go is enough for
        // them to come back with their new files.
        let stop: Vec<&String> = stale
            .iter()
            .chain(to_copy.iter().filter(|u| systemd_dir.join(u).exists()))
            .collect();
        if !stop.is_empty() {
            // Exit 5 (unit not loaded) is fine, as in pkgpanda; a unit that
            // will not stop must not block the file sync either.
            let _ = Command::new("systemctl").arg("stop").args(&stop).output();
        }
    }
    for (index, name) in to_copy.iter().enumerate() {
        copy_unit(&desired[name], &systemd_dir.join(name))?;
        if index == 0 {
            failpoint::hit("units-partial");
        }
    }
    for name in &to_link {
        tarmac_fs::replace_symlink(&Path::new("..").join(name), &wants.join(name))?;
    }
    for name in &stale {
        tarmac_fs::remove_all(&wants.join(name))?;
        tarmac_fs::remove_all(&systemd_dir.join(name))?;
    }
    tarmac_fs::fsync_dir(&wants)?;
    tarmac_fs::fsync_dir(systemd_dir)?;
    failpoint::hit("units-before-record");

    if systemctl {
        reload_and_start(systemd_dir, desired)?;
    }
    let done = Installed {
        format: 1,
        units: desired.keys().cloned().collect(),
        reload_pending: false,
        systemd_dir: Some(systemd_dir.to_path_buf()),
    };
    write_installed(record_file, &done)?;
    Ok(changes)
}

/// Makes `<systemd-dir>/dcos.target.wants/` (and the systemd dir) if
/// missing; a sync with no units to copy leaves both alone otherwise.
pub fn ensure_wants_dir(systemd_dir: &Path) -> Result<()> {
    let wants = systemd_dir.join(UNIT_DIR);
    if !wants.is_dir() {
        tarmac_fs::create_dir_all(&wants)?;
        tarmac_fs::fsync_dir(systemd_dir)?;
    }
    Ok(())
}

fn copy_unit(src: &Path, dest: &Path) -> Result<()> {
    let bytes = tarmac_fs::read(src)?;
    let mode = std::fs::metadata(src)
        .map_err(|e| tarmac_fs::FsError::new("stat", src, e))?
        .permissions()
        .mode()
        & 0o7777;
    tarmac_fs::write_atomic(dest, &bytes)?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(mode))
        .map_err(|e| tarmac_fs::FsError::new("chmod", dest, e))?;
    Ok(())
}

/// `daemon-reload`, then start `dcos.target` if the systemd dir has one
/// (pkg-activate does not write it; dcos_install.sh does), else each
/// wanted unit. `--no-block`: a slow unit must not hold the host lock.
fn reload_and_start(systemd_dir: &Path, desired: &BTreeMap<String, PathBuf>) -> Result<()> {
    let mut reload = Command::new("systemctl");
    reload.arg("daemon-reload");
    crate::users::run(reload)?;
    let mut start = Command::new("systemctl");
    start.args(["start", "--no-block"]);
    if systemd_dir.join("dcos.target").exists() {
        start.arg("dcos.target");
    } else if desired.is_empty() {
        return Ok(());
    } else {
        start.args(desired.keys());
    }
    crate::users::run(start)
}
