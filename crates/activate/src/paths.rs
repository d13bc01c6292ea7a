//! Where things live on a host (docs/architecture.md § Host layout). Every path comes
//! in as a value: this crate never reads a default location by itself; the
//! layout under `--root` is `tarmac_model::layout::host`.

use std::path::{Path, PathBuf};

use tarmac_model::layout::host;

use crate::error::Result;

/// The paths pkg-activate works on.
#[derive(Debug, Clone)]
pub struct HostPaths {
    /// `--root` (`/opt/mesosphere`): packages/, generations/, current, links.
    pub root: PathBuf,
    /// `--systemd-dir` (`/etc/systemd/system`); `None` leaves units alone
    /// (a build sandbox activating dependencies has no systemd).
    pub systemd_dir: Option<PathBuf>,
    /// `--state-dir-root` (`/var/lib/dcos`); `None` skips state directories.
    pub state_dir_root: Option<PathBuf>,
    /// `--user-db-root` (`/`): where `etc/passwd` and `etc/group` live
    /// (`/`: users made by `useradd`; any other root: entries appended by
    /// pkg-activate itself, see `users`); `None` skips user handling entirely.
    pub user_db_root: Option<PathBuf>,
    /// `--config-dir` (`/etc/mesosphere`), read for `manual_host_users`
    /// (its presence forbids creating package users); `None`: not read.
    pub config_dir: Option<PathBuf>,
}

/// The names of the fixed top-level links `<root>/<name> -> current/<name>`,
/// made once; switching `current` switches all of them.
pub const FIXED_LINKS: [&str; 8] = [
    "bin",
    "lib",
    "etc",
    "include",
    "active",
    "environment",
    "environment.export",
    "active.buildinfo.full.json",
];

/// The file under `<config-dir>/setup-flags/` naming the cluster's set.
pub const CLUSTER_PACKAGE_IDS: &str = "cluster-package-ids";

impl HostPaths {
    /// A root with no systemd, state directories or users: enough to
    /// activate packages into a temporary root. (pkg-build's dependency farm
    /// does not use it: it needs relative links, see tarmac-builder's deps.rs.)
    pub fn bare(root: impl Into<PathBuf>) -> HostPaths {
        HostPaths {
            root: root.into(),
            systemd_dir: None,
            state_dir_root: None,
            user_db_root: None,
            config_dir: None,
        }
    }

    pub fn packages(&self) -> PathBuf {
        host::packages(&self.root)
    }

    pub fn package(&self, id: &str) -> PathBuf {
        host::package(&self.root, id)
    }

    pub fn generations(&self) -> PathBuf {
        host::generations(&self.root)
    }

    pub fn generation(&self, n: u64) -> PathBuf {
        host::generation(&self.root, n)
    }

    pub fn current(&self) -> PathBuf {
        host::current(&self.root)
    }

    pub fn lock(&self) -> PathBuf {
        host::lock(&self.root)
    }

    /// `<config-dir>/manual_host_users` if it exists (pkgpanda cli.py:154).
    pub fn manual_host_users(&self) -> Option<PathBuf> {
        let file = self.config_dir.as_ref()?.join("manual_host_users");
        file.exists().then_some(file)
    }

    /// `<config-dir>/setup-flags/cluster-package-ids`: the cluster's set
    /// (bundle and config package ids) the install script recorded.
    pub fn cluster_package_ids(&self) -> Option<PathBuf> {
        Some(
            self.config_dir
                .as_ref()?
                .join("setup-flags")
                .join(CLUSTER_PACKAGE_IDS),
        )
    }

    /// The record of unit files this tool installed into the systemd dir.
    pub fn installed_units(&self) -> PathBuf {
        host::installed_units(&self.root)
    }
}

/// The host's roles: the names of the entries of `<config-dir>/roles/`,
/// sorted. A missing directory means no roles, as in pkgpanda.
pub fn roles_from_config_dir(config_dir: &Path) -> Result<Vec<String>> {
    let dir = config_dir.join("roles");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(tarmac_fs::FsError::new("read directory", &dir, e).into()),
    };
    let mut roles = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| tarmac_fs::FsError::new("read directory", &dir, e))?;
        roles.push(entry.file_name().to_string_lossy().into_owned());
    }
    roles.sort();
    Ok(roles)
}
