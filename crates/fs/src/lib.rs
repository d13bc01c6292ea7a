//! Filesystem calls that name their path, plus the durable primitives every
//! tool builds on: write-then-rename, fsync of directories, and the host lock.
//!
//! Nothing here decides policy (what to write where); it only makes sure an
//! `io::Error` never travels without the path and the operation that failed,
//! and that "durable" means the same thing everywhere: data fsynced, then the
//! rename, then the parent directory fsynced.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use tarmac_model::ExitClass;

/// An I/O failure with the operation and the path it concerned.
#[derive(Debug, thiserror::Error)]
#[error("{}: {op}: {source}", path.display())]
pub struct FsError {
    pub path: PathBuf,
    pub op: &'static str,
    #[source]
    pub source: io::Error,
}

impl FsError {
    pub fn new(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        FsError {
            path: path.into(),
            op,
            source,
        }
    }

    /// See [`io_class`].
    pub fn class(&self) -> ExitClass {
        io_class(&self.source)
    }
}

/// The exit class of an I/O failure: ENOSPC and EDQUOT are "no space"
/// (exit 6); EROFS and the rest are runtime. The one place that decides it,
/// for path-named errors here and stream errors elsewhere.
pub fn io_class(error: &io::Error) -> ExitClass {
    match error.raw_os_error() {
        Some(code) if code == nix::libc::ENOSPC || code == nix::libc::EDQUOT => ExitClass::NoSpace,
        _ => ExitClass::Runtime,
    }
}

pub type Result<T, E = FsError> = std::result::Result<T, E>;

/// Attaches an operation name and path to an `io::Result`.
pub trait Context<T> {
    fn with_path(self, op: &'static str, path: &Path) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn with_path(self, op: &'static str, path: &Path) -> Result<T> {
        self.map_err(|e| FsError::new(op, path, e))
    }
}

pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_path("read", path)
}

pub fn read_to_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_path("read", path)
}

pub fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).with_path("create directory", path)
}

pub fn open(path: &Path) -> Result<File> {
    File::open(path).with_path("open", path)
}

pub fn symlink(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).with_path("symlink", link)
}

pub fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).with_path("rename", from)
}

/// Removes a file, a symlink or a whole directory tree; absent is fine.
pub fn remove_all(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FsError::new("stat", path, e)),
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path).with_path("remove", path),
        Ok(_) => fs::remove_file(path).with_path("remove", path),
    }
}

/// fsyncs a directory so that renames and creations inside it are durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_path("fsync directory", dir)
}

/// Flushes the whole filesystem holding `path` (syncfs(2)): one call instead
/// of an fsync per file, which is unaffordable for 100k files.
pub fn syncfs(path: &Path) -> Result<()> {
    let dir = File::open(path).with_path("open", path)?;
    nix::unistd::syncfs(&dir)
        .map_err(|e| FsError::new("syncfs", path, io::Error::from_raw_os_error(e as i32)))
}

/// Writes `bytes` to `path` durably and atomically: a sibling temp file is
/// written and fsynced, renamed over `path`, and the parent is fsynced. A
/// reader sees the old content or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = write_temp(path, bytes)?;
    if let Err(e) = rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    fsync_dir(parent_of(path))
}

/// Creates `path` holding `bytes`, durably, unless it already exists: a
/// fsynced sibling temp file is hard-linked to `path` and removed. link(2)
/// fails if the name exists, so of racing writers exactly one wins and the
/// file, once there, is never rewritten. Returns whether this call created it.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<bool> {
    let temp = write_temp(path, bytes)?;
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            fsync_dir(parent_of(path))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(FsError::new("link", path, e)),
    }
}

/// Writes and fsyncs `.<name>.tmp.<pid>` beside `path`; removed again if
/// that fails.
fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = parent_of(path).join(format!(".{file_name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .with_path("create", &temp)?;
        file.write_all(bytes).with_path("write", &temp)?;
        file.sync_all().with_path("fsync", &temp)
    })();
    match result {
        Ok(()) => Ok(temp),
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Replaces (or creates) the symlink `link` pointing at `target` with one
/// rename(2), then fsyncs the parent: the single commit point of a switch.
pub fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    let parent = parent_of(link);
    let file_name = link.file_name().unwrap_or_default().to_string_lossy();
    let temp = parent.join(format!(".{file_name}.new.{}", std::process::id()));
    let _ = fs::remove_file(&temp);
    symlink(target, &temp)?;
    if let Err(e) = rename(&temp, link) {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    fsync_dir(parent)
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// How to behave when the host lock is already held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockWait {
    /// Fail at once with [`LockError::Held`].
    NoWait,
    /// Block until the holder releases it.
    Wait,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}: held by another tarmac process (pass --wait to wait for it)", path.display())]
    Held { path: PathBuf },
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl LockError {
    pub fn class(&self) -> ExitClass {
        match self {
            LockError::Held { .. } => ExitClass::Conflict,
            LockError::Fs(e) => e.class(),
        }
    }
}

/// An exclusive flock(2) on `<root>/.lock`, shared by pkg-activate and
/// host-extract. Released when dropped (or when the process dies, which is
/// why a lock file, never deleted, is used rather than a pid file).
pub struct HostLock {
    _file: File,
    path: PathBuf,
}

impl HostLock {
    pub fn acquire(path: &Path, wait: LockWait) -> Result<HostLock, LockError> {
        if let Some(parent) = path.parent() {
            create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_path("open lock", path)?;
        let mut flags = nix::libc::LOCK_EX;
        if wait == LockWait::NoWait {
            flags |= nix::libc::LOCK_NB;
        }
        loop {
            // SAFETY: flock on a file descriptor we own for the call's duration.
            let rc = unsafe { nix::libc::flock(file.as_raw_fd(), flags) };
            if rc == 0 {
                return Ok(HostLock {
                    _file: file,
                    path: path.to_path_buf(),
                });
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(nix::libc::EINTR) => continue,
                Some(nix::libc::EWOULDBLOCK) => {
                    return Err(LockError::Held {
                        path: path.to_path_buf(),
                    })
                }
                _ => return Err(FsError::new("flock", path, err).into()),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for HostLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostLock")
            .field("path", &self.path)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_content_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("tarmac-fs-test-{}", std::process::id()));
        create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        write_atomic(&file, b"one").unwrap();
        write_atomic(&file, b"two").unwrap();
        assert_eq!(read(&file).unwrap(), b"two");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        remove_all(&dir).unwrap();
    }

    #[test]
    fn write_new_creates_once_and_never_rewrites() {
        let dir = std::env::temp_dir().join(format!("tarmac-fs-new-test-{}", std::process::id()));
        create_dir_all(&dir).unwrap();
        let file = dir.join("pin");
        assert!(write_new(&file, b"one").unwrap());
        assert!(!write_new(&file, b"two").unwrap());
        assert_eq!(read(&file).unwrap(), b"one");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        remove_all(&dir).unwrap();
    }

    #[test]
    fn second_lock_is_refused_without_wait() {
        let dir = std::env::temp_dir().join(format!("tarmac-lock-test-{}", std::process::id()));
        let path = dir.join(".lock");
        let held = HostLock::acquire(&path, LockWait::NoWait).unwrap();
        let err = HostLock::acquire(&path, LockWait::NoWait).unwrap_err();
        assert_eq!(err.class(), ExitClass::Conflict);
        assert!(err.to_string().contains("held by another tarmac process"));
        drop(held);
        HostLock::acquire(&path, LockWait::NoWait).unwrap();
        remove_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_path() {
        let err = read(Path::new("/nonexistent/tarmac")).unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/tarmac: read: "));
    }
}
