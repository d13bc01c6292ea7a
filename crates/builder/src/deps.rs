//! The build's `/opt/mesosphere`: the dependency closure extracted from the
//! repository (each archive checked against its `<id>.json` manifest by the
//! strict extractor) and linked into `bin/ etc/ include/ lib/` farms.
//!
//! Links are relative (`../packages/<id>/lib/libz.so`), so the same farm
//! resolves inside the sandbox (at `/opt/mesosphere`) and on the host
//! (unsandboxed fallback). Two dependencies providing one path is an error,
//! as it would be on a host.
//!
//! Why not `tarmac_activate::activate` on `HostPaths::bare`: its farm links
//! are absolute (`/<root>/packages/<id>/...`, pkgpanda's layout), which
//! break once this root is bind-mounted at `/opt/mesosphere` in the
//! sandbox; and a build needs no generations, environment files or units.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use tarmac_archive::{extract, Expect, ExtractOptions};
use tarmac_fs::Context;
use tarmac_model::layout::host;
use tarmac_model::layout::repository::archive as archive_path;
use tarmac_model::PackageId;

use crate::error::Error;
use crate::layout::read_manifest;

/// The directories linked into the farm (roles play no part in builds).
const WELL_KNOWN: &[&str] = &["bin", "etc", "include", "lib"];

/// Makes `root` (the build's `/opt/mesosphere`) hold `closure`, activated.
pub fn prepare(root: &Path, repo: &Path, closure: &[PackageId]) -> Result<(), Error> {
    let packages = host::packages(root);
    tarmac_fs::create_dir_all(&packages)?;
    for id in closure {
        let manifest = read_manifest(repo, id)?;
        let archive = archive_path(repo, id);
        let file = tarmac_fs::open(&archive)?;
        let options = ExtractOptions {
            expect: Expect::Package(manifest),
            ..ExtractOptions::default()
        };
        extract(
            std::io::BufReader::new(file),
            &host::package(root, &id.to_string()),
            &options,
        )?;
    }
    for dir in WELL_KNOWN {
        let farm = root.join(dir);
        let mut owners = BTreeMap::new();
        for id in closure {
            let provided = host::package(root, &id.to_string()).join(dir);
            if provided.is_dir() {
                tarmac_fs::create_dir_all(&farm)?;
                let target_prefix = PathBuf::from("..")
                    .join("packages")
                    .join(id.to_string())
                    .join(dir);
                link_tree(&provided, &farm, &target_prefix, id, &mut owners, root)?;
            }
        }
    }
    Ok(())
}

/// Mirrors `from` into `to`: real directories, one relative symlink per file
/// or link. `target_prefix` is the link target of `from` seen from `to`.
fn link_tree(
    from: &Path,
    to: &Path,
    target_prefix: &Path,
    id: &PackageId,
    owners: &mut BTreeMap<PathBuf, PackageId>,
    root: &Path,
) -> Result<(), Error> {
    let mut names: Vec<OsString> = Vec::new();
    for entry in fs::read_dir(from).with_path("read directory", from)? {
        names.push(entry.with_path("read directory", from)?.file_name());
    }
    names.sort();
    for name in names {
        let source = from.join(&name);
        let dest = to.join(&name);
        let meta = fs::symlink_metadata(&source).with_path("stat", &source)?;
        if meta.is_dir() {
            match fs::symlink_metadata(&dest) {
                Ok(existing) if existing.is_dir() => {}
                Ok(_) => return Err(conflict(root, &dest, id, owners)),
                Err(_) => tarmac_fs::create_dir_all(&dest)?,
            }
            link_tree(
                &source,
                &dest,
                &Path::new("..").join(target_prefix).join(&name),
                id,
                owners,
                root,
            )?;
        } else {
            if fs::symlink_metadata(&dest).is_ok() {
                return Err(conflict(root, &dest, id, owners));
            }
            tarmac_fs::symlink(&target_prefix.join(&name), &dest)?;
            owners.insert(dest, id.clone());
        }
    }
    Ok(())
}

fn conflict(
    root: &Path,
    dest: &Path,
    id: &PackageId,
    owners: &BTreeMap<PathBuf, PackageId>,
) -> Error {
    let rel = dest.strip_prefix(root).unwrap_or(dest);
    let other = owners
        .get(dest)
        .map_or_else(|| "another dependency".to_string(), ToString::to_string);
    Error::Tree {
        file: rel.to_path_buf(),
        reason: format!("provided by both {other} and {id} (dependencies of this build)"),
    }
}
