//! Generations: `<root>/generations/<n>/`, each a complete activated view,
//! and `current`, the one symlink whose rename commits a switch.
//!
//! Invariant: a directory named by a plain number is complete (it was built
//! as `.staging-<n>`, synced, then renamed); anything named `.staging-*` is
//! debris of an interrupted run and is removed by the next start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tarmac_model::PackageId;

use crate::error::{Error, Result};
use crate::paths::HostPaths;

/// The `format` of `generation.json`.
pub const GENERATION_FORMAT: u32 = 1;

/// `generations/<n>/generation.json`: what the generation holds, so status,
/// rollback and gc work offline without re-reading packages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationRecord {
    pub format: u32,
    pub generation: u64,
    /// Sorted.
    pub packages: Vec<PackageId>,
    pub roles: Vec<String>,
    /// Tree folding used (false: pkgpanda's per-file layout).
    pub folded: bool,
    /// Symlinks in the farm (bin, etc, include, lib, dcos.target.wants).
    pub links: u64,
    /// Unit name -> unit file inside its package.
    pub units: BTreeMap<String, PathBuf>,
    /// File written by pkg-activate (relative path) -> blake3 hex.
    pub files: BTreeMap<String, String>,
}

pub const RECORD_FILE: &str = "generation.json";
pub const STAGING_PREFIX: &str = ".staging-";

impl GenerationRecord {
    pub fn read(dir: &Path) -> Result<GenerationRecord> {
        let file = dir.join(RECORD_FILE);
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::GenerationDamaged {
                    path: dir.to_path_buf(),
                    reason: format!("{RECORD_FILE} is missing"),
                })
            }
            Err(e) => return Err(tarmac_fs::FsError::new("read", &file, e).into()),
        };
        serde_json::from_slice(&bytes).map_err(|e| Error::GenerationDamaged {
            path: file,
            reason: e.to_string(),
        })
    }
}

/// Numbers of the complete generations, ascending.
pub fn list(host: &HostPaths) -> Result<Vec<u64>> {
    let dir = host.generations();
    let read = match std::fs::read_dir(&dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(tarmac_fs::FsError::new("read directory", &dir, e).into()),
    };
    let mut numbers = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| tarmac_fs::FsError::new("read directory", &dir, e))?;
        if let Some(n) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u64>().ok())
        {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// The generation `current` points at, if any.
pub fn current(host: &HostPaths) -> Result<Option<u64>> {
    let link = host.current();
    match std::fs::read_link(&link) {
        Ok(target) => {
            let n = target
                .strip_prefix("generations")
                .ok()
                .and_then(|rest| rest.to_str())
                .and_then(|s| s.parse::<u64>().ok());
            match n {
                Some(n) => Ok(Some(n)),
                None => Err(Error::GenerationDamaged {
                    path: link,
                    reason: format!("points at {}, not generations/<n>", target.display()),
                }),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(tarmac_fs::FsError::new("read link", &link, e).into()),
    }
}

/// The relative target `current` gets for generation `n`.
pub fn current_target(n: u64) -> PathBuf {
    Path::new("generations").join(n.to_string())
}
