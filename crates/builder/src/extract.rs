//! url_extract: unpacking a downloaded source archive into `/pkg/src/<name>`
//! with its first path component stripped, exactly as pkgpanda does
//! (`tar -xf --strip-components=1`; zip through `unzip` and a single top
//! directory).
//!
//! Why the system tar and not the strict package extractor: source archives
//! are third-party files (GitHub's `git archive` tarballs carry PAX global
//! headers, many carry absolute symlinks) that the package policy rightly
//! refuses; they were already verified against the checksum pinned in
//! buildinfo.json, and they land in the build's scratch directory only.

use std::path::Path;
use std::process::Command;

use crate::error::Error;

/// Extracts `archive` (downloaded from `url`) into `dest` (created here).
pub fn extract_stripped(archive: &Path, url: &str, dest: &Path) -> Result<(), Error> {
    let name = crate::source::url_basename(url);
    tarmac_fs::create_dir_all(dest)?;
    let is_tar = name.ends_with(".tgz") || name.contains(".tar.") || name.ends_with(".tar");
    if !is_tar && name.ends_with(".zip") {
        return extract_zip(archive, url, dest);
    }
    if !is_tar {
        return Err(Error::Extract {
            url: url.to_string(),
            reason: format!(
                "unsupported archive {name:?} (expected .tar.gz, .tgz, .tar.xz, .tar.bz2, .tar.zst, .tar or .zip)"
            ),
        });
    }
    let mut tar = Command::new("tar");
    tar.arg("-xf")
        .arg(archive)
        .args([
            "--strip-components=1",
            "--no-same-owner",
            "--no-same-permissions",
            "-C",
        ])
        .arg(dest);
    run("tar", &mut tar, url)
}

/// unzip has no --strip-components: unpack beside, then move the single
/// top directory's content into `dest` (pkgpanda's `_strip_first_path_component`).
fn extract_zip(archive: &Path, url: &str, dest: &Path) -> Result<(), Error> {
    let staging = dest.with_extension("unzip");
    tarmac_fs::create_dir_all(&staging)?;
    let mut unzip = Command::new("unzip");
    unzip
        .args(["-q", "-o"])
        .arg(archive)
        .arg("-d")
        .arg(&staging);
    run("unzip", &mut unzip, url)?;
    let mut top: Vec<_> = std::fs::read_dir(&staging)
        .map_err(|e| tarmac_fs::FsError::new("read directory", &staging, e))?
        .filter_map(Result::ok)
        .collect();
    if top.len() != 1 || !top[0].path().is_dir() {
        return Err(Error::Extract {
            url: url.to_string(),
            reason: "zip archive must have exactly one top-level directory to strip".into(),
        });
    }
    let inner = top.remove(0).path();
    tarmac_fs::remove_all(dest)?;
    tarmac_fs::rename(&inner, dest)?;
    tarmac_fs::remove_all(&staging)?;
    Ok(())
}

/// Runs `tool`; a failure to start it or a non-zero exit is an extraction
/// error for `url` carrying the tool's stderr.
fn run(tool: &str, command: &mut Command, url: &str) -> Result<(), Error> {
    let output = command.output().map_err(|e| Error::Extract {
        url: url.to_string(),
        reason: format!("running {tool}: {e}"),
    })?;
    if !output.status.success() {
        return Err(Error::Extract {
            url: url.to_string(),
            reason: format!("{tool}: {}", String::from_utf8_lossy(&output.stderr).trim()),
        });
    }
    Ok(())
}
