//! The repository layout pkg-build writes and pkg-bundle reads
//! (docs/architecture.md): `packages/<name>/<id>.tar.zst` beside its `<id>.json`
//! manifest.

use std::path::{Path, PathBuf};

use tarmac_model::{PackageId, PackageManifest};

use crate::error::Error;

/// `<repo>/packages/<name>/<id>.tar.zst`
pub fn archive_path(repo: &Path, id: &PackageId) -> PathBuf {
    repo.join("packages")
        .join(id.name())
        .join(format!("{id}.tar.zst"))
}

/// `<repo>/packages/<name>/<id>.json`
pub fn manifest_path(repo: &Path, id: &PackageId) -> PathBuf {
    repo.join("packages")
        .join(id.name())
        .join(format!("{id}.json"))
}

/// Reads and checks a package's sidecar manifest.
pub fn read_manifest(repo: &Path, id: &PackageId) -> Result<PackageManifest, Error> {
    let path = manifest_path(repo, id);
    let bytes = tarmac_fs::read(&path)?;
    let manifest = PackageManifest::parse(&path.display().to_string(), &bytes)?;
    if &manifest.id != id {
        return Err(Error::Tree {
            file: path,
            reason: format!("manifest is for {}, not {id}", manifest.id),
        });
    }
    Ok(manifest)
}
