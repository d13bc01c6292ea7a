//! Package users (`dcos_*`) and state directories, as pkgpanda makes them
//! (pkgpanda :53, :562, :624-643), but checked in full before any change.
//!
//! The user database is read from `<user-db-root>/etc/passwd` and
//! `etc/group`. With the default root `/`, users are created with
//! `useradd` exactly as pkgpanda does. Any other root is a private database
//! (a temp root, an image being built): there pkg-activate appends the same
//! entries itself, because `useradd --prefix` needs root in practice (it
//! gives its new files the old files' owner and group, `shadow` for
//! `etc/shadow`), and the demo and tests must run as any user. Each file is
//! replaced by one rename, keeping its mode, so a reader never sees half of it.
//!
//! State directories are chowned to the package user only when running as
//! root: nobody else can give files away, and a non-root run only ever
//! targets a temp root.

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
///
/// `manual` is `<config-dir>/manual_host_users` when that file exists: then
/// users are never created (pkgpanda's `add_users=False`, cli.py:154), and a
/// package user that does not exist refuses the whole set.
pub fn check(packages: &[Package], prefix: &Path, manual: Option<&Path>) -> Result<UserPlan> {
    let db = read_db(prefix)?;
    let passwd_file = prefix.join("etc/passwd");
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
                if let Some(manual) = manual {
                    return Err(Error::User {
                        user: user.clone(),
                        reason: format!(
                            "does not exist in {} and {} exists, so package users are not created (wanted by {})",
                            passwd_file.display(),
                            manual.display(),
                            package.id
                        ),
                    });
                }
                let extra = group.filter(|g| g != user);
                match &extra {
                    Some(group) => {
                        group_entry(group)?;
                    }
                    // `useradd --user-group` refuses a name that is already
                    // a group ("group exists - use -g"); so does pkgpanda.
                    None => {
                        if let Some((gid, _)) = db.groups.get(user) {
                            return Err(Error::User {
                                user: user.clone(),
                                reason: format!(
                                    "does not exist in {} but group {user} (gid {gid}) does in {}; \
                                     useradd --user-group refuses to create a user into an existing \
                                     group (wanted by {}): create the user, or set `group` in its pkginfo",
                                    passwd_file.display(),
                                    group_file.display(),
                                    package.id
                                ),
                            });
                        }
                    }
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
    if prefix != Path::new("/") {
        return append_entries(plan, prefix);
    }
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

/// shadow's defaults for `useradd --system` (SYS_UID_MIN..SYS_UID_MAX, and
/// the same for gids); it takes the highest free id first, as we do.
const SYSTEM_IDS: std::ops::RangeInclusive<u32> = 100..=999;

/// What `useradd --system --user-group` or `-g GROUP` would add to a private
/// database at `prefix`, written by us: passwd (+ shadow), and for a user
/// group, group (+ gshadow). The shadow files are only touched if present.
fn append_entries(plan: &UserPlan, prefix: &Path) -> Result<()> {
    if plan.create.is_empty() {
        return Ok(());
    }
    let mut db = read_db(prefix)?;
    let etc = prefix.join("etc");
    let has_shadow = etc.join("shadow").exists();
    let has_gshadow = etc.join("gshadow").exists();
    let (mut passwd, mut shadow, mut group, mut gshadow) =
        (String::new(), String::new(), String::new(), String::new());
    for (user, extra_group) in &plan.create {
        let free_id = |used: &dyn Fn(u32) -> bool| SYSTEM_IDS.rev().find(|id| !used(*id));
        let no_id = || Error::User {
            user: user.clone(),
            reason: format!(
                "no free system id in {}..={} in {}",
                SYSTEM_IDS.start(),
                SYSTEM_IDS.end(),
                etc.display()
            ),
        };
        let uid = free_id(&|id| db.users.values().any(|&(uid, _)| uid == id)).ok_or_else(no_id)?;
        let gid = match extra_group {
            Some(name) => db
                .groups
                .get(name)
                .map(|(gid, _)| *gid)
                .ok_or_else(|| Error::User {
                    user: user.clone(),
                    reason: format!("group {name} does not exist in {}", etc.display()),
                })?,
            None => {
                let used = |id: u32| db.groups.values().any(|(gid, _)| *gid == id);
                let gid = if used(uid) {
                    free_id(&used).ok_or_else(no_id)?
                } else {
                    uid
                };
                group.push_str(&format!("{user}:x:{gid}:\n"));
                gshadow.push_str(&format!("{user}:!::\n"));
                db.groups.insert(user.clone(), (gid, Vec::new()));
                gid
            }
        };
        let password = if has_shadow { "x" } else { "!" };
        passwd.push_str(&format!(
            "{user}:{password}:{uid}:{gid}:DCOS System User:/opt/mesosphere:/sbin/nologin\n"
        ));
        shadow.push_str(&format!("{user}:!:::::::\n"));
        db.users.insert(user.clone(), (uid, gid));
    }
    // Groups first: a passwd entry never names a gid that is not there yet.
    append_to(&etc.join("group"), &group)?;
    if has_gshadow {
        append_to(&etc.join("gshadow"), &gshadow)?;
    }
    if has_shadow {
        append_to(&etc.join("shadow"), &shadow)?;
    }
    append_to(&etc.join("passwd"), &passwd)
}

/// Replaces `path` by its content plus `lines` with one rename, keeping the
/// file's mode (a copy of `etc/shadow` must not become world-readable).
fn append_to(path: &Path, lines: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if lines.is_empty() {
        return Ok(());
    }
    let (mut text, mode) = match std::fs::read_to_string(path) {
        Ok(text) => {
            let mode = std::fs::metadata(path)
                .map_err(|e| tarmac_fs::FsError::new("stat", path, e))?
                .permissions()
                .mode()
                & 0o7777;
            (text, mode)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), 0o644),
        Err(e) => return Err(tarmac_fs::FsError::new("read", path, e).into()),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(lines);
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = parent.join(format!(".{name}.tarmac.{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temp)?;
        // The umask applies at open(2): set the mode again explicitly.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(tarmac_fs::FsError::new("write", &temp, e).into());
    }
    if let Err(e) = tarmac_fs::rename(&temp, path) {
        let _ = std::fs::remove_file(&temp);
        return Err(e.into());
    }
    tarmac_fs::fsync_dir(parent)?;
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
        // Only root can give files away (see the module doc).
        if let (Some(uid), true) = (uid, nix::unistd::geteuid().is_root()) {
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
