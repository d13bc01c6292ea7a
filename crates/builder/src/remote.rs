//! `--cache-url`: prebuilt packages fetched by id from another repository
//! (pkgpanda's `try_fetch_by_id`) before building.
//!
//! Invariant: a fetched archive enters the repository only after the strict
//! extractor accepted it against the fetched manifest and the manifest names
//! the id asked for; anything else is discarded and the package is built.

use std::path::Path;

use tarmac_archive::{extract, Expect, ExtractOptions};
use tarmac_fetch::{FetchOptions, Source};
use tarmac_model::layout::repository::{self, archive as archive_path, manifest as manifest_path};
use tarmac_model::{PackageId, PackageManifest, Reporter, Silent};

use crate::error::Error;

/// Tries to fetch `id` from the repository at `url` into `repo`. `Ok(false)`:
/// the remote does not have it (404).
pub fn fetch_package(url: &str, repo: &Path, work: &Path, id: &PackageId) -> Result<bool, Error> {
    let base = url.trim_end_matches('/');
    let manifest_url = format!("{base}/{}", repository::manifest_relative(id));
    let Some(manifest_bytes) = get(
        &manifest_url,
        &work.join(format!(".fetched.{id}.json.{}", std::process::id())),
    )?
    else {
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
    let Some(archive) = get(
        &format!("{base}/{}", repository::archive_relative(id)),
        &work.join(format!(".fetched.{id}.tar.zst.{}", std::process::id())),
    )?
    else {
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

/// How pkg-build downloads (sources and `--cache-url`): tarmac-fetch's
/// defaults with fewer retries, as a build is attended and a missing
/// source should fail within seconds, not minutes.
pub(crate) fn fetch_options() -> FetchOptions {
    FetchOptions {
        retries: 3,
        ..FetchOptions::default()
    }
}

/// Downloads `url` (`http(s)://`, `file://` or a path) into `dest` through
/// tarmac-fetch: its retries, resume and one transient/fatal classifier;
/// its error keeps its exit class.
pub(crate) fn fetch_to_file(url: &str, dest: &Path, reporter: &dyn Reporter) -> Result<(), Error> {
    tarmac_fetch::fetch_to_file(
        &[Source::parse(url)],
        &fetch_options(),
        dest,
        None,
        reporter,
    )
    .map_err(|e| Error::Fetch(Box::new(e)))?;
    Ok(())
}

/// GET `url` into memory (through the file `temp`, removed after, one per
/// package and file as packages are fetched in parallel); `None` when the
/// remote has no such file (404, 410, a missing local file). Package
/// archives fetched this way are build artifacts (small next to a bundle);
/// host-extract streams.
fn get(url: &str, temp: &Path) -> Result<Option<Vec<u8>>, Error> {
    if let Some(parent) = temp.parent() {
        tarmac_fs::create_dir_all(parent)?;
    }
    let result =
        tarmac_fetch::fetch_to_file(&[Source::parse(url)], &fetch_options(), temp, None, &Silent);
    let outcome = match result {
        Ok(_) => tarmac_fs::read(temp).map(Some).map_err(Error::from),
        Err(tarmac_fetch::Error::Status {
            code: 404 | 410, ..
        })
        | Err(tarmac_fetch::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(Error::Fetch(Box::new(e))),
    };
    let _ = std::fs::remove_file(temp);
    outcome
}
