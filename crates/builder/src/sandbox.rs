//! The build sandbox: runs a build script in a private mount namespace
//! (no Docker) where the filesystem is read-only except for the package
//! output, the source scratch copy and a private `/tmp`.
//!
//! Layout seen by the script (docs/pkg-build.md):
//! `/pkg/src/<source>` (scratch copy, writable), `/pkg/extra` and
//! `/pkg/build` (the package directory; read-only), `/opt/mesosphere` (the
//! activated dependencies; read-only) with `$PKG_PATH` =
//! `/opt/mesosphere/packages/<id>` (writable: the only output), the host's
//! `/usr`, `/bin`, `/lib*`, `/etc` read-only, `/dev` and `/proc` bound, a
//! tmpfs on `/tmp`, and no network (a fresh network namespace: sources are
//! fetched before the build, so a build cannot depend on the network).
//!
//! The invariant: nothing outside the build's own work directory can be
//! changed by the script, and the host's mount table is never touched (the
//! namespace is private before the first mount). When namespaces are not
//! available (a container without CAP_SYS_ADMIN and no user namespaces), the
//! script runs directly on the host with the same variables pointing at the
//! host paths, after a warning.
//!
//! The mount calls run in the forked child before exec, where a
//! multithreaded parent's allocator may be locked: every path is turned into
//! a `CString` before the fork and the child makes system calls only.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, chroot, getgid, getuid};

/// How to isolate a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxMode {
    /// Use a mount namespace when the kernel allows it, else warn and run
    /// unsandboxed.
    Auto,
    /// Require the namespace: fail if it cannot be set up.
    Namespace,
    /// Run the script directly on the host (paths through variables).
    None,
}

/// Host directories made visible read-only inside the sandbox when they
/// exist. Symlinks (merged /usr: `/bin -> usr/bin`) are recreated as links.
const HOST_DIRS: &[&str] = &[
    "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc",
];

/// One bind mount: host `source` onto `target` (inside the new root).
#[derive(Clone)]
struct Bind {
    source: CString,
    target: CString,
    recursive: bool,
    read_only: bool,
}

/// A prepared sandbox: the new root directory and its mounts, all paths
/// already converted for the child.
pub struct Sandbox {
    binds: Vec<Bind>,
    tmpfs: Vec<CString>,
    root_c: CString,
    cwd_c: CString,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    as_root: bool,
}

/// What the build script runs with.
pub struct Invocation<'a> {
    /// The script, as a path inside the sandbox (or on the host without one).
    pub script: &'a Path,
    /// Environment (the child's environment is cleared first).
    pub env: &'a [(String, String)],
    /// Receives the script's stdout and stderr.
    pub log: &'a Path,
}

impl Sandbox {
    /// Prepares mount points under `root` (which must hold `pkg/src`,
    /// `opt/mesosphere` and the output directory already) for a namespace
    /// run. `writable` are directories under `root` the script may write.
    /// `extra_binds` are (host dir, path inside) pairs bound read-only.
    pub fn prepare(
        root: &Path,
        writable: &[PathBuf],
        extra_binds: &[(PathBuf, PathBuf)],
    ) -> io::Result<Sandbox> {
        let mut binds = Vec::new();
        // The root itself first: bound onto itself so it can be made
        // read-only as a whole after the writable sub-mounts are placed
        // (a bind made from a read-only mount would inherit read-only).
        binds.push(Bind {
            source: cstring(root)?,
            target: cstring(root)?,
            recursive: false,
            read_only: false,
        });
        for dir in writable {
            binds.push(Bind {
                source: cstring(dir)?,
                target: cstring(dir)?,
                recursive: false,
                read_only: false,
            });
        }
        for name in HOST_DIRS {
            let host = Path::new("/").join(name);
            let inside = root.join(name);
            match std::fs::symlink_metadata(&host) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let target = std::fs::read_link(&host)?;
                    if std::fs::symlink_metadata(&inside).is_err() {
                        std::os::unix::fs::symlink(target, &inside)?;
                    }
                }
                Ok(meta) if meta.is_dir() => {
                    std::fs::create_dir_all(&inside)?;
                    binds.push(Bind {
                        source: cstring(&host)?,
                        target: cstring(&inside)?,
                        recursive: true,
                        read_only: true,
                    });
                }
                _ => {}
            }
        }
        for (host, inside) in extra_binds {
            let target = root.join(inside.strip_prefix("/").unwrap_or(inside));
            std::fs::create_dir_all(&target)?;
            binds.push(Bind {
                source: cstring(host)?,
                target: cstring(&target)?,
                recursive: false,
                read_only: true,
            });
        }
        for (name, read_only) in [("dev", false), ("proc", false)] {
            let inside = root.join(name);
            std::fs::create_dir_all(&inside)?;
            binds.push(Bind {
                source: cstring(&Path::new("/").join(name))?,
                target: cstring(&inside)?,
                recursive: true,
                read_only,
            });
        }
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let uid = getuid();
        let gid = getgid();
        Ok(Sandbox {
            binds,
            tmpfs: vec![cstring(&tmp)?],
            root_c: cstring(root)?,
            cwd_c: CString::new("/pkg").expect("no NUL"),
            uid_map: format!("0 {uid} 1\n").into_bytes(),
            gid_map: format!("0 {gid} 1\n").into_bytes(),
            as_root: uid.is_root(),
        })
    }

    /// Runs the script inside the namespace. An `Err` whose kind is
    /// `PermissionDenied`/`Unsupported` from the setup means namespaces are
    /// unavailable here.
    pub fn run(&self, call: &Invocation<'_>) -> io::Result<ExitStatus> {
        let mut command = Command::new(call.script);
        command
            .env_clear()
            .envs(call.env.iter().map(|(k, v)| (k, v)));
        set_output(&mut command, call.log)?;
        // pre_exec needs owned data: copies made here, in the parent.
        let binds = self.binds.clone();
        let tmpfs = self.tmpfs.clone();
        let root = self.root_c.clone();
        let cwd = self.cwd_c.clone();
        let uid_map = self.uid_map.clone();
        let gid_map = self.gid_map.clone();
        let as_root = self.as_root;
        // SAFETY: the closure runs in the forked child before exec; it only
        // makes system calls on data prepared before the fork (no allocation,
        // no locks), which is what pre_exec requires.
        unsafe {
            command.pre_exec(move || {
                enter(&binds, &tmpfs, &root, &cwd, &uid_map, &gid_map, as_root)
                    .map_err(|errno| io::Error::from_raw_os_error(errno as i32))
            });
        }
        command.status()
    }
}

/// Runs the script on the host, without isolation.
pub fn run_unsandboxed(call: &Invocation<'_>, cwd: &Path) -> io::Result<ExitStatus> {
    let mut command = Command::new(call.script);
    command
        .env_clear()
        .envs(call.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd);
    set_output(&mut command, call.log)?;
    command.status()
}

fn set_output(command: &mut Command, log: &Path) -> io::Result<()> {
    let out = File::create(log)?;
    let err = out.try_clone()?;
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    Ok(())
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// The first steps of [`enter`] and [`probe_enter`], in the child: new
/// mount and network namespaces (and a user namespace unless already root),
/// then every mount made private. Only system calls.
fn isolate(uid_map: &[u8], gid_map: &[u8], as_root: bool) -> Result<(), nix::errno::Errno> {
    if as_root {
        unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET)?;
    } else {
        unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET)?;
        // Map our own uid/gid to root inside, so mounts are allowed and the
        // files the script writes belong to the calling user outside.
        write_file(c"/proc/self/setgroups", b"deny")?;
        write_file(c"/proc/self/uid_map", uid_map)?;
        write_file(c"/proc/self/gid_map", gid_map)?;
    }
    // Nothing done from here on may propagate back to the host.
    mount(
        None::<&std::ffi::CStr>,
        c"/",
        None::<&std::ffi::CStr>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&std::ffi::CStr>,
    )?;
    Ok(())
}

/// The child's side: new namespaces, mounts, chroot. Only system calls.
fn enter(
    binds: &[Bind],
    tmpfs: &[CString],
    root: &CString,
    cwd: &CString,
    uid_map: &[u8],
    gid_map: &[u8],
    as_root: bool,
) -> Result<(), nix::errno::Errno> {
    isolate(uid_map, gid_map, as_root)?;
    for bind in binds {
        let mut flags = MsFlags::MS_BIND;
        if bind.recursive {
            flags |= MsFlags::MS_REC;
        }
        mount(
            Some(bind.source.as_c_str()),
            bind.target.as_c_str(),
            None::<&std::ffi::CStr>,
            flags,
            None::<&std::ffi::CStr>,
        )?;
        if bind.read_only {
            remount_read_only(&bind.target)?;
        }
    }
    for dir in tmpfs {
        mount(
            Some(c"tmpfs"),
            dir.as_c_str(),
            Some(c"tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(c"mode=1777"),
        )?;
    }
    // The root last: its writable sub-mounts already sit on top of it.
    remount_read_only(root)?;
    chroot(root.as_c_str())?;
    chdir(cwd.as_c_str())?;
    Ok(())
}

/// `ST_RELATIME` (0x1000, linux/statfs.h): nix names it only for glibc
/// targets, and the static musl build (scripts/build-static.sh) must compile
/// too; the kernel reports the same bit under both libcs.
const ST_RELATIME: FsFlags = FsFlags::from_bits_retain(0x1000);

/// Makes a bind mount read-only, keeping the flags the kernel locks in a
/// user namespace (nosuid, nodev, noexec, atime): dropping one is EPERM.
fn remount_read_only(target: &CString) -> Result<(), nix::errno::Errno> {
    let current = statvfs(target.as_c_str())?.flags();
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (have, keep) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if current.contains(have) {
            flags |= keep;
        }
    }
    mount(
        None::<&std::ffi::CStr>,
        target.as_c_str(),
        None::<&std::ffi::CStr>,
        flags,
        None::<&std::ffi::CStr>,
    )
}

fn write_file(path: &std::ffi::CStr, bytes: &[u8]) -> Result<(), nix::errno::Errno> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    let fd = open(path, OFlag::O_WRONLY, Mode::empty())?;
    let written = nix::unistd::write(&fd, bytes)?;
    if written != bytes.len() {
        return Err(nix::errno::Errno::EIO);
    }
    Ok(())
}

/// Checks that this process may create a mount namespace and bind-mount in
/// it (the first steps of every sandboxed build), by running `true` after
/// them. `scratch` is bound onto itself read-only inside the namespace only.
pub fn probe(scratch: &Path) -> io::Result<()> {
    let scratch_c = cstring(scratch)?;
    let bind = [Bind {
        source: scratch_c.clone(),
        target: scratch_c.clone(),
        recursive: false,
        read_only: true,
    }];
    let uid = getuid();
    let gid = getgid();
    let uid_map = format!("0 {uid} 1\n").into_bytes();
    let gid_map = format!("0 {gid} 1\n").into_bytes();
    let as_root = uid.is_root();
    let mut command = Command::new("true");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: as in `Sandbox::run`: system calls on pre-built data only.
    unsafe {
        command.pre_exec(move || {
            probe_enter(&bind, &uid_map, &gid_map, as_root)
                .map_err(|errno| io::Error::from_raw_os_error(errno as i32))
        });
    }
    let status = command.status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("probe exited with {status}")))
    }
}

fn probe_enter(
    binds: &[Bind],
    uid_map: &[u8],
    gid_map: &[u8],
    as_root: bool,
) -> Result<(), nix::errno::Errno> {
    isolate(uid_map, gid_map, as_root)?;
    for bind in binds {
        mount(
            Some(bind.source.as_c_str()),
            bind.target.as_c_str(),
            None::<&std::ffi::CStr>,
            MsFlags::MS_BIND,
            None::<&std::ffi::CStr>,
        )?;
        remount_read_only(&bind.target)?;
    }
    Ok(())
}
