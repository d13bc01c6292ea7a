//! An extracted package in `<root>/packages/<id>/` and the parts of its
//! `pkginfo.json` activation needs (parsed by `tarmac_model::PkgInfo`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use tarmac_model::PackageId;

use crate::error::{Error, Result};
use crate::paths::HostPaths;

/// What activation needs from a package's `pkginfo.json`.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// Names of required packages; variants are ignored (pkgpanda :281).
    pub requires: Vec<String>,
    /// In pkginfo order.
    pub environment: Vec<(String, String)>,
    /// service -> key -> value; `1` and `"1"` stay distinct JSON values.
    pub sysctl: BTreeMap<String, BTreeMap<String, Value>>,
    pub username: Option<String>,
    pub group: Option<String>,
    pub state_directory: bool,
}

#[derive(Debug, Clone)]
pub struct Package {
    pub id: PackageId,
    /// `<root>/packages/<id>`, absolute.
    pub dir: PathBuf,
    pub meta: Meta,
}

/// Loads `<root>/packages/<id>/pkginfo.json`.
pub fn load(host: &HostPaths, id: &PackageId) -> Result<Package> {
    let dir = host.package(&id.to_string());
    if !dir.is_dir() {
        return Err(Error::PackageMissing { path: dir });
    }
    let file = dir.join("pkginfo.json");
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::PkgInfo {
                message: format!("{}: missing", file.display()),
            })
        }
        Err(e) => return Err(tarmac_fs::FsError::new("read", &file, e).into()),
    };
    let meta = parse_meta(&file, &bytes)?;
    Ok(Package {
        id: id.clone(),
        dir,
        meta,
    })
}

fn parse_meta(file: &std::path::Path, bytes: &[u8]) -> Result<Meta> {
    let info = tarmac_model::PkgInfo::parse(&file.display().to_string(), bytes).map_err(|e| {
        Error::PkgInfo {
            message: e.to_string(),
        }
    })?;
    Ok(Meta {
        requires: info.requires.into_iter().map(|r| r.name).collect(),
        environment: info.environment,
        sysctl: info
            .sysctl
            .into_iter()
            .map(|(service, settings)| {
                let settings = settings
                    .into_iter()
                    .map(|(k, v)| (k, v.to_json()))
                    .collect();
                (service, settings)
            })
            .collect(),
        username: info.username,
        group: info.group,
        state_directory: info.state_directory,
    })
}
