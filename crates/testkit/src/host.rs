//! A simulated host under one temp directory, the layout the integration
//! tests share: `root/` (--root), `config/`, `systemd/`, `state/` and
//! `users/` (the user database root).

use std::path::Path;
use std::process::Command;

/// `pkg-activate` (the binary at `bin`) with every host path of the host
/// under `base`; the caller adds `--no-systemd` or not, and the command.
/// Failpoints are never inherited from the test's environment.
pub fn pkg_activate(bin: &Path, base: &Path) -> Command {
    pkg_activate_with_user_db(bin, base, &base.join("users"))
}

/// [`pkg_activate`] with another user database root (`/` for useradd).
pub fn pkg_activate_with_user_db(bin: &Path, base: &Path, user_db: &Path) -> Command {
    let mut command = Command::new(bin);
    command
        .arg("--root")
        .arg(base.join("root"))
        .arg("--config-dir")
        .arg(base.join("config"))
        .arg("--systemd-dir")
        .arg(base.join("systemd"))
        .arg("--state-dir-root")
        .arg(base.join("state"))
        .arg("--user-db-root")
        .arg(user_db)
        .env_remove("TARMAC_FAILPOINT");
    command
}
