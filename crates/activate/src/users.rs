//! Package users (`dcos_*`) and state directories, as pkgpanda makes them
//! (pkgpanda :53, :562, :624-643), but checked in full before any change.
//!
//! The user database is read from `<user-db-root>/etc/passwd` and
//! `etc/group`, and users are created with `useradd --prefix <user-db-root>`,
//! so tests never touch the machine's own `/etc/passwd`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::package::Package;

/// `^dcos_[a-z0-9_]+$`
pub fn valid_username(name: &str) -> bool {
    name.strip_prefix("dcos_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

/// `^[a-z_][a-z0-9_-]*$` (shadow's chkname.c, as pkgpanda uses it).
pub fn valid_group_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[derive(Debug, Default)]
struct UserDb {
    /// name -> (uid, primary gid)
    users: BTreeMap<String, (u32, u32)>,
    /// name -> (gid, members)
    groups: BTreeMap<String, (u32, Vec<String>)>,
}

fn read_db(prefix: &Path) -> Result<UserDb> {
    let mut db = UserDb::default();
    for line in read_lines(&prefix.join("etc/passwd"))? {
        let fields: Vec<&str> = line.split(':').collect();
        if let (Some(name), Some(uid), Some(gid)) = (fields.first(), fields.get(2), fields.get(3)) {
            if let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse()) {
                db.users.insert(name.to_string(), (uid, gid));
            }
        }
    }
    for line in read_lines(&prefix.join("etc/group"))? {
        let fields: Vec<&str> = line.split(':').collect();
        if let (Some(name), Some(gid)) = (fields.first(), fields.get(2)) {
            if let Ok(gid) = gid.parse() {
                let members = fields
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                db.groups.insert(name.to_string(), (gid, members));
            }
        }
    }
    Ok(db)
}

fn read_lines(path: &Path) -> Result<Vec<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().map(String::from).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(tarmac_fs::FsError::new("read", path, e).into()),
    }
}

/// Users to create, found by [`check`]: (user, group other than its own).
#[derive(Debug, Default)]
pub struct UserPlan {
    pub create: Vec<(String, Option<String>)>,
}

/// Checks every package user against the database; changes nothing.
pub fn check(packages: &[Package], prefix: &Path) -> Result<UserPlan> {
    let db = read_db(prefix)?;
    let group_file = prefix.join("etc/group");
    let mut plan = UserPlan::default();
    for package in packages {
        let Some(user) = &package.meta.username else {
            continue;
        };
        let group = package.meta.group.clone().filter(|g| !g.is_empty());
        let group_entry = |name: &str| {
            db.groups.get(name).ok_or_else(|| Error::User {
                user: user.clone(),
                reason: format!(
                    "group {name} (from {}) does not exist in {}",
                    package.id,
                    group_file.display()
                ),
            })
        };
        match db.users.get(user) {
            Some(&(_, gid)) => {
                if let Some(group) = &group {
                    let (group_gid, members) = group_entry(group)?;
                    if *group_gid != gid && !members.contains(user) {
                        return Err(Error::User {
                            user: user.clone(),
                            reason: format!(
                                "exists with primary gid {gid} but {} wants it in group {group} (gid {group_gid})",
                                package.id
                            ),
                        });
                    }
                }
            }
            None => {
                let extra = group.filter(|g| g != user);
                if let Some(group) = &extra {
                    group_entry(group)?;
                }
                if !plan.create.iter().any(|(u, _)| u == user) {
                    plan.create.push((user.clone(), extra));
                }
            }
        }
    }
    Ok(plan)
}

/// Creates the missing users like pkgpanda does.
pub fn apply(plan: &UserPlan, prefix: &Path) -> Result<()> {
    for (user, group) in &plan.create {
        let mut command = Command::new("useradd");
        if prefix != Path::new("/") {
            command.arg("--prefix").arg(prefix);
        }
        command.args([
            "--system",
            "--home-dir",
            "/opt/mesosphere",
            "--shell",
            "/sbin/nologin",
            "-c",
            "DCOS System User",
        ]);
        match group {
            Some(group) => command.args(["-g", group]),
            None => command.arg("--user-group"),
        };
        command.arg(user);
        run(command)?;
    }
    Ok(())
}

/// Runs a command to completion; a failure carries its stderr.
pub(crate) fn run(mut command: Command) -> Result<()> {
    let text = format!("{command:?}").replace('"', "");
    let output = command.output().map_err(|e| Error::Command {
        command: text.clone(),
        status: "could not start".to_string(),
        stderr: e.to_string(),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            command: text,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr)
                .trim()
                .replace('\n', " "),
        })
    }
}

/// Makes `<state-dir-root>/<name>` for packages with `state_directory`,
/// owned (recursively, as pkgpanda's `chown -R`) by the package user.
pub fn make_state_dirs(packages: &[Package], root: &Path, prefix: Option<&Path>) -> Result<()> {
    let db = match prefix {
        Some(prefix) => Some(read_db(prefix)?),
        None => None,
    };
    for package in packages.iter().filter(|p| p.meta.state_directory) {
        let dir = root.join(package.id.name());
        tarmac_fs::create_dir_all(&dir)?;
        let uid = match (&db, &package.meta.username) {
            (Some(db), Some(user)) => db.users.get(user).map(|&(uid, _)| uid),
            _ => None,
        };
        if let Some(uid) = uid {
            chown_tree(&dir, uid)?;
        }
    }
    Ok(())
}

fn chown_tree(path: &Path, uid: u32) -> Result<()> {
    let owner = Some(nix::unistd::Uid::from_raw(uid));
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        path,
        owner,
        None,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| tarmac_fs::FsError::new("chown", path, std::io::Error::from(e)))?;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        let read = std::fs::read_dir(path)
            .map_err(|e| tarmac_fs::FsError::new("read directory", path, e))?;
        let children: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
        for child in children {
            chown_tree(&child, uid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_username("dcos_mesos_2"));
        assert!(!valid_username("dcos_"));
        assert!(!valid_username("mesos"));
        assert!(!valid_username("dcos_Mesos"));
        assert!(valid_group_name("docker"));
        assert!(valid_group_name("_a-b"));
        assert!(!valid_group_name("1a"));
        assert!(!valid_group_name(""));
    }
}
