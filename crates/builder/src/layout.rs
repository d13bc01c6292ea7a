//! Reading the repository pkg-build writes and pkg-bundle reads; its paths
//! are `tarmac_model::layout::repository` (`packages/<name>/<id>.tar.zst`
//! beside its `<id>.json` manifest).

use std::path::Path;

use tarmac_model::layout::repository::manifest as manifest_path;
use tarmac_model::{PackageId, PackageManifest};

use crate::error::Error;

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
