//! `--cache-url`: prebuilt packages fetched by id from another repository
//! (pkgpanda's `try_fetch_by_id`) before building.
//!
//! Invariant: a fetched archive enters the repository only after the strict
//! extractor accepted it against the fetched manifest and the manifest names
//! the id asked for; anything else is discarded and the package is built.

use std::io::Read;
use std::path::Path;

use tarmac_archive::{extract, Expect, ExtractOptions};
use tarmac_model::layout::repository::{self, archive as archive_path, manifest as manifest_path};
use tarmac_model::{PackageId, PackageManifest};

use crate::error::Error;

/// Tries to fetch `id` from the repository at `url` into `repo`. `Ok(false)`:
/// the remote does not have it (404).
pub fn fetch_package(url: &str, repo: &Path, work: &Path, id: &PackageId) -> Result<bool, Error> {
    let base = url.trim_end_matches('/');
    let manifest_url = format!("{base}/{}", repository::manifest_relative(id));
    let Some(manifest_bytes) = get(&manifest_url)? else {
        return Ok(false);
    };
    let manifest = PackageManifest::parse(&manifest_url, &manifest_bytes)?;
    if &manifest.id != id {
        return Err(Error::Download {
            url: manifest_url,
            reason: format!("manifest is for {}, not {id}", manifest.id),
            transient: false,
        });
    }
    let Some(archive) = get(&format!("{base}/{}", repository::archive_relative(id)))? else {
        return Ok(false);
    };
    // Verify before publishing: the whole archive against its manifest.
    tarmac_fs::create_dir_all(work)?;
    let staging = work.join(format!(".fetched.{id}.{}", std::process::id()));
    tarmac_fs::remove_all(&staging)?;
    let options = ExtractOptions {
        expect: Expect::Package(manifest),
        ..ExtractOptions::default()
    };
    let verified = extract(archive.as_slice(), &staging, &options);
    tarmac_fs::remove_all(&staging)?;
    verified?;
    let target = archive_path(repo, id);
    tarmac_fs::create_dir_all(target.parent().expect("archive has a parent"))?;
    tarmac_fs::write_atomic(&manifest_path(repo, id), &manifest_bytes)?;
    tarmac_fs::write_atomic(&target, &archive)?;
    Ok(true)
}

/// GET `url` into memory; `None` on 404. Package archives fetched this way
/// are build artifacts (small next to a bundle); host-extract streams.
fn get(url: &str) -> Result<Option<Vec<u8>>, Error> {
    let download_error = |reason: String, transient: bool| Error::Download {
        url: url.to_string(),
        reason,
        transient,
    };
    if let Some(path) = url.strip_prefix("file://") {
        return match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(download_error(e.to_string(), false)),
        };
    }
    match ureq::get(url).call() {
        Ok(response) => {
            let mut bytes = Vec::new();
            response
                .into_body()
                .into_reader()
                .read_to_end(&mut bytes)
                .map_err(|e| download_error(e.to_string(), true))?;
            Ok(Some(bytes))
        }
        Err(ureq::Error::StatusCode(404)) => Ok(None),
        Err(e) => Err(download_error(e.to_string(), true)),
    }
}
