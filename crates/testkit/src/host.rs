//! A simulated host under one directory: the fixture the pkg-activate,
//! host-extract, emergency, integration and reliability tests share. Every
//! host path is a flag of the tools, so a host is five directories:
//!
//! - the flat layout ([`Host::new`], [`Host::at`]): `root/` (--root),
//!   `config/` (with `roles/`), `systemd/`, `state/` and `users/` (a private
//!   user database: `etc/passwd`, `group`, `shadow`, `gshadow`), all
//!   created;
//! - DC/OS's own paths below the directory ([`Host::dcos`],
//!   [`Host::dcos_at`]):
//!   `opt/mesosphere`, `etc/mesosphere`, `etc/systemd/system`,
//!   `var/lib/dcos` and `userdb/`, created by whatever installs the host
//!   (the configuration-management recipes), not here.
//!
//! The commands it builds never inherit a failpoint from the test's
//! environment.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::packages::PkgFixture;

/// One simulated host (see the module doc). Owns its temp dir when it made
/// one.
pub struct Host {
    _dir: Option<tempfile::TempDir>,
    base: PathBuf,
    root: PathBuf,
    config: PathBuf,
    systemd: PathBuf,
    state: PathBuf,
    users: PathBuf,
}

/// The user database of a new flat host: root, and the `docker` group some
/// packages name.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n";
const GROUP: &str = "root:x:0:\ndocker:x:990:\n";

impl Host {
    /// A flat host in a new temp dir, with `roles` set.
    pub fn new(roles: &[&str]) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let mut host = Host::at(dir.path(), roles);
        host._dir = Some(dir);
        host
    }

    /// A flat host under `base` (created), with `roles` set.
    pub fn at(base: &Path, roles: &[&str]) -> Host {
        let host = Host::with_paths(
            base,
            ["root", "config", "systemd", "state", "users"].map(|p| base.join(p)),
        );
        for dir in [
            host.root.join("packages"),
            host.config.join("roles"),
            host.systemd.clone(),
            host.state.clone(),
            host.users.join("etc"),
        ] {
            std::fs::create_dir_all(dir).unwrap();
        }
        for role in roles {
            std::fs::write(host.config.join("roles").join(role), "").unwrap();
        }
        let db = host.users.join("etc");
        for (file, text) in [
            ("passwd", PASSWD),
            ("group", GROUP),
            ("shadow", ""),
            ("gshadow", ""),
        ] {
            std::fs::write(db.join(file), text).unwrap();
        }
        host
    }

    /// A host with DC/OS's paths in a new temp dir; nothing is created.
    pub fn dcos() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let mut host = Host::dcos_at(dir.path());
        host._dir = Some(dir);
        host
    }

    /// A host with DC/OS's paths below `base`; nothing is created.
    pub fn dcos_at(base: &Path) -> Host {
        Host::with_paths(
            base,
            [
                "opt/mesosphere",
                "etc/mesosphere",
                "etc/systemd/system",
                "var/lib/dcos",
                "userdb",
            ]
            .map(|p| base.join(p)),
        )
    }

    fn with_paths(base: &Path, [root, config, systemd, state, users]: [PathBuf; 5]) -> Host {
        Host {
            _dir: None,
            base: base.to_path_buf(),
            root,
            config,
            systemd,
            state,
            users,
        }
    }

    /// The directory holding the host.
    pub fn base(&self) -> &Path {
        &self.base
    }
    /// `--root` (`/opt/mesosphere`).
    pub fn root(&self) -> PathBuf {
        self.root.clone()
    }
    /// `--config-dir` (`/etc/mesosphere`).
    pub fn config(&self) -> PathBuf {
        self.config.clone()
    }
    /// `--systemd-dir` (`/etc/systemd/system`).
    pub fn systemd(&self) -> PathBuf {
        self.systemd.clone()
    }
    /// `--state-dir-root` (`/var/lib/dcos`).
    pub fn state(&self) -> PathBuf {
        self.state.clone()
    }
    /// `--user-db-root` (`/`).
    pub fn user_db(&self) -> PathBuf {
        self.users.clone()
    }

    /// Builds `fixture` into the host's package directory; returns its id.
    pub fn add(&self, fixture: PkgFixture) -> String {
        let id = fixture.id();
        fixture.build(&self.root);
        id
    }

    /// `pkg-activate` (the binary at `bin`) with every host path of this
    /// host; the caller adds `--no-systemd` or not, and the command.
    pub fn pkg_activate(&self, bin: &Path) -> Command {
        self.pkg_activate_with_user_db(bin, &self.users)
    }

    /// [`Host::pkg_activate`] with another user database root (`/` for
    /// useradd).
    pub fn pkg_activate_with_user_db(&self, bin: &Path, user_db: &Path) -> Command {
        let mut command = Command::new(bin);
        command
            .arg("--root")
            .arg(&self.root)
            .arg("--config-dir")
            .arg(&self.config)
            .arg("--systemd-dir")
            .arg(&self.systemd)
            .arg("--state-dir-root")
            .arg(&self.state)
            .arg("--user-db-root")
            .arg(user_db)
            .env_remove("TARMAC_FAILPOINT");
        command
    }

    /// `host-extract` (the binary at `bin`) into this host's root.
    pub fn host_extract(&self, bin: &Path) -> Command {
        let mut command = Command::new(bin);
        command
            .arg("--root")
            .arg(&self.root)
            .env_remove("TARMAC_FAILPOINT");
        command
    }
}
